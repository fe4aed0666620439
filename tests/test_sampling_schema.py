"""
Tests for the JSON-Schema subset used on sampler-proposed tool arguments.
"""

from __future__ import annotations

import pytest

from missionkit.sampling._schema import schema_errors


def _keywords(instance: object, schema: object) -> list[tuple[str, str]]:
    return [(e["path"], e["keyword"]) for e in schema_errors(instance, schema)]


class TestType:
    @pytest.mark.parametrize(
        ("name", "accepted", "rejected"),
        [
            ("integer", [0, -3, 10**30], [True, False, 1.0, 1.5, "1", None]),
            ("number", [0, 1.5, -2, float("inf")], [True, False, "1", None, [1]]),
            ("boolean", [True, False], [0, 1, "true", None]),
            ("string", ["", "x"], [1, None, b"x", ["x"]]),
            ("null", [None], [0, False, ""]),
            ("array", [[], [1]], [(), {}, "[]"]),
            ("object", [{}, {"a": 1}], [[], "{}", None]),
        ],
    )
    def test_type_words(self, name: str, accepted: list[object], rejected: list[object]) -> None:
        """
        Each type word accepts its JSON type only: bools are not numbers, floats not integers.
        """
        for value in accepted:
            assert schema_errors(value, {"type": name}) == [], value
        for value in rejected:
            assert _keywords(value, {"type": name}) == [("$", "type")], value

    def test_type_list(self) -> None:
        """
        A list of type words accepts any of them.
        """
        schema = {"type": ["integer", "null"]}
        assert schema_errors(None, schema) == []
        assert schema_errors(3, schema) == []
        errors = schema_errors(3.5, schema)
        assert errors == [
            {"path": "$", "keyword": "type", "message": "expected integer or null, got number"}
        ]

    def test_unknown_type_word_is_ignored(self) -> None:
        """
        An unknown type word constrains nothing.
        """
        assert schema_errors("x", {"type": "decimal"}) == []

    def test_type_failure_stops_further_checks(self) -> None:
        """
        A value of the wrong type is not checked against the schema's other keywords.
        """
        assert _keywords("abc", {"type": "integer", "minimum": 5}) == [("$", "type")]


class TestObjects:
    def test_properties_and_paths(self) -> None:
        """
        Property failures are reported at ``$.name`` paths in sorted key order.
        """
        schema = {
            "type": "object",
            "properties": {"b": {"type": "string"}, "a": {"type": "integer"}},
        }
        assert _keywords({"b": 1, "a": "x"}, schema) == [("$.a", "type"), ("$.b", "type")]

    def test_required(self) -> None:
        """
        Missing required properties are reported at the object's path, in schema order.
        """
        schema = {"required": ["z", "a"]}
        errors = schema_errors({}, schema)
        assert [(e["path"], e["keyword"]) for e in errors] == [("$", "required"), ("$", "required")]
        assert errors[0]["message"] == 'missing required property "z"'

    def test_additional_properties_false(self) -> None:
        """
        ``additionalProperties: false`` rejects undeclared keys at their own path.
        """
        schema = {"properties": {"a": {}}, "additionalProperties": False}
        assert _keywords({"a": 1, "x": 2}, schema) == [("$.x", "additionalProperties")]

    def test_additional_properties_schema(self) -> None:
        """
        ``additionalProperties`` as a schema validates every undeclared value.
        """
        schema = {"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}
        assert _keywords({"a": "s", "x": 1, "y": "no"}, schema) == [("$.y", "type")]

    def test_non_identifier_keys_are_quoted(self) -> None:
        """
        Keys that are not identifiers appear as quoted subscripts in paths.
        """
        schema = {"properties": {"a b": {"type": "integer"}}}
        assert _keywords({"a b": "x"}, schema) == [('$["a b"]', "type")]

    def test_nested_paths(self) -> None:
        """
        Paths combine property names and list indexes.
        """
        schema = {
            "properties": {"a": {"type": "array", "items": {"properties": {"b": {"const": 1}}}}}
        }
        assert _keywords({"a": [{"b": 1}, {"b": 2}]}, schema) == [("$.a[1].b", "const")]


class TestArrays:
    def test_items(self) -> None:
        """
        ``items`` validates every element with its index in the path.
        """
        assert _keywords([1, "a", True], {"items": {"type": "integer"}}) == [
            ("$[1]", "type"),
            ("$[2]", "type"),
        ]

    def test_min_max_items(self) -> None:
        """
        ``minItems``/``maxItems`` bound the length inclusively.
        """
        schema = {"minItems": 1, "maxItems": 2}
        assert _keywords([], schema) == [("$", "minItems")]
        assert schema_errors([1, 2], schema) == []
        assert _keywords([1, 2, 3], schema) == [("$", "maxItems")]


class TestScalars:
    def test_string_length(self) -> None:
        """
        ``minLength``/``maxLength`` count characters inclusively.
        """
        schema = {"minLength": 2, "maxLength": 3}
        assert _keywords("é", schema) == [("$", "minLength")]
        assert schema_errors("éé", schema) == []
        assert _keywords("abcd", schema) == [("$", "maxLength")]

    @pytest.mark.parametrize(
        ("keyword", "bound", "ok", "bad"),
        [
            ("minimum", 1, [1, 1.5], [0.99, 0]),
            ("maximum", 1, [1, 0], [1.01, 2]),
            ("exclusiveMinimum", 1, [1.01, 2], [1, 0]),
            ("exclusiveMaximum", 1, [0.99, 0], [1, 2]),
        ],
    )
    def test_numeric_bounds(
        self, keyword: str, bound: float, ok: list[float], bad: list[float]
    ) -> None:
        """
        Each numeric bound has its inclusive or exclusive meaning.
        """
        for value in ok:
            assert schema_errors(value, {keyword: bound}) == [], value
        for value in bad:
            assert [("$", keyword)] == _keywords(value, {keyword: bound}), value

    def test_bounds_ignore_bools_and_nan_fails(self) -> None:
        """
        Bools are not numbers for bounds, and NaN fails every bound.
        """
        assert schema_errors(True, {"maximum": 0}) == []
        assert _keywords(float("nan"), {"minimum": 0}) == [("$", "minimum")]

    def test_enum_distinguishes_bools_from_numbers(self) -> None:
        """
        ``enum`` compares JSON values: ``true`` is not ``1`` but ``1`` equals ``1.0``.
        """
        schema = {"enum": [1, "a", [1, 2], {"k": None}]}
        for value in (1, 1.0, "a", [1, 2], {"k": None}):
            assert schema_errors(value, schema) == [], value
        for value in (True, "b", [True, 2], {"k": False}):
            assert _keywords(value, schema) == [("$", "enum")], value

    def test_const(self) -> None:
        """
        ``const`` uses the same JSON equality as ``enum``.
        """
        assert schema_errors(False, {"const": False}) == []
        assert _keywords(0, {"const": False}) == [("$", "const")]
        assert _keywords(True, {"const": 1}) == [("$", "const")]


class TestMisc:
    def test_other_keywords_ignored(self) -> None:
        """
        Keywords outside the subset constrain nothing.
        """
        schema = {"pattern": "^x$", "format": "email", "oneOf": [{"type": "null"}]}
        assert schema_errors("abc", schema) == []

    def test_malformed_keyword_values_ignored(self) -> None:
        """
        A supported keyword with a malformed value is ignored.
        """
        schema = {"minimum": "5", "maxLength": 1.5, "required": "a", "properties": []}
        assert schema_errors({"x": 1}, schema) == []
        assert schema_errors(1, schema) == []

    def test_boolean_schemas(self) -> None:
        """
        A ``false`` subschema rejects any value; ``true`` accepts any.
        """
        assert _keywords({"a": 1}, {"properties": {"a": False}}) == [("$.a", "false")]
        assert schema_errors({"a": 1}, {"properties": {"a": True}}) == []

    def test_limit(self) -> None:
        """
        Collection stops once *limit* errors are held.
        """
        assert len(schema_errors(list(range(100)), {"items": {"type": "string"}}, limit=3)) == 3
        assert len(schema_errors(list(range(100)), {"items": {"type": "string"}})) == 100

    def test_error_shape(self) -> None:
        """
        Every error is a dict of exactly path, keyword and message.
        """
        (error,) = schema_errors({"n": 7}, {"properties": {"n": {"maximum": 5}}})
        assert error == {"path": "$.n", "keyword": "maximum", "message": "must be <= 5"}
