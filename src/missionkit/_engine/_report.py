"""
The final report and its lesson and follow-up templates (SPEC §12).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from missionkit.models import CriterionResult, FinalReport, Iteration, SessionState

__all__ = ["build_report", "followups_template", "last_evaluation", "lessons_template"]

_FOLLOWUP_NOTE = "These suggestions come from fixed templates."
_FOLLOWUPS: dict[tuple[str | None, str | None], tuple[str, ...]] = {
    ("complete", "criteria_met"): (
        "Persist or publish the artefacts produced by the final iteration.",
        "Consider re-running with tighter thresholds to confirm the result is robust.",
    ),
    ("terminate", "max_iterations"): (
        "Raise budget.max_iterations if the criteria were moving toward success.",
        "Look for repeated tool sequences that used up iterations without progress.",
    ),
    ("terminate", "max_wall_clock"): (
        "Raise budget.max_wall_clock_seconds or split the directive into smaller missions.",
    ),
    ("terminate", "no_progress"): (
        "Check whether the criteria thresholds are reachable.",
        "Allow more tools or make the directive more specific so new strategies can be tried.",
    ),
    ("terminate", "user_abort"): (
        "Review why the session was aborted, then start a new session with an adjusted "
        "directive or budget.",
    ),
    ("terminate", "script_limit"): (
        "Simplify the scripted strategy or raise the script runner's limits.",
    ),
    ("terminate", "non_finite"): (
        "Find the source of the non-finite metric value before starting a new session.",
    ),
}


def last_evaluation(iterations: Sequence[Iteration]) -> tuple[CriterionResult, ...] | None:
    """
    Criterion results of the most recent evaluated iteration, or None.
    """
    for iteration in reversed(iterations):
        if iteration.checkpoint_evaluated:
            return iteration.criteria_evaluation
    return None


def criteria_status(
    state: SessionState, iterations: Sequence[Iteration]
) -> dict[str, CriterionResult | None]:
    """
    Each declared criterion's latest evaluated result (None if never evaluated), by id.
    """
    evaluation = last_evaluation(iterations) or ()
    by_id = {r.criterion_id: r for r in evaluation}
    return {c.criterion_id: by_id.get(c.criterion_id) for c in state.criteria}


def _directive_preview(text: str) -> str:
    return text if len(text) <= 240 else text[:237] + "..."


def _open_ids(state: SessionState, evaluation: Sequence[CriterionResult] | None) -> str:
    if evaluation is None:
        return "not evaluated"
    status = {r.criterion_id: r.status for r in evaluation}
    ids = [
        c.criterion_id
        for c in state.criteria
        if status.get(c.criterion_id) in ("unmet", "inconclusive")
    ]
    return ", ".join(ids) if ids else "none"


def lessons_template(
    state: SessionState,
    iterations_run: int,
    evaluation: Sequence[CriterionResult] | None,
    failure: dict[str, Any] | None,
) -> str:
    """
    The fixed lessons text (SPEC §12.2).
    """
    directive = _directive_preview(state.directive_text)
    ids = _open_ids(state, evaluation)
    if failure is not None:
        return (
            f"Session {state.session_id} failed in phase {failure['phase']!r} of iteration "
            f"{failure['iteration_index']}: {failure['error_message']}. "
            f"Directive: {directive!r}. Criteria not met at the final evaluation: {ids}."
        )
    return (
        f"Session {state.session_id} ended with verdict {state.final_verdict!r} "
        f"(reason {state.final_verdict_reason!r}) after {iterations_run} iteration(s). "
        f"Directive: {directive!r}. Criteria not met at the final evaluation: {ids}. "
        "This text comes from a fixed template; a configured sampler can replace it."
    )


def followups_template(verdict: str | None, reason: str | None, *, failed: bool) -> tuple[str, ...]:
    """
    The fixed follow-up suggestions (SPEC §12.3), note appended, at most 3.
    """
    if failed:
        items: tuple[str, ...] = (
            "Inspect the error of the failed phase, fix its cause and start a new session.",
        )
    elif verdict == "complete" and reason != "criteria_met":
        items = (
            "Verify the outcome: completion was declared by an operator, not by the criteria.",
        )
    else:
        items = _FOLLOWUPS.get(
            (verdict, reason), ("Inspect the iteration history to decide the next step.",)
        )
    return (*items, _FOLLOWUP_NOTE)[:3]


def build_report(
    state: SessionState,
    iterations: Sequence[Iteration],
    *,
    ended_at: datetime,
    failure: dict[str, Any] | None = None,
    lessons: tuple[str, Sequence[str]] | None = None,
) -> FinalReport:
    """
    Build the report of a terminal *state* whose stored history is *iterations*.

    Args:
        state: The terminal header (status, final verdict, ``ended_at`` set).
        iterations: Every iteration, including the final one.
        ended_at: The terminal transition time.
        failure: ``{iteration_index, phase, error_message}`` for failed sessions.
        lessons: Sampler lessons and follow-ups overlaying the templates.
    """
    evaluation = last_evaluation(iterations)
    if lessons is not None:
        text, followups, source = lessons[0], tuple(lessons[1]), "sampler"
    else:
        text = lessons_template(state, len(iterations), evaluation, failure)
        followups = followups_template(
            state.final_verdict, state.final_verdict_reason, failed=failure is not None
        )
        source = "template"
    return FinalReport(
        session_id=state.session_id,
        status=state.status,
        directive_text=state.directive_text,
        criteria=state.criteria,
        budget=state.budget,
        checkpoint_cadence=state.checkpoint_cadence,
        tool_allowlist=state.tool_allowlist,
        stagnation_threshold=state.stagnation_threshold,
        metadata=state.metadata,
        created_at=state.created_at,
        started_at=state.started_at,
        ended_at=ended_at,
        active_seconds=state.active_seconds(ended_at),
        iterations_run=len(iterations),
        final_verdict=state.final_verdict,
        final_verdict_reason=state.final_verdict_reason,
        final_criteria_evaluation=evaluation,
        failure=failure,
        lessons=text,
        lessons_source=source,  # type: ignore[arg-type]
        recommended_followups=followups,
        iterations=tuple(iterations),
    )
