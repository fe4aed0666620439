"""
The engine's side of sampling: when to consult, what to record (SPEC §8.3–8.8).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from missionkit._engine._core import MissionCore
from missionkit._engine._env import IterationEnv
from missionkit._engine._runtime import Runtime
from missionkit.audit import SamplingEvent
from missionkit.models import Iteration, SessionState, Strategy

__all__ = ["final_lessons", "revise_strategy"]


async def revise_strategy(env: IterationEnv, now: datetime) -> Strategy | None:
    """
    Consult the sampler for the next strategy; record the outcome on the draft.
    """
    draft = env.draft
    core = env.core
    if core.sampler is None:
        draft.sampling_status = "disabled"
        draft.sampling_rejection_reason = "no_backend_resolved"
        core.audit(
            SamplingEvent,
            mission_session_id=env.state.session_id,
            sampling_purpose="strategy_revision",
            sampling_status="disabled",
            sampling_backend="none",
            iteration_index=draft.iteration_index,
            validation_error="no_backend_resolved",
        )
        return None
    from missionkit._engine._sampling_bridge import consult_strategy

    return await consult_strategy(env, now)


async def final_lessons(
    core: MissionCore,
    rt: Runtime,
    state: SessionState,
    iterations: Sequence[Iteration],
    now: datetime,
) -> tuple[str, list[str]] | None:
    """
    Ask the sampler for lessons at a terminal transition; None keeps the templates.
    """
    if not state.use_sampling or core.sampler is None:
        return None
    from missionkit._engine._sampling_bridge import consult_lessons

    return await consult_lessons(core, rt, state, iterations, now)
