"""
The audit sink protocol (SPEC §10.2).
"""

from __future__ import annotations

from typing import Protocol

from missionkit.audit._events import AuditEvent

__all__ = ["AuditSink"]


class AuditSink(Protocol):
    """
    Anything that receives audit events; a plain function qualifies.

    A sink is called synchronously, once per event, in emission order and on
    the thread running the operation.  A sink that raises an ``Exception`` is
    logged at WARNING on logger ``missionkit`` and skipped: later sinks still
    receive the event and the operation continues unchanged.  Sinks must be
    thread-safe when a ``Mission`` is shared across threads, and must not call
    back into the emitting session.

    .. versionadded:: 0.1.0
    """

    def __call__(self, event: AuditEvent, /) -> None:
        """
        Receive one event.

        Args:
            event: The frozen event record; never mutate or keep a reference
                you expect to change.
        """
