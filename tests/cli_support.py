"""
Helpers shared by the command-line tests: spec files and tool modules in a temporary directory.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from missionkit.cli import main

TOOLS_SOURCE = """
def score(value: float = 1.0) -> dict:
    return {"metrics": {"score": value}}


def flat() -> dict:
    return {"metrics": {"score": 0.0}}


def boom_proposer(ctx):
    raise RuntimeError("proposer exploded")


def interrupting_proposer(ctx):
    raise KeyboardInterrupt


def garbage_sampler(prompt: str) -> str:
    return "this is not JSON"


NOT_CALLABLE = 42
"""


def write_tools(directory: Path, source: str = TOOLS_SOURCE) -> str:
    """
    Write a tool module with a unique name into *directory* and return that name.
    """
    name = f"cli_tools_{uuid.uuid4().hex[:12]}"
    (directory / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return name


def spec_dict(module: str, **overrides: Any) -> dict[str, Any]:
    """
    A spec whose ``score`` tool meets the single criterion on the first iteration.
    """
    spec: dict[str, Any] = {
        "directive": "Push the score to at least 0.5",
        "criteria": [
            {
                "criterion_id": "score",
                "kind": "metric_threshold",
                "required": True,
                "metric": "metrics.score",
                "op": ">=",
                "target": 0.5,
            }
        ],
        "budget": {"max_iterations": 5, "max_wall_clock_seconds": 60},
        "tool_allowlist": ["score"],
        "tools": {"score": f"{module}:score"},
    }
    spec.update(overrides)
    return spec


def write_spec(directory: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    """
    Write *spec* as JSON and return the file.
    """
    path = directory / name
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """
    Run ``main(args)`` in-process and return the exit code, stdout and stderr.
    """
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(stderr: str) -> tuple[str, dict[str, Any]]:
    """
    Parse the ``error: <code> <details JSON>`` line of table-mode stderr.
    """
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert 1 == len(lines), stderr
    _, code, details = lines[0].split(" ", 2)
    return code, json.loads(details)
