"""
The straight-line iteration: one fused step for the most common configuration.

The general engine (`missionkit._engine._iteration`) runs an iteration as
coroutines, one small module per phase, through a phase wrapper and a mutable
draft: that structure is what lets one engine serve sync and async hosts,
samplers, scripts, custom proposers, timeouts and cadences. Most sessions use
none of those: the default proposer, plain sync tools without timeouts,
``metric_threshold`` criteria checked every iteration, no audit sinks. For
them the structure costs more than the work, so `fast_step` runs the same
iteration as one function, reusing the engine's own parts (proposer rules,
dispatch records, observation builder, evaluators, progress, cascade scan,
trusted constructors).

It is a shortcut, not a second engine: it reads the clock at exactly the
points the general engine does and produces the same records, state, errors
and saves. Whenever something leaves the straight line it hands over to the
general engine: before any work by answering None, later by rebuilding the
draft the general engine would hold at that point (a failed phase, a verdict
other than ``continue``/``in_progress``). ``tests/test_fast_path.py`` runs
generated missions through both with a ticking clock and requires identical
iterations, errors, stored sessions and reports.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from missionkit._engine._cache import SessionCache
from missionkit._engine._cascade import _scan
from missionkit._engine._core import MissionCore
from missionkit._engine._dispatch import call_failed, call_succeeded
from missionkit._engine._env import IterationEnv
from missionkit._engine._iteration import _fail, _finish, _running_header
from missionkit._engine._observation import observe_calls
from missionkit._engine._phase import Draft, _failed, _new_iteration, _new_phase_record
from missionkit._engine._progress import ProgressUpdate
from missionkit._engine._ref import SessionRef
from missionkit._engine._runtime import _NOT_AWAITABLE, SyncRuntime, _drive
from missionkit._engine.phases._decide import settle_verdict
from missionkit._engine.phases._evaluate import evaluate_now
from missionkit._jsonsafe import to_json_data
from missionkit.models import Iteration, MetricThresholdCriterion, SessionState, ToolCallRecord
from missionkit.proposers._default import propose_default

__all__ = ["fast_step"]


def plain_criteria(criteria: Sequence[Any]) -> bool:
    """
    Whether every criterion is a ``metric_threshold`` (pure, never raises, reads no view).

    And one at least is required: `_steady` relies on an unmet required
    criterion to rule out completion when it skips the cascade's scan.
    """
    return all(type(c) is MetricThresholdCriterion for c in criteria) and any(
        c.required for c in criteria
    )


def plain_tools(core: MissionCore, names: Sequence[str]) -> bool:
    """
    Whether every (runnable) tool of *names* runs in-line: it has no timeout.

    Async callables qualify too: under the sync runtime the general engine
    calls them in-line as well and runs the awaitable they return to completion.
    """
    return all(core.tools[name].timeout is None for name in names)


def fast_step(ref: SessionRef) -> Iteration | None:
    """
    One iteration on the straight line, or None (having done nothing) where it does not apply.

    Only for sync entry points with no event loop running in this thread, with
    the handle lock held.
    """
    core = ref.core
    if not core.fast_path or core.sinks or core.proposer is not None:
        return None
    if core.tool_timeout is not None:
        return None
    # A session's configuration never changes after its start, so a handle that
    # has seen it declines without reading the store (the general engine's
    # gate reads it next); what the fresh header says is checked after the gate.
    known = ref.cache
    seen = None
    runnable: tuple[str, ...] | None = ()
    if known is not None:
        seen = known.header
        runnable = known.straight(core)
        if runnable is None or seen.pending_proposal is not None or seen.started_at is None:
            return None
    cache = ref.gate()
    header = cache.header
    if header is not seen:
        runnable = cache.straight(core)
    if runnable is None or header.pending_proposal is not None or header.started_at is None:
        return None
    return _iterate(ref, cache, core, header, runnable)


def straight_tools(
    core: MissionCore, state: SessionState, runnable: tuple[str, ...]
) -> tuple[str, ...] | None:
    """
    *runnable* if the configuration of *state* fits the straight line, else None.

    Only the configuration: whether a proposal is pending or the session has
    started is checked on every step (`fast_step`).
    """
    if (
        state.use_sampling
        or state.budget.max_wall_clock_seconds != -1
        or state.checkpoint_cadence.kind != "every_iteration"
        or not runnable
        or not plain_criteria(state.criteria)
        or not plain_tools(core, runnable)
    ):
        return None
    return runnable


def _call(core: MissionCore, call: Any) -> tuple[ToolCallRecord, Any]:
    """
    `dispatch` for a plain sync tool without a timeout, under the sync runtime.
    """
    name = call.tool_name
    args = call.args
    record_args = to_json_data(args) if args else {}
    # No `refusal` check: the default proposer only proposes runnable tools.
    func = core.tools[name].func
    clock = core.clock
    started = clock()
    try:
        value = func(**(to_json_data(args) if args else {}))  # type: ignore[misc]
        if type(value) not in _NOT_AWAITABLE and inspect.isawaitable(value):
            value = _drive(SyncRuntime().wait(value, None, "tool call", shown=None))
    except Exception as exc:
        return call_failed(name, record_args, started, clock(), exc), None
    return call_succeeded(name, record_args, started, clock(), value)


def _steady(
    state: SessionState,
    stored: Sequence[Iteration],
    index: int,
    results: Sequence[Any],
    update: ProgressUpdate,
    observation: Any,
) -> bool:
    """
    Whether the cascade (SPEC §6.7) can only answer ``continue``/``in_progress``.

    A sufficient condition, checked cheaply; when it fails the general cascade decides.
    """
    # A quiet evaluation met nothing (and `plain_criteria` requires one
    # required criterion) and saw only finite floats: no completion, no
    # non-finite value to scan for.
    if not update.quiet:
        all_met, non_finite = _scan(zip(state.criteria, results, strict=True))
        if all_met or non_finite:
            return False
    counter = update.counter
    limit = state.budget.max_iterations
    if limit != -1 and index + 1 >= limit:
        return False
    threshold = state.stagnation_threshold
    if counter >= threshold:
        return False
    # The adjust heuristic needs a long enough no-progress streak or new errors.
    if counter >= math.ceil(threshold / 2) and len(stored) >= 2:
        return False
    return not observation.errors


def _iterate(
    ref: SessionRef,
    cache: SessionCache,
    core: MissionCore,
    state: SessionState,
    runnable: tuple[str, ...],
) -> Iteration:
    clock = core.clock
    stored = cache.iterations
    index = len(stored)
    started = clock()
    # What a hand-over to the general engine needs: fixed, and built so far.
    base = (ref, core, cache, state, index, started)
    phases: list[Any] = []
    strategy: Any = None
    tool_calls: tuple[ToolCallRecord, ...] = ()
    observation: Any = None

    at = clock()
    try:
        adjust = bool(stored) and stored[-1].verdict == "adjust"
        strategy = propose_default(
            cache.history, stored[-1] if stored else None, runnable, index, adjust
        )
    except Exception as exc:
        built = (phases, strategy, tool_calls, observation)
        raise _fail_over(base, built, "propose", at, exc) from None
    phases.append(_new_phase_record("propose", "succeeded", at, clock(), None))

    at = clock()
    records = []
    values: list[Any] = []
    try:
        for call in strategy.tool_calls or ():
            record, value = _call(core, call)
            records.append(record)
            values.append(value)
    except Exception as exc:
        built = (phases, strategy, tool_calls, observation)
        raise _fail_over(base, built, "execute", at, exc) from None
    tool_calls = tuple(records)
    phases.append(_new_phase_record("execute", "succeeded", at, clock(), None))

    at = clock()
    try:
        observation = observe_calls(records, values, core.limits.tool_result_bytes, at, clock)
    except Exception as exc:
        built = (phases, strategy, tool_calls, observation)
        raise _fail_over(base, built, "observe", at, exc) from None
    phases.append(_new_phase_record("observe", "succeeded", at, clock(), None))

    checkpoint = at = clock()
    try:
        results, update = evaluate_now(core, cache, state, observation)
    except Exception as exc:
        built = (phases, strategy, tool_calls, observation)
        raise _fail_over(base, built, "evaluate", at, exc) from None
    phases.append(_new_phase_record("evaluate", "succeeded", at, clock(), None))
    counter = update.counter

    at = clock()
    env = None
    try:
        now = clock()
        if not _steady(state, stored, index, results, update, observation):
            env = _draft_env(base, (phases, strategy, tool_calls, observation))
            draft = env.draft
            draft.criteria_evaluation = results
            draft.checkpoint_evaluated = True
            draft.progress = update.progress
            draft.no_progress_counter = counter
            env.criterion_progress = update.criterion_progress
            env.last_checkpoint_at = checkpoint
            settle_verdict(state, stored, draft, now)
    except Exception as exc:
        # The failed iteration drops the evaluation (SPEC §6.10): no need to carry it.
        built = (phases, strategy, tool_calls, observation)
        raise _fail_over(base, built, "decide", at, exc) from None
    if env is not None:
        env.draft.phases.append(_new_phase_record("decide", "succeeded", at, clock(), None))
        return _finish_over(ref, env)
    phases.append(_new_phase_record("decide", "succeeded", at, clock(), None))

    ended = clock()
    header = _running_header(
        state,
        state.revision + 1,
        "running",
        counter,
        update.criterion_progress,
        checkpoint,
        None,
        ended,
    )
    iteration = _new_iteration(
        index, "succeeded", started, ended, tuple(phases), strategy, "default", tool_calls,
        None, None, None, observation, results, True, update.progress, counter,
        "continue", "in_progress", None, None, None, None, None,
    )  # fmt: skip
    ref.commit(cache, header, (iteration,), None)
    return iteration


#: What stays fixed during an iteration: ``(ref, core, cache, state, index, started)``.
_Base = tuple[SessionRef, MissionCore, SessionCache, SessionState, int, datetime]
#: What the straight line has built so far: ``(phases, strategy, tool_calls, observation)``.
_Built = tuple[list[Any], Any, tuple[ToolCallRecord, ...], Any]


def _draft_env(base: _Base, built: _Built) -> IterationEnv:
    """
    The general engine's state of an iteration the straight line has taken so far.
    """
    _, core, cache, state, index, started = base
    phases, strategy, tool_calls, observation = built
    draft = Draft(index, started, state.no_progress_counter)
    draft.phases = phases
    if strategy is not None:
        draft.strategy = strategy
        draft.strategy_source = "default"
    draft.tool_calls = tool_calls
    draft.observation = observation
    return IterationEnv(core, SyncRuntime(), cache, state, draft)


def _fail_over(
    base: _Base, built: _Built, phase: str, started: datetime, exc: Exception
) -> BaseException:
    """
    Record *phase* as failed and commit the failed iteration, as the general engine does.

    (The straight line never stages an observation in the cumulative view, so
    there is nothing to roll back, unlike in the general engine.)
    """
    env = _draft_env(base, built)
    failure = _failed(env.core, env.state.session_id, env.draft, phase, started, exc)
    return _fail(base[0], env.cache, env, failure)


def _finish_over(ref: SessionRef, env: IterationEnv) -> Iteration:
    """
    Commit a decided iteration through the general engine (reports, lessons).
    """
    return _drive(_finish(ref, env.cache, env))
