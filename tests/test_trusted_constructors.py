"""
Trusted constructors build the same frozen records as the public constructors.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

import missionkit as mk
from missionkit._engine._phase import Draft
from missionkit._models._trusted import trusted_constructor, trusted_evolver
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
from missionkit.testing import FakeClock

NOW = datetime(2025, 1, 1, tzinfo=UTC)
LATER = datetime(2025, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (PhaseRecord, ("execute", "failed", NOW, LATER, "ValueError: x")),
        (CriterionResult, ("c1", "met", {"k": [1]}, NOW)),
        (ToolCallRecord, ("t", {"a": 1}, "ok", {"type": "object", "bytes": 2}, 3, None)),
        (Observation, (({"_status": "ok"},), {"m": 1.0}, (), (), NOW, LATER)),
    ],
)
def test_constructor_matches_init(cls: type, values: tuple[object, ...]) -> None:
    """
    Positional values in field order give an instance equal to ``cls(*values)``.
    """
    built = trusted_constructor(cls)(*values)

    assert type(built) is cls
    assert built == cls(*values)


def test_trusted_instances_stay_frozen() -> None:
    """
    Slots written by a trusted constructor cannot be reassigned.
    """
    record = trusted_constructor(PhaseRecord)("decide", "succeeded", NOW, NOW, None)

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.status = "failed"  # type: ignore[misc]


def test_draft_freeze_maps_every_field() -> None:
    """
    `Draft.freeze` passes each draft slot to the `Iteration` field of the same name.
    """
    draft = Draft(4, NOW, 2)
    draft.ended_at = LATER
    draft.status = "failed"
    draft.phases.append(PhaseRecord("propose", "succeeded", NOW, NOW))
    draft.strategy = Strategy(tool_calls=(ToolCall("t", {}),))
    draft.strategy_source = "proposer"
    draft.tool_calls = (ToolCallRecord("t", {}, "failed", None, 1, "E: x"),)
    draft.script_call_log = ()
    draft.script_error = "boom"
    draft.sandbox_terminated_reason = "memory"
    draft.observation = Observation((), {}, (), (), NOW, LATER)
    draft.criteria_evaluation = (CriterionResult("c", "unmet", 1, NOW),)
    draft.checkpoint_evaluated = True
    draft.progress = True
    draft.verdict = "adjust"
    draft.verdict_reason = "heuristic_unproductive"
    draft.revision_rationale = "why"
    draft.sampling_status = "fallback"
    draft.sampling_rejection_reason = "timeout"
    draft.sampling_output = {"raw": 1}
    draft.sampling_rationale = "because"

    frozen = draft.freeze()

    expected = Iteration(
        **{a.name: getattr(draft, a.name) for a in attrs.fields(Iteration) if a.name != "phases"},
        phases=tuple(draft.phases),
    )
    assert frozen == expected
    assert {a.name for a in attrs.fields(Iteration)} <= set(Draft.__slots__)


def test_evolver_matches_attrs_evolve() -> None:
    """
    An evolver replaces exactly the named fields and copies the rest.
    """
    mission = mk.Mission(tools={"t": lambda: {}}, clock=FakeClock())
    state = mission.start(
        directive="d",
        criteria=[{"criterion_id": "c", "kind": "event", "required": True, "event_name": "e"}],
        budget={"max_iterations": 3, "max_wall_clock_seconds": -1},
        tool_allowlist=["t"],
    ).state
    evolve = trusted_evolver(SessionState, ("revision", "updated_at"))

    evolved = evolve(state, 4, LATER)

    assert evolved == attrs.evolve(state, revision=4, updated_at=LATER)
    assert evolved.revision == 4
    assert state.revision != 4


def test_evolver_refuses_unknown_fields() -> None:
    """
    Naming a field the class lacks is a programming error caught at build time.
    """
    with pytest.raises(ValueError, match="no fields"):
        trusted_evolver(SessionState, ("revisoin",))
