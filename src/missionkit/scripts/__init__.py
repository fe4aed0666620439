"""
Scripted strategies: the script validator and the runners (SPEC §9).

``validate_script`` is the language boundary; ``SubprocessScriptRunner`` runs a
validated script in a throw-away child process with hard limits. The in-process
``InlineScriptRunner`` for tests is exported by ``missionkit.testing``.
"""

from __future__ import annotations

from ._protocol import ScriptOutcome, ScriptRunner, ScriptToolError
from ._subprocess import SubprocessScriptRunner
from ._validate import validate_script

__all__ = [
    "ScriptOutcome",
    "ScriptRunner",
    "ScriptToolError",
    "SubprocessScriptRunner",
    "validate_script",
]
