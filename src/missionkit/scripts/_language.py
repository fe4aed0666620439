"""
The fixed vocabulary of the script language (SPEC §9.2).

Names only; no state. The validator and both runners read these so that what the
validator lets a script mention is exactly what a runner provides.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "EXCEPTION_CLASSES",
    "EXCEPTION_NAMES",
    "FORBIDDEN_CALL_NAMES",
    "MISSION_ATTRIBUTES",
    "MISSION_NAME",
    "SAFE_CALLABLES",
    "SAFE_CALLABLE_NAMES",
    "SCRIPT_FILENAME",
    "safe_builtins",
]

#: The builtins a script may call, in SPEC order.
SAFE_CALLABLES: Final[tuple[Any, ...]] = (
    len,
    min,
    max,
    sum,
    abs,
    any,
    all,
    sorted,
    range,
    enumerate,
    zip,
    list,
    dict,
    tuple,
    set,
    str,
    int,
    float,
    bool,
)
SAFE_CALLABLE_NAMES: Final[frozenset[str]] = frozenset(f.__name__ for f in SAFE_CALLABLES)

#: The exception classes a script may name (raise, catch, construct).
EXCEPTION_CLASSES: Final[tuple[type[Exception], ...]] = (
    Exception,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    LookupError,
    RuntimeError,
    ArithmeticError,
    ZeroDivisionError,
    OverflowError,
    OSError,
    FileNotFoundError,
    TimeoutError,
    ConnectionError,
    StopIteration,
    AssertionError,
)
EXCEPTION_NAMES: Final[frozenset[str]] = frozenset(c.__name__ for c in EXCEPTION_CLASSES)

#: Names whose call is always rejected, before visibility is considered.
FORBIDDEN_CALL_NAMES: Final[frozenset[str]] = frozenset({"exec", "eval", "compile", "__import__"})

#: The name of the script's handle on the host.
MISSION_NAME: Final = "mission"

#: The only attributes a script may touch, and only on ``mission``.
MISSION_ATTRIBUTES: Final[frozenset[str]] = frozenset({"observe", "event"})

#: The file name compiled scripts carry (tracebacks, the child's memory tracer).
SCRIPT_FILENAME: Final = "<script>"


def safe_builtins() -> dict[str, Any]:
    """
    Build a fresh ``__builtins__`` mapping for one script run.

    Returns:
        The safe callables and the exception classes, keyed by name, and nothing else.
    """
    out: dict[str, Any] = {f.__name__: f for f in SAFE_CALLABLES}
    out.update((c.__name__, c) for c in EXCEPTION_CLASSES)
    return out
