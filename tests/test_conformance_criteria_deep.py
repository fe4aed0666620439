"""
Conformance tests in depth for evaluation (SPEC §6.6), the verdict cascade (§6.7) and the adjust
heuristic (§6.8): metric paths, value types, trend windows, cumulative counting, progress per
operator, reference sets and exact rationale texts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import missionkit as mk
from fakes import (
    FlakyStore,
    ScriptedTool,
    event_criterion,
    make_mission,
    metrics_tool,
    start,
    threshold,
    verdicts,
)
from missionkit.errors import ConcurrentUpdate
from missionkit.store import JsonDirStore
from missionkit.testing import FakeClock, ScriptedProposer

#: One observation exercising every kind of value a metric path can meet.
RICH = {
    "metrics": {
        "a": [5, 7],
        "s": "abc",
        "d": {"0": 9},
        "i": 3,
        "f": 3.0,
        "b": False,
        "n": None,
    },
    "events": [{"event_name": "e", "v": 2}],
}


def _evaluate(criterion: dict[str, Any], *results: Any, **kwargs: Any) -> tuple[str, Any]:
    """
    Step once per result (tool ``t`` returns it); ``(status, evidence)`` of *criterion* last time.
    """
    mission = make_mission({"t": ScriptedTool(*results)})
    session = start(
        mission, [criterion, event_criterion("never", "never")], stagnation_threshold=50, **kwargs
    )
    iteration = None
    for _ in results:
        iteration = session.step()
    assert iteration is not None
    result = iteration.criteria_evaluation[0]
    return (result.status, result.evidence)


def _trend(**fields: Any) -> dict[str, Any]:
    return {
        "criterion_id": "trend",
        "kind": "metric_trend",
        "required": True,
        "metric": "loss",
        "direction": "decreasing",
        **fields,
    }


def _predicate(expression: str, cid: str = "p", *, required: bool = True) -> dict[str, Any]:
    return {
        "criterion_id": cid,
        "kind": "predicate",
        "required": required,
        "expression": expression,
    }


def _succeeded(tool_name: str = "ext", min_count: int = 1) -> dict[str, Any]:
    return {
        "criterion_id": "ok",
        "kind": "tool_call_succeeded",
        "required": True,
        "tool_name": tool_name,
        "min_count": min_count,
    }


def _call(name: str, status: str = "ok", **fields: Any) -> dict[str, Any]:
    return {"tool_name": name, "status": status, **fields}


def _losses(*values: Any) -> list[dict[str, Any]]:
    return [{"metrics": {"loss": v}} for v in values]


class TestMetricThresholdPaths:
    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("metrics.a.0", ("met", 5)),
            ("metrics.a.1", ("met", 7)),
            ("metrics.d.0", ("met", 9)),
            ("events.0.v", ("unmet", 2)),
            ("tool_results.0.metrics.i", ("met", 3)),
            ("tool_results.0.events.0.v", ("unmet", 2)),
        ],
    )
    def test_paths_through_lists_and_digit_keys(self, path: str, expected: Any) -> None:
        """§6.6.3: lists continue by canonical index, dicts by key (also a digit key)."""
        assert expected == _evaluate(threshold(metric=path, op=">=", target=3), RICH)

    @pytest.mark.parametrize(
        "path",
        [
            "metrics.a.2",
            "metrics.a.-1",
            "metrics.a.00",
            "metrics.a.+1",
            "metrics.a. 1",
            "metrics.s.0",
            "metrics.i.x",
            "errors.0",
            "tool_results.1",
        ],
    )
    def test_unresolvable_paths(self, path: str) -> None:
        """§6.6.3: out-of-range, negative, padded or signed indices and scalar hops miss."""
        assert ("inconclusive", f"metric_path_missing:{path!r}") == _evaluate(
            threshold(metric=path, op=">=", target=3), RICH
        )

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("metrics", RICH["metrics"]),
            ("metrics.a", [5, 7]),
            ("metrics.s", "abc"),
            ("metrics.b", False),
            ("metrics.n", None),
            ("events.0.event_name", "e"),
            ("tool_results.0._status", "ok"),
        ],
    )
    def test_non_numbers_are_the_evidence(self, path: str, value: Any) -> None:
        """§6.6.3: a container, string, bool or null at the path is inconclusive with the value."""
        assert ("inconclusive", value) == _evaluate(threshold(metric=path, op=">=", target=3), RICH)

    def test_timestamp_path_is_the_json_string(self) -> None:
        """§6.6.3: paths read the observation's JSON form, so a phase time is its ISO string."""
        status, evidence = _evaluate(threshold(metric="phase_started_at"), {})

        assert ("inconclusive", "2025-01-01T00:00:00.000000+00:00") == (status, evidence)

    def test_int_and_float_evidence_keep_their_type(self) -> None:
        """§6.6.3: the evidence is the value itself: an int stays an int, a float a float."""
        int_result = _evaluate(threshold(metric="metrics.i", op="==", target=3.0), RICH)
        float_result = _evaluate(threshold(metric="metrics.f", op="==", target=3), RICH)

        assert ("met", 3) == int_result
        assert int is type(int_result[1])
        assert ("met", 3.0) == float_result
        assert float is type(float_result[1])

    def test_tool_results_path_reads_only_the_current_iteration(self) -> None:
        """§6.6.3: metric_threshold reads the current observation, not the cumulative results."""
        assert ("unmet", 1) == _evaluate(
            threshold(metric="tool_results.0.v", op=">=", target=3), {"v": 5}, {"v": 1}
        )

    @pytest.mark.parametrize(
        ("op", "target", "expected"),
        [
            ("!=", 3.0, "unmet"),
            ("<", float("inf"), "met"),
            (">", float("-inf"), "met"),
            (">=", float("inf"), "unmet"),
        ],
    )
    def test_int_values_against_float_and_infinite_targets(
        self, op: str, target: float, expected: str
    ) -> None:
        """§3.3/§6.6.3: an int value compares numerically with float and ±inf targets."""
        assert (expected, 3) == _evaluate(threshold(metric="metrics.i", op=op, target=target), RICH)

    def test_non_finite_inside_a_tool_result_follows_the_policy(self) -> None:
        """§6.6.3: a NaN reached through tool_results follows the non-finite policy too."""
        criterion = threshold(metric="tool_results.0.v", op=">", target=1, on_non_finite="unmet")

        assert ("unmet", "non_finite:nan") == _evaluate(criterion, {"v": float("nan")})

    def test_non_finite_terminate_policy_via_a_tool_result_path(self) -> None:
        """§6.6.3/§6.7 rule 3: the terminate policy applies to any path, ending with non_finite."""
        mission = make_mission({"t": ScriptedTool(default={"v": float("-inf")})})
        criterion = threshold(
            metric="tool_results.0.v", op=">", target=1, on_non_finite="terminate"
        )
        iteration = start(mission, [criterion]).step()

        assert ("inconclusive", "non_finite:-inf") == (
            iteration.criteria_evaluation[0].status,
            iteration.criteria_evaluation[0].evidence,
        )
        assert "terminate/non_finite" == verdicts([iteration])[0]


class TestMetricTrendWindows:
    def test_window_of_one_is_never_enough(self) -> None:
        """§6.6.3: window 1 keeps one point, below the effective minimum of two."""
        expected = {"reason": "insufficient_history", "points": 1, "required_points": 2}

        assert ("inconclusive", expected) == _evaluate(_trend(window=1), *_losses(3, 2, 1))

    def test_min_points_above_the_window(self) -> None:
        """§6.6.3: points are counted after windowing; min_points above the window never passes."""
        expected = {"reason": "insufficient_history", "points": 2, "required_points": 3}

        assert ("inconclusive", expected) == _evaluate(
            _trend(window=2, min_points=3), *_losses(3, 2, 1)
        )

    def test_min_points_one_still_needs_two(self) -> None:
        """§6.6.3: required = max(2, min_points), so min_points 1 still requires two points."""
        expected = {"reason": "insufficient_history", "points": 1, "required_points": 2}

        assert ("inconclusive", expected) == _evaluate(_trend(min_points=1), *_losses(3))

    def test_window_larger_than_history_uses_all_points(self) -> None:
        """§6.6.3: a window wider than the history keeps every point."""
        expected = {
            "direction": "decreasing",
            "points": 3,
            "first": 3.0,
            "last": 1.0,
            "delta": -2.0,
        }

        assert ("met", expected) == _evaluate(_trend(window=10), *_losses(3, 2, 1))

    def test_non_numeric_and_non_finite_values_leave_gaps(self) -> None:
        """§6.6.2: bools, strings and past non-finite values never enter the series."""
        expected = {
            "direction": "decreasing",
            "points": 2,
            "first": 3.0,
            "last": 1.0,
            "delta": -2.0,
        }

        assert ("met", expected) == _evaluate(_trend(), *_losses(3, True, "x", float("inf"), 1))

    def test_absent_current_value_uses_the_history(self) -> None:
        """§6.6.3: without a current value the series is still the stored history."""
        results = [{"metrics": {"loss": 3}}, {"metrics": {"loss": 1}}, {"metrics": {}}]
        expected = {
            "direction": "decreasing",
            "points": 2,
            "first": 3.0,
            "last": 1.0,
            "delta": -2.0,
        }

        assert ("met", expected) == _evaluate(_trend(), *results)

    def test_only_one_metrics_prefix_is_stripped(self) -> None:
        """§6.6.3: key = metric minus one leading 'metrics.'; the rest is a top-level key."""
        results = [{"metrics": {"metrics.loss": 1}}, {"metrics": {"metrics.loss": 0}}]
        expected = {
            "direction": "decreasing",
            "points": 2,
            "first": 1.0,
            "last": 0.0,
            "delta": -1.0,
        }

        assert ("met", expected) == _evaluate(_trend(metric="metrics.metrics.loss"), *results)

    def test_dotted_key_is_not_a_nested_path(self) -> None:
        """§6.6.2: history holds top-level keys only, so a nested metric has no history."""
        results = [{"metrics": {"a": {"b": 1}}}, {"metrics": {"a": {"b": 0}}}]

        assert ("inconclusive", "metric_history_empty:'a.b'") == _evaluate(
            _trend(metric="metrics.a.b"), *results
        )

    def test_negative_infinity_under_the_unmet_policy(self) -> None:
        """§6.6.3: a current -inf is unmet with non_finite:-inf under the unmet policy."""
        assert ("unmet", "non_finite:-inf") == _evaluate(
            _trend(on_non_finite="unmet"), *_losses(2, float("-inf"))
        )

    def test_increasing_evidence_keeps_floats(self) -> None:
        """§6.6.3: first, last and delta are floats even for int metrics."""
        status, evidence = _evaluate(_trend(direction="increasing"), *_losses(1, 4))

        assert ("met", {"direction": "increasing", "points": 2, "first": 1.0, "last": 4.0}) == (
            status,
            {k: v for k, v in evidence.items() if k != "delta"},
        )
        assert 3.0 == evidence["delta"]
        assert float is type(evidence["delta"])


class TestEventCriterion:
    def test_event_name_matches_by_equality_only(self) -> None:
        """§6.6.3: an int event_name 1 does not match the criterion's '1'; the next event does."""
        criterion = {"criterion_id": "e", "kind": "event", "required": True, "event_name": "1"}
        result = {"events": [{"event_name": 1}, {"event_name": "1", "k": 2}]}

        assert ("met", {"event_name": "1", "k": 2}) == _evaluate(criterion, result)

    def test_other_keys_and_case_never_match(self) -> None:
        """§6.6.3: only a dict whose event_name equals the name matches (case-sensitive)."""
        result = {"events": [{"name": "done"}, ["done"], "done", {"event_name": "DONE"}]}

        assert ("unmet", None) == _evaluate(event_criterion(), result)

    def test_events_are_per_iteration(self) -> None:
        """§6.6.3: the event criterion reads only the current observation's events."""
        assert ("unmet", None) == _evaluate(
            event_criterion(), {"events": [{"event_name": "done"}]}, {"events": []}
        )

    def test_tool_events_precede_host_events(self) -> None:
        """§6.11/§6.6.3: host events follow tool-result events, so the tool's matches first."""
        mission = make_mission({"ext": None})
        session = start(mission, [event_criterion()])
        iteration = session.observe(
            {
                "events": [{"event_name": "done", "from": "host"}],
                "tool_calls": [
                    _call("ext", result={"events": [{"event_name": "done", "from": "tool"}]})
                ],
            }
        )

        assert {"event_name": "done", "from": "tool"} == iteration.criteria_evaluation[0].evidence


class TestToolCallSucceeded:
    def test_counts_host_calls_across_iterations(self) -> None:
        """§6.6.3: ok host calls count over stored and current iterations; other statuses do not."""
        mission = make_mission({"ext": None, "other": None})
        session = start(
            mission, [_succeeded(min_count=3), event_criterion()], stagnation_threshold=50
        )
        observations = [
            {"metrics": {}},
            {"tool_calls": [_call("ext", "skipped_not_allowed")]},
            {"tool_calls": [_call("ext", "failed", error_message="x"), _call("ext")]},
            {"metrics": {}},
            {"tool_calls": [_call("ext", result="x" * 100_000), _call("other"), _call("ext")]},
        ]
        results = [session.observe(o).criteria_evaluation[0] for o in observations]

        assert [
            ("inconclusive", "tool_results_field_missing"),
            ("unmet", {"tool_name": "ext", "min_count": 3, "successful_call_count": 0}),
            ("unmet", {"tool_name": "ext", "min_count": 3, "successful_call_count": 1}),
            ("unmet", {"tool_name": "ext", "min_count": 3, "successful_call_count": 1}),
            ("met", {"tool_name": "ext", "min_count": 3, "successful_call_count": 3}),
        ] == [(r.status, r.evidence) for r in results]

    def test_truncated_engine_results_still_count(self) -> None:
        """§6.5/§6.6.3: a result over the cap keeps its markers and counts as a success."""
        mission = make_mission(
            {"t": ScriptedTool(default="y" * 100)}, limits=mk.Limits(tool_result_bytes=50)
        )
        session = start(mission, [_succeeded("t", 2), event_criterion()])
        session.step()
        iteration = session.step()
        entry = iteration.observation.tool_results[0]  # type: ignore[union-attr]

        assert ("ok", "t", True) == (
            entry["_status"],
            entry["tool_name"],
            entry["result"]["_truncated"],
        )
        assert "met" == iteration.criteria_evaluation[0].status

    def test_field_missing_only_before_the_first_entry(self) -> None:
        """§6.6.3: once any entry exists, later host-only iterations are unmet, not missing."""
        mission = make_mission({"ext": None})
        session = start(
            mission, [_succeeded(min_count=2), event_criterion()], stagnation_threshold=50
        )
        session.observe({"tool_calls": [_call("ext")]})
        result = session.observe({"metrics": {}}).criteria_evaluation[0]

        assert ("unmet", {"tool_name": "ext", "min_count": 2, "successful_call_count": 1}) == (
            result.status,
            result.evidence,
        )


class TestCumulativeView:
    def test_view_keys_in_order_with_string_times(self) -> None:
        """§6.6.2: the view's keys, in order, with the current phase times as JSON strings."""
        expression = "[[k for k in obs], obs['phase_started_at'], obs['phase_ended_at']]"
        mission = make_mission({"t": ScriptedTool(default={})}, clock=FakeClock(step=0.5))
        iteration = start(mission, [_predicate(expression), event_criterion()]).step()
        observation = iteration.observation
        assert observation is not None

        assert [
            [
                "tool_results",
                "metrics",
                "events",
                "errors",
                "phase_started_at",
                "phase_ended_at",
                "metric_history",
            ],
            observation.phase_started_at.isoformat(timespec="microseconds"),
            observation.phase_ended_at.isoformat(timespec="microseconds"),
        ] == iteration.criteria_evaluation[0].evidence

    def test_events_are_current_only(self) -> None:
        """§6.6.2: events in the view are the current observation's, not cumulative."""
        expression = "[e['event_name'] for e in obs['events']]"
        results = [{"events": [{"event_name": "a"}]}, {"events": [{"event_name": "b"}]}]

        assert ("met", ["b"]) == _evaluate(_predicate(expression), *results)

    def test_history_includes_off_cadence_and_host_iterations(self) -> None:
        """§6.6.2: every iteration with an observation feeds metric_history, evaluated or not."""
        mission = make_mission({"ext": None})
        session = start(
            mission,
            [_predicate("obs['metric_history']"), event_criterion()],
            checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
            stagnation_threshold=50,
        )
        values = [{"x": 1}, {"x": -0.5, "y": 2}, {"x": 10**3}]
        iterations = [session.observe({"metrics": v}) for v in values]

        assert [True, False, True] == [it.checkpoint_evaluated for it in iterations]
        assert {"x": [1.0, -0.5, 1000.0], "y": [2.0]} == iterations[2].criteria_evaluation[
            0
        ].evidence

    def test_interleaved_handles_see_every_iteration(self) -> None:
        """§6.6.2: two handles stepping in turn each see all stored tool results and history."""
        mission = make_mission({"t": ScriptedTool(default={"metrics": {"x": 1}})})
        expression = "[len(obs['tool_results']), len(obs['metric_history']['x'])]"
        first = start(mission, [_predicate(expression), event_criterion()], stagnation_threshold=50)
        second = mission.session(first.id)
        handles = [first, second, first, first, second]

        assert [[n, n] for n in range(1, 6)] == [
            h.step().criteria_evaluation[0].evidence for h in handles
        ]

    def test_a_refused_commit_is_not_counted(self) -> None:
        """§6.6.2/§6.9: an iteration whose save was refused leaves no trace in the view."""
        store = FlakyStore(failures=1)
        mission = make_mission({"t": ScriptedTool(default={"metrics": {"x": 1}})}, store=store)
        expression = "[len(obs['tool_results']), obs['metric_history']]"
        session = start(mission, [_predicate(expression), event_criterion()])
        with pytest.raises(ConcurrentUpdate):
            session.step()

        assert [1, {"x": [1.0]}] == session.step().criteria_evaluation[0].evidence

    def test_predicate_result_is_made_json_safe(self) -> None:
        """§5.8: a tuple result is met and stored as a list; a falsy 0.0 is unmet with 0.0."""
        assert ("met", [1, "a"]) == _evaluate(_predicate("(1, 'a')"), {})
        assert ("unmet", 0.0) == _evaluate(
            _predicate("obs['metrics']['z'] * 0.0"), {"metrics": {"z": 1}}
        )

    def test_predicate_rejected_after_load(self, tmp_path: Path) -> None:
        """§6.6.3: a stored expression the parser now rejects is inconclusive (post-load)."""
        mission = make_mission({"t": ScriptedTool(default={})}, store=JsonDirStore(tmp_path))
        session = start(mission, [_predicate("len(obs['tool_results']) > 9"), event_criterion()])
        header = tmp_path / session.id / "session.json"
        data = json.loads(header.read_text())
        data["criteria"][0]["expression"] = "obs.tool_results"
        header.write_text(json.dumps(data))
        reloaded = make_mission({"t": ScriptedTool(default={})}, store=JsonDirStore(tmp_path))
        result = reloaded.session(session.id).step().criteria_evaluation[0]

        assert ("inconclusive", "predicate_rejected_post_load: attribute_not_allowed") == (
            result.status,
            result.evidence,
        )


class TestProgress:
    def _run(self, criterion: dict[str, Any], *values: float) -> tuple[list[bool], list[int], Any]:
        mission = make_mission({"t": metrics_tool(*values)})
        session = start(mission, [criterion, event_criterion()], stagnation_threshold=50)
        iterations = [session.step() for _ in values]
        return (
            [it.progress for it in iterations],
            [it.no_progress_counter for it in iterations],
            session.state.criterion_progress["loss"],
        )

    def test_equality_distance_is_absolute(self) -> None:
        """§6.6.4: '==' uses |v − target|: crossing to the same distance is no progress."""
        progress, counters, best = self._run(threshold(op="==", target=5), 9, 1, 6, 4.5, 5)

        assert [False, False, True, True, True] == progress
        assert [0, 1, 0, 0, 0] == counters
        assert mk.CriterionProgress(ever_met=True, best_value=5.0) == best

    def test_equality_with_relative_delta(self) -> None:
        """§6.6.4: rel δ = min_delta × distance(best) for '=='."""
        progress, counters, best = self._run(
            threshold(op="==", target=5, min_delta=0.5, min_delta_mode="rel"), 9, 6.5, 6, 5.4
        )

        assert ([False, True, False, True], [0, 0, 1, 0]) == (progress, counters)
        assert mk.CriterionProgress(ever_met=False, best_value=5.4) == best

    def test_relative_delta_at_distance_zero(self) -> None:
        """§6.6.4: with best at distance 0 nothing improves; the first met value stays the best."""
        progress, counters, best = self._run(
            threshold(op="<=", target=0.1, min_delta=0.5, min_delta_mode="rel"),
            0.05,
            0.01,
            0.2,
            0.001,
        )

        assert ([True, False, False, False], [0, 1, 2, 3]) == (progress, counters)
        assert mk.CriterionProgress(ever_met=True, best_value=0.05) == best

    def test_greater_than_distance(self) -> None:
        """§6.6.4: '>' distance is max(target − v, 0); values past the target stop improving."""
        progress, counters, best = self._run(threshold(op=">", target=10), 1, 5, 5, 12, 11, 20)

        assert [False, True, False, True, False, False] == progress
        assert [0, 0, 1, 0, 1, 2] == counters
        assert 12.0 == best.best_value

    def test_absolute_delta_is_strict(self) -> None:
        """§6.6.4: an improvement exactly δ is not progress; more than δ is."""
        progress, _, best = self._run(threshold(op=">=", target=10, min_delta=2), 1, 3, 3.5, 7.1)

        assert [False, False, True, True] == progress
        assert 7.1 == best.best_value

    def test_not_equal_only_progresses_by_meeting(self) -> None:
        """§6.6.4: '!=' has no distance; only the first meeting is progress, best stays first."""
        progress, counters, best = self._run(threshold(op="!=", target=5), 5, 5, 5, 4, 4)

        assert ([False, False, False, True, False], [0, 1, 2, 0, 1]) == (progress, counters)
        assert mk.CriterionProgress(ever_met=True, best_value=5.0) == best

    def test_infinite_distances_never_improve(self) -> None:
        """§6.6.4: against target -inf with '<' every distance is inf, so nothing is progress."""
        progress, counters, best = self._run(threshold(op="<", target=float("-inf")), 5, 4, 3)

        assert ([False, False, False], [0, 1, 2], 5.0) == (progress, counters, best.best_value)

    def test_non_finite_values_skip_the_baseline(self) -> None:
        """§6.6.4: NaN and inf never progress nor move best_value; later finite values compare."""
        progress, counters, best = self._run(
            threshold(target=1, on_non_finite="unmet"), 5, float("nan"), float("inf"), 4
        )

        assert ([False, False, False, True], [0, 1, 2, 0]) == (progress, counters)
        assert mk.CriterionProgress(ever_met=False, best_value=4.0) == best

    def test_first_meeting_of_any_kind_is_progress(self) -> None:
        """§6.6.4(a): a required predicate met for the first time resets the counter."""
        mission = make_mission({"t": metrics_tool(1, 1, 1, 9)})
        session = start(
            mission,
            [_predicate("obs['metrics']['loss'] > 5"), event_criterion()],
            stagnation_threshold=50,
        )
        iterations = [session.step() for _ in range(4)]

        assert [False, False, False, True] == [it.progress for it in iterations]
        assert [0, 1, 2, 0] == [it.no_progress_counter for it in iterations]


class TestCadence:
    def test_on_event_from_host_input(self) -> None:
        """§6.6.1: host-reported events trigger on_event now and on the next iteration."""
        mission = make_mission({"ext": None})
        session = start(
            mission,
            [event_criterion("never")],
            checkpoint_cadence={"kind": "on_event", "event_name": "go"},
            stagnation_threshold=50,
        )
        inputs = [
            {},
            {"events": [{"event_name": "go"}]},
            {},
            {},
            {"events": [{"event_name": "Go"}]},
        ]
        iterations = [session.observe(o) for o in inputs]

        assert [False, True, True, False, False] == [it.checkpoint_evaluated for it in iterations]
        assert [0, 0, 1, 1, 1] == [it.no_progress_counter for it in iterations]

    def test_every_n_iterations_three(self) -> None:
        """§6.6.1: every_n_iterations(3) evaluates indices 0, 3, 6."""
        mission = make_mission({"t": metrics_tool(0.9)})
        session = start(
            mission,
            [threshold()],
            checkpoint_cadence={"kind": "every_n_iterations", "n": 3},
            stagnation_threshold=50,
        )
        iterations = [session.step() for _ in range(7)]

        assert [True, False, False, True, False, False, True] == [
            it.checkpoint_evaluated for it in iterations
        ]
        assert [0, 0, 0, 1, 1, 1, 2] == [it.no_progress_counter for it in iterations]


class TestCascade:
    def test_rule2_beats_no_progress(self) -> None:
        """§6.7: completion on an iteration whose counter reached the threshold is complete."""
        results = [{"metrics": {"loss": 0.0}}] * 3 + [{"metrics": {"loss": 0.0, "b": 1}}]
        mission = make_mission({"t": ScriptedTool(*results)})
        optional = threshold("opt", metric="metrics.b", op=">=", target=0, required=False)
        session = start(mission, [threshold(), optional], stagnation_threshold=3)
        iterations = [session.step() for _ in range(4)]

        assert [
            "continue/in_progress",
            "continue/in_progress",
            "adjust/heuristic_unproductive",
            "complete/criteria_met",
        ] == verdicts(iterations)
        assert 3 == iterations[-1].no_progress_counter

    def test_rule2_beats_max_wall_clock(self) -> None:
        """§6.7: meeting everything when active time crossed the cap still completes."""
        clock = FakeClock()

        def slow() -> dict[str, Any]:
            clock.advance(120)
            return {"metrics": {"loss": 0.0}}

        session = start(
            make_mission({"slow": slow}, clock=clock),
            [threshold()],
            budget={"max_wall_clock_seconds": 60},
        )

        assert ["complete/criteria_met"] == verdicts([session.step()])

    def test_rule3_applies_to_optional_criteria(self) -> None:
        """§6.7 rule 3: any criterion with the terminate policy, required or not, terminates."""
        mission = make_mission(
            {"t": ScriptedTool(default={"metrics": {"loss": 0.0, "x": float("nan")}})}
        )
        optional = threshold("x", metric="metrics.x", required=False, on_non_finite="terminate")
        session = start(mission, [threshold(), optional])

        assert ["terminate/non_finite"] == verdicts([session.step()])

    def test_rule3_beats_no_progress(self) -> None:
        """§6.7: non_finite wins over a counter at the threshold."""
        tool = ScriptedTool(*_losses(0.9, 0.9), default={"metrics": {"loss": float("nan")}})
        mission = make_mission({"t": tool})
        session = start(mission, [threshold(on_non_finite="terminate")], stagnation_threshold=2)
        iterations = [session.step() for _ in range(3)]

        assert ["continue/in_progress", "continue/in_progress", "terminate/non_finite"] == verdicts(
            iterations
        )
        assert 2 == iterations[-1].no_progress_counter

    def test_rule4_on_an_off_cadence_iteration(self) -> None:
        """§6.7: max_iterations (rule 4) ends an off-cadence iteration before cadence_skip."""
        mission = make_mission({"t": metrics_tool(0.9)})
        session = start(
            mission,
            [threshold()],
            budget={"max_iterations": 2},
            checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
        )

        assert ["continue/in_progress", "terminate/max_iterations"] == verdicts(
            [session.step(), session.step()]
        )

    def test_met_values_off_cadence_do_not_complete(self) -> None:
        """§6.7 rule 2: completion needs checkpoint_evaluated; the next evaluated one completes."""
        mission = make_mission({"t": metrics_tool(0.9, 0.05)})
        session = start(
            mission, [threshold()], checkpoint_cadence={"kind": "every_n_iterations", "n": 2}
        )

        assert [
            "continue/in_progress",
            "continue/cadence_skip",
            "complete/criteria_met",
        ] == verdicts([session.step() for _ in range(3)])

    @pytest.mark.parametrize(
        ("threshold_value", "expected"),
        [
            (1, ["continue/in_progress", "terminate/no_progress"]),
            (2, ["continue/in_progress", "continue/in_progress", "terminate/no_progress"]),
        ],
    )
    def test_small_stagnation_thresholds(self, threshold_value: int, expected: list[str]) -> None:
        """§6.7/§6.8(a): thresholds 1 and 2 stop before two stored iterations allow repetition."""
        mission = make_mission({"t": metrics_tool(0.9)})
        session = start(mission, [threshold()], stagnation_threshold=threshold_value)
        iterations = []
        while session.status in ("pending", "running"):
            iterations.append(session.step())

        assert expected == verdicts(iterations)
        assert threshold_value == iterations[-1].no_progress_counter


class TestAdjustHeuristic:
    def _proposed(self, *sequences: list[str], stagnation_threshold: int) -> list[str]:
        strategies = [{"tool_calls": [{"tool_name": n} for n in seq]} for seq in sequences]
        mission = make_mission(
            {"a": ScriptedTool(default={}), "b": ScriptedTool(default={})},
            proposer=ScriptedProposer(*strategies),
        )
        session = start(mission, [event_criterion()], stagnation_threshold=stagnation_threshold)
        return verdicts([session.step() for _ in sequences])

    def test_repetition_compares_the_two_latest_stored(self) -> None:
        """§6.8(a): a, b, b, b repeats only once the two latest stored iterations are both b."""
        assert [
            "continue/in_progress",
            "continue/in_progress",
            "continue/in_progress",
            "adjust/heuristic_unproductive",
        ] == self._proposed(["a"], ["b"], ["b"], ["b"], stagnation_threshold=4)

    def test_repetition_is_order_sensitive(self) -> None:
        """§6.8(a): sequences are tuples, so [a, b] and [b, a] do not repeat."""
        assert ["continue/in_progress"] * 4 == self._proposed(
            ["a", "b"], ["a", "b"], ["b", "a"], ["b", "a"], stagnation_threshold=4
        )

    def test_repetition_clause_wins_over_new_errors(self) -> None:
        """§6.8: when both clauses hold the rationale names tool_sequence_repeating."""
        tool = ScriptedTool({}, {}, RuntimeError("boom"))
        session = start(make_mission({"t": tool}), [event_criterion()], stagnation_threshold=3)
        iterations = [session.step() for _ in range(3)]

        assert (
            "adjust at iteration 3: tool_sequence_repeating; unmet criteria: done; strategy: t; "
            "no-progress 2/3; propose a different strategy next."
        ) == iterations[2].revision_rationale

    def _errors(self, *messages: str | None) -> list[str]:
        mission = make_mission({"ext": None})
        session = start(mission, [event_criterion()], stagnation_threshold=50)
        return verdicts(
            session.observe({"tool_calls": [_call("ext", "failed", error_message=m)]})
            for m in messages
        )

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            ("mod.Err: 1", "mod.Err: 2"),
            ("_E9.x: a", "_E9.x: b"),
            ("Err: a: 1", "Err: b: 2"),
            ("Err", "Err: 2"),
            ("Err.: 1", "Err.: 2"),
            ("", None),
        ],
    )
    def test_same_error_class(self, first: str, second: str | None) -> None:
        """§6.8(b): these message pairs share a class, so the second is not a new error."""
        assert ["continue/in_progress", "continue/in_progress"] == self._errors(first, second)

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            ("9Err: 1", "9Err: 2"),
            ("Err:1", "Err:2"),
            (": 1", ": 2"),
            ("Err x: 1", "Err x: 2"),
            ("Err-x: 1", "Err-x: 2"),
            ("Err: 1", "Err2: 1"),
        ],
    )
    def test_whole_message_or_different_class(self, first: str, second: str) -> None:
        """§6.8(b): a head that is not an identifier path makes the whole message the class."""
        assert ["continue/in_progress", "adjust/heuristic_unproductive"] == self._errors(
            first, second
        )

    def test_status_is_part_of_the_signature(self) -> None:
        """§6.8(b): the same tool with a different status is a new signature."""
        mission = make_mission({"ext": None})
        session = start(mission, [event_criterion()], stagnation_threshold=50)
        statuses = ["failed", "skipped_not_allowed", "failed"]
        iterations = [session.observe({"tool_calls": [_call("ext", s)]}) for s in statuses]

        assert [
            "continue/in_progress",
            "adjust/heuristic_unproductive",
            "adjust/heuristic_unproductive",
        ] == verdicts(iterations)

    def test_errors_before_the_last_evaluated_iteration_are_forgotten(self) -> None:
        """§6.8(b): the reference set starts at the latest stored evaluated iteration."""
        mission = make_mission({"ext": None})
        session = start(mission, [event_criterion()], stagnation_threshold=50)
        error = {"tool_calls": [_call("ext", "failed", error_message="ValueError: 1")]}
        iterations = [session.observe(o) for o in (error, {"metrics": {}}, error)]

        assert [
            "continue/in_progress",
            "continue/in_progress",
            "adjust/heuristic_unproductive",
        ] == verdicts(iterations)

    def test_reference_is_every_stored_iteration_when_none_was_evaluated(self) -> None:
        """§6.8(b): with no evaluated stored iteration, all stored iterations form the reference."""
        mission = make_mission({"ext": None})
        session = start(
            mission,
            [event_criterion()],
            checkpoint_cadence={"kind": "on_event", "event_name": "go"},
            stagnation_threshold=50,
        )
        failing = [_call("ext", "failed", error_message="ValueError: 1")]
        inputs = [
            {"tool_calls": failing},
            {},
            {},
            {"events": [{"event_name": "go"}], "tool_calls": failing},
        ]
        iterations = [session.observe(o) for o in inputs]

        assert ["continue/cadence_skip"] * 3 + ["continue/in_progress"] == verdicts(iterations)

    def test_rationale_with_no_unmet_criteria(self) -> None:
        """§6.8: ids is 'none' when every criterion is met or inconclusive."""
        mission = make_mission({"ext": None})
        criteria = [threshold(metric="metrics.absent"), event_criterion(required=False)]
        session = start(mission, criteria, stagnation_threshold=50)
        session.observe({"events": [{"event_name": "done"}]})
        iteration = session.observe(
            {"events": [{"event_name": "done"}], "tool_calls": [_call("ext", "failed")]}
        )

        assert (
            "adjust at iteration 2: new_observation_errors; unmet criteria: none; strategy: ext; "
            "no-progress 1/50; propose a different strategy next."
        ) == iteration.revision_rationale


# --- ints past the float range as metric values (SPEC §6.6.2, §6.6.3, §6.10)

HUGE_INT = 10**400  # JSON data (an int), far below every size cap, but not convertible to float


def _huge_predicate(expression: str) -> dict:
    return {"criterion_id": "p", "kind": "predicate", "required": True, "expression": expression}


class TestHugeIntMetrics:
    def test_threshold_on_a_huge_int_does_not_fail_the_iteration(self) -> None:
        """§6.6.3/§6.10: an int metric is compared with the target; tool data never fails a step."""
        mission = make_mission({"t": ScriptedTool(default={"metrics": {"loss": HUGE_INT}})})
        session = start(mission, [threshold(op=">", target=1)])
        iteration = session.step()

        assert ("met", HUGE_INT) == (
            iteration.criteria_evaluation[0].status,
            iteration.criteria_evaluation[0].evidence,
        )
        assert "completed" == session.status

    def test_huge_int_metric_with_a_view_reading_criterion(self) -> None:
        """§6.6.2/§6.9: step() returns the committed iteration; it does not raise after the save."""
        mission = make_mission({"t": ScriptedTool(default={"metrics": {"big": HUGE_INT, "x": 1}})})
        session = start(mission, [_huge_predicate("obs['metric_history']"), event_criterion()])
        iteration = session.step()

        assert 0 == iteration.iteration_index
        # No float can hold the int, so it has no point in the history (the int 1 has).
        assert {"x": [1.0]} == iteration.criteria_evaluation[0].evidence

    def test_session_with_a_stored_huge_int_metric_can_be_opened(self) -> None:
        """§2.3: Mission.session() raises only id/not-found/corrupt/version errors."""
        mission = make_mission({"t": ScriptedTool(default={"metrics": {"big": HUGE_INT}})})
        session = start(mission, [_huge_predicate("1 > 2"), event_criterion()])
        session.step()
        reopened = mission.session(session.id)

        assert 1 == len(reopened.state.iterations)
