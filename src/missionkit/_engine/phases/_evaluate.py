"""
Evaluate: cadence, criteria, progress and the stagnation counter (SPEC §6.6).
"""

from __future__ import annotations

from datetime import datetime
from math import isfinite
from typing import Any

from missionkit._engine._cache import SessionCache
from missionkit._engine._cadence import is_on_cadence
from missionkit._engine._core import MissionCore
from missionkit._engine._env import IterationEnv
from missionkit._engine._progress import ProgressUpdate, update_progress
from missionkit._engine.criteria import EvaluationInput
from missionkit._jsonsafe import cap
from missionkit._models._trusted import trusted_constructor
from missionkit.models import CriterionResult, SessionState

__all__ = ["evaluate_criteria", "evaluate_now"]

_new_result = trusted_constructor(CriterionResult)


def evaluate_criteria(env: IterationEnv, started: datetime) -> None:
    """
    Evaluate every declared criterion when the cadence says so.
    """
    state = env.state
    draft = env.draft
    observation = draft.observation
    iterations = env.cache.iterations
    cadence = state.checkpoint_cadence
    on = cadence.kind == "every_iteration" or is_on_cadence(
        cadence,
        iteration_index=draft.iteration_index,
        now=started,
        last_checkpoint_at=state.last_checkpoint_at,
        events=observation.events if observation is not None else (),
        previous=iterations[-1] if iterations else None,
    )
    if not on:
        return
    env.last_checkpoint_at = started
    results, update = evaluate_now(env.core, env.cache, state, observation)
    draft.criteria_evaluation = results
    draft.checkpoint_evaluated = True
    draft.progress = update.progress
    draft.no_progress_counter = update.counter
    env.criterion_progress = update.criterion_progress


def evaluate_now(
    core: MissionCore, cache: SessionCache, state: SessionState, observation: Any
) -> tuple[tuple[CriterionResult, ...], ProgressUpdate]:
    """
    Evaluate every criterion on *observation* at one clock read; assess progress.
    """
    evaluated_at = core.clock()
    limit = core.limits.evidence_bytes
    # Finite float metrics are judged in-line (see `float_check`); a float
    # fits any evidence cap of 24 bytes or more.
    metrics = observation.metrics if type(observation.metrics) is dict and limit >= 24 else None
    before = state.criterion_progress
    data: EvaluationInput | None = None
    results = []
    # Progress values of the criteria judged by their evaluator, by position;
    # an in-line judged criterion's progress value is its evidence.
    points: dict[int, float | None] = {}
    # Quiet: every criterion judged in-line, none met, each value equal to its
    # recorded best. Progress then has nothing to record: the usual iteration
    # of a session that is not moving.
    quiet = True
    for criterion_id, run, check in cache.evaluators(state.criteria):
        if check is not None and metrics is not None:
            value = metrics.get(check[0])
            if type(value) is float and isfinite(value):
                if check[1](value, check[2]):
                    status = "met"
                    quiet = False
                else:
                    status = "unmet"
                    if quiet:
                        old = before.get(criterion_id)
                        quiet = old is not None and old.best_value == value
                results.append(_new_result(criterion_id, status, value, evaluated_at))
                continue
        quiet = False
        if data is None:
            data = EvaluationInput(observation, cache.view)
        status, evidence, point = run(data)
        if type(evidence) is not float or limit < 24:
            evidence = cap(evidence, limit)
        points[len(results)] = point
        results.append(_new_result(criterion_id, status, evidence, evaluated_at))
    first_evaluated = state.last_checkpoint_at is None
    if quiet and not first_evaluated:
        # What `update_progress` answers here, without its per-criterion pass.
        unchanged = before if type(before) is dict else dict(before)
        return tuple(results), ProgressUpdate(False, state.no_progress_counter + 1, unchanged, True)
    values: list[Any] = [result.evidence for result in results]
    for position, point in points.items():
        values[position] = point
    update = update_progress(
        state.criteria,
        [result.status for result in results],
        values,
        before,
        state.no_progress_counter,
        first_evaluated=first_evaluated,
    )
    return tuple(results), update
