"""
Conformance: host operations and the execution model.

SPEC §2.4, §3.12, §6.11, §6.13–6.15, §6.17–6.19.

Only rules the other host tests do not pin exactly are asserted here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta
from typing import Any

import pytest

import missionkit as mk
from fakes import UNCAPPED, FlakyStore, ScriptedTool, SwitchProposer
from missionkit.audit import AuditEvent, MemorySink
from missionkit.store import MemoryStore
from missionkit.testing import FakeClock, ScriptedProposer, ScriptedSampler

LOSS = [
    {
        "criterion_id": "loss",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.loss",
        "op": "<=",
        "target": 0.1,
    }
]


def losses(*values: float) -> ScriptedTool:
    """
    A ``train`` tool reporting each queued loss, then the last one forever.
    """
    results = [{"metrics": {"loss": v}} for v in values]
    return ScriptedTool(*results, default=results[-1])


def start(
    mission: mk.Mission,
    *,
    budget: dict[str, int] | None = None,
    tool: str = "train",
    **kwargs: Any,
) -> mk.Session:
    """
    Start a loss-driving session with an uncapped budget unless *budget* overrides it.
    """
    return mission.start(
        directive="Drive the loss down",
        criteria=kwargs.pop("criteria", LOSS),
        budget={**UNCAPPED, **(budget or {})},
        tool_allowlist=[tool],
        **kwargs,
    )


def lifecycle(sink: MemorySink) -> list[tuple[str, str, str | None]]:
    """
    ``(action, status, previous_status)`` of every lifecycle event.
    """
    return [
        (e["action"], e["status"], e.get("previous_status"))
        for e in sink.entries()
        if e["event_type"] == "mission_lifecycle_event"
    ]


class RecordingStore:
    """
    A `MemoryStore` that records which read methods were called, with their arguments.
    """

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.reads: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not name.startswith("load_"):
            return attr

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.reads.append((name, args + tuple(kwargs.values())))
            return attr(*args, **kwargs)

        return recorded


# --------------------------------------------------------------------------- §6.13


class TestOperatorRetriesReread:
    def test_complete_losing_to_an_abort_is_refused(self) -> None:
        """
        §6.13: a retried complete() re-reads the session; terminated by another handle, it raises
        SessionTerminal.
        """
        store = FlakyStore()
        sink = MemorySink()
        mission = mk.Mission(
            tools={"train": losses(1.0)}, store=store, sinks=[sink], clock=FakeClock()
        )
        session = start(mission)
        session.step()
        other = mission.session(session.id)
        store.before_save = lambda state: other.abort()
        sink.clear()

        with pytest.raises(mk.SessionTerminal) as info:
            session.complete("done_here")

        assert {
            "code": "session_terminal",
            "details": {"session_id": session.id, "status": "terminated"},
        } == info.value.to_dict()
        report = session.report()
        assert report is not None
        assert ("terminate", "user_abort") == (report.final_verdict, report.final_verdict_reason)
        assert [("abort", "terminated", "running")] == lifecycle(sink)

    def test_resume_losing_to_another_resume_is_not_paused(self) -> None:
        """
        §6.13: a retried resume() re-reads the session; resumed by another handle, it raises
        NotPaused.
        """
        store = FlakyStore()
        sink = MemorySink()
        clock = FakeClock()
        mission = mk.Mission(tools={"train": losses(1.0)}, store=store, sinks=[sink], clock=clock)
        session = start(mission)
        session.step()
        session.abort(pause=True)
        clock.advance(10)
        other = mission.session(session.id)
        store.before_save = lambda state: other.resume()
        sink.clear()

        with pytest.raises(mk.NotPaused) as info:
            session.resume()

        assert {"session_id": session.id, "status": "running"} == info.value.details
        assert (10.0, None) == (session.state.paused_seconds, session.state.paused_at)
        assert [("resume", "running", "paused")] == lifecycle(sink)

    def test_pause_losing_to_another_pause_is_a_no_op(self) -> None:
        """
        §6.13: a retried pause finds the session paused by another handle and does nothing more.
        """
        store = FlakyStore()
        sink = MemorySink()
        clock = FakeClock()
        mission = mk.Mission(tools={"train": losses(1.0)}, store=store, sinks=[sink], clock=clock)
        session = start(mission)
        session.step()
        other = mission.session(session.id)

        def race(state: Any) -> None:
            other.abort(pause=True)
            clock.advance(5)

        store.before_save = race
        paused_at = clock.now
        sink.clear()

        assert None is session.abort(pause=True)

        assert ("paused", paused_at) == (session.status, session.state.paused_at)
        assert [("pause", "paused", "running")] == lifecycle(sink)


class TestPauseArithmetic:
    def test_pause_cycles_accumulate(self) -> None:
        """
        §6.12/§6.13: each resume adds its pause to paused_seconds; the report excludes all pauses.
        """
        clock = FakeClock()
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=clock)
        session = start(mission)
        session.step()
        for paused, active in [(10, 3), (20, 4)]:
            session.abort(pause=True)
            clock.advance(paused)
            session.resume()
            clock.advance(active)

        report = session.abort()

        assert report is not None
        assert (30.0, None) == (session.state.paused_seconds, session.state.paused_at)
        assert 7.0 == report.active_seconds

    def test_active_seconds_identity_with_a_ticking_clock(self) -> None:
        """
        §6.12/§12.1: with a clock that ticks on every read, each resume adds its own now − paused_at
        and report.active_seconds = (ended_at − started_at) − paused_seconds.
        """
        sink = MemorySink()
        mission = mk.Mission(tools={"train": losses(1.0)}, sinks=[sink], clock=FakeClock(step=1.5))
        session = start(mission)
        session.step()
        session.abort(pause=True)
        paused_at = session.state.paused_at
        sink.clear()
        session.resume()
        first_pause = session.state.paused_seconds
        [resumed] = sink.events
        session.step()
        session.abort(pause=True)

        report = session.complete()

        state = session.state
        assert paused_at is not None
        assert state.started_at is not None
        assert state.ended_at is not None
        assert 0 == first_pause % 1.5
        assert paused_at < paused_at + timedelta(seconds=first_pause) <= resumed.timestamp
        assert (True, None) == (state.paused_seconds >= first_pause + 1.5, state.paused_at)
        assert report.active_seconds == (
            (state.ended_at - state.started_at).total_seconds() - state.paused_seconds
        )

    def test_resume_of_unstarted_session_ignores_a_ticking_clock(self) -> None:
        """§6.12: resuming a session that never started adds nothing to paused_seconds."""
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock(step=2))
        session = start(mission)
        session.abort(pause=True)
        session.resume()

        state = session.state
        assert ("pending", None, 0.0, None) == (
            state.status,
            state.started_at,
            state.paused_seconds,
            state.paused_at,
        )

    def test_complete_while_paused_discards_the_pending_proposal(self) -> None:
        """§6.13: complete() on a paused session discards the pending proposal kept by the pause."""
        clock = FakeClock()
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=clock)
        session = start(mission)
        session.step()
        session.propose()
        session.abort(pause=True)
        assert session.state.pending_proposal is not None
        clock.advance(9)

        report = session.complete()

        state = session.state
        assert (None, None, 9.0) == (state.pending_proposal, state.paused_at, state.paused_seconds)
        assert (1, "completed") == (report.iterations_run, report.status)

    def test_paused_session_past_its_deadline_is_refused_not_finalised(self) -> None:
        """
        §6.2/§6.13: the status gate comes before the deadline: a paused session raises
        SessionPaused.
        """
        clock = FakeClock()
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=clock)
        session = start(mission, budget={"max_wall_clock_seconds": 10})
        session.step()
        clock.advance(50)
        session.abort(pause=True)
        revision = session.state.revision

        with pytest.raises(mk.SessionPaused):
            session.step()

        assert (revision, "paused", 1) == (
            session.state.revision,
            session.status,
            len(session.state.iterations),
        )


# --------------------------------------------------------------------------- §6.14


class TestCheckpoint:
    def test_uses_the_state_before_the_latest_iteration(self) -> None:
        """
        §6.14: checkpoint() judges new errors against the iterations before the latest, as decide
        did.
        """
        tool = ScriptedTool({"metrics": {"loss": 1.0}}, RuntimeError("boom"), default={})
        mission = mk.Mission(tools={"train": tool}, clock=FakeClock())
        session = start(mission, stagnation_threshold=50)
        session.step()
        latest = session.step()

        assert ("adjust", "heuristic_unproductive") == (latest.verdict, latest.verdict_reason)
        assert mk.Verdict("adjust", "heuristic_unproductive") == session.checkpoint()

    def test_terminal_answer_finalises_nothing(self) -> None:
        """
        §6.14: a checkpoint() answering terminate saves nothing, consults no sampler and keeps the
        status.
        """
        store = FlakyStore()
        sink = MemorySink()
        sampler = ScriptedSampler()
        clock = FakeClock()
        mission = mk.Mission(
            tools={"train": losses(1.0)},
            store=store,
            sinks=[sink],
            sampler=sampler,
            clock=clock,
        )
        session = start(mission, budget={"max_wall_clock_seconds": 60})
        session.step()
        store.save_calls = 0
        sink.clear()
        clock.advance(100)

        assert mk.Verdict("terminate", "max_wall_clock") == session.checkpoint()

        assert (0, [], []) == (store.save_calls, sink.entries(), sampler.prompts)
        assert ("running", None) == (session.status, session.report())

    def test_paused_before_any_iteration(self) -> None:
        """
        §6.14: checkpoint() is allowed while paused but still needs an iteration (NoIterations).
        """
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock())
        session = start(mission)
        session.abort(pause=True)

        with pytest.raises(mk.NoIterations) as info:
            session.checkpoint()

        assert {"code": "no_iterations", "details": {"session_id": session.id}} == (
            info.value.to_dict()
        )

    def test_stale_handle_sees_the_latest_iteration(self) -> None:
        """
        §6.14/§6.15: checkpoint() on a stale handle re-reads and judges the newest stored iteration.
        """
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock())
        first = start(mission)
        stale = mission.session(first.id)
        assert () == stale.state.iterations
        iteration = first.step()

        assert iteration.verdict_obj == stale.checkpoint()


# --------------------------------------------------------------------------- §6.11


class TestAskTell:
    def test_propose_does_not_start_the_session(self) -> None:
        """
        §6.11: propose() leaves started_at unset; observe() starts the session and iteration at its
        own time.
        """
        clock = FakeClock()
        mission = mk.Mission(tools={"train": None}, clock=clock)
        session = start(mission)
        clock.advance(5)
        proposed_at = clock.now
        session.propose()
        after_propose = session.state
        clock.advance(20)
        observed_at = clock.now

        iteration = session.observe({"metrics": {"loss": 0.5}})

        assert ("pending", None, ()) == (
            after_propose.status,
            after_propose.started_at,
            after_propose.iterations,
        )
        assert (observed_at, observed_at) == (iteration.started_at, session.state.started_at)
        assert ("propose", proposed_at) == (
            iteration.phases[0].phase,
            iteration.phases[0].started_at,
        )
        assert "running" == session.status

    def test_non_ok_host_results_are_ignored(self) -> None:
        """
        §6.11/§6.5: a failed or skipped host call's result merges nothing and is annotated as null.
        """
        mission = mk.Mission(tools={"train": None}, clock=FakeClock())
        session = start(mission)
        winning = {"metrics": {"loss": 0.0}, "events": [{"event_name": "x"}]}

        iteration = session.observe(
            {
                "tool_calls": [
                    {
                        "tool_name": "train",
                        "status": "failed",
                        "result": winning,
                        "error_message": "E: no",
                    },
                    {
                        "tool_name": "train",
                        "status": "skipped_not_allowed",
                        "result": winning,
                        "error_message": "ignored",
                    },
                ]
            }
        )

        observation = iteration.observation
        assert observation is not None
        assert ({}, ()) == (observation.metrics, tuple(observation.events))
        assert [
            {"_status": "failed", "tool_name": "train", "result": None},
            {"_status": "skipped_not_allowed", "tool_name": "train", "result": None},
        ] == list(observation.tool_results)
        assert [("failed", None, "E: no"), ("skipped_not_allowed", None, None)] == [
            (r.status, r.result_summary, r.error_message) for r in iteration.tool_calls
        ]
        assert ["E: no", None] == [e["error_message"] for e in observation.errors]
        assert ("continue", "in_progress") == (iteration.verdict, iteration.verdict_reason)

    def test_observe_after_pause_and_resume_of_unstarted_session(self) -> None:
        """
        §6.11/§6.13: a session paused and resumed before any iteration starts at its first
        observe().
        """
        clock = FakeClock()
        mission = mk.Mission(tools={"train": None}, clock=clock)
        session = start(mission)
        session.abort(pause=True)
        clock.advance(100)
        session.resume()
        clock.advance(1)

        iteration = session.observe({"metrics": {"loss": 0.05}})

        state = session.state
        assert (clock.now, 0.0) == (state.started_at, state.paused_seconds)
        assert ("complete", "criteria_met", "completed") == (
            iteration.verdict,
            iteration.verdict_reason,
            state.status,
        )
        report = session.report()
        assert report is not None
        assert 0.0 == report.active_seconds

    def test_propose_skips_the_deadline(self) -> None:
        """
        §6.11: propose() has no deadline check; it stores a proposal on a session past its wall
        clock.
        """
        clock = FakeClock()
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=clock)
        session = start(mission, budget={"max_wall_clock_seconds": 10})
        session.step()
        clock.advance(60)

        strategy = session.propose()

        state = session.state
        assert state.pending_proposal is not None
        assert (strategy, "running", 1) == (
            state.pending_proposal.strategy,
            state.status,
            len(state.iterations),
        )
        assert ("terminate", "max_wall_clock") == (
            session.step().verdict,
            session.state.final_verdict_reason,
        )

    def test_observe_needs_no_known_tool(self) -> None:
        """§6.11: observe() skips the tool check, so a Mission without tools can tell a result."""
        mission = mk.Mission(tools={"train": None}, clock=FakeClock())
        session = start(mission)
        bare = mk.Mission(store=mission.store, clock=FakeClock())
        handle = bare.session(session.id)
        with pytest.raises(mk.ProposeNoToolAvailable):
            handle.propose()

        iteration = handle.observe({"metrics": {"loss": 0.01}})

        assert ("host", "complete", "completed") == (
            iteration.strategy_source,
            iteration.verdict,
            session.status,
        )


# --------------------------------------------------------------------------- §6.15


class TestCaching:
    def test_unchanged_revision_reads_only_the_revision(self) -> None:
        """
        §6.15(1): with nothing stored since, a handle call reads the revision and nothing else.
        """
        store = RecordingStore()
        mission = mk.Mission(tools={"train": losses(1.0)}, store=store, clock=FakeClock())
        session = start(mission)
        session.step()
        store.reads.clear()

        assert "running" == session.status
        session.checkpoint()

        assert {"load_revision"} == {name for name, _ in store.reads}

    def test_changed_revision_loads_only_new_iterations(self) -> None:
        """
        §6.15(1): after another handle stores iterations, only the ones after the cached count are
        loaded.
        """
        store = RecordingStore()
        mission = mk.Mission(tools={"train": losses(1.0)}, store=store, clock=FakeClock())
        first = start(mission, stagnation_threshold=50)
        first.step()
        stale = mission.session(first.id)
        assert 1 == len(stale.state.iterations)
        first.step()
        first.step()
        store.reads.clear()

        assert 3 == len(stale.state.iterations)

        iteration_reads = [args for name, args in store.reads if name == "load_iterations"]
        assert [(first.id, 1)] == iteration_reads
        assert "load_session" not in {name for name, _ in store.reads}

    def test_stale_handle_step_after_completion_elsewhere(self) -> None:
        """
        §6.15/§6.13: a handle whose cache says running refuses to step once another handle completed
        it.
        """
        sink = MemorySink()
        mission = mk.Mission(tools={"train": losses(1.0)}, sinks=[sink], clock=FakeClock())
        first = start(mission)
        first.step()
        other = mission.session(first.id)
        other.complete()
        sink.clear()

        with pytest.raises(mk.SessionTerminal) as info:
            first.step()

        assert {"session_id": first.id, "status": "completed"} == info.value.details
        assert [] == sink.entries()

    def test_one_handle_serialises_threads(self) -> None:
        """
        §2.4/§6.15(3): sync calls on one handle from several threads run one at a time, without
        conflicts.
        """
        gate = threading.Barrier(3)
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock())
        session = start(mission, stagnation_threshold=50)
        errors: list[str] = []

        def worker() -> None:
            gate.wait(5)
            try:
                for _ in range(4):
                    session.step()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(repr(exc))

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        assert [] == errors
        assert list(range(12)) == [it.iteration_index for it in session.state.iterations]


class TestInterruption:
    def test_keyboard_interrupt_leaves_the_session_untouched(self) -> None:
        """
        §6.1/§6.15(4): KeyboardInterrupt in a tool propagates; nothing is stored and the handle
        still works.
        """
        tool = ScriptedTool(KeyboardInterrupt(), default={"metrics": {"loss": 1.0}})
        sink = MemorySink()
        mission = mk.Mission(tools={"train": tool}, sinks=[sink], clock=FakeClock())
        session = start(mission)
        before = session.state
        sink.clear()

        with pytest.raises(KeyboardInterrupt):
            session.step()

        assert before == session.state
        assert before == mission.session(session.id).state
        assert [] == [e for e in sink.entries() if e["event_type"] != "mission_phase_event"]
        assert 0 == session.step().iteration_index

    def test_cancelled_astep_leaves_the_session_untouched(self) -> None:
        """
        §6.15(4): cancelling astep() during an async tool stores nothing and releases the handle.
        """
        started = asyncio.Event()

        async def train() -> dict[str, Any]:
            started.set()
            await asyncio.sleep(60)
            return {}

        mission = mk.Mission(tools=[mk.Tool(train)], clock=FakeClock())
        session = start(mission)
        before = session.state

        async def main() -> None:
            task = asyncio.ensure_future(session.astep())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(mk.SessionPaused):
                session.abort(pause=True)
                await session.astep()

        asyncio.run(main())

        assert (before.revision + 1, (), "paused") == (
            session.state.revision,
            session.state.iterations,
            session.status,
        )


# --------------------------------------------------------------------------- §6.17


class TestRun:
    def test_budget_of_this_call_counts_only_its_steps(self) -> None:
        """§6.17: run(max_iterations=n) runs n more steps, whatever was stored before."""
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock())
        session = start(mission, stagnation_threshold=50)
        session.step()
        session.step()

        assert None is session.run(max_iterations=2)

        assert [0, 1, 2, 3] == [it.iteration_index for it in session.state.iterations]

    def test_terminal_on_the_last_allowed_step_returns_the_report(self) -> None:
        """
        §6.17: a terminal verdict on the last step run(max_iterations=n) allows returns the report.
        """
        mission = mk.Mission(tools={"train": losses(1.0, 0.5, 0.05)}, clock=FakeClock())
        session = start(mission)

        report = session.run(max_iterations=3)

        assert report is not None
        assert (3, "criteria_met") == (report.iterations_run, report.final_verdict_reason)
        assert report == session.report()

    def test_completion_by_another_handle_propagates(self) -> None:
        """
        §6.17: between steps only a pause returns None; a session completed elsewhere makes the next
        step raise.
        """
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock())
        session = start(mission)
        other = mission.session(session.id)

        with pytest.raises(mk.SessionTerminal) as info:
            session.run(on_iteration=lambda it: other.complete())

        assert {"session_id": session.id, "status": "completed"} == info.value.details
        assert 1 == len(session.state.iterations)

    def test_arun_returns_none_when_paused_elsewhere(self) -> None:
        """§6.17: arun() returns None when another handle paused the session between steps."""
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock())
        session = start(mission)
        other = mission.session(session.id)
        seen: list[int] = []

        def pause(it: mk.Iteration) -> None:
            seen.append(it.iteration_index)
            if it.iteration_index == 1:
                other.abort(pause=True)

        assert None is asyncio.run(session.arun(on_iteration=pause))

        assert ([0, 1], "paused", 2) == (seen, session.status, len(session.state.iterations))

    def test_resumed_run_continues(self) -> None:
        """§6.17: after a pause stopped run(), resume() and run() again finish the session."""
        mission = mk.Mission(tools={"train": losses(1.0, 0.5, 0.3, 0.05)}, clock=FakeClock())
        session = start(mission)
        other = mission.session(session.id)
        assert None is session.run(on_iteration=lambda it: other.abort(pause=True))
        session.resume()

        report = session.run()

        assert report is not None
        assert (4, "criteria_met") == (report.iterations_run, report.final_verdict_reason)


# --------------------------------------------------------------------------- §6.18


class PauseOnVerdict:
    """
    A sink pausing the session through a second handle after the verdict of *index*.
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.handle: mk.Session | None = None

    def __call__(self, event: AuditEvent, /) -> None:
        if (
            self.handle is not None
            and event.event_type == "mission_verdict_event"
            and event.iteration_index == self.index
        ):
            self.handle.abort(pause=True)


class TestIterate:
    def test_failure_after_a_completed_step_comes_last(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """
        §6.18: a failed iteration after successful ones in one call is returned last, not raised.
        """
        proposer = SwitchProposer()

        def train() -> dict[str, Any]:
            proposer.armed = True
            return {"metrics": {"loss": 1.0}}

        mission = mk.Mission(tools=[train], clock=FakeClock(), proposer=proposer)
        session = start(mission)

        with caplog.at_level(logging.ERROR, logger="missionkit"):
            summaries = mission.iterate(session.id, 5)

        assert [(0, "succeeded", "continue"), (1, "failed", None)] == [
            (s.iteration_index, s.status, s.verdict) for s in summaries
        ]
        assert [it.summary() for it in session.state.iterations] == summaries
        assert [logging.ERROR] == [r.levelno for r in caplog.records if r.name == "missionkit"]

    def test_session_error_after_a_step_carries_completed_iterations(self) -> None:
        """§2.6/§6.18: a refusal at the second step carries the first step's summary dict."""
        sink = PauseOnVerdict(0)
        mission = mk.Mission(tools={"train": losses(1.0)}, sinks=[sink], clock=FakeClock(step=1))
        session = start(mission)
        sink.handle = mission.session(session.id)

        with pytest.raises(mk.SessionPaused) as info:
            mission.iterate(session.id, 3)

        [first] = session.state.iterations
        assert {
            "code": "session_paused",
            "details": {
                "session_id": session.id,
                "completed_iterations": [
                    {
                        "iteration_index": 0,
                        "status": "succeeded",
                        "verdict": "continue",
                        "verdict_reason": "in_progress",
                        "started_at": first.started_at.isoformat(timespec="microseconds"),
                        "ended_at": first.ended_at.isoformat(timespec="microseconds"),
                    }
                ],
            },
        } == info.value.to_dict()
        assert [
            "iteration_index",
            "status",
            "verdict",
            "verdict_reason",
            "started_at",
            "ended_at",
        ] == (list(info.value.details["completed_iterations"][0]))

    def test_aiterate_carries_completed_iterations(self) -> None:
        """§6.18: aiterate() adds completed_iterations like iterate()."""
        sink = PauseOnVerdict(1)
        mission = mk.Mission(tools={"train": losses(1.0)}, sinks=[sink], clock=FakeClock())
        session = start(mission, stagnation_threshold=50)
        sink.handle = mission.session(session.id)

        with pytest.raises(mk.SessionPaused) as info:
            asyncio.run(mission.aiterate(session.id, 5))

        assert [it.summary().to_dict() for it in session.state.iterations] == (
            info.value.details["completed_iterations"]
        )
        assert 2 == len(info.value.details["completed_iterations"])

    def test_conflict_in_the_first_step_has_no_completed_iterations(self) -> None:
        """
        §6.18: a SessionError raised by the first step of the call propagates without
        completed_iterations.
        """
        store = FlakyStore(failures=1)
        mission = mk.Mission(tools={"train": losses(1.0)}, store=store, clock=FakeClock())
        session = start(mission)

        with pytest.raises(mk.ConcurrentUpdate) as info:
            mission.iterate(session.id, 3)

        assert "completed_iterations" not in info.value.details
        assert () == session.state.iterations

    def test_failed_session_refused(self) -> None:
        """
        §6.18/§6.13: iterate() on a failed session raises SessionFailed with only the session id.
        """
        proposer = SwitchProposer()
        proposer.armed = True
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock(), proposer=proposer)
        session = start(mission)
        with pytest.raises(ZeroDivisionError):
            session.step()

        with pytest.raises(mk.SessionFailed) as info:
            mission.iterate(session.id, 2)

        assert {"code": "session_failed", "details": {"session_id": session.id}} == (
            info.value.to_dict()
        )


# --------------------------------------------------------------------------- §6.19


class TestExecutionModel:
    def test_sync_step_without_loop_runs_async_tool_on_calling_thread(self) -> None:
        """
        §6.19: with no running loop, a sync step runs an async tool on the calling thread, on a
        loop.
        """
        seen: list[tuple[int, bool]] = []

        async def train() -> dict[str, Any]:
            loop = asyncio.get_running_loop()
            seen.append((threading.get_ident(), loop.is_running()))
            return {"metrics": {"loss": 1.0}}

        mission = mk.Mission(tools=[mk.Tool(train)], clock=FakeClock())
        iteration = start(mission).step()

        assert [(threading.get_ident(), True)] == seen
        assert "ok" == iteration.tool_calls[0].status

    def test_sync_step_inside_loop_uses_a_helper_thread_and_loop(self) -> None:
        """§6.19: inside a running loop, a sync step runs on another thread with its own loop."""
        seen: list[tuple[int, asyncio.AbstractEventLoop]] = []

        async def train() -> dict[str, Any]:
            seen.append((threading.get_ident(), asyncio.get_running_loop()))
            return {"metrics": {"loss": 1.0}}

        mission = mk.Mission(tools=[mk.Tool(train)], clock=FakeClock())
        session = start(mission)

        async def main() -> tuple[int, asyncio.AbstractEventLoop, mk.Iteration]:
            return threading.get_ident(), asyncio.get_running_loop(), session.step()

        caller_thread, caller_loop, iteration = asyncio.run(main())

        [(tool_thread, tool_loop)] = seen
        assert (False, False) == (tool_thread == caller_thread, tool_loop is caller_loop)
        assert "ok" == iteration.tool_calls[0].status

    def test_astep_awaits_async_tool_on_the_callers_loop(self) -> None:
        """§6.19: async entry points run async tools on the caller's loop."""
        seen: list[asyncio.AbstractEventLoop] = []

        async def train() -> dict[str, Any]:
            seen.append(asyncio.get_running_loop())
            return {"metrics": {"loss": 1.0}}

        mission = mk.Mission(tools=[mk.Tool(train)], clock=FakeClock())
        session = start(mission)

        async def main() -> asyncio.AbstractEventLoop:
            await session.astep()
            return asyncio.get_running_loop()

        caller_loop = asyncio.run(main())

        assert [caller_loop] == seen

    def test_every_sync_method_works_inside_a_running_loop(self) -> None:
        """
        §2.4/§6.19: propose, observe, pause, resume, checkpoint, history and complete work under
        asyncio.run.
        """
        mission = mk.Mission(tools={"train": None}, clock=FakeClock())
        session = start(mission)

        async def main() -> tuple[Any, ...]:
            strategy = session.propose()
            iteration = session.observe({"metrics": {"loss": 0.5}})
            paused = session.abort(pause=True)
            status = session.status
            verdict = session.checkpoint()
            session.resume()
            history = session.history()
            report = session.complete("enough")
            return strategy, iteration, paused, status, verdict, history, report

        strategy, iteration, paused, status, verdict, history, report = asyncio.run(main())

        assert (strategy, "default") == (iteration.strategy, iteration.strategy_source)
        assert (None, "paused", mk.Verdict("continue", "in_progress")) == (paused, status, verdict)
        assert [iteration.summary().to_dict()] == history
        assert ("completed", "enough") == (report.status, report.final_verdict_reason)

    def test_async_proposer_under_sync_step_inside_a_loop(self) -> None:
        """§6.19: an async proposer is awaited when a sync step runs inside a running loop."""

        async def proposer(ctx: Any) -> dict[str, Any]:
            await asyncio.sleep(0)
            return {"tool_calls": [{"tool_name": "train", "args": {"lr": 0.5}}]}

        tool = losses(1.0)
        mission = mk.Mission(tools={"train": tool}, clock=FakeClock(), proposer=proposer)
        session = start(mission)

        async def main() -> mk.Iteration:
            return session.step()

        iteration = asyncio.run(main())

        assert ("proposer", [{"lr": 0.5}]) == (iteration.strategy_source, tool.calls)

    def test_failed_iteration_inside_a_loop_reraises_the_original(self) -> None:
        """
        §6.10/§6.19: a sync step inside a running loop re-raises the phase's own exception with its
        note.
        """
        proposer = SwitchProposer()
        proposer.armed = True
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock(), proposer=proposer)
        session = start(mission)

        async def main() -> None:
            session.step()

        with pytest.raises(ZeroDivisionError) as info:
            asyncio.run(main())

        assert [f"missionkit: iteration 0 of session {session.id} failed in phase propose"] == (
            info.value.__notes__
        )
        assert "failed" == session.status

    def test_scripted_async_proposer_under_astep_sees_the_context(self) -> None:
        """
        §6.19/§7.1: under astep() a proposer returning an awaitable is awaited with its context.
        """
        queued = ScriptedProposer({"tool_calls": [{"tool_name": "train"}]})

        def proposer(ctx: Any) -> Any:
            async def later() -> Any:
                await asyncio.sleep(0)
                return queued(ctx)

            return later()

        mission = mk.Mission(tools={"train": losses(1.0)}, clock=FakeClock(), proposer=proposer)
        session = start(mission)

        iteration = asyncio.run(session.astep())

        assert ("proposer", 0) == (iteration.strategy_source, queued.contexts[0].iteration_index)

    @pytest.mark.parametrize("entry", ["step", "step_in_loop", "astep"])
    def test_sync_tool_returning_an_awaitable(self, entry: str) -> None:
        """§2.5/§6.19: a sync tool's awaitable return value is awaited under every entry point."""

        async def later() -> dict[str, Any]:
            await asyncio.sleep(0)
            return {"metrics": {"loss": 0.05}}

        def train() -> Any:
            return later()

        mission = mk.Mission(tools=[train], clock=FakeClock())
        session = start(mission)

        async def in_loop() -> mk.Iteration:
            return session.step()

        if entry == "step":
            iteration = session.step()
        elif entry == "step_in_loop":
            iteration = asyncio.run(in_loop())
        else:
            iteration = asyncio.run(session.astep())

        assert iteration.observation is not None
        assert ({"loss": 0.05}, "complete") == (iteration.observation.metrics, iteration.verdict)


# --------------------------------------------------------------------------- §3.12


class TestSummaries:
    def test_listing_after_operator_actions(self) -> None:
        """
        §3.12/§2.3: SessionSummary reflects status, final verdict, iteration count and updated_at.
        """
        clock = FakeClock(step=1)
        mission = mk.Mission(tools={"train": losses(1.0)}, clock=clock)
        sessions = {
            name: start(mission, session_id=f"mission-{name}") for name in ("a", "b", "c", "d")
        }
        sessions["a"].step()
        sessions["a"].complete("by_hand")
        sessions["b"].abort()
        sessions["c"].step()
        sessions["c"].abort(pause=True)

        listing = {s.session_id: s for s in mission.sessions()}

        expected: dict[str, tuple[Any, ...]] = {
            "a": ("completed", 1, "complete", "by_hand"),
            "b": ("terminated", 0, "terminate", "user_abort"),
            "c": ("paused", 1, None, None),
            "d": ("pending", 0, None, None),
        }
        for name, session in sessions.items():
            summary = listing[session.id]
            state = session.state
            assert expected[name] == (
                summary.status,
                summary.iteration_count,
                summary.final_verdict,
                summary.final_verdict_reason,
            )
            assert (state.created_at, state.updated_at, None) == (
                summary.created_at,
                summary.updated_at,
                summary.error,
            )
        assert ["mission-c"] == [s.session_id for s in mission.sessions("paused")]

    def test_history_summaries_match_iterate(self) -> None:
        """§2.4/§3.12: history("summary") equals the IterationSummary dicts iterate() returned."""
        mission = mk.Mission(tools={"train": losses(1.0, 0.5, 0.05)}, clock=FakeClock(step=1))
        session = start(mission)

        summaries = mission.iterate(session.id, 10)

        assert [s.to_dict() for s in summaries] == session.history()
        assert 3 == len(summaries)


# --- re-entrant use of a handle from work the engine runs (SPEC §2.4, §6.17, §6.19)


def _flat_train() -> dict[str, Any]:
    """
    A tool that never reaches the target.
    """
    return {"metrics": {"loss": 1.0}}


def _start_flat(mission: mk.Mission) -> mk.Session:
    return mission.start(
        directive="Drive the loss down",
        criteria=LOSS,
        budget={"max_iterations": 5, "max_wall_clock_seconds": -1},
        tool_allowlist=["train"],
    )


def _in_thread_with_loop(body: Any, timeout: float = 5.0) -> tuple[bool, dict[str, Any]]:
    """
    Run ``asyncio.run(body())`` on a daemon thread; return (finished, result box).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(body())
        except BaseException as exc:  # pragma: no cover - reported by the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive(), box


class TestSyncInsideRunningLoop:
    def test_run_on_iteration_reading_the_session_inside_a_loop(self) -> None:
        """
        §2.4/§6.19/§6.17: run(on_iteration=...) whose callback reads the same handle works inside
        a running loop exactly as it does without one.
        """
        mission = mk.Mission(tools={"train": _flat_train}, clock=FakeClock())
        session = _start_flat(mission)
        seen: list[int] = []

        async def body() -> Any:
            return session.run(
                max_iterations=2,
                on_iteration=lambda it: seen.append(len(session.state.iterations)),
            )

        finished, box = _in_thread_with_loop(body)

        assert finished, "session.run() inside a running loop deadlocked"
        assert ([1, 2], None) == (seen, box.get("value"))

    def test_tool_reading_the_session_inside_a_loop(self) -> None:
        """
        §2.4/§6.19: a tool reading session.status during a sync step behaves the same with or
        without a running loop in the calling thread.
        """
        holder: dict[str, Any] = {}

        def peek() -> dict[str, Any]:
            holder["status"] = holder["session"].status
            return {"metrics": {"loss": 1.0}}

        mission = mk.Mission(tools={"train": peek}, clock=FakeClock())
        session = _start_flat(mission)
        holder["session"] = session

        async def body() -> Any:
            return session.step()

        finished, box = _in_thread_with_loop(body)

        assert finished, "session.step() inside a running loop deadlocked"
        assert "pending" == holder.get("status")
        assert 0 == box["value"].iteration_index


class TestAsyncReentrancy:
    def test_arun_callback_may_use_the_same_handle(self) -> None:
        """
        §6.17/§6.19: an async on_iteration awaiting the same handle's apropose() works,
        as the sync run() allows session.propose() in its callback.
        """
        mission = mk.Mission(tools={"train": _flat_train}, clock=FakeClock())
        session = _start_flat(mission)

        async def callback(it: mk.Iteration) -> None:
            await session.apropose()

        async def body() -> Any:
            return await asyncio.wait_for(session.arun(max_iterations=1, on_iteration=callback), 3)

        assert None is asyncio.run(body())
        assert session.state.pending_proposal is not None
