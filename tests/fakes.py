"""
Shared fakes for the test suite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from missionkit.errors import ConcurrentUpdate
from missionkit.models import FinalReport, Iteration, SessionState
from missionkit.store import MemoryStore


class FlakyStore:
    """
    A `MemoryStore` whose next *failures* saves raise `ConcurrentUpdate` without writing.

    ``before_save`` (if set) is called once, with the state about to be saved,
    before the next save reaches the real store -- a place to let another
    writer win a real compare-and-swap race.

    Attributes:
        inner: The wrapped store.
        failures: Saves still to refuse.
        save_calls: Number of ``save_session`` calls seen.
        before_save: One-shot hook run before the next save.
    """

    def __init__(self, inner: MemoryStore | None = None, failures: int = 0) -> None:
        self.inner = inner if inner is not None else MemoryStore()
        self.failures = failures
        self.save_calls = 0
        self.before_save: Callable[[SessionState], None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save_session(
        self,
        state: SessionState,
        *,
        expected_revision: int,
        append: Sequence[Iteration] = (),
        report: FinalReport | None = None,
    ) -> None:
        """
        Refuse while *failures* remain, run the one-shot hook, then delegate.
        """
        self.save_calls += 1
        if self.failures:
            self.failures -= 1
            raise ConcurrentUpdate(state.session_id, expected_revision, expected_revision + 1)
        hook, self.before_save = self.before_save, None
        if hook is not None:
            hook(state)
        self.inner.save_session(
            state, expected_revision=expected_revision, append=append, report=report
        )


class Counter:
    """
    A tool returning a metric that counts its own calls: ``{"metrics": {"n": calls}}``.
    """

    __name__ = "count"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"metrics": {"n": self.calls}}
