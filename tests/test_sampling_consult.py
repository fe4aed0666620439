"""
Tests for the consultation procedure, output parsing and catalog validation (SPEC §8.4-§8.7).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from missionkit.errors import MissionValidationError
from missionkit.models import Strategy, ToolCall
from missionkit.sampling import SamplingPrompt
from missionkit.sampling._consult import (
    SamplingResult,
    consult,
    consult_final_lessons,
    consult_strategy_revision,
)
from missionkit.sampling._parse import (
    FinalLessons,
    OutputRejected,
    StrategyRevision,
    catalog_validate,
    extract_json_object,
)
from missionkit.sampling._prompt import Purpose, build_prompt

TRAIN_SCHEMA = {
    "type": "object",
    "properties": {"lr": {"type": "number", "exclusiveMinimum": 0}, "epochs": {"type": "integer"}},
    "required": ["lr"],
    "additionalProperties": False,
}
ALLOWLIST = ["train", "search", "ghost"]
KNOWN_TOOLS: dict[str, dict[str, Any] | None] = {"train": TRAIN_SCHEMA, "search": None, "rm": None}


class FakeSampler:
    """
    A sync sampler answering from a queue; exceptions in the queue are raised.
    """

    backend_name = "fake"
    model_id = "fake-1"

    def __init__(self, *responses: Any, timeout: float | None = None) -> None:
        self.responses = list(responses)
        self.prompts: list[str] = []
        if timeout is not None:
            self.timeout = timeout

    def __call__(self, prompt: str, /) -> Any:
        self.prompts.append(prompt)
        response = self.responses.pop(0)
        if isinstance(response, BaseException):
            raise response
        return response


class AsyncFakeSampler(FakeSampler):
    """
    The same queue, answered from a coroutine.
    """

    async def __call__(self, prompt: str, /) -> Any:  # type: ignore[override]
        return super().__call__(prompt)


class BlockingSampler:
    """
    A sync sampler that blocks until released (or 10 s pass).
    """

    def __init__(self, timeout: float | None = None) -> None:
        self.release = threading.Event()
        self.calls = 0
        if timeout is not None:
            self.timeout = timeout

    def __call__(self, prompt: str, /) -> str:
        self.calls += 1
        self.release.wait(10)
        return "{}"


def _answer(strategy: Any = None, **overrides: Any) -> str:
    body: dict[str, Any] = {
        "revision_rationale": "try a smaller learning rate",
        "next_strategy": strategy
        if strategy is not None
        else {"tool_calls": [{"tool_name": "train", "args": {"lr": 0.01}}], "rationale": "r"},
        "confidence": 0.7,
    }
    body.update(overrides)
    return "Here you go:\n" + json.dumps(body) + "\nGood luck."


def _prompt(purpose: Purpose = "strategy_revision", **overrides: Any) -> SamplingPrompt:
    kwargs: dict[str, Any] = {
        "directive": "Reduce the loss",
        "criteria": [],
        "criteria_status": {},
        "tools": [("train", "Train.", TRAIN_SCHEMA), ("search", "Search.", None)],
        "remaining_iterations": None,
        "remaining_wall_clock_seconds": None,
        "is_last_iteration": False,
        "allow_scripts": False,
        "iterations": [],
    }
    kwargs.update(overrides)
    return build_prompt(purpose, **kwargs)


def _revise(
    sampler: Any,
    *,
    allow_scripts: bool = False,
    remaining: float | None = None,
    prompt: SamplingPrompt | None = None,
) -> SamplingResult[StrategyRevision]:
    return asyncio.run(
        consult_strategy_revision(
            sampler,
            prompt or _prompt(allow_scripts=allow_scripts),
            remaining_seconds=remaining,
            allowlist=ALLOWLIST,
            allow_scripts=allow_scripts,
            known_tools=KNOWN_TOOLS,
        )
    )


def _outcome(result: SamplingResult[Any]) -> tuple[Any, ...]:
    return (
        result.status,
        result.reason,
        result.validation_error,
        result.output_bytes,
        result.backend,
        result.model_id,
    )


@pytest.fixture(name="blocking")
def _blocking() -> Iterator[BlockingSampler]:
    sampler = BlockingSampler(timeout=0.05)
    yield sampler
    sampler.release.set()


class TestUsed:
    def test_used(self) -> None:
        """
        A valid answer is used, with its size, rationale and validated strategy.
        """
        text = _answer()
        sampler = FakeSampler(text)
        result = _revise(sampler)
        assert _outcome(result) == ("used", None, None, len(text.encode()), "fake", "fake-1")
        assert result.output == text
        assert result.parsed == StrategyRevision(
            Strategy(tool_calls=(ToolCall("train", {"lr": 0.01}),), rationale="r"),
            "try a smaller learning rate",
            0.7,
        )
        assert result.used
        assert sampler.prompts[0].startswith("You advise an automated mission loop.")

    def test_output_bytes_counts_utf8(self) -> None:
        """
        ``output_bytes`` is the UTF-8 size of the raw output, not its length.
        """
        text = _answer() + " ünïcödé €"
        result = _revise(FakeSampler(text))
        assert result.output_bytes == len(text.encode())
        assert result.output_bytes != len(text)

    def test_default_backend_and_plain_function(self) -> None:
        """
        A plain function sampler reports backend ``host`` and no model id.
        """

        def sampler(prompt: str) -> str:
            return _answer()

        result = _revise(sampler)
        assert (result.status, result.backend, result.model_id) == ("used", "host", None)

    def test_async_sampler(self) -> None:
        """
        A sampler whose ``__call__`` is a coroutine function is awaited.
        """
        result = _revise(AsyncFakeSampler(_answer()))
        assert _outcome(result)[:2] == ("used", None)

    def test_sync_sampler_returning_awaitable(self) -> None:
        """
        A sync callable returning a coroutine has its result awaited.
        """

        async def answer() -> str:
            return _answer()

        result = _revise(lambda prompt: answer())
        assert result.status == "used"

    def test_str_subclass_is_accepted(self) -> None:
        """
        A ``str`` subclass counts as text and is stored as a plain ``str``.
        """

        class Text(str):
            pass

        result = _revise(FakeSampler(Text(_answer())))
        assert result.status == "used"
        assert type(result.output) is str

    def test_script_when_allowed(self) -> None:
        """
        A script strategy is used when the session allows scripts.
        """
        strategy = {"script": "r = await train(lr=0.1)"}
        result = _revise(FakeSampler(_answer(strategy)), allow_scripts=True)
        assert result.status == "used", result.reason
        assert result.parsed is not None
        assert result.parsed.strategy.script == "r = await train(lr=0.1)"

    def test_final_lessons_used(self) -> None:
        """
        A final-lessons answer is parsed into lessons and follow-ups.
        """
        text = json.dumps({"lessons": ["a", "b"], "recommended_followups": []})
        result = asyncio.run(
            consult_final_lessons(FakeSampler(text), _prompt("final_lessons"), remaining_seconds=5)
        )
        assert result.purpose == "final_lessons"
        assert result.status == "used"
        assert result.parsed == FinalLessons(("a", "b"), ())


class TestNotCalled:
    def test_no_sampler(self) -> None:
        """
        Without a sampler the consultation is disabled with backend ``none``.
        """
        result = _revise(None)
        assert _outcome(result) == (
            "disabled",
            "no_backend_resolved",
            "no_backend_resolved",
            None,
            "none",
            None,
        )
        assert result.output is None

    def test_prompt_too_large(self) -> None:
        """
        A prompt over budget after degradation makes the result unavailable without a call.
        """
        sampler = FakeSampler(_answer())
        prompt = _prompt(directive="€" * 8192 + "x" * 10000)
        result = _revise(sampler, prompt=prompt)
        assert _outcome(result) == (
            "unavailable",
            "prompt_too_large",
            "prompt_too_large",
            None,
            "fake",
            "fake-1",
        )
        assert sampler.prompts == []


class TestTransport:
    def test_exception(self) -> None:
        """
        A raising sampler gives ``transport_error`` with the exception text.
        """
        result = _revise(FakeSampler(RuntimeError("backend down")))
        assert _outcome(result) == (
            "rejected",
            "transport_error",
            "RuntimeError: backend down",
            None,
            "fake",
            "fake-1",
        )
        assert result.output is None

    def test_exception_text_is_cut(self) -> None:
        """
        The exception text is cut to its first 200 characters.
        """
        result = _revise(FakeSampler(ValueError("x" * 500)))
        assert result.validation_error == ("ValueError: " + "x" * 500)[:200]

    def test_unprintable_exception(self) -> None:
        """
        An exception whose ``str`` raises is recorded as ``<unprintable>``.
        """

        class Weird(Exception):
            def __str__(self) -> str:
                raise RuntimeError

        result = _revise(FakeSampler(Weird()))
        assert result.validation_error == "Weird: <unprintable>"

    def test_bytes_return(self) -> None:
        """
        A non-str return is a transport error naming its type.
        """
        result = _revise(FakeSampler(b"{}"))
        assert _outcome(result)[:3] == (
            "rejected",
            "transport_error",
            "TypeError: sampler returned bytes",
        )

    def test_none_return_async(self) -> None:
        """
        An async sampler returning None is a transport error too.
        """
        result = _revise(AsyncFakeSampler(None))
        assert result.validation_error == "TypeError: sampler returned NoneType"

    def test_sync_timeout_abandons_thread(self, blocking: BlockingSampler) -> None:
        """
        A hung sync sampler times out at its ``timeout`` and is abandoned, not awaited.
        """
        started = time.monotonic()
        result = _revise(blocking)
        elapsed = time.monotonic() - started
        assert _outcome(result)[:3] == (
            "rejected",
            "transport_error",
            "TimeoutError: sampler call exceeded 0.05s",
        )
        assert blocking.calls == 1
        assert elapsed < 5  # far below the sampler's 10 s block

    def test_remaining_seconds_bound(self, blocking: BlockingSampler) -> None:
        """
        The remaining wall-clock time bounds the call when it is shorter.
        """
        result = _revise(blocking, remaining=0.01)
        assert result.validation_error == "TimeoutError: sampler call exceeded 0.01s"

    def test_async_timeout_cancels(self) -> None:
        """
        A slow async sampler is cancelled at the remaining-time bound.
        """
        cancelled = []

        async def slow(prompt: str) -> str:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
            return "{}"

        result = _revise(slow, remaining=0.02)
        assert result.validation_error == "TimeoutError: sampler call exceeded 0.02s"
        assert cancelled == [True]

    def test_sampler_raising_timeout_error_itself(self) -> None:
        """
        A ``TimeoutError`` raised by the sampler keeps its own text.
        """
        result = _revise(FakeSampler(TimeoutError("upstream timed out")), remaining=30)
        assert result.validation_error == "TimeoutError: upstream timed out"

    def test_invalid_timeout_attribute_is_ignored(self) -> None:
        """
        A non-positive or non-numeric ``timeout`` attribute means no sampler bound.
        """
        for bad in (0, -1, True, "5", float("nan")):
            sampler = FakeSampler(_answer())
            sampler.timeout = bad  # type: ignore[attr-defined]
            assert _revise(sampler).status == "used", bad


class TestParseFailures:
    @pytest.mark.parametrize(
        "text",
        [
            "no json at all",
            "} backwards {",
            "{not json}",
            "[1, 2, 3]",
            '{"a": 1} and {"b": 2}',
            "{" * 100_000 + "}" * 100_000,
            '{"n": ' + "9" * 5000 + "}",
        ],
    )
    def test_json_parse(self, text: str) -> None:
        """
        Output without a parsable JSON object between the outer braces is ``json_parse``.
        """
        result = _revise(FakeSampler(text))
        assert _outcome(result) == (
            "rejected",
            "json_parse",
            "json_parse",
            None,
            "fake",
            "fake-1",
        )
        assert result.output == text

    @pytest.mark.parametrize(
        "overrides",
        [
            {"revision_rationale": ""},
            {"revision_rationale": 3},
            {"next_strategy": [{"tool_name": "train"}]},
            {"confidence": True},
            {"confidence": 1.5},
            {"confidence": -0.1},
            {"confidence": "0.5"},
            {"confidence": None},
        ],
    )
    def test_schema_mismatch(self, overrides: dict[str, Any]) -> None:
        """
        A wrongly shaped answer is ``schema_mismatch``.
        """
        result = _revise(FakeSampler(_answer(**overrides)))
        assert _outcome(result)[:3] == ("rejected", "schema_mismatch", "schema_mismatch")

    def test_missing_and_nan_confidence(self) -> None:
        """
        A missing or NaN confidence is ``schema_mismatch``; extra keys are tolerated.
        """
        body = {"revision_rationale": "r", "next_strategy": {"tool_calls": []}}
        assert _revise(FakeSampler(json.dumps(body))).reason == "schema_mismatch"
        nan = _answer().replace('"confidence": 0.7', '"confidence": NaN')
        assert _revise(FakeSampler(nan)).reason == "schema_mismatch"
        extra = _answer(extra_key={"anything": 1})
        assert _revise(FakeSampler(extra)).status == "used"

    def test_final_lessons_schema_mismatch(self) -> None:
        """
        Final lessons need non-empty lesson strings and a list of follow-up strings.
        """
        for body in (
            {"lessons": [], "recommended_followups": []},
            {"lessons": [""], "recommended_followups": []},
            {"lessons": ["a"], "recommended_followups": "b"},
            {"lessons": ["a"], "recommended_followups": [1]},
            {"lessons": ["a"]},
        ):
            result = asyncio.run(
                consult_final_lessons(
                    FakeSampler(json.dumps(body)), _prompt("final_lessons"), remaining_seconds=None
                )
            )
            assert result.reason == "schema_mismatch", body

    def test_ten_megabyte_output(self) -> None:
        """
        A 10 MB answer is parsed in linear time and used, its full size reported.
        """
        text = "x" * 5_000_000 + _answer() + "y" * 5_000_000
        started = time.monotonic()
        result = _revise(FakeSampler(text))
        assert result.status == "used"
        assert result.output_bytes == len(text)
        assert time.monotonic() - started < 10

    def test_ten_megabyte_of_braces(self) -> None:
        """
        10 MB of unbalanced braces is rejected as ``json_parse`` without blowing up.
        """
        result = _revise(FakeSampler("{" * 10_000_000 + "}"))
        assert result.reason == "json_parse"


class TestCatalogRejections:
    def test_injected_tool_name(self) -> None:
        """
        A tool outside the allowlist is ``tool_not_allowlisted``.
        """
        strategy = {"tool_calls": [{"tool_name": "rm", "args": {"path": "/"}}]}
        result = _revise(FakeSampler(_answer(strategy)))
        assert _outcome(result)[:3] == ("rejected", "tool_not_allowlisted", "tool_not_allowlisted")

    def test_unregistered_tool(self) -> None:
        """
        An allowlisted tool unknown to the Mission is ``tool_not_registered``.
        """
        strategy = {"tool_calls": [{"tool_name": "ghost"}]}
        result = _revise(FakeSampler(_answer(strategy)))
        assert result.reason == "tool_not_registered"

    def test_script_when_scripts_off(self) -> None:
        """
        Script text is rejected when the session does not allow scripts.
        """
        result = _revise(FakeSampler(_answer({"script": "call_tool('train')"})))
        assert _outcome(result)[:3] == (
            "rejected",
            "scripts_not_allowed_by_session",
            "scripts_not_allowed_by_session",
        )

    def test_both_tool_calls_and_script(self) -> None:
        """
        A strategy with both or neither of tool_calls and script is rejected by validation.
        """
        both = {"tool_calls": [{"tool_name": "train"}], "script": "x"}
        assert (
            _revise(FakeSampler(_answer(both))).reason
            == "must_have_exactly_one_of_tool_calls_or_script"
        )
        assert (
            _revise(FakeSampler(_answer({"rationale": "r"}))).reason
            == "must_have_exactly_one_of_tool_calls_or_script"
        )

    def test_args_violating_schema(self) -> None:
        """
        Arguments failing the tool's input schema are ``tool_args_invalid``.
        """
        strategy = {"tool_calls": [{"tool_name": "train", "args": {"lr": 0, "epochs": 1.5}}]}
        result = _revise(FakeSampler(_answer(strategy)))
        assert _outcome(result)[:3] == ("rejected", "tool_args_invalid", "tool_args_invalid")


class TestCatalogValidate:
    def _reject(self, candidate: Any, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("allowlist", ALLOWLIST)
        kwargs.setdefault("allow_scripts", False)
        kwargs.setdefault("known_tools", KNOWN_TOOLS)
        with pytest.raises(MissionValidationError) as info:
            catalog_validate(candidate, **kwargs)
        return info.value.details

    def test_not_allowlisted_details(self) -> None:
        """
        ``tool_not_allowlisted`` names the call and lists the sorted allowlist.
        """
        details = self._reject(
            {"tool_calls": [{"tool_name": "train", "args": {"lr": 1}}, {"tool_name": "rm"}]}
        )
        assert details == {
            "field": "strategy",
            "subfield": "tool_calls",
            "index": 1,
            "tool_name": "rm",
            "reason": "tool_not_allowlisted",
            "allowed": ["ghost", "search", "train"],
        }

    def test_not_registered_details(self) -> None:
        """
        ``tool_not_registered`` names the call.
        """
        details = self._reject({"tool_calls": [{"tool_name": "ghost"}]})
        assert details == {
            "field": "strategy",
            "subfield": "tool_calls",
            "index": 0,
            "tool_name": "ghost",
            "reason": "tool_not_registered",
        }

    def test_args_invalid_details(self) -> None:
        """
        ``tool_args_invalid`` carries the schema errors with their paths.
        """
        details = self._reject(
            {"tool_calls": [{"tool_name": "train", "args": {"lr": 0, "epochs": True, "x": 1}}]}
        )
        assert details["reason"] == "tool_args_invalid"
        assert details["index"] == 0
        assert details["tool_name"] == "train"
        assert [(e["path"], e["keyword"]) for e in details["errors"]] == [
            ("$.epochs", "type"),
            ("$.lr", "exclusiveMinimum"),
            ("$.x", "additionalProperties"),
        ]

    def test_validate_strategy_runs_first(self) -> None:
        """
        Structural validation fails before any catalog check.
        """
        details = self._reject({"tool_calls": [{"tool_name": "rm", "args": []}]})
        assert details["reason"] == "args_not_a_dict"

    def test_tools_without_schema_accept_any_args(self) -> None:
        """
        A known tool without an input schema accepts any arguments.
        """
        strategy = catalog_validate(
            {"tool_calls": [{"tool_name": "search", "args": {"q": [1, {"x": None}]}}]},
            allowlist=ALLOWLIST,
            allow_scripts=False,
            known_tools=KNOWN_TOOLS,
        )
        assert strategy.tool_calls == (ToolCall("search", {"q": [1, {"x": None}]}),)


class TestGenericConsult:
    def test_validate_may_raise_validation_errors(self) -> None:
        """
        A custom validator's MissionValidationError reason becomes the rejection reason.
        """

        def validate(output: dict[str, Any]) -> int:
            raise MissionValidationError(details={"field": "x", "reason": "custom_reason"})

        result = asyncio.run(
            consult(FakeSampler("{}"), _prompt(), remaining_seconds=None, validate=validate)
        )
        assert _outcome(result)[:3] == ("rejected", "custom_reason", "custom_reason")

    def test_extract_json_object(self) -> None:
        """
        The object is taken from the first ``{`` to the last ``}``.
        """
        assert extract_json_object('```json\n{"a": {"b": 1}}\n```') == {"a": {"b": 1}}
        with pytest.raises(OutputRejected) as info:
            extract_json_object("[]")
        assert info.value.reason == "json_parse"
