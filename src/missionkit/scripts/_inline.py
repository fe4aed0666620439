"""
An in-process script runner for tests (SPEC §9.4, ``missionkit.testing``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from missionkit._jsonsafe import to_json_data
from missionkit._text import TEXT_LIMIT, exception_text

from ._protocol import ScriptOutcome, ScriptToolError
from ._sandbox import (
    CallRequest,
    Finished,
    Reply,
    ScriptState,
    check_runner_limits,
    compile_script,
    event_row,
    finite_or_none,
)

__all__ = ["InlineScriptRunner"]


class InlineScriptRunner:
    """
    Run validated scripts in the calling process, with the subprocess runner's semantics.

    The script sees the same builtins, the same ``mission`` object and the same
    tool functions, failed tool calls raise the same exceptions, and the tool
    call cap is the same. Limits are checked only at ``await`` points: a script
    that loops without awaiting blocks the event loop until it ends. There is no
    memory limit (a ``MemoryError`` the script does not catch is still reported as
    ``limit="memory"``).

    .. warning::

       This is for tests. It is not an isolation boundary.

    Args:
        wall_seconds: The script's own running time limit, checked at await points
            (time spent in tool calls does not count).
        max_calls: Tool calls allowed per run.

    Raises:
        ValueError: A limit is out of range.

    .. versionadded:: 0.1
    """

    __slots__ = ("_max_calls", "_wall_seconds")

    def __init__(self, wall_seconds: float = 30.0, max_calls: int = 256) -> None:
        check_runner_limits(wall_seconds, max_calls)
        self._wall_seconds = float(wall_seconds)
        self._max_calls = max_calls

    @property
    def wall_seconds(self) -> float:
        """
        The script's own running time limit in seconds.
        """
        return self._wall_seconds

    @property
    def max_calls(self) -> int:
        """
        Tool calls allowed per run.
        """
        return self._max_calls

    def __repr__(self) -> str:
        return (
            f"InlineScriptRunner(wall_seconds={self._wall_seconds!r}, "
            f"max_calls={self._max_calls!r})"
        )

    async def run(
        self,
        script: str,
        *,
        allowlist: Sequence[str],
        call_tool: Callable[[str, dict[str, Any]], Awaitable[Any]],
        max_seconds: float | None,
    ) -> ScriptOutcome:
        """
        Run *script* in-process.

        Args:
            script: The script source.
            allowlist: The tool names the script may call.
            call_tool: The engine's proxy; returns JSON data or raises
                :class:`ScriptToolError`.
            max_seconds: The whole run's time bound (tool calls included), or ``None``.

        Returns:
            The outcome.

        Raises:
            missionkit.errors.ScriptRejected: The script fails validation.
            Exception: Anything *call_tool* raises other than :class:`ScriptToolError`.
        """
        allowlist = list(allowlist)
        observations: list[tuple[str, Any]] = []
        events: list[dict[str, Any]] = []

        def outcome(
            error: str | None = None, limit: Literal["wall_time", "memory"] | None = None
        ) -> ScriptOutcome:
            return ScriptOutcome(tuple(observations), tuple(events), error, limit)

        try:
            code = compile_script(script, allowlist)
        except (SyntaxError, RecursionError) as exc:
            return outcome(error=exception_text(exc, TEXT_LIMIT))
        max_seconds = finite_or_none(max_seconds)
        if max_seconds is not None and not max_seconds > 0:
            return outcome(limit="wall_time")
        started = time.monotonic()
        deadline = None if max_seconds is None else started + max_seconds
        in_tools = 0.0

        def breached() -> bool:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return True
            return now - started - in_tools > self._wall_seconds

        state = ScriptState(
            allowlist,
            self._max_calls,
            lambda key, value: observations.append((key, value)),
            lambda name, fields: events.append(event_row(name, fields)),
        )
        try:
            request = state.start(code)
            while True:
                if breached():
                    return outcome(limit="wall_time")
                call_started = time.monotonic()
                reply = await self._call(call_tool, request, deadline)
                in_tools += time.monotonic() - call_started
                if reply is None or breached():
                    return outcome(limit="wall_time")
                request = state.step(reply)
        except Finished:
            return outcome()
        except MemoryError:
            return outcome(limit="memory")
        except _CallToolFailed as failed:
            raise failed.error from None
        except Exception as exc:
            return outcome(error=exception_text(exc, TEXT_LIMIT))
        finally:
            state.close()

    async def _call(
        self,
        call_tool: Callable[[str, dict[str, Any]], Awaitable[Any]],
        request: CallRequest,
        deadline: float | None,
    ) -> Reply | None:
        """
        Fulfil one tool call; ``None`` if the overall deadline passed during it.
        """
        try:
            if deadline is None:
                value = await call_tool(request.tool, request.args)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    value = await asyncio.wait_for(call_tool(request.tool, request.args), left)
                except TimeoutError:
                    return None
        except ScriptToolError as exc:
            return Reply(False, None, str(exc.error_type), str(exc.error_message))
        except Exception as exc:
            raise _CallToolFailed(exc) from exc
        return Reply(True, to_json_data(value))


class _CallToolFailed(Exception):
    """
    Carries an unexpected ``call_tool`` exception past the script-error handler.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error
