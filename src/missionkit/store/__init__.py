"""
Where sessions are kept between calls (SPEC §11).

`SessionStore` is the protocol; `MemoryStore` keeps sessions in this process,
`SQLiteStore` in one SQLite database and `JsonDirStore` in a directory of JSON
files.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from missionkit.store._jsondir import JsonDirStore
from missionkit.store._memory import MemoryStore
from missionkit.store._protocol import SessionStore
from missionkit.store._sqlite import SQLiteStore

__all__ = ["JsonDirStore", "MemoryStore", "SQLiteStore", "SessionStore"]
