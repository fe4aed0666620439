"""
Criterion models, one class per kind (SPEC §3.3).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import attrs

from missionkit import _codec as c

if TYPE_CHECKING:
    from missionkit.predicate import Predicate
from missionkit._models._literals import (
    MIN_DELTA_MODES,
    NON_FINITE_POLICIES,
    OPS,
    TREND_DIRECTIONS,
    MinDeltaMode,
    NonFinitePolicy,
    Op,
    TrendDirection,
    _validation,
)


@attrs.frozen(kw_only=True)
class _CriterionBase:
    """
    Fields every criterion kind shares.
    """

    _handwritten_json: ClassVar[bool] = True

    kind: ClassVar[str]

    criterion_id: str
    required: bool
    description: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> Criterion:
        """
        Validate *data* as one criterion of any kind (SPEC §4.4).
        """
        return _criterion_from_input(data)

    def _head(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "criterion_id": self.criterion_id,
            "kind": self.kind,
            "required": self.required,
        }
        if self.description is not None:
            out["description"] = self.description
        return out


def _with_extra(out: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if key not in out:
            out[key] = value
    return out


@attrs.frozen(kw_only=True)
class MetricThresholdCriterion(_CriterionBase):
    """
    Met when a metric of the current observation compares true against a target.

    Attributes:
        metric: Dot path rooted at the observation, e.g. ``metrics.val_loss``.
        op: Comparison operator.
        target: Number to compare with (±inf allowed, NaN not).
        min_delta: Smallest improvement that counts as progress.
        min_delta_mode: ``abs`` or ``rel`` (relative to the distance of the best value).
        on_non_finite: What a NaN/±inf metric value means.
        extra: Undeclared keys, kept and re-emitted.
    """

    kind: ClassVar[str] = "metric_threshold"

    @functools.cached_property
    def metric_path(self) -> tuple[str, ...]:
        """
        The ``.``-separated segments of *metric* (split once).
        """
        return tuple(self.metric.split("."))

    metric: str
    op: Op
    target: float
    min_delta: float = 0
    min_delta_mode: MinDeltaMode = "abs"
    on_non_finite: NonFinitePolicy = "inconclusive"
    extra: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the criterion's JSON form.
        """
        out = self._head()
        out["metric"] = self.metric
        out["op"] = self.op
        out["target"] = self.target
        out["min_delta"] = self.min_delta
        out["min_delta_mode"] = self.min_delta_mode
        out["on_non_finite"] = self.on_non_finite
        return _with_extra(out, self.extra)


@attrs.frozen(kw_only=True)
class MetricTrendCriterion(_CriterionBase):
    """
    Met when a metric's history moves in a direction between its first and last point.

    Attributes:
        metric: Metric key (a leading ``metrics.`` is optional).
        direction: Required direction of ``last`` relative to ``first``.
        window: Keep only the last *window* points, or all when None.
        min_points: Minimum points needed (effective minimum 2).
        on_non_finite: What a NaN/±inf current value means.
        extra: Undeclared keys, kept and re-emitted.
    """

    kind: ClassVar[str] = "metric_trend"

    metric: str
    direction: TrendDirection
    window: int | None = None
    min_points: int | None = None
    on_non_finite: NonFinitePolicy = "inconclusive"
    extra: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the criterion's JSON form.
        """
        out = self._head()
        out["metric"] = self.metric
        out["direction"] = self.direction
        if self.window is not None:
            out["window"] = self.window
        if self.min_points is not None:
            out["min_points"] = self.min_points
        out["on_non_finite"] = self.on_non_finite
        return _with_extra(out, self.extra)


@attrs.frozen(kw_only=True)
class EventCriterion(_CriterionBase):
    """
    Met when the current observation contains an event with this name.

    Attributes:
        event_name: The ``event_name`` to look for.
        extra: Undeclared keys, kept and re-emitted.
    """

    kind: ClassVar[str] = "event"

    event_name: str
    extra: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the criterion's JSON form.
        """
        out = self._head()
        out["event_name"] = self.event_name
        return _with_extra(out, self.extra)


@attrs.frozen(kw_only=True)
class PredicateCriterion(_CriterionBase):
    """
    Met when an expression of the predicate language is truthy on the cumulative view.

    The compiled predicate is cached on the instance (not a field: never
    serialised, compared or shown in the repr).

    Attributes:
        expression: Source in the predicate language (SPEC §5).
        extra: Undeclared keys, kept and re-emitted.
    """

    kind: ClassVar[str] = "predicate"

    expression: str
    extra: dict[str, Any] = attrs.field(factory=dict)

    @functools.cached_property
    def compiled(self) -> Predicate:
        """
        The compiled predicate, built on first use.

        Raises:
            missionkit.errors.PredicateRejected: The expression no longer parses.
        """
        from missionkit.predicate import compile_predicate

        return compile_predicate(self.expression)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the criterion's JSON form.
        """
        out = self._head()
        out["expression"] = self.expression
        return _with_extra(out, self.extra)


@attrs.frozen(kw_only=True)
class ToolCallSucceededCriterion(_CriterionBase):
    """
    Met when a tool has succeeded at least *min_count* times over the whole session.

    Attributes:
        tool_name: The tool to count.
        min_count: Successful calls needed.
        extra: Undeclared keys, kept and re-emitted.
    """

    kind: ClassVar[str] = "tool_call_succeeded"

    tool_name: str
    min_count: int = 1
    extra: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the criterion's JSON form.
        """
        out = self._head()
        out["tool_name"] = self.tool_name
        out["min_count"] = self.min_count
        return _with_extra(out, self.extra)


Criterion: TypeAlias = (
    MetricThresholdCriterion
    | MetricTrendCriterion
    | EventCriterion
    | PredicateCriterion
    | ToolCallSucceededCriterion
)
"""
Any criterion model.

.. versionadded:: 0.1.0
"""

CRITERION_CLASSES: dict[str, type[Any]] = {
    "metric_threshold": MetricThresholdCriterion,
    "metric_trend": MetricTrendCriterion,
    "event": EventCriterion,
    "predicate": PredicateCriterion,
    "tool_call_succeeded": ToolCallSucceededCriterion,
}

_DECLARED_KEYS: dict[str, frozenset[str]] = {
    "metric_threshold": frozenset(
        {"metric", "op", "target", "min_delta", "min_delta_mode", "on_non_finite"}
    ),
    "metric_trend": frozenset({"metric", "direction", "window", "min_points", "on_non_finite"}),
    "event": frozenset({"event_name"}),
    "predicate": frozenset({"expression"}),
    "tool_call_succeeded": frozenset({"tool_name", "min_count"}),
}
COMMON_CRITERION_KEYS = frozenset({"criterion_id", "kind", "required", "description"})


_ALL_DECLARED = {kind: COMMON_CRITERION_KEYS | keys for kind, keys in _DECLARED_KEYS.items()}


def declared_criterion_keys(kind: str) -> frozenset[str]:
    """
    Keys a criterion of *kind* declares (everything else goes to ``extra``).
    """
    return _ALL_DECLARED[kind]


def _criterion_from_input(data: Any) -> Criterion:
    result: list[Criterion] = _validation().validate_criteria([data])
    return result[0]


def criterion_from_record(data: Any, path: str) -> Criterion:
    """
    Decode a stored criterion structurally (predicates are compiled lazily, on use).
    """
    o = c.Obj(data, path)
    kind = o.literal("kind", CRITERION_CLASSES, "criterion kind")
    cid = o.str_("criterion_id")
    required = o.bool_("required")
    description = o.str_("description", optional=True)
    declared = declared_criterion_keys(kind)
    extra = {k: v for k, v in data.items() if k not in declared and k[:1] != "_"}
    common: dict[str, Any] = {
        "criterion_id": cid,
        "required": required,
        "description": description,
        "extra": extra,
    }
    if kind == "metric_threshold":
        target = o.number("target")
        if target != target:
            raise o.fail("target", "NaN is not a valid target")
        return MetricThresholdCriterion(
            metric=o.str_("metric"),
            op=o.literal("op", OPS, "operator"),
            target=target,
            min_delta=o.number("min_delta", finite=True),
            min_delta_mode=o.literal("min_delta_mode", MIN_DELTA_MODES, "min_delta_mode"),
            on_non_finite=o.literal("on_non_finite", NON_FINITE_POLICIES, "non-finite policy"),
            **common,
        )
    if kind == "metric_trend":
        return MetricTrendCriterion(
            metric=o.str_("metric"),
            direction=o.literal("direction", TREND_DIRECTIONS, "trend direction"),
            window=o.int_("window", optional=True, minimum=1),
            min_points=o.int_("min_points", optional=True, minimum=1),
            on_non_finite=o.literal("on_non_finite", NON_FINITE_POLICIES, "non-finite policy"),
            **common,
        )
    if kind == "event":
        return EventCriterion(event_name=o.str_("event_name"), **common)
    if kind == "predicate":
        return PredicateCriterion(expression=o.str_("expression"), **common)
    return ToolCallSucceededCriterion(
        tool_name=o.str_("tool_name"), min_count=o.int_("min_count", minimum=1), **common
    )
