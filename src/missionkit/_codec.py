"""
Strict decoding of stored record JSON into models.

Stored records are trusted less than memory: a wrong type anywhere must become
one :class:`~missionkit.errors.MissionValidationError` whose ``field`` is the
JSON path of the defect (``iterations[3].status``), never a ``KeyError`` from
deep inside a loader. Stores turn that error into ``SessionCorrupt``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, TypeVar

from missionkit._jsonsafe import parse_timestamp
from missionkit.errors import MissionValidationError

T = TypeVar("T")

_MISSING = object()


def _describe(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = "<unprintable>"
    return text if len(text) <= 80 else text[:77] + "..."


def record_error(path: str, problem: str) -> MissionValidationError:
    """
    The error every record decoder raises: ``{field: <path>, reason: invalid_value}``.
    """
    return MissionValidationError(
        details={"field": path or "$", "reason": "invalid_value"},
        message=f"field {path or '$'!r}: {problem}",
    )


def join(path: str, key: str | int) -> str:
    """
    Extend a JSON path by a key or an index.
    """
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Obj:
    """
    A cursor over one JSON object that reads typed fields and rejects unknown keys.
    """

    __slots__ = ("data", "path", "seen")

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise record_error(path, f"expected an object, got {_describe(data)}")
        self.data: dict[str, Any] = data
        self.path = path
        self.seen: set[str] = set()

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        """
        The value at *key*; missing keys are errors unless a default is given.
        """
        self.seen.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise record_error(join(self.path, key), "missing")
        return default

    def fail(self, key: str | int, problem: str) -> MissionValidationError:
        """
        Build the error for *key*.
        """
        return record_error(join(self.path, key), problem)

    def str_(self, key: str, *, optional: bool = False) -> Any:
        value = self.raw(key, None if optional else _MISSING)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_describe(value)}")
        return value

    def int_(self, key: str, *, optional: bool = False, minimum: int | None = None) -> Any:
        value = self.raw(key, None if optional else _MISSING)
        if value is None and optional:
            return None
        if type(value) is not int:
            raise self.fail(key, f"expected an integer, got {_describe(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"{value} is below {minimum}")
        return value

    def number(self, key: str, *, optional: bool = False, finite: bool = False) -> Any:
        value = self.raw(key, None if optional else _MISSING)
        if value is None and optional:
            return None
        if type(value) not in (int, float):
            raise self.fail(key, f"expected a number, got {_describe(value)}")
        if finite and type(value) is float and not math.isfinite(value):
            raise self.fail(key, f"expected a finite number, got {_describe(value)}")
        return value

    def bool_(self, key: str, *, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if type(value) is not bool:
            raise self.fail(key, f"expected a boolean, got {_describe(value)}")
        return value

    def literal(
        self, key: str, allowed: Collection[str], what: str, *, optional: bool = False
    ) -> Any:
        value = self.raw(key, None if optional else _MISSING)
        if value is None and optional:
            return None
        if not isinstance(value, str) or value not in allowed:
            raise self.fail(key, f"{_describe(value)} is not a valid {what}")
        return value

    def timestamp(self, key: str, *, optional: bool = False) -> Any:
        value = self.raw(key, None if optional else _MISSING)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"expected a timestamp string, got {_describe(value)}")
        try:
            return parse_timestamp(value)
        except ValueError:
            raise self.fail(key, f"{_describe(value)} is not an ISO-8601 timestamp") from None

    def dict_(self, key: str, *, optional: bool = False) -> Any:
        value = self.raw(key, None if optional else _MISSING)
        if value is None and optional:
            return None
        if not isinstance(value, dict):
            raise self.fail(key, f"expected an object, got {_describe(value)}")
        return value

    def list_(
        self, key: str, item: Callable[[Any, str], T], *, optional: bool = False
    ) -> tuple[T, ...] | None:
        value = self.raw(key, None if optional else _MISSING)
        if value is None and optional:
            return None
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_describe(value)}")
        base = join(self.path, key)
        return tuple(item(v, join(base, i)) for i, v in enumerate(value))

    def obj(self, key: str, item: Callable[[Any, str], T], *, optional: bool = False) -> T | None:
        value = self.raw(key, None if optional else _MISSING)
        if value is None and optional:
            return None
        return item(value, join(self.path, key))

    def done(self) -> None:
        """
        Reject keys that were never read.
        """
        for key in self.data:
            if key not in self.seen:
                raise record_error(join(self.path, str(key)), "unknown key")


def str_item(value: Any, path: str) -> str:
    """
    Decode a list item that must be a string.
    """
    if not isinstance(value, str):
        raise record_error(path, f"expected a string, got {_describe(value)}")
    return value


def dict_item(value: Any, path: str) -> dict[str, Any]:
    """
    Decode a list item that must be an object (kept as JSON data).
    """
    if not isinstance(value, dict):
        raise record_error(path, f"expected an object, got {_describe(value)}")
    return value


def timestamp_or_none(value: datetime | None) -> str | None:
    """
    Format an optional timestamp.
    """
    from missionkit._jsonsafe import format_timestamp

    return None if value is None else format_timestamp(value)
