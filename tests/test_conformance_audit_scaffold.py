"""
Conformance tests for audit (SPEC §10) and criteria scaffolding (SPEC §13), in depth.

Pins the rules the focused audit and scaffold modules leave open: event dicts
as the engine really emits them (script calls, sampling, unprintable and empty
exception texts, character-based cuts), sink constructor signatures and the
JSONL line format under awkward characters, replay of every kind of iteration
through a real ``Mission``, and the corner rules of deterministic and sampled
scaffolding (word boundaries, class precedence, slug cutting, argument check
order, fences, brackets, normalisation scope, feedback and transport errors).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

import missionkit as mk
from fakes import UNCAPPED, threshold
from missionkit.audit import (
    AuditSink,
    JsonlSink,
    LoggingSink,
    MemorySink,
    RingBufferSink,
    ScriptCallEvent,
    VerdictEvent,
    replay_audit_entries,
)
from missionkit.errors import MissionValidationError, PredicateRejected, ScaffoldSamplingError
from missionkit.predicate import parse_predicate
from missionkit.scaffold import (
    ascaffold_criteria_sampled,
    scaffold_criteria,
    scaffold_criteria_sampled,
)
from missionkit.testing import FakeClock, InlineScriptRunner, ScriptedProposer, ScriptedSampler

LOSS = [threshold(op="<")]
EVENT = {"criterion_id": "done", "kind": "event", "required": True, "event_name": "job_done"}
T0 = "2025-01-01T00:00:00.000000+00:00"


def train() -> dict[str, Any]:
    """
    A tool whose loss never meets the criterion.
    """
    return {"metrics": {"loss": 0.5}}


def make_mission(sinks: list[Any], **kwargs: Any) -> mk.Mission:
    """
    A Mission with the ``train`` tool and a standing FakeClock unless one is given.
    """
    kwargs.setdefault("clock", FakeClock())
    kwargs.setdefault("tools", {"train": train})
    return mk.Mission(sinks=sinks, **kwargs)


def begin(mission: mk.Mission, **kwargs: Any) -> mk.Session:
    """
    Start a session with the loss criterion and the train tool allowed.
    """
    kwargs.setdefault("budget", UNCAPPED)
    kwargs.setdefault("tool_allowlist", ["train"])
    return mission.start(directive="Drive the loss down", criteria=LOSS, **kwargs)


def stored(session: mk.Session) -> list[tuple[Any, ...]]:
    """
    The stored history as (index, [(phase, status)], verdict, reason, rationale) tuples.
    """
    return [
        (
            it.iteration_index,
            [(p.phase, p.status) for p in it.phases],
            it.verdict,
            it.verdict_reason,
            it.revision_rationale,
        )
        for it in session.state.iterations
    ]


def replayed(session_id: str, entries: list[Any]) -> list[tuple[Any, ...]]:
    """
    The replayed history in the same tuple shape as :func:`stored`.
    """
    return [
        (
            r["iteration_index"],
            [(p["phase"], p["status"]) for p in r["phases"]],
            r["verdict"],
            r["verdict_reason"],
            r["revision_rationale"],
        )
        for r in replay_audit_entries(session_id, entries)
    ]


class QueueSampler:
    """
    Answers from a queue (exceptions are raised) and records every prompt.
    """

    def __init__(self, *responses: Any) -> None:
        self.responses = list(responses)
        self.prompts: list[str] = []

    def __call__(self, prompt: str, /) -> Any:
        self.prompts.append(prompt)
        response = self.responses.pop(0)
        if isinstance(response, BaseException):
            raise response
        return response


# ------------------------------------------------------------------ §10.1 events


class TestEventsAsEmitted:
    def test_script_call_events_exact_dicts(self) -> None:
        """
        SPEC §10.1: via_script comes second; a cut error_message appears only on failure.
        """

        def boom() -> None:
            raise ValueError("é" * 300)

        sink = MemorySink()
        script = "await train()\ntry:\n    await boom()\nexcept ValueError:\n    pass\n"
        mission = make_mission(
            [sink],
            tools={"train": train, "boom": boom},
            proposer=ScriptedProposer({"script": script}),
            script_runner=InlineScriptRunner(),
        )
        session = begin(mission, tool_allowlist=["train", "boom"], allow_scripted_strategies=True)

        session.step()

        calls = [e for e in sink.entries() if e["event_type"] == "mission_script_call_event"]
        base = {
            "event_type": "mission_script_call_event",
            "via_script": True,
            "mission_session_id": session.id,
            "iteration_index": 0,
        }
        assert [
            [*base, "tool_name", "tool_status", "duration_ms", "timestamp"],
            [*base, "tool_name", "tool_status", "duration_ms", "timestamp", "error_message"],
        ] == [list(c) for c in calls]
        assert [
            {**base, "tool_name": "train", "tool_status": "ok", "timestamp": T0},
            {
                **base,
                "tool_name": "boom",
                "tool_status": "failed",
                "timestamp": T0,
                "error_message": ("ValueError: " + "é" * 300)[:200],
            },
        ] == [{k: v for k, v in c.items() if k != "duration_ms"} for c in calls]
        assert all(type(c["duration_ms"]) is int for c in calls)

    def test_used_strategy_revision_event_exact_dict(self) -> None:
        """
        SPEC §10.1/§8.7: a used revision carries index, model id and the UTF-8 byte size, in order.
        """
        answer = "Voilà " + json.dumps(
            {
                "revision_rationale": "go",
                "next_strategy": {"tool_calls": [{"tool_name": "train", "args": {}}]},
                "confidence": 0.5,
            }
        )
        sink = MemorySink()
        mission = make_mission([sink], sampler=ScriptedSampler(answer))
        session = begin(mission, use_sampling="every_iteration")

        session.step()

        (event,) = [e for e in sink.entries() if e["event_type"] == "mission_sampling_event"]
        assert [
            ("event_type", "mission_sampling_event"),
            ("mission_session_id", session.id),
            ("sampling_purpose", "strategy_revision"),
            ("sampling_status", "used"),
            ("sampling_backend", "scripted"),
            ("timestamp", T0),
            ("iteration_index", 0),
            ("sampling_model_id", "scripted"),
            ("model_output_bytes", len(answer.encode("utf-8"))),
        ] == list(event.items())

    def test_rejected_strategy_revision_event_exact_dict(self) -> None:
        """
        SPEC §10.1/§8.7: an unparsable revision carries validation_error json_parse and no size.
        """
        sink = MemorySink()
        session = begin(
            make_mission([sink], sampler=ScriptedSampler("no json here")),
            use_sampling="every_iteration",
        )

        session.step()

        (event,) = [e for e in sink.entries() if e["event_type"] == "mission_sampling_event"]
        assert [
            ("event_type", "mission_sampling_event"),
            ("mission_session_id", session.id),
            ("sampling_purpose", "strategy_revision"),
            ("sampling_status", "rejected"),
            ("sampling_backend", "scripted"),
            ("timestamp", T0),
            ("iteration_index", 0),
            ("sampling_model_id", "scripted"),
            ("validation_error", "json_parse"),
        ] == list(event.items())

    @pytest.mark.parametrize(
        ("error", "text"),
        [(RuntimeError(), "RuntimeError: "), (None, "Unprintable: <unprintable>")],
    )
    def test_failed_phase_text_is_the_exception_text(
        self, error: BaseException | None, text: str
    ) -> None:
        """
        SPEC §1.4/§10.1: an empty message yields "Type: ", an unprintable one <unprintable>.
        """

        class Unprintable(Exception):
            def __str__(self) -> str:
                raise ValueError("no")

        def proposer(ctx: Any) -> None:
            raise error if error is not None else Unprintable()

        sink = MemorySink()
        session = begin(make_mission([sink], proposer=proposer))

        with pytest.raises(Exception):
            session.step()

        phase, life = sink.entries()[1:]
        assert (text, text) == (phase["error_message"], life["error_message"])
        assert ["action", "status", "previous_status", "iteration_index"] == [
            k for k in life if k in {"action", "status", "previous_status", "iteration_index"}
        ]
        assert ("fail", "failed", "pending", 0) == (
            life["action"],
            life["status"],
            life["previous_status"],
            life["iteration_index"],
        )

    def test_lifecycle_sequence_exact_dicts(self) -> None:
        """
        SPEC §10.1/§6.13: start lacks previous_status; pause/resume add it; complete adds verdicts.
        """
        sink = MemorySink()
        session = begin(make_mission([sink]))
        session.abort(pause=True)
        session.resume()
        session.complete("shipped")

        head = {"event_type": "mission_lifecycle_event", "mission_session_id": session.id}
        assert [
            {**head, "action": "start", "status": "pending", "timestamp": T0},
            {
                **head,
                "action": "pause",
                "status": "paused",
                "timestamp": T0,
                "previous_status": "pending",
            },
            {
                **head,
                "action": "resume",
                "status": "pending",
                "timestamp": T0,
                "previous_status": "paused",
            },
            {
                **head,
                "action": "complete",
                "status": "completed",
                "timestamp": T0,
                "previous_status": "pending",
                "final_verdict": "complete",
                "final_verdict_reason": "shipped",
            },
        ] == sink.entries()
        assert [5, 6, 6, 8] == [len(e) for e in sink.entries()]

    def test_cut_counts_characters_not_bytes(self) -> None:
        """
        SPEC §1.4/§10.1: the 200 cut keeps 200 characters even when they are multi-byte.
        """
        text = "😀" * 250
        event = ScriptCallEvent(
            mission_session_id="s",
            iteration_index=0,
            tool_name="t",
            tool_status="failed",
            duration_ms=1,
            timestamp=FakeClock()(),
            error_message=text,
        )

        assert "😀" * 200 == event.to_dict()["error_message"]

    def test_empty_rationale_omitted_and_present_one_kept(self) -> None:
        """
        SPEC §10.1: revision_rationale is emitted only when non-empty, after timestamp.
        """
        clock = FakeClock()
        common = {
            "mission_session_id": "s",
            "iteration_index": 2,
            "verdict": "adjust",
            "verdict_reason": "heuristic_unproductive",
            "timestamp": clock(),
        }

        assert (
            ["timestamp"],
            ["timestamp", "revision_rationale"],
        ) == (
            list(VerdictEvent(**common, revision_rationale="").to_dict())[-1:],
            list(VerdictEvent(**common, revision_rationale="why").to_dict())[-2:],
        )


# ------------------------------------------------------------------- §10.2 sinks


class TestSinkConstructors:
    def test_jsonl_fsync_is_keyword_only(self, tmp_path: Path) -> None:
        """
        SPEC §10.2: ``JsonlSink(path, *, fsync=False)`` takes fsync by keyword only.
        """
        with pytest.raises(TypeError):
            JsonlSink(tmp_path / "a.jsonl", True)  # type: ignore[misc]

    def test_constructor_and_protocol_signatures(self) -> None:
        """
        SPEC §10.2: the four sinks' constructor signatures and the positional-only protocol call.
        """
        expected = [
            [("logger", "POSITIONAL_OR_KEYWORD", None), ("level", "POSITIONAL_OR_KEYWORD", 20)],
            [("capacity", "POSITIONAL_OR_KEYWORD", 5000)],
            [
                ("path", "POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
                ("fsync", "KEYWORD_ONLY", False),
            ],
            [],
        ]
        assert expected == [
            [(p.name, p.kind.name, p.default) for p in inspect.signature(cls).parameters.values()]
            for cls in (LoggingSink, RingBufferSink, JsonlSink, MemorySink)
        ]
        event_param = list(inspect.signature(AuditSink.__call__).parameters.values())[1]
        assert inspect.Parameter.POSITIONAL_ONLY == event_param.kind

    def test_logging_sink_positional_arguments(self, caplog: pytest.LogCaptureFixture) -> None:
        """
        SPEC §10.2: ``LoggingSink(logger, level)`` accepts both positionally.
        """
        caplog.set_level(logging.DEBUG, logger="host.pos")
        event = VerdictEvent(
            mission_session_id="s",
            iteration_index=0,
            verdict="continue",
            verdict_reason="in_progress",
            timestamp=FakeClock()(),
        )

        LoggingSink(logging.getLogger("host.pos"), logging.WARNING)(event)

        assert [("host.pos", logging.WARNING, json.dumps(event.to_dict()))] == [
            (r.name, r.levelno, r.getMessage()) for r in caplog.records
        ]

    def test_ring_buffer_capacity_one(self) -> None:
        """
        SPEC §10.2: ``RingBufferSink(1)`` keeps only the newest event dict.
        """
        sink = RingBufferSink(1)
        session = begin(make_mission([sink]))

        session.step()

        assert (1, 1) == (sink.capacity, len(sink))
        assert ["mission_verdict_event"] == [e["event_type"] for e in sink.entries_for(session.id)]

    def test_jsonl_str_path_and_line_separators(self, tmp_path: Path) -> None:
        """
        SPEC §10.2: lines are compact UTF-8 JSON; U+2028, NEL and CR in texts never split a line.
        """
        path = str(tmp_path / "audit.jsonl")
        message = "a\u2028b\x85c\rd\u2029e"
        event = ScriptCallEvent(
            mission_session_id="s",
            iteration_index=0,
            tool_name="t",
            tool_status="failed",
            duration_ms=0,
            timestamp=FakeClock()(),
            error_message=message,
        )
        with JsonlSink(path) as sink:
            sink(event)
            sink(event)

        raw = Path(path).read_bytes()
        line = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
        assert (line * 2).encode("utf-8") == raw
        assert [event.to_dict(), event.to_dict()] == JsonlSink.read_entries(path)

    def test_read_entries_skips_too_deep_and_crlf_is_fine(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """
        SPEC §10.2: a line too deeply nested to parse is skipped with a WARNING; CRLF lines read.
        """
        path = tmp_path / "audit.jsonl"
        deep = '{"a":' * 50_000 + "1" + "}" * 50_000
        path.write_bytes(b'{"x": 1}\r\n' + deep.encode() + b'\n{"y": 2}\r\n')

        entries = JsonlSink.read_entries(path)

        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert [{"x": 1}, {"y": 2}] == entries
        assert [("missionkit", 1)] == [(r.name, r.missionkit_skipped_lines) for r in warnings]


# ------------------------------------------------------------------ §10.3 replay


class TestReplayThroughMission:
    def test_host_reported_iterations(self) -> None:
        """
        SPEC §10.3/§6.16: observe() iterations replay as observe/evaluate/decide plus the verdict.
        """
        sink = MemorySink()
        session = begin(make_mission([sink]), stagnation_threshold=2)
        for _ in range(3):
            session.observe({"metrics": {"loss": 0.5}})

        result = replayed(session.id, sink.entries())

        assert stored(session) == result
        assert [["observe", "evaluate", "decide"]] * 3 == [[p for p, _ in r[1]] for r in result]

    def test_deadline_iteration(self) -> None:
        """
        SPEC §10.3/§6.12: a deadline iteration replays as one decide phase with terminate.
        """
        clock = FakeClock()
        sink = MemorySink()
        session = begin(
            make_mission([sink], clock=clock),
            budget={"max_iterations": -1, "max_wall_clock_seconds": 10},
        )
        session.step()
        clock.advance(60)
        session.step()

        result = replayed(session.id, sink.entries())

        assert stored(session) == result
        assert (1, [("decide", "succeeded")], "terminate", "max_wall_clock", None) == result[-1]

    def test_script_iterations(self) -> None:
        """
        SPEC §10.3: script call events between the phases are ignored by replay.
        """
        sink = MemorySink()
        mission = make_mission(
            [sink],
            proposer=ScriptedProposer(*[{"script": "await train()"}] * 2),
            script_runner=InlineScriptRunner(),
        )
        session = begin(mission, allow_scripted_strategies=True)
        session.step()
        session.step()

        result = replayed(session.id, sink.entries())

        assert stored(session) == result
        assert 2 == len(result)
        assert 2 == sum(e["event_type"] == "mission_script_call_event" for e in sink.entries())

    def test_sampled_iterations_with_final_lessons(self) -> None:
        """
        SPEC §10.3: sampling events (revision and final lessons) do not disturb replay.
        """
        lessons = '{"lessons": ["l"], "recommended_followups": ["f"]}'
        sink = MemorySink()
        session = begin(
            make_mission([sink], sampler=ScriptedSampler("nope", "nope", lessons)),
            use_sampling="every_iteration",
            budget={"max_iterations": 2, "max_wall_clock_seconds": -1},
        )
        session.step()
        session.step()

        result = replayed(session.id, sink.entries())

        assert stored(session) == result
        assert ("terminate", "max_iterations") == result[-1][2:4]
        assert 3 == sum(e["event_type"] == "mission_sampling_event" for e in sink.entries())

    def test_two_proposals_then_step_is_one_iteration(self) -> None:
        """
        SPEC §10.3/§6.11: propose() twice then step() replays as one iteration with two proposes.
        """
        sink = MemorySink()
        session = begin(make_mission([sink]))
        session.propose()
        session.propose()
        session.step()

        result = replayed(session.id, sink.entries())

        assert stored(session) == result
        assert [
            "propose",
            "propose",
            "execute",
            "observe",
            "evaluate",
            "decide",
        ] == [p for p, _ in result[0][1]]

    def test_failed_propose_call_replays_with_error_message(self) -> None:
        """
        SPEC §10.3: a failed propose() replays as a verdict-less iteration keeping error_message.
        """
        toggle = {"fail": False}

        def proposer(ctx: Any) -> None:
            if toggle["fail"]:
                raise KeyError("k" * 300)

        sink = MemorySink()
        session = begin(make_mission([sink], proposer=proposer))
        session.step()
        toggle["fail"] = True
        with pytest.raises(KeyError):
            session.propose()

        records = replay_audit_entries(session.id, sink.entries())

        assert stored(session) == replayed(session.id, sink.entries())
        assert [
            {
                "phase": "propose",
                "status": "failed",
                "started_at": T0,
                "ended_at": T0,
                "error_message": ("KeyError: '" + "k" * 300)[:200],
            }
        ] == records[-1]["phases"]
        assert (1, None, None, None) == (
            records[-1]["iteration_index"],
            records[-1]["verdict"],
            records[-1]["verdict_reason"],
            records[-1]["revision_rationale"],
        )

    def test_event_objects_are_not_entries(self) -> None:
        """
        SPEC §10.3: only dicts are kept, so event objects (MemorySink.events) replay as nothing.
        """
        sink = MemorySink()
        session = begin(make_mission([sink]))
        session.step()

        assert ([], 1) == (
            replay_audit_entries(session.id, list(sink.events)),
            len(replay_audit_entries(session.id, sink.entries())),
        )

    def test_dict_subclass_entries_are_kept(self) -> None:
        """
        SPEC §10.3: entries that are dict subclasses count as dicts.
        """
        sink = MemorySink()
        session = begin(make_mission([sink]))
        session.step()

        entries = [OrderedDict(e) for e in sink.entries()]

        assert stored(session) == replayed(session.id, entries)


# ------------------------------------------------------------ §13.1 deterministic


class TestScaffoldDeterministic:
    @pytest.mark.parametrize(
        ("directive", "criterion_id"),
        [
            ("Reduce val_loss", "todo_placeholder"),
            ("Reduce the loss-rate", "loss_target"),
            ("Maximise f1-score", "f1_target"),
            ("Minimise LOSS now", "loss_target"),
            ("Approach completion", "todo_placeholder"),
            ("It emits signals", "todo_placeholder"),
            ("until it has succeeded", "expected_event"),
            ("once FINISHED", "expected_event"),
            ("finder tools", "todo_placeholder"),
        ],
    )
    def test_whole_word_boundaries(self, directive: str, criterion_id: str) -> None:
        """
        SPEC §13.1: keywords match as \\b…\\b whole words (``_`` is a word character, ``-`` is not).
        """
        assert [criterion_id] == [c["criterion_id"] for c in scaffold_criteria(directive)]

    def test_upper_case_loss_still_maps_to_val_loss(self) -> None:
        """
        SPEC §13.1: kw is lower-cased, so ``LOSS`` targets ``metrics.val_loss``.
        """
        (criterion,) = scaffold_criteria("Minimise LOSS")

        assert ("loss_target", "metrics.val_loss", "<=", 0.1) == (
            criterion["criterion_id"],
            criterion["metric"],
            criterion["op"],
            criterion["target"],
        )

    def test_leftmost_keyword_of_higher_class(self) -> None:
        """
        SPEC §13.1: within class 2 the leftmost keyword wins, not the first listed.
        """
        (criterion,) = scaffold_criteria("recall beats precision and accuracy")

        assert ("recall_target", "metrics.recall", ">=", 0.9) == (
            criterion["criterion_id"],
            criterion["metric"],
            criterion["op"],
            criterion["target"],
        )

    def test_metric_class_ignores_allowlist_and_cap(self) -> None:
        """
        SPEC §13.1: class 1 beats class 3, so tools and max_criteria do not matter.
        """
        assert [
            {
                "criterion_id": "cost_target",
                "kind": "metric_threshold",
                "required": True,
                "metric": "metrics.cost",
                "op": "<=",
                "target": 0.1,
            }
        ] == scaffold_criteria("find the lowest cost", ["a", "b", "c"], 0)

    def test_event_class_ignores_allowlist(self) -> None:
        """
        SPEC §13.1: the event class gives one expected_event whatever the allowlist.
        """
        assert [
            {
                "criterion_id": "expected_event",
                "kind": "event",
                "required": True,
                "event_name": "job_succeeded",
            }
        ] == scaffold_criteria("Complete the job", ["a", "b"], 3)

    def test_search_cap_takes_the_first_tools(self) -> None:
        """
        SPEC §13.1: class 3 takes the first max_criteria tools in allowlist order.
        """
        tools = ["zeta", "alpha", "mid"]

        assert (["zeta_called"], ["zeta", "alpha", "mid"]) == (
            [c["criterion_id"] for c in scaffold_criteria("discover", tools, 1)],
            [c["tool_name"] for c in scaffold_criteria("discover", tools, 50)],
        )

    def test_slug_is_cut_after_stripping(self) -> None:
        """
        SPEC §13.1: strip ``_`` happens before the 32-character cut, so a cut may end in ``_``.
        """
        tool = "a" * 31 + "-b"

        (criterion,) = scaffold_criteria("lookup", [tool])

        assert ("a" * 31 + "__called", tool) == (criterion["criterion_id"], criterion["tool_name"])

    def test_slug_replaces_non_ascii(self) -> None:
        """
        SPEC §13.1: characters outside [a-z0-9] (accents included) become ``_``.
        """
        result = scaffold_criteria("search", ["Café-Tool", "ÄÖÜ"])

        assert ["caf_tool_called", "criterion_called"] == [c["criterion_id"] for c in result]

    @pytest.mark.parametrize(
        ("args", "details"),
        [
            ((123,), {"field": "directive", "reason": "not_a_string"}),
            (
                ("x" * 8193,),
                {
                    "field": "directive",
                    "reason": "too_long",
                    "max_length": 8192,
                    "actual_length": 8193,
                },
            ),
            (("   ", "bad", "bad"), {"field": "directive", "reason": "empty"}),
            (("Cut cost", "bad", "bad"), {"field": "tool_allowlist", "reason": "not_a_list"}),
            (("Cut cost", None, None), {"field": "max_criteria", "reason": "must_be_positive_int"}),
            (("Cut cost", None, "3"), {"field": "max_criteria", "reason": "must_be_positive_int"}),
        ],
    )
    def test_argument_checks_in_order(self, args: tuple[Any, ...], details: dict[str, Any]) -> None:
        """
        SPEC §13.1: directive, then allowlist, then max_criteria; checked for every class.
        """
        with pytest.raises(MissionValidationError) as info:
            scaffold_criteria(*args)

        assert details == info.value.details


# ----------------------------------------------------------------- §13.2 sampled


class TestScaffoldSampled:
    def test_cap_below_one_is_one_in_prompt_and_answer(self) -> None:
        """
        SPEC §13.1/§13.2: max_criteria 0 means 1: the prompt says so and one entry is kept.
        """
        second = {**EVENT, "criterion_id": "two"}
        sampler = QueueSampler(json.dumps([EVENT, second]))

        result = scaffold_criteria_sampled("x", sampler, max_criteria=0)

        assert [EVENT] == result
        assert "Return at most 1 criteria." in sampler.prompts[0]

    @pytest.mark.parametrize(
        ("kwargs", "details"),
        [
            ({"allowlist": "t"}, {"field": "tool_allowlist", "reason": "not_a_list"}),
            ({"max_criteria": 1.5}, {"field": "max_criteria", "reason": "must_be_positive_int"}),
            ({"directive": ""}, {"field": "directive", "reason": "empty"}),
        ],
    )
    def test_bad_arguments_never_reach_the_sampler(
        self, kwargs: dict[str, Any], details: dict[str, Any]
    ) -> None:
        """
        SPEC §13.2: arguments are validated as in §13.1 before any sampler call.
        """
        sampler = QueueSampler(json.dumps([EVENT]))
        call = {"directive": "x", **kwargs}
        directive = call.pop("directive")

        with pytest.raises(MissionValidationError) as info:
            scaffold_criteria_sampled(directive, sampler, **call)

        assert (details, []) == (info.value.details, sampler.prompts)

    def test_empty_allowlist_reads_none_specified(self) -> None:
        """
        SPEC §13.2: an empty allowlist is shown as ``none specified``.
        """
        sampler = QueueSampler(json.dumps([EVENT]))

        scaffold_criteria_sampled("x", sampler, allowlist=[])

        assert "=== Tool allowlist ===\nnone specified" in sampler.prompts[0]

    def test_whitespace_before_fence(self) -> None:
        """
        SPEC §13.2 step 2: the text is stripped before the fence test.
        """
        answer = "  \n```json\n" + json.dumps([EVENT]) + "\n```  \n"

        assert [EVENT] == scaffold_criteria_sampled("x", QueueSampler(answer))

    def test_fence_first_line_is_dropped_even_with_content(self) -> None:
        """
        SPEC §13.2 step 2: a fence's whole first line is dropped, so a one-line fence is json_parse.
        """
        answer = "```" + json.dumps([EVENT]) + "```"

        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", QueueSampler(answer), retries=0)

        assert "json_parse" == info.value.last_reason

    def test_first_bracket_to_last_bracket(self) -> None:
        """
        SPEC §13.2 step 2: a ``[`` in leading prose is included, making the answer json_parse.
        """
        answer = "See [1] below: " + json.dumps([EVENT])

        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", QueueSampler(answer), retries=0)

        assert "json_parse" == info.value.last_reason

    def test_empty_array_is_the_empty_reason(self) -> None:
        """
        SPEC §13.2 step 6: ``[]`` parses and fails validate_criteria with reason ``empty``.
        """
        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", QueueSampler("[]"), retries=0)

        assert "empty" == info.value.last_reason

    def test_prefix_only_for_metric_threshold(self) -> None:
        """
        SPEC §13.2 step 4: a metric_trend's dotless metric is not prefixed.
        """
        trend = {
            "criterion_id": "t",
            "kind": "metric_trend",
            "required": False,
            "metric": "loss",
            "direction": "decreasing",
        }

        assert [trend] == scaffold_criteria_sampled("x", QueueSampler(json.dumps([trend])))

    def test_empty_metric_is_not_prefixed(self) -> None:
        """
        SPEC §13.2 step 4: an empty metric stays empty and is rejected by validation.
        """
        bad = {
            "criterion_id": "m",
            "kind": "metric_threshold",
            "required": True,
            "metric": "",
            "op": "<",
            "target": 1,
        }

        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", QueueSampler(json.dumps([bad])), retries=0)

        assert "metric_missing_or_invalid" == info.value.last_reason

    def test_extra_keys_kept_underscore_keys_dropped(self) -> None:
        """
        SPEC §13.2 step 7: only top-level keys starting with ``_`` are removed.
        """
        entry = {**EVENT, "notes": {"_inner": 1}, "_why": "x", "description": "d"}

        result = scaffold_criteria_sampled("x", QueueSampler(json.dumps([entry])))

        assert [{**EVENT, "notes": {"_inner": 1}, "description": "d"}] == result

    def test_autofix_inside_call_arguments(self) -> None:
        """
        SPEC §13.2 step 5: chains rooted at obs are rewritten wherever they occur.
        """
        entry = {
            "criterion_id": "p",
            "kind": "predicate",
            "required": True,
            "expression": "len(obs.tool_results) > 0 and obs.metrics.n >= 1",
        }

        (result,) = scaffold_criteria_sampled("x", QueueSampler(json.dumps([entry])))

        assert "len(obs['tool_results']) > 0 and obs['metrics']['n'] >= 1" == result["expression"]

    def test_failed_autofix_reports_the_original_reason(self) -> None:
        """
        SPEC §13.2 steps 5-6: a rewrite that still fails is dropped; the original's token is used.
        """
        expression = "any(r.ok for r in obs.tool_results)"
        with pytest.raises(PredicateRejected) as original:
            parse_predicate(expression)
        entry = {"criterion_id": "p", "kind": "predicate", "required": True}
        entry["expression"] = expression

        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", QueueSampler(json.dumps([entry])), retries=0)

        assert original.value.reason == info.value.last_reason

    def test_feedback_quotes_only_the_last_rejection(self) -> None:
        """
        SPEC §13.2: each retry prompt is the base prompt plus one feedback section (last reason).
        """
        sampler = QueueSampler("nothing", "[]", "still nothing", json.dumps([EVENT]))

        assert [EVENT] == scaffold_criteria_sampled("x", sampler, retries=3)

        base = sampler.prompts[0]
        assert [0, 1, 1, 1] == [p.count("=== Feedback") for p in sampler.prompts]
        assert all(p.startswith(base) for p in sampler.prompts)
        feedback = [p[len(base) :] for p in sampler.prompts[1:]]
        quoted = [[r for r in ("json_parse", "empty") if f"reason {r!r}" in f] for f in feedback]
        assert [["json_parse"], ["empty"], ["json_parse"]] == quoted

    def test_transport_error_after_a_rejection_is_immediate(self) -> None:
        """
        SPEC §13.2 rule 1: a raising sampler on a retry stops at once with transport_error.
        """
        sampler = QueueSampler("nope", ConnectionError("down"), json.dumps([EVENT]))

        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", sampler, retries=5)

        assert ("transport_error", 2) == (info.value.last_reason, len(sampler.prompts))
        assert {
            "code": "scaffold_sampling_failed",
            "details": {"last_reason": "transport_error"},
        } == (info.value.to_dict())

    def test_sampler_timeout_is_a_transport_error(self) -> None:
        """
        SPEC §8.1/§13.2 rule 1: a sampler exceeding its ``timeout`` fails at once (transport_error).
        """

        class Slow:
            timeout = 0.05

            def __init__(self) -> None:
                self.calls = 0

            def __call__(self, prompt: str, /) -> str:
                self.calls += 1
                time.sleep(1.0)
                return json.dumps([EVENT])

        sampler = Slow()
        started = time.monotonic()

        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", sampler, retries=3)

        assert ("transport_error", 1) == (info.value.last_reason, sampler.calls)
        assert time.monotonic() - started < 0.8

    def test_prompt_names_every_kind_and_field(self) -> None:
        """
        SPEC §13.2: the prompt gives each kind's fields and the full observation shape.
        """
        sampler = QueueSampler(json.dumps([EVENT]))
        scaffold_criteria_sampled("x", sampler)
        prompt = sampler.prompts[0]
        needles = [
            "tool_call_succeeded",
            "min_count",
            "metric_threshold",
            "op",
            "target",
            "min_delta",
            "min_delta_mode",
            "on_non_finite",
            "metric_trend",
            "direction",
            "window",
            "min_points",
            "event_name",
            "expression",
            "criterion_id",
            "required",
            "description",
            "errors",
            "tool_results.0.",
            "metric_history",
        ]

        assert [] == [n for n in needles if n not in prompt]
        assert prompt.rstrip().endswith("]")

    def test_async_sampler_returning_non_str(self) -> None:
        """
        SPEC §13.2 rule 1: an async sampler resolving to a non-str is a transport_error.
        """

        async def sampler(prompt: str) -> Any:
            return ["not", "a", "str"]

        with pytest.raises(ScaffoldSamplingError) as info:
            asyncio.run(ascaffold_criteria_sampled("x", sampler))

        assert "transport_error" == info.value.last_reason

    def test_exhausted_reason_is_the_last_attempts(self) -> None:
        """
        SPEC §13.2: after retries + 1 rejections the error names the last attempt's reason.
        """
        sampler = QueueSampler("[]", "nope")

        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", sampler, retries=1)

        assert ("json_parse", 2) == (info.value.last_reason, len(sampler.prompts))
