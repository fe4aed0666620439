"""
The host-side proxy of scripted strategies (SPEC §9.5) and outcome mapping (§9.6).

Every in-script tool call comes back here, where the allowlist is enforced
again (defence in depth behind the script validator), the call is dispatched
exactly like a listed tool call, recorded and audited.
"""

from __future__ import annotations

from typing import Any

from missionkit._engine._dispatch import dispatch
from missionkit._engine._env import IterationEnv
from missionkit._engine._runtime import AsyncRuntime
from missionkit._jsonsafe import cap, to_json_data
from missionkit._text import TEXT_LIMIT
from missionkit.audit import ScriptCallEvent
from missionkit.models import ToolCallRecord

__all__ = ["execute_script"]


def _split_error(message: str | None) -> tuple[str, str]:
    text = message or "RuntimeError: tool call failed"
    head, sep, tail = text.partition(": ")
    if sep and head.isidentifier():
        return head, tail
    return "RuntimeError", text


async def execute_script(env: IterationEnv, script: str) -> None:
    """
    Validate *script* again, run it through the runner and fill the draft.

    A re-validation failure or a runner that raises fails the execute phase.
    """
    from missionkit.scripts import ScriptToolError, validate_script

    core = env.core
    state = env.state
    draft = env.draft
    allowlist = list(state.tool_allowlist)
    validate_script(script, allowlist)
    runner = core.script_runner()
    records: list[ToolCallRecord] = []
    values: list[Any] = []
    allowed = frozenset(allowlist)
    capped = state.budget.max_wall_clock_seconds != -1
    limit = core.limits.tool_result_bytes
    in_loop = AsyncRuntime()

    def audit(record: ToolCallRecord) -> None:
        core.audit(
            ScriptCallEvent,
            mission_session_id=state.session_id,
            iteration_index=draft.iteration_index,
            tool_name=record.tool_name,
            tool_status=record.status,
            duration_ms=record.duration_ms,
            error_message=record.error_message,
        )

    async def call_tool(name: str, args: dict[str, Any]) -> Any:
        # A refused call reads no clock: it has no time budget to share.
        remaining = env.remaining_seconds(core.clock()) if capped and name in allowed else None
        record, value = await dispatch(core, in_loop, name, args, allowed, remaining)
        records.append(record)
        values.append(value)
        audit(record)
        if record.status == "skipped_not_allowed":
            raise ScriptToolError("RuntimeError", f"tool_not_allowlisted: {name}")
        if record.status != "ok":
            raise ScriptToolError(*_split_error(record.error_message))
        return cap(value, limit)

    remaining = env.remaining_seconds(core.clock()) if capped else None
    outcome = await env.rt.wait(
        runner.run(script, allowlist=allowlist, call_tool=call_tool, max_seconds=remaining)
    )
    draft.tool_calls = ()
    draft.script_call_log = tuple(records)
    env.values = values
    env.script_observations = [(str(k), to_json_data(v)) for k, v in outcome.observations]
    env.script_events = [to_json_data(e) for e in outcome.events]
    if outcome.error is not None:
        draft.script_error = outcome.error[:TEXT_LIMIT]
    if outcome.limit is not None:
        draft.sandbox_terminated_reason = outcome.limit
