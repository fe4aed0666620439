"""
JSON text of stored records and strict decoding of it back into models.

Stored JSON uses Python's ``NaN``/``Infinity`` extensions so non-finite floats
(which records may hold, SPEC §3.14) round-trip.  Decoding turns every defect
into :class:`~missionkit.errors.SessionCorrupt` whose *problem* starts with a
label naming the file or row (``session.json``, ``header``, ``iteration 3``),
and checks a header's ``version`` before anything else is decoded.
"""

from __future__ import annotations

import json
from typing import Any

from missionkit.errors import MissionValidationError, SessionCorrupt, UnsupportedSchemaVersion
from missionkit.models import FinalReport, Iteration, SessionState

__all__ = ["check_version", "decode_header", "decode_iteration", "decode_report", "dumps", "parse"]


def dumps(data: Any) -> str:
    """
    Compact JSON text of *data*, non-finite floats as ``NaN``/``Infinity``.
    """
    return json.dumps(data, allow_nan=True, separators=(",", ":"))


def parse(session_id: str, label: str, text: str | bytes) -> Any:
    """
    Parse stored JSON text.

    Raises:
        missionkit.errors.SessionCorrupt: ``<label>: invalid JSON at line L column C``.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError:
        raise SessionCorrupt(session_id, f"{label}: not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise SessionCorrupt(
            session_id, f"{label}: invalid JSON at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise SessionCorrupt(session_id, f"{label}: JSON nested too deeply") from None


def decode_header(session_id: str, label: str, data: Any) -> SessionState:
    """
    Decode a stored header of *session_id*, checking its schema version first.

    Raises:
        missionkit.errors.UnsupportedSchemaVersion: ``version`` is an int other than 1.
        missionkit.errors.SessionCorrupt: Any other defect.
    """
    check_version(session_id, label, data)
    if "iterations" in data:
        raise SessionCorrupt(session_id, f"{label}: field 'iterations': not allowed in a header")
    try:
        state = SessionState.from_dict(data)
    except MissionValidationError as exc:
        raise SessionCorrupt(session_id, f"{label}: {exc}") from None
    if state.session_id != session_id:
        raise SessionCorrupt(
            session_id,
            f"{label}: field 'session_id': {state.session_id!r} does not match the stored id",
        )
    return state


def check_version(session_id: str, label: str, data: Any) -> dict[str, Any]:
    """
    Require a JSON object whose ``version`` is 1, before anything else is decoded.

    Returns:
        *data*, known to be a dict.

    Raises:
        missionkit.errors.UnsupportedSchemaVersion: ``version`` is an int other than 1.
        missionkit.errors.SessionCorrupt: Not an object, or ``version`` missing or not an int.
    """
    if not isinstance(data, dict):
        raise SessionCorrupt(session_id, f"{label}: expected an object, got {_short(data)}")
    if "version" not in data:
        raise SessionCorrupt(session_id, f"{label}: field 'version': missing")
    version = data["version"]
    if type(version) is not int:
        raise SessionCorrupt(
            session_id, f"{label}: field 'version': expected an integer, got {_short(version)}"
        )
    if version != 1:
        raise UnsupportedSchemaVersion(session_id, version)
    return data


def decode_iteration(session_id: str, label: str, data: Any, index: int) -> Iteration:
    """
    Decode the stored iteration expected at *index*.

    Raises:
        missionkit.errors.SessionCorrupt: A defect, or another ``iteration_index``.
    """
    try:
        iteration = Iteration.from_dict(data)
    except MissionValidationError as exc:
        raise SessionCorrupt(session_id, f"{label}: {exc}") from None
    if iteration.iteration_index != index:
        raise SessionCorrupt(
            session_id,
            f"{label}: field 'iteration_index': {iteration.iteration_index} "
            f"where {index} is expected",
        )
    return iteration


def decode_report(session_id: str, label: str, data: Any) -> FinalReport:
    """
    Decode the stored final report of *session_id*.

    Raises:
        missionkit.errors.SessionCorrupt: A defect, or another ``session_id``.
    """
    try:
        report = FinalReport.from_dict(data)
    except MissionValidationError as exc:
        raise SessionCorrupt(session_id, f"{label}: {exc}") from None
    if report.session_id != session_id:
        raise SessionCorrupt(
            session_id,
            f"{label}: field 'session_id': {report.session_id!r} does not match the stored id",
        )
    return report


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
