"""
Delivery of one event to a sequence of sinks with the failure policy of SPEC §10.2.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from missionkit.audit._events import AuditEvent
from missionkit.audit._protocol import AuditSink

__all__ = ["deliver", "sink_repr"]


def sink_repr(sink: object) -> str:
    """
    Return ``repr(sink)``, or a placeholder naming its type if that raises.

    Args:
        sink: Any object.

    Returns:
        A printable description of *sink*.
    """
    try:
        return repr(sink)
    except Exception:  # a hostile __repr__ must not escape
        return f"<unprintable {type(sink).__qualname__} object>"


def deliver(sinks: Sequence[AuditSink], event: AuditEvent, logger: logging.Logger) -> None:
    """
    Deliver *event* to every sink in *sinks*, in order.

    A sink raising an ``Exception`` is logged at WARNING on *logger* with its
    traceback and ``extra={"missionkit_sink": repr(sink),
    "missionkit_event_type": event.event_type}``, then skipped; later sinks
    still receive the event.  ``BaseException``\\ s that are not
    ``Exception``\\ s (``KeyboardInterrupt``, ``SystemExit``) propagate.

    Args:
        sinks: The sinks, in the order the host gave them.
        event: The event to deliver.
        logger: Where sink failures are reported (the engine passes
            ``logging.getLogger("missionkit")``).
    """
    for sink in sinks:
        try:
            sink(event)
        except Exception:
            described = sink_repr(sink)
            event_type = getattr(event, "event_type", None)
            logger.warning(
                "audit sink %s failed on %s; skipped",
                described,
                event_type,
                exc_info=True,
                extra={"missionkit_sink": described, "missionkit_event_type": event_type},
            )
