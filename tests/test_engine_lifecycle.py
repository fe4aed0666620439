"""
Proposers (SPEC §7), failed iterations (§6.10), audit order (§6.16), reports (§12), determinism.
"""

from __future__ import annotations

from typing import Any

import pytest

import missionkit as mk
from fakes import (
    SESSION_ID,
    ArmedClock,
    ScriptedTool,
    StoreWatchingSink,
    event_criterion,
    event_label,
    make_mission,
    metrics_tool,
    start,
    threshold,
)
from missionkit.models import Strategy, ToolCall
from missionkit.testing import FakeClock, ScriptedProposer

PHASES = ["propose", "execute", "observe", "evaluate", "decide"]


def _tools(*names: str, value: Any = None) -> dict[str, ScriptedTool]:
    return {n: ScriptedTool(default=value if value is not None else {"metrics": {}}) for n in names}


def _watched(tools: Any, **kwargs: Any) -> tuple[mk.Mission, StoreWatchingSink]:
    sink = StoreWatchingSink()
    mission = make_mission(tools, sinks=[sink], **kwargs)
    sink.store = mission.store
    return mission, sink


class TestDefaultProposer:
    def test_untried_then_rerun(self) -> None:
        """Every tool is tried in allowlist order, then the most recent success is re-run."""
        mission = make_mission(_tools("a", "b", "c"))
        session = start(mission, [event_criterion()], stagnation_threshold=50)
        strategies = [session.step().strategy for _ in range(4)]

        assert [
            "deterministic fallback: try untried tool a",
            "deterministic fallback: try untried tool b",
            "deterministic fallback: try untried tool c",
            "deterministic fallback: re-run c with prior args",
        ] == [s.rationale for s in strategies]  # type: ignore[union-attr]
        assert ["a", "b", "c", "c"] == [s.tool_calls[0].tool_name for s in strategies]  # type: ignore[union-attr,index]

    def test_rerun_copies_prior_args(self) -> None:
        """Rule 3 re-runs the most recent successful call with its arguments."""
        proposer = ScriptedProposer(
            {"tool_calls": [{"tool_name": "a", "args": {"x": 1}}]},
            {"tool_calls": [{"tool_name": "b", "args": {"lr": 0.5}}]},
        )
        mission = make_mission(_tools("a", "b"), proposer=proposer)
        session = start(mission, [event_criterion()], stagnation_threshold=50)
        strategy = [session.step() for _ in range(3)][-1].strategy

        assert (
            Strategy(
                tool_calls=(ToolCall("b", {"lr": 0.5}),),
                rationale="deterministic fallback: re-run b with prior args",
            )
            == strategy
        )

    def test_rotate_after_adjust(self) -> None:
        """After adjust the next tool in allowlist order is chosen, wrapping around."""
        mission = make_mission(_tools("a", "b"))
        session = start(mission, [event_criterion()], stagnation_threshold=5)
        iterations = [session.step() for _ in range(5)]

        assert ["a", "b", "b", "b", "a"] == [it.tool_calls[0].tool_name for it in iterations]
        assert "adjust" == iterations[3].verdict
        assert (
            "deterministic fallback: rotate to a after adjust" == iterations[4].strategy.rationale
        )  # type: ignore[union-attr]

    def test_round_robin_without_successes(self) -> None:
        """With every tool tried and none successful, tools are chosen round-robin."""
        mission = make_mission({"a": ScriptedTool(default=RuntimeError("down"))})
        session = start(mission, [event_criterion()], stagnation_threshold=50)
        strategies = [session.step().strategy for _ in range(2)]

        assert "deterministic fallback: round-robin a" == strategies[1].rationale  # type: ignore[union-attr]

    def test_no_runnable_tool(self) -> None:
        """A session whose allowlist holds only external tools cannot step."""
        session = start(make_mission({"ext": None}), [event_criterion()])

        with pytest.raises(mk.ProposeNoToolAvailable):
            session.step()
        assert 0 == len(session.state.iterations)


class TestCustomProposer:
    @pytest.mark.parametrize(
        "value",
        [Strategy(tool_calls=(ToolCall("b"),)), {"tool_calls": [{"tool_name": "b"}]}],
    )
    def test_strategy_or_mapping(self, value: Any) -> None:
        """A Strategy or mapping is validated and used with source proposer."""
        mission = make_mission(_tools("a", "b"), proposer=ScriptedProposer(value))
        iteration = start(mission, [event_criterion()]).step()

        assert ("proposer", "b") == (iteration.strategy_source, iteration.tool_calls[0].tool_name)

    def test_none_falls_back_to_default(self) -> None:
        """None falls back to the default proposer."""
        mission = make_mission(_tools("a"), proposer=ScriptedProposer(None))
        iteration = start(mission, [event_criterion()]).step()

        assert "default" == iteration.strategy_source

    def test_context(self) -> None:
        """The proposer receives the iteration index, budget view and candidate tools."""
        proposer = ScriptedProposer()
        mission = make_mission({**_tools("a", "b"), "ext": None}, proposer=proposer)
        session = start(mission, [event_criterion()], budget={"max_iterations": 2})
        session.step()
        session.step()
        ctx = proposer.contexts[1]

        assert (1, 1, True, ("a", "b"), ("a", "b", "ext")) == (
            ctx.iteration_index,
            ctx.remaining_iterations,
            ctx.is_last_iteration,
            ctx.candidate_tools,
            ctx.tool_allowlist,
        )
        assert "unmet" == ctx.criteria_status["done"].status  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        ("proposer", "error"),
        [
            (lambda ctx: 1 / 0, ZeroDivisionError),
            (lambda ctx: {"tool_calls": []}, mk.MissionValidationError),
        ],
    )
    def test_failure_fails_the_iteration(self, proposer: Any, error: type[Exception]) -> None:
        """A raising proposer or invalid output fails the iteration and the session."""
        mission, sink = _watched(_tools("a"), proposer=proposer)
        session = start(mission, [event_criterion()])

        with pytest.raises(error) as info:
            session.step()

        assert [f"missionkit: iteration 0 of session {SESSION_ID} failed in phase propose"] == (
            info.value.__notes__
        )
        state = session.state
        assert ("failed", None) == (state.status, state.final_verdict)
        iteration = state.iterations[0]
        assert ("failed", None, None, ["propose"]) == (
            iteration.status,
            iteration.verdict,
            iteration.strategy,
            [p.phase for p in iteration.phases],
        )
        report = session.report()
        assert report is not None
        assert {
            "iteration_index": 0,
            "phase": "propose",
            "error_message": iteration.phases[0].error_message,
        } == report.failure
        assert ["phase:propose:failed", "lifecycle:fail"] == [
            event_label(e) for e, _, _ in sink.records[1:]
        ]
        with pytest.raises(mk.SessionFailed):
            session.step()


class TestFailedPhases:
    @pytest.mark.parametrize("phase", ["execute", "observe", "evaluate", "decide"])
    def test_one_event_per_phase_entered(self, phase: str) -> None:
        """A phase raising records and emits every phase entered, the failing one last."""
        clock = ArmedClock()
        mission, sink = _watched(_tools("a"), clock=clock)
        previous = PHASES[PHASES.index(phase) - 1]

        def arm(event: Any) -> None:
            if event.event_type == "mission_phase_event" and event.phase == previous:
                clock.arm(after=1)

        sink.hooks.append(arm)
        session = start(mission, [event_criterion()])

        with pytest.raises(RuntimeError, match="clock failed") as info:
            session.step()

        entered = PHASES[: PHASES.index(phase) + 1]
        expected = [f"phase:{p}:succeeded" for p in entered[:-1]]
        expected += [f"phase:{phase}:failed", "lifecycle:fail"]
        assert expected == [event_label(e) for e, _, _ in sink.records[1:]]
        assert ("failed", 1) == sink.records[-1][1:]
        assert f"missionkit: iteration 0 of session {SESSION_ID} failed in phase {phase}" in (
            info.value.__notes__
        )
        iteration = session.state.iterations[0]
        assert entered == [p.phase for p in iteration.phases]
        assert ("failed", "RuntimeError: clock failed") == (
            iteration.phases[-1].status,
            iteration.phases[-1].error_message,
        )
        assert (False, (), 0) == (
            iteration.checkpoint_evaluated,
            iteration.criteria_evaluation,
            iteration.no_progress_counter,
        )

    def test_failed_report(self) -> None:
        """A failed session's report has the failure entry, failed lessons and follow-ups."""
        mission = make_mission(_tools("a"), proposer=lambda ctx: 1 / 0)
        session = start(mission, [event_criterion()])
        with pytest.raises(ZeroDivisionError):
            session.step()
        report = session.report()
        assert report is not None

        assert (
            f"Session {SESSION_ID} failed in phase 'propose' of iteration 0: "
            "ZeroDivisionError: division by zero. Directive: 'Drive the loss down'. "
            "Criteria not met at the final evaluation: not evaluated."
        ) == report.lessons
        assert 2 == len(report.recommended_followups)
        assert ("failed", None, 1) == (report.status, report.final_verdict, report.iterations_run)


class TestAuditOrder:
    def test_normal_step(self) -> None:
        """A normal step emits the five phases, commits, then the verdict."""
        mission, sink = _watched(_tools("a"))
        start(mission, [event_criterion()]).step()
        records = sink.records[1:]

        assert [f"phase:{p}:succeeded" for p in PHASES] + ["verdict:continue/in_progress"] == [
            event_label(e) for e, _, _ in records
        ]
        assert [("pending", 0)] * 5 + [("running", 1)] == [r[1:] for r in records]

    def test_terminal_step(self) -> None:
        """A terminal verdict event follows the commit of the terminal state and report."""
        mission, sink = _watched(_tools("a", value={"metrics": {"loss": 0}}))
        session = start(mission, [threshold()])
        reports: list[Any] = []
        sink.hooks.append(
            lambda e: (
                reports.append(mission.store.load_report(SESSION_ID))
                if e.event_type == "mission_verdict_event"
                else None
            )
        )
        session.step()

        assert ("completed", 1) == sink.records[-1][1:]
        assert "verdict:complete/criteria_met" == event_label(sink.records[-1][0])
        assert reports[0] is not None

    def test_pending_proposal_step(self) -> None:
        """A step adopting a pending proposal emits no propose phase."""
        mission, sink = _watched(_tools("a"))
        session = start(mission, [event_criterion()])
        session.propose()
        sink.records.clear()
        iteration = session.step()

        assert [f"phase:{p}:succeeded" for p in PHASES[1:]] + ["verdict:continue/in_progress"] == [
            event_label(e) for e, _, _ in sink.records
        ]
        assert PHASES == [p.phase for p in iteration.phases]

    def test_adjust_verdict_event_carries_rationale(self) -> None:
        """The verdict event of an adjust carries the revision rationale."""
        mission, sink = _watched(_tools("a"))
        session = start(mission, [event_criterion()], stagnation_threshold=3)
        iterations = [session.step() for _ in range(3)]
        event = sink.records[-1][0]

        assert iterations[2].revision_rationale == event.revision_rationale  # type: ignore[union-attr]


class TestReport:
    def test_criteria_met_report(self) -> None:
        """A completed session's report copies the session and uses the template lessons."""
        clock = FakeClock(step=1)
        mission = make_mission({"t": metrics_tool(0.5, 0.05)}, clock=clock)
        session = start(mission, [threshold(), event_criterion(required=False)])
        session.step()
        final = session.step()
        report = session.report()
        state = session.state
        assert report is not None

        assert (
            "completed",
            2,
            "complete",
            "criteria_met",
            final.criteria_evaluation,
            None,
            "template",
            state.ended_at,
            state.started_at,
        ) == (
            report.status,
            report.iterations_run,
            report.final_verdict,
            report.final_verdict_reason,
            report.final_criteria_evaluation,
            report.failure,
            report.lessons_source,
            report.ended_at,
            report.started_at,
        )
        assert state.active_seconds(state.ended_at) == report.active_seconds  # type: ignore[arg-type]
        assert (
            f"Session {SESSION_ID} ended with verdict 'complete' (reason 'criteria_met') after "
            "2 iteration(s). Directive: 'Drive the loss down'. Criteria not met at the final "
            "evaluation: done. This text comes from a fixed template; a configured sampler can "
            "replace it."
        ) == report.lessons
        assert (
            "Persist or publish the artefacts produced by the final iteration.",
            "Consider re-running with tighter thresholds to confirm the result is robust.",
            "These suggestions come from fixed templates.",
        ) == report.recommended_followups

    @pytest.mark.parametrize(
        ("values", "kwargs", "reason", "length"),
        [
            ((0.5,), {"budget": {"max_iterations": 1}}, "max_iterations", 3),
            ((0.5,), {"stagnation_threshold": 1}, "no_progress", 3),
            ((float("nan"),), {}, "non_finite", 2),
        ],
    )
    def test_followup_lengths(
        self, values: tuple[float, ...], kwargs: dict[str, Any], reason: str, length: int
    ) -> None:
        """Each terminal reason gets its follow-up list, note included."""
        mission = make_mission({"t": metrics_tool(*values)})
        session = start(mission, [threshold(on_non_finite="terminate")], **kwargs)
        with pytest.raises(mk.SessionTerminal):
            for _ in range(5):
                session.step()
        report = session.report()
        assert report is not None

        assert (reason, length) == (report.final_verdict_reason, len(report.recommended_followups))
        assert "These suggestions come from fixed templates." == report.recommended_followups[-1]

    def test_long_directive_is_cut(self) -> None:
        """Directives over 240 characters are cut to 237 plus '...' in the lessons."""
        mission = make_mission({"t": metrics_tool(0.0)})
        session = mission.start(
            directive="d" * 300,
            criteria=[threshold()],
            budget={"max_iterations": -1, "max_wall_clock_seconds": -1},
            tool_allowlist=["t"],
        )
        session.step()

        assert f"Directive: {'d' * 237 + '...'!r}." in session.report().lessons  # type: ignore[union-attr]


class TestDeterminism:
    def _run(self) -> tuple[dict[str, Any], dict[str, Any]]:
        tools = {
            "a": ScriptedTool(
                {"metrics": {"loss": 0.9}}, RuntimeError("x"), default={"metrics": {"loss": 0.7}}
            ),
            "b": ScriptedTool({"s": {1, 2}}, default={"metrics": {"loss": 0.01}}),
        }
        mission = make_mission(tools, clock=FakeClock(step=0.25))
        session = start(mission, [threshold(), event_criterion(required=False)])
        session.run(max_iterations=10)
        report = session.report()
        assert report is not None
        return session.to_dict(), report.to_dict()

    def test_two_runs_are_identical(self) -> None:
        """Two runs of one mission with a fake clock and scripted tools are identical."""
        first, second = self._run(), self._run()

        assert first == second
        assert ("completed", 3) == (first[0]["status"], len(first[0]["iterations"]))
