"""
JSON safety (SPEC §3.14): to_json_data, size caps, strict to_json and timestamps.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import enum
import json
import math
import sys
import types
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as s
from missionkit import to_json
from missionkit._jsonsafe import (
    MAX_DEPTH,
    cap,
    compact_json,
    format_timestamp,
    json_size,
    parse_timestamp,
    to_json_data,
    truncation_marker,
)
from missionkit.models import Budget, CriterionResult, Observation, Verdict
from missionkit.validation._common import is_int


class Color(enum.IntEnum):
    RED = 7


class Name(str):
    pass


class Ratio(float):
    pass


@attrs.define
class AttrsPoint:
    x: int
    tags: set[str]


@dataclasses.dataclass
class DataPoint:
    y: float
    when: dt.date


class LongRepr:
    def __repr__(self) -> str:
        return "L" * 500


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class BadIter:
    def __iter__(self) -> Any:
        raise RuntimeError("no iter")


class UnprintableKey(str):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __hash__ = str.__hash__


class BadEqKey:
    def __hash__(self) -> int:
        return 1

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    def __str__(self) -> str:
        return "bad-eq-key"


def is_json_data(value: Any) -> bool:
    """
    Whether *value* is JSON data built only from exact builtin types.
    """
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(is_json_data(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and is_json_data(v) for k, v in value.items())
    return False


def marker(value: Any) -> dict[str, str]:
    return {
        "_repr": repr(value)[:200],
        "_type": f"{type(value).__module__}.{type(value).__qualname__}",
    }


def nest(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


class TestScalars:
    @pytest.mark.parametrize("value", [None, True, False, 0, -3, 2**80, "", "é", 1.5, -0.0])
    def test_scalars_unchanged(self, value: Any) -> None:
        """None, bools, ints, strs and floats come back unchanged."""
        result = to_json_data(value)

        assert value == result
        assert type(value) is type(result)

    @pytest.mark.parametrize("value", [math.inf, -math.inf])
    def test_infinities_stay_floats(self, value: float) -> None:
        """Infinite floats stay floats in memory."""
        assert value == to_json_data(value)

    def test_nan_stays_a_float(self) -> None:
        """NaN stays a float in memory."""
        result = to_json_data(math.nan)

        assert float is type(result)
        assert math.isnan(result)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(Color.RED, 7), (Name("n"), "n"), (Ratio(0.25), 0.25)],
    )
    def test_builtin_subclasses_become_exact_types(self, value: Any, expected: Any) -> None:
        """Subclasses of int, str and float become the exact builtin type."""
        result = to_json_data(value)

        assert expected == result
        assert type(expected) is type(result)


class TestContainers:
    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            (None, "null"),
            (True, "true"),
            (False, "false"),
            (1, "1"),
            (-12, "-12"),
            (1.5, "1.5"),
            (math.nan, "NaN"),
            (math.inf, "Infinity"),
            (-math.inf, "-Infinity"),
            (Color.RED, "7"),
            ((1, 2), "(1, 2)"),
            (dt.date(2025, 1, 2), "2025-01-02"),
            (BadEqKey(), "bad-eq-key"),
        ],
    )
    def test_keys_render_like_json(self, key: Any, expected: str) -> None:
        """Scalar keys render as JSON renders them; other keys as str(key)."""
        assert {expected: "v"} == to_json_data({key: "v"})

    def test_key_rendering_matches_json_module(self) -> None:
        """Rendered scalar keys equal what json.dumps produces for them."""
        data = {None: 0, True: 1, False: 2, 10: 3, 2.5: 4}

        assert json.loads(json.dumps(data)) == to_json_data(data)

    @pytest.mark.parametrize(
        ("items", "expected"),
        [
            ([(1, "a"), ("1", "b")], {"1": "b"}),
            ([("1", "a"), (1, "b")], {"1": "b"}),
            ([(None, "a"), ("null", "b")], {"null": "b"}),
            ([("true", "a"), (True, "b")], {"true": "b"}),
            ([(1.5, "a"), ("1.5", "b")], {"1.5": "b"}),
        ],
    )
    def test_later_duplicates_win(
        self, items: list[tuple[Any, str]], expected: dict[str, str]
    ) -> None:
        """When two keys render alike, the later one wins."""
        assert expected == to_json_data(dict(items))

    def test_mappings_become_dicts(self) -> None:
        """Any Mapping becomes a dict, insertion order kept."""
        proxy = types.MappingProxyType({"b": 1, "a": (2, 3)})
        ordered = collections.OrderedDict([("z", {1}), ("y", None)])

        assert {"b": 1, "a": [2, 3]} == to_json_data(proxy)
        assert ["z", "y"] == list(to_json_data(ordered))
        assert dict is type(to_json_data(collections.Counter("aab")))

    def test_lists_and_tuples_become_lists(self) -> None:
        """Lists and tuples (nested too) become lists."""
        assert [1, [2, [3]], []] == to_json_data((1, [2, (3,)], ()))

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ({3, 1, 2}, [1, 2, 3]),
            (frozenset({"b", "a", 10}), ["a", "b", 10]),
            ({(2, 1), (1, 2)}, [[1, 2], [2, 1]]),
            ({None, False, "x"}, ["x", False, None]),
        ],
    )
    def test_sets_sorted_by_compact_json(self, value: Any, expected: list[Any]) -> None:
        """Sets become lists sorted by the compact JSON text of their converted items."""
        result = to_json_data(value)

        assert expected == result
        assert sorted(result, key=compact_json) == result

    def test_dict_views(self) -> None:
        """keys(), values() and items() views become lists in dict order."""
        data = {"b": 1, "a": (2,)}

        assert ["b", "a"] == to_json_data(data.keys())
        assert [1, [2]] == to_json_data(data.values())
        assert [["b", 1], ["a", [2]]] == to_json_data(data.items())

    def test_attrs_and_dataclass_instances(self) -> None:
        """attrs and dataclass instances become their converted field dicts."""
        assert {"x": 1, "tags": ["a", "b"]} == to_json_data(AttrsPoint(1, {"b", "a"}))
        assert {"y": 0.5, "when": "2025-01-02"} == to_json_data(DataPoint(0.5, dt.date(2025, 1, 2)))
        assert {"label": "continue", "reason": "r"} == to_json_data(Verdict("continue", "r"))
        assert {"max_iterations": 1, "max_wall_clock_seconds": -1} == to_json_data(Budget(1, -1))

    def test_classes_are_opaque(self) -> None:
        """An attrs or dataclass class (not an instance) is opaque."""
        assert marker(DataPoint) == to_json_data(DataPoint)
        assert marker(AttrsPoint) == to_json_data(AttrsPoint)

    def test_datetimes_and_dates(self) -> None:
        """Datetimes and dates become ISO-8601 strings."""
        when = dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)

        assert "2025-01-02T03:04:05.000006+00:00" == to_json_data(when)
        assert "2025-01-02" == to_json_data(when.date())


class TestOpaque:
    @pytest.mark.parametrize(
        "value", [object(), b"bytes", 1 + 2j, Ellipsis, len, int, s.Opaque(), range(3)]
    )
    def test_other_objects_become_markers(self, value: Any) -> None:
        """Anything else becomes {_repr, _type} with the module-qualified type name."""
        assert marker(value) == to_json_data(value)

    def test_marker_names_module_and_qualname(self) -> None:
        """_type is <module>.<qualname>, including nested classes."""

        class Inner:
            pass

        result = to_json_data(Inner())

        assert (
            f"{__name__}.TestOpaque.test_marker_names_module_and_qualname.<locals>.Inner"
            == result["_type"]
        )
        assert ["_repr", "_type"] == list(result)

    def test_repr_cut_to_200(self) -> None:
        """The repr in a marker is cut to 200 characters."""
        assert "L" * 200 == to_json_data(LongRepr())["_repr"]

    def test_unprintable_repr(self) -> None:
        """A repr that raises gives <unprintable>."""
        assert {"_repr": "<unprintable>", "_type": f"{__name__}.BadRepr"} == to_json_data(BadRepr())

    def test_list_cycle(self) -> None:
        """A list containing itself becomes a marker at the point of the cycle."""
        loop: list[Any] = [1]
        loop.append(loop)

        assert [1, marker(loop)] == to_json_data(loop)

    def test_dict_cycle(self) -> None:
        """A dict containing itself becomes a marker at the point of the cycle."""
        loop: dict[str, Any] = {"a": 1}
        loop["self"] = loop

        assert {"a": 1, "self": marker(loop)} == to_json_data(loop)

    def test_shared_references_are_not_cycles(self) -> None:
        """The same object reached twice (not through itself) converts both times."""
        shared = [1, {"k": 2}]

        assert [[1, {"k": 2}], [1, {"k": 2}]] == to_json_data([shared, shared])

    def test_depth_100_is_kept(self) -> None:
        """Nesting exactly 100 containers deep converts fully."""
        assert 100 == MAX_DEPTH
        assert nest(100) == to_json_data(nest(100))

    def test_depth_101_is_opaque(self) -> None:
        """The 101st nested container becomes a marker."""
        result = to_json_data(nest(101))

        inner = result
        for _ in range(100):
            assert list is type(inner)
            inner = inner[0]
        assert {"_repr": "[0]", "_type": "builtins.list"} == inner

    def test_deep_dicts_are_opaque_too(self) -> None:
        """Dicts nested deeper than 100 become markers as well."""
        value: Any = {}
        for _ in range(150):
            value = {"k": value}

        result = to_json_data(value)

        for _ in range(100):
            result = result["k"]
        assert "builtins.dict" == result["_type"]

    @pytest.mark.parametrize(
        "make",
        [
            lambda: s.Hostile(),
            lambda: s.HostileClassAttribute(),
            lambda: s.HostileMapping(),
            lambda: s.HostileDict({"a": 1}),
            lambda: s.HostileList([1, 2]),
            lambda: s.HostileStr("x"),
            lambda: s.HostileInt(3),
            lambda: s.HostileFloat(0.5),
            lambda: BadIter(),
            lambda: [s.Hostile(), {"k": s.HostileClassAttribute()}],
            lambda: {UnprintableKey("key"): 1},
            lambda: {BadRepr(): 1},
        ],
        ids=[
            "hostile",
            "class_attribute",
            "mapping",
            "dict",
            "list",
            "str",
            "int",
            "float",
            "iter",
            "nested",
            "str_key",
            "bad_repr_key",
        ],
    )
    def test_hostile_objects_never_raise(self, make: Any) -> None:
        """Objects whose __repr__, __iter__, __eq__ or even __class__ raise still convert."""
        value = make()

        result = to_json_data(value)

        assert is_json_data(result)
        compact_json(result)

    @settings(max_examples=150)
    @given(s.any_values())
    def test_never_raises_and_returns_json_data(self, value: Any) -> None:
        """to_json_data returns JSON data for arbitrary nested, non-JSON and hostile values."""
        assert is_json_data(to_json_data(value))

    @settings(max_examples=75)
    @given(s.record_json_values())
    def test_json_data_is_a_fixed_point(self, value: Any) -> None:
        """Converting JSON data gives equal JSON data."""
        assert compact_json(value) == compact_json(to_json_data(value))


class TestCaps:
    @pytest.mark.parametrize(
        "value",
        ["abc", "é" * 10, {"a": [1, 2.5, None]}, ["x" * 50], "\x00\x01", {"k": math.nan}],
    )
    def test_boundary(self, value: Any) -> None:
        """A value of exactly the limit is kept; one byte over is truncated."""
        size = json_size(value)

        assert value is cap(value, size)
        assert {"_truncated": True, "bytes": size, "preview": compact_json(value)[:256]} == cap(
            value, size - 1
        )

    def test_limit_vs_limit_plus_one(self) -> None:
        """A value of limit+1 bytes is truncated while one of limit bytes is kept."""
        limit = 100
        fits = "a" * (limit - 2)
        over = "a" * (limit - 1)

        assert fits == cap(fits, limit)
        assert {"_truncated": True, "bytes": limit + 1, "preview": json.dumps(over)[:256]} == cap(
            over, limit
        )

    def test_marker_shape(self) -> None:
        """The marker is {_truncated, bytes, preview}: UTF-8 size and a 256-character preview."""
        value = {"text": "é" * 400}
        text = compact_json(value)

        result = cap(value, 4096 // 8)

        assert ["_truncated", "bytes", "preview"] == list(result)
        assert len(text.encode("utf-8")) == result["bytes"]
        assert 256 == len(result["preview"])
        assert text[:256] == result["preview"]
        assert result == truncation_marker(value)

    def test_escaped_control_characters_count_in_full(self) -> None:
        """Strings whose JSON escapes are longer than the UTF-8 text are still measured exactly."""
        value = "\x00" * 100

        assert 602 == json_size(value)
        assert 602 == cap(value, 601)["bytes"]
        assert value == cap(value, 602)

    def test_non_finite_floats_use_python_extensions(self) -> None:
        """Sizes measure NaN and Infinity as Python's JSON extensions."""
        assert len("[NaN,Infinity,-Infinity]") == json_size([math.nan, math.inf, -math.inf])

    @pytest.mark.parametrize("value", [None, True, 0, 10**12, 1.5])
    def test_scalars_pass(self, value: Any) -> None:
        """Short scalars are never truncated."""
        assert value is cap(value, 64)

    def test_truncation_marker_explicit_size(self) -> None:
        """truncation_marker takes a precomputed size."""
        assert {"_truncated": True, "bytes": 99, "preview": '"ab"'} == truncation_marker("ab", 99)

    @settings(max_examples=100)
    @given(s.record_json_values(8), st.integers(min_value=1, max_value=300))
    def test_cap_property(self, value: Any, limit: int) -> None:
        """cap keeps values within the limit and replaces others by their exact-size marker."""
        size = json_size(value)

        result = cap(value, limit)

        if size <= limit:
            assert compact_json(value) == compact_json(result)
        else:
            assert {
                "_truncated": True,
                "bytes": size,
                "preview": compact_json(value)[:256],
            } == result

    def test_json_size_is_utf8_bytes(self) -> None:
        """json_size counts UTF-8 bytes of compact JSON."""
        assert 4 == json_size("é")
        assert len('{"a":[1,2]}') == json_size({"a": [1, 2]})
        assert 6 == json_size("😀")


class TestToJson:
    def test_non_finite_become_strings(self) -> None:
        """NaN, Infinity and -Infinity become strings."""
        assert '["NaN", "Infinity", "-Infinity", 1.5]' == to_json(
            [math.nan, math.inf, -math.inf, 1.5]
        )

    def test_models_become_dicts_in_model_order(self) -> None:
        """Models, and containers of models, serialise as their to_dict form."""
        t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        obs = Observation((), {"loss": math.nan}, (), (), t0, t0)

        data = json.loads(to_json({"obs": obs, "results": [CriterionResult("a", "met", None, t0)]}))

        assert list(obs.to_dict()) == list(data["obs"])
        assert "NaN" == data["obs"]["metrics"]["loss"]
        assert "met" == data["results"][0]["status"]
        assert {"verdict": "continue", "verdict_reason": "r"} == json.loads(
            to_json(Verdict("continue", "r"))
        )

    def test_ensure_ascii_false_and_indent(self) -> None:
        """Non-ASCII text is kept and indent is honoured."""
        assert '"é😀"' == to_json("é😀")
        assert '{\n  "a": 1\n}' == to_json({"a": 1}, indent=2)

    def test_non_json_values_are_converted(self) -> None:
        """Sets, tuples and opaque objects go through to_json_data."""
        assert {"s": [1, 2], "t": [1], "k": {"1": None}} == json.loads(
            to_json({"s": {2, 1}, "t": (1,), "k": {1: None}})
        )
        assert "builtins.object" == json.loads(to_json(object()))["_type"]

    @settings(max_examples=100)
    @given(s.record_json_values(8))
    def test_output_is_strict_json(self, value: Any) -> None:
        """json.loads of to_json output never meets NaN or Infinity."""

        def refuse(token: str) -> Any:
            raise AssertionError(f"non-standard constant {token}")

        json.loads(to_json(value), parse_constant=refuse)


class TestTimestamps:
    def test_format_is_utc_microseconds(self) -> None:
        """Timestamps format as UTC with microseconds and +00:00."""
        offset = dt.timezone(dt.timedelta(hours=-5))

        assert "2025-01-01T05:00:00.000000+00:00" == format_timestamp(
            dt.datetime(2025, 1, 1, tzinfo=offset)
        )

    def test_naive_means_utc(self) -> None:
        """Naive datetimes are UTC when formatting and parsing."""
        assert "2025-01-01T00:00:00.000001+00:00" == format_timestamp(
            dt.datetime(2025, 1, 1, 0, 0, 0, 1)
        )
        assert dt.UTC == parse_timestamp("2025-01-01T00:00:00").tzinfo

    @given(s.UTC_DATETIMES)
    def test_round_trip(self, when: dt.datetime) -> None:
        """parse_timestamp inverts format_timestamp."""
        assert when == parse_timestamp(format_timestamp(when))

    @pytest.mark.parametrize(
        "text", ["", "yesterday", "2025-13-01T00:00:00+00:00", "2025-01-01T25:00"]
    )
    def test_parse_rejects_garbage(self, text: str) -> None:
        """Non-ISO text raises ValueError."""
        with pytest.raises(ValueError):
            parse_timestamp(text)


class TestScalarCapsAndHugeInts:
    def test_scalar_over_a_tiny_cap_is_replaced(self) -> None:
        """A scalar whose JSON is longer than the cap gets the marker like any value."""
        assert {"_truncated": True, "bytes": 11, "preview": "0.123456789"} == cap(0.123456789, 8)
        assert {"_truncated": True, "bytes": 4, "preview": "null"} == cap(None, 3)

    def test_scalar_within_cap_is_kept(self) -> None:
        """Short scalars pass unchanged at ordinary caps."""
        assert (1.5, None, True, 7) == (cap(1.5, 4096), cap(None, 4), cap(True, 4), cap(7, 1))

    def test_to_json_renders_huge_ints_as_markers(self) -> None:
        """Ints past CPython's text limit never make to_json raise."""
        assert [{"_repr": "<unprintable>", "_type": "builtins.int"}] == json.loads(
            to_json([10**5000])
        )

    @pytest.mark.parametrize("wrap", [lambda n: n, lambda n: {"m": [n]}, lambda n: (n,)])
    def test_ints_follow_a_lowered_digit_limit(self, wrap: Any) -> None:
        """
        A host that lowers the interpreter's digit limit gets markers, not unencodable data.
        """
        number = 10**700  # 701 digits: renders by default, not under a 640-digit limit
        assert number in json.loads(json.dumps(to_json_data([number])))
        before = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(640)
        try:
            safe = to_json_data(wrap(number))
            text = json.dumps(safe)  # would raise ValueError on a raw int
            assert not is_int(number)
        finally:
            sys.set_int_max_str_digits(before)
        assert "builtins.int" in text and str(number)[:10] not in text
