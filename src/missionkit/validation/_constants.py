"""
Constant name sets used by validation.
"""

from __future__ import annotations

__all__ = ["MISSION_CONTROL_TOOLS"]

MISSION_CONTROL_TOOLS: frozenset[str] = frozenset(
    {
        "mission_abort",
        "mission_checkpoint",
        "mission_complete",
        "mission_history",
        "mission_iterate",
        "mission_list",
        "mission_resume",
        "mission_start",
        "mission_status",
    }
)
"""
Names of the tools a wrapper maps onto `Mission`/`Session` methods.

``allow_all_tools`` never expands to these names.

.. versionadded:: 0.1.0
"""
