"""
Decide: run the verdict cascade and write the adjust rationale (SPEC §6.7–6.8).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from missionkit._engine._cascade import adjust_clause, decide, revision_rationale
from missionkit._engine._env import IterationEnv

__all__ = ["decide_phase"]


def decide_phase(env: IterationEnv, started: datetime) -> None:
    """
    Set the draft's verdict (and rationale for ``adjust``).
    """
    now = env.core.clock()
    draft: Any = env.draft
    stored = env.cache.iterations
    verdict = decide(env.state, draft, now, stored=stored)
    draft.verdict = verdict.label
    draft.verdict_reason = verdict.reason
    if verdict.label == "adjust":
        clause = adjust_clause(env.state, stored, draft) or "strategy_review_requested"
        draft.revision_rationale = revision_rationale(env.state, draft, clause)
