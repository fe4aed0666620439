"""
Building an `Observation` from call records (SPEC §6.5).

The engine owns the ``_status`` and ``tool_name`` markers of every
``tool_results`` entry: a tool can neither spoof nor hide them, because any
values it returned under those keys are moved into ``_shadowed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from missionkit._jsonsafe import cap, compact_json, truncation_marker
from missionkit._models._trusted import trusted_constructor
from missionkit.models import Observation, ToolCallRecord

__all__ = ["ObservationBuilder", "observe_calls", "result_summary"]

_MARKERS = ("_status", "tool_name")
_new_observation = trusted_constructor(Observation)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def result_summary(value: Any) -> dict[str, Any]:
    """
    ``{"type", "bytes", "keys" | "length"}`` of a JSON-safe result (SPEC §3.6).
    """
    if type(value) is dict:  # the usual result
        text = compact_json(value)
        return {
            "type": "object",
            # ASCII text (the usual) has as many bytes as characters.
            "bytes": len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass")),
            "keys": list(value) if len(value) <= 20 else list(value)[:20],
        }
    kind = _json_type(value)
    summary: dict[str, Any] = {
        "type": kind,
        "bytes": len(compact_json(value).encode("utf-8", "surrogatepass")),
    }
    if kind == "object":
        summary["keys"] = list(value) if len(value) <= 20 else list(value)[:20]
    elif kind in ("array", "string"):
        summary["length"] = len(value)
    return summary


def annotate(record: ToolCallRecord, value: Any, limit: int) -> dict[str, Any]:
    """
    The ``tool_results`` entry for one record and its JSON-safe result.
    """
    entry: dict[str, Any]
    if isinstance(value, dict):
        entry = dict(value)
        if "_status" in entry or "tool_name" in entry:
            entry["_shadowed"] = {key: entry.pop(key) for key in _MARKERS if key in entry}
        entry["_status"] = record.status
        entry["tool_name"] = record.tool_name
    else:
        entry = {"_status": record.status, "tool_name": record.tool_name, "result": value}
    summary = record.result_summary
    if summary is not None:
        # The entry adds at most the markers (and a "_shadowed" wrapper) to the
        # result's known size: skip encoding it again when that bound fits.
        bound = summary["bytes"] + 96 + 8 * len(record.tool_name)
        fits = bound <= limit or cap(entry, limit) is entry
    else:
        fits = cap(entry, limit) is entry
    if not fits:
        marker: dict[str, Any] = {
            "_status": record.status,
            "tool_name": record.tool_name,
            "result": truncation_marker(value),
        }
        return marker
    return entry


def _account(
    record: ToolCallRecord,
    value: Any,
    limit: int,
    results: list[dict[str, Any]],
    metrics: dict[str, Any],
    events: list[dict[str, Any]],
    errors: list[dict[str, Any]],
) -> None:
    """
    Add one executed record and its (untruncated) JSON-safe result to the parts.
    """
    results.append(annotate(record, value, limit))
    if record.status == "ok":
        if isinstance(value, dict):
            _merge_metrics(metrics, value.get("metrics"), limit)
            found = value.get("events")
            if isinstance(found, list):
                _add_events(events, found, limit)
    else:
        errors.append(_error(record.tool_name, record.status, record.error_message))


def _merge_metrics(merged: dict[str, Any], metrics: Any, limit: int) -> None:
    # Later wins, values capped. Floats (the usual metric) fit any cap of 24
    # bytes or more.
    if isinstance(metrics, dict):
        floats_fit = limit >= 24
        for key, value in metrics.items():
            merged[key] = value if floats_fit and type(value) is float else cap(value, limit)


def _add_events(events: list[dict[str, Any]], found: Sequence[Any], limit: int) -> None:
    # Dict events only, each capped; other items are dropped.
    for event in found:
        if isinstance(event, dict):
            events.append(cap(event, limit))


def _error(tool_name: str, status: str, error_message: str | None) -> dict[str, Any]:
    return {"tool_name": tool_name, "status": status, "error_message": error_message}


def observe_calls(
    records: Sequence[ToolCallRecord],
    values: Sequence[Any],
    limit: int,
    started_at: datetime,
    clock: Callable[[], datetime],
) -> Observation:
    """
    The observation of tool calls alone, ended at a *clock* read after the last call.

    What `ObservationBuilder` builds from these calls, without the builder
    (the straight-line iteration has no script or host input to add).
    """
    results: list[dict[str, Any]] = []
    metrics: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for record, value in zip(records, values, strict=True):
        _account(record, value, limit, results, metrics, events, errors)
    return _new_observation(
        tuple(results), metrics, tuple(events), tuple(errors), started_at, clock()
    )


class ObservationBuilder:
    """
    Accumulates tool results, metrics, events and errors for one observation.
    """

    __slots__ = ("errors", "events", "limit", "metrics", "started_at", "tool_results")

    def __init__(self, limit: int, started_at: datetime) -> None:
        self.limit = limit
        self.started_at = started_at
        self.tool_results: list[dict[str, Any]] = []
        self.metrics: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    def add_call(self, record: ToolCallRecord, value: Any) -> None:
        """
        Add one executed record and its (untruncated) JSON-safe result.
        """
        _account(
            record, value, self.limit, self.tool_results, self.metrics, self.events, self.errors
        )

    def merge(self, metrics: Any, events: Any) -> None:
        """
        Merge a metrics dict (later wins, values capped) and append dict events (capped).
        """
        _merge_metrics(self.metrics, metrics, self.limit)
        if isinstance(events, list):
            _add_events(self.events, events, self.limit)

    def add_events(self, events: Sequence[Any]) -> None:
        """
        Append every dict of *events*, capped; other items are dropped.
        """
        _add_events(self.events, events, self.limit)

    def add_error(self, tool_name: str, status: str, error_message: str | None) -> None:
        """
        Record a non-ok outcome.
        """
        self.errors.append(_error(tool_name, status, error_message))

    def build(self, ended_at: datetime) -> Observation:
        """
        Freeze the observation.
        """
        return _new_observation(
            tuple(self.tool_results),
            self.metrics,
            tuple(self.events),
            tuple(self.errors),
            self.started_at,
            ended_at,
        )
