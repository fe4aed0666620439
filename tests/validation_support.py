"""
Helpers for validation tests: run a validator that must reject and check the envelope.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from missionkit.errors import MissionValidationError

ALLOWED_DETAIL_KEYS = frozenset(
    {
        "field",
        "subfield",
        "index",
        "criterion_id",
        "tool_name",
        "reason",
        "allowed",
        "flag",
        "lineno",
        "col_offset",
        "max_length",
        "actual_length",
        "errors",
    }
)


def rejection(func: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """
    Call *func*, which must raise `MissionValidationError`; return its checked details.

    Checks the code, the ``to_dict()`` envelope, the allowed detail keys, that the
    details are strict JSON and that ``allowed`` lists are sorted.
    """
    with pytest.raises(MissionValidationError) as info:
        func(*args, **kwargs)
    err = info.value
    details = err.details
    expected_envelope = {"code": "validation_error", "details": details}
    assert expected_envelope == err.to_dict()
    assert err.code == "validation_error"
    assert set(details) <= ALLOWED_DETAIL_KEYS
    json.dumps(details, allow_nan=False)
    if "allowed" in details:
        assert sorted(details["allowed"]) == details["allowed"]
    return details
