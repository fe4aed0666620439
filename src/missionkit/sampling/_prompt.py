"""
The sampler prompt: its data (`SamplingPrompt`), its text, and budget fitting (SPEC §8.5).

The text is a pure function of the prompt's data. Every JSON block is rendered
with sorted keys, so the insertion order of any dict never changes a byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from missionkit._jsonsafe import strict_json_data
from missionkit.models import Criterion, CriterionResult, Iteration

__all__ = [
    "FIELD_CAP_BYTES",
    "PROMPT_BUDGET_BYTES",
    "RECENT_ITERATIONS",
    "TRUNCATE_TO_BYTES",
    "TRUNCATION_MARKER",
    "Purpose",
    "SamplingPrompt",
    "ToolInfo",
    "build_prompt",
    "cap_field",
    "fit_prompt",
    "output_schema",
    "summarise_iteration",
]

Purpose: TypeAlias = Literal["strategy_revision", "final_lessons"]
ToolInfo: TypeAlias = tuple[str, str | None, Mapping[str, Any] | None]
"""
``(tool_name, description, input_schema)`` of one allowlisted tool; a tool
unknown to the Mission has description None (rendered as ``""``).
"""

FIELD_CAP_BYTES = 4096
TRUNCATE_TO_BYTES = 2048
TRUNCATION_MARKER = "... [truncated]"
PROMPT_BUDGET_BYTES = 32768
RECENT_ITERATIONS = 5

_PREAMBLES: dict[str, str] = {
    "strategy_revision": (
        "You advise an automated mission loop. Propose the next strategy as one JSON object. "
        "The loop validates your answer, may discard it, and computes verdicts, budgets and "
        "criterion results itself."
    ),
    "final_lessons": (
        "You summarise a finished mission loop. Write lessons and follow-up suggestions as one "
        "JSON object. Your answer does not change the recorded outcome."
    ),
}
_ITERATION_HEADERS: dict[str, str] = {
    "strategy_revision": "=== Recent iterations (oldest first) ===",
    "final_lessons": "=== Iteration verdict summary (oldest first) ===",
}
_SCHEMA_LINE = "Answer with a single JSON object that matches this schema and nothing else."
_UNEVALUATED: dict[str, Any] = {"status": "inconclusive", "evidence": None, "evaluated_at": None}


# --------------------------------------------------------------------------- JSON text


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _block(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=2, separators=(",", ": "))


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _list_item_texts(items: Iterable[Any]) -> list[str]:
    """
    Each item rendered exactly as `_block` renders it inside a top-level list.
    """
    return [_block([item])[2:-2] for item in items]


def _join_list(item_texts: Sequence[str]) -> str:
    if not item_texts:
        return "[]"
    return "[\n" + ",\n".join(item_texts) + "\n]"


def _utf8_prefix(data: bytes, limit: int) -> str:
    """
    The first *limit* bytes of UTF-8 *data*, minus an incomplete trailing code point.
    """
    cut = data[:limit]
    start = len(cut) - 1
    while start >= 0 and len(cut) - start <= 4 and cut[start] & 0xC0 == 0x80:
        start -= 1
    if start >= 0:
        lead = cut[start]
        need = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        if start + need > len(cut):
            cut = cut[:start]
    return cut.decode("utf-8", "surrogatepass")


def cap_field(value: Any) -> tuple[Any, int | None]:
    """
    Apply the prompt's per-field cap to JSON data *value* (strict, non-finite as strings).

    Returns:
        ``(value, None)`` when its compact JSON is at most `FIELD_CAP_BYTES`
        bytes; otherwise ``(text, original_size)`` where *text* is the first
        `TRUNCATE_TO_BYTES` bytes of that JSON (an incomplete trailing code
        point dropped) followed by `TRUNCATION_MARKER`.
    """
    data = _compact(value).encode("utf-8", "surrogatepass")
    if len(data) <= FIELD_CAP_BYTES:
        return value, None
    return _utf8_prefix(data, TRUNCATE_TO_BYTES) + TRUNCATION_MARKER, len(data)


# --------------------------------------------------------------------------- schemas


def output_schema(purpose: Purpose, allow_scripts: bool) -> dict[str, Any]:
    """
    The JSON Schema embedded in the prompt for *purpose*.

    The ``script`` property is offered only when *allow_scripts* is true.
    """
    if purpose == "final_lessons":
        return {
            "type": "object",
            "required": ["lessons", "recommended_followups"],
            "properties": {
                "lessons": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "minLength": 1},
                },
                "recommended_followups": {"type": "array", "items": {"type": "string"}},
            },
        }
    strategy_properties: dict[str, Any] = {
        "tool_calls": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool_name"],
                "properties": {"tool_name": {"type": "string"}, "args": {"type": "object"}},
            },
        },
        "rationale": {"type": "string"},
        "expected_observation_keys": {"type": "array", "items": {"type": "string"}},
    }
    if allow_scripts:
        strategy_properties["script"] = {"type": "string"}
    return {
        "type": "object",
        "required": ["revision_rationale", "next_strategy", "confidence"],
        "properties": {
            "revision_rationale": {"type": "string", "minLength": 1},
            "next_strategy": {"type": "object", "properties": strategy_properties},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
    }


# --------------------------------------------------------------------------- the prompt


def _tuple_of_dicts(values: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(dict(v) for v in values)


def _status_map(values: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    return {k: (None if v is None else dict(v)) for k, v in values.items()}


@attrs.frozen(kw_only=True)
class SamplingPrompt:
    """
    Everything a sampler is shown, as JSON data (SPEC §8.5).

    Build one from engine records with `build_prompt`; `assemble` renders the
    text and `fit` applies the 32 KiB budget.

    Attributes:
        purpose: ``strategy_revision`` or ``final_lessons``.
        directive: The session's directive.
        criteria: Criterion JSON dicts, in declaration order.
        criteria_status: Criterion id → `CriterionResult` JSON (or None if
            never evaluated); ids missing here render as never evaluated.
        tools: ``{"tool_name", "docstring"}`` dicts plus ``"input_schema"``
            when the tool has one, in allowlist order.
        remaining_iterations: Iterations left including the current one;
            None if uncapped.
        remaining_wall_clock_seconds: Active seconds left; None if uncapped.
        is_last_iteration: Whether this is the last iteration of the budget.
        allow_scripts: Whether scripted strategies are allowed (also decides
            whether the output schema offers ``script``).
        iterations: Iteration summaries, oldest first, already field-capped
            (see `summarise_iteration`).

    .. versionadded:: 0.1.0
    """

    purpose: Purpose
    directive: str
    criteria: tuple[dict[str, Any], ...] = attrs.field(converter=_tuple_of_dicts)
    criteria_status: dict[str, Any] = attrs.field(converter=_status_map)
    tools: tuple[dict[str, Any], ...] = attrs.field(converter=_tuple_of_dicts)
    remaining_iterations: int | None
    remaining_wall_clock_seconds: float | None
    is_last_iteration: bool
    allow_scripts: bool
    iterations: tuple[dict[str, Any], ...] = attrs.field(converter=_tuple_of_dicts)

    def _criteria_with_status(self) -> list[dict[str, Any]]:
        out = []
        for criterion in self.criteria:
            entry = dict(criterion)
            result = self.criteria_status.get(str(criterion.get("criterion_id")))
            if isinstance(result, Mapping):
                entry["status"] = {
                    "status": result.get("status"),
                    "evidence": result.get("evidence"),
                    "evaluated_at": result.get("evaluated_at"),
                }
            else:
                entry["status"] = dict(_UNEVALUATED)
            out.append(entry)
        return out

    def _sections(self, iterations_body: str) -> list[str]:
        budget = {
            "remaining_iterations": self.remaining_iterations,
            "remaining_wall_clock_seconds": self.remaining_wall_clock_seconds,
            "is_last_iteration": self.is_last_iteration,
            "allow_scripted_strategies": self.allow_scripts,
        }
        schema = output_schema(self.purpose, self.allow_scripts)
        return [
            _PREAMBLES[self.purpose],
            "=== Mission directive ===\n" + self.directive,
            "=== Success criteria with current status ===\n"
            + _block(strict_json_data(self._criteria_with_status())),
            "=== Tool allowlist ===\n" + _block(strict_json_data(list(self.tools))),
            "=== Budget context ===\n" + _block(strict_json_data(budget)),
            _ITERATION_HEADERS[self.purpose] + "\n" + iterations_body,
            "=== Output schema ===\n" + _SCHEMA_LINE + "\n" + _block(schema),
        ]

    def _iteration_texts(self) -> list[str]:
        return _list_item_texts(strict_json_data(list(self.iterations)))

    def assemble(self) -> str:
        """
        Render the prompt text, ignoring the budget.

        Returns:
            Sections joined by blank lines; byte-for-byte deterministic for
            equal prompts.
        """
        return "\n\n".join(self._sections(_join_list(self._iteration_texts())))

    def without_tool_details(self) -> SamplingPrompt:
        """
        A copy whose tools have ``docstring`` ``""`` and no ``input_schema``.
        """
        tools = [{"tool_name": t.get("tool_name"), "docstring": ""} for t in self.tools]
        return attrs.evolve(self, tools=tools)

    def fit(self, budget: int = PROMPT_BUDGET_BYTES) -> SamplingPrompt | None:
        """
        Degrade the prompt until its text fits *budget* UTF-8 bytes.

        Drops the oldest iterations one by one while over budget; with none
        left, blanks every tool docstring and drops ``input_schema``\\s.
        Each step's size is computed arithmetically from the rendered
        sections, so fitting costs a few renders however many iterations
        there are.

        Returns:
            The (possibly unchanged) prompt that fits, or None if even the
            fully degraded prompt is too large (``prompt_too_large``).
        """
        texts = self._iteration_texts()
        sizes = [_utf8_size(t) for t in texts]
        head = _utf8_size("\n\n".join(self._sections(""))) if texts else 0
        if texts:
            # List size for items[k:] = "[\n" + ",\n".join(...) + "\n]".
            remaining = sum(sizes) + 2 * (len(sizes) - 1) + 4
            for dropped in range(len(sizes)):
                if head + remaining <= budget:
                    return attrs.evolve(self, iterations=self.iterations[dropped:])
                remaining -= sizes[dropped] + (2 if dropped < len(sizes) - 1 else 0)
        candidate = attrs.evolve(self, iterations=()) if texts else self
        if _utf8_size(candidate.assemble()) <= budget:
            return candidate
        stripped = candidate.without_tool_details()
        if _utf8_size(stripped.assemble()) <= budget:
            return stripped
        return None


def fit_prompt(prompt: SamplingPrompt, budget: int = PROMPT_BUDGET_BYTES) -> str | None:
    """
    The text of *prompt* after budget fitting, or None for ``prompt_too_large``.
    """
    fitted = prompt.fit(budget)
    return None if fitted is None else fitted.assemble()


# --------------------------------------------------------------------------- building


def summarise_iteration(iteration: Iteration, purpose: Purpose) -> dict[str, Any]:
    """
    The prompt summary of one stored iteration (SPEC §8.5).

    ``final_lessons``: ``{iteration_index, verdict, verdict_reason}``.
    ``strategy_revision``: also ``strategy``, ``tool_calls`` (``tool_name``,
    ``status``, ``error_message`` per call) and ``observation_summary`` (the
    observation's top-level fields). The strategy and each observation field
    go through `cap_field`; a cut strategy adds ``strategy_original_bytes``,
    cut observation fields add ``observation_summary["_original_bytes"]``.
    """
    summary: dict[str, Any] = {
        "iteration_index": iteration.iteration_index,
        "verdict": iteration.verdict,
        "verdict_reason": iteration.verdict_reason,
    }
    if purpose == "final_lessons":
        return summary
    strategy = None if iteration.strategy is None else iteration.strategy.to_dict()
    capped, strategy_bytes = cap_field(strict_json_data(strategy))
    summary["strategy"] = capped
    if strategy_bytes is not None:
        summary["strategy_original_bytes"] = strategy_bytes
    summary["tool_calls"] = [
        {"tool_name": r.tool_name, "status": r.status, "error_message": r.error_message}
        for r in iteration.tool_calls
    ]
    observation_summary: dict[str, Any] | None = None
    if iteration.observation is not None:
        observation_summary = {}
        original: dict[str, int] = {}
        fields = strict_json_data(iteration.observation.to_dict())
        for name in sorted(fields):
            observation_summary[name], size = cap_field(fields[name])
            if size is not None:
                original[name] = size
        if original:
            observation_summary["_original_bytes"] = original
    summary["observation_summary"] = observation_summary
    return summary


def _criterion_json(criterion: Criterion | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(criterion, Mapping):
        return dict(criterion)
    return criterion.to_dict()


def build_prompt(
    purpose: Purpose,
    *,
    directive: str,
    criteria: Sequence[Criterion | Mapping[str, Any]],
    criteria_status: Mapping[str, CriterionResult | None],
    tools: Sequence[ToolInfo],
    remaining_iterations: int | None,
    remaining_wall_clock_seconds: float | None,
    is_last_iteration: bool,
    allow_scripts: bool,
    iterations: Sequence[Iteration],
) -> SamplingPrompt:
    """
    Build the prompt for one consultation from engine records.

    Args:
        purpose: ``strategy_revision`` or ``final_lessons``.
        directive: The session's directive text.
        criteria: Declared criteria (models or their JSON), in order.
        criteria_status: Results of the most recent evaluated iteration by
            criterion id (None, or a missing id, if never evaluated).
        tools: `ToolInfo` per allowlisted tool, in allowlist order.
        remaining_iterations: Iterations left including the current one; None if uncapped.
        remaining_wall_clock_seconds: Active seconds left; None if uncapped.
        is_last_iteration: ``remaining_iterations == 1``.
        allow_scripts: The session's ``allow_scripted_strategies``.
        iterations: Every stored iteration, oldest first. ``strategy_revision``
            keeps the last `RECENT_ITERATIONS`, ``final_lessons`` keeps all.

    Returns:
        The prompt, not yet fitted to the budget (see `SamplingPrompt.fit`).
    """
    kept = iterations[-RECENT_ITERATIONS:] if purpose == "strategy_revision" else iterations
    tool_entries: list[dict[str, Any]] = []
    for name, description, schema in tools:
        entry: dict[str, Any] = {"tool_name": name, "docstring": description or ""}
        if schema is not None:
            entry["input_schema"] = dict(schema)
        tool_entries.append(entry)
    return SamplingPrompt(
        purpose=purpose,
        directive=directive,
        criteria=[_criterion_json(c) for c in criteria],
        criteria_status={
            key: (None if value is None else value.to_dict())
            for key, value in criteria_status.items()
        },
        tools=tool_entries,
        remaining_iterations=remaining_iterations,
        remaining_wall_clock_seconds=remaining_wall_clock_seconds,
        is_last_iteration=is_last_iteration,
        allow_scripts=allow_scripts,
        iterations=[summarise_iteration(it, purpose) for it in kept],
    )
