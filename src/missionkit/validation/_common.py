"""
Building blocks shared by every validator: rejections, the totality guard, type tests.

Every helper here reads inputs through the builtin types' own methods
(``dict.items``, ``list.copy``, ``str.__str__``) rather than through methods a
subclass may override, so hostile subclasses cannot run code during
inspection, and values put into models are exact builtin instances.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

from missionkit._jsonsafe import renderable_int
from missionkit.errors import MissionValidationError

__all__ = [
    "MISSING",
    "exact_int",
    "exact_str",
    "fail",
    "guard",
    "is_int",
    "is_non_empty_str",
    "is_number",
    "is_str",
    "json_key",
    "lookup",
    "pairs",
    "str_keyed",
    "total",
]

P = ParamSpec("P")
R = TypeVar("R")

_OWN_MARK = "_missionkit_validation_rejection"


class _Missing:
    """
    Marker for an absent key (distinct from an explicit ``None``).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def fail(**details: Any) -> NoReturn:
    """
    Raise the rejection described by *details* (keys in the order given).

    Raises:
        MissionValidationError: Always, marked as raised by a validator.
    """
    err = MissionValidationError(details=details)
    setattr(err, _OWN_MARK, True)
    raise err


def _is_own(err: MissionValidationError) -> bool:
    return getattr(err, _OWN_MARK, False) is True


@contextmanager
def guard(field: str) -> Iterator[None]:
    """
    Turn any unexpected exception raised inside the block into ``uninspectable``.

    Rejections raised by validators pass through unchanged; anything else
    (including a `MissionValidationError` raised by a hostile input's own
    methods) becomes ``{field: <field>, reason: uninspectable}``.
    """
    try:
        yield
    except MissionValidationError as exc:
        if _is_own(exc):
            raise
        _uninspectable(field, exc)
    except Exception as exc:
        _uninspectable(field, exc)


def _uninspectable(field: str, exc: BaseException) -> NoReturn:
    err = MissionValidationError(details={"field": field, "reason": "uninspectable"})
    setattr(err, _OWN_MARK, True)
    raise err from exc


def total(field: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """
    Decorate a validator so that it only ever raises `MissionValidationError`.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with guard(field):
                return func(*args, **kwargs)
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper

    return decorate


def is_str(value: Any) -> bool:
    """
    Whether *value* is a str (subclasses included).
    """
    return isinstance(value, str)


def exact_str(value: str) -> str:
    """
    An exact `str` equal to str *value* (no subclass methods run).
    """
    return str.__str__(value)


def is_non_empty_str(value: Any) -> bool:
    """
    Whether *value* is a str of at least one character.
    """
    return isinstance(value, str) and str.__len__(value) > 0


def is_int(value: Any) -> bool:
    """
    Whether *value* is an int, not a bool, with a JSON text form (SPEC §3.14).

    An int past CPython's 4,300-digit text limit could be validated but never
    stored, so it is refused here like any other non-int.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return renderable_int(int.__index__(value))


def exact_int(value: int) -> int:
    """
    An exact `int` equal to int *value*.
    """
    return int.__index__(value)


def is_number(value: Any) -> bool:
    """
    Whether *value* is a float, or an int as `is_int` accepts it.
    """
    if isinstance(value, float):
        return True
    return is_int(value)


def exact_number(value: int | float) -> int | float:
    """
    An exact `int` or `float` equal to number *value*.
    """
    if isinstance(value, int):
        return int.__index__(value)
    return float.__float__(value)


def is_finite_number(value: Any) -> bool:
    """
    Whether *value* is a number that is neither NaN nor infinite (ints always are).
    """
    if not is_number(value):
        return False
    if isinstance(value, int):
        return True
    return math.isfinite(float.__float__(value))


def pairs(mapping: dict[Any, Any]) -> list[tuple[Any, Any]]:
    """
    The items of dict *mapping*, read from its storage (overridden methods never run).
    """
    return list(dict.items(mapping))


def str_keyed(items: list[tuple[Any, Any]]) -> dict[str, Any]:
    """
    A plain dict of the entries whose key is a str; later duplicates win.
    """
    return {str.__str__(k): v for k, v in items if isinstance(k, str)}


def lookup(data: dict[str, Any], key: str) -> Any:
    """
    The value of *key* in plain dict *data*, or `MISSING`.
    """
    return data.get(key, MISSING)


def json_key(key: Any) -> str:
    """
    Render a mapping key the way `to_json_data` does.
    """
    from missionkit._jsonsafe import to_json_data

    rendered = to_json_data({key: None})
    if isinstance(rendered, dict) and len(rendered) == 1:
        return str.__str__(next(iter(rendered)))
    return "<unprintable>"  # pragma: no cover - to_json_data renders every key
