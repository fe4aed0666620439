"""
Black-box conformance tests for sampling (SPEC §8), criteria scaffolding (§13) and the CLI (§14).

Only public names are used: ``missionkit``, ``missionkit.sampling``, ``missionkit.scaffold``,
``missionkit.testing`` and ``missionkit.cli.main`` (or the installed console script).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import missionkit as mk
from cli_support import run_cli, spec_dict, write_spec, write_tools
from missionkit.audit import MemorySink
from missionkit.errors import ScaffoldSamplingError
from missionkit.predicate import (
    ALLOWED_CALLABLES,
    ALLOWED_METHODS,
    PredicateRejected,
    parse_predicate,
)
from missionkit.sampling import SamplingPrompt
from missionkit.scaffold import scaffold_criteria, scaffold_criteria_sampled
from missionkit.testing import FakeClock, ScriptedProposer, ScriptedSampler
from spec_key_orders import REPORT_KEYS

PROMPT_BUDGET = 32768
MARKER = "... [truncated]"
REVISION_PREAMBLE = (
    "You advise an automated mission loop. Propose the next strategy as one JSON object. The loop "
    "validates your answer, may discard it, and computes verdicts, budgets and criterion results "
    "itself."
)
LESSONS_PREAMBLE = (
    "You summarise a finished mission loop. Write lessons and follow-up suggestions as one JSON "
    "object. Your answer does not change the recorded outcome."
)
SCHEMA_LINE = "Answer with a single JSON object that matches this schema and nothing else."
UNMET = [
    {
        "criterion_id": "v",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.v",
        "op": ">=",
        "target": 1,
    }
]
LESSONS = json.dumps({"lessons": ["First.", "Second."], "recommended_followups": ["Next."]})


def flat() -> dict[str, Any]:
    """
    Report v = 0, which never meets the criterion.
    """
    return {"metrics": {"v": 0}}


def undocumented() -> dict[str, Any]:
    return {"metrics": {"v": 0}}


def _mission(sampler: Any = None, tools: Any = (flat,), **kw: Any) -> tuple[mk.Mission, MemorySink]:
    sink = MemorySink()
    mission = mk.Mission(
        tools=tools, sampler=sampler, clock=FakeClock(step=1.0), sinks=[sink], **kw
    )
    return mission, sink


def _start(mission: mk.Mission, **kw: Any) -> mk.Session:
    spec: dict[str, Any] = {
        "directive": "Raise v to 1",
        "criteria": UNMET,
        "budget": {"max_iterations": 10, "max_wall_clock_seconds": -1},
        "tool_allowlist": ["flat"],
        "use_sampling": "every_iteration",
        "stagnation_threshold": 100,
    }
    spec.update(kw)
    return mission.start(**spec)


def _sampling(sink: MemorySink) -> list[dict[str, Any]]:
    return [e.to_dict() for e in sink.events if e.event_type == "mission_sampling_event"]


def _section(prompt: str, header: str) -> str:
    """
    The body of the section with *header* (up to the next section).
    """
    body = prompt.split(f"\n\n{header}\n", 1)[1]
    return body.split("\n\n=== ", 1)[0]


def _json_section(prompt: str, header: str) -> Any:
    return json.loads(_section(prompt, header))


def _revision_iterations(prompt: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _json_section(prompt, "=== Recent iterations (oldest first) ===")
    return result


# ---------------------------------------------------------------- §8.5 prompt assembly


class TestPromptThroughTheEngine:
    def test_strategy_revision_sections_in_order(self) -> None:
        """
        SPEC §8.5: a strategy_revision prompt is the preamble then six headed sections, in order.
        """
        sampler = ScriptedSampler("junk")
        mission, _ = _mission(sampler)
        _start(mission).step()

        (prompt,) = sampler.prompts
        sections = prompt.split("\n\n=== ")

        assert REVISION_PREAMBLE == sections[0]
        assert [
            "Mission directive ===",
            "Success criteria with current status ===",
            "Tool allowlist ===",
            "Budget context ===",
            "Recent iterations (oldest first) ===",
            "Output schema ===",
        ] == [s.split("\n", 1)[0] for s in sections[1:]]
        assert "Raise v to 1" == _section(prompt, "=== Mission directive ===")
        schema_body = _section(prompt, "=== Output schema ===")
        assert schema_body.startswith(SCHEMA_LINE + "\n")
        schema = json.loads(schema_body[len(SCHEMA_LINE) + 1 :])
        assert {"revision_rationale", "next_strategy", "confidence"} == set(schema["required"])
        assert "script" not in schema["properties"]["next_strategy"]["properties"]

    def test_budget_context_counts_down_to_the_last_iteration(self) -> None:
        """
        SPEC §8.5/§7.2: remaining iterations include the current one; null means uncapped.
        """
        sampler = ScriptedSampler("junk", "junk", "junk")
        mission, _ = _mission(sampler)
        session = _start(mission, budget={"max_iterations": 3, "max_wall_clock_seconds": -1})
        session.step()
        session.step()
        session.step()

        contexts = [_json_section(p, "=== Budget context ===") for p in sampler.prompts[:3]]
        assert [
            {
                "allow_scripted_strategies": False,
                "is_last_iteration": last,
                "remaining_iterations": remaining,
                "remaining_wall_clock_seconds": None,
            }
            for remaining, last in ((3, False), (2, False), (1, True))
        ] == contexts

    def test_tool_entries_follow_the_allowlist(self) -> None:
        """
        SPEC §8.5: tools appear in allowlist order; input_schema only when the tool has one.
        """
        schema = {"type": "object", "properties": {"k": {"type": "integer"}}}
        sampler = ScriptedSampler("junk")
        tools = [mk.Tool(flat, input_schema=schema), undocumented]
        mission, _ = _mission(sampler, tools=tools)
        _start(mission, tool_allowlist=["undocumented", "flat"]).step()

        assert [
            {"docstring": "", "tool_name": "undocumented"},
            {
                "docstring": "Report v = 0, which never meets the criterion.",
                "input_schema": schema,
                "tool_name": "flat",
            },
        ] == _json_section(sampler.prompts[0], "=== Tool allowlist ===")

    def test_unknown_allowlisted_tool_gets_an_empty_docstring(self) -> None:
        """
        SPEC §8.5: an allowlisted tool this Mission does not know is listed with docstring "".
        """
        store = mk.Mission().store
        first, _ = _mission(ScriptedSampler(), tools=[flat, undocumented], store=store)
        session_id = _start(first, tool_allowlist=["undocumented", "flat"]).id
        sampler = ScriptedSampler("junk")
        second, _ = _mission(sampler, tools=[mk.Tool(flat, description="Flat.")], store=store)

        second.session(session_id).step()

        assert [
            {"docstring": "", "tool_name": "undocumented"},
            {"docstring": "Flat.", "tool_name": "flat"},
        ] == _json_section(sampler.prompts[0], "=== Tool allowlist ===")

    def test_criteria_status_comes_from_the_latest_evaluated_iteration(self) -> None:
        """
        SPEC §8.5: never-evaluated criteria show inconclusive/null; later the last evaluation.
        """
        sampler = ScriptedSampler("junk", "junk", "junk")
        mission, _ = _mission(sampler)
        session = _start(mission, checkpoint_cadence={"kind": "every_n_iterations", "n": 2})
        for _ in range(3):
            session.step()

        statuses = [
            _json_section(p, "=== Success criteria with current status ===")[0]["status"]
            for p in sampler.prompts
        ]
        evaluated = session.state.iterations[0].criteria_evaluation[0]
        expected = {
            "evaluated_at": evaluated.to_dict()["evaluated_at"],
            "evidence": 0,
            "status": "unmet",
        }
        assert [
            {"evaluated_at": None, "evidence": None, "status": "inconclusive"},
            expected,
            expected,
        ] == statuses

    def test_iteration_summary_shape(self) -> None:
        """
        SPEC §8.5: a strategy_revision summary has exactly the six documented keys.
        """
        sampler = ScriptedSampler("junk", "junk")
        mission, _ = _mission(sampler)
        session = _start(mission)
        session.step()
        session.step()

        (summary,) = _revision_iterations(sampler.prompts[1])
        stored = session.state.iterations[0]
        assert {
            "iteration_index": 0,
            "strategy": stored.strategy.to_dict() if stored.strategy else None,
            "tool_calls": [{"tool_name": "flat", "status": "ok", "error_message": None}],
            "verdict": "continue",
            "verdict_reason": "in_progress",
            "observation_summary": json.loads(
                mk.to_json(stored.observation.to_dict() if stored.observation else None)
            ),
        } == summary

    def test_only_the_five_most_recent_iterations_are_shown(self) -> None:
        """
        SPEC §8.5: strategy_revision shows 5 recent iterations; final_lessons shows all, briefly.
        """
        sampler = ScriptedSampler(*["junk"] * 7, LESSONS)
        mission, _ = _mission(sampler)
        session = _start(mission, budget={"max_iterations": 7, "max_wall_clock_seconds": -1})
        session.run()

        assert [1, 2, 3, 4, 5] == [
            s["iteration_index"] for s in _revision_iterations(sampler.prompts[6])
        ]
        lessons_prompt = sampler.prompts[7]
        assert lessons_prompt.startswith(LESSONS_PREAMBLE + "\n\n")
        summaries = _json_section(
            lessons_prompt, "=== Iteration verdict summary (oldest first) ==="
        )
        assert [
            {"iteration_index": i, "verdict": "continue", "verdict_reason": "in_progress"}
            for i in range(6)
        ] + [
            {"iteration_index": 6, "verdict": "terminate", "verdict_reason": "max_iterations"}
        ] == summaries
        schema_body = _section(lessons_prompt, "=== Output schema ===")
        schema = json.loads(schema_body[len(SCHEMA_LINE) + 1 :])
        assert {"lessons", "recommended_followups"} == set(schema["required"])

    def test_oversized_observation_field_is_cut_at_a_code_point(self) -> None:
        """
        SPEC §8.5: a field over 4096 bytes becomes its first 2048 bytes (whole characters) + marker.
        """

        def wide() -> dict[str, Any]:
            return {"metrics": {"blob": "é" * 3000}}

        sampler = ScriptedSampler("junk", "junk")
        mission, _ = _mission(sampler, tools=[wide])
        session = _start(mission, tool_allowlist=["wide"])
        session.step()
        session.step()

        summary = _revision_iterations(sampler.prompts[1])[0]["observation_summary"]
        compact = json.dumps(
            {"blob": "é" * 3000}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode()
        assert compact[:2048].decode("utf-8", "ignore") + MARKER == summary["metrics"]
        assert len(compact) == summary["_original_bytes"]["metrics"]
        assert [] == summary["errors"]
        assert "errors" not in summary["_original_bytes"]

    @pytest.mark.parametrize(("padding", "cut"), [(4088, False), (4089, True)])
    def test_exactly_4096_bytes_is_kept(self, padding: int, cut: bool) -> None:
        """
        SPEC §8.5: a field of exactly 4096 bytes is kept; 4097 is cut; size keys only when cut.
        """
        metrics = {"s": "x" * padding}

        def sized() -> dict[str, Any]:
            return {"metrics": metrics}

        sampler = ScriptedSampler("junk", "junk")
        mission, _ = _mission(sampler, tools=[sized])
        session = _start(mission, tool_allowlist=["sized"])
        session.step()
        session.step()

        summary = _revision_iterations(sampler.prompts[1])[0]["observation_summary"]
        assert (cut, padding + 8) == (
            isinstance(summary["metrics"], str),
            len(json.dumps(metrics, separators=(",", ":"))),
        )
        assert cut == ("metrics" in summary.get("_original_bytes", {}))

    def test_oversized_strategy_records_its_size(self) -> None:
        """
        SPEC §8.5: a strategy over 4096 bytes is cut and ``strategy_original_bytes`` is recorded.
        """
        big = {"tool_calls": [{"tool_name": "flat", "args": {}}], "rationale": "r" * 5000}
        sampler = ScriptedSampler("junk", "junk")
        mission, _ = _mission(sampler, proposer=ScriptedProposer(big))
        session = _start(mission)
        session.step()
        session.step()

        (summary,) = _revision_iterations(sampler.prompts[1])
        stored = session.state.iterations[0].strategy
        compact = json.dumps(
            stored.to_dict() if stored else None,
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        assert compact[:2048].decode() + MARKER == summary["strategy"]
        assert len(compact) == summary["strategy_original_bytes"]

    def test_budget_fitting_drops_the_oldest_iterations(self) -> None:
        """
        SPEC §8.5: over 32768 bytes, the oldest iterations are dropped until the prompt fits.
        """

        def heavy() -> dict[str, Any]:
            return {
                "metrics": {"a": "x" * 3000, "b": "y" * 3000},
                "events": [{"event_name": "e", "p": "z" * 5000}],
            }

        sampler = ScriptedSampler(*["junk"] * 7)
        mission, _ = _mission(sampler, tools=[heavy])
        session = _start(mission, tool_allowlist=["heavy"])
        for _ in range(7):
            session.step()

        prompt = sampler.prompts[6]
        shown = [s["iteration_index"] for s in _revision_iterations(prompt)]
        assert len(prompt.encode()) <= PROMPT_BUDGET
        assert 1 <= len(shown) < 5
        assert list(range(6 - len(shown), 6)) == shown

    def test_tool_details_are_dropped_when_iterations_are_not_enough(self) -> None:
        """
        SPEC §8.5: if still over budget, docstrings become "" and input_schemas go; then it fits.
        """
        tool = mk.Tool(flat, description="D" * 40000, input_schema={"type": "object"})
        sampler = ScriptedSampler("junk")
        mission, _ = _mission(sampler, tools=[tool])
        iteration = _start(mission).step()

        assert "rejected" == iteration.sampling_status
        assert [{"docstring": "", "tool_name": "flat"}] == _json_section(
            sampler.prompts[0], "=== Tool allowlist ==="
        )

    def test_prompt_too_large_never_calls_the_sampler(self) -> None:
        """
        SPEC §8.4/§8.7: a prompt over budget after degradation is unavailable/prompt_too_large.
        """
        sampler = ScriptedSampler("never used")
        mission, sink = _mission(sampler)
        criteria = [dict(UNMET[0], description="x" * 40000)]
        iteration = _start(mission, criteria=criteria).step()

        assert [] == sampler.prompts
        assert ("unavailable", "prompt_too_large", None, "default") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.sampling_output,
            iteration.strategy_source,
        )
        (event,) = _sampling(sink)
        assert ("unavailable", "prompt_too_large", 0) == (
            event["sampling_status"],
            event["validation_error"],
            event["iteration_index"],
        )
        assert "model_output_bytes" not in event

    def test_non_finite_metrics_render_as_strings(self) -> None:
        """
        SPEC §8.5/§2.2: non-finite floats in the prompt are the strings "NaN", "-Infinity".
        """

        def odd() -> dict[str, Any]:
            return {"metrics": {"v": math.nan, "w": -math.inf}}

        sampler = ScriptedSampler("junk", "junk")
        mission, _ = _mission(sampler, tools=[odd])
        session = _start(mission, tool_allowlist=["odd"])
        session.step()
        session.step()

        body = _section(sampler.prompts[1], "=== Recent iterations (oldest first) ===")
        (summary,) = _strict(body)
        assert {"v": "NaN", "w": "-Infinity"} == summary["observation_summary"]["metrics"]


class TestSamplingPromptPublic:
    def test_public_prompt_is_order_independent(self) -> None:
        """
        SPEC §8.5: ``SamplingPrompt.assemble`` ignores dict insertion order, byte for byte.
        """

        def build(reverse: bool) -> SamplingPrompt:
            def order(d: dict[str, Any]) -> dict[str, Any]:
                items = list(d.items())
                return dict(reversed(items) if reverse else items)

            return SamplingPrompt(
                purpose="strategy_revision",
                directive="Reduce the loss",
                criteria=[order(dict(UNMET[0]))],
                criteria_status={"v": None},
                tools=[order({"tool_name": "flat", "docstring": "Flat."})],
                remaining_iterations=None,
                remaining_wall_clock_seconds=12.5,
                is_last_iteration=False,
                allow_scripts=True,
                iterations=[],
            )

        text = build(False).assemble()

        assert text == build(True).assemble()
        assert text.startswith(REVISION_PREAMBLE + "\n\n=== Mission directive ===\nReduce the loss")
        assert {
            "allow_scripted_strategies": True,
            "is_last_iteration": False,
            "remaining_iterations": None,
            "remaining_wall_clock_seconds": 12.5,
        } == _json_section(text, "=== Budget context ===")
        schema = json.loads(_section(text, "=== Output schema ===")[len(SCHEMA_LINE) + 1 :])
        assert "script" in schema["properties"]["next_strategy"]["properties"]


# ---------------------------------------------------------------- §8.3, §8.4, §8.7, §8.8


class BlockingSampler:
    """
    A sampler with a short timeout that blocks until released.
    """

    timeout = 0.05

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, prompt: str, /) -> str:
        self.release.wait(5)
        return "{}"


@pytest.fixture(name="blocking")
def _blocking() -> Iterator[BlockingSampler]:
    sampler = BlockingSampler()
    yield sampler
    sampler.release.set()


class TestConsultation:
    def test_after_adjust_consults_only_after_an_adjust_verdict(self) -> None:
        """
        SPEC §8.3: in after_adjust mode the sampler is asked only when the latest verdict is adjust.
        """
        sampler = ScriptedSampler(*["junk"] * 10)
        mission, sink = _mission(sampler)
        session = _start(mission, use_sampling=None, stagnation_threshold=4)
        session.run()

        iterations = session.state.iterations
        assert (True, "after_adjust") == (session.state.use_sampling, session.state.sampling_mode)
        assert [
            ("continue", None),
            ("continue", None),
            ("adjust", None),
            ("adjust", "rejected"),
            ("terminate", "rejected"),
        ] == [(it.verdict, it.sampling_status) for it in iterations]
        assert [("strategy_revision", 3), ("strategy_revision", 4), ("final_lessons", None)] == [
            (e["sampling_purpose"], e.get("iteration_index")) for e in _sampling(sink)
        ]

    def test_non_str_answer_is_a_transport_error(self) -> None:
        """
        SPEC §8.4/§10.1: a non-str return is transport_error with the TypeError text; defaults.
        """

        class Counting:
            model_id = ""

            def __call__(self, prompt: str, /) -> Any:
                return 42

        mission, sink = _mission(Counting())
        session = _start(mission)
        iteration = session.step()

        assert ("rejected", "transport_error", None, None) == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.sampling_output,
            iteration.sampling_rationale,
        )
        (event,) = _sampling(sink)
        assert {
            "event_type": "mission_sampling_event",
            "mission_session_id": session.id,
            "sampling_purpose": "strategy_revision",
            "sampling_status": "rejected",
            "sampling_backend": "host",
            "timestamp": event["timestamp"],
            "iteration_index": 0,
            "validation_error": "TypeError: sampler returned int",
        } == event

    def test_sampler_timeout_attribute_bounds_the_call(self, blocking: BlockingSampler) -> None:
        """
        SPEC §8.1/§8.4: ``sampler.timeout`` bounds the call; a timeout is transport_error.
        """
        mission, sink = _mission(blocking)
        iteration = _start(mission).step()

        assert ("rejected", "transport_error", "default") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.strategy_source,
        )
        assert _sampling(sink)[0]["validation_error"].startswith("TimeoutError")

    @pytest.mark.parametrize("timeout", [10**400, True, 0, -1.0, float("nan"), "5"])
    def test_unusable_sampler_timeout_means_no_bound(self, timeout: Any) -> None:
        """
        A ``timeout`` that is not a positive finite number is ignored, like a tool's: no crash.
        """
        sampler = ScriptedSampler("junk")
        sampler.timeout = timeout  # type: ignore[attr-defined]
        mission, _ = _mission(sampler)

        iteration = _start(mission).step()

        assert ("rejected", "json_parse") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
        )

    def test_propose_records_sampling_on_the_pending_proposal(self) -> None:
        """
        SPEC §8.4/§6.11: propose() consults once; step() adopts its sampling fields unchanged.
        """
        sampler = ScriptedSampler("junk")
        mission, sink = _mission(sampler)
        session = _start(mission)

        session.propose()
        pending = session.state.pending_proposal
        iteration = session.step()

        assert pending is not None
        assert ("rejected", "json_parse", "junk") == (
            pending.sampling_status,
            pending.sampling_rejection_reason,
            pending.sampling_output,
        )
        assert ("rejected", "json_parse", "junk", 1) == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.sampling_output,
            len(sampler.prompts),
        )
        assert [0] == [e["iteration_index"] for e in _sampling(sink)]

    def test_failed_session_gets_no_final_lessons(self) -> None:
        """
        SPEC §8.3: final_lessons is never consulted for the ``failed`` transition.
        """

        def boom(ctx: Any) -> None:
            raise RuntimeError("proposer exploded")

        sampler = ScriptedSampler("junk", LESSONS)
        mission, sink = _mission(sampler, proposer=boom)
        session = _start(mission)

        with pytest.raises(RuntimeError):
            session.step()

        assert ("failed", 1) == (session.status, len(sampler.prompts))
        assert ["strategy_revision"] == [e["sampling_purpose"] for e in _sampling(sink)]

    @pytest.mark.parametrize("operation", ["complete", "abort"])
    def test_operator_transitions_consult_final_lessons_first(self, operation: str) -> None:
        """
        SPEC §8.3/§8.8/§6.16: complete()/abort() consult final_lessons before the lifecycle event.
        """
        sampler = ScriptedSampler(LESSONS)
        mission, sink = _mission(sampler)
        session = _start(mission)

        report = getattr(session, operation)()

        assert ("First.\n\nSecond.", ("Next.",), "sampler") == (
            report.lessons,
            report.recommended_followups,
            report.lessons_source,
        )
        assert [
            ("mission_lifecycle_event", "start"),
            ("mission_sampling_event", "final_lessons"),
            ("mission_lifecycle_event", operation),
        ] == [
            (e.event_type, getattr(e, "action", getattr(e, "sampling_purpose", None)))
            for e in sink.events
        ]

    def test_observe_to_a_terminal_verdict_consults_final_lessons(self) -> None:
        """
        SPEC §6.16/§8.3: observe() reaching a terminal verdict consults final_lessons pre-verdict.
        """
        sampler = ScriptedSampler(LESSONS)
        mission, sink = _mission(sampler)
        session = _start(mission, use_sampling="after_adjust")

        session.observe({"metrics": {"v": 5}})

        assert ["final_lessons"] == [e["sampling_purpose"] for e in _sampling(sink)]
        assert ["mission_sampling_event", "mission_verdict_event"] == [
            e.event_type for e in sink.events
        ][-2:]
        report = session.report()
        assert report is not None
        assert "sampler" == report.lessons_source

    def test_final_lessons_need_sampling_on_and_a_sampler(self) -> None:
        """
        SPEC §8.3: no final_lessons when use_sampling is false or the Mission has no sampler.
        """
        sampler = ScriptedSampler(LESSONS)
        mission, sink = _mission(sampler)
        off = _start(mission, use_sampling=False)
        on = _start(mission)
        bare = mk.Mission(tools=[flat], store=mission.store, sinks=[sink])

        off_report = off.complete()
        on_report = bare.session(on.id).complete()

        assert ([], []) == (sampler.prompts, _sampling(sink))
        assert ("template", "template") == (off_report.lessons_source, on_report.lessons_source)

    def test_final_lessons_failure_never_blocks_finalisation(self) -> None:
        """
        SPEC §8.8: a raising lessons sampler keeps the template and the session still completes.
        """
        sampler = ScriptedSampler(ConnectionError("model down"))
        mission, sink = _mission(sampler)
        session = _start(mission)

        report = session.complete()

        assert ("completed", "template") == (session.status, report.lessons_source)
        (event,) = _sampling(sink)
        assert ("rejected", "ConnectionError: model down") == (
            event["sampling_status"],
            event["validation_error"],
        )
        assert "iteration_index" not in event
        assert "sampling_context" not in event


# ---------------------------------------------------------------- §13 scaffolding


def _example_block(prompt: str, title: str) -> list[str]:
    block = prompt.split(f"{title}\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if not line.startswith("  "):
            break
        lines.append(line.strip())
    return lines


class TestScaffolding:
    def test_prompt_examples_agree_with_the_predicate_language(self) -> None:
        """
        SPEC §13.2: the prompt's vocabulary is the current one and its examples are truthful.
        """
        prompts: list[str] = []

        def sampler(prompt: str) -> str:
            prompts.append(prompt)
            return json.dumps(
                [{"criterion_id": "e", "kind": "event", "required": True, "event_name": "x"}]
            )

        scaffold_criteria_sampled("Do it", sampler)
        (prompt,) = prompts
        accepted = _example_block(prompt, "Accepted examples:")
        rejected = [e.split("    (", 1)[0] for e in _example_block(prompt, "Rejected examples:")]

        assert [] == [name for name in (*ALLOWED_CALLABLES, *ALLOWED_METHODS) if name not in prompt]
        assert accepted and rejected
        for expression in accepted:
            parse_predicate(expression)
        for expression in rejected:
            with pytest.raises(PredicateRejected):
                parse_predicate(expression)

    def test_cap_applies_before_validation(self) -> None:
        """
        SPEC §13.2 steps 3 and 6: entries beyond max_criteria are dropped before validation.
        """
        good = {"criterion_id": "ok", "kind": "event", "required": True, "event_name": "done"}
        bad = {"criterion_id": "bad", "kind": "vibes", "required": True}

        result = scaffold_criteria_sampled("x", lambda p: json.dumps([good, bad]), max_criteria=1)

        assert [good] == result

    def test_only_dotless_metrics_get_the_prefix(self) -> None:
        """
        SPEC §13.2 step 4: ``metrics.`` is added only to a metric without a dot.
        """
        answer = [
            {
                "criterion_id": "a",
                "kind": "metric_threshold",
                "required": True,
                "metric": "loss",
                "op": "<",
                "target": 1,
            },
            {
                "criterion_id": "b",
                "kind": "metric_threshold",
                "required": True,
                "metric": "tool_results.0.score",
                "op": ">",
                "target": 0,
            },
        ]

        result = scaffold_criteria_sampled("x", lambda p: json.dumps(answer))

        assert ["metrics.loss", "tool_results.0.score"] == [c["metric"] for c in result]

    def test_retries_zero_is_a_single_attempt(self) -> None:
        """
        SPEC §13.2/§2.6: retries=0 makes one attempt; the error carries the last reason.
        """
        prompts: list[str] = []

        def sampler(prompt: str) -> str:
            prompts.append(prompt)
            return '[{"criterion_id": "c", "kind": "vibes", "required": true}]'

        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", sampler, retries=0)

        assert 1 == len(prompts)
        assert (
            "kind_invalid",
            {"code": "scaffold_sampling_failed", "details": {"last_reason": "kind_invalid"}},
        ) == (info.value.last_reason, info.value.to_dict())

    def test_three_colliding_slugs_count_up(self) -> None:
        """
        SPEC §13.1: colliding ids get ``_2``, ``_3`` appended in order.
        """
        result = scaffold_criteria("search the web", ["a-b", "a_b", "A B"])

        assert ["a_b_called", "a_b_called_2", "a_b_called_3"] == [c["criterion_id"] for c in result]

    def test_search_class_beats_event_class(self) -> None:
        """
        SPEC §13.1: class 3 (search) wins over class 4 (event) regardless of word position.
        """
        result = scaffold_criteria("Finish the job, then lookup the result")

        assert ["results_present"] == [c["criterion_id"] for c in result]


# ---------------------------------------------------------------- §14 command line


TOOLS_SOURCE = """
import math


def score(value: float = 1.0) -> dict:
    return {"metrics": {"score": value}}


def flat() -> dict:
    return {"metrics": {"score": 0.0}}


def nan_tool() -> dict:
    return {"metrics": {"score": math.nan}}


class Namespace:
    @staticmethod
    def dotted() -> dict:
        return {"metrics": {"score": 1.0}}


class Sampler:
    backend_name = "probe-backend"
    model_id = "probe-model"

    def __call__(self, prompt):
        return "not json"


SAMPLER = Sampler()


def counting_sampler(prompt):
    with open("sampler-calls.txt", "a", encoding="utf-8") as f:
        f.write("call\\n")
    return "not json"
"""


@pytest.fixture(name="workdir")
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(name="module")
def _module(workdir: Path) -> str:
    return write_tools(workdir, TOOLS_SOURCE)


def _spec(directory: Path, module: str, name: str = "spec.json", **overrides: Any) -> Path:
    overrides.setdefault("budget", {"max_iterations": 4, "max_wall_clock_seconds": 60})
    return write_spec(directory, spec_dict(module, **overrides), name)


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


PROGRESS = re.compile(
    r"^\[(?P<id>[^\]]+)\] iteration (?P<i>\d+): (?P<verdict>[a-z_]+/[a-z_]+) "
    r"\| criteria met (?P<m>\d+|-)/(?P<n>\d+) \| no-progress (?P<c>\d+)/(?P<t>\d+) "
    r"\| active \d+\.\ds$"
)


class TestCommandLine:
    def test_progress_lines_are_exact_and_dash_off_cadence(
        self, workdir: Path, module: str
    ) -> None:
        """
        SPEC §14.3: each iteration prints the exact progress line; ``m`` is ``-`` off-cadence.
        """
        spec = _spec(
            workdir,
            module,
            session_id="p1",
            tools={"score": f"{module}:flat"},
            checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
        )

        done = subprocess.run(
            [sys.executable, "-m", "missionkit", "--output", "json", "run", str(spec)],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

        lines = done.stderr.splitlines()
        matches = [PROGRESS.match(line) for line in lines]
        assert 3 == done.returncode, done.stderr
        assert all(matches), lines
        assert [
            ("p1", "0", "continue/in_progress", "0", "1", "0", "3"),
            ("p1", "1", "continue/cadence_skip", "-", "1", "0", "3"),
            ("p1", "2", "continue/in_progress", "0", "1", "1", "3"),
            ("p1", "3", "terminate/max_iterations", "-", "1", "1", "3"),
        ] == [m.group("id", "i", "verdict", "m", "n", "c", "t") for m in matches if m]
        assert "terminated" == _strict(done.stdout)["status"]

    def test_json_output_is_strict_and_indented(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.1/§2.2: json output is to_json with indent 2; non-finite floats become strings.
        """
        spec = _spec(
            workdir,
            module,
            session_id="n1",
            tools={"score": f"{module}:nan_tool"},
            budget={"max_iterations": 1, "max_wall_clock_seconds": 60},
        )
        assert 3 == run_cli(capsys, "--quiet", "run", str(spec))[0]

        code, out, _ = run_cli(
            capsys, "--output", "json", "sessions", "history", "n1", "--format", "full"
        )

        rows = _strict(out)
        assert 0 == code
        assert "NaN" == rows[0]["observation"]["metrics"]["score"]
        assert mk.to_json(rows, indent=2) + "\n" == out

    def test_report_json_keys_follow_the_report_field_order(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §12.1/§14.3: ``run --output json`` prints the report with keys in field order.
        """
        spec = _spec(workdir, module)

        code, out, _ = run_cli(capsys, "--quiet", "--output", "json", "run", str(spec))

        assert 0 == code
        assert REPORT_KEYS == list(_strict(out))

    def test_sessions_list_json_rows_are_session_summaries(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3/§3.12: ``sessions list`` json rows carry the SessionSummary keys in order.
        """
        run_cli(capsys, "--quiet", "run", str(_spec(workdir, module, session_id="l1")))

        code, out, _ = run_cli(capsys, "--output", "json", "sessions", "list")

        (row,) = _strict(out)
        assert 0 == code
        assert [
            "session_id",
            "status",
            "created_at",
            "updated_at",
            "iteration_count",
            "final_verdict",
            "final_verdict_reason",
            "error",
        ] == list(row)
        assert ("l1", "completed", 1, None) == (
            row["session_id"],
            row["status"],
            row["iteration_count"],
            row["error"],
        )

    def test_spec_sampler_object_is_used_as_is(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2/§8.2: ``sampler`` names the object itself; with it use_sampling resolves on.
        """
        spec = _spec(
            workdir,
            module,
            session_id="s1",
            tools={"score": f"{module}:flat"},
            sampler=f"{module}:SAMPLER",
            budget={"max_iterations": 2, "max_wall_clock_seconds": 60},
        )

        code, out, _ = run_cli(capsys, "--output", "json", "validate", str(spec))
        assert (0, "after_adjust") == (code, _strict(out)["use_sampling"])

        spec = _spec(
            workdir,
            module,
            session_id="s1",
            tools={"score": f"{module}:flat"},
            sampler=f"{module}:SAMPLER",
            use_sampling="every_iteration",
            budget={"max_iterations": 2, "max_wall_clock_seconds": 60},
        )
        assert 3 == run_cli(capsys, "--quiet", "run", str(spec))[0]

        entries = [
            json.loads(line)
            for line in (workdir / "missionkit-audit.jsonl").read_text("utf-8").splitlines()
        ]
        sampling = [e for e in entries if e["event_type"] == "mission_sampling_event"]
        assert [
            ("strategy_revision", "probe-backend", "probe-model", "json_parse"),
            ("strategy_revision", "probe-backend", "probe-model", "json_parse"),
            ("final_lessons", "probe-backend", "probe-model", "json_parse"),
        ] == [
            (
                e["sampling_purpose"],
                e["sampling_backend"],
                e["sampling_model_id"],
                e["validation_error"],
            )
            for e in sampling
        ]

    def test_tools_list_with_dotted_attribute_and_tool_timeout(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2: ``tools`` may be a list of import paths whose attribute is dotted.
        """
        spec = _spec(
            workdir,
            module,
            tools=[f"{module}:Namespace.dotted"],
            tool_allowlist=["dotted"],
            tool_timeout=5,
        )

        code, out, _ = run_cli(capsys, "--quiet", "--output", "json", "run", str(spec))

        report = _strict(out)
        assert (0, "completed") == (code, report["status"])
        assert "dotted" == report["iterations"][0]["tool_calls"][0]["tool_name"]

    def test_resume_uses_the_stored_configuration(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: ``run --resume`` continues the stored session; its stored configuration wins.
        """
        first = _spec(
            workdir,
            module,
            session_id="r1",
            tools={"score": f"{module}:flat"},
            budget={"max_iterations": 2, "max_wall_clock_seconds": 60},
        )
        assert 5 == run_cli(capsys, "--quiet", "run", str(first), "--max-iterations", "1")[0]
        changed = _spec(
            workdir,
            module,
            name="changed.json",
            session_id="r1",
            directive="Something else entirely",
            tools={"score": f"{module}:flat"},
            budget={"max_iterations": 50, "max_wall_clock_seconds": 60},
        )

        code, out, _ = run_cli(
            capsys, "--quiet", "--output", "json", "run", str(changed), "--resume"
        )

        report = _strict(out)
        assert 3 == code
        assert ("Push the score to at least 0.5", 2, "max_iterations") == (
            report["directive_text"],
            report["iterations_run"],
            report["final_verdict_reason"],
        )

    def test_read_only_commands_never_create_a_store_directory(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.1: with a missing --store-dir, read-only commands see an empty store.
        """
        spec = _spec(workdir, module)

        listed = run_cli(capsys, "--output", "json", "--store-dir", "nodir", "sessions", "list")
        shown = run_cli(capsys, "--store-dir", "nodir", "sessions", "show", "abc")
        validated = run_cli(capsys, "--store-dir", "nodir", "validate", str(spec))

        assert (0, []) == (listed[0], _strict(listed[1]))
        assert (1, 'error: session_not_found {"session_id": "abc"}') == (
            shown[0],
            shown[2].strip(),
        )
        assert (0, "OK Push the score to at least 0.5\n") == validated[:2]
        assert not (workdir / "nodir").exists()
        assert not (workdir / "missionkit.db").exists()

    def test_scaffold_fallback_names_the_reason_after_all_retries(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3/§13.2: ``--retries N`` makes N + 1 attempts, then warns and uses the templates.
        """
        code, out, err = run_cli(
            capsys,
            "scaffold-criteria",
            "--directive",
            "Reduce cost",
            "--sampler",
            f"{module}:counting_sampler",
            "--retries",
            "2",
        )

        calls = (workdir / "sampler-calls.txt").read_text("utf-8").splitlines()
        assert (0, 3) == (code, len(calls))
        assert (
            "warning: sampled scaffolding failed (json_parse); using deterministic templates\n"
            == err
        )
        assert scaffold_criteria("Reduce cost") == _strict(out)

    def test_report_not_found_envelope_in_a_process(self, workdir: Path, module: str) -> None:
        """
        SPEC §14.3/§14.5: a non-terminal session's report is report_not_found, exit 1, envelope.
        """
        spec = _spec(workdir, module, session_id="o1", tools={"score": f"{module}:flat"})

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "missionkit", *args],
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        assert 5 == run("--quiet", "run", str(spec), "--max-iterations", "1").returncode
        done = run("--output", "json", "sessions", "report", "o1")

        assert (1, "") == (done.returncode, done.stdout)
        assert {
            "code": "report_not_found",
            "details": {"session_id": "o1", "status": "running"},
        } == _strict(done.stderr)


# --- final lessons once the wall clock has run out (SPEC §8.3, §8.8)

DEADLINE_LESSONS = json.dumps({"lessons": ["First."], "recommended_followups": []})
DEADLINE_UNMET = [
    {
        "criterion_id": "v",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.v",
        "op": ">=",
        "target": 1,
    }
]


def flat_v() -> dict[str, Any]:
    """
    Report v = 0.
    """
    return {"metrics": {"v": 0}}


def _deadline_session(sampler: Any, clock: FakeClock, sink: MemorySink) -> mk.Session:
    mission = mk.Mission(tools=[flat_v], sampler=sampler, clock=clock, sinks=[sink])
    return mission.start(
        directive="Raise v",
        criteria=DEADLINE_UNMET,
        budget={"max_iterations": 10, "max_wall_clock_seconds": 10},
        tool_allowlist=["flat_v"],
        use_sampling="after_adjust",
    )


class TestFinalLessonsAtTheWallClockLimit:
    def test_deadline_iteration_can_use_final_lessons(self) -> None:
        """
        SPEC §8.3/§8.8: a deadline transition consults final_lessons, and a valid answer is used.
        """
        sink = MemorySink()
        clock = FakeClock()
        sampler = ScriptedSampler(DEADLINE_LESSONS)
        session = _deadline_session(sampler, clock, sink)
        session.step()
        clock.advance(100)

        iteration = session.step()

        report = session.report()
        assert report is not None
        events = [e.to_dict() for e in sink.events if e.event_type == "mission_sampling_event"]
        assert "max_wall_clock" == iteration.verdict_reason
        assert [("final_lessons", "used")] == [
            (e["sampling_purpose"], e["sampling_status"]) for e in events
        ]
        assert ("sampler", "First.") == (report.lessons_source, report.lessons)

    def test_complete_after_the_wall_clock_ran_out_can_use_final_lessons(self) -> None:
        """
        SPEC §8.3/§8.8: complete() consults final_lessons even when no active time is left.
        """
        sink = MemorySink()
        clock = FakeClock()
        sampler = ScriptedSampler(DEADLINE_LESSONS)
        session = _deadline_session(sampler, clock, sink)
        session.step()
        clock.advance(100)

        report = session.complete()

        assert ("sampler", "First.") == (report.lessons_source, report.lessons)
