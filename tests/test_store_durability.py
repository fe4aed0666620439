"""
Crash safety and multi-process compare-and-swap of the durable stores.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from missionkit.store import JsonDirStore, SessionStore, SQLiteStore

CHILD = Path(__file__).with_name("store_child.py")
SID = "mission-00000000000000cc"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def target_path(kind: str, tmp_path: Path) -> Path:
    """
    Where a durable store of *kind* lives under *tmp_path*.
    """
    return tmp_path / ("store.db" if kind == "sqlite" else "root")


def open_store(kind: str, path: Path) -> SessionStore:
    """
    Open the durable store *kind* at *path*.
    """
    return SQLiteStore(path) if kind == "sqlite" else JsonDirStore(path)


def spawn(kind: str, path: Path, target: int) -> subprocess.Popen[str]:
    """
    Start a committing child process.
    """
    return subprocess.Popen(
        [sys.executable, str(CHILD), kind, str(path), SID, str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def drain(child: subprocess.Popen[str], lines: list[str]) -> None:
    """
    Collect a child's stdout lines until it exits.
    """
    assert child.stdout is not None
    lines.extend(child.stdout)


def wait_for_a_commit(lines: list[str], child: subprocess.Popen[str], limit: float = 60) -> None:
    """
    Wait until *child* has reported a commit (the reader thread fills *lines*).
    """
    deadline = time.monotonic() + limit
    while not committed(list(lines)):
        assert child.poll() is None, "the child exited before committing"
        assert time.monotonic() < deadline, "the child reported no commit in time"
        time.sleep(0.01)


def committed(lines: list[str]) -> list[int]:
    """
    The indices a child reported as committed.
    """
    return [int(line.split()[1]) for line in lines if line.startswith("committed ")]


def assert_consecutive(store: SessionStore) -> int:
    """
    The session loads and its iterations are 0…n-1; return n.
    """
    state = store.load_session(SID)
    assert state is not None
    indices = [it.iteration_index for it in state.iterations]
    assert list(range(len(indices))) == indices
    assert len(indices) == len(store.load_iterations(SID))
    return len(indices)


@pytest.mark.parametrize("kind", ["sqlite", "jsondir"])
class TestCrashSafety:
    def test_sigkill_never_loses_a_reported_commit(self, kind: str, tmp_path: Path) -> None:
        """After SIGKILL at random moments every reported commit is stored and nothing is torn."""
        rng = random.Random(1234)
        path = target_path(kind, tmp_path)
        reported: list[int] = []
        for _ in range(20):
            child = spawn(kind, path, 10**9)
            lines: list[str] = []
            reader = threading.Thread(target=drain, args=(child, lines), daemon=True)
            reader.start()
            # Kill at a random moment after the child is committing: a busy
            # machine may take long to start an interpreter.
            wait_for_a_commit(lines, child)
            time.sleep(rng.uniform(0.0, 0.45))
            child.send_signal(signal.SIGKILL)
            _, err = child.communicate(timeout=30)
            reader.join(timeout=30)
            assert -signal.SIGKILL == child.returncode, err
            reported.extend(committed(lines))
            store = open_store(kind, path)
            try:
                count = assert_consecutive(store)
            finally:
                store.close()
            assert all(index < count for index in reported)
        assert len(reported) >= 20  # one commit at least before each kill


@pytest.mark.parametrize("kind", ["sqlite", "jsondir"])
class TestProcessRace:
    def test_two_processes_never_lose_or_duplicate(self, kind: str, tmp_path: Path) -> None:
        """Two processes committing to one session store exactly 100 consecutive iterations."""
        path = target_path(kind, tmp_path)
        open_store(kind, path).close()
        children = [spawn(kind, path, 100) for _ in range(2)]
        outputs = [child.communicate(timeout=120) for child in children]
        for child, (_, err) in zip(children, outputs, strict=True):
            assert 0 == child.returncode, err
        store = open_store(kind, path)
        try:
            assert 100 == assert_consecutive(store)
            assert 101 == store.load_revision(SID)
        finally:
            store.close()
        reported = sorted(i for out, _ in outputs for i in committed(out.splitlines()))
        assert list(range(100)) == reported
