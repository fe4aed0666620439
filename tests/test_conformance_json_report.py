"""
Conformance: SPEC §3.14 (JSON safety and size caps), §6.5 (building the observation) and §12
(final report), driven through the public API only.

Complements test_jsonsafe.py (unit level, private helpers) and test_engine_execute.py: here every
conversion and cap is observed on what a `Session` stores and reloads, and every size-cap boundary
is checked against the limit the SPEC assigns to that field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from pathlib import Path
from typing import Any

import attrs
import pytest

import missionkit as mk
from fakes import UNCAPPED, threshold
from missionkit import models as m
from missionkit.scripts import ScriptOutcome
from missionkit.store import JsonDirStore, SQLiteStore
from missionkit.testing import FakeClock, ScriptedProposer, ScriptedSampler
from spec_key_orders import REPORT_KEYS

SID = "mission-jr"
NOTE = "These suggestions come from fixed templates."
EVENT = {"criterion_id": "e", "kind": "event", "required": True, "event_name": "never"}


def returning(*values: Any) -> Any:
    """
    A tool named ``t`` returning *values* in turn, then the last one forever.
    """
    queue = list(values)

    def t() -> Any:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return t


def start(mission: mk.Mission, criteria: list[Any], **kwargs: Any) -> mk.Session:
    spec: dict[str, Any] = {
        "directive": "Drive the loss down",
        "criteria": criteria,
        "budget": UNCAPPED,
        "tool_allowlist": ["t"],
        "session_id": SID,
    }
    spec.update(kwargs)
    return mission.start(**spec)


def one_step(value: Any, criteria: list[Any] | None = None, **mission_kw: Any) -> mk.Iteration:
    mission = mk.Mission(tools=[returning(value)], **mission_kw)
    return start(mission, criteria or [EVENT]).step()


def observation_of(iteration: mk.Iteration) -> mk.Observation:
    assert iteration.observation is not None
    return iteration.observation


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def size(value: Any) -> int:
    return len(compact(value).encode("utf-8"))


def marker(value: Any) -> dict[str, Any]:
    text = compact(value)
    return {"_truncated": True, "bytes": size(value), "preview": text[:256]}


class Plain(enum.Enum):
    A = "a"


class Shade(enum.StrEnum):
    B = "b"


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@dataclasses.dataclass
class DataRow:
    tags: set[int]
    when: dt.datetime


@attrs.frozen
class AttrsRow:
    pair: tuple[int, int]
    day: dt.date


# --------------------------------------------------------------------------- §3.14 conversions


class TestConversionThroughTheEngine:
    @pytest.mark.parametrize("store_kind", ["sqlite", "jsondir"])
    def test_hostile_result_is_stored_and_reloads(self, store_kind: str, tmp_path: Path) -> None:
        """§3.14: no non-JSON value can make a save fail; the stored form reloads unchanged."""
        loop: dict[str, Any] = {"a": 1}
        loop["self"] = loop
        deep: Any = 0
        for _ in range(150):
            deep = [deep]
        value = {
            "bytes": b"ab",
            "huge": 10**5000,
            "cycle": loop,
            "bad": BadRepr(),
            "deep": deep,
            "lone_surrogate": "\ud800",
            "nan": [math.nan, math.inf, -math.inf],
        }
        store = SQLiteStore(tmp_path / "s.db") if store_kind == "sqlite" else JsonDirStore(tmp_path)
        mission = mk.Mission(tools=[returning(value)], store=store)
        stored = observation_of(start(mission, [EVENT]).step()).tool_results[0]

        reloaded = mk.Mission(store=store).session(SID).state.iterations[0].observation
        assert reloaded is not None
        assert compact(stored) == compact(reloaded.tool_results[0])
        assert {"_repr": "b'ab'", "_type": "builtins.bytes"} == stored["bytes"]
        assert "builtins.int" == stored["huge"]["_type"]
        assert {"_repr": "<unprintable>", "_type": f"{__name__}.BadRepr"} == stored["bad"]
        assert "\ud800" == stored["lone_surrogate"]
        assert "NaN" == json.loads(mk.to_json(stored))["nan"][0]

    def test_cycle_becomes_marker_at_the_point_of_return(self) -> None:
        """§3.14: a cycle in a tool result becomes {_repr, _type} where it closes."""
        loop: dict[str, Any] = {"a": 1}
        loop["self"] = loop

        entry = observation_of(one_step(loop)).tool_results[0]

        assert {
            "a": 1,
            "self": {"_repr": repr(loop)[:200], "_type": "builtins.dict"},
            "_status": "ok",
            "tool_name": "t",
        } == entry

    def test_depth_limit_counts_from_the_tool_value(self) -> None:
        """§3.14: a result 100 containers deep is kept whole; the 101st container is opaque."""
        kept: Any = 0
        for _ in range(100):
            kept = [kept]
        cut = [kept]

        kept_entry = observation_of(one_step(kept)).tool_results[0]
        cut_entry = observation_of(one_step(cut)).tool_results[0]

        assert kept == kept_entry["result"]
        inner = cut_entry["result"]
        for _ in range(100):
            inner = inner[0]
        assert {"_repr": "[0]", "_type": "builtins.list"} == inner

    def test_sets_tuples_dataclasses_attrs_and_dates(self) -> None:
        """§3.14: sets sort by compact JSON text; tuples list; dataclasses/attrs become fields."""
        when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        value = {
            "mixed": {1, "a", None, (2,)},
            "frozen": frozenset({(2, 1), (1, 2)}),
            "tuple": (1, (2, 3)),
            "dc": DataRow({3, 1}, when),
            "at": AttrsRow((1, 2), dt.date(2025, 1, 2)),
        }

        entry = observation_of(one_step(value)).tool_results[0]

        assert ['"a"', "1", "[2]", "null"] == [compact(v) for v in entry["mixed"]]
        assert [[1, 2], [2, 1]] == entry["frozen"]
        assert [1, [2, 3]] == entry["tuple"]
        assert [1, 3] == entry["dc"]["tags"]
        assert when == dt.datetime.fromisoformat(entry["dc"]["when"])
        assert {"pair": [1, 2], "day": "2025-01-02"} == entry["at"]

    def test_enums_and_non_str_keys(self) -> None:
        """§3.14: str-enums become str, other enums markers; non-str keys render as JSON does."""
        value = {
            "plain": Plain.A,
            "shade": Shade.B,
            "keys": {None: 0, True: 1, 7: 2, 1.5: 3, (1, 2): 4, Plain.A: 5},
        }

        entry = observation_of(one_step(value)).tool_results[0]

        assert {"_repr": "<Plain.A: 'a'>", "_type": f"{__name__}.Plain"} == entry["plain"]
        assert ("b", str) == (entry["shade"], type(entry["shade"]))
        assert {"null": 0, "true": 1, "7": 2, "1.5": 3, "(1, 2)": 4, "Plain.A": 5} == entry["keys"]

    def test_later_duplicate_keys_win_in_metrics(self) -> None:
        """§3.14/§6.5: keys rendering alike collapse to the later value before metrics merge."""
        iteration = one_step({"metrics": {1: "first", "1": "second", None: 0, "null": 9}})

        assert {"1": "second", "null": 9} == observation_of(iteration).metrics

    def test_non_finite_metrics_stay_floats_and_to_json_is_strict(self) -> None:
        """§3.14: NaN/inf stay floats in memory; to_json renders them as strings."""
        observation = observation_of(
            one_step({"metrics": {"a": math.nan, "b": math.inf, "c": -math.inf}})
        )

        assert math.isnan(observation.metrics["a"])
        assert (math.inf, -math.inf) == (observation.metrics["b"], observation.metrics["c"])
        assert {"a": "NaN", "b": "Infinity", "c": "-Infinity"} == json.loads(
            mk.to_json(observation)
        )["metrics"]


# --------------------------------------------------------------------------- §3.14 caps


class TestCapsThroughTheEngine:
    @pytest.mark.parametrize(("length", "kept"), [(98, True), (99, False)])
    def test_metric_value_boundary(self, length: int, kept: bool) -> None:
        """§3.14: a metric value of exactly tool_result_bytes is kept; one byte more is capped."""
        value = "x" * length
        iteration = one_step(
            {"metrics": {"m": value, "n": 1.5}}, limits=m.Limits(tool_result_bytes=100)
        )
        metrics = observation_of(iteration).metrics

        assert (value if kept else marker(value)) == metrics["m"]
        assert 1.5 == metrics["n"]

    def test_non_ascii_marker(self) -> None:
        """§3.14: a capped value's bytes count UTF-8 and its preview keeps non-ASCII text."""
        value = ["é" * 300, math.nan]
        iteration = one_step({"metrics": {"m": value}}, limits=m.Limits(tool_result_bytes=100))

        capped = observation_of(iteration).metrics["m"]

        assert {
            "_truncated": True,
            "bytes": 1 + 1 + 600 + 1 + 1 + 3 + 1,
            "preview": '["' + "é" * 254,
        } == capped

    @pytest.mark.parametrize("delta", [0, 1])
    def test_annotated_entry_boundary(self, delta: int) -> None:
        """§6.5: the annotated entry (markers included) is what is measured against the cap."""
        value = {"a": "x" * 50}
        entry = {"a": "x" * 50, "_status": "ok", "tool_name": "t"}
        limit = size(entry) - delta

        stored = observation_of(
            one_step(value, limits=m.Limits(tool_result_bytes=limit))
        ).tool_results[0]

        if delta == 0:
            assert entry == stored
        else:
            assert {"_status": "ok", "tool_name": "t", "result": marker(value)} == stored

    def test_truncated_spoofing_entry_marks_the_original_value(self) -> None:
        """§6.5: an oversized entry is {_status, tool_name, result: marker of v}, v untouched."""
        value = {"_status": "error", "tool_name": "evil", "pad": "x" * 200}

        stored = observation_of(
            one_step(value, limits=m.Limits(tool_result_bytes=100))
        ).tool_results[0]

        assert {"_status": "ok", "tool_name": "t", "result": marker(value)} == stored
        assert stored["result"]["preview"].startswith('{"_status":"error","tool_name":"evil"')

    def test_merge_uses_the_untruncated_result(self) -> None:
        """§6.5: metrics and events come from the full result even when its entry is capped."""
        value = {
            "metrics": {"loss": 0.5},
            "events": [{"event_name": "e1"}],
            "pad": "x" * 500,
        }

        observation = observation_of(one_step(value, limits=m.Limits(tool_result_bytes=100)))

        assert True is observation.tool_results[0]["result"]["_truncated"]
        assert ({"loss": 0.5}, ({"event_name": "e1"},)) == (
            observation.metrics,
            observation.events,
        )

    @pytest.mark.parametrize(("pad", "kept"), [(200, True), (201, False)])
    def test_event_boundary_and_each_event_alone(self, pad: int, kept: bool) -> None:
        """§3.14: each event is capped on its own at tool_result_bytes (inclusive)."""
        big = {"event_name": "big", "p": "q" * pad}
        limit = size({"event_name": "big", "p": "q" * 200})

        events = observation_of(
            one_step(
                {"events": [big, {"event_name": "small"}]},
                limits=m.Limits(tool_result_bytes=limit),
            )
        ).events

        assert ((big if kept else marker(big)), {"event_name": "small"}) == events

    @pytest.mark.parametrize(("length", "kept"), [(98, True), (99, False)])
    def test_evidence_capped_by_evidence_bytes_not_tool_result_bytes(
        self, length: int, kept: bool
    ) -> None:
        """§3.14: evidence uses evidence_bytes (inclusive); the observed metric stays whole."""
        value = "x" * length
        iteration = one_step(
            {"metrics": {"loss": value}},
            [threshold()],
            limits=m.Limits(evidence_bytes=100, tool_result_bytes=1000),
        )

        assert value == observation_of(iteration).metrics["loss"]
        [result] = iteration.criteria_evaluation
        assert ("inconclusive", value if kept else marker(value)) == (
            result.status,
            result.evidence,
        )

    def test_event_evidence_is_capped_while_the_event_is_not(self) -> None:
        """§3.14: an event criterion's evidence is capped at evidence_bytes; the event is kept."""
        event = {"event_name": "never", "pad": "p" * 200}

        iteration = one_step({"events": [event]}, limits=m.Limits(evidence_bytes=100))

        assert (event,) == observation_of(iteration).events
        assert ("met", marker(event)) == (
            iteration.criteria_evaluation[0].status,
            iteration.criteria_evaluation[0].evidence,
        )

    @pytest.mark.parametrize(("length", "kept"), [(98, True), (99, False)])
    def test_sampling_output_capped_by_evidence_bytes(self, length: int, kept: bool) -> None:
        """§3.14: sampling_output uses the evidence cap (inclusive), not tool_result_bytes."""
        text = "x" * length
        mission = mk.Mission(
            tools=[returning({})],
            sampler=ScriptedSampler(text),
            limits=m.Limits(evidence_bytes=100, tool_result_bytes=10),
        )
        iteration = start(mission, [EVENT], use_sampling="every_iteration").step()

        assert ("rejected", text if kept else marker(text)) == (
            iteration.sampling_status,
            iteration.sampling_output,
        )

    def test_host_args_are_not_capped(self) -> None:
        """§3.14: tool args have no cap; the host result is capped as an annotated entry."""
        mission = mk.Mission(tools={"t": None}, limits=m.Limits(tool_result_bytes=100))
        session = start(mission, [EVENT])
        args = {"a": "y" * 300}

        iteration = session.observe(
            {"tool_calls": [{"tool_name": "t", "status": "ok", "args": args, "result": 1}]}
        )

        assert args == iteration.tool_calls[0].args
        assert {"_status": "ok", "tool_name": "t", "result": 1} == (
            observation_of(iteration).tool_results[0]
        )


# --------------------------------------------------------------------------- §6.5 observation


class TestObservationBuilding:
    def test_plain_dict_gets_markers_and_no_shadow(self) -> None:
        """§6.5: a dict result without marker keys gains _status/tool_name and no _shadowed."""
        entry = observation_of(one_step({"x": 1, "y": [2]})).tool_results[0]

        assert {"x": 1, "y": [2], "_status": "ok", "tool_name": "t"} == entry
        assert "_shadowed" not in entry

    def test_only_tool_name_is_shadowed(self) -> None:
        """§6.5: a spoofed tool_name alone is moved into _shadowed, the engine's name set."""
        entry = observation_of(one_step({"tool_name": "other", "x": 1})).tool_results[0]

        assert {
            "x": 1,
            "_shadowed": {"tool_name": "other"},
            "_status": "ok",
            "tool_name": "t",
        } == entry

    @pytest.mark.parametrize("value", [0, None, [1, 2], True, 1.5])
    def test_non_dict_results_are_wrapped(self, value: Any) -> None:
        """§6.5: a non-dict result becomes {_status, tool_name, result}."""
        entry = observation_of(one_step(value)).tool_results[0]

        assert {"_status": "ok", "tool_name": "t", "result": value} == entry

    def test_non_dict_result_merges_nothing(self) -> None:
        """§6.5: metrics/events are only merged from dict results."""
        observation = observation_of(one_step([{"metrics": {"a": 1}, "events": [{"x": 1}]}]))

        assert ({}, ()) == (observation.metrics, observation.events)

    def test_event_items_keep_dicts_in_order_and_drop_others(self) -> None:
        """§6.5: every dict item is appended (even without event_name); other items dropped."""
        items = [{"event_name": "a"}, 1, None, ["x"], "s", {"other": True}]

        observation = observation_of(one_step({"events": items}))

        assert ({"event_name": "a"}, {"other": True}) == observation.events

    def test_metrics_update_semantics_across_calls(self) -> None:
        """§6.5: later calls win per key, keys keep first-seen order, as dict.update does."""
        tools = {
            "a": returning({"metrics": {"x": 1, "y": 1}}),
            "b": returning({"metrics": {"z": 2, "x": 2}}),
        }
        proposer = ScriptedProposer({"tool_calls": [{"tool_name": "a"}, {"tool_name": "b"}]})
        mission = mk.Mission(tools=tools, proposer=proposer)
        metrics = observation_of(start(mission, [EVENT], tool_allowlist=["a", "b"]).step()).metrics

        assert [("x", 2), ("y", 1), ("z", 2)] == list(metrics.items())

    def test_entries_and_errors_follow_record_order(self) -> None:
        """§6.5: one entry per record in order; each non-ok record adds an errors row."""

        def bad() -> None:
            raise ValueError("v")

        tools: dict[str, Any] = {"bad": bad, "t": returning({"metrics": {"k": 1}}), "ghost": None}
        proposer = ScriptedProposer(
            {
                "tool_calls": [
                    {"tool_name": "bad"},
                    {"tool_name": "nope"},
                    {"tool_name": "t"},
                    {"tool_name": "ghost"},
                ]
            }
        )
        mission = mk.Mission(tools=tools, proposer=proposer)
        observation = observation_of(
            start(mission, [EVENT], tool_allowlist=["bad", "t", "ghost"]).step()
        )

        assert [
            ("failed", "bad"),
            ("skipped_not_allowed", "nope"),
            ("ok", "t"),
            ("failed", "ghost"),
        ] == [(e["_status"], e["tool_name"]) for e in observation.tool_results]
        assert [
            {"tool_name": "bad", "status": "failed", "error_message": "ValueError: v"},
            {"tool_name": "nope", "status": "skipped_not_allowed", "error_message": None},
            {
                "tool_name": "ghost",
                "status": "failed",
                "error_message": "LookupError: tool 'ghost' is external; report its result "
                "with Session.observe()",
            },
        ] == list(observation.errors)
        assert {"k": 1} == observation.metrics

    def test_host_input_wins_over_call_metrics_and_events_follow(self) -> None:
        """§6.11/§6.5: input metrics are merged over call metrics; input events come after."""
        mission = mk.Mission(tools={"t": None}, clock=FakeClock(step=1))
        session = start(mission, [EVENT])
        result = {"metrics": {"a": 1, "b": 2}, "events": [{"event_name": "tool"}]}

        iteration = session.observe(
            {
                "metrics": {"a": 9, "c": 3},
                "events": [{"event_name": "host"}],
                "tool_calls": [{"tool_name": "t", "status": "ok", "result": result}],
            }
        )
        observation = observation_of(iteration)

        assert {"a": 9, "b": 2, "c": 3} == observation.metrics
        assert ({"event_name": "tool"}, {"event_name": "host"}) == observation.events

    def test_phase_timestamps_bracket_the_observation(self) -> None:
        """§6.5: phase_started_at is the observe start; phase_ended_at is within the phase."""
        mission = mk.Mission(tools=[returning({})], clock=FakeClock(step=1))
        iteration = start(mission, [EVENT]).step()
        observation = observation_of(iteration)
        [observe] = [p for p in iteration.phases if p.phase == "observe"]

        assert observe.started_at == observation.phase_started_at
        assert observation.phase_started_at < observation.phase_ended_at <= observe.ended_at


# --------------------------------------------------------------------------- §12 final report


class TestFinalReport:
    def test_fields_are_copies_from_the_session(self) -> None:
        """§12.1: every copied field equals the session's; keys are in the listed order."""
        mission = mk.Mission(tools=[returning({"metrics": {"loss": 0.5}})], clock=FakeClock(step=1))
        session = start(
            mission,
            [threshold(), EVENT],
            budget={"max_iterations": 2, "max_wall_clock_seconds": 600},
            checkpoint_cadence={"kind": "every_n_iterations", "n": 1},
            stagnation_threshold=7,
            metadata={"owner": "qa", "tags": [1, 2]},
        )
        report = session.run()
        assert report is not None
        data = report.to_dict()
        state = session.state.to_dict()

        assert REPORT_KEYS == list(data)
        for key in (
            "session_id",
            "status",
            "directive_text",
            "criteria",
            "budget",
            "checkpoint_cadence",
            "tool_allowlist",
            "stagnation_threshold",
            "metadata",
            "created_at",
            "started_at",
            "ended_at",
            "final_verdict",
            "final_verdict_reason",
            "iterations",
        ):
            assert state[key] == data[key], key
        assert (1, 2, None) == (data["version"], data["iterations_run"], data["failure"])
        assert report == session.report()

    def test_all_criteria_met_lists_none(self) -> None:
        """§12.2: when no criterion is unmet or inconclusive the ids read 'none'."""
        mission = mk.Mission(tools=[returning({"metrics": {"loss": 0.05}})])
        done = {"criterion_id": "ok", "kind": "tool_call_succeeded", "required": False}
        report = start(mission, [threshold(), done | {"tool_name": "t"}]).run()
        assert report is not None

        assert report.lessons == (
            f"Session {SID} ended with verdict 'complete' (reason 'criteria_met') after 1 "
            "iteration(s). Directive: 'Drive the loss down'. Criteria not met at the final "
            "evaluation: none. This text comes from a fixed template; a configured sampler can "
            "replace it."
        )

    def test_directive_is_repr_quoted(self) -> None:
        """§12.2: the directive appears as {D!r}, so quotes follow Python's repr rules."""
        mission = mk.Mission(tools=[returning({"metrics": {"loss": 0.05}})])
        directive = 'Don\'t say "never"'
        report = start(mission, [threshold()], directive=directive).run()
        assert report is not None

        assert f"Directive: {directive!r}. Criteria not met at the final evaluation: none." in (
            report.lessons
        )

    def test_failed_after_an_evaluated_iteration(self) -> None:
        """§12.1/§12.2: a failed report keeps the last evaluation and lists its open ids."""
        calls: list[int] = []

        def proposer(ctx: Any) -> None:
            calls.append(1)
            if len(calls) == 2:
                raise KeyError("nope")

        mission = mk.Mission(
            tools=[returning({"metrics": {"loss": 0.5}})], proposer=proposer, clock=FakeClock()
        )
        session = start(mission, [threshold()], directive="Don't stop")
        first = session.step()
        with pytest.raises(KeyError):
            session.step()
        report = session.report()
        assert report is not None

        assert first.criteria_evaluation == report.final_criteria_evaluation
        assert {"iteration_index": 1, "phase": "propose", "error_message": "KeyError: 'nope'"} == (
            report.failure
        )
        assert (
            f"Session {SID} failed in phase 'propose' of iteration 1: KeyError: 'nope'. "
            'Directive: "Don\'t stop". Criteria not met at the final evaluation: loss.'
        ) == report.lessons
        assert ("failed", 2, None, None) == (
            report.status,
            report.iterations_run,
            report.final_verdict,
            report.final_verdict_reason,
        )

    def test_failed_in_execute_phase(self) -> None:
        """§12.1/§12.2: a script runner that raises fails execute; failure names that phase."""

        class BrokenRunner:
            async def run(
                self, script: str, *, allowlist: Any, call_tool: Any, max_seconds: Any
            ) -> ScriptOutcome:
                raise RuntimeError("runner broke")

        mission = mk.Mission(
            tools=[returning({})],
            script_runner=BrokenRunner(),
            proposer=ScriptedProposer({"script": "await t()"}),
        )
        session = start(mission, [EVENT], allow_scripted_strategies=True)
        with pytest.raises(RuntimeError):
            session.step()
        report = session.report()
        assert report is not None

        assert {
            "iteration_index": 0,
            "phase": "execute",
            "error_message": "RuntimeError: runner broke",
        } == report.failure
        assert (
            f"Session {SID} failed in phase 'execute' of iteration 0: RuntimeError: runner broke. "
            "Directive: 'Drive the loss down'. Criteria not met at the final evaluation: "
            "not evaluated."
        ) == report.lessons
        assert (
            "Inspect the error of the failed phase, fix its cause and start a new session.",
            NOTE,
        ) == report.recommended_followups

    def test_operator_complete_with_criteria_met_reason(self) -> None:
        """§12.3: follow-ups are chosen by the pair, so complete('criteria_met') uses that row."""
        mission = mk.Mission(tools=[returning({"metrics": {"loss": 0.5}})])
        report = start(mission, [threshold()]).complete("criteria_met")

        assert (
            "Persist or publish the artefacts produced by the final iteration.",
            "Consider re-running with tighter thresholds to confirm the result is robust.",
            NOTE,
        ) == report.recommended_followups

    def test_abort_of_paused_session(self) -> None:
        """§12.2/§12.3: abort gives the user_abort lessons and its single suggestion."""
        mission = mk.Mission(tools=[returning({"metrics": {"loss": 0.5}})], clock=FakeClock())
        session = start(mission, [threshold(), EVENT])
        session.step()
        session.abort(pause=True)
        report = session.abort()
        assert report is not None

        assert (
            f"Session {SID} ended with verdict 'terminate' (reason 'user_abort') after 1 "
            "iteration(s). Directive: 'Drive the loss down'. Criteria not met at the final "
            "evaluation: loss, e. This text comes from a fixed template; a configured sampler "
            "can replace it."
        ) == report.lessons
        assert (
            "Review why the session was aborted, then start a new session with an adjusted "
            "directive or budget.",
            NOTE,
        ) == report.recommended_followups
        assert ("terminated", "template") == (report.status, report.lessons_source)


def _host_session(**mission_kw: Any) -> mk.Session:
    mission = mk.Mission(tools={"t": None}, **mission_kw)
    return mission.start(directive="d", criteria=[EVENT], budget=UNCAPPED, tool_allowlist=["t"])


class TestHostResultsCappedOnce:
    def test_large_host_result_still_merges_metrics_and_events(self) -> None:
        """§6.11/§6.5 rule 2/§3.6: a host call over the default cap merges from the full result."""
        result = {"metrics": {"loss": 0.5}, "events": [{"event_name": "never"}], "pad": "x" * 70000}

        iteration = _host_session().observe(
            {"tool_calls": [{"tool_name": "t", "status": "ok", "result": result}]}
        )
        observation = iteration.observation
        assert observation is not None

        assert {"loss": 0.5} == observation.metrics
        assert ({"event_name": "never"},) == observation.events
        assert len(compact(result).encode()) == iteration.tool_calls[0].result_summary["bytes"]  # type: ignore[index]
        assert ("complete", "criteria_met") == (iteration.verdict, iteration.verdict_reason)

    def test_host_metric_marker_describes_the_original_value(self) -> None:
        """§3.14: a capped host metric/event is one marker of the original value, as for tools."""
        value = "y" * 300
        event = {"event_name": "h", "p": "q" * 300}

        iteration = _host_session(limits=m.Limits(tool_result_bytes=100)).observe(
            {"metrics": {"a": value}, "events": [event]}
        )
        observation = iteration.observation
        assert observation is not None

        assert marker(value) == observation.metrics["a"]
        assert (marker(event),) == observation.events
