"""
The five audit event records (SPEC §10.1).

Each event is a frozen, slotted attrs class whose attribute names equal the
keys of its JSON form.  ``to_dict()`` emits exactly the keys of SPEC §10.1 in
their order, optional keys only under their stated condition, and is cheap
after the first call: the JSON form of a (frozen) event is computed once and
then copied.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeAlias

import attrs

from missionkit._jsonsafe import format_timestamp, parse_timestamp
from missionkit._text import TEXT_LIMIT

__all__ = [
    "AuditEvent",
    "LifecycleEvent",
    "PhaseEvent",
    "SamplingEvent",
    "ScriptCallEvent",
    "VerdictEvent",
    "event_from_dict",
]

_UTC = _dt.UTC


def _utc(value: _dt.datetime) -> _dt.datetime:
    """
    Make a timestamp timezone-aware UTC; naive values are read as UTC (SPEC §1.4).
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=_UTC)
    if value.tzinfo is _UTC:
        return value
    return value.astimezone(_UTC)


def _cut(value: str | None) -> str | None:
    """
    Cut an optional text to its first 200 characters (SPEC §1.4 "≤200").
    """
    if value is None:
        return None
    return value[:TEXT_LIMIT]


def _remember(event: Any, data: dict[str, Any]) -> dict[str, Any]:
    # Events are frozen, so their JSON form never changes once computed.
    object.__setattr__(event, "_json", data)
    return dict(data)


def _timestamp_of(data: Mapping[str, Any], key: str) -> _dt.datetime:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a timestamp string")
    return parse_timestamp(value)


def _check_type(data: Mapping[str, Any], expected: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError("an audit event must be a mapping")
    if data.get("event_type") != expected:
        raise ValueError(f"event_type must be {expected!r}")


@attrs.frozen(kw_only=True)
class PhaseEvent:
    """
    One engine phase of one iteration has ended (``mission_phase_event``).

    Attributes:
        event_type: Always ``"mission_phase_event"`` (class-level).
        mission_session_id: The session the iteration belongs to.
        iteration_index: Zero-based index of the iteration.
        phase: ``propose``, ``execute``, ``observe``, ``evaluate`` or ``decide``.
        phase_status: How the phase ended: ``succeeded`` or ``failed``.
        phase_started_at: When the phase started (aware UTC).
        phase_ended_at: When the phase ended (aware UTC).
        timestamp: When the event was emitted (aware UTC).
        error_message: Exception text of a failed phase, cut to 200
            characters; emitted only when non-empty.

    .. versionadded:: 0.1.0
    """

    event_type: ClassVar[Literal["mission_phase_event"]] = "mission_phase_event"

    mission_session_id: str
    iteration_index: int
    phase: str
    phase_status: str
    phase_started_at: _dt.datetime = attrs.field(converter=_utc)
    phase_ended_at: _dt.datetime = attrs.field(converter=_utc)
    timestamp: _dt.datetime = attrs.field(converter=_utc)
    error_message: str | None = attrs.field(default=None, converter=_cut)
    _json: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the JSON form of SPEC §10.1 (a fresh dict on every call).

        Returns:
            The event's keys in specification order.
        """
        if self._json is not None:
            return dict(self._json)
        ended = format_timestamp(self.phase_ended_at)
        # Formatting dominates the cost; equal instants are formatted once.
        data: dict[str, Any] = {
            "event_type": "mission_phase_event",
            "mission_session_id": self.mission_session_id,
            "iteration_index": self.iteration_index,
            "phase": self.phase,
            "phase_status": self.phase_status,
            "phase_started_at": ended
            if self.phase_started_at == self.phase_ended_at
            else format_timestamp(self.phase_started_at),
            "phase_ended_at": ended,
            "timestamp": ended
            if self.timestamp == self.phase_ended_at
            else format_timestamp(self.timestamp),
        }
        if self.error_message:
            data["error_message"] = self.error_message
        return _remember(self, data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PhaseEvent:
        """
        Rebuild an event from its JSON form.

        Args:
            data: A dict as produced by :meth:`to_dict`.

        Returns:
            The event.

        Raises:
            ValueError: *data* is not the JSON form of this event type.
        """
        _check_type(data, cls.event_type)
        try:
            return cls(
                mission_session_id=data["mission_session_id"],
                iteration_index=data["iteration_index"],
                phase=data["phase"],
                phase_status=data["phase_status"],
                phase_started_at=_timestamp_of(data, "phase_started_at"),
                phase_ended_at=_timestamp_of(data, "phase_ended_at"),
                timestamp=_timestamp_of(data, "timestamp"),
                error_message=data.get("error_message"),
            )
        except KeyError as exc:
            raise ValueError(f"missing key {exc.args[0]!r}") from None


@attrs.frozen(kw_only=True)
class VerdictEvent:
    """
    An iteration has been committed with its verdict (``mission_verdict_event``).

    Attributes:
        event_type: Always ``"mission_verdict_event"`` (class-level).
        mission_session_id: The session the iteration belongs to.
        iteration_index: Zero-based index of the iteration.
        verdict: ``continue``, ``adjust``, ``complete`` or ``terminate``.
        verdict_reason: The reason token of the verdict.
        timestamp: When the event was emitted (aware UTC).
        revision_rationale: Why the strategy is being revised; emitted only
            when non-empty.

    .. versionadded:: 0.1.0
    """

    event_type: ClassVar[Literal["mission_verdict_event"]] = "mission_verdict_event"

    mission_session_id: str
    iteration_index: int
    verdict: str
    verdict_reason: str
    timestamp: _dt.datetime = attrs.field(converter=_utc)
    revision_rationale: str | None = None
    _json: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the JSON form of SPEC §10.1 (a fresh dict on every call).

        Returns:
            The event's keys in specification order.
        """
        if self._json is not None:
            return dict(self._json)
        data: dict[str, Any] = {
            "event_type": "mission_verdict_event",
            "mission_session_id": self.mission_session_id,
            "iteration_index": self.iteration_index,
            "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "timestamp": format_timestamp(self.timestamp),
        }
        if self.revision_rationale:
            data["revision_rationale"] = self.revision_rationale
        return _remember(self, data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VerdictEvent:
        """
        Rebuild an event from its JSON form.

        Args:
            data: A dict as produced by :meth:`to_dict`.

        Returns:
            The event.

        Raises:
            ValueError: *data* is not the JSON form of this event type.
        """
        _check_type(data, cls.event_type)
        try:
            return cls(
                mission_session_id=data["mission_session_id"],
                iteration_index=data["iteration_index"],
                verdict=data["verdict"],
                verdict_reason=data["verdict_reason"],
                timestamp=_timestamp_of(data, "timestamp"),
                revision_rationale=data.get("revision_rationale"),
            )
        except KeyError as exc:
            raise ValueError(f"missing key {exc.args[0]!r}") from None


@attrs.frozen(kw_only=True)
class SamplingEvent:
    """
    The sampler was consulted, or its consultation was skipped (``mission_sampling_event``).

    Attributes:
        event_type: Always ``"mission_sampling_event"`` (class-level).
        mission_session_id: The session the consultation belongs to.
        sampling_purpose: ``strategy_revision`` or ``final_lessons``.
        sampling_status: The outcome token of the consultation.
        sampling_backend: The sampler's ``backend_name``; ``host`` by default,
            ``none`` without a sampler.
        timestamp: When the event was emitted (aware UTC).
        iteration_index: The iteration the consultation serves; emitted when
            it is an ``int`` (a ``bool`` never counts).
        sampling_context: Where the consultation happened when there is no
            iteration (e.g. ``complete``); emitted when non-empty and no
            *iteration_index* is emitted.
        sampling_model_id: The sampler's model id; emitted when truthy.
        model_output_bytes: UTF-8 size of the model output; emitted when not
            ``None``.
        validation_error: Why the output was rejected, cut to 200
            characters; emitted when truthy.
        input_tokens: Reported input tokens; emitted when not ``None``.
        output_tokens: Reported output tokens; emitted when not ``None``.

    .. versionadded:: 0.1.0
    """

    event_type: ClassVar[Literal["mission_sampling_event"]] = "mission_sampling_event"

    mission_session_id: str
    sampling_purpose: str
    sampling_status: str
    sampling_backend: str
    timestamp: _dt.datetime = attrs.field(converter=_utc)
    iteration_index: int | None = None
    sampling_context: str | None = None
    sampling_model_id: str | None = None
    model_output_bytes: int | None = None
    validation_error: str | None = attrs.field(default=None, converter=_cut)
    input_tokens: int | None = None
    output_tokens: int | None = None
    _json: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the JSON form of SPEC §10.1 (a fresh dict on every call).

        Returns:
            The event's keys in specification order.
        """
        if self._json is not None:
            return dict(self._json)
        data: dict[str, Any] = {
            "event_type": "mission_sampling_event",
            "mission_session_id": self.mission_session_id,
            "sampling_purpose": self.sampling_purpose,
            "sampling_status": self.sampling_status,
            "sampling_backend": self.sampling_backend,
            "timestamp": format_timestamp(self.timestamp),
        }
        index = self.iteration_index
        if isinstance(index, int) and not isinstance(index, bool):
            data["iteration_index"] = index
        elif isinstance(self.sampling_context, str) and self.sampling_context:
            data["sampling_context"] = self.sampling_context
        if self.sampling_model_id:
            data["sampling_model_id"] = self.sampling_model_id
        if self.model_output_bytes is not None:
            data["model_output_bytes"] = self.model_output_bytes
        if self.validation_error:
            data["validation_error"] = self.validation_error
        if self.input_tokens is not None:
            data["input_tokens"] = self.input_tokens
        if self.output_tokens is not None:
            data["output_tokens"] = self.output_tokens
        return _remember(self, data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SamplingEvent:
        """
        Rebuild an event from its JSON form.

        Args:
            data: A dict as produced by :meth:`to_dict`.

        Returns:
            The event.

        Raises:
            ValueError: *data* is not the JSON form of this event type.
        """
        _check_type(data, cls.event_type)
        try:
            return cls(
                mission_session_id=data["mission_session_id"],
                sampling_purpose=data["sampling_purpose"],
                sampling_status=data["sampling_status"],
                sampling_backend=data["sampling_backend"],
                timestamp=_timestamp_of(data, "timestamp"),
                iteration_index=data.get("iteration_index"),
                sampling_context=data.get("sampling_context"),
                sampling_model_id=data.get("sampling_model_id"),
                model_output_bytes=data.get("model_output_bytes"),
                validation_error=data.get("validation_error"),
                input_tokens=data.get("input_tokens"),
                output_tokens=data.get("output_tokens"),
            )
        except KeyError as exc:
            raise ValueError(f"missing key {exc.args[0]!r}") from None


@attrs.frozen(kw_only=True)
class ScriptCallEvent:
    """
    A scripted strategy called a tool (``mission_script_call_event``).

    Attributes:
        event_type: Always ``"mission_script_call_event"`` (class-level).
        via_script: Always ``True`` (class-level).
        mission_session_id: The session the iteration belongs to.
        iteration_index: Zero-based index of the iteration.
        tool_name: The tool the script called.
        tool_status: ``ok``, ``failed`` or ``skipped_not_allowed``.
        duration_ms: How long the call took, in milliseconds.
        timestamp: When the event was emitted (aware UTC).
        error_message: Exception text of a failed call, cut to 200
            characters; emitted only when non-empty.

    .. versionadded:: 0.1.0
    """

    event_type: ClassVar[Literal["mission_script_call_event"]] = "mission_script_call_event"
    via_script: ClassVar[Literal[True]] = True

    mission_session_id: str
    iteration_index: int
    tool_name: str
    tool_status: str
    duration_ms: int
    timestamp: _dt.datetime = attrs.field(converter=_utc)
    error_message: str | None = attrs.field(default=None, converter=_cut)
    _json: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the JSON form of SPEC §10.1 (a fresh dict on every call).

        Returns:
            The event's keys in specification order.
        """
        if self._json is not None:
            return dict(self._json)
        data: dict[str, Any] = {
            "event_type": "mission_script_call_event",
            "via_script": True,
            "mission_session_id": self.mission_session_id,
            "iteration_index": self.iteration_index,
            "tool_name": self.tool_name,
            "tool_status": self.tool_status,
            "duration_ms": self.duration_ms,
            "timestamp": format_timestamp(self.timestamp),
        }
        if self.error_message:
            data["error_message"] = self.error_message
        return _remember(self, data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScriptCallEvent:
        """
        Rebuild an event from its JSON form.

        Args:
            data: A dict as produced by :meth:`to_dict`.

        Returns:
            The event.

        Raises:
            ValueError: *data* is not the JSON form of this event type.
        """
        _check_type(data, cls.event_type)
        try:
            return cls(
                mission_session_id=data["mission_session_id"],
                iteration_index=data["iteration_index"],
                tool_name=data["tool_name"],
                tool_status=data["tool_status"],
                duration_ms=data["duration_ms"],
                timestamp=_timestamp_of(data, "timestamp"),
                error_message=data.get("error_message"),
            )
        except KeyError as exc:
            raise ValueError(f"missing key {exc.args[0]!r}") from None


@attrs.frozen(kw_only=True)
class LifecycleEvent:
    """
    A session changed status through a lifecycle action (``mission_lifecycle_event``).

    Attributes:
        event_type: Always ``"mission_lifecycle_event"`` (class-level).
        mission_session_id: The session that changed.
        action: ``start``, ``pause``, ``resume``, ``complete``, ``abort`` or
            ``fail``.
        status: The session status after the action.
        timestamp: When the event was emitted (aware UTC).
        previous_status: The status before the action; emitted when not
            ``None``.
        final_verdict: The final verdict label; emitted when not ``None``.
        final_verdict_reason: The final verdict reason; emitted when not
            ``None``.
        iteration_index: The iteration concerned (e.g. the failed one);
            emitted when not ``None``.
        error_message: Exception text, cut to 200 characters; emitted when
            not ``None``.

    .. versionadded:: 0.1.0
    """

    event_type: ClassVar[Literal["mission_lifecycle_event"]] = "mission_lifecycle_event"

    mission_session_id: str
    action: str
    status: str
    timestamp: _dt.datetime = attrs.field(converter=_utc)
    previous_status: str | None = None
    final_verdict: str | None = None
    final_verdict_reason: str | None = None
    iteration_index: int | None = None
    error_message: str | None = attrs.field(default=None, converter=_cut)
    _json: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the JSON form of SPEC §10.1 (a fresh dict on every call).

        Returns:
            The event's keys in specification order.
        """
        if self._json is not None:
            return dict(self._json)
        data: dict[str, Any] = {
            "event_type": "mission_lifecycle_event",
            "mission_session_id": self.mission_session_id,
            "action": self.action,
            "status": self.status,
            "timestamp": format_timestamp(self.timestamp),
        }
        if self.previous_status is not None:
            data["previous_status"] = self.previous_status
        if self.final_verdict is not None:
            data["final_verdict"] = self.final_verdict
        if self.final_verdict_reason is not None:
            data["final_verdict_reason"] = self.final_verdict_reason
        if self.iteration_index is not None:
            data["iteration_index"] = self.iteration_index
        if self.error_message is not None:
            data["error_message"] = self.error_message
        return _remember(self, data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LifecycleEvent:
        """
        Rebuild an event from its JSON form.

        Args:
            data: A dict as produced by :meth:`to_dict`.

        Returns:
            The event.

        Raises:
            ValueError: *data* is not the JSON form of this event type.
        """
        _check_type(data, cls.event_type)
        try:
            return cls(
                mission_session_id=data["mission_session_id"],
                action=data["action"],
                status=data["status"],
                timestamp=_timestamp_of(data, "timestamp"),
                previous_status=data.get("previous_status"),
                final_verdict=data.get("final_verdict"),
                final_verdict_reason=data.get("final_verdict_reason"),
                iteration_index=data.get("iteration_index"),
                error_message=data.get("error_message"),
            )
        except KeyError as exc:
            raise ValueError(f"missing key {exc.args[0]!r}") from None


AuditEvent: TypeAlias = PhaseEvent | VerdictEvent | SamplingEvent | ScriptCallEvent | LifecycleEvent
"""
Any audit event record.

.. versionadded:: 0.1.0
"""

_BY_TYPE: Mapping[str, type[AuditEvent]] = MappingProxyType(
    {
        cls.event_type: cls
        for cls in (PhaseEvent, VerdictEvent, SamplingEvent, ScriptCallEvent, LifecycleEvent)
    }
)


def event_from_dict(data: Mapping[str, Any]) -> AuditEvent:
    """
    Rebuild any audit event from its JSON form, dispatching on ``event_type``.

    Args:
        data: A dict as produced by an event's ``to_dict()``.

    Returns:
        The event.

    Raises:
        ValueError: *data* is not the JSON form of a known event type.
    """
    if not isinstance(data, Mapping):
        raise ValueError("an audit event must be a mapping")
    cls = _BY_TYPE.get(data.get("event_type"))  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event_type {data.get('event_type')!r}")
    return cls.from_dict(data)
