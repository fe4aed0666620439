"""
``predicate``: evaluate a compiled predicate over the cumulative view.
"""

from __future__ import annotations

from typing import Any

from missionkit._engine.criteria._base import EvaluationInput, Outcome
from missionkit._jsonsafe import to_json_data
from missionkit._text import exception_text
from missionkit.errors import PredicateLimitExceeded, PredicateRejected

__all__ = ["evaluate_predicate"]


def evaluate_predicate(criterion: Any, data: EvaluationInput) -> Outcome:
    """
    Truthy → met, falsy → unmet, evidence the (JSON-safe) result; errors are inconclusive.
    """
    try:
        predicate = criterion.compiled
    except PredicateRejected as exc:
        return Outcome("inconclusive", "predicate_rejected_post_load: " + exc.reason)
    try:
        result = predicate(data.view)
        truthy = bool(result)
    except PredicateLimitExceeded as exc:
        return Outcome("inconclusive", f"limit_exceeded:{exc.what}")
    except Exception as exc:
        return Outcome("inconclusive", exception_text(exc))
    return Outcome("met" if truthy else "unmet", to_json_data(result))
