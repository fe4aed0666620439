"""
Conformance: SPEC §2 (public API, usage examples), §3 (data model) and §12 (final report).

Black-box: only `missionkit`, `missionkit.models`, `missionkit.errors`, `missionkit.testing` and the
public `missionkit.store` / `missionkit.scripts` modules are used.
"""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

import missionkit as mk
from fakes import UNCAPPED, threshold
from missionkit import errors as e
from missionkit import models as m
from missionkit.scripts import ScriptOutcome
from missionkit.store import JsonDirStore, SQLiteStore
from missionkit.testing import FakeClock, ScriptedProposer

NOTE = "These suggestions come from fixed templates."


DONE = {"criterion_id": "done", "kind": "event", "required": False, "event_name": "done"}


def loss_tool(*values: float) -> Any:
    """
    A tool named ``t`` reporting the given losses in turn, then the last one forever.
    """
    queue = list(values)

    def t() -> dict[str, Any]:
        """Report a loss."""
        value = queue.pop(0) if len(queue) > 1 else queue[0]
        return {"metrics": {"loss": value}}

    return t


def start(mission: mk.Mission, criteria: list[Any], **kwargs: Any) -> mk.Session:
    spec: dict[str, Any] = {
        "directive": "Drive the loss down",
        "criteria": criteria,
        "budget": UNCAPPED,
        "tool_allowlist": ["t"],
        "session_id": "mission-a",
    }
    spec.update(kwargs)
    return mission.start(**spec)


# --------------------------------------------------------------------------- §2.8 examples


class TestUsageExamples:
    def test_notebook_loop_example(self) -> None:
        """§2.8 notebook example runs as written: a report arrives; on_iteration prints steps."""
        losses = iter([0.5, 0.3, 0.05])

        def run_epoch(lr: float) -> float:
            return next(losses)

        def train(lr: float = 0.1) -> dict:  # type: ignore[type-arg]
            """Train one epoch; report validation loss."""
            return {"metrics": {"val_loss": run_epoch(lr)}}

        mission = mk.Mission(tools=[train])
        session = mission.start(
            directive="Drive validation loss below 0.1",
            criteria=[
                {
                    "criterion_id": "loss",
                    "kind": "metric_threshold",
                    "required": True,
                    "metric": "metrics.val_loss",
                    "op": "<=",
                    "target": 0.1,
                }
            ],
            budget={"max_iterations": 20, "max_wall_clock_seconds": 3600},
            tool_allowlist=["train"],
        )
        out = io.StringIO()
        with redirect_stdout(out):
            report = session.run(on_iteration=lambda it: print(it.iteration_index, it.verdict))

        assert isinstance(report, m.FinalReport)
        assert ("complete", "criteria_met", 3) == (
            report.final_verdict,
            report.final_verdict_reason,
            report.iterations_run,
        )
        assert "0 continue\n1 continue\n2 complete\n" == out.getvalue()
        assert "Train one epoch; report validation loss." == mission.tools["train"].description
        assert 3 == len(session.history_records())

    def test_framework_wrapper_example(self, tmp_path: Path) -> None:
        """§2.8 wrapper example: every mission_* wrapper returns strict JSON or an envelope."""

        def score() -> dict[str, Any]:
            """Score."""
            return {"metrics": {"s": 0.5}}

        registry = [score]
        mission = mk.Mission(tools=registry, store=SQLiteStore(tmp_path / "missions.db"))

        def envelope(fn):  # type: ignore[no-untyped-def]
            def wrapped(**kw):  # type: ignore[no-untyped-def]
                try:
                    return mk.to_json(fn(**kw))
                except mk.MissionkitError as err:
                    return mk.to_json(err.to_dict())

            return wrapped

        def _start(**spec):  # type: ignore[no-untyped-def]
            s = mission.start(**spec)
            return {"session_id": s.id, "status": s.status}

        mission_start = envelope(_start)
        mission_iterate = envelope(
            lambda session_id, max_iterations_this_call=1: {
                "session_id": session_id,
                "iterations": mission.iterate(session_id, max_iterations_this_call),
            }
        )
        mission_status = envelope(lambda session_id: mission.session(session_id).to_dict())
        mission_checkpoint = envelope(lambda session_id: mission.session(session_id).checkpoint())
        mission_complete = envelope(
            lambda session_id, reason="forced_complete": mission.session(session_id).complete(
                reason
            )
        )
        mission_abort = envelope(
            lambda session_id, pause=False: mission.session(session_id).abort(pause=pause)
        )
        mission_resume = envelope(lambda session_id: mission.session(session_id).resume())
        mission_history = envelope(
            lambda session_id, format="summary": mission.session(session_id).history(format)
        )
        mission_list = envelope(lambda status=None: {"sessions": mission.sessions(status)})

        def call(wrapper: Any, **kw: Any) -> Any:
            return json.loads(wrapper(**kw), parse_constant=lambda c: pytest.fail(c))

        spec = {
            "directive": "Score",
            "criteria": [threshold(metric="metrics.s", op=">=", target=2)],
            "budget": UNCAPPED,
            "tool_allowlist": ["score"],
            "session_id": "mission-x1",
        }
        assert {"session_id": "mission-x1", "status": "pending"} == call(mission_start, **spec)
        assert {"code": "no_iterations", "details": {"session_id": "mission-x1"}} == call(
            mission_checkpoint, session_id="mission-x1"
        )
        iterated = call(mission_iterate, session_id="mission-x1", max_iterations_this_call=2)
        assert [0, 1] == [s["iteration_index"] for s in iterated["iterations"]]
        assert {"verdict": "continue", "verdict_reason": "in_progress"} == call(
            mission_checkpoint, session_id="mission-x1"
        )
        assert None is call(mission_abort, session_id="mission-x1", pause=True)
        assert "session_paused" == call(mission_iterate, session_id="mission-x1")["code"]
        assert None is call(mission_resume, session_id="mission-x1")
        assert iterated["iterations"] == call(mission_history, session_id="mission-x1")
        assert (
            "invalid_argument" == call(mission_history, session_id="mission-x1", format="x")["code"]
        )
        assert ["mission-x1"] == [s["session_id"] for s in call(mission_list)["sessions"]]
        assert "running" == call(mission_status, session_id="mission-x1")["status"]
        report = call(mission_complete, session_id="mission-x1")
        assert ("completed", "forced_complete") == (
            report["status"],
            report["final_verdict_reason"],
        )
        assert {
            "code": "session_terminal",
            "details": {"session_id": "mission-x1", "status": "completed"},
        } == call(mission_abort, session_id="mission-x1")
        assert {"code": "session_not_found", "details": {"session_id": "mission-nope"}} == call(
            mission_status, session_id="mission-nope"
        )

    def test_ask_tell_example(self) -> None:
        """§2.8 ask/tell example: an external tool is proposed, run by the host and reported."""

        class Cluster:
            def __init__(self) -> None:
                self.calls: list[tuple[str, dict[str, Any]]] = []
                self.losses = iter([0.5, 0.2, 0.05])

            def run(self, name: str, **args: Any) -> dict[str, Any]:
                self.calls.append((name, args))
                return {"metrics": {"val_loss": next(self.losses)}}

        cluster = Cluster()
        mission = mk.Mission(tools={"train": None})
        s = mission.start(
            directive="...",
            criteria=[threshold(metric="metrics.val_loss")],
            budget={"max_iterations": 10, "max_wall_clock_seconds": -1},
            tool_allowlist=["train"],
        )
        while s.status in ("pending", "running"):
            strategy = s.propose()
            call = strategy.tool_calls[0]  # type: ignore[index]
            result = cluster.run(call.tool_name, **call.args)
            s.observe(
                {
                    "tool_calls": [
                        {
                            "tool_name": call.tool_name,
                            "args": dict(call.args),
                            "status": "ok",
                            "result": result,
                        }
                    ]
                }
            )

        assert ("completed", 3) == (s.status, len(s.state.iterations))
        assert [("train", {})] * 3 == cluster.calls
        assert ("ok", "train") == (
            s.state.iterations[-1].tool_calls[0].status,
            s.state.iterations[-1].tool_calls[0].tool_name,
        )

    def test_ask_tell_metrics_only(self) -> None:
        """§2.8: observe() with bare metrics records a host-only iteration without a strategy."""
        mission = mk.Mission(tools={"train": None})
        s = mission.start(
            directive="...",
            criteria=[threshold(metric="metrics.val_loss")],
            budget={"max_iterations": 10, "max_wall_clock_seconds": -1},
            tool_allowlist=["train"],
        )

        iteration = s.observe({"metrics": {"val_loss": 0.31}})

        assert (None, (), {"val_loss": 0.31}) == (
            iteration.strategy,
            iteration.tool_calls,
            iteration.observation.metrics,  # type: ignore[union-attr]
        )
        assert ("unmet", 0.31) == (
            iteration.criteria_evaluation[0].status,
            iteration.criteria_evaluation[0].evidence,
        )


# --------------------------------------------------------------------------- §2.3 / §2.4 facade


class TestMissionAndSession:
    def test_sessions_newest_first_ties_by_id(self) -> None:
        """§2.3: sessions() lists newest created_at first, ties by session_id ascending."""
        clock = FakeClock()
        mission = mk.Mission(tools=[loss_tool(0.5)], clock=clock)
        for sid in ("mission-b", "mission-a", "mission-c"):
            start(mission, [DONE], session_id=sid)
        clock.advance(5)
        start(mission, [DONE], session_id="mission-0")

        assert ["mission-0", "mission-a", "mission-b", "mission-c"] == [
            s.session_id for s in mission.sessions()
        ]

    def test_sessions_status_filter_is_exact(self) -> None:
        """§2.3: sessions(status) returns exactly the sessions with that status."""
        mission = mk.Mission(tools=[loss_tool(0.5)])
        start(mission, [threshold()], session_id="mission-p")
        start(mission, [threshold()], session_id="mission-r").step()
        start(mission, [threshold()], session_id="mission-c").complete()

        assert (["mission-p"], ["mission-r"], ["mission-c"], []) == tuple(
            [s.session_id for s in mission.sessions(status)]
            for status in ("pending", "running", "completed", "terminated")
        )

    def test_default_store_is_private_per_mission(self) -> None:
        """§2.3: store defaults to a new MemoryStore, so two Missions never share sessions."""
        first = mk.Mission(tools=[loss_tool(0.5)])
        second = mk.Mission(tools=[loss_tool(0.5)])
        start(first, [DONE])

        assert "MemoryStore" == type(first.store).__name__
        assert first.store is not second.store
        assert [] == second.sessions()

    def test_close_is_idempotent_and_context_manager(self) -> None:
        """§2.3: close() may be called repeatedly and Mission works as a context manager."""
        with mk.Mission(tools=[loss_tool(0.5)]) as mission:
            assert isinstance(mission, mk.Mission)
        mission.close()
        mission.close()

    def test_session_views(self) -> None:
        """§2.4: report() is None until terminal; history and to_dict are the stored JSON forms."""
        mission = mk.Mission(tools=[loss_tool(0.5)], clock=FakeClock(step=1))
        session = start(mission, [threshold()])
        session.step()
        state = session.state

        assert None is session.report()
        assert [it.summary().to_dict() for it in state.iterations] == session.history()
        assert [it.to_dict() for it in state.iterations] == session.history("full")
        assert state.to_dict() == session.to_dict()
        assert 1 == len(session.to_dict()["iterations"])

    def test_state_is_a_frozen_snapshot(self) -> None:
        """§2.4: state is a frozen snapshot that later steps do not change."""
        mission = mk.Mission(tools=[loss_tool(0.5)])
        session = start(mission, [threshold()])
        snapshot = session.state
        session.step()

        assert ("pending", ()) == (snapshot.status, snapshot.iterations)
        assert ("running", 1) == (session.state.status, len(session.state.iterations))
        with pytest.raises(AttributeError):
            snapshot.status = "running"  # type: ignore[misc]


# --------------------------------------------------------------------------- §2.6 errors raised


def _failed_session() -> mk.Session:
    def t() -> None:
        """Never reached."""

    def broken(ctx: Any) -> Any:
        raise ZeroDivisionError("boom")

    mission = mk.Mission(tools=[t], proposer=broken)
    session = start(mission, [DONE])
    with pytest.raises(ZeroDivisionError):
        session.step()
    return session


class TestRaisedErrors:
    @pytest.mark.parametrize(
        "operation",
        [
            lambda s: s.step(),
            lambda s: s.propose(),
            lambda s: s.observe({}),
            lambda s: s.complete(),
            lambda s: s.abort(),
            lambda s: s.abort(pause=True),
            lambda s: s.resume(),
            lambda s: s.checkpoint(),
            lambda s: s.run(),
        ],
        ids=[
            "step",
            "propose",
            "observe",
            "complete",
            "abort",
            "pause",
            "resume",
            "checkpoint",
            "run",
        ],
    )
    def test_failed_session_refuses_with_session_failed(self, operation: Any) -> None:
        """§2.6/§6.13: mutating calls and checkpoint() on a failed session raise session_failed."""
        session = _failed_session()

        with pytest.raises(e.SessionFailed) as info:
            operation(session)

        assert {"code": "session_failed", "details": {"session_id": "mission-a"}} == (
            info.value.to_dict()
        )
        assert "failed" == session.status

    def test_propose_no_tool_available_names_the_allowlist(self) -> None:
        """§2.6: propose_no_tool_available details carry session_id and tool_allowlist."""
        mission = mk.Mission(tools={"ext": None})
        session = start(mission, [DONE], tool_allowlist=["ext"])

        with pytest.raises(e.ProposeNoToolAvailable) as info:
            session.step()

        assert {
            "code": "propose_no_tool_available",
            "details": {"session_id": "mission-a", "tool_allowlist": ["ext"]},
        } == info.value.to_dict()

    def test_paused_and_not_paused_envelopes(self) -> None:
        """§2.6: session_paused carries session_id; not_paused carries session_id and status."""
        mission = mk.Mission(tools=[loss_tool(0.5)])
        session = start(mission, [DONE])

        with pytest.raises(e.NotPaused) as not_paused:
            session.resume()
        assert None is session.abort(pause=True)
        with pytest.raises(e.SessionPaused) as paused:
            session.step()

        assert {"session_id": "mission-a", "status": "pending"} == not_paused.value.details
        assert {"code": "session_paused", "details": {"session_id": "mission-a"}} == (
            paused.value.to_dict()
        )

    def test_session_not_found_from_session_and_iterate(self) -> None:
        """§2.3/§2.6: Mission.session and Mission.iterate raise session_not_found if absent."""
        mission = mk.Mission(tools=[loss_tool(0.5)])

        for call in (lambda: mission.session("mission-zz"), lambda: mission.iterate("mission-zz")):
            with pytest.raises(e.SessionNotFound) as info:
                call()
            assert {"code": "session_not_found", "details": {"session_id": "mission-zz"}} == (
                info.value.to_dict()
            )

    def test_unreadable_sessions_are_listed_and_raise(self, tmp_path: Path) -> None:
        """§3.11/§3.12: bad stored versions raise their errors and list as unreadable summaries."""
        store = JsonDirStore(tmp_path / "store")
        mission = mk.Mission(tools=[loss_tool(0.5)], store=store, clock=FakeClock())
        for sid in ("mission-a", "mission-b", "mission-c"):
            start(mission, [DONE], session_id=sid)
        for sid, change in (("mission-b", 2), ("mission-c", None)):
            files = [p for p in (tmp_path / "store").rglob("*.json") if sid in str(p)]
            header = next(p for p in files if "iteration" not in p.name)
            data = json.loads(header.read_text())
            if change is None:
                del data["version"]
            else:
                data["version"] = change
            header.write_text(json.dumps(data))

        with pytest.raises(e.UnsupportedSchemaVersion) as unsupported:
            mission.session("mission-b")
        with pytest.raises(e.SessionCorrupt) as corrupt:
            mission.session("mission-c")
        summaries = {s.session_id: s for s in mission.sessions()}

        assert {"session_id": "mission-b", "version": 2, "supported": [1]} == (
            unsupported.value.details
        )
        assert "mission-c" == corrupt.value.details["session_id"]
        assert "pending" == summaries["mission-a"].status
        for sid, err in (("mission-b", unsupported.value), ("mission-c", corrupt.value)):
            summary = summaries[sid]
            assert "unreadable" == summary.status
            assert summary.error is not None
            assert summary.error.startswith(f"{err.code}: ")
        assert ["mission-a"] == [s.session_id for s in mission.sessions("pending")]


# --------------------------------------------------------------------------- §3 models


class TestInputModels:
    @pytest.mark.parametrize(
        ("cls", "data", "details"),
        [
            (
                m.Budget,
                {"max_iterations": 0, "max_wall_clock_seconds": -1},
                {
                    "field": "budget",
                    "subfield": "max_iterations",
                    "reason": "missing_or_not_positive_int_or_minus_one",
                },
            ),
            (
                m.Cadence,
                {"kind": "every_t_seconds", "t": 1.5},
                {
                    "field": "checkpoint_cadence",
                    "subfield": "t",
                    "reason": "missing_or_not_positive_int",
                },
            ),
            (
                m.Strategy,
                {"tool_calls": [{"tool_name": "t"}], "script": "x"},
                {"field": "strategy", "reason": "must_have_exactly_one_of_tool_calls_or_script"},
            ),
            (
                m.ObservationInput,
                {"events": {}},
                {"field": "observation", "subfield": "events", "reason": "not_a_list"},
            ),
            (
                m.MetricThresholdCriterion,
                threshold(target=math.nan),
                {"field": "criteria", "criterion_id": "loss", "reason": "target_not_a_number"},
            ),
        ],
    )
    def test_from_dict_applies_section_4_checks(
        self, cls: Any, data: dict[str, Any], details: dict[str, Any]
    ) -> None:
        """§3.1.3: from_dict on input models raises the §4 validation error."""
        with pytest.raises(e.MissionValidationError) as info:
            cls.from_dict(data)

        assert {"code": "validation_error", "details": details} == info.value.to_dict()

    def test_budget_both_uncapped(self) -> None:
        """§3.4: both budget caps may be -1."""
        assert m.Budget(-1, -1) == m.Budget.from_dict(UNCAPPED)

    def test_infinite_target_allowed(self) -> None:
        """§3.3: a metric_threshold target may be ±inf."""
        crit = m.MetricThresholdCriterion.from_dict(threshold(target=-math.inf))

        assert -math.inf == crit.target

    def test_criterion_input_drops_underscore_keys(self) -> None:
        """§3.3: unknown criterion keys go to extra, except those starting with '_'."""
        crit = m.EventCriterion.from_dict({**DONE, "_hidden": 1, "owner": "ml", "tags": ("a",)})

        assert {"owner": "ml", "tags": ["a"]} == crit.extra
        assert [
            "criterion_id",
            "kind",
            "required",
            "event_name",
            "owner",
            "tags",
        ] == list(crit.to_dict())

    def test_observation_input_defaults_and_json(self) -> None:
        """§3.7: ObservationInput and HostToolCall defaults and JSON field order."""
        data = m.ObservationInput(tool_calls=(m.HostToolCall("t", "ok"),)).to_dict()

        assert {
            "metrics": {},
            "events": [],
            "tool_calls": [
                {
                    "tool_name": "t",
                    "status": "ok",
                    "args": {},
                    "result": None,
                    "error_message": None,
                    "duration_ms": 0,
                }
            ],
        } == data
        assert ["metrics", "events", "tool_calls"] == list(data)
        assert ["tool_name", "status", "args", "result", "error_message", "duration_ms"] == list(
            data["tool_calls"][0]
        )
        assert m.ObservationInput() == m.ObservationInput.from_dict({})


class TestLimits:
    @pytest.mark.parametrize("name", ["evidence_bytes", "tool_result_bytes"])
    @pytest.mark.parametrize("bad", [0, -1, True, 1.5, "8"])
    def test_positive_ints_only(self, name: str, bad: Any) -> None:
        """§3.15: each Limits size must be a positive int, else must_be_positive_int."""
        with pytest.raises(e.MissionValidationError) as info:
            m.Limits(**{name: bad})

        assert {"field": "limits", "subfield": name, "reason": "must_be_positive_int"} == (
            info.value.details
        )

    def test_defaults(self) -> None:
        """§3.15: Limits defaults to 4096 evidence bytes and 65536 tool-result bytes."""
        limits = m.Limits()

        assert (4096, 65536) == (limits.evidence_bytes, limits.tool_result_bytes)
        assert mk.Limits is m.Limits

    def test_oversized_dict_result_keeps_markers(self) -> None:
        """§3.14/§6.5: an oversized annotated dict entry keeps its markers and caps the result."""
        value = {"a": "x" * 80}
        size = len(json.dumps(value, separators=(",", ":")))

        def t() -> dict[str, Any]:
            return value

        mission = mk.Mission(tools=[t], limits=m.Limits(tool_result_bytes=100))
        iteration = start(mission, [DONE]).step()
        text = json.dumps(value, separators=(",", ":"))

        assert size <= 100
        assert {
            "_status": "ok",
            "tool_name": "t",
            "result": {"_truncated": True, "bytes": size, "preview": text[:256]},
        } == iteration.observation.tool_results[0]  # type: ignore[union-attr]
        assert {"type": "object", "bytes": size, "keys": ["a"]} == (
            iteration.tool_calls[0].result_summary
        )

    def test_oversized_event_is_capped(self) -> None:
        """§3.14: one event over tool_result_bytes is replaced by a truncation marker."""
        event = {"event_name": "done", "pad": "z" * 150}
        text = json.dumps(event, separators=(",", ":"))

        def t() -> dict[str, Any]:
            return {"events": [event]}

        mission = mk.Mission(tools=[t], limits=m.Limits(tool_result_bytes=120))
        iteration = start(mission, [DONE]).step()

        assert ({"_truncated": True, "bytes": len(text), "preview": text[:256]},) == (
            iteration.observation.events  # type: ignore[union-attr]
        )


class TestRecords:
    def test_exception_text_unprintable_and_cut(self) -> None:
        """§1.4/§3.6: a failed call's error_message is exception text (or <unprintable>), ≤200."""

        class Bad(Exception):
            def __str__(self) -> str:
                raise RuntimeError("no")

        def t() -> None:
            raise Bad

        def u() -> None:
            raise ValueError("v" * 500)

        proposer = ScriptedProposer({"tool_calls": [{"tool_name": "t"}, {"tool_name": "u"}]})
        mission = mk.Mission(tools=[t, u], proposer=proposer)
        iteration = start(mission, [DONE], tool_allowlist=["t", "u"]).step()
        first, second = iteration.tool_calls

        assert ("failed", "Bad: <unprintable>", None) == (
            first.status,
            first.error_message,
            first.result_summary,
        )
        assert ("ValueError: " + "v" * 500)[:200] == second.error_message

    def test_proposed_strategy_kept_executed_calls_recorded(self) -> None:
        """§3.5/§3.6: the stored strategy is the proposed one; skipped calls are only recorded."""
        proposer = ScriptedProposer(
            {"tool_calls": [{"tool_name": "t", "args": {}}, {"tool_name": "other"}]}
        )
        mission = mk.Mission(tools=[loss_tool(0.5)], proposer=proposer)
        iteration = start(mission, [DONE]).step()

        assert ["t", "other"] == [c.tool_name for c in iteration.strategy.tool_calls]  # type: ignore[union-attr]
        assert [("ok", None), ("skipped_not_allowed", None)] == [
            (c.status, c.error_message) for c in iteration.tool_calls
        ]
        assert (0, None) == (iteration.tool_calls[1].duration_ms, iteration.script_call_log)

    def test_deadline_iteration_shape(self) -> None:
        """§3.9/§6.12: a deadline iteration has no strategy, observation or evaluation."""
        clock = FakeClock()
        mission = mk.Mission(tools=[loss_tool(0.5)], clock=clock)
        session = start(
            mission, [threshold()], budget={"max_iterations": -1, "max_wall_clock_seconds": 10}
        )
        first = session.step()
        clock.advance(20)
        last = session.step()

        assert (None, None, (), None, (), False) == (
            last.strategy,
            last.strategy_source,
            last.tool_calls,
            last.observation,
            last.criteria_evaluation,
            last.checkpoint_evaluated,
        )
        assert ["decide"] == [p.phase for p in last.phases]
        assert ("terminate", "max_wall_clock") == (last.verdict, last.verdict_reason)
        report = session.report()
        assert report is not None
        assert first.criteria_evaluation == report.final_criteria_evaluation
        assert (2, 20.0) == (report.iterations_run, report.active_seconds)


# --------------------------------------------------------------------------- §12 final report


def _lessons(sid: str, verdict: str, reason: str, n: int, directive: str, ids: str) -> str:
    return (
        f"Session {sid} ended with verdict {verdict!r} (reason {reason!r}) after {n} iteration(s). "
        f"Directive: {directive!r}. Criteria not met at the final evaluation: {ids}. This text "
        "comes from a fixed template; a configured sampler can replace it."
    )


class TestFinalReport:
    @pytest.mark.parametrize(
        ("values", "kwargs", "reason", "followups"),
        [
            (
                (0.5,),
                {"budget": {"max_iterations": 1, "max_wall_clock_seconds": -1}},
                "max_iterations",
                (
                    "Raise budget.max_iterations if the criteria were moving toward success.",
                    "Look for repeated tool sequences that used up iterations without progress.",
                ),
            ),
            (
                (0.5,),
                {"stagnation_threshold": 1},
                "no_progress",
                (
                    "Check whether the criteria thresholds are reachable.",
                    "Allow more tools or make the directive more specific so new strategies "
                    "can be tried.",
                ),
            ),
            (
                (math.nan,),
                {},
                "non_finite",
                ("Find the source of the non-finite metric value before starting a new session.",),
            ),
            (
                (0.5,),
                {"budget": {"max_iterations": -1, "max_wall_clock_seconds": 3}},
                "max_wall_clock",
                (
                    "Raise budget.max_wall_clock_seconds or split the directive into smaller "
                    "missions.",
                ),
            ),
        ],
    )
    def test_terminate_followups_exact(
        self, values: tuple[float, ...], kwargs: dict[str, Any], reason: str, followups: Any
    ) -> None:
        """§12.3: each engine termination reason yields its exact suggestions plus the note."""
        mission = mk.Mission(tools=[loss_tool(*values)], clock=FakeClock(step=1))
        session = start(mission, [threshold(on_non_finite="terminate"), DONE], **kwargs)
        report = session.run(max_iterations=5)
        assert report is not None

        assert ("terminated", "terminate", reason) == (
            report.status,
            report.final_verdict,
            report.final_verdict_reason,
        )
        assert (*followups, NOTE) == report.recommended_followups
        assert (
            _lessons(
                "mission-a",
                "terminate",
                reason,
                report.iterations_run,
                "Drive the loss down",
                "loss, done",
            )
            == report.lessons
        )

    def test_script_limit_followup(self) -> None:
        """§12.3: terminate/script_limit suggests simplifying the script or raising limits."""

        class LimitRunner:
            async def run(
                self, script: str, *, allowlist: Any, call_tool: Any, max_seconds: Any
            ) -> ScriptOutcome:
                return ScriptOutcome(observations=(), events=(), error=None, limit="memory")

        mission = mk.Mission(
            tools=[loss_tool(0.5)],
            script_runner=LimitRunner(),
            proposer=ScriptedProposer({"script": "await t()"}),
        )
        session = start(mission, [DONE], allow_scripted_strategies=True)
        report = session.run()
        assert report is not None

        assert ("terminate", "script_limit", "memory") == (
            report.final_verdict,
            report.final_verdict_reason,
            report.iterations[0].sandbox_terminated_reason,
        )
        assert (
            "Simplify the scripted strategy or raise the script runner's limits.",
            NOTE,
        ) == report.recommended_followups

    def test_failed_report_failure_entry_and_followups(self) -> None:
        """§12.1/§12.3: a failed session's report has the failure object and its suggestion."""
        report = _failed_session().report()
        assert report is not None

        assert {
            "iteration_index": 0,
            "phase": "propose",
            "error_message": "ZeroDivisionError: boom",
        } == report.to_dict()["failure"]
        assert ("failed", None, None, None) == (
            report.status,
            report.final_verdict,
            report.final_verdict_reason,
            report.final_criteria_evaluation,
        )
        assert (
            "Inspect the error of the failed phase, fix its cause and start a new session.",
            NOTE,
        ) == report.recommended_followups

    def test_operator_completion_with_custom_reason(self) -> None:
        """§12.3: complete with a non-criteria reason asks to verify the outcome."""
        mission = mk.Mission(tools=[loss_tool(0.5)], clock=FakeClock(step=1))
        session = start(mission, [threshold()])
        session.step()
        report = session.complete("operator_done")

        assert ("complete", "operator_done") == (report.final_verdict, report.final_verdict_reason)
        assert (
            "Verify the outcome: completion was declared by an operator, not by the criteria.",
            NOTE,
        ) == report.recommended_followups
        assert (
            _lessons("mission-a", "complete", "operator_done", 1, "Drive the loss down", "loss")
            == report.lessons
        )

    def test_report_of_never_started_session(self) -> None:
        """§12.1/§12.2: completing before any iteration gives null started_at, 'not evaluated'."""
        mission = mk.Mission(tools=[loss_tool(0.5)], clock=FakeClock(step=1))
        report = start(mission, [threshold()]).complete()
        data = report.to_dict()

        assert (None, None, 0, 0.0, []) == (
            data["started_at"],
            data["final_criteria_evaluation"],
            data["iterations_run"],
            data["active_seconds"],
            data["iterations"],
        )
        assert (
            _lessons(
                "mission-a",
                "complete",
                "forced_complete",
                0,
                "Drive the loss down",
                "not evaluated",
            )
            == report.lessons
        )

    def test_final_evaluation_is_the_last_evaluated_iteration(self) -> None:
        """§12.1: final_criteria_evaluation comes from the last *evaluated* iteration."""
        mission = mk.Mission(tools=[loss_tool(0.5, 0.05)], clock=FakeClock(step=1))
        session = start(
            mission,
            [threshold(), DONE],
            checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
            budget={"max_iterations": 2, "max_wall_clock_seconds": -1},
        )
        report = session.run()
        assert report is not None

        assert [True, False] == [it.checkpoint_evaluated for it in report.iterations]
        assert report.iterations[0].criteria_evaluation == report.final_criteria_evaluation
        assert "Criteria not met at the final evaluation: loss, done." in report.lessons

    def test_inconclusive_counts_as_not_met(self) -> None:
        """§12.2: ids listed include inconclusive criteria, in declaration order."""
        mission = mk.Mission(tools=[loss_tool(0.01)], clock=FakeClock(step=1))
        missing = threshold(criterion_id="absent", metric="metrics.nope", required=False)
        session = start(mission, [DONE, missing, threshold()])
        report = session.run()
        assert report is not None

        assert ["unmet", "inconclusive", "met"] == [
            r.status
            for r in report.final_criteria_evaluation  # type: ignore[union-attr]
        ]
        assert "Criteria not met at the final evaluation: done, absent." in report.lessons

    @pytest.mark.parametrize(
        ("length", "shown"),
        [(240, "d" * 240), (241, "d" * 237 + "...")],
    )
    def test_directive_cut_boundary(self, length: int, shown: str) -> None:
        """§12.2: a directive of 240 characters is shown whole; 241 is cut to 237 plus '...'."""
        mission = mk.Mission(tools=[loss_tool(0.01)])
        report = start(mission, [threshold()], directive="d" * length).run()
        assert report is not None

        assert f"Directive: {shown!r}. Criteria" in report.lessons

    def test_report_to_json_is_strict(self) -> None:
        """§2.2/§3.14: to_json renders a report holding NaN metrics as strict JSON strings."""
        mission = mk.Mission(tools=[loss_tool(math.nan)])
        report = start(mission, [threshold(on_non_finite="terminate")]).run()
        assert report is not None

        data = json.loads(mk.to_json(report), parse_constant=lambda c: pytest.fail(c))

        assert "NaN" == data["iterations"][0]["observation"]["metrics"]["loss"]
        assert list(report.to_dict()) == list(data)
        assert "non_finite:nan" == data["final_criteria_evaluation"][0]["evidence"]


class TestSequenceFieldsAreTuples:
    def test_strategy_list_round_trips(self) -> None:
        """§3.1: a list given for a sequence field becomes a tuple and round-trips."""
        strategy = mk.Strategy(tool_calls=[mk.ToolCall("t")])

        assert isinstance(strategy.tool_calls, tuple)
        assert strategy == mk.Strategy.from_dict(strategy.to_dict())

    def test_observation_list_round_trips(self) -> None:
        """§3.1: an Observation built with lists holds tuples and round-trips."""
        when = FakeClock()()
        obs = mk.Observation([], {}, [], [], when, when)

        assert isinstance(obs.tool_results, tuple)
        assert obs == mk.Observation.from_dict(obs.to_dict())
