"""
Operator actions and ``checkpoint()`` (SPEC §6.13–6.14).

Operator actions append no iteration. They re-read the session and retry up to
three times when another writer wins the compare-and-swap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

import attrs

from missionkit._engine._cache import SessionCache
from missionkit._engine._cascade import decide
from missionkit._engine._ref import SessionRef
from missionkit._engine._report import build_report
from missionkit._engine._runtime import Runtime
from missionkit._engine._sampling import final_lessons
from missionkit.audit import LifecycleEvent
from missionkit.errors import (
    ConcurrentUpdate,
    InvalidArgument,
    NoIterations,
    NotPaused,
    SessionFailed,
    SessionTerminal,
)
from missionkit.models import FinalReport, SessionState, Verdict
from missionkit.proposers._context import IterationsView

__all__ = ["abort", "checkpoint", "complete", "pause", "resume"]

T = TypeVar("T")
_REASON = re.compile(r"[a-z][a-z0-9_]{0,63}")
_RETRIES = 3


async def _with_retries(
    ref: SessionRef, action: Callable[[SessionCache], Coroutine[Any, Any, T]]
) -> T:
    attempt = 0
    while True:
        cache = ref.refuse_terminal()
        try:
            return await action(cache)
        except ConcurrentUpdate:
            attempt += 1
            if attempt > _RETRIES:
                raise


def _fold_pause(state: SessionState, now: datetime) -> SessionState:
    if state.paused_at is None:
        return state
    paused = state.paused_seconds
    if state.started_at is not None:
        start = max(state.paused_at, state.started_at)
        paused += max(0.0, (now - start).total_seconds())
    return attrs.evolve(state, paused_seconds=paused, paused_at=None)


def _emit(ref: SessionRef, action: str, status: str, previous: str, **extra: Any) -> None:
    core = ref.core
    core.audit(
        LifecycleEvent,
        mission_session_id=ref.session_id,
        action=action,
        status=status,
        previous_status=previous,
        **extra,
    )


async def _finalize(ref: SessionRef, rt: Runtime, verdict: Verdict, action: str) -> FinalReport:
    core = ref.core

    async def attempt(cache: SessionCache) -> FinalReport:
        before = cache.header
        now = core.clock()
        state = _fold_pause(before, now)
        status = "completed" if verdict.label == "complete" else "terminated"
        header = attrs.evolve(
            state,
            revision=before.revision + 1,
            status=status,  # type: ignore[arg-type]
            ended_at=now,
            updated_at=now,
            final_verdict=verdict.label,
            final_verdict_reason=verdict.reason,
            pending_proposal=None,
        )
        lessons = await final_lessons(core, rt, header, cache.iterations, now)
        report = build_report(header, cache.iterations, ended_at=now, lessons=lessons)
        ref.commit(cache, header, (), report)
        _emit(
            ref,
            action,
            status,
            before.status,
            final_verdict=verdict.label,
            final_verdict_reason=verdict.reason,
        )
        return report

    return await _with_retries(ref, attempt)


async def complete(ref: SessionRef, rt: Runtime, reason: Any) -> FinalReport:
    """
    Complete the session with ``complete/<reason>``.
    """
    if not isinstance(reason, str) or not _REASON.fullmatch(reason):
        raise InvalidArgument("reason", "must_be_token", session_id=ref.session_id)
    return await _finalize(ref, rt, Verdict("complete", reason), "complete")


async def abort(ref: SessionRef, rt: Runtime) -> FinalReport:
    """
    Terminate the session with ``terminate/user_abort``.
    """
    return await _finalize(ref, rt, Verdict("terminate", "user_abort"), "abort")


async def pause(ref: SessionRef) -> None:
    """
    Pause a pending or running session (a paused one is left alone).
    """
    core = ref.core

    async def attempt(cache: SessionCache) -> None:
        before = cache.header
        if before.status == "paused":
            return
        now = core.clock()
        header = attrs.evolve(
            before, revision=before.revision + 1, status="paused", paused_at=now, updated_at=now
        )
        ref.commit(cache, header)
        _emit(ref, "pause", "paused", before.status)

    await _with_retries(ref, attempt)


async def resume(ref: SessionRef) -> None:
    """
    Leave ``paused``: back to ``running`` if the session has started, else ``pending``.
    """
    core = ref.core

    async def attempt(cache: SessionCache) -> None:
        before = cache.header
        if before.status != "paused":
            raise NotPaused(ref.session_id, before.status)
        now = core.clock()
        state = _fold_pause(before, now)
        status = "running" if state.started_at is not None else "pending"
        header = attrs.evolve(
            state,
            revision=before.revision + 1,
            status=status,  # type: ignore[arg-type]
            updated_at=now,
        )
        ref.commit(cache, header)
        _emit(ref, "resume", status, "paused")

    await _with_retries(ref, attempt)


def checkpoint(ref: SessionRef) -> Verdict:
    """
    Re-decide the latest iteration at the current time; writes and emits nothing.
    """
    cache = ref.refresh()
    state = cache.header
    if state.status == "failed":
        raise SessionFailed(ref.session_id)
    if state.status in ("completed", "terminated"):
        raise SessionTerminal(ref.session_id, state.status)
    if not cache.iterations:
        raise NoIterations(ref.session_id)
    latest = cache.iterations[-1]
    stored = IterationsView(cache.iterations, len(cache.iterations) - 1)
    return decide(state, latest, ref.core.clock(), stored=stored)
