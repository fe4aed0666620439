"""
Model JSON forms: round trips, golden key order, omission rules and strict record decoding.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as s
from missionkit.errors import MissionValidationError
from missionkit.models import (
    Budget,
    Cadence,
    CriterionProgress,
    CriterionResult,
    EventCriterion,
    FinalReport,
    HostToolCall,
    Iteration,
    IterationSummary,
    Limits,
    MetricThresholdCriterion,
    MetricTrendCriterion,
    Observation,
    PendingProposal,
    PhaseRecord,
    PredicateCriterion,
    SessionState,
    SessionSummary,
    Strategy,
    ToolCall,
    ToolCallRecord,
    ToolCallSucceededCriterion,
    Verdict,
)
from missionkit.predicate import PredicateLimits
from spec_key_orders import ITERATION_KEYS, REPORT_KEYS, SESSION_KEYS

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
T0_TEXT = "2025-01-01T00:00:00.000000+00:00"

RECORD_CLASSES: dict[str, Any] = {
    "ToolCallRecord": ToolCallRecord,
    "PhaseRecord": PhaseRecord,
    "Observation": Observation,
    "CriterionResult": CriterionResult,
    "Verdict": Verdict,
    "Iteration": Iteration,
    "PendingProposal": PendingProposal,
    "CriterionProgress": CriterionProgress,
    "SessionState": SessionState,
    "SessionSummary": SessionSummary,
    "IterationSummary": IterationSummary,
    "FinalReport": FinalReport,
}


def _canonical(value: Any) -> str:
    """
    JSON text of *value* in which NaN compares equal to NaN.
    """
    return json.dumps(value, allow_nan=True)


def _json_round_trip(data: Any) -> Any:
    return json.loads(json.dumps(data, allow_nan=True))


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


def _reject(cls: Any, data: Any) -> str:
    """
    Decode *data* with *cls* and return the JSON path of the reported defect.
    """
    with pytest.raises(MissionValidationError) as info:
        cls.from_dict(data)
    assert "invalid_value" == info.value.details["reason"]
    assert "validation_error" == info.value.code
    return str(info.value.details["field"])


# --------------------------------------------------------------------------- samples


def phase(name: str = "propose") -> PhaseRecord:
    return PhaseRecord(name, "succeeded", T0, T0)  # type: ignore[arg-type]


def criteria() -> tuple[Any, ...]:
    return (
        MetricThresholdCriterion(
            criterion_id="a", required=True, metric="metrics.x", op="<", target=1
        ),
        EventCriterion(criterion_id="b", required=False, event_name="done"),
    )


def iteration(index: int = 0, **changes: Any) -> Iteration:
    fields: dict[str, Any] = {
        "iteration_index": index,
        "status": "succeeded",
        "started_at": T0,
        "ended_at": T0,
        "phases": (phase(),),
        "strategy": Strategy(tool_calls=(ToolCall("t", {"a": 1}),)),
        "strategy_source": "default",
        "tool_calls": (ToolCallRecord("t", {"a": 1}, "ok", {"type": "null", "bytes": 4}, 3),),
        "observation": Observation((), {"x": 0.5}, (), (), T0, T0),
        "criteria_evaluation": (CriterionResult("a", "met", {"value": 0.5}, T0),),
        "checkpoint_evaluated": True,
        "verdict": "continue",
        "verdict_reason": "in_progress",
    }
    fields.update(changes)
    return Iteration(**fields)


def state(**changes: Any) -> SessionState:
    crit = criteria()
    fields: dict[str, Any] = {
        "session_id": "mission-0123456789abcdef",
        "directive_text": "Do it",
        "criteria": crit,
        "budget": Budget(5, -1),
        "tool_allowlist": ("t",),
        "created_at": T0,
        "updated_at": T0,
        "criterion_progress": {c.criterion_id: CriterionProgress() for c in crit},
        "iterations": (iteration(0), iteration(1)),
    }
    fields.update(changes)
    return SessionState(**fields)


def report(**changes: Any) -> FinalReport:
    fields: dict[str, Any] = {
        "session_id": "mission-0123456789abcdef",
        "status": "completed",
        "directive_text": "Do it",
        "criteria": criteria(),
        "budget": Budget(5, -1),
        "checkpoint_cadence": Cadence(),
        "tool_allowlist": ("t",),
        "stagnation_threshold": 3,
        "metadata": {},
        "created_at": T0,
        "started_at": T0,
        "ended_at": T0,
        "active_seconds": 1.0,
        "iterations_run": 1,
        "final_verdict": "complete",
        "final_verdict_reason": "criteria_met",
        "final_criteria_evaluation": None,
        "failure": None,
        "lessons": "Learnt.",
        "lessons_source": "template",
        "recommended_followups": (),
        "iterations": (iteration(0),),
    }
    fields.update(changes)
    return FinalReport(**fields)


# --------------------------------------------------------------------------- round trips


class TestRoundTrips:
    @pytest.mark.parametrize("name", sorted(s.RECORD_MODEL_STRATEGIES))
    @settings(max_examples=15)
    @given(data=st.data())
    def test_record_from_dict_inverts_to_dict(self, name: str, data: st.DataObject) -> None:
        """Every record model decodes its own JSON form back to an equal instance.

        NaN is never equal to itself, so models holding one compare by their JSON form.
        """
        model = data.draw(s.RECORD_MODEL_STRATEGIES[name])
        original = model.to_dict()

        decoded = RECORD_CLASSES[name].from_dict(original)

        assert _canonical(original) == _canonical(decoded.to_dict())
        if not _has_nan(original):
            assert model == decoded

    @pytest.mark.parametrize("name", sorted(s.RECORD_MODEL_STRATEGIES))
    @settings(max_examples=15)
    @given(data=st.data())
    def test_record_survives_json_text(self, name: str, data: st.DataObject) -> None:
        """Every record model survives JSON text with Python's NaN/Infinity extensions."""
        model = data.draw(s.RECORD_MODEL_STRATEGIES[name])
        original = model.to_dict()

        decoded = RECORD_CLASSES[name].from_dict(_json_round_trip(original))

        assert _canonical(original) == _canonical(decoded.to_dict())
        if not _has_nan(original):
            assert model == decoded

    @settings(max_examples=25)
    @given(s.session_states())
    def test_session_state_text_round_trip(self, model: SessionState) -> None:
        """A session, iterations included, round-trips through json.dumps/json.loads."""
        text = json.dumps(model.to_dict(), allow_nan=True)

        decoded = SessionState.from_dict(json.loads(text))

        assert text == json.dumps(decoded.to_dict(), allow_nan=True)
        assert len(model.iterations) == len(decoded.iterations)

    @settings(max_examples=25)
    @given(s.final_reports())
    def test_final_report_text_round_trip(self, model: FinalReport) -> None:
        """A final report round-trips through json.dumps/json.loads."""
        text = json.dumps(model.to_dict(), allow_nan=True)

        decoded = FinalReport.from_dict(json.loads(text))

        assert text == json.dumps(decoded.to_dict(), allow_nan=True)

    def test_non_finite_metrics_round_trip_as_floats(self) -> None:
        """NaN and ±inf metric values come back from JSON text as floats."""
        obs = Observation((), {"nan": math.nan, "inf": math.inf, "ninf": -math.inf}, (), (), T0, T0)
        st_ = state(iterations=(iteration(0, observation=obs),))

        decoded = SessionState.from_dict(_json_round_trip(st_.to_dict()))

        metrics = decoded.iterations[0].observation.metrics  # type: ignore[union-attr]
        assert math.isnan(metrics["nan"])
        assert math.inf == metrics["inf"]
        assert -math.inf == metrics["ninf"]

    @settings(max_examples=40)
    @given(s.criterion_models())
    def test_criterion_input_round_trip(self, model: Any) -> None:
        """Criterion models validate their own JSON back to an equal model."""
        assert model == type(model).from_dict(model.to_dict())

    @settings(max_examples=40)
    @given(s.criterion_models())
    def test_criterion_record_round_trip(self, model: Any) -> None:
        """Criteria decode structurally from a stored session to an equal model."""
        data = state(criteria=(model,), criterion_progress={}).to_dict()

        assert (model,) == SessionState.from_dict(data).criteria

    @given(s.budgets())
    def test_budget_round_trip(self, model: Budget) -> None:
        """Budgets round-trip through validation."""
        assert model == Budget.from_dict(model.to_dict())

    @given(s.cadences())
    def test_cadence_round_trip(self, model: Cadence) -> None:
        """Cadences of every kind round-trip through validation."""
        assert model == Cadence.from_dict(model.to_dict())

    @settings(max_examples=40)
    @given(s.tool_calls())
    def test_tool_call_round_trip(self, model: ToolCall) -> None:
        """Tool calls round-trip through validation."""
        assert _canonical(model.to_dict()) == _canonical(
            ToolCall.from_dict(model.to_dict()).to_dict()
        )

    @settings(max_examples=40)
    @given(s.valid_host_call_dicts())
    def test_host_tool_call_round_trip(self, data: dict[str, Any]) -> None:
        """Host-reported calls round-trip through validation."""
        model = HostToolCall.from_dict(data)

        assert _canonical(model.to_dict()) == _canonical(
            HostToolCall.from_dict(model.to_dict()).to_dict()
        )

    @given(
        st.builds(
            Limits,
            evidence_bytes=st.integers(1, 10**9),
            tool_result_bytes=st.integers(1, 10**9),
            predicate=st.builds(
                PredicateLimits,
                **{name: st.integers(1, 10**9) for name in PredicateLimits.__annotations__},
            ),
        )
    )
    def test_limits_round_trip(self, model: Limits) -> None:
        """Limits (and their predicate limits) round-trip through their JSON form."""
        assert model == Limits.from_dict(json.loads(json.dumps(model.to_dict())))

    @pytest.mark.parametrize(
        ("data", "details"),
        [
            ([], {"field": "limits", "reason": "invalid_value"}),
            ({"cap": 1}, {"field": "limits", "subfield": "cap", "reason": "invalid_value"}),
            (
                {"predicate": {"max_work": 0}},
                {"field": "limits", "subfield": "max_work", "reason": "must_be_positive_int"},
            ),
            (
                {"predicate": {"budget": 1}},
                {"field": "limits", "subfield": "budget", "reason": "invalid_value"},
            ),
        ],
    )
    def test_limits_from_dict_refuses(self, data: Any, details: dict[str, Any]) -> None:
        """Limits JSON that is not an object, has unknown keys or bad values is refused."""
        with pytest.raises(MissionValidationError) as info:
            Limits.from_dict(data)

        assert details == info.value.details

    @settings(max_examples=40)
    @given(s.strategies())
    def test_strategy_round_trip(self, model: Strategy) -> None:
        """Strategies (tool calls or scripts) round-trip through record decoding."""
        data = PendingProposal(strategy=model, strategy_source="host").to_dict()

        assert model == PendingProposal.from_dict(data).strategy

    def test_timestamps_are_utc_microseconds(self) -> None:
        """Timestamps render as UTC ISO-8601 with microseconds and decode to aware UTC datetimes."""
        when = dt.datetime(2025, 3, 4, 5, 6, 7, 89, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        record = PhaseRecord("execute", "failed", when, when, "boom")

        data = record.to_dict()
        decoded = PhaseRecord.from_dict(data)

        assert "2025-03-04T03:06:07.000089+00:00" == data["started_at"]
        assert dt.UTC == decoded.started_at.tzinfo
        assert when == decoded.started_at

    def test_naive_stored_timestamps_are_utc(self) -> None:
        """A naive stored timestamp is read as UTC."""
        data = phase().to_dict() | {"started_at": "2025-01-01T00:00:00"}

        assert T0 == PhaseRecord.from_dict(data).started_at


# --------------------------------------------------------------------------- golden key order


class TestKeyOrder:
    def test_iteration_has_23_keys_in_order(self) -> None:
        """An Iteration emits its 23 keys in §3.9 order, nulls included."""
        data = Iteration(iteration_index=0, status="failed", started_at=T0, ended_at=T0).to_dict()

        assert 23 == len(ITERATION_KEYS)
        assert ITERATION_KEYS == list(data)
        assert {
            "iteration_index": 0,
            "status": "failed",
            "started_at": T0_TEXT,
            "ended_at": T0_TEXT,
            "phases": [],
            "strategy": None,
            "strategy_source": None,
            "tool_calls": [],
            "script_call_log": None,
            "script_error": None,
            "sandbox_terminated_reason": None,
            "observation": None,
            "criteria_evaluation": [],
            "checkpoint_evaluated": False,
            "progress": False,
            "no_progress_counter": 0,
            "verdict": None,
            "verdict_reason": None,
            "revision_rationale": None,
            "sampling_status": None,
            "sampling_rejection_reason": None,
            "sampling_output": None,
            "sampling_rationale": None,
        } == data

    def test_session_state_keys_end_with_iterations(self) -> None:
        """SessionState keys follow §3.11 and end with iterations; the header drops them."""
        st_ = state()

        assert SESSION_KEYS == list(st_.to_dict())
        assert SESSION_KEYS[:-1] == list(st_.header_dict())

    def test_session_state_defaults(self) -> None:
        """A fresh session renders the §3.11 creation values."""
        data = state(iterations=()).to_dict()

        assert 1 == data["version"]
        assert 1 == data["revision"]
        assert "pending" == data["status"]
        assert {"kind": "every_iteration"} == data["checkpoint_cadence"]
        assert 0.0 == data["paused_seconds"]
        assert {"a": {"ever_met": False, "best_value": None}} == {
            k: v for k, v in data["criterion_progress"].items() if k == "a"
        }
        assert [] == data["iterations"]

    def test_final_report_keys(self) -> None:
        """FinalReport keys follow §12.1."""
        assert REPORT_KEYS == list(report().to_dict())

    @pytest.mark.parametrize(
        ("model", "keys"),
        [
            (
                ToolCallRecord("t", {}, "ok", None, 0),
                ["tool_name", "args", "status", "result_summary", "duration_ms", "error_message"],
            ),
            (phase(), ["phase", "status", "started_at", "ended_at", "error_message"]),
            (
                Observation((), {}, (), (), T0, T0),
                [
                    "tool_results",
                    "metrics",
                    "events",
                    "errors",
                    "phase_started_at",
                    "phase_ended_at",
                ],
            ),
            (
                CriterionResult("a", "met", None, T0),
                ["criterion_id", "status", "evidence", "evaluated_at"],
            ),
            (Verdict("continue", "in_progress"), ["verdict", "verdict_reason"]),
            (
                PendingProposal(strategy=Strategy(script="x"), strategy_source="host"),
                [
                    "strategy",
                    "strategy_source",
                    "phases",
                    "sampling_status",
                    "sampling_rejection_reason",
                    "sampling_output",
                    "sampling_rationale",
                ],
            ),
            (CriterionProgress(), ["ever_met", "best_value"]),
            (
                SessionSummary(session_id="x", status="unreadable"),
                [
                    "session_id",
                    "status",
                    "created_at",
                    "updated_at",
                    "iteration_count",
                    "final_verdict",
                    "final_verdict_reason",
                    "error",
                ],
            ),
            (
                IterationSummary(
                    iteration_index=0,
                    status="failed",
                    verdict=None,
                    verdict_reason=None,
                    started_at=T0,
                    ended_at=T0,
                ),
                [
                    "iteration_index",
                    "status",
                    "verdict",
                    "verdict_reason",
                    "started_at",
                    "ended_at",
                ],
            ),
            (Budget(1, -1), ["max_iterations", "max_wall_clock_seconds"]),
            (ToolCall("t"), ["tool_name", "args"]),
        ],
    )
    def test_record_key_order(self, model: Any, keys: list[str]) -> None:
        """Each model emits every field, in table order."""
        assert keys == list(model.to_dict())

    def test_verdict_json_and_terminality(self) -> None:
        """A Verdict renders as verdict/verdict_reason; complete and terminate are terminal."""
        assert {"verdict": "adjust", "verdict_reason": "heuristic_unproductive"} == Verdict(
            "adjust", "heuristic_unproductive"
        ).to_dict()
        assert [False, False, True, True] == [
            Verdict(label, "r").is_terminal  # type: ignore[arg-type]
            for label in ("continue", "adjust", "complete", "terminate")
        ]


class TestOmissionRules:
    def test_metric_threshold_golden(self) -> None:
        """metric_threshold emits defaults, omits a null description and flattens extras last."""
        crit = MetricThresholdCriterion(
            criterion_id="loss",
            required=True,
            metric="metrics.loss",
            op="<=",
            target=0.1,
            extra={"owner": "ml", "weight": 2},
        )

        assert [
            ("criterion_id", "loss"),
            ("kind", "metric_threshold"),
            ("required", True),
            ("metric", "metrics.loss"),
            ("op", "<="),
            ("target", 0.1),
            ("min_delta", 0),
            ("min_delta_mode", "abs"),
            ("on_non_finite", "inconclusive"),
            ("owner", "ml"),
            ("weight", 2),
        ] == list(crit.to_dict().items())

    def test_description_follows_required(self) -> None:
        """A description is emitted right after required."""
        crit = EventCriterion(criterion_id="e", required=False, description="d", event_name="go")

        assert ["criterion_id", "kind", "required", "description", "event_name"] == list(
            crit.to_dict()
        )

    def test_metric_trend_omits_null_window_and_min_points(self) -> None:
        """metric_trend omits window and min_points when null and emits them when set."""
        bare = MetricTrendCriterion(
            criterion_id="t", required=True, metric="loss", direction="decreasing"
        )
        full = MetricTrendCriterion(
            criterion_id="t",
            required=True,
            metric="loss",
            direction="decreasing",
            window=5,
            min_points=3,
            description="x",
            extra={"z": None},
        )

        assert ["criterion_id", "kind", "required", "metric", "direction", "on_non_finite"] == list(
            bare.to_dict()
        )
        assert [
            "criterion_id",
            "kind",
            "required",
            "description",
            "metric",
            "direction",
            "window",
            "min_points",
            "on_non_finite",
            "z",
        ] == list(full.to_dict())

    @pytest.mark.parametrize(
        ("crit", "keys"),
        [
            (EventCriterion(criterion_id="e", required=True, event_name="go"), ["event_name"]),
            (
                PredicateCriterion(criterion_id="p", required=True, expression="True"),
                ["expression"],
            ),
            (
                ToolCallSucceededCriterion(criterion_id="c", required=True, tool_name="t"),
                ["tool_name", "min_count"],
            ),
        ],
    )
    def test_other_kinds_golden(self, crit: Any, keys: list[str]) -> None:
        """Each kind emits the common head then its own fields, then extras."""
        extra = type(crit)(**{**_fields(crit), "extra": {"x": 1}})

        assert ["criterion_id", "kind", "required", *keys] == list(crit.to_dict())
        assert ["criterion_id", "kind", "required", *keys, "x"] == list(extra.to_dict())

    def test_tool_call_succeeded_default_min_count(self) -> None:
        """min_count defaults to 1 and is always emitted."""
        crit = ToolCallSucceededCriterion(criterion_id="c", required=True, tool_name="t")

        assert 1 == crit.to_dict()["min_count"]

    def test_predicate_compiled_cache_is_not_a_field(self) -> None:
        """The compiled predicate is cached but never serialised, compared or shown."""
        crit = PredicateCriterion(criterion_id="p", required=True, expression="1 < 2")
        twin = PredicateCriterion(criterion_id="p", required=True, expression="1 < 2")

        assert crit.compiled is crit.compiled
        assert twin == crit
        assert "compiled" not in crit.to_dict()
        assert "compiled" not in repr(crit)

    @pytest.mark.parametrize(
        ("strategy", "expected"),
        [
            (
                Strategy(tool_calls=(ToolCall("t"),)),
                {"tool_calls": [{"tool_name": "t", "args": {}}]},
            ),
            (
                Strategy(tool_calls=(ToolCall("t", {"a": 1}),), rationale="why"),
                {"tool_calls": [{"tool_name": "t", "args": {"a": 1}}], "rationale": "why"},
            ),
            (Strategy(script="call_tool('t')"), {"script": "call_tool('t')"}),
            (
                Strategy(script="x", rationale="r", expected_observation_keys=("a", "b")),
                {"script": "x", "rationale": "r", "expected_observation_keys": ["a", "b"]},
            ),
        ],
    )
    def test_strategy_omits_absent_keys(self, strategy: Strategy, expected: dict[str, Any]) -> None:
        """A Strategy's JSON contains only the keys that are set, in field order."""
        assert list(expected.items()) == list(strategy.to_dict().items())

    @pytest.mark.parametrize(
        ("cadence", "expected"),
        [
            (Cadence(), {"kind": "every_iteration"}),
            (Cadence("every_iteration", n=3, t=4, event_name="e"), {"kind": "every_iteration"}),
            (Cadence("every_n_iterations", n=3, t=4), {"kind": "every_n_iterations", "n": 3}),
            (Cadence("every_t_seconds", n=3, t=4), {"kind": "every_t_seconds", "t": 4}),
            (Cadence("on_event", n=3, event_name="e"), {"kind": "on_event", "event_name": "e"}),
        ],
    )
    def test_cadence_emits_only_its_parameter(
        self, cadence: Cadence, expected: dict[str, Any]
    ) -> None:
        """A Cadence's JSON is its kind plus that kind's parameter only."""
        assert expected == cadence.to_dict()

    def test_error_messages_cut_to_200(self) -> None:
        """Error texts on call, phase and iteration records are cut to 200 characters."""
        text = "x" * 250

        assert 200 == len(ToolCallRecord("t", {}, "failed", None, 0, text).error_message or "")
        assert 200 == len(PhaseRecord("decide", "failed", T0, T0, text).error_message or "")
        assert 200 == len(iteration(script_error=text).script_error or "")


def _fields(model: Any) -> dict[str, Any]:
    import attrs

    return {f.name: getattr(model, f.name) for f in attrs.fields(type(model))}


# --------------------------------------------------------------------------- strict decoding


def _set(data: Any, path: list[Any], value: Any) -> Any:
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _drop(data: Any, path: list[Any]) -> Any:
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


SESSION_DEFECTS: list[tuple[list[Any], Any, str]] = [
    (["iterations", 0, "status"], "done", "iterations[0].status"),
    (["iterations", 1, "status"], None, "iterations[1].status"),
    (["criteria", 1, "required"], "yes", "criteria[1].required"),
    (["criteria", 0, "target"], "1", "criteria[0].target"),
    (["criteria", 0, "target"], math.nan, "criteria[0].target"),
    (["criteria", 0, "target"], True, "criteria[0].target"),
    (["criteria", 0, "op"], "=~", "criteria[0].op"),
    (["criteria", 1, "kind"], "vibe", "criteria[1].kind"),
    (["criteria", 1, "description"], 3, "criteria[1].description"),
    (["criteria", 0, "min_delta"], math.inf, "criteria[0].min_delta"),
    (["criteria"], {}, "criteria"),
    (["criteria", 0], [], "criteria[0]"),
    (["version"], 2, "version"),
    (["version"], "1", "version"),
    (["revision"], 0, "revision"),
    (["status"], "sleeping", "status"),
    (["status"], "unreadable", "status"),
    (["budget", "max_iterations"], 0, "budget.max_iterations"),
    (["budget", "max_wall_clock_seconds"], -2, "budget.max_wall_clock_seconds"),
    (["budget", "extra"], 1, "budget.extra"),
    (["tool_allowlist", 0], 7, "tool_allowlist[0]"),
    (["checkpoint_cadence", "kind"], "sometimes", "checkpoint_cadence.kind"),
    (["checkpoint_cadence"], {"kind": "every_n_iterations", "n": 0}, "checkpoint_cadence.n"),
    (
        ["checkpoint_cadence"],
        {"kind": "every_n_iterations", "n": 2, "t": 3},
        "checkpoint_cadence.t",
    ),
    (
        ["checkpoint_cadence"],
        {"kind": "on_event", "event_name": "e", "x": 1},
        "checkpoint_cadence.x",
    ),
    (["checkpoint_cadence"], {"kind": "every_iteration", "n": 3}, "checkpoint_cadence.n"),
    (["stagnation_threshold"], 0, "stagnation_threshold"),
    (["use_sampling"], 1, "use_sampling"),
    (["sampling_mode"], "always", "sampling_mode"),
    (["metadata"], [], "metadata"),
    (["created_at"], "yesterday", "created_at"),
    (["updated_at"], 1735689600, "updated_at"),
    (["started_at"], "2025-13-01T00:00:00+00:00", "started_at"),
    (["paused_seconds"], math.nan, "paused_seconds"),
    (["no_progress_counter"], -1, "no_progress_counter"),
    (["criterion_progress", "a", "ever_met"], 0, "criterion_progress.a.ever_met"),
    (["criterion_progress", "a", "best_value"], "1", "criterion_progress.a.best_value"),
    (["final_verdict"], "win", "final_verdict"),
    (["pending_proposal"], {"strategy": {"script": "x"}}, "pending_proposal.strategy_source"),
    (["iterations", 0, "phases", 0, "phase"], "think", "iterations[0].phases[0].phase"),
    (["iterations", 0, "phases", 0, "ended_at"], "", "iterations[0].phases[0].ended_at"),
    (
        ["iterations", 0, "strategy", "tool_calls", 0, "args"],
        [],
        "iterations[0].strategy.tool_calls[0].args",
    ),
    (["iterations", 0, "strategy", "script"], "x", "iterations[0].strategy"),
    (["iterations", 0, "strategy_source"], "oracle", "iterations[0].strategy_source"),
    (["iterations", 0, "tool_calls", 0, "status"], "meh", "iterations[0].tool_calls[0].status"),
    (
        ["iterations", 0, "tool_calls", 0, "duration_ms"],
        1.5,
        "iterations[0].tool_calls[0].duration_ms",
    ),
    (["iterations", 0, "tool_calls", 0, "bonus"], 1, "iterations[0].tool_calls[0].bonus"),
    (
        ["iterations", 0, "sandbox_terminated_reason"],
        "cpu",
        "iterations[0].sandbox_terminated_reason",
    ),
    (["iterations", 0, "observation", "metrics"], [], "iterations[0].observation.metrics"),
    (["iterations", 0, "observation", "events"], [1], "iterations[0].observation.events[0]"),
    (
        ["iterations", 0, "criteria_evaluation", 0, "status"],
        "ok",
        "iterations[0].criteria_evaluation[0].status",
    ),
    (["iterations", 0, "checkpoint_evaluated"], "true", "iterations[0].checkpoint_evaluated"),
    (["iterations", 0, "verdict"], "stop", "iterations[0].verdict"),
    (["iterations", 0, "sampling_status"], "maybe", "iterations[0].sampling_status"),
    (["iterations", 1, "surprise"], None, "iterations[1].surprise"),
    (["iterations"], {}, "iterations"),
    (["surprise"], 1, "surprise"),
]


class TestStrictDecoding:
    @pytest.mark.parametrize(("path", "value", "field"), SESSION_DEFECTS)
    def test_session_defect_reports_json_path(
        self, path: list[Any], value: Any, field: str
    ) -> None:
        """A defect anywhere in a stored session names its exact JSON path."""
        data = _set(state().to_dict(), path, value)

        assert field == _reject(SessionState, data)

    @pytest.mark.parametrize(
        ("path", "field"),
        [
            (["session_id"], "session_id"),
            (["version"], "version"),
            (["criteria", 0, "metric"], "criteria[0].metric"),
            (["criteria", 1, "event_name"], "criteria[1].event_name"),
            (["iterations", 0, "started_at"], "iterations[0].started_at"),
            (["iterations", 1, "sampling_output"], "iterations[1].sampling_output"),
            (["criterion_progress", "a", "ever_met"], "criterion_progress.a.ever_met"),
        ],
    )
    def test_missing_key_reports_json_path(self, path: list[Any], field: str) -> None:
        """A missing required key is reported at its own path."""
        data = _drop(state().to_dict(), path)

        assert field == _reject(SessionState, data)

    def test_missing_iterations_means_header(self) -> None:
        """A session without an iterations key decodes as a header."""
        st_ = state()

        assert st_.header() == SessionState.from_dict(st_.header_dict())

    @pytest.mark.parametrize("value", [None, [], "x", 1])
    def test_non_object_top_level(self, value: Any) -> None:
        """A non-object record is rejected at the root path."""
        assert "$" == _reject(SessionState, value)

    @pytest.mark.parametrize(
        ("path", "value", "field"),
        [
            (["version"], 2, "version"),
            (["status"], "paused", "status"),
            (["lessons_source"], "oracle", "lessons_source"),
            (["active_seconds"], math.inf, "active_seconds"),
            (["iterations_run"], -1, "iterations_run"),
            (["final_criteria_evaluation"], [{}], "final_criteria_evaluation[0].criterion_id"),
            (["failure"], "boom", "failure"),
            (["recommended_followups"], [1], "recommended_followups[0]"),
            (["iterations", 0, "ended_at"], None, "iterations[0].ended_at"),
            (["extra"], 1, "extra"),
        ],
    )
    def test_report_defects(self, path: list[Any], value: Any, field: str) -> None:
        """FinalReport decoding reports the path of a defect."""
        data = _set(report().to_dict(), path, value)

        assert field == _reject(FinalReport, data)

    @pytest.mark.parametrize(
        ("cls", "data", "field"),
        [
            (Verdict, {"verdict": "go", "verdict_reason": "x"}, "verdict"),
            (Verdict, {"verdict": "continue", "verdict_reason": "x", "y": 1}, "y"),
            (IterationSummary, {**iteration().summary().to_dict(), "status": "ok"}, "status"),
            (
                IterationSummary,
                {**iteration().summary().to_dict(), "iteration_index": -1},
                "iteration_index",
            ),
            (SessionSummary, {"session_id": "x", "status": "lost"}, "status"),
            (
                SessionSummary,
                {**SessionSummary(session_id="x", status="pending").to_dict(), "z": 0},
                "z",
            ),
            (CriterionProgress, {"best_value": None}, "ever_met"),
            (
                CriterionResult,
                {**CriterionResult("a", "met", 1, T0).to_dict(), "evaluated_at": "now"},
                "evaluated_at",
            ),
            (
                ToolCallRecord,
                {**ToolCallRecord("t", {}, "ok", None, 0).to_dict(), "args": None},
                "args",
            ),
            (PhaseRecord, {**phase().to_dict(), "error_message": 5}, "error_message"),
            (
                Observation,
                {**Observation((), {}, (), (), T0, T0).to_dict(), "errors": None},
                "errors",
            ),
            (PendingProposal, {"strategy": {"tool_calls": [], "script": "x"}}, "strategy"),
        ],
    )
    def test_model_defects(self, cls: Any, data: Any, field: str) -> None:
        """Every record model reports its defects with a JSON path."""
        assert field == _reject(cls, data)

    def test_error_is_a_validation_error_envelope(self) -> None:
        """The decode error has exactly the field and reason keys."""
        data = _set(state().to_dict(), ["iterations", 0, "status"], "done")

        with pytest.raises(MissionValidationError) as info:
            SessionState.from_dict(data)

        assert {
            "code": "validation_error",
            "details": {"field": "iterations[0].status", "reason": "invalid_value"},
        } == info.value.to_dict()

    def test_criterion_underscore_keys_are_dropped(self) -> None:
        """Stored criterion keys starting with _ are dropped; other unknown keys become extra."""
        data = state().to_dict()
        data["criteria"][1].update({"_private": 1, "owner": "me"})

        decoded = SessionState.from_dict(data).criteria[1]

        assert {"owner": "me"} == decoded.extra
