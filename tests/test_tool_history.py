"""
`ToolHistory` (what the default proposer reads from history) against plain scans of §7.3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from missionkit.models import Iteration, ToolCallRecord
from missionkit.proposers import ProposalContext, default_proposer
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
        out.append(
            Iteration(
                iteration_index=index,
                status="succeeded",
                started_at=NOW,
                ended_at=NOW,
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


@settings(max_examples=200, deadline=None)
@given(histories(), tool_lists, st.booleans())
def test_engine_entry_equals_public_proposer(
    iterations: list[Iteration], tools: list[str], adjust: bool
) -> None:
    """
    The engine's call (a kept summary) and `default_proposer` (a context) agree.
    """
    ctx = ProposalContext(
        session_id="mission-x",
        iteration_index=len(iterations),
        directive="d",
        criteria=(),
        criteria_status={},
        iterations=iterations,
        last_verdict=None,
        adjust_requested=adjust,
        revision_rationale=None,
        tool_allowlist=tuple(tools),
        candidate_tools=tuple(tools),
        tool_descriptions={},
        allow_scripts=False,
        remaining_iterations=None,
        remaining_seconds=None,
        is_last_iteration=False,
        no_progress_counter=0,
        stagnation_threshold=3,
    )
    latest = iterations[-1] if iterations else None
    engine = propose_default(ToolHistory(iterations), latest, tools, len(iterations), adjust)
    assert engine == default_proposer(ctx)
