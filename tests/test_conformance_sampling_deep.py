"""
Black-box conformance tests for sampling in depth (SPEC §8.1-§8.8).

They cover rules the other sampling test files do not pin exactly: the sampler's optional
attributes through a session, the time bound from the remaining active seconds, the
degradation order of the prompt budget, the exact 32 KiB boundary, every §4.9/§4.14/§9.2
rejection reachable from sampler output, the fallback to a custom proposer and the shape of
final-lessons prompts, events and reports. Only public names are used.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

import missionkit as mk
from missionkit.audit import MemorySink
from missionkit.sampling import SamplingPrompt
from missionkit.testing import FakeClock, InlineScriptRunner, ScriptedProposer, ScriptedSampler

PROMPT_BUDGET = 32768
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
KNOB_SCHEMA = {
    "type": "object",
    "properties": {"k": {"type": "integer", "minimum": 0}},
    "additionalProperties": False,
}
LESSONS = json.dumps({"lessons": ["Only lesson."], "recommended_followups": []})


def flat() -> dict[str, Any]:
    """
    Report v = 0, which never meets the criterion.
    """
    return {"metrics": {"v": 0}}


def knob(k: int = 0) -> dict[str, Any]:
    """
    Report v = k.
    """
    return {"metrics": {"v": k}}


def _mission(sampler: Any = None, tools: Any = None, **kw: Any) -> tuple[mk.Mission, MemorySink]:
    sink = MemorySink()
    if tools is None:
        tools = {"flat": flat, "knob": mk.Tool(knob, input_schema=KNOB_SCHEMA)}
    kw.setdefault("clock", FakeClock(step=1.0))
    mission = mk.Mission(tools=tools, sampler=sampler, sinks=[sink], **kw)
    return mission, sink


def _start(mission: mk.Mission, **kw: Any) -> mk.Session:
    spec: dict[str, Any] = {
        "directive": "Raise v to 1",
        "criteria": UNMET,
        "budget": {"max_iterations": 20, "max_wall_clock_seconds": -1},
        "tool_allowlist": ["flat", "knob"],
        "use_sampling": "every_iteration",
        "stagnation_threshold": 100,
    }
    spec.update(kw)
    return mission.start(**spec)


def _answer(next_strategy: Any = None, **overrides: Any) -> str:
    body: dict[str, Any] = {
        "revision_rationale": "try knob",
        "next_strategy": next_strategy
        if next_strategy is not None
        else {"tool_calls": [{"tool_name": "knob", "args": {"k": 0}}]},
        "confidence": 0.5,
    }
    body.update(overrides)
    return json.dumps(body)


def _sampling(sink: MemorySink) -> list[dict[str, Any]]:
    return [e.to_dict() for e in sink.events if e.event_type == "mission_sampling_event"]


def _section(prompt: str, header: str) -> str:
    body = prompt.split(f"\n\n{header}\n", 1)[1]
    return body.split("\n\n=== ", 1)[0]


def _json_section(prompt: str, header: str) -> Any:
    return json.loads(_section(prompt, header))


def _outcomes(session: mk.Session) -> list[tuple[Any, ...]]:
    return [
        (it.sampling_status, it.sampling_rejection_reason, it.strategy_source)
        for it in session.state.iterations
    ]


def _run_answers(answers: list[str], **start: Any) -> tuple[mk.Session, MemorySink]:
    mission, sink = _mission(ScriptedSampler(*answers))
    session = _start(mission, **start)
    for _ in answers:
        session.step()
    return session, sink


# ---------------------------------------------------------------- §8.1 protocol


class TestSamplerProtocol:
    def test_async_sampler_drives_a_sync_step(self) -> None:
        """
        SPEC §8.1: a sampler returning ``Awaitable[str]`` is awaited; its answer is used.
        """
        prompts: list[str] = []

        async def sampler(prompt: str, /) -> str:
            await asyncio.sleep(0)
            prompts.append(prompt)
            return _answer()

        mission, sink = _mission(sampler)
        iteration = _start(mission).step()

        assert ("used", None, "sampler", "try knob") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.strategy_source,
            iteration.sampling_rationale,
        )
        assert 1 == len(prompts)
        assert "host" == _sampling(sink)[0]["sampling_backend"]

    def test_async_sampler_object_through_astep(self) -> None:
        """
        SPEC §8.1: an object with an async ``__call__`` is awaited by astep().
        """

        class AsyncSampler:
            backend_name = "async-llm"

            async def __call__(self, prompt: str, /) -> str:
                await asyncio.sleep(0)
                return "Answer: " + _answer()

        mission, sink = _mission(AsyncSampler())
        session = _start(mission)

        iteration = asyncio.run(session.astep())

        assert ("used", "sampler") == (iteration.sampling_status, iteration.strategy_source)
        assert ["async-llm"] == [e["sampling_backend"] for e in _sampling(sink)]

    def test_backend_name_and_model_id_attributes_reach_the_event(self) -> None:
        """
        SPEC §8.1/§10.1: ``backend_name`` and ``model_id`` become the event's backend and model id.
        """

        class Named:
            backend_name = "acme-llm"
            model_id = "acme-7b"

            def __call__(self, prompt: str, /) -> str:
                return _answer()

        mission, sink = _mission(Named())
        _start(mission).step()

        (event,) = _sampling(sink)
        assert ("acme-llm", "acme-7b", "used") == (
            event["sampling_backend"],
            event["sampling_model_id"],
            event["sampling_status"],
        )

    def test_remaining_active_seconds_bound_a_sampler_with_a_long_timeout(self) -> None:
        """
        SPEC §8.4/§6.12: the call is bounded by min(sampler.timeout, remaining active seconds).
        """

        class SlowSecondTime:
            timeout = 30.0
            calls = 0

            def __call__(self, prompt: str, /) -> str:
                self.calls += 1
                if self.calls > 1:
                    time.sleep(3)
                return _answer()

        clock = FakeClock()
        mission, sink = _mission(SlowSecondTime(), clock=clock)
        session = _start(mission, budget={"max_iterations": 5, "max_wall_clock_seconds": 100})
        session.step()
        clock.advance(99.8)

        began = time.monotonic()
        iteration = session.step()
        elapsed = time.monotonic() - began

        assert ("rejected", "transport_error", "default") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.strategy_source,
        )
        assert elapsed < 2.0
        assert ["used", "rejected"] == [e["sampling_status"] for e in _sampling(sink)]
        assert _sampling(sink)[1]["validation_error"].startswith("TimeoutError")


# ---------------------------------------------------------------- §8.3 when consulted


class TestWhenConsulted:
    def test_sampling_off_never_consults_even_after_adjust(self) -> None:
        """
        SPEC §8.3: with use_sampling false an adjust verdict does not consult the sampler.
        """
        sampler = ScriptedSampler(_answer(), LESSONS)
        mission, sink = _mission(sampler)
        session = _start(
            mission, use_sampling=False, tool_allowlist=["flat"], stagnation_threshold=4
        )
        for _ in range(3):
            session.step()
        session.complete()

        assert "adjust" in [it.verdict for it in session.state.iterations]
        assert ([], []) == (sampler.prompts, _sampling(sink))
        assert [(None, None, "default")] * 3 == _outcomes(session)

    def test_pausing_is_not_a_terminal_transition(self) -> None:
        """
        SPEC §8.3: abort(pause=True) consults nothing; a later abort() of the paused session does.
        """
        sampler = ScriptedSampler(LESSONS)
        mission, sink = _mission(sampler)
        session = _start(mission, use_sampling="after_adjust")

        assert session.abort(pause=True) is None
        assert ([], "paused") == (_sampling(sink), session.status)

        report = session.abort()

        assert report is not None
        assert ("terminated", "sampler", "Only lesson.") == (
            session.status,
            report.lessons_source,
            report.lessons,
        )
        assert [("final_lessons", "used")] == [
            (e["sampling_purpose"], e["sampling_status"]) for e in _sampling(sink)
        ]

    def test_propose_after_an_adjust_consults_in_after_adjust_mode(self) -> None:
        """
        SPEC §8.3: propose() consults when the latest stored verdict is adjust (after_adjust).
        """
        sampler = ScriptedSampler(_answer())
        mission, sink = _mission(sampler)
        session = _start(mission, use_sampling="after_adjust", stagnation_threshold=4)
        while session.step().verdict != "adjust":
            pass
        index = len(session.state.iterations)
        assert [] == sampler.prompts

        strategy = session.propose()

        pending = session.state.pending_proposal
        assert pending is not None
        assert ("sampler", "used", "try knob") == (
            pending.strategy_source,
            pending.sampling_status,
            pending.sampling_rationale,
        )
        assert {"tool_calls": [{"tool_name": "knob", "args": {"k": 0}}]} == strategy.to_dict()
        assert [index] == [e["iteration_index"] for e in _sampling(sink)]

    def test_a_second_propose_replaces_every_sampling_field(self) -> None:
        """
        SPEC §8.4/§6.11: a new propose() replaces the pending sampling fields, rationale included.
        """
        sampler = ScriptedSampler(_answer(), "no json")
        mission, _ = _mission(sampler)
        session = _start(mission)

        session.propose()
        session.propose()

        pending = session.state.pending_proposal
        assert pending is not None
        assert ("rejected", "json_parse", "no json", None, "default") == (
            pending.sampling_status,
            pending.sampling_rejection_reason,
            pending.sampling_output,
            pending.sampling_rationale,
            pending.strategy_source,
        )

    def test_after_adjust_without_a_sampler_records_disabled_only_when_the_gate_opens(
        self,
    ) -> None:
        """
        SPEC §8.2-§8.4: resumed without a sampler, after_adjust is disabled once adjust is seen.
        """
        mission, _ = _mission(ScriptedSampler())
        session_id = _start(
            mission, use_sampling="after_adjust", tool_allowlist=["flat"], stagnation_threshold=4
        ).id
        bare_mission, sink = _mission(None, store=mission.store)
        session = bare_mission.session(session_id)
        session.run()

        assert [
            ("continue", None),
            ("continue", None),
            ("adjust", None),
            ("adjust", "disabled"),
            ("terminate", "disabled"),
        ] == [(it.verdict, it.sampling_status) for it in session.state.iterations]
        assert [("strategy_revision", 3), ("strategy_revision", 4)] == [
            (e["sampling_purpose"], e["iteration_index"]) for e in _sampling(sink)
        ]

    def test_observe_without_a_pending_proposal_consults_nothing(self) -> None:
        """
        SPEC §8.3: strategy_revision happens only in a propose phase; observe() has none.
        """
        sampler = ScriptedSampler(_answer())
        mission, sink = _mission(sampler)
        session = _start(mission)

        iteration = session.observe({"metrics": {"v": 0}})

        assert ("host", None, None) == (
            iteration.strategy_source,
            iteration.sampling_status,
            iteration.sampling_output,
        )
        assert ([], []) == (sampler.prompts, _sampling(sink))

    def test_observe_adopts_the_sampling_fields_of_a_pending_proposal(self) -> None:
        """
        SPEC §8.4/§6.11: the iteration records the pending proposal's sampling fields.
        """
        text = _answer()
        mission, sink = _mission(ScriptedSampler(text))
        session = _start(mission)
        session.propose()

        iteration = session.observe({"metrics": {"v": 0}})

        assert ("sampler", "used", None, text, "try knob") == (
            iteration.strategy_source,
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.sampling_output,
            iteration.sampling_rationale,
        )
        assert [0] == [e["iteration_index"] for e in _sampling(sink)]

    def test_event_order_of_a_step_reaching_a_terminal_verdict(self) -> None:
        """
        SPEC §8.3/§6.16: revision before phase propose; lessons after decide, before the verdict.
        """
        sampler = ScriptedSampler(
            _answer({"tool_calls": [{"tool_name": "knob", "args": {"k": 1}}]}), LESSONS
        )
        mission, sink = _mission(sampler)
        session = _start(mission)
        iteration = session.step()

        assert "complete" == iteration.verdict
        assert [
            "sampling:strategy_revision",
            "phase:propose",
            "phase:execute",
            "phase:observe",
            "phase:evaluate",
            "phase:decide",
            "sampling:final_lessons",
            "verdict",
        ] == [
            f"sampling:{e.sampling_purpose}"
            if e.event_type == "mission_sampling_event"
            else f"phase:{e.phase}"
            if e.event_type == "mission_phase_event"
            else "verdict"
            for e in sink.events[1:]
        ]


# ---------------------------------------------------------------- §8.4 / §8.7 records and audit


class TestConsultationRecords:
    @pytest.mark.parametrize(("length", "cut"), [(62, False), (63, True)])
    def test_sampling_output_uses_the_evidence_cap(self, length: int, cut: bool) -> None:
        """
        SPEC §8.4/§3.14: the stored sampling_output is capped at Limits.evidence_bytes (JSON size).
        """
        text = "z" * length
        mission, _ = _mission(ScriptedSampler(text), limits=mk.Limits(evidence_bytes=64))
        iteration = _start(mission).step()

        assert "json_parse" == iteration.sampling_rejection_reason
        if cut:
            assert {"_truncated": True, "bytes": 65, "preview": json.dumps(text)[:256]} == (
                iteration.sampling_output
            )
        else:
            assert text == iteration.sampling_output

    def test_used_output_bytes_count_the_full_uncapped_answer(self) -> None:
        """
        SPEC §8.7: model_output_bytes is the UTF-8 size of the whole output, even if stored capped.
        """
        text = _answer(revision_rationale="é" * 3000)
        mission, sink = _mission(ScriptedSampler(text))
        iteration = _start(mission).step()

        (event,) = _sampling(sink)
        assert ("used", len(text.encode("utf-8"))) == (
            iteration.sampling_status,
            event["model_output_bytes"],
        )
        assert "é" * 3000 == iteration.sampling_rationale
        assert isinstance(iteration.sampling_output, dict)
        assert "validation_error" not in event

    def test_long_exception_text_is_cut_to_200_characters(self) -> None:
        """
        SPEC §8.4/§1.4: validation_error is ``Type: message`` cut to its first 200 characters.
        """
        mission, sink = _mission(ScriptedSampler(ValueError("m" * 500)))
        iteration = _start(mission).step()

        (event,) = _sampling(sink)
        assert ("ValueError: " + "m" * 500)[:200] == event["validation_error"]
        assert (None, "transport_error") == (
            iteration.sampling_output,
            iteration.sampling_rejection_reason,
        )

    def test_prompt_too_large_event_names_the_configured_backend(self) -> None:
        """
        SPEC §8.7/§10.1: an unavailable consultation still reports the sampler's backend and model.
        """
        sampler = ScriptedSampler()
        mission, sink = _mission(sampler)
        criteria = [dict(UNMET[0], description="x" * 40000)]
        session = _start(mission, criteria=criteria)
        session.step()

        (event,) = _sampling(sink)
        assert {
            "event_type": "mission_sampling_event",
            "mission_session_id": session.id,
            "sampling_purpose": "strategy_revision",
            "sampling_status": "unavailable",
            "sampling_backend": "scripted",
            "timestamp": event["timestamp"],
            "iteration_index": 0,
            "sampling_model_id": "scripted",
            "validation_error": "prompt_too_large",
        } == event

    def test_a_rejection_falls_back_to_the_custom_proposer(self) -> None:
        """
        SPEC §8.7/§6.3: a non-used outcome continues with the proposer; a used one skips it.
        """
        proposer = ScriptedProposer({"tool_calls": [{"tool_name": "flat"}]}, None)
        mission, _ = _mission(ScriptedSampler("nope", _answer()), proposer=proposer)
        session = _start(mission)
        session.step()
        session.step()

        assert [
            ("rejected", "json_parse", "proposer"),
            ("used", None, "sampler"),
        ] == _outcomes(session)
        assert [0] == [ctx.iteration_index for ctx in proposer.contexts]

    def test_a_later_mission_without_a_sampler_records_disabled(self) -> None:
        """
        SPEC §8.2/§8.4: a sampling session resumed without a sampler records disabled, no model id.
        """
        mission, _ = _mission(ScriptedSampler())
        session_id = _start(mission, session_id="s-dis").id
        bare, sink = _mission(None, store=mission.store)

        iteration = bare.session(session_id).step()

        assert ("disabled", "no_backend_resolved", None, None, "default") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.sampling_output,
            iteration.sampling_rationale,
            iteration.strategy_source,
        )
        (event,) = _sampling(sink)
        assert {
            "event_type": "mission_sampling_event",
            "mission_session_id": "s-dis",
            "sampling_purpose": "strategy_revision",
            "sampling_status": "disabled",
            "sampling_backend": "none",
            "timestamp": event["timestamp"],
            "iteration_index": 0,
            "validation_error": "no_backend_resolved",
        } == event


# ---------------------------------------------------------------- §8.5 prompt assembly


def bare() -> dict[str, Any]:
    return {"metrics": {"v": 0}}


def _bare_consultation(description: str) -> tuple[ScriptedSampler, mk.Iteration]:
    """
    One consultation whose only variable part is a criterion description (no docstrings to drop).
    """
    sampler = ScriptedSampler("x")
    mission, _ = _mission(sampler, tools=[bare])
    criteria = [dict(UNMET[0], description=description)]
    iteration = _start(mission, tool_allowlist=["bare"], criteria=criteria).step()
    return sampler, iteration


class TestPromptAssembly:
    def test_exactly_the_budget_is_sent_and_one_byte_more_is_too_large(self) -> None:
        """
        SPEC §8.5/§8.4: 32768 UTF-8 bytes are sent; 32769 bytes (fewer characters) is too large.
        """
        base, _ = _bare_consultation("")
        pad = PROMPT_BUDGET - len(base.prompts[0].encode())
        description = "é" * (pad // 2) + "a" * (pad % 2)

        fits, fit_iteration = _bare_consultation(description)
        over, over_iteration = _bare_consultation(description + "a")

        assert [PROMPT_BUDGET] == [len(p.encode()) for p in fits.prompts]
        assert len(fits.prompts[0]) < PROMPT_BUDGET
        assert ("rejected", "json_parse") == (
            fit_iteration.sampling_status,
            fit_iteration.sampling_rejection_reason,
        )
        assert ([], "unavailable", "prompt_too_large") == (
            over.prompts,
            over_iteration.sampling_status,
            over_iteration.sampling_rejection_reason,
        )

    def test_iterations_are_dropped_before_tool_details(self) -> None:
        """
        SPEC §8.5: when dropping iterations suffices, docstrings and input_schemas are kept.
        """

        def heavy() -> dict[str, Any]:
            return {"metrics": {"a": "x" * 4000}}

        tool = mk.Tool(heavy, description="D" * 20000, input_schema={"type": "object"})
        sampler = ScriptedSampler("x", "x", "x")
        mission, _ = _mission(sampler, tools=[tool])
        session = _start(mission, tool_allowlist=["heavy"])
        for _ in range(3):
            session.step()

        prompt = sampler.prompts[2]
        shown = [
            s["iteration_index"]
            for s in _json_section(prompt, "=== Recent iterations (oldest first) ===")
        ]
        assert len(prompt.encode()) <= PROMPT_BUDGET
        assert [1] == shown
        assert [
            {"docstring": "D" * 20000, "input_schema": {"type": "object"}, "tool_name": "heavy"}
        ] == _json_section(prompt, "=== Tool allowlist ===")

    def test_tool_details_go_only_after_every_iteration(self) -> None:
        """
        SPEC §8.5: stripping tool details happens with all iterations already dropped.
        """

        def heavy() -> dict[str, Any]:
            return {"metrics": {"a": "x" * 3000}}

        tool = mk.Tool(heavy, description="D" * 31000, input_schema={"type": "object"})
        sampler = ScriptedSampler("x", "x")
        mission, _ = _mission(sampler, tools=[tool])
        session = _start(mission, tool_allowlist=["heavy"])
        session.step()
        session.step()

        prompt = sampler.prompts[1]
        assert "[]" == _section(prompt, "=== Recent iterations (oldest first) ===")
        assert [{"docstring": "", "tool_name": "heavy"}] == _json_section(
            prompt, "=== Tool allowlist ==="
        )

    def test_wall_clock_budget_context_counts_active_seconds(self) -> None:
        """
        SPEC §8.5: remaining_wall_clock_seconds is the active time left when the prompt is built.
        """
        clock = FakeClock()
        sampler = ScriptedSampler("x", "x")
        mission, _ = _mission(sampler, clock=clock)
        session = _start(mission, budget={"max_iterations": 5, "max_wall_clock_seconds": 100})
        session.step()
        clock.advance(30)
        session.step()

        assert [100, 70] == [
            _json_section(p, "=== Budget context ===")["remaining_wall_clock_seconds"]
            for p in sampler.prompts
        ]

    def test_criteria_section_is_the_criterion_json_plus_status(self) -> None:
        """
        SPEC §8.5/§3.1: criteria keep description and extra keys, omit null optionals, add status.
        """
        criteria = [
            dict(UNMET[0], description="the v threshold", owner="ml-team"),
            {
                "criterion_id": "trend",
                "kind": "metric_trend",
                "required": False,
                "metric": "v",
                "direction": "increasing",
            },
        ]
        sampler = ScriptedSampler("x")
        mission, _ = _mission(sampler)
        session = _start(mission, criteria=criteria)
        session.step()

        never = {"status": "inconclusive", "evidence": None, "evaluated_at": None}
        expected = [dict(c.to_dict(), status=never) for c in session.state.criteria]
        section = _json_section(sampler.prompts[0], "=== Success criteria with current status ===")
        assert expected == section
        assert "owner" in section[0]
        assert "window" not in section[1]

    def test_sampling_prompt_is_frozen_and_equal_inputs_assemble_equally(self) -> None:
        """
        SPEC §8.5: ``SamplingPrompt`` is frozen; equal prompts assemble to identical bytes.
        """

        def build() -> SamplingPrompt:
            return SamplingPrompt(
                purpose="final_lessons",
                directive="Déjà vu",
                criteria=list(UNMET),
                criteria_status={},
                tools=[{"tool_name": "flat", "docstring": "Flat."}],
                remaining_iterations=2,
                remaining_wall_clock_seconds=None,
                is_last_iteration=False,
                allow_scripts=False,
                iterations=[{"iteration_index": 0, "verdict": "continue", "verdict_reason": "x"}],
            )

        prompt = build()
        with pytest.raises(AttributeError):
            prompt.directive = "changed"  # type: ignore[misc]

        assert prompt == build()
        assert prompt.assemble().encode() == build().assemble().encode()
        assert prompt.assemble().startswith("You summarise a finished mission loop.")
        assert "=== Iteration verdict summary (oldest first) ===" in prompt.assemble()

    def test_non_finite_criterion_targets_render_as_strings(self) -> None:
        """
        SPEC §8.5/§2.2: an infinite criterion target appears as the string "Infinity".
        """
        sampler = ScriptedSampler("x")
        mission, _ = _mission(sampler)
        _start(mission, criteria=[dict(UNMET[0], op="<", target=float("inf"))]).step()

        section = _section(sampler.prompts[0], "=== Success criteria with current status ===")
        assert "Infinity" == json.loads(section)[0]["target"]
        assert '"target": "Infinity"' in section

    def test_bare_callable_input_schema_is_listed_and_enforced(self) -> None:
        """
        SPEC §2.5/§8.5/§8.6: a callable's dict ``input_schema`` attribute is shown and validated.
        """

        def tuned(k: int = 0) -> dict[str, Any]:
            """
            Tuned tool.
            """
            return {"metrics": {"v": k}}

        tuned.input_schema = KNOB_SCHEMA  # type: ignore[attr-defined]
        bad = _answer({"tool_calls": [{"tool_name": "tuned", "args": {"k": -1}}]})
        sampler = ScriptedSampler(bad)
        mission, _ = _mission(sampler, tools=[tuned])
        iteration = _start(mission, tool_allowlist=["tuned"]).step()

        assert [
            {"docstring": "Tuned tool.", "input_schema": KNOB_SCHEMA, "tool_name": "tuned"}
        ] == _json_section(sampler.prompts[0], "=== Tool allowlist ===")
        assert ("rejected", "tool_args_invalid") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
        )

    def test_summary_lists_failed_and_skipped_calls(self) -> None:
        """
        SPEC §8.5: summary tool_calls give tool_name, status and error_message of every call.
        """

        def broken() -> dict[str, Any]:
            raise ValueError("bad input")

        proposer = ScriptedProposer(
            {"tool_calls": [{"tool_name": "broken"}, {"tool_name": "knob", "args": {"k": 0}}]}
        )
        sampler = ScriptedSampler("x", "x")
        tools = {"broken": broken, "knob": knob}
        mission, _ = _mission(sampler, tools=tools, proposer=proposer)
        session = _start(mission, tool_allowlist=["broken"])
        session.step()
        session.step()

        (summary,) = _json_section(sampler.prompts[1], "=== Recent iterations (oldest first) ===")
        assert [
            {"tool_name": "broken", "status": "failed", "error_message": "ValueError: bad input"},
            {"tool_name": "knob", "status": "skipped_not_allowed", "error_message": None},
        ] == summary["tool_calls"]
        assert "_original_bytes" not in summary["observation_summary"]
        assert "strategy_original_bytes" not in summary

    def test_host_iteration_summary_has_a_null_strategy(self) -> None:
        """
        SPEC §8.5: an observe() iteration is summarised with strategy null and the host calls.
        """
        sampler = ScriptedSampler("x")
        mission, _ = _mission(sampler)
        session = _start(mission)
        session.observe(
            {
                "metrics": {"v": 0},
                "tool_calls": [{"tool_name": "lab", "status": "failed", "error_message": "oops"}],
            }
        )
        session.step()

        (summary,) = _json_section(sampler.prompts[0], "=== Recent iterations (oldest first) ===")
        assert (None, [{"tool_name": "lab", "status": "failed", "error_message": "oops"}]) == (
            summary["strategy"],
            summary["tool_calls"],
        )
        assert {"v": 0} == summary["observation_summary"]["metrics"]

    def test_final_lessons_prompt_without_iterations(self) -> None:
        """
        SPEC §8.8/§8.5: complete() before any iteration: no summaries, criteria never evaluated.
        """
        sampler = ScriptedSampler(LESSONS)
        mission, _ = _mission(sampler)
        _start(mission).complete()

        (prompt,) = sampler.prompts
        assert "[]" == _section(prompt, "=== Iteration verdict summary (oldest first) ===")
        assert {"status": "inconclusive", "evidence": None, "evaluated_at": None} == (
            _json_section(prompt, "=== Success criteria with current status ===")[0]["status"]
        )
        assert {
            "allow_scripted_strategies": False,
            "is_last_iteration": False,
            "remaining_iterations": 20,
            "remaining_wall_clock_seconds": None,
        } == _json_section(prompt, "=== Budget context ===")

    def test_final_lessons_status_comes_from_the_last_evaluated_iteration(self) -> None:
        """
        SPEC §8.8: final_lessons criteria_status is from the last evaluated iteration.
        """
        sampler = ScriptedSampler(LESSONS)
        mission, _ = _mission(sampler)
        session = _start(
            mission,
            use_sampling="after_adjust",
            checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
        )
        for _ in range(4):
            session.step()
        evaluated = [it for it in session.state.iterations if it.checkpoint_evaluated]
        assert not session.state.iterations[-1].checkpoint_evaluated

        session.complete()

        (prompt,) = sampler.prompts
        result = evaluated[-1].criteria_evaluation[0].to_dict()
        assert {
            "status": result["status"],
            "evidence": result["evidence"],
            "evaluated_at": result["evaluated_at"],
        } == _json_section(prompt, "=== Success criteria with current status ===")[0]["status"]
        assert 16 == _json_section(prompt, "=== Budget context ===")["remaining_iterations"]


# ---------------------------------------------------------------- §8.6 parsing and validation


class TestParsing:
    def test_json_inside_a_markdown_fence_is_accepted(self) -> None:
        """
        SPEC §8.6 step 1: the object between the first ``{`` and the last ``}`` is parsed.
        """
        fenced = "Sure!\n```json\n" + _answer() + "\n```\nThat should help."
        session, _ = _run_answers([fenced])

        assert [("used", None, "sampler")] == _outcomes(session)
        assert fenced == session.state.iterations[0].sampling_output

    def test_braces_in_the_surrounding_prose_break_the_object(self) -> None:
        """
        SPEC §8.6 step 1: a ``{`` before or a ``}`` after the object makes the substring unparsable.
        """
        session, sink = _run_answers(
            ["Use {braces} like this: " + _answer(), _answer() + " (see {docs})"]
        )

        assert [("rejected", "json_parse", "default")] * 2 == _outcomes(session)
        assert ["json_parse", "json_parse"] == [e["validation_error"] for e in _sampling(sink)]

    def test_confidence_bounds_are_inclusive(self) -> None:
        """
        SPEC §8.6 step 2: confidence is any number in [0, 1], ints included.
        """
        answers = [_answer(confidence=c) for c in (0, 1, 0.0, 1.0, 1e-12)]
        session, _ = _run_answers(answers)

        assert [("used", None, "sampler")] * 5 == _outcomes(session)

    def test_out_of_range_and_non_finite_confidence_is_schema_mismatch(self) -> None:
        """
        SPEC §8.6 step 2: confidence above 1, below 0, infinite, or a list is schema_mismatch.
        """
        answers = [
            _answer(confidence=1.0000001),
            _answer(confidence=2),
            _answer(confidence=-1e-9),
            _answer().replace('"confidence": 0.5', '"confidence": Infinity'),
            _answer(confidence=[0.5]),
        ]
        session, _ = _run_answers(answers)

        assert [("rejected", "schema_mismatch", "default")] * 5 == _outcomes(session)

    def test_non_object_next_strategy_and_rationale_shapes(self) -> None:
        """
        SPEC §8.6 step 2: next_strategy must be an object and revision_rationale a non-empty str.
        """
        answers = [
            _answer(next_strategy=None).replace('"next_strategy": {', '"unused": {'),
            json.dumps({"revision_rationale": "r", "next_strategy": "use knob", "confidence": 0.5}),
            json.dumps(
                {
                    "revision_rationale": None,
                    "next_strategy": {"tool_calls": [{"tool_name": "knob"}]},
                    "confidence": 0.5,
                }
            ),
            _answer(revision_rationale=["r"]),
        ]
        session, _ = _run_answers(answers)

        assert [("rejected", "schema_mismatch", "default")] * 4 == _outcomes(session)

    def test_extra_keys_are_tolerated_and_dropped(self) -> None:
        """
        SPEC §8.6 step 2/§4.9: extra answer, strategy and call keys are tolerated; calls keep args.
        """
        answer = _answer(
            {
                "tool_calls": [{"tool_name": "knob", "args": {"k": 1}, "why": "x"}],
                "priority": "high",
                "rationale": "go",
            },
            notes="extra",
        )
        session, _ = _run_answers([answer])

        iteration = session.state.iterations[0]
        assert ("used", "sampler") == (iteration.sampling_status, iteration.strategy_source)
        assert {
            "tool_calls": [{"tool_name": "knob", "args": {"k": 1}}],
            "rationale": "go",
        } == (iteration.strategy.to_dict() if iteration.strategy else None)
        assert "complete" == iteration.verdict

    def test_every_strategy_validation_reason_is_the_fallback_token(self) -> None:
        """
        SPEC §8.6 step 3/§4.9: each validate_strategy rejection is recorded as its reason token.
        """
        cases = {
            "must_have_exactly_one_of_tool_calls_or_script": {},
            "must_be_non_empty_list": {"tool_calls": []},
            "too_many": {"tool_calls": [{"tool_name": "flat"}] * 257},
            "tool_call_not_a_dict": {"tool_calls": ["flat"]},
            "tool_name_missing_or_invalid": {"tool_calls": [{"tool_name": ""}]},
            "args_not_a_dict": {"tool_calls": [{"tool_name": "flat", "args": [1]}]},
            "must_be_list_of_strings": {
                "tool_calls": [{"tool_name": "flat"}],
                "expected_observation_keys": "v",
            },
            "not_a_string": {"tool_calls": [{"tool_name": "flat"}], "rationale": 5},
        }
        session, sink = _run_answers([_answer(s) for s in cases.values()])

        assert [("rejected", reason, "default") for reason in cases] == _outcomes(session)
        assert list(cases) == [e["validation_error"] for e in _sampling(sink)]

    def test_script_rejections_when_scripts_are_allowed(self) -> None:
        """
        SPEC §8.6 step 3/§4.9/§9.2: an empty script or a script token is the fallback reason.
        """
        answers = [
            _answer({"script": ""}),
            _answer({"script": "import os"}),
            _answer({"script": "flat()"}),
            _answer({"script": "len = 3"}),
        ]
        session, _ = _run_answers(answers, allow_scripted_strategies=True)

        assert [
            ("rejected", "must_be_non_empty_string", "default"),
            ("rejected", "forbidden_node", "default"),
            ("rejected", "tool_call_not_awaited", "default"),
            ("rejected", "shadows_protected_name", "default"),
        ] == _outcomes(session)

    def test_valid_script_is_used_when_scripts_are_allowed(self) -> None:
        """
        SPEC §8.6/§8.5: with scripts allowed a valid script answer is used and run.
        """
        script = "r = await knob(k=1)\nmission.observe('v', r['metrics']['v'])"
        mission, _ = _mission(
            ScriptedSampler(_answer({"script": script})), script_runner=InlineScriptRunner()
        )
        session = _start(mission, allow_scripted_strategies=True)
        iteration = session.step()

        assert ("used", "sampler", script) == (
            iteration.sampling_status,
            iteration.strategy_source,
            iteration.strategy.script if iteration.strategy else None,
        )
        assert iteration.script_call_log is not None
        assert ["knob"] == [r.tool_name for r in iteration.script_call_log]

    def test_allowlist_is_checked_before_registration(self) -> None:
        """
        SPEC §4.14: a tool neither allowlisted nor registered is tool_not_allowlisted.
        """
        answers = [
            _answer({"tool_calls": [{"tool_name": "nowhere"}]}),
            _answer({"tool_calls": [{"tool_name": "knob", "args": {"k": 0}}, {"tool_name": "x"}]}),
        ]
        session, _ = _run_answers(answers)

        assert [("rejected", "tool_not_allowlisted", "default")] * 2 == _outcomes(session)

    def test_allowlisted_tool_missing_from_this_mission_is_not_registered(self) -> None:
        """
        SPEC §4.14 row 2: an allowlisted tool unknown to the current Mission is tool_not_registered.
        """
        first, _ = _mission(ScriptedSampler())
        session_id = _start(first).id
        sampler = ScriptedSampler(_answer({"tool_calls": [{"tool_name": "knob"}]}))
        second, _ = _mission(sampler, tools={"flat": flat}, store=first.store)

        iteration = second.session(session_id).step()

        assert ("rejected", "tool_not_registered", "default") == (
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.strategy_source,
        )

    def test_external_tools_are_known_to_the_catalog(self) -> None:
        """
        SPEC §4.14/§2.5: an allowlisted external tool is registered, so the answer is used.
        """
        sampler = ScriptedSampler(_answer({"tool_calls": [{"tool_name": "lab"}]}))
        mission, _ = _mission(sampler, tools={"flat": flat, "lab": None})
        iteration = _start(mission, tool_allowlist=["flat", "lab"]).step()

        assert ("used", "sampler") == (iteration.sampling_status, iteration.strategy_source)
        assert [("lab", "failed")] == [(r.tool_name, r.status) for r in iteration.tool_calls]

    def test_input_schema_errors_reject_and_valid_args_run(self) -> None:
        """
        SPEC §4.14 row 3: args failing the input_schema are rejected; valid args reach the tool.
        """
        answers = [
            _answer({"tool_calls": [{"tool_name": "knob", "args": {"k": 1, "extra": 2}}]}),
            _answer({"tool_calls": [{"tool_name": "knob", "args": {"k": True}}]}),
            _answer({"tool_calls": [{"tool_name": "knob", "args": {"k": 1}}]}),
        ]
        session, _ = _run_answers(answers)

        assert [
            ("rejected", "tool_args_invalid", "default"),
            ("rejected", "tool_args_invalid", "default"),
            ("used", None, "sampler"),
        ] == _outcomes(session)
        last = session.state.iterations[-1]
        assert ({"k": 1}, "complete") == (last.tool_calls[0].args, last.verdict)


# ---------------------------------------------------------------- §8.8 final lessons


class TestFinalLessons:
    def test_terminal_step_lessons_event_and_report(self) -> None:
        """
        SPEC §8.8/§10.1: a used lessons event has no index or context; empty follow-ups stay empty.
        """
        sampler = ScriptedSampler(
            _answer({"tool_calls": [{"tool_name": "knob", "args": {"k": 1}}]}), LESSONS
        )
        mission, sink = _mission(sampler)
        session = _start(mission)
        report = session.run()

        assert report is not None
        assert ("Only lesson.", (), "sampler") == (
            report.lessons,
            tuple(report.recommended_followups),
            report.lessons_source,
        )
        event = _sampling(sink)[-1]
        assert {
            "event_type": "mission_sampling_event",
            "mission_session_id": session.id,
            "sampling_purpose": "final_lessons",
            "sampling_status": "used",
            "sampling_backend": "scripted",
            "timestamp": event["timestamp"],
            "sampling_model_id": "scripted",
            "model_output_bytes": len(LESSONS.encode()),
        } == event

    def test_lessons_in_prose_are_parsed_and_joined(self) -> None:
        """
        SPEC §8.8/§8.6: lessons are joined with blank lines; prose around the object is ignored.
        """
        text = "Summary:\n" + json.dumps(
            {"lessons": ["A.", "B.", "C."], "recommended_followups": ["X", "Y"], "tone": "calm"}
        )
        mission, _ = _mission(ScriptedSampler(text))
        report = _start(mission).complete("good_enough")

        assert ("A.\n\nB.\n\nC.", ["X", "Y"], "sampler", "good_enough") == (
            report.lessons,
            list(report.recommended_followups),
            report.lessons_source,
            report.final_verdict_reason,
        )

    @pytest.mark.parametrize(
        ("answer", "status", "error"),
        [
            ("[1, 2]", "rejected", "json_parse"),
            (
                json.dumps({"lessons": ["a", 2], "recommended_followups": []}),
                "rejected",
                "schema_mismatch",
            ),
            (
                json.dumps({"lessons": "a", "recommended_followups": []}),
                "rejected",
                "schema_mismatch",
            ),
            (None, "rejected", "RuntimeError: ScriptedSampler exhausted"),
        ],
    )
    def test_unusable_lessons_keep_the_templates(
        self, answer: str | None, status: str, error: str
    ) -> None:
        """
        SPEC §8.8/§8.7: any non-used lessons outcome keeps the templates and still finalises.
        """
        sampler = ScriptedSampler(*([] if answer is None else [answer]))
        mission, sink = _mission(sampler)
        session = _start(mission, use_sampling="after_adjust")
        report = session.abort()

        assert report is not None
        assert ("terminated", "template") == (session.status, report.lessons_source)
        assert report.lessons.startswith(f"Session {session.id} ended with verdict 'terminate'")
        (event,) = _sampling(sink)
        assert (status, error, "final_lessons") == (
            event["sampling_status"],
            event["validation_error"],
            event["sampling_purpose"],
        )
        assert "model_output_bytes" not in event
