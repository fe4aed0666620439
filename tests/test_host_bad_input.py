"""
Malformed ids, wrong types and out-of-range numbers at every host entry point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import missionkit as mk
from missionkit.audit import MemorySink
from missionkit.testing import FakeClock

BAD_IDS = [5, None, b"mission-x", "", ".hidden", "a/b", "../up", "x" * 129, "é", "a b", ["m"]]
INVALID_ID = {"field": "session_id", "reason": "session_id_invalid"}
BAD_COUNTS = [0, -3, True, 2.0, "1", None]


def probe() -> dict[str, Any]:
    return {"metrics": {"n": 1}}


@pytest.fixture(name="sink")
def _sink() -> MemorySink:
    return MemorySink()


@pytest.fixture(name="mission")
def _mission(sink: MemorySink) -> mk.Mission:
    return mk.Mission(tools=[probe], sinks=[sink], clock=FakeClock())


@pytest.fixture(name="session")
def _session(mission: mk.Mission, sink: MemorySink) -> mk.Session:
    session = mission.start(
        directive="Probe",
        criteria=[
            {
                "criterion_id": "n",
                "kind": "metric_threshold",
                "required": True,
                "metric": "metrics.n",
                "op": ">",
                "target": 5,
            }
        ],
        budget={"max_iterations": 5, "max_wall_clock_seconds": -1},
        tool_allowlist=["probe"],
    )
    session.step()
    sink.clear()
    return session


def unchanged(mission: mk.Mission, sink: MemorySink, snapshot: list[Any]) -> None:
    assert snapshot == [mission.session(s.session_id).to_dict() for s in mission.sessions()]
    assert [] == sink.entries()


def snapshot(mission: mk.Mission) -> list[Any]:
    return [mission.session(s.session_id).to_dict() for s in mission.sessions()]


class TestSessionIds:
    @pytest.mark.parametrize("bad", BAD_IDS)
    @pytest.mark.parametrize(
        "call",
        [
            lambda m, sid: m.session(sid),
            lambda m, sid: m.iterate(sid),
            lambda m, sid: asyncio.run(m.aiterate(sid)),
        ],
        ids=["session", "iterate", "aiterate"],
    )
    def test_malformed_id(
        self,
        mission: mk.Mission,
        session: mk.Session,
        sink: MemorySink,
        bad: Any,
        call: Callable[[mk.Mission, Any], Any],
    ) -> None:
        """Opening or iterating a malformed id raises session_id_invalid and writes nothing."""
        before = snapshot(mission)

        with pytest.raises(mk.MissionValidationError) as info:
            call(mission, bad)

        assert {"code": "validation_error", "details": INVALID_ID} == info.value.to_dict()
        unchanged(mission, sink, before)

    @pytest.mark.parametrize("bad", [b for b in BAD_IDS if b is not None])
    def test_malformed_start_id(self, mission: mk.Mission, sink: MemorySink, bad: Any) -> None:
        """start() with a malformed session_id stores nothing and emits nothing."""
        with pytest.raises(mk.MissionValidationError) as info:
            mission.start(
                directive="Probe",
                criteria=[],
                budget={"max_iterations": 1, "max_wall_clock_seconds": -1},
                tool_allowlist=["probe"],
                session_id=bad,
            )

        assert INVALID_ID == info.value.details
        assert ([], []) == (mission.sessions(), sink.entries())

    def test_duplicate_start_id(
        self, mission: mk.Mission, session: mk.Session, sink: MemorySink
    ) -> None:
        """start() with an existing session_id leaves the stored session alone."""
        before = snapshot(mission)

        with pytest.raises(mk.MissionValidationError) as info:
            mission.start(
                directive="Again",
                criteria=list(session.state.criteria),
                budget={"max_iterations": 1, "max_wall_clock_seconds": -1},
                tool_allowlist=["probe"],
                session_id=session.id,
            )

        assert {"field": "session_id", "reason": "duplicate_session_id"} == info.value.details
        unchanged(mission, sink, before)

    @pytest.mark.parametrize(
        "call",
        [lambda m: m.session("mission-none"), lambda m: m.iterate("mission-none", 2)],
        ids=["session", "iterate"],
    )
    def test_unknown_id(self, mission: mk.Mission, call: Callable[[mk.Mission], Any]) -> None:
        """A well-formed id that is not stored raises SessionNotFound."""
        with pytest.raises(mk.SessionNotFound) as info:
            call(mission)

        assert {"session_id": "mission-none"} == info.value.details


class TestArguments:
    @pytest.mark.parametrize("bad", BAD_COUNTS[:-1])
    @pytest.mark.parametrize(
        "call",
        [
            lambda m, s, v: m.iterate(s.id, v),
            lambda m, s, v: asyncio.run(m.aiterate(s.id, v)),
            lambda m, s, v: s.run(max_iterations=v),
            lambda m, s, v: asyncio.run(s.arun(max_iterations=v)),
        ],
        ids=["iterate", "aiterate", "run", "arun"],
    )
    def test_max_iterations(
        self,
        mission: mk.Mission,
        session: mk.Session,
        sink: MemorySink,
        bad: Any,
        call: Callable[..., Any],
    ) -> None:
        """A max_iterations that is not a positive int raises InvalidArgument; nothing runs."""
        before = snapshot(mission)

        with pytest.raises(mk.InvalidArgument) as info:
            call(mission, session, bad)

        assert ("max_iterations", "must_be_positive_int") == (
            info.value.details["argument"],
            info.value.details["reason"],
        )
        unchanged(mission, sink, before)

    def test_iterate_none(self, mission: mk.Mission, session: mk.Session) -> None:
        """Mission.iterate has no 'unlimited' value: None is refused."""
        with pytest.raises(mk.InvalidArgument):
            mission.iterate(session.id, None)

    @pytest.mark.parametrize("bad", [5, "print", object()])
    @pytest.mark.parametrize(
        "call",
        [
            lambda s, v: s.run(on_iteration=v),
            lambda s, v: asyncio.run(s.arun(on_iteration=v)),
        ],
        ids=["run", "arun"],
    )
    def test_on_iteration_not_callable(
        self,
        mission: mk.Mission,
        session: mk.Session,
        sink: MemorySink,
        bad: Any,
        call: Callable[..., Any],
    ) -> None:
        """A non-callable on_iteration is refused before any step runs."""
        before = snapshot(mission)

        with pytest.raises(mk.InvalidArgument) as info:
            call(session, bad)

        assert {"session_id": session.id, "argument": "on_iteration", "reason": "not_callable"} == (
            info.value.details
        )
        unchanged(mission, sink, before)

    @pytest.mark.parametrize("bad", ["yes", 1, 0, None, [True]])
    @pytest.mark.parametrize(
        "call",
        [lambda s, v: s.abort(pause=v), lambda s, v: asyncio.run(s.aabort(pause=v))],
        ids=["abort", "aabort"],
    )
    def test_pause_flag(
        self,
        mission: mk.Mission,
        session: mk.Session,
        sink: MemorySink,
        bad: Any,
        call: Callable[..., Any],
    ) -> None:
        """abort(pause=…) accepts only a bool."""
        before = snapshot(mission)

        with pytest.raises(mk.InvalidArgument) as info:
            call(session, bad)

        assert ("pause", "not_a_bool") == (
            info.value.details["argument"],
            info.value.details["reason"],
        )
        unchanged(mission, sink, before)

    @pytest.mark.parametrize("bad", ["", "Forced", "x" * 65, 3, None])
    def test_acomplete_reason(
        self, mission: mk.Mission, session: mk.Session, sink: MemorySink, bad: Any
    ) -> None:
        """acomplete() refuses a reason that is not a token, like complete()."""
        before = snapshot(mission)

        with pytest.raises(mk.InvalidArgument) as info:
            asyncio.run(session.acomplete(bad))

        assert ("reason", "must_be_token") == (
            info.value.details["argument"],
            info.value.details["reason"],
        )
        unchanged(mission, sink, before)

    @pytest.mark.parametrize("bad", ["summaries", "", None, 1, "FULL"])
    def test_history_format(self, session: mk.Session, bad: Any) -> None:
        """history() accepts only "summary" and "full"."""
        with pytest.raises(mk.InvalidArgument) as info:
            session.history(bad)

        assert "format" == info.value.details["argument"]

    @pytest.mark.parametrize("bad", ["done", "", "PENDING", 3, ["pending"]])
    def test_sessions_status(self, mission: mk.Mission, bad: Any) -> None:
        """sessions() refuses an unknown status filter."""
        with pytest.raises(mk.InvalidArgument) as info:
            mission.sessions(bad)

        assert {"argument": "status", "reason": "unknown_status"} == info.value.details

    @pytest.mark.parametrize("bad", [None, [], "metrics", 3.5])
    def test_observe(
        self, mission: mk.Mission, session: mk.Session, sink: MemorySink, bad: Any
    ) -> None:
        """observe() refuses a non-dict observation and writes nothing."""
        before = snapshot(mission)

        with pytest.raises(mk.MissionValidationError) as info:
            session.observe(bad)

        assert {"field": "observation", "reason": "not_a_dict"} == info.value.details
        unchanged(mission, sink, before)
