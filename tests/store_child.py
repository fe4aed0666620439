"""
A child process that commits iterations to one session, for crash and race tests.

Usage: ``python store_child.py <sqlite|jsondir> <path> <session_id> <target>``

It opens the store, creates the session if it is absent, then loops: read the
header and the iterations it has not seen yet, build the next iteration and
save it with compare-and-swap, printing ``committed <index>`` (flushed) after
each successful save.  On ``ConcurrentUpdate`` it reloads and retries.  It
stops once the session holds *target* iterations.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from missionkit.errors import ConcurrentUpdate
from missionkit.store import JsonDirStore, SessionStore, SQLiteStore
from store_samples import advance, make_iteration, make_session


def open_store(kind: str, path: str) -> SessionStore:
    """
    Open the durable store *kind* at *path*.
    """
    return SQLiteStore(path, timeout=30.0) if kind == "sqlite" else JsonDirStore(path)


def main(kind: str, path: str, session_id: str, target: int) -> None:
    """
    Commit iterations until the session holds *target* of them.
    """
    store = open_store(kind, path)
    store.create_session(make_session(session_id))
    known = 0
    while True:
        header = store.load_header(session_id)
        assert header is not None
        known += len(store.load_iterations(session_id, known))
        if known >= target:
            break
        try:
            store.save_session(
                advance(header), expected_revision=header.revision, append=[make_iteration(known)]
            )
        except (ConcurrentUpdate, ValueError):
            continue
        print(f"committed {known}", flush=True)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
