"""
The ``missionkit`` command line (SPEC §14).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from missionkit.cli._app import main

__all__ = ["main"]
