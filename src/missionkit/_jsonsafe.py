"""
One way for any value to become JSON data, and the size caps applied to it.

Everything that crosses into a stored record (tool args and results, metrics,
events, evidence, sampler text, script observations) passes through
:func:`to_json_data`, so no value a tool returns can make a save fail.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "MAX_DEPTH",
    "cap",
    "compact_json",
    "format_timestamp",
    "json_size",
    "parse_timestamp",
    "strict_json_data",
    "to_json",
    "to_json_data",
    "truncation_marker",
]

MAX_DEPTH = 100
# Built once: json.dumps with non-default options constructs an encoder per call.
# The encoder keeps no state between calls.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True)
# The C encoder behind _COMPACT.encode, built once instead of on every call.
# Without the cycle markers a cycle ends in RecursionError, which compact_json
# turns into _COMPACT's own error. The pure-Python fallback keeps the same output.
_compact_chunks: Any = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None,
        _COMPACT.default,
        json.encoder.encode_basestring,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else lambda value, level: _COMPACT.iterencode(value)
)
_VIEWS: tuple[type[Any], ...] = (type({}.keys()), type({}.values()), type({}.items()))
_UTC = _dt.UTC


def format_timestamp(value: _dt.datetime) -> str:
    """
    Render a timestamp as SPEC §1.4 JSON: UTC, microseconds, ``+00:00``.

    Naive datetimes are interpreted as UTC.
    """
    tz = value.tzinfo
    if tz is _UTC:
        # Already UTC (every clock missionkit ships returns this): no conversion.
        return value.isoformat(timespec="microseconds")
    if tz is None:
        value = value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC).isoformat(timespec="microseconds")


def parse_timestamp(value: str) -> _dt.datetime:
    """
    Parse an ISO-8601 timestamp; naive values are UTC.

    Raises:
        ValueError: *value* is not an ISO-8601 timestamp.
    """
    parsed = _dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=_UTC)
    return parsed.astimezone(_UTC)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)[:200]
    except Exception:
        return "<unprintable>"


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"


def _opaque(value: Any) -> dict[str, Any]:
    return {"_repr": _safe_repr(value), "_type": _type_name(value)}


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    if key is None:
        return "null"
    if key is True:
        return "true"
    if key is False:
        return "false"
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return _float_text(key)
    try:
        return str(key)
    except Exception:
        return _safe_repr(key)


def compact_json(value: Any) -> str:
    """
    Compact JSON text with Python's non-finite extensions, as used for size caps.
    """
    try:
        return "".join(_compact_chunks(value, 0))
    except RecursionError:
        # Deep or cyclic input: let the checking encoder raise its own error.
        return _COMPACT.encode(value)


def _convert(value: Any, depth: int, active: set[int]) -> Any:
    # Exact scalar types first: this is the hot path.
    cls = type(value)
    if value is None or cls is bool or cls is str or cls is float:
        return value
    # issubclass on type(value): isinstance would consult a (possibly raising) __class__.
    if issubclass(cls, bool):
        return bool(value)
    if issubclass(cls, int):
        number = int.__index__(value)
        # CPython cannot render ints past 4300 digits as text, so JSON cannot
        # hold them: they become markers like any other unrepresentable value.
        return number if renderable_int(number) else _opaque(value)
    if issubclass(cls, float):
        return float.__float__(value)
    if issubclass(cls, str):
        return str.__str__(value)
    if issubclass(cls, _dt.datetime | _dt.date | _dt.time):
        try:
            return value.isoformat()
        except Exception:
            return _opaque(value)
    if depth >= MAX_DEPTH or id(value) in active:
        return _opaque(value)
    active.add(id(value))
    try:
        if cls is dict:
            result: dict[str, Any] = {}
            for k, v in list(value.items()):
                tv = type(v)
                result[k if type(k) is str else _key(k)] = (
                    v
                    if v is None or tv is str or tv is float or tv is bool
                    else _convert(v, depth + 1, active)
                )
            return result
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in list(value.items()):
                out[_key(k)] = _convert(v, depth + 1, active)
            return out
        if isinstance(value, list | tuple):
            return [_convert(v, depth + 1, active) for v in list(value)]
        if isinstance(value, set | frozenset):
            converted = [_convert(v, depth + 1, active) for v in list(value)]
            return sorted(converted, key=compact_json)
        if isinstance(value, _VIEWS):
            members: list[Any] = list(value)
            return [_convert(item, depth + 1, active) for item in members]
        if not isinstance(value, type) and attrs.has(cls):
            fields = {f.name: getattr(value, f.name) for f in attrs.fields(cls)}
            return {k: _convert(v, depth + 1, active) for k, v in fields.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return {k: _convert(v, depth + 1, active) for k, v in fields.items()}
        return _opaque(value)
    except RecursionError:
        return _opaque(value)
    except Exception:
        return _opaque(value)
    finally:
        active.discard(id(value))


#: No int at or past 2**14000 (4,215 digits) is JSON data, whatever the interpreter's
#: digit limit: CPython's default limit is 4,300 digits.
JSON_INT_LIMIT = 1 << 14000
#: Ints below 2**2000 (at most 603 digits) render under any digit limit (the least is 640).
_ALWAYS_RENDERS = 1 << 2000


def renderable_int(number: int) -> bool:
    """
    Whether the exact int *number* has a JSON text form in this interpreter.

    Below `JSON_INT_LIMIT`, and within ``sys.get_int_max_str_digits()`` if the
    host lowered it: an int that cannot be rendered would make every later
    encoding (size caps, stores) fail.
    """
    if -_ALWAYS_RENDERS < number < _ALWAYS_RENDERS:
        return True
    if not -JSON_INT_LIMIT < number < JSON_INT_LIMIT:
        return False
    try:
        int.__repr__(number)
    except ValueError:
        return False
    return True


class _NotPlain(Exception):
    """
    Raised by `_plain` when a value needs the general conversion.
    """


def _plain(value: Any, depth: int) -> Any:
    # Copies trees of exact dicts (str keys), lists and scalars: what tools
    # usually return. Anything else, or depth that could hide a cycle, defers
    # to `_convert`, which owns every rule.
    cls = type(value)
    if cls is str or cls is float or cls is bool or value is None:
        return value
    if cls is int:
        if renderable_int(value):
            return value
        raise _NotPlain
    if depth > 32:
        raise _NotPlain
    if cls is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _NotPlain
            # Strings and floats inline: most leaves of a tool result are.
            item = type(v)
            out[k] = v if item is float or item is str else _plain(v, depth + 1)
        return out
    if cls is list or cls is tuple:
        return [_plain(v, depth + 1) for v in value]
    raise _NotPlain


def to_json_data(value: Any) -> Any:
    """
    Convert any Python value into JSON data (SPEC §3.14).

    Never raises: values that cannot be represented become
    ``{"_repr": …, "_type": …}`` markers. Non-finite floats stay floats.
    """
    try:
        return _plain(value, 0)
    except (_NotPlain, RecursionError):
        return _convert(value, 0, set())


def json_size(value: Any) -> int:
    """
    UTF-8 size of the compact JSON of JSON data *value*.
    """
    return len(compact_json(value).encode("utf-8", "surrogatepass"))


def truncation_marker(value: Any, size: int | None = None) -> dict[str, Any]:
    """
    The marker that replaces a value over its cap.
    """
    text = compact_json(value)
    if size is None:
        size = len(text.encode("utf-8", "surrogatepass"))
    return {"_truncated": True, "bytes": size, "preview": text[:256]}


def cap(value: Any, limit: int) -> Any:
    """
    Return JSON data *value* unchanged if it fits *limit* bytes, else its truncation marker.
    """
    cls = type(value)
    # Scalars: None/bools take at most 5 bytes, floats at most 24 (repr), and
    # ints below 2**64 at most 20; only tiny caps or huge ints need measuring.
    if value is None or cls is bool:
        if limit >= 5:
            return value
    elif cls is float:
        if limit >= 24:
            return value
    elif cls is int and -(1 << 64) < value < (1 << 64) and limit >= 21:
        return value
    # A character costs at most 6 bytes of JSON text (a \uXXXX escape).
    if cls is str and len(value) * 6 + 2 <= limit:
        return value
    text = compact_json(value)
    # Fast path: even at 4 bytes per character the text fits.
    if len(text) * 4 <= limit:
        return value
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return value
    return {"_truncated": True, "bytes": size, "preview": text[:256]}


def strict_json_data(value: Any) -> Any:
    """
    Replace non-finite floats by ``"NaN"``/``"Infinity"``/``"-Infinity"`` and models by dicts.
    """
    cls = type(value)
    if cls is float:
        return value if math.isfinite(value) else _float_text(value)
    if value is None or cls is bool or cls is str:
        return value
    if cls is int:
        # Ints past CPython's text limit have no JSON form: render their marker.
        return value if renderable_int(value) else to_json_data(value)
    if isinstance(value, Mapping):
        return {_key(k): strict_json_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json_data(item) for item in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return strict_json_data(to_dict())
    return strict_json_data(to_json_data(value))


def to_json(value: Any, *, indent: int | None = None) -> str:
    """
    Serialise models, containers of models and JSON data to strict RFC 8259 JSON.

    Non-finite floats become the strings ``"NaN"``, ``"Infinity"`` and
    ``"-Infinity"``; keys keep model order; non-ASCII text is kept.
    """
    return json.dumps(strict_json_data(value), ensure_ascii=False, indent=indent, allow_nan=False)
