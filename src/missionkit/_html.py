"""
Self-contained HTML for notebooks (SPEC §15.1).

Everything here is a pure function of its arguments: no clock reads, no ids
derived from object identity, no scripts, no external resources and no
``<style>`` blocks -- styling is carried by ``style`` attributes only. Every
string that can come from a host, a tool or a sampler goes through
`html.escape`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from missionkit._engine._report import last_evaluation
from missionkit.models import (
    Criterion,
    CriterionResult,
    FinalReport,
    Iteration,
    SessionState,
    ToolCallRecord,
)

__all__ = ["iteration_html", "report_html", "session_html"]

_DIRECTIVE_CHARS = 240
_EVIDENCE_CHARS = 80
_ELLIPSIS = "…"

_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
    "line-height:1.4;border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;"
    "max-width:960px"
)
_TITLE = "margin:0 0 6px 0;font-size:14px;font-weight:600"
_TABLE = "border-collapse:collapse;margin:6px 0;font-size:12px"
_TH = "text-align:left;border-bottom:1px solid #d0d7de;padding:2px 8px;font-weight:600"
_TD = "border-bottom:1px solid #eaeef2;padding:2px 8px;vertical-align:top"
_KEY = "padding:1px 12px 1px 0;color:#57606a;vertical-align:top;white-space:nowrap"
_VAL = "padding:1px 0;vertical-align:top"
_SECTION = "margin:8px 0 2px 0;font-weight:600"

_COLOURS = {
    # statuses
    "pending": "#6e7781",
    "running": "#0969da",
    "paused": "#9a6700",
    "completed": "#1a7f37",
    "terminated": "#bc4c00",
    "failed": "#cf222e",
    # criterion statuses
    "met": "#1a7f37",
    "unmet": "#cf222e",
    "inconclusive": "#9a6700",
    # verdict labels
    "continue": "#0969da",
    "adjust": "#8250df",
    "complete": "#1a7f37",
    "terminate": "#bc4c00",
    # call / iteration statuses
    "ok": "#1a7f37",
    "succeeded": "#1a7f37",
    "skipped_not_allowed": "#6e7781",
}


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _cut(text: str, limit: int) -> str:
    """
    At most *limit* characters of *text*, the last one an ellipsis when it was cut.
    """
    if len(text) <= limit:
        return text
    return text[: limit - 1] + _ELLIPSIS


def _head(text: str, limit: int) -> str:
    """
    The first *limit* characters of *text*, followed by an ellipsis when there is more.
    """
    return text if len(text) <= limit else text[:limit] + _ELLIPSIS


def _badge(token: str | None) -> str:
    if token is None:
        return '<span style="color:#6e7781">—</span>'
    colour = _COLOURS.get(token, "#57606a")
    return (
        f'<span style="display:inline-block;padding:0 6px;border-radius:10px;'
        f'border:1px solid {colour};color:{colour};font-size:11px">{_esc(token)}</span>'
    )


def _verdict(label: str | None, reason: str | None) -> str:
    if label is None:
        return _badge(None)
    return f"{_badge(label)} <code>{_esc(reason)}</code>"


def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.1f}"


def _cap(value: int) -> str:
    return "uncapped" if value == -1 else str(value)


def _evidence_preview(evidence: Any) -> str:
    """
    Compact JSON of *evidence*, at most 80 characters (before escaping).
    """
    from missionkit._jsonsafe import compact_json, to_json_data

    try:
        text = compact_json(to_json_data(evidence))
    except Exception:  # pragma: no cover - to_json_data output always serialises
        text = "<unprintable>"
    return _cut(text, _EVIDENCE_CHARS)


def _duration(started: datetime, ended: datetime) -> str:
    return f"{(ended - started).total_seconds():.3f} s"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str) -> str:
    body = "".join(
        "<tr>" + "".join(f'<td style="{_TD}">{cell}</td>' for cell in row) + "</tr>" for row in rows
    )
    if not body:
        return f'<div style="color:#6e7781">{_esc(empty)}</div>'
    head = "".join(f'<th style="{_TH}">{_esc(h)}</th>' for h in headers)
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _facts(pairs: Iterable[tuple[str, str]]) -> str:
    rows = "".join(
        f'<tr><td style="{_KEY}">{_esc(key)}</td><td style="{_VAL}">{value}</td></tr>'
        for key, value in pairs
    )
    return f'<table style="border-collapse:collapse">{rows}</table>'


def _criteria_rows(
    criteria: Sequence[Criterion], results: Sequence[CriterionResult] | None
) -> list[list[str]]:
    by_id = {r.criterion_id: r for r in results or ()}
    rows = []
    for criterion in criteria:
        result = by_id.get(criterion.criterion_id)
        rows.append(
            [
                f"<code>{_esc(criterion.criterion_id)}</code>",
                _esc(criterion.kind),
                "yes" if criterion.required else "no",
                _badge(result.status if result is not None else None),
                (
                    f"<code>{_esc(_evidence_preview(result.evidence))}</code>"
                    if result is not None
                    else ""
                ),
            ]
        )
    return rows


_CRITERIA_HEADERS = ("id", "kind", "required", "latest status", "evidence")


def session_html(header: SessionState, iterations: list[Iteration], now: datetime) -> str:
    """
    HTML summary of a session as of *now*.

    Shows id, status, directive (first 240 characters), iterations used / cap,
    active seconds / cap, the no-progress counter / threshold, the latest
    verdict and a criteria table with each criterion's latest evaluated status.
    """
    budget = header.budget
    latest = iterations[-1] if iterations else None
    if latest is None:
        verdict = _badge(None)
    elif latest.status == "failed":
        verdict = _badge("failed")
    else:
        verdict = _verdict(latest.verdict, latest.verdict_reason)
    facts = [
        ("status", _badge(header.status)),
        ("directive", _esc(_head(header.directive_text, _DIRECTIVE_CHARS))),
        ("iterations", f"{len(iterations)} / {_cap(budget.max_iterations)}"),
        (
            "active seconds",
            f"{_number(header.active_seconds(now))} / {_cap(budget.max_wall_clock_seconds)}",
        ),
        ("no progress", f"{header.no_progress_counter} / {header.stagnation_threshold}"),
        ("latest verdict", verdict),
    ]
    criteria = _table(
        _CRITERIA_HEADERS,
        _criteria_rows(header.criteria, last_evaluation(iterations)),
        empty="no criteria",
    )
    return (
        f'<div style="{_BOX}">'
        f'<div style="{_TITLE}">missionkit session <code>{_esc(header.session_id)}</code></div>'
        f"{_facts(facts)}"
        f'<div style="{_SECTION}">criteria</div>{criteria}'
        "</div>"
    )


def _iteration_rows(iterations: Sequence[Iteration]) -> list[list[str]]:
    return [
        [
            str(it.iteration_index),
            _badge(it.status),
            _badge(it.verdict),
            f"<code>{_esc(it.verdict_reason)}</code>" if it.verdict_reason is not None else "",
            _duration(it.started_at, it.ended_at),
        ]
        for it in iterations
    ]


def report_html(report: FinalReport) -> str:
    """
    HTML rendering of a final report.

    Shows the verdict and reason (or the failure), lessons, follow-ups, the
    final criteria table and one row per iteration.
    """
    if report.status == "failed":
        failure = report.failure or {}
        outcome = (
            f"{_badge('failed')} in phase <code>{_esc(failure.get('phase'))}</code> of "
            f"iteration {_esc(failure.get('iteration_index'))}: "
            f"{_esc(failure.get('error_message'))}"
        )
    else:
        outcome = _verdict(report.final_verdict, report.final_verdict_reason)
    facts = [
        ("status", _badge(report.status)),
        ("verdict", outcome),
        ("iterations run", str(report.iterations_run)),
        ("active seconds", _number(report.active_seconds)),
        ("directive", _esc(_head(report.directive_text, _DIRECTIVE_CHARS))),
    ]
    followups = "".join(f"<li>{_esc(item)}</li>" for item in report.recommended_followups)
    if report.final_criteria_evaluation is None:
        criteria = '<div style="color:#6e7781">not evaluated</div>'
    else:
        criteria = _table(
            _CRITERIA_HEADERS,
            _criteria_rows(report.criteria, report.final_criteria_evaluation),
            empty="no criteria",
        )
    iterations = _table(
        ("index", "status", "verdict", "reason", "duration"),
        _iteration_rows(report.iterations),
        empty="no iterations",
    )
    return (
        f'<div style="{_BOX}">'
        f'<div style="{_TITLE}">missionkit report <code>{_esc(report.session_id)}</code></div>'
        f"{_facts(facts)}"
        f'<div style="{_SECTION}">lessons <span style="font-weight:400;color:#6e7781">'
        f"({_esc(report.lessons_source)})</span></div>"
        f'<div style="white-space:pre-wrap">{_esc(report.lessons)}</div>'
        f'<div style="{_SECTION}">follow-ups</div>'
        f'<ul style="margin:2px 0;padding-left:20px">{followups}</ul>'
        f'<div style="{_SECTION}">final criteria</div>{criteria}'
        f'<div style="{_SECTION}">iterations</div>{iterations}'
        "</div>"
    )


def _call_rows(records: Sequence[ToolCallRecord]) -> list[list[str]]:
    return [
        [
            f"<code>{_esc(r.tool_name)}</code>",
            _badge(r.status),
            f"{r.duration_ms} ms",
            _esc(r.error_message),
        ]
        for r in records
    ]


def iteration_html(iteration: Iteration) -> str:
    """
    HTML rendering of one iteration: verdict, strategy source, calls and criterion results.
    """
    facts = [
        ("status", _badge(iteration.status)),
        ("verdict", _verdict(iteration.verdict, iteration.verdict_reason)),
        ("duration", _duration(iteration.started_at, iteration.ended_at)),
        ("strategy source", _esc(iteration.strategy_source) or "—"),
        ("checkpoint evaluated", "yes" if iteration.checkpoint_evaluated else "no"),
        ("no progress", str(iteration.no_progress_counter)),
    ]
    if iteration.revision_rationale is not None:
        facts.append(("rationale", _esc(iteration.revision_rationale)))
    if iteration.script_error is not None:
        facts.append(("script error", _esc(iteration.script_error)))
    failed = [p for p in iteration.phases if p.status == "failed"]
    if failed:
        facts.append(
            (
                "failed phase",
                f"<code>{_esc(failed[-1].phase)}</code>: {_esc(failed[-1].error_message)}",
            )
        )
    records = list(iteration.tool_calls) + list(iteration.script_call_log or ())
    calls = _table(("tool", "status", "duration", "error"), _call_rows(records), empty="no calls")
    results = _table(
        ("id", "status", "evidence"),
        (
            [
                f"<code>{_esc(r.criterion_id)}</code>",
                _badge(r.status),
                f"<code>{_esc(_evidence_preview(r.evidence))}</code>",
            ]
            for r in iteration.criteria_evaluation
        ),
        empty="criteria not evaluated",
    )
    return (
        f'<div style="{_BOX}">'
        f'<div style="{_TITLE}">missionkit iteration {iteration.iteration_index}</div>'
        f"{_facts(facts)}"
        f'<div style="{_SECTION}">calls</div>{calls}'
        f'<div style="{_SECTION}">criteria</div>{results}'
        "</div>"
    )
