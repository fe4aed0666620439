"""
The verdict cascade (SPEC §6.7), the adjust heuristic (§6.8) and the wall clock (§6.12).
"""

from __future__ import annotations

import attrs
import pytest

from fakes import (
    ScriptedTool,
    event_criterion,
    event_label,
    make_mission,
    metrics_tool,
    start,
    threshold,
    verdicts,
)
from missionkit._engine._cascade import decide
from missionkit.models import Verdict
from missionkit.testing import FakeClock, MemorySink, ScriptedProposer


def _run(session, n):  # type: ignore[no-untyped-def]
    return [session.step() for _ in range(n)]


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock()


class TestCascadeRules:
    def test_rule1_script_limit_beats_completion(self, clock: FakeClock) -> None:
        """A sandbox-terminated iteration ends with script_limit even when all criteria are met."""
        mission = make_mission({"t": metrics_tool(0.0)}, clock=clock)
        session = start(mission, [threshold()])
        before = session.state
        iteration = session.step()
        assert "complete" == iteration.verdict
        limited = attrs.evolve(iteration, sandbox_terminated_reason="wall_time")

        assert Verdict("terminate", "script_limit") == decide(before, limited, clock())

    def test_rule2_complete_when_every_required_met(self, clock: FakeClock) -> None:
        """Meeting every required criterion with no inconclusive result completes."""
        mission = make_mission({"t": metrics_tool(0.05)}, clock=clock)
        optional = threshold("opt", op=">=", target=0.0, required=False)
        session = start(mission, [threshold(), optional])

        assert ["complete/criteria_met"] == verdicts(_run(session, 1))
        assert "completed" == session.status

    def test_rule2_unmet_optional_does_not_block(self, clock: FakeClock) -> None:
        """An unmet optional criterion does not block completion."""
        mission = make_mission({"t": metrics_tool(0.05)}, clock=clock)
        optional = threshold("opt", op=">=", target=5.0, required=False)
        session = start(mission, [threshold(), optional])

        assert ["complete/criteria_met"] == verdicts(_run(session, 1))

    def test_rule2_inconclusive_optional_blocks(self, clock: FakeClock) -> None:
        """An inconclusive optional criterion blocks completion."""
        mission = make_mission({"t": metrics_tool(0.05)}, clock=clock)
        optional = threshold("opt", metric="metrics.absent", required=False)
        session = start(mission, [threshold(), optional])

        assert ["continue/in_progress"] == verdicts(_run(session, 1))

    def test_completion_beats_max_iterations(self, clock: FakeClock) -> None:
        """With max_iterations=3, meeting everything on the third iteration completes."""
        mission = make_mission({"t": metrics_tool(0.9, 0.5, 0.05)}, clock=clock)
        session = start(mission, [threshold()], budget={"max_iterations": 3})

        assert [
            "continue/in_progress",
            "continue/in_progress",
            "complete/criteria_met",
        ] == verdicts(_run(session, 3))
        assert "completed" == session.status

    def test_rule3_non_finite_terminate(self, clock: FakeClock) -> None:
        """A terminate-policy criterion seeing NaN ends with non_finite, before max_iterations."""
        mission = make_mission({"t": metrics_tool(float("nan"))}, clock=clock)
        session = start(
            mission,
            [threshold(on_non_finite="terminate")],
            budget={"max_iterations": 1},
        )

        assert ["terminate/non_finite"] == verdicts(_run(session, 1))

    def test_rule4_max_iterations(self, clock: FakeClock) -> None:
        """A budget of N iterations runs exactly N and ends with max_iterations."""
        mission = make_mission({"t": metrics_tool(0.9, 0.8, 0.7)}, clock=clock)
        session = start(mission, [threshold()], budget={"max_iterations": 2})

        assert ["continue/in_progress", "terminate/max_iterations"] == verdicts(_run(session, 2))
        assert 2 == len(session.state.iterations)

    def test_rule4_beats_no_progress(self, clock: FakeClock) -> None:
        """When both apply, max_iterations wins over no_progress."""
        mission = make_mission({"t": metrics_tool(0.9)}, clock=clock)
        session = start(
            mission,
            [threshold()],
            budget={"max_iterations": 2},
            stagnation_threshold=1,
        )

        assert ["continue/in_progress", "terminate/max_iterations"] == verdicts(_run(session, 2))

    def test_rule5_max_wall_clock_inside_an_iteration(self, clock: FakeClock) -> None:
        """Active time crossing the cap during an iteration ends it with max_wall_clock."""

        def slow() -> dict[str, object]:
            clock.advance(120)
            return {"metrics": {"loss": 0.9}}

        mission = make_mission({"slow": slow}, clock=clock)
        session = start(mission, [threshold()], budget={"max_wall_clock_seconds": 60})
        iteration = session.step()

        assert "terminate/max_wall_clock" == f"{iteration.verdict}/{iteration.verdict_reason}"
        assert 1 == len(iteration.tool_calls)
        assert iteration.observation is not None

    def test_rule6_and_rule8_worked_sequence_threshold_3(self, clock: FakeClock) -> None:
        """Threshold 3: continue, continue, adjust, terminate/no_progress; final counter 3."""
        mission = make_mission({"t": metrics_tool(0.9)}, clock=clock)
        session = start(mission, [threshold()], stagnation_threshold=3)
        iterations = _run(session, 4)

        assert [
            "continue/in_progress",
            "continue/in_progress",
            "adjust/heuristic_unproductive",
            "terminate/no_progress",
        ] == verdicts(iterations)
        assert [0, 1, 2, 3] == [it.no_progress_counter for it in iterations]
        assert "terminated" == session.status

    def test_worked_sequence_threshold_4(self, clock: FakeClock) -> None:
        """Threshold 4: continue, continue, adjust, adjust, terminate/no_progress; counter 4."""
        mission = make_mission({"t": metrics_tool(0.9)}, clock=clock)
        session = start(mission, [threshold()], stagnation_threshold=4)
        iterations = _run(session, 5)

        assert [
            "continue/in_progress",
            "continue/in_progress",
            "adjust/heuristic_unproductive",
            "adjust/heuristic_unproductive",
            "terminate/no_progress",
        ] == verdicts(iterations)
        assert 4 == iterations[-1].no_progress_counter

    def test_rule7_cadence_skip_every_n_iterations(self, clock: FakeClock) -> None:
        """every_n_iterations(2) over five iterations: evaluated T,F,T,F,T, counters 0,0,1,1,2."""
        mission = make_mission({"t": metrics_tool(0.9)}, clock=clock)
        session = start(
            mission,
            [threshold()],
            checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
            stagnation_threshold=10,
        )
        iterations = _run(session, 5)

        assert [True, False, True, False, True] == [it.checkpoint_evaluated for it in iterations]
        assert [0, 0, 1, 1, 2] == [it.no_progress_counter for it in iterations]
        assert "continue/cadence_skip" == verdicts(iterations)[1]
        assert [] == list(iterations[1].criteria_evaluation)

    def test_rule9_continue_in_progress(self, clock: FakeClock) -> None:
        """An evaluated, unfinished iteration with no heuristic hit continues in progress."""
        mission = make_mission({"t": metrics_tool(0.9)}, clock=clock)
        session = start(mission, [threshold()])

        assert ["continue/in_progress"] == verdicts(_run(session, 1))

    def test_decide_is_pure_and_repeatable(self, clock: FakeClock) -> None:
        """Deciding one iteration twice at one time gives one verdict and writes nothing."""
        mission = make_mission({"t": metrics_tool(0.9)}, clock=clock)
        session = start(mission, [threshold()])
        before = session.state
        iteration = session.step()
        revision = session.state.revision
        now = clock.now

        verdict = decide(before, iteration, now)

        assert verdict == decide(before, iteration, now)
        assert (verdict.label, verdict.reason) == (iteration.verdict, iteration.verdict_reason)
        assert revision == session.state.revision


class TestAdjustHeuristic:
    def test_repetition_clause_rationale(self, clock: FakeClock) -> None:
        """The repetition clause writes the exact one-line rationale."""
        mission = make_mission({"t": metrics_tool(0.9)}, clock=clock)
        session = start(mission, [threshold()], stagnation_threshold=3)
        iterations = _run(session, 3)

        assert (
            "adjust at iteration 3: tool_sequence_repeating; unmet criteria: loss; strategy: t; "
            "no-progress 2/3; propose a different strategy next."
        ) == iterations[2].revision_rationale
        assert [None, None] == [it.revision_rationale for it in iterations[:2]]

    def test_repetition_needs_equal_sequences(self, clock: FakeClock) -> None:
        """Changing the call-name sequence suppresses the repetition clause."""
        proposer = ScriptedProposer(
            {"tool_calls": [{"tool_name": "a"}]},
            {"tool_calls": [{"tool_name": "a"}]},
            {"tool_calls": [{"tool_name": "b"}]},
        )
        mission = make_mission(
            {"a": metrics_tool(0.9), "b": metrics_tool(0.9)}, clock=clock, proposer=proposer
        )
        session = start(mission, [threshold()], stagnation_threshold=4)

        assert ["continue/in_progress"] * 3 == verdicts(_run(session, 3))

    def test_new_error_signature_adjusts_once(self, clock: FakeClock) -> None:
        """A new error signature adjusts; the same class with new request ids does not."""
        tool = ScriptedTool(
            {"metrics": {}},
            ValueError("request 7f3a at 2025-01-01T00:00:01 failed"),
            ValueError("request 91bc at 2025-01-01T00:00:09 failed"),
            KeyError("other"),
            default={"metrics": {}},
        )
        mission = make_mission({"t": tool}, clock=clock)
        session = start(mission, [event_criterion()], stagnation_threshold=20)
        iterations = _run(session, 4)

        assert [
            "continue/in_progress",
            "adjust/heuristic_unproductive",
            "continue/in_progress",
            "adjust/heuristic_unproductive",
        ] == verdicts(iterations)
        assert (
            "adjust at iteration 2: new_observation_errors; unmet criteria: done; strategy: t; "
            "no-progress 1/20; propose a different strategy next."
        ) == iterations[1].revision_rationale

    def test_first_iteration_errors_never_adjust(self, clock: FakeClock) -> None:
        """Errors on the very first iteration do not adjust (no stored iteration)."""
        mission = make_mission({"t": ScriptedTool(RuntimeError("boom"))}, clock=clock)
        session = start(mission, [event_criterion()])

        assert ["continue/in_progress"] == verdicts(_run(session, 1))

    def test_reference_set_spans_since_last_evaluated(self, clock: FakeClock) -> None:
        """An error seen on a skipped iteration after the last evaluated one is not new."""
        tool = ScriptedTool(
            {"metrics": {}},
            RuntimeError("a"),
            RuntimeError("b"),
            default={"metrics": {}},
        )
        mission = make_mission({"t": tool}, clock=clock)
        session = start(
            mission,
            [event_criterion()],
            checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
            stagnation_threshold=20,
        )
        iterations = _run(session, 3)

        assert "continue/cadence_skip" == verdicts(iterations)[1]
        assert "continue/in_progress" == verdicts(iterations)[2]

    def test_no_tool_calls_summary(self, clock: FakeClock) -> None:
        """Host-only iterations summarise as 'no tool calls' and repeat as empty sequences."""
        mission = make_mission({"ext": None}, clock=clock)
        session = start(mission, [threshold()], stagnation_threshold=3)
        iterations = [session.observe({"metrics": {"loss": 0.9}}) for _ in range(3)]

        assert (
            "adjust at iteration 3: tool_sequence_repeating; unmet criteria: loss; "
            "strategy: no tool calls; no-progress 2/3; propose a different strategy next."
        ) == iterations[2].revision_rationale


class TestWallClock:
    def test_predictive_deadline_iteration(self, clock: FakeClock) -> None:
        """Crossing the cap between steps records a decide-only deadline iteration."""
        tool = metrics_tool(0.9)
        sink = MemorySink()
        mission = make_mission({"t": tool}, clock=clock, sinks=[sink])
        session = start(mission, [threshold()], budget={"max_wall_clock_seconds": 60})
        session.step()
        clock.advance(61)
        sink.clear()
        iteration = session.step()

        assert "terminate/max_wall_clock" == f"{iteration.verdict}/{iteration.verdict_reason}"
        assert ["decide"] == [p.phase for p in iteration.phases]
        assert (None, (), None, (), False) == (
            iteration.strategy,
            iteration.tool_calls,
            iteration.observation,
            iteration.criteria_evaluation,
            iteration.checkpoint_evaluated,
        )
        assert 1 == len(tool.calls)
        assert [
            "phase:decide:succeeded",
            "verdict:terminate/max_wall_clock",
        ] == [event_label(e) for e in sink.events]
        report = session.report()
        assert report is not None
        assert 2 == len(report.recommended_followups)

    def test_deadline_keeps_counter(self, clock: FakeClock) -> None:
        """The deadline iteration keeps the stagnation counter unchanged."""
        mission = make_mission({"t": metrics_tool(0.9)}, clock=clock)
        session = start(mission, [threshold()], budget={"max_wall_clock_seconds": 60})
        _, second = _run(session, 2)
        clock.advance(100)
        deadline = session.step()

        assert second.no_progress_counter == deadline.no_progress_counter

    def test_before_cap_steps_normally(self, clock: FakeClock) -> None:
        """Just under the cap the step runs its tools normally."""
        mission = make_mission({"t": metrics_tool(0.9)}, clock=clock)
        session = start(mission, [threshold()], budget={"max_wall_clock_seconds": 60})
        session.step()
        clock.advance(59)

        assert ["continue/in_progress"] == verdicts(_run(session, 1))
