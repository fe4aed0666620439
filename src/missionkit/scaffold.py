"""
Criteria scaffolding: starting criteria for a directive (SPEC §13).

`scaffold_criteria` is deterministic and offline; `scaffold_criteria_sampled`
and `ascaffold_criteria_sampled` ask a host `~missionkit.sampling.Sampler`
and validate its answer, retrying with feedback.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from missionkit._scaffold_prompt import feedback_section, scaffold_prompt
from missionkit.errors import MissionValidationError, PredicateRejected, ScaffoldSamplingError

__all__ = ["ascaffold_criteria_sampled", "scaffold_criteria", "scaffold_criteria_sampled"]

T = TypeVar("T")

_LOWER_IS_BETTER = ("loss", "error", "latency", "cost")
_HIGHER_IS_BETTER = ("accuracy", "throughput", "f1", "recall", "precision")
_SEARCH = ("find", "search", "discover", "locate", "lookup")
_EVENT = ("succeed", "succeeded", "complete", "completed", "finish", "finished", "emit")
_PLACEHOLDER_DESCRIPTION = "TODO: replace this placeholder with real success criteria."


def _keyword_pattern(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:32]
    return slug or "criterion"


def _unique(candidate: str, seen: set[str]) -> str:
    result, n = candidate, 2
    while result in seen:
        result, n = f"{candidate}_{n}", n + 1
    seen.add(result)
    return result


def _check_inputs(directive: Any, allowlist: Any, max_criteria: Any) -> tuple[str, list[str], int]:
    from missionkit.validation import validate_directive

    text: str = validate_directive(directive)
    if allowlist is not None and (
        not isinstance(allowlist, list) or not all(isinstance(t, str) for t in allowlist)
    ):
        raise MissionValidationError(details={"field": "tool_allowlist", "reason": "not_a_list"})
    if not isinstance(max_criteria, int) or isinstance(max_criteria, bool):
        raise MissionValidationError(
            details={"field": "max_criteria", "reason": "must_be_positive_int"}
        )
    return text, list(allowlist or ()), max(1, max_criteria)


def scaffold_criteria(
    directive: str, allowlist: list[str] | None = None, max_criteria: int = 5
) -> list[dict[str, Any]]:
    """
    Derive starting criteria from keywords in *directive* (deterministic, no sampling).

    Keyword classes are tried in order (whole words, any case); the first class
    with a match decides:

    1. ``loss``/``error``/``latency``/``cost`` → a ``metric_threshold`` ``<= 0.1``.
    2. ``accuracy``/``throughput``/``f1``/``recall``/``precision`` → ``>= 0.9``.
    3. ``find``/``search``/``discover``/``locate``/``lookup`` → one
       ``tool_call_succeeded`` per allowlisted tool (at most *max_criteria*),
       or a ``results_present`` predicate without tools.
    4. ``succeed``/``complete``/``finish``/``emit`` (and past tenses) → an
       ``event`` criterion on ``job_succeeded``.
    5. Otherwise the always-met placeholder predicate ``todo_placeholder``.

    Args:
        directive: The mission directive (validated like `Mission.start` does).
        allowlist: Tool names, or None. Empty names are not tools and are skipped.
        max_criteria: Cap on the number of criteria; values below 1 mean 1.

    Returns:
        Criterion dicts that `~missionkit.validation.validate_criteria` accepts.

    Raises:
        MissionValidationError: Invalid *directive*; *allowlist* not a list of
            str (``tool_allowlist``/``not_a_list``); *max_criteria* not an int
            (``max_criteria``/``must_be_positive_int``).

    .. doctest::

        >>> scaffold_criteria("Push the validation loss under 0.1")[0]["metric"]
        'metrics.val_loss'

    .. versionadded:: 0.1.0
    """
    text, tools, limit = _check_inputs(directive, allowlist, max_criteria)
    base: dict[str, Any] = {"required": True}
    for words, op, target, special in (
        (_LOWER_IS_BETTER, "<=", 0.1, ("loss", "metrics.val_loss")),
        (_HIGHER_IS_BETTER, ">=", 0.9, ("accuracy", "metrics.val_accuracy")),
    ):
        match = _keyword_pattern(words).search(text)
        if match:
            keyword = match.group(0).lower()
            metric = special[1] if keyword == special[0] else f"metrics.{keyword}"
            return [
                {
                    "criterion_id": f"{_slug(keyword)}_target",
                    "kind": "metric_threshold",
                    **base,
                    "metric": metric,
                    "op": op,
                    "target": target,
                }
            ]
    if _keyword_pattern(_SEARCH).search(text):
        named = [tool for tool in tools if tool]
        if named:
            seen: set[str] = set()
            return [
                {
                    "criterion_id": _unique(f"{_slug(tool)}_called", seen),
                    "kind": "tool_call_succeeded",
                    **base,
                    "tool_name": tool,
                }
                for tool in named[:limit]
            ]
        return [
            {
                "criterion_id": "results_present",
                "kind": "predicate",
                **base,
                "expression": "len(obs['tool_results']) > 0",
            }
        ]
    if _keyword_pattern(_EVENT).search(text):
        return [
            {
                "criterion_id": "expected_event",
                "kind": "event",
                **base,
                "event_name": "job_succeeded",
            }
        ]
    return [
        {
            "criterion_id": "todo_placeholder",
            "kind": "predicate",
            **base,
            "description": _PLACEHOLDER_DESCRIPTION,
            "expression": "True",
        }
    ]


# --------------------------------------------------------------------------- sampled


class _AttemptFailed(Exception):
    def __init__(self, reason: str, details: dict[str, Any]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


def _parse_answer(text: str) -> list[dict[str, Any]]:
    body = text.strip()
    if body.startswith("```"):
        newline = body.find("\n")
        body = "" if newline < 0 else body[newline + 1 :]
        body = body.rstrip()
        if body.endswith("```"):
            body = body[:-3]
    start, end = body.find("["), body.rfind("]")
    problem = "the answer must contain a JSON array of criterion objects"
    if start < 0 or end < start:
        raise _AttemptFailed("json_parse", {"reason": "json_parse", "problem": problem})
    try:
        value = json.loads(body[start : end + 1])
    except (ValueError, RecursionError):
        raise _AttemptFailed(
            "json_parse", {"reason": "json_parse", "problem": "the array is not valid JSON"}
        ) from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _AttemptFailed("json_parse", {"reason": "json_parse", "problem": problem})
    return value


class _ObsAttributesToSubscripts(ast.NodeTransformer):
    """
    Rewrite attribute reads on chains rooted at ``obs`` into string subscripts.

    Method calls (``obs['m'].get('x')``) keep their attribute callee.
    """

    def __init__(self, methods: frozenset[str]) -> None:
        self.methods = methods

    @staticmethod
    def _rooted_at_obs(node: ast.expr) -> bool:
        while isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        return isinstance(node, ast.Name) and node.id == "obs"

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in self.methods:
            func.value = self.visit(func.value)
            node.args = [self.visit(arg) for arg in node.args]
            node.keywords = [self.visit(kw) for kw in node.keywords]
            return node
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        value = self.visit(node.value)
        if self._rooted_at_obs(node.value):
            return ast.Subscript(value=value, slice=ast.Constant(node.attr), ctx=ast.Load())
        node.value = value
        return node


def _autofix_expression(expression: str) -> str:
    from missionkit.predicate import ALLOWED_METHODS, parse_predicate

    try:
        parse_predicate(expression)
        return expression
    except PredicateRejected:
        pass
    try:
        tree = ast.parse(expression, mode="eval")
        fixed = ast.unparse(
            ast.fix_missing_locations(_ObsAttributesToSubscripts(ALLOWED_METHODS).visit(tree))
        )
        parse_predicate(fixed)
    except (SyntaxError, ValueError, RecursionError, MemoryError, PredicateRejected):
        return expression
    return fixed


def _normalise(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    metric = out.get("metric")
    if (
        out.get("kind") == "metric_threshold"
        and isinstance(metric, str)
        and metric
        and "." not in metric
    ):
        out["metric"] = "metrics." + metric
    expression = out.get("expression")
    if out.get("kind") == "predicate" and isinstance(expression, str):
        out["expression"] = _autofix_expression(expression)
    return out


def _check_answer(text: str, max_criteria: int) -> list[dict[str, Any]]:
    from missionkit.validation import validate_criteria

    entries = [_normalise(entry) for entry in _parse_answer(text)[:max_criteria]]
    try:
        validate_criteria(entries)
    except MissionValidationError as exc:
        reason = exc.details.get("reason")
        raise _AttemptFailed(
            reason if isinstance(reason, str) else "validation_error", dict(exc.details)
        ) from exc
    return [{k: v for k, v in entry.items() if not k.startswith("_")} for entry in entries]


async def ascaffold_criteria_sampled(
    directive: str,
    sampler: Callable[[str], Any],
    *,
    allowlist: list[str] | None = None,
    max_criteria: int = 5,
    retries: int = 3,
) -> list[dict[str, Any]]:
    """
    Ask *sampler* for criteria for *directive*, validating and retrying with feedback.

    Up to ``retries + 1`` attempts. Each answer is parsed (an optional code
    fence is dropped, then the text from the first ``[`` to the last ``]``
    must be a JSON array of objects), cut to *max_criteria* entries,
    normalised (a ``metric_threshold`` metric without ``.`` gets the
    ``metrics.`` prefix; predicate attribute chains on ``obs`` are rewritten
    into subscripts when that makes them valid) and checked with
    `~missionkit.validation.validate_criteria`. A rejected attempt's reason
    and details are quoted to the sampler in the next prompt.

    Args:
        directive: The mission directive.
        sampler: A `~missionkit.sampling.Sampler`; its ``timeout`` attribute,
            if set, bounds each call.
        allowlist: Tool names shown to the sampler, or None.
        max_criteria: Cap on the number of criteria; values below 1 mean 1.
        retries: Extra attempts after the first (int ≥ 0).

    Returns:
        The accepted criterion dicts, without keys starting with ``_``.

    Raises:
        MissionValidationError: Invalid arguments (``retries`` not an int ≥ 0:
            ``retries``/``must_be_non_negative_int``).
        ScaffoldSamplingError: The sampler raised, timed out or returned a
            non-str (``transport_error``, at once), or every attempt was
            rejected (the last attempt's reason).

    .. versionadded:: 0.1.0
    """
    from missionkit.sampling._consult import SamplerTransportError, call_sampler, sampler_timeout

    text, tools, limit = _check_inputs(directive, allowlist, max_criteria)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise MissionValidationError(
            details={"field": "retries", "reason": "must_be_non_negative_int"}
        )
    base_prompt = scaffold_prompt(text, tools, limit)
    failure: _AttemptFailed | None = None
    for _attempt in range(retries + 1):
        prompt = base_prompt
        if failure is not None:
            prompt += "\n\n" + feedback_section(failure.reason, failure.details)
        try:
            answer = await call_sampler(sampler, prompt, sampler_timeout(sampler))
        except SamplerTransportError as exc:
            raise ScaffoldSamplingError("transport_error") from exc
        try:
            return _check_answer(answer, limit)
        except _AttemptFailed as exc:
            failure = exc
    assert failure is not None
    raise ScaffoldSamplingError(failure.reason)


def _run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """
    Run a coroutine to completion from sync code, even inside a running event loop.

    With a loop running in this thread, the coroutine runs on a fresh loop in a
    helper thread while this thread waits.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(factory())
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="missionkit-scaffold")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def scaffold_criteria_sampled(
    directive: str,
    sampler: Callable[[str], Any],
    *,
    allowlist: list[str] | None = None,
    max_criteria: int = 5,
    retries: int = 3,
) -> list[dict[str, Any]]:
    """
    Synchronous `ascaffold_criteria_sampled`; also works inside a running event loop.

    .. versionadded:: 0.1.0
    """
    return _run_sync(
        lambda: ascaffold_criteria_sampled(
            directive, sampler, allowlist=allowlist, max_criteria=max_criteria, retries=retries
        )
    )
