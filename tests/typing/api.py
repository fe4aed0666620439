"""
Static checks of the public API: never executed, only type-checked.

Run with ``mypy --strict tests/typing/api.py``. Every ``assert_type`` pins the
type a host sees for one public call; a changed annotation fails the check.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Mapping
from typing import Any, assert_type

import missionkit
from missionkit import (
    MISSION_CONTROL_TOOLS,
    Budget,
    Cadence,
    Criterion,
    CriterionResult,
    FinalReport,
    Iteration,
    IterationSummary,
    Limits,
    Mission,
    MissionkitError,
    MissionValidationError,
    ObservationInput,
    ProposalContext,
    Session,
    SessionState,
    SessionSummary,
    Strategy,
    Tool,
    ToolCall,
    Verdict,
    to_json,
)
from missionkit.audit import AuditEvent, MemorySink
from missionkit.cli import main
from missionkit.predicate import (
    Predicate,
    PredicateLimits,
    compile_predicate,
    parse_predicate,
)
from missionkit.proposers import default_proposer
from missionkit.scaffold import scaffold_criteria
from missionkit.scripts import validate_script
from missionkit.store import JsonDirStore, MemoryStore, SessionStore, SQLiteStore
from missionkit.testing import FakeClock, ScriptedProposer, ScriptedSampler
from missionkit.typing import Clock, JSONValue, OnIteration
from missionkit.validation import (
    resolve_effective_allowlist,
    validate_budget,
    validate_cadence,
    validate_criteria,
    validate_directive,
    validate_metadata,
    validate_observation,
    validate_session_id,
    validate_stagnation_threshold,
    validate_strategy,
    validate_tool_allowlist,
)


def probe(x: int = 0) -> dict[str, Any]:
    return {"metrics": {"x": x}}


def on_iteration(iteration: Iteration) -> bool:
    return iteration.verdict != "adjust"


def sink(event: AuditEvent) -> None:
    return None


def check_mission() -> None:
    clock: Clock = FakeClock()
    mission = Mission(
        tools=[probe, Tool(name="external")],
        sinks=[sink, MemorySink()],
        clock=clock,
        sampler=ScriptedSampler("{}"),
        proposer=ScriptedProposer(),
        tool_timeout=5.0,
        limits=Limits(),
    )
    assert_type(mission.tools, Mapping[str, Tool])
    session = mission.start(
        directive="Probe",
        criteria=[{"criterion_id": "c", "kind": "event", "required": True, "event_name": "e"}],
        budget={"max_iterations": 3, "max_wall_clock_seconds": -1},
        tool_allowlist=["probe"],
    )
    assert_type(session, Session)
    assert_type(mission.session(session.id), Session)
    assert_type(mission.sessions(), list[SessionSummary])
    assert_type(mission.iterate(session.id), list[IterationSummary])
    assert_type(MISSION_CONTROL_TOOLS, frozenset[str])
    assert_type(missionkit.__version__, str)
    mission.close()
    with Mission() as scoped:
        assert_type(scoped, Mission)


def check_session(session: Session) -> None:
    assert_type(session.id, str)
    assert_type(session.status, str)
    assert_type(session.state, SessionState)
    assert_type(session.step(), Iteration)
    assert_type(session.run(), FinalReport | None)
    assert_type(session.run(max_iterations=2, on_iteration=on_iteration), FinalReport | None)
    assert_type(session.propose(), Strategy)
    assert_type(session.observe({"metrics": {"x": 1}}), Iteration)
    assert_type(session.checkpoint(), Verdict)
    assert_type(session.complete(), FinalReport)
    assert_type(session.abort(), FinalReport | None)
    assert_type(session.resume(), None)
    assert_type(session.history(), list[dict[str, Any]])
    assert_type(session.history("full"), list[dict[str, Any]])
    assert_type(session.history_records(), list[dict[str, Any]])
    assert_type(session.report(), FinalReport | None)
    assert_type(session.to_dict(), dict[str, Any])


async def check_async(session: Session) -> None:
    assert_type(await session.astep(), Iteration)
    assert_type(await session.arun(), FinalReport | None)
    assert_type(await session.apropose(), Strategy)
    assert_type(await session.aobserve({}), Iteration)
    assert_type(await session.acomplete(), FinalReport)
    assert_type(await session.aabort(pause=True), FinalReport | None)


def check_models(state: SessionState, iteration: Iteration) -> None:
    assert_type(to_json(state), str)
    assert_type(to_json([iteration], indent=2), str)
    assert_type(state.to_dict(), dict[str, Any])
    assert_type(SessionState.from_dict(state.to_dict()), SessionState)
    assert_type(Iteration.from_dict(iteration.to_dict()), Iteration)
    assert_type(state.criteria, tuple[Criterion, ...])
    assert_type(state.created_at, dt.datetime)
    assert_type(state.is_terminal, bool)
    assert_type(iteration.summary(), IterationSummary)
    assert_type(iteration.criteria_evaluation, tuple[CriterionResult, ...])
    assert_type(Verdict("continue", "in_progress").is_terminal, bool)
    assert_type(Strategy(tool_calls=(ToolCall("probe"),)).to_dict(), dict[str, Any])


def check_validators() -> None:
    assert_type(validate_session_id("s"), str)
    assert_type(validate_directive("d"), str)
    assert_type(validate_criteria([]), list[Criterion])
    assert_type(validate_budget({}), Budget)
    assert_type(validate_tool_allowlist(["a"], ["a"]), list[str])
    assert_type(
        resolve_effective_allowlist(
            allow_all_tools=True, explicit_allowlist=None, registered_tools=["a"]
        ),
        list[str],
    )
    assert_type(validate_cadence({"kind": "every_iteration"}), Cadence)
    assert_type(validate_stagnation_threshold(3), int)
    assert_type(validate_strategy({}, ["a"], False), Strategy)
    assert_type(validate_metadata({}), dict[str, Any])
    assert_type(validate_observation({}), ObservationInput)


def check_predicates() -> None:
    predicate = compile_predicate("obs['x'] > 1", limits=PredicateLimits())
    assert_type(predicate, Predicate)
    assert_type(parse_predicate("True"), ast.Expression)
    assert_type(validate_script("x = 1", ["probe"]), ast.Module)


def check_store(store: SessionStore, state: SessionState) -> None:
    assert_type(store.create_session(state), bool)
    assert_type(store.load_session("s"), SessionState | None)
    assert_type(store.load_header("s"), SessionState | None)
    assert_type(store.load_revision("s"), int | None)
    assert_type(store.load_iterations("s"), list[Iteration])
    assert_type(store.save_session(state, expected_revision=1), None)
    assert_type(store.load_report("s"), FinalReport | None)
    assert_type(store.list_sessions(status="pending"), list[SessionSummary])
    assert_type(store.delete_session("s"), bool)
    assert_type(store.close(), None)


def check_store_implementations(path: str) -> None:
    stores: list[SessionStore] = [MemoryStore(), SQLiteStore(path), JsonDirStore(path)]
    assert_type(stores[0], SessionStore)


def check_errors(err: MissionkitError, invalid: MissionValidationError) -> None:
    assert_type(err.code, str)
    assert_type(err.details, dict[str, Any])
    assert_type(err.to_dict(), dict[str, Any])
    assert_type(invalid.field, str | None)


def check_misc(ctx: ProposalContext) -> None:
    assert_type(default_proposer(ctx), Strategy)
    assert_type(scaffold_criteria("Reduce the loss"), list[dict[str, Any]])
    assert_type(main(["--help"]), int)
    # Assignability: a plain callback is an OnIteration, nested data is JSONValue.
    hook: OnIteration = on_iteration
    value: JSONValue = {"a": [1, 2.5, None, True, "x"]}
    check_aliases(hook, value)


def check_aliases(hook: OnIteration, value: JSONValue) -> None:
    # Declared types, as every checker sees them (locals may be narrowed on assignment).
    assert_type(hook, OnIteration)
    assert_type(value, JSONValue)
