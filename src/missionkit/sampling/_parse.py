"""
Parsing and validating sampler output (SPEC §8.6) and catalog validation (SPEC §4.14).

Every rejection is an `OutputRejected` carrying the fallback reason token of
SPEC §8.7; the consultation procedure turns it into a ``rejected`` result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from missionkit.errors import MissionValidationError
from missionkit.models import Strategy
from missionkit.sampling._schema import schema_errors

__all__ = [
    "MAX_SCHEMA_ERRORS",
    "FinalLessons",
    "OutputRejected",
    "StrategyRevision",
    "catalog_validate",
    "extract_json_object",
    "validate_final_lessons",
    "validate_strategy_revision",
]

MAX_SCHEMA_ERRORS = 20
"""
At most this many ``errors`` entries are reported for one ``tool_args_invalid``.
"""


class OutputRejected(Exception):
    """
    Sampler output was not usable.

    Attributes:
        reason: The fallback reason token (``json_parse``, ``schema_mismatch``
            or a catalog reason).
        details: The catalog validation details, when that step rejected.
    """

    def __init__(self, reason: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details: dict[str, Any] = dict(details) if details else {"reason": reason}


@attrs.frozen
class StrategyRevision:
    """
    A validated ``strategy_revision`` answer.

    Attributes:
        strategy: The validated next strategy.
        revision_rationale: The sampler's explanation (recorded as ``sampling_rationale``).
        confidence: The sampler's confidence in [0, 1].
    """

    strategy: Strategy
    revision_rationale: str
    confidence: float


@attrs.frozen
class FinalLessons:
    """
    A validated ``final_lessons`` answer.

    Attributes:
        lessons: Non-empty lesson paragraphs (the report joins them with blank lines).
        recommended_followups: Follow-up suggestions, possibly empty.
    """

    lessons: tuple[str, ...]
    recommended_followups: tuple[str, ...]


def extract_json_object(text: str) -> dict[str, Any]:
    """
    Take *text* from its first ``{`` to its last ``}`` and parse it as a JSON object.

    Runs in time linear in ``len(text)``.

    Raises:
        OutputRejected: ``json_parse`` when there is no such substring, it is
            not JSON, or it is not an object.
    """
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end < start:
        raise OutputRejected("json_parse")
    try:
        value = json.loads(text[start : end + 1])
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and the int digit-count limit.
        raise OutputRejected("json_parse") from None
    if not isinstance(value, dict):
        raise OutputRejected("json_parse")
    return value


def _is_non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def catalog_validate(
    candidate: Any,
    *,
    allowlist: Sequence[str],
    allow_scripts: bool,
    known_tools: Mapping[str, Mapping[str, Any] | None],
) -> Strategy:
    """
    Validate a sampler-proposed strategy against the session's catalog (SPEC §4.14).

    Args:
        candidate: The proposed strategy (JSON data or a `Strategy`).
        allowlist: The session's tool allowlist.
        allow_scripts: The session's ``allow_scripted_strategies``.
        known_tools: Every tool known to the Mission (runnable or external),
            mapped to its ``input_schema`` or None.

    Returns:
        The validated strategy.

    Raises:
        MissionValidationError: `validate_strategy` rejected *candidate*, or a
            call names a tool outside *allowlist* (``tool_not_allowlisted``,
            with the sorted ``allowed`` list), a tool unknown to the Mission
            (``tool_not_registered``), or arguments failing the tool's
            ``input_schema`` (``tool_args_invalid``, with up to
            `MAX_SCHEMA_ERRORS` ``errors``).
    """
    from missionkit.validation import validate_strategy

    allowed = list(allowlist)
    strategy: Strategy = validate_strategy(candidate, allowed, allow_scripts)
    allowed_set = set(allowed)
    for index, call in enumerate(strategy.tool_calls or ()):
        where: dict[str, Any] = {
            "field": "strategy",
            "subfield": "tool_calls",
            "index": index,
            "tool_name": call.tool_name,
        }
        if call.tool_name not in allowed_set:
            raise MissionValidationError(
                details={**where, "reason": "tool_not_allowlisted", "allowed": sorted(allowed_set)}
            )
        if call.tool_name not in known_tools:
            raise MissionValidationError(details={**where, "reason": "tool_not_registered"})
        schema = known_tools[call.tool_name]
        if isinstance(schema, Mapping):
            errors = schema_errors(call.args, schema, limit=MAX_SCHEMA_ERRORS)
            if errors:
                raise MissionValidationError(
                    details={**where, "reason": "tool_args_invalid", "errors": errors}
                )
    return strategy


def validate_strategy_revision(
    output: Mapping[str, Any],
    *,
    allowlist: Sequence[str],
    allow_scripts: bool,
    known_tools: Mapping[str, Mapping[str, Any] | None],
) -> StrategyRevision:
    """
    Check the shape of a ``strategy_revision`` answer, then catalog-validate its strategy.

    Args:
        output: The JSON object taken from the sampler's text.
        allowlist: See `catalog_validate`.
        allow_scripts: See `catalog_validate`.
        known_tools: See `catalog_validate`.

    Raises:
        OutputRejected: ``schema_mismatch`` for a wrong shape (extra keys are
            tolerated), else the catalog rejection's ``details["reason"]``.
    """
    rationale = output.get("revision_rationale")
    next_strategy = output.get("next_strategy")
    confidence = output.get("confidence")
    if (
        not _is_non_empty_str(rationale)
        or not isinstance(next_strategy, dict)
        or not isinstance(confidence, int | float)
        or isinstance(confidence, bool)
        or not (0 <= confidence <= 1)
    ):
        raise OutputRejected("schema_mismatch")
    try:
        strategy = catalog_validate(
            next_strategy, allowlist=allowlist, allow_scripts=allow_scripts, known_tools=known_tools
        )
    except MissionValidationError as exc:
        reason = exc.details.get("reason")
        raise OutputRejected(
            reason if isinstance(reason, str) else "schema_mismatch", exc.details
        ) from exc
    assert isinstance(rationale, str)
    return StrategyRevision(strategy, rationale, float(confidence))


def validate_final_lessons(output: Mapping[str, Any]) -> FinalLessons:
    """
    Check the shape of a ``final_lessons`` answer.

    Raises:
        OutputRejected: ``schema_mismatch`` unless ``lessons`` is a non-empty
            list of non-empty strings and ``recommended_followups`` a list of
            strings (extra keys are tolerated).
    """
    lessons = output.get("lessons")
    followups = output.get("recommended_followups")
    if (
        not isinstance(lessons, list)
        or not lessons
        or not all(_is_non_empty_str(item) for item in lessons)
        or not isinstance(followups, list)
        or not all(isinstance(item, str) for item in followups)
    ):
        raise OutputRejected("schema_mismatch")
    return FinalLessons(tuple(lessons), tuple(followups))
