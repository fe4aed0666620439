"""
The session store protocol (SPEC §11.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from missionkit.models import FinalReport, Iteration, SessionState, SessionSummary

__all__ = ["SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """
    Where sessions live between calls: headers, append-only iterations and reports.

    A store is a structural protocol; nobody has to subclass it.  Every method
    validates its *session_id* first (SPEC §4.2) and raises
    :class:`~missionkit.errors.MissionValidationError` (``session_id_invalid``)
    before touching any storage, so a malformed id never reaches a path or a
    query.

    **Thread safety.**  Every method may be called concurrently from any number
    of threads on one instance.  Durable stores (`SQLiteStore`,
    `JsonDirStore`) may also be shared by several processes.

    **Consistency.**  A session has a *revision*.  `save_session` is a
    compare-and-swap on it: it writes everything (header, appended iterations,
    report) or nothing, and a lost race raises
    :class:`~missionkit.errors.ConcurrentUpdate`.  Stored iterations are
    append-only and never rewritten, so a reader that has seen *n* iterations
    only ever needs the ones after *n*.  A read never observes half a commit.

    **Persistence.**  `MemoryStore` lives as long as the process.  Once
    `save_session` or `create_session` returns, the durable stores have
    flushed the commit to stable storage (``fsync``/``synchronous=FULL``); a
    crash at any moment leaves either the previous or the new revision.

    **Failures.**  Backend failures (``OSError``, ``sqlite3.Error``) surface as
    :class:`~missionkit.errors.StoreError` with the original error as
    ``__cause__``.  A stored session that cannot be decoded raises
    :class:`~missionkit.errors.SessionCorrupt` or
    :class:`~missionkit.errors.UnsupportedSchemaVersion` when loaded, and is
    listed as ``unreadable`` without hiding any other session.

    .. versionadded:: 0.1.0
    """

    def create_session(self, state: SessionState) -> bool:
        """
        Store a new session.

        Args:
            state: A session at revision 1 with no iterations.

        Returns:
            True if it was stored; False (and nothing written) if the id exists.

        Raises:
            ValueError: *state* has a revision other than 1 or holds iterations.
        """
        ...

    def load_session(self, session_id: str) -> SessionState | None:
        """
        Load the full session, iterations included.

        Returns:
            The session, or None if no session has this id.

        Raises:
            missionkit.errors.SessionCorrupt: The stored session cannot be read.
            missionkit.errors.UnsupportedSchemaVersion: It has another schema version.
        """
        ...

    def load_header(self, session_id: str) -> SessionState | None:
        """
        Load the session without its iterations; O(1) in history length.

        Returns:
            The session with ``iterations=()``, or None if absent.
        """
        ...

    def load_revision(self, session_id: str) -> int | None:
        """
        Return the stored revision, or None if absent; O(1).
        """
        ...

    def load_iterations(self, session_id: str, start: int = 0) -> list[Iteration]:
        """
        Load the stored iterations from index *start* on.

        Returns:
            The iterations in index order; empty if the session is absent or
            *start* is at or past the stored count.

        Raises:
            ValueError: *start* is not an int ≥ 0.
        """
        ...

    def save_session(
        self,
        state: SessionState,
        *,
        expected_revision: int,
        append: Sequence[Iteration] = (),
        report: FinalReport | None = None,
    ) -> None:
        """
        Compare-and-swap write of the header, new iterations and a report (SPEC §11.2).

        ``state.iterations`` is ignored: only *append* is added.

        Args:
            state: The new header; its revision must be *expected_revision* + 1.
            expected_revision: The revision the caller read.
            append: Iterations to add, consecutive from the stored count.
            report: The final report, stored with a terminal transition.

        Raises:
            ValueError: Wrong revision arithmetic (before any I/O), or *append*
                does not continue the stored iterations.
            missionkit.errors.SessionNotFound: No such session.
            missionkit.errors.ConcurrentUpdate: The stored revision differs.
        """
        ...

    def load_report(self, session_id: str) -> FinalReport | None:
        """
        Return the final report of a terminal session, or None.

        A report is returned only while the stored status is ``completed``,
        ``terminated`` or ``failed``; a report stored with a non-terminal
        header is treated as a leftover and not returned.
        """
        ...

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
        Summarise stored sessions (SPEC §11.6).

        Args:
            status: Only sessions with this status, or ``"unreadable"``.
            order_by: ``created_at``, ``updated_at`` or ``session_id``.
            descending: Sort direction; ties are always broken by id ascending
                and unreadable sessions always come last.
            limit: At most this many summaries (a positive int), or all.
            offset: Skip this many summaries first.

        Raises:
            missionkit.errors.InvalidArgument: An argument is malformed.
        """
        ...

    def delete_session(self, session_id: str) -> bool:
        """
        Remove the header, iterations and report of a session.

        Returns:
            True if anything existed, False otherwise (idempotent).
        """
        ...

    def close(self) -> None:
        """
        Release connections and handles; idempotent.
        """
        ...
