"""
How the async engine runs under sync and async entry points (SPEC §6.19).

The engine is written once, as coroutines. Every suspension point goes
through a `Runtime`:

- `AsyncRuntime` really awaits on the caller's event loop.
- `SyncRuntime` never suspends: blocking work runs inline, in a daemon
  thread (timeouts) or on a short-lived private loop (async callables). A
  coroutine driven this way completes on its first ``send(None)``, so a sync
  ``step()`` with sync tools costs no event loop at all.

A sync entry point called while a loop runs in the calling thread (Jupyter)
drives the coroutine on a helper thread and blocks until it is done.
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

__all__ = ["AsyncRuntime", "Runtime", "SyncRuntime", "run_sync"]

#: Exact types of what tools usually return; none of them is awaitable.
_NOT_AWAITABLE = frozenset({dict, list, str, int, float, bool, type(None)})


class _Box:
    """
    Result slot of a worker thread.
    """

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


def _start_worker(
    func: Callable[..., Any],
    kwargs: dict[str, Any],
    box: _Box,
    notify: Callable[[], None] | None = None,
) -> None:
    def work() -> None:
        try:
            box.value = func(**kwargs)
        except BaseException as exc:
            box.error = exc
        finally:
            box.done.set()
            if notify is not None:
                notify()

    # A daemon thread, not an executor: a hung tool must never block interpreter
    # or loop shutdown. A timed-out worker is abandoned and its result discarded.
    threading.Thread(target=work, name="missionkit-tool", daemon=True).start()


#: Longest wait handed to a timer (about 31 years). Budgets and timeouts may be
#: any positive number, but OS timers refuse waits past a few centuries.
_LONGEST_WAIT = 1e9


def _waitable(timeout: float) -> float:
    return timeout if timeout <= _LONGEST_WAIT else _LONGEST_WAIT


def _rest(timeout: float | None, started: float) -> float | None:
    """
    What is left of *timeout* since *started*: a sync callable returning an
    awaitable gets one budget for both parts.
    """
    if timeout is None:
        return None
    return max(0.0, timeout - (time.monotonic() - started))


def _timeout_error(timeout: float, what: str) -> TimeoutError:
    return TimeoutError(f"{what} exceeded {format(timeout, 'g')}s")


class Runtime:
    """
    The suspension points the engine needs.
    """

    is_async: bool = False

    async def call(
        self, func: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None, what: str
    ) -> Any:
        """
        Call a sync-or-async callable with keyword arguments, bounded by *timeout*.

        Raises:
            TimeoutError: The timeout elapsed (message ``<what> exceeded <t>s``).
        """
        raise NotImplementedError

    async def wait(
        self,
        awaitable: Awaitable[T],
        timeout: float | None = None,
        what: str = "call",
        *,
        shown: float | None = None,
    ) -> T:
        """
        Wait for an awaitable, bounded by *timeout*; a timeout reports *shown* if given.
        """
        raise NotImplementedError


class SyncRuntime(Runtime):
    """
    Runs everything without suspending the engine coroutine.
    """

    is_async = False

    async def call(
        self, func: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None, what: str
    ) -> Any:
        started = 0.0
        if timeout is None:
            result = func(**kwargs)
        else:
            started = time.monotonic()
            box = _Box()
            _start_worker(func, kwargs, box)
            if not box.done.wait(_waitable(timeout)):
                raise _timeout_error(timeout, what)
            if box.error is not None:
                raise box.error
            result = box.value
        if type(result) not in _NOT_AWAITABLE and inspect.isawaitable(result):
            return await self.wait(result, _rest(timeout, started), what, shown=timeout)
        return result

    async def wait(
        self,
        awaitable: Awaitable[T],
        timeout: float | None = None,
        what: str = "call",
        *,
        shown: float | None = None,
    ) -> T:
        import asyncio

        async def bounded() -> T:
            if timeout is None:
                return await awaitable
            try:
                return await asyncio.wait_for(awaitable, _waitable(timeout))
            except TimeoutError:
                raise _timeout_error(timeout if shown is None else shown, what) from None

        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(bounded())
        finally:
            loop.close()


class AsyncRuntime(Runtime):
    """
    Awaits on the running loop; sync callables always run in a worker thread.
    """

    is_async = True

    async def call(
        self, func: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None, what: str
    ) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def notify() -> None:
            loop.call_soon_threadsafe(_resolve, future)

        started = time.monotonic()
        box = _Box()
        _start_worker(func, kwargs, box, notify)
        try:
            await (asyncio.wait_for(future, _waitable(timeout)) if timeout is not None else future)
        except TimeoutError:
            raise _timeout_error(timeout or 0.0, what) from None
        if box.error is not None:
            raise box.error
        result = box.value
        if inspect.isawaitable(result):
            return await self.wait(result, _rest(timeout, started), what, shown=timeout)
        return result

    async def wait(
        self,
        awaitable: Awaitable[T],
        timeout: float | None = None,
        what: str = "call",
        *,
        shown: float | None = None,
    ) -> T:
        if timeout is None:
            return await awaitable
        import asyncio

        try:
            return await asyncio.wait_for(awaitable, _waitable(timeout))
        except TimeoutError:
            raise _timeout_error(timeout if shown is None else shown, what) from None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    try:
        coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coro.close()
    raise RuntimeError("missionkit engine coroutine suspended under the sync runtime")


def _drive_or_shortcut(
    factory: Callable[[Runtime], Coroutine[Any, Any, T]],
    shortcut: Callable[[], T | None] | None,
) -> T:
    if shortcut is not None:
        done = shortcut()
        if done is not None:
            return done
    return _drive(factory(SyncRuntime()))


def run_sync(
    factory: Callable[[Runtime], Coroutine[Any, Any, T]],
    lock: AbstractContextManager[Any],
    shortcut: Callable[[], T | None] | None = None,
) -> T:
    """
    Run an engine coroutine from a sync entry point, holding *lock* while it runs.

    With no running loop in this thread the coroutine is driven inline; with
    one (e.g. Jupyter) it is driven on a helper thread while this thread waits.
    Either way *lock* is held by the thread that drives the engine, so work
    the engine runs on that thread can re-enter a re-entrant lock.

    *shortcut*, if given, is tried first under the lock: a sync function that
    either does the whole job or answers None having done nothing.
    """
    # No loop can run in this thread unless asyncio was imported; and
    # asyncio._get_running_loop() answers None instead of raising, so the common
    # no-loop case costs neither an import nor an exception.
    aio = sys.modules.get("asyncio")
    if aio is None or aio._get_running_loop() is None:
        with lock:
            # `_drive_or_shortcut` written out: this is every sync step's path.
            if shortcut is not None:
                done = shortcut()
                if done is not None:
                    return done
            return _drive(factory(SyncRuntime()))

    def drive_locked() -> T:
        with lock:
            return _drive_or_shortcut(factory, shortcut)

    box = _Box()
    _start_worker(drive_locked, {}, box)
    box.done.wait()
    if box.error is not None:
        raise box.error
    result: T = box.value
    return result
