"""
A faster ``attrs.evolve`` for the session header, which every commit copies.
"""

from __future__ import annotations

from typing import Any

import attrs

from missionkit.models import SessionState

__all__ = ["evolve_state"]

_FIELDS = tuple(a.name for a in attrs.fields(SessionState))


def evolve_state(state: SessionState, **changes: Any) -> SessionState:
    """
    Copy *state* with *changes* applied (same result as ``attrs.evolve``).
    """
    values = {name: getattr(state, name) for name in _FIELDS}
    values.update(changes)
    return SessionState(**values)
