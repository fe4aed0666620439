"""
Per-commit cost of the durable stores early and late in a long session.

Run with ``python bench/store.py``.  For `SQLiteStore`, `JsonDirStore` and a
baseline that rewrites the whole session JSON on every iteration (atomically,
with fsync), it times commits of one small iteration at iterations 100-199 and
10,000-10,099 and prints the median per-commit time and the late/early ratio
(target for the stores: <= 1.2).  Filling the session up to 10,000 iterations
uses the same ``save_session`` code with many iterations per commit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from missionkit.models import SessionState
from missionkit.store import JsonDirStore, SessionStore, SQLiteStore
from store_samples import advance, make_iteration, make_session

SID = "mission-00000000000000be"
EARLY = 100
LATE = 10_000
FILL_BATCH = 500


def fill(store: SessionStore, state: SessionState, count: int, upto: int) -> SessionState:
    """
    Append iterations in large batches until the session holds *upto*.
    """
    while count < upto:
        n = min(FILL_BATCH, upto - count)
        new = advance(state)
        store.save_session(
            new,
            expected_revision=state.revision,
            append=[make_iteration(count + i) for i in range(n)],
        )
        state, count = new, count + n
    return state


def time_commits(
    store: SessionStore, state: SessionState, first: int, commits: int
) -> tuple[SessionState, list[float]]:
    """
    Time *commits* single-iteration saves starting at index *first*.
    """
    timings = []
    for i in range(commits):
        new = advance(state)
        iteration = make_iteration(first + i)
        start = time.perf_counter()
        store.save_session(new, expected_revision=state.revision, append=[iteration])
        timings.append(time.perf_counter() - start)
        state = new
    return state, timings


def bench_store(store: SessionStore, commits: int) -> tuple[float, float]:
    """
    Median commit seconds at EARLY and at LATE iterations.
    """
    state = make_session(SID)
    store.create_session(state)
    state = fill(store, state, 0, EARLY)
    state, early = time_commits(store, state, EARLY, commits)
    state = fill(store, state, EARLY + commits, LATE)
    state, late = time_commits(store, state, LATE, commits)
    return statistics.median(early), statistics.median(late)


def rewrite_whole(path: Path, state: SessionState) -> None:
    """
    The prior art: serialise the whole session, write a temp file, fsync, rename.
    """
    data = json.dumps(state.to_dict(), separators=(",", ":")).encode()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def bench_baseline(directory: Path, commits: int) -> tuple[float, float]:
    """
    Median commit seconds of whole-session rewrites at EARLY and LATE iterations.
    """
    path = directory / "session.json"
    iterations = [make_iteration(i) for i in range(LATE + commits)]

    def run(first: int) -> list[float]:
        state = make_session(SID)
        timings = []
        for i in range(commits):
            state = attrs.evolve(advance(state), iterations=tuple(iterations[: first + i + 1]))
            start = time.perf_counter()
            rewrite_whole(path, state)
            timings.append(time.perf_counter() - start)
        return timings

    return statistics.median(run(EARLY)), statistics.median(run(LATE))


def main() -> None:
    """
    Run every benchmark and print a table.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=100, help="timed commits per point")
    parser.add_argument(
        "--baseline-commits", type=int, default=20, help="timed commits per baseline point"
    )
    args = parser.parse_args()
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        base = Path(tmp)
        makers: list[tuple[str, Callable[[], SessionStore]]] = [
            ("SQLiteStore", lambda: SQLiteStore(base / "bench.db")),
            ("JsonDirStore", lambda: JsonDirStore(base / "root")),
        ]
        for name, make in makers:
            store = make()
            started = time.perf_counter()
            try:
                early, late = bench_store(store, args.commits)
            finally:
                store.close()
            rows.append((name, early, late))
            print(f"# {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        started = time.perf_counter()
        (base / "baseline").mkdir()
        early, late = bench_baseline(base / "baseline", args.baseline_commits)
        rows.append(("whole-session rewrite", early, late))
        print(f"# baseline: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(f"{'store':<24}{'@100-199 ms':>14}{'@10000+ ms':>14}{'late/early':>12}")
    for name, early, late in rows:
        print(f"{name:<24}{early * 1e3:>14.3f}{late * 1e3:>14.3f}{late / early:>12.2f}")


if __name__ == "__main__":
    main()
