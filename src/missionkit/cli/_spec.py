"""
Spec files for ``run`` and ``validate`` (SPEC §14.2): parsing, key checks and imports.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from missionkit._tools import Tool
from missionkit.errors import MissionValidationError

__all__ = [
    "PLUGIN_KEYS",
    "START_KEYS",
    "Plugins",
    "Spec",
    "import_callable",
    "import_object",
    "import_root",
    "read_spec",
    "resolve_plugins",
]

START_KEYS = (
    "directive",
    "criteria",
    "budget",
    "tool_allowlist",
    "allow_all_tools",
    "checkpoint_cadence",
    "stagnation_threshold",
    "allow_scripted_strategies",
    "use_sampling",
    "session_id",
    "metadata",
)
PLUGIN_KEYS = ("tools", "tool_timeout", "proposer", "sampler")


@attrs.frozen
class Spec:
    """
    A parsed spec file.

    Attributes:
        path: The file it was read from.
        start: The `Mission.start` keywords it sets.
        plugins: The raw ``tools``, ``tool_timeout``, ``proposer`` and ``sampler`` values.
    """

    path: Path
    start: dict[str, Any]
    plugins: dict[str, Any]


@attrs.frozen
class Plugins:
    """
    The objects a spec's import paths resolved to, ready for `Mission`.
    """

    tools: dict[str, Any] | list[Any]
    tool_timeout: Any
    proposer: Any
    sampler: Any


def _spec_error(reason: str, subfield: str | None = None) -> MissionValidationError:
    details: dict[str, Any] = {"field": "spec"}
    if subfield is not None:
        details["subfield"] = subfield
    details["reason"] = reason
    return MissionValidationError(details=details)


def read_spec(path: str) -> Spec:
    """
    Read and check a spec file: ``.toml`` with tomllib, anything else as JSON.

    Raises:
        MissionValidationError: ``{field: spec, reason: unreadable | invalid_json |
            invalid_toml | not_a_dict}`` or ``{field: spec, subfield: <key>,
            reason: unknown_key}``.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise _spec_error("unreadable") from exc
    data: Any
    if file.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise _spec_error("invalid_toml") from exc
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise _spec_error("invalid_json") from exc
    if not isinstance(data, dict):
        raise _spec_error("not_a_dict")
    for key in data:
        if key not in START_KEYS and key not in PLUGIN_KEYS:
            raise _spec_error("unknown_key", str(key))
    return Spec(
        path=file,
        start={k: v for k, v in data.items() if k in START_KEYS},
        plugins={k: v for k, v in data.items() if k in PLUGIN_KEYS},
    )


@contextlib.contextmanager
def import_root(directory: Path) -> Iterator[None]:
    """
    Put *directory* first on ``sys.path`` for the duration of the block.
    """
    entry = str(directory.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _import_error(field: str, path: str, reason: str) -> MissionValidationError:
    return MissionValidationError(details={"field": field, "subfield": path, "reason": reason})


def import_object(path: str, field: str) -> Any:
    """
    Import ``"package.module:attribute"`` (the attribute may be dotted).

    Raises:
        MissionValidationError: ``{field: <field>, subfield: <path>,
            reason: import_failed}``; the import error is the ``__cause__``.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name.strip() or not attribute.strip():
        raise _import_error(field, path, "import_failed")
    try:
        obj: Any = importlib.import_module(module_name.strip())
        for part in attribute.strip().split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise _import_error(field, path, "import_failed") from exc
    return obj


def import_callable(path: Any, field: str, *, tool: bool = False) -> Any:
    """
    Import a plugin callable (a `Tool` too when *tool*); refuse anything else.

    Raises:
        MissionValidationError: ``import_failed``/``not_callable`` with ``subfield``
            the path, or ``invalid_value`` when *path* is not a str.
    """
    if not isinstance(path, str):
        raise MissionValidationError(details={"field": field, "reason": "invalid_value"})
    obj = import_object(path, field)
    if not (callable(obj) or (tool and isinstance(obj, Tool))):
        raise _import_error(field, path, "not_callable")
    return obj


def resolve_plugins(spec: Spec) -> Plugins:
    """
    Import the spec's tools, proposer and sampler.

    Call inside `import_root` for the spec's directory.

    Raises:
        MissionValidationError: ``{field: tools | proposer | sampler,
            subfield: <import path>, reason: import_failed | not_callable}``;
            ``{field: tools, reason: invalid_value}`` when ``tools`` is neither
            a list nor a table, ``{field: tools, index | tool_name, reason:
            invalid_value}`` for an entry that is not a string.
    """
    raw_tools = spec.plugins.get("tools")
    tools: dict[str, Any] | list[Any]
    if raw_tools is None:
        tools = []
    elif isinstance(raw_tools, list):
        tools = []
        for index, entry in enumerate(raw_tools):
            if not isinstance(entry, str):
                raise MissionValidationError(
                    details={"field": "tools", "index": index, "reason": "invalid_value"}
                )
            tools.append(import_callable(entry, "tools", tool=True))
    elif isinstance(raw_tools, dict):
        tools = {}
        for name, entry in raw_tools.items():
            if not isinstance(entry, str):
                raise MissionValidationError(
                    details={"field": "tools", "tool_name": str(name), "reason": "invalid_value"}
                )
            tools[str(name)] = import_callable(entry, "tools", tool=True)
    else:
        raise MissionValidationError(details={"field": "tools", "reason": "invalid_value"})
    proposer = spec.plugins.get("proposer")
    sampler = spec.plugins.get("sampler")
    return Plugins(
        tools=tools,
        tool_timeout=spec.plugins.get("tool_timeout"),
        proposer=None if proposer is None else import_callable(proposer, "proposer"),
        sampler=None if sampler is None else import_callable(sampler, "sampler"),
    )
