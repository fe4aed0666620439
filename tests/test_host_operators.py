"""
Operator actions and ``checkpoint()`` through the host API (SPEC §6.13–6.14, §12.3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import missionkit as mk
from fakes import Counter, FlakyStore, SwitchProposer
from missionkit.audit import MemorySink
from missionkit.testing import FakeClock

CRITERIA = [
    {
        "criterion_id": "n_big",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.n",
        "op": ">=",
        "target": 100,
    }
]
BUDGET = {"max_iterations": 50, "max_wall_clock_seconds": -1}
VERIFY = "Verify the outcome: completion was declared by an operator, not by the criteria."
REVIEW = (
    "Review why the session was aborted, then start a new session with an adjusted "
    "directive or budget."
)
NOTE = "These suggestions come from fixed templates."


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="sink")
def _sink() -> MemorySink:
    return MemorySink()


@pytest.fixture(name="store")
def _store() -> FlakyStore:
    return FlakyStore()


@pytest.fixture(name="proposer")
def _proposer() -> SwitchProposer:
    return SwitchProposer()


@pytest.fixture(name="mission")
def _mission(
    clock: FakeClock, sink: MemorySink, store: FlakyStore, proposer: SwitchProposer
) -> mk.Mission:
    return mk.Mission(tools=[Counter()], store=store, sinks=[sink], clock=clock, proposer=proposer)


def start(mission: mk.Mission, **overrides: Any) -> mk.Session:
    spec: dict[str, Any] = {
        "directive": "Count to a hundred",
        "criteria": CRITERIA,
        "budget": BUDGET,
        "tool_allowlist": ["count"],
    }
    spec.update(overrides)
    return mission.start(**spec)


Bring = Callable[[str], mk.Session]


@pytest.fixture(name="bring")
def _bring(mission: mk.Mission, clock: FakeClock, proposer: SwitchProposer) -> Bring:
    return lambda status: in_status(mission, status, clock, proposer)


def in_status(
    mission: mk.Mission, status: str, clock: FakeClock, proposer: SwitchProposer
) -> mk.Session:
    """
    A session brought to *status* through the public API.
    """
    session = start(mission)
    if status in ("running", "completed", "terminated", "failed", "paused_running"):
        session.step()
        clock.advance(10)
    if status in ("paused", "paused_running"):
        session.abort(pause=True)
    elif status == "completed":
        session.complete()
    elif status == "terminated":
        session.abort()
    elif status == "failed":
        proposer.armed = True
        with pytest.raises(ZeroDivisionError):
            session.step()
        proposer.armed = False
    return session


def lifecycle(sink: MemorySink) -> list[dict[str, Any]]:
    return [e for e in sink.entries() if e["event_type"] == "mission_lifecycle_event"]


class TestTransitions:
    def test_start_is_pending_at_revision_one(self, mission: mk.Mission, sink: MemorySink) -> None:
        """Mission.start stores a pending session at revision 1 and emits lifecycle start."""
        session = start(mission)

        assert ("pending", 1) == (session.status, session.state.revision)
        assert [
            {
                "event_type": "mission_lifecycle_event",
                "mission_session_id": session.id,
                "action": "start",
                "status": "pending",
                "timestamp": "2025-01-01T00:00:00.000000+00:00",
            }
        ] == sink.entries()

    def test_first_iteration_runs_the_session(self, mission: mk.Mission, clock: FakeClock) -> None:
        """The first iteration moves pending to running and records started_at."""
        session = start(mission)
        clock.advance(5)

        iteration = session.step()

        state = session.state
        assert "running" == state.status
        assert iteration.started_at == state.started_at == clock.now

    def test_terminal_verdict_finalises(self, mission: mk.Mission) -> None:
        """A terminal iteration verdict completes the session with ended_at, verdict and report."""
        session = start(mission, criteria=[{**CRITERIA[0], "target": 2}])

        report = session.run()

        state = session.state
        assert ("completed", "complete", "criteria_met") == (
            state.status,
            state.final_verdict,
            state.final_verdict_reason,
        )
        assert report is not None
        assert state.ended_at == report.ended_at
        assert report == session.report()

    def test_phase_exception_fails(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock, sink: MemorySink
    ) -> None:
        """A phase exception stores a failed session with a report and emits lifecycle fail."""
        session = bring("failed")

        state = session.state
        report = session.report()
        assert "failed" == state.status
        assert report is not None
        assert report.failure is not None
        assert (1, "propose") == (report.failure["iteration_index"], report.failure["phase"])
        assert (None, None) == (state.final_verdict, state.final_verdict_reason)
        assert [("fail", "failed", "running", 1)] == [
            (e["action"], e["status"], e["previous_status"], e["iteration_index"])
            for e in lifecycle(sink)
            if e["action"] != "start"
        ]

    @pytest.mark.parametrize("status", ["pending", "running", "paused", "paused_running"])
    def test_complete(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock, sink: MemorySink, status: str
    ) -> None:
        """complete() finalises pending, running and paused sessions with complete/<reason>."""
        session = bring(status)
        before = session.state
        sink.clear()

        report = session.complete("looks_good")

        state = session.state
        assert ("completed", "complete", "looks_good") == (
            state.status,
            state.final_verdict,
            state.final_verdict_reason,
        )
        assert len(before.iterations) == len(state.iterations) == report.iterations_run
        assert (VERIFY, NOTE) == report.recommended_followups
        assert ("completed", "template") == (report.status, report.lessons_source)
        assert report == session.report()
        assert [
            {
                "event_type": "mission_lifecycle_event",
                "mission_session_id": session.id,
                "action": "complete",
                "status": "completed",
                "timestamp": clock.now.isoformat(timespec="microseconds"),
                "previous_status": before.status,
                "final_verdict": "complete",
                "final_verdict_reason": "looks_good",
            }
        ] == sink.entries()

    def test_complete_default_reason(self, mission: mk.Mission) -> None:
        """complete() without a reason records forced_complete."""
        session = start(mission)

        report = session.complete()

        assert ("complete", "forced_complete") == (
            report.final_verdict,
            report.final_verdict_reason,
        )

    @pytest.mark.parametrize("status", ["pending", "running", "paused", "paused_running"])
    def test_abort(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock, sink: MemorySink, status: str
    ) -> None:
        """abort() terminates pending, running and paused sessions with terminate/user_abort."""
        session = bring(status)
        previous = session.status
        sink.clear()

        report = session.abort()

        assert report is not None
        assert ("terminated", "terminate", "user_abort") == (
            session.status,
            report.final_verdict,
            report.final_verdict_reason,
        )
        assert (REVIEW, NOTE) == report.recommended_followups
        assert [("abort", "terminated", previous, "terminate", "user_abort")] == [
            (
                e["action"],
                e["status"],
                e["previous_status"],
                e["final_verdict"],
                e["final_verdict_reason"],
            )
            for e in lifecycle(sink)
        ]

    @pytest.mark.parametrize("status", ["pending", "running"])
    def test_pause(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock, sink: MemorySink, status: str
    ) -> None:
        """abort(pause=True) pauses pending and running sessions and records paused_at."""
        session = bring(status)
        sink.clear()

        assert None is session.abort(pause=True)

        state = session.state
        assert ("paused", clock.now) == (state.status, state.paused_at)
        assert [
            {
                "event_type": "mission_lifecycle_event",
                "mission_session_id": session.id,
                "action": "pause",
                "status": "paused",
                "timestamp": clock.now.isoformat(timespec="microseconds"),
                "previous_status": status,
            }
        ] == sink.entries()

    def test_pause_when_paused_is_a_no_op(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock, sink: MemorySink
    ) -> None:
        """Pausing a paused session writes and emits nothing and returns None."""
        session = bring("paused")
        before = session.state
        sink.clear()
        clock.advance(30)

        assert None is session.abort(pause=True)

        assert before == session.state
        assert [] == sink.entries()

    @pytest.mark.parametrize(
        ("status", "after"), [("paused", "pending"), ("paused_running", "running")]
    )
    def test_resume(
        self,
        bring: Bring,
        mission: mk.Mission,
        clock: FakeClock,
        sink: MemorySink,
        status: str,
        after: str,
    ) -> None:
        """resume() returns to running if the session started, else to pending."""
        session = bring(status)
        sink.clear()
        clock.advance(7)

        assert None is session.resume()

        state = session.state
        assert (after, None) == (state.status, state.paused_at)
        assert (7.0 if after == "running" else 0.0) == state.paused_seconds
        assert [("resume", after, "paused")] == [
            (e["action"], e["status"], e["previous_status"]) for e in lifecycle(sink)
        ]

    @pytest.mark.parametrize("status", ["pending", "running"])
    def test_resume_not_paused(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock, status: str
    ) -> None:
        """resume() on a pending or running session raises NotPaused with the status."""
        session = bring(status)
        revision = session.state.revision

        with pytest.raises(mk.NotPaused) as info:
            session.resume()

        assert {
            "code": "not_paused",
            "details": {"session_id": session.id, "status": status},
        } == info.value.to_dict()
        assert revision == session.state.revision

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.step(),
            lambda s: s.propose(),
            lambda s: s.observe({"metrics": {"n": 1}}),
            lambda s: s.run(),
        ],
        ids=["step", "propose", "observe", "run"],
    )
    def test_paused_refuses_iterations(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock, sink: MemorySink, call: Any
    ) -> None:
        """step, propose, observe and run refuse a paused session with SessionPaused."""
        session = bring("paused_running")
        before = session.state
        sink.clear()

        with pytest.raises(mk.SessionPaused) as info:
            call(session)

        assert {"code": "session_paused", "details": {"session_id": session.id}} == (
            info.value.to_dict()
        )
        assert before == session.state
        assert [] == sink.entries()


MUTATING = [
    ("step", lambda s: s.step()),
    ("propose", lambda s: s.propose()),
    ("observe", lambda s: s.observe({"metrics": {"n": 1}})),
    ("run", lambda s: s.run()),
    ("complete", lambda s: s.complete()),
    ("abort", lambda s: s.abort()),
    ("pause", lambda s: s.abort(pause=True)),
    ("resume", lambda s: s.resume()),
    ("checkpoint", lambda s: s.checkpoint()),
]


class TestRefusals:
    @pytest.mark.parametrize("status", ["completed", "terminated"])
    @pytest.mark.parametrize("call", [c for _, c in MUTATING], ids=[n for n, _ in MUTATING])
    def test_terminal(
        self,
        bring: Bring,
        mission: mk.Mission,
        clock: FakeClock,
        sink: MemorySink,
        status: str,
        call: Any,
    ) -> None:
        """Every mutating call and checkpoint() refuses a terminal session with SessionTerminal."""
        session = bring(status)
        before = session.state
        sink.clear()

        with pytest.raises(mk.SessionTerminal) as info:
            call(session)

        assert {
            "code": "session_terminal",
            "details": {"session_id": session.id, "status": status},
        } == info.value.to_dict()
        assert before == session.state
        assert [] == sink.entries()

    @pytest.mark.parametrize("call", [c for _, c in MUTATING], ids=[n for n, _ in MUTATING])
    def test_failed(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock, sink: MemorySink, call: Any
    ) -> None:
        """Every mutating call and checkpoint() refuses a failed session with SessionFailed."""
        session = bring("failed")
        before = session.state
        sink.clear()

        with pytest.raises(mk.SessionFailed) as info:
            call(session)

        assert {"code": "session_failed", "details": {"session_id": session.id}} == (
            info.value.to_dict()
        )
        assert before == session.state
        assert [] == sink.entries()

    @pytest.mark.parametrize(
        "reason", ["", "Forced", "1st", "a-b", "with space", "a" * 65, "é", 7, None, b"ok"]
    )
    def test_complete_reason_must_be_token(
        self, mission: mk.Mission, sink: MemorySink, reason: Any
    ) -> None:
        """complete() refuses a reason that is not a token and writes nothing."""
        session = start(mission)
        before = session.state
        sink.clear()

        with pytest.raises(mk.InvalidArgument) as info:
            session.complete(reason)

        assert {"argument": "reason", "reason": "must_be_token"} == {
            k: info.value.details[k] for k in ("argument", "reason")
        }
        assert before == session.state
        assert [] == sink.entries()

    def test_longest_token_is_accepted(self, mission: mk.Mission) -> None:
        """A 64-character reason token is recorded verbatim."""
        reason = "a" + "_9" * 31 + "z"

        report = start(mission).complete(reason)

        assert reason == report.final_verdict_reason


class TestPauseAccounting:
    def test_terminal_transition_folds_the_pause(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock
    ) -> None:
        """Completing a paused session folds the pause into paused_seconds and clears paused_at."""
        session = bring("paused_running")
        clock.advance(100)

        report = session.complete()

        state = session.state
        assert (100.0, None) == (state.paused_seconds, state.paused_at)
        assert 10.0 == report.active_seconds

    def test_abort_of_paused_session_folds_the_pause(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock
    ) -> None:
        """Aborting a paused session also folds the pause."""
        session = bring("paused_running")
        clock.advance(40)

        report = session.abort()

        assert report is not None
        assert (40.0, None) == (session.state.paused_seconds, session.state.paused_at)
        assert 10.0 == report.active_seconds

    def test_pause_before_start_counts_nothing(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock
    ) -> None:
        """A pause before the first iteration adds nothing to paused_seconds."""
        session = bring("paused")
        clock.advance(100)

        report = session.complete()

        assert (0.0, None, 0.0) == (
            session.state.paused_seconds,
            session.state.paused_at,
            report.active_seconds,
        )


class TestPendingProposal:
    @pytest.mark.parametrize("action", ["complete", "abort"])
    def test_discarded_by_terminal_actions(self, mission: mk.Mission, action: str) -> None:
        """complete() and abort() discard a pending proposal."""
        session = start(mission)
        session.propose()

        getattr(session, action)()

        assert None is session.state.pending_proposal

    def test_kept_by_pause_and_adopted_after_resume(self, mission: mk.Mission) -> None:
        """Pausing keeps a pending proposal; the step after resume adopts it."""
        session = start(mission)
        strategy = session.propose()
        pending = session.state.pending_proposal

        session.abort(pause=True)
        assert pending == session.state.pending_proposal
        session.resume()
        iteration = session.step()

        assert strategy == iteration.strategy
        assert ["propose", "execute", "observe", "evaluate", "decide"] == [
            p.phase for p in iteration.phases
        ]
        assert pending is not None
        assert pending.phases[0] == iteration.phases[0]
        assert None is session.state.pending_proposal


OPERATORS = [
    ("complete", lambda s: s.complete(), "completed"),
    ("abort", lambda s: s.abort(), "terminated"),
    ("pause", lambda s: s.abort(pause=True), "paused"),
]


class TestRetries:
    @pytest.mark.parametrize(
        ("call", "status"), [(c, st) for _, c, st in OPERATORS], ids=[n for n, _, _ in OPERATORS]
    )
    def test_three_retries_succeed(
        self, mission: mk.Mission, store: FlakyStore, call: Any, status: str
    ) -> None:
        """Operator actions retry up to three times after ConcurrentUpdate."""
        session = start(mission)
        store.failures = 3
        store.save_calls = 0

        call(session)

        assert (4, status) == (store.save_calls, session.status)

    @pytest.mark.parametrize("call", [c for _, c, _ in OPERATORS], ids=[n for n, _, _ in OPERATORS])
    def test_fourth_conflict_raises(
        self, mission: mk.Mission, store: FlakyStore, sink: MemorySink, call: Any
    ) -> None:
        """A fourth ConcurrentUpdate propagates and nothing is written or emitted."""
        session = start(mission)
        before = session.state
        store.failures = 4
        store.save_calls = 0
        sink.clear()

        with pytest.raises(mk.ConcurrentUpdate):
            call(session)

        assert 4 == store.save_calls
        assert before == session.state
        assert [] == sink.entries()

    def test_resume_retries(
        self, bring: Bring, mission: mk.Mission, clock: FakeClock, store: FlakyStore
    ) -> None:
        """resume() retries after ConcurrentUpdate too."""
        session = bring("paused")
        store.failures = 2
        store.save_calls = 0

        session.resume()

        assert (3, "pending") == (store.save_calls, session.status)

    def test_retry_sees_the_other_writers_state(
        self, mission: mk.Mission, store: FlakyStore, sink: MemorySink
    ) -> None:
        """A retried complete() re-reads the session, so a pause by another handle is folded."""
        session = start(mission)
        session.step()
        other = mission.session(session.id)
        store.before_save = lambda state: other.abort(pause=True)
        sink.clear()

        report = session.complete()

        assert "completed" == report.status
        assert [("pause", "running"), ("complete", "paused")] == [
            (e["action"], e["previous_status"]) for e in lifecycle(sink)
        ]

    @pytest.mark.parametrize(
        "call",
        [lambda s: s.step(), lambda s: s.propose(), lambda s: s.observe({})],
        ids=["step", "propose", "observe"],
    )
    def test_iterations_never_retry(
        self, mission: mk.Mission, store: FlakyStore, call: Any
    ) -> None:
        """step, propose and observe raise the first ConcurrentUpdate and store nothing."""
        session = start(mission)
        before = session.state
        store.failures = 1
        store.save_calls = 0

        with pytest.raises(mk.ConcurrentUpdate):
            call(session)

        assert 1 == store.save_calls
        assert before == session.state


class TestCheckpoint:
    def test_pure(self, mission: mk.Mission, clock: FakeClock, sink: MemorySink) -> None:
        """checkpoint() writes nothing and emits nothing."""
        session = start(mission)
        session.step()
        before = session.state
        sink.clear()
        clock.advance(3)

        session.checkpoint()

        assert before == session.state
        assert [] == sink.entries()

    def test_no_iterations(self, mission: mk.Mission) -> None:
        """checkpoint() on a session without iterations raises NoIterations."""
        session = start(mission)

        with pytest.raises(mk.NoIterations) as info:
            session.checkpoint()

        assert {"code": "no_iterations", "details": {"session_id": session.id}} == (
            info.value.to_dict()
        )

    def test_equals_stored_verdict(self, mission: mk.Mission) -> None:
        """With nothing changed, checkpoint() returns the latest stored verdict."""
        session = start(mission)
        iterations = [session.step() for _ in range(3)]

        assert iterations[-1].verdict_obj == session.checkpoint()

    def test_no_double_counting(self, clock: FakeClock) -> None:
        """checkpoint() uses the iteration's own counter instead of counting it again."""

        def flat() -> dict[str, Any]:
            return {"metrics": {"n": 1}}

        mission = mk.Mission(tools=[flat], clock=clock)
        session = mission.start(
            directive="Never gets there",
            criteria=CRITERIA,
            budget=BUDGET,
            tool_allowlist=["flat"],
            stagnation_threshold=2,
        )
        session.step()
        second = session.step()

        assert (1, mk.Verdict("continue", "in_progress")) == (
            second.no_progress_counter,
            second.verdict_obj,
        )
        assert mk.Verdict("continue", "in_progress") == session.checkpoint()
        assert mk.Verdict("terminate", "no_progress") == session.step().verdict_obj

    def test_decides_at_the_current_time(self, clock: FakeClock) -> None:
        """checkpoint() applies the wall-clock cap as of now."""
        mission = mk.Mission(tools=[Counter()], clock=clock)
        session = start(mission, budget={"max_iterations": 50, "max_wall_clock_seconds": 60})
        session.step()
        clock.advance(61)

        assert mk.Verdict("terminate", "max_wall_clock") == session.checkpoint()

    def test_allowed_while_paused(self, clock: FakeClock) -> None:
        """checkpoint() works while paused and excludes the pause from active time."""
        mission = mk.Mission(tools=[Counter()], clock=clock)
        session = start(mission, budget={"max_iterations": 50, "max_wall_clock_seconds": 60})
        session.step()
        clock.advance(30)
        session.abort(pause=True)
        clock.advance(1000)

        assert mk.Verdict("continue", "in_progress") == session.checkpoint()
        assert "paused" == session.status
