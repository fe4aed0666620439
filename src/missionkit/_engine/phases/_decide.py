"""
Decide: run the verdict cascade and write the adjust rationale (SPEC §6.7–6.8).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from missionkit._engine._cascade import adjust_clause, decide, revision_rationale
from missionkit._engine._env import IterationEnv
from missionkit.models import Iteration, SessionState

__all__ = ["decide_phase", "settle_verdict"]


def decide_phase(env: IterationEnv, started: datetime) -> None:
    """
    Set the draft's verdict (and rationale for ``adjust``).
    """
    settle_verdict(env.state, env.cache.iterations, env.draft, env.core.clock())


def settle_verdict(
    state: SessionState, stored: Sequence[Iteration], draft: Any, now: datetime
) -> None:
    """
    Write the cascade's verdict (and an ``adjust`` rationale) onto *draft*.
    """
    verdict = decide(state, draft, now, stored=stored)
    draft.verdict = verdict.label
    draft.verdict_reason = verdict.reason
    if verdict.label == "adjust":
        clause = adjust_clause(state, stored, draft) or "strategy_review_requested"
        draft.revision_rationale = revision_rationale(state, draft, clause)
