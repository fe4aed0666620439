"""
Input models: budget, cadence, strategies and observations (SPEC §3.4–3.7).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from missionkit import _codec as c
from missionkit._models._literals import (
    CADENCE_KINDS,
    CadenceKind,
    CallStatus,
    _as_tuple,
    _as_tuple_or_none,
    _validation,
)


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

    tool_calls: tuple[ToolCall, ...] | None = attrs.field(default=None, converter=_as_tuple_or_none)
    script: str | None = None
    rationale: str | None = None
    expected_observation_keys: tuple[str, ...] | None = attrs.field(
        default=None, converter=_as_tuple_or_none
    )

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

    @classmethod
    def from_dict(cls, data: Any) -> HostToolCall:
        """
        Validate *data* as one reported call (SPEC §4.11).
        """
        observation = ObservationInput.from_dict({"tool_calls": [data]})
        return observation.tool_calls[0]


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
    events: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=_as_tuple)
    tool_calls: tuple[HostToolCall, ...] = attrs.field(default=(), converter=_as_tuple)

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
