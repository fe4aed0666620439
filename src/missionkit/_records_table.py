"""
Flat per-iteration rows for dataframes (SPEC §15.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from missionkit._jsonsafe import format_timestamp
from missionkit.models import Iteration, SessionState

__all__ = ["history_rows"]


def _numeric(value: Any) -> bool:
    return type(value) in (int, float)


def history_rows(state: SessionState, iterations: Sequence[Iteration]) -> list[dict[str, Any]]:
    """
    One row per stored iteration; every row has every key, in a fixed order.
    """
    metric_keys: set[str] = set()
    for it in iterations:
        if it.observation is not None:
            metric_keys.update(k for k, v in it.observation.metrics.items() if _numeric(v))
    ordered_metrics = sorted(metric_keys)
    rows = []
    for it in iterations:
        records = list(it.tool_calls) + list(it.script_call_log or ())
        row: dict[str, Any] = {
            "session_id": state.session_id,
            "iteration_index": it.iteration_index,
            "status": it.status,
            "verdict": it.verdict,
            "verdict_reason": it.verdict_reason,
            "started_at": format_timestamp(it.started_at),
            "ended_at": format_timestamp(it.ended_at),
            "duration_s": (it.ended_at - it.started_at).total_seconds(),
            "checkpoint_evaluated": it.checkpoint_evaluated,
            "progress": it.progress,
            "no_progress_counter": it.no_progress_counter,
            "n_tool_calls": len(records),
            "n_failed_calls": sum(1 for r in records if r.status != "ok"),
        }
        results = {r.criterion_id: r.status for r in it.criteria_evaluation}
        for criterion in state.criteria:
            row[f"criterion:{criterion.criterion_id}"] = results.get(criterion.criterion_id)
        metrics = it.observation.metrics if it.observation is not None else {}
        for key in ordered_metrics:
            value = metrics.get(key)
            row[f"metric:{key}"] = value if _numeric(value) else None
        rows.append(row)
    return rows
