"""
What every criterion evaluator receives and returns.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from missionkit._engine._view import CumulativeView, LazyObservationJSON
from missionkit.models import Observation

__all__ = ["EvaluationInput", "Outcome", "apply_non_finite", "is_non_finite"]


class EvaluationInput:
    """
    The data of one evaluated iteration, each form built on first use.

    Attributes:
        metrics: The current observation's merged metrics.
        cumulative: The session's cumulative bookkeeping.
    """

    __slots__ = ("_obs", "_observation", "_view", "cumulative", "metrics")

    def __init__(self, observation: Observation, cumulative: CumulativeView) -> None:
        self._obs = observation
        self.metrics = observation.metrics
        self.cumulative = cumulative
        self._observation: dict[str, Any] | None = None
        self._view: dict[str, Any] | None = None

    @property
    def observation(self) -> dict[str, Any]:
        """
        The current observation's JSON form (timestamps formatted on lookup).
        """
        if self._observation is None:
            self._observation = LazyObservationJSON(self._obs)
        return self._observation

    @property
    def view(self) -> dict[str, Any]:
        """
        The cumulative view, the current observation staged (built once per iteration).
        """
        if self._view is None:
            self._view = self.cumulative.stage(self._obs)
        return self._view


class Outcome(NamedTuple):
    """
    A criterion's status, evidence and (thresholds) finite value.
    """

    status: str
    evidence: Any
    value: float | None = None


def is_non_finite(value: Any) -> bool:
    """
    Whether *value* is a float NaN or ±inf.
    """
    return type(value) is float and not math.isfinite(value)


def apply_non_finite(policy: str, value: float) -> Outcome:
    """
    The outcome of a non-finite metric value under *policy* (never met).
    """
    evidence = "non_finite:" + repr(value)
    return Outcome("unmet" if policy == "unmet" else "inconclusive", evidence)
