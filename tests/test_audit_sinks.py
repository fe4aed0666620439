"""
Tests for the built-in audit sinks and the delivery failure policy (SPEC §10.2).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from missionkit.audit import (
    AuditEvent,
    AuditSink,
    JsonlSink,
    LifecycleEvent,
    LoggingSink,
    MemorySink,
    PhaseEvent,
    RingBufferSink,
    VerdictEvent,
)
from missionkit.audit._dispatch import deliver

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
POSIX = os.name == "posix"


def make_event(session: str = "s", index: int = 0, verdict: str = "continue") -> VerdictEvent:
    """
    Return a small verdict event.
    """
    return VerdictEvent(
        mission_session_id=session,
        iteration_index=index,
        verdict=verdict,
        verdict_reason="in_progress",
        timestamp=T0,
    )


def phase_event(session: str = "s", index: int = 0, message: str | None = None) -> PhaseEvent:
    """
    Return a phase event.
    """
    return PhaseEvent(
        mission_session_id=session,
        iteration_index=index,
        phase="execute",
        phase_status="failed" if message else "succeeded",
        phase_started_at=T0,
        phase_ended_at=T0,
        timestamp=T0,
        error_message=message,
    )


@pytest.fixture(name="path")
def _path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


class TestLoggingSink:
    def test_logs_json_at_info_on_audit_logger(self, caplog: pytest.LogCaptureFixture) -> None:
        """
        The default sink logs ``json.dumps(event.to_dict())`` at INFO on ``missionkit.audit``.
        """
        caplog.set_level(logging.INFO, logger="missionkit.audit")
        event = phase_event(message="RuntimeError: é")

        LoggingSink()(event)

        expected = [("missionkit.audit", logging.INFO, json.dumps(event.to_dict()))]

        assert expected == [(r.name, r.levelno, r.getMessage()) for r in caplog.records]

    def test_custom_logger_and_level(self, caplog: pytest.LogCaptureFixture) -> None:
        """
        A given logger and level are used as they are.
        """
        caplog.set_level(logging.DEBUG, logger="host.audit")
        sink = LoggingSink(logging.getLogger("host.audit"), level=logging.DEBUG)

        sink(make_event())

        expected = [("host.audit", logging.DEBUG)]

        assert expected == [(r.name, r.levelno) for r in caplog.records]

    def test_disabled_level_logs_nothing(self, caplog: pytest.LogCaptureFixture) -> None:
        """
        Nothing is logged when the logger is not enabled for the sink's level.
        """
        caplog.set_level(logging.WARNING, logger="missionkit.audit")

        LoggingSink()(make_event())

        expected = []

        assert expected == caplog.records

    def test_never_configures_logging(self) -> None:
        """
        Building and using the sink leaves levels and handlers untouched.
        """
        logger = logging.getLogger("missionkit.audit")
        before = (logger.level, list(logger.handlers), logger.propagate)

        LoggingSink()(make_event())

        assert before == (logger.level, list(logger.handlers), logger.propagate)

    def test_repr(self) -> None:
        """
        The repr names the logger and level.
        """
        expected = "<missionkit.audit.LoggingSink(logger='missionkit.audit', level='INFO')>"

        assert expected == repr(LoggingSink())


class TestRingBufferSink:
    @pytest.mark.parametrize("capacity", [0, -1, True, 1.5, "5", None])
    def test_capacity_must_be_positive_int(self, capacity: Any) -> None:
        """
        Anything but a positive int capacity raises ``ValueError``.
        """
        with pytest.raises(ValueError, match="capacity"):
            RingBufferSink(capacity)

    def test_default_capacity(self) -> None:
        """
        The default capacity is 5000.
        """
        expected = 5000

        assert expected == RingBufferSink().capacity

    def test_evicts_oldest(self) -> None:
        """
        At capacity the oldest entry is evicted first.
        """
        sink = RingBufferSink(capacity=3)
        for index in range(5):
            sink(make_event(index=index))

        expected = ([2, 3, 4], 3)

        assert expected == ([e["iteration_index"] for e in sink.entries_for("s")], len(sink))

    def test_entries_for_filters_and_copies(self) -> None:
        """
        ``entries_for`` returns one session's dicts as copies, in arrival order.
        """
        sink = RingBufferSink()
        events = [make_event("a", 0), make_event("b", 0), make_event("a", 1)]
        for event in events:
            sink(event)
        sink.entries_for("a")[0]["verdict"] = "tampered"

        expected = [events[0].to_dict(), events[2].to_dict()]

        assert expected == sink.entries_for("a")

    def test_stores_dict_at_arrival(self) -> None:
        """
        Entries are ``to_dict()`` snapshots taken when the event arrives.
        """
        sink = RingBufferSink()
        event = make_event()
        sink(event)
        event.to_dict()["verdict"] = "tampered"

        assert [event.to_dict()] == sink.entries_for("s")

    def test_clear(self) -> None:
        """
        ``clear()`` drops every entry.
        """
        sink = RingBufferSink()
        sink(make_event())
        sink.clear()

        expected = (0, [])

        assert expected == (len(sink), sink.entries_for("s"))

    def test_repr_has_no_payload(self) -> None:
        """
        The repr shows capacity and size, not entries.
        """
        sink = RingBufferSink(capacity=10)
        sink(make_event(session="secret"))

        expected = "<missionkit.audit.RingBufferSink(capacity=10, entries=1)>"

        assert expected == repr(sink)

    @pytest.mark.timeout(120)
    def test_concurrent_emission(self) -> None:
        """
        8 threads × 10,000 events leave exactly 5,000 whole entries, each thread's a suffix.
        """
        threads_n, per_thread = 8, 10_000
        sink = RingBufferSink(capacity=5000)
        events = {
            t: [phase_event(f"t{t}", i, "E" if i % 3 else None) for i in range(per_thread)]
            for t in range(threads_n)
        }
        expected_dicts = {
            (e.mission_session_id, e.iteration_index): e.to_dict()
            for evs in events.values()
            for e in evs
        }
        barrier = threading.Barrier(threads_n)

        def work(evs: list[PhaseEvent]) -> None:
            barrier.wait()
            for e in evs:
                sink(e)

        workers = [threading.Thread(target=work, args=(events[t],)) for t in range(threads_n)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

        kept = {t: sink.entries_for(f"t{t}") for t in range(threads_n)}

        assert 5000 == len(sink) == sum(len(v) for v in kept.values())
        for t, entries in kept.items():
            indices = [e["iteration_index"] for e in entries]
            assert list(range(per_thread - len(indices), per_thread)) == indices
            for entry in entries:
                assert expected_dicts[(f"t{t}", entry["iteration_index"])] == entry


class TestJsonlSink:
    def test_lazy_open(self, path: Path) -> None:
        """
        No file is created before the first event.
        """
        sink = JsonlSink(path)

        assert not path.exists()
        sink.close()
        assert not path.exists()

    def test_exact_line_format(self, path: Path) -> None:
        """
        Each event is one compact, non-ASCII-escaped JSON line.
        """
        event = phase_event(message="ValueError: é ✓")
        with JsonlSink(path) as sink:
            sink(event)

        expected = (
            json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
        ).encode("utf-8")

        assert expected == path.read_bytes()

    @pytest.mark.skipif(not POSIX, reason="POSIX file modes")
    def test_new_file_mode_0600(self, path: Path) -> None:
        """
        A file created by the sink has mode 0600.
        """
        old = os.umask(0o022)
        try:
            with JsonlSink(path) as sink:
                sink(make_event())
        finally:
            os.umask(old)

        expected = 0o600

        assert expected == stat.S_IMODE(path.stat().st_mode)

    @pytest.mark.skipif(not POSIX, reason="POSIX file modes")
    def test_existing_file_mode_kept(self, path: Path) -> None:
        """
        Appending to an existing file leaves its mode alone.
        """
        path.write_bytes(b"")
        path.chmod(0o644)
        with JsonlSink(path) as sink:
            sink(make_event())

        expected = 0o644

        assert expected == stat.S_IMODE(path.stat().st_mode)

    def test_appends_across_instances(self, path: Path) -> None:
        """
        A second sink on the same file appends after the first one's lines.
        """
        events = [make_event(index=i) for i in range(3)]
        with JsonlSink(path) as first:
            first(events[0])
            first(events[1])
        with JsonlSink(path) as second:
            second(events[2])

        assert [e.to_dict() for e in events] == JsonlSink.read_entries(path)

    def test_fsync_after_every_event(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """
        With ``fsync=True`` the file is synced once per event.
        """
        calls: list[int] = []
        real_fsync = os.fsync

        def recording_fsync(fd: int) -> None:
            calls.append(fd)
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", recording_fsync)
        with JsonlSink(path, fsync=True) as sink:
            sink(make_event(index=0))
            sink(make_event(index=1))

        expected = (2, 2)

        assert expected == (len(calls), len(JsonlSink.read_entries(path)))

    def test_no_fsync_by_default(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """
        Without *fsync* the file is never synced.
        """
        calls: list[int] = []
        monkeypatch.setattr(os, "fsync", calls.append)
        with JsonlSink(path) as sink:
            sink(make_event())

        expected = []

        assert expected == calls

    def test_close_is_idempotent_and_final(self, path: Path) -> None:
        """
        ``close()`` may be called twice; events after closing raise ``ValueError``.
        """
        sink = JsonlSink(path)
        sink(make_event())
        sink.close()
        sink.close()

        assert sink.closed
        with pytest.raises(ValueError, match="closed"):
            sink(make_event())

    def test_lone_surrogate_round_trips(self, path: Path) -> None:
        """
        A text that is not valid UTF-8 is written escaped and reads back unchanged.
        """
        event = phase_event(message="bad \udcff byte")
        with JsonlSink(path) as sink:
            sink(event)

        assert [event.to_dict()] == JsonlSink.read_entries(path)

    def test_concurrent_writers(self, path: Path) -> None:
        """
        Lines written from several threads never interleave.
        """
        sink = JsonlSink(path)

        def work(t: int) -> None:
            for i in range(500):
                sink(phase_event(f"t{t}", i, "x" * (i % 50)))

        workers = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        sink.close()

        entries = JsonlSink.read_entries(path)

        expected_total = 2000

        assert expected_total == len(entries)
        for t in range(4):
            expected = list(range(500))
            assert expected == [
                e["iteration_index"] for e in entries if e["mission_session_id"] == f"t{t}"
            ]

    def test_repr_has_no_payload(self, path: Path) -> None:
        """
        The repr shows the path, fsync flag and state.
        """
        sink = JsonlSink(path)
        before = repr(sink)
        sink(make_event(session="secret"))
        during = repr(sink)
        sink.close()

        expected = [
            f"<missionkit.audit.JsonlSink(path={str(path)!r}, fsync=False, {state})>"
            for state in ("unopened", "open", "closed")
        ]

        assert expected == [before, during, repr(sink)]


class TestReadEntries:
    def test_missing_file_is_empty(self, path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """
        A missing file reads as no entries, without a warning.
        """
        expected = ([], [])

        assert expected == (JsonlSink.read_entries(path), caplog.records)

    def test_torn_last_line(self, path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """
        A torn last line is skipped with one warning; every complete line is read.
        """
        events = [make_event(index=i) for i in range(3)]
        with JsonlSink(path) as sink:
            for event in events:
                sink(event)
        with path.open("ab") as fh:
            fh.write(b'{"event_type":"mission_verdict_event","mission_se')

        entries = JsonlSink.read_entries(path)

        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]

        assert [e.to_dict() for e in events] == entries
        expected = [("missionkit", 1)]
        assert expected == [(r.name, r.missionkit_skipped_lines) for r in warnings]
        assert "skipped 1 invalid line" in warnings[0].getMessage()

    def test_append_after_torn_line(self, path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """
        Appending to a file with a torn last line starts a new line; only the torn one is lost.
        """
        path.write_bytes(b'{"event_type":"mission_ve')
        event = make_event()
        with JsonlSink(path) as sink:
            sink(event)

        expected = ([event.to_dict()], [1])

        assert expected == (
            JsonlSink.read_entries(path),
            [r.missionkit_skipped_lines for r in caplog.records],
        )

    def test_complete_last_line_without_newline(self, path: Path) -> None:
        """
        A last line that parses is kept even without its newline.
        """
        path.write_text('{"a": 1}\n{"b": 2}', encoding="utf-8")

        expected = [{"a": 1}, {"b": 2}]

        assert expected == JsonlSink.read_entries(path)

    def test_mixed_garbage(self, path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """
        Non-JSON, non-object and undecodable lines are skipped and counted in one warning.
        """
        good = make_event().to_dict()
        lines = [
            json.dumps(good).encode(),
            b"not json",
            b"[1, 2]",
            b"42",
            b"",
            b"   ",
            b"\xff\xfe{}",
            b'"text"',
            b"null",
            b"[" * 100_000,
            json.dumps({"other": "dict"}).encode(),
            b'{"torn":',
        ]
        path.write_bytes(b"\n".join(lines))

        entries = JsonlSink.read_entries(path)

        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]

        assert [good, {"other": "dict"}] == entries
        expected = [8]
        assert expected == [r.missionkit_skipped_lines for r in warnings]

    def test_clean_file_has_no_warning(self, path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """
        Reading a file with only valid lines logs nothing.
        """
        with JsonlSink(path) as sink:
            sink(make_event())

        JsonlSink.read_entries(path)

        expected = []

        assert expected == caplog.records

    def test_directory_raises(self, tmp_path: Path) -> None:
        """
        A path that exists but cannot be read raises ``OSError``.
        """
        with pytest.raises(OSError):
            JsonlSink.read_entries(tmp_path)


class TestMemorySink:
    def test_keeps_objects_and_dicts(self) -> None:
        """
        Events are kept as objects; ``entries`` and ``entries_for`` give their dicts.
        """
        sink = MemorySink()
        events: list[AuditEvent] = [
            make_event("a"),
            LifecycleEvent(mission_session_id="b", action="start", status="running", timestamp=T0),
            make_event("a", 1),
        ]
        for event in events:
            sink(event)

        assert events == sink.events
        assert [e.to_dict() for e in events] == sink.entries()
        assert [events[0].to_dict(), events[2].to_dict()] == sink.entries_for("a")
        assert len(events) == len(sink)

    def test_clear(self) -> None:
        """
        ``clear()`` forgets every event.
        """
        sink = MemorySink()
        sink(make_event())
        sink.clear()

        expected = ([], [])

        assert expected == (sink.events, sink.entries())

    def test_repr(self) -> None:
        """
        The repr shows the count only.
        """
        sink = MemorySink()
        sink(make_event(session="secret"))

        expected = "<missionkit.audit.MemorySink(events=1)>"

        assert expected == repr(sink)


class _Boom(Exception):
    pass


class _Stop(BaseException):
    pass


class _RaisingSink:
    def __call__(self, event: AuditEvent, /) -> None:
        raise _Boom("sink broke")

    def __repr__(self) -> str:
        return "<RaisingSink>"


class _UnprintableSink(_RaisingSink):
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class TestDeliver:
    def test_failing_sink_logged_and_skipped(self, caplog: pytest.LogCaptureFixture) -> None:
        """
        A raising sink is logged at WARNING with traceback and extras; later sinks still run.
        """
        after = MemorySink()
        event = make_event()

        deliver([_RaisingSink(), after], event, logging.getLogger("missionkit"))

        (warning,) = caplog.records
        assert [event] == after.events
        expected = ("missionkit", logging.WARNING, "<RaisingSink>", "mission_verdict_event")
        assert expected == (
            warning.name,
            warning.levelno,
            warning.missionkit_sink,
            warning.missionkit_event_type,
        )
        assert warning.exc_info is not None
        assert _Boom is warning.exc_info[0]

    def test_order_and_plain_functions(self) -> None:
        """
        Sinks are called in the given order, and a plain function is a sink.
        """
        calls: list[str] = []

        def first(event: AuditEvent, /) -> None:
            calls.append("first")

        def second(event: AuditEvent, /) -> None:
            calls.append("second")

        sinks: list[AuditSink] = [first, _RaisingSink(), second]
        deliver(sinks, make_event(), logging.getLogger("test.deliver"))

        expected = ["first", "second"]

        assert expected == calls

    def test_unprintable_sink(self, caplog: pytest.LogCaptureFixture) -> None:
        """
        A sink whose repr raises is still logged, under a placeholder name.
        """
        after = MemorySink()

        deliver([_UnprintableSink(), after], make_event(), logging.getLogger("missionkit"))

        (warning,) = caplog.records
        expected = ("<unprintable _UnprintableSink object>", 1)

        assert expected == (warning.missionkit_sink, len(after.events))

    def test_base_exceptions_propagate(self) -> None:
        """
        Non-``Exception`` base exceptions are not swallowed.
        """

        def stop(event: AuditEvent, /) -> None:
            raise _Stop

        with pytest.raises(_Stop):
            deliver([stop], make_event(), logging.getLogger("missionkit"))

    def test_no_sinks(self) -> None:
        """
        Delivering to no sinks does nothing.
        """
        deliver([], make_event(), logging.getLogger("missionkit"))

    def test_all_builtin_sinks(self, path: Path) -> None:
        """
        One event reaches every built-in sink through ``deliver``.
        """
        ring, memory = RingBufferSink(), MemorySink()
        event = make_event()
        with JsonlSink(path) as jsonl:
            deliver([LoggingSink(), ring, jsonl, memory], event, logging.getLogger("missionkit"))

        expected = [event.to_dict()] * 3

        assert expected == [
            *ring.entries_for("s"),
            *JsonlSink.read_entries(path),
            *memory.entries(),
        ]


class TestJsonlSinkLifetime:
    def test_collected_open_sink_warns(self, path: Path) -> None:
        """
        An open sink that is garbage collected emits a ``ResourceWarning`` and closes its file.
        """
        sink = JsonlSink(path)
        sink(make_event())

        with pytest.warns(ResourceWarning, match="unclosed"):
            sink.__del__()
        sink.close()

    def test_closed_or_unopened_sink_is_silent(self, path: Path) -> None:
        """
        Collecting an unopened or closed sink emits nothing.
        """
        unopened = JsonlSink(path)
        closed = JsonlSink(path)
        closed(make_event())
        closed.close()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            unopened.__del__()
            closed.__del__()

        assert not caught
