"""
`ToolHistory` (what the default proposer reads from history) against plain scans of §7.3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import proposal_context
from missionkit.models import Iteration, Strategy, ToolCall, ToolCallRecord
from missionkit.proposers import default_proposer
from missionkit.proposers._default import ToolHistory, propose_default

NAMES = ("a", "b", "c", "d")
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

records = st.builds(
    ToolCallRecord,
    tool_name=st.sampled_from(NAMES),
    args=st.sampled_from([{}, {"n": 1}, {"n": 2}]),
    status=st.sampled_from(["ok", "failed", "skipped_not_allowed"]),
    result_summary=st.none(),
    duration_ms=st.just(0),
)


@st.composite
def histories(draw: st.DrawFn) -> list[Iteration]:
    out = []
    for index in range(draw(st.integers(0, 6))):
        calls = tuple(draw(st.lists(records, max_size=3)))
        log = draw(st.none() | st.lists(records, max_size=3).map(tuple))
        # Mostly the default re-run strategy the proposer may share, sometimes
        # one that only looks like it (another tool, arguments).
        rerun = draw(st.none() | st.sampled_from(NAMES))
        strategy = (
            None
            if rerun is None
            else Strategy(
                tool_calls=(
                    ToolCall(
                        draw(st.sampled_from([rerun, rerun, rerun, *NAMES])),
                        draw(st.sampled_from([{}, {}, {}, {"n": 1}])),
                    ),
                ),
                rationale=f"deterministic fallback: re-run {rerun} with prior args",
            )
        )
        out.append(
            Iteration(
                iteration_index=index,
                status="succeeded",
                started_at=NOW,
                ended_at=NOW,
                strategy=strategy,
                strategy_source=None if strategy is None else "default",
                tool_calls=calls,
                script_call_log=log,
            )
        )
    return out


def scan_untried(iterations: Sequence[Iteration], tools: Sequence[str]) -> str | None:
    tried = {
        r.tool_name
        for it in iterations
        for r in (*it.tool_calls, *(it.script_call_log or ()))
        if r.status in ("ok", "failed")
    }
    return next((t for t in tools if t not in tried), None)


def scan_latest_success(
    iterations: Sequence[Iteration], tools: Sequence[str]
) -> ToolCallRecord | None:
    for it in reversed(iterations):
        for r in reversed((*it.tool_calls, *(it.script_call_log or ()))):
            if r.status == "ok" and r.tool_name in tools:
                return r
    return None


tool_lists = st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True)


@settings(max_examples=300, deadline=None)
@given(histories(), tool_lists)
def test_history_answers_like_a_scan(iterations: list[Iteration], tools: list[str]) -> None:
    """
    Built at once or one iteration at a time, the summary answers like a full scan.
    """
    at_once = ToolHistory(iterations)
    stepwise = ToolHistory()
    for iteration in iterations:
        stepwise.add(iteration)
    for history in (at_once, stepwise):
        assert history.untried(tools) == scan_untried(iterations, tools)
        assert history.latest_success(tools) is scan_latest_success(iterations, tools)


def reference_proposal(
    iterations: Sequence[Iteration], tools: Sequence[str], index: int, adjust: bool
) -> tuple[str, dict[str, object], str]:
    """
    (tool, args, rationale) by the rule table of §7.3, on full scans.
    """
    untried = scan_untried(iterations, tools)
    if untried is not None:
        return untried, {}, f"deterministic fallback: try untried tool {untried}"
    if adjust:
        latest = iterations[-1] if iterations else None
        records = (latest.script_call_log or latest.tool_calls) if latest is not None else ()
        executed = [r.tool_name for r in records if r.status in ("ok", "failed")]
        last = executed[-1] if executed else None
        tool = tools[(tools.index(last) + 1) % len(tools)] if last in tools else tools[0]
        prior = scan_latest_success(iterations, (tool,))
        args = prior.args if prior is not None else {}
        return tool, args, f"deterministic fallback: rotate to {tool} after adjust"
    success = scan_latest_success(iterations, tools)
    if success is not None:
        name = success.tool_name
        return name, success.args, f"deterministic fallback: re-run {name} with prior args"
    tool = tools[index % len(tools)]
    return tool, {}, f"deterministic fallback: round-robin {tool}"


@settings(max_examples=300, deadline=None)
@given(histories(), tool_lists, st.booleans(), st.integers(0, 20), st.data())
def test_proposals_follow_the_rule_table(
    iterations: list[Iteration], tools: list[str], adjust: bool, index: int, data: st.DataObject
) -> None:
    """
    The engine's entry (a summary kept one iteration at a time) and `default_proposer`
    (a context) both answer what §7.3's rules give on a full scan.
    """
    allowlist = data.draw(st.permutations(sorted({*tools, *NAMES})))
    ctx = proposal_context(
        iteration_index=index,
        iterations=iterations,
        adjust_requested=adjust,
        tool_allowlist=tuple(allowlist),
        candidate_tools=tuple(tools),
    )
    history = ToolHistory()
    for iteration in iterations:
        history.add(iteration)
    latest = iterations[-1] if iterations else None
    expected = reference_proposal(iterations, tools, index, adjust)

    for strategy in (
        propose_default(history, latest, tools, index, adjust),
        default_proposer(ctx),
    ):
        assert strategy.tool_calls is not None and len(strategy.tool_calls) == 1
        call = strategy.tool_calls[0]
        assert expected == (call.tool_name, call.args, strategy.rationale)
        assert strategy.script is None


def test_shared_strategy_only_when_it_is_the_same() -> None:
    """
    The previous strategy is reused only when it equals the re-run (tool, no arguments).
    """
    rationale = "deterministic fallback: re-run a with prior args"
    record = ToolCallRecord("a", {}, "ok", None, 0)
    for call, shared in [
        (ToolCall("a", {}), True),
        (ToolCall("a", {"n": 1}), False),
        (ToolCall("b", {}), False),
    ]:
        previous = Strategy(tool_calls=(call,), rationale=rationale)
        latest = Iteration(
            iteration_index=0, status="succeeded", started_at=NOW, ended_at=NOW,
            strategy=previous, strategy_source="default", tool_calls=(record,),
        )  # fmt: skip

        strategy = propose_default(ToolHistory([latest]), latest, ["a"], 1, False)

        assert (strategy.tool_calls, strategy.rationale) == ((ToolCall("a", {}),), rationale)
        assert (strategy is previous) is shared
