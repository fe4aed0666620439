"""
Tests for validate_tool_allowlist and resolve_effective_allowlist (SPEC §4.6).
"""

from __future__ import annotations

from typing import Any

import pytest

from missionkit.validation import (
    MISSION_CONTROL_TOOLS,
    resolve_effective_allowlist,
    validate_tool_allowlist,
)
from strategies import HostileList, HostileMapping
from validation_support import rejection

REGISTERED = {"train": object(), "evaluate": object(), "external": None}
NOT_REGISTERED = {"field": "tool_allowlist", "tool_name": "deploy", "reason": "tool_not_registered"}


class TestValidateToolAllowlist:
    """
    validate_tool_allowlist.
    """

    def test_accepts_in_input_order(self) -> None:
        """A valid list is returned as a new list in input order."""
        allowlist = ["evaluate", "train"]
        result = validate_tool_allowlist(allowlist, REGISTERED)
        assert ["evaluate", "train"] == result
        assert result is not allowlist

    @pytest.mark.parametrize(
        "registered",
        [REGISTERED, ["train", "evaluate"], {"train", "evaluate"}, ("train", "evaluate")],
    )
    def test_registered_forms(self, registered: Any) -> None:
        """registered_tools may be a mapping (keys read) or any collection of names."""
        assert ["train"] == validate_tool_allowlist(["train"], registered)

    @pytest.mark.parametrize("value", [None, ("train",), "train", {"train": 1}, {"train"}])
    def test_not_a_list(self, value: Any) -> None:
        """Check 1: a non-list (tuples included) is not_a_list."""
        expected = {"field": "tool_allowlist", "reason": "not_a_list"}
        assert expected == rejection(validate_tool_allowlist, value, REGISTERED)

    def test_empty(self) -> None:
        """Check 2: an empty list is empty."""
        expected = {"field": "tool_allowlist", "reason": "empty"}
        assert expected == rejection(validate_tool_allowlist, [], REGISTERED)

    @pytest.mark.parametrize("entry", [None, "", 1, ["train"], b"train"])
    def test_entry_invalid(self, entry: Any) -> None:
        """Check 3: an entry that is not a non-empty str is reported by index."""
        expected = {"field": "tool_allowlist", "index": 1, "reason": "tool_name_missing_or_invalid"}
        assert expected == rejection(validate_tool_allowlist, ["train", entry], REGISTERED)

    def test_duplicate(self) -> None:
        """Check 4: a repeated entry is duplicate_tool_name."""
        expected = {
            "field": "tool_allowlist",
            "tool_name": "train",
            "reason": "duplicate_tool_name",
        }
        assert expected == rejection(
            validate_tool_allowlist, ["train", "evaluate", "train"], REGISTERED
        )

    def test_not_registered(self) -> None:
        """Check 5: an unknown name is tool_not_registered."""
        expected = {
            "field": "tool_allowlist",
            "tool_name": "deploy",
            "reason": "tool_not_registered",
        }
        assert expected == rejection(validate_tool_allowlist, ["train", "deploy"], REGISTERED)

    def test_not_registered_with_flag(self) -> None:
        """Check 5 names the gating flag when flag_lookup has the tool."""
        expected = {
            "field": "tool_allowlist",
            "tool_name": "deploy",
            "reason": "tool_not_registered",
            "flag": "ENABLE_DEPLOY",
        }
        flags = {"deploy": "ENABLE_DEPLOY", "other": "X"}
        assert expected == rejection(validate_tool_allowlist, ["deploy"], REGISTERED, flags)

    def test_flag_lookup_without_the_name(self) -> None:
        """A flag_lookup that lacks the name adds no flag."""
        expected = {
            "field": "tool_allowlist",
            "tool_name": "deploy",
            "reason": "tool_not_registered",
        }
        assert expected == rejection(
            validate_tool_allowlist, ["deploy"], REGISTERED, {"other": "X"}
        )

    def test_entries_checked_one_at_a_time(self) -> None:
        """Entry 0's registration failure is reported before entry 1's type failure."""
        expected = {
            "field": "tool_allowlist",
            "tool_name": "deploy",
            "reason": "tool_not_registered",
        }
        assert expected == rejection(validate_tool_allowlist, ["deploy", None], REGISTERED)

    def test_duplicate_before_later_invalid_entry(self) -> None:
        """A duplicate at index 1 is reported before an invalid entry at index 2."""
        details = rejection(validate_tool_allowlist, ["train", "train", 3], REGISTERED)
        assert "duplicate_tool_name" == details["reason"]

    def test_hostile_list_subclass(self) -> None:
        """A list subclass is read through its storage."""
        assert ["train"] == validate_tool_allowlist(HostileList(["train"]), REGISTERED)

    def test_hostile_registry(self) -> None:
        """A registry that raises when read is uninspectable."""
        expected = {"field": "tool_allowlist", "reason": "uninspectable"}
        assert expected == rejection(validate_tool_allowlist, ["train"], HostileMapping())


class TestResolveEffectiveAllowlist:
    """
    resolve_effective_allowlist.
    """

    @pytest.mark.parametrize("value", [None, 1, "true", 0])
    def test_allow_all_not_a_bool(self, value: Any) -> None:
        """Row 1: allow_all_tools must be a bool."""
        expected = {"field": "allow_all_tools", "reason": "not_a_bool"}
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=value,
            explicit_allowlist=["train"],
            registered_tools=REGISTERED,
        )

    def test_mutually_exclusive(self) -> None:
        """Row 2: allow_all_tools with a truthy explicit allowlist is rejected."""
        expected = {
            "field": "tool_allowlist",
            "reason": "allow_all_and_explicit_allowlist_mutually_exclusive",
        }
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=True,
            explicit_allowlist=["train"],
            registered_tools=REGISTERED,
        )

    def test_empty_registry(self) -> None:
        """Row 3: allow_all_tools over only control tools is allow_all_tools_empty_registry."""
        expected = {"field": "tool_allowlist", "reason": "allow_all_tools_empty_registry"}
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=True,
            explicit_allowlist=None,
            registered_tools={"mission_start": None, "mission_status": None},
        )
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=True,
            explicit_allowlist=[],
            registered_tools=[],
        )

    def test_allow_all(self) -> None:
        """Row 4: allow_all_tools gives the sorted registered names minus control tools."""
        registered = {"zeta": None, "alpha": None, "mission_list": None, "beta": None}
        expected = ["alpha", "beta", "zeta"]
        assert expected == resolve_effective_allowlist(
            allow_all_tools=True, explicit_allowlist=None, registered_tools=registered
        )

    def test_allow_all_custom_control_tools(self) -> None:
        """control_tools replaces the default set of excluded names."""
        registered = ["a", "b", "mission_list"]
        expected = ["b", "mission_list"]
        assert expected == resolve_effective_allowlist(
            allow_all_tools=True,
            explicit_allowlist=[],
            registered_tools=registered,
            control_tools=["a"],
        )

    def test_default_control_tools(self) -> None:
        """The default control_tools is MISSION_CONTROL_TOOLS."""
        registered = [*sorted(MISSION_CONTROL_TOOLS), "x"]
        expected = ["x"]
        assert expected == resolve_effective_allowlist(
            allow_all_tools=True, explicit_allowlist=None, registered_tools=registered
        )

    def test_explicit(self) -> None:
        """Row 5: otherwise the explicit allowlist is validated."""
        expected = ["train"]
        assert expected == resolve_effective_allowlist(
            allow_all_tools=False, explicit_allowlist=["train"], registered_tools=REGISTERED
        )

    def test_explicit_none_is_empty(self) -> None:
        """Row 5: no explicit allowlist gives empty."""
        expected = {"field": "tool_allowlist", "reason": "empty"}
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=False,
            explicit_allowlist=None,
            registered_tools=REGISTERED,
        )

    def test_explicit_flag_lookup(self) -> None:
        """Row 5 passes flag_lookup through."""
        expected = {
            "field": "tool_allowlist",
            "tool_name": "deploy",
            "reason": "tool_not_registered",
            "flag": "F",
        }
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=False,
            explicit_allowlist=["deploy"],
            registered_tools=REGISTERED,
            flag_lookup={"deploy": "F"},
        )

    def test_explicit_not_a_list(self) -> None:
        """Row 5: a truthy non-list explicit allowlist is not_a_list."""
        expected = {"field": "tool_allowlist", "reason": "not_a_list"}
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools=False,
            explicit_allowlist=("train",),
            registered_tools=REGISTERED,
        )

    def test_order(self) -> None:
        """Row 1 is checked before row 2."""
        expected = {"field": "allow_all_tools", "reason": "not_a_bool"}
        assert expected == rejection(
            resolve_effective_allowlist,
            allow_all_tools="yes",
            explicit_allowlist=["train"],
            registered_tools={},
        )
