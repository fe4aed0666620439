"""
Conformance tests for the engine (SPEC §6) and the proposers (SPEC §7).

Black-box: only the public API (``missionkit``, ``missionkit.testing``,
``missionkit.store``, ``missionkit.audit``, ``missionkit.proposers``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from typing import Any

import pytest

import missionkit as mk
from fakes import event_criterion, event_label, proposal_context, start, threshold
from missionkit.audit import MemorySink
from missionkit.proposers import ProposalContext, default_proposer
from missionkit.store import MemoryStore
from missionkit.testing import FakeClock, ScriptedProposer

SID = "mission-conformance"
# Every session here gets this id (a keyword argument may still override it).
_start = functools.partial(start, session_id=SID)


def _verdicts(iterations: Any) -> list[str]:
    return [f"{it.verdict}/{it.verdict_reason}" for it in iterations]


def _call(name: str, status: str = "ok", **kwargs: Any) -> dict[str, Any]:
    return {"tool_name": name, "status": status, **kwargs}


def _ok(**metrics: Any) -> Any:
    def tool() -> dict[str, Any]:
        return {"metrics": dict(metrics)}

    return tool


class TestGate:
    def test_deadline_is_checked_before_runnable_tools(self) -> None:
        """§6.2: past the cap, a deadline iteration is recorded even with no runnable tool."""
        clock = FakeClock()
        sink = MemorySink()
        mission = mk.Mission(tools={"ext": None}, clock=clock, sinks=[sink])
        session = _start(mission, [event_criterion()], budget={"max_wall_clock_seconds": 10})
        session.observe({"metrics": {}})
        clock.advance(10)
        sink.clear()

        iteration = session.step()

        assert ("terminate", "max_wall_clock", None, None) == (
            iteration.verdict,
            iteration.verdict_reason,
            iteration.strategy,
            iteration.observation,
        )
        assert ["decide"] == [p.phase for p in iteration.phases]
        assert ["phase:decide:succeeded", "verdict:terminate/max_wall_clock"] == [
            event_label(e) for e in sink.events
        ]
        assert "terminated" == session.status

    def test_no_runnable_tool_refusal_details(self) -> None:
        """§6.2 step 4: ProposeNoToolAvailable carries the allowlist and writes nothing."""
        sink = MemorySink()
        mission = mk.Mission(tools={"ext": None}, clock=FakeClock(), sinks=[sink])
        session = _start(mission, [event_criterion()])
        sink.clear()

        with pytest.raises(mk.ProposeNoToolAvailable) as info:
            session.step()

        assert {
            "code": "propose_no_tool_available",
            "details": {"session_id": SID, "tool_allowlist": ["ext"]},
        } == info.value.to_dict()
        assert (1, "pending", []) == (session.state.revision, session.status, sink.events)

    def test_resumed_pending_session_starts_at_first_step(self) -> None:
        """§6.2 step 5: a session resumed to pending gets started_at = t0 of its first iteration."""
        clock = FakeClock()
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=clock)
        session = _start(mission, [threshold()])
        session.abort(pause=True)
        clock.advance(5)
        session.resume()
        assert (None, "pending") == (session.state.started_at, session.status)
        clock.advance(7)

        iteration = session.step()

        state = session.state
        assert clock.now == iteration.started_at
        assert (iteration.started_at, 0.0, "running") == (
            state.started_at,
            state.paused_seconds,
            state.status,
        )

    def test_gate_refreshes_from_the_store(self) -> None:
        """§6.2 steps 1–2: step() re-reads the store; stale handles see deletion and completion."""
        mission = mk.Mission(tools=[_ok()], clock=FakeClock())
        session = _start(mission, [event_criterion()])
        session.step()
        mission.session(SID).complete()

        with pytest.raises(mk.SessionTerminal) as terminal:
            session.step()
        mission.store.delete_session(SID)
        with pytest.raises(mk.SessionNotFound) as missing:
            session.step()

        assert {"session_id": SID, "status": "completed"} == terminal.value.details
        assert {"session_id": SID} == missing.value.details

    def test_time_before_the_first_step_is_not_active(self) -> None:
        """§6.2 step 3/§6.12: no deadline before started_at; idle time before it never counts."""
        clock = FakeClock()
        mission = mk.Mission(tools=[_ok()], clock=clock)
        session = _start(mission, [event_criterion()], budget={"max_wall_clock_seconds": 10})
        clock.advance(1000)

        iteration = session.step()

        assert (
            "continue",
            "in_progress",
            ["propose", "execute", "observe", "evaluate", "decide"],
        ) == (
            iteration.verdict,
            iteration.verdict_reason,
            [p.phase for p in iteration.phases],
        )

    def test_deadline_discards_pending_proposal(self) -> None:
        """§6.12: the deadline iteration discards a pending proposal and has one decide record."""
        clock = FakeClock()
        mission = mk.Mission(tools=[_ok()], clock=clock)
        session = _start(mission, [event_criterion()], budget={"max_wall_clock_seconds": 10})
        session.step()
        session.propose()
        clock.advance(10)

        iteration = session.step()

        state = session.state
        assert (["decide"], None, (), None, [], False, 0) == (
            [p.phase for p in iteration.phases],
            iteration.strategy,
            iteration.tool_calls,
            iteration.observation,
            list(iteration.criteria_evaluation),
            iteration.checkpoint_evaluated,
            iteration.no_progress_counter,
        )
        assert (None, "terminated", "max_wall_clock") == (
            state.pending_proposal,
            state.status,
            state.final_verdict_reason,
        )
        report = session.report()
        assert report is not None
        assert (2, iteration.ended_at) == (report.iterations_run, report.ended_at)


class TestPropose:
    def test_async_proposer_is_awaited(self) -> None:
        """§6.3 step 2: a proposer returning an awaitable is awaited and its mapping used."""

        async def proposer(ctx: ProposalContext) -> dict[str, Any]:
            await asyncio.sleep(0)
            return {"tool_calls": [{"tool_name": "b", "args": {}}], "rationale": "async"}

        mission = mk.Mission(tools={"a": _ok(), "b": _ok()}, clock=FakeClock(), proposer=proposer)
        iteration = _start(mission, [event_criterion()]).step()

        assert ("proposer", "async", ["b"]) == (
            iteration.strategy_source,
            iteration.strategy.rationale,  # type: ignore[union-attr]
            [r.tool_name for r in iteration.tool_calls],
        )

    def test_proposer_may_name_a_non_allowlisted_tool(self) -> None:
        """§6.3/§4.9: allowlist membership is not validated; the call is skipped at execution."""
        b_calls: list[int] = []

        def b() -> None:
            b_calls.append(1)

        proposer = ScriptedProposer({"tool_calls": [{"tool_name": "b"}]})
        mission = mk.Mission(tools={"a": _ok(), "b": b}, clock=FakeClock(), proposer=proposer)
        iteration = _start(mission, [event_criterion()], tool_allowlist=["a"]).step()

        assert ("succeeded", "proposer", "skipped_not_allowed", []) == (
            iteration.status,
            iteration.strategy_source,
            iteration.tool_calls[0].status,
            b_calls,
        )


class TestExecute:
    def test_tool_timeout_overrides_mission_default(self) -> None:
        """§6.4: Tool.timeout replaces (is not min-ed with) the Mission tool_timeout."""

        def slow() -> dict[str, Any]:
            time.sleep(0.2)
            return {"metrics": {}}

        mission = mk.Mission(tools=[mk.Tool(slow, timeout=5)], tool_timeout=0.05, clock=FakeClock())
        record = _start(mission, [event_criterion()]).step().tool_calls[0]

        assert ("ok", None) == (record.status, record.error_message)

    def test_remaining_wall_clock_bounds_the_call(self) -> None:
        """§6.4: the effective timeout is bounded by the remaining active seconds."""
        release = threading.Event()

        def hang() -> None:
            release.wait(10)

        mission = mk.Mission(tools=[hang], clock=FakeClock())
        session = _start(mission, [event_criterion()], budget={"max_wall_clock_seconds": 1})
        try:
            record = session.step().tool_calls[0]
        finally:
            release.set()

        assert ("failed", "TimeoutError: tool call exceeded 1s", 0) == (
            record.status,
            record.error_message,
            record.duration_ms,
        )

    def test_sync_tool_thread_placement(self) -> None:
        """§6.4: sync tools run on the calling thread only from sync calls without a timeout."""
        seen: list[int] = []

        def where() -> dict[str, Any]:
            seen.append(threading.get_ident())
            return {}

        plain = _start(mk.Mission(tools=[where], clock=FakeClock()), [event_criterion()])
        timed = _start(
            mk.Mission(tools=[where], clock=FakeClock(), tool_timeout=30), [event_criterion()]
        )
        asynced = _start(mk.Mission(tools=[where], clock=FakeClock()), [event_criterion()])
        plain.step()
        timed.step()
        asyncio.run(asynced.astep())

        me = threading.get_ident()
        assert [True, False, False] == [ident == me for ident in seen]

    def test_exhausted_wall_clock_times_out_later_calls(self) -> None:
        """§6.4: once a call uses up the active time, later calls get an effective timeout of 0."""
        clock = FakeClock()

        def a() -> dict[str, Any]:
            clock.advance(10)
            return {}

        def b() -> dict[str, Any]:
            time.sleep(0.2)
            return {}

        proposer = ScriptedProposer({"tool_calls": [{"tool_name": "a"}, {"tool_name": "b"}]})
        mission = mk.Mission(tools=[a, b], clock=clock, proposer=proposer)
        session = _start(mission, [event_criterion()], budget={"max_wall_clock_seconds": 10})
        iteration = session.step()

        assert [("ok", None), ("failed", "TimeoutError: tool call exceeded 0s")] == [
            (r.status, r.error_message) for r in iteration.tool_calls
        ]
        assert "terminate/max_wall_clock" == _verdicts([iteration])[0]


class TestObserve:
    def test_host_ok_call_drops_error_message(self) -> None:
        """§3.6/§6.11: a host-reported ok call keeps no error_message and gets a result_summary."""
        mission = mk.Mission(tools={"ext": None}, clock=FakeClock())
        session = _start(mission, [event_criterion()])
        iteration = session.observe(
            {"tool_calls": [_call("ext", result=[1, 2, 3], error_message="ignored")]}
        )
        record = iteration.tool_calls[0]

        assert (None, {"type": "array", "bytes": 7, "length": 3}) == (
            record.error_message,
            record.result_summary,
        )
        assert {"_status": "ok", "tool_name": "ext", "result": [1, 2, 3]} == (
            iteration.observation.tool_results[0]  # type: ignore[union-attr]
        )

    def test_observe_skips_the_deadline(self) -> None:
        """§6.11: observe() runs no deadline check; completion beats the wall-clock budget."""
        clock = FakeClock()
        mission = mk.Mission(tools={"ext": None}, clock=clock)
        session = _start(mission, [threshold()], budget={"max_wall_clock_seconds": 10})
        session.observe({"metrics": {"loss": 1.0}})
        clock.advance(60)

        iteration = session.observe({"metrics": {"loss": 0.05}})

        assert ("complete/criteria_met", True) == (
            f"{iteration.verdict}/{iteration.verdict_reason}",
            iteration.checkpoint_evaluated,
        )

    def test_observe_past_deadline_unmet_is_max_wall_clock(self) -> None:
        """§6.11/§6.7: an unmet observation past the cap is evaluated, then terminates on rule 5."""
        clock = FakeClock()
        mission = mk.Mission(tools={"ext": None}, clock=clock)
        session = _start(mission, [threshold()], budget={"max_wall_clock_seconds": 10})
        session.observe({"metrics": {"loss": 1.0}})
        clock.advance(60)

        iteration = session.observe({"metrics": {"loss": 0.5}})

        assert ("terminate", "max_wall_clock", True, 1) == (
            iteration.verdict,
            iteration.verdict_reason,
            iteration.checkpoint_evaluated,
            len(iteration.criteria_evaluation),
        )


class TestEvaluate:
    def test_metric_history_keeps_finite_top_level_numbers(self) -> None:
        """§6.6.2: metric_history appends float(v) for finite int/float top-level metrics only."""
        values = iter(
            [
                {"metrics": {"a": 1, "b": True, "c": float("nan"), "d": {"x": 1}, "e": "s"}},
                {"metrics": {"a": 2.5, "c": 3}},
            ]
        )

        def tool() -> dict[str, Any]:
            return next(values)

        criterion = {
            "criterion_id": "h",
            "kind": "predicate",
            "required": False,
            "expression": "obs['metric_history']",
        }
        mission = mk.Mission(tools=[tool], clock=FakeClock())
        session = _start(mission, [event_criterion(), criterion])
        first = session.step().criteria_evaluation[1].evidence
        second = session.step().criteria_evaluation[1].evidence

        assert {"a": [1.0]} == first
        assert {"a": [1.0, 2.5], "c": [3.0]} == second

    def test_trend_terminate_policy(self) -> None:
        """§6.6.3/§6.7 rule 3: a metric_trend with the terminate policy ends the session on NaN."""

        def tool() -> dict[str, Any]:
            return {"metrics": {"loss": float("nan")}}

        trend = {
            "criterion_id": "trend",
            "kind": "metric_trend",
            "required": True,
            "metric": "loss",
            "direction": "decreasing",
            "on_non_finite": "terminate",
        }
        session = _start(mk.Mission(tools=[tool], clock=FakeClock()), [trend])
        iteration = session.step()
        result = iteration.criteria_evaluation[0]

        assert ("inconclusive", "non_finite:nan") == (result.status, result.evidence)
        assert ("terminate", "non_finite") == (iteration.verdict, iteration.verdict_reason)

    def test_only_optional_criteria_unmet_completes(self) -> None:
        """§6.7 rule 2: with no required criterion, non-inconclusive results complete."""
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=FakeClock())
        session = _start(mission, [threshold(required=False)])
        iteration = session.step()

        assert ("unmet", "complete", "criteria_met") == (
            iteration.criteria_evaluation[0].status,
            iteration.verdict,
            iteration.verdict_reason,
        )

    def test_view_accumulates_tool_results_but_not_errors(self) -> None:
        """§6.6.2: tool_results are cumulative; errors and phase times are the current ones."""
        outcomes = iter([RuntimeError("down"), {}])

        def tool() -> dict[str, Any]:
            value = next(outcomes)
            if isinstance(value, Exception):
                raise value
            return value

        criterion = {
            "criterion_id": "v",
            "kind": "predicate",
            "required": False,
            "expression": "[len(obs['tool_results']), len(obs['errors']), obs['phase_started_at']]",
        }
        mission = mk.Mission(tools=[tool], clock=FakeClock(step=1.0))
        session = _start(mission, [event_criterion(), criterion], stagnation_threshold=50)
        iterations = [session.step(), session.step()]

        def stamp(it: mk.Iteration) -> str:
            return it.observation.phase_started_at.isoformat(timespec="microseconds")  # type: ignore[union-attr]

        assert [[1, 1, stamp(iterations[0])], [2, 0, stamp(iterations[1])]] == [
            it.criteria_evaluation[1].evidence for it in iterations
        ]
        observe = next(p for p in iterations[1].phases if p.phase == "observe")
        assert observe.started_at == iterations[1].observation.phase_started_at  # type: ignore[union-attr]

    def test_every_t_seconds_uses_wall_time(self) -> None:
        """§6.6.1: every_t_seconds measures wall time since the last checkpoint, pauses included."""
        clock = FakeClock()
        mission = mk.Mission(tools=[_ok()], clock=clock)
        session = _start(
            mission,
            [event_criterion()],
            checkpoint_cadence={"kind": "every_t_seconds", "t": 10},
            stagnation_threshold=50,
        )
        first = session.step()
        session.abort(pause=True)
        clock.advance(20)
        session.resume()
        second = session.step()
        third = session.step()

        assert [True, True, False] == [it.checkpoint_evaluated for it in (first, second, third)]


class TestCascadeOrder:
    def test_max_iterations_beats_max_wall_clock(self) -> None:
        """§6.7: rule 4 (max_iterations) wins over rule 5 (max_wall_clock)."""
        clock = FakeClock()

        def tool() -> dict[str, Any]:
            clock.advance(100)
            return {}

        mission = mk.Mission(tools=[tool], clock=clock)
        session = _start(
            mission, [event_criterion()], budget={"max_iterations": 1, "max_wall_clock_seconds": 5}
        )

        assert "terminate/max_iterations" == _verdicts([session.step()])[0]

    def test_max_wall_clock_beats_no_progress(self) -> None:
        """§6.7: rule 5 (max_wall_clock) wins over rule 6 (no_progress)."""
        clock = FakeClock()
        calls = []

        def tool() -> dict[str, Any]:
            calls.append(1)
            if len(calls) == 2:
                clock.advance(100)
            return {}

        mission = mk.Mission(tools=[tool], clock=clock)
        session = _start(
            mission,
            [event_criterion()],
            budget={"max_wall_clock_seconds": 50},
            stagnation_threshold=1,
        )
        iterations = [session.step(), session.step()]

        assert ["continue/in_progress", "terminate/max_wall_clock"] == _verdicts(iterations)
        assert 1 == iterations[1].no_progress_counter

    def test_cadence_skip_beats_adjust(self) -> None:
        """§6.7: an off-cadence iteration with a new error is cadence_skip, never adjust."""
        outcomes = iter([{}, RuntimeError("boom")])

        def tool() -> dict[str, Any]:
            value = next(outcomes)
            if isinstance(value, Exception):
                raise value
            return value

        mission = mk.Mission(tools=[tool], clock=FakeClock())
        session = _start(
            mission,
            [event_criterion()],
            checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
            stagnation_threshold=50,
        )
        iterations = [session.step(), session.step()]

        assert ["continue/in_progress", "continue/cadence_skip"] == _verdicts(iterations)
        assert 1 == len(iterations[1].observation.errors)  # type: ignore[union-attr]


class TestAdjustHeuristic:
    def test_repetition_uses_ceil_of_half_the_threshold(self) -> None:
        """§6.8(a): with threshold 5, repetition needs counter ≥ ceil(5/2) = 3."""
        mission = mk.Mission(tools=[_ok()], clock=FakeClock())
        session = _start(mission, [event_criterion()], stagnation_threshold=5)
        iterations = [session.step() for _ in range(6)]

        assert [
            "continue/in_progress",
            "continue/in_progress",
            "continue/in_progress",
            "adjust/heuristic_unproductive",
            "adjust/heuristic_unproductive",
            "terminate/no_progress",
        ] == _verdicts(iterations)
        assert iterations[3].revision_rationale is not None
        assert iterations[3].revision_rationale.startswith(
            "adjust at iteration 4: tool_sequence_repeating;"
        )

    def test_error_class_rules(self) -> None:
        """§6.8(b): the error class is the identifier before ': ', else the whole message."""
        mission = mk.Mission(tools={"train": None}, clock=FakeClock())
        session = _start(mission, [event_criterion()], stagnation_threshold=50)
        messages = [
            "Timeout: request 1",
            "Timeout: request 2",
            "request 3 failed",
            "request 4 failed",
            "bad thing: 5",
            "bad thing: 5",
        ]
        iterations = [
            session.observe({"tool_calls": [_call("train", "failed", error_message=m)]})
            for m in messages
        ]

        assert [
            "continue/in_progress",
            "continue/in_progress",
            "adjust/heuristic_unproductive",
            "adjust/heuristic_unproductive",
            "adjust/heuristic_unproductive",
            "continue/in_progress",
        ] == _verdicts(iterations)
        assert (
            "adjust at iteration 3: new_observation_errors; unmet criteria: done; "
            "strategy: train; no-progress 2/50; propose a different strategy next."
        ) == iterations[2].revision_rationale

    def test_null_error_message_signature(self) -> None:
        """§6.8(b): a null error_message has class '', distinct from any message."""
        mission = mk.Mission(tools={"train": None}, clock=FakeClock())
        session = _start(mission, [event_criterion()], stagnation_threshold=50)
        first = session.observe({"tool_calls": [_call("train", "failed", error_message="E: 1")]})
        second = session.observe({"tool_calls": [_call("train", "failed")]})
        third = session.observe({"tool_calls": [_call("train", "failed")]})

        assert [
            "continue/in_progress",
            "adjust/heuristic_unproductive",
            "continue/in_progress",
        ] == (_verdicts([first, second, third]))

    def test_rationale_lists_only_unmet_ids_and_executed_tools(self) -> None:
        """§6.8: ids are the unmet ones in declaration order; summary joins executed tool names."""
        calls = iter([{}, RuntimeError("down")])

        def b() -> dict[str, Any]:
            value = next(calls)
            if isinstance(value, Exception):
                raise value
            return value

        two = {"tool_calls": [{"tool_name": "a"}, {"tool_name": "b"}]}
        mission = mk.Mission(
            tools={"a": _ok(), "b": b}, clock=FakeClock(), proposer=ScriptedProposer(two, two)
        )
        criteria = [
            event_criterion("first"),
            threshold("missing", metric="metrics.nope"),
            event_criterion("third", required=False),
        ]
        session = _start(mission, criteria, stagnation_threshold=50)
        session.step()
        iteration = session.step()

        assert (
            "adjust at iteration 2: new_observation_errors; unmet criteria: first, third; "
            "strategy: a, b; no-progress 1/50; propose a different strategy next."
        ) == iteration.revision_rationale


class TestCommit:
    def test_terminal_commit_is_one_save(self) -> None:
        """§6.9: a terminal step is one revision bump; ended_at equals the iteration's ended_at."""
        clock = FakeClock(step=1.0)
        mission = mk.Mission(tools=[_ok(loss=0.0)], clock=clock)
        session = _start(mission, [threshold()])
        before = session.state.revision

        iteration = session.step()

        state = session.state
        report = session.report()
        assert report is not None
        assert (before + 1, "completed", "complete", "criteria_met", None) == (
            state.revision,
            state.status,
            state.final_verdict,
            state.final_verdict_reason,
            state.pending_proposal,
        )
        assert (iteration.ended_at, iteration.ended_at) == (state.ended_at, report.ended_at)
        assert iteration.started_at == state.started_at

    def test_non_terminal_commit_sets_last_checkpoint(self) -> None:
        """§6.9/§6.6.1: a non-terminal commit bumps the revision once, sets last_checkpoint_at."""
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=FakeClock(step=1.0))
        session = _start(mission, [threshold()])
        iteration = session.step()
        state = session.state
        evaluate = next(p for p in iteration.phases if p.phase == "evaluate")

        assert (2, "running", evaluate.started_at, None) == (
            state.revision,
            state.status,
            state.last_checkpoint_at,
            state.ended_at,
        )


class _FailingSaves(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def save_session(self, state: Any, **kwargs: Any) -> None:
        if self.fail:
            raise mk.StoreError("disk full", session_id=state.session_id)
        super().save_session(state, **kwargs)


class TestFailedIterations:
    def test_failed_iteration_keeps_counter_and_emits_fail(self) -> None:
        """§6.10: a failed iteration keeps the counter, has no verdict and emits lifecycle fail."""
        sink = MemorySink()
        armed: list[bool] = []

        def proposer(ctx: ProposalContext) -> None:
            if armed:
                raise ZeroDivisionError("division by zero")
            return None

        mission = mk.Mission(
            tools=[_ok(loss=1.0)], clock=FakeClock(), sinks=[sink], proposer=proposer
        )
        session = _start(mission, [threshold()], stagnation_threshold=50)
        session.step()
        session.step()
        armed.append(True)
        sink.clear()

        with pytest.raises(ZeroDivisionError) as info:
            session.step()

        assert [f"missionkit: iteration 2 of session {SID} failed in phase propose"] == (
            info.value.__notes__
        )
        state = session.state
        failed = state.iterations[2]
        assert ("failed", None, None, False, False, 1) == (
            failed.status,
            failed.verdict,
            failed.verdict_reason,
            failed.checkpoint_evaluated,
            failed.progress,
            failed.no_progress_counter,
        )
        assert ("failed", None, failed.ended_at, 1) == (
            state.status,
            state.final_verdict,
            state.ended_at,
            state.no_progress_counter,
        )
        assert ["phase:propose:failed", "lifecycle:fail"] == [event_label(e) for e in sink.events]
        fail = sink.events[-1].to_dict()
        assert {
            "status": "failed",
            "previous_status": "running",
            "iteration_index": 2,
            "error_message": "ZeroDivisionError: division by zero",
        } == {k: fail[k] for k in ("status", "previous_status", "iteration_index", "error_message")}

    def test_failed_save_is_logged_and_noted(self, caplog: pytest.LogCaptureFixture) -> None:
        """§6.10: a failing save of a failed iteration is logged at ERROR and added as a note."""
        store = _FailingSaves()
        sink = MemorySink()

        def proposer(ctx: ProposalContext) -> None:
            raise ZeroDivisionError("division by zero")

        mission = mk.Mission(
            tools=[_ok()], clock=FakeClock(), store=store, sinks=[sink], proposer=proposer
        )
        session = _start(mission, [event_criterion()])
        store.fail = True
        sink.clear()

        with (
            caplog.at_level(logging.ERROR, logger="missionkit"),
            pytest.raises(ZeroDivisionError) as info,
        ):
            session.step()

        assert 2 == len(info.value.__notes__)
        assert info.value.__notes__[0].endswith("failed in phase propose")
        assert [logging.ERROR] == [r.levelno for r in caplog.records if r.name == "missionkit"]
        assert ["phase:propose:failed"] == [event_label(e) for e in sink.events]
        store.fail = False
        assert ("pending", 1) == (session.status, session.state.revision)

    def test_long_failure_text_is_cut_and_original_raised(self) -> None:
        """§6.1/§6.10: failure texts are cut to 200 characters; the same exception is re-raised."""
        boom = RuntimeError("x" * 500)
        sink = MemorySink()

        def proposer(ctx: ProposalContext) -> None:
            raise boom

        mission = mk.Mission(tools=[_ok()], clock=FakeClock(), sinks=[sink], proposer=proposer)
        session = _start(mission, [event_criterion()])

        with pytest.raises(RuntimeError) as info:
            session.step()

        text = ("RuntimeError: " + "x" * 500)[:200]
        report = session.report()
        assert report is not None
        assert info.value is boom
        assert [text, text, text] == [
            session.state.iterations[0].phases[0].error_message,
            sink.events[-1].error_message,  # type: ignore[union-attr]
            report.failure["error_message"],  # type: ignore[index]
        ]


class TestAskTell:
    def test_propose_failure_is_a_failed_iteration(self) -> None:
        """§6.11: a propose() phase failure is a failed iteration at index len(iterations)."""
        sink = MemorySink()

        def proposer(ctx: ProposalContext) -> None:
            raise ValueError("nope")

        mission = mk.Mission(
            tools={"ext": None}, clock=FakeClock(), sinks=[sink], proposer=proposer
        )
        session = _start(mission, [event_criterion()])
        sink.clear()

        with pytest.raises(ValueError, match="nope") as info:
            session.propose()

        assert [f"missionkit: iteration 0 of session {SID} failed in phase propose"] == (
            info.value.__notes__
        )
        state = session.state
        assert ("failed", 1, "failed", ["propose"]) == (
            state.status,
            len(state.iterations),
            state.iterations[0].status,
            [p.phase for p in state.iterations[0].phases],
        )
        assert ["phase:propose:failed", "lifecycle:fail"] == [event_label(e) for e in sink.events]

    def test_propose_candidates_are_known_tools(self) -> None:
        """§7.2: propose() offers known tools (external included); step() only runnable ones."""

        def run() -> dict[str, Any]:
            """Run it."""
            return {}

        proposer = ScriptedProposer()
        mission = mk.Mission(tools={"run": run, "ext": None}, clock=FakeClock(), proposer=proposer)
        session = _start(mission, [event_criterion()], tool_allowlist=["ext", "run"])
        session.step()
        session.propose()

        runnable, known = proposer.contexts
        assert (("ext", "run"), ("run",)) == (known.candidate_tools, runnable.candidate_tools)
        assert {"ext": "", "run": "Run it."} == dict(known.tool_descriptions)

    def test_observe_validates_before_the_gate(self) -> None:
        """§6.11: observe() validates its input first, even on a terminal session."""
        mission = mk.Mission(tools={"ext": None}, clock=FakeClock())
        session = _start(mission, [event_criterion()])
        session.complete()

        with pytest.raises(mk.MissionValidationError) as info:
            session.observe({"metrics": 5})
        with pytest.raises(mk.SessionTerminal):
            session.observe({"metrics": {}})

        assert {"field": "observation", "subfield": "metrics", "reason": "not_a_dict"} == (
            info.value.details
        )

    def test_step_executes_a_pending_external_proposal(self) -> None:
        """§6.11/§6.4: step() adopts an external-tool proposal; the call fails with fixed text."""
        mission = mk.Mission(tools={"ext": None, "run": _ok()}, clock=FakeClock())
        session = _start(mission, [event_criterion()])
        proposed = session.propose()

        iteration = session.step()

        assert ("ext", "default") == (
            proposed.tool_calls[0].tool_name,  # type: ignore[index]
            iteration.strategy_source,
        )
        assert [
            (
                "ext",
                "failed",
                "LookupError: tool 'ext' is external; report its result with Session.observe()",
            )
        ] == [(r.tool_name, r.status, r.error_message) for r in iteration.tool_calls]
        assert ["propose", "execute", "observe", "evaluate", "decide"] == [
            p.phase for p in iteration.phases
        ]


class TestWallClock:
    def test_idle_time_counts_and_paused_time_does_not(self) -> None:
        """§6.12/§7.2: remaining_seconds counts idle time between iterations but not paused time."""
        clock = FakeClock()
        proposer = ScriptedProposer()
        mission = mk.Mission(tools=[_ok()], clock=clock, proposer=proposer)
        session = _start(mission, [event_criterion()], budget={"max_wall_clock_seconds": 100})
        session.step()
        clock.advance(30)
        session.abort(pause=True)
        clock.advance(1000)
        session.resume()
        clock.advance(30)
        session.step()

        assert [100.0, 40.0] == [ctx.remaining_seconds for ctx in proposer.contexts]
        assert 1000.0 == session.state.paused_seconds


class TestOperators:
    def test_complete_pending_session(self) -> None:
        """§6.13: complete() on a pending session appends no iteration; emits complete."""
        sink = MemorySink()
        mission = mk.Mission(tools=[_ok()], clock=FakeClock(), sinks=[sink])
        session = _start(mission, [event_criterion()])
        sink.clear()

        report = session.complete("looks_good")

        assert (0, None, 0, None) == (
            report.iterations_run,
            report.started_at,
            report.active_seconds,
            report.final_criteria_evaluation,
        )
        assert ("completed", "complete", "looks_good") == (
            session.status,
            session.state.final_verdict,
            session.state.final_verdict_reason,
        )
        [event] = sink.events
        data = event.to_dict()
        assert ("complete", "completed", "pending", "complete", "looks_good") == (
            data["action"],
            data["status"],
            data["previous_status"],
            data["final_verdict"],
            data["final_verdict_reason"],
        )


class TestAuditSequence:
    def test_operation_event_sequence(self) -> None:
        """§6.16: start, pause, resume, propose, step, observe, abort emit events in order."""
        sink = MemorySink()
        mission = mk.Mission(tools={"run": _ok(), "ext": None}, clock=FakeClock(), sinks=[sink])
        session = _start(mission, [event_criterion()], stagnation_threshold=50)
        session.abort(pause=True)
        session.resume()
        session.propose()
        session.step()
        session.observe({"metrics": {}})
        session.abort()

        assert [
            "lifecycle:start",
            "lifecycle:pause",
            "lifecycle:resume",
            "phase:propose:succeeded",
            "phase:execute:succeeded",
            "phase:observe:succeeded",
            "phase:evaluate:succeeded",
            "phase:decide:succeeded",
            "verdict:continue/in_progress",
            "phase:observe:succeeded",
            "phase:evaluate:succeeded",
            "phase:decide:succeeded",
            "verdict:continue/in_progress",
            "lifecycle:abort",
        ] == [event_label(e) for e in sink.events]


class TestProposalContext:
    def test_criteria_status_tracks_last_evaluated_iteration(self) -> None:
        """§7.2: criteria_status is None per id until evaluated, then the last evaluated results."""
        proposer = ScriptedProposer()
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=FakeClock(), proposer=proposer)
        session = _start(
            mission,
            [threshold(), event_criterion()],
            budget={"max_iterations": 5},
            checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
            stagnation_threshold=50,
        )
        first = session.step()
        session.step()
        session.step()
        ctx0, ctx1, ctx2 = proposer.contexts

        assert {"loss": None, "done": None} == dict(ctx0.criteria_status)
        assert dict(zip(("loss", "done"), first.criteria_evaluation, strict=True)) == dict(
            ctx2.criteria_status
        )
        assert dict(ctx1.criteria_status) == dict(ctx2.criteria_status)
        assert (
            2,
            mk.Verdict("continue", "cadence_skip"),
            False,
            None,
            3,
            False,
        ) == (
            len(ctx2.history),
            ctx2.last_verdict,
            ctx2.adjust_requested,
            ctx2.revision_rationale,
            ctx2.remaining_iterations,
            ctx2.is_last_iteration,
        )
        assert (None, None) == (ctx0.last_verdict, ctx0.remaining_seconds)


class TestDefaultProposer:
    def test_skipped_records_do_not_count_as_tried(self) -> None:
        """§7.3: only ok/failed records make a tool tried; skipped_not_allowed does not."""
        mission = mk.Mission(tools={"a": None, "b": None}, clock=FakeClock())
        session = _start(mission, [event_criterion()], stagnation_threshold=50)
        session.observe({"tool_calls": [_call("a", "skipped_not_allowed")]})

        assert "deterministic fallback: try untried tool a" == session.propose().rationale

    def test_rerun_picks_newest_ok_record_within_an_iteration(self) -> None:
        """§7.3 rule 3: records are scanned newest first; the first ok one is re-run."""
        mission = mk.Mission(tools={"a": None, "b": None}, clock=FakeClock())
        session = _start(mission, [event_criterion()], stagnation_threshold=50)
        session.observe(
            {"tool_calls": [_call("a", "failed", error_message="E: 1"), _call("b", args={"y": 1})]}
        )
        session.observe(
            {
                "tool_calls": [
                    _call("a", args={"x": 1}),
                    _call("b", args={"y": 2}),
                    _call("a", "failed", args={"x": 9}, error_message="E: 2"),
                ]
            }
        )
        strategy = session.propose()

        assert (
            mk.Strategy(
                tool_calls=(mk.ToolCall("b", {"y": 2}),),
                rationale="deterministic fallback: re-run b with prior args",
            )
            == strategy
        )

    def test_rotate_after_adjust_uses_latest_success_args(self) -> None:
        """§7.3 rule 2: rotate past the last executed tool, using the newest successful args."""
        proposer = ScriptedProposer()
        mission = mk.Mission(
            tools={"a": None, "b": None, "c": None}, clock=FakeClock(), proposer=proposer
        )
        session = _start(mission, [event_criterion()], stagnation_threshold=50)
        for calls in (
            [_call("a", args={"x": 1})],
            [_call("b", args={"y": 1})],
            [_call("c")],
            [_call("b", args={"y": 3})],
            [_call("a", "failed", args={"x": 2}, error_message="Boom: x")],
        ):
            last = session.observe({"tool_calls": calls})
        assert "adjust" == last.verdict

        assert (
            mk.Strategy(
                tool_calls=(mk.ToolCall("b", {"y": 3}),),
                rationale="deterministic fallback: rotate to b after adjust",
            )
            == session.propose()
        )
        ctx = proposer.contexts[-1]
        assert (True, last.revision_rationale, mk.Verdict("adjust", "heuristic_unproductive")) == (
            ctx.adjust_requested,
            ctx.revision_rationale,
            ctx.last_verdict,
        )

    def test_rotate_from_unknown_last_tool_goes_to_first(self) -> None:
        """§7.3 rule 2: when the last executed tool is not a candidate, C[0] is chosen."""
        mission = mk.Mission(tools={"a": None, "b": None}, clock=FakeClock())
        session = _start(mission, [event_criterion()], stagnation_threshold=50)
        session.observe({"tool_calls": [_call("a"), _call("b", args={"k": 1})]})
        last = session.observe(
            {"tool_calls": [_call("zzz", "failed", error_message="Lookup: gone")]}
        )
        assert "adjust" == last.verdict

        strategy = session.propose()

        assert ("a", {}, "deterministic fallback: rotate to a after adjust") == (
            strategy.tool_calls[0].tool_name,  # type: ignore[index]
            strategy.tool_calls[0].args,  # type: ignore[index]
            strategy.rationale,
        )

    def test_round_robin_uses_the_iteration_index(self) -> None:
        """§7.3 rule 4: everything tried, nothing successful: C[index % len(C)] is chosen."""
        mission = mk.Mission(tools={"a": None, "b": None}, clock=FakeClock())
        session = _start(mission, [event_criterion()], stagnation_threshold=50)
        session.observe(
            {
                "tool_calls": [
                    _call("a", "failed", error_message="E: 1"),
                    _call("b", "failed", error_message="E: 2"),
                ]
            }
        )
        session.observe({"tool_calls": [_call("a", "failed", error_message="E: 3")]})
        at_two = session.propose()
        session.observe({"tool_calls": [_call("a", "failed", error_message="E: 4")]})
        at_three = session.propose()

        assert [
            "deterministic fallback: round-robin a",
            "deterministic fallback: round-robin b",
        ] == [at_two.rationale, at_three.rationale]

    def test_empty_candidates_raise(self) -> None:
        """§7.3: default_proposer with no candidate tools raises ProposeNoToolAvailable."""
        ctx = proposal_context(session_id=SID, tool_allowlist=("ext",))

        with pytest.raises(mk.ProposeNoToolAvailable) as info:
            default_proposer(ctx)

        assert {"session_id": SID, "tool_allowlist": ["ext"]} == info.value.details
