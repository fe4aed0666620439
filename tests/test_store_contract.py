"""
The SessionStore contract (SPEC §11), run against every store.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from missionkit.errors import (
    ConcurrentUpdate,
    InvalidArgument,
    MissionValidationError,
    SessionNotFound,
)
from missionkit.models import SessionState
from missionkit.store import SessionStore
from store_samples import advance, build_store, make_iteration, make_report, make_session

SID = "mission-0000000000000001"

BAD_IDS = ["../x", "a/b", ".hidden", "x" * 129, "", "a b", "a\x00b", 5, None]


@pytest.fixture(name="store", params=["memory", "sqlite", "jsondir"])
def _store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    store = build_store(request.param, tmp_path)
    yield store
    store.close()


@pytest.fixture(name="created")
def _created(store: SessionStore) -> SessionState:
    state = make_session(SID)
    assert store.create_session(state)
    return state


def commit(store: SessionStore, state: SessionState, n: int = 1, **kw: object) -> SessionState:
    """
    Append *n* iterations to *state* in one save; return the new header.
    """
    count = len(store.load_iterations(state.session_id))
    new = advance(state, **kw)  # type: ignore[arg-type]
    store.save_session(
        new,
        expected_revision=state.revision,
        append=[make_iteration(count + i) for i in range(n)],
    )
    return new


class TestCreateAndLoad:
    def test_create_then_load(self, store: SessionStore, created: SessionState) -> None:
        """A created session loads back equal, at revision 1, without iterations."""
        assert created == store.load_session(SID)
        assert created == store.load_header(SID)
        assert 1 == store.load_revision(SID)
        assert [] == store.load_iterations(SID)

    def test_duplicate_create_returns_false(
        self, store: SessionStore, created: SessionState
    ) -> None:
        """Creating an existing id returns False and leaves the stored session alone."""
        other = make_session(SID, metadata={"other": True})
        assert False is store.create_session(other)
        assert created == store.load_header(SID)

    def test_absent_session(self, store: SessionStore) -> None:
        """Every read of an absent session returns None or an empty list."""
        assert None is store.load_session(SID)
        assert None is store.load_header(SID)
        assert None is store.load_revision(SID)
        assert None is store.load_report(SID)
        assert [] == store.load_iterations(SID)

    def test_create_rejects_non_new_state(self, store: SessionStore) -> None:
        """A state at revision 2 or holding iterations is not a new session."""
        with pytest.raises(ValueError):
            store.create_session(attrs.evolve(make_session(SID), revision=2))
        with pytest.raises(ValueError):
            store.create_session(attrs.evolve(make_session(SID), iterations=(make_iteration(0),)))
        assert None is store.load_header(SID)

    def test_iterations_from_start(self, store: SessionStore, created: SessionState) -> None:
        """load_iterations returns the stored iterations from index start on."""
        commit(store, created, 5)
        expected = [make_iteration(i) for i in range(2, 5)]
        assert expected == store.load_iterations(SID, 2)
        assert [] == store.load_iterations(SID, 5)
        assert [] == store.load_iterations(SID, 50)

    def test_negative_start_rejected(self, store: SessionStore, created: SessionState) -> None:
        """A negative or non-int start is a ValueError."""
        with pytest.raises(ValueError):
            store.load_iterations(SID, -1)
        with pytest.raises(ValueError):
            store.load_iterations(SID, True)

    def test_header_has_no_iterations(self, store: SessionStore, created: SessionState) -> None:
        """load_header returns the header with an empty iteration tuple."""
        new = commit(store, created, 3)
        assert () == store.load_header(SID).iterations  # type: ignore[union-attr]
        assert new == store.load_header(SID)

    def test_state_iterations_are_ignored(self, store: SessionStore, created: SessionState) -> None:
        """save_session stores only append; iterations held by the state are ignored."""
        new = attrs.evolve(advance(created), iterations=(make_iteration(7),))
        store.save_session(new, expected_revision=1)
        assert [] == store.load_iterations(SID)
        assert attrs.evolve(new, iterations=()) == store.load_session(SID)

    def test_non_finite_floats_round_trip(self, store: SessionStore, created: SessionState) -> None:
        """NaN and ±inf in iterations and headers survive storage."""
        new = advance(created, paused_seconds=0.0, metadata={"x": math.inf, "y": -math.inf})
        store.save_session(
            new,
            expected_revision=1,
            append=[make_iteration(0, loss=math.nan), make_iteration(1, loss=math.inf)],
        )
        loaded = store.load_session(SID)
        assert loaded is not None
        assert math.isnan(loaded.iterations[0].observation.metrics["val_loss"])  # type: ignore[union-attr]
        assert math.inf == loaded.iterations[1].observation.metrics["val_loss"]  # type: ignore[union-attr]
        assert {"x": math.inf, "y": -math.inf} == loaded.metadata


class TestSave:
    def test_commit_appends_and_bumps_revision(
        self, store: SessionStore, created: SessionState
    ) -> None:
        """A save replaces the header and appends the iterations."""
        new = commit(store, created, 2, status="running")
        assert 2 == store.load_revision(SID)
        assert attrs.evolve(new, iterations=(make_iteration(0), make_iteration(1))) == (
            store.load_session(SID)
        )

    def test_many_commits(self, store: SessionStore, created: SessionState) -> None:
        """Successive commits accumulate consecutive iterations."""
        state = created
        for _ in range(10):
            state = commit(store, state)
        assert 11 == store.load_revision(SID)
        assert list(range(10)) == [it.iteration_index for it in store.load_iterations(SID)]

    @pytest.mark.parametrize("revision", [1, 3, 5])
    def test_revision_arithmetic(
        self, store: SessionStore, created: SessionState, revision: int
    ) -> None:
        """state.revision must be expected_revision + 1, checked before any I/O."""
        new = attrs.evolve(created, revision=revision)
        with pytest.raises(ValueError):
            store.save_session(new, expected_revision=1, append=[make_iteration(0)])
        assert created == store.load_session(SID)

    def test_revision_arithmetic_before_existence(self, store: SessionStore) -> None:
        """The revision check comes before the existence check."""
        with pytest.raises(ValueError):
            store.save_session(make_session(SID), expected_revision=1)

    def test_missing_session(self, store: SessionStore) -> None:
        """Saving an absent session raises SessionNotFound and creates nothing."""
        with pytest.raises(SessionNotFound) as info:
            store.save_session(advance(make_session(SID)), expected_revision=1)
        assert SID == info.value.session_id
        assert None is store.load_header(SID)
        assert [] == store.list_sessions()

    def test_stale_revision(self, store: SessionStore, created: SessionState) -> None:
        """A stale expected_revision raises ConcurrentUpdate and writes nothing."""
        current = commit(store, created)
        with pytest.raises(ConcurrentUpdate) as info:
            store.save_session(
                advance(created, status="running"),
                expected_revision=1,
                append=[make_iteration(1)],
                report=make_report(created, []),
            )
        expected = {"session_id": SID, "expected_revision": 1, "actual_revision": 2}
        assert expected == info.value.details
        assert attrs.evolve(current, iterations=(make_iteration(0),)) == store.load_session(SID)
        assert None is store.load_report(SID)

    @pytest.mark.parametrize("indices", [[1], [0, 2], [0, 0], [5]])
    def test_append_must_continue(
        self, store: SessionStore, created: SessionState, indices: list[int]
    ) -> None:
        """Appended iterations must continue the stored count; otherwise nothing is written."""
        with pytest.raises(ValueError):
            store.save_session(
                advance(created), expected_revision=1, append=[make_iteration(i) for i in indices]
            )
        assert created == store.load_session(SID)

    def test_append_rejects_duplicate_index(
        self, store: SessionStore, created: SessionState
    ) -> None:
        """Re-appending a stored index is refused; stored iterations are never rewritten."""
        state = commit(store, created, 2)
        with pytest.raises(ValueError):
            store.save_session(advance(state), expected_revision=2, append=[make_iteration(1)])
        assert [make_iteration(0), make_iteration(1)] == store.load_iterations(SID)
        assert 2 == store.load_revision(SID)


class TestReport:
    def test_report_stored_with_terminal_commit(
        self, store: SessionStore, created: SessionState
    ) -> None:
        """A report saved with a terminal header is returned by load_report."""
        final = advance(created, status="completed")
        report = make_report(final, [make_iteration(0)])
        store.save_session(final, expected_revision=1, append=[make_iteration(0)], report=report)
        assert report == store.load_report(SID)
        assert "completed" == store.load_header(SID).status  # type: ignore[union-attr]

    def test_no_report_before_terminal(self, store: SessionStore, created: SessionState) -> None:
        """A running session has no report."""
        commit(store, created, status="running")
        assert None is store.load_report(SID)

    def test_report_of_non_terminal_header_is_ignored(
        self, store: SessionStore, created: SessionState
    ) -> None:
        """A report stored beside a non-terminal header is treated as absent."""
        running = advance(created, status="running")
        store.save_session(running, expected_revision=1, report=make_report(created, []))
        assert None is store.load_report(SID)

    def test_report_deleted_with_session(self, store: SessionStore, created: SessionState) -> None:
        """Deleting a session removes its report."""
        final = advance(created, status="terminated")
        store.save_session(final, expected_revision=1, report=make_report(final, []))
        assert store.delete_session(SID)
        assert None is store.load_report(SID)


def populate(store: SessionStore) -> None:
    """
    Five sessions with distinct and tied timestamps and statuses.
    """
    specs = [("a", 30, "pending"), ("b", 10, "running"), ("c", 20, "running"),
             ("d", 20, "completed"), ("e", 40, "pending")]  # fmt: skip
    for name, created, status in specs:
        state = make_session(f"s-{name}", created=created)
        assert store.create_session(state)
        if status != "pending":
            store.save_session(
                advance(state, status=status, seconds=100 - created),
                expected_revision=1,
                append=[make_iteration(0)],
            )


def ids(store: SessionStore, **kwargs: object) -> list[str]:
    """
    The ids of a listing.
    """
    return [s.session_id for s in store.list_sessions(**kwargs)]  # type: ignore[arg-type]


class TestListing:
    def test_default_order(self, store: SessionStore) -> None:
        """By default sessions are newest-created first, ties by id ascending."""
        populate(store)
        assert ["s-e", "s-a", "s-c", "s-d", "s-b"] == ids(store)

    def test_ascending_ties_by_id(self, store: SessionStore) -> None:
        """Ascending order also breaks ties by id ascending."""
        populate(store)
        assert ["s-b", "s-c", "s-d", "s-a", "s-e"] == ids(store, descending=False)

    def test_order_by_updated_and_id(self, store: SessionStore) -> None:
        """Ordering by updated_at and by session_id works in both directions."""
        populate(store)
        # updated: a=30, b=10+90=100, c=20+80=100, d=100, e=40
        assert ["s-b", "s-c", "s-d", "s-e", "s-a"] == ids(store, order_by="updated_at")
        assert ["s-a", "s-e", "s-b", "s-c", "s-d"] == ids(
            store, order_by="updated_at", descending=False
        )
        assert ["s-e", "s-d", "s-c", "s-b", "s-a"] == ids(store, order_by="session_id")
        assert ["s-a", "s-b", "s-c", "s-d", "s-e"] == ids(
            store, order_by="session_id", descending=False
        )

    def test_status_filter(self, store: SessionStore) -> None:
        """A status filter keeps only sessions with that exact status."""
        populate(store)
        assert ["s-c", "s-b"] == ids(store, status="running")
        assert [] == ids(store, status="paused")
        assert [] == ids(store, status="unreadable")

    def test_pagination(self, store: SessionStore) -> None:
        """limit and offset page through the ordered listing."""
        populate(store)
        assert ["s-e", "s-a"] == ids(store, limit=2)
        assert ["s-c", "s-d"] == ids(store, limit=2, offset=2)
        assert ["s-b"] == ids(store, limit=2, offset=4)
        assert [] == ids(store, offset=5)

    def test_summary_fields(self, store: SessionStore) -> None:
        """Summaries carry status, timestamps, iteration count and verdict fields."""
        populate(store)
        (summary,) = [s for s in store.list_sessions() if s.session_id == "s-d"]
        assert ("completed", 1, None) == (
            summary.status,
            summary.iteration_count,
            summary.error,
        )
        assert make_session("s-d", created=20).created_at == summary.created_at

    def test_empty(self, store: SessionStore) -> None:
        """An empty store lists nothing."""
        assert [] == store.list_sessions()

    @pytest.mark.parametrize(
        ("kwargs", "argument", "reason"),
        [
            ({"status": "exploded"}, "status", "unknown_status"),
            ({"status": 3}, "status", "unknown_status"),
            ({"order_by": "revision"}, "order_by", "invalid_value"),
            ({"descending": "yes"}, "descending", "must_be_bool"),
            ({"limit": 0}, "limit", "must_be_positive_int"),
            ({"limit": True}, "limit", "must_be_positive_int"),
            ({"limit": 1.0}, "limit", "must_be_positive_int"),
            ({"offset": -1}, "offset", "must_be_non_negative_int"),
            ({"offset": False}, "offset", "must_be_non_negative_int"),
            ({"offset": None}, "offset", "must_be_non_negative_int"),
        ],
    )
    def test_argument_errors(
        self, store: SessionStore, kwargs: dict[str, object], argument: str, reason: str
    ) -> None:
        """Malformed listing arguments raise InvalidArgument naming the argument and reason."""
        with pytest.raises(InvalidArgument) as info:
            store.list_sessions(**kwargs)  # type: ignore[arg-type]
        assert {"argument": argument, "reason": reason} == info.value.details


class TestDelete:
    def test_delete_is_idempotent(self, store: SessionStore, created: SessionState) -> None:
        """delete_session returns True once, then False; the session is gone."""
        commit(store, created, 3)
        assert True is store.delete_session(SID)
        assert False is store.delete_session(SID)
        assert None is store.load_session(SID)
        assert [] == store.load_iterations(SID)
        assert [] == store.list_sessions()

    def test_save_after_delete(self, store: SessionStore, created: SessionState) -> None:
        """Saving a deleted session raises SessionNotFound."""
        store.delete_session(SID)
        with pytest.raises(SessionNotFound):
            store.save_session(advance(created), expected_revision=1)

    def test_recreate_after_delete(self, store: SessionStore, created: SessionState) -> None:
        """A deleted id can be created again, starting with no iterations."""
        commit(store, created, 2)
        store.delete_session(SID)
        assert store.create_session(created)
        assert created == store.load_session(SID)

    def test_delete_leaves_others(self, store: SessionStore) -> None:
        """Deleting one session leaves the others intact."""
        populate(store)
        store.delete_session("s-c")
        assert ["s-e", "s-a", "s-d", "s-b"] == ids(store)


def _calls(state: SessionState) -> list[Callable[[SessionStore, object], object]]:
    def save(s: SessionStore, sid: object) -> object:
        s.save_session(attrs.evolve(advance(state), session_id=sid), expected_revision=1)
        return None

    return [
        lambda s, sid: s.create_session(attrs.evolve(state, session_id=sid)),
        lambda s, sid: s.load_session(sid),  # type: ignore[arg-type]
        lambda s, sid: s.load_header(sid),  # type: ignore[arg-type]
        lambda s, sid: s.load_revision(sid),  # type: ignore[arg-type]
        lambda s, sid: s.load_iterations(sid),  # type: ignore[arg-type]
        lambda s, sid: s.load_report(sid),  # type: ignore[arg-type]
        lambda s, sid: s.delete_session(sid),  # type: ignore[arg-type]
        save,
    ]


class TestIds:
    @pytest.mark.parametrize("bad", BAD_IDS)
    def test_every_method_validates_ids(
        self, store: SessionStore, tmp_path: Path, bad: object
    ) -> None:
        """Every method rejects a malformed id with session_id_invalid and touches nothing."""
        before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        for call in _calls(make_session(SID)):
            with pytest.raises(MissionValidationError) as info:
                call(store, bad)
            assert {"field": "session_id", "reason": "session_id_invalid"} == info.value.details
        assert before == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        assert [] == store.list_sessions()


class TestThreads:
    def test_threads_racing_on_one_session(self, store: SessionStore) -> None:
        """Threads committing with compare-and-swap never lose or duplicate an iteration."""
        store.create_session(make_session(SID))
        target = 40
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                while True:
                    header = store.load_header(SID)
                    assert header is not None
                    count = len(store.load_iterations(SID))
                    if count >= target:
                        return
                    try:
                        store.save_session(
                            advance(header),
                            expected_revision=header.revision,
                            append=[make_iteration(count)],
                        )
                    except (ConcurrentUpdate, ValueError):
                        continue
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert [] == errors
        assert list(range(target)) == [it.iteration_index for it in store.load_iterations(SID)]
        assert target + 1 == store.load_revision(SID)

    def test_threads_on_distinct_sessions(self, store: SessionStore) -> None:
        """Threads working on their own sessions all succeed."""

        def worker(n: int) -> None:
            state = make_session(f"t-{n}")
            store.create_session(state)
            for _ in range(5):
                state = commit(store, state)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert [5] * 4 == [s.iteration_count for s in store.list_sessions()]


class TestClose:
    def test_close_is_idempotent(self, store: SessionStore) -> None:
        """close() can be called twice."""
        store.close()
        store.close()

    def test_is_a_session_store(self, store: SessionStore) -> None:
        """Every store satisfies the runtime-checkable protocol."""
        assert isinstance(store, SessionStore)


class TestPublicSurface:
    def test_exports(self) -> None:
        """missionkit.store exports exactly the protocol and the three stores, sorted."""
        import missionkit.store

        expected = ["JsonDirStore", "MemoryStore", "SQLiteStore", "SessionStore"]
        assert expected == missionkit.store.__all__
