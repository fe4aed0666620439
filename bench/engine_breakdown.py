"""
Where a ``Session.step()`` spends its time, by ablation.

Run as ``python bench/engine_breakdown.py``. Each line replaces one part of
the step of ``bench/engine.py`` by a trivial stand-in and reports the median
step cost, so the difference to the baseline is what that part really costs
(profilers inflate small functions). The stand-ins reach into private modules
on purpose; this is a diagnostic, not an API.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).parent))

import engine as bench

import missionkit as mk
import missionkit._engine._fast as fast
import missionkit._engine._iteration as iteration_mod
import missionkit._engine.phases._execute as execute_mod
import missionkit._engine.phases._propose as propose_mod
from missionkit.models import Observation, Strategy, ToolCall, ToolCallRecord

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
RECORD = ToolCallRecord("noop", {}, "ok", {"type": "object", "bytes": 10, "keys": ["metrics"]}, 0)
STRATEGY = Strategy(tool_calls=(ToolCall("noop", {}),))


def measure(
    label: str, setup: Callable[[mk.Session], None] = lambda s: None, *, straight: bool = False
) -> float:
    """
    Median step cost after *setup* has replaced a part of the step.

    The general engine unless *straight*: then the straight-line iteration.
    """
    session = bench.make_session()
    ref: Any = session._ref
    ref.core = attrs.evolve(ref.core, fast_path=straight)
    setup(session)
    for _ in range(200):
        session.step()
    costs = []
    for _ in range(2000):
        start = time.perf_counter_ns()
        session.step()
        costs.append(time.perf_counter_ns() - start)
    median = statistics.median(costs) / 1000
    print(f"{label:44s} {median:6.1f} us/step")
    return median


def constant_clock(session: mk.Session) -> None:
    object.__setattr__(session._ref.core, "clock", lambda: NOW)


def no_store(session: mk.Session) -> None:
    session._ref.refresh()
    store: Any = session._ref.core.store
    store.save_session = lambda *args, **kwargs: None
    store.load_revision = lambda sid: session._ref.cache.header.revision  # type: ignore[union-attr]


async def fake_dispatch(*args: Any) -> Any:
    return RECORD, {"metrics": dict(bench.METRICS)}


def main() -> None:
    measure("baseline")
    measure("constant clock", constant_clock)
    measure("no store writes", no_store)
    saved: dict[str, Any] = {
        "dispatch": execute_mod.dispatch,
        "evaluate": iteration_mod.evaluate_criteria,
        "propose": propose_mod.propose_default,
    }
    execute_mod.dispatch = fake_dispatch  # type: ignore[assignment]
    measure("no tool dispatch")
    execute_mod.dispatch = saved["dispatch"]
    iteration_mod.evaluate_criteria = lambda env, started: None  # type: ignore[assignment]
    measure("no criteria evaluation")
    iteration_mod.evaluate_criteria = saved["evaluate"]
    propose_mod.propose_default = lambda *args: STRATEGY  # type: ignore[assignment]
    measure("fixed default strategy")
    propose_mod.propose_default = saved["propose"]
    print()
    straight_line()


def straight_line() -> None:
    """
    The same ablations on the straight-line iteration (its module-level names).
    """
    measure("straight line, nothing replaced", straight=True)
    saved = dict(vars(fast))
    computed: dict[str, Any] = {}

    def evaluated_once(core: Any, cache: Any, state: Any, observation: Any) -> Any:
        if "result" not in computed:
            computed["result"] = saved["evaluate_now"](core, cache, state, observation)
        return computed["result"]

    def observed(records: Any, values: Any, limit: int, started: Any, clock: Any) -> Any:
        # The tool's metrics in a constant shape: no annotation, no merge.
        return Observation(({},), values[0]["metrics"], (), (), started, clock())

    def call_recorded(name: str, args: Any, started: Any, ended: Any, value: Any) -> Any:
        return RECORD, value

    stand_ins = {
        "evaluate_now": ("no criteria evaluation", evaluated_once),
        "propose_default": ("a fixed default strategy", lambda *args: STRATEGY),
        "observe_calls": ("a fixed observation", observed),
        "call_succeeded": ("no result copy or summary", call_recorded),
        "_steady": ("no cascade checks", lambda *args: True),
    }
    for name, (label, stand_in) in stand_ins.items():
        setattr(fast, name, stand_in)
        measure(f"straight line, {label}", straight=True)
        setattr(fast, name, saved[name])


if __name__ == "__main__":
    main()
