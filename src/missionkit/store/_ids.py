"""
Session id checks shared by every store.
"""

from __future__ import annotations

from missionkit._models._literals import is_session_id

__all__ = ["check_session_id"]


def check_session_id(value: object) -> str:
    """
    Validate a session id before it reaches a path or a query (SPEC §4.2).

    Raises:
        missionkit.errors.MissionValidationError: ``session_id_invalid``.
    """
    # The usual case: an exact str id. Anything else goes through the
    # validator, which converts str subclasses and owns the error details.
    if type(value) is str and is_session_id(value):
        return value
    # Imported lazily: the validation package imports the models, which the
    # store modules import too.
    from missionkit.validation import validate_session_id

    return validate_session_id(value)
