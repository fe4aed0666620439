"""
Lower bounds for ``Session.step()`` under the data model of SPEC §3 and §6.

Run as ``python bench/engine_floor.py``. Next to the hand-written loop of
``bench/engine.py`` and a real ``session.step()``, interleaved in one run,
this times three floors for the same scenario and the general engine:

- **records**: only the objects one step must produce (five phase records, a
  strategy, a call record, an observation, five criterion results, the
  iteration, the new session header) and its 17 clock reads, built with the
  engine's trusted constructors;
- **hand-inlined**: one hand-inlined iteration of exactly this scenario that
  also calls the tool, copies and sizes its result, annotates the entry,
  merges the metrics, compares the thresholds and appends to a store, but
  skips every decision the engine takes (gate and compare-and-swap,
  default-proposer rules, cadence, progress, cascade) and every indirection
  (phases, runtime, store protocol);
- **components only**: the engine's own pieces (refresh, default proposer,
  result copy and summary, annotation, compiled evaluators, progress, cascade,
  compare-and-swap commit) called one after the other for this scenario, with
  none of the engine's structure (no phases, runtime, draft or failure
  handling);
- **general engine**: ``session.step()`` with the straight-line iteration
  (``missionkit._engine._fast``) turned off.

No engine can go below the hand-inlined iteration without changing the data
model; the components-only step shows what the spec's decisions cost when
written as functions. ``session.step()`` takes the straight line here; the
general engine's extra cost over it is its structure (phases, runtime, draft).
"""

from __future__ import annotations

import operator
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).parent))

import engine as bench

from missionkit._engine._cascade import decide
from missionkit._engine._iteration import _running_header
from missionkit._engine._observation import ObservationBuilder, result_summary
from missionkit._engine._progress import update_progress
from missionkit._engine.criteria import EvaluationInput
from missionkit._jsonsafe import compact_json, to_json_data
from missionkit._models._trusted import trusted_constructor
from missionkit.models import (
    CriterionResult,
    Iteration,
    Observation,
    PhaseRecord,
    SessionState,
    Strategy,
    ToolCall,
    ToolCallRecord,
)
from missionkit.proposers._default import propose_default
from missionkit.testing import FakeClock

STEPS = 5_000
PHASES = ("propose", "execute", "observe", "evaluate", "decide")
CLOCK_READS = 17
THRESHOLDS = [(f"c{i}", f"m{i}", operator.ge, 2.0) for i in range(bench.N_METRICS)]
RATIONALE = "deterministic fallback: re-run noop with prior args"

new_phase = trusted_constructor(PhaseRecord)
new_result = trusted_constructor(CriterionResult)
new_record = trusted_constructor(ToolCallRecord)
new_observation = trusted_constructor(Observation)
new_iteration = trusted_constructor(Iteration)
new_strategy = trusted_constructor(Strategy)
new_call = trusted_constructor(ToolCall)
next_header = _running_header  # the engine's own header evolver


def records_only(clock: FakeClock, header: SessionState) -> Callable[[], object]:
    """
    Build what one step must produce, and nothing else.
    """

    def step() -> object:
        reads = [clock() for _ in range(CLOCK_READS)]
        now = reads[0]
        phases = tuple(new_phase(p, "succeeded", now, now, None) for p in PHASES)
        strategy = new_strategy((new_call("noop", {}),), None, RATIONALE, None)
        summary = {"type": "object", "bytes": 58, "keys": ["metrics"]}
        record = new_record("noop", {}, "ok", summary, 0, None)
        observation = new_observation(({},), {}, (), (), now, now)
        results = tuple(new_result(cid, "unmet", 1.0, now) for cid, *_ in THRESHOLDS)
        iteration = new_iteration(
            1, "succeeded", now, now, phases, strategy, "default", (record,), None, None,
            None, observation, results, True, False, 0, "continue", "in_progress", None,
            None, None, None, None,
        )  # fmt: skip
        state = next_header(header, header.revision + 1, "running", 0, {}, now, None, now)
        return iteration, state

    return step


def hand_inlined(clock: FakeClock, header: SessionState) -> Callable[[], object]:
    """
    One hand-inlined iteration of the benchmark scenario (no decisions, no indirection).
    """
    lock = threading.Lock()
    stored: list[Iteration] = []
    state = [header]

    def step() -> object:
        with lock:
            current = state[0]
        started = clock()
        phases = []
        t0 = clock()
        strategy = new_strategy((new_call("noop", {}),), None, RATIONALE, None)
        phases.append(new_phase("propose", "succeeded", t0, clock(), None))
        t0 = clock()
        call_started = clock()
        safe = to_json_data(bench.noop())
        call_ended = clock()
        summary = {
            "type": "object",
            "bytes": len(compact_json(safe).encode("utf-8", "surrogatepass")),
            "keys": list(safe),
        }
        duration = (call_ended - call_started).microseconds // 1000
        record = new_record("noop", {}, "ok", summary, duration, None)
        phases.append(new_phase("execute", "succeeded", t0, clock(), None))
        t0 = clock()
        entry = dict(safe)
        entry["_status"] = "ok"
        entry["tool_name"] = "noop"
        metrics = dict(safe["metrics"])
        observation = new_observation((entry,), metrics, (), (), t0, clock())
        phases.append(new_phase("observe", "succeeded", t0, clock(), None))
        t0 = clock()
        evaluated_at = clock()
        results = []
        for cid, key, op, target in THRESHOLDS:
            value = metrics[key]
            results.append(
                new_result(cid, "met" if op(value, target) else "unmet", value, evaluated_at)
            )
        phases.append(new_phase("evaluate", "succeeded", t0, clock(), None))
        t0 = clock()
        clock()
        phases.append(new_phase("decide", "succeeded", t0, clock(), None))
        ended = clock()
        iteration = new_iteration(
            len(stored), "succeeded", started, ended, tuple(phases), strategy, "default",
            (record,), None, None, None, observation, tuple(results), True, False, 0,
            "continue", "in_progress", None, None, None, None, None,
        )  # fmt: skip
        new_state = next_header(
            current, current.revision + 1, "running", 0, current.criterion_progress,
            evaluated_at, None, ended,
        )  # fmt: skip
        with lock:
            state[0] = new_state
            stored.append(iteration)
        return iteration

    return step


def components_only(session: Any) -> Callable[[], object]:
    """
    The engine's components in sequence for this scenario, without its structure.
    """
    ref = session._ref
    core = ref.core
    clock = core.clock
    limit = core.limits.tool_result_bytes

    def step() -> object:
        cache = ref.refresh()
        state = cache.header
        now = clock()
        runnable = cache.runnable(core, state.tool_allowlist)
        stored = cache.iterations
        index = len(stored)
        phases = []
        t0 = clock()
        adjust = bool(stored) and stored[-1].verdict == "adjust"
        latest = stored[-1] if stored else None
        strategy = propose_default(cache.history, latest, runnable, index, adjust)
        phases.append(new_phase("propose", "succeeded", t0, clock(), None))
        t0 = clock()
        records, values = [], []
        for call in strategy.tool_calls or ():
            record_args = to_json_data(call.args) if call.args else {}
            func = core.tools[call.tool_name].func
            call_started = clock()
            safe = to_json_data(func(**(to_json_data(call.args) if call.args else {})))
            duration = (clock() - call_started).microseconds // 1000
            summary = result_summary(safe)
            records.append(new_record(call.tool_name, record_args, "ok", summary, duration, None))
            values.append(safe)
        phases.append(new_phase("execute", "succeeded", t0, clock(), None))
        t0 = clock()
        builder = ObservationBuilder(limit, t0)
        for record, value in zip(records, values, strict=True):
            builder.add_call(record, value)
        observation = builder.build(clock())
        phases.append(new_phase("observe", "succeeded", t0, clock(), None))
        t0 = clock()
        evaluated_at = clock()
        data = EvaluationInput(observation, cache.view)
        results, statuses, progress_values = [], [], []
        for cid, run, _ in cache.evaluators(state.criteria):
            status, evidence, value = run(data)
            results.append(new_result(cid, status, evidence, evaluated_at))
            statuses.append(status)
            progress_values.append(value)
        update = update_progress(
            state.criteria, statuses, progress_values, state.criterion_progress,
            state.no_progress_counter, first_evaluated=state.last_checkpoint_at is None,
        )  # fmt: skip
        phases.append(new_phase("evaluate", "succeeded", t0, clock(), None))
        t0 = clock()
        undecided = new_iteration(
            index, "succeeded", now, now, (), strategy, "default", tuple(records), None, None,
            None, observation, tuple(results), True, update.progress, update.counter, None, None,
            None, None, None, None, None,
        )  # fmt: skip
        verdict = decide(state, undecided, clock(), stored=stored)
        phases.append(new_phase("decide", "succeeded", t0, clock(), None))
        ended = clock()
        iteration = new_iteration(
            index, "succeeded", now, ended, tuple(phases), strategy, "default", tuple(records),
            None, None, None, observation, tuple(results), True, update.progress, update.counter,
            verdict.label, verdict.reason, None, None, None, None, None,
        )  # fmt: skip
        header = next_header(
            state, state.revision + 1, "running", update.counter, update.criterion_progress,
            evaluated_at, None, ended,
        )  # fmt: skip
        ref.commit(cache, header, (iteration,), None)
        return iteration

    return step


def main() -> None:
    session = bench.make_session()
    session.step()
    header = session.state.header()
    clock = FakeClock()
    other = bench.make_session()
    other.step()
    general = bench.make_session()
    ref: Any = general._ref
    ref.core = attrs.evolve(ref.core, fast_path=False)
    general.step()
    candidates: dict[str, Callable[[], Any]] = {
        "records only": records_only(clock, header),
        "hand-inlined": hand_inlined(clock, header),
        "components only": components_only(other),
        "general engine": general.step,
        "session.step()": session.step,
    }
    costs: dict[str, list[int]] = {name: [] for name in candidates}
    hand: list[float] = []
    merged: dict[str, Any] = {}
    pc = time.perf_counter_ns
    for _ in range(STEPS):
        for name, run in candidates.items():
            t0 = pc()
            run()
            costs[name].append(pc() - t0)
        t0 = pc()
        for _ in range(bench.HAND_REPEAT):
            bench.hand_iteration(merged)
        hand.append((pc() - t0) / bench.HAND_REPEAT)
    baseline = statistics.median(hand)
    print(f"hand loop:         {baseline / 1000:6.2f} us/iteration")
    for name, values in costs.items():
        median = statistics.median(values)
        print(f"{name + ':':18s} {median / 1000:6.2f} us/step  {median / baseline:5.1f}x")


if __name__ == "__main__":
    main()
