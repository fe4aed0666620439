"""
missionkit: embeddable goal-directed iteration loops.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("missionkit")
    raise AttributeError(f"module 'missionkit' has no attribute {name!r}")
