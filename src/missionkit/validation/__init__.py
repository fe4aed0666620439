"""
Validators for every input of a mission (SPEC §4).

Each validator is pure and total: it returns a new value (or model) or raises
`MissionValidationError` whose ``details`` name the first failing check with
stable reason tokens.

.. versionadded:: 0.1.0
"""

from missionkit.validation._validators import (
    MISSION_CONTROL_TOOLS,
    MissionValidationError,
    resolve_effective_allowlist,
    validate_budget,
    validate_cadence,
    validate_criteria,
    validate_directive,
    validate_metadata,
    validate_observation,
    validate_session_id,
    validate_stagnation_threshold,
    validate_strategy,
    validate_tool_allowlist,
)

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
