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
    FloatCheck,
    float_check,
    threshold_evaluator,
)
from missionkit._engine.criteria._metric_trend import evaluate_metric_trend
from missionkit._engine.criteria._predicate import evaluate_predicate
from missionkit._engine.criteria._tool_call_succeeded import evaluate_tool_call_succeeded

__all__ = [
    "BINDERS",
    "EvaluationInput",
    "Evaluators",
    "FloatCheck",
    "Outcome",
    "compile_evaluators",
]

#: An evaluator with its criterion bound: ``run(data) -> Outcome``.
Evaluator = Callable[[EvaluationInput], Outcome]

#: Each declared criterion's id, its evaluator and its in-line float check
#: (`float_check`), in declaration order.
Evaluators = tuple[tuple[str, Evaluator, FloatCheck | None], ...]


def _bound(evaluate: Callable[[Any, EvaluationInput], Outcome]) -> Callable[[Any], Evaluator]:
    return lambda criterion: partial(evaluate, criterion)


#: Per kind, how to bind an evaluator to a criterion. Thresholds, the common
#: case, get a closure specialised to their path and operator.
BINDERS: dict[str, Callable[[Any], Evaluator]] = {
    "metric_threshold": threshold_evaluator,
    "metric_trend": _bound(evaluate_metric_trend),
    "event": _bound(evaluate_event),
    "predicate": _bound(evaluate_predicate),
    "tool_call_succeeded": _bound(evaluate_tool_call_succeeded),
}


def compile_evaluators(criteria: Sequence[Any]) -> Evaluators:
    """
    Bind an evaluator to each criterion once per session instead of once per iteration.
    """
    return tuple((c.criterion_id, BINDERS[c.kind](c), float_check(c)) for c in criteria)
