"""
Shared fakes for the test suite.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import missionkit as mk
from missionkit.audit import AuditEvent
from missionkit.errors import ConcurrentUpdate
from missionkit.models import FinalReport, Iteration, SessionState
from missionkit.proposers import ProposalContext
from missionkit.store import MemoryStore
from missionkit.testing import FakeClock


class FlakyStore:
    """
    A `MemoryStore` whose next *failures* saves raise `ConcurrentUpdate` without writing.

    ``before_save`` (if set) is called once, with the state about to be saved,
    before the next save reaches the real store -- a place to let another
    writer win a real compare-and-swap race.

    Attributes:
        inner: The wrapped store.
        failures: Saves still to refuse.
        save_calls: Number of ``save_session`` calls seen.
        before_save: One-shot hook run before the next save.
    """

    def __init__(self, inner: MemoryStore | None = None, failures: int = 0) -> None:
        self.inner = inner if inner is not None else MemoryStore()
        self.failures = failures
        self.save_calls = 0
        self.before_save: Callable[[SessionState], None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save_session(
        self,
        state: SessionState,
        *,
        expected_revision: int,
        append: Sequence[Iteration] = (),
        report: FinalReport | None = None,
    ) -> None:
        """
        Refuse while *failures* remain, run the one-shot hook, then delegate.
        """
        self.save_calls += 1
        if self.failures:
            self.failures -= 1
            raise ConcurrentUpdate(state.session_id, expected_revision, expected_revision + 1)
        hook, self.before_save = self.before_save, None
        if hook is not None:
            hook(state)
        self.inner.save_session(
            state, expected_revision=expected_revision, append=append, report=report
        )


class Counter:
    """
    A tool returning a metric that counts its own calls: ``{"metrics": {"n": calls}}``.
    """

    __name__ = "count"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"metrics": {"n": self.calls}}


# --- Engine fakes: scripted tools, an armable clock, a store-watching sink, builders. ---

SESSION_ID = "mission-engine-test"
UNCAPPED = {"max_iterations": -1, "max_wall_clock_seconds": -1}


class ScriptedTool:
    """
    A tool returning queued values in order (an `Exception` in the queue is raised), then *default*.

    Attributes:
        calls: The keyword arguments of every call, in order.
    """

    def __init__(self, *values: Any, default: Any = None) -> None:
        self._values: deque[Any] = deque(values)
        self._default = default
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        value = self._values.popleft() if self._values else self._default
        if isinstance(value, BaseException):
            raise value
        return value


def metrics_tool(*values: float, **named: Any) -> ScriptedTool:
    """
    A tool reporting ``{"metrics": {"loss": v}}`` for each queued *values*, repeating the last.
    """
    results = [{"metrics": {"loss": v}} for v in values]
    return ScriptedTool(*results, default=results[-1] if results else {"metrics": {}})


class ArmedClock:
    """
    A `FakeClock` that raises `RuntimeError("clock failed")` once, when armed.

    ``arm(after=n)`` lets *n* more reads through, then fails the next one.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self._countdown: int | None = None

    def arm(self, after: int = 0) -> None:
        """
        Fail the read that follows *after* further successful reads.
        """
        self._countdown = after

    def __call__(self) -> datetime:
        if self._countdown is not None:
            if self._countdown == 0:
                self._countdown = None
                raise RuntimeError("clock failed")
            self._countdown -= 1
        return self.clock()


class StoreWatchingSink:
    """
    Records ``(event, stored status, stored iteration count)`` as each event arrives.

    It reads the store directly (never the emitting session), so tests can check
    whether an event was emitted before or after the commit.
    """

    def __init__(self) -> None:
        self.store: Any = None
        self.records: list[tuple[AuditEvent, str | None, int]] = []
        self.hooks: list[Callable[[AuditEvent], None]] = []

    def __call__(self, event: AuditEvent, /) -> None:
        status: str | None = None
        count = 0
        if self.store is not None:
            sid = event.mission_session_id
            header = self.store.load_header(sid)
            if header is not None:
                status = header.status
                count = len(list(self.store.load_iterations(sid)))
        self.records.append((event, status, count))
        for hook in self.hooks:
            hook(event)


def event_label(event: AuditEvent) -> str:
    """
    A short label: ``phase:<phase>:<status>``, ``verdict:<v>/<r>``, ``lifecycle:<action>``, …
    """
    kind = event.event_type
    if kind == "mission_phase_event":
        return f"phase:{event.phase}:{event.phase_status}"  # type: ignore[union-attr]
    if kind == "mission_verdict_event":
        return f"verdict:{event.verdict}/{event.verdict_reason}"  # type: ignore[union-attr]
    if kind == "mission_lifecycle_event":
        return f"lifecycle:{event.action}"  # type: ignore[union-attr]
    if kind == "mission_sampling_event":
        return f"sampling:{event.sampling_purpose}"  # type: ignore[union-attr]
    return kind


def threshold(
    cid: str = "loss",
    *,
    metric: str = "metrics.loss",
    op: str = "<=",
    target: float = 0.1,
    required: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """
    A ``metric_threshold`` criterion dict.
    """
    return {
        "criterion_id": cid,
        "kind": "metric_threshold",
        "required": required,
        "metric": metric,
        "op": op,
        "target": target,
        **extra,
    }


def event_criterion(
    cid: str = "done", name: str = "done", *, required: bool = True
) -> dict[str, Any]:
    """
    An ``event`` criterion dict.
    """
    return {"criterion_id": cid, "kind": "event", "required": required, "event_name": name}


def make_mission(
    tools: Mapping[str, Any] | Iterable[Any],
    *,
    clock: Callable[[], datetime] | None = None,
    **kwargs: Any,
) -> mk.Mission:
    """
    A `Mission` on a `FakeClock` (unless *clock* is given).
    """
    return mk.Mission(tools=tools, clock=clock or FakeClock(), **kwargs)


def start(
    mission: mk.Mission,
    criteria: list[dict[str, Any]],
    *,
    budget: Mapping[str, int] | None = None,
    tool_allowlist: list[str] | None = None,
    **kwargs: Any,
) -> mk.Session:
    """
    Start a session with a fixed id, uncapped budget and every registered tool allowed.
    """
    return mission.start(
        directive="Drive the loss down",
        criteria=criteria,
        budget={**UNCAPPED, **(budget or {})},
        tool_allowlist=tool_allowlist if tool_allowlist is not None else list(mission.tools),
        session_id=kwargs.pop("session_id", SESSION_ID),
        **kwargs,
    )


def verdicts(iterations: Iterable[Any]) -> list[str]:
    """
    ``"<verdict>/<reason>"`` of each iteration.
    """
    return [f"{it.verdict}/{it.verdict_reason}" for it in iterations]


class SwitchProposer:
    """
    A proposer that defers to the default proposer until armed, then raises `ZeroDivisionError`.

    Attributes:
        armed: Whether the next call raises.
    """

    def __init__(self) -> None:
        self.armed = False

    def __call__(self, ctx: Any) -> None:
        if self.armed:
            raise ZeroDivisionError("division by zero")
        return None


def proposal_context(**fields: Any) -> ProposalContext:
    """
    A `ProposalContext` of an empty session, with *fields* replaced.
    """
    defaults: dict[str, Any] = {
        "session_id": "mission-x",
        "iteration_index": 0,
        "directive": "d",
        "criteria": (),
        "criteria_status": {},
        "iterations": (),
        "last_verdict": None,
        "adjust_requested": False,
        "revision_rationale": None,
        "tool_allowlist": (),
        "candidate_tools": (),
        "tool_descriptions": {},
        "allow_scripts": False,
        "remaining_iterations": None,
        "remaining_seconds": None,
        "is_last_iteration": False,
        "no_progress_counter": 0,
        "stagnation_threshold": 3,
    }
    return ProposalContext(**(defaults | fields))
