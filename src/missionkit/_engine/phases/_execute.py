"""
Execute: run the strategy's tool calls in order, or its script (SPEC §6.4, §9.5).
"""

from __future__ import annotations

from datetime import datetime

from missionkit._engine._dispatch import dispatch
from missionkit._engine._env import IterationEnv
from missionkit._engine._script_bridge import execute_script

__all__ = ["execute"]


async def execute(env: IterationEnv, now: datetime) -> None:
    """
    Run the draft's strategy; records go to the draft, results to ``env.values``.
    """
    strategy = env.draft.strategy
    if strategy.script is not None:
        await execute_script(env, strategy.script)
        return
    allowlist = env.state.tool_allowlist
    records = []
    values = env.values
    clock = env.core.clock
    capped = env.state.budget.max_wall_clock_seconds != -1
    for call in strategy.tool_calls:
        remaining = env.remaining_seconds(clock()) if capped else None
        record, value = await dispatch(
            env.core, env.rt, call.tool_name, call.args, allowlist, remaining
        )
        records.append(record)
        values.append(value)
    env.draft.tool_calls = tuple(records)
