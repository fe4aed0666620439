"""
What a `Session` handle caches: the stored header, the iterations and the view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from missionkit._engine._core import MissionCore
from missionkit._engine._view import CumulativeView
from missionkit._engine.criteria import Evaluators, compile_evaluators
from missionkit.models import Iteration, SessionState
from missionkit.proposers._default import ToolHistory

__all__ = ["VIEW_READERS", "SessionCache"]

#: Criterion kinds that read the cumulative view (SPEC §6.6.3).
VIEW_READERS = frozenset({"predicate", "metric_trend", "tool_call_succeeded"})


class SessionCache:
    """
    The session as last read or written through this handle.

    Iterations are append-only in every store, so a refresh only loads the
    header and the iterations after the cached count.
    """

    __slots__ = (
        "_compiled",
        "_compiled_for",
        "_runnable",
        "_runnable_for",
        "_straight",
        "_straight_for",
        "header",
        "history",
        "iterations",
        "view",
    )

    def __init__(self, header: SessionState, iterations: list[Iteration]) -> None:
        self.header = header
        self.iterations = iterations
        self.view = CumulativeView(enabled=any(c.kind in VIEW_READERS for c in header.criteria))
        self.history = ToolHistory(iterations)
        for iteration in iterations:
            self.view.add(iteration)
        self._compiled_for: Sequence[Any] | None = None
        self._compiled: Evaluators = ()
        self._runnable_for: Sequence[str] | None = None
        self._runnable: tuple[str, ...] = ()
        self._straight_for: tuple[Any, ...] | None = None
        self._straight: tuple[str, ...] | None = None

    def runnable(self, core: MissionCore, allowlist: Sequence[str]) -> tuple[str, ...]:
        """
        `MissionCore.runnable` of *allowlist*, kept while the allowlist is the same object.

        A Mission's tools are fixed at construction, so the answer only
        changes with the allowlist.
        """
        if allowlist is not self._runnable_for:
            self._runnable = core.runnable(allowlist)
            self._runnable_for = allowlist
        return self._runnable

    def evaluators(self, criteria: Sequence[Any]) -> Evaluators:
        """
        The compiled evaluators of *criteria*, recompiled only when the criteria change.
        """
        if criteria is not self._compiled_for:
            self._compiled = compile_evaluators(criteria)
            self._compiled_for = criteria
        return self._compiled

    def straight(self, core: MissionCore) -> tuple[str, ...] | None:
        """
        The header's runnable tools if its configuration fits `fast_step`, else None.

        `missionkit._engine._fast.straight_tools` decides; kept while the
        header carries the same configuration objects (a session's
        configuration never changes, and evolving the header keeps them).
        """
        state = self.header
        key = self._straight_for
        if (
            key is None
            or key[0] is not state.criteria
            or key[1] is not state.tool_allowlist
            or key[2] is not state.budget
            or key[3] is not state.checkpoint_cadence
            or key[4] is not state.use_sampling
        ):
            from missionkit._engine._fast import straight_tools

            self._straight = straight_tools(core, state, self.runnable(core, state.tool_allowlist))
            self._straight_for = (
                state.criteria,
                state.tool_allowlist,
                state.budget,
                state.checkpoint_cadence,
                state.use_sampling,
            )
        return self._straight

    def extend(self, iterations: list[Iteration]) -> None:
        """
        Append newly stored iterations.
        """
        for iteration in iterations:
            self.iterations.append(iteration)
            self.view.add(iteration)
            self.history.add(iteration)

    def settle(self, iteration: Iteration) -> None:
        """
        Append an iteration this handle has just stored (its observation may be staged).
        """
        self.iterations.append(iteration)
        self.view.settle(iteration)
        self.history.add(iteration)
