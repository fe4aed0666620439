"""
The escape corpus: hostile scripts are rejected or contained (SPEC §9.2, §9.7).
"""

from __future__ import annotations

import asyncio
import builtins
import sys
from typing import Any

import pytest

from missionkit.errors import ScriptRejected
from missionkit.scripts import ScriptOutcome, ScriptRunner, SubprocessScriptRunner, validate_script
from missionkit.scripts._inline import InlineScriptRunner
from script_escape_corpus import ALLOWLIST, BOMBS, CORPUS

BOMB_SOURCES = {source for _, source in BOMBS}
ACCEPTED = [(name, source) for name, source, reason in CORPUS if reason is None]


class Tools:
    """
    A fake engine ``call_tool`` that records every tool name it is asked for.
    """

    def __init__(self) -> None:
        self.names: list[str] = []

    async def __call__(self, name: str, args: dict[str, Any]) -> Any:
        self.names.append(name)
        return {"ok": True}


def contained(outcome: ScriptOutcome, tools: Tools) -> None:
    """
    Assert that a run reached nothing outside the allow-list.
    """
    assert set(tools.names) <= set(ALLOWLIST)
    assert "escaped" not in dict(outcome.observations)


def run(runner: ScriptRunner, source: str, tools: Tools) -> ScriptOutcome:
    """
    Run *source* on a fresh event loop.
    """
    return asyncio.run(runner.run(source, allowlist=ALLOWLIST, call_tool=tools, max_seconds=None))


@pytest.fixture(name="workdir")
def _workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(name="script_imports")
def _script_imports(monkeypatch):
    """
    Record every import statement executed by script code.
    """
    seen: list[str] = []
    real_import = builtins.__import__

    def spy(name, *args, **kwargs):
        if sys._getframe(1).f_code.co_filename == "<script>":
            seen.append(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", spy)
    return seen


class TestCorpus:
    def test_corpus_size(self):
        """
        The corpus holds at least 60 hostile scripts and some that get past the validator.
        """
        assert len(CORPUS) >= 60
        assert len(ACCEPTED) >= 10

    @pytest.mark.parametrize(
        ("source", "reason"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
    )
    def test_validator_verdict(self, source, reason):
        """
        Each hostile script gets its expected verdict from the validator.
        """
        try:
            validate_script(source, ALLOWLIST)
        except ScriptRejected as err:
            actual = err.reason
        else:
            actual = None

        assert reason == actual

    @pytest.mark.parametrize("source", [a[1] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
    def test_inline_contains(self, source, workdir, script_imports):
        """
        Accepted hostile scripts end in-process without reaching anything forbidden.
        """
        tools = Tools()

        outcome = run(InlineScriptRunner(wall_seconds=5), source, tools)

        contained(outcome, tools)
        assert [] == script_imports
        assert [] == list(workdir.iterdir())


@pytest.mark.slow
class TestCorpusInChildProcess:
    @pytest.mark.parametrize(
        "source",
        [a[1] for a in ACCEPTED] + [b[1] for b in BOMBS],
        ids=[a[0] for a in ACCEPTED] + [f"bomb-{b[0]}" for b in BOMBS],
    )
    def test_child_contains(self, source, workdir):
        """
        Accepted hostile scripts and resource bombs end in the child without escaping.
        """
        tools = Tools()
        runner = SubprocessScriptRunner(wall_seconds=1, memory_bytes=200 * 1024 * 1024)

        outcome = run(runner, source, tools)

        contained(outcome, tools)
        assert [] == list(workdir.iterdir())
        if source in BOMB_SOURCES:
            assert outcome.error is not None or outcome.limit is not None
