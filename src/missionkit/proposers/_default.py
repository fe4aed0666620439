"""
The deterministic default proposer (SPEC §7.3).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from missionkit._models._trusted import trusted_constructor
from missionkit.errors import ProposeNoToolAvailable
from missionkit.models import Iteration, Strategy, ToolCall, ToolCallRecord
from missionkit.proposers._context import ProposalContext

__all__ = ["default_proposer", "propose_default"]


def _records_newest_first(iteration: Iteration) -> Sequence[ToolCallRecord]:
    records = iteration.tool_calls
    if iteration.script_call_log:
        records = records + iteration.script_call_log
    return records[::-1]


def _latest_success(
    iterations: Sequence[Iteration], tools: Collection[str]
) -> ToolCallRecord | None:
    """
    The newest ``ok`` record of one of *tools*, searching from the newest iteration.
    """
    for index in range(len(iterations) - 1, -1, -1):
        for record in _records_newest_first(iterations[index]):
            if record.status == "ok" and record.tool_name in tools:
                return record
    return None


def _untried(iterations: Sequence[Iteration], tools: Sequence[str]) -> str | None:
    remaining = set(tools)
    for index in range(len(iterations) - 1, -1, -1):
        iteration = iterations[index]
        for records in (iteration.tool_calls, iteration.script_call_log or ()):
            for record in records:
                if record.status == "ok" or record.status == "failed":
                    remaining.discard(record.tool_name)
        if not remaining:
            return None
    for tool in tools:
        if tool in remaining:
            return tool
    return None


_new_call = trusted_constructor(ToolCall)
_new_strategy = trusted_constructor(Strategy)


def _one(tool: str, args: dict[str, Any], rationale: str) -> Strategy:
    # Trusted: a registered tool name, a copy of JSON-safe recorded args.
    return _new_strategy((_new_call(tool, dict(args)),), None, rationale, None)


def _same_rerun(previous: Strategy | None, tool: str, rationale: str) -> Strategy | None:
    """
    *previous* if it already is the argument-less re-run of *tool* with *rationale*.

    The usual steady state re-runs one tool with no arguments every iteration:
    the strategy is immutable and equal, so the previous one is shared instead
    of rebuilt. Only argument-less calls qualify: ``==`` on argument dicts
    would equate ``1``, ``1.0`` and ``True``, which JSON tells apart.
    """
    if previous is None or previous.rationale != rationale or previous.script is not None:
        return None
    calls = previous.tool_calls
    if (
        calls is None
        or len(calls) != 1
        or calls[0].tool_name != tool
        or calls[0].args
        or previous.expected_observation_keys is not None
    ):
        return None
    return previous


def default_proposer(ctx: ProposalContext) -> Strategy:
    """
    Propose one call: try untried tools, rotate on ``adjust``, else re-run the last success.

    Raises:
        ProposeNoToolAvailable: No candidate tool.

    .. versionadded:: 0.1.0
    """
    if not ctx.candidate_tools:
        raise ProposeNoToolAvailable(ctx.session_id, ctx.tool_allowlist)
    return propose_default(
        ctx.iterations, ctx.candidate_tools, ctx.iteration_index, ctx.adjust_requested
    )


def propose_default(
    iterations: Sequence[Iteration],
    tools: Sequence[str],
    iteration_index: int,
    adjust_requested: bool,
) -> Strategy:
    """
    The rules of `default_proposer` on their inputs (the engine calls this directly).
    """
    untried = _untried(iterations, tools)
    if untried is not None:
        return _one(untried, {}, f"deterministic fallback: try untried tool {untried}")
    if adjust_requested:
        latest = iterations[-1] if iterations else None
        last_tool = None
        if latest is not None:
            records = latest.script_call_log if latest.script_call_log else latest.tool_calls
            executed = [r.tool_name for r in records if r.status in ("ok", "failed")]
            last_tool = executed[-1] if executed else None
        if last_tool is None or last_tool not in tools:
            tool = tools[0]
        else:
            tool = tools[(list(tools).index(last_tool) + 1) % len(tools)]
        prior = _latest_success(iterations, (tool,))
        return _one(
            tool,
            prior.args if prior is not None else {},
            f"deterministic fallback: rotate to {tool} after adjust",
        )
    success = _latest_success(iterations, tools)
    if success is not None:
        rationale = f"deterministic fallback: re-run {success.tool_name} with prior args"
        if not success.args:
            same = _same_rerun(iterations[-1].strategy, success.tool_name, rationale)
            if same is not None:
                return same
        return _one(success.tool_name, success.args, rationale)
    tool = tools[iteration_index % len(tools)]
    return _one(tool, {}, f"deterministic fallback: round-robin {tool}")
