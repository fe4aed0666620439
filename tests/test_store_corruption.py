"""
Corrupt records, unsupported versions and failing writes in the durable stores (SPEC §11.7).
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from missionkit.errors import SessionCorrupt, StoreError, UnsupportedSchemaVersion
from missionkit.models import SessionState
from missionkit.store import JsonDirStore, SessionStore, SQLiteStore
from store_samples import advance, make_iteration, make_report, make_session

GOOD = "good"
BAD = "bad"


def fill(store: SessionStore) -> dict[str, SessionState]:
    """
    Two completed sessions with four iterations and a report each.
    """
    out = {}
    for n, sid in enumerate((GOOD, BAD)):
        state = make_session(sid, created=n)
        store.create_session(state)
        final = advance(state, status="completed")
        iterations = [make_iteration(i) for i in range(4)]
        store.save_session(
            final, expected_revision=1, append=iterations, report=make_report(final, iterations)
        )
        loaded = store.load_session(sid)
        assert loaded is not None
        out[sid] = loaded
    return out


def assert_others_fine(store: SessionStore, good: SessionState) -> None:
    """
    The untouched session still loads and lists as readable.
    """
    assert good == store.load_session(GOOD)
    (summary,) = [s for s in store.list_sessions() if s.session_id == GOOD]
    assert "completed" == summary.status
    assert 4 == summary.iteration_count


# ------------------------------------------------------------------------- SQLite


def sql(path: Path, statement: str, *args: object) -> None:
    """
    Run one statement on the database behind the store's back.
    """
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(statement, args)
    finally:
        conn.close()


def header_json(path: Path, sid: str) -> dict[str, object]:
    """
    The stored header JSON of *sid*.
    """
    conn = sqlite3.connect(path)
    try:
        (text,) = conn.execute(
            "SELECT header FROM sessions WHERE session_id = ?", (sid,)
        ).fetchone()
    finally:
        conn.close()
    data: dict[str, object] = json.loads(text)
    return data


def set_header(path: Path, data: dict[str, object]) -> None:
    """
    Replace the header JSON of the bad session.
    """
    sql(path, "UPDATE sessions SET header = ? WHERE session_id = ?", json.dumps(data), BAD)


@pytest.fixture(name="db")
def _db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture(name="sqlite_good")
def _sqlite_good(db: Path) -> SessionState:
    store = SQLiteStore(db)
    try:
        return fill(store)[GOOD]
    finally:
        store.close()


def open_sqlite(db: Path) -> SQLiteStore:
    """
    A fresh store on *db*.
    """
    return SQLiteStore(db)


class TestSQLiteCorruption:
    @pytest.mark.parametrize(
        ("corrupt", "problem"),
        [
            (
                lambda db: sql(
                    db, "UPDATE sessions SET header = 'garbage' WHERE session_id = ?", BAD
                ),
                "header: invalid JSON at line 1 column 1",
            ),
            (
                lambda db: set_header(db, {**header_json(db, BAD), "status": "exploded"}),
                "header: field 'status': 'exploded' is not a valid status",
            ),
            (
                lambda db: sql(
                    db,
                    "UPDATE sessions SET header = substr(header, 1, 40) WHERE session_id = ?",
                    BAD,
                ),
                "header: invalid JSON at line 1 column 33",
            ),
            (
                lambda db: set_header(
                    db, {k: v for k, v in header_json(db, BAD).items() if k != "version"}
                ),
                "header: field 'version': missing",
            ),
            (
                lambda db: set_header(db, {**header_json(db, BAD), "version": "1"}),
                "header: field 'version': expected an integer, got '1'",
            ),
        ],
    )
    def test_corrupt_header(
        self, db: Path, sqlite_good: SessionState, corrupt: Callable[[Path], None], problem: str
    ) -> None:
        """A corrupt header raises SessionCorrupt naming the row and defect on every load."""
        corrupt(db)
        store = open_sqlite(db)
        for load in (store.load_session, store.load_header):
            with pytest.raises(SessionCorrupt) as info:
                load(BAD)
            assert {"session_id": BAD, "problem": problem} == info.value.details
        assert_others_fine(store, sqlite_good)
        store.close()

    def test_corrupt_iteration(self, db: Path, sqlite_good: SessionState) -> None:
        """A garbage iteration body names the iteration."""
        sql(
            db, "UPDATE iterations SET body = '[' WHERE session_id = ? AND iteration_index = 2", BAD
        )
        store = open_sqlite(db)
        with pytest.raises(SessionCorrupt) as info:
            store.load_session(BAD)
        assert "iteration 2: invalid JSON at line 1 column 2" == info.value.problem
        assert [make_iteration(3)] == store.load_iterations(BAD, 3)
        assert_others_fine(store, sqlite_good)
        store.close()

    def test_invalid_iteration_field(self, db: Path, sqlite_good: SessionState) -> None:
        """An iteration with an invalid field names the iteration and the field."""
        body = json.dumps({**make_iteration(1).to_dict(), "status": "exploded"})
        sql(
            db,
            "UPDATE iterations SET body = ? WHERE session_id = ? AND iteration_index = 1",
            body,
            BAD,
        )
        store = open_sqlite(db)
        with pytest.raises(SessionCorrupt) as info:
            store.load_iterations(BAD)
        assert (
            "iteration 1: field 'status': 'exploded' is not a valid iteration status"
            == info.value.problem
        )
        store.close()

    def test_missing_iteration(self, db: Path, sqlite_good: SessionState) -> None:
        """A gap in the iteration rows is reported as missing."""
        sql(db, "DELETE FROM iterations WHERE session_id = ? AND iteration_index = 3", BAD)
        store = open_sqlite(db)
        with pytest.raises(SessionCorrupt) as info:
            store.load_session(BAD)
        assert "iterations[3]: missing" == info.value.problem
        assert_others_fine(store, sqlite_good)
        store.close()

    def test_corrupt_report(self, db: Path, sqlite_good: SessionState) -> None:
        """A garbage report names the report."""
        sql(db, "UPDATE reports SET body = 'nope' WHERE session_id = ?", BAD)
        store = open_sqlite(db)
        with pytest.raises(SessionCorrupt) as info:
            store.load_report(BAD)
        assert "report: invalid JSON at line 1 column 1" == info.value.problem
        assert sqlite_good.session_id == store.load_report(GOOD).session_id  # type: ignore[union-attr]
        store.close()

    def test_version_two(self, db: Path, sqlite_good: SessionState) -> None:
        """A header of schema version 2 raises UnsupportedSchemaVersion and lists as unreadable."""
        set_header(db, {**header_json(db, BAD), "version": 2, "status": "whatever"})
        sql(db, "UPDATE sessions SET version = 2 WHERE session_id = ?", BAD)
        store = open_sqlite(db)
        with pytest.raises(UnsupportedSchemaVersion) as info:
            store.load_session(BAD)
        assert {"session_id": BAD, "version": 2, "supported": [1]} == info.value.details
        listing = store.list_sessions()
        assert [GOOD, BAD] == [s.session_id for s in listing]
        assert ("unreadable", None) == (listing[1].status, listing[1].created_at)
        assert (
            "unsupported_schema_version: session 'bad' has schema version 2; "
            "this missionkit reads version 1" == listing[1].error
        )
        assert [BAD] == [s.session_id for s in store.list_sessions(status="unreadable")]
        assert [GOOD] == [s.session_id for s in store.list_sessions(status="completed")]
        assert_others_fine(store, sqlite_good)
        store.close()

    def test_corrupt_summary_column(self, db: Path, sqlite_good: SessionState) -> None:
        """A summary column with an unknown status lists as unreadable, last."""
        sql(db, "UPDATE sessions SET status = 'exploded' WHERE session_id = ?", BAD)
        store = open_sqlite(db)
        listing = store.list_sessions(descending=False)
        assert [GOOD, BAD] == [s.session_id for s in listing]
        assert "session_corrupt: status: 'exploded' is not a valid status" == listing[1].error
        store.close()

    def test_unsupported_store_schema(self, db: Path, sqlite_good: SessionState) -> None:
        """A database whose store_schema is not 1 is refused by the constructor."""
        sql(db, "UPDATE meta SET value = '2' WHERE key = 'store_schema'")
        with pytest.raises(UnsupportedSchemaVersion) as info:
            SQLiteStore(db)
        assert 2 == info.value.details["version"]
        assert str(db) in str(info.value)
        assert "version '2'" in str(info.value)


class TestSQLiteOpen:
    def test_missing_directory(self, tmp_path: Path) -> None:
        """The parent directory must exist."""
        with pytest.raises(StoreError) as info:
            SQLiteStore(tmp_path / "nope" / "store.db")
        assert not (tmp_path / "nope").exists()
        assert "does not exist" in info.value.problem

    def test_new_file_is_private(self, db: Path) -> None:
        """A new database file has mode 0600 and the schema row."""
        SQLiteStore(db).close()
        assert 0o600 == db.stat().st_mode & 0o777
        conn = sqlite3.connect(db)
        try:
            rows = conn.execute("SELECT key, value FROM meta").fetchall()
            mode = conn.execute("PRAGMA journal_mode").fetchone()
        finally:
            conn.close()
        assert [("store_schema", "1")] == rows
        assert ("wal",) == mode

    def test_create_false_creates_nothing(self, tmp_path: Path) -> None:
        """With create=False a missing database reads as empty and is not created."""
        store = SQLiteStore(tmp_path / "store.db", create=False)
        assert [] == store.list_sessions()
        assert None is store.load_session("x")
        assert False is store.delete_session("x")
        with pytest.raises(StoreError):
            store.create_session(make_session("x"))
        store.close()
        assert [] == list(tmp_path.iterdir())

    def test_create_false_reads_existing(self, db: Path, sqlite_good: SessionState) -> None:
        """With create=False an existing database is read normally."""
        store = SQLiteStore(db, create=False)
        assert sqlite_good == store.load_session(GOOD)
        store.close()

    def test_locked_database_is_a_store_error(self, db: Path, sqlite_good: SessionState) -> None:
        """A lock held past the timeout surfaces as StoreError caused by sqlite3.Error."""
        store = SQLiteStore(db, timeout=0.05)
        blocker = sqlite3.connect(db, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StoreError) as info:
                store.save_session(advance(sqlite_good), expected_revision=sqlite_good.revision)
            assert isinstance(info.value.__cause__, sqlite3.Error)
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        assert sqlite_good == store.load_session(GOOD)
        store.close()

    def test_closed_store_refuses(self, db: Path) -> None:
        """Calls after close() raise StoreError."""
        store = SQLiteStore(db)
        store.close()
        with pytest.raises(StoreError):
            store.load_revision("x")


# ------------------------------------------------------------------------ JsonDir


@pytest.fixture(name="root")
def _root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture(name="jsondir_good")
def _jsondir_good(root: Path) -> SessionState:
    return fill(JsonDirStore(root))[GOOD]


def edit_session_json(root: Path, change: Callable[[dict[str, object]], None]) -> None:
    """
    Rewrite the bad session's session.json through *change*.
    """
    path = root / BAD / "session.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


class TestJsonDirCorruption:
    @pytest.mark.parametrize(
        ("corrupt", "problem"),
        [
            (
                lambda root: (root / BAD / "session.json").write_text("garbage"),
                "session.json: invalid JSON at line 1 column 1",
            ),
            (
                lambda root: edit_session_json(root, lambda d: d.update(status="exploded")),
                "session.json: field 'status': 'exploded' is not a valid status",
            ),
            (
                lambda root: (root / BAD / "session.json").write_bytes(
                    (root / BAD / "session.json").read_bytes()[:40]
                ),
                "session.json: invalid JSON at line 1 column 33",
            ),
            (
                lambda root: edit_session_json(root, lambda d: d.pop("version")),
                "session.json: field 'version': missing",
            ),
            (
                lambda root: edit_session_json(root, lambda d: d.pop("iteration_count")),
                "session.json: field 'iteration_count': None is not a count",
            ),
        ],
    )
    def test_corrupt_session_file(
        self, root: Path, jsondir_good: SessionState, corrupt: Callable[[Path], None], problem: str
    ) -> None:
        """A corrupt session.json raises SessionCorrupt naming it and lists as unreadable."""
        corrupt(root)
        store = JsonDirStore(root)
        for load in (store.load_session, store.load_header):
            with pytest.raises(SessionCorrupt) as info:
                load(BAD)
            assert {"session_id": BAD, "problem": problem} == info.value.details
        listing = store.list_sessions()
        assert [GOOD, BAD] == [s.session_id for s in listing]
        assert "unreadable" == listing[1].status
        assert f"session_corrupt: {problem}" == listing[1].error
        assert_others_fine(store, jsondir_good)

    def test_corrupt_iteration_file(self, root: Path, jsondir_good: SessionState) -> None:
        """A garbage iteration file is named in the problem."""
        (root / BAD / "iterations" / "00000002.json").write_text("{")
        store = JsonDirStore(root)
        with pytest.raises(SessionCorrupt) as info:
            store.load_session(BAD)
        assert "iterations/00000002.json: invalid JSON at line 1 column 2" == info.value.problem
        assert_others_fine(store, jsondir_good)

    def test_missing_iteration_file(self, root: Path, jsondir_good: SessionState) -> None:
        """A missing committed iteration file is reported as missing."""
        (root / BAD / "iterations" / "00000003.json").unlink()
        store = JsonDirStore(root)
        with pytest.raises(SessionCorrupt) as info:
            store.load_iterations(BAD, 1)
        assert "iterations/00000003.json: missing" == info.value.problem
        assert_others_fine(store, jsondir_good)

    def test_misplaced_iteration_file(self, root: Path, jsondir_good: SessionState) -> None:
        """An iteration file holding another index is corrupt."""
        folder = root / BAD / "iterations"
        (folder / "00000001.json").write_bytes((folder / "00000002.json").read_bytes())
        store = JsonDirStore(root)
        with pytest.raises(SessionCorrupt) as info:
            store.load_session(BAD)
        assert (
            "iterations/00000001.json: field 'iteration_index': 2 where 1 is expected"
            == info.value.problem
        )

    def test_corrupt_report(self, root: Path, jsondir_good: SessionState) -> None:
        """A garbage report.json is named in the problem."""
        (root / BAD / "report.json").write_text("")
        store = JsonDirStore(root)
        with pytest.raises(SessionCorrupt) as info:
            store.load_report(BAD)
        assert "report.json: invalid JSON at line 1 column 1" == info.value.problem
        assert_others_fine(store, jsondir_good)

    def test_version_two(self, root: Path, jsondir_good: SessionState) -> None:
        """A session.json of version 2 is checked before anything else is decoded."""
        (root / BAD / "session.json").write_text(json.dumps({"version": 2, "shape": "new"}))
        store = JsonDirStore(root)
        with pytest.raises(UnsupportedSchemaVersion) as info:
            store.load_header(BAD)
        assert 2 == info.value.details["version"]
        with pytest.raises(UnsupportedSchemaVersion):
            store.load_revision(BAD)
        listing = store.list_sessions()
        assert (
            "unsupported_schema_version: session 'bad' has schema version 2; "
            "this missionkit reads version 1" == listing[1].error
        )
        assert_others_fine(store, jsondir_good)

    def test_leftovers_are_ignored(self, root: Path, jsondir_good: SessionState) -> None:
        """Files left by an interrupted commit are ignored, then overwritten."""
        store = JsonDirStore(root)
        state = make_session("lo")
        store.create_session(state)
        folder = root / "lo" / "iterations"
        (folder / "00000000.json").write_text("leftover of an interrupted commit")
        (root / "lo" / "report.json").write_text("stale")
        (root / "lo" / "session.json.abc.tmp").write_text("half")
        assert [] == store.load_iterations("lo")
        assert None is store.load_report("lo")
        new = advance(state)
        store.save_session(new, expected_revision=1, append=[make_iteration(0)])
        assert [make_iteration(0)] == store.load_iterations("lo")

    def test_foreign_entries_do_not_list(self, root: Path, jsondir_good: SessionState) -> None:
        """Hidden entries, files and directories without session.json are not sessions."""
        (root / ".trash").mkdir()
        (root / "notes.txt").write_text("hi")
        (root / "empty").mkdir()
        store = JsonDirStore(root)
        assert [BAD, GOOD] == [
            s.session_id for s in store.list_sessions(order_by="session_id", descending=False)
        ]


class TestJsonDirWriteFailures:
    def test_failed_replace_keeps_previous_state(
        self, root: Path, jsondir_good: SessionState, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failing rename (disk full) raises StoreError and keeps the old state, no tmp files."""
        store = JsonDirStore(root)

        def full(src: object, dst: object) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

        state = make_session("w")
        store.create_session(state)
        before = store.load_session("w")
        monkeypatch.setattr(os, "replace", full)
        with pytest.raises(StoreError) as info:
            store.save_session(advance(state), expected_revision=1, append=[make_iteration(0)])
        assert isinstance(info.value.__cause__, OSError)
        assert errno.ENOSPC == info.value.__cause__.errno
        with pytest.raises(StoreError):
            store.create_session(make_session("w2"))
        monkeypatch.undo()
        assert before == store.load_session("w")
        assert None is store.load_header("w2")
        assert [] == list(root.rglob("*.tmp"))
        assert_others_fine(store, jsondir_good)

    def test_failed_fsync_keeps_previous_state(
        self, root: Path, jsondir_good: SessionState, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failing fsync (I/O error) raises StoreError and leaves the stored session intact."""
        store = JsonDirStore(root)

        def broken(fd: int) -> None:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        monkeypatch.setattr(os, "fsync", broken)
        with pytest.raises(StoreError):
            store.save_session(advance(jsondir_good), expected_revision=jsondir_good.revision)
        monkeypatch.undo()
        assert jsondir_good == store.load_session(GOOD)
        assert [] == list(root.rglob("*.tmp"))

    def test_root_is_a_file(self, tmp_path: Path) -> None:
        """A root that is a regular file is a StoreError on write and read."""
        (tmp_path / "file").write_text("x")
        store = JsonDirStore(tmp_path / "file")
        with pytest.raises(StoreError):
            store.create_session(make_session("x"))
        with pytest.raises(StoreError):
            store.list_sessions()

    def test_permissions(self, root: Path, jsondir_good: SessionState) -> None:
        """Directories are 0700 and files 0600."""
        assert 0o700 == root.stat().st_mode & 0o777
        for path in (root / GOOD).rglob("*"):
            expected = 0o700 if path.is_dir() else 0o600
            assert (str(path), expected) == (str(path), path.stat().st_mode & 0o777)

    def test_closed_store_refuses(self, root: Path) -> None:
        """Calls after close() raise StoreError."""
        store = JsonDirStore(root)
        store.close()
        store.close()
        with pytest.raises(StoreError):
            store.load_revision("x")
