"""
Conformance: the Mission facade and its tools (SPEC §2.3, §2.5, §2.7, §4.12, §4.13).

Only rules not already pinned exactly by test_mission_config.py, test_exports.py,
test_host_*.py and the other conformance files are asserted here.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import json
import threading
import time
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

import missionkit as mk
import missionkit.cli
import missionkit.errors
import missionkit.predicate
import missionkit.proposers
import missionkit.scaffold
import missionkit.scripts
import missionkit.testing
import missionkit.validation
from missionkit import MISSION_CONTROL_TOOLS, Mission, MissionValidationError, Tool
from missionkit.store import SQLiteStore
from missionkit.testing import (
    FakeClock,
    InlineScriptRunner,
    MemorySink,
    ScriptedProposer,
    ScriptedSampler,
)

CRITERIA = [{"criterion_id": "c", "kind": "event", "required": True, "event_name": "done"}]
BUDGET = {"max_iterations": 5, "max_wall_clock_seconds": -1}


def probe(n: int = 0) -> dict[str, Any]:
    """
    Probe the system.

    Reports n.
    """
    return {"metrics": {"n": n}}


async def aprobe(n: int = 0) -> dict[str, Any]:
    """
    Probe asynchronously.
    """
    await asyncio.sleep(0)
    return {"metrics": {"n": n}}


class Instrument:
    """
    An instrument whose bound methods are tools.
    """

    def __init__(self) -> None:
        self.seen: list[int] = []

    def measure(self, n: int = 0) -> dict[str, Any]:
        """
        Measure n.
        """
        self.seen.append(n)
        return {"metrics": {"n": n}}

    async def ameasure(self, n: int = 0) -> dict[str, Any]:
        """
        Measure n asynchronously.
        """
        self.seen.append(n)
        await asyncio.sleep(0)
        return {"metrics": {"n": n}}


class Gauge:
    """
    A callable object without a __name__.
    """

    def __call__(self, n: int = 0) -> dict[str, Any]:
        return {"metrics": {"n": n}}


class AsyncGauge:
    """
    An async callable object without a __name__.
    """

    async def __call__(self, n: int = 0) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"metrics": {"n": n}}


class SlowAsyncGauge:
    """
    An async callable object that sleeps far past any test timeout.
    """

    async def __call__(self) -> dict[str, Any]:
        await asyncio.sleep(3)
        return {"metrics": {"n": 1}}


class Ready:
    """
    A plain awaitable (not a coroutine) resolving to a metrics dict.
    """

    def __await__(self) -> Generator[Any, None, dict[str, Any]]:
        yield from asyncio.sleep(0).__await__()
        return {"metrics": {"n": 9}}


def returns_awaitable() -> Ready:
    """
    A sync function whose return value is awaitable.
    """
    return Ready()


def details_of(call: Any) -> dict[str, Any]:
    """
    The details of the MissionValidationError *call* raises.
    """
    with pytest.raises(MissionValidationError) as info:
        call()
    assert "validation_error" == info.value.code
    return info.value.details


def one_call(
    tools: Any, name: str, args: dict[str, Any] | None = None, *, use_async: bool = False, **kw: Any
) -> tuple[mk.ToolCallRecord, mk.Iteration]:
    """
    Run one iteration that calls *name* with *args*; return its record and the iteration.
    """
    mission = Mission(
        tools=tools,
        clock=FakeClock(),
        proposer=ScriptedProposer({"tool_calls": [{"tool_name": name, "args": args or {}}]}),
        **kw,
    )
    session = mission.start(directive="d", criteria=CRITERIA, budget=BUDGET, tool_allowlist=[name])
    iteration = asyncio.run(session.astep()) if use_async else session.step()
    return iteration.tool_calls[0], iteration


def metrics_of(iteration: mk.Iteration) -> dict[str, Any]:
    """
    The observation metrics of *iteration*.
    """
    assert iteration.observation is not None
    return dict(iteration.observation.metrics)


# --------------------------------------------------------------------------- §2.5 Tool


class TestToolRecord:
    """
    SPEC §2.5: the Tool record itself.
    """

    def test_signature(self) -> None:
        """§2.5: Tool takes func positionally, the other fields by keyword, all None by default."""
        params = inspect.signature(Tool).parameters

        assert ["func", "name", "description", "input_schema", "timeout"] == list(params)
        assert inspect.Parameter.POSITIONAL_OR_KEYWORD == params["func"].kind
        assert all(
            inspect.Parameter.KEYWORD_ONLY == params[n].kind
            for n in ("name", "description", "input_schema", "timeout")
        )
        assert [None] * 5 == [p.default for p in params.values()]

    def test_frozen(self) -> None:
        """§2.5: Tool is a frozen attrs class; its fields cannot be reassigned."""
        tool = Tool(probe)

        assert attrs.has(Tool)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            tool.name = "other"  # type: ignore[misc]
        assert "probe" == tool.name

    def test_explicit_empty_description_is_kept(self) -> None:
        """§2.5: description defaults to the docstring only when not given; "" stays ""."""
        assert "" == Tool(probe, description="").description

    def test_explicit_input_schema_wins_over_attribute(self) -> None:
        """§2.5: an explicit input_schema is used even if the callable carries another one."""

        def shaped(k: int = 0) -> int:
            return k

        shaped.input_schema = {"type": "object", "title": "attribute"}  # type: ignore[attr-defined]
        explicit = {"type": "object", "title": "explicit"}

        assert explicit == Tool(shaped, input_schema=explicit).input_schema

    def test_callable_object_input_schema_attribute(self) -> None:
        """§2.5: a bare callable object with a dict input_schema attribute has that schema."""
        schema = {"type": "object", "properties": {"n": {"type": "integer"}}}

        class Shaped:
            input_schema = schema

            def __call__(self, n: int = 0) -> int:
                return n

        mission = Mission(tools={"shaped": Shaped()})

        assert schema == mission.tools["shaped"].input_schema


CALLABLE_KINDS: list[tuple[str, Any]] = [
    ("function", probe),
    ("async function", aprobe),
    ("lambda", lambda n=0: {"metrics": {"n": n}}),
    ("partial", functools.partial(probe, n=1)),
    ("bound method", Instrument().measure),
    ("async bound method", Instrument().ameasure),
    ("callable object", Gauge()),
    ("async callable object", AsyncGauge()),
    ("builtin", len),
    ("class", dict),
]


class TestToolDerivation:
    """
    SPEC §2.5: names and descriptions derived from callables of every kind.
    """

    @pytest.mark.parametrize(("kind", "func"), CALLABLE_KINDS, ids=[k for k, _ in CALLABLE_KINDS])
    def test_description_is_getdoc_or_empty(self, kind: str, func: Any) -> None:
        """§2.5: description defaults to inspect.getdoc(func) or "" for every callable kind."""
        tool = Tool(func, name="t")

        assert (inspect.getdoc(func) or "") == tool.description

    @pytest.mark.parametrize(
        ("func", "name"),
        [
            (probe, "probe"),
            (aprobe, "aprobe"),
            (Instrument().measure, "measure"),
            (Instrument().ameasure, "ameasure"),
            (len, "len"),
            (dict, "dict"),
        ],
    )
    def test_name_is_dunder_name(self, func: Any, name: str) -> None:
        """§2.5: name defaults to func.__name__, in both Tool and the iterable form of tools."""
        assert name == Tool(func).name
        assert [name] == list(Mission(tools=[func]).tools)

    def test_lambda_is_named_lambda(self) -> None:
        """§2.3: in iterable form a lambda is named by its __name__, so two lambdas collide."""
        assert ["<lambda>"] == list(Mission(tools=[lambda: None]).tools)
        assert {
            "field": "tools",
            "tool_name": "<lambda>",
            "reason": "duplicate_tool_name",
        } == details_of(lambda: Mission(tools=[lambda: 1, lambda: 2]))

    def test_callable_object_without_name_in_iterable_form(self) -> None:
        """§4.13: a callable object with no __name__ in iterable form has no usable name."""
        assert {
            "field": "tools",
            "index": 1,
            "reason": "tool_name_missing_or_invalid",
        } == details_of(lambda: Mission(tools=[probe, Gauge()]))

    def test_non_str_dunder_name_is_not_usable(self) -> None:
        """§4.13: a callable whose __name__ is not a str has no usable name."""
        gauge = Gauge()
        gauge.__name__ = 5  # type: ignore[attr-defined]

        assert {
            "field": "tools",
            "index": 0,
            "reason": "tool_name_missing_or_invalid",
        } == details_of(lambda: Mission(tools=[gauge]))

    def test_callable_object_with_instance_name(self) -> None:
        """§2.5: a callable object's own __name__ attribute names it."""
        gauge = Gauge()
        gauge.__name__ = "gauge"  # type: ignore[attr-defined]

        assert "gauge" == Tool(gauge).name
        assert gauge is Mission(tools=[gauge]).tools["gauge"].func

    def test_mapping_keys_name_unnamed_callables(self) -> None:
        """§2.3: in mapping form the key names partials, callable objects and lambdas."""
        gauge, part = Gauge(), functools.partial(probe, n=2)
        mission = Mission(tools={"g": gauge, "p": part, "l": lambda: {}})

        assert {"g": gauge, "p": part} == {n: mission.tools[n].func for n in ("g", "p")}
        assert ["g", "p", "l"] == [t.name for t in mission.tools.values()]

    def test_explicit_name_for_unnamed_callable(self) -> None:
        """§2.5: Tool(name=...) makes a partial registrable in iterable form."""
        mission = Mission(tools=[Tool(functools.partial(probe, n=4), name="p4")])

        assert ["p4"] == list(mission.tools)


CALL_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("function", probe, {"n": 3}),
    ("async function", aprobe, {"n": 3}),
    ("lambda", lambda n: {"metrics": {"n": n}}, {"n": 3}),
    ("partial", functools.partial(probe, n=3), {}),
    ("partial overridden", functools.partial(probe, n=1), {"n": 3}),
    ("async partial", functools.partial(aprobe, n=3), {}),
    ("callable object", Gauge(), {"n": 3}),
    ("async callable object", AsyncGauge(), {"n": 3}),
]


class TestToolCalls:
    """
    SPEC §2.5 with §6.4/§6.19: every kind of callable is invoked as func(**args) and awaited.
    """

    @pytest.mark.parametrize("use_async", [False, True], ids=["step", "astep"])
    @pytest.mark.parametrize(
        ("kind", "func", "args"), CALL_CASES, ids=[k for k, _, _ in CALL_CASES]
    )
    def test_called_with_keyword_args(
        self, kind: str, func: Any, args: dict[str, Any], use_async: bool
    ) -> None:
        """§2.5: func(**args) is called; an awaitable result is awaited; the value is the result."""
        record, iteration = one_call({"t": func}, "t", args, use_async=use_async)

        assert ("ok", None) == (record.status, record.error_message)
        assert {"n": 3} == metrics_of(iteration)

    @pytest.mark.parametrize("use_async", [False, True], ids=["step", "astep"])
    def test_bound_methods_keep_their_instance(self, use_async: bool) -> None:
        """§2.5: bound methods (sync and async) are called on their own instance."""
        instrument = Instrument()
        mission = Mission(
            tools=[instrument.measure, instrument.ameasure],
            clock=FakeClock(),
            proposer=ScriptedProposer(
                {
                    "tool_calls": [
                        {"tool_name": "measure", "args": {"n": 5}},
                        {"tool_name": "ameasure", "args": {"n": 6}},
                    ]
                }
            ),
        )
        session = mission.start(
            directive="d", criteria=CRITERIA, budget=BUDGET, tool_allowlist=["measure", "ameasure"]
        )
        iteration = asyncio.run(session.astep()) if use_async else session.step()

        assert ["ok", "ok"] == [r.status for r in iteration.tool_calls]
        assert [5, 6] == instrument.seen

    def test_sync_function_returning_an_awaitable(self) -> None:
        """§2.5: a sync callable whose return value is a (non-coroutine) awaitable is awaited."""
        record, iteration = one_call([returns_awaitable], "returns_awaitable")

        assert "ok" == record.status
        assert {"n": 9} == metrics_of(iteration)

    @pytest.mark.parametrize("use_async", [False, True], ids=["step", "astep"])
    def test_async_callable_object_times_out(self, use_async: bool) -> None:
        """§2.5/§6.4: an async callable object is bounded by the timeout like an async function."""
        started = time.monotonic()
        record, _ = one_call(
            {"slow": SlowAsyncGauge()}, "slow", use_async=use_async, tool_timeout=0.1
        )

        assert time.monotonic() - started < 2
        assert ("failed", "TimeoutError: tool call exceeded 0.1s") == (
            record.status,
            record.error_message,
        )

    @pytest.mark.parametrize("use_async", [False, True], ids=["step", "astep"])
    def test_async_tool_is_cancelled_on_timeout(self, use_async: bool) -> None:
        """§6.4: an async tool that outlives its timeout is cancelled, not left running."""
        seen: list[str] = []

        async def hang() -> None:
            try:
                await asyncio.sleep(3)
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        record, _ = one_call({"hang": hang}, "hang", use_async=use_async, tool_timeout=0.1)

        assert "TimeoutError: tool call exceeded 0.1s" == record.error_message
        assert ["cancelled"] == seen

    def test_per_tool_timeout_overrides_a_shorter_mission_default(self) -> None:
        """§2.5: Tool.timeout replaces Mission(tool_timeout=...), even when it is longer."""

        def slowish() -> dict[str, Any]:
            time.sleep(0.3)
            return {"metrics": {"n": 1}}

        record, _ = one_call([Tool(slowish, timeout=5)], "slowish", tool_timeout=0.05)

        assert ("ok", None) == (record.status, record.error_message)

    def test_per_tool_timeout_overrides_a_longer_mission_default(self) -> None:
        """§2.5: a shorter Tool.timeout is the one applied and named in the error."""

        def sleepy() -> None:
            time.sleep(2)

        record, _ = one_call([Tool(sleepy, timeout=0.1)], "sleepy", tool_timeout=30)

        assert "TimeoutError: tool call exceeded 0.1s" == record.error_message


class TestExternalTools:
    """
    SPEC §2.5: external tools (func None) are known but never run by missionkit.
    """

    def test_external_tool_in_iterable_and_mapping_forms(self) -> None:
        """§2.3/§2.5: a func-less Tool is external in iterable form and under its own key."""
        listed = Mission(tools=[probe, Tool(name="remote")])
        mapped = Mission(tools={"remote": Tool(None, name="remote"), "probe": probe})

        for mission in (listed, mapped):
            remote = mission.tools["remote"]
            assert (None, "remote", "", None, None) == (
                remote.func,
                remote.name,
                remote.description,
                remote.input_schema,
                remote.timeout,
            )
            assert not remote.runnable

    def test_external_tool_can_be_allowlisted_alone(self) -> None:
        """§4.6/§4.12: an external tool is a known tool, so it may be the whole allowlist."""
        mission = Mission(tools={"remote": None})

        state = mission.start(
            directive="d", criteria=CRITERIA, budget=BUDGET, tool_allowlist=["remote"]
        ).state

        assert ("remote",) == state.tool_allowlist

    def test_sampler_sees_descriptions_and_schemas(self) -> None:
        """§2.5/§8.5: samplers see each tool's description as docstring and its input_schema."""
        schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
        sampler = ScriptedSampler("not json")
        mission = Mission(
            tools=[probe, Tool(name="remote", description="Runs remotely.", input_schema=schema)],
            sampler=sampler,
            clock=FakeClock(),
        )
        session = mission.start(
            directive="d",
            criteria=CRITERIA,
            budget=BUDGET,
            tool_allowlist=["remote", "probe"],
            use_sampling="every_iteration",
        )
        session.step()

        section = sampler.prompts[0].split("=== Tool allowlist ===\n", 1)[1]
        entries = json.loads(section.split("\n\n===", 1)[0])
        assert [
            {"tool_name": "remote", "docstring": "Runs remotely.", "input_schema": schema},
            {"tool_name": "probe", "docstring": "Probe the system.\n\nReports n."},
        ] == entries


# --------------------------------------------------------------------------- §2.3 Mission


class TestMissionSurface:
    """
    SPEC §2.3: the constructor and members as declared.
    """

    def test_constructor_signature(self) -> None:
        """§2.3: every Mission argument is keyword-only with the documented default."""
        params = inspect.signature(Mission).parameters

        assert {
            "tools": (),
            "store": None,
            "sinks": (),
            "proposer": None,
            "sampler": None,
            "script_runner": None,
            "clock": None,
            "tool_timeout": None,
            "control_tools": MISSION_CONTROL_TOOLS,
            "flag_lookup": None,
            "limits": None,
        } == {name: p.default for name, p in params.items()}
        assert all(inspect.Parameter.KEYWORD_ONLY == p.kind for p in params.values())
        with pytest.raises(TypeError):
            Mission([probe])  # type: ignore[misc]

    def test_start_signature(self) -> None:
        """§2.3: start takes keyword-only arguments named like the start-spec JSON keys."""
        params = dict(inspect.signature(Mission.start).parameters)
        params.pop("self")

        assert {
            "directive": inspect.Parameter.empty,
            "criteria": inspect.Parameter.empty,
            "budget": inspect.Parameter.empty,
            "tool_allowlist": None,
            "allow_all_tools": False,
            "checkpoint_cadence": None,
            "stagnation_threshold": 3,
            "allow_scripted_strategies": False,
            "use_sampling": None,
            "session_id": None,
            "metadata": None,
        } == {name: p.default for name, p in params.items()}
        assert all(inspect.Parameter.KEYWORD_ONLY == p.kind for p in params.values())

    @pytest.mark.parametrize(
        ("member", "expected"),
        [
            ("session", [("session_id", inspect.Parameter.empty)]),
            ("sessions", [("status", None)]),
            ("iterate", [("session_id", inspect.Parameter.empty), ("max_iterations", 1)]),
            ("aiterate", [("session_id", inspect.Parameter.empty), ("max_iterations", 1)]),
        ],
    )
    def test_member_signatures(self, member: str, expected: list[tuple[str, Any]]) -> None:
        """§2.3: session, sessions, iterate and aiterate take the documented parameters."""
        params = list(inspect.signature(getattr(Mission, member)).parameters.values())[1:]

        assert expected == [(p.name, p.default) for p in params]
        assert inspect.iscoroutinefunction(Mission.aiterate)

    def test_store_property_is_the_given_store(self, tmp_path: Path) -> None:
        """§2.3: store is the very store passed in."""
        store = SQLiteStore(tmp_path / "s.db")
        try:
            assert store is Mission(store=store).store
        finally:
            store.close()

    def test_tools_snapshot_ignores_later_mutation(self) -> None:
        """§2.3: Mission.tools is the Mission's own mapping; the host's dict can change later."""
        given: dict[str, Any] = {"probe": probe}
        mission = Mission(tools=given)
        given["other"] = aprobe
        del given["probe"]

        assert ["probe"] == list(mission.tools)
        assert all(isinstance(t, Tool) for t in mission.tools.values())

    def test_default_clock_is_aware_utc_now(self) -> None:
        """§2.3/§1.4: without a clock, timestamps come from the system clock in aware UTC."""
        before = datetime.now(UTC)
        state = (
            Mission(tools=[probe])
            .start(directive="d", criteria=CRITERIA, budget=BUDGET, tool_allowlist=["probe"])
            .state
        )
        after = datetime.now(UTC)

        assert UTC == state.created_at.tzinfo
        assert before <= state.created_at <= after

    def test_control_tools_may_be_allowlisted_explicitly(self) -> None:
        """§2.3: control_tools only narrow allow_all_tools; an explicit allowlist may name them."""

        def mission_status() -> dict[str, Any]:
            return {}

        mission = Mission(tools=[mission_status, probe])

        state = mission.start(
            directive="d",
            criteria=CRITERIA,
            budget=BUDGET,
            tool_allowlist=["mission_status", "probe"],
        ).state

        assert ("mission_status", "probe") == state.tool_allowlist


class TestMissionLifetime:
    """
    SPEC §2.3: close() and the context manager touch only what the Mission created.
    """

    def test_close_leaves_host_objects_alone(self, tmp_path: Path) -> None:
        """§2.3: close() never closes the host's store, sinks or script runner; it is idempotent."""
        closed: list[str] = []

        class Runner(InlineScriptRunner):
            def close(self) -> None:
                closed.append("runner")

        class Sink(MemorySink):
            def close(self) -> None:
                closed.append("sink")

        store = SQLiteStore(tmp_path / "s.db")
        try:
            with Mission(
                tools=[probe],
                store=store,
                sinks=[Sink()],
                script_runner=Runner(),
                proposer=lambda ctx: {"script": "await mission.observe('a', 1)\n"},
                clock=FakeClock(),
            ) as mission:
                session = mission.start(
                    directive="d",
                    criteria=CRITERIA,
                    budget=BUDGET,
                    tool_allowlist=["probe"],
                    allow_scripted_strategies=True,
                )
                assert "succeeded" == session.step().status
            mission.close()

            assert [] == closed
            assert 1 == len(Mission(store=store).session(session.id).state.iterations)
        finally:
            store.close()

    def test_enter_returns_the_mission(self) -> None:
        """§2.3: the context manager yields the Mission itself."""
        mission = Mission()

        with mission as entered:
            assert mission is entered

    def test_closing_releases_the_default_runner(self, recwarn: pytest.WarningsRecorder) -> None:
        """§2.3: close() shuts the runner the Mission created, so collection warns about nothing."""
        with Mission(
            tools=[probe],
            proposer=lambda ctx: {"script": "await mission.observe('a', 1)\n"},
            clock=FakeClock(),
        ) as mission:
            session = mission.start(
                directive="d",
                criteria=CRITERIA,
                budget=BUDGET,
                tool_allowlist=["probe"],
                allow_scripted_strategies=True,
            )
            assert "succeeded" == session.step().status
        mission.close()
        del mission, session
        gc.collect()

        assert [] == [w for w in recwarn if issubclass(w.category, ResourceWarning)]


class TestMissionSharing:
    """
    SPEC §2.3: a Mission is thread-safe and holds no per-session state.
    """

    def test_concurrent_starts_with_one_id(self) -> None:
        """§2.3/§4.12 e: of many threads starting one id at once, exactly one succeeds."""
        mission = Mission(tools=[probe], clock=FakeClock())
        barrier = threading.Barrier(8)
        outcomes: list[Any] = []
        lock = threading.Lock()

        def attempt() -> None:
            barrier.wait()
            try:
                result: Any = mission.start(
                    directive="d",
                    criteria=CRITERIA,
                    budget=BUDGET,
                    tool_allowlist=["probe"],
                    session_id="shared",
                ).id
            except MissionValidationError as exc:
                result = exc.details
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=attempt) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

        assert ["shared"] == [o for o in outcomes if o == "shared"]
        assert [{"field": "session_id", "reason": "duplicate_session_id"}] * 7 == [
            o for o in outcomes if o != "shared"
        ]
        assert ["shared"] == [s.session_id for s in mission.sessions()]

    def test_concurrent_iterate_on_separate_sessions(self) -> None:
        """§2.3: one Mission serves iterate() from several threads for their own sessions."""
        mission = Mission(tools=[probe], clock=FakeClock())
        ids = [
            mission.start(
                directive="d",
                criteria=CRITERIA,
                budget=BUDGET,
                tool_allowlist=["probe"],
                session_id=f"s{i}",
            ).id
            for i in range(6)
        ]
        results: dict[str, int] = {}

        def work(sid: str) -> None:
            results[sid] = len(mission.iterate(sid, max_iterations=2))

        threads = [threading.Thread(target=work, args=(sid,)) for sid in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

        assert dict.fromkeys(ids, 2) == results
        assert [2] * 6 == [len(mission.session(sid).state.iterations) for sid in ids]

    def test_two_missions_over_one_store(self) -> None:
        """§2.3: sessions live in the store, so another Mission over it continues them."""
        first = Mission(tools=[probe], clock=FakeClock())
        session = first.start(
            directive="d", criteria=CRITERIA, budget=BUDGET, tool_allowlist=["probe"]
        )
        second = Mission(tools=[probe], store=first.store, clock=FakeClock())

        summaries = second.iterate(session.id)

        assert [0] == [s.iteration_index for s in summaries]
        assert "running" == session.status
        assert 1 == len(first.session(session.id).state.iterations)


class TestBuildState:
    """
    SPEC §4.12: the start checks, seen through Mission.build_state and start.
    """

    def test_build_state_emits_nothing_and_checks_duplicates(self) -> None:
        """§4.12: build_state runs every check (duplicate id too) and writes or emits nothing."""
        sink = MemorySink()
        mission = Mission(tools=[probe], sinks=[sink], clock=FakeClock())
        mission.start(
            directive="d",
            criteria=CRITERIA,
            budget=BUDGET,
            tool_allowlist=["probe"],
            session_id="a",
        )
        before = len(sink.events)

        state = mission.build_state(
            directive="d", criteria=CRITERIA, budget=BUDGET, tool_allowlist=["probe"]
        )

        assert ("pending", 1) == (state.status, state.revision)
        assert {"field": "session_id", "reason": "duplicate_session_id"} == details_of(
            lambda: mission.build_state(
                directive="d",
                criteria=CRITERIA,
                budget=BUDGET,
                tool_allowlist=["probe"],
                session_id="a",
            )
        )
        assert before == len(sink.events)
        assert ["a"] == [s.session_id for s in mission.sessions()]

    def test_start_event_is_lifecycle_start(self) -> None:
        """§2.3: start emits one lifecycle start event for the new pending session."""
        sink = MemorySink()
        mission = Mission(tools=[probe], sinks=[sink], clock=FakeClock())

        session = mission.start(
            directive="d", criteria=CRITERIA, budget=BUDGET, tool_allowlist=["probe"]
        )

        assert [("mission_lifecycle_event", "start", "pending", session.id)] == [
            (
                e.to_dict()["event_type"],
                e.to_dict()["action"],
                e.to_dict()["status"],
                e.to_dict()["mission_session_id"],
            )
            for e in sink.events
        ]


# --------------------------------------------------------------------------- §2.7 modules


class TestPublicModuleShapes:
    """
    SPEC §2.7: the public modules' signatures and shared objects.
    """

    @pytest.mark.parametrize(
        ("func", "expected"),
        [
            (missionkit.validation.validate_session_id, "(value)"),
            (missionkit.validation.validate_directive, "(text)"),
            (missionkit.validation.validate_criteria, "(criteria)"),
            (missionkit.validation.validate_cadence, "(cadence)"),
            (missionkit.validation.validate_stagnation_threshold, "(value)"),
            (missionkit.validation.validate_metadata, "(value)"),
            (missionkit.scripts.validate_script, "(source, allowlist)"),
            (missionkit.validation.validate_budget, "(budget)"),
            (
                missionkit.validation.validate_tool_allowlist,
                "(allowlist, registered_tools, flag_lookup=None)",
            ),
            (missionkit.validation.validate_strategy, "(strategy, allowlist, allow_scripts)"),
            (missionkit.predicate.compile_predicate, "(source, *, limits=None)"),
            (missionkit.predicate.parse_predicate, "(source, *, limits=None)"),
            (
                missionkit.scaffold.scaffold_criteria,
                "(directive, allowlist=None, max_criteria=5)",
            ),
            (missionkit.cli.main, "(argv=None)"),
        ],
    )
    def test_signatures(self, func: Any, expected: str) -> None:
        """§2.7: public functions take the parameters listed, with the listed defaults."""
        params = inspect.signature(func).parameters.values()
        shown = str(inspect.Signature([p.replace(annotation=p.empty) for p in params]))

        assert expected == shown

    def test_resolve_effective_allowlist_signature(self) -> None:
        """§2.7: resolve_effective_allowlist is keyword-only with control_tools defaulting."""
        params = inspect.signature(missionkit.validation.resolve_effective_allowlist).parameters

        assert {
            "allow_all_tools": inspect.Parameter.empty,
            "explicit_allowlist": inspect.Parameter.empty,
            "registered_tools": inspect.Parameter.empty,
            "control_tools": MISSION_CONTROL_TOOLS,
            "flag_lookup": None,
        } == {n: p.default for n, p in params.items()}
        assert all(inspect.Parameter.KEYWORD_ONLY == p.kind for p in params.values())

    def test_shared_objects_are_identical(self) -> None:
        """§2.7: names listed in several public modules are the same objects everywhere."""
        assert missionkit.errors.MissionValidationError is (
            missionkit.validation.MissionValidationError
        )
        assert mk.MISSION_CONTROL_TOOLS is missionkit.validation.MISSION_CONTROL_TOOLS
        assert missionkit.errors.PredicateRejected is missionkit.predicate.PredicateRejected
        assert missionkit.errors.PredicateLimitExceeded is (
            missionkit.predicate.PredicateLimitExceeded
        )
        assert mk.ProposalContext is missionkit.proposers.ProposalContext

    def test_testing_helper_signatures(self) -> None:
        """§2.7: FakeClock(start, *, step=0.0); ScriptedSampler/ScriptedProposer take *args."""
        clock = inspect.signature(missionkit.testing.FakeClock).parameters

        assert ("2025-01-01T00:00:00+00:00", inspect.Parameter.POSITIONAL_OR_KEYWORD) == (
            clock["start"].default,
            clock["start"].kind,
        )
        assert (0.0, inspect.Parameter.KEYWORD_ONLY) == (clock["step"].default, clock["step"].kind)
        for helper in (ScriptedSampler, ScriptedProposer):
            (param,) = inspect.signature(helper).parameters.values()
            assert inspect.Parameter.VAR_POSITIONAL == param.kind


class BadName:
    """
    A callable whose __name__ cannot be read.
    """

    @property
    def __name__(self) -> str:  # type: ignore[override]
        raise RuntimeError("no name")

    def __call__(self) -> dict[str, Any]:
        return {}


class BadSchema:
    """
    A callable whose input_schema attribute cannot be read.
    """

    __name__ = "bad_schema"

    @property
    def input_schema(self) -> dict[str, Any]:
        raise RuntimeError("no schema")

    def __call__(self) -> dict[str, Any]:
        return {}


class TestHostileToolAttributesAndTwoStageCalls:
    def test_unreadable_name_is_no_usable_name(self) -> None:
        """§4.13: a tool whose __name__ raises has no usable name (MissionValidationError)."""
        with pytest.raises(MissionValidationError) as info:
            Mission(tools=[BadName()])
        assert {
            "field": "tools",
            "index": 0,
            "reason": "tool_name_missing_or_invalid",
        } == info.value.details

    def test_unreadable_input_schema_attribute(self) -> None:
        """§2.5/§4.13: an input_schema attribute that cannot be read is no schema; no crash."""
        mission = Mission(tools=[BadSchema()])
        assert None is mission.tools["bad_schema"].input_schema

    @pytest.mark.parametrize("use_async", [False, True], ids=["step", "astep"])
    def test_timeout_bounds_the_whole_call(self, use_async: bool) -> None:
        """§6.4/§2.5: the timeout bounds the call including awaiting its awaitable result."""

        async def second_half() -> dict[str, Any]:
            await asyncio.sleep(0.3)
            return {"metrics": {"n": 1}}

        def two_stage() -> Any:
            time.sleep(0.3)
            return second_half()

        record, _ = one_call({"two": two_stage}, "two", use_async=use_async, tool_timeout=0.4)
        assert ("failed", "TimeoutError: tool call exceeded 0.4s") == (
            record.status,
            record.error_message,
        )
