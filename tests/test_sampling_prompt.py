"""
Tests for sampler prompt assembly, field caps and budget fitting (SPEC §8.5).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from missionkit.models import (
    CriterionResult,
    Iteration,
    Observation,
    Strategy,
    ToolCall,
    ToolCallRecord,
)
from missionkit.sampling import SamplingPrompt
from missionkit.sampling._prompt import (
    PROMPT_BUDGET_BYTES,
    TRUNCATION_MARKER,
    Purpose,
    _join_list,
    _list_item_texts,
    build_prompt,
    fit_prompt,
    summarise_iteration,
)
from missionkit.validation import validate_criteria

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _iteration(
    index: int,
    *,
    metrics: dict[str, Any] | None = None,
    strategy: Strategy | None = None,
    observed: bool = True,
    events: tuple[dict[str, Any], ...] = (),
) -> Iteration:
    observation = (
        Observation(
            tool_results=({"_status": "ok", "tool_name": "train", "score": 0.5},),
            metrics=metrics if metrics is not None else {"val_loss": 0.3},
            events=events,
            errors=(),
            phase_started_at=T0,
            phase_ended_at=T0,
        )
        if observed
        else None
    )
    return Iteration(
        iteration_index=index,
        status="succeeded",
        started_at=T0,
        ended_at=T0,
        strategy=strategy or Strategy(tool_calls=(ToolCall("train", {"lr": 0.1}),)),
        strategy_source="default",
        tool_calls=(
            ToolCallRecord("train", {"lr": 0.1}, "ok", {"type": "object", "bytes": 2}, 3),
            ToolCallRecord("eval", {}, "failed", None, 1, "RuntimeError: boom"),
        ),
        observation=observation,
        verdict="adjust",
        verdict_reason="heuristic_unproductive",
    )


CRITERIA = validate_criteria(
    [
        {
            "criterion_id": "loss",
            "kind": "metric_threshold",
            "required": True,
            "metric": "metrics.val_loss",
            "op": "<=",
            "target": 0.1,
        },
        {"criterion_id": "ran", "kind": "tool_call_succeeded", "required": True, "tool_name": "t"},
    ]
)


def _prompt(purpose: Purpose = "strategy_revision", **overrides: Any) -> SamplingPrompt:
    kwargs: dict[str, Any] = {
        "directive": "Reduce the loss",
        "criteria": CRITERIA,
        "criteria_status": {
            "loss": CriterionResult("loss", "unmet", {"value": 0.3}, T0),
            "ran": None,
        },
        "tools": [
            ("train", "Train a model.", {"type": "object", "properties": {"lr": {}}}),
            ("external", None, None),
        ],
        "remaining_iterations": 3,
        "remaining_wall_clock_seconds": None,
        "is_last_iteration": False,
        "allow_scripts": False,
        "iterations": [_iteration(0), _iteration(1)],
    }
    kwargs.update(overrides)
    return build_prompt(purpose, **kwargs)


def _sections(text: str) -> list[str]:
    return text.split("\n\n=== ")


def _naive_fit(prompt: SamplingPrompt) -> str | None:
    """
    The budget-fitting rule of SPEC §8.5, written as literally as possible.
    """
    text = prompt.assemble()
    while len(text.encode()) > PROMPT_BUDGET_BYTES and prompt.iterations:
        prompt = attrs.evolve(prompt, iterations=prompt.iterations[1:])
        text = prompt.assemble()
    if len(text.encode()) > PROMPT_BUDGET_BYTES:
        prompt = prompt.without_tool_details()
        text = prompt.assemble()
    return None if len(text.encode()) > PROMPT_BUDGET_BYTES else text


class TestAssemble:
    def test_layout(self) -> None:
        """
        The text has the preamble and six headed sections in order, joined by blank lines.
        """
        text = _prompt().assemble()
        assert text.startswith(
            "You advise an automated mission loop. Propose the next strategy as one JSON object. "
            "The loop validates your answer, may discard it, and computes verdicts, budgets and "
            "criterion results itself.\n\n=== Mission directive ===\nReduce the loss\n\n"
        )
        headers = [s.split("\n", 1)[0] for s in _sections(text)[1:]]
        assert headers == [
            "Mission directive ===",
            "Success criteria with current status ===",
            "Tool allowlist ===",
            "Budget context ===",
            "Recent iterations (oldest first) ===",
            "Output schema ===",
        ]
        schema_section = _sections(text)[-1]
        assert schema_section.split("\n", 2)[1] == (
            "Answer with a single JSON object that matches this schema and nothing else."
        )

    def test_final_lessons_layout(self) -> None:
        """
        Final-lessons prompts use their own preamble, iteration header and schema.
        """
        text = _prompt("final_lessons").assemble()
        assert text.startswith(
            "You summarise a finished mission loop. Write lessons and follow-up suggestions as "
            "one JSON object. Your answer does not change the recorded outcome.\n\n"
        )
        assert "=== Iteration verdict summary (oldest first) ===\n" in text
        schema = json.loads(_sections(text)[-1].split("\n", 2)[2])
        assert schema["required"] == ["lessons", "recommended_followups"]

    def test_json_blocks(self) -> None:
        """
        Criteria carry their status, unknown tools have an empty docstring, budget keys are exact.
        """
        sections = _sections(_prompt().assemble())
        criteria = json.loads(sections[2].split("\n", 1)[1])
        assert criteria[0]["status"] == {
            "status": "unmet",
            "evidence": {"value": 0.3},
            "evaluated_at": "2025-01-01T00:00:00.000000+00:00",
        }
        assert criteria[1]["status"] == {
            "status": "inconclusive",
            "evidence": None,
            "evaluated_at": None,
        }
        tools = json.loads(sections[3].split("\n", 1)[1])
        assert tools == [
            {
                "tool_name": "train",
                "docstring": "Train a model.",
                "input_schema": {"type": "object", "properties": {"lr": {}}},
            },
            {"tool_name": "external", "docstring": ""},
        ]
        budget = json.loads(sections[4].split("\n", 1)[1])
        assert budget == {
            "remaining_iterations": 3,
            "remaining_wall_clock_seconds": None,
            "is_last_iteration": False,
            "allow_scripted_strategies": False,
        }

    def test_rendering_style(self) -> None:
        """
        JSON blocks are indented by two spaces with sorted keys and no ASCII escaping.
        """
        text = _prompt(directive="Réduire").assemble()
        budget_body = _sections(text)[4].split("\n", 1)[1]
        assert budget_body == json.dumps(
            json.loads(budget_body), sort_keys=True, indent=2, separators=(",", ": ")
        )
        assert "Réduire" in text

    @pytest.mark.parametrize("allow_scripts", [True, False])
    def test_script_property_only_when_allowed(self, allow_scripts: bool) -> None:
        """
        The output schema offers ``script`` only when scripts are allowed.
        """
        text = _prompt(allow_scripts=allow_scripts).assemble()
        schema = json.loads(_sections(text)[-1].split("\n", 2)[2])
        strategy_props = schema["properties"]["next_strategy"]["properties"]
        assert ("script" in strategy_props) is allow_scripts
        assert schema["required"] == ["revision_rationale", "next_strategy", "confidence"]
        assert schema["properties"]["confidence"] == {"type": "number", "minimum": 0, "maximum": 1}

    def test_insertion_order_never_matters(self) -> None:
        """
        Equal inputs built with different dict insertion orders give byte-identical text.
        """
        metrics_a = {"a": 1, "b": {"x": 1, "y": 2}}
        metrics_b = {"b": {"y": 2, "x": 1}, "a": 1}
        schema_a = {"type": "object", "properties": {"lr": {}, "n": {}}}
        schema_b = {"properties": {"n": {}, "lr": {}}, "type": "object"}
        first = _prompt(
            iterations=[_iteration(0, metrics=metrics_a)],
            tools=[("train", "d", schema_a)],
            criteria_status={"ran": None, "loss": None},
        )
        second = _prompt(
            iterations=[_iteration(0, metrics=metrics_b)],
            tools=[("train", "d", schema_b)],
            criteria_status={"loss": None, "ran": None},
        )
        assert first.assemble().encode() == second.assemble().encode()

    def test_non_finite_floats_render_as_strings(self) -> None:
        """
        NaN and infinities appear as the strings of SPEC §2.2, keeping every block valid JSON.
        """
        prompt = _prompt(iterations=[_iteration(0, metrics={"x": float("nan"), "y": -1e999})])
        text = prompt.assemble()
        body = _sections(text)[5].split("\n", 1)[1]
        summary = json.loads(body)[0]
        assert summary["observation_summary"]["metrics"] == {"x": "NaN", "y": "-Infinity"}

    def test_list_rendering_matches_json_dumps(self) -> None:
        """
        The per-item list rendering used for fitting equals rendering the whole list.
        """
        items: list[Any] = [{"a": [1, {"b": "ü"}]}, [], {}, "s", None, [[2]]]
        expected = json.dumps(
            items, sort_keys=True, ensure_ascii=False, indent=2, separators=(",", ": ")
        )
        assert _join_list(_list_item_texts(items)) == expected
        assert _join_list([]) == "[]"


class TestSummaries:
    def test_strategy_revision_summary(self) -> None:
        """
        A strategy-revision summary has the six keys of SPEC §8.5 and no size keys.
        """
        summary = summarise_iteration(_iteration(4), "strategy_revision")
        assert sorted(summary) == sorted(
            [
                "iteration_index",
                "strategy",
                "tool_calls",
                "verdict",
                "verdict_reason",
                "observation_summary",
            ]
        )
        assert summary["tool_calls"] == [
            {"tool_name": "train", "status": "ok", "error_message": None},
            {"tool_name": "eval", "status": "failed", "error_message": "RuntimeError: boom"},
        ]
        assert summary["strategy"] == {"tool_calls": [{"tool_name": "train", "args": {"lr": 0.1}}]}
        assert sorted(summary["observation_summary"]) == [
            "errors",
            "events",
            "metrics",
            "phase_ended_at",
            "phase_started_at",
            "tool_results",
        ]

    def test_missing_observation(self) -> None:
        """
        An iteration without an observation has a null observation summary.
        """
        summary = summarise_iteration(_iteration(0, observed=False), "strategy_revision")
        assert summary["observation_summary"] is None

    def test_final_lessons_summary(self) -> None:
        """
        A final-lessons summary has only index, verdict and reason.
        """
        assert summarise_iteration(_iteration(2), "final_lessons") == {
            "iteration_index": 2,
            "verdict": "adjust",
            "verdict_reason": "heuristic_unproductive",
        }

    def test_iteration_selection(self) -> None:
        """
        Strategy revision keeps the last five iterations; final lessons keeps all.
        """
        iterations = [_iteration(i) for i in range(8)]
        revision = _prompt(iterations=iterations)
        lessons = _prompt("final_lessons", iterations=iterations)
        assert [s["iteration_index"] for s in revision.iterations] == [3, 4, 5, 6, 7]
        assert [s["iteration_index"] for s in lessons.iterations] == list(range(8))

    def test_field_of_exactly_cap_is_kept(self) -> None:
        """
        An observation field whose compact JSON is exactly 4096 bytes is kept whole.
        """
        metrics = {"k": "x" * 4088}  # {"k":"…"} adds 8 bytes
        summary = summarise_iteration(_iteration(0, metrics=metrics), "strategy_revision")
        assert summary["observation_summary"]["metrics"] == metrics
        assert "_original_bytes" not in summary["observation_summary"]

    def test_field_over_cap_is_truncated(self) -> None:
        """
        At 4097 bytes a field becomes its first 2048 bytes plus the marker, size recorded.
        """
        metrics = {"k": "x" * 4089}
        summary = summarise_iteration(_iteration(0, metrics=metrics), "strategy_revision")
        obs = summary["observation_summary"]
        assert obs["_original_bytes"] == {"metrics": 4097}
        compact = json.dumps(metrics, separators=(",", ":"))
        assert obs["metrics"] == compact[:2048] + TRUNCATION_MARKER
        assert obs["events"] == []

    def test_truncation_drops_incomplete_code_point(self) -> None:
        """
        A multi-byte character split by the 2048-byte cut is dropped whole.
        """
        metrics = {"k": "a" + "é" * 3000}  # '{"k":"a' is 7 bytes, then 2-byte characters
        summary = summarise_iteration(_iteration(0, metrics=metrics), "strategy_revision")
        text = summary["observation_summary"]["metrics"]
        assert text.endswith(TRUNCATION_MARKER)
        prefix = text[: -len(TRUNCATION_MARKER)]
        assert len(prefix.encode()) == 2047
        assert prefix == '{"k":"a' + "é" * 1020

    def test_strategy_over_cap(self) -> None:
        """
        An oversized strategy is cut and its size recorded as ``strategy_original_bytes``.
        """
        strategy = Strategy(script="x = 1\n" * 1000)
        summary = summarise_iteration(_iteration(0, strategy=strategy), "strategy_revision")
        size = len(json.dumps(strategy.to_dict(), separators=(",", ":")).encode())
        assert summary["strategy_original_bytes"] == size
        assert summary["strategy"].endswith(TRUNCATION_MARKER)
        assert len(summary["strategy"].encode()) == 2048 + len(TRUNCATION_MARKER)


class TestFit:
    def _big_iteration(self, index: int) -> Iteration:
        # Metrics, events and the strategy are each cut to about 2 KiB.
        return _iteration(
            index,
            metrics={f"m{i}": "v" * 100 for i in range(60)},
            events=tuple({"event_name": "e" * 100} for _ in range(60)),
            strategy=Strategy(script="pass\n" * 1000),
        )

    def test_small_prompt_unchanged(self) -> None:
        """
        A prompt within budget is returned unchanged.
        """
        prompt = _prompt()
        assert prompt.fit() == prompt
        assert fit_prompt(prompt) == prompt.assemble()

    def test_oldest_iterations_evicted(self) -> None:
        """
        Over budget, the oldest iterations are dropped until the text fits.
        """
        prompt = _prompt(
            "final_lessons",
            iterations=[_iteration(i) for i in range(450)],
        )
        fitted = prompt.fit()
        assert fitted is not None
        kept = [s["iteration_index"] for s in fitted.iterations]
        assert kept[-1] == 449
        assert 0 < len(kept) < 450
        text = fitted.assemble()
        assert len(text.encode()) <= PROMPT_BUDGET_BYTES
        # One more iteration would not have fitted.
        grown = attrs.evolve(fitted, iterations=prompt.iterations[-len(kept) - 1 :])
        assert len(grown.assemble().encode()) > PROMPT_BUDGET_BYTES
        assert fit_prompt(prompt) == _naive_fit(prompt)

    def test_eviction_with_large_summaries(self) -> None:
        """
        Eviction of capped strategy-revision summaries matches the literal rule.
        """
        prompt = _prompt(iterations=[self._big_iteration(i) for i in range(5)])
        assert len(prompt.assemble().encode()) > PROMPT_BUDGET_BYTES
        fitted = prompt.fit()
        assert fitted is not None
        assert 0 < len(fitted.iterations) < 5
        assert fitted.assemble() == _naive_fit(prompt)

    def test_tool_details_stripped(self) -> None:
        """
        With every iteration dropped and still over budget, docstrings and schemas go.
        """
        tools = [
            (f"tool{i}", "d" * 2000, {"type": "object", "description": "s" * 500})
            for i in range(14)
        ]
        prompt = _prompt(tools=tools)
        fitted = prompt.fit()
        assert fitted is not None
        assert fitted.iterations == ()
        assert [t["docstring"] for t in fitted.tools] == [""] * 14
        assert all("input_schema" not in t for t in fitted.tools)
        assert fitted.assemble() == _naive_fit(prompt)

    def test_prompt_too_large(self) -> None:
        """
        A prompt still over budget after every degradation cannot be fitted.
        """
        criteria = validate_criteria(
            [
                {
                    "criterion_id": f"c{i}",
                    "kind": "event",
                    "required": True,
                    "event_name": "e",
                    "description": "x" * 4000,
                }
                for i in range(9)
            ]
        )
        prompt = _prompt(criteria=criteria, criteria_status={})
        assert prompt.fit() is None
        assert fit_prompt(prompt) is None
        assert _naive_fit(prompt) is None
