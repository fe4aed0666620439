"""
Tools a host registers with a `Mission`, and the checks on how they are given.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from missionkit.errors import MissionValidationError

__all__ = ["Tool", "build_registry", "positive_timeout", "read_attribute"]


@attrs.frozen
class Tool:
    """
    A named callable the engine may dispatch, or an *external* name the host runs itself.

    Args:
        func: Sync or async callable invoked as ``func(**args)``; None makes the
            tool external (known and allowlistable, but run by the host and
            reported through ``Session.observe()``).
        name: Defaults to ``func.__name__``.
        description: Defaults to the callable's docstring; shown to samplers.
        input_schema: Optional JSON-Schema dict for the keyword arguments.
        timeout: Per-tool override of ``Mission(tool_timeout=...)``, in seconds.

    .. versionadded:: 0.1.0

    .. doctest::

        >>> from missionkit import Tool
        >>> def probe(x: int = 0) -> dict:
        ...     '''Probe the system.'''
        ...     return {"metrics": {"x": x}}
        >>> Tool(probe).name, Tool(probe).description
        ('probe', 'Probe the system.')
        >>> Tool(name="train_on_cluster").runnable
        False
    """

    func: Callable[..., Any] | None = None
    name: str = attrs.field(kw_only=True, default=None)
    description: str = attrs.field(kw_only=True, default=None)
    input_schema: dict[str, Any] | None = attrs.field(kw_only=True, default=None)
    timeout: float | None = attrs.field(kw_only=True, default=None)

    def __attrs_post_init__(self) -> None:
        if self.name is None:
            object.__setattr__(self, "name", read_attribute(self.func, "__name__"))
        if self.description is None:
            doc = None
            if self.func is not None:
                try:
                    doc = inspect.getdoc(self.func)
                except Exception:
                    doc = None
            object.__setattr__(self, "description", doc or "")
        if self.input_schema is None and self.func is not None:
            schema = read_attribute(self.func, "input_schema")
            if isinstance(schema, dict):
                object.__setattr__(self, "input_schema", schema)

    @property
    def runnable(self) -> bool:
        """
        Whether missionkit can run this tool itself.
        """
        return self.func is not None


def read_attribute(func: Any, name: str) -> Any:
    """
    ``getattr(func, name, None)``, also None when reading it raises (a hostile callable).
    """
    if func is None:
        return None
    try:
        return getattr(func, name, None)
    except Exception:
        return None


def _bad(details: dict[str, Any]) -> MissionValidationError:
    return MissionValidationError(details=details)


def positive_timeout(value: Any) -> float | None:
    """
    *value* as a plain float if it is a positive finite number (not a bool), else None.

    Int and float subclasses count, as everywhere in validation (SPEC §4.1 rule 5);
    ints too large for a float do not (no timer can wait that long).
    """
    cls = type(value)
    if cls is bool or not issubclass(cls, int | float):
        return None
    try:
        seconds = float(value)
    except Exception:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _as_tool(value: Any, name: str | None, index: int, mapping_form: bool) -> Tool:
    if isinstance(value, Tool):
        tool = value
    elif value is None and mapping_form:
        tool = Tool(None, name=name)  # type: ignore[arg-type]
    elif callable(value):
        tool = Tool(value, name=name) if name is not None else Tool(value)
    else:
        if name is None or not isinstance(name, str):
            raise _bad({"field": "tools", "index": index, "reason": "tool_name_missing_or_invalid"})
        raise _bad({"field": "tools", "tool_name": name, "reason": "not_callable"})
    if not isinstance(tool.name, str) or not tool.name:
        raise _bad({"field": "tools", "index": index, "reason": "tool_name_missing_or_invalid"})
    if mapping_form and name is not None and tool.name != name:
        raise _bad({"field": "tools", "tool_name": name, "reason": "invalid_value"})
    if tool.func is not None and not callable(tool.func):
        raise _bad({"field": "tools", "tool_name": tool.name, "reason": "not_callable"})
    if tool.input_schema is not None and not isinstance(tool.input_schema, dict):
        raise _bad({"field": "tools", "tool_name": tool.name, "reason": "input_schema_not_a_dict"})
    if tool.timeout is not None:
        seconds = positive_timeout(tool.timeout)
        if seconds is None:
            details = {"field": "tool_timeout", "tool_name": tool.name}
            raise _bad({**details, "reason": "must_be_positive_number"})
        if type(tool.timeout) not in (int, float):
            tool = attrs.evolve(tool, timeout=seconds)
    return tool


def build_registry(tools: Any) -> dict[str, Tool]:
    """
    Turn the ``tools`` argument of `Mission` into a name → `Tool` mapping (SPEC §4.13).

    Raises:
        MissionValidationError: The argument or one of its tools is malformed.
    """
    registry: dict[str, Tool] = {}
    try:
        if isinstance(tools, Mapping):
            items: Iterable[tuple[str | None, Any]] = list(tools.items())
            mapping_form = True
        elif isinstance(tools, str | bytes) or not isinstance(tools, Iterable):
            raise _bad({"field": "tools", "reason": "invalid_value"})
        else:
            items = [(None, v) for v in list(tools)]
            mapping_form = False
    except MissionValidationError:
        raise
    except Exception:
        raise _bad({"field": "tools", "reason": "invalid_value"}) from None
    for index, (key, value) in enumerate(items):
        if mapping_form and (not isinstance(key, str) or not key):
            raise _bad({"field": "tools", "index": index, "reason": "tool_name_missing_or_invalid"})
        tool = _as_tool(value, key, index, mapping_form)
        if tool.name in registry:
            raise _bad({"field": "tools", "tool_name": tool.name, "reason": "duplicate_tool_name"})
        registry[tool.name] = tool
    return registry
