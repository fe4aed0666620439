"""
Structured audit events, the sinks that receive them, and replay (SPEC §10).

.. versionadded:: 0.1.0
"""

from missionkit.audit._events import (
    AuditEvent,
    LifecycleEvent,
    PhaseEvent,
    SamplingEvent,
    ScriptCallEvent,
    VerdictEvent,
)
from missionkit.audit._protocol import AuditSink
from missionkit.audit._replay import replay_audit_entries
from missionkit.audit._sinks import JsonlSink, LoggingSink, MemorySink, RingBufferSink

__all__ = [
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
