"""
Targeted totality tests: hostile inputs become ``uninspectable`` or ordinary rejections.
"""

from __future__ import annotations

from typing import Any

import pytest

from missionkit.errors import MissionValidationError
from missionkit.models import Budget
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
    Hostile,
    HostileClassAttribute,
    HostileDict,
    HostileFloat,
    HostileInt,
    HostileList,
    HostileStr,
)
from validation_support import rejection

SINGLE_ARGUMENT = [
    (validate_session_id, "session_id"),
    (validate_directive, "directive"),
    (validate_stagnation_threshold, "stagnation_threshold"),
    (validate_budget, "budget"),
    (validate_cadence, "checkpoint_cadence"),
    (validate_metadata, "metadata"),
    (validate_criteria, "criteria"),
    (validate_observation, "observation"),
    (lambda value: validate_strategy(value, [], True), "strategy"),
    (lambda value: validate_tool_allowlist(value, []), "tool_allowlist"),
]


class ForgedError:
    """
    An object whose ``__class__`` lookup raises a MissionValidationError with made-up details.
    """

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        raise MissionValidationError(details={"evil": "forged"})


class TestUninspectable:
    """
    Inputs that raise while being inspected.
    """

    @pytest.mark.parametrize(("func", "field"), SINGLE_ARGUMENT)
    def test_class_lookup_raises(self, func: Any, field: str) -> None:
        """An object whose __class__ raises (so isinstance raises) is uninspectable."""
        expected = {"field": field, "reason": "uninspectable"}
        assert expected == rejection(func, HostileClassAttribute())

    @pytest.mark.parametrize(("func", "field"), SINGLE_ARGUMENT)
    def test_hostile_object(self, func: Any, field: str) -> None:
        """An object whose dunder methods raise is rejected as a wrong type, not crashed on."""
        details = rejection(func, Hostile())
        assert field == details["field"]

    def test_uninspectable_keeps_cause(self) -> None:
        """The original exception is kept as the cause."""
        with pytest.raises(MissionValidationError) as info:
            validate_budget(HostileClassAttribute())
        assert isinstance(info.value.__cause__, Exception)

    def test_entry_class_lookup_raises(self) -> None:
        """A hostile entry inside a valid container makes the whole input uninspectable."""
        expected = {"field": "criteria", "reason": "uninspectable"}
        assert expected == rejection(validate_criteria, [HostileClassAttribute()])

    def test_allow_all_tools_uninspectable(self) -> None:
        """A hostile allow_all_tools reports its own field."""
        expected = {"field": "allow_all_tools", "reason": "uninspectable"}
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=HostileClassAttribute(),
            explicit_allowlist=None,
            registered_tools=[],
        )

    def test_explicit_allowlist_truthiness_raises(self) -> None:
        """An explicit allowlist whose truthiness raises is uninspectable tool_allowlist."""
        expected = {"field": "tool_allowlist", "reason": "uninspectable"}
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=True,
            explicit_allowlist=Hostile(),
            registered_tools=["a"],
        )

    def test_forged_validation_error(self) -> None:
        """A MissionValidationError raised by the input itself is not passed through."""
        expected = {"field": "tool_allowlist", "reason": "uninspectable"}
        assert expected == rejection(validate_tool_allowlist, [ForgedError()], ["a"])


class TestHostileSubclasses:
    """
    Builtin subclasses are read through the builtin's own methods.
    """

    def test_str_subclass_values(self) -> None:
        """Hostile str subclasses are compared and stored as plain str."""
        result = validate_cadence({"kind": HostileStr("on_event"), "event_name": HostileStr("e")})
        assert "on_event" == result.kind
        assert str is type(result.event_name)

    def test_str_subclass_token_not_matching(self) -> None:
        """A hostile str that is not a valid token is an ordinary rejection."""
        expected = {
            "field": "checkpoint_cadence",
            "reason": "kind_invalid",
            "allowed": ["every_iteration", "every_n_iterations", "every_t_seconds", "on_event"],
        }
        assert expected == rejection(validate_cadence, {"kind": HostileStr("never")})

    def test_int_subclass(self) -> None:
        """Hostile int subclasses are compared as plain ints."""
        result = validate_budget({"max_iterations": HostileInt(3), "max_wall_clock_seconds": -1})
        assert Budget(3, -1) == result
        assert int is type(result.max_iterations)

    def test_float_subclass(self) -> None:
        """Hostile float subclasses are checked as plain floats."""
        entry = {
            "criterion_id": HostileStr("c"),
            "kind": "metric_threshold",
            "required": True,
            "metric": HostileStr("metrics.x"),
            "op": HostileStr("<"),
            "target": HostileFloat(1.5),
            "min_delta": HostileFloat(0.5),
        }
        (result,) = validate_criteria(HostileList([HostileDict(entry)]))
        assert (1.5, 0.5) == (result.target, result.min_delta)
        assert float is type(result.target)

    def test_metadata_subclasses(self) -> None:
        """Metadata made of hostile subclasses is copied into plain builtins."""
        value = HostileDict({"a": HostileList([HostileStr("x"), HostileInt(1)])})
        result = validate_metadata(value)
        assert {"a": ["x", 1]} == result
        assert list is type(result["a"])
