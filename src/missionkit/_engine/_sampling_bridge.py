"""
Calling `missionkit.sampling` from the engine and recording what happened.

Sampling is advisory: results here only ever change the next strategy and
the report's narrative, never verdicts, criterion results or the counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from missionkit._engine._core import MissionCore
from missionkit._engine._env import IterationEnv, remaining_seconds
from missionkit._engine._report import last_evaluation
from missionkit._engine._runtime import Runtime
from missionkit._jsonsafe import cap
from missionkit.audit import SamplingEvent
from missionkit.models import Iteration, SessionState, Strategy
from missionkit.proposers._context import IterationsView
from missionkit.sampling._consult import (
    SamplingResult,
    consult_final_lessons,
    consult_strategy_revision,
)
from missionkit.sampling._prompt import ToolInfo, build_prompt

__all__ = ["consult_lessons", "consult_strategy"]


def _tools(core: MissionCore, state: SessionState) -> list[ToolInfo]:
    out: list[ToolInfo] = []
    for name in state.tool_allowlist:
        tool = core.tools.get(name)
        out.append((name, tool.description if tool else "", tool.input_schema if tool else None))
    return out


def _remaining(state: SessionState, now: datetime, index: int) -> tuple[int | None, float | None]:
    cap_iterations = state.budget.max_iterations
    remaining_iterations = None if cap_iterations == -1 else cap_iterations - index
    return remaining_iterations, remaining_seconds(state, now)


def _emit(
    core: MissionCore, state: SessionState, result: SamplingResult[Any], **extra: Any
) -> None:
    core.audit(
        SamplingEvent,
        mission_session_id=state.session_id,
        sampling_purpose=result.purpose,
        sampling_status=result.status,
        sampling_backend=result.backend,
        sampling_model_id=result.model_id,
        model_output_bytes=result.output_bytes,
        validation_error=result.validation_error,
        **extra,
    )


def _status_map(state: SessionState, iterations: Sequence[Iteration]) -> dict[str, Any]:
    evaluation = last_evaluation(iterations) or ()
    by_id = {r.criterion_id: r for r in evaluation}
    return {c.criterion_id: by_id.get(c.criterion_id) for c in state.criteria}


async def consult_strategy(env: IterationEnv, now: datetime) -> Strategy | None:
    """
    One ``strategy_revision`` consultation; the draft records its outcome.
    """
    core = env.core
    state = env.state
    draft = env.draft
    index = draft.iteration_index
    stored = IterationsView(env.cache.iterations)
    remaining_iterations, seconds_left = _remaining(state, now, index)
    prompt = build_prompt(
        "strategy_revision",
        directive=state.directive_text,
        criteria=state.criteria,
        criteria_status=_status_map(state, stored),
        tools=_tools(core, state),
        remaining_iterations=remaining_iterations,
        remaining_wall_clock_seconds=seconds_left,
        is_last_iteration=remaining_iterations == 1,
        allow_scripts=state.allow_scripted_strategies,
        iterations=stored,
    )
    known = {name: tool.input_schema for name, tool in core.tools.items()}
    result = await env.rt.wait(
        consult_strategy_revision(
            core.sampler,
            prompt,
            remaining_seconds=seconds_left,
            allowlist=list(state.tool_allowlist),
            allow_scripts=state.allow_scripted_strategies,
            known_tools=known,
        )
    )
    draft.sampling_status = result.status
    draft.sampling_rejection_reason = result.reason
    draft.sampling_output = (
        None if result.output is None else cap(result.output, core.limits.evidence_bytes)
    )
    _emit(core, state, result, iteration_index=index)
    if result.status != "used" or result.parsed is None:
        return None
    draft.sampling_rationale = result.parsed.revision_rationale
    return result.parsed.strategy


async def consult_lessons(
    core: MissionCore,
    rt: Runtime,
    state: SessionState,
    iterations: Sequence[Iteration],
    now: datetime,
) -> tuple[str, list[str]] | None:
    """
    One ``final_lessons`` consultation at a terminal transition; None keeps the templates.
    """
    remaining_iterations, seconds_left = _remaining(state, now, len(iterations))
    prompt = build_prompt(
        "final_lessons",
        directive=state.directive_text,
        criteria=state.criteria,
        criteria_status=_status_map(state, iterations),
        tools=_tools(core, state),
        remaining_iterations=remaining_iterations,
        remaining_wall_clock_seconds=seconds_left,
        is_last_iteration=remaining_iterations == 1,
        allow_scripts=state.allow_scripted_strategies,
        iterations=iterations,
    )
    # Only the sampler's own timeout bounds this call. The remaining active time
    # bounds the work of an iteration (SPEC §8.4, §6.12); a final-lessons call
    # comes after that work, and at a deadline transition (which §8.3 lists as a
    # trigger) no active time is left at all.
    result = await rt.wait(consult_final_lessons(core.sampler, prompt, remaining_seconds=None))
    _emit(core, state, result)
    if result.status != "used" or result.parsed is None:
        return None
    return "\n\n".join(result.parsed.lessons), list(result.parsed.recommended_followups)
