"""
The built-in audit sinks (SPEC §10.2).

Every sink here is thread-safe and never configures logging.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import warnings
from types import TracebackType
from typing import Any, Self

from missionkit.audit._events import AuditEvent

__all__ = ["JsonlSink", "LoggingSink", "MemorySink", "RingBufferSink"]

_DEFAULT_AUDIT_LOGGER = "missionkit.audit"
_WARNING_LOGGER = "missionkit"
_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)


def _ends_mid_line(path: str | os.PathLike[str]) -> bool:
    """
    Tell whether a file's last line is torn (no final newline), e.g. after a crash.
    """
    try:
        with open(path, "rb") as handle:
            if handle.seek(0, os.SEEK_END) == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except OSError:
        return False


class LoggingSink:
    """
    Log every event as one line of JSON.

    Each event becomes ``logger.log(level, json.dumps(event.to_dict()))``.
    The sink never touches levels or handlers; an event is not serialised at
    all when *logger* is not enabled for *level*.

    Args:
        logger: Where to log; defaults to ``logging.getLogger("missionkit.audit")``.
        level: The level of every record.

    Attributes:
        logger: The logger in use.
        level: The level of every record.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("level", "logger")

    logger: logging.Logger
    level: int

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.logger = logger if logger is not None else logging.getLogger(_DEFAULT_AUDIT_LOGGER)
        self.level = level

    def __call__(self, event: AuditEvent, /) -> None:
        """
        Log *event* if the logger is enabled for the sink's level.
        """
        if self.logger.isEnabledFor(self.level):
            self.logger.log(self.level, json.dumps(event.to_dict()))

    def __repr__(self) -> str:
        return (
            f"<missionkit.audit.LoggingSink(logger={self.logger.name!r}, "
            f"level={logging.getLevelName(self.level)!r})>"
        )


class RingBufferSink:
    """
    Keep the most recent events, as dicts, in memory.

    Entries are stored as ``event.to_dict()`` at arrival; once *capacity* is
    reached the oldest entry is evicted.  All methods are thread-safe.

    Args:
        capacity: How many entries to keep.

    Raises:
        ValueError: *capacity* is not a positive ``int``.

    Attributes:
        capacity: How many entries are kept.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_entries", "_lock", "capacity")

    capacity: int

    def __init__(self, capacity: int = 5000) -> None:
        if type(capacity) is not int or capacity <= 0:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        self.capacity = capacity
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self._lock = threading.Lock()

    def __call__(self, event: AuditEvent, /) -> None:
        """
        Append *event*'s JSON form, evicting the oldest entry when full.
        """
        entry = event.to_dict()
        with self._lock:
            self._entries.append(entry)

    def entries_for(self, session_id: str) -> list[dict[str, Any]]:
        """
        Return copies of the entries of one session, in arrival order.

        Args:
            session_id: The ``mission_session_id`` to select.

        Returns:
            New dicts; changing them does not change the buffer.
        """
        with self._lock:
            snapshot = list(self._entries)
        return [dict(entry) for entry in snapshot if entry["mission_session_id"] == session_id]

    def clear(self) -> None:
        """
        Drop every entry.
        """
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (
            f"<missionkit.audit.RingBufferSink(capacity={self.capacity}, "
            f"entries={len(self._entries)})>"
        )


class JsonlSink:
    """
    Append every event to a file as one line of JSON.

    The file is opened lazily, in append mode, on the first event; a new file
    is created with mode ``0600`` on POSIX.  Each event is written as
    ``json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":"))``
    plus ``"\\n"`` in a single unbuffered write, so lines from several sinks or
    processes appending to one file do not interleave.  With *fsync* the file
    is also synced after every event.  All methods are thread-safe.  Close
    the sink (or use it as a context manager); an open sink that is garbage
    collected closes its file and emits a ``ResourceWarning``.

    If the file ends in a torn line (a writer crashed mid-line), the first
    write starts with a newline so only the torn line is lost on reading.

    A text that cannot be encoded as UTF-8 (a lone surrogate) is written with
    ``ensure_ascii=True`` instead, which reads back to the same value.

    Args:
        path: The file to append to.
        fsync: Whether to ``os.fsync`` after every event.

    Attributes:
        path: The file appended to.
        fsync: Whether every event is synced to disk.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_closed", "_fd", "_lock", "fsync", "path")

    path: str | os.PathLike[str]
    fsync: bool

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        self._fd: int | None = None
        self._closed = False
        self._lock = threading.Lock()

    def __call__(self, event: AuditEvent, /) -> None:
        """
        Append *event* as one line.

        Raises:
            ValueError: The sink has been closed.
            OSError: The file cannot be opened or written.
        """
        data = event.to_dict()
        try:
            line = (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode(
                "utf-8"
            )
        except UnicodeEncodeError:
            line = (json.dumps(data, separators=(",", ":")) + "\n").encode("ascii")
        with self._lock:
            if self._closed:
                raise ValueError("JsonlSink is closed")
            fd = self._fd
            if fd is None:
                fd = self._fd = os.open(self.path, _OPEN_FLAGS, 0o600)
                if _ends_mid_line(self.path):
                    line = b"\n" + line
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(fd)

    def close(self) -> None:
        """
        Close the file; calling it again does nothing.

        Events delivered after closing raise ``ValueError``.
        """
        with self._lock:
            self._closed = True
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)

    def __del__(self) -> None:
        # Like a file object: an open sink that is collected warns and closes.
        fd = getattr(self, "_fd", None)
        if fd is not None:
            self._fd = None
            try:
                warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=2)
            finally:
                os.close(fd)

    @property
    def closed(self) -> bool:
        """
        Whether :meth:`close` has been called.
        """
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._fd is not None else "unopened"
        return (
            f"<missionkit.audit.JsonlSink(path={os.fspath(self.path)!r}, "
            f"fsync={self.fsync}, {state})>"
        )

    @staticmethod
    def read_entries(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """
        Read a JSONL audit file back into dicts, in file order.

        Blank lines are ignored.  Invalid lines (not UTF-8, not JSON, not a
        JSON object — including a torn last line) are skipped, and one
        WARNING per call on logger ``missionkit`` reports how many were
        skipped.  A missing file reads as no entries.

        Args:
            path: The file to read.

        Returns:
            One dict per valid line.

        Raises:
            OSError: The file exists but cannot be read.
        """
        entries: list[dict[str, Any]] = []
        skipped = 0
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return entries
        with handle:
            for raw in handle:
                if not raw.strip():
                    continue
                try:
                    value = json.loads(raw.decode("utf-8"))
                except (ValueError, RecursionError):
                    skipped += 1
                    continue
                if isinstance(value, dict):
                    entries.append(value)
                else:
                    skipped += 1
        if skipped:
            logging.getLogger(_WARNING_LOGGER).warning(
                "skipped %d invalid line(s) reading audit file %s",
                skipped,
                os.fspath(path),
                extra={"missionkit_path": os.fspath(path), "missionkit_skipped_lines": skipped},
            )
        return entries


class MemorySink:
    """
    Keep every event object in memory, for tests and notebooks.

    Attributes:
        events: The events received, in arrival order.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_lock", "events")

    events: list[AuditEvent]

    def __init__(self) -> None:
        self.events = []
        self._lock = threading.Lock()

    def __call__(self, event: AuditEvent, /) -> None:
        """
        Keep *event*.
        """
        with self._lock:
            self.events.append(event)

    def entries(self) -> list[dict[str, Any]]:
        """
        Return the JSON form of every event, in arrival order.
        """
        with self._lock:
            snapshot = list(self.events)
        return [event.to_dict() for event in snapshot]

    def entries_for(self, session_id: str) -> list[dict[str, Any]]:
        """
        Return the JSON form of one session's events, in arrival order.

        Args:
            session_id: The ``mission_session_id`` to select.
        """
        with self._lock:
            snapshot = list(self.events)
        return [event.to_dict() for event in snapshot if event.mission_session_id == session_id]

    def clear(self) -> None:
        """
        Forget every event.
        """
        with self._lock:
            self.events.clear()

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"<missionkit.audit.MemorySink(events={len(self.events)})>"
