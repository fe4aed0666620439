"""
Ask/tell through ``propose()`` and ``observe()`` (SPEC §6.11, §6.16).
"""

from __future__ import annotations

from typing import Any

import pytest

import missionkit as mk
from fakes import Counter
from missionkit.audit import MemorySink
from missionkit.testing import FakeClock

CRITERIA = [
    {
        "criterion_id": "loss",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.val_loss",
        "op": "<=",
        "target": 0.1,
    }
]
BUDGET = {"max_iterations": 20, "max_wall_clock_seconds": -1}


@pytest.fixture(name="sink")
def _sink() -> MemorySink:
    return MemorySink()


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock(step=1)


@pytest.fixture(name="external")
def _external(sink: MemorySink, clock: FakeClock) -> mk.Mission:
    return mk.Mission(tools={"train": None}, sinks=[sink], clock=clock)


def start(mission: mk.Mission, tool: str = "train") -> mk.Session:
    return mission.start(
        directive="Drive validation loss below 0.1",
        criteria=CRITERIA,
        budget=BUDGET,
        tool_allowlist=[tool],
    )


def phases(sink: MemorySink) -> list[str]:
    return [e["phase"] for e in sink.entries() if e["event_type"] == "mission_phase_event"]


class TestExternalTools:
    def test_external_mission_completes(self, external: mk.Mission) -> None:
        """A mission whose only tool is external completes through propose() and observe()."""
        session = start(external)
        losses = iter([0.5, 0.3, 0.08])
        strategies = []

        while session.status in ("pending", "running"):
            strategy = session.propose()
            strategies.append(strategy)
            assert strategy.tool_calls is not None
            call = strategy.tool_calls[0]
            session.observe(
                {
                    "tool_calls": [
                        {
                            "tool_name": call.tool_name,
                            "args": dict(call.args),
                            "status": "ok",
                            "result": {"metrics": {"val_loss": next(losses)}},
                        }
                    ]
                }
            )

        report = session.report()
        assert report is not None
        assert ("completed", "criteria_met", 3) == (
            report.status,
            report.final_verdict_reason,
            report.iterations_run,
        )
        assert ["train"] * 3 == [s.tool_calls[0].tool_name for s in strategies if s.tool_calls]
        first = report.iterations[0]
        assert ("default", "ok") == (first.strategy_source, first.tool_calls[0].status)
        assert {"type": "object", "bytes": 28, "keys": ["metrics"]} == (
            first.tool_calls[0].result_summary
        )

    def test_step_refuses_without_runnable_tools(self, external: mk.Mission) -> None:
        """step() raises ProposeNoToolAvailable when the only tool is external."""
        session = start(external)

        with pytest.raises(mk.ProposeNoToolAvailable) as info:
            session.step()

        assert {"session_id": session.id, "tool_allowlist": ["train"]} == info.value.details
        assert 1 == session.state.revision

    def test_metrics_only_observation(self, external: mk.Mission, sink: MemorySink) -> None:
        """observe() with metrics alone makes a host iteration without strategy or calls."""
        session = start(external)
        sink.clear()

        iteration = session.observe({"metrics": {"val_loss": 0.31}})

        assert (None, "host", ()) == (
            iteration.strategy,
            iteration.strategy_source,
            iteration.tool_calls,
        )
        assert ["observe", "evaluate", "decide"] == [p.phase for p in iteration.phases]
        assert iteration.observation is not None
        assert {"val_loss": 0.31} == iteration.observation.metrics
        assert () == iteration.observation.tool_results
        assert ("continue", "in_progress") == (iteration.verdict, iteration.verdict_reason)
        assert ["observe", "evaluate", "decide"] == phases(sink)
        assert "mission_verdict_event" == sink.entries()[-1]["event_type"]
        assert "running" == session.status

    def test_input_metrics_win_and_events_append(self, external: mk.Mission) -> None:
        """Input metrics are merged over tool-result metrics and input events are appended."""
        session = start(external)

        iteration = session.observe(
            {
                "metrics": {"val_loss": 0.05},
                "events": [{"event_name": "host"}],
                "tool_calls": [
                    {
                        "tool_name": "train",
                        "status": "ok",
                        "result": {
                            "metrics": {"val_loss": 0.9, "acc": 0.5},
                            "events": [{"event_name": "tool"}],
                        },
                    }
                ],
            }
        )

        assert iteration.observation is not None
        assert {"val_loss": 0.05, "acc": 0.5} == iteration.observation.metrics
        assert ["tool", "host"] == [e["event_name"] for e in iteration.observation.events]
        assert "complete" == iteration.verdict

    def test_host_reported_failure(self, external: mk.Mission) -> None:
        """A failed host-reported call keeps its message and appears in the observation errors."""
        session = start(external)

        iteration = session.observe(
            {
                "tool_calls": [
                    {
                        "tool_name": "train",
                        "status": "failed",
                        "error_message": "RuntimeError: node lost",
                        "duration_ms": 12,
                    }
                ]
            }
        )

        [record] = iteration.tool_calls
        assert ("failed", None, "RuntimeError: node lost", 12) == (
            record.status,
            record.result_summary,
            record.error_message,
            record.duration_ms,
        )
        assert iteration.observation is not None
        assert [
            {"tool_name": "train", "status": "failed", "error_message": "RuntimeError: node lost"}
        ] == list(iteration.observation.errors)


class TestPendingProposal:
    def test_propose_is_one_save_without_status_change(
        self, external: mk.Mission, sink: MemorySink
    ) -> None:
        """propose() saves once, keeps the status and emits only its propose phase event."""
        session = start(external)
        sink.clear()

        strategy = session.propose()

        state = session.state
        assert (2, "pending", ()) == (state.revision, state.status, state.iterations)
        assert state.pending_proposal is not None
        assert strategy == state.pending_proposal.strategy
        assert ["propose"] == phases(sink)
        assert 1 == len(sink.entries())

    def test_repeated_proposals_accumulate_phases(self, external: mk.Mission) -> None:
        """A second propose() replaces the strategy and appends its phase record."""
        session = start(external)

        session.propose()
        session.propose()

        pending = session.state.pending_proposal
        assert pending is not None
        assert ["propose", "propose"] == [p.phase for p in pending.phases]

    def test_step_adopts_pending_phases(self, sink: MemorySink) -> None:
        """step() adopts a pending proposal: no second propose phase runs or is emitted."""
        mission = mk.Mission(tools=[Counter()], sinks=[sink], clock=FakeClock(step=1))
        session = start(mission, tool="count")
        strategy = session.propose()
        session.propose()
        pending = session.state.pending_proposal
        sink.clear()

        iteration = session.step()

        assert pending is not None
        assert pending.phases == iteration.phases[:2]
        assert ["propose", "propose", "execute", "observe", "evaluate", "decide"] == [
            p.phase for p in iteration.phases
        ]
        assert strategy == iteration.strategy
        assert ("default", None) == (iteration.strategy_source, session.state.pending_proposal)
        assert ["execute", "observe", "evaluate", "decide"] == phases(sink)

    def test_observe_adopts_pending_proposal(self, external: mk.Mission) -> None:
        """observe() uses the pending proposal's strategy, source and propose records."""
        session = start(external)
        strategy = session.propose()

        iteration = session.observe({"metrics": {"val_loss": 0.5}})

        assert (strategy, "default") == (iteration.strategy, iteration.strategy_source)
        assert ["propose", "observe", "evaluate", "decide"] == [p.phase for p in iteration.phases]
        assert None is session.state.pending_proposal

    def test_propose_refuses_without_known_tools(self) -> None:
        """propose() raises ProposeNoToolAvailable when no allowlisted tool is known."""
        mission = mk.Mission(tools={"train": None})
        session = start(mission)
        other = mk.Mission(store=mission.store)

        with pytest.raises(mk.ProposeNoToolAvailable):
            other.session(session.id).propose()


BAD_OBSERVATIONS: list[tuple[Any, dict[str, Any]]] = [
    ("x", {"field": "observation", "reason": "not_a_dict"}),
    (
        {"metrics": {}, "foo": 1},
        {"field": "observation", "subfield": "foo", "reason": "unknown_key"},
    ),
    ({"metrics": [1]}, {"field": "observation", "subfield": "metrics", "reason": "not_a_dict"}),
    ({"events": {}}, {"field": "observation", "subfield": "events", "reason": "not_a_list"}),
    (
        {"events": [{}, 3]},
        {"field": "observation", "subfield": "events", "index": 1, "reason": "not_a_dict"},
    ),
    (
        {"tool_calls": "t"},
        {"field": "observation", "subfield": "tool_calls", "reason": "not_a_list"},
    ),
    (
        {"tool_calls": [{"tool_name": "", "status": "ok"}]},
        {
            "field": "observation",
            "subfield": "tool_calls",
            "index": 0,
            "reason": "tool_name_missing_or_invalid",
        },
    ),
    (
        {"tool_calls": [{"tool_name": "train", "status": "done"}]},
        {
            "field": "observation",
            "subfield": "tool_calls",
            "index": 0,
            "reason": "status_invalid",
            "allowed": ["failed", "ok", "skipped_not_allowed"],
        },
    ),
    (
        {"tool_calls": [{"tool_name": "train", "status": "ok", "duration_ms": -1}]},
        {
            "field": "observation",
            "subfield": "tool_calls",
            "index": 0,
            "reason": "duration_ms_must_be_non_negative_int",
        },
    ),
]


class TestObserveValidation:
    @pytest.mark.parametrize(("value", "details"), BAD_OBSERVATIONS)
    def test_rejection_writes_nothing(
        self, external: mk.Mission, sink: MemorySink, value: Any, details: dict[str, Any]
    ) -> None:
        """A malformed observation raises MissionValidationError and writes and emits nothing."""
        session = start(external)
        before = session.state
        sink.clear()

        with pytest.raises(mk.MissionValidationError) as info:
            session.observe(value)

        assert details == info.value.details
        assert before == session.state
        assert [] == sink.entries()

    @pytest.mark.parametrize(("value", "details"), BAD_OBSERVATIONS[:3])
    def test_async_rejection_writes_nothing(
        self, external: mk.Mission, value: Any, details: dict[str, Any]
    ) -> None:
        """aobserve() validates its input the same way."""
        import asyncio

        session = start(external)

        with pytest.raises(mk.MissionValidationError) as info:
            asyncio.run(session.aobserve(value))

        assert details == info.value.details
        assert 1 == session.state.revision
