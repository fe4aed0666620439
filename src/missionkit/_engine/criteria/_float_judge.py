"""
One generated function judging all of a session's thresholds on finite float metrics.

`evaluate_now` judges a ``metric_threshold`` on a top-level metric in-line
when the metric is a finite float (see `float_check`). When every criterion of
a session is such a threshold, the loop doing it still pays, per criterion,
for unpacking its check, calling the comparison and keeping bookkeeping: more
than the judging itself. `compile_float_judge` writes that loop out once per
session, as attrs writes its ``__init__`` methods: one straight-line function
with the comparisons in-line.

Nothing taken from the criteria reaches the generated source except the
operator, looked up in a fixed table: keys, targets and criterion ids are
bound as constants of the function's namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from math import isfinite
from typing import Any

from missionkit._engine.criteria._metric_threshold import OPERATORS, float_check
from missionkit._models._trusted import trusted_constructor
from missionkit.models import CriterionProgress, CriterionResult

__all__ = ["MAX_JUDGED", "FloatJudge", "compile_float_judge"]

#: A session with more criteria keeps the loop: the generated function grows
#: with the criteria, and the gain per criterion stays the same.
MAX_JUDGED = 64

#: ``judge(metrics, before, evaluated_at)`` -> ``(results, quiet)``, or None as
#: soon as one metric is not a finite float (nothing is kept: the caller
#: evaluates the usual way). *quiet*: none met and every value equal to its
#: criterion's recorded best value in *before*.
FloatJudge = Callable[
    [dict[str, Any], Mapping[str, CriterionProgress], datetime],
    tuple[tuple[CriterionResult, ...], bool] | None,
]

_SOURCE_OPERATORS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}
_new_result = trusted_constructor(CriterionResult)


def compile_float_judge(criteria: Sequence[Any]) -> FloatJudge | None:
    """
    The judge of *criteria*, or None unless all are thresholds on top-level metrics.
    """
    if not 0 < len(criteria) <= MAX_JUDGED:
        return None
    namespace: dict[str, Any] = {"_new": _new_result, "_isfinite": isfinite, "_float": float}
    lines = ["def judge(metrics, before, at):", "    quiet = True"]
    for index, criterion in enumerate(criteria):
        check = float_check(criterion)
        if check is None:
            return None
        key, compare, target = check
        token = _SOURCE_OPERATORS.get(criterion.op)
        if token is None or OPERATORS[token] is not compare:
            return None
        namespace[f"key{index}"] = key
        namespace[f"target{index}"] = target
        namespace[f"cid{index}"] = criterion.criterion_id
        v = f"v{index}"
        lines += [
            f"    {v} = metrics.get(key{index})",
            f"    if type({v}) is not _float or not _isfinite({v}):",
            "        return None",
            f"    if {v} {token} target{index}:",
            f"        s{index} = 'met'",
            "        quiet = False",
            "    else:",
            f"        s{index} = 'unmet'",
            "        if quiet:",
            f"            old = before.get(cid{index})",
            f"            quiet = old is not None and old.best_value == {v}",
        ]
    built = ", ".join(f"_new(cid{i}, s{i}, v{i}, at)" for i in range(len(criteria)))
    lines.append(f"    return ({built},), quiet")
    code = compile("\n".join(lines) + "\n", "<missionkit float judge>", "exec")
    exec(code, namespace)
    judge: FloatJudge = namespace["judge"]
    return judge
