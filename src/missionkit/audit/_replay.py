"""
Rebuilding an iteration history from audit entries (SPEC §10.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["replay_audit_entries"]


def _phase_entry(entry: dict[Any, Any]) -> dict[str, Any] | None:
    """
    Return the phase record of a well-formed phase event, else ``None``.
    """
    phase = entry.get("phase")
    status = entry.get("phase_status")
    started = entry.get("phase_started_at")
    ended = entry.get("phase_ended_at")
    if not (
        isinstance(phase, str)
        and isinstance(status, str)
        and isinstance(started, str)
        and isinstance(ended, str)
    ):
        return None
    record: dict[str, Any] = {
        "phase": phase,
        "status": status,
        "started_at": started,
        "ended_at": ended,
    }
    if "error_message" in entry:
        message = entry["error_message"]
        if not isinstance(message, str):
            return None
        record["error_message"] = message
    return record


def _verdict_values(entry: dict[Any, Any]) -> tuple[str, str, str | None] | None:
    """
    Return verdict, reason and rationale of a well-formed verdict event, else ``None``.
    """
    verdict = entry.get("verdict")
    reason = entry.get("verdict_reason")
    rationale = entry.get("revision_rationale")
    if not (
        isinstance(verdict, str)
        and isinstance(reason, str)
        and (rationale is None or isinstance(rationale, str))
    ):
        return None
    return verdict, reason, rationale


def _record(
    index: int,
    phases: list[dict[str, Any]],
    verdict: str | None,
    reason: str | None,
    rationale: str | None,
) -> dict[str, Any]:
    return {
        "iteration_index": index,
        "phases": phases,
        "verdict": verdict,
        "verdict_reason": reason,
        "revision_rationale": rationale,
    }


def replay_audit_entries(session_id: str, entries: Iterable[object]) -> list[dict[str, Any]]:
    """
    Rebuild one session's iteration history from audit entries.

    Keeps, in order, the entries that are dicts whose ``mission_session_id``
    is *session_id*, and walks them with an *active iteration* (an index and
    its phase list):

    - A phase event whose index differs from the active one first flushes the
      active iteration with verdict, reason and rationale ``None``; it then
      makes its index active and appends ``{"phase", "status", "started_at",
      "ended_at"}`` (plus ``error_message`` when the entry has that key).
    - A verdict event with the active index flushes the active iteration with
      the event's ``verdict``, ``verdict_reason`` and ``revision_rationale``
      (``None`` if absent).  With any other index it flushes the active
      iteration with ``None``\\ s, then appends a verdict-only record with no
      phases.  Either way no iteration is active afterwards.
    - Other event types are ignored; the active iteration is flushed with
      ``None``\\ s at the end.

    The function is pure and never raises on bad input: entries that are not
    dicts, that belong to other sessions, that have an unknown
    ``event_type``, or whose fields are malformed (an index that is not an
    ``int`` or is a ``bool``; a phase, status, timestamp, verdict or reason
    that is not a string; an ``error_message`` or ``revision_rationale`` of
    the wrong type) are skipped.  An *entries* that is not iterable replays
    as no iterations.

    Args:
        session_id: The session to replay.
        entries: Audit entries as produced by the events' ``to_dict()``, in
            emission order, possibly mixed with other sessions' entries.

    Returns:
        One ``{"iteration_index", "phases", "verdict", "verdict_reason",
        "revision_rationale"}`` record per replayed iteration, in order.

    .. versionadded:: 0.1.0
    """
    records: list[dict[str, Any]] = []
    try:
        iterator = iter(entries)
    except TypeError:
        return records

    active_index: int | None = None
    active_phases: list[dict[str, Any]] = []

    for entry in iterator:
        if not isinstance(entry, dict):
            continue
        owner = entry.get("mission_session_id")
        if not isinstance(owner, str) or owner != session_id:
            continue
        event_type = entry.get("event_type")
        if event_type == "mission_phase_event":
            index = entry.get("iteration_index")
            phase = _phase_entry(entry)
            if not isinstance(index, int) or isinstance(index, bool) or phase is None:
                continue
            if active_index is not None and active_index != index:
                records.append(_record(active_index, active_phases, None, None, None))
                active_index = None
            if active_index is None:
                active_index = index
                active_phases = []
            active_phases.append(phase)
        elif event_type == "mission_verdict_event":
            index = entry.get("iteration_index")
            values = _verdict_values(entry)
            if not isinstance(index, int) or isinstance(index, bool) or values is None:
                continue
            if active_index is not None and active_index == index:
                records.append(_record(active_index, active_phases, *values))
            else:
                if active_index is not None:
                    records.append(_record(active_index, active_phases, None, None, None))
                records.append(_record(index, [], *values))
            active_index = None
            active_phases = []

    if active_index is not None:
        records.append(_record(active_index, active_phases, None, None, None))
    return records
