"""
What a script runner is, what it returns, and how a failed tool call reaches it (SPEC §9.3).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol

import attrs

__all__ = ["CallTool", "ScriptOutcome", "ScriptRunner", "ScriptToolError"]

#: The engine's proxy for one in-script tool call: ``await call_tool(name, args)``.
CallTool = Callable[[str, dict[str, Any]], Awaitable[Any]]


@attrs.frozen
class ScriptOutcome:
    """
    Everything a script run produced.

    Attributes:
        observations: ``(key, value)`` rows from ``mission.observe``, in call order;
            values are JSON data.
        events: ``{"event_name": name, **fields}`` rows from ``mission.event``, in
            call order.
        error: The script's uncaught exception text (``"<ExcName>: <msg>"``, at
            most 200 characters) or ``"ScriptCrashed: exit code <n>"``; ``None`` if
            the script ended normally or hit a limit.
        limit: ``"wall_time"`` or ``"memory"`` when the run was stopped by a limit,
            else ``None``.

    .. versionadded:: 0.1
    """

    observations: tuple[tuple[str, Any], ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    limit: Literal["wall_time", "memory"] | None = None


class ScriptToolError(Exception):
    """
    Raised by the engine's ``call_tool`` when an in-script tool call failed.

    The runner turns it into an exception inside the script: the script-visible
    exception class named *error_type* if there is one (constructed with
    *error_message*), else ``RuntimeError("<error_type>: <error_message>")``.

    Attributes:
        error_type: The failure's exception class name, e.g. ``"TimeoutError"``.
        error_message: The failure's message, without the class name.

    .. versionadded:: 0.1
    """

    error_type: str
    error_message: str

    def __init__(self, error_type: str, error_message: str) -> None:
        self.error_type = error_type
        self.error_message = error_message
        super().__init__(error_type, error_message)

    def __str__(self) -> str:
        return f"{self.error_type}: {self.error_message}"


class ScriptRunner(Protocol):
    """
    Something that runs one validated script and reports what it did.

    A runner returns an outcome for every way a script can end (success, script
    exception, limit breach, crash of an isolated child); raising is reserved for
    malfunctions of the runner itself, for a script that fails validation, and
    for exceptions ``call_tool`` raises other than :class:`ScriptToolError`.

    .. versionadded:: 0.1
    """

    async def run(
        self,
        script: str,
        *,
        allowlist: Sequence[str],
        call_tool: Callable[[str, dict[str, Any]], Awaitable[Any]],
        max_seconds: float | None,
    ) -> ScriptOutcome:
        """
        Run *script*, proxying its tool calls through *call_tool*.

        Args:
            script: The script source; validated again before it runs.
            allowlist: The tool names the script may call.
            call_tool: ``await call_tool(name, args)`` returns the JSON-safe result
                or raises :class:`ScriptToolError`.
            max_seconds: The remaining active wall-clock budget, or ``None``.

        Returns:
            The outcome.
        """
        ...
