"""
The straight-line iteration (``missionkit._engine._fast``) against the general engine.

Every generated mission runs twice, once with the straight line allowed and
once without, on a ticking clock that may also fail at a chosen read. The two
runs must agree on every step's outcome (iteration or error), on the stored
session and on the report: the shortcut may only be faster, never different.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import missionkit as mk
import missionkit._engine._fast as fast
from missionkit._engine import _iteration
from missionkit.store import JsonDirStore, MemoryStore, SQLiteStore
from missionkit.testing import FakeClock

TOOLS = ("alpha", "beta", "gamma")
KEYS = ("a", "b", "c")


class ClockFailure(Exception):
    """
    Raised by `FailingClock` at its chosen read.
    """


class FailingClock:
    """
    A ticking `FakeClock` that raises `ClockFailure` at read *fail_at* once armed.
    """

    def __init__(self, step: float, fail_at: int | None) -> None:
        self._clock = FakeClock(step=step)
        self._fail_at = fail_at
        self.reads = 0
        self.armed = False

    def __call__(self) -> Any:
        if self.armed:
            self.reads += 1
            if self.reads == self._fail_at:
                raise ClockFailure(f"clock read {self.reads}")
        return self._clock()


metric_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(-4, 4),
    st.booleans(),
    st.sampled_from(["x", "", 2**70, None, [1.0, 2.0]]),
)
metrics = st.dictionaries(st.sampled_from(KEYS), metric_values, max_size=3)


async def _resolved(value: Any) -> Any:
    return value


outcomes = st.one_of(
    metrics.map(lambda m: ("value", {"metrics": m})),
    metrics.map(lambda m: ("value", {"metrics": m})),
    metrics.map(lambda m: ("value", {"metrics": m})),
    metrics.map(lambda m: ("value", {"metrics": m, "events": [{"seen": 1}, "dropped"]})),
    metrics.map(lambda m: ("value", {"_status": "failed", "tool_name": "beta", "metrics": m})),
    metrics.map(lambda m: ("awaitable", {"metrics": m})),
    st.sampled_from(
        [
            ("value", None),
            ("value", [1, 2, 3]),
            ("value", "text"),
            ("value", {1, 2}),
            ("value", {"metrics": "not a dict"}),
            ("raise", "ValueError: boom"),
            ("raise", "KeyError"),
        ]
    ),
)


def make_tool(script: list[tuple[str, Any]]) -> Callable[..., Any]:
    """
    A tool replaying *script* cyclically (a fresh, independent copy per call of this).
    """
    calls = [0]

    def tool(**kwargs: Any) -> Any:
        kind, value = script[calls[0] % len(script)]
        calls[0] += 1
        if kind == "raise":
            raise ValueError(value)
        if kind == "awaitable":
            return _resolved(value)
        return json.loads(json.dumps(value)) if isinstance(value, dict) else value

    return tool


criterion = st.fixed_dictionaries(
    {
        "kind": st.just("metric_threshold"),
        "metric": st.sampled_from(["metrics.a", "metrics.b", "metrics.c", "tool_results.0.x"]),
        "op": st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
        "target": st.sampled_from([0.0, 1.0, 2.5, -1.0, 100.0, 100.0]),
        "required": st.sampled_from([True, True, False]),
        "on_non_finite": st.sampled_from(["inconclusive", "unmet", "terminate"]),
        "min_delta": st.sampled_from([0.0, 0.5]),
        "min_delta_mode": st.sampled_from(["abs", "rel"]),
    }
)


@attrs.frozen
class Scenario:
    scripts: dict[str, list[tuple[str, Any]]]
    criteria: list[dict[str, Any]]
    allowlist: list[str]
    max_iterations: int
    stagnation: int
    clock_step: float
    fail_at: int | None
    tool_timeouts: dict[str, float]
    extra_criterion: bool
    steps: int
    use_run: bool


scenarios = st.builds(
    Scenario,
    scripts=st.fixed_dictionaries(
        {name: st.lists(outcomes, min_size=1, max_size=4) for name in TOOLS}
    ),
    criteria=st.lists(criterion, min_size=1, max_size=3),
    allowlist=st.lists(st.sampled_from([*TOOLS, "outside"]), min_size=1, max_size=3, unique=True),
    max_iterations=st.sampled_from([-1, -1, 1, 2, 4, 7, 20]),
    stagnation=st.integers(1, 12),
    clock_step=st.sampled_from([0.0, 0.25, 1.5]),
    # Armed after the start: the first step reads the clock about 17 times.
    fail_at=st.none() | st.integers(1, 200) | st.integers(18, 70),
    tool_timeouts=st.sampled_from([{}, {}, {}, {}, {"beta": 30.0}]),
    extra_criterion=st.sampled_from([False] * 5 + [True]),
    steps=st.integers(1, 12),
    use_run=st.booleans(),
)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def play(scenario: Scenario, *, straight: bool, store: Any = None) -> list[Any]:
    """
    Run *scenario* (on a fresh MemoryStore unless *store*); return every observable outcome.
    """
    clock = FailingClock(scenario.clock_step, scenario.fail_at)
    tools = [
        mk.Tool(
            make_tool(scenario.scripts[name]), name=name, timeout=scenario.tool_timeouts.get(name)
        )
        for name in TOOLS
    ]
    tools.append(mk.Tool(name="outside"))  # external: allowlisted, never runnable
    mission = mk.Mission(tools=tools, store=store or MemoryStore(), clock=clock)
    mission._core = attrs.evolve(mission._core, fast_path=straight)
    criteria = [dict(c, criterion_id=f"c{i}") for i, c in enumerate(scenario.criteria)]
    if scenario.extra_criterion:
        criteria.append(
            {
                "criterion_id": "any",
                "kind": "tool_call_succeeded",
                "required": False,
                "tool_name": "alpha",
            }
        )
    session = mission.start(
        directive="differential",
        criteria=criteria,
        budget={"max_iterations": scenario.max_iterations, "max_wall_clock_seconds": -1},
        tool_allowlist=scenario.allowlist,
        stagnation_threshold=scenario.stagnation,
        session_id="mission-differential",
    )
    clock.armed = True
    seen: list[Any] = []
    for _ in range(scenario.steps):
        try:
            if scenario.use_run:
                report = session.run(max_iterations=2)
                seen.append(("run", _json(report.to_dict() if report is not None else None)))
            else:
                seen.append(("step", _json(session.step().to_dict())))
        except Exception as exc:  # every error is an outcome to compare
            seen.append(("error", type(exc).__name__, str(exc), getattr(exc, "__notes__", None)))
    clock.armed = False
    stored = mission.session("mission-differential")
    seen.append(("state", _json(stored.state.to_dict())))
    report = stored.report()
    seen.append(("report", _json(report.to_dict() if report is not None else None)))
    seen.append(("clock reads", clock.reads))
    return seen


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios)
def test_straight_line_equals_general_engine(scenario: Scenario) -> None:
    """
    Same outcomes, state, report and number of clock reads with and without the shortcut.
    """
    assert play(scenario, straight=True) == play(scenario, straight=False)


@pytest.mark.parametrize("kind", ["sqlite", "jsondir"])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios)
def test_durable_stores_agree(kind: str, scenario: Scenario) -> None:
    """
    The straight line saves through the store protocol: durable stores see the same sessions.
    """
    outcomes = []
    for straight in (True, False):
        with tempfile.TemporaryDirectory() as root:
            store = SQLiteStore(Path(root) / "s.db") if kind == "sqlite" else JsonDirStore(root)
            try:
                outcomes.append(play(scenario, straight=straight, store=store))
            finally:
                close = getattr(store, "close", None)
                if close is not None:
                    close()
    assert outcomes[0] == outcomes[1]


# ------------------------------------------------------------ it is really taken


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """
    Count general-engine steps and straight-line hand-overs.
    """
    counts = {"general": 0, "straight": 0, "fail": 0, "finish": 0}
    general = _iteration.step_iteration
    iterate = fast._iterate
    fail = fast._fail_over
    finish = fast._finish_over

    async def counted_general(*args: Any) -> Any:
        counts["general"] += 1
        return await general(*args)

    def counted_iterate(*args: Any) -> Any:
        counts["straight"] += 1
        return iterate(*args)

    def counted_fail(*args: Any) -> Any:
        counts["fail"] += 1
        return fail(*args)

    def counted_finish(*args: Any) -> Any:
        counts["finish"] += 1
        return finish(*args)

    monkeypatch.setattr(_iteration, "step_iteration", counted_general)
    monkeypatch.setattr(fast, "_iterate", counted_iterate)
    monkeypatch.setattr(fast, "_fail_over", counted_fail)
    monkeypatch.setattr(fast, "_finish_over", counted_finish)
    return counts


def _mission(tool: Callable[..., Any], **kwargs: Any) -> mk.Mission:
    return mk.Mission(tools={"probe": tool}, store=MemoryStore(), clock=FakeClock(step=1), **kwargs)


def _start(mission: mk.Mission, **kwargs: Any) -> mk.Session:
    spec: dict[str, Any] = {
        "directive": "reach 3",
        "criteria": [
            {
                "criterion_id": "x",
                "kind": "metric_threshold",
                "required": True,
                "metric": "metrics.x",
                "op": ">=",
                "target": 3,
            }
        ],
        "budget": {"max_iterations": 10, "max_wall_clock_seconds": -1},
        "tool_allowlist": ["probe"],
        "stagnation_threshold": 100,
    }
    spec.update(kwargs)
    return mission.start(**spec)


def counter_tool() -> Callable[[], dict[str, Any]]:
    calls = [0]

    def probe() -> dict[str, Any]:
        calls[0] += 1
        return {"metrics": {"x": calls[0]}}

    return probe


def test_steady_steps_take_the_straight_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    After the first iteration, steps of the common configuration never reach the general engine;
    the completing one hands over to it for the report.
    """
    counts = _counting(monkeypatch)
    session = _start(_mission(counter_tool()))
    verdicts = [session.step().verdict for _ in range(3)]
    assert verdicts == ["continue", "continue", "complete"]
    assert counts == {"general": 1, "straight": 2, "fail": 0, "finish": 1}
    assert session.report() is not None


def test_run_takes_the_straight_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    ``Session.run`` on the sync runtime takes the straight line too.
    """
    counts = _counting(monkeypatch)
    report = _start(_mission(counter_tool())).run()
    assert report is not None and report.final_verdict_reason == "criteria_met"
    assert counts["straight"] == 2 and counts["general"] == 1


def test_failed_phase_hands_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    A clock failing inside the observe phase of a straight-line step fails the
    iteration through the general engine's failure path.
    """
    counts = _counting(monkeypatch)
    clock = FailingClock(1.0, None)
    mission = mk.Mission(
        tools={"probe": lambda: {"metrics": {"x": 0}}}, store=MemoryStore(), clock=clock
    )
    session = _start(mission, budget={"max_iterations": -1, "max_wall_clock_seconds": -1})
    clock.armed = True
    session.step()
    session.step()
    per_step = clock.reads // 2
    # Reads of one iteration: start, propose ×2, execute ×4, then observe's start
    # and the observation's end time (the 9th read, inside the phase).
    clock._fail_at = clock.reads + 9
    with pytest.raises(ClockFailure):
        session.step()
    assert per_step == 17
    assert counts == {"general": 1, "straight": 2, "fail": 1, "finish": 0}
    failed = session.state.iterations[-1]
    assert session.state.status == "failed" and failed.status == "failed"
    assert [(p.phase, p.status) for p in failed.phases][-1] == ("observe", "failed")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sinks": [lambda event: None]},
        {"tool_timeout": 5.0},
        {"proposer": lambda ctx: None},
    ],
)
def test_other_configurations_use_the_general_engine(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any]
) -> None:
    """
    Sinks, timeouts and custom proposers are general-engine territory.
    """
    counts = _counting(monkeypatch)
    session = _start(_mission(counter_tool(), **kwargs))
    for _ in range(3):
        session.step()
    assert counts["straight"] == 0 and counts["general"] == 3


def test_optional_criteria_only_use_the_general_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    With no required criterion the first evaluation completes: the straight line is not taken.
    """
    counts = _counting(monkeypatch)
    optional = {
        "criterion_id": "x", "kind": "metric_threshold", "required": False,
        "metric": "metrics.x", "op": ">=", "target": 100,
    }  # fmt: skip
    session = _start(_mission(counter_tool()), criteria=[optional])
    assert session.step().verdict == "complete"
    assert counts["straight"] == 0


def test_a_second_handle_sees_the_configuration_of_the_stored_header(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """
    Handles alternating on one durable session reload the header (new
    configuration objects) on every step: each re-decides, and both stay on
    the straight line.
    """
    counts = _counting(monkeypatch)
    store = SQLiteStore(tmp_path / "s.db")
    mission = mk.Mission(tools={"probe": counter_tool()}, store=store, clock=FakeClock(step=1))
    far = {
        "criterion_id": "x", "kind": "metric_threshold", "required": True,
        "metric": "metrics.x", "op": ">=", "target": 100,
    }  # fmt: skip
    unbounded = {"max_iterations": -1, "max_wall_clock_seconds": -1}
    first = _start(mission, criteria=[far], budget=unbounded)
    first.step()
    second = mission.session(first.id)
    for _ in range(3):
        second.step()
        first.step()
    assert counts["general"] == 1 and counts["straight"] == 6
    assert [i.iteration_index for i in first.state.iterations] == list(range(7))
    mission.close()


class CountingStore(MemoryStore):
    """
    A MemoryStore counting revision reads (one per gate).
    """

    def __init__(self) -> None:
        super().__init__()
        self.revision_reads = 0

    def load_revision(self, session_id: str) -> int | None:
        self.revision_reads += 1
        return super().load_revision(session_id)


@pytest.mark.parametrize("straight", [True, False])
def test_one_store_read_per_step(straight: bool) -> None:
    """
    Taken or declined, the straight line adds no store read to a step.
    """
    store = CountingStore()
    mission = mk.Mission(tools={"probe": counter_tool()}, store=store, clock=FakeClock())
    criteria: list[dict[str, Any]] = [
        {"criterion_id": "x", "kind": "metric_threshold", "required": True,
         "metric": "metrics.x", "op": ">=", "target": 100},
    ]  # fmt: skip
    if not straight:
        event = {"criterion_id": "e", "kind": "event", "required": False, "event_name": "e"}
        criteria.append(event)
    session = _start(mission, criteria=criteria)
    session.step()
    store.revision_reads = 0
    for _ in range(3):
        session.step()
    assert store.revision_reads == 3


@pytest.mark.parametrize("before", ["nothing", "status", "propose"])
def test_one_store_read_for_a_declined_first_or_proposed_step(before: str) -> None:
    """
    A handle that knows its session is unstarted or holds a pending proposal
    declines the straight line without reading the store: the general engine's
    gate is the step's only read.
    """
    store = CountingStore()
    mission = mk.Mission(tools={"probe": counter_tool()}, store=store, clock=FakeClock())
    session = _start(mission)
    if before == "status":
        assert session.status == "pending"
    elif before == "propose":
        session.step()
        session.propose()
    store.revision_reads = 0
    session.step()
    assert store.revision_reads == 1


def test_async_entry_points_use_the_general_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    ``astep`` runs sync tools on worker threads: never the straight line.
    """
    counts = _counting(monkeypatch)
    session = _start(_mission(counter_tool()))

    async def drive() -> None:
        for _ in range(3):
            await session.astep()

    asyncio.run(drive())
    assert counts["straight"] == 0 and counts["general"] == 3


STEADY = Scenario(
    scripts={name: [("value", {"metrics": {"a": 1.0, "b": 2}})] for name in TOOLS},
    criteria=[
        {
            "kind": "metric_threshold",
            "metric": "metrics.a",
            "op": ">=",
            "target": 100.0,
            "required": True,
            "on_non_finite": "inconclusive",
            "min_delta": 0.0,
            "min_delta_mode": "abs",
        },
        {
            "kind": "metric_threshold",
            "metric": "metrics.b",
            "op": "<",
            "target": 0.0,
            "required": False,
            "on_non_finite": "terminate",
            "min_delta": 0.5,
            "min_delta_mode": "rel",
        },
    ],
    allowlist=["alpha", "beta"],
    max_iterations=-1,
    stagnation=50,
    clock_step=0.5,
    fail_at=None,
    tool_timeouts={},
    extra_criterion=False,
    steps=5,
    use_run=False,
)


@pytest.mark.parametrize("fail_at", range(1, 70))
def test_a_clock_failing_at_any_read_agrees(fail_at: int) -> None:
    """
    Every clock read of several steady iterations, failing in turn: wrapper reads
    propagate, reads inside a phase fail the iteration, identically on both paths.
    """
    scenario = attrs.evolve(STEADY, fail_at=fail_at)
    assert play(scenario, straight=True) == play(scenario, straight=False)
