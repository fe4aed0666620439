"""
Conformance tests for SPEC §4 (validation) in depth.

Black-box checks the focused validation modules leave open: which of two simultaneous
defects is reported, exact boundaries (code points, ints beyond float range, signed
zero, int subclasses), the exact ``field``/``subfield``/``index`` paths, and catalog
validation of sampler output as seen through a session.
"""

from __future__ import annotations

import enum
import json
import time
from typing import Any

import pytest

import missionkit as mk
from missionkit.models import (
    Budget,
    Cadence,
    EventCriterion,
    HostToolCall,
    ObservationInput,
    Strategy,
    ToolCall,
)
from missionkit.store import MemoryStore
from missionkit.testing import FakeClock, ScriptedSampler
from missionkit.validation import (
    resolve_effective_allowlist,
    validate_budget,
    validate_cadence,
    validate_criteria,
    validate_directive,
    validate_metadata,
    validate_observation,
    validate_session_id,
    validate_stagnation_threshold,
    validate_strategy,
    validate_tool_allowlist,
)
from validation_support import rejection


class Count(enum.IntEnum):
    """
    An int subclass that is not a bool.
    """

    MINUS_ONE = -1
    THREE = 3


def criterion(kind: str, criterion_id: str = "c1", **fields: Any) -> dict[str, Any]:
    """
    A valid criterion dict of *kind*, updated with *fields*.
    """
    out: dict[str, Any] = {"criterion_id": criterion_id, "kind": kind, "required": True}
    out.update(
        {
            "metric_threshold": {"metric": "metrics.loss", "op": "<", "target": 1},
            "metric_trend": {"metric": "loss", "direction": "decreasing"},
            "event": {"event_name": "done"},
            "predicate": {"expression": "len(obs['tool_results']) > 0"},
            "tool_call_succeeded": {"tool_name": "train"},
        }[kind]
    )
    out.update(fields)
    return out


def host_call(**fields: Any) -> dict[str, Any]:
    """
    A valid host tool call dict, updated with *fields*.
    """
    return {"tool_name": "t", "status": "ok", **fields}


def probe() -> dict[str, Any]:
    """
    A tool reporting one metric.
    """
    return {"metrics": {"v": 1}}


def quiet() -> None:
    """
    A tool returning nothing.
    """
    return None


def mission_list() -> None:
    """
    A host tool named like a control tool.
    """
    return None


class TestCommonRules:
    """
    SPEC §4.1 rule 5: an *int* is any int but a bool, so int subclasses are ints.
    """

    @pytest.mark.parametrize(
        ("call", "expected"),
        [
            (lambda: validate_stagnation_threshold(Count.THREE), 3),
            (
                lambda: validate_budget(
                    {"max_iterations": Count.THREE, "max_wall_clock_seconds": Count.MINUS_ONE}
                ),
                Budget(3, -1),
            ),
            (
                lambda: validate_cadence({"kind": "every_n_iterations", "n": Count.THREE}),
                Cadence("every_n_iterations", n=3),
            ),
            (
                lambda: validate_cadence({"kind": "every_t_seconds", "t": Count.THREE}),
                Cadence("every_t_seconds", t=3),
            ),
            (
                lambda: (
                    validate_criteria(
                        [criterion("metric_trend", window=Count.THREE, min_points=Count.THREE)]
                    )[0].window
                ),
                3,
            ),
            (
                lambda: (
                    validate_criteria([criterion("tool_call_succeeded", min_count=Count.THREE)])[
                        0
                    ].min_count
                ),
                3,
            ),
            (
                lambda: (
                    validate_criteria(
                        [criterion("metric_threshold", target=Count.THREE, min_delta=Count.THREE)]
                    )[0].min_delta
                ),
                3,
            ),
            (
                lambda: (
                    validate_observation({"tool_calls": [host_call(duration_ms=Count.THREE)]})
                    .tool_calls[0]
                    .duration_ms
                ),
                3,
            ),
        ],
    )
    def test_int_subclasses_accepted(self, call: Any, expected: Any) -> None:
        """§4.1 rule 5: an IntEnum member is an int (not a bool) wherever an int is expected."""
        assert expected == call()


class TestSessionId:
    """
    SPEC §4.2.
    """

    @pytest.mark.parametrize(
        "value",
        [
            "\u0661",  # ARABIC-INDIC DIGIT ONE matches \d
            "\uff11",  # FULLWIDTH DIGIT ONE
            "\u212a",  # KELVIN SIGN matches [a-z] under IGNORECASE
            "\u017f",  # LATIN SMALL LETTER LONG S
            "\u0131",  # LATIN SMALL LETTER DOTLESS I
            "a\u200b",
            "ab\t",
        ],
    )
    def test_non_ascii_lookalikes_rejected(self, value: str) -> None:
        """§4.2: only ASCII letters, digits, `_`, `.` and `-` are allowed characters."""
        expected = {"field": "session_id", "reason": "session_id_invalid"}
        assert expected == rejection(validate_session_id, value)

    def test_dots_after_the_first_character(self) -> None:
        """§4.2: only a leading dot is refused; 127 dots after a letter fill the 128 limit."""
        value = "a" + "." * 127
        assert value == validate_session_id(value)


class TestDirective:
    """
    SPEC §4.3.
    """

    def test_unicode_whitespace_is_stripped(self) -> None:
        """§4.3 check 2: str.strip() removes Unicode whitespace, so such a directive is empty."""
        expected = {"field": "directive", "reason": "empty"}
        assert expected == rejection(validate_directive, "\u00a0\u2003\u3000\x1c\x85")

    def test_length_counts_code_points(self) -> None:
        """§4.3 check 3: the limit counts characters, so astral characters count once."""
        assert "\U0001f600" * 8192 == validate_directive("\U0001f600" * 8192)
        expected = {
            "field": "directive",
            "reason": "too_long",
            "max_length": 8192,
            "actual_length": 8193,
        }
        assert expected == rejection(validate_directive, " " + "\U0001f600" * 8193)


class TestCriteria:
    """
    SPEC §4.4.
    """

    @pytest.mark.parametrize(
        "second",
        [
            {"criterion_id": "a", "kind": "composite"},
            {"criterion_id": "a", "kind": "event", "required": 1},
            {"criterion_id": "a", "kind": "event", "required": True, "event_name": ""},
        ],
    )
    def test_duplicate_before_later_checks(self, second: dict[str, Any]) -> None:
        """§4.4: check 6 (duplicate id) is reported before checks 7, 8 and 10 of that entry."""
        expected = {"field": "criteria", "criterion_id": "a", "reason": "duplicate_criterion_id"}
        assert expected == rejection(validate_criteria, [criterion("event", "a"), second])

    def test_duplicate_of_a_model_entry(self) -> None:
        """§4.4 check 6 compares ids across model and dict entries alike."""
        entries = [
            EventCriterion(criterion_id="a", required=True, event_name="e"),
            criterion("event", "a"),
        ]
        expected = {"field": "criteria", "criterion_id": "a", "reason": "duplicate_criterion_id"}
        assert expected == rejection(validate_criteria, entries)

    @pytest.mark.parametrize(
        "entry",
        [
            criterion("event", description=1, event_name=""),
            criterion("predicate", description=[], expression=""),
            criterion("metric_threshold", description=0, metric="", op="?"),
        ],
    )
    def test_description_before_kind_checks(self, entry: dict[str, Any]) -> None:
        """§4.4: check 9 (description) is reported before the kind-specific checks (10)."""
        expected = {
            "field": "criteria",
            "criterion_id": "c1",
            "reason": "description_not_a_string",
        }
        assert expected == rejection(validate_criteria, [entry])

    def test_id_length_counts_code_points(self) -> None:
        """§4.4 check 5: 128 astral characters are a valid id; 129 are too long."""
        (result,) = validate_criteria([criterion("event", "\U0001f600" * 128)])
        assert "\U0001f600" * 128 == result.criterion_id
        expected = {"field": "criteria", "index": 0, "reason": "criterion_id_missing_or_invalid"}
        assert expected == rejection(validate_criteria, [criterion("event", "\U0001f600" * 129)])

    @pytest.mark.parametrize("value", [0, 0.0, -0.0, 10**400, 1e308])
    def test_min_delta_boundaries_accepted(self, value: Any) -> None:
        """§4.4: zero (also -0.0) and huge finite values, ints past float range too, are valid."""
        (result,) = validate_criteria([criterion("metric_threshold", min_delta=value)])
        assert value == result.min_delta

    def test_undeclared_options_of_other_kinds_are_extra(self) -> None:
        """§4.4: keys declared only for other kinds (not min_delta & co.) go to extra unchecked."""
        (event,) = validate_criteria([criterion("event", window=0, min_count=-5)])
        assert {"window": 0, "min_count": -5} == event.extra
        assert 0 == event.to_dict()["window"]
        (threshold,) = validate_criteria([criterion("metric_threshold", direction="sideways")])
        assert {"direction": "sideways"} == threshold.extra

    def test_trend_smallest_window_and_min_points(self) -> None:
        """§4.4: window 1 and min_points 1 are positive ints and kept as given."""
        (result,) = validate_criteria([criterion("metric_trend", window=1, min_points=1)])
        assert (1, 1) == (result.window, result.min_points)

    def test_whitespace_strings_are_non_empty(self) -> None:
        """§4.4: whitespace-only ids, names and metric segments are non-empty strings."""
        entries = [
            criterion("event", " ", event_name=" "),
            criterion("metric_threshold", "m", metric=" . "),
            criterion("tool_call_succeeded", "t", tool_name=" "),
        ]
        result = validate_criteria(entries)
        assert [" ", "m", "t"] == [c.criterion_id for c in result]

    def test_whitespace_expression_reaches_the_parser(self) -> None:
        """§4.4: a whitespace expression passes the non-empty check and fails parsing."""
        details = rejection(validate_criteria, [criterion("predicate", expression="   ")])
        assert ("c1", "syntax_error", 1) == (
            details["criterion_id"],
            details["reason"],
            details["lineno"],
        )

    def test_json_omits_null_optional_fields(self) -> None:
        """§4.4: JSON output omits window, min_points and description when they are null."""
        (bare,) = validate_criteria([criterion("metric_trend")])
        assert {"window", "min_points", "description"}.isdisjoint(bare.to_dict())
        (full,) = validate_criteria(
            [criterion("metric_trend", window=2, min_points=3, description="d")]
        )
        assert (2, 3, "d") == tuple(
            full.to_dict()[k] for k in ("window", "min_points", "description")
        )


class TestBudget:
    """
    SPEC §4.5.
    """

    @pytest.mark.parametrize("value", [-1.0, 1.0, float("inf"), "1"])
    def test_non_int_caps_rejected(self, value: Any) -> None:
        """§4.5 check 3: a float (even -1.0) is not an int cap; check 2 passes, check 3 reports."""
        expected = {
            "field": "budget",
            "subfield": "max_wall_clock_seconds",
            "reason": "missing_or_not_positive_int_or_minus_one",
        }
        data = {"max_iterations": 1, "max_wall_clock_seconds": value}
        assert expected == rejection(validate_budget, data)

    def test_ints_beyond_float_range(self) -> None:
        """§4.5: any positive int is a cap, even one no float can represent."""
        assert Budget(10**400, 10**400) == validate_budget(
            {"max_iterations": 10**400, "max_wall_clock_seconds": 10**400}
        )


class TestAllowlist:
    """
    SPEC §4.6.
    """

    def test_mutually_exclusive_before_empty_registry(self) -> None:
        """§4.6 resolve: row 2 is reported before row 3."""
        expected = {
            "field": "tool_allowlist",
            "reason": "allow_all_and_explicit_allowlist_mutually_exclusive",
        }
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=True,
            explicit_allowlist=["x"],
            registered_tools=[],
        )

    def test_expansion_is_validated(self) -> None:
        """§4.6 resolve row 4: the sorted expansion goes through validate_tool_allowlist."""
        expected = {"field": "tool_allowlist", "index": 0, "reason": "tool_name_missing_or_invalid"}
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=True,
            explicit_allowlist=None,
            registered_tools=["b", "", "a"],
        )

    @pytest.mark.parametrize("explicit", [None, [], (), ""])
    def test_falsy_explicit_allowlists(self, explicit: Any) -> None:
        """§4.6 resolve: a falsy explicit allowlist is no conflict, and alone gives empty."""
        assert ["a", "b"] == resolve_effective_allowlist(
            allow_all_tools=True, explicit_allowlist=explicit, registered_tools={"b": 1, "a": 2}
        )
        expected = {"field": "tool_allowlist", "reason": "empty"}
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=False,
            explicit_allowlist=explicit,
            registered_tools=["a"],
        )

    def test_flag_lookup_ignored_for_registered_tools(self) -> None:
        """§4.6 check 5: a flag is only reported for unregistered names; registered ones pass."""
        result = validate_tool_allowlist(["a"], {"a": None}.keys(), {"a": "FLAG_A"})
        assert ["a"] == result


class TestCadence:
    """
    SPEC §4.7.
    """

    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            ({"kind": "every_iteration", "n": 0, "t": "x", "event_name": ""}, Cadence()),
            ({"kind": "on_event", "event_name": "e", "n": -1}, Cadence("on_event", event_name="e")),
            ({"kind": "every_t_seconds", "t": 5, "n": None}, Cadence("every_t_seconds", t=5)),
        ],
    )
    def test_other_kinds_parameters_not_checked(
        self, data: dict[str, Any], expected: Cadence
    ) -> None:
        """§4.7: parameters of other kinds are dropped without being validated."""
        assert expected == validate_cadence(data)

    @pytest.mark.parametrize(
        ("model", "subfield", "reason"),
        [
            (Cadence("every_n_iterations"), "n", "missing_or_not_positive_int"),
            (Cadence("every_t_seconds"), "t", "missing_or_not_positive_int"),
            (Cadence("on_event"), "event_name", "missing_or_empty"),
            (Cadence("on_event", event_name=""), "event_name", "missing_or_empty"),
        ],
    )
    def test_model_without_its_parameter(self, model: Cadence, subfield: str, reason: str) -> None:
        """§4.1 rule 6 with §4.7 checks 3–5: a Cadence model lacking its parameter is rejected."""
        expected = {"field": "checkpoint_cadence", "subfield": subfield, "reason": reason}
        assert expected == rejection(validate_cadence, model)


class TestStrategy:
    """
    SPEC §4.9.
    """

    def test_permission_before_script_validation(self) -> None:
        """§4.9: check 9 (scripts not allowed) is reported before check 10 (script rejected)."""
        expected = {
            "field": "strategy",
            "subfield": "script",
            "reason": "scripts_not_allowed_by_session",
        }
        assert expected == rejection(validate_strategy, {"script": "import os"}, [], False)

    def test_script_checks_before_optional_keys(self) -> None:
        """§4.9: checks 8 and 10 are reported before checks 11 and 12."""
        strategy = {"script": "import os", "expected_observation_keys": 1, "rationale": 2}
        expected = {
            "field": "strategy",
            "subfield": "script",
            "reason": "forbidden_node",
            "lineno": 1,
            "col_offset": 0,
        }
        assert expected == rejection(validate_strategy, strategy, [], True)
        strategy["script"] = ""
        expected = {"field": "strategy", "subfield": "script", "reason": "must_be_non_empty_string"}
        assert expected == rejection(validate_strategy, strategy, [], True)

    def test_too_many_before_optional_keys(self) -> None:
        """§4.9: check 4 is reported before a bad rationale (check 12)."""
        strategy = {"tool_calls": [{"tool_name": "t"}] * 257, "rationale": 1}
        expected = {
            "field": "strategy",
            "subfield": "tool_calls",
            "reason": "too_many",
            "max_length": 256,
            "actual_length": 257,
        }
        assert expected == rejection(validate_strategy, strategy, [], False)

    def test_explicit_null_script_counts_as_present(self) -> None:
        """§4.9 check 2 is about presence: tool_calls plus script=None is both."""
        strategy = {"tool_calls": [{"tool_name": "t"}], "script": None}
        expected = {"field": "strategy", "reason": "must_have_exactly_one_of_tool_calls_or_script"}
        assert expected == rejection(validate_strategy, strategy, [], True)

    def test_only_top_level_arg_keys_must_be_str(self) -> None:
        """§4.9 check 7 concerns args' own keys; nested non-str keys are converted as JSON does."""
        strategy = {"tool_calls": [{"tool_name": "t", "args": {"a": {1: 2, None: 3}}}]}
        result = validate_strategy(strategy, [], False)
        assert Strategy(tool_calls=(ToolCall("t", {"a": {"1": 2, "null": 3}}),)) == result

    def test_empty_optional_values_accepted(self) -> None:
        """§4.9 checks 11–12: an empty list of keys and an empty rationale are valid."""
        strategy = {
            "tool_calls": [{"tool_name": "t"}],
            "expected_observation_keys": [],
            "rationale": "",
        }
        result = validate_strategy(strategy, [], False)
        assert ((), "") == (result.expected_observation_keys, result.rationale)

    @pytest.mark.parametrize(
        ("calls", "expected"),
        [
            ([ToolCall("t"), {"tool_name": ""}], (1, "tool_name_missing_or_invalid")),
            ([ToolCall("t", {1: 2})], (0, "args_not_a_dict")),  # type: ignore[dict-item]
            ([{"args": 5}], (0, "tool_name_missing_or_invalid")),
            ([{"tool_name": 1, "args": 5}, None], (0, "tool_name_missing_or_invalid")),
        ],
    )
    def test_call_paths(self, calls: list[Any], expected: tuple[int, str]) -> None:
        """§4.9 checks 5–7: ToolCall models are re-checked, check 6 precedes 7, by index."""
        index, reason = expected
        details = {"field": "strategy", "subfield": "tool_calls", "index": index, "reason": reason}
        assert details == rejection(validate_strategy, {"tool_calls": calls}, [], False)


class TestMetadata:
    """
    SPEC §4.10.
    """

    @pytest.mark.parametrize("value", [{True: 1}, {"a": {False: 1}}, {"a": [{2.5: 1}]}])
    def test_non_str_keys_anywhere(self, value: dict[Any, Any]) -> None:
        """§4.10 check 2: bool and float keys at any depth are not JSON data."""
        expected = {"field": "metadata", "reason": "not_json_serializable"}
        assert expected == rejection(validate_metadata, value)

    def test_one_byte_over(self) -> None:
        """§4.10 check 3: 65536 bytes of compact JSON pass; 65537 report their size."""
        fits = {"a": "x" * (65536 - len('{"a":""}'))}
        assert fits == validate_metadata(fits)
        expected = {
            "field": "metadata",
            "reason": "too_large",
            "max_length": 65536,
            "actual_length": 65537,
        }
        assert expected == rejection(validate_metadata, {"a": fits["a"] + "x"})


class TestObservation:
    """
    SPEC §4.11.
    """

    @pytest.mark.parametrize(("key", "rendered"), [(None, "null"), (True, "true"), (1.5, "1.5")])
    def test_unknown_key_rendering(self, key: Any, rendered: str) -> None:
        """§4.11 check 2: a non-str unknown key is named as JSON renders it."""
        expected = {"field": "observation", "subfield": rendered, "reason": "unknown_key"}
        assert expected == rejection(validate_observation, {"metrics": {}, key: 1})

    @pytest.mark.parametrize("value", [0, 10**30])
    def test_duration_boundaries_accepted(self, value: int) -> None:
        """§4.11 check 12: 0 and huge ints are non-negative ints."""
        result = validate_observation({"tool_calls": [host_call(duration_ms=value)]})
        assert value == result.tool_calls[0].duration_ms

    @pytest.mark.parametrize("value", [0.0, -0.0, Count.MINUS_ONE])
    def test_duration_rejections(self, value: Any) -> None:
        """§4.11 check 12: zero floats and negative int subclasses are not ints ≥ 0."""
        expected = {
            "field": "observation",
            "subfield": "tool_calls",
            "index": 0,
            "reason": "duration_ms_must_be_non_negative_int",
        }
        data = {"tool_calls": [host_call(duration_ms=value)]}
        assert expected == rejection(validate_observation, data)

    def test_call_values_converted(self) -> None:
        """§4.11 checks 10–11: nested non-str arg keys and an empty error_message are fine."""
        data = {"tool_calls": [host_call(args={"a": {1: 2}}, error_message="")]}
        expected = ObservationInput(
            tool_calls=(HostToolCall("t", "ok", {"a": {"1": 2}}, None, "", 0),)
        )
        assert expected == validate_observation(data)

    def test_events_before_calls(self) -> None:
        """§4.11: a bad event entry (check 5) is reported before a bad call entry (check 7)."""
        data = {"tool_calls": [None], "events": [{}, 1]}
        expected = {
            "field": "observation",
            "subfield": "events",
            "index": 1,
            "reason": "not_a_dict",
        }
        assert expected == rejection(validate_observation, data)


CRITERIA = [{"criterion_id": "c", "kind": "event", "required": True, "event_name": "done"}]
BUDGET = {"max_iterations": 3, "max_wall_clock_seconds": -1}


def start_details(mission: mk.Mission, **changes: Any) -> dict[str, Any]:
    """
    Details of a Mission.start call that must be rejected.
    """
    spec: dict[str, Any] = {
        "directive": "d",
        "criteria": CRITERIA,
        "budget": BUDGET,
        "tool_allowlist": ["probe"],
    }
    spec.update(changes)
    return rejection(mission.start, **spec)


class TestStartOrder:
    """
    SPEC §4.12.
    """

    def test_allowlist_step_between_criteria_and_budget(self) -> None:
        """§4.12: allow_all_tools/allowlist errors come after criteria and before budget."""
        mission = mk.Mission(tools=[probe])
        assert {"field": "criteria", "reason": "empty"} == start_details(
            mission, criteria=[], allow_all_tools="yes"
        )
        assert {"field": "allow_all_tools", "reason": "not_a_bool"} == start_details(
            mission, allow_all_tools="yes", budget={}
        )
        assert {
            "field": "tool_allowlist",
            "tool_name": "nope",
            "reason": "tool_not_registered",
        } == start_details(mission, tool_allowlist=["nope"], budget=None)
        assert [] == mission.sessions()

    @pytest.mark.parametrize("value", [1.0, 0.0, 1 + 0j])
    def test_use_sampling_numbers_equal_to_bools(self, value: Any) -> None:
        """§4.12 b: values merely equal to True/False are not among the accepted values."""
        mission = mk.Mission(tools=[probe], sampler=ScriptedSampler())
        expected = {
            "field": "use_sampling",
            "reason": "invalid_value",
            "allowed": ["after_adjust", "every_iteration"],
        }
        assert expected == start_details(mission, use_sampling=value)
        assert [] == mission.sessions()

    def test_stagnation_before_additional_checks(self) -> None:
        """§4.12: a bool stagnation threshold is reported before the a–e checks."""
        mission = mk.Mission(tools=[probe])
        expected = {"field": "stagnation_threshold", "reason": "must_be_positive_int"}
        assert expected == start_details(
            mission, stagnation_threshold=True, allow_scripted_strategies=1, metadata=[]
        )


class TestConstructor:
    """
    SPEC §4.13.
    """

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            ({"tools": 5, "tool_timeout": 0}, {"field": "tools", "reason": "invalid_value"}),
            (
                {"tool_timeout": 0, "sinks": [1]},
                {"field": "tool_timeout", "reason": "must_be_positive_number"},
            ),
            (
                {"sinks": [print, 1], "proposer": 2},
                {"field": "sinks", "index": 1, "reason": "not_callable"},
            ),
            ({"proposer": 1, "sampler": 2}, {"field": "proposer", "reason": "not_callable"}),
            ({"sampler": 1, "clock": 2}, {"field": "sampler", "reason": "not_callable"}),
            ({"clock": 1, "control_tools": 5}, {"field": "clock", "reason": "not_callable"}),
            (
                {"control_tools": 5, "flag_lookup": []},
                {"field": "control_tools", "reason": "invalid_value"},
            ),
        ],
    )
    def test_table_order(self, kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
        """§4.13 with §4.1 rule 2: of two bad arguments, the earlier table row is reported."""
        assert expected == rejection(mk.Mission, **kwargs)

    @pytest.mark.parametrize(
        ("tools", "expected"),
        [
            (
                [42, probe, probe],
                {"field": "tools", "index": 0, "reason": "tool_name_missing_or_invalid"},
            ),
            (
                [probe, probe, 42],
                {"field": "tools", "tool_name": "probe", "reason": "duplicate_tool_name"},
            ),
            (
                [mk.Tool(quiet, input_schema=[1], timeout=0)],  # type: ignore[arg-type]
                {"field": "tools", "tool_name": "quiet", "reason": "input_schema_not_a_dict"},
            ),
            (
                {b"probe": probe},
                {"field": "tools", "index": 0, "reason": "tool_name_missing_or_invalid"},
            ),
        ],
    )
    def test_tool_entries_in_order(self, tools: Any, expected: dict[str, Any]) -> None:
        """§4.13: tools are checked entry by entry; input_schema precedes the per-tool timeout."""
        assert expected == rejection(mk.Mission, tools=tools)

    def test_any_non_str_iterable_and_collections(self) -> None:
        """§4.13: tools may be a generator and control_tools a tuple of str, used by start."""
        mission = mk.Mission(
            tools=(t for t in [probe, quiet, mission_list]), control_tools=("probe",)
        )
        assert ["probe", "quiet", "mission_list"] == list(mission.tools)
        state = mission.build_state(
            directive="d", criteria=CRITERIA, budget=BUDGET, allow_all_tools=True
        )
        assert ("mission_list", "quiet") == state.tool_allowlist


TOOL_B_SCHEMA = {
    "type": "object",
    "properties": {"k": {"type": "integer"}},
    "additionalProperties": False,
}
METRIC = [
    {
        "criterion_id": "v",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.v",
        "op": ">=",
        "target": 3,
    }
]


def tool_b(k: int = 2) -> dict[str, Any]:
    """
    A tool with an input schema.
    """
    return {"metrics": {"v": k}}


def answer(strategy: dict[str, Any]) -> str:
    """
    A well-formed strategy_revision answer proposing *strategy*.
    """
    body = {"revision_rationale": "r", "next_strategy": strategy, "confidence": 0.5}
    return json.dumps(body)


def sampled_step(strategy: dict[str, Any]) -> tuple[Any, Any]:
    """
    The (sampling_status, sampling_rejection_reason) of one step whose sampler proposes *strategy*.
    """
    mission = mk.Mission(
        tools={"probe": probe, "tool_b": mk.Tool(tool_b, input_schema=TOOL_B_SCHEMA), "ext": None},
        sampler=ScriptedSampler(answer(strategy)),
        clock=FakeClock(),
    )
    session = mission.start(
        directive="d",
        criteria=METRIC,
        budget=BUDGET,
        tool_allowlist=["probe", "tool_b", "ext"],
        use_sampling="every_iteration",
    )
    iteration = session.step()
    return (iteration.sampling_status, iteration.sampling_rejection_reason)


class TestCatalog:
    """
    SPEC §4.14, observed through a session's sampling record.
    """

    def test_empty_tool_calls_token(self) -> None:
        """§4.14: tool_calls_empty is never produced; must_be_non_empty_list fires first."""
        assert ("rejected", "must_be_non_empty_list") == sampled_step({"tool_calls": []})

    @pytest.mark.parametrize(
        ("calls", "reason"),
        [
            (
                [{"tool_name": "tool_b", "args": {"k": True}}, {"tool_name": "rm"}],
                "tool_args_invalid",
            ),
            (
                [{"tool_name": "probe"}, {"tool_name": "rm", "args": {"k": "x"}}],
                "tool_not_allowlisted",
            ),
            ([{"tool_name": "tool_b", "args": {"k": 1.0}}], "tool_args_invalid"),
        ],
    )
    def test_call_by_call(self, calls: list[dict[str, Any]], reason: str) -> None:
        """§4.14: calls are checked in order, rows 1–3 per call; integer excludes bool and float."""
        assert ("rejected", reason) == sampled_step({"tool_calls": calls})

    @pytest.mark.parametrize(
        "call",
        [
            {"tool_name": "ext", "args": {"anything": [1]}},
            {"tool_name": "tool_b", "args": {"k": 10**30}},
        ],
    )
    def test_accepted_calls(self, call: dict[str, Any]) -> None:
        """§4.14: an allowlisted external tool takes any args; a big int is an integer."""
        assert ("used", None) == sampled_step({"tool_calls": [call]})

    def test_allowlisted_but_unknown_tool(self) -> None:
        """§4.14 row 2 precedes row 3: a tool the Mission no longer knows is tool_not_registered."""
        store = MemoryStore()
        first = mk.Mission(
            tools={"probe": probe, "tool_b": mk.Tool(tool_b, input_schema=TOOL_B_SCHEMA)},
            store=store,
            sampler=ScriptedSampler(),
            clock=FakeClock(),
        )
        first.start(
            directive="d",
            criteria=METRIC,
            budget=BUDGET,
            tool_allowlist=["probe", "tool_b"],
            use_sampling="every_iteration",
            session_id="shared",
        )
        bad_args = {"tool_calls": [{"tool_name": "tool_b", "args": {"k": "not an int"}}]}
        second = mk.Mission(
            tools={"probe": probe},
            store=store,
            sampler=ScriptedSampler(answer(bad_args)),
            clock=FakeClock(),
        )
        iteration = second.session("shared").step()
        assert ("rejected", "tool_not_registered") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
        )


class _Seconds(enum.IntEnum):
    """
    An int subclass that is not a bool.
    """

    THREE = 3


class _Fraction(float):
    """
    A float subclass.
    """


def _probe() -> int:
    """
    A trivial tool.
    """
    return 1


class TestConstructorTimeouts:
    @pytest.mark.parametrize(
        "kwargs",
        [{"tool_timeout": 10**400}, {"tools": [mk.Tool(_probe, timeout=10**400)]}],
    )
    def test_int_beyond_float_range_is_refused(self, kwargs: dict[str, Any]) -> None:
        """§2.3/§4.13: an int no timer can wait for is refused with a structured error."""
        with pytest.raises(mk.MissionValidationError) as info:
            mk.Mission(**kwargs)

        assert "must_be_positive_number" == info.value.details["reason"]

    @pytest.mark.parametrize("value", [_Seconds.THREE, _Fraction(1.5)])
    def test_number_subclasses_accepted_as_plain_floats(self, value: Any) -> None:
        """§4.1 rule 5 applied to §4.13: int/float subclasses are numbers; stored as floats."""
        mission = mk.Mission(tools=[mk.Tool(_probe, timeout=value)], tool_timeout=value)

        timeout = mission.tools["_probe"].timeout
        assert (float(value), float) == (timeout, type(timeout))


class TestIntsWithoutJsonText:
    def test_budget_int_past_the_text_limit_is_refused(self) -> None:
        """§3.14/§4.5: an int with no JSON text form (over 4,300 digits) is not an int here."""
        with pytest.raises(mk.MissionValidationError) as info:
            validate_budget({"max_iterations": 10**5000, "max_wall_clock_seconds": -1})

        assert {
            "field": "budget",
            "subfield": "max_iterations",
            "reason": "missing_or_not_positive_int_or_minus_one",
        } == info.value.details

    def test_astronomic_budgets_run(self) -> None:
        """§6.12: a wall-clock cap past any timer or past the float range still runs tools."""

        def slow() -> dict[str, Any]:
            time.sleep(0.05)
            return {"metrics": {"x": 1}}

        for cap in (10**10, 10**400):
            mission = mk.Mission(tools=[slow])
            session = mission.start(
                directive="d",
                criteria=[
                    {"criterion_id": "e", "kind": "event", "required": True, "event_name": "n"}
                ],
                budget={"max_iterations": 10**400, "max_wall_clock_seconds": cap},
                tool_allowlist=["slow"],
            )

            record = session.step().tool_calls[0]

            assert ("ok", None) == (record.status, record.error_message)
            assert 1 == len(mission.session(session.id).state.iterations)
