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
from missionkit._engine._env import IterationEnv, remaining_iterations, remaining_seconds
from missionkit._engine._report import criteria_status
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
from missionkit.sampling._prompt import Purpose, SamplingPrompt, ToolInfo, build_prompt

__all__ = ["consult_lessons", "consult_strategy"]


def _tools(core: MissionCore, state: SessionState) -> list[ToolInfo]:
    out: list[ToolInfo] = []
    for name in state.tool_allowlist:
        tool = core.tools.get(name)
        out.append((name, tool.description if tool else "", tool.input_schema if tool else None))
    return out


def _prompt(
    core: MissionCore,
    state: SessionState,
    purpose: Purpose,
    iterations: Sequence[Iteration],
    now: datetime,
    index: int,
) -> tuple[SamplingPrompt, float | None]:
    """
    The prompt for a consultation about iteration *index*, and the active seconds left.
    """
    left = remaining_iterations(state, index)
    seconds_left = remaining_seconds(state, now)
    prompt = build_prompt(
        purpose,
        directive=state.directive_text,
        criteria=state.criteria,
        criteria_status=criteria_status(state, iterations),
        tools=_tools(core, state),
        remaining_iterations=left,
        remaining_wall_clock_seconds=seconds_left,
        is_last_iteration=left == 1,
        allow_scripts=state.allow_scripted_strategies,
        iterations=iterations,
    )
    return prompt, seconds_left


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


async def consult_strategy(env: IterationEnv, now: datetime) -> Strategy | None:
    """
    One ``strategy_revision`` consultation; the draft records its outcome.
    """
    core = env.core
    state = env.state
    draft = env.draft
    index = draft.iteration_index
    stored = IterationsView(env.cache.iterations)
    prompt, seconds_left = _prompt(core, state, "strategy_revision", stored, now, index)
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
    prompt, _ = _prompt(core, state, "final_lessons", iterations, now, len(iterations))
    # Only the sampler's own timeout bounds this call. The remaining active time
    # bounds the work of an iteration (SPEC §8.4, §6.12); a final-lessons call
    # comes after that work, and at a deadline transition (which §8.3 lists as a
    # trigger) no active time is left at all.
    result = await rt.wait(consult_final_lessons(core.sampler, prompt, remaining_seconds=None))
    _emit(core, state, result)
    if result.status != "used" or result.parsed is None:
        return None
    return "\n\n".join(result.parsed.lessons), list(result.parsed.recommended_followups)
