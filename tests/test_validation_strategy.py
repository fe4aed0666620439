"""
Tests for validate_strategy (SPEC §4.9).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given

from missionkit.models import Strategy, ToolCall
from missionkit.validation import validate_strategy
from strategies import HostileDict, valid_strategy_dicts
from validation_support import rejection

ALLOWLIST = ["submit_job", "list_things"]
SCRIPT = "r = await list_things()\nawait mission.observe('n', len(r))\n"


def check(strategy: Any, allow_scripts: bool = True) -> dict[str, Any]:
    """
    Details of rejecting *strategy* with the test allowlist.
    """
    return rejection(validate_strategy, strategy, ALLOWLIST, allow_scripts)


def call_error(index: int, reason: str) -> dict[str, Any]:
    """
    The details of a failing tool call.
    """
    return {"field": "strategy", "subfield": "tool_calls", "index": index, "reason": reason}


class TestShape:
    """
    Checks 1–4.
    """

    @pytest.mark.parametrize("value", [None, [], "tool_calls", ({"tool_calls": []},)])
    def test_not_a_dict(self, value: Any) -> None:
        """Check 1: a non-dict is not_a_dict."""
        expected = {"field": "strategy", "reason": "not_a_dict"}
        assert expected == check(value)

    @pytest.mark.parametrize(
        "value",
        [
            {},
            {"rationale": "r"},
            {"tool_calls": [{"tool_name": "t"}], "script": "x = 1"},
            {"tool_calls": None, "script": None},
            {"tool_calls": [], "script": ""},
            Strategy(),
            Strategy(tool_calls=(ToolCall("t"),), script="x = 1"),
        ],
    )
    def test_exactly_one(self, value: Any) -> None:
        """Check 2: both or neither of tool_calls and script, by presence (models: not null)."""
        expected = {"field": "strategy", "reason": "must_have_exactly_one_of_tool_calls_or_script"}
        assert expected == check(value)

    @pytest.mark.parametrize("value", [None, [], (), {"tool_name": "t"}, "t"])
    def test_tool_calls_non_empty_list(self, value: Any) -> None:
        """Check 3: tool_calls must be a non-empty list (null is present and invalid)."""
        expected = {
            "field": "strategy",
            "subfield": "tool_calls",
            "reason": "must_be_non_empty_list",
        }
        assert expected == check({"tool_calls": value})

    def test_too_many(self) -> None:
        """Check 4: more than 256 calls is too_many with both lengths."""
        expected = {
            "field": "strategy",
            "subfield": "tool_calls",
            "reason": "too_many",
            "max_length": 256,
            "actual_length": 257,
        }
        assert expected == check({"tool_calls": [None] * 257})

    def test_256_calls_accepted(self) -> None:
        """Exactly 256 calls are accepted."""
        strategy = validate_strategy({"tool_calls": [{"tool_name": "t"}] * 256}, [], False)
        assert strategy.tool_calls is not None
        assert 256 == len(strategy.tool_calls)


class TestCalls:
    """
    Checks 5–7, call by call.
    """

    @pytest.mark.parametrize("call", [None, [], "t", ("t", {})])
    def test_not_a_dict(self, call: Any) -> None:
        """Check 5: a call that is neither a dict nor a ToolCall."""
        expected = call_error(1, "tool_call_not_a_dict")
        assert expected == check({"tool_calls": [{"tool_name": "t"}, call]})

    @pytest.mark.parametrize("name", [..., None, "", 1, ["t"]])
    def test_tool_name(self, name: Any) -> None:
        """Check 6: tool_name missing, not a str or empty."""
        call = {} if name is ... else {"tool_name": name}
        assert call_error(0, "tool_name_missing_or_invalid") == check({"tool_calls": [call]})

    @pytest.mark.parametrize("args", [None, [], "a=1", {1: "x"}, {"a": 1, None: 2}, ("a",)])
    def test_args(self, args: Any) -> None:
        """Check 7: present args must be a dict with only str keys."""
        expected = call_error(0, "args_not_a_dict")
        assert expected == check({"tool_calls": [{"tool_name": "t", "args": args}]})

    def test_call_by_call(self) -> None:
        """All checks of call 0 run before call 1 is inspected."""
        calls = [{"tool_name": "t", "args": 1}, None]
        assert call_error(0, "args_not_a_dict") == check({"tool_calls": calls})
        calls = [{"tool_name": "t"}, {"tool_name": ""}, None]
        assert call_error(1, "tool_name_missing_or_invalid") == check({"tool_calls": calls})

    def test_calls_before_optional_keys(self) -> None:
        """Call checks run before expected_observation_keys and rationale."""
        strategy = {"tool_calls": [None], "rationale": 1, "expected_observation_keys": 1}
        assert call_error(0, "tool_call_not_a_dict") == check(strategy)


class TestScript:
    """
    Checks 8–10.
    """

    @pytest.mark.parametrize("script", [None, "", 1, ["x = 1"], b"x = 1"])
    def test_non_empty_string(self, script: Any) -> None:
        """Check 8: script must be a non-empty str."""
        expected = {
            "field": "strategy",
            "subfield": "script",
            "reason": "must_be_non_empty_string",
        }
        assert expected == check({"script": script})

    def test_not_allowed(self) -> None:
        """Check 9: scripts need allow_scripts."""
        expected = {
            "field": "strategy",
            "subfield": "script",
            "reason": "scripts_not_allowed_by_session",
        }
        assert expected == check({"script": SCRIPT}, allow_scripts=False)

    def test_type_checked_before_permission(self) -> None:
        """Check 8 runs before check 9."""
        details = check({"script": ""}, allow_scripts=False)
        assert "must_be_non_empty_string" == details["reason"]

    @pytest.mark.parametrize(
        ("script", "reason", "lineno", "col_offset"),
        [
            ("import os", "forbidden_node", 1, 0),
            ("r = submit_job(a=1)", "tool_call_not_awaited", 1, 4),
            ("x = y", "name_not_allowed", 1, 4),
            ("x = 1\nx = eval('1')", "forbidden_call_target", 2, 4),
            ("x" * 65537, "source_too_long", None, None),
        ],
    )
    def test_rejected_script(
        self, script: str, reason: str, lineno: int | None, col_offset: int | None
    ) -> None:
        """Check 10: the script token and position are reported."""
        expected = {
            "field": "strategy",
            "subfield": "script",
            "reason": reason,
            "lineno": lineno,
            "col_offset": col_offset,
        }
        assert expected == check({"script": script})

    def test_allowlist_passed_to_script_validation(self) -> None:
        """The session allowlist decides which tools a script may call."""
        strategy = {"script": "r = await deploy()"}
        assert "await_not_allowed" == check(strategy)["reason"]
        result = validate_strategy(strategy, ["deploy"], True)
        assert Strategy(script="r = await deploy()") == result

    def test_token_mapping(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Whatever validate_script rejects with is mapped verbatim into the details."""
        import missionkit.scripts
        from missionkit.errors import ScriptRejected

        def fake(source: str, allowlist: Any) -> Any:
            raise ScriptRejected("await_not_allowed", 3, 8)

        monkeypatch.setattr(missionkit.scripts, "validate_script", fake)
        expected = {
            "field": "strategy",
            "subfield": "script",
            "reason": "await_not_allowed",
            "lineno": 3,
            "col_offset": 8,
        }
        assert expected == check({"script": "x = 1"})

    def test_accepted(self) -> None:
        """A valid script is returned with its rationale."""
        expected = Strategy(script=SCRIPT, rationale="why")
        assert expected == validate_strategy(
            {"script": SCRIPT, "rationale": "why"}, ALLOWLIST, True
        )

    @pytest.mark.parametrize("flag", [1, "yes", None, False])
    def test_only_true_allows_scripts(self, flag: Any) -> None:
        """Only allow_scripts=True lets a script through."""
        assert (
            "scripts_not_allowed_by_session"
            == rejection(validate_strategy, {"script": SCRIPT}, ALLOWLIST, flag)["reason"]
        )


class TestOptionalKeys:
    """
    Checks 11–12 and the result.
    """

    @pytest.mark.parametrize("value", [None, "k", ("k",), ["k", 1], {"k": 1}])
    def test_expected_observation_keys(self, value: Any) -> None:
        """Check 11: a present expected_observation_keys must be a list of str."""
        expected = {
            "field": "strategy",
            "subfield": "expected_observation_keys",
            "reason": "must_be_list_of_strings",
        }
        assert expected == check(
            {"tool_calls": [{"tool_name": "t"}], "expected_observation_keys": value}
        )

    @pytest.mark.parametrize("value", [None, 1, ["r"]])
    def test_rationale(self, value: Any) -> None:
        """Check 12: a present rationale must be a str."""
        expected = {"field": "strategy", "subfield": "rationale", "reason": "not_a_string"}
        assert expected == check({"tool_calls": [{"tool_name": "t"}], "rationale": value})

    def test_keys_before_rationale(self) -> None:
        """Check 11 runs before check 12."""
        strategy = {"script": SCRIPT, "rationale": 1, "expected_observation_keys": 1}
        assert "must_be_list_of_strings" == check(strategy)["reason"]

    def test_result(self) -> None:
        """Calls become ToolCalls with JSON-safe args; unknown keys are dropped."""
        strategy = {
            "tool_calls": [
                {"tool_name": "a", "args": {"x": (1, 2), "y": {3}}, "note": "dropped"},
                {"tool_name": "b"},
            ],
            "rationale": "r",
            "expected_observation_keys": ["k"],
            "confidence": 0.9,
        }
        expected = Strategy(
            tool_calls=(ToolCall("a", {"x": [1, 2], "y": [3]}), ToolCall("b", {})),
            rationale="r",
            expected_observation_keys=("k",),
        )
        result = validate_strategy(strategy, [], False)
        assert expected == result
        assert tuple is type(result.tool_calls)
        expected_json = {
            "tool_calls": [
                {"tool_name": "a", "args": {"x": [1, 2], "y": [3]}},
                {"tool_name": "b", "args": {}},
            ],
            "rationale": "r",
            "expected_observation_keys": ["k"],
        }
        assert expected_json == result.to_dict()

    def test_args_are_copied(self) -> None:
        """The returned args share no containers with the input."""
        args = {"x": [1]}
        result = validate_strategy({"tool_calls": [{"tool_name": "a", "args": args}]}, [], False)
        assert result.tool_calls is not None
        assert args == result.tool_calls[0].args
        assert args["x"] is not result.tool_calls[0].args["x"]

    def test_allowlist_not_checked_for_calls(self) -> None:
        """Tool calls are not checked against the allowlist here."""
        result = validate_strategy({"tool_calls": [{"tool_name": "anything"}]}, ["x"], False)
        assert Strategy(tool_calls=(ToolCall("anything"),)) == result

    @pytest.mark.parametrize(
        "model",
        [
            Strategy(tool_calls=(ToolCall("a", {"k": [1]}),), rationale="r"),
            Strategy(tool_calls=(ToolCall("a"),), expected_observation_keys=("x", "y")),
            Strategy(script=SCRIPT),
        ],
    )
    def test_model_round_trip(self, model: Strategy) -> None:
        """A Strategy model validates to an equal model."""
        assert model == validate_strategy(model, ALLOWLIST, True)

    def test_from_dict(self) -> None:
        """Strategy.from_dict and ToolCall.from_dict apply the same validation."""
        assert ToolCall("t", {"a": 1}) == ToolCall.from_dict({"tool_name": "t", "args": {"a": 1}})
        assert call_error(0, "args_not_a_dict") == rejection(
            ToolCall.from_dict, {"tool_name": "t", "args": []}
        )

    def test_hostile_dict_subclass(self) -> None:
        """Dict subclasses are read through their storage."""
        strategy = HostileDict({"tool_calls": [HostileDict({"tool_name": "t"})]})
        assert Strategy(tool_calls=(ToolCall("t"),)) == validate_strategy(strategy, [], False)

    def test_input_not_mutated(self) -> None:
        """The input is left untouched."""
        strategy = {"tool_calls": [{"tool_name": "a", "args": {"x": (1,)}, "z": 1}], "q": 2}
        before = copy.deepcopy(strategy)
        validate_strategy(strategy, [], False)
        assert before == strategy

    @given(strategy=valid_strategy_dicts())
    def test_valid_round_trip(self, strategy: dict[str, Any]) -> None:
        """Valid strategies validate, and their models and JSON re-validate to equal models."""
        result = validate_strategy(strategy, [], False)
        assert result == validate_strategy(result, [], False)
        assert result == validate_strategy(result.to_dict(), [], False)
