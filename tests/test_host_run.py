"""
``run()``/``arun()``, ``Mission.iterate``/``aiterate`` and the sync/async model (SPEC §6.17–6.19).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import missionkit as mk
from fakes import Counter, SwitchProposer
from missionkit.testing import FakeClock

TARGET = 3
CRITERIA = [
    {
        "criterion_id": "n_big",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.n",
        "op": ">=",
        "target": TARGET,
    }
]
BUDGET = {"max_iterations": 10, "max_wall_clock_seconds": -1}
BAD_COUNTS = [0, -1, True, False, 1.0, "2", [1]]


@pytest.fixture(name="counter")
def _counter() -> Counter:
    return Counter()


@pytest.fixture(name="proposer")
def _proposer() -> SwitchProposer:
    return SwitchProposer()


@pytest.fixture(name="mission")
def _mission(counter: Counter, proposer: SwitchProposer) -> mk.Mission:
    return mk.Mission(tools=[counter], clock=FakeClock(step=1), proposer=proposer)


def start(mission: mk.Mission, target: int = TARGET, tool: str = "count") -> mk.Session:
    return mission.start(
        directive="Count up",
        criteria=[{**CRITERIA[0], "target": target}],
        budget=BUDGET,
        tool_allowlist=[tool],
    )


class TestRun:
    def test_runs_to_completion(self, mission: mk.Mission) -> None:
        """run() steps until the terminal verdict and returns the stored report."""
        session = start(mission)

        report = session.run()

        assert report is not None
        assert (TARGET, "criteria_met") == (report.iterations_run, report.final_verdict_reason)
        assert session.report() == report

    def test_max_iterations_stops_early(self, mission: mk.Mission) -> None:
        """run(max_iterations=n) returns None after n non-terminal steps."""
        session = start(mission)

        assert None is session.run(max_iterations=2)

        assert (2, "running") == (len(session.state.iterations), session.status)

    @pytest.mark.parametrize("value", BAD_COUNTS)
    def test_max_iterations_validated(self, mission: mk.Mission, value: Any) -> None:
        """run() refuses a max_iterations that is not a positive int and runs nothing."""
        session = start(mission)

        with pytest.raises(mk.InvalidArgument) as info:
            session.run(max_iterations=value)

        assert {
            "code": "invalid_argument",
            "details": {
                "session_id": session.id,
                "argument": "max_iterations",
                "reason": "must_be_positive_int",
            },
        } == info.value.to_dict()
        assert (1, ()) == (session.state.revision, session.state.iterations)

    def test_on_iteration_sees_committed_iterations(self, mission: mk.Mission) -> None:
        """on_iteration receives each iteration after it is stored."""
        session = start(mission)
        seen: list[tuple[int, int]] = []

        session.run(
            on_iteration=lambda it: seen.append((it.iteration_index, len(session.state.iterations)))
        )

        assert [(0, 1), (1, 2), (2, 3)] == seen

    def test_on_iteration_false_stops(self, mission: mk.Mission) -> None:
        """on_iteration returning False makes run() return None after that step."""
        session = start(mission)

        assert None is session.run(on_iteration=lambda it: False)

        assert 1 == len(session.state.iterations)

    @pytest.mark.parametrize("value", [None, 0, "", [], True])
    def test_only_false_stops(self, mission: mk.Mission, value: Any) -> None:
        """Only the identity False stops a run; other falsy values do not."""
        session = start(mission)

        report = session.run(on_iteration=lambda it: value)

        assert report is not None
        assert TARGET == report.iterations_run

    def test_on_iteration_exception_propagates(self, mission: mk.Mission) -> None:
        """An exception from on_iteration propagates; its iteration is already stored."""
        session = start(mission)

        def explode(it: mk.Iteration) -> None:
            raise KeyError("stop")

        with pytest.raises(KeyError):
            session.run(on_iteration=explode)

        assert 1 == len(session.state.iterations)

    def test_paused_by_another_handle(self, mission: mk.Mission) -> None:
        """run() returns None when another handle paused the session between steps."""
        session = start(mission)
        other = mission.session(session.id)

        result = session.run(on_iteration=lambda it: other.abort(pause=True))

        assert None is result
        assert (1, "paused") == (len(session.state.iterations), session.status)

    def test_failed_iteration_propagates(
        self, mission: mk.Mission, proposer: SwitchProposer
    ) -> None:
        """run() re-raises the original exception of a failed iteration, with the engine's note."""
        session = start(mission)
        proposer.armed = True

        with pytest.raises(ZeroDivisionError) as info:
            session.run()

        assert [f"missionkit: iteration 0 of session {session.id} failed in phase propose"] == (
            info.value.__notes__
        )
        assert "failed" == session.status


async def _async_count(state: dict[str, int]) -> dict[str, Any]:
    await asyncio.sleep(0)
    state["n"] += 1
    return {"metrics": {"n": state["n"]}}


def async_tool() -> mk.Tool:
    state = {"n": 0}

    async def acount() -> dict[str, Any]:
        return await _async_count(state)

    return mk.Tool(acount)


class TestEventLoops:
    def test_sync_run_inside_running_loop(self, mission: mk.Mission) -> None:
        """session.run() called from a coroutine under asyncio.run completes."""
        session = start(mission)

        async def main() -> mk.FinalReport | None:
            return session.run()

        report = asyncio.run(main())

        assert report is not None
        assert "criteria_met" == report.final_verdict_reason

    def test_sync_calls_inside_running_loop_with_async_tool(self) -> None:
        """Sync step/complete work inside a running loop even with async tools."""
        mission = mk.Mission(tools=[async_tool()], clock=FakeClock())
        session = start(mission, tool="acount")

        async def main() -> tuple[mk.Iteration, mk.FinalReport]:
            return session.step(), session.complete()

        iteration, report = asyncio.run(main())

        assert (0, "completed") == (iteration.iteration_index, report.status)
        assert iteration.observation is not None
        assert {"n": 1} == iteration.observation.metrics

    def test_arun_with_async_tools(self) -> None:
        """await session.arun() completes with async tools on the caller's loop."""
        mission = mk.Mission(tools=[async_tool()], clock=FakeClock())
        session = start(mission, tool="acount")

        report = asyncio.run(session.arun())

        assert report is not None
        assert (TARGET, "criteria_met") == (report.iterations_run, report.final_verdict_reason)

    def test_arun_with_sync_tools(self, mission: mk.Mission) -> None:
        """await session.arun() runs sync tools in worker threads and completes."""
        session = start(mission)

        report = asyncio.run(session.arun(on_iteration=lambda it: None))

        assert report is not None
        assert TARGET == report.iterations_run

    @pytest.mark.parametrize("value", BAD_COUNTS)
    def test_arun_validates(self, mission: mk.Mission, value: Any) -> None:
        """arun() validates max_iterations like run()."""
        session = start(mission)

        with pytest.raises(mk.InvalidArgument):
            asyncio.run(session.arun(max_iterations=value))

    def test_arun_async_on_iteration(self, mission: mk.Mission) -> None:
        """An awaitable returned by on_iteration is awaited; False from it stops the run."""
        session = start(mission)

        async def stop(it: mk.Iteration) -> bool:
            await asyncio.sleep(0)
            return False

        assert None is asyncio.run(session.arun(on_iteration=stop))
        assert 1 == len(session.state.iterations)

    def test_one_handle_serialises_async_calls(self, mission: mk.Mission) -> None:
        """Concurrent astep() calls on one handle run one after the other."""
        session = start(mission, target=100)

        async def main() -> list[mk.Iteration]:
            return list(await asyncio.gather(*(session.astep() for _ in range(3))))

        iterations = asyncio.run(main())

        assert [0, 1, 2] == sorted(it.iteration_index for it in iterations)
        assert 3 == len(session.state.iterations)

    def test_async_twins(self, mission: mk.Mission) -> None:
        """apropose, aobserve, acomplete and aabort mirror their sync twins."""
        first = start(mission, target=100)
        second = start(mission, target=100)

        async def main() -> tuple[Any, ...]:
            strategy = await first.apropose()
            iteration = await first.aobserve({"metrics": {"n": 1}})
            await first.aabort(pause=True)
            report = await first.acomplete("done_here")
            aborted = await second.aabort()
            return strategy, iteration, report, aborted

        strategy, iteration, report, aborted = asyncio.run(main())

        assert strategy == iteration.strategy
        assert ("complete", "done_here") == (report.final_verdict, report.final_verdict_reason)
        assert aborted is not None
        assert "user_abort" == aborted.final_verdict_reason


class TestIterate:
    def test_returns_summaries(self, mission: mk.Mission) -> None:
        """iterate() runs up to max_iterations steps and returns their summaries."""
        session = start(mission)

        summaries = mission.iterate(session.id, 2)

        assert [it.summary() for it in session.state.iterations] == summaries
        assert [0, 1] == [s.iteration_index for s in summaries]

    def test_default_is_one_step(self, mission: mk.Mission) -> None:
        """iterate() runs one step by default."""
        session = start(mission)

        assert 1 == len(mission.iterate(session.id))

    def test_stops_after_terminal_verdict(self, mission: mk.Mission) -> None:
        """iterate() stops after a terminal verdict even when more steps were allowed."""
        session = start(mission)

        summaries = mission.iterate(session.id, 10)

        assert TARGET == len(summaries)
        assert ("complete", "criteria_met") == (summaries[-1].verdict, summaries[-1].verdict_reason)

    @pytest.mark.parametrize("value", BAD_COUNTS)
    def test_max_iterations_validated(self, mission: mk.Mission, value: Any) -> None:
        """iterate() refuses a max_iterations that is not a positive int, naming the session."""
        session = start(mission)

        with pytest.raises(mk.InvalidArgument) as info:
            mission.iterate(session.id, value)

        assert {
            "session_id": session.id,
            "argument": "max_iterations",
            "reason": "must_be_positive_int",
        } == info.value.details
        assert 1 == session.state.revision

    def test_failed_iteration_is_returned_last(
        self, mission: mk.Mission, proposer: SwitchProposer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failed iteration does not raise: its summary comes last and it is logged at ERROR."""
        session = start(mission, target=100)
        mission.iterate(session.id, 1)
        proposer.armed = True

        with caplog.at_level(logging.ERROR, logger="missionkit"):
            summaries = mission.iterate(session.id, 5)

        assert [(1, "failed", None, None)] == [
            (s.iteration_index, s.status, s.verdict, s.verdict_reason) for s in summaries
        ]
        [record] = [r for r in caplog.records if r.name == "missionkit"]
        assert logging.ERROR == record.levelno
        assert record.exc_info is not None
        assert ZeroDivisionError is record.exc_info[0]
        assert "failed" == session.status

    def test_session_error_before_first_step(self, mission: mk.Mission) -> None:
        """A SessionError on the first step propagates without completed_iterations."""
        session = start(mission)
        session.abort(pause=True)

        with pytest.raises(mk.SessionPaused) as info:
            mission.iterate(session.id, 3)

        assert {"session_id": session.id} == info.value.details

    def test_session_error_after_a_step(self, mission: mk.Mission, counter: Counter) -> None:
        """A SessionError after a completed step carries completed_iterations."""
        session = start(mission, target=100)
        other = mission.session(session.id)
        original = counter.__call__

        def pausing() -> dict[str, Any]:
            if counter.calls == 1:
                other.abort(pause=True)
            return original()

        mission_with_pause = mk.Mission(tools={"count": pausing}, store=mission.store)

        with pytest.raises(mk.ConcurrentUpdate) as info:
            mission_with_pause.iterate(session.id, 5)

        first = session.state.iterations[0]
        assert [first.summary().to_dict()] == info.value.details["completed_iterations"]
        assert "paused" == session.status

    def test_unknown_session(self, mission: mk.Mission) -> None:
        """iterate() on an unknown id raises SessionNotFound."""
        with pytest.raises(mk.SessionNotFound) as info:
            mission.iterate("mission-nope")

        assert {"code": "session_not_found", "details": {"session_id": "mission-nope"}} == (
            info.value.to_dict()
        )

    def test_aiterate(self, mission: mk.Mission) -> None:
        """aiterate() mirrors iterate() on the caller's loop."""
        session = start(mission)

        summaries = asyncio.run(mission.aiterate(session.id, 10))

        assert [it.summary() for it in session.state.iterations] == summaries
        assert "completed" == session.status

    def test_aiterate_failed_iteration(
        self, mission: mk.Mission, proposer: SwitchProposer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """aiterate() returns a failed iteration's summary last and logs it at ERROR."""
        session = start(mission)
        proposer.armed = True

        with caplog.at_level(logging.ERROR, logger="missionkit"):
            summaries = asyncio.run(mission.aiterate(session.id, 3))

        assert ["failed"] == [s.status for s in summaries]
        assert [logging.ERROR] == [r.levelno for r in caplog.records if r.name == "missionkit"]

    @pytest.mark.parametrize("value", BAD_COUNTS)
    def test_aiterate_validates(self, mission: mk.Mission, value: Any) -> None:
        """aiterate() refuses a bad max_iterations with InvalidArgument."""
        session = start(mission)

        with pytest.raises(mk.InvalidArgument):
            asyncio.run(mission.aiterate(session.id, value))

    def test_iterate_inside_running_loop(self, mission: mk.Mission) -> None:
        """Mission.iterate works from a coroutine under asyncio.run."""
        session = start(mission)

        async def main() -> list[mk.IterationSummary]:
            return mission.iterate(session.id, 10)

        assert TARGET == len(asyncio.run(main()))


class TestIterateFailureClassification:
    def test_session_error_raised_by_a_proposer_is_a_failed_iteration(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """
        A proposer raising a SessionError fails the iteration; iterate returns its summary.
        """

        def refuse(ctx: Any) -> Any:
            raise mk.InvalidArgument("anything", "made_up")

        mission = mk.Mission(tools={"probe": lambda: {}}, proposer=refuse)
        session = mission.start(
            directive="d",
            criteria=[{"criterion_id": "e", "kind": "event", "required": True, "event_name": "x"}],
            budget={"max_iterations": 3, "max_wall_clock_seconds": -1},
            tool_allowlist=["probe"],
        )

        with caplog.at_level(logging.ERROR, logger="missionkit"):
            summaries = mission.iterate(session.id, 2)

        assert [("failed", None)] == [(s.status, s.verdict) for s in summaries]
        assert "failed" == session.status
