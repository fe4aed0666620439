"""
The verdict cascade (SPEC §6.7) and the adjust heuristic (SPEC §6.8).

`decide` is pure: no I/O, logging, clock reads or randomness. It reads only
the session configuration, the stored iterations, the iteration being decided
and the time it is given, never any ``sampling_*`` field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from missionkit.models import Iteration, SessionState, Verdict

__all__ = ["call_names", "decide", "error_signatures", "revision_rationale"]

_ERROR_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def call_names(iteration: Iteration) -> tuple[str, ...]:
    """
    The tool names of an iteration's call records (script log for scripts).
    """
    records = (
        iteration.script_call_log if iteration.script_call_log is not None else iteration.tool_calls
    )
    return tuple(r.tool_name for r in records)


def _error_class(message: object) -> str:
    if not isinstance(message, str):
        return ""
    head, sep, _ = message.partition(": ")
    if sep and _ERROR_CLASS.fullmatch(head):
        return head
    return message


def error_signatures(iteration: Iteration) -> set[tuple[object, object, str]]:
    """
    ``(tool_name, status, error_class)`` of every error in the observation.
    """
    if iteration.observation is None:
        return set()
    return {
        (e.get("tool_name"), e.get("status"), _error_class(e.get("error_message")))
        for e in iteration.observation.errors
        if isinstance(e, dict)
    }


def _repeating(state: SessionState, stored: Sequence[Iteration], iteration: Iteration) -> bool:
    if iteration.no_progress_counter < math.ceil(state.stagnation_threshold / 2):
        return False
    if len(stored) < 2:
        return False
    names = call_names(iteration)
    return call_names(stored[-1]) == names and call_names(stored[-2]) == names


def _new_errors(stored: Sequence[Iteration], iteration: Iteration) -> bool:
    if not stored or iteration.observation is None or not iteration.observation.errors:
        return False
    current = error_signatures(iteration)
    if not current:
        return False
    start = 0
    for index in range(len(stored) - 1, -1, -1):
        if stored[index].checkpoint_evaluated:
            start = index
            break
    reference: set[tuple[object, object, str]] = set()
    for index in range(start, len(stored)):
        reference |= error_signatures(stored[index])
    return not current <= reference


def revision_rationale(state: SessionState, iteration: Iteration, clause: str) -> str:
    """
    The deterministic one-line rationale of an ``adjust`` verdict.
    """
    unmet = [r.criterion_id for r in iteration.criteria_evaluation if r.status == "unmet"]
    if iteration.script_call_log is not None:
        summary = "scripted strategy"
    else:
        names = call_names(iteration)
        summary = ", ".join(names) if names else "no tool calls"
    return (
        f"adjust at iteration {iteration.iteration_index + 1}: {clause}; "
        f"unmet criteria: {', '.join(unmet) if unmet else 'none'}; strategy: {summary}; "
        f"no-progress {iteration.no_progress_counter}/{state.stagnation_threshold}; "
        "propose a different strategy next."
    )


def adjust_clause(
    state: SessionState, stored: Sequence[Iteration], iteration: Iteration
) -> str | None:
    """
    ``tool_sequence_repeating``, ``new_observation_errors`` or None.
    """
    if _repeating(state, stored, iteration):
        return "tool_sequence_repeating"
    if _new_errors(stored, iteration):
        return "new_observation_errors"
    return None


def _paired(state: SessionState, iteration: Iteration) -> Iterable[tuple[Any, Any]]:
    """
    (criterion, its result or None) in declaration order, to be iterated once.
    """
    results = iteration.criteria_evaluation
    criteria = state.criteria
    if len(results) == len(criteria):
        for criterion, result in zip(criteria, results, strict=True):
            if criterion.criterion_id != result.criterion_id:
                break
        else:
            return zip(criteria, results, strict=True)
    by_id = {r.criterion_id: r for r in results}
    return [(c, by_id.get(c.criterion_id)) for c in criteria]


def _scan(pairs: Iterable[tuple[Any, Any]]) -> tuple[bool, bool]:
    """
    (every required criterion met and none inconclusive, a ``terminate``-policy non-finite).
    """
    all_met = True
    non_finite = False
    for criterion, result in pairs:
        if result is None:
            all_met = False
            continue
        status = result.status
        if status == "inconclusive" or (status != "met" and criterion.required):
            all_met = False
        evidence = result.evidence
        if (
            isinstance(evidence, str)
            and evidence.startswith("non_finite:")
            and getattr(criterion, "on_non_finite", None) == "terminate"
        ):
            non_finite = True
    return all_met, non_finite


# Verdicts are immutable: one instance per outcome of the cascade.
_SCRIPT_LIMIT = Verdict("terminate", "script_limit")
_CRITERIA_MET = Verdict("complete", "criteria_met")
_NON_FINITE = Verdict("terminate", "non_finite")
_MAX_ITERATIONS = Verdict("terminate", "max_iterations")
_MAX_WALL_CLOCK = Verdict("terminate", "max_wall_clock")
_NO_PROGRESS = Verdict("terminate", "no_progress")
_CADENCE_SKIP = Verdict("continue", "cadence_skip")
_UNPRODUCTIVE = Verdict("adjust", "heuristic_unproductive")
_IN_PROGRESS = Verdict("continue", "in_progress")


def decide(
    state_before: SessionState,
    iteration: Iteration,
    now: datetime,
    *,
    stored: Sequence[Iteration] | None = None,
) -> Verdict:
    """
    Decide the verdict of *iteration* (SPEC §6.7); first matching rule wins.

    Args:
        state_before: The session before this iteration.
        iteration: The iteration being decided (its evaluation and counter).
        now: The time the decision is taken at.
        stored: Stored iterations before this one; defaults to
            ``state_before.iterations`` (hosts that cache history pass it).
    """
    history = state_before.iterations if stored is None else stored
    budget = state_before.budget
    if iteration.sandbox_terminated_reason is not None:
        return _SCRIPT_LIMIT
    if iteration.checkpoint_evaluated:
        all_met, non_finite = _scan(_paired(state_before, iteration))
        if all_met:
            return _CRITERIA_MET
        if non_finite:
            return _NON_FINITE
    if budget.max_iterations != -1 and iteration.iteration_index + 1 >= budget.max_iterations:
        return _MAX_ITERATIONS
    if (
        budget.max_wall_clock_seconds != -1
        and state_before.active_seconds(now) >= budget.max_wall_clock_seconds
    ):
        return _MAX_WALL_CLOCK
    if iteration.no_progress_counter >= state_before.stagnation_threshold:
        return _NO_PROGRESS
    if not iteration.checkpoint_evaluated:
        return _CADENCE_SKIP
    if adjust_clause(state_before, history, iteration) is not None:
        return _UNPRODUCTIVE
    return _IN_PROGRESS
