"""
Validation of criteria lists (SPEC §4.4).
"""

from __future__ import annotations

import importlib
import math
from typing import Any

from missionkit._jsonsafe import to_json_data
from missionkit._models._criteria import declared_criterion_keys
from missionkit.errors import PredicateRejected
from missionkit.models import (
    Criterion,
    EventCriterion,
    MetricThresholdCriterion,
    MetricTrendCriterion,
    PredicateCriterion,
    ToolCallSucceededCriterion,
)
from missionkit.validation._common import (
    MISSING,
    exact_int,
    exact_number,
    exact_str,
    fail,
    is_finite_number,
    is_int,
    is_non_empty_str,
    is_number,
    lookup,
    pairs,
    str_keyed,
    total,
)

__all__ = ["validate_criteria"]

MAX_CRITERIA = 256
CRITERION_ID_MAX_LENGTH = 128
_KINDS = ("event", "metric_threshold", "metric_trend", "predicate", "tool_call_succeeded")
_OPS = ("!=", "<", "<=", "==", ">", ">=")
_DIRECTIONS = ("decreasing", "increasing", "non_decreasing", "non_increasing")
_MIN_DELTA_MODES = ("abs", "rel")
_NON_FINITE_POLICIES = ("inconclusive", "terminate", "unmet")
_OPTIONS = ("min_delta", "min_delta_mode", "on_non_finite")
_OPTIONS_SUPPORTED: dict[str, frozenset[str]] = {
    "metric_threshold": frozenset(_OPTIONS),
    "metric_trend": frozenset({"on_non_finite"}),
    "event": frozenset(),
    "predicate": frozenset(),
    "tool_call_succeeded": frozenset(),
}
_MODELS = (
    MetricThresholdCriterion,
    MetricTrendCriterion,
    EventCriterion,
    PredicateCriterion,
    ToolCallSucceededCriterion,
)


class _Entry:
    """
    One criterion being validated: its plain str-keyed data and where it sits.
    """

    __slots__ = ("criterion_id", "data", "items")

    def __init__(self, items: list[tuple[Any, Any]], criterion_id: str) -> None:
        self.items = items
        self.data = str_keyed(items)
        self.criterion_id = criterion_id

    def get(self, key: str) -> Any:
        return lookup(self.data, key)

    def has(self, key: str) -> bool:
        return key in self.data

    def reject(self, reason: str, **extra: Any) -> Any:
        fail(field="criteria", criterion_id=self.criterion_id, reason=reason, **extra)

    def token(self, key: str, allowed: tuple[str, ...], reason: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or exact_str(value) not in allowed:
            self.reject(reason, allowed=sorted(allowed))
        return exact_str(value)

    def optional_token(self, key: str, allowed: tuple[str, ...], reason: str, default: str) -> str:
        return self.token(key, allowed, reason) if self.has(key) else default

    def non_empty_str(self, key: str, reason: str) -> str:
        value = self.get(key)
        if not is_non_empty_str(value):
            self.reject(reason)
        return exact_str(value)

    def metric(self) -> str:
        value = self.get("metric")
        if not is_non_empty_str(value) or "" in exact_str(value).split("."):
            self.reject("metric_missing_or_invalid")
        return exact_str(value)

    def optional_positive_int(self, key: str, reason: str, default: int | None) -> int | None:
        if not self.has(key):
            return default
        value = self.get(key)
        if not is_int(value) or exact_int(value) < 1:
            self.reject(reason)
        return exact_int(value)

    def extra(self, kind: str) -> dict[str, Any]:
        declared = declared_criterion_keys(kind)
        kept = {k: v for k, v in self.items if not (isinstance(k, str) and k in declared)}
        converted = to_json_data(kept)
        return {k: v for k, v in converted.items() if not k.startswith("_") and k not in declared}


def _criterion_items(entry: Any) -> list[tuple[Any, Any]] | None:
    if isinstance(entry, _MODELS):
        return list(entry.to_dict().items())
    if isinstance(entry, dict):
        return pairs(entry)
    return None


def _metric_threshold(e: _Entry, common: dict[str, Any]) -> Criterion:
    metric = e.metric()
    op = e.token("op", _OPS, "op_invalid")
    target = e.get("target")
    if not is_number(target) or (isinstance(target, float) and math.isnan(target)):
        e.reject("target_not_a_number")
    min_delta: int | float = 0
    if e.has("min_delta"):
        value = e.get("min_delta")
        if not is_finite_number(value) or exact_number(value) < 0:
            e.reject("min_delta_must_be_non_negative_number")
        min_delta = exact_number(value)
    mode = e.optional_token("min_delta_mode", _MIN_DELTA_MODES, "min_delta_mode_invalid", "abs")
    policy = e.optional_token(
        "on_non_finite", _NON_FINITE_POLICIES, "on_non_finite_invalid", "inconclusive"
    )
    _check_options(e, "metric_threshold")
    return MetricThresholdCriterion(
        metric=metric,
        op=op,  # type: ignore[arg-type]
        target=exact_number(target),
        min_delta=min_delta,
        min_delta_mode=mode,  # type: ignore[arg-type]
        on_non_finite=policy,  # type: ignore[arg-type]
        extra=e.extra("metric_threshold"),
        **common,
    )


def _metric_trend(e: _Entry, common: dict[str, Any]) -> Criterion:
    metric = e.metric()
    direction = e.token("direction", _DIRECTIONS, "direction_invalid")
    window = e.optional_positive_int("window", "window_must_be_positive_int", None)
    min_points = e.optional_positive_int("min_points", "min_points_must_be_positive_int", None)
    policy = e.optional_token(
        "on_non_finite", _NON_FINITE_POLICIES, "on_non_finite_invalid", "inconclusive"
    )
    _check_options(e, "metric_trend")
    return MetricTrendCriterion(
        metric=metric,
        direction=direction,  # type: ignore[arg-type]
        window=window,
        min_points=min_points,
        on_non_finite=policy,  # type: ignore[arg-type]
        extra=e.extra("metric_trend"),
        **common,
    )


def _event(e: _Entry, common: dict[str, Any]) -> Criterion:
    event_name = e.non_empty_str("event_name", "event_name_missing_or_invalid")
    _check_options(e, "event")
    return EventCriterion(event_name=event_name, extra=e.extra("event"), **common)


def _predicate(e: _Entry, common: dict[str, Any]) -> Criterion:
    expression = e.non_empty_str("expression", "expression_missing_or_invalid")
    parse_predicate = importlib.import_module("missionkit.predicate").parse_predicate
    try:
        parse_predicate(expression)
        criterion = PredicateCriterion(expression=expression, extra=e.extra("predicate"), **common)
        # Compile now, once; the cached_property keeps the result on the instance.
        criterion.compiled  # noqa: B018
    except PredicateRejected as exc:
        e.reject(exc.reason, lineno=exc.lineno, col_offset=exc.col_offset)
    _check_options(e, "predicate")
    return criterion


def _tool_call_succeeded(e: _Entry, common: dict[str, Any]) -> Criterion:
    tool_name = e.non_empty_str("tool_name", "tool_name_missing_or_invalid")
    min_count = e.optional_positive_int("min_count", "min_count_must_be_positive_int", 1)
    _check_options(e, "tool_call_succeeded")
    return ToolCallSucceededCriterion(
        tool_name=tool_name,
        min_count=min_count,  # type: ignore[arg-type]
        extra=e.extra("tool_call_succeeded"),
        **common,
    )


def _check_options(e: _Entry, kind: str) -> None:
    supported = _OPTIONS_SUPPORTED[kind]
    for option in _OPTIONS:
        if option not in supported and e.has(option):
            fail(
                field="criteria",
                criterion_id=e.criterion_id,
                subfield=option,
                reason="option_not_supported_for_kind",
            )


_BUILDERS = {
    "metric_threshold": _metric_threshold,
    "metric_trend": _metric_trend,
    "event": _event,
    "predicate": _predicate,
    "tool_call_succeeded": _tool_call_succeeded,
}


def _criterion(index: int, entry: Any, seen: set[str]) -> Criterion:
    items = _criterion_items(entry)
    if items is None:
        fail(field="criteria", index=index, reason="not_a_dict")
    data = str_keyed(items)
    criterion_id = lookup(data, "criterion_id")
    if not is_non_empty_str(criterion_id) or str.__len__(criterion_id) > CRITERION_ID_MAX_LENGTH:
        fail(field="criteria", index=index, reason="criterion_id_missing_or_invalid")
    criterion_id = exact_str(criterion_id)
    if criterion_id in seen:
        fail(field="criteria", criterion_id=criterion_id, reason="duplicate_criterion_id")
    seen.add(criterion_id)
    e = _Entry(items, criterion_id)
    kind = e.get("kind")
    if not isinstance(kind, str) or exact_str(kind) not in _KINDS:
        e.reject("kind_invalid", allowed=sorted(_KINDS))
    kind = exact_str(kind)
    required = e.get("required")
    if not isinstance(required, bool):
        e.reject("required_missing_or_not_a_bool")
    description = e.get("description")
    if description is not MISSING and not isinstance(description, str):
        e.reject("description_not_a_string")
    common: dict[str, Any] = {
        "criterion_id": criterion_id,
        "required": required,
        "description": None if description is MISSING else exact_str(description),
    }
    return _BUILDERS[kind](e, common)


@total("criteria")
def validate_criteria(criteria: Any) -> list[Criterion]:
    """
    Check a list of criteria (SPEC §4.4).

    Entries are checked one at a time, in order; within an entry the common
    checks run first, then the kind's own checks, then the options check.

    Args:
        criteria: A list of criterion dicts or criterion models.

    Returns:
        New criterion models in input order. Undeclared keys are kept in
        ``extra`` (JSON-safe, keys starting with ``_`` dropped); each predicate
        is compiled once and cached on its model.

    Raises:
        MissionValidationError: The first failing check, e.g.
            ``{field: criteria, index: 1, reason: not_a_dict}``.
    """
    if not isinstance(criteria, list):
        fail(field="criteria", reason="not_a_list")
    entries = list.copy(criteria)
    if not entries:
        fail(field="criteria", reason="empty")
    if len(entries) > MAX_CRITERIA:
        fail(
            field="criteria",
            reason="too_many",
            max_length=MAX_CRITERIA,
            actual_length=len(entries),
        )
    seen: set[str] = set()
    return [_criterion(index, entry, seen) for index, entry in enumerate(entries)]
