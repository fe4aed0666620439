"""
Robustness: a Mission and its sessions driven by hostile collaborators.

Tools, proposers, sinks, clocks and stores that raise, hang, alias or return
garbage. Each test checks the outcome the SPEC gives and that the stored
session stays loadable and consistent (revision, consecutive iterations,
status). SPEC §2.3–2.5, §3.14, §6.1, §6.4, §6.9, §6.10, §6.15, §10.2.

Every risky call runs in a daemon thread joined with a timeout, so a hang
fails the test instead of the suite.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import missionkit as mk
from fakes import UNCAPPED
from missionkit.audit import MemorySink
from missionkit.store import MemoryStore, SQLiteStore
from missionkit.testing import FakeClock

NEVER = [{"criterion_id": "e", "kind": "event", "required": True, "event_name": "never"}]
TIMEOUT = 20.0


def guarded(func: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """
    Run *func* in a daemon thread; return its value or re-raise what it raised.

    Fails the test when *func* is still running after *timeout* seconds.
    """
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"call still running after {timeout}s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def make_store(kind: str, tmp_path: Path) -> Any:
    """
    A fresh `MemoryStore` or `SQLiteStore` under *tmp_path*.
    """
    return MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "sessions.db")


def start(mission: mk.Mission, criteria: list[dict[str, Any]] | None = None, **kwargs: Any) -> Any:
    """
    Start an uncapped session allowing every registered tool.
    """
    return mission.start(
        directive="Survive hostile collaborators",
        criteria=criteria if criteria is not None else NEVER,
        budget=kwargs.pop("budget", UNCAPPED),
        tool_allowlist=kwargs.pop("tool_allowlist", list(mission.tools)),
        **kwargs,
    )


def drive(session: Any, entry: str) -> Any:
    """
    One call of *entry* (``step``, ``astep``, ``run``, ``arun``) on *session*, guarded.
    """
    if entry == "step":
        return guarded(session.step)
    if entry == "astep":
        return guarded(lambda: asyncio.run(session.astep()))
    if entry == "run":
        return guarded(lambda: session.run(max_iterations=2))
    return guarded(lambda: asyncio.run(session.arun(max_iterations=2)))


def assert_consistent(mission: mk.Mission, session_id: str) -> Any:
    """
    Reload the session through a fresh handle and check revision/iteration invariants.
    """
    state = mission.session(session_id).state
    assert list(range(len(state.iterations))) == [it.iteration_index for it in state.iterations]
    assert state.revision >= 1 + len(state.iterations)
    assert mk.to_json(state) == mk.to_json(mk.SessionState.from_dict(state.to_dict()))
    return state


def ok_tool() -> dict[str, Any]:
    """
    A well-behaved tool.
    """
    return {"metrics": {"loss": 1.0}}


STORES = ["memory", "sqlite"]
ENTRIES = ["step", "astep", "run", "arun"]


# --------------------------------------------------------------------------- BaseException


class TestBaseExceptions:
    @pytest.mark.parametrize(
        "exc", [KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError]
    )
    @pytest.mark.parametrize("entry", ENTRIES)
    @pytest.mark.parametrize("kind", STORES)
    def test_sync_tool_base_exception_commits_nothing(
        self, exc: type[BaseException], entry: str, kind: str, tmp_path: Path
    ) -> None:
        """
        §6.1/§6.15(4): a sync tool raising a non-Exception BaseException propagates through every
        entry point; nothing is stored and the same handle steps index 0 afterwards.
        """
        armed = [True]

        def train() -> dict[str, Any]:
            if armed:
                armed.clear()
                raise exc("interrupted")
            return ok_tool()

        mission = mk.Mission(tools=[train], clock=FakeClock(), store=make_store(kind, tmp_path))
        session = start(mission)
        before = mission.session(session.id).state

        with pytest.raises(exc):
            drive(session, entry)

        assert before == mission.session(session.id).state
        assert (0, "running") == (guarded(session.step).iteration_index, session.status)
        assert_consistent(mission, session.id)

    @pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, asyncio.CancelledError])
    @pytest.mark.parametrize("entry", ["step", "astep"])
    def test_async_tool_base_exception_commits_nothing(
        self, exc: type[BaseException], entry: str, tmp_path: Path
    ) -> None:
        """
        §6.1/§6.15(4): an async tool raising a BaseException stores nothing in a SQLiteStore.
        """
        armed = [True]

        async def train() -> dict[str, Any]:
            await asyncio.sleep(0)
            if armed:
                armed.clear()
                raise exc()
            return ok_tool()

        mission = mk.Mission(
            tools=[mk.Tool(train)], clock=FakeClock(), store=SQLiteStore(tmp_path / "s.db")
        )
        session = start(mission)

        with pytest.raises(exc):
            drive(session, entry)

        assert (1, (), "pending") == (
            mission.session(session.id).state.revision,
            mission.session(session.id).state.iterations,
            session.status,
        )
        assert 0 == drive(session, entry).iteration_index

    @pytest.mark.parametrize("entry", ["astep", "propose"])
    def test_proposer_base_exception_is_not_a_failed_iteration(self, entry: str) -> None:
        """
        §6.1/§6.10: a proposer raising KeyboardInterrupt does not fail the session (only
        Exceptions do); nothing is stored.
        """
        armed = [True]

        async def proposer(ctx: Any) -> None:
            if armed:
                armed.clear()
                raise KeyboardInterrupt
            return None

        mission = mk.Mission(tools=[ok_tool], clock=FakeClock(), proposer=proposer)
        session = start(mission)
        call = (lambda: asyncio.run(session.astep())) if entry == "astep" else session.propose

        with pytest.raises(KeyboardInterrupt):
            guarded(call)

        assert ("pending", 1, None) == (
            session.status,
            session.state.revision,
            session.state.pending_proposal,
        )
        assert "succeeded" == guarded(session.step).status

    def test_sink_base_exception_on_a_phase_event(self) -> None:
        """
        §10.2/§6.15(4): a sink raising KeyboardInterrupt is not swallowed like an Exception;
        the iteration is not committed and the handle keeps working.
        """
        armed = [True]

        def sink(event: Any) -> None:
            if armed and event.event_type == "mission_phase_event" and event.phase == "observe":
                armed.clear()
                raise KeyboardInterrupt

        mission = mk.Mission(tools=[ok_tool], clock=FakeClock(), sinks=[sink])
        session = start(mission)

        with pytest.raises(KeyboardInterrupt):
            guarded(session.step)

        assert ((), 1) == (session.state.iterations, session.state.revision)
        assert [0, 1] == [guarded(session.step).iteration_index for _ in range(2)]


# --------------------------------------------------------------------------- tool results


class Hostile:
    """
    Every dunder a converter might touch raises.
    """

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("iter")

    def __bool__(self) -> bool:
        raise RuntimeError("bool")


class HostileDict(dict[str, Any]):
    """
    A dict whose every view raises.
    """

    def items(self) -> Any:
        raise RuntimeError("items")

    def keys(self) -> Any:
        raise RuntimeError("keys")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iter")

    def __repr__(self) -> str:
        raise RuntimeError("repr")


class UnprintableKey:
    """
    A hashable key whose str and repr raise.
    """

    def __str__(self) -> str:
        raise RuntimeError("str")

    __repr__ = __str__


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _cyclic() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    return value


def _generator() -> Iterator[int]:
    yield 1


HOSTILE_RESULTS: dict[str, Callable[[], Any]] = {
    "hostile_object": Hostile,
    "hostile_dict": lambda: HostileDict(a=1),
    "hostile_dict_metrics": lambda: {"metrics": HostileDict(a=1), "events": [Hostile()]},
    "unprintable_keys": lambda: {UnprintableKey(): 1, "k": [Hostile()]},
    "deep_list": lambda: _deep(100_000),
    "cyclic_dict": _cyclic,
    "generator": _generator,
    "bytes": lambda: {"raw": b"\xff\x00", "ba": bytearray(b"x")},
    "negative_zero": lambda: {"metrics": {"loss": -0.0}},
    "nan_keys": lambda: {float("nan"): 1, float("inf"): 2, None: 3, 1.5: 4},
    "int_past_json": lambda: {"n": 10**5000},
    "set_of_mixed": lambda: {"s": {1, "a", (2, 3), None}},
}


class TestHostileToolResults:
    @pytest.mark.parametrize("name", sorted(HOSTILE_RESULTS))
    @pytest.mark.parametrize("kind", STORES)
    def test_result_is_recorded_and_the_session_reloads(
        self, name: str, kind: str, tmp_path: Path
    ) -> None:
        """
        §3.14/§6.4: any returned value is converted with to_json_data (markers for what JSON cannot
        hold), the call is ``ok``, the save succeeds and a fresh Mission reloads the same session.
        """
        factory = HOSTILE_RESULTS[name]

        def tool() -> Any:
            return factory()

        store = make_store(kind, tmp_path)
        mission = mk.Mission(tools={"tool": tool}, clock=FakeClock(), store=store)
        session = start(mission)

        iteration = guarded(session.step)

        assert ("succeeded", "ok") == (iteration.status, iteration.tool_calls[0].status)
        reloaded = mk.Mission(tools={"tool": tool}, clock=FakeClock(), store=store)
        state = assert_consistent(reloaded, session.id)
        assert mk.to_json(iteration) == mk.to_json(state.iterations[0])
        assert 1 == guarded(session.step).iteration_index

    def test_cyclic_and_deep_values_become_markers(self) -> None:
        """
        §3.14: a cycle and nesting past 100 become ``{_repr, _type}`` markers, not errors.
        """
        values = iter([_cyclic(), _deep(1_000)])
        mission = mk.Mission(tools={"tool": lambda: next(values)}, clock=FakeClock())
        session = start(mission)

        cyclic = guarded(session.step).observation.tool_results[0]
        deep = guarded(session.step).observation.tool_results[0]["result"]
        depth = 0
        while isinstance(deep, list):
            deep, depth = deep[0], depth + 1

        assert ("builtins.dict", 1) == (cyclic["self"]["_type"], cyclic["a"])
        assert ({"_repr", "_type"}, "builtins.list") == (set(deep), deep["_type"])
        assert 100 == depth

    @pytest.mark.parametrize("entry", ["step", "astep"])
    def test_raising_awaitables_fail_only_the_call(self, entry: str) -> None:
        """
        §6.4/§6.10: an async tool that raises, and a sync tool returning a coroutine that raises,
        give ``failed`` records with the exception text; the iteration succeeds.
        """

        async def broken() -> None:
            raise ValueError("coroutine failed")

        def returns_broken() -> Any:
            return broken()

        mission = mk.Mission(
            tools=[mk.Tool(broken), mk.Tool(returns_broken)],
            clock=FakeClock(),
            proposer=lambda ctx: {
                "tool_calls": [{"tool_name": "broken"}, {"tool_name": "returns_broken"}]
            },
        )
        session = start(mission)

        iteration = drive(session, entry)

        assert "succeeded" == iteration.status
        assert [("failed", "ValueError: coroutine failed")] * 2 == [
            (r.status, r.error_message) for r in iteration.tool_calls
        ]

    @pytest.mark.parametrize("entry", ["step", "astep"])
    def test_awaitables_that_never_finish_time_out(self, entry: str) -> None:
        """
        §6.4: an async tool and a sync tool returning a never-finishing coroutine are cut off by
        the tool timeout with the fixed TimeoutError text; the iteration succeeds.
        """

        async def forever() -> None:
            await asyncio.Event().wait()

        def returns_forever() -> Any:
            return forever()

        mission = mk.Mission(
            tools=[mk.Tool(forever), mk.Tool(returns_forever)],
            clock=FakeClock(),
            tool_timeout=0.1,
            proposer=lambda ctx: {
                "tool_calls": [{"tool_name": "forever"}, {"tool_name": "returns_forever"}]
            },
        )
        session = start(mission)

        started = time.monotonic()
        iteration = drive(session, entry)

        assert time.monotonic() - started < 5
        assert [("failed", "TimeoutError: tool call exceeded 0.1s")] * 2 == [
            (r.status, r.error_message) for r in iteration.tool_calls
        ]

    def test_tool_mutating_its_returned_dict_later(self) -> None:
        """
        §3.1(1)/§11.3: a tool returning the same mutable dict every time and mutating it
        afterwards cannot change stored iterations, even in a MemoryStore.
        """
        shared: dict[str, Any] = {
            "metrics": {"loss": 1.0},
            "events": [{"event_name": "a"}],
            "nested": {"xs": [1]},
        }
        mission = mk.Mission(tools={"tool": lambda: shared}, clock=FakeClock())
        session = start(mission)
        guarded(session.step)
        before = mk.to_json(mission.session(session.id).state)

        shared["metrics"]["loss"] = 99.0
        shared["events"][0]["event_name"] = "never"
        shared["nested"]["xs"].append(2)
        shared["extra"] = True

        assert before == mk.to_json(mission.session(session.id).state)
        second = guarded(session.step).observation
        assert ({"loss": 99.0}, [1, 2]) == (second.metrics, second.tool_results[0]["nested"]["xs"])


# --------------------------------------------------------------------------- proposers


class TestHostileProposers:
    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (5, "not_a_dict"),
            ([{"tool_name": "ok_tool"}], "not_a_dict"),
            ("ok_tool", "not_a_dict"),
            (
                {"tool_calls": [{"tool_name": "ok_tool"}], "script": "x = 1"},
                "must_have_exactly_one_of_tool_calls_or_script",
            ),
            (
                mk.Strategy(tool_calls=(mk.ToolCall("ok_tool", {}),), script="x = 1"),
                "must_have_exactly_one_of_tool_calls_or_script",
            ),
            ({"tool_calls": ({"tool_name": "ok_tool"},)}, "must_be_non_empty_list"),
            ({"tool_calls": [{"tool_name": "ok_tool", "args": {1: 2}}]}, "args_not_a_dict"),
            ({"tool_calls": [{"tool_name": "ok_tool"}], "rationale": Hostile()}, "not_a_string"),
        ],
    )
    @pytest.mark.parametrize("kind", STORES)
    def test_garbage_fails_the_iteration_with_a_validation_error(
        self, value: Any, reason: str, kind: str, tmp_path: Path
    ) -> None:
        """
        §6.3 step 2/§4.9/§6.10: invalid proposer output fails the propose phase with a
        MissionValidationError; one failed iteration, a failure report, and a loadable store.
        """
        mission = mk.Mission(
            tools=[ok_tool],
            clock=FakeClock(),
            proposer=lambda ctx: value,
            store=make_store(kind, tmp_path),
        )
        session = start(mission)

        with pytest.raises(mk.MissionValidationError) as info:
            guarded(session.step)

        state = assert_consistent(mission, session.id)
        assert (reason, "failed", 2) == (
            info.value.details["reason"],
            state.status,
            state.revision,
        )
        assert [("propose", "failed")] == [(p.phase, p.status) for p in state.iterations[0].phases]
        report = mission.session(session.id).report()
        assert report is not None
        assert "propose" == report.failure["phase"]  # type: ignore[index]
        with pytest.raises(mk.SessionFailed):
            guarded(session.step)

    def test_extra_keys_dropped_and_dunder_names_skipped(self) -> None:
        """
        §4.9/§6.4: unknown keys are dropped; a call naming a dunder is just a non-allowlisted
        tool (``skipped_not_allowed``), never an attribute lookup.
        """
        mission = mk.Mission(
            tools=[ok_tool],
            clock=FakeClock(),
            proposer=lambda ctx: {
                "tool_calls": [
                    {"tool_name": "__class__", "args": {}, "junk": 1},
                    {"tool_name": "__init__"},
                    {"tool_name": "ok_tool", "extra": [1]},
                ],
                "bogus": {"x": 1},
            },
        )
        session = start(mission)

        iteration = guarded(session.step)

        assert [
            ("__class__", "skipped_not_allowed"),
            ("__init__", "skipped_not_allowed"),
            ("ok_tool", "ok"),
        ] == [(r.tool_name, r.status) for r in iteration.tool_calls]
        assert ("running", 1) == (session.status, len(session.state.iterations))

    @pytest.mark.parametrize("entry", ["step", "astep"])
    @pytest.mark.parametrize("shape", ["async_def", "returns_coroutine"])
    def test_raising_awaitable_fails_the_propose_phase(self, entry: str, shape: str) -> None:
        """
        §6.3 step 2/§6.10: an awaitable from the proposer that raises fails the iteration; the
        original exception is re-raised with the phase note.
        """

        async def broken(ctx: Any) -> None:
            raise KeyError("no strategy")

        proposer = broken if shape == "async_def" else (lambda ctx: broken(ctx))
        mission = mk.Mission(tools=[ok_tool], clock=FakeClock(), proposer=proposer)
        session = start(mission)

        with pytest.raises(KeyError) as info:
            drive(session, entry)

        assert info.value.__notes__[0].endswith("failed in phase propose")
        state = assert_consistent(mission, session.id)
        assert ("failed", "KeyError: 'no strategy'") == (
            state.status,
            state.iterations[0].phases[0].error_message,
        )

    def test_hostile_args_reach_the_tool_as_json_data(self) -> None:
        """
        §3.14/§6.4: proposer args holding hostile objects or dict subclasses are converted; the
        tool gets JSON data and later mutation of the proposer's dict changes no record.
        """
        args: dict[str, Any] = {"h": Hostile(), "d": HostileDict(a=1), "n": 1}
        seen: list[dict[str, Any]] = []

        def tool(**kwargs: Any) -> dict[str, Any]:
            seen.append(kwargs)
            kwargs["n"] = 2
            return {}

        mission = mk.Mission(
            tools={"tool": tool},
            clock=FakeClock(),
            proposer=lambda ctx: {"tool_calls": [{"tool_name": "tool", "args": args}]},
        )
        session = start(mission)

        iteration = guarded(session.step)
        args["n"] = 3

        marker = {"_repr": "<unprintable>", "_type": f"{__name__}.Hostile"}
        assert (marker, 1) == (seen[0]["h"], iteration.tool_calls[0].args["n"])
        stored = mission.session(session.id).state.iterations[0]
        assert (1, 1) == (
            stored.tool_calls[0].args["n"],
            stored.strategy.tool_calls[0].args["n"],  # type: ignore[union-attr]
        )


# --------------------------------------------------------------------------- sinks


class TestHostileSinks:
    def test_raising_sink_changes_nothing(self, caplog: pytest.LogCaptureFixture) -> None:
        """
        §10.2: a sink raising on every event is logged at WARNING and skipped; later sinks get
        every event and the run ends exactly as without it.
        """

        def broken(event: Any) -> None:
            raise RuntimeError("sink down")

        quiet, loud = MemorySink(), MemorySink()
        baseline = mk.Mission(tools=[ok_tool], clock=FakeClock(), sinks=[quiet])
        mission = mk.Mission(tools=[ok_tool], clock=FakeClock(), sinks=[broken, loud])
        budget = {"max_iterations": 3, "max_wall_clock_seconds": -1}

        with caplog.at_level(logging.WARNING, logger="missionkit"):
            report = guarded(start(mission, budget=budget, session_id="mission-a").run)
        expected = guarded(start(baseline, budget=budget, session_id="mission-a").run)

        assert mk.to_json(expected) == mk.to_json(report)
        assert quiet.entries() == loud.entries()
        warnings = [r for r in caplog.records if r.name == "missionkit"]
        assert len(loud.entries()) == len(warnings)
        assert {logging.WARNING} == {r.levelno for r in warnings}

    @pytest.mark.parametrize("entry", ["step", "astep"])
    def test_slow_sink_does_not_count_against_the_tool_timeout(self, entry: str) -> None:
        """
        §6.4/§10.2: sinks run synchronously between phases; their time is not charged to a
        tool's timeout, and the iteration completes with its events in order.
        """
        sink = MemorySink()

        def slow(event: Any) -> None:
            time.sleep(0.05)

        mission = mk.Mission(
            tools=[ok_tool], clock=FakeClock(), sinks=[slow, sink], tool_timeout=0.03
        )
        session = start(mission)

        iteration = drive(session, entry)

        assert "ok" == iteration.tool_calls[0].status
        assert ["propose", "execute", "observe", "evaluate", "decide"] == [
            e["phase"] for e in sink.entries() if e["event_type"] == "mission_phase_event"
        ]

    def test_sink_pausing_through_another_handle_is_a_lost_race(self) -> None:
        """
        §6.15(2): a sink that pauses the session through another handle mid-step makes the step
        lose its CAS: ConcurrentUpdate, no iteration stored, no verdict event.
        """
        sink = MemorySink()
        holder: dict[str, Any] = {}

        def meddler(event: Any) -> None:
            phase = getattr(event, "phase", None)
            if phase == "decide" and not holder.get("done"):
                holder["done"] = True
                holder["mission"].session(event.mission_session_id).abort(pause=True)

        mission = mk.Mission(tools=[ok_tool], clock=FakeClock(), sinks=[meddler, sink])
        holder["mission"] = mission
        session = start(mission)

        with pytest.raises(mk.ConcurrentUpdate):
            guarded(session.step)

        state = assert_consistent(mission, session.id)
        assert ("paused", 2, ()) == (state.status, state.revision, state.iterations)
        assert [] == [e for e in sink.entries() if e["event_type"] == "mission_verdict_event"]
        guarded(session.resume)
        assert 0 == guarded(session.step).iteration_index

    def test_sink_calling_back_into_the_same_handle_keeps_the_store_sound(self) -> None:
        """
        §10.2 (sinks must not call back) / §11.2: even when a sink does, the CAS keeps the store
        consistent: one pause saved, no duplicate or lost iteration, and the handle still works.
        """
        holder: dict[str, Any] = {}

        def meddler(event: Any) -> None:
            phase = getattr(event, "phase", None)
            if phase == "decide" and not holder.get("done"):
                holder["done"] = True
                holder["session"].abort(pause=True)

        mission = mk.Mission(tools=[ok_tool], clock=FakeClock(), sinks=[meddler])
        session = start(mission)
        holder["session"] = session

        # Unspecified for a sink breaking §10.2: the store's ValueError or ConcurrentUpdate.
        with pytest.raises((mk.ConcurrentUpdate, ValueError)):
            guarded(session.step)

        state = assert_consistent(mission, session.id)
        assert ("paused", 2, ()) == (state.status, state.revision, state.iterations)
        guarded(session.resume)
        assert [0, 1] == [guarded(session.step).iteration_index for _ in range(2)]


# --------------------------------------------------------------------------- clocks


class TestHostileClocks:
    def test_backwards_clock(self, tmp_path: Path) -> None:
        """
        §6.4/§6.12: a clock running backwards gives durations of 0 and no active time; the run
        ends on its iteration budget and the store reloads.
        """
        now = [datetime(2025, 1, 1, tzinfo=UTC)]

        def clock() -> datetime:
            now[0] -= timedelta(seconds=7)
            return now[0]

        mission = mk.Mission(tools=[ok_tool], clock=clock, store=SQLiteStore(tmp_path / "s.db"))
        session = start(mission, budget={"max_iterations": 3, "max_wall_clock_seconds": 5})

        report = guarded(session.run)

        assert report is not None
        state = assert_consistent(mission, session.id)
        assert ["in_progress", "in_progress", "max_iterations"] == [
            it.verdict_reason for it in state.iterations
        ]
        assert {0} == {r.duration_ms for it in state.iterations for r in it.tool_calls}

    def test_clock_failing_at_the_gate(self) -> None:
        """
        §6.2/§6.1: a clock error before any phase starts propagates unchanged; nothing is written
        or emitted and the next step is iteration 0.
        """
        fake = FakeClock()
        fail = [False]
        sink = MemorySink()

        def clock() -> datetime:
            if fail[0]:
                fail[0] = False
                raise RuntimeError("clock down")
            return fake()

        mission = mk.Mission(tools=[ok_tool], clock=clock, sinks=[sink])
        session = start(mission)
        sink.clear()
        fail[0] = True

        with pytest.raises(RuntimeError, match="clock down"):
            guarded(session.step)

        assert ([], 1) == (sink.entries(), session.state.revision)
        assert 0 == guarded(session.step).iteration_index

    def test_non_utc_aware_clock_serialises_as_utc(self, tmp_path: Path) -> None:
        """
        §1.4: timestamps from an aware non-UTC clock are written as UTC and round-trip through a
        SQLiteStore as the same instants.
        """
        plus5 = timezone(timedelta(hours=5))
        now = [datetime(2025, 1, 1, 5, 0, tzinfo=plus5)]

        def clock() -> datetime:
            now[0] += timedelta(seconds=1)
            return now[0]

        store = SQLiteStore(tmp_path / "s.db")
        mission = mk.Mission(tools=[ok_tool], clock=clock, store=store)
        session = start(mission)
        guarded(session.step)

        data = mission.session(session.id).to_dict()
        assert data["created_at"].endswith("+00:00")
        assert data["iterations"][0]["started_at"].startswith("2025-01-01T00:00:")
        assert session.state.created_at == store.load_header(session.id).created_at


# --------------------------------------------------------------------------- stores


class FailingSaves:
    """
    Delegates to a real store; the next *failures* saves raise *error* without writing.
    """

    def __init__(self, inner: Any, error: BaseException) -> None:
        self.inner = inner
        self.error = error
        self.failures = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save_session(self, state: Any, **kwargs: Any) -> None:
        """
        Raise while failures remain, else delegate.
        """
        if self.failures:
            self.failures -= 1
            raise self.error
        self.inner.save_session(state, **kwargs)


def _errors() -> list[BaseException]:
    return [mk.StoreError("disk full"), OSError(5, "Input/output error")]


class TestFailingStores:
    @pytest.mark.parametrize("error", _errors(), ids=["StoreError", "OSError"])
    @pytest.mark.parametrize("entry", ["step", "astep"])
    @pytest.mark.parametrize("kind", STORES)
    def test_one_failed_commit_is_not_stored_and_the_next_step_succeeds(
        self, error: BaseException, entry: str, kind: str, tmp_path: Path
    ) -> None:
        """
        §6.9/§11.2: a commit whose save raises writes nothing and emits no verdict; the error
        propagates and the following steps store consecutive indexes and revisions.
        """
        store = FailingSaves(make_store(kind, tmp_path), error)
        sink = MemorySink()
        mission = mk.Mission(tools=[ok_tool], clock=FakeClock(), store=store, sinks=[sink])
        session = start(mission, stagnation_threshold=50)
        drive(session, entry)
        store.failures = 1
        sink.clear()

        with pytest.raises(type(error)):
            drive(session, entry)

        assert [] == [e for e in sink.entries() if e["event_type"] == "mission_verdict_event"]
        assert [1, 2] == [drive(session, entry).iteration_index for _ in range(2)]
        state = assert_consistent(mission, session.id)
        assert (4, "running") == (state.revision, state.status)

    def test_failed_commit_does_not_double_count_the_cumulative_view(self) -> None:
        """
        §6.6.2/§6.15(1): the observation of an iteration whose save failed is not kept in the
        handle's cumulative view; the predicate sees exactly the stored results plus the current.
        """
        store = FailingSaves(MemoryStore(), mk.StoreError("disk full"))
        mission = mk.Mission(tools=[ok_tool], clock=FakeClock(), store=store)
        predicate = "len(obs['tool_results']) >= 3"
        session = start(
            mission,
            [{"criterion_id": "p", "kind": "predicate", "required": True, "expression": predicate}],
            stagnation_threshold=50,
        )
        guarded(session.step)
        store.failures = 1
        with pytest.raises(mk.StoreError):
            guarded(session.step)

        verdicts = [guarded(session.step).verdict_reason for _ in range(2)]

        assert ["in_progress", "criteria_met"] == verdicts

    def test_failed_terminal_commit_is_retried_by_the_next_step(self, tmp_path: Path) -> None:
        """
        §6.9: a terminal commit whose save fails stores neither iteration nor report; the next
        step decides again and commits both once.
        """
        store = FailingSaves(SQLiteStore(tmp_path / "s.db"), mk.StoreError("disk full"))
        values = iter([{"events": [{"event_name": "done"}]}] * 2)
        mission = mk.Mission(tools={"tool": lambda: next(values)}, clock=FakeClock(), store=store)
        criteria = [{"criterion_id": "d", "kind": "event", "required": True, "event_name": "done"}]
        session = start(mission, criteria)
        store.failures = 1

        with pytest.raises(mk.StoreError):
            guarded(session.step)

        assert (None, "pending") == (session.report(), session.status)
        iteration = guarded(session.step)
        state = assert_consistent(mission, session.id)
        assert (0, "criteria_met", "completed", 2) == (
            iteration.iteration_index,
            iteration.verdict_reason,
            state.status,
            state.revision,
        )
        report = session.report()
        assert report is not None
        assert 1 == len(report.iterations)

    def test_failed_propose_save_keeps_no_pending_proposal(self) -> None:
        """
        §6.11: a propose() whose save fails stores no pending proposal; the next propose and step
        work and the step adopts only the stored proposal's phase record.
        """
        store = FailingSaves(MemoryStore(), OSError(28, "No space left on device"))
        mission = mk.Mission(tools=[ok_tool], clock=FakeClock(), store=store)
        session = start(mission)
        store.failures = 1

        with pytest.raises(OSError, match="No space"):
            guarded(session.propose)

        assert (None, 1) == (session.state.pending_proposal, session.state.revision)
        guarded(session.propose)
        iteration = guarded(session.step)
        assert ["propose", "execute", "observe", "evaluate", "decide"] == [
            p.phase for p in iteration.phases
        ]
        assert 3 == assert_consistent(mission, session.id).revision


# --- defects found by these attacks, fixed since


class TestHugeIntMetrics:
    @pytest.mark.parametrize(
        "criterion",
        [
            {
                "criterion_id": "p",
                "kind": "predicate",
                "required": True,
                "expression": "len(obs['tool_results']) >= 2",
            },
            {
                "criterion_id": "t",
                "kind": "metric_trend",
                "required": True,
                "metric": "loss",
                "direction": "decreasing",
            },
            {
                "criterion_id": "l",
                "kind": "metric_threshold",
                "required": True,
                "metric": "metrics.loss",
                "op": ">",
                "target": 0.1,
            },
        ],
        ids=["predicate", "trend", "threshold"],
    )
    def test_int_past_float_range_is_a_plain_number(
        self, criterion: dict[str, Any], tmp_path: Path
    ) -> None:
        """
        §3.14 (ints < 2**14000 unchanged; no value can make a save fail), §6.6.2 (finite ints
        only enter metric_history), §6.10 (tool values never fail an iteration).
        """
        caplog_off = logging.getLogger("missionkit")
        caplog_off.disabled = True
        try:
            mission = mk.Mission(
                tools={"big": lambda: {"metrics": {"loss": -(10**400)}}},
                clock=FakeClock(),
                store=SQLiteStore(tmp_path / "s.db"),
            )
            session = start(mission, [criterion])
            iteration = session.step()
            assert "succeeded" == iteration.status
            assert "running" == mission.session(session.id).status  # a fresh handle loads it
            assert 1 == session.step().iteration_index
        finally:
            caplog_off.disabled = False

    def test_huge_target_with_a_moving_metric(self) -> None:
        """
        §4.4 accepts target 10**400; §6.6.4 progress must then not fail the iteration.
        """
        values = iter([1.0, 2.0, 3.0])
        mission = mk.Mission(
            tools={"tool": lambda: {"metrics": {"loss": next(values)}}}, clock=FakeClock()
        )
        criterion = {
            "criterion_id": "l",
            "kind": "metric_threshold",
            "required": True,
            "metric": "metrics.loss",
            "op": ">=",
            "target": 10**400,
        }
        session = start(mission, [criterion])
        session.step()
        assert "succeeded" == session.step().status


class NaiveClock:
    """A clock returning naive datetimes (e.g. datetime.utcnow)."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class TestNaiveClock:
    @pytest.mark.parametrize("operation", ["step", "resume", "checkpoint"])
    def test_naive_clock_with_a_stored_session(self, operation: str, tmp_path: Path) -> None:
        """
        §1.4: naive datetimes read from the clock are interpreted as UTC. With a SQLiteStore,
        a fresh handle (stored timestamps are aware) must still step, resume and checkpoint.
        """
        mission = mk.Mission(
            tools=[ok_tool], clock=NaiveClock(), store=SQLiteStore(tmp_path / "s.db")
        )
        sid = start(mission, budget={"max_iterations": 9, "max_wall_clock_seconds": 1000}).id
        mission.session(sid).step()
        if operation == "resume":
            mission.session(sid).abort(pause=True)
        getattr(mission.session(sid), operation)()

    def test_models_hold_aware_utc_timestamps(self) -> None:
        """§1.4: timestamps in models are timezone-aware UTC datetimes, even from a naive clock."""
        mission = mk.Mission(tools=[ok_tool], clock=NaiveClock())
        session = start(mission)
        session.step()
        assert timedelta(0) == session.state.started_at.utcoffset()


class TestViewAfterInterruptedCommit:
    def test_clock_failure_in_commit_then_another_writer(self) -> None:
        """
        §6.6.2/§6.15(1): a predicate sees every stored iteration's tool results plus the
        current ones. After a commit aborted by a clock error, and another handle's commit,
        this handle's view must still be exact.
        """
        fake = FakeClock()
        state = {"fail": False, "arm": False}

        def clock() -> datetime:
            if state["fail"]:
                state["fail"] = False
                raise RuntimeError("clock died")
            return fake()

        def sink(event: Any) -> None:
            if (
                state["arm"]
                and event.event_type == "mission_phase_event"
                and event.phase == "decide"
            ):
                state["arm"] = False
                state["fail"] = True  # the next clock read is the commit's

        mission = mk.Mission(tools=[ok_tool], clock=clock, sinks=[sink])
        expr = "len(obs['tool_results']) >= 3"
        session = start(
            mission,
            [{"criterion_id": "p", "kind": "predicate", "required": True, "expression": expr}],
            stagnation_threshold=50,
        )
        session.step()
        state["arm"] = True
        with pytest.raises(RuntimeError):
            session.step()
        assert 1 == mission.session(session.id).step().iteration_index

        iteration = session.step()  # index 2: three stored+current results

        assert "criteria_met" == iteration.verdict_reason


class TestSameHandleReentry:
    def test_tool_pausing_its_own_handle_is_a_concurrent_update(self) -> None:
        """
        §6.9 (save with expected_revision = the revision read at the gate) and §6.15(2) (a lost
        race raises ConcurrentUpdate): a tool that pauses the same handle mid-step.
        """
        holder: dict[str, Any] = {}

        def pauser() -> dict[str, Any]:
            if not holder.get("done"):
                holder["done"] = True
                holder["session"].abort(pause=True)
            return {}

        mission = mk.Mission(tools=[pauser], clock=FakeClock())
        session = start(mission)
        holder["session"] = session
        with pytest.raises(mk.ConcurrentUpdate):
            session.step()

    def test_sync_tool_reading_its_handle_under_astep(self) -> None:
        """
        (Unsure) §6.4/§6.19: under astep a sync tool runs in a worker thread; reading the same
        handle there must not deadlock the handle forever.
        """
        holder: dict[str, Any] = {}

        def reader() -> dict[str, Any]:
            return {"status": holder["session"].status}

        mission = mk.Mission(tools=[reader], clock=FakeClock())
        session = start(mission)
        holder["session"] = session
        iteration = guarded(lambda: asyncio.run(session.astep()))
        assert "ok" == iteration.tool_calls[0].status
