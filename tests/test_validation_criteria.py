"""
Tests for validate_criteria (SPEC §4.4).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from hypothesis import given

from missionkit.models import (
    EventCriterion,
    MetricThresholdCriterion,
    MetricTrendCriterion,
    PredicateCriterion,
    ToolCallSucceededCriterion,
)
from missionkit.validation import validate_criteria
from strategies import HostileDict, valid_criteria_lists
from validation_support import rejection

KINDS = ["event", "metric_threshold", "metric_trend", "predicate", "tool_call_succeeded"]


def base(kind: str, criterion_id: str = "c1", /, **fields: Any) -> dict[str, Any]:
    """
    A valid criterion dict of *kind*, updated with *fields* (a value of ``...`` deletes the key).
    """
    out: dict[str, Any] = {"criterion_id": criterion_id, "kind": kind, "required": True}
    out.update(
        {
            "metric_threshold": {"metric": "metrics.val_loss", "op": "<", "target": 0.1},
            "metric_trend": {"metric": "val_loss", "direction": "decreasing"},
            "event": {"event_name": "done"},
            "predicate": {"expression": "len(obs['tool_results']) > 0"},
            "tool_call_succeeded": {"tool_name": "train"},
        }[kind]
    )
    for key, value in fields.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def reject_one(entry: Any) -> dict[str, Any]:
    """
    Details of rejecting a one-entry criteria list.
    """
    return rejection(validate_criteria, [entry])


class TestListLevel:
    """
    Checks 1–3 on the list itself.
    """

    @pytest.mark.parametrize("value", [None, {}, (base("event"),), "criteria", 3])
    def test_not_a_list(self, value: Any) -> None:
        """Check 1: a non-list (tuples included) is not_a_list."""
        expected = {"field": "criteria", "reason": "not_a_list"}
        assert expected == rejection(validate_criteria, value)

    def test_empty(self) -> None:
        """Check 2: an empty list is empty."""
        expected = {"field": "criteria", "reason": "empty"}
        assert expected == rejection(validate_criteria, [])

    def test_too_many(self) -> None:
        """Check 3: more than 256 entries is too_many with both lengths."""
        entries = [base("event", f"c{i}") for i in range(257)]
        expected = {
            "field": "criteria",
            "reason": "too_many",
            "max_length": 256,
            "actual_length": 257,
        }
        assert expected == rejection(validate_criteria, entries)

    def test_too_many_before_entries(self) -> None:
        """Check 3 runs before any entry is inspected."""
        expected = {
            "field": "criteria",
            "reason": "too_many",
            "max_length": 256,
            "actual_length": 300,
        }
        assert expected == rejection(validate_criteria, [None] * 300)

    def test_256_accepted(self) -> None:
        """Exactly 256 entries are accepted, in input order."""
        entries = [base("event", f"c{i}") for i in range(256)]
        result = validate_criteria(entries)
        assert [f"c{i}" for i in range(256)] == [c.criterion_id for c in result]


class TestCommonChecks:
    """
    Checks 4–9 on each entry.
    """

    @pytest.mark.parametrize("entry", [None, [], "x", 1, ("criterion_id", "a")])
    def test_not_a_dict(self, entry: Any) -> None:
        """Check 4: an entry that is neither a dict nor a model is not_a_dict at its index."""
        expected = {"field": "criteria", "index": 1, "reason": "not_a_dict"}
        assert expected == rejection(validate_criteria, [base("event"), entry])

    @pytest.mark.parametrize("value", [..., None, 1, "", "x" * 129, ["a"], True])
    def test_criterion_id(self, value: Any) -> None:
        """Check 5: a missing, non-str, empty or over-long id is reported by index."""
        expected = {"field": "criteria", "index": 0, "reason": "criterion_id_missing_or_invalid"}
        assert expected == reject_one(base("event", criterion_id=value))

    def test_criterion_id_128_accepted(self) -> None:
        """A 128-character id is accepted."""
        assert "x" * 128 == validate_criteria([base("event", "x" * 128)])[0].criterion_id

    def test_duplicate_id(self) -> None:
        """Check 6: an id seen earlier is duplicate_criterion_id."""
        expected = {
            "field": "criteria",
            "criterion_id": "a",
            "reason": "duplicate_criterion_id",
        }
        entries = [base("event", "a"), base("event", "b"), base("metric_trend", "a")]
        assert expected == rejection(validate_criteria, entries)

    @pytest.mark.parametrize("kind", [..., None, "composite", "all_of", 1, ["event"]])
    def test_kind_invalid(self, kind: Any) -> None:
        """Check 7: an unsupported kind lists the five kinds, sorted."""
        entry = base("event", kind=kind)
        expected = {
            "field": "criteria",
            "criterion_id": "c1",
            "reason": "kind_invalid",
            "allowed": KINDS,
        }
        assert expected == reject_one(entry)

    @pytest.mark.parametrize("value", [..., None, 1, 0, "true"])
    def test_required(self, value: Any) -> None:
        """Check 8: required missing or not a bool."""
        expected = {
            "field": "criteria",
            "criterion_id": "c1",
            "reason": "required_missing_or_not_a_bool",
        }
        assert expected == reject_one(base("event", required=value))

    @pytest.mark.parametrize("value", [None, 1, ["d"], b"d"])
    def test_description(self, value: Any) -> None:
        """Check 9: a present description (explicit null included) must be a str."""
        expected = {
            "field": "criteria",
            "criterion_id": "c1",
            "reason": "description_not_a_string",
        }
        assert expected == reject_one(base("event", description=value))

    def test_common_order(self) -> None:
        """An entry failing checks 7, 8 and 9 reports check 7."""
        entry = base("event", kind="nope", required="x", description=1)
        assert "kind_invalid" == reject_one(entry)["reason"]
        entry = base("event", required="x", description=1)
        assert "required_missing_or_not_a_bool" == reject_one(entry)["reason"]

    def test_entries_checked_in_order(self) -> None:
        """The first failing entry wins, whole entry by whole entry."""
        entries = [base("event", "a"), base("event", "b", event_name=""), None]
        expected = {
            "field": "criteria",
            "criterion_id": "b",
            "reason": "event_name_missing_or_invalid",
        }
        assert expected == rejection(validate_criteria, entries)

    def test_duplicate_after_invalid_entry(self) -> None:
        """A kind-specific failure of entry 1 is reported before a duplicate id in entry 2."""
        entries = [base("event", "a"), base("event", "b", event_name=1), base("event", "a")]
        assert "event_name_missing_or_invalid" == rejection(validate_criteria, entries)["reason"]


def kind_error(reason: str, **extra: Any) -> dict[str, Any]:
    """
    The details of a kind-specific failure of criterion ``c1``.
    """
    return {"field": "criteria", "criterion_id": "c1", "reason": reason, **extra}


class TestMetricThreshold:
    """
    Kind-specific checks for metric_threshold.
    """

    @pytest.mark.parametrize(
        "metric", [..., None, 1, "", ".a", "a.", "a..b", ".", ["metrics", "x"]]
    )
    def test_metric(self, metric: Any) -> None:
        """The metric must be a non-empty dot path without empty segments."""
        expected = kind_error("metric_missing_or_invalid")
        assert expected == reject_one(base("metric_threshold", metric=metric))

    @pytest.mark.parametrize("op", [..., None, "=", "lt", "=<", 1, ["<"]])
    def test_op(self, op: Any) -> None:
        """The op must be one of the six operators."""
        expected = kind_error("op_invalid", allowed=["!=", "<", "<=", "==", ">", ">="])
        assert expected == reject_one(base("metric_threshold", op=op))

    @pytest.mark.parametrize("target", [..., None, math.nan, True, "0.1", [1]])
    def test_target(self, target: Any) -> None:
        """The target must be a number and not NaN."""
        expected = kind_error("target_not_a_number")
        assert expected == reject_one(base("metric_threshold", target=target))

    @pytest.mark.parametrize("target", [math.inf, -math.inf, 0, 10**400, -1.5])
    def test_target_accepted(self, target: Any) -> None:
        """Infinite and integer targets (huge ones too) are accepted."""
        (criterion,) = validate_criteria([base("metric_threshold", target=target)])
        assert target == criterion.target

    @pytest.mark.parametrize("value", [None, -1, -0.5, math.nan, math.inf, True, "1"])
    def test_min_delta(self, value: Any) -> None:
        """A present min_delta must be a finite number ≥ 0."""
        expected = kind_error("min_delta_must_be_non_negative_number")
        assert expected == reject_one(base("metric_threshold", min_delta=value))

    @pytest.mark.parametrize("value", [None, "ABS", "relative", 1])
    def test_min_delta_mode(self, value: Any) -> None:
        """A present min_delta_mode must be abs or rel."""
        expected = kind_error("min_delta_mode_invalid", allowed=["abs", "rel"])
        assert expected == reject_one(base("metric_threshold", min_delta_mode=value))

    @pytest.mark.parametrize("value", [None, "ignore", 0])
    def test_on_non_finite(self, value: Any) -> None:
        """A present on_non_finite must be a NonFinitePolicy."""
        expected = kind_error(
            "on_non_finite_invalid", allowed=["inconclusive", "terminate", "unmet"]
        )
        assert expected == reject_one(base("metric_threshold", on_non_finite=value))

    def test_order(self) -> None:
        """Kind checks run in table order: metric, op, target, min_delta, mode, policy."""
        bad = {
            "metric": "",
            "op": "x",
            "target": None,
            "min_delta": -1,
            "min_delta_mode": "x",
            "on_non_finite": "x",
        }
        reasons = []
        for key in list(bad):
            reasons.append(reject_one(base("metric_threshold", **bad))["reason"])
            bad.pop(key)
        expected = [
            "metric_missing_or_invalid",
            "op_invalid",
            "target_not_a_number",
            "min_delta_must_be_non_negative_number",
            "min_delta_mode_invalid",
            "on_non_finite_invalid",
        ]
        assert expected == reasons

    def test_defaults(self) -> None:
        """Absent options take their defaults."""
        expected = MetricThresholdCriterion(
            criterion_id="c1",
            required=True,
            metric="metrics.val_loss",
            op="<",
            target=0.1,
            min_delta=0,
            min_delta_mode="abs",
            on_non_finite="inconclusive",
        )
        assert [expected] == validate_criteria([base("metric_threshold")])

    def test_all_fields(self) -> None:
        """Every declared field is carried into the model."""
        entry = base(
            "metric_threshold",
            description="d",
            min_delta=0.5,
            min_delta_mode="rel",
            on_non_finite="terminate",
            op=">=",
            target=3,
        )
        expected = MetricThresholdCriterion(
            criterion_id="c1",
            required=True,
            description="d",
            metric="metrics.val_loss",
            op=">=",
            target=3,
            min_delta=0.5,
            min_delta_mode="rel",
            on_non_finite="terminate",
        )
        assert [expected] == validate_criteria([entry])


class TestMetricTrend:
    """
    Kind-specific checks for metric_trend.
    """

    @pytest.mark.parametrize("metric", [..., None, "", "a..b", 3])
    def test_metric(self, metric: Any) -> None:
        """The metric must be a non-empty dot path without empty segments."""
        expected = kind_error("metric_missing_or_invalid")
        assert expected == reject_one(base("metric_trend", metric=metric))

    @pytest.mark.parametrize("direction", [..., None, "down", "Decreasing", 1])
    def test_direction(self, direction: Any) -> None:
        """The direction must be one of the four."""
        expected = kind_error(
            "direction_invalid",
            allowed=["decreasing", "increasing", "non_decreasing", "non_increasing"],
        )
        assert expected == reject_one(base("metric_trend", direction=direction))

    @pytest.mark.parametrize("window", [None, 0, -1, 2.0, True, "3"])
    def test_window(self, window: Any) -> None:
        """A present window (explicit null included) must be a positive int."""
        expected = kind_error("window_must_be_positive_int")
        assert expected == reject_one(base("metric_trend", window=window))

    @pytest.mark.parametrize("min_points", [None, 0, -1, 2.0, False, "3"])
    def test_min_points(self, min_points: Any) -> None:
        """A present min_points must be a positive int."""
        expected = kind_error("min_points_must_be_positive_int")
        assert expected == reject_one(base("metric_trend", min_points=min_points))

    def test_on_non_finite(self) -> None:
        """A present on_non_finite must be a NonFinitePolicy (supported by this kind)."""
        expected = kind_error(
            "on_non_finite_invalid", allowed=["inconclusive", "terminate", "unmet"]
        )
        assert expected == reject_one(base("metric_trend", on_non_finite="skip"))

    def test_order(self) -> None:
        """Kind checks run in table order: metric, direction, window, min_points, policy."""
        entry = base("metric_trend", direction="x", window=0, min_points=0, on_non_finite="x")
        assert "direction_invalid" == reject_one(entry)["reason"]
        entry = base("metric_trend", window=0, min_points=0, on_non_finite="x")
        assert "window_must_be_positive_int" == reject_one(entry)["reason"]
        entry = base("metric_trend", min_points=0, on_non_finite="x")
        assert "min_points_must_be_positive_int" == reject_one(entry)["reason"]

    def test_model(self) -> None:
        """Optional fields default to None and the policy to inconclusive."""
        expected = MetricTrendCriterion(
            criterion_id="c1", required=True, metric="val_loss", direction="decreasing"
        )
        assert [expected] == validate_criteria([base("metric_trend")])
        entry = base("metric_trend", window=5, min_points=3, on_non_finite="unmet")
        (result,) = validate_criteria([entry])
        assert (5, 3, "unmet") == (result.window, result.min_points, result.on_non_finite)


class TestEventAndToolCall:
    """
    Kind-specific checks for event and tool_call_succeeded.
    """

    @pytest.mark.parametrize("value", [..., None, "", 1])
    def test_event_name(self, value: Any) -> None:
        """event_name must be a non-empty str."""
        expected = kind_error("event_name_missing_or_invalid")
        assert expected == reject_one(base("event", event_name=value))

    def test_event_model(self) -> None:
        """A valid event criterion becomes an EventCriterion."""
        expected = EventCriterion(criterion_id="c1", required=True, event_name="done")
        assert [expected] == validate_criteria([base("event")])

    @pytest.mark.parametrize("value", [..., None, "", 1])
    def test_tool_name(self, value: Any) -> None:
        """tool_name must be a non-empty str."""
        expected = kind_error("tool_name_missing_or_invalid")
        assert expected == reject_one(base("tool_call_succeeded", tool_name=value))

    @pytest.mark.parametrize("value", [None, 0, -1, 1.0, True, "2"])
    def test_min_count(self, value: Any) -> None:
        """A present min_count must be an int ≥ 1."""
        expected = kind_error("min_count_must_be_positive_int")
        assert expected == reject_one(base("tool_call_succeeded", min_count=value))

    def test_tool_call_model(self) -> None:
        """min_count defaults to 1."""
        expected = ToolCallSucceededCriterion(criterion_id="c1", required=False, tool_name="t")
        entry = base("tool_call_succeeded", required=False, tool_name="t")
        assert [expected] == validate_criteria([entry])
        (result,) = validate_criteria([base("tool_call_succeeded", min_count=4)])
        assert 4 == result.min_count


class TestPredicate:
    """
    Kind-specific checks for predicate criteria.
    """

    @pytest.mark.parametrize("value", [..., None, "", 1, b"True"])
    def test_expression(self, value: Any) -> None:
        """expression must be a non-empty str."""
        expected = kind_error("expression_missing_or_invalid")
        assert expected == reject_one(base("predicate", expression=value))

    @pytest.mark.parametrize(
        ("expression", "reason", "lineno", "col_offset"),
        [
            ("range(3)", "call_target_not_allowed", 1, 0),
            ("obs['a'] | 1", "binop_not_allowed", 1, 0),
            ("1 + foo", "name_not_allowed", 1, 4),
            ("lambda x: x", "forbidden_node", 1, 0),
            ("x" * 4097, "source_too_long", None, None),
        ],
    )
    def test_rejected_expression(
        self, expression: str, reason: str, lineno: int | None, col_offset: int | None
    ) -> None:
        """A rejected expression reports the predicate token and its position."""
        expected = kind_error(reason, lineno=lineno, col_offset=col_offset)
        assert expected == reject_one(base("predicate", expression=expression))

    def test_syntax_error_position(self) -> None:
        """A syntax error carries a 1-based line and a column."""
        details = reject_one(base("predicate", expression="len("))
        assert "syntax_error" == details["reason"]
        assert 1 == details["lineno"]
        assert isinstance(details["col_offset"], int)

    def test_token_mapping(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Whatever parse_predicate rejects with is mapped verbatim into the details."""
        import missionkit.predicate
        from missionkit.errors import PredicateRejected

        def fake_parse(source: str, *, limits: Any = None) -> Any:
            raise PredicateRejected("dunder_name", 7, 3)

        monkeypatch.setattr(missionkit.predicate, "parse_predicate", fake_parse)
        expected = kind_error("dunder_name", lineno=7, col_offset=3)
        assert expected == reject_one(base("predicate"))

    def test_compiled_once_and_cached(self) -> None:
        """The returned model already holds its compiled predicate."""
        (criterion,) = validate_criteria([base("predicate")])
        assert isinstance(criterion, PredicateCriterion)
        compiled = criterion.compiled
        assert compiled is criterion.compiled
        assert True is bool(compiled({"tool_results": [1]}))

    def test_parse_before_options_check(self) -> None:
        """A rejected expression is reported before an unsupported option."""
        entry = base("predicate", expression="foo", on_non_finite="unmet")
        assert "name_not_allowed" == reject_one(entry)["reason"]


class TestOptionNotSupported:
    """
    Check 11: options on kinds that do not support them.
    """

    @pytest.mark.parametrize("kind", ["metric_trend", "event", "predicate", "tool_call_succeeded"])
    @pytest.mark.parametrize("option", ["min_delta", "min_delta_mode"])
    def test_min_delta_options(self, kind: str, option: str) -> None:
        """min_delta and min_delta_mode are metric_threshold-only, whatever their value."""
        expected = {
            "field": "criteria",
            "criterion_id": "c1",
            "subfield": option,
            "reason": "option_not_supported_for_kind",
        }
        assert expected == reject_one(base(kind, **{option: None}))

    @pytest.mark.parametrize("kind", ["event", "predicate", "tool_call_succeeded"])
    def test_on_non_finite(self, kind: str) -> None:
        """on_non_finite is rejected on kinds other than the two metric kinds."""
        expected = {
            "field": "criteria",
            "criterion_id": "c1",
            "subfield": "on_non_finite",
            "reason": "option_not_supported_for_kind",
        }
        assert expected == reject_one(base(kind, on_non_finite="unmet"))

    def test_order_of_options(self) -> None:
        """Options are checked in the order min_delta, min_delta_mode, on_non_finite."""
        entry = base("event", on_non_finite="unmet", min_delta_mode="abs", min_delta=0)
        assert "min_delta" == reject_one(entry)["subfield"]
        entry = base("event", on_non_finite="unmet", min_delta_mode="abs")
        assert "min_delta_mode" == reject_one(entry)["subfield"]
        entry = base("metric_trend", min_delta_mode="abs", on_non_finite="unmet")
        assert "min_delta_mode" == reject_one(entry)["subfield"]

    def test_after_kind_checks(self) -> None:
        """Check 11 runs after the kind-specific checks."""
        entry = base("event", event_name="", min_delta=0)
        assert "event_name_missing_or_invalid" == reject_one(entry)["reason"]


class TestExtraAndModels:
    """
    Extra keys, models as input, purity.
    """

    def test_extra_kept_and_converted(self) -> None:
        """Undeclared keys go to extra as JSON data; keys starting with _ are dropped."""
        entry = base(
            "event",
            owner="ml",
            _private=1,
            weights=(1, 2),
            metric="not declared for event",
            **{"1": "x"},
        )
        entry[2] = {"k": {3}}
        (result,) = validate_criteria([entry])
        expected = {
            "owner": "ml",
            "weights": [1, 2],
            "metric": "not declared for event",
            "1": "x",
            "2": {"k": [3]},
        }
        assert expected == result.extra
        assert "ml" == result.to_dict()["owner"]

    def test_extra_non_json_value(self) -> None:
        """A non-JSON extra value becomes a repr marker instead of failing."""
        (result,) = validate_criteria([base("event", blob=object())])
        assert {"_repr", "_type"} == set(result.extra["blob"])

    @pytest.mark.parametrize(
        "model",
        [
            MetricThresholdCriterion(
                criterion_id="a",
                required=True,
                description="d",
                metric="metrics.x",
                op="<",
                target=1.5,
                min_delta=0.1,
                min_delta_mode="rel",
                on_non_finite="unmet",
                extra={"owner": "me"},
            ),
            MetricTrendCriterion(
                criterion_id="a", required=False, metric="x", direction="increasing", window=3
            ),
            EventCriterion(criterion_id="a", required=True, event_name="e"),
            PredicateCriterion(criterion_id="a", required=True, expression="obs['x'] > 1"),
            ToolCallSucceededCriterion(criterion_id="a", required=True, tool_name="t", min_count=2),
        ],
    )
    def test_model_round_trip(self, model: Any) -> None:
        """A criterion model validates to an equal model."""
        assert [model] == validate_criteria([model])

    def test_invalid_model(self) -> None:
        """A model holding invalid values is rejected like its dict form."""
        model = EventCriterion(criterion_id="a", required=True, event_name="")
        expected = {
            "field": "criteria",
            "criterion_id": "a",
            "reason": "event_name_missing_or_invalid",
        }
        assert expected == reject_one(model)

    def test_from_dict(self) -> None:
        """The models' from_dict applies the same validation."""
        expected = EventCriterion(criterion_id="c1", required=True, event_name="done")
        assert expected == EventCriterion.from_dict(base("event"))
        assert (
            "kind_invalid" == rejection(EventCriterion.from_dict, {"criterion_id": "x"})["reason"]
        )

    def test_hostile_dict_subclass(self) -> None:
        """A dict subclass is read through its storage, never through its own methods."""
        (result,) = validate_criteria([HostileDict(base("event"))])
        assert EventCriterion(criterion_id="c1", required=True, event_name="done") == result

    def test_input_not_mutated(self) -> None:
        """The input list and dicts are left untouched."""
        entries = [base("metric_threshold", extra_key=[1, {"a": (2,)}]), base("event", "e")]
        before = copy.deepcopy(entries)
        validate_criteria(entries)
        assert before == entries

    @given(criteria=valid_criteria_lists())
    def test_valid_lists_round_trip(self, criteria: list[dict[str, Any]]) -> None:
        """Valid lists validate, and re-validating the models or their dicts gives equal models."""
        models = validate_criteria(criteria)
        assert [c["criterion_id"] for c in criteria] == [m.criterion_id for m in models]
        assert models == validate_criteria(models)
        assert models == validate_criteria([m.to_dict() for m in models])
