"""
A store in a directory of JSON files, one directory per session (SPEC §11.5).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from missionkit._models._literals import TERMINAL_STATUSES
from missionkit.errors import (
    ConcurrentUpdate,
    MissionValidationError,
    SessionCorrupt,
    SessionNotFound,
    StoreError,
    UnsupportedSchemaVersion,
)
from missionkit.models import (
    FinalReport,
    Iteration,
    SessionState,
    SessionSummary,
)
from missionkit.store._checks import check_append, check_new_session, check_revisions, check_start
from missionkit.store._ids import check_session_id
from missionkit.store._json import (
    check_version,
    decode_header,
    decode_iteration,
    decode_report,
    dumps,
    parse,
)
from missionkit.store._listing import arrange, check_listing_args, summary_of, unreadable_summary

__all__ = ["JsonDirStore"]

SESSION_FILE = "session.json"
REPORT_FILE = "report.json"
LOCK_FILE = ".lock"
ITERATIONS_DIR = "iterations"
COUNT_KEY = "iteration_count"


def iteration_name(index: int) -> str:
    """
    The file name of iteration *index*: zero-padded to 8 digits.
    """
    return f"{index:08d}.json"


class JsonDirStore:
    """
    Keep each session in its own directory of JSON files under *root*.

    ``<root>/<session_id>/session.json`` holds the header
    (`SessionState.header_dict`) plus one extra top-level key,
    ``iteration_count``: the number of committed iterations, which tells
    which files under ``iterations/`` are real.  ``iterations/00000000.json``
    holds one iteration each, ``report.json`` the final report, ``.lock`` is
    the lock file.  Directories are created with mode 0700, files with 0600
    (best effort off POSIX); *root* is created on the first write.

    Every file is written atomically (temporary file, ``fsync``, rename,
    ``fsync`` of the directory).  A commit holds an exclusive OS lock on the
    session's ``.lock`` (``fcntl.flock``; ``msvcrt.locking`` on Windows, best
    effort) and writes the iteration files, then ``report.json``, then
    ``session.json`` — replacing ``session.json`` is the commit point.  Files
    left by an interrupted commit (iteration files at or past the committed
    count, a ``report.json`` of a non-terminal session) are ignored and later
    overwritten.  Readers take no lock: iteration files below the committed
    count are never rewritten, so a reader always sees one commit whole.

    Deleting renames the session directory to a hidden name first, so the
    session disappears at once and a concurrent writer finds it gone.

    Args:
        root: The directory holding one subdirectory per session.

    .. versionadded:: 0.1.0
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<missionkit.store.JsonDirStore(root={str(self._root)!r})>"

    # ------------------------------------------------------------------- helpers

    def _dir(self, session_id: str) -> Path:
        return self._root / session_id

    @contextlib.contextmanager
    def _translated(self, session_id: str | None = None) -> Iterator[None]:
        if self._closed:
            raise StoreError(f"store {str(self._root)!r} is closed", session_id=session_id)
        try:
            yield
        except OSError as exc:
            where = exc.filename if exc.filename is not None else self._root
            raise StoreError(
                f"{str(where)!r}: {exc.strerror or type(exc).__name__}", session_id=session_id
            ) from exc

    @contextlib.contextmanager
    def _locked(self, session_id: str) -> Iterator[Path]:
        """
        Hold the exclusive lock of a session directory, creating it if needed.
        """
        directory = self._dir(session_id)
        while True:
            _makedirs(self._root)
            _makedirs(directory)
            lock_path = directory / LOCK_FILE
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except FileNotFoundError:
                continue  # the directory was deleted in between
            try:
                _lock(fd)
                # A deletion may have moved the directory away while we waited.
                try:
                    current = os.stat(lock_path)
                except FileNotFoundError:
                    continue
                opened = os.fstat(fd)
                if (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
                    continue
                yield directory
                return
            finally:
                os.close(fd)  # closing the descriptor releases the lock

    def _read_session_file(self, session_id: str) -> tuple[dict[str, Any], Any] | None:
        """
        The parsed ``session.json`` with its schema version checked and the count split off.
        """
        raw = _read(self._dir(session_id) / SESSION_FILE)
        if raw is None:
            return None
        data = check_version(session_id, SESSION_FILE, parse(session_id, SESSION_FILE, raw))
        data = dict(data)
        count = data.pop(COUNT_KEY, None)
        return data, count

    def _header(self, session_id: str) -> tuple[SessionState, int] | None:
        found = self._read_session_file(session_id)
        if found is None:
            return None
        data, count = found
        state = decode_header(session_id, SESSION_FILE, data)
        if type(count) is not int or count < 0:
            raise SessionCorrupt(
                session_id, f"{SESSION_FILE}: field {COUNT_KEY!r}: {count!r} is not a count"
            )
        return state, count

    def _iterations(self, session_id: str, start: int, count: int) -> list[Iteration] | None:
        """
        Iterations *start* … *count*-1, or None if the session vanished meanwhile.
        """
        folder = self._dir(session_id) / ITERATIONS_DIR
        out: list[Iteration] = []
        for index in range(start, count):
            label = f"{ITERATIONS_DIR}/{iteration_name(index)}"
            raw = _read(folder / iteration_name(index))
            if raw is None:
                if not (self._dir(session_id) / SESSION_FILE).exists():
                    return None
                raise SessionCorrupt(session_id, f"{label}: missing")
            data = parse(session_id, label, raw)
            out.append(decode_iteration(session_id, label, data, index))
        return out

    # --------------------------------------------------------------------- writes

    def create_session(self, state: SessionState) -> bool:
        """
        Store a new session; False if the id exists.
        """
        session_id = check_session_id(state.session_id)
        check_new_session(state)
        body = _session_body(state, 0)
        with self._translated(session_id), self._locked(session_id) as directory:
            if (directory / SESSION_FILE).exists():
                return False
            _makedirs(directory / ITERATIONS_DIR)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / REPORT_FILE)
            atomic_write(directory, SESSION_FILE, body)
            return True

    def save_session(
        self,
        state: SessionState,
        *,
        expected_revision: int,
        append: Sequence[Iteration] = (),
        report: FinalReport | None = None,
    ) -> None:
        """
        Compare-and-swap the header, append iterations and store a report under the lock.
        """
        session_id = check_session_id(state.session_id)
        check_revisions(state, expected_revision)
        new = list(append)
        bodies = [dumps(it.to_dict()).encode() for it in new]
        report_body = None if report is None else dumps(report.to_dict()).encode()
        with self._translated(session_id):
            if not (self._dir(session_id) / SESSION_FILE).exists():
                raise SessionNotFound(session_id)
            with self._locked(session_id) as directory:
                found = self._read_session_file(session_id)
                if found is None:
                    raise SessionNotFound(session_id)
                data, count = found
                revision = data.get("revision")
                if type(revision) is not int or type(count) is not int or count < 0:
                    # Decoding names the defect precisely.
                    self._header(session_id)
                    raise SessionCorrupt(session_id, f"{SESSION_FILE}: unreadable counters")
                if revision != expected_revision:
                    raise ConcurrentUpdate(session_id, expected_revision, revision)
                check_append(new, count)
                if bodies:
                    folder = directory / ITERATIONS_DIR
                    _makedirs(folder)
                    for iteration, body in zip(new, bodies, strict=True):
                        atomic_write(folder, iteration_name(iteration.iteration_index), body)
                if report_body is not None:
                    atomic_write(directory, REPORT_FILE, report_body)
                atomic_write(directory, SESSION_FILE, _session_body(state, count + len(new)))

    def delete_session(self, session_id: str) -> bool:
        """
        Remove a session directory; True if a session existed.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            if not self._dir(session_id).exists():
                return False
            with self._locked(session_id) as directory:
                existed = (directory / SESSION_FILE).exists()
                tomb = self._root / f".{session_id}.{secrets.token_hex(8)}.deleted"
                os.replace(directory, tomb)
                _fsync_dir(self._root)
            shutil.rmtree(tomb, ignore_errors=True)
            return existed

    # ---------------------------------------------------------------------- reads

    def load_revision(self, session_id: str) -> int | None:
        """
        Return the stored revision, or None.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            found = self._read_session_file(session_id)
        if found is None:
            return None
        revision = found[0].get("revision")
        if type(revision) is not int or revision < 1:
            raise SessionCorrupt(
                session_id, f"{SESSION_FILE}: field 'revision': {revision!r} is not a revision"
            )
        return revision

    def load_header(self, session_id: str) -> SessionState | None:
        """
        Return the header (no iterations), or None.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            found = self._header(session_id)
        return None if found is None else found[0]

    def load_session(self, session_id: str) -> SessionState | None:
        """
        Return the header with every committed iteration, or None.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            found = self._header(session_id)
            if found is None:
                return None
            header, count = found
            iterations = self._iterations(session_id, 0, count)
        if iterations is None:
            return None
        return attrs.evolve(header, iterations=tuple(iterations))

    def load_iterations(self, session_id: str, start: int = 0) -> list[Iteration]:
        """
        Return the committed iterations from index *start* on.
        """
        check_session_id(session_id)
        check_start(start)
        with self._translated(session_id):
            found = self._header(session_id)
            if found is None:
                return []
            iterations = self._iterations(session_id, start, found[1])
        return [] if iterations is None else iterations

    def load_report(self, session_id: str) -> FinalReport | None:
        """
        Return the report of a terminal session, or None.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            found = self._header(session_id)
            if found is None or found[0].status not in TERMINAL_STATUSES:
                return None
            raw = _read(self._dir(session_id) / REPORT_FILE)
        if raw is None:
            return None
        return decode_report(session_id, REPORT_FILE, parse(session_id, REPORT_FILE, raw))

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
        Summarise every session by reading each ``session.json`` (SPEC §11.6).
        """
        check_listing_args(status, order_by, descending, limit, offset)
        with self._translated():
            try:
                with os.scandir(self._root) as entries:
                    names = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
            except FileNotFoundError:
                names = []
            summaries = [s for s in map(self._summary, names) if s is not None]
        return arrange(
            summaries,
            status=status,
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    def _summary(self, name: str) -> SessionSummary | None:
        try:
            session_id = check_session_id(name)
        except MissionValidationError:
            return None  # hidden entries and directories being deleted
        try:
            found = self._header(session_id)
        except (SessionCorrupt, UnsupportedSchemaVersion) as exc:
            return unreadable_summary(session_id, exc)
        except (NotADirectoryError, IsADirectoryError, PermissionError) as exc:
            return unreadable_summary(
                session_id, StoreError(f"{SESSION_FILE}: {exc.strerror}", session_id=session_id)
            )
        if found is None:
            return None
        header, count = found
        return summary_of(header, count)

    def close(self) -> None:
        """
        Refuse further calls; the store holds no open handles between calls.
        """
        with self._lock:
            self._closed = True


def _session_body(state: SessionState, count: int) -> bytes:
    data = state.header_dict()
    data[COUNT_KEY] = count
    return dumps(data).encode()


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _makedirs(path: Path) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    except FileNotFoundError:
        _makedirs(path.parent)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)


def atomic_write(directory: Path, name: str, data: bytes) -> None:
    """
    Replace ``directory/name`` with *data* so that readers see the old or the new bytes.

    A temporary ``<name>.<random>.tmp`` (mode 0600) is written and synced,
    renamed onto *name*, then the directory is synced.  On failure the
    temporary file is removed (best effort) and the old file stays intact.

    Raises:
        OSError: The write, sync or rename failed.
    """
    tmp = directory / f"{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - directories cannot be opened there
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - best effort, untested
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
