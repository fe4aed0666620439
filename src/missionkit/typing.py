"""
Protocols and type aliases hosts annotate against.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeAlias

from missionkit.audit import AuditSink
from missionkit.models import Iteration
from missionkit.proposers import Proposer
from missionkit.sampling import Sampler
from missionkit.scripts import ScriptRunner
from missionkit.store import SessionStore

__all__ = [
    "AuditSink",
    "Clock",
    "JSONValue",
    "OnIteration",
    "Proposer",
    "Sampler",
    "ScriptRunner",
    "SessionStore",
    "ToolFunction",
]

Clock: TypeAlias = Callable[[], datetime]
"""
A time source returning timezone-aware UTC datetimes (naive values are read as UTC).

.. versionadded:: 0.1.0
"""

ToolFunction: TypeAlias = Callable[..., Any | Awaitable[Any]]
"""
A tool: called with keyword arguments; its (awaited) return value is the result.

.. versionadded:: 0.1.0
"""

OnIteration: TypeAlias = Callable[[Iteration], Any]
"""
Progress callback of ``Session.run``; returning ``False`` stops the run.

.. versionadded:: 0.1.0
"""

JSONValue: TypeAlias = (
    bool | int | float | str | list["JSONValue"] | Mapping[str, "JSONValue"] | None
)
"""
JSON data as missionkit stores it (non-finite floats allowed in memory).

.. versionadded:: 0.1.0
"""
