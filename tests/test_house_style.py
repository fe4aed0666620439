"""
House-style checks that keep holding as the code base grows.
"""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

# Public modules whose docstrings carry runnable examples.
DOCTEST_MODULES = [
    "missionkit._mission",
    "missionkit._tools",
    "missionkit.testing",
    "missionkit.scaffold",
]


class TestDocstrings:
    def test_every_test_has_a_docstring(self) -> None:
        """Each test function states the behaviour it checks in a docstring."""
        missing = [
            f"{path.name}:{node.lineno}:{node.name}"
            for path in sorted(TESTS.rglob("test_*.py"))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")
            and not ast.get_docstring(node)
        ]

        assert [] == missing

    @pytest.mark.parametrize("name", DOCTEST_MODULES)
    def test_docstring_examples_run(self, name: str) -> None:
        """The examples in public docstrings execute and print what they show."""
        module = importlib.import_module(name)

        failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)

        assert (0, True) == (failed, attempted > 0)
