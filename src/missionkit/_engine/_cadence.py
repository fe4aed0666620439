"""
Whether criteria are evaluated on an iteration (SPEC §6.6.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from missionkit.models import Cadence, Iteration

__all__ = ["is_on_cadence"]


def _has_event(events: Sequence[Any], name: str | None) -> bool:
    return any(isinstance(e, dict) and e.get("event_name") == name for e in events)


def is_on_cadence(
    cadence: Cadence,
    *,
    iteration_index: int,
    now: datetime,
    last_checkpoint_at: datetime | None,
    events: Sequence[Any],
    previous: Iteration | None,
) -> bool:
    """
    Decide at the start of the evaluate phase (time *now*) whether criteria are evaluated.
    """
    kind = cadence.kind
    if kind == "every_iteration":
        return True
    if kind == "every_n_iterations":
        return iteration_index % (cadence.n or 1) == 0
    if kind == "every_t_seconds":
        if last_checkpoint_at is None:
            return True
        return (now - last_checkpoint_at).total_seconds() >= (cadence.t or 0)
    if _has_event(events, cadence.event_name):
        return True
    return (
        previous is not None
        and previous.observation is not None
        and _has_event(previous.observation.events, cadence.event_name)
    )
