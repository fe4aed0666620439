"""
One iteration from gate to commit: ``step()``, ``observe()``, ``propose()`` and
the deadline iteration (SPEC §6.2–6.12, §6.16).

Every side effect of an iteration happens here, in a fixed order: phase events
as phases end, then (for terminal verdicts) the lessons consultation, then the
single compare-and-swap save, and only after it the verdict or lifecycle event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from missionkit._engine._cache import SessionCache
from missionkit._engine._env import IterationEnv
from missionkit._engine._observation import result_summary
from missionkit._engine._phase import Draft, PhaseFailed, run_phase, run_sync_phase
from missionkit._engine._ref import SessionRef
from missionkit._engine._report import build_report
from missionkit._engine._runtime import Runtime
from missionkit._engine._sampling import final_lessons
from missionkit._engine.phases._decide import decide_phase
from missionkit._engine.phases._evaluate import evaluate_criteria
from missionkit._engine.phases._execute import execute as execute_phase
from missionkit._engine.phases._observe import observe as observe_phase
from missionkit._engine.phases._propose import propose as propose_phase
from missionkit._models._trusted import trusted_evolver
from missionkit._text import TEXT_LIMIT, exception_text
from missionkit.audit import LifecycleEvent, VerdictEvent
from missionkit.errors import ProposeNoToolAvailable
from missionkit.models import (
    Iteration,
    ObservationInput,
    PendingProposal,
    SessionState,
    Strategy,
    ToolCallRecord,
)

__all__ = ["observe_iteration", "propose_only", "step_iteration"]

#: The header after a non-terminal commit: the fields §6.9 sets on every iteration.
_running_header = trusted_evolver(
    SessionState,
    (
        "revision",
        "status",
        "no_progress_counter",
        "criterion_progress",
        "last_checkpoint_at",
        "pending_proposal",
        "updated_at",
    ),
)


def _start(cache: SessionCache, now: datetime) -> tuple[SessionState, Draft]:
    header = cache.header
    if header.started_at is None:
        header = attrs.evolve(header, started_at=now)
    return header, Draft(len(cache.iterations), now, header.no_progress_counter)


def _adopt_pending(state: SessionState, draft: Draft) -> bool:
    pending = state.pending_proposal
    if pending is None:
        return False
    draft.strategy = pending.strategy
    draft.strategy_source = pending.strategy_source
    draft.phases.extend(pending.phases)
    draft.sampling_status = pending.sampling_status
    draft.sampling_rejection_reason = pending.sampling_rejection_reason
    draft.sampling_output = pending.sampling_output
    draft.sampling_rationale = pending.sampling_rationale
    return True


async def _phases(env: IterationEnv, candidates: tuple[str, ...] | None, execute: bool) -> None:
    """
    Propose (unless *candidates* is None) and execute (if asked), then observe, evaluate, decide.
    """
    core = env.core
    sid = env.state.session_id
    draft = env.draft
    if candidates is not None:
        await run_phase(core, sid, draft, "propose", propose_phase, env, candidates)
    if execute:
        await run_phase(core, sid, draft, "execute", execute_phase, env)
    run_sync_phase(core, sid, draft, "observe", observe_phase, env)
    run_sync_phase(core, sid, draft, "evaluate", evaluate_criteria, env)
    run_sync_phase(core, sid, draft, "decide", decide_phase, env)


async def _finish(
    ref: SessionRef,
    cache: SessionCache,
    env: IterationEnv,
) -> Iteration:
    """
    Commit a decided iteration (SPEC §6.9) and emit its verdict event.
    """
    core = env.core
    draft = env.draft
    now = core.clock()
    draft.ended_at = now
    state = env.state
    terminal = draft.verdict in ("complete", "terminate")
    if terminal:
        completed = draft.verdict == "complete"
        header = attrs.evolve(
            state,
            revision=state.revision + 1,
            status="completed" if completed else "terminated",
            no_progress_counter=draft.no_progress_counter,
            criterion_progress=env.criterion_progress,
            last_checkpoint_at=env.last_checkpoint_at,
            pending_proposal=None,
            updated_at=now,
            ended_at=now,
            final_verdict="complete" if completed else "terminate",
            final_verdict_reason=draft.verdict_reason,
            paused_at=None,
        )
    else:
        header = _running_header(
            state,
            state.revision + 1,
            "running",
            draft.no_progress_counter,
            env.criterion_progress,
            env.last_checkpoint_at,
            None,
            now,
        )
    iteration = draft.freeze()
    report = None
    if terminal:
        history = [*cache.iterations, iteration]
        lessons = await final_lessons(core, env.rt, header, history, now)
        report = build_report(header, history, ended_at=now, lessons=lessons)
    ref.commit(cache, header, (iteration,), report)
    if core.sinks:
        core.audit(
            VerdictEvent,
            mission_session_id=state.session_id,
            iteration_index=iteration.iteration_index,
            verdict=iteration.verdict or "",
            verdict_reason=iteration.verdict_reason or "",
            revision_rationale=iteration.revision_rationale,
        )
    return iteration


def _fail(
    ref: SessionRef,
    cache: SessionCache,
    env: IterationEnv,
    failure: PhaseFailed,
) -> BaseException:
    """
    Commit a failed iteration (SPEC §6.10); return the original exception, annotated.
    """
    core = env.core
    draft = env.draft
    state = env.state
    original = failure.original
    now = core.clock()
    draft.status = "failed"
    draft.verdict = None
    draft.verdict_reason = None
    draft.revision_rationale = None
    draft.checkpoint_evaluated = False
    draft.criteria_evaluation = ()
    draft.progress = False
    draft.no_progress_counter = state.no_progress_counter
    draft.ended_at = now
    iteration = draft.freeze()
    header = attrs.evolve(
        state,
        revision=state.revision + 1,
        status="failed",
        ended_at=now,
        updated_at=now,
        final_verdict=None,
        final_verdict_reason=None,
        pending_proposal=None,
        paused_at=None,
    )
    failure_entry = {
        "iteration_index": iteration.iteration_index,
        "phase": failure.phase,
        "error_message": exception_text(original, TEXT_LIMIT),
    }
    history = [*cache.iterations, iteration]
    report = build_report(header, history, ended_at=now, failure=failure_entry)
    original.add_note(
        f"missionkit: iteration {iteration.iteration_index} of session "
        f"{state.session_id} failed in phase {failure.phase}"
    )
    try:
        ref.commit(cache, header, (iteration,), report)
    except Exception as save_error:
        core.logger.error(
            "could not save failed iteration %s of session %s",
            iteration.iteration_index,
            state.session_id,
            exc_info=True,
            extra={"missionkit_session_id": state.session_id},
        )
        original.add_note(f"missionkit: saving the failed iteration also failed: {save_error!r}")
        return original
    core.audit(
        LifecycleEvent,
        mission_session_id=state.session_id,
        action="fail",
        status="failed",
        previous_status=state.status,
        iteration_index=iteration.iteration_index,
        error_message=exception_text(original, TEXT_LIMIT),
    )
    return original


async def _deadline(ref: SessionRef, cache: SessionCache, rt: Runtime, now: datetime) -> Iteration:
    """
    Record a decide-only iteration that terminates with ``max_wall_clock`` (SPEC §6.12).
    """
    core = ref.core
    state = cache.header
    draft = Draft(len(cache.iterations), now, state.no_progress_counter)
    env = IterationEnv(core, rt, cache, state, draft)

    async def body(started: datetime) -> None:
        draft.verdict = "terminate"
        draft.verdict_reason = "max_wall_clock"

    try:
        await run_phase(core, state.session_id, draft, "decide", body)
    except PhaseFailed as failure:
        raise _fail(ref, cache, env, failure) from None
    return await _finish(ref, cache, env)


async def step_iteration(ref: SessionRef, rt: Runtime) -> Iteration:
    """
    Run one full iteration (SPEC §6.2–6.10).
    """
    core = ref.core
    cache = ref.gate()
    state = cache.header
    now = core.clock()
    cap = state.budget.max_wall_clock_seconds
    if state.started_at is not None and cap != -1 and state.active_seconds(now) >= cap:
        return await _deadline(ref, cache, rt, now)
    runnable = cache.runnable(core, state.tool_allowlist)
    if not runnable:
        raise ProposeNoToolAvailable(state.session_id, state.tool_allowlist)
    state, draft = _start(cache, now)
    env = IterationEnv(core, rt, cache, state, draft)
    candidates = None if _adopt_pending(state, draft) else runnable
    return await _run(ref, cache, env, candidates, execute=True)


async def _run(
    ref: SessionRef,
    cache: SessionCache,
    env: IterationEnv,
    candidates: tuple[str, ...] | None,
    *,
    execute: bool,
) -> Iteration:
    try:
        await _phases(env, candidates, execute)
    except PhaseFailed as failure:
        cache.view.rollback()
        raise _fail(ref, cache, env, failure) from None
    except BaseException:
        cache.view.rollback()
        raise
    try:
        return await _finish(ref, cache, env)
    except BaseException:
        # Interrupted before its save (a clock or lessons failure, Ctrl-C): the
        # staged observation must not stay in this handle's view. After the save
        # it is already settled and this does nothing.
        cache.view.rollback()
        raise


def _host_record(call: Any) -> tuple[ToolCallRecord, Any]:
    # *call* comes from `uncapped_observation`: its args and result are fresh JSON data.
    value = call.result if call.status == "ok" else None
    record = ToolCallRecord(
        call.tool_name,
        call.args,
        call.status,
        result_summary(value) if call.status == "ok" else None,
        call.duration_ms,
        call.error_message if call.status == "failed" else None,
    )
    return record, value


async def observe_iteration(ref: SessionRef, rt: Runtime, data: ObservationInput) -> Iteration:
    """
    The tell half of ask/tell: evaluate and decide a host-supplied observation (SPEC §6.11).
    """
    core = ref.core
    cache = ref.gate()
    now = core.clock()
    state, draft = _start(cache, now)
    env = IterationEnv(core, rt, cache, state, draft)
    if not _adopt_pending(state, draft):
        draft.strategy_source = "host"
    pairs = [_host_record(call) for call in data.tool_calls]
    draft.tool_calls = tuple(record for record, _ in pairs)
    env.values = [value for _, value in pairs]
    env.host_metrics = data.metrics
    env.host_events = list(data.events)
    return await _run(ref, cache, env, None, execute=False)


async def propose_only(ref: SessionRef, rt: Runtime) -> Strategy:
    """
    The ask half of ask/tell: run one propose phase and store a pending proposal.
    """
    core = ref.core
    cache = ref.gate()
    state = cache.header
    known = core.known(state.tool_allowlist)
    if not known:
        raise ProposeNoToolAvailable(state.session_id, state.tool_allowlist)
    now = core.clock()
    draft = Draft(len(cache.iterations), now, state.no_progress_counter)
    pending = state.pending_proposal
    if pending is not None:
        draft.phases.extend(pending.phases)
    env = IterationEnv(core, rt, cache, state, draft)
    try:
        await run_phase(core, state.session_id, draft, "propose", propose_phase, env, known)
    except PhaseFailed as failure:
        if state.started_at is None:
            env.state = attrs.evolve(state, started_at=now)
        raise _fail(ref, cache, env, failure) from None
    proposal = PendingProposal(
        strategy=draft.strategy,
        strategy_source=draft.strategy_source,  # type: ignore[arg-type]
        phases=tuple(draft.phases),
        sampling_status=draft.sampling_status,  # type: ignore[arg-type]
        sampling_rejection_reason=draft.sampling_rejection_reason,
        sampling_output=draft.sampling_output,
        sampling_rationale=draft.sampling_rationale,
    )
    header = attrs.evolve(
        state,
        revision=state.revision + 1,
        pending_proposal=proposal,
        updated_at=core.clock(),
    )
    ref.commit(cache, header)
    strategy: Strategy = draft.strategy
    return strategy
