"""
Rendering command results and errors: strict JSON or plain-text tables.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from missionkit._jsonsafe import to_json
from missionkit.models import FinalReport, Iteration, SessionSummary

__all__ = [
    "Column",
    "error_text",
    "failure_line",
    "progress_line",
    "render_kv",
    "render_report",
    "render_table",
    "write_json",
]

Column = tuple[str, Callable[[Mapping[str, Any]], Any]]
"""A table column: its header and how to read a cell from a row."""

_CELL_WIDTH = 60


def write_json(value: Any, stream: TextIO | None = None) -> None:
    """
    Write *value* as strict JSON (indent 2) and a newline.
    """
    print(to_json(value, indent=2), file=stream or sys.stdout)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        text = value
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, int):
        text = str(value)
    else:
        text = to_json(value)
    text = " ".join(text.split())
    if len(text) > _CELL_WIDTH:
        text = text[: _CELL_WIDTH - 3] + "..."
    return text


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """
    Align *rows* under *columns*; an empty listing renders as ``(none)``.
    """
    if not rows:
        return "(none)"
    grid = [[header.upper() for header, _ in columns]]
    grid.extend([_cell(read(row)) for _, read in columns] for row in rows)
    widths = [max(len(line[i]) for line in grid) for i in range(len(columns))]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in grid
    )


def render_kv(pairs: Mapping[str, Any]) -> str:
    """
    One ``key  value`` line per entry, keys aligned.
    """
    width = max((len(key) for key in pairs), default=0)
    return "\n".join(f"{key.ljust(width)}  {_cell(value)}".rstrip() for key, value in pairs.items())


def column(key: str, header: str | None = None) -> Column:
    """
    A column reading *key* from each row.
    """
    return (header or key, lambda row: row.get(key))


def render_report(report: FinalReport) -> str:
    """
    A readable summary of a final report: outcome, final criteria, lessons, follow-ups.
    """
    verdict = (
        f"{report.final_verdict}/{report.final_verdict_reason}"
        if report.final_verdict is not None
        else "failed"
    )
    lines = [
        render_kv(
            {
                "session": report.session_id,
                "status": report.status,
                "verdict": verdict,
                "iterations": report.iterations_run,
                "active": f"{report.active_seconds:.1f}s",
                "directive": report.directive_text,
            }
        )
    ]
    if report.failure is not None:
        failure = report.failure
        lines.append(
            f"failure     iteration {failure.get('iteration_index')} in "
            f"{failure.get('phase')}: {failure.get('error_message')}"
        )
    results = {r.criterion_id: r for r in report.final_criteria_evaluation or ()}
    rows = [
        {
            "criterion": c.criterion_id,
            "kind": c.kind,
            "required": c.required,
            "status": results[c.criterion_id].status if c.criterion_id in results else None,
            "evidence": results[c.criterion_id].evidence if c.criterion_id in results else None,
        }
        for c in report.criteria
    ]
    lines += ["", "criteria at the final evaluation:"]
    lines.append(
        render_table(
            rows,
            [
                column("criterion"),
                column("kind"),
                column("required"),
                column("status"),
                column("evidence"),
            ],
        )
    )
    lines += ["", f"lessons: {report.lessons}", "", "follow-ups:"]
    lines.extend(f"  - {item}" for item in report.recommended_followups)
    return "\n".join(lines)


def render_summary(summary: SessionSummary) -> str:
    """
    A session summary as aligned ``key  value`` lines.
    """
    return render_kv(summary.to_dict())


def progress_line(
    session_id: str,
    iteration: Iteration,
    criteria_count: int,
    threshold: int,
    active_seconds: float,
) -> str:
    """
    The per-iteration progress line of SPEC §14.3 for a committed iteration.
    """
    if iteration.checkpoint_evaluated:
        met = str(sum(1 for r in iteration.criteria_evaluation if r.status == "met"))
    else:
        met = "-"
    return (
        f"[{session_id}] iteration {iteration.iteration_index}: "
        f"{iteration.verdict}/{iteration.verdict_reason} | criteria met {met}/{criteria_count} | "
        f"no-progress {iteration.no_progress_counter}/{threshold} | active {active_seconds:.1f}s"
    )


def failure_line(session_id: str, index: Any, phase: Any, message: Any) -> str:
    """
    The progress line of SPEC §14.3 for a failed iteration.
    """
    return f"[{session_id}] iteration {index}: failed in {phase}: {message}"


def error_text(envelope: Mapping[str, Any], output: str) -> str:
    """
    An error envelope as the CLI prints it: strict JSON, or ``error: <code> <details>``.
    """
    if output == "json":
        return to_json(dict(envelope), indent=2)
    return f"error: {envelope['code']} {to_json(envelope.get('details', {}))}"
