"""
Several handles on one session, and interruption-invariance of a run (SPEC §6.15).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import missionkit as mk
from fakes import FlakyStore
from missionkit.audit import MemorySink
from missionkit.testing import FakeClock

CRITERIA = [
    {
        "criterion_id": "n_big",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.n",
        "op": ">=",
        "target": 5,
    }
]


def tools(values: list[int]) -> list[Any]:
    """
    Two tools reading from one fixed sequence of values.
    """
    calls = {"n": 0}

    def read() -> int:
        value = values[calls["n"] % len(values)]
        calls["n"] += 1
        return value

    def probe() -> dict[str, Any]:
        return {"metrics": {"n": read()}}

    def sample() -> dict[str, Any]:
        return {"metrics": {"n": read()}, "events": [{"event_name": "sampled"}]}

    return [probe, sample]


def start(mission: mk.Mission, max_iterations: int = 20) -> mk.Session:
    return mission.start(
        directive="Find a reading of five",
        criteria=CRITERIA,
        budget={"max_iterations": max_iterations, "max_wall_clock_seconds": -1},
        tool_allowlist=["probe", "sample"],
        stagnation_threshold=3,
        session_id="mission-handles",
    )


class TestHandles:
    def test_second_handle_sees_iterations(self) -> None:
        """A handle opened later sees the iterations another handle stored."""
        mission = mk.Mission(tools=tools([1, 2, 3]), clock=FakeClock())
        first = start(mission)
        second = mission.session(first.id)
        first.step()
        first.step()

        assert first.state == second.state
        assert first.history("full") == second.history("full")
        assert 2 == len(second.state.iterations)

    def test_stale_handle_refreshes(self) -> None:
        """A handle whose cache predates another handle's commits steps at the right index."""
        mission = mk.Mission(tools=tools([1, 2, 3]), clock=FakeClock())
        first = start(mission)
        second = mission.session(first.id)
        assert 1 == second.state.revision
        first.step()
        first.step()

        iteration = second.step()

        assert 2 == iteration.iteration_index
        assert [0, 1, 2] == [it.iteration_index for it in first.state.iterations]

    def test_operator_on_stale_handle(self) -> None:
        """An operator action on a stale handle acts on the current state."""
        mission = mk.Mission(tools=tools([1]), clock=FakeClock())
        first = start(mission)
        second = mission.session(first.id)
        first.step()

        report = second.complete()

        assert (1, "completed", report) == (report.iterations_run, first.status, first.report())

    def test_lost_race_raises(self) -> None:
        """A step that loses the compare-and-swap raises ConcurrentUpdate and stores nothing."""
        store = FlakyStore()
        sink = MemorySink()
        mission = mk.Mission(tools=tools([1, 2, 3]), store=store, sinks=[sink], clock=FakeClock())
        first = start(mission)
        second = mission.session(first.id)
        winner: list[mk.Iteration] = []
        store.before_save = lambda state: winner.append(second.step())
        sink.clear()

        with pytest.raises(mk.ConcurrentUpdate) as info:
            first.step()

        assert {"session_id": first.id, "expected_revision": 1, "actual_revision": 2} == (
            info.value.details
        )
        assert [winner[0]] == list(first.state.iterations)
        verdicts = [e for e in sink.entries() if e["event_type"] == "mission_verdict_event"]
        assert 1 == len(verdicts)
        assert 10 == len([e for e in sink.entries() if e["event_type"] == "mission_phase_event"])
        assert 1 == first.step().iteration_index


ACTIONS = st.lists(
    st.sets(st.sampled_from(["pause", "reopen", "checkpoint", "propose", "status"])),
    max_size=10,
)


def comparable(report: mk.FinalReport | None) -> dict[str, Any]:
    assert report is not None
    return report.to_dict()


class TestInterruptions:
    @settings(max_examples=25, deadline=None)
    @given(values=st.lists(st.integers(0, 6), min_size=1, max_size=6), actions=ACTIONS)
    def test_interrupted_run_matches_straight_run(
        self, values: list[int], actions: list[set[str]]
    ) -> None:
        """Pauses, re-opened handles, proposals and checkpoints between steps change nothing."""
        straight = start(mk.Mission(tools=tools(values), clock=FakeClock()), max_iterations=8)
        expected = straight.run()

        mission = mk.Mission(tools=tools(values), clock=FakeClock())
        session = start(mission, max_iterations=8)
        index = 0
        while True:
            todo = actions[index] if index < len(actions) else set()
            if "checkpoint" in todo and index:
                assert session.state.iterations[-1].verdict_obj == session.checkpoint()
            if "reopen" in todo:
                session = mission.session(session.id)
            if "pause" in todo:
                session.abort(pause=True)
                mission.session(session.id).resume()
            if "propose" in todo:
                session.propose()
            if "status" in todo:
                assert session.status in ("pending", "running")
            iteration = session.step()
            index += 1
            if iteration.verdict in ("complete", "terminate"):
                break

        assert [it.to_dict() for it in straight.state.iterations] == [
            it.to_dict() for it in session.state.iterations
        ]
        assert comparable(expected) == comparable(session.report())
