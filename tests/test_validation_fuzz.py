"""
Totality of missionkit.validation: any input gives a model or a MissionValidationError.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from missionkit.errors import MissionValidationError
from missionkit.models import Budget, Cadence, ObservationInput, Strategy
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
from strategies import (
    any_values,
    fuzz_inputs,
    mutated,
    valid_budget_dicts,
    valid_cadence_dicts,
    valid_criteria_lists,
    valid_observation_dicts,
    valid_strategy_dicts,
)

ALLOWED_DETAIL_KEYS = {
    "field",
    "subfield",
    "index",
    "criterion_id",
    "tool_name",
    "reason",
    "allowed",
    "flag",
    "lineno",
    "col_offset",
    "max_length",
    "actual_length",
    "errors",
}

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def outcome(func: Any, *args: Any, **kwargs: Any) -> Any:
    """
    Call a validator; return its result, or the details of its rejection after checking them.
    """
    try:
        return func(*args, **kwargs)
    except MissionValidationError as err:
        assert err.code == "validation_error"
        assert set(err.details) <= ALLOWED_DETAIL_KEYS
        assert isinstance(err.details["reason"], str)
        json.dumps(err.to_dict(), allow_nan=False)
        if "allowed" in err.details:
            assert sorted(err.details["allowed"]) == err.details["allowed"]
        str(err)
        return err.details


class TestScalarValidatorsAreTotal:
    """
    Validators of single values never raise anything but MissionValidationError.
    """

    @FUZZ
    @given(value=fuzz_inputs())
    def test_session_id(self, value: Any) -> None:
        """Any object yields a str or a session_id rejection."""
        result = outcome(validate_session_id, value)
        assert isinstance(result, str) or {"field", "reason"} == set(result)

    @FUZZ
    @given(value=fuzz_inputs())
    def test_directive(self, value: Any) -> None:
        """Any object yields a str or a directive rejection."""
        result = outcome(validate_directive, value)
        assert isinstance(result, str) or result["field"] == "directive"

    @FUZZ
    @given(value=fuzz_inputs())
    def test_stagnation_threshold(self, value: Any) -> None:
        """Any object yields an int or a stagnation_threshold rejection."""
        result = outcome(validate_stagnation_threshold, value)
        assert type(result) is int or result["field"] == "stagnation_threshold"

    @FUZZ
    @given(value=st.one_of(fuzz_inputs(), mutated(valid_budget_dicts())))
    def test_budget(self, value: Any) -> None:
        """Any object, including damaged valid budgets, yields a Budget or a rejection."""
        result = outcome(validate_budget, value)
        assert isinstance(result, Budget) or result["field"] == "budget"

    @FUZZ
    @given(value=st.one_of(fuzz_inputs(), mutated(valid_cadence_dicts())))
    def test_cadence(self, value: Any) -> None:
        """Any object, including damaged valid cadences, yields a Cadence or a rejection."""
        result = outcome(validate_cadence, value)
        assert isinstance(result, Cadence) or result["field"] == "checkpoint_cadence"

    @FUZZ
    @given(value=st.one_of(fuzz_inputs(), mutated(st.just({"a": [1, {"b": None}]}))))
    def test_metadata(self, value: Any) -> None:
        """Any object yields a JSON-serialisable dict or a metadata rejection."""
        try:
            result = validate_metadata(value)
        except MissionValidationError:
            # A valid metadata dict may itself hold "field" and "reason": tell
            # the two outcomes apart by the exception, then check the rejection.
            assert "metadata" == outcome(validate_metadata, value)["field"]
            return
        assert type(result) is dict
        json.dumps(result, allow_nan=False)


class TestContainerValidatorsAreTotal:
    """
    Validators of lists and records never raise anything but MissionValidationError.
    """

    @FUZZ
    @given(value=st.one_of(fuzz_inputs(), mutated(valid_criteria_lists(predicates=False))))
    def test_criteria(self, value: Any) -> None:
        """Any object, including damaged valid criteria lists, yields models or a rejection."""
        result = outcome(validate_criteria, value)
        assert isinstance(result, list) or result["field"] == "criteria"

    @FUZZ
    @given(
        value=st.one_of(fuzz_inputs(), mutated(valid_strategy_dicts())),
        allowlist=st.one_of(st.just(["t"]), any_values(3)),
        allow_scripts=st.one_of(st.booleans(), any_values(2)),
    )
    def test_strategy(self, value: Any, allowlist: Any, allow_scripts: Any) -> None:
        """Any strategy and arguments yield a Strategy or a rejection."""
        result = outcome(validate_strategy, value, allowlist, allow_scripts)
        assert isinstance(result, Strategy) or result["field"] == "strategy"

    @FUZZ
    @given(value=st.one_of(fuzz_inputs(), mutated(valid_observation_dicts())))
    def test_observation(self, value: Any) -> None:
        """Any object, including damaged valid observations, yields an input or a rejection."""
        result = outcome(validate_observation, value)
        if isinstance(result, ObservationInput):
            json.dumps(result.to_dict())
        else:
            assert result["field"] == "observation"

    @FUZZ
    @given(
        allowlist=st.one_of(fuzz_inputs(), mutated(st.just(["a", "b"]))),
        registered=st.one_of(st.just({"a": None, "b": None}), any_values(3)),
        flag_lookup=st.one_of(st.none(), st.just({"c": "FLAG"}), any_values(3)),
    )
    def test_tool_allowlist(self, allowlist: Any, registered: Any, flag_lookup: Any) -> None:
        """Any allowlist, registry and flag lookup yield a list of names or a rejection."""
        result = outcome(validate_tool_allowlist, allowlist, registered, flag_lookup)
        assert isinstance(result, list) or result["field"] == "tool_allowlist"

    @FUZZ
    @given(
        allow_all=st.one_of(st.booleans(), any_values(2)),
        explicit=st.one_of(st.none(), st.just(["a"]), fuzz_inputs()),
        registered=st.one_of(st.just(["a", "mission_start"]), any_values(3)),
        control=st.one_of(st.just(frozenset({"mission_start"})), any_values(3)),
        flag_lookup=st.one_of(st.none(), any_values(3)),
    )
    def test_resolve_effective_allowlist(
        self, allow_all: Any, explicit: Any, registered: Any, control: Any, flag_lookup: Any
    ) -> None:
        """Any combination of arguments yields a list of names or a rejection."""
        result = outcome(
            resolve_effective_allowlist,
            allow_all_tools=allow_all,
            explicit_allowlist=explicit,
            registered_tools=registered,
            control_tools=control,
            flag_lookup=flag_lookup,
        )
        assert isinstance(result, list) or result["field"] in {"tool_allowlist", "allow_all_tools"}
