"""
Validation of host-supplied observations (SPEC §4.11).
"""

from __future__ import annotations

from typing import Any

from missionkit._jsonsafe import cap, to_json_data
from missionkit.models import HostToolCall, Limits, ObservationInput
from missionkit.validation._common import (
    exact_int,
    exact_str,
    fail,
    is_int,
    is_non_empty_str,
    json_key,
    lookup,
    pairs,
    str_keyed,
    total,
)
from missionkit.validation._strategy import str_keyed_args

__all__ = ["uncapped_observation", "validate_observation"]

_KEYS = ("metrics", "events", "tool_calls")
_CALL_STATUSES = ("failed", "ok", "skipped_not_allowed")


def _capped(safe: Any, limit: int | None) -> Any:
    """
    JSON data *safe* under the size cap (no cap when *limit* is None).
    """
    return safe if limit is None else cap(safe, limit)


def _model_data(value: ObservationInput) -> list[tuple[Any, Any]]:
    events, calls = value.events, value.tool_calls
    return [
        ("metrics", value.metrics),
        ("events", list(events) if type(events) is tuple else events),
        ("tool_calls", list(calls) if type(calls) is tuple else calls),
    ]


def _call_data(call: HostToolCall) -> dict[str, Any]:
    return {
        "tool_name": call.tool_name,
        "status": call.status,
        "args": call.args,
        "result": call.result,
        "error_message": call.error_message,
        "duration_ms": call.duration_ms,
    }


def _json_dict(value: dict[Any, Any]) -> dict[str, Any]:
    """
    JSON-safe copy of dict *value*, read from its storage.
    """
    converted: dict[str, Any] = to_json_data(dict(pairs(value)))
    return converted


def _host_call(index: int, call: Any, limit: int | None) -> HostToolCall:
    def reject(reason: str, **extra: Any) -> Any:
        fail(field="observation", subfield="tool_calls", index=index, reason=reason, **extra)

    if isinstance(call, HostToolCall):
        data = _call_data(call)
    elif isinstance(call, dict):
        data = str_keyed(pairs(call))
    else:
        reject("tool_call_not_a_dict")
    tool_name = lookup(data, "tool_name")
    if not is_non_empty_str(tool_name):
        reject("tool_name_missing_or_invalid")
    status = lookup(data, "status")
    if not isinstance(status, str) or exact_str(status) not in _CALL_STATUSES:
        reject("status_invalid", allowed=list(_CALL_STATUSES))
    args: dict[str, Any] | None = {}
    if "args" in data:
        args = str_keyed_args(data["args"])
        if args is None:
            reject("args_not_a_dict")
    error_message = data.get("error_message")
    if error_message is not None and not isinstance(error_message, str):
        reject("error_message_not_a_string")
    duration_ms = data.get("duration_ms", 0)
    if not is_int(duration_ms) or exact_int(duration_ms) < 0:
        reject("duration_ms_must_be_non_negative_int")
    return HostToolCall(
        tool_name=exact_str(tool_name),
        status=exact_str(status),  # type: ignore[arg-type]
        args=args,  # type: ignore[arg-type]
        result=_capped(to_json_data(data.get("result")), limit),
        error_message=None if error_message is None else exact_str(error_message),
        duration_ms=exact_int(duration_ms),
    )


def validate_observation(value: Any, *, limits: Any = None) -> ObservationInput:
    """
    Check an observation reported by the host (SPEC §4.11).

    Events and calls are checked one at a time, in order (all checks of call 0,
    then call 1, …). Values are converted to JSON data and capped.

    Args:
        value: A dict or an `ObservationInput`.
        limits: A `Limits` whose ``tool_result_bytes`` caps each metric value,
            each event and each call result; `Limits()` when None.

    Returns:
        A new `ObservationInput` holding `HostToolCall` models (unknown keys of
        a call dropped).

    Raises:
        MissionValidationError: The first failing check, e.g.
            ``{field: observation, subfield: extra, reason: unknown_key}``.
    """
    limit = (limits if isinstance(limits, Limits) else Limits()).tool_result_bytes
    return _observation(value, limit)


def uncapped_observation(value: Any) -> ObservationInput:
    """
    `validate_observation` without the size caps, for the engine's observe phase.

    The engine caps what it stores (each annotated result, metric value and
    event) and merges metrics and events from the *untruncated* results
    (SPEC §6.5); capping here first would lose a large result's metrics and
    cap its metric values twice.
    """
    return _observation(value, None)


@total("observation")
def _observation(value: Any, limit: int | None) -> ObservationInput:
    if isinstance(value, ObservationInput):
        items = _model_data(value)
    elif isinstance(value, dict):
        items = pairs(value)
    else:
        fail(field="observation", reason="not_a_dict")
    for key, _ in items:
        if not (isinstance(key, str) and exact_str(key) in _KEYS):
            fail(field="observation", subfield=json_key(key), reason="unknown_key")
    data = str_keyed(items)

    metrics: dict[str, Any] = {}
    if "metrics" in data:
        raw_metrics = data["metrics"]
        if not isinstance(raw_metrics, dict):
            fail(field="observation", subfield="metrics", reason="not_a_dict")
        metrics = {k: _capped(v, limit) for k, v in _json_dict(raw_metrics).items()}

    events: list[dict[str, Any]] = []
    if "events" in data:
        raw_events = data["events"]
        if not isinstance(raw_events, list):
            fail(field="observation", subfield="events", reason="not_a_list")
        for index, event in enumerate(list.copy(raw_events)):
            if not isinstance(event, dict):
                fail(field="observation", subfield="events", index=index, reason="not_a_dict")
            events.append(_capped(_json_dict(event), limit))

    calls: list[HostToolCall] = []
    if "tool_calls" in data:
        raw_calls = data["tool_calls"]
        if not isinstance(raw_calls, list):
            fail(field="observation", subfield="tool_calls", reason="not_a_list")
        for index, call in enumerate(list.copy(raw_calls)):
            calls.append(_host_call(index, call, limit))

    return ObservationInput(metrics=metrics, events=tuple(events), tool_calls=tuple(calls))
