"""
Tests for criteria scaffolding, deterministic and sampled (SPEC §13).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missionkit.errors import MissionValidationError, ScaffoldSamplingError
from missionkit.scaffold import (
    ascaffold_criteria_sampled,
    scaffold_criteria,
    scaffold_criteria_sampled,
)
from missionkit.validation import validate_criteria


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


EVENT = {"criterion_id": "done", "kind": "event", "required": True, "event_name": "job_done"}


def _threshold(kw: str, metric: str, op: str, target: float) -> dict[str, Any]:
    return {
        "criterion_id": f"{kw}_target",
        "kind": "metric_threshold",
        "required": True,
        "metric": metric,
        "op": op,
        "target": target,
    }


class TestScaffoldCriteria:
    @pytest.mark.parametrize(
        ("directive", "expected"),
        [
            (
                "Push the validation loss under 0.1",
                _threshold("loss", "metrics.val_loss", "<=", 0.1),
            ),
            ("Reduce the ERROR rate", _threshold("error", "metrics.error", "<=", 0.1)),
            ("Lower p99 latency", _threshold("latency", "metrics.latency", "<=", 0.1)),
            ("Cut cost and raise accuracy", _threshold("cost", "metrics.cost", "<=", 0.1)),
            ("Improve Accuracy", _threshold("accuracy", "metrics.val_accuracy", ">=", 0.9)),
            ("Raise throughput", _threshold("throughput", "metrics.throughput", ">=", 0.9)),
            ("Get a better F1", _threshold("f1", "metrics.f1", ">=", 0.9)),
            ("recall matters", _threshold("recall", "metrics.recall", ">=", 0.9)),
            ("precision first", _threshold("precision", "metrics.precision", ">=", 0.9)),
            ("Latency, then loss", _threshold("latency", "metrics.latency", "<=", 0.1)),
            ("Find the best accuracy", _threshold("accuracy", "metrics.val_accuracy", ">=", 0.9)),
        ],
    )
    def test_metric_classes(self, directive: str, expected: dict[str, Any]) -> None:
        """
        Lower- and higher-is-better keywords give one threshold on the leftmost keyword.
        """
        assert scaffold_criteria(directive) == [expected]

    @pytest.mark.parametrize("directive", ["lossy compression", "a glossary", "errors happen"])
    def test_whole_words_only(self, directive: str) -> None:
        """
        Keywords match only as whole words.
        """
        assert scaffold_criteria(directive)[0]["criterion_id"] == "todo_placeholder"

    @pytest.mark.parametrize("keyword", ["find", "Search", "discover", "LOCATE", "lookup"])
    def test_search_without_tools(self, keyword: str) -> None:
        """
        Search keywords without tools give the results-present predicate.
        """
        expected = [
            {
                "criterion_id": "results_present",
                "kind": "predicate",
                "required": True,
                "expression": "len(obs['tool_results']) > 0",
            }
        ]
        assert scaffold_criteria(f"{keyword} the docs") == expected
        assert scaffold_criteria(f"{keyword} the docs", []) == expected

    def test_search_with_tools(self) -> None:
        """
        Search keywords with tools give one tool_call_succeeded per tool, up to the cap.
        """
        result = scaffold_criteria("search everything", ["web", "Index Files", "db"], 2)
        assert result == [
            {
                "criterion_id": "web_called",
                "kind": "tool_call_succeeded",
                "required": True,
                "tool_name": "web",
            },
            {
                "criterion_id": "index_files_called",
                "kind": "tool_call_succeeded",
                "required": True,
                "tool_name": "Index Files",
            },
        ]

    def test_locate_example_collision(self) -> None:
        """
        The SPEC example: colliding slugs get ``_2``.
        """
        result = scaffold_criteria("Locate the docs", ["find-docs", "find_docs"])
        assert [c["criterion_id"] for c in result] == ["find_docs_called", "find_docs_called_2"]

    def test_slug_rules(self) -> None:
        """
        Slugs are lower-case, ``_``-joined, stripped, cut to 32 characters, never empty.
        """
        long_a = "A" * 40 + "x"
        long_b = "a" * 40 + "y"
        result = scaffold_criteria(
            "find it", ["--Mixed  Case--", "!!!", "???", long_a, long_b, "t"], 10
        )
        assert [c["criterion_id"] for c in result] == [
            "mixed_case_called",
            "criterion_called",
            "criterion_called_2",
            "a" * 32 + "_called",
            "a" * 32 + "_called_2",
            "t_called",
        ]

    @pytest.mark.parametrize(
        "directive", ["Make it succeed", "until COMPLETED", "finish the job", "emit a signal"]
    )
    def test_event_class(self, directive: str) -> None:
        """
        Completion keywords give the ``expected_event`` criterion.
        """
        assert scaffold_criteria(directive) == [
            {
                "criterion_id": "expected_event",
                "kind": "event",
                "required": True,
                "event_name": "job_succeeded",
            }
        ]

    def test_placeholder(self) -> None:
        """
        No keyword gives the always-met placeholder.
        """
        assert scaffold_criteria("Say hello") == [
            {
                "criterion_id": "todo_placeholder",
                "kind": "predicate",
                "required": True,
                "description": "TODO: replace this placeholder with real success criteria.",
                "expression": "True",
            }
        ]

    def test_max_criteria_floor(self) -> None:
        """
        A cap below 1 is treated as 1.
        """
        assert len(scaffold_criteria("find", ["a", "b"], 0)) == 1
        assert len(scaffold_criteria("find", ["a", "b"], -5)) == 1

    @pytest.mark.parametrize(
        ("kwargs", "details"),
        [
            ({"allowlist": "a"}, {"field": "tool_allowlist", "reason": "not_a_list"}),
            ({"allowlist": ("a",)}, {"field": "tool_allowlist", "reason": "not_a_list"}),
            ({"allowlist": ["a", 1]}, {"field": "tool_allowlist", "reason": "not_a_list"}),
            ({"max_criteria": 2.0}, {"field": "max_criteria", "reason": "must_be_positive_int"}),
            ({"max_criteria": True}, {"field": "max_criteria", "reason": "must_be_positive_int"}),
        ],
    )
    def test_invalid_arguments(self, kwargs: dict[str, Any], details: dict[str, Any]) -> None:
        """
        Invalid allowlists and caps raise with the documented details.
        """
        with pytest.raises(MissionValidationError) as info:
            scaffold_criteria("find", **kwargs)
        assert info.value.details == details

    def test_invalid_directive(self) -> None:
        """
        The directive is validated like ``Mission.start`` does.
        """
        with pytest.raises(MissionValidationError) as info:
            scaffold_criteria("   ")
        assert info.value.details == {"field": "directive", "reason": "empty"}

    @given(
        directive=st.text(min_size=1, max_size=200).filter(lambda s: s.strip() != ""),
        allowlist=st.none() | st.lists(st.text(max_size=50), max_size=8),
        max_criteria=st.integers(min_value=-3, max_value=10),
    )
    def test_output_always_validates(
        self, directive: str, allowlist: list[str] | None, max_criteria: int
    ) -> None:
        """
        Whatever the text, the scaffold passes ``validate_criteria`` with unique ids.
        """
        criteria = scaffold_criteria(directive, allowlist, max_criteria)
        validated = validate_criteria(criteria)
        assert len(validated) == len(criteria) <= max(1, max_criteria)

    @given(
        words=st.lists(
            st.sampled_from(["loss", "find", "emit", "accuracy", "hello", "world", "x"]),
            min_size=1,
            max_size=6,
        ),
        allowlist=st.lists(st.sampled_from(["a", "A", "a!", "b"]), max_size=6),
    )
    def test_keyword_directives_validate(self, words: list[str], allowlist: list[str]) -> None:
        """
        Directives built from keywords always validate, including colliding tool slugs.
        """
        validate_criteria(scaffold_criteria(" ".join(words), allowlist, 10))


class TestScaffoldSampled:
    def test_success_with_fence_and_prose(self) -> None:
        """
        A fenced JSON array answer is accepted on the first attempt.
        """
        sampler = QueueSampler("```json\n" + json.dumps([EVENT]) + "\n```")
        assert scaffold_criteria_sampled("Finish the job", sampler) == [EVENT]
        assert len(sampler.prompts) == 1
        prompt = sampler.prompts[0]
        assert "Finish the job" in prompt
        assert "none specified" in prompt
        assert "at most 5 criteria" in prompt
        assert "only a JSON array" in prompt
        assert "Feedback" not in prompt

    def test_prompt_contents(self) -> None:
        """
        The prompt lists the tools, the cap, the observation shape and the predicate vocabulary.
        """
        sampler = QueueSampler(json.dumps([EVENT]))
        scaffold_criteria_sampled("x", sampler, allowlist=["search", "fetch"], max_criteria=2)
        prompt = sampler.prompts[0]
        for needle in (
            "- search\n- fetch",
            "at most 2 criteria",
            "tool_results",
            "_status",
            "metric_history",
            "event_name",
            "metrics.",
            "tool_call_succeeded",
            "Prefer this kind",
            "sorted",
            "startswith",
            "obs.metrics.val_loss < 0.1",
            "len(obs['tool_results']) > 0",
        ):
            assert needle in prompt, needle

    def test_prose_around_array(self) -> None:
        """
        The array is taken from the first ``[`` to the last ``]``.
        """
        sampler = QueueSampler("Sure! " + json.dumps([EVENT]) + " Hope that helps.")
        assert scaffold_criteria_sampled("x", sampler) == [EVENT]

    def test_cap_normalisation_and_underscore_keys(self) -> None:
        """
        Entries are cut to the cap, bare metrics get ``metrics.``, ``_`` keys are removed.
        """
        answer = [
            {
                "criterion_id": "loss",
                "kind": "metric_threshold",
                "required": True,
                "metric": "val_loss",
                "op": "<",
                "target": 0.2,
                "_note": "drop me",
            },
            EVENT,
            {"criterion_id": "third", "kind": "bogus"},
        ]
        result = scaffold_criteria_sampled("x", QueueSampler(json.dumps(answer)), max_criteria=2)
        assert result == [
            {
                "criterion_id": "loss",
                "kind": "metric_threshold",
                "required": True,
                "metric": "metrics.val_loss",
                "op": "<",
                "target": 0.2,
            },
            EVENT,
        ]

    @pytest.mark.parametrize(
        ("expression", "fixed"),
        [
            ("obs.metrics.val_loss < 0.1", "obs['metrics']['val_loss'] < 0.1"),
            ("obs['metrics'].val_loss < 0.1", "obs['metrics']['val_loss'] < 0.1"),
            ("obs.tool_results[0].score > 1", "obs['tool_results'][0]['score'] > 1"),
            ("obs.metrics.get('a', 0) > 1", "obs['metrics'].get('a', 0) > 1"),
            ("len(obs['tool_results']) > 0", "len(obs['tool_results']) > 0"),
        ],
    )
    def test_predicate_autofix(self, expression: str, fixed: str) -> None:
        """
        Attribute chains rooted at ``obs`` are rewritten into subscripts.
        """
        answer = [{"criterion_id": "p", "kind": "predicate", "required": True}]
        answer[0]["expression"] = expression
        result = scaffold_criteria_sampled("x", QueueSampler(json.dumps(answer)))
        assert result[0]["expression"] == fixed

    def test_autofix_kept_only_if_valid(self) -> None:
        """
        A rewrite that still fails is discarded and the attempt is rejected.
        """
        answer = [
            {
                "criterion_id": "p",
                "kind": "predicate",
                "required": True,
                "expression": "range(obs.n)",
            }
        ]
        sampler = QueueSampler(json.dumps(answer))
        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", sampler, retries=0)
        assert info.value.last_reason == "call_target_not_allowed"

    def test_retry_with_feedback(self) -> None:
        """
        A rejected attempt is followed by one whose prompt quotes the reason and details.
        """
        duplicate = [EVENT, EVENT]
        sampler = QueueSampler("not json", json.dumps(duplicate), json.dumps([EVENT]))
        assert scaffold_criteria_sampled("x", sampler) == [EVENT]
        assert len(sampler.prompts) == 3
        assert "Feedback" not in sampler.prompts[0]
        assert "'json_parse'" in sampler.prompts[1]
        assert "'duplicate_criterion_id'" in sampler.prompts[2]
        assert '"criterion_id": "done"' in sampler.prompts[2]
        assert sampler.prompts[2].startswith(sampler.prompts[0])

    @pytest.mark.parametrize(
        "answer", ["{}", "[1, 2]", '[{"a": 1}, 3]', "[not json]", "nothing", "]["]
    )
    def test_json_parse_reasons(self, answer: str) -> None:
        """
        Answers that are not a JSON array of objects end with ``json_parse``.
        """
        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", QueueSampler(answer), retries=0)
        assert info.value.last_reason == "json_parse"
        assert info.value.to_dict() == {
            "code": "scaffold_sampling_failed",
            "details": {"last_reason": "json_parse"},
        }

    def test_exhausted_retries(self) -> None:
        """
        After ``retries + 1`` rejected attempts the last reason is raised.
        """
        sampler = QueueSampler("nope", "[]", json.dumps([{"criterion_id": "a", "kind": "x"}]))
        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", sampler, retries=2)
        assert info.value.last_reason == "kind_invalid"
        assert len(sampler.prompts) == 3

    def test_transport_error_is_immediate(self) -> None:
        """
        A raising sampler fails at once with ``transport_error``, without retrying.
        """
        sampler = QueueSampler(ConnectionError("down"), json.dumps([EVENT]))
        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", sampler)
        assert info.value.last_reason == "transport_error"
        assert isinstance(info.value.__cause__, Exception)
        assert len(sampler.prompts) == 1

    def test_non_str_is_transport_error(self) -> None:
        """
        A non-str answer is a transport error.
        """
        with pytest.raises(ScaffoldSamplingError) as info:
            scaffold_criteria_sampled("x", QueueSampler(b"[]"))
        assert info.value.last_reason == "transport_error"

    @pytest.mark.parametrize("retries", [-1, 1.0, True, None])
    def test_invalid_retries(self, retries: Any) -> None:
        """
        ``retries`` must be an int of at least 0.
        """
        with pytest.raises(MissionValidationError) as info:
            scaffold_criteria_sampled("x", QueueSampler(), retries=retries)
        assert info.value.details == {"field": "retries", "reason": "must_be_non_negative_int"}

    def test_async_variant_and_async_sampler(self) -> None:
        """
        The async entry point awaits async samplers.
        """

        async def sampler(prompt: str) -> str:
            return json.dumps([EVENT])

        assert asyncio.run(ascaffold_criteria_sampled("x", sampler)) == [EVENT]

    def test_sync_inside_running_loop(self) -> None:
        """
        The sync entry point works while an event loop runs in the calling thread.
        """

        async def main() -> list[dict[str, Any]]:
            return scaffold_criteria_sampled("x", QueueSampler(json.dumps([EVENT])))

        assert asyncio.run(main()) == [EVENT]

    def test_sync_inside_running_loop_propagates_errors(self) -> None:
        """
        Errors raised on the helper thread reach the caller.
        """

        async def main() -> None:
            scaffold_criteria_sampled("x", QueueSampler(RuntimeError("x")))

        with pytest.raises(ScaffoldSamplingError):
            asyncio.run(main())
