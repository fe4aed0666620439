"""
The small JSON-Schema subset used to check sampler-proposed tool arguments (SPEC §4.14).

Supported keywords: ``type`` (a name or a list of names), ``properties``,
``required``, ``additionalProperties`` (bool or schema), ``items`` (one schema),
``enum``, ``const``, ``minimum``, ``maximum``, ``exclusiveMinimum``,
``exclusiveMaximum``, ``minLength``, ``maxLength``, ``minItems`` and ``maxItems``.
Every other keyword is ignored, and so is a supported keyword whose value is
malformed (a host's schema is trusted, not validated).

Type words follow JSON, not Python: ``integer`` excludes bools and floats
(``1.0`` is not an integer), ``number`` excludes bools, and ``enum``/``const``
compare ``true`` and ``1`` as different values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

__all__ = ["schema_errors"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_matches(name: str, value: Any) -> bool | None:
    """
    Whether *value* has JSON type *name*; None for an unknown type name.
    """
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return _is_number(value)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    return None


def _json_equal(a: Any, b: Any) -> bool:
    """
    Equality of JSON values: bools never equal numbers, ``1 == 1.0``.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_json_equal(a[k], b[k]) for k in a)
    return False


def _child(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=True, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = "<value>"
    return text if len(text) <= 60 else text[:57] + "..."


class _Collector:
    """
    Accumulates errors and stops the walk once *limit* errors are held.
    """

    __slots__ = ("errors", "limit")

    def __init__(self, limit: int | None) -> None:
        self.errors: list[dict[str, str]] = []
        self.limit = limit

    @property
    def full(self) -> bool:
        return self.limit is not None and len(self.errors) >= self.limit

    def add(self, path: str, keyword: str, message: str) -> None:
        if not self.full:
            self.errors.append({"path": path, "keyword": keyword, "message": message})


def _check_type(value: Any, spec: Any, path: str, out: _Collector) -> bool:
    names = [spec] if isinstance(spec, str) else spec if isinstance(spec, list) else None
    if names is None:
        return True
    verdicts = [_type_matches(n, value) for n in names if isinstance(n, str)]
    known = [v for v in verdicts if v is not None]
    if not known or any(known):
        return True
    wanted = " or ".join(n for n in names if isinstance(n, str))
    out.add(path, "type", f"expected {wanted}, got {_json_type(value)}")
    return False


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _type_matches(name, value):
            return name
    return type(value).__name__


def _check_number(value: Any, schema: Mapping[str, Any], path: str, out: _Collector) -> None:
    # NaN compares false with everything, so it fails every bound that is set.
    for keyword, message in (
        ("minimum", "must be >= {}"),
        ("maximum", "must be <= {}"),
        ("exclusiveMinimum", "must be > {}"),
        ("exclusiveMaximum", "must be < {}"),
    ):
        bound = schema.get(keyword)
        if _is_number(bound) and not _within(keyword, value, bound):
            out.add(path, keyword, message.format(_show(bound)))


def _within(keyword: str, value: float, bound: float) -> bool:
    if keyword == "minimum":
        return value >= bound
    if keyword == "maximum":
        return value <= bound
    if keyword == "exclusiveMinimum":
        return value > bound
    return value < bound


def _check_string(value: str, schema: Mapping[str, Any], path: str, out: _Collector) -> None:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if _is_int(low) and len(value) < low:
        out.add(path, "minLength", f"must be at least {low} characters long")
    if _is_int(high) and len(value) > high:
        out.add(path, "maxLength", f"must be at most {high} characters long")


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_array(value: list[Any], schema: Mapping[str, Any], path: str, out: _Collector) -> None:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if _is_int(low) and len(value) < low:
        out.add(path, "minItems", f"must have at least {low} items")
    if _is_int(high) and len(value) > high:
        out.add(path, "maxItems", f"must have at most {high} items")
    if "items" in schema:
        items = schema["items"]
        for index, item in enumerate(value):
            if out.full:
                return
            _validate(item, items, f"{path}[{index}]", out)


def _check_object(
    value: dict[str, Any], schema: Mapping[str, Any], path: str, out: _Collector
) -> None:
    required = schema.get("required")
    if isinstance(required, list):
        for name in required:
            if isinstance(name, str) and name not in value:
                out.add(path, "required", f"missing required property {_show(name)}")
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        properties = {}
    additional = schema.get("additionalProperties", True)
    for key in sorted(value, key=str):
        if out.full:
            return
        child = _child(path, str(key))
        if key in properties:
            _validate(value[key], properties[key], child, out)
        elif additional is False:
            out.add(child, "additionalProperties", "additional property is not allowed")
        elif isinstance(additional, Mapping):
            _validate(value[key], additional, child, out)


def _validate(value: Any, schema: Any, path: str, out: _Collector) -> None:
    if schema is False:
        out.add(path, "false", "no value is allowed here")
        return
    if not isinstance(schema, Mapping) or out.full:
        return
    if "type" in schema and not _check_type(value, schema["type"], path, out):
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and not any(_json_equal(value, option) for option in enum):
        out.add(path, "enum", f"must be one of {_show(enum)}")
    if "const" in schema and not _json_equal(value, schema["const"]):
        out.add(path, "const", f"must equal {_show(schema['const'])}")
    if _is_number(value):
        _check_number(value, schema, path, out)
    elif isinstance(value, str):
        _check_string(value, schema, path, out)
    elif isinstance(value, list):
        _check_array(value, schema, path, out)
    elif isinstance(value, dict):
        _check_object(value, schema, path, out)


def schema_errors(instance: Any, schema: Any, *, limit: int | None = None) -> list[dict[str, str]]:
    """
    Check JSON data *instance* against *schema* (the subset above).

    Args:
        instance: JSON data (e.g. a proposed call's ``args``).
        schema: A JSON-Schema dict; ``True``/non-dict values accept everything,
            ``False`` accepts nothing.
        limit: Stop after this many errors (None: collect all).

    Returns:
        One ``{"path", "keyword", "message"}`` dict per failure, in a
        deterministic order (object keys sorted); empty if *instance* conforms.
        Paths use ``$``, ``$.a``, ``$.a[0]``; a key that is not an identifier
        is written ``$["a b"]``.

    A value failing ``type`` is not checked further against that schema.
    """
    out = _Collector(limit)
    _validate(instance, schema, "$", out)
    return out.errors
