"""
``metric_threshold``: compare a metric of the current observation with a target.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from typing import Any

from missionkit._engine.criteria._base import (
    EvaluationInput,
    Outcome,
    apply_non_finite,
)
from missionkit.models import MetricThresholdCriterion

__all__ = ["OPERATORS", "FloatCheck", "float_check", "resolve_path", "threshold_evaluator"]

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


#: ``(metric key, comparison, target)`` of a threshold on a top-level metric.
FloatCheck = tuple[str, Callable[[Any, Any], bool], Any]


def float_check(criterion: Any) -> FloatCheck | None:
    """
    How to judge *criterion* in-line when its metric is a finite float, or None.

    For thresholds on a top-level metric (``metrics.<key>``). The caller
    evaluates ``metrics[key]`` of type float and finite as: status ``met`` if
    ``compare(value, target)`` else ``unmet``, evidence and progress value the
    float itself: what the evaluator answers for such a value, without the
    call. Every other value goes to the evaluator.
    """
    if type(criterion) is not MetricThresholdCriterion:
        return None
    path: tuple[str, ...] = criterion.metric_path
    if len(path) != 2 or path[0] != "metrics":
        return None
    return (path[1], OPERATORS[criterion.op], criterion.target)


def threshold_evaluator(criterion: Any) -> Callable[[EvaluationInput], Outcome]:
    """
    The evaluator of `MetricThresholdCriterion` *criterion* on the current observation.

    Paths under ``metrics`` start from the observation's metrics dict, so the
    observation's JSON form is never built for them.
    """
    path: tuple[str, ...] = criterion.metric_path
    in_metrics = path[0] == "metrics"
    rest = path[1:] if in_metrics else path
    key = rest[0] if in_metrics and len(rest) == 1 else None
    compare = OPERATORS[criterion.op]
    target = criterion.target
    policy = criterion.on_non_finite
    missing = Outcome("inconclusive", "metric_path_missing:" + repr(criterion.metric))
    isfinite = math.isfinite

    def run(data: EvaluationInput) -> Outcome:
        if not in_metrics:
            value = resolve_path(data.observation, rest)
        elif key is not None and type(data.metrics) is dict:
            value = data.metrics.get(key, _MISSING)
        else:
            value = resolve_path(data.metrics, rest)
        cls = type(value)
        if cls is float:
            if not isfinite(value):
                return apply_non_finite(policy, value)
        elif cls is not int:
            return missing if value is _MISSING else Outcome("inconclusive", value)
        status = "met" if compare(value, target) else "unmet"
        try:
            point = float(value)
        except OverflowError:
            # An int past the float range compares exactly but has no distance
            # to track progress with.
            point = None
        # A plain tuple: building the NamedTuple costs as much as the comparison.
        return (status, value, point)  # type: ignore[return-value]

    return run
