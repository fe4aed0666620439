"""
Latency of one scripted strategy run through ``SubprocessScriptRunner``.

Run as ``python bench/script_start.py``. Every scripted iteration starts a
fresh child interpreter, so its start-up (interpreter plus the imports the
child needs) is paid once per iteration. Reported: the median wall time of a
one-call script, next to the median time to start and stop a bare
``python -I -c pass`` in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from typing import Any

from missionkit.scripts import SubprocessScriptRunner

ROUNDS = 15
SCRIPT = "r = await probe(x=1)\nmission.observe('r', r)"


async def probe(name: str, args: dict[str, Any]) -> Any:
    """
    The host side of the script's one tool call.
    """
    return {"ok": True}


def scripted_run(runner: SubprocessScriptRunner) -> float:
    """
    Seconds for one script run, child start to outcome.
    """
    started = time.perf_counter()
    outcome = asyncio.run(
        runner.run(SCRIPT, allowlist=["probe"], call_tool=probe, max_seconds=None)
    )
    elapsed = time.perf_counter() - started
    assert outcome.error is None and outcome.observations, outcome
    return elapsed


def bare_interpreter() -> float:
    """
    Seconds to start and stop ``python -I -c pass``.
    """
    started = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> None:
    runner = SubprocessScriptRunner()
    runs, bare = [], []
    for _ in range(ROUNDS):
        runs.append(scripted_run(runner))
        bare.append(bare_interpreter())
    run_ms, bare_ms = statistics.median(runs) * 1000, statistics.median(bare) * 1000
    print(f"bare `python -I -c pass`:  {bare_ms:7.1f} ms")
    print(f"one scripted run:          {run_ms:7.1f} ms   ({run_ms / bare_ms:.1f}x bare)")


if __name__ == "__main__":
    main()
