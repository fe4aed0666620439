"""
The validators of SPEC §4: one function per input of `Mission.start` and friends.

Every validator is pure and total: for any Python object it returns a new
value (or model) or raises `MissionValidationError` whose ``details`` name the
first failing check. Criteria, strategies and observations live in their own
modules and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from missionkit._jsonsafe import json_size
from missionkit._models._literals import is_session_id
from missionkit.errors import MissionValidationError
from missionkit.models import Budget, Cadence
from missionkit.validation._common import (
    exact_int,
    exact_str,
    fail,
    guard,
    is_int,
    is_non_empty_str,
    lookup,
    pairs,
    str_keyed,
    total,
)
from missionkit.validation._constants import MISSION_CONTROL_TOOLS
from missionkit.validation._criteria import validate_criteria
from missionkit.validation._observation import validate_observation
from missionkit.validation._strategy import validate_strategy

__all__ = [
    "MISSION_CONTROL_TOOLS",
    "MissionValidationError",
    "resolve_effective_allowlist",
    "validate_budget",
    "validate_cadence",
    "validate_criteria",
    "validate_directive",
    "validate_metadata",
    "validate_observation",
    "validate_session_id",
    "validate_stagnation_threshold",
    "validate_strategy",
    "validate_tool_allowlist",
]

DIRECTIVE_MAX_LENGTH = 8192
METADATA_MAX_BYTES = 65536
_METADATA_MAX_DEPTH = 500
_CADENCE_KINDS = ("every_iteration", "every_n_iterations", "every_t_seconds", "on_event")


# --------------------------------------------------------------------------- scalars


@total("session_id")
def validate_session_id(value: Any) -> str:
    """
    Check a session id (SPEC §4.2).

    Args:
        value: The candidate id.

    Returns:
        The id as an exact `str`.

    Raises:
        MissionValidationError: ``{field: session_id, reason: session_id_invalid}``
            unless *value* is a str fully matching ``[A-Za-z0-9_.-]{1,128}`` that
            does not start with ``.``.
    """
    if isinstance(value, str):
        text = exact_str(value)
        if is_session_id(text):
            return text
    fail(field="session_id", reason="session_id_invalid")


@total("directive")
def validate_directive(text: Any) -> str:
    """
    Check the natural-language directive (SPEC §4.3).

    Args:
        text: The candidate directive.

    Returns:
        The directive with surrounding whitespace stripped.

    Raises:
        MissionValidationError: ``not_a_string``, ``empty`` or ``too_long``.
    """
    if not isinstance(text, str):
        fail(field="directive", reason="not_a_string")
    stripped = exact_str(text).strip()
    if not stripped:
        fail(field="directive", reason="empty")
    if len(stripped) > DIRECTIVE_MAX_LENGTH:
        fail(
            field="directive",
            reason="too_long",
            max_length=DIRECTIVE_MAX_LENGTH,
            actual_length=len(stripped),
        )
    return stripped


@total("stagnation_threshold")
def validate_stagnation_threshold(value: Any) -> int:
    """
    Check the stagnation threshold (SPEC §4.8).

    Args:
        value: The candidate threshold.

    Returns:
        The threshold as an exact `int`.

    Raises:
        MissionValidationError: ``{field: stagnation_threshold, reason: must_be_positive_int}``.
    """
    if is_int(value):
        number = exact_int(value)
        if number > 0:
            return number
    fail(field="stagnation_threshold", reason="must_be_positive_int")


# --------------------------------------------------------------------------- budget, cadence


def _cap_value(value: Any) -> int | None:
    if is_int(value):
        number = exact_int(value)
        if number > 0 or number == -1:
            return number
    return None


@total("budget")
def validate_budget(budget: Any) -> Budget:
    """
    Check the iteration and wall-clock caps (SPEC §4.5).

    Args:
        budget: A dict or a `Budget`; keys other than the two caps are dropped.

    Returns:
        A new `Budget`.

    Raises:
        MissionValidationError: ``not_a_dict``, or
            ``missing_or_not_positive_int_or_minus_one`` for a cap.
    """
    if isinstance(budget, Budget):
        data: dict[str, Any] = {
            "max_iterations": budget.max_iterations,
            "max_wall_clock_seconds": budget.max_wall_clock_seconds,
        }
    elif isinstance(budget, dict):
        data = str_keyed(pairs(budget))
    else:
        fail(field="budget", reason="not_a_dict")
    caps: list[int] = []
    for key in ("max_iterations", "max_wall_clock_seconds"):
        value = _cap_value(lookup(data, key))
        if value is None:
            fail(
                field="budget",
                subfield=key,
                reason="missing_or_not_positive_int_or_minus_one",
            )
        caps.append(value)
    return Budget(max_iterations=caps[0], max_wall_clock_seconds=caps[1])


def _cadence_data(cadence: Cadence) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": cadence.kind}
    for key, value in (("n", cadence.n), ("t", cadence.t), ("event_name", cadence.event_name)):
        if value is not None:
            data[key] = value
    return data


def _positive_int(value: Any) -> int | None:
    if is_int(value):
        number = exact_int(value)
        if number > 0:
            return number
    return None


@total("checkpoint_cadence")
def validate_cadence(cadence: Any) -> Cadence:
    """
    Check a checkpoint cadence (SPEC §4.7).

    Args:
        cadence: A dict or a `Cadence`; parameters of other kinds are dropped.

    Returns:
        A new `Cadence` carrying only the parameter of its kind.

    Raises:
        MissionValidationError: ``not_a_dict``, ``kind_invalid``,
            ``missing_or_not_positive_int`` (``n``/``t``) or ``missing_or_empty``
            (``event_name``).
    """
    if isinstance(cadence, Cadence):
        data = _cadence_data(cadence)
    elif isinstance(cadence, dict):
        data = str_keyed(pairs(cadence))
    else:
        fail(field="checkpoint_cadence", reason="not_a_dict")
    kind = lookup(data, "kind")
    if not isinstance(kind, str) or exact_str(kind) not in _CADENCE_KINDS:
        fail(field="checkpoint_cadence", reason="kind_invalid", allowed=sorted(_CADENCE_KINDS))
    kind = exact_str(kind)
    if kind == "every_n_iterations":
        n = _positive_int(lookup(data, "n"))
        if n is None:
            fail(field="checkpoint_cadence", subfield="n", reason="missing_or_not_positive_int")
        return Cadence("every_n_iterations", n=n)
    if kind == "every_t_seconds":
        t = _positive_int(lookup(data, "t"))
        if t is None:
            fail(field="checkpoint_cadence", subfield="t", reason="missing_or_not_positive_int")
        return Cadence("every_t_seconds", t=t)
    if kind == "on_event":
        event_name = lookup(data, "event_name")
        if not is_non_empty_str(event_name):
            fail(field="checkpoint_cadence", subfield="event_name", reason="missing_or_empty")
        return Cadence("on_event", event_name=exact_str(event_name))
    return Cadence("every_iteration")


# --------------------------------------------------------------------------- tool allowlist


def _names(collection: Any) -> set[str]:
    """
    The str names of a mapping's keys or of a collection's items (other items ignored).
    """
    if isinstance(collection, dict):
        items: list[Any] = [k for k, _ in pairs(collection)]
    elif isinstance(collection, Mapping):
        items = list(collection.keys())
    elif isinstance(collection, str):
        items = [collection]
    else:
        items = list(collection)
    return {exact_str(item) for item in items if isinstance(item, str)}


def _flag_for(flag_lookup: Any, name: str) -> str | None:
    if isinstance(flag_lookup, dict):
        flag = str_keyed(pairs(flag_lookup)).get(name)
    elif isinstance(flag_lookup, Mapping):
        flag = flag_lookup.get(name)
    else:
        return None
    return exact_str(flag) if isinstance(flag, str) else None


@total("tool_allowlist")
def validate_tool_allowlist(
    allowlist: Any, registered_tools: Any, flag_lookup: Any = None
) -> list[str]:
    """
    Check an explicit tool allowlist against the registered tools (SPEC §4.6).

    Entries are checked one at a time, in order.

    Args:
        allowlist: The candidate list of tool names.
        registered_tools: A mapping whose keys are the known tool names, or any
            collection of names.
        flag_lookup: Optional mapping of tool name to the name of the flag that
            gates it; reported as ``flag`` for unregistered tools.

    Returns:
        The names, in input order, as a new list.

    Raises:
        MissionValidationError: ``not_a_list``, ``empty``,
            ``tool_name_missing_or_invalid``, ``duplicate_tool_name`` or
            ``tool_not_registered``.
    """
    if not isinstance(allowlist, list):
        fail(field="tool_allowlist", reason="not_a_list")
    entries = list.copy(allowlist)
    if not entries:
        fail(field="tool_allowlist", reason="empty")
    known = _names(registered_tools)
    seen: set[str] = set()
    out: list[str] = []
    for index, entry in enumerate(entries):
        if not is_non_empty_str(entry):
            fail(field="tool_allowlist", index=index, reason="tool_name_missing_or_invalid")
        name = exact_str(entry)
        if name in seen:
            fail(field="tool_allowlist", tool_name=name, reason="duplicate_tool_name")
        seen.add(name)
        if name not in known:
            flag = _flag_for(flag_lookup, name)
            if flag is None:
                fail(field="tool_allowlist", tool_name=name, reason="tool_not_registered")
            fail(field="tool_allowlist", tool_name=name, reason="tool_not_registered", flag=flag)
        out.append(name)
    return out


def resolve_effective_allowlist(
    *,
    allow_all_tools: Any,
    explicit_allowlist: Any,
    registered_tools: Any,
    control_tools: Any = MISSION_CONTROL_TOOLS,
    flag_lookup: Any = None,
) -> list[str]:
    """
    Resolve the allowlist a session will use (SPEC §4.6).

    Args:
        allow_all_tools: Whether every registered non-control tool is allowed.
        explicit_allowlist: The caller's list of tool names, or None.
        registered_tools: Known tool names (a mapping's keys or a collection).
        control_tools: Names never included by ``allow_all_tools``.
        flag_lookup: Tool name → gating flag, reported for unregistered tools.

    Returns:
        The sorted registered non-control names when *allow_all_tools*, else the
        validated explicit allowlist.

    Raises:
        MissionValidationError: ``{field: allow_all_tools, reason: not_a_bool}``,
            the mutual-exclusion and empty-registry errors, or any error of
            `validate_tool_allowlist`.
    """
    with guard("allow_all_tools"):
        if not isinstance(allow_all_tools, bool):
            fail(field="allow_all_tools", reason="not_a_bool")
    with guard("tool_allowlist"):
        if allow_all_tools:
            if explicit_allowlist:
                fail(
                    field="tool_allowlist",
                    reason="allow_all_and_explicit_allowlist_mutually_exclusive",
                )
            names = sorted(_names(registered_tools) - _names(control_tools))
            if not names:
                fail(field="tool_allowlist", reason="allow_all_tools_empty_registry")
            return validate_tool_allowlist(names, registered_tools, flag_lookup)
        return validate_tool_allowlist(explicit_allowlist or [], registered_tools, flag_lookup)
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- metadata


class _NotJson(Exception):
    """
    Internal signal: the value is not JSON data.
    """


def _json_copy(value: Any, depth: int, active: set[int]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return exact_int(value)
    if isinstance(value, float):
        number = float.__float__(value)
        if not math.isfinite(number):
            raise _NotJson
        return number
    if isinstance(value, str):
        return exact_str(value)
    if not isinstance(value, dict | list) or depth >= _METADATA_MAX_DEPTH or id(value) in active:
        raise _NotJson
    active.add(id(value))
    try:
        if isinstance(value, list):
            return [_json_copy(item, depth + 1, active) for item in list.copy(value)]
        out: dict[str, Any] = {}
        for key, item in pairs(value):
            if not isinstance(key, str):
                raise _NotJson
            out[exact_str(key)] = _json_copy(item, depth + 1, active)
        return out
    finally:
        active.discard(id(value))


@total("metadata")
def validate_metadata(value: Any) -> dict[str, Any]:
    """
    Check host metadata attached to a session (SPEC §4.10).

    Args:
        value: The candidate metadata.

    Returns:
        A deep copy made of exact builtin JSON types.

    Raises:
        MissionValidationError: ``not_a_dict``, ``not_json_serializable`` (a
            non-str key, a non-JSON type, a non-finite float, a cycle, nesting
            deeper than 500, or text JSON cannot encode) or ``too_large``.
    """
    if not isinstance(value, dict):
        fail(field="metadata", reason="not_a_dict")
    try:
        copy: dict[str, Any] = _json_copy(value, 0, set())
    except (_NotJson, RecursionError):
        fail(field="metadata", reason="not_json_serializable")
    try:
        size = json_size(copy)
    except (ValueError, RecursionError):
        fail(field="metadata", reason="not_json_serializable")
    if size > METADATA_MAX_BYTES:
        fail(
            field="metadata",
            reason="too_large",
            max_length=METADATA_MAX_BYTES,
            actual_length=size,
        )
    return copy
