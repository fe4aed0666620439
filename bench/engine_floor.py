"""
The least a spec-conformant ``Session.step()`` can cost: its mandatory records.

Run as ``python bench/engine_floor.py``. SPEC §3 requires every record to be a
frozen attrs instance and SPEC §6 fixes which records one iteration produces
and how often it reads the clock. This script builds exactly those objects for
the scenario of ``bench/engine.py`` (13 clock reads, five phase records, a
strategy, a call record, an observation, five criterion results, the
iteration and a new session header) and nothing else, next to the same
hand-written loop, so the ratio is a lower bound for any implementation of
that data model on this interpreter.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import engine as bench

from missionkit._engine._evolve import evolve_state
from missionkit.models import (
    CriterionResult,
    Iteration,
    Observation,
    PhaseRecord,
    Strategy,
    ToolCall,
    ToolCallRecord,
)
from missionkit.testing import FakeClock

PHASES = ("propose", "execute", "observe", "evaluate", "decide")


def main() -> None:
    session = bench.make_session()
    session.step()
    header = session.state
    clock = FakeClock()

    def records() -> object:
        reads = [clock() for _ in range(13)]
        now = reads[0]
        phases = tuple(PhaseRecord(p, "succeeded", now, now) for p in PHASES)  # type: ignore[arg-type]
        strategy = Strategy(tool_calls=(ToolCall("noop", {}),))
        record = ToolCallRecord("noop", {}, "ok", {"type": "object", "bytes": 10}, 0)
        observation = Observation(({},), {}, (), (), now, now)
        results = tuple(
            CriterionResult(f"c{i}", "unmet", 1.0, now) for i in range(bench.N_METRICS)
        )
        iteration = Iteration(
            iteration_index=1,
            status="succeeded",
            started_at=now,
            ended_at=now,
            phases=phases,
            strategy=strategy,
            strategy_source="default",
            tool_calls=(record,),
            observation=observation,
            criteria_evaluation=results,
            checkpoint_evaluated=True,
            verdict="continue",
            verdict_reason="in_progress",
        )
        return iteration, evolve_state(header, revision=header.revision + 1, updated_at=now)

    merged: dict[str, object] = {}
    floor_ns, hand_ns = [], []
    for _ in range(5000):
        t0 = time.perf_counter_ns()
        records()
        t1 = time.perf_counter_ns()
        for _ in range(bench.HAND_REPEAT):
            bench.hand_iteration(merged)  # type: ignore[arg-type]
        t2 = time.perf_counter_ns()
        floor_ns.append(t1 - t0)
        hand_ns.append((t2 - t1) // bench.HAND_REPEAT)
    floor, hand = statistics.median(floor_ns), statistics.median(hand_ns)
    print(f"mandatory records + clock reads: {floor / 1000:6.2f} us/step")
    print(f"hand loop:                       {hand / 1000:6.2f} us/iteration")
    print(f"floor / hand loop:               {floor / hand:6.1f}x")


if __name__ == "__main__":
    main()
