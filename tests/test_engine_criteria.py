"""
Criterion evaluation and evidence (SPEC §6.6.3), progress (§6.6.4) and cadence (§6.6.1).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakes import ScriptedTool, event_criterion, make_mission, metrics_tool, start, threshold
from missionkit.testing import FakeClock


def _evaluate(criterion: dict[str, Any], *results: Any) -> list[tuple[str, Any]]:
    """
    Step once per result (tool ``t`` returns it); ``(status, evidence)`` of the last iteration.
    """
    mission = make_mission({"t": ScriptedTool(*results)})
    session = start(mission, [criterion, event_criterion("never")], stagnation_threshold=50)
    iteration = None
    for _ in results:
        iteration = session.step()
    assert iteration is not None
    return [(r.status, r.evidence) for r in iteration.criteria_evaluation][:1]


def _trend(**fields: Any) -> dict[str, Any]:
    return {
        "criterion_id": "trend",
        "kind": "metric_trend",
        "required": True,
        "metric": "metrics.loss",
        "direction": "decreasing",
        **fields,
    }


def _predicate(expression: str) -> dict[str, Any]:
    return {"criterion_id": "p", "kind": "predicate", "required": True, "expression": expression}


class TestMetricThreshold:
    def test_met_and_unmet_carry_the_value(self) -> None:
        """Met and unmet results carry the metric value as evidence."""
        assert [("met", 0.05)] == _evaluate(threshold(), {"metrics": {"loss": 0.05}})
        assert [("unmet", 2)] == _evaluate(threshold(), {"metrics": {"loss": 2}})

    def test_list_index_path(self) -> None:
        """`tool_results.0.score` walks into the first annotated tool result."""
        criterion = threshold(metric="tool_results.0.score", op=">=", target=3)

        assert [("met", 3)] == _evaluate(criterion, {"score": 3})

    @pytest.mark.parametrize("path", ["tool_results.1.score", "tool_results.01.score", "x"])
    def test_missing_path(self, path: str) -> None:
        """Out-of-range, non-canonical indices and absent keys are metric_path_missing."""
        assert [("inconclusive", f"metric_path_missing:{path!r}")] == _evaluate(
            threshold(metric=path), {"score": 3}
        )

    def test_missing_path_evidence_text(self) -> None:
        """The evidence is exactly metric_path_missing:'x'."""
        assert [("inconclusive", "metric_path_missing:'x'")] == _evaluate(
            threshold(metric="x"), {"metrics": {}}
        )

    @pytest.mark.parametrize("value", [True, "low", None, [1], {"a": 1}])
    def test_non_numbers_are_inconclusive_with_the_value(self, value: Any) -> None:
        """Booleans, strings and containers are inconclusive with the value as evidence."""
        assert [("inconclusive", value)] == _evaluate(threshold(), {"metrics": {"loss": value}})

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (float("nan"), "non_finite:nan"),
            (float("inf"), "non_finite:inf"),
            (float("-inf"), "non_finite:-inf"),
        ],
    )
    @pytest.mark.parametrize(
        ("policy", "status"),
        [("inconclusive", "inconclusive"), ("unmet", "unmet"), ("terminate", "inconclusive")],
    )
    def test_non_finite_policies(self, value: float, text: str, policy: str, status: str) -> None:
        """Non-finite values follow the policy and are never met."""
        criterion = threshold(op="!=", target=0, on_non_finite=policy)

        assert [(status, text)] == _evaluate(criterion, {"metrics": {"loss": value}})

    def test_terminate_policy_ends_the_session(self) -> None:
        """The terminate policy ends the session with terminate/non_finite."""
        mission = make_mission({"t": metrics_tool(float("inf"))})
        session = start(mission, [threshold(on_non_finite="terminate")])
        iteration = session.step()

        assert ("terminate", "non_finite") == (iteration.verdict, iteration.verdict_reason)
        assert "terminated" == session.status

    def test_unmet_policy_does_not_terminate(self) -> None:
        """The unmet policy continues the session."""
        mission = make_mission({"t": metrics_tool(float("nan"))})
        session = start(mission, [threshold(on_non_finite="unmet")])

        assert "continue" == session.step().verdict


class TestMetricTrend:
    def test_history_empty(self) -> None:
        """No history for the key is metric_history_empty:'k'."""
        assert [("inconclusive", "metric_history_empty:'k'")] == _evaluate(
            _trend(metric="k"), {"metrics": {"loss": 1.0}}
        )

    def test_insufficient_history(self) -> None:
        """Fewer points than required is an insufficient_history dict."""
        expected = {"reason": "insufficient_history", "points": 2, "required_points": 3}

        assert [("inconclusive", expected)] == _evaluate(
            _trend(min_points=3), {"metrics": {"loss": 1.0}}, {"metrics": {"loss": 0.5}}
        )

    def test_one_point_needs_two(self) -> None:
        """The effective minimum is two points."""
        expected = {"reason": "insufficient_history", "points": 1, "required_points": 2}

        assert [("inconclusive", expected)] == _evaluate(_trend(), {"metrics": {"loss": 1.0}})

    def test_trend_evidence_uses_the_window(self) -> None:
        """Met trends report direction, points, first, last and delta over the window."""
        results = [{"metrics": {"loss": v}} for v in (9.0, 4.0, 3.0, 1.0)]
        expected = {
            "direction": "decreasing",
            "points": 3,
            "first": 4.0,
            "last": 1.0,
            "delta": -3.0,
        }

        assert [("met", expected)] == _evaluate(_trend(window=3), *results)

    def test_trend_unmet(self) -> None:
        """An increasing series does not satisfy decreasing."""
        results = [{"metrics": {"loss": v}} for v in (1, 2)]
        expected = {"direction": "decreasing", "points": 2, "first": 1.0, "last": 2.0, "delta": 1.0}

        assert [("unmet", expected)] == _evaluate(_trend(), *results)

    @pytest.mark.parametrize(
        ("direction", "status"),
        [("non_increasing", "met"), ("non_decreasing", "met"), ("increasing", "unmet")],
    )
    def test_flat_series(self, direction: str, status: str) -> None:
        """Flat series satisfy the non-strict directions only."""
        results = [{"metrics": {"loss": 2}}, {"metrics": {"loss": 2}}]

        assert status == _evaluate(_trend(direction=direction), *results)[0][0]

    def test_non_finite_current_value(self) -> None:
        """A non-finite current value follows the policy and never joins the history."""
        results = [{"metrics": {"loss": 1.0}}, {"metrics": {"loss": float("nan")}}]

        assert [("unmet", "non_finite:nan")] == _evaluate(_trend(on_non_finite="unmet"), *results)


class TestEventAndPredicate:
    def test_event_met_with_the_event(self) -> None:
        """The first matching event is the evidence."""
        event = {"event_name": "done", "n": 1}
        result = {"events": [{"event_name": "other"}, event, {"event_name": "done", "n": 2}]}

        assert [("met", event)] == _evaluate(event_criterion(), result)

    def test_event_unmet_with_null(self) -> None:
        """No matching event is unmet with null evidence."""
        assert [("unmet", None)] == _evaluate(event_criterion(), {"events": ["done"]})

    def test_predicate_met_and_unmet(self) -> None:
        """Truthy results are met, falsy unmet; the result is the evidence."""
        met = _predicate("obs['metrics']['loss'] * 2")

        assert [("met", 3.0)] == _evaluate(met, {"metrics": {"loss": 1.5}})
        assert [("unmet", [])] == _evaluate(_predicate("obs['events']"), {"metrics": {}})

    def test_predicate_limit(self) -> None:
        """A runtime limit breach is inconclusive with limit_exceeded evidence."""
        criterion = _predicate("len('ab' * 100000) > 0")

        assert [("inconclusive", "limit_exceeded:sequence_length")] == _evaluate(criterion, {})

    def test_predicate_exception(self) -> None:
        """An exception is inconclusive with its text and the session stays loadable."""
        mission = make_mission({"t": ScriptedTool(default={"metrics": {}})})
        session = start(mission, [_predicate("obs['missing'] > 1")])
        iteration = session.step()

        assert "KeyError: 'missing'" == iteration.criteria_evaluation[0].evidence
        assert "inconclusive" == iteration.criteria_evaluation[0].status
        assert "running" == mission.session(session.id).state.status

    def test_predicate_sees_the_cumulative_view(self) -> None:
        """Predicates see every iteration's tool results and the metric history."""
        criterion = _predicate("[len(obs['tool_results']), obs['metric_history']['loss']]")
        results = [{"metrics": {"loss": 3}}, {"metrics": {"loss": "x"}}, {"metrics": {"loss": 1}}]

        assert [("met", [3, [3.0, 1.0]])] == _evaluate(criterion, *results)

    def test_evidence_is_capped(self) -> None:
        """Evidence over evidence_bytes becomes a truncation marker."""
        [(status, evidence)] = _evaluate(_predicate("'x' * 5000"), {})
        text = json.dumps("x" * 5000)

        assert "met" == status
        assert {"_truncated": True, "bytes": len(text), "preview": text[:256]} == evidence


class TestToolCallSucceeded:
    def test_no_entries_is_field_missing(self) -> None:
        """A session without tool results is inconclusive with tool_results_field_missing."""
        mission = make_mission({"ext": None})
        criterion = {"criterion_id": "ok", "kind": "tool_call_succeeded", "required": True}
        session = start(mission, [{**criterion, "tool_name": "ext"}])
        iteration = session.observe({"metrics": {}})

        assert "tool_results_field_missing" == iteration.criteria_evaluation[0].evidence

    def test_counts_across_iterations(self) -> None:
        """Successful calls are counted over the whole session."""
        criterion = {
            "criterion_id": "ok",
            "kind": "tool_call_succeeded",
            "required": True,
            "tool_name": "t",
            "min_count": 2,
        }
        evidence = {"tool_name": "t", "min_count": 2, "successful_call_count": 2}

        assert [("met", evidence)] == _evaluate(criterion, {}, RuntimeError("x"), "plain")

    def test_spoofed_markers_do_not_count(self) -> None:
        """A tool returning another tool's markers cannot satisfy that tool's criterion."""
        liar = ScriptedTool(default={"_status": "ok", "tool_name": "other"})
        mission = make_mission({"liar": liar, "other": ScriptedTool()})
        criterion = {
            "criterion_id": "ok",
            "kind": "tool_call_succeeded",
            "required": True,
            "tool_name": "other",
        }
        session = start(mission, [criterion], tool_allowlist=["liar", "other"])
        iteration = session.step()
        entry = iteration.observation.tool_results[0]  # type: ignore[union-attr]

        assert "liar" == iteration.tool_calls[0].tool_name
        assert {"tool_name": "other", "min_count": 1, "successful_call_count": 0} == (
            iteration.criteria_evaluation[0].evidence
        )
        assert {
            "_status": "ok",
            "tool_name": "liar",
            "_shadowed": {"_status": "ok", "tool_name": "other"},
        } == entry


class TestProgress:
    def _counters(self, *values: Any, criterion: dict[str, Any], **kwargs: Any) -> Any:
        mission = make_mission({"t": metrics_tool(*values)})
        session = start(mission, [criterion, event_criterion()], stagnation_threshold=50, **kwargs)
        iterations = [session.step() for _ in values]
        return (
            [it.progress for it in iterations],
            [it.no_progress_counter for it in iterations],
            session.state.criterion_progress["loss"].best_value,
        )

    def test_min_delta_abs(self) -> None:
        """An improvement must beat the absolute min_delta to count."""
        assert ([False, False, True], [0, 1, 0], 0.85) == self._counters(
            1.0, 0.95, 0.85, criterion=threshold(min_delta=0.1)
        )

    def test_min_delta_rel(self) -> None:
        """A relative min_delta scales with the best distance."""
        assert ([False, False, True], [0, 1, 0], 0.4) == self._counters(
            1.0, 0.55, 0.4, criterion=threshold(min_delta=0.5, min_delta_mode="rel")
        )

    def test_sub_delta_improvements_keep_the_baseline(self) -> None:
        """Sub-δ improvements do not move best_value, so they accumulate against it."""
        assert ([False, False, False, True], [0, 1, 2, 0], 0.85) == self._counters(
            1.0, 0.95, 0.9, 0.85, criterion=threshold(min_delta=0.1)
        )

    def test_oscillation_does_not_reset(self) -> None:
        """Met, unmet, met again: only the first meeting is progress."""
        progress, counters, _ = self._counters(0.05, 0.9, 0.05, criterion=threshold())

        assert [True, False, False] == progress
        assert [0, 1, 2] == counters

    def test_not_equal_has_no_value_progress(self) -> None:
        """A != criterion never makes value progress."""
        progress, counters, best = self._counters(
            5.0, 3.0, 1.0, criterion=threshold(op="!=", target=5.0)
        )

        assert ([False, True, False], [0, 0, 1]) == (progress, counters)
        assert 5.0 == best

    def test_optional_criteria_are_not_progress(self) -> None:
        """Improvements and first meetings of optional criteria never count as progress."""
        mission = make_mission({"t": metrics_tool(1.0, 0.5, 0.05)})
        session = start(
            mission, [threshold(required=False), event_criterion()], stagnation_threshold=50
        )
        iterations = [session.step() for _ in range(3)]

        assert [False, False, False] == [it.progress for it in iterations]
        assert [0, 1, 2] == [it.no_progress_counter for it in iterations]
        assert 0.05 == session.state.criterion_progress["loss"].best_value
        assert session.state.criterion_progress["loss"].ever_met

    def test_first_evaluated_iteration_resets_counter(self) -> None:
        """The first evaluated iteration has counter 0 even after skipped iterations."""
        tool = ScriptedTool({}, {"events": [{"event_name": "go"}]}, default={})
        mission = make_mission({"t": tool})
        session = start(
            mission,
            [event_criterion()],
            checkpoint_cadence={"kind": "on_event", "event_name": "go"},
        )
        iterations = [session.step() for _ in range(2)]

        assert [False, True] == [it.checkpoint_evaluated for it in iterations]
        assert [0, 0] == [it.no_progress_counter for it in iterations]


class TestCadence:
    def test_every_t_seconds(self) -> None:
        """every_t_seconds evaluates when t seconds passed since the last checkpoint."""
        clock = FakeClock()
        mission = make_mission({"t": metrics_tool(1.0)}, clock=clock)
        session = start(
            mission,
            [threshold()],
            checkpoint_cadence={"kind": "every_t_seconds", "t": 10},
            stagnation_threshold=50,
        )
        evaluated = []
        for advance in (0, 5, 5, 9, 1):
            clock.advance(advance)
            evaluated.append(session.step().checkpoint_evaluated)

        assert [True, False, True, False, True] == evaluated

    def test_last_checkpoint_at_is_the_evaluate_start(self) -> None:
        """last_checkpoint_at records the evaluate phase start of evaluated iterations."""
        mission = make_mission({"t": metrics_tool(1.0)}, clock=FakeClock(step=1))
        session = start(mission, [threshold()])
        iteration = session.step()
        evaluate = next(p for p in iteration.phases if p.phase == "evaluate")

        assert evaluate.started_at == session.state.last_checkpoint_at

    def test_on_event_current_or_previous(self) -> None:
        """on_event evaluates on the iteration with the event and the one after it."""
        tool = ScriptedTool({}, {"events": [{"event_name": "go"}]}, {}, {}, default={})
        mission = make_mission({"t": tool})
        session = start(
            mission,
            [threshold()],
            checkpoint_cadence={"kind": "on_event", "event_name": "go"},
            stagnation_threshold=50,
        )
        iterations = [session.step() for _ in range(4)]

        assert [False, True, True, False] == [it.checkpoint_evaluated for it in iterations]
        assert ["cadence_skip", "in_progress", "in_progress", "cadence_skip"] == [
            it.verdict_reason for it in iterations
        ]

    def test_off_cadence_leaves_bookkeeping(self) -> None:
        """Off-cadence iterations leave criterion progress and counter unchanged."""
        mission = make_mission({"t": metrics_tool(1.0, 0.5)})
        session = start(
            mission, [threshold()], checkpoint_cadence={"kind": "every_n_iterations", "n": 2}
        )
        session.step()
        before = session.state.criterion_progress
        skipped = session.step()

        assert before == session.state.criterion_progress
        assert (False, False, 0) == (
            skipped.checkpoint_evaluated,
            skipped.progress,
            skipped.no_progress_counter,
        )
