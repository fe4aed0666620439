"""
Criterion evaluation, one module per kind (SPEC §6.6.3).

Each evaluator takes the criterion and an `EvaluationInput` and returns a
`Outcome`: status, evidence (not yet capped) and, for thresholds, the finite
value that progress tracking compares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from missionkit._engine.criteria._base import EvaluationInput, Outcome
from missionkit._engine.criteria._event import evaluate_event
from missionkit._engine.criteria._metric_threshold import (
    evaluate_metric_threshold,
    threshold_evaluator,
)
from missionkit._engine.criteria._metric_trend import evaluate_metric_trend
from missionkit._engine.criteria._predicate import evaluate_predicate
from missionkit._engine.criteria._tool_call_succeeded import evaluate_tool_call_succeeded

__all__ = [
    "EVALUATORS",
    "EvaluationInput",
    "Evaluators",
    "Outcome",
    "compile_evaluators",
    "evaluate",
]

#: Each declared criterion's id and its evaluator bound to it, in declaration order.
Evaluators = tuple[tuple[str, Callable[[EvaluationInput], Outcome]], ...]

EVALUATORS: dict[str, Callable[[Any, EvaluationInput], Outcome]] = {
    "metric_threshold": evaluate_metric_threshold,
    "metric_trend": evaluate_metric_trend,
    "event": evaluate_event,
    "predicate": evaluate_predicate,
    "tool_call_succeeded": evaluate_tool_call_succeeded,
}


def evaluate(criterion: Any, data: EvaluationInput) -> Outcome:
    """
    Evaluate one criterion with the evaluator registered for its kind.
    """
    return EVALUATORS[criterion.kind](criterion, data)


def compile_evaluators(criteria: Sequence[Any]) -> Evaluators:
    """
    Bind an evaluator to each criterion once per session instead of once per iteration.

    Thresholds, the common case, get a specialised closure; every other kind
    its registered evaluator with the criterion bound.
    """
    return tuple(
        (
            criterion.criterion_id,
            threshold_evaluator(criterion)
            if criterion.kind == "metric_threshold"
            else partial(EVALUATORS[criterion.kind], criterion),
        )
        for criterion in criteria
    )
