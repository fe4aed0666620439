"""
``metric_trend``: compare the last and first points of a metric's history.
"""

from __future__ import annotations

from typing import Any

from missionkit._engine.criteria._base import (
    EvaluationInput,
    Outcome,
    apply_non_finite,
    is_non_finite,
)

__all__ = ["evaluate_metric_trend"]

_DIRECTIONS = {
    "decreasing": lambda last, first: last < first,
    "increasing": lambda last, first: last > first,
    "non_increasing": lambda last, first: last <= first,
    "non_decreasing": lambda last, first: last >= first,
}


def evaluate_metric_trend(criterion: Any, data: EvaluationInput) -> Outcome:
    """
    Evaluate a `MetricTrendCriterion` over ``metric_history``.
    """
    key = criterion.metric
    if key.startswith("metrics."):
        key = key[len("metrics.") :]
    current = data.observation["metrics"].get(key)
    if is_non_finite(current):
        return apply_non_finite(criterion.on_non_finite, current)
    series = data.view["metric_history"].get(key)
    if not series:
        return Outcome("inconclusive", "metric_history_empty:" + repr(key))
    if criterion.window is not None:
        series = series[-criterion.window :]
    required = max(2, criterion.min_points or 2)
    if len(series) < required:
        return Outcome(
            "inconclusive",
            {"reason": "insufficient_history", "points": len(series), "required_points": required},
        )
    first, last = series[0], series[-1]
    met = _DIRECTIONS[criterion.direction](last, first)
    return Outcome(
        "met" if met else "unmet",
        {
            "direction": criterion.direction,
            "points": len(series),
            "first": first,
            "last": last,
            "delta": last - first,
        },
    )
