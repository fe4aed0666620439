"""
Trusted constructors for the records the engine builds on every step.

An attrs frozen slotted ``__init__`` assigns each field through
``object.__setattr__`` with the field's name and runs every converter. The
engine builds about fifteen records per iteration from values it has already
normalised (texts cut, timestamps aware), so that per-field work is a large
share of a step. A trusted constructor writes the slots through their
descriptors directly and runs nothing else.

The result is an ordinary instance of the class: frozen, equal to and
indistinguishable from one built through ``__init__`` with the same values.
Only engine code that guarantees the converters' postconditions may use
these; everything that takes outside input keeps the public constructors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs

__all__ = ["trusted_constructor", "trusted_evolver"]

T = TypeVar("T")


def _field_names(cls: type) -> list[str]:
    return [a.name for a in attrs.fields(cls)]


def _slot_setters(cls: type, names: Iterable[str]) -> dict[str, Any]:
    return {f"_set_{name}": cls.__dict__[name].__set__ for name in names}


def _compile(source: str, namespace: dict[str, Any], name: str) -> Callable[..., Any]:
    code = compile(source, f"<missionkit trusted {name}>", "exec")
    exec(code, namespace)
    function: Callable[..., Any] = namespace[name]
    return function


def trusted_constructor(cls: type[T]) -> Callable[..., T]:
    """
    A function taking every field of *cls* positionally, in declaration order.

    No defaults, converters or validators: callers pass final values.
    """
    names = _field_names(cls)
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    namespace.update(_slot_setters(cls, names))
    lines = [f"def build({', '.join(names)}):", "    self = _new(_cls)"]
    lines += [f"    _set_{name}(self, {name})" for name in names]
    lines.append("    return self")
    return _compile("\n".join(lines) + "\n", namespace, "build")


def trusted_evolver(cls: type[T], changed: tuple[str, ...]) -> Callable[..., T]:
    """
    A function ``evolve(instance, *values)`` copying *instance* with *changed* replaced.

    *values* are the new values of *changed*, in that order; every other field
    is copied as is. Same result as ``attrs.evolve`` when no converter would
    alter the new values.
    """
    names = _field_names(cls)
    unknown = set(changed) - set(names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)}")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    namespace.update(_slot_setters(cls, names))
    params = ", ".join(f"new_{name}" for name in changed)
    lines = [f"def evolve(old, {params}):", "    self = _new(_cls)"]
    for name in names:
        value = f"new_{name}" if name in changed else f"old.{name}"
        lines.append(f"    _set_{name}(self, {value})")
    lines.append("    return self")
    return _compile("\n".join(lines) + "\n", namespace, "evolve")
