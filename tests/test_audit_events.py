"""
Tests for the audit event records and their JSON form (SPEC §10.1).
"""

from __future__ import annotations

import datetime as dt
import pickle
from typing import Any

import attrs
import pytest

import missionkit.audit
from missionkit.audit import (
    LifecycleEvent,
    PhaseEvent,
    SamplingEvent,
    ScriptCallEvent,
    VerdictEvent,
)
from missionkit.audit._events import event_from_dict

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2025, 1, 1, 0, 0, 1, 250, tzinfo=dt.UTC)
T2 = dt.datetime(2025, 1, 1, 0, 0, 2, tzinfo=dt.UTC)
S0 = "2025-01-01T00:00:00.000000+00:00"
S1 = "2025-01-01T00:00:01.000250+00:00"
S2 = "2025-01-01T00:00:02.000000+00:00"


def full_events() -> list[Any]:
    """
    Return one fully populated event of each type.
    """
    return [
        PhaseEvent(
            mission_session_id="s-1",
            iteration_index=3,
            phase="execute",
            phase_status="failed",
            phase_started_at=T0,
            phase_ended_at=T1,
            timestamp=T2,
            error_message="RuntimeError: boom",
        ),
        VerdictEvent(
            mission_session_id="s-1",
            iteration_index=3,
            verdict="adjust",
            verdict_reason="heuristic_unproductive",
            timestamp=T2,
            revision_rationale="rotate tools",
        ),
        SamplingEvent(
            mission_session_id="s-1",
            sampling_purpose="strategy_revision",
            sampling_status="rejected",
            sampling_backend="host",
            timestamp=T2,
            iteration_index=4,
            sampling_context="ignored",
            sampling_model_id="m-1",
            model_output_bytes=17,
            validation_error="json_parse",
            input_tokens=10,
            output_tokens=20,
        ),
        ScriptCallEvent(
            mission_session_id="s-1",
            iteration_index=2,
            tool_name="train",
            tool_status="failed",
            duration_ms=12,
            timestamp=T2,
            error_message="ValueError: bad",
        ),
        LifecycleEvent(
            mission_session_id="s-1",
            action="fail",
            status="failed",
            timestamp=T2,
            previous_status="running",
            final_verdict="terminate",
            final_verdict_reason="no_progress",
            iteration_index=5,
            error_message="KeyError: 'x'",
        ),
    ]


class TestGoldenDicts:
    def test_phase_full(self) -> None:
        """
        A fully populated phase event emits every key in specification order.
        """
        expected = [
            ("event_type", "mission_phase_event"),
            ("mission_session_id", "s-1"),
            ("iteration_index", 3),
            ("phase", "execute"),
            ("phase_status", "failed"),
            ("phase_started_at", S0),
            ("phase_ended_at", S1),
            ("timestamp", S2),
            ("error_message", "RuntimeError: boom"),
        ]

        assert expected == list(full_events()[0].to_dict().items())

    def test_phase_minimal(self) -> None:
        """
        A phase event without an error message omits ``error_message``.
        """
        event = PhaseEvent(
            mission_session_id="s",
            iteration_index=0,
            phase="propose",
            phase_status="succeeded",
            phase_started_at=T0,
            phase_ended_at=T0,
            timestamp=T0,
        )
        expected = [
            ("event_type", "mission_phase_event"),
            ("mission_session_id", "s"),
            ("iteration_index", 0),
            ("phase", "propose"),
            ("phase_status", "succeeded"),
            ("phase_started_at", S0),
            ("phase_ended_at", S0),
            ("timestamp", S0),
        ]

        assert expected == list(event.to_dict().items())

    def test_phase_empty_error_message_omitted(self) -> None:
        """
        An empty phase ``error_message`` is not emitted.
        """
        event = PhaseEvent(
            mission_session_id="s",
            iteration_index=0,
            phase="propose",
            phase_status="succeeded",
            phase_started_at=T0,
            phase_ended_at=T0,
            timestamp=T0,
            error_message="",
        )

        assert "error_message" not in event.to_dict()

    def test_verdict_full(self) -> None:
        """
        A verdict event with a rationale emits it last.
        """
        expected = [
            ("event_type", "mission_verdict_event"),
            ("mission_session_id", "s-1"),
            ("iteration_index", 3),
            ("verdict", "adjust"),
            ("verdict_reason", "heuristic_unproductive"),
            ("timestamp", S2),
            ("revision_rationale", "rotate tools"),
        ]

        assert expected == list(full_events()[1].to_dict().items())

    @pytest.mark.parametrize("rationale", [None, ""])
    def test_verdict_minimal(self, rationale: str | None) -> None:
        """
        A verdict event with no or an empty rationale omits ``revision_rationale``.
        """
        event = VerdictEvent(
            mission_session_id="s",
            iteration_index=1,
            verdict="continue",
            verdict_reason="in_progress",
            timestamp=T0,
            revision_rationale=rationale,
        )
        expected = [
            ("event_type", "mission_verdict_event"),
            ("mission_session_id", "s"),
            ("iteration_index", 1),
            ("verdict", "continue"),
            ("verdict_reason", "in_progress"),
            ("timestamp", S0),
        ]

        assert expected == list(event.to_dict().items())

    def test_sampling_full(self) -> None:
        """
        A fully populated sampling event emits its optional keys in order.
        """
        expected = [
            ("event_type", "mission_sampling_event"),
            ("mission_session_id", "s-1"),
            ("sampling_purpose", "strategy_revision"),
            ("sampling_status", "rejected"),
            ("sampling_backend", "host"),
            ("timestamp", S2),
            ("iteration_index", 4),
            ("sampling_model_id", "m-1"),
            ("model_output_bytes", 17),
            ("validation_error", "json_parse"),
            ("input_tokens", 10),
            ("output_tokens", 20),
        ]

        assert expected == list(full_events()[2].to_dict().items())

    def test_sampling_minimal(self) -> None:
        """
        A sampling event with only required fields emits only them.
        """
        event = SamplingEvent(
            mission_session_id="s",
            sampling_purpose="final_lessons",
            sampling_status="disabled",
            sampling_backend="none",
            timestamp=T0,
        )
        expected = [
            ("event_type", "mission_sampling_event"),
            ("mission_session_id", "s"),
            ("sampling_purpose", "final_lessons"),
            ("sampling_status", "disabled"),
            ("sampling_backend", "none"),
            ("timestamp", S0),
        ]

        assert expected == list(event.to_dict().items())

    def test_script_call_full(self) -> None:
        """
        A failed script call emits ``via_script`` second and the error last.
        """
        expected = [
            ("event_type", "mission_script_call_event"),
            ("via_script", True),
            ("mission_session_id", "s-1"),
            ("iteration_index", 2),
            ("tool_name", "train"),
            ("tool_status", "failed"),
            ("duration_ms", 12),
            ("timestamp", S2),
            ("error_message", "ValueError: bad"),
        ]

        assert expected == list(full_events()[3].to_dict().items())

    def test_script_call_minimal(self) -> None:
        """
        A successful script call omits ``error_message``.
        """
        event = ScriptCallEvent(
            mission_session_id="s",
            iteration_index=0,
            tool_name="probe",
            tool_status="ok",
            duration_ms=0,
            timestamp=T0,
        )
        expected = [
            ("event_type", "mission_script_call_event"),
            ("via_script", True),
            ("mission_session_id", "s"),
            ("iteration_index", 0),
            ("tool_name", "probe"),
            ("tool_status", "ok"),
            ("duration_ms", 0),
            ("timestamp", S0),
        ]

        assert expected == list(event.to_dict().items())

    def test_lifecycle_full(self) -> None:
        """
        A fully populated lifecycle event emits its optional keys in order.
        """
        expected = [
            ("event_type", "mission_lifecycle_event"),
            ("mission_session_id", "s-1"),
            ("action", "fail"),
            ("status", "failed"),
            ("timestamp", S2),
            ("previous_status", "running"),
            ("final_verdict", "terminate"),
            ("final_verdict_reason", "no_progress"),
            ("iteration_index", 5),
            ("error_message", "KeyError: 'x'"),
        ]

        assert expected == list(full_events()[4].to_dict().items())

    def test_lifecycle_minimal(self) -> None:
        """
        A lifecycle event with only required fields emits only them.
        """
        event = LifecycleEvent(
            mission_session_id="s", action="start", status="running", timestamp=T0
        )
        expected = [
            ("event_type", "mission_lifecycle_event"),
            ("mission_session_id", "s"),
            ("action", "start"),
            ("status", "running"),
            ("timestamp", S0),
        ]

        assert expected == list(event.to_dict().items())

    def test_lifecycle_empty_values_are_emitted(self) -> None:
        """
        Lifecycle optional keys are emitted whenever they are not ``None``, even if empty.
        """
        event = LifecycleEvent(
            mission_session_id="s",
            action="abort",
            status="terminated",
            timestamp=T0,
            iteration_index=0,
            error_message="",
        )

        expected = {"iteration_index": 0, "error_message": ""}

        assert expected == {k: v for k, v in event.to_dict().items() if k in expected}


class TestSamplingIndexRule:
    def test_index_wins_over_context(self) -> None:
        """
        An int ``iteration_index`` is emitted and ``sampling_context`` is not.
        """
        data = full_events()[2].to_dict()

        expected = (4, False)

        assert expected == (data["iteration_index"], "sampling_context" in data)

    def test_context_without_index(self) -> None:
        """
        Without an index a non-empty ``sampling_context`` is emitted after ``timestamp``.
        """
        event = SamplingEvent(
            mission_session_id="s",
            sampling_purpose="final_lessons",
            sampling_status="used",
            sampling_backend="host",
            timestamp=T0,
            sampling_context="complete",
            model_output_bytes=0,
        )

        expected = ["timestamp", "sampling_context", "model_output_bytes"]

        assert expected == list(event.to_dict())[-3:]

    @pytest.mark.parametrize("flag", [True, False])
    def test_bool_is_not_an_index(self, flag: bool) -> None:
        """
        A ``bool`` ``iteration_index`` is never emitted; the context is used instead.
        """
        event = SamplingEvent(
            mission_session_id="s",
            sampling_purpose="final_lessons",
            sampling_status="used",
            sampling_backend="host",
            timestamp=T0,
            iteration_index=flag,
            sampling_context="abort",
        )
        data = event.to_dict()

        expected = ("abort", False)

        assert expected == (data["sampling_context"], "iteration_index" in data)

    def test_empty_context_and_no_index(self) -> None:
        """
        Neither key is emitted for an empty context and no index.
        """
        event = SamplingEvent(
            mission_session_id="s",
            sampling_purpose="final_lessons",
            sampling_status="used",
            sampling_backend="host",
            timestamp=T0,
            sampling_context="",
        )
        data = event.to_dict()

        assert not ({"iteration_index", "sampling_context"} & data.keys())

    def test_zero_index_is_emitted(self) -> None:
        """
        Index ``0`` and size ``0`` are emitted; empty model id and validation error are not.
        """
        event = SamplingEvent(
            mission_session_id="s",
            sampling_purpose="strategy_revision",
            sampling_status="disabled",
            sampling_backend="none",
            timestamp=T0,
            iteration_index=0,
            sampling_model_id="",
            model_output_bytes=0,
            validation_error="",
        )

        expected = [("timestamp", S0), ("iteration_index", 0), ("model_output_bytes", 0)]

        assert expected == list(event.to_dict().items())[-3:]


class TestTruncation:
    @pytest.mark.parametrize(
        ("cls", "kwargs", "field"),
        [
            (
                PhaseEvent,
                {
                    "mission_session_id": "s",
                    "iteration_index": 0,
                    "phase": "execute",
                    "phase_status": "failed",
                    "phase_started_at": T0,
                    "phase_ended_at": T0,
                    "timestamp": T0,
                },
                "error_message",
            ),
            (
                ScriptCallEvent,
                {
                    "mission_session_id": "s",
                    "iteration_index": 0,
                    "tool_name": "t",
                    "tool_status": "failed",
                    "duration_ms": 1,
                    "timestamp": T0,
                },
                "error_message",
            ),
            (
                LifecycleEvent,
                {"mission_session_id": "s", "action": "fail", "status": "failed", "timestamp": T0},
                "error_message",
            ),
            (
                SamplingEvent,
                {
                    "mission_session_id": "s",
                    "sampling_purpose": "strategy_revision",
                    "sampling_status": "rejected",
                    "sampling_backend": "host",
                    "timestamp": T0,
                },
                "validation_error",
            ),
        ],
    )
    def test_long_text_is_cut_to_200(self, cls: Any, kwargs: dict[str, Any], field: str) -> None:
        """
        Texts marked ≤200 keep exactly their first 200 characters, in object and dict.
        """
        text = "".join(chr(0x41 + i % 26) for i in range(450))
        event = cls(**kwargs, **{field: text})

        assert (text[:200], text[:200]) == (getattr(event, field), event.to_dict()[field])

    def test_short_text_is_kept(self) -> None:
        """
        A text of exactly 200 characters is not changed.
        """
        text = "é" * 200
        event = LifecycleEvent(
            mission_session_id="s",
            action="fail",
            status="failed",
            timestamp=T0,
            error_message=text,
        )

        assert text == event.error_message

    def test_unmarked_texts_are_not_cut(self) -> None:
        """
        Fields not marked ≤200 (e.g. the rationale) keep their full length.
        """
        event = VerdictEvent(
            mission_session_id="s",
            iteration_index=0,
            verdict="adjust",
            verdict_reason="heuristic_unproductive",
            timestamp=T0,
            revision_rationale="r" * 500,
        )

        expected = "r" * 500

        assert expected == event.to_dict()["revision_rationale"]


class TestEventRecords:
    def test_event_types(self) -> None:
        """
        Each class carries its fixed ``event_type``, which is not a constructor field.
        """
        expected = [
            "mission_phase_event",
            "mission_verdict_event",
            "mission_sampling_event",
            "mission_script_call_event",
            "mission_lifecycle_event",
        ]

        assert expected == [e.event_type for e in full_events()]
        assert not any("event_type" in attrs.fields_dict(type(e)) for e in full_events())

    def test_frozen(self) -> None:
        """
        Events cannot be changed after construction.
        """
        event = full_events()[0]

        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            event.phase = "decide"

    def test_to_dict_returns_fresh_dicts(self) -> None:
        """
        Mutating a returned dict does not affect later ``to_dict()`` calls.
        """
        event = full_events()[1]
        first = event.to_dict()
        first["verdict"] = "tampered"

        expected = "adjust"

        assert expected == event.to_dict()["verdict"]

    def test_naive_timestamps_are_utc(self) -> None:
        """
        Naive datetimes are read as UTC and stored timezone-aware.
        """
        event = VerdictEvent(
            mission_session_id="s",
            iteration_index=0,
            verdict="continue",
            verdict_reason="in_progress",
            timestamp=dt.datetime(2025, 1, 1),
        )

        expected = (T0, S0)

        assert expected == (event.timestamp, event.to_dict()["timestamp"])

    def test_other_zones_are_converted(self) -> None:
        """
        Aware datetimes in other zones are converted to UTC.
        """
        plus_two = dt.timezone(dt.timedelta(hours=2))
        event = VerdictEvent(
            mission_session_id="s",
            iteration_index=0,
            verdict="continue",
            verdict_reason="in_progress",
            timestamp=dt.datetime(2025, 1, 1, 2, tzinfo=plus_two),
        )

        expected = (dt.UTC, S0)

        assert expected == (event.timestamp.tzinfo, event.to_dict()["timestamp"])

    def test_equality_ignores_cached_json(self) -> None:
        """
        An event whose dict was computed equals an identical fresh event.
        """
        first, second = full_events()[0], full_events()[0]
        first.to_dict()

        assert (first, hash(first)) == (second, hash(second))

    @pytest.mark.parametrize("index", range(5))
    def test_from_dict_round_trip(self, index: int) -> None:
        """
        ``from_dict(to_dict())`` rebuilds an equal event, through the class and the dispatcher.
        """
        event = full_events()[index]
        if isinstance(event, SamplingEvent):
            event = attrs.evolve(event, sampling_context=None)

        assert (event, event) == (
            type(event).from_dict(event.to_dict()),
            event_from_dict(event.to_dict()),
        )

    @pytest.mark.parametrize(
        "data",
        [
            {},
            {"event_type": "mission_nope"},
            {"event_type": "mission_verdict_event", "mission_session_id": "s"},
            {
                "event_type": "mission_verdict_event",
                "mission_session_id": "s",
                "iteration_index": 0,
                "verdict": "continue",
                "verdict_reason": "in_progress",
                "timestamp": 5,
            },
            [],
        ],
    )
    def test_from_dict_rejects_bad_data(self, data: Any) -> None:
        """
        Malformed JSON forms raise ``ValueError``.
        """
        with pytest.raises(ValueError):
            event_from_dict(data)

    def test_from_dict_wrong_class(self) -> None:
        """
        A class refuses the JSON form of another event type.
        """
        with pytest.raises(ValueError, match="mission_phase_event"):
            PhaseEvent.from_dict(full_events()[1].to_dict())

    def test_pickle(self) -> None:
        """
        Events survive pickling, also after their dict was computed.
        """
        events = full_events()
        for event in events[:2]:
            event.to_dict()

        assert events == pickle.loads(pickle.dumps(events))


class TestPublicSurface:
    def test_all(self) -> None:
        """
        ``missionkit.audit.__all__`` is sorted and lists exactly the public names.
        """
        expected = [
            "AuditEvent",
            "AuditSink",
            "JsonlSink",
            "LifecycleEvent",
            "LoggingSink",
            "MemorySink",
            "PhaseEvent",
            "RingBufferSink",
            "SamplingEvent",
            "ScriptCallEvent",
            "VerdictEvent",
            "replay_audit_entries",
        ]

        assert expected == missionkit.audit.__all__
        assert sorted(expected) == expected
        assert all(hasattr(missionkit.audit, name) for name in expected)
