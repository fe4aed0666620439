"""
What ``import missionkit`` costs every host process.

Run as ``python bench/import_time.py``. Starts fresh interpreters and compares
``import missionkit`` with an empty program and with ``import attrs, cattrs``
(the runtime dependencies) in the same run; also lists the slowest modules
from ``-X importtime``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def run(code: str, repeat: int = 15) -> float:
    """
    Median wall time in ms of a fresh interpreter running *code*.
    """
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def slowest(limit: int = 8) -> list[tuple[int, str]]:
    """
    The modules with the largest cumulative import time under ``import missionkit``.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import missionkit"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return sorted(rows, reverse=True)[:limit]


def main() -> None:
    empty = run("pass")
    deps = run("import attrs, cattrs")
    package = run("import missionkit")
    print(f"empty interpreter:        {empty:7.1f} ms")
    print(f"import attrs, cattrs:     {deps:7.1f} ms  (+{deps - empty:.1f})")
    print(f"import missionkit:        {package:7.1f} ms  (+{package - empty:.1f})")
    print(f"missionkit / dependencies: {(package - empty) / max(deps - empty, 0.1):6.1f}x")
    print("slowest modules (cumulative µs):")
    for micros, name in slowest():
        print(f"  {micros:8d}  {name}")


if __name__ == "__main__":
    main()
