"""
The built-in demo mission (SPEC §14.4): a one-dimensional search for the minimum of a parabola.
"""

from __future__ import annotations

from typing import Any

from missionkit.models import Iteration
from missionkit.proposers import ProposalContext

__all__ = ["DEMO_SPEC", "demo_proposer", "evaluate"]

_TARGET = 3.7

DEMO_SPEC: dict[str, Any] = {
    "directive": "Find x that brings the demo loss (x - 3.7)**2 down to 0.01 or below",
    "criteria": [
        {
            "criterion_id": "loss_target",
            "kind": "metric_threshold",
            "required": True,
            "metric": "metrics.loss",
            "op": "<=",
            "target": 0.01,
        },
        {
            "criterion_id": "evaluated",
            "kind": "tool_call_succeeded",
            "required": True,
            "tool_name": "evaluate",
            "min_count": 3,
        },
        {
            "criterion_id": "ever_close",
            "kind": "predicate",
            "required": False,
            "expression": (
                "min(r['metrics']['loss'] for r in obs['tool_results'] "
                "if r['_status'] == 'ok') < 1.0"
            ),
        },
    ],
    "budget": {"max_iterations": 25, "max_wall_clock_seconds": 60},
    "tool_allowlist": ["evaluate"],
    "stagnation_threshold": 5,
    "metadata": {"source": "missionkit demo"},
}


def evaluate(x: float) -> dict[str, Any]:
    """
    Score a guess: the loss is the squared distance from 3.7.
    """
    return {"metrics": {"loss": (x - _TARGET) ** 2, "x": x}}


def _observed(iteration: Iteration) -> tuple[float, float] | None:
    """
    The ``(x, loss)`` pair an iteration measured, or None.
    """
    if iteration.observation is None:
        return None
    metrics = iteration.observation.metrics
    x, loss = metrics.get("x"), metrics.get("loss")
    if isinstance(x, int | float) and isinstance(loss, int | float):
        return float(x), float(loss)
    return None


def next_guess(history: list[tuple[float, float]]) -> float:
    """
    Replay the search over the measured ``(x, loss)`` pairs and return the next ``x``.

    Start at 0 with step 1 going up.  After each result: a new best keeps the
    direction and moves on from it; anything else reverses the direction,
    halves the step and moves from the best ``x``.
    """
    if not history:
        return 0.0
    step, direction = 1.0, 1.0
    best_x, best_loss = history[0]
    for x, loss in history[1:]:
        if loss < best_loss:
            best_x, best_loss = x, loss
        else:
            direction, step = -direction, step / 2
    return best_x + direction * step


def demo_proposer(ctx: ProposalContext) -> dict[str, Any]:
    """
    Propose the next ``evaluate`` call from the session's stored history.
    """
    history = [pair for pair in map(_observed, ctx.iterations) if pair is not None]
    x = next_guess(history)
    return {
        "tool_calls": [{"tool_name": "evaluate", "args": {"x": x}}],
        "rationale": f"try x = {x:g}",
    }
