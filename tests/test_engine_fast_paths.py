"""
The engine's specialised hot paths agree with the plain rules they replace.

`threshold_evaluator` reads metrics without building the observation's JSON
form, and `update_progress` skips criteria with nothing new; both are checked
here against straightforward implementations of SPEC §6.6.3 and §6.6.4 on
generated data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
from hypothesis import example, given, settings
from hypothesis import strategies as st

import missionkit as mk
from missionkit._engine._progress import distance, update_progress
from missionkit._engine._view import CumulativeView, observation_json
from missionkit._engine.criteria import EvaluationInput
from missionkit._engine.criteria._metric_threshold import (
    _MISSING,
    OPERATORS,
    float_check,
    resolve_path,
    threshold_evaluator,
)
from missionkit._engine.phases._evaluate import evaluate_now
from missionkit.models import (
    CriterionProgress,
    EventCriterion,
    MetricThresholdCriterion,
    Observation,
)
from missionkit.testing import FakeClock

NOW = datetime(2025, 1, 1, tzinfo=UTC)
KEYS = ("a", "b", "0", "")

leaves = st.one_of(
    st.sampled_from((math.nan, math.inf, -math.inf, 1.5, 3, True)),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)
paths = st.one_of(
    st.lists(st.sampled_from(KEYS), min_size=1, max_size=2),
    st.lists(st.sampled_from((*KEYS, "1", "01", "metrics", "tool_results")), max_size=3),
)


def _reference_threshold(criterion: MetricThresholdCriterion, obs: Observation) -> tuple[Any, ...]:
    """
    SPEC §6.6.3 for ``metric_threshold``, on the observation's full JSON form.
    """
    value = resolve_path(observation_json(obs), criterion.metric_path)
    if value is _MISSING:
        return ("inconclusive", "metric_path_missing:" + repr(criterion.metric), None)
    if type(value) not in (int, float):
        return ("inconclusive", value, None)
    if type(value) is float and not math.isfinite(value):
        status = "unmet" if criterion.on_non_finite == "unmet" else "inconclusive"
        return (status, "non_finite:" + repr(value), None)
    met = OPERATORS[criterion.op](value, criterion.target)
    return ("met" if met else "unmet", value, float(value))


def _same(left: Any, right: Any) -> bool:
    return repr(left) == repr(right) and type(left) is type(right)


class TestThresholdEvaluator:
    @settings(max_examples=400)
    @given(
        metrics=st.dictionaries(st.sampled_from(KEYS), values, max_size=4),
        results=st.lists(st.dictionaries(st.sampled_from(KEYS), values, max_size=2), max_size=2),
        root=st.sampled_from(
            ("metrics", "metrics", "metrics", "tool_results", "events", "errors", "phase_ended_at")
        ),
        path=paths,
        op=st.sampled_from(sorted(OPERATORS)),
        target=st.floats(allow_nan=False),
        policy=st.sampled_from(("inconclusive", "unmet", "terminate")),
    )
    def test_matches_reference(
        self,
        metrics: dict[str, Any],
        results: list[dict[str, Any]],
        root: str,
        path: list[str],
        op: str,
        target: float,
        policy: str,
    ) -> None:
        """Status, evidence and progress value equal the rule applied to the full JSON form."""
        criterion = MetricThresholdCriterion(
            criterion_id="c",
            required=True,
            metric=".".join((root, *path)),
            op=op,  # type: ignore[arg-type]
            target=target,
            on_non_finite=policy,  # type: ignore[arg-type]
        )
        obs = Observation(tuple(results), metrics, (), (), NOW, NOW)

        got = tuple(threshold_evaluator(criterion)(EvaluationInput(obs, CumulativeView())))

        expected = _reference_threshold(criterion, obs)
        assert got[0] == expected[0]
        assert _same(got[1], expected[1])
        assert _same(got[2], expected[2])

    @settings(max_examples=150, deadline=None)
    @given(
        key=st.sampled_from(("a", "b")),
        value=st.floats(allow_nan=False, allow_infinity=False),
        others=st.dictionaries(st.sampled_from(("a", "b", "c")), st.floats(), max_size=2),
        op=st.sampled_from(sorted(OPERATORS)),
        target=st.floats(allow_nan=False),
        policy=st.sampled_from(("inconclusive", "unmet", "terminate")),
    )
    def test_in_line_float_judgement_matches_reference(
        self,
        key: str,
        value: float,
        others: dict[str, float],
        op: str,
        target: float,
        policy: str,
    ) -> None:
        """
        A finite float on a top-level metric, judged in-line by a step, gives §6.6.3's answer.
        """
        metrics = {**others, key: value}
        spec = {
            "criterion_id": "c",
            "kind": "metric_threshold",
            "required": True,
            "metric": f"metrics.{key}",
            "op": op,
            "target": target,
            "on_non_finite": policy,
        }
        mission = mk.Mission(tools={"t": lambda: {"metrics": metrics}}, clock=FakeClock())
        budget = {"max_iterations": 5, "max_wall_clock_seconds": -1}
        session = mission.start(
            directive="d", criteria=[spec], budget=budget, tool_allowlist=["t"],
            stagnation_threshold=10,
        )  # fmt: skip
        assert float_check(session.state.criteria[0]) is not None  # the in-line path applies

        iteration = session.step()

        result = iteration.criteria_evaluation[0]
        assert iteration.observation is not None
        expected = _reference_threshold(session.state.criteria[0], iteration.observation)
        assert (result.status, result.evidence) == expected[:2]


def _reference_progress(
    criteria: Sequence[Any],
    statuses: Sequence[str],
    values: Sequence[float | None],
    before: Mapping[str, CriterionProgress],
    counter: int,
    first_evaluated: bool,
) -> tuple[bool, int, dict[str, CriterionProgress]]:
    """
    SPEC §6.6.4 written out plainly: every criterion visited, bookkeeping always copied.
    """
    progress = False
    after = dict(before)
    for criterion, status, value in zip(criteria, statuses, values, strict=True):
        old = before.get(criterion.criterion_id) or CriterionProgress()
        met = status == "met"
        best = old.best_value
        if isinstance(criterion, MetricThresholdCriterion) and value is not None:
            if best is None:
                best = value
            else:
                d_value = distance(criterion.op, value, criterion.target)
                d_best = distance(criterion.op, best, criterion.target)
                if d_value is not None and d_best is not None:
                    delta = (
                        criterion.min_delta
                        if criterion.min_delta_mode == "abs"
                        else criterion.min_delta * d_best
                    )
                    if d_value < d_best - delta:
                        progress = progress or criterion.required
                        best = value
        if met and not old.ever_met and criterion.required:
            progress = True
        ever_met = old.ever_met or met
        if ever_met != old.ever_met or best != old.best_value:
            after[criterion.criterion_id] = CriterionProgress(ever_met, best)
    counter = 0 if progress or first_evaluated else counter + 1
    return progress, counter, after


criterion_rows = st.lists(
    st.tuples(
        st.booleans(),  # threshold (else event)
        st.booleans(),  # required
        st.sampled_from(sorted(OPERATORS)),
        st.sampled_from((0.0, 1.0, 2.5)),  # target
        st.sampled_from((0.0, 0.1, 1.0)),  # min_delta
        st.sampled_from(("abs", "rel")),
        st.sampled_from(("met", "unmet", "inconclusive")),
        st.one_of(st.none(), st.sampled_from((0.0, 1.0, 2.0, 2.5, 3.0))),  # value
        st.one_of(
            st.none(),
            st.tuples(st.booleans(), st.one_of(st.none(), st.sampled_from((0.0, 1.0, 2.5)))),
        ),  # stored bookkeeping
    ),
    max_size=5,
)


class TestProgress:
    @settings(max_examples=400)
    @given(
        rows=criterion_rows,
        counter=st.integers(min_value=0, max_value=5),
        first=st.booleans(),
    )
    def test_matches_reference(
        self, rows: list[tuple[Any, ...]], counter: int, first: bool
    ) -> None:
        """Progress, counter and bookkeeping equal the plainly written rule."""
        criteria: list[Any] = []
        statuses: list[str] = []
        values: list[float | None] = []
        before: dict[str, CriterionProgress] = {}
        for index, row in enumerate(rows):
            threshold, required, op, target, delta, mode, status, value, stored = row
            cid = f"c{index}"
            if threshold:
                criteria.append(
                    MetricThresholdCriterion(
                        criterion_id=cid,
                        required=required,
                        metric="metrics.m",
                        op=op,
                        target=target,
                        min_delta=delta,
                        min_delta_mode=mode,
                    )
                )
            else:
                criteria.append(EventCriterion(criterion_id=cid, required=required, event_name="e"))
                value = None
            statuses.append(status)
            values.append(value)
            if stored is not None:
                before[cid] = CriterionProgress(*stored)

        update = update_progress(criteria, statuses, values, before, counter, first_evaluated=first)

        progress, new_counter, after = _reference_progress(
            criteria, statuses, values, before, counter, first
        )
        assert (update.progress, update.counter, update.criterion_progress) == (
            progress,
            new_counter,
            after,
        )


class TestEvaluateNow:
    @settings(max_examples=300, deadline=None)
    @example(
        rows=[(True, ">=", 2.5, 1.0, (False, 1.0)), (False, "<", 0.0, 0.5, (False, 0.5))],
        counter=2,
        first=False,
    )  # quiet
    @example(
        rows=[(True, ">=", 2.5, 1.0, (False, 1.0)), (False, "<", 0.0, 0.5, (False, 1.0))],
        counter=2,
        first=False,
    )  # a best moves: not quiet
    @given(
        rows=st.lists(
            st.tuples(
                st.booleans(),  # required
                st.sampled_from(sorted(OPERATORS)),
                st.sampled_from((0.0, 1.0, 2.5)),  # target
                st.one_of(st.none(), st.sampled_from((0.5, 1.0, 2.0, 3, math.nan))),  # metric
                st.one_of(
                    st.none(),
                    st.tuples(st.booleans(), st.one_of(st.none(), st.sampled_from((0.5, 1.0)))),
                ),  # stored bookkeeping
            ),
            min_size=1,
            max_size=5,
        ),
        counter=st.integers(min_value=0, max_value=5),
        first=st.booleans(),
    )
    def test_progress_equals_the_plain_rule(
        self, rows: list[tuple[Any, ...]], counter: int, first: bool
    ) -> None:
        """
        The whole evaluation, quiet shortcut included, gives the statuses and progress of §6.6.

        Quiet iterations (only finite floats, none met, no best moved) skip the
        per-criterion progress pass: they must still count as no progress.
        """
        specs = []
        metrics: dict[str, Any] = {}
        before: dict[str, CriterionProgress] = {}
        for index, (required, op, target, metric, stored) in enumerate(rows):
            cid = f"c{index}"
            specs.append(
                {
                    "criterion_id": cid,
                    "kind": "metric_threshold",
                    "required": required,
                    "metric": f"metrics.m{index}",
                    "op": op,
                    "target": target,
                }
            )
            if metric is not None:
                metrics[f"m{index}"] = metric
            if stored is not None:
                before[cid] = CriterionProgress(*stored)
        mission = mk.Mission(tools={"t": dict}, clock=FakeClock())
        budget = {"max_iterations": 5, "max_wall_clock_seconds": -1}
        session = mission.start(
            directive="d", criteria=specs, budget=budget, tool_allowlist=["t"],
            stagnation_threshold=10,
        )  # fmt: skip
        ref = session._ref
        cache = ref.refresh()
        state = attrs.evolve(
            cache.header,
            criterion_progress=before,
            no_progress_counter=counter,
            last_checkpoint_at=None if first else NOW,
        )
        observation = Observation((), metrics, (), (), NOW, NOW)

        results, update = evaluate_now(ref.core, cache, state, observation)

        expected = [_reference_threshold(criterion, observation) for criterion in state.criteria]
        assert [r.status for r in results] == [e[0] for e in expected]
        assert all(_same(r.evidence, e[1]) for r, e in zip(results, expected, strict=True))
        progress, new_counter, after = _reference_progress(
            state.criteria, [e[0] for e in expected], [e[2] for e in expected], before, counter,
            first,
        )  # fmt: skip
        assert (update.progress, update.counter, update.criterion_progress) == (
            progress,
            new_counter,
            after,
        )
        plain = all(
            type(metrics.get(f"m{i}")) is float and math.isfinite(metrics[f"m{i}"])
            for i in range(len(rows))
        )
        if update.quiet:
            assert plain
            assert all(r.status == "unmet" for r in results)
        quiet_example = [r[3:] for r in rows] == [(1.0, (False, 1.0)), (0.5, (False, 0.5))]
        if quiet_example and not first:
            assert update.quiet  # the shortcut was really taken
