"""
Tests for rebuilding an iteration history from audit entries (SPEC §10.3).
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missionkit.audit import (
    LifecycleEvent,
    PhaseEvent,
    SamplingEvent,
    ScriptCallEvent,
    VerdictEvent,
    replay_audit_entries,
)

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
S0 = "2025-01-01T00:00:00.000000+00:00"
SID = "sess-a"
OTHER = "sess-b"
PHASES = ["propose", "execute", "observe", "evaluate", "decide"]


def phase(
    index: Any, name: Any = "propose", status: Any = "succeeded", session: str = SID, **extra: Any
) -> dict[str, Any]:
    """
    Return a phase event entry.
    """
    return {
        "event_type": "mission_phase_event",
        "mission_session_id": session,
        "iteration_index": index,
        "phase": name,
        "phase_status": status,
        "phase_started_at": S0,
        "phase_ended_at": S0,
        "timestamp": S0,
        **extra,
    }


def verdict(
    index: Any,
    label: Any = "continue",
    reason: Any = "in_progress",
    session: str = SID,
    **extra: Any,
) -> dict[str, Any]:
    """
    Return a verdict event entry.
    """
    return {
        "event_type": "mission_verdict_event",
        "mission_session_id": session,
        "iteration_index": index,
        "verdict": label,
        "verdict_reason": reason,
        "timestamp": S0,
        **extra,
    }


def step(name: str = "propose", status: str = "succeeded", **extra: Any) -> dict[str, Any]:
    """
    Return an expected replayed phase record.
    """
    return {"phase": name, "status": status, "started_at": S0, "ended_at": S0, **extra}


def record(
    index: int,
    phases: list[dict[str, Any]],
    label: str | None = None,
    reason: str | None = None,
    rationale: str | None = None,
) -> dict[str, Any]:
    """
    Return an expected replayed iteration record.
    """
    return {
        "iteration_index": index,
        "phases": phases,
        "verdict": label,
        "verdict_reason": reason,
        "revision_rationale": rationale,
    }


class TestReplayRules:
    def test_empty(self) -> None:
        """
        No entries replay as no iterations.
        """
        expected: list[dict[str, Any]] = []

        assert expected == replay_audit_entries(SID, [])

    def test_phases_then_same_index_verdict(self) -> None:
        """
        A verdict with the active index flushes the phases with its values.
        """
        entries = [
            phase(0, "propose"),
            phase(0, "execute"),
            verdict(0, "adjust", "heuristic_unproductive", revision_rationale="why"),
        ]
        expected = [
            record(0, [step("propose"), step("execute")], "adjust", "heuristic_unproductive", "why")
        ]

        assert expected == replay_audit_entries(SID, entries)

    def test_missing_rationale_is_none(self) -> None:
        """
        A verdict without ``revision_rationale`` replays it as ``None``.
        """
        expected = [record(0, [step()], "continue", "in_progress", None)]

        assert expected == replay_audit_entries(SID, [phase(0), verdict(0)])

    def test_error_message_kept_when_present(self) -> None:
        """
        A phase entry's ``error_message`` is carried over only when the entry has it.
        """
        entries = [phase(0, "propose"), phase(0, "execute", "failed", error_message="E: x")]
        expected = [record(0, [step("propose"), step("execute", "failed", error_message="E: x")])]

        assert expected == replay_audit_entries(SID, entries)

    def test_new_index_flushes_with_nones(self) -> None:
        """
        A phase event with a different index flushes the active iteration without a verdict.
        """
        entries = [phase(0), phase(1), verdict(1)]
        expected = [
            record(0, [step()]),
            record(1, [step()], "continue", "in_progress"),
        ]

        assert expected == replay_audit_entries(SID, entries)

    def test_verdict_with_other_index(self) -> None:
        """
        A verdict for another index flushes the active iteration, then adds a verdict-only record.
        """
        entries = [phase(0), verdict(1, "terminate", "max_wall_clock"), phase(2)]
        expected = [
            record(0, [step()]),
            record(1, [], "terminate", "max_wall_clock"),
            record(2, [step()]),
        ]

        assert expected == replay_audit_entries(SID, entries)

    def test_verdict_without_active_iteration(self) -> None:
        """
        A verdict with no active iteration becomes a verdict-only record.
        """
        entries = [verdict(0), verdict(0)]
        expected = [
            record(0, [], "continue", "in_progress"),
            record(0, [], "continue", "in_progress"),
        ]

        assert expected == replay_audit_entries(SID, entries)

    def test_phase_after_verdict_starts_new_record(self) -> None:
        """
        After a verdict no iteration is active, even for the same index.
        """
        entries = [phase(0), verdict(0), phase(0, "decide")]
        expected = [
            record(0, [step()], "continue", "in_progress"),
            record(0, [step("decide")]),
        ]

        assert expected == replay_audit_entries(SID, entries)

    def test_other_event_types_ignored(self) -> None:
        """
        Sampling, script-call, lifecycle and unknown events do not affect the walk.
        """
        noise = [
            SamplingEvent(
                mission_session_id=SID,
                sampling_purpose="strategy_revision",
                sampling_status="used",
                sampling_backend="host",
                timestamp=T0,
                iteration_index=7,
            ).to_dict(),
            ScriptCallEvent(
                mission_session_id=SID,
                iteration_index=7,
                tool_name="t",
                tool_status="ok",
                duration_ms=1,
                timestamp=T0,
            ).to_dict(),
            LifecycleEvent(
                mission_session_id=SID,
                action="fail",
                status="failed",
                timestamp=T0,
                iteration_index=7,
            ).to_dict(),
            {"event_type": "mission_future_event", "mission_session_id": SID, "iteration_index": 9},
            {"mission_session_id": SID, "iteration_index": 9},
        ]
        entries = [phase(0), *noise, phase(0, "execute"), *noise, verdict(0), *noise]
        expected = [record(0, [step("propose"), step("execute")], "continue", "in_progress")]

        assert expected == replay_audit_entries(SID, entries)

    def test_final_flush(self) -> None:
        """
        An iteration still active at the end is flushed with ``None``\\ s.
        """
        entries = [phase(4, "propose"), phase(4, "execute", "failed", error_message="E")]
        expected = [record(4, [step("propose"), step("execute", "failed", error_message="E")])]

        assert expected == replay_audit_entries(SID, entries)

    def test_other_sessions_filtered(self) -> None:
        """
        Entries of other sessions neither appear nor flush the active iteration.
        """
        entries = [phase(0), phase(5, session=OTHER), verdict(5, session=OTHER), verdict(0)]
        expected = [record(0, [step()], "continue", "in_progress")]

        assert expected == replay_audit_entries(SID, entries)

    def test_accepts_any_iterable(self) -> None:
        """
        A generator of entries replays like a list.
        """
        expected = [record(0, [step()], "continue", "in_progress")]

        assert expected == replay_audit_entries(SID, (e for e in [phase(0), verdict(0)]))

    def test_pure(self) -> None:
        """
        Replay leaves its input unchanged and shares no mutable state with it.
        """
        entries = [phase(0, error_message="x"), verdict(0)]
        before = copy.deepcopy(entries)
        result = replay_audit_entries(SID, entries)
        result[0]["phases"][0]["phase"] = "tampered"

        assert before == entries


class TestReplayMalformed:
    @pytest.mark.parametrize(
        "bad",
        [
            None,
            42,
            "mission_phase_event",
            ["mission_phase_event"],
            phase(True),
            phase(False),
            phase("1"),
            phase(1.0),
            phase(None),
            phase(1, name=3),
            phase(1, name=None),
            phase(1, status=None),
            phase(1, status=["failed"]),
            phase(1, phase_started_at=None),
            phase(1, phase_ended_at=12),
            phase(1, error_message=None),
            phase(1, error_message={"a": 1}),
            verdict(True),
            verdict("1"),
            verdict(1, label=None),
            verdict(1, reason=3),
            verdict(1, revision_rationale=5),
            {**phase(1), "mission_session_id": None},
            {**phase(1), "mission_session_id": [SID]},
            {**phase(1), "event_type": ["mission_phase_event"]},
            {k: v for k, v in phase(1).items() if k != "phase"},
            {k: v for k, v in verdict(1).items() if k != "verdict_reason"},
            {k: v for k, v in verdict(1).items() if k != "iteration_index"},
        ],
    )
    def test_malformed_entry_is_skipped(self, bad: Any) -> None:
        """
        A malformed entry between two phases of iteration 0 is skipped without flushing.
        """
        entries = [phase(0, "propose"), bad, phase(0, "execute"), verdict(0)]
        expected = [record(0, [step("propose"), step("execute")], "continue", "in_progress")]

        assert expected == replay_audit_entries(SID, entries)

    def test_none_rationale_accepted(self) -> None:
        """
        An explicit ``revision_rationale: null`` replays as ``None``.
        """
        expected = [record(0, [], "continue", "in_progress")]

        assert expected == replay_audit_entries(SID, [verdict(0, revision_rationale=None)])

    @pytest.mark.parametrize("entries", [None, 5, object()])
    def test_not_iterable(self, entries: Any) -> None:
        """
        Entries that cannot be iterated replay as no iterations.
        """
        expected: list[dict[str, Any]] = []

        assert expected == replay_audit_entries(SID, entries)

    def test_unhashable_and_odd_keys(self) -> None:
        """
        Dicts with non-string keys are handled like any other entry.
        """
        entries = [{1: 2, (3,): 4}, {**phase(0), 5: "x"}, verdict(0)]
        expected = [record(0, [step()], "continue", "in_progress")]

        assert expected == replay_audit_entries(SID, entries)


@st.composite
def iterations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """
    Draw a session's iterations: phases with statuses, and a verdict unless failed.
    """
    count = draw(st.integers(min_value=0, max_value=6))
    start = draw(st.integers(min_value=0, max_value=1000))
    out = []
    for index in range(start, start + count):
        steps = draw(
            st.lists(
                st.tuples(st.sampled_from(PHASES), st.sampled_from(["succeeded", "failed"])),
                max_size=5,
            )
        )
        failed = bool(steps) and draw(st.booleans())
        if failed:
            steps[-1] = (steps[-1][0], "failed")
        out.append(
            {
                "index": index,
                "steps": steps,
                "failed": failed,
                "verdict": draw(st.sampled_from(["continue", "adjust", "complete", "terminate"])),
                "reason": draw(st.text(min_size=1, max_size=20)),
                "rationale": draw(st.none() | st.text(min_size=1, max_size=20)),
                "error": draw(st.none() | st.text(min_size=1, max_size=250)),
            }
        )
    return out


def emit(session: str, its: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    Return the phase and verdict entries the engine would emit for *its*.
    """
    entries = []
    for it in its:
        for name, status in it["steps"]:
            entries.append(
                PhaseEvent(
                    mission_session_id=session,
                    iteration_index=it["index"],
                    phase=name,
                    phase_status=status,
                    phase_started_at=T0,
                    phase_ended_at=T0,
                    timestamp=T0,
                    error_message=it["error"] if status == "failed" else None,
                ).to_dict()
            )
        if not it["failed"]:
            entries.append(
                VerdictEvent(
                    mission_session_id=session,
                    iteration_index=it["index"],
                    verdict=it["verdict"],
                    verdict_reason=it["reason"],
                    timestamp=T0,
                    revision_rationale=it["rationale"],
                ).to_dict()
            )
    return entries


@st.composite
def noise_events(draw: st.DrawFn) -> dict[str, Any] | object:
    """
    Draw an entry replay must ignore for session ``SID``.
    """
    index = draw(st.integers(min_value=0, max_value=1000))
    kind = draw(st.sampled_from(["sampling", "script", "lifecycle", "other", "garbage"]))
    if kind == "sampling":
        return SamplingEvent(
            mission_session_id=SID,
            sampling_purpose="strategy_revision",
            sampling_status="used",
            sampling_backend="host",
            timestamp=T0,
            iteration_index=index,
        ).to_dict()
    if kind == "script":
        return ScriptCallEvent(
            mission_session_id=SID,
            iteration_index=index,
            tool_name="t",
            tool_status="failed",
            duration_ms=3,
            timestamp=T0,
        ).to_dict()
    if kind == "lifecycle":
        return LifecycleEvent(
            mission_session_id=SID,
            action="fail",
            status="failed",
            timestamp=T0,
            iteration_index=index,
        ).to_dict()
    if kind == "other":
        return draw(st.sampled_from([phase(index, session=OTHER), verdict(index, session=OTHER)]))
    return draw(st.sampled_from([None, 7, "x", [phase(index)], phase(True), verdict("0")]))


class TestReplayProperty:
    @given(
        its=iterations(),
        others=iterations(),
        noise=st.lists(st.tuples(st.integers(min_value=0), noise_events()), max_size=15),
    )
    def test_replay_reproduces_history(
        self,
        its: list[dict[str, Any]],
        others: list[dict[str, Any]],
        noise: list[tuple[int, Any]],
    ) -> None:
        """
        Replay of interleaved emissions reproduces each iteration's index, phases and verdict.
        """
        entries: list[Any] = emit(SID, its)
        for position, extra in [*noise, *((i * 7, e) for i, e in enumerate(emit(OTHER, others)))]:
            entries.insert(position % (len(entries) + 1), extra)
        expected = [
            (
                it["index"],
                it["steps"],
                None if it["failed"] else it["verdict"],
                None if it["failed"] else it["reason"],
                None if it["failed"] else it["rationale"],
            )
            for it in its
        ]

        actual = [
            (
                r["iteration_index"],
                [(p["phase"], p["status"]) for p in r["phases"]],
                r["verdict"],
                r["verdict_reason"],
                r["revision_rationale"],
            )
            for r in replay_audit_entries(SID, entries)
        ]

        assert expected == actual
