"""
The in-process store (SPEC §11.3).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import attrs

from missionkit.errors import ConcurrentUpdate, SessionNotFound
from missionkit.models import FinalReport, Iteration, SessionState, SessionSummary
from missionkit.store._checks import check_append, check_new_session, check_revisions, check_start
from missionkit.store._ids import check_session_id
from missionkit.store._listing import arrange, check_listing_args, summary_of

__all__ = ["MemoryStore"]


class MemoryStore:
    """
    Keep sessions as frozen model objects in this process.

    Headers, iteration lists and reports live in dicts guarded by one lock.
    Nothing is serialised: the models are immutable, which isolates readers
    from writers as well as a durable store would.  A commit appends to the
    session's iteration list, so it costs O(1) in history length.

    `close` is a no-op; the store stays usable and keeps its sessions.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._headers: dict[str, SessionState] = {}
        self._iterations: dict[str, list[Iteration]] = {}
        self._reports: dict[str, FinalReport] = {}

    def __repr__(self) -> str:
        return f"<missionkit.store.MemoryStore(sessions={len(self._headers)})>"

    def create_session(self, state: SessionState) -> bool:
        """
        Store a new session; False if the id exists.
        """
        session_id = check_session_id(state.session_id)
        check_new_session(state)
        header = state.header()
        with self._lock:
            if session_id in self._headers:
                return False
            self._headers[session_id] = header
            self._iterations[session_id] = []
        return True

    def load_session(self, session_id: str) -> SessionState | None:
        """
        Return the header with every stored iteration, or None.
        """
        check_session_id(session_id)
        with self._lock:
            header = self._headers.get(session_id)
            if header is None:
                return None
            iterations = tuple(self._iterations[session_id])
        return attrs.evolve(header, iterations=iterations)

    def _check_id(self, session_id: object) -> str:
        # A stored id was checked when it was created: skip the pattern match.
        if type(session_id) is str and session_id in self._headers:
            return session_id
        return check_session_id(session_id)

    def load_header(self, session_id: str) -> SessionState | None:
        """
        Return the header (no iterations), or None.
        """
        check_session_id(session_id)
        with self._lock:
            return self._headers.get(session_id)

    def load_revision(self, session_id: str) -> int | None:
        """
        Return the stored revision, or None.
        """
        self._check_id(session_id)
        # One dict read needs no lock: a save replaces the header in a single
        # assignment, so this sees the old revision or the new one, never a mix.
        header = self._headers.get(session_id)
        return None if header is None else header.revision

    def load_iterations(self, session_id: str, start: int = 0) -> list[Iteration]:
        """
        Return the iterations from index *start* on.
        """
        check_session_id(session_id)
        check_start(start)
        with self._lock:
            iterations = self._iterations.get(session_id)
            return [] if iterations is None else iterations[start:]

    def save_session(
        self,
        state: SessionState,
        *,
        expected_revision: int,
        append: Sequence[Iteration] = (),
        report: FinalReport | None = None,
    ) -> None:
        """
        Compare-and-swap the header, append iterations and store a report.
        """
        session_id = self._check_id(state.session_id)
        check_revisions(state, expected_revision)
        header = state.header()
        new = list(append)
        with self._lock:
            stored = self._headers.get(session_id)
            iterations = self._iterations.get(session_id)
            if stored is None or iterations is None:
                raise SessionNotFound(session_id)
            if stored.revision != expected_revision:
                raise ConcurrentUpdate(session_id, expected_revision, stored.revision)
            check_append(new, len(iterations))
            self._headers[session_id] = header
            iterations.extend(new)
            if report is not None:
                self._reports[session_id] = report

    def load_report(self, session_id: str) -> FinalReport | None:
        """
        Return the report of a terminal session, or None.
        """
        check_session_id(session_id)
        with self._lock:
            header = self._headers.get(session_id)
            if header is None or not header.is_terminal:
                return None
            return self._reports.get(session_id)

    def list_sessions(
        self,
        *,
        status: str | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[SessionSummary]:
        """
        Summarise the stored sessions (SPEC §11.6).
        """
        check_listing_args(status, order_by, descending, limit, offset)
        with self._lock:
            rows = [(h, len(self._iterations[sid])) for sid, h in self._headers.items()]
        summaries = [summary_of(h, count) for h, count in rows]
        return arrange(
            summaries,
            status=status,
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    def delete_session(self, session_id: str) -> bool:
        """
        Remove a session; True if it existed.
        """
        check_session_id(session_id)
        with self._lock:
            existed = self._headers.pop(session_id, None) is not None
            self._iterations.pop(session_id, None)
            self._reports.pop(session_id, None)
        return existed

    def close(self) -> None:
        """
        Do nothing: memory needs no releasing.
        """
