"""
Tests for the single-value validators: session id, directive, threshold, budget, cadence, metadata.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

import missionkit.validation as validation
from missionkit.models import Budget, Cadence
from missionkit.validation import (
    MISSION_CONTROL_TOOLS,
    validate_budget,
    validate_cadence,
    validate_directive,
    validate_metadata,
    validate_session_id,
    validate_stagnation_threshold,
)
from validation_support import rejection


class BadEq(str):
    """
    A str subclass whose comparisons raise.
    """

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no")

    __hash__ = str.__hash__


class TestPublicSurface:
    """
    The names missionkit.validation exports.
    """

    def test_all_is_sorted_and_complete(self) -> None:
        """__all__ lists exactly the public names of SPEC §2.7, sorted."""
        expected = sorted(
            [
                "validate_session_id",
                "validate_directive",
                "validate_criteria",
                "validate_budget",
                "validate_tool_allowlist",
                "resolve_effective_allowlist",
                "validate_cadence",
                "validate_stagnation_threshold",
                "validate_strategy",
                "validate_metadata",
                "validate_observation",
                "MissionValidationError",
                "MISSION_CONTROL_TOOLS",
            ]
        )
        assert expected == validation.__all__
        for name in expected:
            assert hasattr(validation, name)

    def test_control_tools(self) -> None:
        """MISSION_CONTROL_TOOLS is the frozenset of the nine mission_* tool names."""
        expected = frozenset(
            {
                "mission_start",
                "mission_status",
                "mission_iterate",
                "mission_checkpoint",
                "mission_complete",
                "mission_abort",
                "mission_resume",
                "mission_history",
                "mission_list",
            }
        )
        assert expected == MISSION_CONTROL_TOOLS
        assert isinstance(MISSION_CONTROL_TOOLS, frozenset)

    def test_error_is_the_shared_class(self) -> None:
        """The re-exported error is missionkit.errors.MissionValidationError."""
        from missionkit.errors import MissionValidationError

        assert MissionValidationError is validation.MissionValidationError


class TestSessionId:
    """
    validate_session_id (SPEC §4.2).
    """

    @pytest.mark.parametrize(
        "value", ["a", "mission-ab12", "A.b_c-9", "x" * 128, "a.", "_", "-", "0"]
    )
    def test_accepts(self, value: str) -> None:
        """Ids of 1–128 allowed characters not starting with a dot are returned unchanged."""
        assert value == validate_session_id(value)

    @pytest.mark.parametrize(
        "value",
        [
            None,
            1,
            b"abc",
            "",
            "x" * 129,
            ".hidden",
            ".",
            "..",
            "a/b",
            "a b",
            "abc\n",
            "\nabc",
            "é",
            "a\x00",
            ["a"],
        ],
    )
    def test_rejects(self, value: Any) -> None:
        """Anything else, including a trailing newline, is session_id_invalid."""
        expected = {"field": "session_id", "reason": "session_id_invalid"}
        assert expected == rejection(validate_session_id, value)

    def test_str_subclass_becomes_exact_str(self) -> None:
        """A str subclass id is returned as a plain str."""
        result = validate_session_id(BadEq("abc"))
        assert str is type(result)
        assert str.__str__(result) == "abc"


class TestDirective:
    """
    validate_directive (SPEC §4.3).
    """

    def test_strips(self) -> None:
        """The stripped directive is returned."""
        assert validate_directive("  do it\n") == "do it"

    def test_not_a_string(self) -> None:
        """A non-str directive is not_a_string."""
        expected = {"field": "directive", "reason": "not_a_string"}
        assert expected == rejection(validate_directive, None)
        assert expected == rejection(validate_directive, b"x")

    @pytest.mark.parametrize("value", ["", "   ", "\n\t"])
    def test_empty(self, value: str) -> None:
        """A directive empty after stripping is empty."""
        expected = {"field": "directive", "reason": "empty"}
        assert expected == rejection(validate_directive, value)

    def test_too_long(self) -> None:
        """A stripped directive over 8192 characters is too_long with both lengths."""
        expected = {
            "field": "directive",
            "reason": "too_long",
            "max_length": 8192,
            "actual_length": 8193,
        }
        assert expected == rejection(validate_directive, "  " + "x" * 8193 + "  ")

    def test_max_length_accepted(self) -> None:
        """Exactly 8192 characters after stripping is accepted."""
        assert len(validate_directive(" " + "x" * 8192 + " ")) == 8192


class TestStagnationThreshold:
    """
    validate_stagnation_threshold (SPEC §4.8).
    """

    @pytest.mark.parametrize("value", [1, 3, 10**30])
    def test_accepts(self, value: int) -> None:
        """Positive ints are returned."""
        assert value == validate_stagnation_threshold(value)

    @pytest.mark.parametrize("value", [0, -1, True, False, 1.0, "3", None, math.nan])
    def test_rejects(self, value: Any) -> None:
        """Non-positive ints, bools, floats and strings are must_be_positive_int."""
        expected = {"field": "stagnation_threshold", "reason": "must_be_positive_int"}
        assert expected == rejection(validate_stagnation_threshold, value)


class TestBudget:
    """
    validate_budget (SPEC §4.5).
    """

    @pytest.mark.parametrize(
        ("iterations", "seconds"), [(1, 1), (-1, 5), (5, -1), (-1, -1), (10**20, 3600)]
    )
    def test_accepts(self, iterations: int, seconds: int) -> None:
        """Positive ints and -1 (also both -1) are accepted."""
        expected = Budget(iterations, seconds)
        assert expected == validate_budget(
            {"max_iterations": iterations, "max_wall_clock_seconds": seconds}
        )

    def test_drops_other_keys(self) -> None:
        """Keys other than the two caps are dropped."""
        expected = Budget(3, 60)
        assert expected == validate_budget(
            {"max_iterations": 3, "max_wall_clock_seconds": 60, "max_cost": 5}
        )

    def test_model_round_trip(self) -> None:
        """A Budget model validates to an equal model."""
        budget = Budget(4, -1)
        assert budget == validate_budget(budget)

    @pytest.mark.parametrize("value", [None, [], "budget", (1, 2), Cadence()])
    def test_not_a_dict(self, value: Any) -> None:
        """Check 1: a non-dict is not_a_dict."""
        expected = {"field": "budget", "reason": "not_a_dict"}
        assert expected == rejection(validate_budget, value)

    @pytest.mark.parametrize("value", ["missing", 0, -2, 5.0, True, "5", None])
    def test_max_iterations(self, value: Any) -> None:
        """Check 2: a bad max_iterations names its subfield."""
        data: dict[str, Any] = {"max_wall_clock_seconds": 60}
        if value != "missing":
            data["max_iterations"] = value
        expected = {
            "field": "budget",
            "subfield": "max_iterations",
            "reason": "missing_or_not_positive_int_or_minus_one",
        }
        assert expected == rejection(validate_budget, data)

    @pytest.mark.parametrize("value", ["missing", 0, -2, 5.0, True, "5", None])
    def test_max_wall_clock_seconds(self, value: Any) -> None:
        """Check 3: a bad max_wall_clock_seconds names its subfield."""
        data: dict[str, Any] = {"max_iterations": 3}
        if value != "missing":
            data["max_wall_clock_seconds"] = value
        expected = {
            "field": "budget",
            "subfield": "max_wall_clock_seconds",
            "reason": "missing_or_not_positive_int_or_minus_one",
        }
        assert expected == rejection(validate_budget, data)

    def test_first_failure_wins(self) -> None:
        """A budget failing checks 2 and 3 reports check 2."""
        expected = {
            "field": "budget",
            "subfield": "max_iterations",
            "reason": "missing_or_not_positive_int_or_minus_one",
        }
        assert expected == rejection(validate_budget, {})

    def test_invalid_model(self) -> None:
        """A Budget model holding invalid values is re-validated and rejected."""
        expected = {
            "field": "budget",
            "subfield": "max_wall_clock_seconds",
            "reason": "missing_or_not_positive_int_or_minus_one",
        }
        assert expected == rejection(validate_budget, Budget(1, 0))

    def test_input_not_mutated(self) -> None:
        """The input dict is left untouched."""
        data = {"max_iterations": 3, "max_wall_clock_seconds": 60, "x": [1]}
        before = copy.deepcopy(data)
        validate_budget(data)
        assert before == data


class TestCadence:
    """
    validate_cadence (SPEC §4.7).
    """

    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            ({"kind": "every_iteration"}, Cadence("every_iteration")),
            ({"kind": "every_iteration", "n": 3}, Cadence("every_iteration")),
            ({"kind": "every_n_iterations", "n": 2, "t": 5}, Cadence("every_n_iterations", n=2)),
            ({"kind": "every_t_seconds", "t": 30}, Cadence("every_t_seconds", t=30)),
            (
                {"kind": "on_event", "event_name": "done", "n": 1},
                Cadence("on_event", event_name="done"),
            ),
        ],
    )
    def test_accepts(self, data: dict[str, Any], expected: Cadence) -> None:
        """Valid cadences keep only the parameter of their kind."""
        assert expected == validate_cadence(data)

    def test_drop_example(self) -> None:
        """SPEC's example: every_iteration with n=3 serialises as kind only."""
        expected = {"kind": "every_iteration"}
        assert expected == validate_cadence({"kind": "every_iteration", "n": 3}).to_dict()

    @pytest.mark.parametrize(
        "cadence",
        [
            Cadence(),
            Cadence("every_n_iterations", n=4),
            Cadence("every_t_seconds", t=9),
            Cadence("on_event", event_name="e"),
        ],
    )
    def test_model_round_trip(self, cadence: Cadence) -> None:
        """A Cadence model validates to an equal model."""
        assert cadence == validate_cadence(cadence)

    @pytest.mark.parametrize("value", [None, [], "every_iteration", Budget(1, 1)])
    def test_not_a_dict(self, value: Any) -> None:
        """Check 1: a non-dict is not_a_dict."""
        expected = {"field": "checkpoint_cadence", "reason": "not_a_dict"}
        assert expected == rejection(validate_cadence, value)

    @pytest.mark.parametrize("kind", ["missing", None, "never", 1, ["on_event"], BadEq("x")])
    def test_kind_invalid(self, kind: Any) -> None:
        """Check 2: an unknown kind lists the four kinds, sorted."""
        data = {} if type(kind) is str and kind == "missing" else {"kind": kind}
        expected = {
            "field": "checkpoint_cadence",
            "reason": "kind_invalid",
            "allowed": ["every_iteration", "every_n_iterations", "every_t_seconds", "on_event"],
        }
        assert expected == rejection(validate_cadence, data)

    @pytest.mark.parametrize("n", ["missing", 0, -1, 1.0, True, "2", None])
    def test_n(self, n: Any) -> None:
        """Check 3: every_n_iterations needs a positive int n."""
        data: dict[str, Any] = {"kind": "every_n_iterations"}
        if n != "missing":
            data["n"] = n
        expected = {
            "field": "checkpoint_cadence",
            "subfield": "n",
            "reason": "missing_or_not_positive_int",
        }
        assert expected == rejection(validate_cadence, data)

    @pytest.mark.parametrize("t", ["missing", 0, -1, 1.5, True, "2", None])
    def test_t(self, t: Any) -> None:
        """Check 4: every_t_seconds needs a positive int t."""
        data: dict[str, Any] = {"kind": "every_t_seconds"}
        if t != "missing":
            data["t"] = t
        expected = {
            "field": "checkpoint_cadence",
            "subfield": "t",
            "reason": "missing_or_not_positive_int",
        }
        assert expected == rejection(validate_cadence, data)

    @pytest.mark.parametrize("event_name", ["missing", "", None, 1, ["e"]])
    def test_event_name(self, event_name: Any) -> None:
        """Check 5: on_event needs a non-empty str event_name."""
        data: dict[str, Any] = {"kind": "on_event"}
        if event_name != "missing":
            data["event_name"] = event_name
        expected = {
            "field": "checkpoint_cadence",
            "subfield": "event_name",
            "reason": "missing_or_empty",
        }
        assert expected == rejection(validate_cadence, data)


class TestMetadata:
    """
    validate_metadata (SPEC §4.10).
    """

    def test_deep_copy(self) -> None:
        """The result equals the input but shares no containers with it."""
        data = {"a": [1, {"b": None}], "c": "x", "d": 1.5, "e": True}
        result = validate_metadata(data)
        assert data == result
        assert result is not data
        assert result["a"] is not data["a"]
        assert result["a"][1] is not data["a"][1]

    def test_empty(self) -> None:
        """An empty dict is accepted."""
        assert validate_metadata({}) == {}

    @pytest.mark.parametrize("value", [None, [], "x", ({"a": 1},)])
    def test_not_a_dict(self, value: Any) -> None:
        """Check 1: a non-dict is not_a_dict."""
        expected = {"field": "metadata", "reason": "not_a_dict"}
        assert expected == rejection(validate_metadata, value)

    @pytest.mark.parametrize(
        "value",
        [
            {1: "x"},
            {"a": {None: 1}},
            {"a": math.nan},
            {"a": [math.inf]},
            {"a": -math.inf},
            {"a": (1, 2)},
            {"a": {1, 2}},
            {"a": b"x"},
            {"a": object()},
            {"a": 10**5000},
        ],
    )
    def test_not_json(self, value: Any) -> None:
        """Check 2: non-str keys, non-JSON types and non-finite floats are rejected."""
        expected = {"field": "metadata", "reason": "not_json_serializable"}
        assert expected == rejection(validate_metadata, value)

    def test_cycle(self) -> None:
        """Check 2: a cyclic structure is not_json_serializable."""
        data: dict[str, Any] = {}
        data["self"] = data
        expected = {"field": "metadata", "reason": "not_json_serializable"}
        assert expected == rejection(validate_metadata, data)

    def test_too_deep(self) -> None:
        """Check 2: nesting too deep to serialise is not_json_serializable."""
        data: Any = {}
        for _ in range(5000):
            data = {"a": data}
        expected = {"field": "metadata", "reason": "not_json_serializable"}
        assert expected == rejection(validate_metadata, data)

    def test_too_large(self) -> None:
        """Check 3: compact JSON over 65536 bytes reports both sizes."""
        data = {"a": "x" * 65536}
        expected = {
            "field": "metadata",
            "reason": "too_large",
            "max_length": 65536,
            "actual_length": 65536 + len('{"a":""}'),
        }
        assert expected == rejection(validate_metadata, data)

    def test_size_counts_utf8_bytes(self) -> None:
        """The size is the UTF-8 byte count, not the character count."""
        data = {"a": "é" * 32764}
        assert 2 * 32764 + len('{"a":""}') == 65536
        assert data == validate_metadata(data)
        expected = {
            "field": "metadata",
            "reason": "too_large",
            "max_length": 65536,
            "actual_length": 65538,
        }
        assert expected == rejection(validate_metadata, {"a": "é" * 32765})

    def test_checks_type_before_size(self) -> None:
        """A value failing checks 2 and 3 reports check 2."""
        expected = {"field": "metadata", "reason": "not_json_serializable"}
        assert expected == rejection(validate_metadata, {"a": "x" * 70000, "b": math.nan})
