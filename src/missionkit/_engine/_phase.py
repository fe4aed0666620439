"""
The iteration under construction and the phase wrapper (SPEC §6.1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from missionkit._engine._core import MissionCore
from missionkit._models._trusted import trusted_constructor
from missionkit._text import TEXT_LIMIT, exception_text
from missionkit.audit import PhaseEvent
from missionkit.models import Iteration, PhaseRecord

__all__ = ["Draft", "PhaseFailed", "run_phase"]

T = TypeVar("T")

_new_iteration = trusted_constructor(Iteration)
_new_phase_record = trusted_constructor(PhaseRecord)


class Draft:
    """
    Mutable fields of the iteration being built; frozen into an `Iteration` at commit.
    """

    __slots__ = (
        "checkpoint_evaluated",
        "criteria_evaluation",
        "ended_at",
        "iteration_index",
        "no_progress_counter",
        "observation",
        "phases",
        "progress",
        "revision_rationale",
        "sampling_output",
        "sampling_rationale",
        "sampling_rejection_reason",
        "sampling_status",
        "sandbox_terminated_reason",
        "script_call_log",
        "script_error",
        "started_at",
        "status",
        "strategy",
        "strategy_source",
        "tool_calls",
        "verdict",
        "verdict_reason",
    )

    def __init__(self, iteration_index: int, started_at: datetime, counter: int) -> None:
        self.iteration_index = iteration_index
        self.started_at = started_at
        self.ended_at = started_at
        self.status = "succeeded"
        self.phases: list[PhaseRecord] = []
        self.strategy: Any = None
        self.strategy_source: str | None = None
        self.tool_calls: tuple[Any, ...] = ()
        self.script_call_log: tuple[Any, ...] | None = None
        self.script_error: str | None = None
        self.sandbox_terminated_reason: str | None = None
        self.observation: Any = None
        self.criteria_evaluation: tuple[Any, ...] = ()
        self.checkpoint_evaluated = False
        self.progress = False
        self.no_progress_counter = counter
        self.verdict: str | None = None
        self.verdict_reason: str | None = None
        self.revision_rationale: str | None = None
        self.sampling_status: str | None = None
        self.sampling_rejection_reason: str | None = None
        self.sampling_output: Any = None
        self.sampling_rationale: str | None = None

    def freeze(self) -> Iteration:
        """
        Build the immutable `Iteration`.
        """
        # Every text on the draft is already cut to 200 characters by the code
        # that set it, so the trusted constructor's missing converter is moot.
        return _new_iteration(
            self.iteration_index,
            self.status,
            self.started_at,
            self.ended_at,
            tuple(self.phases),
            self.strategy,
            self.strategy_source,
            self.tool_calls,
            self.script_call_log,
            self.script_error,
            self.sandbox_terminated_reason,
            self.observation,
            self.criteria_evaluation,
            self.checkpoint_evaluated,
            self.progress,
            self.no_progress_counter,
            self.verdict,
            self.verdict_reason,
            self.revision_rationale,
            self.sampling_status,
            self.sampling_rejection_reason,
            self.sampling_output,
            self.sampling_rationale,
        )


class PhaseFailed(Exception):
    """
    Carries the original exception of a failed phase out of the phase sequence.
    """

    def __init__(self, phase: str, original: Exception) -> None:
        super().__init__(phase)
        self.phase = phase
        self.original = original


async def run_phase(
    core: MissionCore,
    session_id: str,
    draft: Draft,
    phase: str,
    body: Callable[..., Awaitable[T]],
    *args: Any,
) -> T:
    """
    Run ``await body(*args, started_at)`` as *phase*: record it and emit its event.

    A failure is wrapped in `PhaseFailed` so the caller knows which phase failed.
    """
    started = core.clock()
    try:
        result = await body(*args, started)
    except Exception as exc:
        raise _failed(core, session_id, draft, phase, started, exc) from exc
    _succeeded(core, session_id, draft, phase, started)
    return result


def run_sync_phase(
    core: MissionCore,
    session_id: str,
    draft: Draft,
    phase: str,
    body: Callable[[Any, datetime], None],
    env: Any,
) -> None:
    """
    `run_phase` for bodies that never suspend (observe, evaluate, decide): ``body(env, started)``.
    """
    started = core.clock()
    try:
        body(env, started)
    except Exception as exc:
        raise _failed(core, session_id, draft, phase, started, exc) from exc
    _succeeded(core, session_id, draft, phase, started)


def _succeeded(
    core: MissionCore, session_id: str, draft: Draft, phase: str, started: datetime
) -> None:
    ended = core.clock()
    draft.phases.append(_new_phase_record(phase, "succeeded", started, ended, None))
    if core.sinks:  # hot path: without sinks, do not even pack the event's fields
        _emit_phase(core, session_id, draft.iteration_index, phase, "succeeded", started, ended)


def _failed(
    core: MissionCore,
    session_id: str,
    draft: Draft,
    phase: str,
    started: datetime,
    exc: Exception,
) -> PhaseFailed:
    ended = core.clock()
    message = exception_text(exc, TEXT_LIMIT)
    record = PhaseRecord(phase, "failed", started, ended, message)  # type: ignore[arg-type]
    draft.phases.append(record)
    if core.sinks:
        _emit_phase(
            core, session_id, draft.iteration_index, phase, "failed", started, ended, message
        )
    return PhaseFailed(phase, exc)


def _emit_phase(
    core: MissionCore,
    session_id: str,
    index: int,
    phase: str,
    status: str,
    started: datetime,
    ended: datetime,
    error: str | None = None,
) -> None:
    core.audit(
        PhaseEvent,
        mission_session_id=session_id,
        iteration_index=index,
        phase=phase,
        phase_status=status,
        phase_started_at=started,
        phase_ended_at=ended,
        error_message=error,
    )
