"""
Progress and the stagnation counter (SPEC §6.6.4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from missionkit.models import CriterionProgress, MetricThresholdCriterion

__all__ = ["ProgressUpdate", "distance", "update_progress"]

_NEVER = CriterionProgress()


def distance(op: str, value: float, target: float) -> float | None:
    """
    How far *value* is from satisfying ``value <op> target``; None for ``!=``.

    None too when the difference has no float (an int target past the float
    range): progress cannot be measured against it.
    """
    try:
        if op in ("<", "<="):
            return max(value - target, 0.0)
        if op in (">", ">="):
            return max(target - value, 0.0)
        if op == "==":
            return abs(value - target)
    except OverflowError:
        return None
    return None


class ProgressUpdate:
    """
    Result of one evaluated iteration's progress assessment.

    ``quiet`` is True only when every criterion was judged on a finite float,
    none was met and no best value moved: the decide phase can then skip
    scanning the results for completion and non-finite values.
    """

    __slots__ = ("counter", "criterion_progress", "progress", "quiet")

    def __init__(
        self,
        progress: bool,
        counter: int,
        criterion_progress: dict[str, CriterionProgress],
        quiet: bool = False,
    ) -> None:
        self.progress = progress
        self.counter = counter
        self.criterion_progress = criterion_progress
        self.quiet = quiet


def _improves(criterion: MetricThresholdCriterion, value: float, best: float) -> bool:
    d_value = distance(criterion.op, value, criterion.target)
    d_best = distance(criterion.op, best, criterion.target)
    if d_value is None or d_best is None:
        return False
    delta = (
        criterion.min_delta if criterion.min_delta_mode == "abs" else criterion.min_delta * d_best
    )
    return d_value < d_best - delta


def update_progress(
    criteria: Sequence[object],
    statuses: Sequence[str],
    values: Sequence[float | None],
    before: Mapping[str, CriterionProgress],
    counter: int,
    *,
    first_evaluated: bool,
) -> ProgressUpdate:
    """
    Compute progress, the new counter and the new per-criterion bookkeeping.

    Args:
        criteria: Declared criteria, in order.
        statuses: Their statuses this iteration.
        values: Finite threshold values (None where not applicable).
        before: Bookkeeping before this iteration.
        counter: Counter before this iteration.
        first_evaluated: Whether this is the session's first evaluated iteration.
    """
    progress = False
    # Copied on the first change only: most iterations change nothing.
    after: dict[str, CriterionProgress] | None = None
    for criterion, status, value in zip(criteria, statuses, values, strict=True):
        cid: str = criterion.criterion_id  # type: ignore[attr-defined]
        met = status == "met"
        old = before.get(cid)
        if old is None:
            old = _NEVER
        elif not met and (value is None or value == old.best_value):
            continue  # the usual iteration: nothing new to record
        required: bool = criterion.required  # type: ignore[attr-defined]
        best = old.best_value
        if value is not None and isinstance(criterion, MetricThresholdCriterion):
            if best is None:
                best = value
            elif value != best and _improves(criterion, value, best):
                if required:
                    progress = True
                best = value
        if met and not old.ever_met and required:
            progress = True
        ever_met = old.ever_met or met
        if ever_met != old.ever_met or best != old.best_value:
            if after is None:
                after = dict(before)
            after[cid] = CriterionProgress(ever_met, best)
    if after is None:
        after = before if type(before) is dict else dict(before)
    if progress or first_evaluated:
        new_counter = 0
    else:
        new_counter = counter + 1
    return ProgressUpdate(progress, new_counter, after)
