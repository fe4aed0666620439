"""
Helpers for testing code that uses missionkit: all free of global state.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from missionkit._jsonsafe import parse_timestamp
from missionkit.audit import MemorySink
from missionkit.models import Strategy
from missionkit.proposers import ProposalContext
from missionkit.scripts._inline import InlineScriptRunner

__all__ = ["FakeClock", "InlineScriptRunner", "MemorySink", "ScriptedProposer", "ScriptedSampler"]


def _as_datetime(value: datetime | str) -> datetime:
    if isinstance(value, str):
        return parse_timestamp(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class FakeClock:
    """
    A controllable clock: each call returns the current time, then advances it by *step*.

    It drives every timestamp, duration and wall-clock budget computation, but
    not real-time timeouts (tool, sampler, script limits).

    Args:
        start: Initial time (ISO string or datetime).
        step: Seconds to advance after each call.

    .. doctest::

        >>> from missionkit.testing import FakeClock
        >>> clock = FakeClock(step=1.5)
        >>> clock().isoformat(), clock().isoformat()
        ('2025-01-01T00:00:00+00:00', '2025-01-01T00:00:01.500000+00:00')
    """

    #: Every reading is an aware UTC datetime: Mission uses it without a wrapper.
    _missionkit_utc = True

    def __init__(
        self, start: datetime | str = "2025-01-01T00:00:00+00:00", *, step: float = 0.0
    ) -> None:
        self._now = _as_datetime(start)
        self._step = timedelta(seconds=step)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        if not self._step:
            # A standing clock only reads: no lock needed (the engine reads the
            # clock over a dozen times per iteration).
            return self._now
        with self._lock:
            now = self._now
            self._now = now + self._step
            return now

    @property
    def now(self) -> datetime:
        """
        The time the next call returns (without advancing).
        """
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """
        Move the clock forward by *seconds*.
        """
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def set(self, when: datetime | str) -> None:
        """
        Jump to *when*.
        """
        with self._lock:
            self._now = _as_datetime(when)

    def __repr__(self) -> str:
        return f"<FakeClock now={self.now.isoformat()} step={self._step.total_seconds()}>"


class ScriptedSampler:
    """
    A sampler that returns queued responses in order (an `Exception` in the queue is raised).

    Attributes:
        prompts: Every prompt received, in order.
        backend_name: ``"scripted"``.
        model_id: ``"scripted"``.
    """

    backend_name = "scripted"
    model_id = "scripted"

    def __init__(self, *responses: str | BaseException) -> None:
        self._responses: deque[Any] = deque(responses)
        self._lock = threading.Lock()
        self.prompts: list[str] = []

    def __call__(self, prompt: str, /) -> str:
        with self._lock:
            self.prompts.append(prompt)
            if not self._responses:
                raise RuntimeError("ScriptedSampler exhausted")
            response = self._responses.popleft()
        if isinstance(response, BaseException):
            raise response
        result: str = response
        return result


class ScriptedProposer:
    """
    A proposer that returns queued strategies (or None) in order, then None.

    Attributes:
        contexts: Every `ProposalContext` received, in order.
    """

    def __init__(self, *strategies: Strategy | Mapping[str, Any] | None) -> None:
        self._strategies: deque[Any] = deque(strategies)
        self._lock = threading.Lock()
        self.contexts: list[ProposalContext] = []

    def __call__(self, ctx: ProposalContext) -> Strategy | Mapping[str, Any] | None:
        with self._lock:
            self.contexts.append(ctx)
            if not self._strategies:
                return None
            result: Strategy | Mapping[str, Any] | None = self._strategies.popleft()
            return result
