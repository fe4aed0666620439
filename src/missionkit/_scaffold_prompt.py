"""
The prompt text for sampled criteria scaffolding (SPEC §13.2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["feedback_section", "scaffold_prompt"]

_TASK = (
    "You write success criteria for an automated mission loop. Each iteration of the loop runs "
    "tools, builds an observation from their results and checks your criteria against it; the "
    "mission completes when every required criterion is met. Propose criteria that a program can "
    "check and that together show the directive below has been achieved."
)

_OBSERVATION = """\
Criteria are checked against an observation `obs`, a JSON object with these keys:
- tool_results: a list with one object per tool call so far (every iteration, oldest first). \
Each object has "_status" ("ok", "failed" or "skipped_not_allowed") and "tool_name"; a tool \
that returned an object keeps its own keys next to those two, any other return value is under \
"result".
- metrics: an object merging the "metrics" objects returned by this iteration's tools. \
Criteria name a metric by a dot-path rooted at the observation, so it starts with "metrics.", \
e.g. "metrics.val_loss"; a numeric segment indexes a list, e.g. "tool_results.0.score".
- events: a list of objects, each with an "event_name", from this iteration's tool results.
- errors: a list of {"tool_name", "status", "error_message"} objects, one per call that did \
not succeed.
- metric_history: an object mapping each numeric metric name to its values, one per \
iteration, oldest first."""

_KINDS = """\
Every criterion is a JSON object with "criterion_id" (unique, 1 to 128 characters), "kind", \
"required" (true or false) and optionally "description" (a string), plus the fields of its kind:
- tool_call_succeeded: "tool_name" (an allowlisted tool); optional "min_count" (an integer \
>= 1, default 1). Met once that tool has succeeded at least min_count times. Prefer this kind \
whenever the directive is achieved by a tool running successfully.
- metric_threshold: "metric" (a dot-path such as "metrics.val_loss"), "op" (one of "<", "<=", \
">", ">=", "==", "!="), "target" (a number); optional "min_delta" (a number >= 0), \
"min_delta_mode" ("abs" or "rel") and "on_non_finite" ("inconclusive", "unmet" or "terminate").
- metric_trend: "metric", "direction" ("decreasing", "increasing", "non_increasing" or \
"non_decreasing"); optional "window" and "min_points" (positive integers) and "on_non_finite".
- event: "event_name" (a non-empty string). Met when a tool emitted an event with that name.
- predicate: "expression", a Python expression over `obs` in the restricted language below. \
Met when it evaluates to a true value."""

_ACCEPTED = (
    "len(obs['tool_results']) > 0",
    "obs['metrics'].get('val_loss', 1.0) < 0.1",
    "any(r.get('_status') == 'ok' for r in obs['tool_results'])",
    "obs['metric_history']['loss'][-1] < 0.1",
)
_REJECTED = (
    ("obs.metrics.val_loss < 0.1", "attribute access; write obs['metrics']['val_loss']"),
    ("import os", "statements are not expressions"),
    ("range(3)", "name not allowed"),
    ("isinstance(obs, dict)", "function not allowed"),
    ("{k: 1 for k in obs['metrics']}", "dict and set comprehensions are not allowed"),
)

_EXAMPLE = [
    {
        "criterion_id": "search_called",
        "kind": "tool_call_succeeded",
        "required": True,
        "tool_name": "search",
    },
    {
        "criterion_id": "loss_target",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.val_loss",
        "op": "<=",
        "target": 0.1,
    },
]


def _predicate_language() -> str:
    from missionkit.predicate import ALLOWED_CALLABLES, ALLOWED_METHODS

    accepted = "\n".join(f"  {example}" for example in _ACCEPTED)
    rejected = "\n".join(f"  {example}    ({why})" for example, why in _REJECTED)
    return (
        "The only name is `obs`. Read keys with subscripts, e.g. obs['metrics']['val_loss']; "
        "attribute access such as obs.metrics is rejected.\n"
        f"Functions you may call: {', '.join(sorted(ALLOWED_CALLABLES))}.\n"
        f"Methods you may call on objects and strings: {', '.join(sorted(ALLOWED_METHODS))}.\n"
        "Literals, arithmetic, comparisons, and/or/not, conditional expressions, subscripts, "
        "slices, f-strings, list comprehensions and generator expressions are allowed. "
        "Lambdas, assignments, imports, set and dict comprehensions, and any name or string "
        "starting with __ are rejected.\n"
        f"Accepted examples:\n{accepted}\n"
        f"Rejected examples:\n{rejected}"
    )


def scaffold_prompt(directive: str, allowlist: Sequence[str] | None, max_criteria: int) -> str:
    """
    The prompt asking a sampler for at most *max_criteria* criteria for *directive*.
    """
    tools = "\n".join(f"- {name}" for name in allowlist) if allowlist else "none specified"
    example = json.dumps(_EXAMPLE, ensure_ascii=False)
    sections = [
        _TASK,
        "=== Directive ===\n" + directive,
        "=== Tool allowlist ===\n" + tools,
        f"=== Limit ===\nReturn at most {max_criteria} criteria.",
        "=== Observation shape ===\n" + _OBSERVATION,
        "=== Criterion kinds ===\n" + _KINDS,
        "=== Predicate language ===\n" + _predicate_language(),
        "=== Output ===\nAnswer with only a JSON array of criterion objects: no prose before "
        "or after it. The shape looks like this (names are illustrative):\n" + example,
    ]
    return "\n\n".join(sections)


def feedback_section(reason: str, details: Mapping[str, Any]) -> str:
    """
    The section appended after a rejected attempt, quoting its reason and details.
    """
    rendered = json.dumps(details, ensure_ascii=False, sort_keys=True, default=repr)
    return (
        "=== Feedback on your previous answer ===\n"
        f"Your previous answer was rejected with reason {reason!r}.\n"
        f"Details: {rendered}\n"
        "Correct the problem and answer again with only the JSON array."
    )
