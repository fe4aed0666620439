"""
The engine's side of scripted strategies: the host-side proxy (SPEC §9.5–9.6).
"""

from __future__ import annotations

from missionkit._engine._env import IterationEnv

__all__ = ["run_script"]


async def run_script(env: IterationEnv, script: str) -> None:
    """
    Run *script* through the Mission's runner; fill the draft and ``env``.
    """
    from missionkit._engine._script_bridge import execute_script

    await execute_script(env, script)
