"""
What every criterion evaluator receives and returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import attrs

from missionkit._engine._view import CumulativeView

__all__ = ["EvaluationInput", "Outcome", "apply_non_finite", "is_non_finite"]


@attrs.define
class EvaluationInput:
    """
    The data of one evaluated iteration.

    Attributes:
        observation: The current observation's JSON form.
        view: The cumulative view (staged on first use, then cached).
        cumulative: The session's cumulative bookkeeping.
    """

    observation: dict[str, Any]
    cumulative: CumulativeView
    _make_view: Callable[[], dict[str, Any]]
    _view: dict[str, Any] | None = None

    @property
    def view(self) -> dict[str, Any]:
        """
        The cumulative view (built once per iteration).
        """
        if self._view is None:
            self._view = self._make_view()
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
