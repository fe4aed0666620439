"""
Scripted strategies: the script validator and the runners (SPEC §9).
"""

from __future__ import annotations

from ._protocol import ScriptOutcome, ScriptRunner, ScriptToolError
from ._validate import validate_script

__all__ = [
    "ScriptOutcome",
    "ScriptRunner",
    "ScriptToolError",
    "validate_script",
]
