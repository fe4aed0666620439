"""
``metric_threshold``: compare a metric of the current observation with a target.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from missionkit._engine.criteria._base import (
    EvaluationInput,
    Outcome,
    apply_non_finite,
    is_non_finite,
)

__all__ = ["OPERATORS", "evaluate_metric_threshold", "resolve_path"]

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_INDEX = re.compile(r"0|[1-9][0-9]*")
_MISSING = object()


def resolve_path(root: Any, path: tuple[str, ...]) -> Any:
    """
    Follow dot-path segments through dicts and (by decimal index) lists; a sentinel if missing.
    """
    current = root
    for segment in path:
        if isinstance(current, dict):
            found = current.get(segment, _MISSING)
            if found is _MISSING:
                try:
                    # Lets mappings that compute keys on demand (__missing__) answer.
                    found = current[segment]
                except KeyError:
                    return _MISSING
            current = found
        elif isinstance(current, list) and _INDEX.fullmatch(segment):
            index = int(segment)
            if index >= len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def evaluate_metric_threshold(criterion: Any, data: EvaluationInput) -> Outcome:
    """
    Evaluate a `MetricThresholdCriterion` on the current observation.
    """
    value = resolve_path(data.observation, criterion.metric_path)
    if value is _MISSING:
        return Outcome("inconclusive", "metric_path_missing:" + repr(criterion.metric))
    if type(value) not in (int, float):
        return Outcome("inconclusive", value)
    if is_non_finite(value):
        return apply_non_finite(criterion.on_non_finite, value)
    met = OPERATORS[criterion.op](value, criterion.target)
    return Outcome("met" if met else "unmet", value, float(value))
