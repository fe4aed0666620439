"""
``event``: look for a named event in the current observation.
"""

from __future__ import annotations

from typing import Any

from missionkit._engine.criteria._base import EvaluationInput, Outcome

__all__ = ["evaluate_event"]


def evaluate_event(criterion: Any, data: EvaluationInput) -> Outcome:
    """
    Met with the first matching event as evidence; unmet with null evidence.
    """
    for event in data.observation["events"]:
        if isinstance(event, dict) and event.get("event_name") == criterion.event_name:
            return Outcome("met", event)
    return Outcome("unmet", None)
