"""
Every data model of a mission: inputs, records, session state and reports.

All models are frozen, slotted attrs classes. Sequence fields are tuples;
fields holding JSON data (``args``, ``metrics``, results, evidence,
``metadata``) hold plain dicts and lists that must be treated as immutable.
Each model has ``to_dict()`` (JSON data, key order as in SPEC §3) and
``from_dict()``. Input models (criteria, `Budget`, `Cadence`, `Strategy`,
`ObservationInput`) validate in ``from_dict`` exactly like
:mod:`missionkit.validation`; record models decode strictly and report the JSON
path of a defect.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias

import attrs

from missionkit import _codec as c
from missionkit._converter import CONVERTER
from missionkit._jsonsafe import format_timestamp
from missionkit.predicate._limits import PredicateLimits

if TYPE_CHECKING:
    from missionkit.predicate import Predicate


__all__ = [
    "Budget",
    "Cadence",
    "Criterion",
    "CriterionProgress",
    "CriterionResult",
    "EventCriterion",
    "FinalReport",
    "HostToolCall",
    "Iteration",
    "IterationSummary",
    "Limits",
    "MetricThresholdCriterion",
    "MetricTrendCriterion",
    "Observation",
    "ObservationInput",
    "PendingProposal",
    "PhaseRecord",
    "PredicateCriterion",
    "SessionState",
    "SessionSummary",
    "Strategy",
    "ToolCall",
    "ToolCallRecord",
    "ToolCallSucceededCriterion",
    "Verdict",
]

Status = Literal["pending", "running", "paused", "completed", "terminated", "failed"]
VerdictLabel = Literal["continue", "adjust", "complete", "terminate"]
CriterionStatus = Literal["met", "unmet", "inconclusive"]
Op = Literal["<", "<=", ">", ">=", "==", "!="]
TrendDirection = Literal["decreasing", "increasing", "non_increasing", "non_decreasing"]
CadenceKind = Literal["every_iteration", "every_n_iterations", "every_t_seconds", "on_event"]
CallStatus = Literal["ok", "failed", "skipped_not_allowed"]
Phase = Literal["propose", "execute", "observe", "evaluate", "decide"]
PhaseStatus = Literal["succeeded", "failed"]
IterationStatus = Literal["succeeded", "failed"]
StrategySource = Literal["default", "proposer", "sampler", "host"]
SamplingStatus = Literal["used", "rejected", "disabled", "unavailable"]
SamplingMode = Literal["after_adjust", "every_iteration"]
NonFinitePolicy = Literal["inconclusive", "unmet", "terminate"]
MinDeltaMode = Literal["abs", "rel"]
ScriptLimitKind = Literal["wall_time", "memory"]

STATUSES = ("pending", "running", "paused", "completed", "terminated", "failed")
TERMINAL_STATUSES = frozenset({"completed", "terminated", "failed"})
VERDICT_LABELS = ("continue", "adjust", "complete", "terminate")
TERMINAL_VERDICTS = frozenset({"complete", "terminate"})
CRITERION_STATUSES = ("met", "unmet", "inconclusive")
OPS = ("<", "<=", ">", ">=", "==", "!=")
TREND_DIRECTIONS = ("decreasing", "increasing", "non_increasing", "non_decreasing")
CADENCE_KINDS = ("every_iteration", "every_n_iterations", "every_t_seconds", "on_event")
CALL_STATUSES = ("ok", "failed", "skipped_not_allowed")
PHASES = ("propose", "execute", "observe", "evaluate", "decide")
PHASE_STATUSES = ("succeeded", "failed")
STRATEGY_SOURCES = ("default", "proposer", "sampler", "host")
SAMPLING_STATUSES = ("used", "rejected", "disabled", "unavailable")
SAMPLING_MODES = ("after_adjust", "every_iteration")
NON_FINITE_POLICIES = ("inconclusive", "unmet", "terminate")
MIN_DELTA_MODES = ("abs", "rel")
SCRIPT_LIMIT_KINDS = ("wall_time", "memory")
CRITERION_KINDS = ("event", "metric_threshold", "metric_trend", "predicate", "tool_call_succeeded")


def _cut200(value: str | None) -> str | None:
    return value if value is None or len(value) <= 200 else value[:200]


def _validation() -> Any:
    import missionkit.validation as v

    return v


# --------------------------------------------------------------------------- criteria


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

    @classmethod
    def from_dict(cls, data: Any) -> Criterion:
        """
        Validate *data* as one criterion (SPEC §4.4).
        """
        return _criterion_from_input(data)


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

    @classmethod
    def from_dict(cls, data: Any) -> Criterion:
        """
        Validate *data* as one criterion (SPEC §4.4).
        """
        return _criterion_from_input(data)


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

    @classmethod
    def from_dict(cls, data: Any) -> Criterion:
        """
        Validate *data* as one criterion (SPEC §4.4).
        """
        return _criterion_from_input(data)


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

    @classmethod
    def from_dict(cls, data: Any) -> Criterion:
        """
        Validate *data* as one criterion (SPEC §4.4).
        """
        return _criterion_from_input(data)


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

    @classmethod
    def from_dict(cls, data: Any) -> Criterion:
        """
        Validate *data* as one criterion (SPEC §4.4).
        """
        return _criterion_from_input(data)


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


def declared_criterion_keys(kind: str) -> frozenset[str]:
    """
    Keys a criterion of *kind* declares (everything else goes to ``extra``).
    """
    return COMMON_CRITERION_KEYS | _DECLARED_KEYS[kind]


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
    extra = {
        k: v for k, v in data.items() if k not in declared_criterion_keys(kind) and k[:1] != "_"
    }
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


# --------------------------------------------------------------------------- inputs


@attrs.frozen
class Budget:
    """
    Iteration and active wall-clock caps; ``-1`` means uncapped.

    Attributes:
        max_iterations: Positive int or -1.
        max_wall_clock_seconds: Positive int or -1 (active seconds, pauses excluded).
    """

    _handwritten_json: ClassVar[bool] = True

    max_iterations: int
    max_wall_clock_seconds: int

    def to_dict(self) -> dict[str, Any]:
        """
        Return the budget's JSON form.
        """
        return {
            "max_iterations": self.max_iterations,
            "max_wall_clock_seconds": self.max_wall_clock_seconds,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Budget:
        """
        Validate *data* (SPEC §4.5).
        """
        result: Budget = _validation().validate_budget(data)
        return result

    @classmethod
    def _from_record(cls, data: Any, path: str) -> Budget:
        o = c.Obj(data, path)
        values = []
        for key in ("max_iterations", "max_wall_clock_seconds"):
            value = o.int_(key)
            if value == 0 or value < -1:
                raise o.fail(key, f"{value} is neither positive nor -1")
            values.append(value)
        o.done()
        return cls(*values)


@attrs.frozen
class Cadence:
    """
    When criteria are evaluated (SPEC §6.6.1).

    Attributes:
        kind: The cadence kind.
        n: Period in iterations for ``every_n_iterations``.
        t: Period in seconds for ``every_t_seconds``.
        event_name: Trigger event for ``on_event``.
    """

    _handwritten_json: ClassVar[bool] = True

    kind: CadenceKind = "every_iteration"
    n: int | None = None
    t: int | None = None
    event_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """
        Return ``{"kind": …}`` plus only the parameter of that kind.
        """
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "every_n_iterations":
            out["n"] = self.n
        elif self.kind == "every_t_seconds":
            out["t"] = self.t
        elif self.kind == "on_event":
            out["event_name"] = self.event_name
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Cadence:
        """
        Validate *data* (SPEC §4.7).
        """
        result: Cadence = _validation().validate_cadence(data)
        return result

    @classmethod
    def _from_record(cls, data: Any, path: str) -> Cadence:
        o = c.Obj(data, path)
        kind = o.literal("kind", CADENCE_KINDS, "cadence kind")
        if kind == "every_n_iterations":
            cadence = cls(kind, n=o.int_("n", minimum=1))
        elif kind == "every_t_seconds":
            cadence = cls(kind, t=o.int_("t", minimum=1))
        elif kind == "on_event":
            cadence = cls(kind, event_name=o.str_("event_name"))
        else:
            cadence = cls(kind)
        o.done()
        return cadence


@attrs.frozen
class ToolCall:
    """
    One proposed tool call.

    Attributes:
        tool_name: Name of the tool.
        args: Keyword arguments (JSON data).
    """

    _handwritten_json: ClassVar[bool] = True

    tool_name: str
    args: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """
        Return ``{"tool_name", "args"}``.
        """
        return {"tool_name": self.tool_name, "args": self.args}

    @classmethod
    def from_dict(cls, data: Any) -> ToolCall:
        """
        Validate *data* as a one-call strategy's call.
        """
        strategy = Strategy.from_dict({"tool_calls": [data]}, allowlist=(), allow_scripts=False)
        assert strategy.tool_calls is not None
        return strategy.tool_calls[0]

    @classmethod
    def _from_record(cls, data: Any, path: str) -> ToolCall:
        o = c.Obj(data, path)
        tool_name = o.str_("tool_name")
        args = o.dict_("args")
        o.done()
        return cls(tool_name, args)


@attrs.frozen
class Strategy:
    """
    What an iteration does: a list of tool calls or a script (exactly one).

    Attributes:
        tool_calls: Calls to run in order, or None for a script.
        script: Script source, or None for tool calls.
        rationale: Why this strategy was chosen.
        expected_observation_keys: Carried, never interpreted.
    """

    _handwritten_json: ClassVar[bool] = True

    tool_calls: tuple[ToolCall, ...] | None = None
    script: str | None = None
    rationale: str | None = None
    expected_observation_keys: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """
        Return the strategy's JSON form, omitting absent optional keys.
        """
        out: dict[str, Any] = {}
        if self.tool_calls is not None:
            out["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.script is not None:
            out["script"] = self.script
        if self.rationale is not None:
            out["rationale"] = self.rationale
        if self.expected_observation_keys is not None:
            out["expected_observation_keys"] = list(self.expected_observation_keys)
        return out

    @classmethod
    def from_dict(cls, data: Any, *, allowlist: Any = (), allow_scripts: bool = True) -> Strategy:
        """
        Validate *data* (SPEC §4.9) against *allowlist*.
        """
        result: Strategy = _validation().validate_strategy(data, list(allowlist), allow_scripts)
        return result

    @classmethod
    def _from_record(cls, data: Any, path: str) -> Strategy:
        o = c.Obj(data, path)
        strategy = cls(
            tool_calls=o.list_("tool_calls", ToolCall._from_record, optional=True),
            script=o.str_("script", optional=True),
            rationale=o.str_("rationale", optional=True),
            expected_observation_keys=o.list_(
                "expected_observation_keys", c.str_item, optional=True
            ),
        )
        o.done()
        if (strategy.tool_calls is None) == (strategy.script is None):
            raise c.record_error(path, "needs exactly one of tool_calls or script")
        return strategy


@attrs.frozen
class HostToolCall:
    """
    A tool call the host ran itself and reports through ``Session.observe()``.

    Attributes:
        tool_name: Name of the tool.
        status: ``ok``, ``failed`` or ``skipped_not_allowed``.
        args: Arguments used.
        result: The result (JSON-convertible).
        error_message: Error text for failed calls.
        duration_ms: Duration reported by the host.
    """

    _handwritten_json: ClassVar[bool] = True

    tool_name: str
    status: CallStatus
    args: dict[str, Any] = attrs.field(factory=dict)
    result: Any = None
    error_message: str | None = None
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        """
        Return the call's JSON form.
        """
        return {
            "tool_name": self.tool_name,
            "status": self.status,
            "args": self.args,
            "result": self.result,
            "error_message": self.error_message,
            "duration_ms": self.duration_ms,
        }


@attrs.frozen
class ObservationInput:
    """
    What ``Session.observe()`` accepts.

    Attributes:
        metrics: Metrics merged over those of the reported calls.
        events: Events appended after those of the reported calls.
        tool_calls: Calls the host ran.
    """

    _handwritten_json: ClassVar[bool] = True

    metrics: dict[str, Any] = attrs.field(factory=dict)
    events: tuple[dict[str, Any], ...] = ()
    tool_calls: tuple[HostToolCall, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """
        Return the input's JSON form.
        """
        return {
            "metrics": self.metrics,
            "events": list(self.events),
            "tool_calls": [call.to_dict() for call in self.tool_calls],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ObservationInput:
        """
        Validate *data* (SPEC §4.11).
        """
        result: ObservationInput = _validation().validate_observation(data)
        return result


# --------------------------------------------------------------------------- records


@attrs.frozen
class ToolCallRecord:
    """
    One executed (or skipped, or host-reported) tool call.

    Attributes:
        tool_name: Name of the tool.
        args: JSON-safe copy of the arguments.
        status: ``ok``, ``failed`` or ``skipped_not_allowed``.
        result_summary: ``{"type", "bytes", …}`` for ``ok`` calls, else None.
        duration_ms: Milliseconds between dispatch start and end.
        error_message: Error text (≤200) for failed calls.
    """

    _handwritten_json: ClassVar[bool] = True

    tool_name: str
    args: dict[str, Any]
    status: CallStatus
    result_summary: dict[str, Any] | None
    duration_ms: int
    error_message: str | None = attrs.field(default=None, converter=_cut200)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the record's JSON form.
        """
        return {
            "tool_name": self.tool_name,
            "args": self.args,
            "status": self.status,
            "result_summary": self.result_summary,
            "duration_ms": self.duration_ms,
            "error_message": self.error_message,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ToolCallRecord:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> ToolCallRecord:
        o = c.Obj(data, path)
        record = cls(
            tool_name=o.str_("tool_name"),
            args=o.dict_("args"),
            status=o.literal("status", CALL_STATUSES, "call status"),
            result_summary=o.dict_("result_summary", optional=True),
            duration_ms=o.int_("duration_ms", minimum=0),
            error_message=o.str_("error_message", optional=True),
        )
        o.done()
        return record


@attrs.frozen
class PhaseRecord:
    """
    One phase of an iteration.

    Attributes:
        phase: ``propose``, ``execute``, ``observe``, ``evaluate`` or ``decide``.
        status: ``succeeded`` or ``failed``.
        started_at: When the phase started.
        ended_at: When the phase ended.
        error_message: Exception text (≤200) of a failed phase.
    """

    _handwritten_json: ClassVar[bool] = True

    phase: Phase
    status: PhaseStatus
    started_at: datetime
    ended_at: datetime
    error_message: str | None = attrs.field(default=None, converter=_cut200)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the record's JSON form.
        """
        return {
            "phase": self.phase,
            "status": self.status,
            "started_at": format_timestamp(self.started_at),
            "ended_at": format_timestamp(self.ended_at),
            "error_message": self.error_message,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PhaseRecord:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> PhaseRecord:
        o = c.Obj(data, path)
        record = cls(
            phase=o.literal("phase", PHASES, "phase"),
            status=o.literal("status", PHASE_STATUSES, "phase status"),
            started_at=o.timestamp("started_at"),
            ended_at=o.timestamp("ended_at"),
            error_message=o.str_("error_message", optional=True),
        )
        o.done()
        return record


@attrs.frozen
class Observation:
    """
    The engine-built, normalised result of executing a strategy.

    Attributes:
        tool_results: One annotated entry per executed call.
        metrics: Merged metrics.
        events: Events from results, then script/host events.
        errors: ``{tool_name, status, error_message}`` per non-ok call.
        phase_started_at: Observe-phase start.
        phase_ended_at: When the observation was complete.
    """

    _handwritten_json: ClassVar[bool] = True

    tool_results: tuple[dict[str, Any], ...]
    metrics: dict[str, Any]
    events: tuple[dict[str, Any], ...]
    errors: tuple[dict[str, Any], ...]
    phase_started_at: datetime
    phase_ended_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """
        Return the observation's JSON form.
        """
        return {
            "tool_results": list(self.tool_results),
            "metrics": self.metrics,
            "events": list(self.events),
            "errors": list(self.errors),
            "phase_started_at": format_timestamp(self.phase_started_at),
            "phase_ended_at": format_timestamp(self.phase_ended_at),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Observation:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> Observation:
        o = c.Obj(data, path)
        obs = cls(
            tool_results=o.list_("tool_results", c.dict_item) or (),
            metrics=o.dict_("metrics"),
            events=o.list_("events", c.dict_item) or (),
            errors=o.list_("errors", c.dict_item) or (),
            phase_started_at=o.timestamp("phase_started_at"),
            phase_ended_at=o.timestamp("phase_ended_at"),
        )
        o.done()
        return obs


@attrs.frozen
class CriterionResult:
    """
    One criterion's evaluation.

    Attributes:
        criterion_id: The criterion.
        status: ``met``, ``unmet`` or ``inconclusive``.
        evidence: Bounded JSON data explaining the status.
        evaluated_at: When it was evaluated.
    """

    _handwritten_json: ClassVar[bool] = True

    criterion_id: str
    status: CriterionStatus
    evidence: Any
    evaluated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """
        Return the result's JSON form.
        """
        return {
            "criterion_id": self.criterion_id,
            "status": self.status,
            "evidence": self.evidence,
            "evaluated_at": format_timestamp(self.evaluated_at),
        }

    @classmethod
    def from_dict(cls, data: Any) -> CriterionResult:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> CriterionResult:
        o = c.Obj(data, path)
        result = cls(
            criterion_id=o.str_("criterion_id"),
            status=o.literal("status", CRITERION_STATUSES, "criterion status"),
            evidence=o.raw("evidence"),
            evaluated_at=o.timestamp("evaluated_at"),
        )
        o.done()
        return result


@attrs.frozen
class Verdict:
    """
    The decision taken for an iteration.

    Attributes:
        label: ``continue``, ``adjust``, ``complete`` or ``terminate``.
        reason: The reason token, e.g. ``criteria_met``.
    """

    _handwritten_json: ClassVar[bool] = True

    label: VerdictLabel
    reason: str

    @property
    def is_terminal(self) -> bool:
        """
        Whether the verdict ends the session (``complete`` or ``terminate``).
        """
        return self.label in TERMINAL_VERDICTS

    def to_dict(self) -> dict[str, Any]:
        """
        Return ``{"verdict": label, "verdict_reason": reason}``.
        """
        return {"verdict": self.label, "verdict_reason": self.reason}

    @classmethod
    def from_dict(cls, data: Any) -> Verdict:
        """
        Decode ``{"verdict", "verdict_reason"}``.
        """
        o = c.Obj(data, "")
        verdict = cls(o.literal("verdict", VERDICT_LABELS, "verdict"), o.str_("verdict_reason"))
        o.done()
        return verdict


@attrs.frozen(kw_only=True)
class Iteration:
    """
    One pass through the phases, as stored.

    Attributes:
        iteration_index: 0-based index.
        status: ``failed`` iff a phase raised.
        started_at: When the iteration started.
        ended_at: When it ended.
        phases: Phase records in execution order.
        strategy: The proposed strategy, or None.
        strategy_source: Where the strategy came from.
        tool_calls: Executed or host-reported calls.
        script_call_log: In-script calls; non-null iff the strategy was a script.
        script_error: Uncaught script exception text.
        sandbox_terminated_reason: Resource limit a script hit.
        observation: The observation, or None.
        criteria_evaluation: One result per criterion on evaluated iterations.
        checkpoint_evaluated: Whether criteria were evaluated.
        progress: Whether this iteration counted as progress.
        no_progress_counter: Counter value after this iteration.
        verdict: Verdict label, or None for failed iterations.
        verdict_reason: Verdict reason, or None for failed iterations.
        revision_rationale: Set iff the verdict is ``adjust``.
        sampling_status: Outcome of a sampler consultation, if any.
        sampling_rejection_reason: Why the sampler's output was not used.
        sampling_output: Raw sampler text (capped).
        sampling_rationale: The sampler's rationale when its output was used.
    """

    iteration_index: int
    status: IterationStatus
    started_at: datetime
    ended_at: datetime
    phases: tuple[PhaseRecord, ...] = ()
    strategy: Strategy | None = None
    strategy_source: StrategySource | None = None
    tool_calls: tuple[ToolCallRecord, ...] = ()
    script_call_log: tuple[ToolCallRecord, ...] | None = None
    script_error: str | None = attrs.field(default=None, converter=_cut200)
    sandbox_terminated_reason: ScriptLimitKind | None = None
    observation: Observation | None = None
    criteria_evaluation: tuple[CriterionResult, ...] = ()
    checkpoint_evaluated: bool = False
    progress: bool = False
    no_progress_counter: int = 0
    verdict: VerdictLabel | None = None
    verdict_reason: str | None = None
    revision_rationale: str | None = None
    sampling_status: SamplingStatus | None = None
    sampling_rejection_reason: str | None = None
    sampling_output: Any = None
    sampling_rationale: str | None = None

    @property
    def verdict_obj(self) -> Verdict | None:
        """
        The verdict as a `Verdict`, or None for failed iterations.
        """
        if self.verdict is None or self.verdict_reason is None:
            return None
        return Verdict(self.verdict, self.verdict_reason)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the iteration's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    def summary(self) -> IterationSummary:
        """
        The iteration's summary.
        """
        return IterationSummary(
            iteration_index=self.iteration_index,
            status=self.status,
            verdict=self.verdict,
            verdict_reason=self.verdict_reason,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )

    def _repr_html_(self) -> str:
        from missionkit._html import iteration_html

        return iteration_html(self)

    @classmethod
    def from_dict(cls, data: Any) -> Iteration:
        """
        Decode a stored iteration.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> Iteration:
        o = c.Obj(data, path)
        it = cls(
            iteration_index=o.int_("iteration_index", minimum=0),
            status=o.literal("status", ("succeeded", "failed"), "iteration status"),
            started_at=o.timestamp("started_at"),
            ended_at=o.timestamp("ended_at"),
            phases=o.list_("phases", PhaseRecord._from_record) or (),
            strategy=o.obj("strategy", Strategy._from_record, optional=True),
            strategy_source=o.literal(
                "strategy_source", STRATEGY_SOURCES, "strategy source", optional=True
            ),
            tool_calls=o.list_("tool_calls", ToolCallRecord._from_record) or (),
            script_call_log=o.list_("script_call_log", ToolCallRecord._from_record, optional=True),
            script_error=o.str_("script_error", optional=True),
            sandbox_terminated_reason=o.literal(
                "sandbox_terminated_reason", SCRIPT_LIMIT_KINDS, "script limit", optional=True
            ),
            observation=o.obj("observation", Observation._from_record, optional=True),
            criteria_evaluation=o.list_("criteria_evaluation", CriterionResult._from_record) or (),
            checkpoint_evaluated=o.bool_("checkpoint_evaluated"),
            progress=o.bool_("progress"),
            no_progress_counter=o.int_("no_progress_counter", minimum=0),
            verdict=o.literal("verdict", VERDICT_LABELS, "verdict", optional=True),
            verdict_reason=o.str_("verdict_reason", optional=True),
            revision_rationale=o.str_("revision_rationale", optional=True),
            sampling_status=o.literal(
                "sampling_status", SAMPLING_STATUSES, "sampling status", optional=True
            ),
            sampling_rejection_reason=o.str_("sampling_rejection_reason", optional=True),
            sampling_output=o.raw("sampling_output"),
            sampling_rationale=o.str_("sampling_rationale", optional=True),
        )
        o.done()
        return it


@attrs.frozen(kw_only=True)
class PendingProposal:
    """
    A strategy proposed by ``Session.propose()`` and not yet consumed.

    Attributes:
        strategy: The proposed strategy.
        strategy_source: Where it came from.
        phases: Propose phase records so far.
        sampling_status: Sampler outcome, if consulted.
        sampling_rejection_reason: Fallback reason.
        sampling_output: Raw sampler text (capped).
        sampling_rationale: Sampler rationale when used.
    """

    strategy: Strategy
    strategy_source: StrategySource
    phases: tuple[PhaseRecord, ...] = ()
    sampling_status: SamplingStatus | None = None
    sampling_rejection_reason: str | None = None
    sampling_output: Any = None
    sampling_rationale: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """
        Return the proposal's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> PendingProposal:
        """
        Decode a stored proposal.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> PendingProposal:
        o = c.Obj(data, path)
        strategy = o.obj("strategy", Strategy._from_record)
        assert strategy is not None
        proposal = cls(
            strategy=strategy,
            strategy_source=o.literal("strategy_source", STRATEGY_SOURCES, "strategy source"),
            phases=o.list_("phases", PhaseRecord._from_record) or (),
            sampling_status=o.literal(
                "sampling_status", SAMPLING_STATUSES, "sampling status", optional=True
            ),
            sampling_rejection_reason=o.str_("sampling_rejection_reason", optional=True),
            sampling_output=o.raw("sampling_output"),
            sampling_rationale=o.str_("sampling_rationale", optional=True),
        )
        o.done()
        return proposal


@attrs.frozen
class CriterionProgress:
    """
    Per-criterion progress bookkeeping kept on the session.

    Attributes:
        ever_met: Whether the criterion has ever been met.
        best_value: Best finite value so far (``metric_threshold`` only).
    """

    _handwritten_json: ClassVar[bool] = True

    ever_met: bool = False
    best_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """
        Return ``{"ever_met", "best_value"}``.
        """
        return {"ever_met": self.ever_met, "best_value": self.best_value}

    @classmethod
    def from_dict(cls, data: Any) -> CriterionProgress:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> CriterionProgress:
        o = c.Obj(data, path)
        progress = cls(o.bool_("ever_met"), o.number("best_value", optional=True))
        o.done()
        return progress


def _progress_map(data: Any, path: str) -> dict[str, CriterionProgress]:
    if not isinstance(data, dict):
        raise c.record_error(path, "expected an object")
    return {k: CriterionProgress._from_record(v, c.join(path, k)) for k, v in data.items()}


@attrs.frozen(kw_only=True)
class SessionState:
    """
    Everything stored about one session.

    Attributes:
        version: Schema version (1).
        session_id: The session id.
        revision: Compare-and-swap counter, +1 on every save.
        status: Lifecycle status.
        directive_text: The stripped directive.
        criteria: Declared criteria.
        budget: Iteration and wall-clock caps.
        tool_allowlist: Tools the session may call, in order.
        checkpoint_cadence: When criteria are evaluated.
        stagnation_threshold: Evaluated iterations without progress before terminating.
        use_sampling: Whether the sampler is consulted.
        sampling_mode: When it is consulted; None iff sampling is off.
        allow_scripted_strategies: Whether strategies may be scripts.
        metadata: Host metadata.
        created_at: Creation time.
        updated_at: Time of the last save.
        started_at: When the first iteration started.
        ended_at: When the session became terminal.
        paused_at: When the current pause began.
        paused_seconds: Total paused time folded so far.
        last_checkpoint_at: Time of the last evaluated iteration.
        no_progress_counter: Current stagnation counter.
        criterion_progress: Per-criterion progress.
        final_verdict: Final verdict label.
        final_verdict_reason: Final verdict reason.
        pending_proposal: A proposal awaiting execution.
        iterations: Stored iterations (empty in headers).
    """

    version: int = 1
    session_id: str
    revision: int = 1
    status: Status = "pending"
    directive_text: str
    criteria: tuple[Criterion, ...]
    budget: Budget
    tool_allowlist: tuple[str, ...]
    checkpoint_cadence: Cadence = attrs.field(factory=Cadence)
    stagnation_threshold: int = 3
    use_sampling: bool = False
    sampling_mode: SamplingMode | None = None
    allow_scripted_strategies: bool = False
    metadata: dict[str, Any] = attrs.field(factory=dict)
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    paused_at: datetime | None = None
    paused_seconds: float = 0.0
    last_checkpoint_at: datetime | None = None
    no_progress_counter: int = 0
    criterion_progress: dict[str, CriterionProgress] = attrs.field(factory=dict)
    final_verdict: VerdictLabel | None = None
    final_verdict_reason: str | None = None
    pending_proposal: PendingProposal | None = None
    iterations: tuple[Iteration, ...] = ()

    @property
    def is_terminal(self) -> bool:
        """
        Whether the status is ``completed``, ``terminated`` or ``failed``.
        """
        return self.status in TERMINAL_STATUSES

    def active_seconds(self, now: datetime) -> float:
        """
        Active time at *now*: wall time since ``started_at`` minus paused time.
        """
        if self.started_at is None:
            return 0.0
        total = (now - self.started_at).total_seconds() - self.paused_seconds
        if self.paused_at is not None:
            total -= (now - self.paused_at).total_seconds()
        return max(0.0, total)

    def header(self) -> SessionState:
        """
        This state without iterations.
        """
        return attrs.evolve(self, iterations=()) if self.iterations else self

    def to_dict(self) -> dict[str, Any]:
        """
        Return the session's JSON form, including iterations.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    def header_dict(self) -> dict[str, Any]:
        """
        Return the JSON form without the ``iterations`` key (what stores keep as a header).
        """
        out = self.header().to_dict()
        del out["iterations"]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> SessionState:
        """
        Decode a stored session; a missing ``iterations`` key means a header.

        Raises:
            missionkit.errors.MissionValidationError: ``{field: <path>, reason: invalid_value}``.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> SessionState:
        o = c.Obj(data, path)
        version = o.int_("version")
        if version != 1:
            raise o.fail("version", f"unsupported schema version {version}")
        criteria = o.list_("criteria", criterion_from_record)
        budget = o.obj("budget", Budget._from_record)
        allowlist = o.list_("tool_allowlist", c.str_item)
        cadence = o.obj("checkpoint_cadence", Cadence._from_record)
        progress = o.obj("criterion_progress", _progress_map)
        state = cls(
            version=version,
            session_id=o.str_("session_id"),
            revision=o.int_("revision", minimum=1),
            status=o.literal("status", STATUSES, "status"),
            directive_text=o.str_("directive_text"),
            criteria=criteria or (),
            budget=budget,  # type: ignore[arg-type]
            tool_allowlist=allowlist or (),
            checkpoint_cadence=cadence,  # type: ignore[arg-type]
            stagnation_threshold=o.int_("stagnation_threshold", minimum=1),
            use_sampling=o.bool_("use_sampling"),
            sampling_mode=o.literal(
                "sampling_mode", SAMPLING_MODES, "sampling mode", optional=True
            ),
            allow_scripted_strategies=o.bool_("allow_scripted_strategies"),
            metadata=o.dict_("metadata"),
            created_at=o.timestamp("created_at"),
            updated_at=o.timestamp("updated_at"),
            started_at=o.timestamp("started_at", optional=True),
            ended_at=o.timestamp("ended_at", optional=True),
            paused_at=o.timestamp("paused_at", optional=True),
            paused_seconds=float(o.number("paused_seconds", finite=True)),
            last_checkpoint_at=o.timestamp("last_checkpoint_at", optional=True),
            no_progress_counter=o.int_("no_progress_counter", minimum=0),
            criterion_progress=progress or {},
            final_verdict=o.literal("final_verdict", VERDICT_LABELS, "verdict", optional=True),
            final_verdict_reason=o.str_("final_verdict_reason", optional=True),
            pending_proposal=o.obj("pending_proposal", PendingProposal._from_record, optional=True),
            iterations=o.list_("iterations", Iteration._from_record, optional=True) or (),
        )
        o.done()
        return state


@attrs.frozen(kw_only=True)
class SessionSummary:
    """
    One row of a session listing.

    Attributes:
        session_id: The session id.
        status: Status, or ``unreadable``.
        created_at: Creation time (None if unreadable).
        updated_at: Last save time (None if unreadable).
        iteration_count: Stored iterations (None if unreadable).
        final_verdict: Final verdict label.
        final_verdict_reason: Final verdict reason.
        error: ``"<code>: <problem>"`` for unreadable sessions.
    """

    session_id: str
    status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    iteration_count: int | None = None
    final_verdict: str | None = None
    final_verdict_reason: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """
        Return the summary's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> SessionSummary:
        """
        Decode a summary.
        """
        o = c.Obj(data, "")
        summary = cls(
            session_id=o.str_("session_id"),
            status=o.literal("status", (*STATUSES, "unreadable"), "status"),
            created_at=o.timestamp("created_at", optional=True),
            updated_at=o.timestamp("updated_at", optional=True),
            iteration_count=o.int_("iteration_count", optional=True, minimum=0),
            final_verdict=o.str_("final_verdict", optional=True),
            final_verdict_reason=o.str_("final_verdict_reason", optional=True),
            error=o.str_("error", optional=True),
        )
        o.done()
        return summary


@attrs.frozen(kw_only=True)
class IterationSummary:
    """
    A compact view of one iteration.

    Attributes:
        iteration_index: 0-based index.
        status: ``succeeded`` or ``failed``.
        verdict: Verdict label (None if failed).
        verdict_reason: Verdict reason (None if failed).
        started_at: Start time.
        ended_at: End time.
    """

    iteration_index: int
    status: IterationStatus
    verdict: VerdictLabel | None
    verdict_reason: str | None
    started_at: datetime
    ended_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """
        Return the summary's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> IterationSummary:
        """
        Decode a summary.
        """
        o = c.Obj(data, "")
        summary = cls(
            iteration_index=o.int_("iteration_index", minimum=0),
            status=o.literal("status", ("succeeded", "failed"), "iteration status"),
            verdict=o.literal("verdict", VERDICT_LABELS, "verdict", optional=True),
            verdict_reason=o.str_("verdict_reason", optional=True),
            started_at=o.timestamp("started_at"),
            ended_at=o.timestamp("ended_at"),
        )
        o.done()
        return summary


@attrs.frozen(kw_only=True)
class FinalReport:
    """
    The durable summary written atomically with every terminal transition.

    Attributes:
        version: Report schema version (1).
        session_id: The session.
        status: ``completed``, ``terminated`` or ``failed``.
        directive_text: Copied from the session.
        criteria: Copied from the session.
        budget: Copied from the session.
        checkpoint_cadence: Copied from the session.
        tool_allowlist: Copied from the session.
        stagnation_threshold: Copied from the session.
        metadata: Copied from the session.
        created_at: Session creation time.
        started_at: First iteration start, or None.
        ended_at: Terminal transition time.
        active_seconds: Active time at ``ended_at``.
        iterations_run: Stored iterations including the final one.
        final_verdict: Final verdict label (None for failed).
        final_verdict_reason: Final verdict reason (None for failed).
        final_criteria_evaluation: Results of the last evaluated iteration.
        failure: ``{iteration_index, phase, error_message}`` for failed sessions.
        lessons: Lessons text.
        lessons_source: ``template`` or ``sampler``.
        recommended_followups: Suggested next steps.
        iterations: Every stored iteration.
    """

    version: int = 1
    session_id: str
    status: Status
    directive_text: str
    criteria: tuple[Criterion, ...]
    budget: Budget
    checkpoint_cadence: Cadence
    tool_allowlist: tuple[str, ...]
    stagnation_threshold: int
    metadata: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime
    active_seconds: float
    iterations_run: int
    final_verdict: VerdictLabel | None
    final_verdict_reason: str | None
    final_criteria_evaluation: tuple[CriterionResult, ...] | None
    failure: dict[str, Any] | None
    lessons: str
    lessons_source: Literal["template", "sampler"]
    recommended_followups: tuple[str, ...]
    iterations: tuple[Iteration, ...]

    def to_dict(self) -> dict[str, Any]:
        """
        Return the report's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    def _repr_html_(self) -> str:
        from missionkit._html import report_html

        return report_html(self)

    @classmethod
    def from_dict(cls, data: Any) -> FinalReport:
        """
        Decode a stored report.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> FinalReport:
        o = c.Obj(data, path)
        version = o.int_("version")
        if version != 1:
            raise o.fail("version", f"unsupported report version {version}")
        ended_at = o.timestamp("ended_at")
        report = cls(
            version=version,
            session_id=o.str_("session_id"),
            status=o.literal("status", ("completed", "terminated", "failed"), "final status"),
            directive_text=o.str_("directive_text"),
            criteria=o.list_("criteria", criterion_from_record) or (),
            budget=o.obj("budget", Budget._from_record),  # type: ignore[arg-type]
            checkpoint_cadence=o.obj("checkpoint_cadence", Cadence._from_record),  # type: ignore[arg-type]
            tool_allowlist=o.list_("tool_allowlist", c.str_item) or (),
            stagnation_threshold=o.int_("stagnation_threshold", minimum=1),
            metadata=o.dict_("metadata"),
            created_at=o.timestamp("created_at"),
            started_at=o.timestamp("started_at", optional=True),
            ended_at=ended_at,
            active_seconds=float(o.number("active_seconds", finite=True)),
            iterations_run=o.int_("iterations_run", minimum=0),
            final_verdict=o.literal("final_verdict", VERDICT_LABELS, "verdict", optional=True),
            final_verdict_reason=o.str_("final_verdict_reason", optional=True),
            final_criteria_evaluation=o.list_(
                "final_criteria_evaluation", CriterionResult._from_record, optional=True
            ),
            failure=o.dict_("failure", optional=True),
            lessons=o.str_("lessons"),
            lessons_source=o.literal("lessons_source", ("template", "sampler"), "lessons source"),
            recommended_followups=o.list_("recommended_followups", c.str_item) or (),
            iterations=o.list_("iterations", Iteration._from_record) or (),
        )
        o.done()
        return report


# --------------------------------------------------------------------------- limits


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
