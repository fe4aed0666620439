"""
``tool_call_succeeded``: count successful calls of a tool over the whole session.
"""

from __future__ import annotations

from typing import Any

from missionkit._engine.criteria._base import EvaluationInput, Outcome

__all__ = ["evaluate_tool_call_succeeded"]


def evaluate_tool_call_succeeded(criterion: Any, data: EvaluationInput) -> Outcome:
    """
    Met iff the tool has at least ``min_count`` ``ok`` entries in the cumulative results.
    """
    data.view  # noqa: B018 - stages the current observation into the counts
    counts = data.cumulative
    if counts.dict_entries == 0:
        return Outcome("inconclusive", "tool_results_field_missing")
    count = counts.ok_counts.get(criterion.tool_name, 0)
    return Outcome(
        "met" if count >= criterion.min_count else "unmet",
        {
            "tool_name": criterion.tool_name,
            "min_count": criterion.min_count,
            "successful_call_count": count,
        },
    )
