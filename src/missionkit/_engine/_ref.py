"""
One handle's view of a stored session: refresh on revision change, commit by CAS.
"""

from __future__ import annotations

from collections.abc import Sequence

from missionkit._engine._cache import SessionCache
from missionkit._engine._core import MissionCore
from missionkit.errors import SessionFailed, SessionNotFound, SessionPaused, SessionTerminal
from missionkit.models import FinalReport, Iteration, SessionState

__all__ = ["SessionRef"]


class SessionRef:
    """
    The cached session behind a `Session` handle.
    """

    __slots__ = ("cache", "core", "session_id")

    def __init__(self, core: MissionCore, session_id: str) -> None:
        self.core = core
        self.session_id = session_id
        self.cache: SessionCache | None = None

    def refresh(self) -> SessionCache:
        """
        Re-read the stored revision (O(1)); reload header and new iterations if it moved.

        Raises:
            SessionNotFound: The session is not stored (any more).
        """
        store = self.core.store
        revision = store.load_revision(self.session_id)
        if revision is None:
            self.cache = None
            raise SessionNotFound(self.session_id)
        cache = self.cache
        if cache is not None and cache.header.revision == revision:
            return cache
        header = store.load_header(self.session_id)
        if header is None:
            self.cache = None
            raise SessionNotFound(self.session_id)
        if cache is None or header.revision < cache.header.revision:
            cache = SessionCache(header, list(store.load_iterations(self.session_id)))
        else:
            cache.extend(list(store.load_iterations(self.session_id, start=len(cache.iterations))))
            cache.header = header
        self.cache = cache
        return cache

    def adopt(self, header: SessionState) -> None:
        """
        Cache the header of a session this handle's process has just created.

        The first call then finds the revision it expects and loads nothing
        more; its own revision check still catches any writer in between.
        """
        self.cache = SessionCache(header, [])

    def gate(self) -> SessionCache:
        """
        Refresh, then refuse failed, terminal and paused sessions (SPEC §6.2 steps 1–2).
        """
        cache = self.refresh()
        status = cache.header.status
        if status == "failed":
            raise SessionFailed(self.session_id)
        if status in ("completed", "terminated"):
            raise SessionTerminal(self.session_id, status)
        if status == "paused":
            raise SessionPaused(self.session_id)
        return cache

    def refuse_terminal(self) -> SessionCache:
        """
        Refresh, then refuse failed and terminal sessions (paused is fine).
        """
        cache = self.refresh()
        status = cache.header.status
        if status == "failed":
            raise SessionFailed(self.session_id)
        if status in ("completed", "terminated"):
            raise SessionTerminal(self.session_id, status)
        return cache

    def commit(
        self,
        cache: SessionCache,
        header: SessionState,
        append: Sequence[Iteration] = (),
        report: FinalReport | None = None,
    ) -> None:
        """
        One compare-and-swap save; on success the cache follows.

        *header* was derived from the revision read at the gate, so that is the
        revision the save expects (SPEC §6.9): anything that moved the session
        meanwhile, even through this handle, makes it a `ConcurrentUpdate`.
        On failure the staged view is rolled back and the error propagates.
        """
        try:
            self.core.store.save_session(
                header,
                expected_revision=header.revision - 1,
                append=tuple(append),
                report=report,
            )
        except BaseException:
            cache.view.rollback()
            raise
        cache.header = header
        for iteration in append:
            cache.settle(iteration)
