"""
Propose: sampler, then custom proposer, then the default proposer (SPEC §6.3).
"""

from __future__ import annotations

from datetime import datetime

from missionkit._engine._env import IterationEnv, remaining_iterations
from missionkit._engine._report import criteria_status
from missionkit._engine._sampling import revise_strategy
from missionkit.proposers import ProposalContext
from missionkit.proposers._context import IterationsView
from missionkit.proposers._default import propose_default

__all__ = ["build_context", "propose"]


def build_context(env: IterationEnv, candidates: tuple[str, ...], now: datetime) -> ProposalContext:
    """
    The `ProposalContext` for the iteration being proposed.
    """
    state = env.state
    iterations = env.cache.iterations
    index = env.draft.iteration_index
    latest = iterations[-1] if iterations else None
    last_verdict = latest.verdict_obj if latest is not None else None
    remaining = remaining_iterations(state, index)
    tools = env.core.tools
    return ProposalContext(
        session_id=state.session_id,
        iteration_index=index,
        directive=state.directive_text,
        criteria=state.criteria,
        criteria_status=criteria_status(state, iterations),
        iterations=IterationsView(iterations),
        last_verdict=last_verdict,
        adjust_requested=last_verdict is not None and last_verdict.label == "adjust",
        revision_rationale=latest.revision_rationale if latest is not None else None,
        tool_allowlist=state.tool_allowlist,
        candidate_tools=candidates,
        tool_descriptions={n: tools[n].description for n in state.tool_allowlist if n in tools},
        allow_scripts=state.allow_scripted_strategies,
        remaining_iterations=remaining,
        remaining_seconds=env.remaining_seconds(now),
        is_last_iteration=remaining == 1,
        no_progress_counter=state.no_progress_counter,
        stagnation_threshold=state.stagnation_threshold,
    )


def _sampling_due(env: IterationEnv) -> bool:
    state = env.state
    if not state.use_sampling:
        return False
    if state.sampling_mode == "every_iteration":
        return True
    iterations = env.cache.iterations
    return bool(iterations) and iterations[-1].verdict == "adjust"


async def propose(env: IterationEnv, candidates: tuple[str, ...], now: datetime) -> None:
    """
    Choose the strategy and record it (and any sampling outcome) on the draft.
    """
    draft = env.draft
    state = env.state
    if state.use_sampling and _sampling_due(env):
        strategy = await revise_strategy(env, now)
        if strategy is not None:
            draft.strategy = strategy
            draft.strategy_source = "sampler"
            return
    proposer = env.core.proposer
    if proposer is not None:
        from missionkit.validation import validate_strategy

        ctx = build_context(env, candidates, now)
        value = await env.rt.call(lambda: proposer(ctx), {}, None, "proposer call")
        if value is not None:
            draft.strategy = validate_strategy(
                value, list(state.tool_allowlist), state.allow_scripted_strategies
            )
            draft.strategy_source = "proposer"
            return
    # The default rules (no custom proposer, or it declined) read the cache's
    # summary of the history, not the history itself. *candidates* is never
    # empty here: the callers refuse to propose without a tool.
    iterations = env.cache.iterations
    draft.strategy = propose_default(
        env.cache.history,
        iterations[-1] if iterations else None,
        candidates,
        draft.iteration_index,
        bool(iterations) and iterations[-1].verdict == "adjust",
    )
    draft.strategy_source = "default"
