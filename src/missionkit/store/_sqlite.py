"""
A store in one SQLite database (SPEC §11.4).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from missionkit._jsonsafe import parse_timestamp
from missionkit._models._literals import STATUSES, TERMINAL_STATUSES
from missionkit.errors import (
    ConcurrentUpdate,
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
from missionkit.store._json import decode_header, decode_iteration, decode_report, dumps, parse
from missionkit.store._listing import arrange, check_listing_args, unreadable_summary

__all__ = ["SQLiteStore"]

STORE_SCHEMA = "1"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY,"
    " version INTEGER NOT NULL, revision INTEGER NOT NULL, status TEXT NOT NULL,"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, iteration_count INTEGER NOT NULL,"
    " final_verdict TEXT, final_verdict_reason TEXT, header TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS iterations (session_id TEXT NOT NULL"
    " REFERENCES sessions ON DELETE CASCADE, iteration_index INTEGER NOT NULL,"
    " body TEXT NOT NULL, PRIMARY KEY (session_id, iteration_index))",
    "CREATE TABLE IF NOT EXISTS reports (session_id TEXT PRIMARY KEY"
    " REFERENCES sessions ON DELETE CASCADE, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sessions_status_created ON sessions (status, created_at)",
)

_SUMMARY_COLUMNS = (
    "session_id, version, status, created_at, updated_at, iteration_count,"
    " final_verdict, final_verdict_reason"
)


class SQLiteStore:
    """
    Keep sessions in one SQLite database file, shared safely by threads and processes.

    Each thread gets its own connection (``journal_mode=WAL``,
    ``synchronous=FULL``, ``foreign_keys=ON``, ``busy_timeout``); `close`
    closes all of them.  A commit is one ``BEGIN IMMEDIATE`` transaction, so
    concurrent writers queue on the database lock for up to *timeout* seconds
    and a lost compare-and-swap writes nothing.  Listing reads only the summary
    columns, so a corrupt body is detected when the session is loaded.  Not
    supported on network filesystems (WAL needs shared memory).

    Args:
        path: The database file.  Its directory must exist.
        timeout: Seconds to wait for another connection's lock.
        create: Create the file (mode 0600) and schema if missing.  With
            False, a missing file behaves as an empty store and nothing is
            created until a later call finds the file (for read-only tools);
            `create_session` then raises `StoreError`.

    Raises:
        missionkit.errors.StoreError: The directory is missing or the
            database cannot be opened.
        missionkit.errors.UnsupportedSchemaVersion: The database's
            ``store_schema`` is not ``1``.  It has ``session_id == ""``
            (the error concerns the whole file) and its message names the
            file and the version found.

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0, create: bool = True):
        self._path = Path(path)
        self._timeout = float(timeout)
        self._create = create
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._closed = False
        parent = self._path.absolute().parent
        if not parent.is_dir():
            raise StoreError(f"directory {str(parent)!r} does not exist")
        self._connection()

    def __repr__(self) -> str:
        return f"<missionkit.store.SQLiteStore(path={str(self._path)!r})>"

    # ----------------------------------------------------------------- connections

    def _create_file(self) -> None:
        try:
            fd = os.open(self._path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return
        except OSError as exc:
            raise StoreError(f"cannot create {str(self._path)!r}: {exc.strerror}") from exc
        os.close(fd)

    def _connection(self) -> sqlite3.Connection | None:
        """
        This thread's connection, or None if the database is absent and must not be created.
        """
        if self._closed:
            raise StoreError(f"store {str(self._path)!r} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if not self._create and not self._path.exists():
            return None
        try:
            conn = self._open()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {str(self._path)!r}: {exc}") from exc
        if conn is None:
            return None
        with self._lock:
            if self._closed:
                conn.close()
                raise StoreError(f"store {str(self._path)!r} is closed")
            for thread in [t for t in self._connections if not t.is_alive()]:
                self._connections.pop(thread).close()
            self._connections[threading.current_thread()] = conn
        self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection | None:
        if self._create:
            self._create_file()
            conn = sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
        else:
            uri = self._path.absolute().as_uri() + "?mode=rw"
            try:
                conn = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=self._timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.OperationalError:
                if not self._path.exists():
                    return None
                raise
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            # Schema first: a read-only caller on a file without our schema (e.g.
            # empty) or of another version leaves it untouched, even by the
            # journal-mode switch.
            if not self._prepare(conn):
                conn.close()
                return None
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> bool:
        """
        Check the store schema, creating it if allowed; False if there is none to read.
        """
        if not _has_meta(conn):
            if not self._create:
                return False
            with _transaction(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_schema', ?)",
                    (STORE_SCHEMA,),
                )
        row = conn.execute("SELECT value FROM meta WHERE key = 'store_schema'").fetchone()
        found = None if row is None else row[0]
        if found != STORE_SCHEMA:
            version: Any = int(found) if isinstance(found, str) and found.isdigit() else found
            raise UnsupportedSchemaVersion(
                "",
                version,
                message=(
                    f"database {str(self._path)!r} has store schema version {found!r}; "
                    f"this missionkit reads version {STORE_SCHEMA}"
                ),
            )
        return True

    @contextlib.contextmanager
    def _translated(self, session_id: str | None = None) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(
                f"{str(self._path)!r}: {type(exc).__name__}: {exc}", session_id=session_id
            ) from exc

    # --------------------------------------------------------------------- writes

    def create_session(self, state: SessionState) -> bool:
        """
        Store a new session; False if the id exists.
        """
        session_id = check_session_id(state.session_id)
        check_new_session(state)
        header = state.header_dict()
        row = (*_summary_values(header, 0), dumps(header), session_id)
        with self._translated(session_id):
            conn = self._connection()
            if conn is None:
                raise StoreError(
                    f"database {str(self._path)!r} does not exist and create=False",
                    session_id=session_id,
                )
            cursor = conn.execute(
                "INSERT INTO sessions (version, revision, status, created_at, updated_at,"
                " iteration_count, final_verdict, final_verdict_reason, header, session_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
                row,
            )
            return cursor.rowcount == 1

    def save_session(
        self,
        state: SessionState,
        *,
        expected_revision: int,
        append: Sequence[Iteration] = (),
        report: FinalReport | None = None,
    ) -> None:
        """
        Compare-and-swap the header, append iterations and store a report in one transaction.
        """
        session_id = check_session_id(state.session_id)
        check_revisions(state, expected_revision)
        new = list(append)
        header = state.header_dict()
        bodies = [(session_id, it.iteration_index, dumps(it.to_dict())) for it in new]
        report_body = None if report is None else dumps(report.to_dict())
        with self._translated(session_id):
            conn = self._connection()
            if conn is None:
                raise SessionNotFound(session_id)
            with _transaction(conn):
                found = conn.execute(
                    "SELECT revision, iteration_count FROM sessions WHERE session_id = ?",
                    (session_id,),
                ).fetchone()
                if found is None:
                    raise SessionNotFound(session_id)
                revision, count = found
                if revision != expected_revision:
                    raise ConcurrentUpdate(session_id, expected_revision, revision)
                check_append(new, count)
                cursor = conn.execute(
                    "UPDATE sessions SET version = ?, revision = ?, status = ?, created_at = ?,"
                    " updated_at = ?, iteration_count = ?, final_verdict = ?,"
                    " final_verdict_reason = ?, header = ?"
                    " WHERE session_id = ? AND revision = ?",
                    (
                        *_summary_values(header, count + len(new)),
                        dumps(header),
                        session_id,
                        expected_revision,
                    ),
                )
                if cursor.rowcount != 1:  # pragma: no cover - guarded by the lock above
                    raise ConcurrentUpdate(session_id, expected_revision, revision)
                if bodies:
                    conn.executemany(
                        "INSERT INTO iterations (session_id, iteration_index, body)"
                        " VALUES (?, ?, ?)",
                        bodies,
                    )
                if report_body is not None:
                    conn.execute(
                        "INSERT OR REPLACE INTO reports (session_id, body) VALUES (?, ?)",
                        (session_id, report_body),
                    )

    def delete_session(self, session_id: str) -> bool:
        """
        Remove a session with its iterations and report; True if anything existed.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            conn = self._connection()
            if conn is None:
                return False
            with _transaction(conn):
                removed = 0
                for table in ("iterations", "reports", "sessions"):
                    cursor = conn.execute(
                        f"DELETE FROM {table} WHERE session_id = ?",
                        (session_id,),
                    )
                    removed += max(cursor.rowcount, 0)
            return removed > 0

    # ---------------------------------------------------------------------- reads

    def load_revision(self, session_id: str) -> int | None:
        """
        Return the stored revision, or None.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            conn = self._connection()
            if conn is None:
                return None
            row = conn.execute(
                "SELECT revision FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
        return None if row is None else int(row[0])

    def load_header(self, session_id: str) -> SessionState | None:
        """
        Return the header (no iterations), or None.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            conn = self._connection()
            if conn is None:
                return None
            row = conn.execute(
                "SELECT header, revision FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
        if row is None:
            return None
        return _header(session_id, row[0], row[1])

    def load_session(self, session_id: str) -> SessionState | None:
        """
        Return the header with every stored iteration, read in one snapshot, or None.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            conn = self._connection()
            if conn is None:
                return None
            with _transaction(conn, "BEGIN"):
                row = conn.execute(
                    "SELECT header, revision, iteration_count FROM sessions WHERE session_id = ?",
                    (session_id,),
                ).fetchone()
                if row is None:
                    return None
                rows = _iteration_rows(conn, session_id, 0, row[2])
        header = _header(session_id, row[0], row[1])
        iterations = _iterations(session_id, rows, 0, row[2])
        return attrs.evolve(header, iterations=tuple(iterations))

    def load_iterations(self, session_id: str, start: int = 0) -> list[Iteration]:
        """
        Return the iterations from index *start* on.
        """
        check_session_id(session_id)
        check_start(start)
        with self._translated(session_id):
            conn = self._connection()
            if conn is None:
                return []
            with _transaction(conn, "BEGIN"):
                row = conn.execute(
                    "SELECT iteration_count FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
                if row is None:
                    return []
                rows = _iteration_rows(conn, session_id, start, row[0])
        return _iterations(session_id, rows, start, row[0])

    def load_report(self, session_id: str) -> FinalReport | None:
        """
        Return the report of a terminal session, or None.
        """
        check_session_id(session_id)
        with self._translated(session_id):
            conn = self._connection()
            if conn is None:
                return None
            row = conn.execute(
                "SELECT r.body, s.status FROM reports AS r JOIN sessions AS s"
                " ON s.session_id = r.session_id WHERE r.session_id = ?",
                (session_id,),
            ).fetchone()
        if row is None or row[1] not in TERMINAL_STATUSES:
            return None
        return decode_report(session_id, "report", parse(session_id, "report", _text(row[0])))

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
        Summarise the stored sessions from their summary columns (SPEC §11.6).
        """
        check_listing_args(status, order_by, descending, limit, offset)
        with self._translated():
            conn = self._connection()
            if conn is None:
                return []
            if status is None or status == "unreadable":
                rows = conn.execute(f"SELECT {_SUMMARY_COLUMNS} FROM sessions").fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {_SUMMARY_COLUMNS} FROM sessions WHERE status = ?", (status,)
                ).fetchall()
        return arrange(
            (_summary(row) for row in rows),
            status=status,
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    def close(self) -> None:
        """
        Close every connection this store opened; idempotent.
        """
        with self._lock:
            self._closed = True
            connections = list(self._connections.values())
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    conn.execute(begin)
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _summary_values(header: dict[str, Any], count: int) -> tuple[Any, ...]:
    return (
        header["version"],
        header["revision"],
        header["status"],
        header["created_at"],
        header["updated_at"],
        count,
        header["final_verdict"],
        header["final_verdict_reason"],
    )


def _text(value: Any) -> str | bytes:
    return value if isinstance(value, str | bytes) else repr(value)


def _header(session_id: str, body: Any, revision: Any) -> SessionState:
    state = decode_header(session_id, "header", parse(session_id, "header", _text(body)))
    if state.revision != revision:
        raise SessionCorrupt(
            session_id,
            f"header: field 'revision': {state.revision} does not match the row's {revision!r}",
        )
    return state


def _iteration_rows(
    conn: sqlite3.Connection, session_id: str, start: int, count: Any
) -> list[tuple[Any, Any]]:
    rows: list[tuple[Any, Any]] = conn.execute(
        "SELECT iteration_index, body FROM iterations"
        " WHERE session_id = ? AND iteration_index >= ? AND iteration_index < ?"
        " ORDER BY iteration_index",
        (session_id, start, count),
    ).fetchall()
    return rows


def _iterations(
    session_id: str, rows: list[tuple[Any, Any]], start: int, count: Any
) -> list[Iteration]:
    if type(count) is not int or count < 0:
        raise SessionCorrupt(session_id, f"iteration_count: {count!r} is not a count")
    out: list[Iteration] = []
    expected = start
    for index, body in rows:
        if index != expected:
            raise SessionCorrupt(session_id, f"iterations[{expected}]: missing")
        label = f"iteration {index}"
        out.append(
            decode_iteration(session_id, label, parse(session_id, label, _text(body)), index)
        )
        expected += 1
    if expected < count:
        raise SessionCorrupt(session_id, f"iterations[{expected}]: missing")
    return out


def _summary(row: tuple[Any, ...]) -> SessionSummary:
    session_id, version, status, created, updated, count, verdict, reason = row
    try:
        if type(version) is not int:
            raise SessionCorrupt(session_id, f"version: {version!r} is not an integer")
        if version != 1:
            raise UnsupportedSchemaVersion(session_id, version)
        if status not in STATUSES:
            raise SessionCorrupt(session_id, f"status: {status!r} is not a valid status")
        if type(count) is not int or count < 0:
            raise SessionCorrupt(session_id, f"iteration_count: {count!r} is not a count")
        return SessionSummary(
            session_id=session_id,
            status=status,
            created_at=_timestamp(session_id, "created_at", created),
            updated_at=_timestamp(session_id, "updated_at", updated),
            iteration_count=count,
            final_verdict=verdict,
            final_verdict_reason=reason,
        )
    except (SessionCorrupt, UnsupportedSchemaVersion) as exc:
        return unreadable_summary(str(session_id), exc)


def _timestamp(session_id: str, column: str, value: Any) -> datetime:
    try:
        return parse_timestamp(value)
    except (TypeError, ValueError):
        raise SessionCorrupt(session_id, f"{column}: {value!r} is not a timestamp") from None


def _has_meta(conn: sqlite3.Connection) -> bool:
    """
    Whether the database holds the store's ``meta`` table.
    """
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
    return row.fetchone() is not None
