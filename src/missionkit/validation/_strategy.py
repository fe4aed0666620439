"""
Validation of strategies (SPEC §4.9).
"""

from __future__ import annotations

import importlib
from typing import Any

from missionkit._jsonsafe import to_json_data
from missionkit.errors import ScriptRejected
from missionkit.models import Strategy, ToolCall
from missionkit.validation._common import (
    MISSING,
    exact_str,
    fail,
    is_non_empty_str,
    lookup,
    pairs,
    str_keyed,
    total,
)

__all__ = ["str_keyed_args", "validate_strategy"]

MAX_TOOL_CALLS = 256


def _strategy_data(strategy: Strategy) -> dict[str, Any]:
    """
    The keys a model has set (not null), sequences as lists.
    """
    data: dict[str, Any] = {}
    for key in ("tool_calls", "script", "rationale", "expected_observation_keys"):
        value = getattr(strategy, key)
        if value is None:
            continue
        data[key] = list(value) if type(value) is tuple else value
    return data


def str_keyed_args(value: Any) -> dict[str, Any] | None:
    """
    A JSON-safe copy of dict *value* if every key is a str, else None.
    """
    if not isinstance(value, dict):
        return None
    items = pairs(value)
    if not all(isinstance(k, str) for k, _ in items):
        return None
    copy: dict[str, Any] = to_json_data({exact_str(k): v for k, v in items})
    return copy


def _tool_call(index: int, call: Any) -> ToolCall:
    if isinstance(call, ToolCall):
        data: dict[str, Any] = {"tool_name": call.tool_name, "args": call.args}
    elif isinstance(call, dict):
        data = str_keyed(pairs(call))
    else:
        fail(field="strategy", subfield="tool_calls", index=index, reason="tool_call_not_a_dict")
    tool_name = lookup(data, "tool_name")
    if not is_non_empty_str(tool_name):
        fail(
            field="strategy",
            subfield="tool_calls",
            index=index,
            reason="tool_name_missing_or_invalid",
        )
    args: dict[str, Any] | None = {}
    if "args" in data:
        args = str_keyed_args(data["args"])
        if args is None:
            fail(field="strategy", subfield="tool_calls", index=index, reason="args_not_a_dict")
    return ToolCall(exact_str(tool_name), args or {})


def _script_allowlist(allowlist: Any) -> list[str]:
    if isinstance(allowlist, str):
        return [exact_str(allowlist)]
    return [exact_str(name) for name in list(allowlist) if isinstance(name, str)]


@total("strategy")
def validate_strategy(strategy: Any, allowlist: Any, allow_scripts: Any) -> Strategy:
    """
    Check a proposed strategy (SPEC §4.9).

    Calls are checked one at a time (all checks of call 0, then call 1, …).
    Allowlist membership of tool calls is not checked here.

    Args:
        strategy: A dict or a `Strategy`; unknown keys (of the strategy and of
            each call) are dropped.
        allowlist: The session's tool allowlist, used to validate a script.
        allow_scripts: Only ``True`` lets a script through.

    Returns:
        A new `Strategy` with tuple sequences and JSON-safe copies of the args.

    Raises:
        MissionValidationError: The first failing check, e.g.
            ``{field: strategy, reason: must_have_exactly_one_of_tool_calls_or_script}``.
    """
    if isinstance(strategy, Strategy):
        data = _strategy_data(strategy)
    elif isinstance(strategy, dict):
        data = str_keyed(pairs(strategy))
    else:
        fail(field="strategy", reason="not_a_dict")
    if ("tool_calls" in data) == ("script" in data):
        fail(field="strategy", reason="must_have_exactly_one_of_tool_calls_or_script")
    tool_calls: tuple[ToolCall, ...] | None = None
    script: str | None = None
    if "tool_calls" in data:
        raw_calls = data["tool_calls"]
        if not isinstance(raw_calls, list) or not list.copy(raw_calls):
            fail(field="strategy", subfield="tool_calls", reason="must_be_non_empty_list")
        calls = list.copy(raw_calls)
        if len(calls) > MAX_TOOL_CALLS:
            fail(
                field="strategy",
                subfield="tool_calls",
                reason="too_many",
                max_length=MAX_TOOL_CALLS,
                actual_length=len(calls),
            )
        tool_calls = tuple(_tool_call(index, call) for index, call in enumerate(calls))
    else:
        raw_script = data["script"]
        if not is_non_empty_str(raw_script):
            fail(field="strategy", subfield="script", reason="must_be_non_empty_string")
        script = exact_str(raw_script)
        if allow_scripts is not True:
            fail(field="strategy", subfield="script", reason="scripts_not_allowed_by_session")
        validate_script = importlib.import_module("missionkit.scripts").validate_script
        try:
            validate_script(script, _script_allowlist(allowlist))
        except ScriptRejected as exc:
            fail(
                field="strategy",
                subfield="script",
                reason=exc.reason,
                lineno=exc.lineno,
                col_offset=exc.col_offset,
            )
    keys = lookup(data, "expected_observation_keys")
    expected: tuple[str, ...] | None = None
    if keys is not MISSING:
        if not isinstance(keys, list):
            fail(
                field="strategy",
                subfield="expected_observation_keys",
                reason="must_be_list_of_strings",
            )
        key_list = list.copy(keys)
        if not all(isinstance(key, str) for key in key_list):
            fail(
                field="strategy",
                subfield="expected_observation_keys",
                reason="must_be_list_of_strings",
            )
        expected = tuple(exact_str(key) for key in key_list)
    rationale = lookup(data, "rationale")
    if rationale is not MISSING and not isinstance(rationale, str):
        fail(field="strategy", subfield="rationale", reason="not_a_string")
    return Strategy(
        tool_calls=tool_calls,
        script=script,
        rationale=None if rationale is MISSING else exact_str(rationale),
        expected_observation_keys=expected,
    )
