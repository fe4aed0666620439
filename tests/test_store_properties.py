"""
Property tests: durable stores behave like MemoryStore, and ids never escape the root.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from missionkit.errors import MissionkitError
from missionkit.store import JsonDirStore, MemoryStore, SessionStore, SQLiteStore
from store_samples import advance, make_iteration, make_report, make_session

IDS = ["a", "b", "c"]

operation = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(IDS)),
    st.tuples(
        st.just("save"),
        st.sampled_from(IDS),
        st.integers(-1, 1),  # revision skew
        st.integers(-1, 1),  # first appended index skew
        st.integers(0, 2),  # iterations appended
        st.booleans(),  # terminal with a report
    ),
    st.tuples(st.just("delete"), st.sampled_from(IDS)),
)


def apply(store: SessionStore, op: tuple[object, ...]) -> object:
    """
    Run *op*, returning its result or the type and details of the error it raised.
    """
    kind, sid = op[0], str(op[1])
    try:
        if kind == "create":
            return store.create_session(make_session(sid))
        if kind == "delete":
            return store.delete_session(sid)
        _, _, rev_skew, index_skew, n, terminal = op
        header = store.load_header(sid) or make_session(sid)
        count = len(store.load_iterations(sid))
        new = advance(header, status="completed" if terminal else None)
        first = max(0, count + int(index_skew))  # type: ignore[call-overload]
        iterations = [make_iteration(first + i) for i in range(int(n))]  # type: ignore[call-overload]
        store.save_session(
            new,
            expected_revision=header.revision + int(rev_skew),  # type: ignore[call-overload]
            append=iterations,
            report=make_report(new, iterations) if terminal else None,
        )
        return None
    except MissionkitError as exc:
        return (type(exc).__name__, exc.details)
    except ValueError:
        return "ValueError"


def snapshot(store: SessionStore) -> object:
    """
    Everything observable about the store.
    """
    return (
        store.list_sessions(order_by="session_id"),
        [store.load_session(sid) for sid in IDS],
        [store.load_report(sid) for sid in IDS],
    )


class TestModel:
    @pytest.mark.parametrize("kind", ["sqlite", "jsondir"])
    @settings(max_examples=25, deadline=None)
    @given(ops=st.lists(operation, max_size=12))
    def test_durable_store_matches_memory(self, kind: str, ops: list[tuple[object, ...]]) -> None:
        """Any sequence of creates, saves and deletes gives the same results as MemoryStore."""
        with tempfile.TemporaryDirectory() as tmp:
            model = MemoryStore()
            real: SessionStore = (
                SQLiteStore(Path(tmp) / "s.db") if kind == "sqlite" else JsonDirStore(Path(tmp))
            )
            try:
                for op in ops:
                    assert apply(model, op) == apply(real, op)
                assert snapshot(model) == snapshot(real)
            finally:
                real.close()


class TestIdsStayInside:
    @settings(max_examples=60, deadline=None)
    @given(
        session_id=st.one_of(
            st.text(max_size=140),
            st.from_regex(r"[A-Za-z0-9_.-]{1,128}", fullmatch=True),
            st.sampled_from(["..", ".", "../root", "inner/../x", "x/", "/abs"]),
        )
    )
    def test_arbitrary_ids_never_touch_outside(self, session_id: str) -> None:
        """Whatever the id, a JsonDirStore writes only below its root."""
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            root = base / "inner" / "root"
            root.parent.mkdir()
            store = JsonDirStore(root)
            try:
                created = store.create_session(make_session(session_id))
            except MissionkitError:
                created = False
            if created:
                assert (root / session_id / "session.json").is_file()
                assert store.delete_session(session_id)
            outside = [p for p in base.rglob("*") if p != root.parent and root not in p.parents]
            assert [] == [p for p in outside if p != root]
