"""
The deterministic default proposer (SPEC §7.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from missionkit._models._trusted import trusted_constructor
from missionkit.errors import ProposeNoToolAvailable
from missionkit.models import Iteration, Strategy, ToolCall, ToolCallRecord
from missionkit.proposers._context import ProposalContext

__all__ = ["ToolHistory", "default_proposer", "propose_default"]


class ToolHistory:
    """
    What the default proposer reads from the history, kept one iteration at a time.

    Which tools were ever tried (an ``ok`` or ``failed`` record) and each tool's
    newest ``ok`` record. Scanning the stored iterations for these on every
    proposal made a session whose tools never succeed cost O(iterations) per
    step; kept incrementally, every proposal costs O(tools).
    """

    __slots__ = ("_order", "newest_ok", "tried")

    def __init__(self, iterations: Iterable[Iteration] = ()) -> None:
        self.tried: set[str] = set()
        #: tool name -> (position in the whole history, newest ``ok`` record)
        self.newest_ok: dict[str, tuple[int, ToolCallRecord]] = {}
        self._order = 0
        for iteration in iterations:
            self.add(iteration)

    def add(self, iteration: Iteration) -> None:
        """
        Account for the next iteration of the history.
        """
        records = iteration.tool_calls
        if iteration.script_call_log:
            records = records + iteration.script_call_log
        for record in records:
            self._order += 1
            status = record.status
            if status == "ok":
                self.tried.add(record.tool_name)
                self.newest_ok[record.tool_name] = (self._order, record)
            elif status == "failed":
                self.tried.add(record.tool_name)

    def untried(self, tools: Sequence[str]) -> str | None:
        """
        The first of *tools* never tried.
        """
        tried = self.tried
        for tool in tools:
            if tool not in tried:
                return tool
        return None

    def latest_success(self, tools: Sequence[str]) -> ToolCallRecord | None:
        """
        The newest ``ok`` record of one of *tools*.
        """
        newest_ok = self.newest_ok
        best: tuple[int, ToolCallRecord] | None = None
        for tool in tools:
            entry = newest_ok.get(tool)
            if entry is not None and (best is None or entry[0] > best[0]):
                best = entry
        return best[1] if best is not None else None


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
    iterations = ctx.iterations
    return propose_default(
        ToolHistory(iterations),
        iterations[-1] if iterations else None,
        ctx.candidate_tools,
        ctx.iteration_index,
        ctx.adjust_requested,
    )


def propose_default(
    history: ToolHistory,
    latest: Iteration | None,
    tools: Sequence[str],
    iteration_index: int,
    adjust_requested: bool,
) -> Strategy:
    """
    The rules of `default_proposer` on their inputs (the engine calls this directly).

    Args:
        history: The session's stored iterations, summarised.
        latest: The newest stored iteration, if any.
        tools: Candidate tools, in allowlist order (not empty).
        iteration_index: Index of the iteration being proposed.
        adjust_requested: Whether the latest verdict was ``adjust``.
    """
    untried = history.untried(tools)
    if untried is not None:
        return _one(untried, {}, f"deterministic fallback: try untried tool {untried}")
    if adjust_requested:
        last_tool = None
        if latest is not None:
            records = latest.script_call_log if latest.script_call_log else latest.tool_calls
            executed = [r.tool_name for r in records if r.status in ("ok", "failed")]
            last_tool = executed[-1] if executed else None
        if last_tool is None or last_tool not in tools:
            tool = tools[0]
        else:
            tool = tools[(list(tools).index(last_tool) + 1) % len(tools)]
        prior = history.latest_success((tool,))
        return _one(
            tool,
            prior.args if prior is not None else {},
            f"deterministic fallback: rotate to {tool} after adjust",
        )
    success = history.latest_success(tools)
    if success is not None:
        rationale = f"deterministic fallback: re-run {success.tool_name} with prior args"
        if not success.args and latest is not None:
            same = _same_rerun(latest.strategy, success.tool_name, rationale)
            if same is not None:
                return same
        return _one(success.tool_name, success.args, rationale)
    tool = tools[iteration_index % len(tools)]
    return _one(tool, {}, f"deterministic fallback: round-robin {tool}")
