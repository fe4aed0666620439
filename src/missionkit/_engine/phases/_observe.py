"""
Observe: build the observation from the call records (SPEC §6.5, §6.11, §9.6).
"""

from __future__ import annotations

from datetime import datetime

from missionkit._engine._env import IterationEnv
from missionkit._engine._observation import ObservationBuilder
from missionkit._jsonsafe import cap

__all__ = ["observe"]


def observe(env: IterationEnv, started: datetime) -> None:
    """
    Build and store the draft's `Observation`.
    """
    draft = env.draft
    limit = env.core.limits.tool_result_bytes
    builder = ObservationBuilder(limit, started)
    records = draft.script_call_log if draft.script_call_log is not None else draft.tool_calls
    for record, value in zip(records, env.values, strict=True):
        builder.add_call(record, value)
    if draft.script_call_log is not None:
        builder.add_events(env.script_events)
        if env.script_observations:
            rows = {key: cap(value, limit) for key, value in env.script_observations}
            builder.metrics["observations"] = rows
        if draft.script_error is not None:
            builder.add_error("<script>", "failed", draft.script_error)
    if env.host_metrics is not None:
        builder.merge(env.host_metrics, None)
    if env.host_events:
        builder.add_events(env.host_events)
    draft.observation = builder.build(env.core.clock())
