"""
Conformance tests for audit (SPEC §10, §6.16) and persistence (SPEC §11), black-box.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import missionkit as mk
from fakes import UNCAPPED, threshold
from missionkit.audit import (
    JsonlSink,
    LoggingSink,
    MemorySink,
    RingBufferSink,
    replay_audit_entries,
)
from missionkit.store import JsonDirStore, MemoryStore, SessionStore, SQLiteStore
from missionkit.testing import FakeClock, ScriptedSampler
from store_samples import advance, build_store, make_iteration, make_report, make_session

LOSS = [threshold(op="<")]
LESSONS = '{"lessons": ["learned é"], "recommended_followups": ["next"]}'


def train() -> dict[str, Any]:
    """
    A tool whose loss never meets the criterion.
    """
    return {"metrics": {"loss": 0.5}}


def label(entry: dict[str, Any]) -> str:
    """
    A short label for an event dict.
    """
    kind = entry["event_type"]
    if kind == "mission_phase_event":
        return f"phase:{entry['phase']}:{entry['phase_status']}"
    if kind == "mission_verdict_event":
        return f"verdict:{entry['verdict']}/{entry['verdict_reason']}"
    if kind == "mission_lifecycle_event":
        return f"lifecycle:{entry['action']}"
    if kind == "mission_sampling_event":
        return f"sampling:{entry['sampling_purpose']}"
    return str(kind)


class StoreWatcher:
    """
    A sink that records, per event, the stored status, pending proposal and report presence.
    """

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self.seen: list[tuple[str, str | None, bool, bool]] = []

    def __call__(self, event: Any, /) -> None:
        header = self.store.load_header(event.mission_session_id)
        report = self.store.load_report(event.mission_session_id)
        self.seen.append(
            (
                label(event.to_dict()),
                None if header is None else header.status,
                header is not None and header.pending_proposal is not None,
                report is not None,
            )
        )


def mission_with(
    sink: Any = None, *, store: SessionStore | None = None, **kwargs: Any
) -> mk.Mission:
    """
    A Mission with the ``train`` tool and a FakeClock unless one is given.
    """
    kwargs.setdefault("clock", FakeClock())
    return mk.Mission(
        tools={"train": train},
        store=store if store is not None else MemoryStore(),
        sinks=[] if sink is None else [sink],
        **kwargs,
    )


def begin(mission: mk.Mission, **kwargs: Any) -> mk.Session:
    """
    Start a session with the loss criterion and the train tool allowed.
    """
    kwargs.setdefault("budget", UNCAPPED)
    return mission.start(
        directive="Drive the loss down", criteria=LOSS, tool_allowlist=["train"], **kwargs
    )


@pytest.fixture(name="store", params=["memory", "sqlite", "jsondir"])
def _store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    store = build_store(request.param, tmp_path)
    yield store
    store.close()


# ------------------------------------------------------------- §6.16 event order


class TestEventsPerOperation:
    def test_deadline_iteration(self) -> None:
        """§6.16: a deadline iteration emits only phase decide, then the verdict."""
        clock = FakeClock()
        sink = MemorySink()
        session = begin(
            mission_with(sink, clock=clock),
            budget={"max_iterations": -1, "max_wall_clock_seconds": 10},
        )
        session.step()
        clock.advance(60)
        sink.clear()

        session.step()

        assert ["phase:decide:succeeded", "verdict:terminate/max_wall_clock"] == [
            label(e) for e in sink.entries()
        ]

    def test_deadline_final_lessons_before_commit(self) -> None:
        """§6.16: deadline with a sampler: decide, final_lessons (pre-commit), commit, verdict."""
        clock = FakeClock()
        store = MemoryStore()
        watcher = StoreWatcher(store)
        mission = mission_with(watcher, store=store, clock=clock, sampler=ScriptedSampler(LESSONS))
        session = begin(mission, budget={"max_iterations": -1, "max_wall_clock_seconds": 10})
        session.step()
        clock.advance(60)
        watcher.seen.clear()

        session.step()

        assert [
            ("phase:decide:succeeded", "running", False, False),
            ("sampling:final_lessons", "running", False, False),
            ("verdict:terminate/max_wall_clock", "terminated", False, True),
        ] == watcher.seen

    def test_observe(self) -> None:
        """§6.16: observe() emits observe, evaluate, decide phases, then the verdict."""
        sink = MemorySink()
        session = begin(mission_with(sink))
        sink.clear()

        session.observe({"metrics": {"loss": 0.5}})

        assert [
            "phase:observe:succeeded",
            "phase:evaluate:succeeded",
            "phase:decide:succeeded",
            "verdict:continue/in_progress",
        ] == [label(e) for e in sink.entries()]

    def test_propose_with_sampler_emits_before_commit(self) -> None:
        """§6.16: propose() emits sampling strategy_revision then phase propose, then commits."""
        store = MemoryStore()
        watcher = StoreWatcher(store)
        sink = MemorySink()
        mission = mk.Mission(
            tools={"train": train},
            store=store,
            sinks=[watcher, sink],
            clock=FakeClock(),
            sampler=ScriptedSampler("not json"),
        )
        session = begin(mission, use_sampling="every_iteration")
        watcher.seen.clear()
        sink.clear()

        session.propose()

        assert [
            ("sampling:strategy_revision", "pending", False, False),
            ("phase:propose:succeeded", "pending", False, False),
        ] == watcher.seen
        assert 0 == sink.entries()[0]["iteration_index"]
        assert session.state.pending_proposal is not None

    def test_step_with_sampler(self) -> None:
        """§6.16: a sampled step emits strategy_revision first and final_lessons last."""
        sink = MemorySink()
        mission = mission_with(sink, sampler=ScriptedSampler("nope", LESSONS))
        session = begin(
            mission,
            use_sampling="every_iteration",
            budget={"max_iterations": 1, "max_wall_clock_seconds": -1},
        )
        sink.clear()

        session.step()

        assert [
            "sampling:strategy_revision",
            "phase:propose:succeeded",
            "phase:execute:succeeded",
            "phase:observe:succeeded",
            "phase:evaluate:succeeded",
            "phase:decide:succeeded",
            "sampling:final_lessons",
            "verdict:terminate/max_iterations",
        ] == [label(e) for e in sink.entries()]

    @pytest.mark.parametrize(
        ("operation", "status", "action"),
        [("complete", "completed", "complete"), ("abort", "terminated", "abort")],
    )
    def test_operator_final_lessons_before_commit(
        self, operation: str, status: str, action: str
    ) -> None:
        """§6.16: complete/abort emit final_lessons before the commit and lifecycle after it."""
        store = MemoryStore()
        watcher = StoreWatcher(store)
        mission = mission_with(watcher, store=store, sampler=ScriptedSampler(LESSONS))
        session = begin(mission)
        session.step()
        watcher.seen.clear()

        getattr(session, operation)()

        assert [
            ("sampling:final_lessons", "running", False, False),
            (f"lifecycle:{action}", status, False, True),
        ] == watcher.seen

    def test_pause_and_resume_emit_after_commit(self) -> None:
        """§6.16: pause and resume emit their lifecycle event after the new status is stored."""
        store = MemoryStore()
        watcher = StoreWatcher(store)
        session = begin(mission_with(watcher, store=store))
        session.step()
        watcher.seen.clear()

        session.abort(pause=True)
        session.abort(pause=True)
        session.resume()

        assert [
            ("lifecycle:pause", "paused", False, False),
            ("lifecycle:resume", "running", False, False),
        ] == watcher.seen

    def test_failed_propose_call(self) -> None:
        """§6.11/§6.16/§10.1: a failing propose() emits a failed propose phase, then fail."""
        sink = MemorySink()

        def broken(ctx: Any) -> None:
            raise RuntimeError("x" * 500)

        session = begin(mission_with(sink, proposer=broken))
        session.observe({"metrics": {"loss": 0.5}})
        sink.clear()

        with pytest.raises(RuntimeError):
            session.propose()

        phase, life = sink.entries()
        text = ("RuntimeError: " + "x" * 500)[:200]
        assert ("propose", "failed", 1, text) == (
            phase["phase"],
            phase["phase_status"],
            phase["iteration_index"],
            phase["error_message"],
        )
        assert [
            "event_type",
            "mission_session_id",
            "action",
            "status",
            "timestamp",
            "previous_status",
            "iteration_index",
            "error_message",
        ] == list(life)
        assert ("fail", "failed", "running", 1, text) == (
            life["action"],
            life["status"],
            life["previous_status"],
            life["iteration_index"],
            life["error_message"],
        )

    def test_mission_without_sampler_records_disabled(self) -> None:
        """§10.1/§8.7: without a sampler the consultation is disabled with backend none."""
        store = MemoryStore()
        with_sampler = mission_with(store=store, sampler=ScriptedSampler())
        session_id = begin(with_sampler, use_sampling="every_iteration").id
        sink = MemorySink()
        session = mission_with(sink, store=store).session(session_id)

        session.step()
        session.complete()

        first = sink.entries()[0]
        assert {
            "event_type": "mission_sampling_event",
            "mission_session_id": session_id,
            "sampling_purpose": "strategy_revision",
            "sampling_status": "disabled",
            "sampling_backend": "none",
            "timestamp": first["timestamp"],
            "iteration_index": 0,
            "validation_error": "no_backend_resolved",
        } == first
        assert ["sampling:strategy_revision"] == [
            label(e) for e in sink.entries() if e["event_type"] == "mission_sampling_event"
        ]

    def test_sampler_defaults_in_final_lessons_event(self) -> None:
        """§10.1: backend defaults to host, an empty model_id is omitted, bytes are UTF-8."""

        class Plain:
            model_id = ""

            def __call__(self, prompt: str, /) -> str:
                return LESSONS

        sink = MemorySink()
        session = begin(mission_with(sink, sampler=Plain()))
        session.complete()

        event = sink.entries()[-2]
        assert [
            "event_type",
            "mission_session_id",
            "sampling_purpose",
            "sampling_status",
            "sampling_backend",
            "timestamp",
            "model_output_bytes",
        ] == list(event)
        assert ("final_lessons", "used", "host", len(LESSONS.encode("utf-8"))) == (
            event["sampling_purpose"],
            event["sampling_status"],
            event["sampling_backend"],
            event["model_output_bytes"],
        )

    def test_transport_error_text_in_sampling_event(self) -> None:
        """§10.1/§8.4: transport errors carry the exception text, cut to 200, or the TypeError."""
        sink = MemorySink()
        sampler = ScriptedSampler(RuntimeError("y" * 500), 123)  # type: ignore[arg-type]
        session = begin(mission_with(sink, sampler=sampler), use_sampling="every_iteration")
        session.step()
        session.step()

        events = [e for e in sink.entries() if e["event_type"] == "mission_sampling_event"]
        assert [
            (0, "rejected", ("RuntimeError: " + "y" * 500)[:200]),
            (1, "rejected", "TypeError: sampler returned int"),
        ] == [(e["iteration_index"], e["sampling_status"], e["validation_error"]) for e in events]

    def test_timestamps_are_read_at_emission(self) -> None:
        """§10.1: every event timestamp is a fresh clock read taken when the event is emitted."""
        sink = MemorySink()
        session = begin(mission_with(sink, clock=FakeClock(step=1)))
        session.step()
        entries = sink.entries()

        stamps = [e["timestamp"] for e in entries]
        assert sorted(set(stamps)) == stamps
        assert session.state.created_at.isoformat(timespec="microseconds") < stamps[0]
        for entry in entries[1:-1]:
            assert entry["phase_ended_at"] < entry["timestamp"]


# ------------------------------------------------------------ §10.2 delivery


class TestDeliveryThroughMission:
    def test_failing_sink_is_logged_and_skipped(self, caplog: pytest.LogCaptureFixture) -> None:
        """§10.2: a raising sink is logged per event on 'missionkit'; later sinks go on."""

        class Broken:
            def __call__(self, event: Any, /) -> None:
                raise ValueError("sink down")

            def __repr__(self) -> str:
                return "<Broken>"

        caplog.set_level(logging.WARNING, logger="missionkit")
        after = MemorySink()
        mission = mk.Mission(tools={"train": train}, sinks=[Broken(), after], clock=FakeClock())
        session = begin(mission)
        iteration = session.step()

        warnings = [r for r in caplog.records if r.name == "missionkit"]
        assert ("continue", 1) == (iteration.verdict, len(session.state.iterations))
        assert [e["event_type"] for e in after.entries()] == [
            r.missionkit_event_type  # type: ignore[attr-defined]
            for r in warnings
        ]
        assert {("<Broken>", logging.WARNING, True)} == {
            (r.missionkit_sink, r.levelno, r.exc_info is not None)  # type: ignore[attr-defined]
            for r in warnings
        }

    def test_sinks_run_on_the_operating_thread(self) -> None:
        """§10.2: events are delivered on the thread running the operation, in sink order."""
        calls: list[tuple[str, str]] = []

        def first(event: Any, /) -> None:
            calls.append(("first", threading.current_thread().name))

        def second(event: Any, /) -> None:
            calls.append(("second", threading.current_thread().name))

        mission = mk.Mission(tools={"train": train}, sinks=[first, second], clock=FakeClock())
        session = begin(mission)
        calls.clear()
        worker = threading.Thread(target=session.step, name="worker-x")
        worker.start()
        worker.join()

        assert 12 == len(calls)
        assert [("first", "worker-x"), ("second", "worker-x")] * 6 == calls

    def test_logging_sink_lines_match_event_dicts(self, caplog: pytest.LogCaptureFixture) -> None:
        """§10.2: LoggingSink logs one json.dumps line per event on missionkit.audit at INFO."""
        caplog.set_level(logging.INFO, logger="missionkit.audit")
        memory = MemorySink()
        mission = mk.Mission(
            tools={"train": train}, sinks=[LoggingSink(), memory], clock=FakeClock()
        )
        begin(mission).step()

        records = [r for r in caplog.records if r.name == "missionkit.audit"]
        assert [json.dumps(e) for e in memory.entries()] == [r.getMessage() for r in records]
        assert {logging.INFO} == {r.levelno for r in records}

    def test_ring_buffer_filters_by_session(self) -> None:
        """§10.2: RingBufferSink.entries_for returns one session's dicts in arrival order."""
        ring, memory = RingBufferSink(capacity=100), MemorySink()
        mission = mk.Mission(tools={"train": train}, sinks=[ring, memory], clock=FakeClock())
        first, second = begin(mission), begin(mission)
        first.step()
        second.step()
        first.step()

        assert memory.entries_for(first.id) == ring.entries_for(first.id)
        assert 1 + 12 == len(ring.entries_for(first.id))
        assert len(memory.entries()) == len(ring)

    def test_jsonl_replay_equals_stored_history(self, tmp_path: Path) -> None:
        """§10.3: replaying a JsonlSink file reproduces the stored history, failures with None."""
        path = tmp_path / "audit.jsonl"
        toggle = {"fail": False}

        def proposer(ctx: Any) -> None:
            if toggle["fail"]:
                raise ZeroDivisionError("boom")

        with JsonlSink(path) as sink:
            mission = mk.Mission(
                tools={"train": train}, sinks=[sink], proposer=proposer, clock=FakeClock()
            )
            session = begin(mission, stagnation_threshold=3)
            for _ in range(3):
                session.step()
            toggle["fail"] = True
            with pytest.raises(ZeroDivisionError):
                session.step()

        replayed = replay_audit_entries(session.id, JsonlSink.read_entries(path))
        stored = session.state.iterations
        assert [
            (
                it.iteration_index,
                [(p.phase, p.status) for p in it.phases],
                it.verdict,
                it.verdict_reason,
                it.revision_rationale,
            )
            for it in stored
        ] == [
            (
                r["iteration_index"],
                [(p["phase"], p["status"]) for p in r["phases"]],
                r["verdict"],
                r["verdict_reason"],
                r["revision_rationale"],
            )
            for r in replayed
        ]
        assert None is replayed[-1]["verdict"]
        assert "adjust" == replayed[2]["verdict"]
        assert replayed[2]["revision_rationale"]

    def test_replay_record_key_order(self) -> None:
        """§10.3: output records and phase entries have exactly the listed keys in order."""
        entries = [
            {
                "event_type": "mission_phase_event",
                "mission_session_id": "s",
                "iteration_index": 0,
                "phase": "propose",
                "phase_status": "failed",
                "phase_started_at": "a",
                "phase_ended_at": "b",
                "timestamp": "b",
                "error_message": "E: x",
            },
            {
                "event_type": "mission_phase_event",
                "mission_session_id": "s",
                "iteration_index": 1,
                "phase": "decide",
                "phase_status": "succeeded",
                "phase_started_at": "c",
                "phase_ended_at": "d",
                "timestamp": "d",
            },
        ]

        first, second = replay_audit_entries("s", entries)

        keys = ["iteration_index", "phases", "verdict", "verdict_reason", "revision_rationale"]
        assert (keys, keys) == (list(first), list(second))
        assert ["phase", "status", "started_at", "ended_at", "error_message"] == list(
            first["phases"][0]
        )
        assert ["phase", "status", "started_at", "ended_at"] == list(second["phases"][0])


# --------------------------------------------------------------- §11.2 saving


class TestSaveContract:
    def test_check_order_on_save(self, store: SessionStore) -> None:
        """§11.2: a missing session or a stale revision wins over a bad append; nothing written."""
        state = make_session("s-1")
        with pytest.raises(mk.SessionNotFound):
            store.save_session(advance(state), expected_revision=1, append=[make_iteration(5)])
        assert store.create_session(state)
        store.save_session(advance(state), expected_revision=1)

        with pytest.raises(mk.ConcurrentUpdate) as info:
            store.save_session(advance(state), expected_revision=1, append=[make_iteration(5)])

        assert ("concurrent_update", {"session_id": "s-1", "expected_revision": 1,
                "actual_revision": 2}) == (info.value.code, info.value.details)  # fmt: skip
        assert (2, []) == (store.load_revision("s-1"), store.load_iterations("s-1"))

    def test_duplicate_create_writes_nothing(self, store: SessionStore) -> None:
        """§11.1: create_session on an existing id returns False and leaves it unchanged."""
        state = make_session("s-1")
        store.create_session(state)

        again = store.create_session(attrs.evolve(state, directive_text="something else"))

        assert (False, state) == (again, store.load_session("s-1"))

    def test_handles_after_delete_raise_not_found(self, store: SessionStore) -> None:
        """§11.8: operations on open Session handles raise SessionNotFound after deletion."""
        mission = mission_with(store=store)
        session = begin(mission)
        session.step()
        assert store.delete_session(session.id)

        for call in (
            lambda: session.status,
            lambda: session.state,
            session.step,
            session.propose,
            session.checkpoint,
            session.complete,
            session.resume,
            session.report,
            lambda: session.observe({"metrics": {}}),
        ):
            with pytest.raises(mk.SessionNotFound) as info:
                call()
            assert {"session_id": session.id} == info.value.details

    def test_keyword_only_parameters(self, tmp_path: Path) -> None:
        """§10.2/§11.1/§11.4: fsync, timeout, expected_revision, listing args are keyword-only."""
        store = MemoryStore()
        for call in (
            lambda: JsonlSink(tmp_path / "a.jsonl", True),  # type: ignore[misc]
            lambda: SQLiteStore(tmp_path / "s.db", 1.0),  # type: ignore[misc]
            lambda: store.list_sessions("pending"),  # type: ignore[misc]
            lambda: store.save_session(advance(make_session()), 1),  # type: ignore[misc]
        ):
            with pytest.raises(TypeError):
                call()
        assert [] == list(tmp_path.iterdir())

    def test_generated_ids(self) -> None:
        """§11.8: generated ids are 'mission-' plus 16 lowercase hex characters, distinct."""
        mission = mission_with()
        ids = [begin(mission).id for _ in range(20)]

        assert all(re.fullmatch(r"mission-[0-9a-f]{16}", i) for i in ids)
        assert 20 == len(set(ids))


# ------------------------------------------------------------- §11.4 SQLite


class TestSQLiteConformance:
    def test_schema(self, tmp_path: Path) -> None:
        """§11.4: the tables, columns, primary keys and index are exactly those specified."""
        db = tmp_path / "store.db"
        SQLiteStore(db).close()
        conn = sqlite3.connect(db)
        try:
            columns = {
                table: [
                    (r[1], r[2], bool(r[3]), r[5])
                    for r in conn.execute(f"PRAGMA table_info({table})")
                ]
                for table in ("meta", "sessions", "iterations", "reports")
            }
            index = [r[2] for r in conn.execute("PRAGMA index_info(sessions_status_created)")]
            fks = {
                table: [(r[2], r[6]) for r in conn.execute(f"PRAGMA foreign_key_list({table})")]
                for table in ("iterations", "reports")
            }
        finally:
            conn.close()

        assert {
            "meta": [("key", "TEXT", False, 1), ("value", "TEXT", True, 0)],
            "sessions": [
                ("session_id", "TEXT", False, 1),
                ("version", "INTEGER", True, 0),
                ("revision", "INTEGER", True, 0),
                ("status", "TEXT", True, 0),
                ("created_at", "TEXT", True, 0),
                ("updated_at", "TEXT", True, 0),
                ("iteration_count", "INTEGER", True, 0),
                ("final_verdict", "TEXT", False, 0),
                ("final_verdict_reason", "TEXT", False, 0),
                ("header", "TEXT", True, 0),
            ],
            "iterations": [
                ("session_id", "TEXT", True, 1),
                ("iteration_index", "INTEGER", True, 2),
                ("body", "TEXT", True, 0),
            ],
            "reports": [("session_id", "TEXT", False, 1), ("body", "TEXT", True, 0)],
        } == columns
        assert ["status", "created_at"] == index
        assert {"iterations": [("sessions", "CASCADE")], "reports": [("sessions", "CASCADE")]} == (
            fks
        )

    def test_rows_mirror_the_session(self, tmp_path: Path) -> None:
        """§11.4: summary columns mirror the header; bodies are model JSON; delete clears all."""
        db = tmp_path / "store.db"
        store = SQLiteStore(db)
        state = make_session("s-1")
        store.create_session(state)
        final = advance(
            state, status="completed", final_verdict="complete", final_verdict_reason="r"
        )
        its = [make_iteration(0), make_iteration(1)]
        store.save_session(final, expected_revision=1, append=its, report=make_report(final, its))
        conn = sqlite3.connect(db)
        try:
            row = conn.execute(
                "SELECT version, revision, status, created_at, updated_at, iteration_count,"
                " final_verdict, final_verdict_reason, header FROM sessions"
            ).fetchone()
            bodies = conn.execute("SELECT body FROM iterations ORDER BY iteration_index").fetchall()
        finally:
            conn.close()

        assert (1, 2, "completed", "2025-01-01T00:00:00.000000+00:00",
                "2025-01-01T00:00:01.000000+00:00", 2, "complete", "r") == row[:8]  # fmt: skip
        assert "iterations" not in json.loads(row[8])
        assert [it.to_dict() for it in its] == [json.loads(b) for (b,) in bodies]

        assert store.delete_session("s-1")
        conn = sqlite3.connect(db)
        try:
            counts = [
                conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("sessions", "iterations", "reports")
            ]
        finally:
            conn.close()
        store.close()
        assert [0, 0, 0] == counts

    def test_busy_timeout_is_in_seconds(self, tmp_path: Path) -> None:
        """§11.4: a held lock is waited on for about `timeout` seconds before StoreError."""
        db = tmp_path / "store.db"
        store = SQLiteStore(db, timeout=0.4)
        state = make_session("s-1")
        store.create_session(state)
        blocker = sqlite3.connect(db, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            began = time.monotonic()
            with pytest.raises(mk.StoreError):
                store.save_session(advance(state), expected_revision=1)
            waited = time.monotonic() - began
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        store.close()

        assert 0.3 <= waited < 5.0

    def test_close_closes_every_threads_connection(self, tmp_path: Path) -> None:
        """§11.4: close() closes all per-thread connections, so the WAL file goes away."""
        db = tmp_path / "store.db"
        store = SQLiteStore(db)
        store.create_session(make_session("s-1"))
        opened, release = threading.Event(), threading.Event()
        outcome: list[object] = []

        def worker() -> None:
            outcome.append(store.load_revision("s-1"))
            opened.set()
            release.wait(5)
            try:
                store.load_revision("s-1")
            except mk.StoreError:
                outcome.append("StoreError")

        thread = threading.Thread(target=worker)
        thread.start()
        opened.wait(5)
        store.close()
        files = sorted(p.name for p in tmp_path.iterdir())
        release.set()
        thread.join()

        assert (["store.db"], [1, "StoreError"]) == (files, outcome)

    def test_lists_from_summary_columns(self, tmp_path: Path) -> None:
        """§11.7: a corrupt SQLite header body still lists as readable; only load detects it."""
        db = tmp_path / "store.db"
        store = SQLiteStore(db)
        store.create_session(make_session("s-1"))
        conn = sqlite3.connect(db)
        with conn:
            conn.execute("UPDATE sessions SET header = 'garbage'")
        conn.close()

        (summary,) = store.list_sessions()
        with pytest.raises(mk.SessionCorrupt) as info:
            store.load_session("s-1")
        store.close()

        assert ("s-1", "pending", None, 0) == (
            summary.session_id,
            summary.status,
            summary.error,
            summary.iteration_count,
        )
        assert "session_corrupt" == info.value.code


# ------------------------------------------------------------ §11.5 JsonDir


class TestJsonDirConformance:
    def test_root_created_on_first_write(self, tmp_path: Path) -> None:
        """§11.5: reads on a fresh JsonDirStore do not create its root; the first write does."""
        root = tmp_path / "root"
        store = JsonDirStore(root)

        reads = (
            store.list_sessions(),
            store.load_session("s-1"),
            store.load_revision("s-1"),
            store.delete_session("s-1"),
        )
        existed = root.exists()
        store.create_session(make_session("s-1"))

        assert ([], None, None, False, False) == (*reads, existed)
        assert 0o700 == stat.S_IMODE(root.stat().st_mode)

    def test_layout(self, tmp_path: Path) -> None:
        """§11.5: iteration files are zero-padded 8-digit names; session.json has no iterations."""
        root = tmp_path / "root"
        store = JsonDirStore(root)
        state = make_session("s-1")
        store.create_session(state)
        its = [make_iteration(i) for i in range(3)]
        store.save_session(advance(state), expected_revision=1, append=its)

        names = sorted(p.name for p in (root / "s-1" / "iterations").iterdir())
        header = json.loads((root / "s-1" / "session.json").read_text())
        bodies = [json.loads((root / "s-1" / "iterations" / n).read_text()) for n in names]

        assert ["00000000.json", "00000001.json", "00000002.json"] == names
        assert "iterations" not in header
        assert (1, 2, "pending", "s-1") == (
            header["version"],
            header["revision"],
            header["status"],
            header["session_id"],
        )
        assert [it.to_dict() for it in its] == bodies
        assert (root / "s-1" / ".lock").is_file()

    def test_atomic_write_protocol(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """§11.5: each file goes tmp(0600) → fsync → replace → dir fsync; session.json last."""
        root = tmp_path / "root"
        store = JsonDirStore(root)
        state = make_session("s-1")
        store.create_session(state)
        log: list[tuple[str, ...]] = []
        real_open, real_fsync, real_replace = os.open, os.fsync, os.replace

        def spy_open(path: Any, flags: int, mode: int = 0o777, *a: Any, **k: Any) -> int:
            if flags & os.O_CREAT and str(path).endswith(".tmp"):
                log.append(("open", str(path), oct(mode)))
            return real_open(path, flags, mode, *a, **k)

        def spy_fsync(fd: int) -> None:
            kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
            log.append(("fsync", kind))
            real_fsync(fd)

        def spy_replace(src: Any, dst: Any) -> None:
            log.append(("replace", str(src), str(dst)))
            real_replace(src, dst)

        monkeypatch.setattr(os, "open", spy_open)
        monkeypatch.setattr(os, "fsync", spy_fsync)
        monkeypatch.setattr(os, "replace", spy_replace)
        final = advance(state, status="completed")
        its = [make_iteration(0)]
        store.save_session(final, expected_revision=1, append=its, report=make_report(final, its))
        monkeypatch.undo()

        replaces = [e for e in log if e[0] == "replace"]
        folder = root / "s-1"
        assert [
            str(folder / "iterations" / "00000000.json"),
            str(folder / "report.json"),
            str(folder / "session.json"),
        ] == [dst for _, _, dst in replaces]
        for _, src, dst in replaces:
            assert re.fullmatch(re.escape(dst) + r"\.[^./]+\.tmp", src)
            at = log.index(("replace", src, dst))
            assert [("open", src, "0o600"), ("fsync", "file")] == log[at - 2 : at]
            assert ("fsync", "dir") == log[at + 1]
        assert [] == list(root.rglob("*.tmp"))


# ------------------------------------------------------- §11.6–11.7 listing


def spoil(root: Path, session_id: str, text: str = "garbage") -> None:
    """
    Overwrite a JsonDir session's session.json with *text*.
    """
    (root / session_id / "session.json").write_text(text)


class TestListingConformance:
    @pytest.mark.parametrize(
        "kwargs",
        [
            {},
            {"descending": False},
            {"order_by": "updated_at"},
            {"order_by": "session_id"},
            {"order_by": "session_id", "descending": False},
        ],
    )
    def test_unreadable_sort_last(self, tmp_path: Path, kwargs: dict[str, Any]) -> None:
        """§11.6: unreadable entries sort last whatever the order, and count for paging."""
        root = tmp_path / "root"
        store = JsonDirStore(root)
        for n, sid in enumerate(["a-bad", "b-ok", "c-ok", "d-bad"]):
            store.create_session(make_session(sid, created=n))
        spoil(root, "a-bad")
        spoil(root, "d-bad", json.dumps({"version": 7}))

        listing = store.list_sessions(**kwargs)
        paged = store.list_sessions(**kwargs, limit=2, offset=1)

        assert ["pending", "pending", "unreadable", "unreadable"] == [s.status for s in listing]
        assert {"a-bad", "d-bad"} == {s.session_id for s in listing[2:]}
        assert [s.session_id for s in listing[1:3]] == [s.session_id for s in paged]

    def test_unreadable_summary_shape(self, tmp_path: Path) -> None:
        """§11.7/§3.12: an unreadable summary carries 'unreadable' and '<code>: <problem>'."""
        root = tmp_path / "root"
        store = JsonDirStore(root)
        store.create_session(make_session("s-1"))
        spoil(root, "s-1")

        (summary,) = store.list_sessions(status="unreadable")

        assert ("unreadable", "session_corrupt: session.json: invalid JSON at line 1 column 1") == (
            summary.status,
            summary.error,
        )
        assert [] == store.list_sessions(status="pending")

    @pytest.mark.parametrize(
        ("version", "error"),
        [
            ("1", mk.SessionCorrupt),
            (1.0, mk.SessionCorrupt),
            (True, mk.SessionCorrupt),
            (None, mk.SessionCorrupt),
            (0, mk.UnsupportedSchemaVersion),
            (3, mk.UnsupportedSchemaVersion),
        ],
    )
    def test_version_field(self, tmp_path: Path, version: Any, error: type[Exception]) -> None:
        """§3.11/§11.7: a non-int version is corrupt; any int other than 1 is unsupported."""
        root = tmp_path / "root"
        store = JsonDirStore(root)
        store.create_session(make_session("s-1"))
        path = root / "s-1" / "session.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "version": version}))

        with pytest.raises(error) as info:
            store.load_session("s-1")
        (summary,) = store.list_sessions()

        assert "unreadable" == summary.status
        assert f"{info.value.code}: " == (summary.error or "")[: len(info.value.code) + 2]
        if error is mk.UnsupportedSchemaVersion:
            assert {"session_id": "s-1", "version": version, "supported": [1]} == (
                info.value.details  # type: ignore[attr-defined]
            )

    def test_mission_sessions_include_unreadable(self, tmp_path: Path) -> None:
        """§2.3/§11.7: Mission.sessions lists unreadable sessions and filters on 'unreadable'."""
        root = tmp_path / "root"
        mission = mission_with(store=JsonDirStore(root), clock=FakeClock(step=1))
        ids = [begin(mission, session_id=f"m-{n}").id for n in range(3)]
        spoil(root, ids[2])

        listing = [(s.session_id, s.status) for s in mission.sessions()]
        only = [s.session_id for s in mission.sessions(status="unreadable")]

        assert [("m-1", "pending"), ("m-0", "pending"), ("m-2", "unreadable")] == listing
        assert ["m-2"] == only

    @pytest.mark.parametrize("kind", ["sqlite", "jsondir"])
    def test_corrupt_session_can_be_deleted(self, tmp_path: Path, kind: str) -> None:
        """§11.8: deleting an unreadable session returns True and removes it from listings."""
        store = build_store(kind, tmp_path)
        store.create_session(make_session("s-1"))
        if kind == "jsondir":
            spoil(tmp_path / "root", "s-1")
        else:
            conn = sqlite3.connect(tmp_path / "store.db")
            with conn:
                conn.execute("UPDATE sessions SET header = 'garbage'")
            conn.close()

        first, second = store.delete_session("s-1"), store.delete_session("s-1")
        listing = store.list_sessions()
        store.close()

        assert (True, False, []) == (first, second, listing)
