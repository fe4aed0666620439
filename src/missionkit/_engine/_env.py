"""
Everything one iteration's phases share.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from missionkit._engine._cache import SessionCache
from missionkit._engine._core import MissionCore
from missionkit._engine._phase import Draft
from missionkit._engine._runtime import Runtime
from missionkit.models import SessionState

__all__ = ["IterationEnv", "remaining_iterations", "remaining_seconds"]


class IterationEnv:
    """
    The state of one iteration in flight.

    Attributes:
        core: The Mission's collaborators.
        rt: How to suspend (sync or async entry point).
        cache: The handle's session cache (stored history, view).
        state: The header before this iteration (``started_at`` already set).
        draft: The iteration being built.
        values: JSON-safe results aligned with the draft's call records.
        script_observations: Rows streamed by a script's ``mission.observe``.
        script_events: Events streamed by a script's ``mission.event``.
        host_metrics: Metrics reported through ``observe()``.
        host_events: Events reported through ``observe()``.
        criterion_progress: Bookkeeping after the evaluate phase.
        last_checkpoint_at: Checkpoint time after the evaluate phase.
    """

    __slots__ = (
        "cache",
        "core",
        "criterion_progress",
        "draft",
        "host_events",
        "host_metrics",
        "last_checkpoint_at",
        "rt",
        "script_events",
        "script_observations",
        "state",
        "values",
    )

    def __init__(
        self,
        core: MissionCore,
        rt: Runtime,
        cache: SessionCache,
        state: SessionState,
        draft: Draft,
    ) -> None:
        self.core = core
        self.rt = rt
        self.cache = cache
        self.state = state
        self.draft = draft
        self.values: list[Any] = []
        self.script_observations: list[tuple[str, Any]] = []
        self.script_events: list[dict[str, Any]] = []
        self.host_metrics: dict[str, Any] | None = None
        self.host_events: list[dict[str, Any]] = []
        self.criterion_progress = state.criterion_progress
        self.last_checkpoint_at = state.last_checkpoint_at

    def remaining_seconds(self, now: datetime) -> float | None:
        """
        Active seconds left in the wall-clock budget, floored at 0; None if uncapped.
        """
        return remaining_seconds(self.state, now)


def remaining_iterations(state: SessionState, index: int) -> int | None:
    """
    Iterations left from iteration *index* on (this one included); None if uncapped.
    """
    cap = state.budget.max_iterations
    return None if cap == -1 else cap - index


def remaining_seconds(state: SessionState, now: datetime) -> float | None:
    """
    Active seconds left in *state*'s wall-clock budget, floored at 0; None if uncapped.

    A cap is an int of any size; one past the float range leaves infinite time.
    """
    cap = state.budget.max_wall_clock_seconds
    if cap == -1:
        return None
    try:
        limit = float(cap)
    except OverflowError:
        return math.inf
    return max(0.0, limit - state.active_seconds(now))
