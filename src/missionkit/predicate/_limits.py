"""
Resource limits of the predicate language (SPEC §5.1, §5.7).
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["PredicateLimits", "limit_fields"]


def _positive_int(instance: Any, attribute: attrs.Attribute[int], value: Any) -> None:
    if type(value) is not int or value <= 0:
        from missionkit.errors import MissionValidationError

        raise MissionValidationError(
            details={
                "field": "limits",
                "subfield": attribute.name,
                "reason": "must_be_positive_int",
            }
        )


def limit_fields(data: Any, cls: type) -> dict[str, Any]:
    """
    The keys of a limits JSON object *data*, checked against the fields of *cls*.

    Raises:
        MissionValidationError: *data* is not an object (``field: limits``), or
            has a key *cls* does not declare (with ``subfield``); reason
            ``invalid_value``.
    """
    from missionkit.errors import MissionValidationError

    if not isinstance(data, dict):
        raise MissionValidationError(details={"field": "limits", "reason": "invalid_value"})
    names = {a.name for a in attrs.fields(cls)}
    for key in data:
        if key not in names:
            raise MissionValidationError(
                details={"field": "limits", "subfield": str(key), "reason": "invalid_value"}
            )
    return dict(data)


@attrs.frozen
class PredicateLimits:
    """
    Bounds on predicate source size and on the work one evaluation may do.

    Attributes:
        source_length: Maximum source length in characters.
        max_nodes: Maximum number of counted AST nodes.
        max_depth: Maximum nesting depth of counted nodes.
        max_int_bits: Maximum bit length of an int produced by ``**``, ``*`` or ``<<``.
        max_sequence_length: Maximum length of a repeated str/list/tuple.
        max_format_width: Maximum width or precision in a format spec.
        max_work: Work units one evaluation may spend.

    .. versionadded:: 0.1.0
    """

    source_length: int = attrs.field(default=4096, validator=_positive_int)
    max_nodes: int = attrs.field(default=512, validator=_positive_int)
    max_depth: int = attrs.field(default=64, validator=_positive_int)
    max_int_bits: int = attrs.field(default=4096, validator=_positive_int)
    max_sequence_length: int = attrs.field(default=100_000, validator=_positive_int)
    max_format_width: int = attrs.field(default=1000, validator=_positive_int)
    max_work: int = attrs.field(default=1_000_000, validator=_positive_int)

    def to_dict(self) -> dict[str, int]:
        """
        Return the limits as JSON data.
        """
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> PredicateLimits:
        """
        Build limits from their JSON form; missing keys take their defaults.

        Raises:
            MissionValidationError: Not an object, an unknown key, or a value
                that is not a positive int (SPEC §3.15).
        """
        return cls(**limit_fields(data, cls))
