"""
Size caps on stored values (SPEC §3.14–3.15).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from missionkit.predicate._limits import PredicateLimits, limit_fields


def _limits_positive(instance: Any, attribute: attrs.Attribute[int], value: Any) -> None:
    if type(value) is not int or value <= 0:
        from missionkit.errors import MissionValidationError

        raise MissionValidationError(
            details={
                "field": "limits",
                "subfield": attribute.name,
                "reason": "must_be_positive_int",
            }
        )


def _limits_predicate(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, PredicateLimits):
        from missionkit.errors import MissionValidationError

        raise MissionValidationError(
            details={"field": "limits", "subfield": "predicate", "reason": "invalid_value"}
        )


@attrs.frozen
class Limits:
    """
    Size caps on values stored in records (SPEC §3.14–3.15).

    Attributes:
        evidence_bytes: Cap on one criterion evidence or sampler output.
        tool_result_bytes: Cap on one tool result, event, metric value or script observation.
        predicate: Predicate language limits.
    """

    _handwritten_json: ClassVar[bool] = True

    evidence_bytes: int = attrs.field(default=4096, validator=_limits_positive)
    tool_result_bytes: int = attrs.field(default=65536, validator=_limits_positive)
    predicate: PredicateLimits = attrs.field(factory=PredicateLimits, validator=_limits_predicate)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the limits as JSON data.
        """
        return {
            "evidence_bytes": self.evidence_bytes,
            "tool_result_bytes": self.tool_result_bytes,
            "predicate": self.predicate.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Limits:
        """
        Build limits from their JSON form; missing keys take their defaults.

        Raises:
            MissionValidationError: Not an object, an unknown key, or an invalid
                value (SPEC §3.15).
        """
        values = limit_fields(data, cls)
        if "predicate" in values:
            values["predicate"] = PredicateLimits.from_dict(values["predicate"])
        return cls(**values)
