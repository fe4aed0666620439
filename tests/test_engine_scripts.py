"""
Scripted strategies through a session: proxying, audit, outcome mapping (SPEC §9.5–9.6).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import missionkit as mk
from missionkit.audit import MemorySink
from missionkit.scripts import SubprocessScriptRunner
from missionkit.testing import FakeClock, InlineScriptRunner, ScriptedProposer


def submit_job(n: int = 1) -> dict[str, Any]:
    """
    Pretend to submit a job.
    """
    return {"metrics": {"n": n}, "events": [{"event_name": "submitted"}]}


def other_tool() -> int:
    """
    A registered tool the session does not allowlist.
    """
    return 1


SCRIPT = """
total = 0
for i in range(3):
    r = await submit_job(n=i)
    total += r['metrics']['n']
await mission.observe('total', total)
mission.event('done', total=total)
try:
    await submit_job(n='x', bogus=1)
except TypeError as e:
    await mission.observe('err', str(e)[:20])
"""

DONE = [{"criterion_id": "done", "kind": "event", "required": True, "event_name": "done"}]


def _start(runner: Any, script: str, sink: MemorySink | None = None) -> mk.Session:
    mission = mk.Mission(
        tools=[submit_job, other_tool],
        proposer=ScriptedProposer({"script": script}),
        script_runner=runner,
        clock=FakeClock(),
        sinks=[sink] if sink is not None else [],
    )
    return mission.start(
        directive="Submit three jobs",
        criteria=DONE,
        budget={"max_iterations": 3, "max_wall_clock_seconds": -1},
        tool_allowlist=["submit_job"],
        allow_scripted_strategies=True,
    )


class TestScriptThroughSession:
    @pytest.mark.parametrize(
        "runner", [InlineScriptRunner(), SubprocessScriptRunner(wall_seconds=10)]
    )
    def test_calls_are_proxied_and_observed(self, runner: Any) -> None:
        """
        In-script calls become script_call_log records, observe rows and events land.
        """
        sink = MemorySink()
        iteration = _start(runner, SCRIPT, sink).step()

        assert ("complete", "criteria_met") == (iteration.verdict, iteration.verdict_reason)
        assert () == iteration.tool_calls
        assert iteration.script_call_log is not None
        assert [("submit_job", "ok")] * 3 + [("submit_job", "failed")] == [
            (r.tool_name, r.status) for r in iteration.script_call_log
        ]
        assert iteration.observation is not None
        assert {"total": 3, "err": "submit_job() got an "} == iteration.observation.metrics[
            "observations"
        ]
        assert ["submitted", "submitted", "submitted", "done"] == [
            e["event_name"] for e in iteration.observation.events
        ]
        assert [
            {
                "tool_name": "submit_job",
                "status": "failed",
                "error_message": iteration.script_call_log[3].error_message,
            }
        ] == list(iteration.observation.errors)
        assert iteration.script_error is None

    def test_script_call_events_carry_current_index(self) -> None:
        """
        One script call event per in-script call, between the propose and execute phases.
        """
        sink = MemorySink()
        session = _start(InlineScriptRunner(), SCRIPT, sink)
        session.step()
        kinds = [(type(e).__name__, getattr(e, "phase", None)) for e in sink.events]

        calls = [e for e in sink.events if e.event_type == "mission_script_call_event"]
        assert [0, 0, 0, 0] == [e.iteration_index for e in calls]
        assert ["ok", "ok", "ok", "failed"] == [e.tool_status for e in calls]
        first_call = kinds.index(("ScriptCallEvent", None))
        assert ("PhaseEvent", "propose") == kinds[first_call - 1]
        assert ("PhaseEvent", "execute") == kinds[first_call + 4]

    def test_script_exception_is_recorded_and_iteration_continues(self) -> None:
        """
        An uncaught script error is script_error; evaluate and decide still run.
        """
        script = "await mission.observe('before', 1)\nx = {}['missing']\n"
        iteration = _start(InlineScriptRunner(), script).step()

        assert "KeyError: 'missing'" == iteration.script_error
        assert "succeeded" == iteration.status
        assert iteration.checkpoint_evaluated
        assert ("continue", "in_progress") == (iteration.verdict, iteration.verdict_reason)
        assert iteration.observation is not None
        assert {"before": 1} == iteration.observation.metrics["observations"]
        assert {
            "tool_name": "<script>",
            "status": "failed",
            "error_message": "KeyError: 'missing'",
        } == iteration.observation.errors[-1]

    def test_non_allowlisted_tool_is_refused_host_side(self) -> None:
        """
        Defence in depth: a call the validator let through is skipped by the proxy.
        """

        class Sneaky:
            async def run(
                self, script: str, *, allowlist: Any, call_tool: Any, max_seconds: Any
            ) -> Any:
                from missionkit.scripts import ScriptOutcome, ScriptToolError

                try:
                    await call_tool("other_tool", {})
                except ScriptToolError as err:
                    return ScriptOutcome(error=f"{err.error_type}: {err.error_message}")
                return ScriptOutcome()

        iteration = _start(Sneaky(), "x = 1\n").step()

        assert iteration.script_call_log is not None
        assert [("other_tool", "skipped_not_allowed")] == [
            (r.tool_name, r.status) for r in iteration.script_call_log
        ]
        assert "RuntimeError: tool_not_allowlisted: other_tool" == iteration.script_error

    def test_runner_malfunction_fails_the_iteration(self) -> None:
        """
        A runner that raises is a phase failure of execute.
        """

        class Broken:
            async def run(self, script: str, **kwargs: Any) -> Any:
                raise OSError("cannot fork")

        session = _start(Broken(), "x = 1\n")

        with pytest.raises(OSError, match="cannot fork") as info:
            session.step()

        assert "failed" == session.status
        assert any("failed in phase execute" in note for note in info.value.__notes__)

    def test_wall_limit_terminates_with_partial_observation(self) -> None:
        """
        A runaway script is killed; the session ends terminate/script_limit with the rows sent.
        """
        script = "await mission.observe('a', 1)\nwhile True:\n    pass\n"
        session = _start(SubprocessScriptRunner(wall_seconds=1), script)
        started = time.monotonic()

        iteration = session.step()

        assert time.monotonic() - started < 3
        assert "wall_time" == iteration.sandbox_terminated_reason
        assert ("terminate", "script_limit") == (iteration.verdict, iteration.verdict_reason)
        assert iteration.observation is not None
        assert {"a": 1} == iteration.observation.metrics["observations"]
        assert "terminated" == session.status
