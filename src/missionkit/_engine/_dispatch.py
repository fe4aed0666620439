"""
Running one tool call (SPEC §6.4).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from missionkit._engine._core import MissionCore
from missionkit._engine._observation import result_summary
from missionkit._engine._runtime import Runtime
from missionkit._jsonsafe import to_json_data
from missionkit._models._trusted import trusted_constructor
from missionkit._text import TEXT_LIMIT, exception_text
from missionkit.models import ToolCallRecord

__all__ = ["call_failed", "call_succeeded", "dispatch", "effective_timeout", "refusal"]

_new_record = trusted_constructor(ToolCallRecord)
_MILLISECOND = timedelta(milliseconds=1)


def effective_timeout(
    core: MissionCore, tool_timeout: float | None, remaining: float | None
) -> float | None:
    """
    The minimum of the tool's (or Mission's) timeout and the remaining active seconds.
    """
    timeout = tool_timeout if tool_timeout is not None else core.tool_timeout
    if remaining is not None:
        timeout = remaining if timeout is None else min(timeout, remaining)
    return timeout


def _failed(name: str, args: Any, message: str, duration_ms: int = 0) -> ToolCallRecord:
    return ToolCallRecord(name, args, "failed", None, duration_ms, message)


def refusal(
    core: MissionCore, tool_name: str, record_args: Any, allowlist: Collection[str]
) -> ToolCallRecord | None:
    """
    The record of a call that must not run (not allowlisted, unknown, external), or None.
    """
    if tool_name not in allowlist:
        return ToolCallRecord(tool_name, record_args, "skipped_not_allowed", None, 0)
    tool = core.tools.get(tool_name)
    if tool is None:
        message = f"LookupError: tool {tool_name!r} is not registered with this Mission"
        return _failed(tool_name, record_args, message)
    if tool.func is None:
        message = (
            f"LookupError: tool {tool_name!r} is external; report its result with Session.observe()"
        )
        return _failed(tool_name, record_args, message)
    return None


def call_failed(
    tool_name: str, record_args: Any, started: datetime, ended: datetime, exc: Exception
) -> ToolCallRecord:
    """
    The record of a call that raised or timed out.
    """
    duration = _duration_ms(started, ended)
    return _failed(tool_name, record_args, exception_text(exc, TEXT_LIMIT), duration)


def call_succeeded(
    tool_name: str, record_args: Any, started: datetime, ended: datetime, value: Any
) -> tuple[ToolCallRecord, Any]:
    """
    The record of a call that returned *value*, and *value* made JSON-safe.
    """
    # `_duration_ms` written out: this runs on every successful call.
    duration = (ended - started) // _MILLISECOND
    if duration < 0:
        duration = 0
    safe = to_json_data(value)
    return _new_record(tool_name, record_args, "ok", result_summary(safe), duration, None), safe


async def dispatch(
    core: MissionCore,
    rt: Runtime,
    tool_name: str,
    args: dict[str, Any],
    allowlist: Collection[str],
    remaining: float | None,
) -> tuple[ToolCallRecord, Any]:
    """
    Run one call; return its record and its JSON-safe result (None unless ``ok``).

    Tool exceptions and timeouts become ``failed`` records; only
    ``BaseException``s that are not ``Exception``s propagate.
    """
    # Two independent copies: a tool that mutates its arguments cannot touch the record.
    record_args = to_json_data(args) if args else {}
    refused = refusal(core, tool_name, record_args, allowlist)
    if refused is not None:
        return refused, None
    tool = core.tools[tool_name]
    func: Callable[..., Any] = tool.func  # type: ignore[assignment] # refusal() excluded None
    timeout = tool.timeout
    if timeout is not None or core.tool_timeout is not None or remaining is not None:
        timeout = effective_timeout(core, timeout, remaining)
    clock = core.clock
    started = clock()
    try:
        value = await rt.call(func, to_json_data(args) if args else {}, timeout, "tool call")
    except Exception as exc:
        return call_failed(tool_name, record_args, started, clock(), exc), None
    return call_succeeded(tool_name, record_args, started, clock(), value)


def _duration_ms(started: datetime, ended: datetime) -> int:
    return max(0, (ended - started) // _MILLISECOND)
