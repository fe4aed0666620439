"""
Tests for parsing and validating predicate sources (SPEC §5.2–§5.6).
"""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missionkit.predicate import (
    ALLOWED_CALLABLES,
    ALLOWED_METHODS,
    PredicateLimits,
    PredicateRejected,
    compile_predicate,
    parse_predicate,
)

# (source, reason, lineno, col_offset) for every token of SPEC §5.6.
REJECTIONS = [
    ("len(", "syntax_error", 1, 4),
    ("import os", "syntax_error", 1, 1),
    ("x = 1", "syntax_error", 1, 3),
    ("lambda x: x", "forbidden_node", 1, 0),
    ("(x := 1)", "forbidden_node", 1, 1),
    ("await x", "forbidden_node", 1, 0),
    ("(yield)", "forbidden_node", 1, 1),
    ("{x for x in obs['xs']}", "forbidden_node", 1, 0),
    ("{k: 1 for k in obs['xs']}", "forbidden_node", 1, 0),
    ("b'x'.upper()", "bytes_not_allowed", 1, 0),
    ('obs["__class__"]', "dunder_string", 1, 4),
    ("__builtins__", "dunder_name", 1, 0),
    ("__class__", "dunder_name", 1, 0),
    ("range", "name_not_allowed", 1, 0),
    ("foo", "name_not_allowed", 1, 0),
    ("Exception", "name_not_allowed", 1, 0),
    ("sorted(obs['xs'], key=len)", "callable_not_called", 1, 22),
    ("[str]", "callable_not_called", 1, 1),
    ("max", "callable_not_called", 1, 0),
    ("sum(obs['xs'], [])", "call_arguments_not_allowed", 1, 0),
    ("sum(obs['xs'], start=1)", "call_arguments_not_allowed", 1, 0),
    ("{**obs}", "dict_unpacking", 1, 0),
    ("obs['a'] | 1", "binop_not_allowed", 1, 0),
    ("1 >> 2", "binop_not_allowed", 1, 0),
    ("3 & 1", "binop_not_allowed", 1, 0),
    ("3 ^ 1", "binop_not_allowed", 1, 0),
    ("obs.__class__", "dunder_attribute", 1, 0),
    ("''.__class__", "dunder_attribute", 1, 0),
    ("obs.__dict__.get(1)", "dunder_attribute", 1, 0),
    ("obs.a.b", "attribute_target_not_allowed", 1, 0),
    ("str.x", "attribute_target_not_allowed", 1, 0),
    ("obs['m'].real", "attribute_target_not_allowed", 1, 0),
    ("obs.tool_results", "attribute_not_allowed", 1, 0),
    ("sorted(obs['xs'], key=obs.get)", "attribute_not_allowed", 1, 22),
    ("obs['xs'].append(1)", "call_target_method_not_allowed", 1, 0),
    ("obs['xs'].count(0)", "call_target_method_not_allowed", 1, 0),
    ("obs.pop('a')", "call_target_method_not_allowed", 1, 0),
    ("__import__('os')", "call_target_not_allowed", 1, 0),
    ("getattr(obs, 'x')", "call_target_not_allowed", 1, 0),
    ("dict(a=1)", "call_target_not_allowed", 1, 0),
    ("isinstance(obs, dict)", "call_target_not_allowed", 1, 0),
    ("print(1)", "call_target_not_allowed", 1, 0),
    ("obs(1)", "call_target_not_allowed", 1, 0),
    ("obs[0]()", "call_target_not_name", 1, 0),
    ("(lambda: 1)()", "call_target_not_name", 1, 0),
    ("len(obs)()", "call_target_not_name", 1, 0),
    ("[x for x.y in obs['xs']]", "invalid_comprehension_target", 1, 7),
    ("[1 for x[0] in obs['xs']]", "invalid_comprehension_target", 1, 7),
    ("[x async for x in obs['xs']]", "async_comprehension", 1, 13),
    ("[__x for __x in obs['xs']]", "dunder_comprehension_target", 1, 9),
    ("[len for len in obs['xs']]", "comprehension_target_shadows_allowlist", 1, 9),
    ("any(obs for obs in [1])", "comprehension_target_shadows_allowlist", 1, 12),
]

ACCEPTED = [
    "len(obs['tool_results']) > 0",
    "obs.get('missing', 3) == 3",
    "'abc'.upper() == 'ABC'",
    "any('x' in str(r).lower() for r in obs['tool_results'])",
    "[y for x in obs['xs'] for y in x]",
    "obs['metric_history']['loss'][-1] < 0.1",
    "f\"{obs['metrics']['n']:>8}\" != ''",
]


class TestRejections:
    """
    Every rejection token of SPEC §5.6, with its reason and position.
    """

    @pytest.mark.parametrize(("source", "reason", "lineno", "col"), REJECTIONS)
    def test_token_and_position(self, source: str, reason: str, lineno: int, col: int) -> None:
        """
        Each trigger example is refused with its token at the position SPEC §5.2 defines.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate(source)

        assert (reason, lineno, col) == (
            info.value.reason,
            info.value.lineno,
            info.value.col_offset,
        )

    @pytest.mark.parametrize(("source", "reason", "lineno", "col"), REJECTIONS[:5])
    def test_compile_rejects_too(self, source: str, reason: str, lineno: int, col: int) -> None:
        """
        compile_predicate refuses exactly what parse_predicate refuses.
        """
        with pytest.raises(PredicateRejected) as info:
            compile_predicate(source)

        assert reason == info.value.reason

    def test_envelope(self) -> None:
        """
        to_dict() is the predicate_rejected envelope with all position keys.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("obs.a.b")

        assert {
            "code": "predicate_rejected",
            "details": {"reason": "attribute_target_not_allowed", "lineno": 1, "col_offset": 0},
        } == info.value.to_dict()

    def test_not_a_string(self) -> None:
        """
        Bytes are not a source; no position is given.
        """
        with pytest.raises(PredicateRejected) as info:
            compile_predicate(b"True")  # type: ignore[arg-type]

        assert {
            "code": "predicate_rejected",
            "details": {"reason": "not_a_string", "lineno": None, "col_offset": None},
        } == info.value.to_dict()

    def test_source_too_long(self) -> None:
        """
        4096 characters pass the length check, 4097 do not.
        """
        parse_predicate("1" + " " * 4095)
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("1" + " " * 4096)

        assert ("source_too_long", None) == (info.value.reason, info.value.lineno)

    def test_megabyte_source(self) -> None:
        """
        A megabyte of text is refused before it is parsed.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("(" * 1_000_000)

        assert "source_too_long" == info.value.reason

    def test_too_many_nodes(self) -> None:
        """
        More than max_nodes counted nodes are refused without a position.
        """
        source = " + ".join(["obs['a']"] * 200)

        with pytest.raises(PredicateRejected) as info:
            parse_predicate(source)

        assert ("too_many_nodes", None) == (info.value.reason, info.value.lineno)

    def test_node_count_example(self) -> None:
        """
        len(obs) > 0 counts five nodes, so a limit of five accepts it and four does not.
        """
        parse_predicate("len(obs) > 0", limits=PredicateLimits(max_nodes=5))
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("len(obs) > 0", limits=PredicateLimits(max_nodes=4))

        assert "too_many_nodes" == info.value.reason

    def test_too_deep_position(self) -> None:
        """
        Sixty-four nots over obs are depth 65, positioned at the first node that exceeds.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("not " * 64 + "obs")

        assert ("too_deep", 1, 256) == (
            info.value.reason,
            info.value.lineno,
            info.value.col_offset,
        )

    def test_depth_at_limit(self) -> None:
        """
        Depth exactly max_depth is accepted.
        """
        parse_predicate("not " * 63 + "obs")

    @pytest.mark.parametrize(
        "source",
        ["-" * 3000 + "1", "(" * 10_000 + ")" * 10_000, "[" * 150 + "]" * 150, "not " * 1000 + "1"],
    )
    def test_deep_inputs_with_large_limits(self, source: str) -> None:
        """
        Deep inputs are refused cleanly even when the length limit lets them reach the parser.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate(source, limits=PredicateLimits(source_length=100_000))

        assert info.value.reason in {"too_deep", "syntax_error", "too_many_nodes"}

    @pytest.mark.parametrize("source", ["a\x00b", "'\\N{nope}'", "'\\x4'", "1 +* 2", "\ud800"])
    def test_malformed_text(self, source: str) -> None:
        """
        NUL bytes, bad escapes and surrogates are syntax errors.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate(source)

        assert "syntax_error" == info.value.reason

    def test_ellipsis(self) -> None:
        """
        The Ellipsis constant is refused: it is not plain data.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("... is ...")

        assert ("forbidden_node", 0) == (info.value.reason, info.value.col_offset)

    def test_nested_loops_capped(self) -> None:
        """
        More than three nested for clauses are refused at the comprehension.
        """
        source = "[1 for a in obs for b in obs for c in obs for d in obs]"

        with pytest.raises(PredicateRejected) as info:
            parse_predicate(source)

        assert ("forbidden_node", 0) == (info.value.reason, info.value.col_offset)

    def test_first_failure_wins(self) -> None:
        """
        The pre-order walk reports the leftmost violation.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("foo + __bar")

        assert "name_not_allowed" == info.value.reason


class TestUnicode:
    """
    Identifiers are NFKC-normalised before the checks see them.
    """

    @pytest.mark.parametrize(
        ("source", "reason"),
        [
            ("obs.__ｃｌａｓｓ__", "dunder_attribute"),
            ("obs.__𝐜𝐥𝐚𝐬𝐬__", "dunder_attribute"),
            ("__𝐜𝐥𝐚𝐬𝐬__", "dunder_name"),
            ("ℯval('1')", "call_target_not_allowed"),
        ],
    )
    def test_folded_names_are_checked(self, source: str, reason: str) -> None:
        """
        Compatibility characters that fold into forbidden names are refused.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate(source)

        assert reason == info.value.reason

    def test_folded_allowed_name(self) -> None:
        """
        Fullwidth len folds to len and works.
        """
        assert True is compile_predicate("ｌｅｎ(obs) > 0")({"a": 1})


class TestAccepted:
    """
    The accepted examples of SPEC §5.6 and the comprehension scoping rules.
    """

    @pytest.mark.parametrize("source", ACCEPTED)
    def test_accepted(self, source: str) -> None:
        """
        Each accepted example parses into an ast.Expression.
        """
        assert isinstance(parse_predicate(source), ast.Expression)

    def test_later_clause_sees_earlier_target(self) -> None:
        """
        A later clause's iterable may use an earlier clause's target.
        """
        parse_predicate("[y for x in obs['xs'] for y in x if y]")

    def test_target_not_visible_outside(self) -> None:
        """
        A comprehension target is not visible outside its comprehension.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("[x for x in obs] + [x]")

        assert ("name_not_allowed", 20) == (info.value.reason, info.value.col_offset)

    def test_first_iterable_does_not_see_target(self) -> None:
        """
        The first clause's iterable is validated without its own target.
        """
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("[x for x in x]")

        assert "name_not_allowed" == info.value.reason

    def test_public_name_sets(self) -> None:
        """
        The allow-lists are the twelve callables and nine methods of SPEC §5.3.
        """
        assert (12, 9) == (len(ALLOWED_CALLABLES), len(ALLOWED_METHODS))
        assert isinstance(ALLOWED_CALLABLES, frozenset)


class TestFuzz:
    """
    Arbitrary text never escapes as anything but PredicateRejected.
    """

    @given(st.text(max_size=300))
    def test_text(self, source: str) -> None:
        """
        Random text either parses or is rejected.
        """
        try:
            parse_predicate(source)
        except PredicateRejected:
            pass

    @given(st.text(alphabet="()[]{}'\"\\xN0123 +-*/%<>=!.,:;_abobs\x00\n\t", max_size=200))
    def test_syntax_heavy_text(self, source: str) -> None:
        """
        Punctuation-heavy text either parses or is rejected.
        """
        try:
            compile_predicate(source)
        except PredicateRejected:
            pass
