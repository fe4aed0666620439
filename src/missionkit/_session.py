"""
`Session`: a cheap handle on one stored session.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import attrs

from missionkit._engine import _iteration, _operators
from missionkit._engine._core import MissionCore
from missionkit._engine._fast import fast_step
from missionkit._engine._ref import SessionRef
from missionkit._engine._runtime import AsyncRuntime, Runtime, run_sync
from missionkit.errors import InvalidArgument, SessionNotFound
from missionkit.models import FinalReport, Iteration, SessionState, Strategy, Verdict

__all__ = ["Session"]

T = TypeVar("T")

OnIteration = Callable[[Iteration], Any]


def _check_run_args(max_iterations: Any, on_iteration: Any, session_id: str) -> None:
    if max_iterations is not None and (type(max_iterations) is not int or max_iterations <= 0):
        raise InvalidArgument("max_iterations", "must_be_positive_int", session_id=session_id)
    if on_iteration is not None and not callable(on_iteration):
        raise InvalidArgument("on_iteration", "not_callable", session_id=session_id)


class Session:
    """
    A handle on one stored session; several handles may exist for one id.

    Handles cache the session and re-read only what changed (the stored
    revision is checked on every call). Calls on one handle are serialised by
    a per-handle lock; distinct handles coordinate through compare-and-swap
    saves. Sync methods work with or without a running event loop in the
    calling thread; ``a…`` twins run on the caller's loop.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_async_busy", "_async_owner", "_lock", "_ref", "_step_fast", "_step_general")

    def __init__(self, core: MissionCore, session_id: str) -> None:
        self._ref = SessionRef(core, session_id)
        self._lock = threading.RLock()
        self._async_busy = False
        self._async_owner: object = None
        # `step` bound once per handle: a step is the hot call of most hosts.
        self._step_fast = functools.partial(fast_step, self._ref)
        self._step_general = functools.partial(_iteration.step_iteration, self._ref)

    # ------------------------------------------------------------ plumbing

    def _sync(
        self,
        factory: Callable[[Runtime], Coroutine[Any, Any, T]],
        shortcut: Callable[[], T | None] | None = None,
    ) -> T:
        # The handle lock is taken by whichever thread drives the engine, so
        # callbacks, tools and proposers running on that thread may call back
        # into this handle (the lock is re-entrant), with or without a loop
        # running in the calling thread.
        return run_sync(factory, self._lock, shortcut)

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        import asyncio

        task = asyncio.current_task()
        if task is not None and self._async_owner is task:
            # Re-entered from the operation's own task (an ``arun`` callback
            # awaiting this handle): it already holds the handle.
            yield
            return
        while self._async_busy or not self._lock.acquire(blocking=False):
            await asyncio.sleep(0.001)
        self._async_busy = True
        self._async_owner = task
        try:
            yield
        finally:
            self._async_owner = None
            self._async_busy = False
            self._lock.release()

    async def _async(self, factory: Callable[[Runtime], Coroutine[Any, Any, T]]) -> T:
        async with self._guard():
            return await factory(AsyncRuntime())

    # ------------------------------------------------------------ reads

    def _read(self, *, iterations: bool = True) -> tuple[SessionState, list[Iteration]]:
        """
        The stored header and (if asked) iterations, never waiting on a running operation.

        Reads go through the handle's cache when the handle is free (or held by
        this very thread). While an operation holds it — possibly the one whose
        tool or callback is reading, on a worker thread — they read the store
        directly and leave the cache to that operation.
        """
        if self._lock.acquire(blocking=False):
            try:
                cache = self._ref.refresh()
                return cache.header, list(cache.iterations) if iterations else []
            finally:
                self._lock.release()
        store = self._ref.core.store
        header = store.load_header(self.id)
        if header is None:
            raise SessionNotFound(self.id)
        return header, list(store.load_iterations(self.id)) if iterations else []

    @property
    def id(self) -> str:
        """
        The session id.
        """
        return self._ref.session_id

    @property
    def status(self) -> str:
        """
        The current stored status.
        """
        header, _ = self._read(iterations=False)
        return header.status

    @property
    def state(self) -> SessionState:
        """
        A frozen snapshot of the session, iterations included.
        """
        header, iterations = self._read()
        return _with_iterations(header, iterations)

    def report(self) -> FinalReport | None:
        """
        The stored final report, or None while the session is not terminal.
        """
        self._read(iterations=False)
        report: FinalReport | None = self._ref.core.store.load_report(self.id)
        return report

    def history(self, format: str = "summary") -> list[dict[str, Any]]:
        """
        Iterations as dicts: ``"summary"`` (`IterationSummary`) or ``"full"`` (`Iteration`).
        """
        if format not in ("summary", "full"):
            raise InvalidArgument("format", "must_be_summary_or_full", session_id=self.id)
        _, iterations = self._read()
        if format == "summary":
            return [it.summary().to_dict() for it in iterations]
        return [it.to_dict() for it in iterations]

    def history_records(self) -> list[dict[str, Any]]:
        """
        One flat row per iteration, ready for ``pandas.DataFrame(rows)`` (SPEC §15.2).
        """
        from missionkit._records_table import history_rows

        header, iterations = self._read()
        return history_rows(header, iterations)

    def to_dict(self) -> dict[str, Any]:
        """
        The session's JSON form, iterations included.
        """
        return self.state.to_dict()

    def _repr_html_(self) -> str:
        from missionkit._html import session_html

        header, iterations = self._read()
        return session_html(header, iterations, self._ref.core.clock())

    def __repr__(self) -> str:
        return f"<missionkit.Session id={self.id!r}>"

    # ------------------------------------------------------------ iterations

    def step(self) -> Iteration:
        """
        Run one iteration (propose → execute → observe → evaluate → decide).
        """
        return run_sync(self._step_general, self._lock, self._step_fast)

    async def astep(self) -> Iteration:
        """
        Async twin of `step`.
        """
        return await self._async(lambda rt: _iteration.step_iteration(self._ref, rt))

    async def _run(
        self, rt: Runtime, max_iterations: int | None, on_iteration: OnIteration | None
    ) -> FinalReport | None:
        done = 0
        while max_iterations is None or done < max_iterations:
            if done and self._ref.refresh().header.status == "paused":
                return None
            # The sync runtime may take the straight line; async tools-on-threads may not.
            iteration = None if rt.is_async else fast_step(self._ref)
            if iteration is None:
                iteration = await _iteration.step_iteration(self._ref, rt)
            done += 1
            if on_iteration is not None:
                outcome = on_iteration(iteration)
                if inspect.isawaitable(outcome):
                    outcome = await rt.wait(outcome)
                if outcome is False:
                    return None
            if iteration.verdict in ("complete", "terminate"):
                report: FinalReport | None = self._ref.core.store.load_report(self.id)
                return report
        return None

    def run(
        self, max_iterations: int | None = None, on_iteration: OnIteration | None = None
    ) -> FinalReport | None:
        """
        Step until a terminal verdict (returns the report) or until stopped (returns None).

        Args:
            max_iterations: Stop after this many steps (None: no limit of its own).
            on_iteration: Called with each committed `Iteration`; returning
                ``False`` stops the run.
        """
        _check_run_args(max_iterations, on_iteration, self.id)
        return self._sync(lambda rt: self._run(rt, max_iterations, on_iteration))

    async def arun(
        self, max_iterations: int | None = None, on_iteration: OnIteration | None = None
    ) -> FinalReport | None:
        """
        Async twin of `run`.
        """
        _check_run_args(max_iterations, on_iteration, self.id)
        return await self._async(lambda rt: self._run(rt, max_iterations, on_iteration))

    # ------------------------------------------------------------ ask / tell

    def propose(self) -> Strategy:
        """
        Ask: propose the next strategy and keep it as the pending proposal.
        """
        return self._sync(lambda rt: _iteration.propose_only(self._ref, rt))

    async def apropose(self) -> Strategy:
        """
        Async twin of `propose`.
        """
        return await self._async(lambda rt: _iteration.propose_only(self._ref, rt))

    def observe(self, observation: Any) -> Iteration:
        """
        Tell: evaluate and decide on an observation the host produced.
        """
        from missionkit.validation._observation import uncapped_observation

        data = uncapped_observation(observation)
        return self._sync(lambda rt: _iteration.observe_iteration(self._ref, rt, data))

    async def aobserve(self, observation: Any) -> Iteration:
        """
        Async twin of `observe`.
        """
        from missionkit.validation._observation import uncapped_observation

        data = uncapped_observation(observation)
        return await self._async(lambda rt: _iteration.observe_iteration(self._ref, rt, data))

    # ------------------------------------------------------------ operators

    def checkpoint(self) -> Verdict:
        """
        Re-decide the latest iteration as of now; writes and emits nothing.
        """
        with self._lock:
            return _operators.checkpoint(self._ref)

    def complete(self, reason: str = "forced_complete") -> FinalReport:
        """
        Complete the session now, recording ``complete/<reason>``.
        """
        return self._sync(lambda rt: _operators.complete(self._ref, rt, reason))

    async def acomplete(self, reason: str = "forced_complete") -> FinalReport:
        """
        Async twin of `complete`.
        """
        return await self._async(lambda rt: _operators.complete(self._ref, rt, reason))

    def abort(self, pause: bool = False) -> FinalReport | None:
        """
        Terminate with ``terminate/user_abort``, or pause when *pause* is true (returns None).
        """
        if type(pause) is not bool:
            raise InvalidArgument("pause", "not_a_bool", session_id=self.id)
        if pause:
            return self._sync(lambda rt: _operators.pause(self._ref))
        return self._sync(lambda rt: _operators.abort(self._ref, rt))

    async def aabort(self, pause: bool = False) -> FinalReport | None:
        """
        Async twin of `abort`.
        """
        if type(pause) is not bool:
            raise InvalidArgument("pause", "not_a_bool", session_id=self.id)
        if pause:
            return await self._async(lambda rt: _operators.pause(self._ref))
        return await self._async(lambda rt: _operators.abort(self._ref, rt))

    def resume(self) -> None:
        """
        Leave ``paused``.
        """
        self._sync(lambda rt: _operators.resume(self._ref))


def _with_iterations(header: SessionState, iterations: list[Iteration]) -> SessionState:
    return attrs.evolve(header, iterations=tuple(iterations))
