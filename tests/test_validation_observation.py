"""
Tests for validate_observation (SPEC §4.11).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from hypothesis import given

from missionkit.models import HostToolCall, Limits, ObservationInput
from missionkit.validation import validate_observation
from strategies import HostileDict, valid_observation_dicts
from validation_support import rejection

OK_CALL = {"tool_name": "train", "status": "ok"}


def call_error(index: int, reason: str, **extra: Any) -> dict[str, Any]:
    """
    The details of a failing host tool call.
    """
    return {
        "field": "observation",
        "subfield": "tool_calls",
        "index": index,
        "reason": reason,
        **extra,
    }


def check_call(call: Any) -> dict[str, Any]:
    """
    Details of rejecting an observation whose second call is *call*.
    """
    return rejection(validate_observation, {"tool_calls": [OK_CALL, call]})


class TestShape:
    """
    Checks 1–6.
    """

    @pytest.mark.parametrize("value", [None, [], "metrics", ({"metrics": {}},)])
    def test_not_a_dict(self, value: Any) -> None:
        """Check 1: a non-dict is not_a_dict."""
        expected = {"field": "observation", "reason": "not_a_dict"}
        assert expected == rejection(validate_observation, value)

    def test_unknown_key(self) -> None:
        """Check 2: the first unknown key in iteration order is reported."""
        value = {"metrics": {}, "extra": 1, "also": 2}
        expected = {"field": "observation", "subfield": "extra", "reason": "unknown_key"}
        assert expected == rejection(validate_observation, value)

    def test_unknown_non_str_key(self) -> None:
        """A non-str unknown key is rendered as JSON renders it."""
        expected = {"field": "observation", "subfield": "1", "reason": "unknown_key"}
        assert expected == rejection(validate_observation, {1: "x"})

    def test_unknown_key_first(self) -> None:
        """Check 2 runs before the value checks."""
        value = {"metrics": 1, "zzz": 1}
        assert "unknown_key" == rejection(validate_observation, value)["reason"]

    @pytest.mark.parametrize("metrics", [None, [], "m", (("a", 1),)])
    def test_metrics(self, metrics: Any) -> None:
        """Check 3: present metrics must be a dict."""
        expected = {"field": "observation", "subfield": "metrics", "reason": "not_a_dict"}
        assert expected == rejection(validate_observation, {"metrics": metrics})

    @pytest.mark.parametrize("events", [None, {}, ({"a": 1},), "e"])
    def test_events(self, events: Any) -> None:
        """Check 4: present events must be a list."""
        expected = {"field": "observation", "subfield": "events", "reason": "not_a_list"}
        assert expected == rejection(validate_observation, {"events": events})

    @pytest.mark.parametrize("event", [None, [], "done", ("a", 1)])
    def test_event_entry(self, event: Any) -> None:
        """Check 5: event i must be a dict."""
        expected = {
            "field": "observation",
            "subfield": "events",
            "index": 1,
            "reason": "not_a_dict",
        }
        assert expected == rejection(validate_observation, {"events": [{}, event]})

    @pytest.mark.parametrize("calls", [None, {}, (OK_CALL,), "c"])
    def test_tool_calls(self, calls: Any) -> None:
        """Check 6: present tool_calls must be a list."""
        expected = {"field": "observation", "subfield": "tool_calls", "reason": "not_a_list"}
        assert expected == rejection(validate_observation, {"tool_calls": calls})

    def test_order_metrics_events_calls(self) -> None:
        """Metrics are checked before events, events before tool_calls, whatever the key order."""
        value = {"tool_calls": 1, "events": [1], "metrics": 1}
        assert "metrics" == rejection(validate_observation, value)["subfield"]
        value = {"tool_calls": 1, "events": [1]}
        assert "events" == rejection(validate_observation, value)["subfield"]


class TestCalls:
    """
    Checks 7–12, call by call.
    """

    @pytest.mark.parametrize("call", [None, [], "train"])
    def test_not_a_dict(self, call: Any) -> None:
        """Check 7: call i must be a dict."""
        assert call_error(1, "tool_call_not_a_dict") == check_call(call)

    @pytest.mark.parametrize("name", [..., None, "", 3])
    def test_tool_name(self, name: Any) -> None:
        """Check 8: tool_name must be a non-empty str."""
        call: dict[str, Any] = {"status": "ok"}
        if name is not ...:
            call["tool_name"] = name
        assert call_error(1, "tool_name_missing_or_invalid") == check_call(call)

    @pytest.mark.parametrize("status", [..., None, "OK", "error", 1])
    def test_status(self, status: Any) -> None:
        """Check 9: status must be a CallStatus; the three are listed sorted."""
        call: dict[str, Any] = {"tool_name": "t"}
        if status is not ...:
            call["status"] = status
        expected = call_error(1, "status_invalid", allowed=["failed", "ok", "skipped_not_allowed"])
        assert expected == check_call(call)

    @pytest.mark.parametrize("args", [None, [], {1: 2}, "a"])
    def test_args(self, args: Any) -> None:
        """Check 10: present args must be a dict with str keys."""
        assert call_error(1, "args_not_a_dict") == check_call({**OK_CALL, "args": args})

    @pytest.mark.parametrize("message", [1, ["x"], b"x"])
    def test_error_message(self, message: Any) -> None:
        """Check 11: a present, non-null error_message must be a str."""
        expected = call_error(1, "error_message_not_a_string")
        assert expected == check_call({**OK_CALL, "error_message": message})

    @pytest.mark.parametrize("duration", [None, -1, 1.5, True, "3"])
    def test_duration_ms(self, duration: Any) -> None:
        """Check 12: a present duration_ms must be an int ≥ 0."""
        expected = call_error(1, "duration_ms_must_be_non_negative_int")
        assert expected == check_call({**OK_CALL, "duration_ms": duration})

    def test_call_by_call(self) -> None:
        """All checks of call 0 run before call 1 is inspected."""
        value = {"tool_calls": [{"tool_name": "t", "status": "bad"}, None]}
        assert call_error(0, "status_invalid", allowed=["failed", "ok", "skipped_not_allowed"]) == (
            rejection(validate_observation, value)
        )

    def test_check_order_within_call(self) -> None:
        """Within one call the checks run in table order."""
        call = {"tool_name": "", "status": "x", "args": 1, "error_message": 1, "duration_ms": -1}
        reasons = []
        for key in ["tool_name", "status", "args", "error_message", "duration_ms"]:
            reasons.append(check_call(call)["reason"])
            call[key] = {"tool_name": "t", "status": "ok", "args": {}}.get(key)
            if call[key] is None and key != "error_message":
                del call[key]
        expected = [
            "tool_name_missing_or_invalid",
            "status_invalid",
            "args_not_a_dict",
            "error_message_not_a_string",
            "duration_ms_must_be_non_negative_int",
        ]
        assert expected == reasons


class TestResult:
    """
    Conversion, caps and models.
    """

    def test_defaults(self) -> None:
        """An empty dict gives empty metrics, events and calls."""
        assert ObservationInput() == validate_observation({})

    def test_full(self) -> None:
        """Values become JSON data; unknown keys inside a call are dropped."""
        value = {
            "metrics": {"loss": 0.5, "shape": (2, 3), 1: "one"},
            "events": [{"event_name": "done", "tags": {"a"}}],
            "tool_calls": [
                {
                    "tool_name": "train",
                    "status": "failed",
                    "args": {"lr": 0.1},
                    "result": {"x": (1,)},
                    "error_message": None,
                    "duration_ms": 12,
                    "host_note": "dropped",
                }
            ],
        }
        expected = ObservationInput(
            metrics={"loss": 0.5, "shape": [2, 3], "1": "one"},
            events=({"event_name": "done", "tags": ["a"]},),
            tool_calls=(
                HostToolCall(
                    tool_name="train",
                    status="failed",
                    args={"lr": 0.1},
                    result={"x": [1]},
                    error_message=None,
                    duration_ms=12,
                ),
            ),
        )
        assert expected == validate_observation(value)

    def test_non_finite_metrics_kept(self) -> None:
        """Non-finite metric values stay floats."""
        result = validate_observation({"metrics": {"a": math.inf}})
        assert math.inf == result.metrics["a"]

    def test_caps(self) -> None:
        """Metric values, events and call results over tool_result_bytes are truncated."""
        big = "x" * 300
        value = {
            "metrics": {"small": 1, "big": big},
            "events": [{"event_name": big}],
            "tool_calls": [{**OK_CALL, "result": big, "args": {"a": big}}],
        }
        result = validate_observation(value, limits=Limits(tool_result_bytes=100))
        assert 1 == result.metrics["small"]
        expected_marker = {"_truncated": True, "bytes": 302, "preview": ('"' + big)[:256]}
        assert expected_marker == result.metrics["big"]
        assert True is result.events[0]["_truncated"]
        assert expected_marker == result.tool_calls[0].result
        assert {"a": big} == result.tool_calls[0].args

    def test_default_cap(self) -> None:
        """Without limits the default 65536-byte cap applies."""
        result = validate_observation({"metrics": {"a": "x" * 70000, "b": "y" * 60000}})
        assert True is result.metrics["a"]["_truncated"]
        assert "y" * 60000 == result.metrics["b"]

    def test_model_round_trip(self) -> None:
        """An ObservationInput model validates to an equal model."""
        model = ObservationInput(
            metrics={"a": 1},
            events=({"event_name": "e"},),
            tool_calls=(HostToolCall("t", "ok", {"k": 1}, [1, 2], None, 5),),
        )
        assert model == validate_observation(model)

    def test_invalid_model(self) -> None:
        """A model holding invalid calls is rejected."""
        model = ObservationInput(tool_calls=(HostToolCall("t", "bogus"),))  # type: ignore[arg-type]
        expected = {
            "field": "observation",
            "subfield": "tool_calls",
            "index": 0,
            "reason": "status_invalid",
            "allowed": ["failed", "ok", "skipped_not_allowed"],
        }
        assert expected == rejection(validate_observation, model)

    def test_from_dict(self) -> None:
        """ObservationInput.from_dict applies the same validation."""
        assert ObservationInput(metrics={"a": 1}) == ObservationInput.from_dict(
            {"metrics": {"a": 1}}
        )

    def test_hostile_dict_subclass(self) -> None:
        """Dict subclasses are read through their storage."""
        value = HostileDict({"metrics": HostileDict({"a": 1})})
        assert ObservationInput(metrics={"a": 1}) == validate_observation(value)

    def test_input_not_mutated(self) -> None:
        """The input is left untouched."""
        value = {"metrics": {"a": (1,)}, "tool_calls": [{**OK_CALL, "x": 1, "result": {1: 2}}]}
        before = copy.deepcopy(value)
        validate_observation(value)
        assert before == value

    def test_huge_int(self) -> None:
        """An int too long to render as JSON text becomes a repr marker, not a failure."""
        marker = {"_repr": "<unprintable>", "_type": "builtins.int"}
        result = validate_observation({"metrics": {"a": [10**5000, 1], "b": 10**10}})
        expected = {"a": [marker, 1], "b": 10**10}
        assert expected == result.metrics

    @given(value=valid_observation_dicts())
    def test_valid_round_trip(self, value: dict[str, Any]) -> None:
        """Valid observations validate, and the model re-validates to the same JSON (NaN-safe)."""
        result = validate_observation(value)
        again = validate_observation(result)
        assert json.dumps(result.to_dict()) == json.dumps(again.to_dict())
