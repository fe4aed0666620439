"""
Session id checks shared by every store.
"""

from __future__ import annotations

import re

__all__ = ["check_session_id"]

# Fast path only: anything it does not accept goes through the validator,
# which owns the rule and the error details.
_VALID = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def check_session_id(value: object) -> str:
    """
    Validate a session id before it reaches a path or a query (SPEC §4.2).

    Raises:
        missionkit.errors.MissionValidationError: ``session_id_invalid``.
    """
    # Imported lazily: the validation package imports the models, which the
    # store modules import too.
    if type(value) is str and _VALID.fullmatch(value) and value[0] != ".":
        return value
    from missionkit.validation import validate_session_id

    return validate_session_id(value)
