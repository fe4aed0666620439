"""
Every ```python block in README.md and docs/*.md runs, in order, one namespace per file.

A block preceded by the line ``<!-- skip-example -->`` is not run; use it only for
examples that need an external service.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_MARKER = "<!-- skip-example -->"
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(text: str) -> list[tuple[int, str]]:
    """
    The ``(line number, source)`` of each python block not marked to be skipped.
    """
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        if before == SKIP_MARKER:
            continue
        blocks.append((text.count("\n", 0, match.start()) + 2, match.group(1)))
    return blocks


class TestBlockExtraction:
    def test_blocks_and_skip_marker(self) -> None:
        """Python fences are found with their first line; marked and non-python fences are not."""
        text = (
            "intro\n```python\na = 1\n```\n\n<!-- skip-example -->\n```python\nboom()\n```\n"
            "```sh\nls\n```\n```python\nb = a + 1\n```\n"
        )

        assert [(3, "a = 1\n"), (14, "b = a + 1\n")] == python_blocks(text)

    def test_every_document_has_examples_or_none_by_design(self) -> None:
        """The README and the tutorial carry runnable examples."""
        assert python_blocks((ROOT / "README.md").read_text("utf-8"))
        assert python_blocks((ROOT / "docs" / "tutorial.md").read_text("utf-8"))


@pytest.mark.parametrize("document", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(document: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each document's python examples run top to bottom in one namespace, inside a temp dir."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_example_{document.stem}"}
    for line, source in python_blocks(document.read_text("utf-8")):
        code = compile(source, f"{document.relative_to(ROOT)}:{line}", "exec")
        exec(code, namespace)
    namespace.clear()
