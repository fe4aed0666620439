"""
Sample sessions, iterations and reports for the store tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import attrs

from missionkit.models import (
    Budget,
    CriterionProgress,
    CriterionResult,
    FinalReport,
    Iteration,
    MetricThresholdCriterion,
    Observation,
    PhaseRecord,
    SessionState,
    ToolCallRecord,
)
from missionkit.store import JsonDirStore, MemoryStore, SessionStore, SQLiteStore

__all__ = ["T0", "advance", "make_iteration", "make_report", "make_session", "ts"]

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def ts(seconds: float) -> dt.datetime:
    """
    A timestamp *seconds* after T0.
    """
    return T0 + dt.timedelta(seconds=seconds)


def make_session(
    session_id: str = "mission-0000000000000001",
    *,
    created: float = 0.0,
    status: str = "pending",
    metadata: dict[str, object] | None = None,
) -> SessionState:
    """
    A new session at revision 1 with one threshold criterion.
    """
    return SessionState(
        session_id=session_id,
        status=status,  # type: ignore[arg-type]
        directive_text="make val_loss small",
        criteria=(
            MetricThresholdCriterion(
                criterion_id="loss", required=True, metric="metrics.val_loss", op="<", target=0.1
            ),
        ),
        budget=Budget(max_iterations=-1, max_wall_clock_seconds=-1),
        tool_allowlist=("train",),
        metadata={} if metadata is None else metadata,
        created_at=ts(created),
        updated_at=ts(created),
        criterion_progress={"loss": CriterionProgress()},
    )


def make_iteration(index: int, *, loss: float | None = None) -> Iteration:
    """
    A small succeeded iteration with one tool call and a metric.
    """
    start = ts(10.0 + index)
    end = start + dt.timedelta(milliseconds=500)
    value = 1.0 / (index + 1) if loss is None else loss
    return Iteration(
        iteration_index=index,
        status="succeeded",
        started_at=start,
        ended_at=end,
        phases=(PhaseRecord("propose", "succeeded", start, start),),
        strategy=None,
        tool_calls=(
            ToolCallRecord(
                tool_name="train",
                args={"lr": 0.01, "step": index},
                status="ok",
                result_summary={"type": "dict", "bytes": 20},
                duration_ms=5,
            ),
        ),
        observation=Observation(
            tool_results=({"tool_name": "train", "result": {"val_loss": value}},),
            metrics={"val_loss": value},
            events=(),
            errors=(),
            phase_started_at=start,
            phase_ended_at=end,
        ),
        criteria_evaluation=(
            CriterionResult(
                criterion_id="loss", status="unmet", evidence={"value": value}, evaluated_at=end
            ),
        ),
        checkpoint_evaluated=True,
        no_progress_counter=0,
        verdict="continue",
        verdict_reason="criteria_unmet",
    )


def advance(
    state: SessionState, *, status: str | None = None, seconds: float = 1.0, **changes: object
) -> SessionState:
    """
    The next header: revision + 1, a later ``updated_at``, no iterations.
    """
    return attrs.evolve(
        state,
        revision=state.revision + 1,
        status=state.status if status is None else status,
        updated_at=state.updated_at + dt.timedelta(seconds=seconds),
        iterations=(),
        **changes,
    )


def make_report(state: SessionState, iterations: Sequence[Iteration]) -> FinalReport:
    """
    A final report for a completed *state*.
    """
    return FinalReport(
        session_id=state.session_id,
        status="completed",
        directive_text=state.directive_text,
        criteria=state.criteria,
        budget=state.budget,
        checkpoint_cadence=state.checkpoint_cadence,
        tool_allowlist=state.tool_allowlist,
        stagnation_threshold=state.stagnation_threshold,
        metadata=state.metadata,
        created_at=state.created_at,
        started_at=state.started_at,
        ended_at=state.updated_at,
        active_seconds=12.5,
        iterations_run=len(iterations),
        final_verdict="complete",
        final_verdict_reason="all_required_met",
        final_criteria_evaluation=None,
        failure=None,
        lessons="It worked.",
        lessons_source="template",
        recommended_followups=("Ship it.",),
        iterations=tuple(iterations),
    )


def build_store(kind: str, tmp_path: Path) -> SessionStore:
    """
    A fresh store of *kind* (``memory``, ``sqlite`` or ``jsondir``) under *tmp_path*.
    """
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "store.db")
    return JsonDirStore(tmp_path / "root")
