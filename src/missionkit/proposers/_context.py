"""
What a proposer sees (SPEC §7.2).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, overload

import attrs

from missionkit.models import (
    Criterion,
    CriterionResult,
    Iteration,
    IterationSummary,
    Strategy,
    Verdict,
)

__all__ = ["IterationsView", "ProposalContext", "Proposer"]


class IterationsView(Sequence[Iteration]):
    """
    A read-only window on the first *n* stored iterations of a session cache.

    It shares the cache's list instead of copying it, so building a context
    costs the same at iteration 10,000 as at iteration 10.
    """

    __slots__ = ("_items", "_n")

    def __init__(self, items: Sequence[Iteration], n: int | None = None) -> None:
        self._items = items
        self._n = len(items) if n is None else n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> Iteration: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Iteration]: ...

    def __getitem__(self, index: int | slice) -> Iteration | Sequence[Iteration]:
        if isinstance(index, slice):
            return tuple(self._items[i] for i in range(*index.indices(self._n)))
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError("iteration index out of range")
        return self._items[index]

    def __iter__(self) -> Iterator[Iteration]:
        for index in range(self._n):
            yield self._items[index]

    def __reversed__(self) -> Iterator[Iteration]:
        for index in range(self._n - 1, -1, -1):
            yield self._items[index]

    def __repr__(self) -> str:
        return f"<IterationsView n={self._n}>"


@attrs.frozen(kw_only=True)
class ProposalContext:
    """
    Everything a proposer may use to choose the next strategy. Not persisted.

    Attributes:
        session_id: The session.
        iteration_index: Index of the iteration being proposed.
        directive: The directive text.
        criteria: Declared criteria.
        criteria_status: Results of the most recent evaluated iteration (None if never).
        iterations: Read-only sequence of stored iterations.
        last_verdict: Verdict of the latest stored iteration.
        adjust_requested: Whether that verdict is ``adjust``.
        revision_rationale: The latest stored iteration's rationale.
        tool_allowlist: The session allowlist, in order.
        candidate_tools: Allowlisted tools usable now, in allowlist order.
        tool_descriptions: Description per allowlisted known tool.
        allow_scripts: Whether scripts are allowed.
        remaining_iterations: Iterations left including this one; None if uncapped.
        remaining_seconds: Active seconds left; None if uncapped.
        is_last_iteration: Whether this is the last allowed iteration.
        no_progress_counter: Current counter.
        stagnation_threshold: The session's threshold.

    .. versionadded:: 0.1.0
    """

    session_id: str
    iteration_index: int
    directive: str
    criteria: tuple[Criterion, ...]
    criteria_status: Mapping[str, CriterionResult | None]
    iterations: Sequence[Iteration]
    last_verdict: Verdict | None
    adjust_requested: bool
    revision_rationale: str | None
    tool_allowlist: tuple[str, ...]
    candidate_tools: tuple[str, ...]
    tool_descriptions: Mapping[str, str]
    allow_scripts: bool
    remaining_iterations: int | None
    remaining_seconds: float | None
    is_last_iteration: bool
    no_progress_counter: int
    stagnation_threshold: int

    @functools.cached_property
    def history(self) -> tuple[IterationSummary, ...]:
        """
        Summaries of every stored iteration (computed on first access).
        """
        return tuple(it.summary() for it in self.iterations)


Proposer = Callable[
    [ProposalContext],
    "Strategy | Mapping[str, Any] | Awaitable[Strategy | Mapping[str, Any] | None] | None",
]
"""
A custom strategy source: returns a strategy, a mapping, or None for the default.

.. versionadded:: 0.1.0
"""
