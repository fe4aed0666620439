"""
Per-iteration overhead of ``Session.step()``.

Run as ``python bench/engine.py``.  One session steps a no-op tool returning
five metrics, evaluated by five ``metric_threshold`` criteria that never
complete (MemoryStore, no sinks, FakeClock, uncapped budget, a stagnation
threshold too high to matter).  Each engine step is timed next to one
iteration of a hand-written loop doing the same work (call the tool, merge
its metrics, compare five thresholds), so both see the same machine state.

Reported: the median engine/hand-loop ratio, and the median step cost in a
window around iteration ~50 against a window around iteration ~5,000.
"""

from __future__ import annotations

import gc
import operator
import platform
import statistics
import sys
import time
from typing import Any

import missionkit as mk
from missionkit.store import MemoryStore
from missionkit.testing import FakeClock

N_METRICS = 5
STEPS = 5_100
WINDOW = 50
EARLY = 50
LATE = 5_000
HAND_REPEAT = 20

METRICS = {f"m{i}": 1.0 for i in range(N_METRICS)}


def noop() -> dict[str, Any]:
    """
    The benchmark tool: five constant metrics.
    """
    return {"metrics": dict(METRICS)}


def failing() -> dict[str, Any]:
    """
    A tool that never succeeds (the history then holds no success to re-run).
    """
    raise RuntimeError("down")


def make_session(tool: Any = noop) -> mk.Session:
    """
    A session that never terminates.
    """
    mission = mk.Mission(tools={"noop": tool}, store=MemoryStore(), clock=FakeClock())
    criteria = [
        {
            "criterion_id": f"c{i}",
            "kind": "metric_threshold",
            "required": True,
            "metric": f"metrics.m{i}",
            "op": ">=",
            "target": 2.0,
        }
        for i in range(N_METRICS)
    ]
    return mission.start(
        directive="benchmark",
        criteria=criteria,
        budget={"max_iterations": -1, "max_wall_clock_seconds": -1},
        tool_allowlist=["noop"],
        stagnation_threshold=10**9,
        session_id="mission-bench",
    )


THRESHOLDS = [(f"m{i}", operator.ge, 2.0) for i in range(N_METRICS)]


def hand_iteration(merged: dict[str, Any]) -> bool:
    """
    What a host would write by hand: call, merge, compare.
    """
    result = noop()
    merged.update(result["metrics"])
    return all(op(merged[key], target) for key, op, target in THRESHOLDS)


def main() -> None:
    session = make_session()
    merged: dict[str, Any] = {}
    engine_ns: list[int] = []
    hand_ns: list[int] = []
    clock = time.perf_counter_ns
    gc.collect()
    for _ in range(STEPS):
        t0 = clock()
        session.step()
        t1 = clock()
        for _ in range(HAND_REPEAT):
            hand_iteration(merged)
        t2 = clock()
        engine_ns.append(t1 - t0)
        hand_ns.append((t2 - t1) // HAND_REPEAT)

    def window(values: list[int], centre: int) -> float:
        half = WINDOW // 2
        return statistics.median(values[centre - half : centre + half])

    early, late = window(engine_ns, EARLY), window(engine_ns, LATE)
    hand = statistics.median(hand_ns)
    ratio = statistics.median(e / max(h, 1) for e, h in zip(engine_ns, hand_ns, strict=True))
    print(f"Python {platform.python_version()} on {platform.machine()} {sys.platform}")
    print(f"steps: {STEPS}; windows of {WINDOW} steps")
    print(f"hand loop median:        {hand / 1000:8.2f} us/iteration")
    print(f"engine median (all):     {statistics.median(engine_ns) / 1000:8.2f} us/step")
    print(f"engine median @~{EARLY}:     {early / 1000:8.2f} us/step")
    print(f"engine median @~{LATE}:   {late / 1000:8.2f} us/step")
    print(f"engine / hand loop:      {ratio:8.1f}x   (target <= 30x)")
    print(f"late / early:            {late / early:8.2f}x   (target <= 1.2x)")
    failing_early, failing_late = late_over_early(make_session(failing))
    print(
        f"failing tool late/early: {failing_late / failing_early:8.2f}x   (same session, tool always raising)"
    )


def late_over_early(session: mk.Session) -> tuple[float, float]:
    """
    Median step cost around iteration ~50 and ~5,000 of *session*.
    """
    clock = time.perf_counter_ns
    costs = []
    for _ in range(LATE + WINDOW):
        t0 = clock()
        session.step()
        costs.append(clock() - t0)
    half = WINDOW // 2
    return (
        statistics.median(costs[EARLY - half : EARLY + half]),
        statistics.median(costs[LATE - half : LATE + half]),
    )


if __name__ == "__main__":
    main()
