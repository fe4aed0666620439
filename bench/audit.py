"""
Per-event cost of audit emission.

Run as ``python bench/audit.py``.  Every figure is the best of several rounds,
in nanoseconds per event, with its ratio to an in-run baseline (appending a
prebuilt dict to a bounded deque).  "deliver" rows use freshly built events
whose JSON form has not been computed yet, so they include ``to_dict()``;
"build+deliver" rows also include constructing the event.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from missionkit.audit import JsonlSink, PhaseEvent, RingBufferSink, VerdictEvent
from missionkit.audit._dispatch import deliver

N = 20_000
ROUNDS = 7
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2025, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2025, 1, 1, 0, 0, 1, 500, tzinfo=dt.UTC)


def build_phase(i: int) -> PhaseEvent:
    return PhaseEvent(
        mission_session_id="bench-session",
        iteration_index=i,
        phase="execute",
        phase_status="succeeded",
        phase_started_at=T0,
        phase_ended_at=T1,
        timestamp=T2,
    )


def build_verdict(i: int) -> VerdictEvent:
    return VerdictEvent(
        mission_session_id="bench-session",
        iteration_index=i,
        verdict="continue",
        verdict_reason="in_progress",
        timestamp=T1,
    )


def best_ns_per_event(setup: Callable[[], Any], run: Callable[[Any], None]) -> float:
    """
    Return the best per-event time over ``ROUNDS`` runs of ``run(setup())``.
    """
    best = float("inf")
    for _ in range(ROUNDS):
        state = setup()
        start = time.perf_counter_ns()
        run(state)
        elapsed = time.perf_counter_ns() - start
        best = min(best, elapsed / N)
    return best


def main() -> None:
    logger = logging.getLogger("missionkit")
    rows: list[tuple[str, float]] = []
    tmp = tempfile.mkdtemp(prefix="missionkit-bench-")
    path = os.path.join(tmp, "audit.jsonl")

    prebuilt = build_phase(0).to_dict()

    def baseline(_: Any) -> None:
        buffer: collections.deque[dict[str, Any]] = collections.deque(maxlen=5000)
        append = buffer.append
        for _ in range(N):
            append(prebuilt)

    rows.append(
        ("baseline: deque.append(prebuilt dict)", best_ns_per_event(lambda: None, baseline))
    )

    for name, build in (("PhaseEvent", build_phase), ("VerdictEvent", build_verdict)):

        def fresh(build: Callable[[int], Any] = build) -> list[Any]:
            return [build(i) for i in range(N)]

        def construct(_: Any, build: Callable[[int], Any] = build) -> None:
            for i in range(N):
                build(i)

        def to_dict_first(events: list[Any]) -> None:
            for event in events:
                event.to_dict()

        def ring_deliver(events: list[Any]) -> None:
            sink = RingBufferSink()
            for event in events:
                sink(event)

        def ring_build_deliver(_: Any, build: Callable[[int], Any] = build) -> None:
            sink = RingBufferSink()
            for i in range(N):
                sink(build(i))

        def jsonl_deliver(events: list[Any]) -> None:
            with JsonlSink(path) as sink:
                for event in events:
                    sink(event)
            os.remove(path)

        def jsonl_build_deliver(_: Any, build: Callable[[int], Any] = build) -> None:
            with JsonlSink(path) as sink:
                for i in range(N):
                    sink(build(i))
            os.remove(path)

        def dispatch_ring(events: list[Any]) -> None:
            sinks = [RingBufferSink()]
            for event in events:
                deliver(sinks, event, logger)

        def dispatch_both(events: list[Any]) -> None:
            with JsonlSink(path) as jsonl:
                sinks = [RingBufferSink(), jsonl]
                for event in events:
                    deliver(sinks, event, logger)
            os.remove(path)

        rows += [
            (f"{name}: construct only", best_ns_per_event(lambda: None, construct)),
            (f"{name}: first to_dict()", best_ns_per_event(fresh, to_dict_first)),
            (f"{name}: RingBufferSink deliver", best_ns_per_event(fresh, ring_deliver)),
            (
                f"{name}: RingBufferSink build+deliver",
                best_ns_per_event(lambda: None, ring_build_deliver),
            ),
            (f"{name}: JsonlSink deliver (fsync off)", best_ns_per_event(fresh, jsonl_deliver)),
            (
                f"{name}: JsonlSink build+deliver (fsync off)",
                best_ns_per_event(lambda: None, jsonl_build_deliver),
            ),
            (f"{name}: deliver() to [ring]", best_ns_per_event(fresh, dispatch_ring)),
            (f"{name}: deliver() to [ring, jsonl]", best_ns_per_event(fresh, dispatch_both)),
        ]
    os.rmdir(tmp)

    base = rows[0][1]
    print(f"Python {sys.version.split()[0]} on {platform.machine()} {platform.system()}")
    print(f"{N} events per round, best of {ROUNDS} rounds")
    print(f"{'case':<48} {'ns/event':>10} {'x baseline':>11}")
    for label, ns in rows:
        print(f"{label:<48} {ns:>10.0f} {ns / base:>11.1f}")


if __name__ == "__main__":
    main()
