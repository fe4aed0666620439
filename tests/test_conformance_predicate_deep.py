"""
Conformance tests for SPEC §5 (the predicate language), in depth.

Black-box checks of the rules the focused predicate modules leave open:
exact allow-lists, the pipeline order and limit positions, multi-line and
byte-based positions, `_fields` walk order, comprehension scoping details,
every allowed callable and method, and the evaluation model.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import pickle
from typing import Any

import pytest

from missionkit.errors import MissionkitError, MissionValidationError, PredicateLimitExceeded
from missionkit.predicate import (
    ALLOWED_CALLABLES,
    ALLOWED_METHODS,
    Predicate,
    PredicateLimits,
    PredicateRejected,
    compile_predicate,
    parse_predicate,
)
from missionkit.validation import validate_criteria

CALLABLES = [
    *("len", "min", "max", "sum", "abs", "any"),
    *("all", "sorted", "str", "int", "float", "bool"),
]
METHODS = ["get", "keys", "values", "items", "lower", "upper", "strip", "startswith", "endswith"]
BIG = PredicateLimits(source_length=100_000)


def rejection(source: Any, limits: PredicateLimits | None = None) -> tuple[Any, ...]:
    """
    The (reason, lineno, col_offset) of rejecting predicate *source*.
    """
    with pytest.raises(PredicateRejected) as info:
        parse_predicate(source, limits=limits)
    return (info.value.reason, info.value.lineno, info.value.col_offset)


def native(source: str, obs: Any) -> Any:
    """
    Evaluate *source* as the same hand-written expression over *obs* would.
    """
    return eval(source, {"__builtins__": builtins, "obs": obs})


class TestApi:
    """
    SPEC §5.1: signatures, the public allow-lists, limits, Predicate attributes and pickling.
    """

    def test_allow_lists_are_exactly_the_documented_names(self) -> None:
        """§5.1/§5.3: ALLOWED_CALLABLES and ALLOWED_METHODS hold exactly the 12 and 9 names."""
        assert (frozenset(CALLABLES), frozenset(METHODS)) == (ALLOWED_CALLABLES, ALLOWED_METHODS)
        assert (frozenset, frozenset) == (type(ALLOWED_CALLABLES), type(ALLOWED_METHODS))

    def test_default_limits(self) -> None:
        """§5.1: PredicateLimits defaults, and a predicate compiled without limits uses them."""
        expected = PredicateLimits(
            source_length=4096,
            max_nodes=512,
            max_depth=64,
            max_int_bits=4096,
            max_sequence_length=100_000,
            max_format_width=1000,
            max_work=1_000_000,
        )

        assert expected == PredicateLimits()
        assert expected == compile_predicate("obs").limits

    @pytest.mark.parametrize(
        "field", ["max_depth", "max_int_bits", "max_sequence_length", "max_format_width"]
    )
    def test_other_limits_must_be_positive(self, field: str) -> None:
        """§5.1: every PredicateLimits field is a positive int; 1 is accepted and 0 refused."""
        assert 1 == getattr(PredicateLimits(**{field: 1}), field)
        with pytest.raises(ValueError):
            PredicateLimits(**{field: 0})

    @pytest.mark.parametrize(
        "source",
        [
            "len(obs['tool_results']) > 0",
            "sum(r['score'] for r in obs['tool_results']) / max(1, len(obs)) > 0.5",
            "f\"{obs['metrics']['n']:>8}\" * 2 ** 3",
            "obs['s'][1:10:2] + 'x' % 1 if obs else 'y' in obs",
        ],
    )
    def test_parse_returns_the_plain_tree(self, source: str) -> None:
        """§5.1: parse_predicate returns the tree exactly as ast builds it, with no guards."""
        expected = ast.dump(ast.parse(source, mode="eval"), include_attributes=True)

        assert expected == ast.dump(parse_predicate(source), include_attributes=True)

    def test_predicate_takes_one_argument_obs(self) -> None:
        """§5.8: the compiled predicate is a function of one argument named obs."""
        predicate = compile_predicate("obs")

        assert ["obs"] == list(inspect.signature(predicate).parameters)
        assert isinstance(predicate, Predicate)

    @pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
    def test_pickle_every_protocol(self, protocol: int) -> None:
        """§5.1: a predicate with default limits survives every pickle protocol."""
        predicate = compile_predicate("[x * 2 for x in obs if x]")

        clone = pickle.loads(pickle.dumps(predicate, protocol=protocol))

        assert ([2, 6], "[x * 2 for x in obs if x]", PredicateLimits()) == (
            clone([1, 0, 3]),
            clone.source,
            clone.limits,
        )

    def test_unpickling_recompiles_and_revalidates_the_source(self) -> None:
        """§5.1: unpickling recompiles from source, so a tampered source is rejected on load."""
        data = pickle.dumps(compile_predicate("obs + 1"))
        tampered = data.replace(b"obs + 1", b"foo + 1")

        assert tampered != data
        with pytest.raises(PredicateRejected) as info:
            pickle.loads(tampered)

        assert ("name_not_allowed", 1, 0) == (
            info.value.reason,
            info.value.lineno,
            info.value.col_offset,
        )


class TestPipeline:
    """
    SPEC §5.2: step order, length, parse, node-count and depth rules with their positions.
    """

    @pytest.mark.parametrize(
        "source", [None, 1, 1.5, bytearray(b"obs"), ["obs"], b"x" * 5000, memoryview(b"obs")]
    )
    def test_not_a_string_is_step_one(self, source: Any) -> None:
        """§5.2 step 1: any non-str is not_a_string without a position, even if also too long."""
        assert ("not_a_string", None, None) == rejection(source)

    def test_length_counts_characters(self) -> None:
        """§5.2 step 2: the limit is in characters, not UTF-8 bytes, and it follows the limits."""
        at_limit = "'" + "é" * 4094 + "'"

        assert isinstance(parse_predicate(at_limit), ast.Expression)
        assert ("source_too_long", None, None) == rejection("'" + "é" * 4095 + "'")
        limits = PredicateLimits(source_length=3)
        assert isinstance(parse_predicate("obs", limits=limits), ast.Expression)
        assert ("source_too_long", None, None) == rejection("obs ", limits)

    @pytest.mark.parametrize(
        "source",
        [
            "(obs\n+)",
            "obs +\n",
            "obs; 1",
            " obs",
            "obs[\n\n1",
            "[x for x in]",
            "obs if obs",
            "f'{'",
            "obs ===== 1",
        ],
    )
    def test_syntax_error_position_is_the_parsers(self, source: str) -> None:
        """§5.2 step 3: syntax_error carries the SyntaxError's lineno and 1-based offset."""
        with pytest.raises(SyntaxError) as parsed:
            ast.parse(source, mode="eval")

        expected = ("syntax_error", parsed.value.lineno, parsed.value.offset)
        assert expected == rejection(source)
        assert expected[1] is not None

    @pytest.mark.parametrize(
        "source",
        [
            "def f(): pass",
            "class A: pass",
            "del obs",
            "assert obs",
            "pass",
            "return obs",
            "global obs",
            "for x in obs: pass",
            "obs += 1",
            "obs: int = 1",
            "from os import path",
        ],
    )
    def test_statements_are_syntax_errors(self, source: str) -> None:
        """§5.2 step 3: statements are not expressions, so they are syntax_error with a position."""
        reason, lineno, col = rejection(source)

        assert ("syntax_error", 1) == (reason, lineno)
        assert isinstance(col, int)

    @pytest.mark.parametrize(
        "source", ["-" * 10_000 + "1", "not " * 10_000 + "obs", "obs" + "[0]" * 10_000]
    )
    def test_parser_recursion_is_too_deep(self, source: str) -> None:
        """§5.2 step 3: recursion inside the parser is too_deep, without a position."""
        assert ("too_deep", None, None) == rejection(source, BIG)

    @pytest.mark.parametrize("error", [RecursionError, MemoryError])
    def test_parser_exhaustion_maps_to_too_deep(
        self, error: type[BaseException], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """§5.2 step 3: RecursionError or MemoryError raised by ast.parse is too_deep."""

        def exhausted(*args: Any, **kwargs: Any) -> Any:
            raise error

        monkeypatch.setattr(ast, "parse", exhausted)

        assert ("too_deep", None, None) == rejection("obs")

    def test_syntax_error_before_node_count(self) -> None:
        """§5.2 steps 3/4: a source with too many nodes but bad syntax is syntax_error."""
        source = " + ".join(["obs"] * 600) + " +"

        assert "syntax_error" == rejection(source, BIG)[0]

    def test_node_count_before_allow_list(self) -> None:
        """§5.2 steps 4/6: a source with too many nodes and only bad names is too_many_nodes."""
        source = " + ".join(["foo"] * 600)

        assert ("too_many_nodes", None, None) == rejection(source)

    @pytest.mark.parametrize(
        ("source", "count"),
        [
            ("-obs", 2),
            ("obs and not obs", 4),
            ("[x for x in obs]", 5),
            ("sorted(obs, reverse=obs)", 5),
            ("f'{obs:>8}'", 5),
            ("obs[1:2]", 5),
            ("{'a': obs}", 3),
        ],
    )
    def test_counted_node_kinds(self, source: str, count: int) -> None:
        """§5.2 step 4: only expr, comprehension and keyword nodes count toward max_nodes."""
        tree = parse_predicate(source, limits=PredicateLimits(max_nodes=count))

        assert isinstance(tree, ast.Expression)
        assert ("too_many_nodes", None, None) == rejection(
            source, PredicateLimits(max_nodes=count - 1)
        )

    @pytest.mark.parametrize(
        ("source", "depth", "col"),
        [
            ("[x for x in obs]", 3, 7),
            ("sorted(obs, reverse=obs)", 3, 20),
            ("f'{obs:>{obs}}'", 5, 9),
            ("obs[1:-obs]", 4, 7),
        ],
    )
    def test_depth_counts_comprehensions_keywords_and_specs(
        self, source: str, depth: int, col: int
    ) -> None:
        """§5.2 step 5: depth counts comprehension, keyword and format-spec levels on the path."""
        assert isinstance(
            parse_predicate(source, limits=PredicateLimits(max_depth=depth)), ast.Expression
        )

        assert ("too_deep", 1, col) == rejection(source, PredicateLimits(max_depth=depth - 1))

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("'é' + foo", ("name_not_allowed", 1, 7)),
            ("'''\n'''.upper() + foo", ("name_not_allowed", 2, 14)),
            ("(obs,\n\n    range)", ("name_not_allowed", 3, 4)),
        ],
    )
    def test_positions_are_as_in_ast(self, source: str, expected: tuple[Any, ...]) -> None:
        """§5.2 step 6: positions are ast's (1-based line, 0-based UTF-8 byte column)."""
        assert expected == rejection(source)


class TestNamesCallablesMethods:
    """
    SPEC §5.3: every callable and method, and how disallowed ones are reported.
    """

    @pytest.mark.parametrize(
        ("source", "obs"),
        [
            ("len(obs)", [1, 2, 3]),
            ("min(obs, key=None)", [3, 1, 2]),
            ("max(obs, default=0)", []),
            ("sum(obs)", [1.5, 2, True]),
            ("abs(obs)", -3.5),
            ("any(obs)", [0, "", None, 1]),
            ("all(obs)", [1, "x", []]),
            ("sorted(obs, reverse=True)", ["b", "c", "a"]),
            ("str(obs)", {"a": [1, None]}),
            ("int(obs, 16)", "ff"),
            ("float(obs)", " 1e3 "),
            ("bool(obs)", {}),
        ],
    )
    def test_each_callable_is_the_builtin(self, source: str, obs: Any) -> None:
        """§5.3: each of the 12 callables computes what the builtin itself computes."""
        assert native(source, obs) == compile_predicate(source)(obs)

    @pytest.mark.parametrize("name", CALLABLES)
    def test_each_callable_uncalled_is_refused(self, name: str) -> None:
        """§5.3: a bare reference to any of the 12 callables is callable_not_called."""
        assert ("callable_not_called", 1, 5) == rejection(f"obs, {name}")

    @pytest.mark.parametrize(
        "name",
        [
            "eval",
            "exec",
            "open",
            "type",
            "vars",
            "dir",
            "globals",
            "repr",
            "list",
            "iter",
            "next",
            "map",
            "format",
            "round",
            "pow",
            "setattr",
            "compile",
            "breakpoint",
        ],
    )
    def test_other_builtins_are_refused(self, name: str) -> None:
        """§5.3/§5.4: other builtins: call_target_not_allowed called, else name_not_allowed."""
        assert ("call_target_not_allowed", 1, 0) == rejection(f"{name}(obs)")
        assert ("name_not_allowed", 1, 1) == rejection(f"[{name}]")

    def test_comprehension_target_is_not_callable(self) -> None:
        """§5.3/§5.4: a visible comprehension target is data, not a callee."""
        assert ("call_target_not_allowed", 1, 1) == rejection("[x(1) for x in obs]")

    @pytest.mark.parametrize("source", ["sum()", "sum(*obs)", "sum(**obs)", "sum(foo, __x)"])
    def test_sum_arity_checked_before_arguments(self, source: str) -> None:
        """§5.3: sum needs exactly one plain positional argument, checked before the arguments."""
        assert ("call_arguments_not_allowed", 1, 0) == rejection(source)

    @pytest.mark.parametrize("obs", [[[1], [2]], ["a", "b"]])
    def test_sum_only_adds_to_zero(self, obs: Any) -> None:
        """§5.3: with no start value, summing lists or strings fails with TypeError."""
        with pytest.raises(TypeError):
            compile_predicate("sum(obs)")(obs)

    @pytest.mark.parametrize(
        "source",
        [
            "max(obs['a'], obs['b'])",
            "min(obs['a'], obs['b'])",
            "sorted(obs['d'].items())",
            "max(obs['d'].values())",
            "min([obs['d']])",
        ],
    )
    def test_min_max_sorted_refuse_containers(self, source: str) -> None:
        """§5.3: min, max and sorted raise TypeError on non-scalar elements, in every call form."""
        obs = {"a": [1, 2], "b": [3], "d": {"k": [1], "j": [2]}}

        with pytest.raises(TypeError):
            compile_predicate(source)(obs)

    def test_min_max_sorted_accept_every_scalar_kind(self) -> None:
        """§5.3: None, bool, int, float and str elements are accepted."""
        obs = {"n": [True, 2, 1.5], "s": ["b", "a"], "z": [None]}
        source = "(max(obs['n']), min(obs['n']), sorted(obs['s']), max(obs['z']), min('bca'))"

        assert (2, True, ["a", "b"], None, "a") == compile_predicate(source)(obs)

    @pytest.mark.parametrize(
        "source",
        [
            "obs['d'].get('k')",
            "obs['d'].get('missing', [0])",
            "sorted(obs['d'].keys())",
            "[v for v in obs['d'].values()]",
            "[k + str(v) for k, v in obs['d'].items()]",
            "obs['s'].lower()",
            "obs['s'].upper()",
            "obs['s'].strip()",
            "obs['s'].strip(' Ab')",
            "obs['s'].startswith('Ab', 2)",
            "obs['s'].startswith(('x', ' '))",
            "obs['s'].endswith('C ', 0, 5)",
        ],
    )
    def test_methods_pass_arguments_through(self, source: str) -> None:
        """§5.3: the nine methods resolve on dict and str and take the builtin's arguments."""
        obs = {"d": {"k": 1, "j": 2}, "s": " AbC "}
        assert native(source, obs) == compile_predicate(source)(obs)

    @pytest.mark.parametrize("method", METHODS)
    def test_methods_do_not_resolve_on_lists(self, method: str) -> None:
        """§5.3: none of the nine methods exists on a list: AttributeError at run time."""
        with pytest.raises(AttributeError):
            compile_predicate(f"obs.{method}()")([1, 2])

    @pytest.mark.parametrize(
        ("source", "obs"),
        [
            ("obs.get('a')", "abc"),
            ("obs.items()", "abc"),
            ("obs.lower()", {"a": 1}),
            ("obs.startswith('a')", {"a": 1}),
        ],
    )
    def test_dict_and_str_methods_do_not_cross(self, source: str, obs: Any) -> None:
        """§5.3: dict methods do not resolve on str, nor str methods on dict."""
        with pytest.raises(AttributeError):
            compile_predicate(source)(obs)

    @pytest.mark.parametrize(
        ("source", "col"), [("obs.get", 0), ("[obs.keys]", 1), ("obs.get('a', obs.items)", 13)]
    )
    def test_method_not_called_is_attribute_read(self, source: str, col: int) -> None:
        """§5.3/§5.4: an allowed method outside callee position is a refused attribute read."""
        assert ("attribute_not_allowed", 1, col) == rejection(source)


class TestConstructs:
    """
    SPEC §5.4: construct rows, the walk order of children, and each token on a later line.
    """

    @pytest.mark.parametrize(
        "source",
        [
            "+obs['n']",
            "-obs['n']",
            "not obs['n']",
            "~obs['n']",
            "obs['n'] and obs['z']",
            "obs['z'] or obs['n']",
            "obs['n'] == 1",
            "obs['n'] != 1",
            "obs['n'] < 2 <= 3 > 0 >= -1",
            "obs['z'] is None",
            "obs['z'] is not None",
            "'a' in obs['s']",
            "'q' not in obs['s']",
            "obs['n'] if obs['z'] else obs['s']",
        ],
    )
    def test_every_unary_bool_compare_operator_is_allowed(self, source: str) -> None:
        """§5.4/§5.6: all unary, boolean and comparison operators are accepted (tokens reserved)."""
        obs = {"n": 5, "z": 0, "s": "abc"}

        assert native(source, obs) == compile_predicate(source)(obs)

    @pytest.mark.parametrize(
        "source",
        [
            "obs['n'] + 2",
            "obs['n'] - 2",
            "obs['n'] * 2",
            "obs['n'] / 2",
            "obs['n'] // 2",
            "obs['n'] % 2",
            "obs['n'] ** 2",
            "obs['n'] << 2",
            "obs['s'] % obs['n']",
        ],
    )
    def test_every_allowed_binop_evaluates(self, source: str) -> None:
        """§5.4: + - * / // % ** << are accepted and compute the native value."""
        obs = {"n": 7, "s": "%03d"}

        assert native(source, obs) == compile_predicate(source)(obs)

    @pytest.mark.parametrize(
        ("source", "col"), [("foo >> 1", 0), ("obs | foo", 0), ("(foo & 1) + 1", 1)]
    )
    def test_disallowed_binop_reported_before_operands(self, source: str, col: int) -> None:
        """§5.2/§5.4: the BinOp node is refused before its (also bad) operands are visited."""
        assert ("binop_not_allowed", 1, col) == rejection(source)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("'_' '_x'", ("dunder_string", 1, 0)),
            ("f'__x{obs}'", ("dunder_string", 1, 0)),
            ("obs.get('__class__')", ("dunder_string", 1, 8)),
            ("b'' + 1", ("bytes_not_allowed", 1, 0)),
            ("obs[...]", ("forbidden_node", 1, 4)),
            ("(yield from obs)", ("forbidden_node", 1, 1)),
            ("[lambda: 1 for a in obs]", ("forbidden_node", 1, 1)),
            ("[x for x in obs if (y := 1)]", ("forbidden_node", 1, 20)),
            ("{__x for x in obs}", ("forbidden_node", 1, 0)),
            ("{x: 1 for x in foo}", ("forbidden_node", 1, 0)),
        ],
    )
    def test_constant_and_forbidden_rows(self, source: str, expected: tuple[Any, ...]) -> None:
        """§5.4: literal dunder strings (however spelled), bytes and forbidden nodes, positioned."""
        assert expected == rejection(source)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("{1: foo, bar: 2}", ("name_not_allowed", 1, 9)),
            ("foo if bar else 1", ("name_not_allowed", 1, 7)),
            ("sorted(key=foo, *bar)", ("name_not_allowed", 1, 17)),
            ("obs[foo:bar]", ("name_not_allowed", 1, 4)),
            ("obs < foo < bar", ("name_not_allowed", 1, 6)),
            ("[*foo, bar]", ("name_not_allowed", 1, 2)),
        ],
    )
    def test_children_walked_in_fields_order(self, source: str, expected: tuple[Any, ...]) -> None:
        """§5.2 step 6: children are visited in _fields order (dict keys, IfExp test, args)."""
        assert expected == rejection(source)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("len(*foo)", ("name_not_allowed", 1, 5)),
            ("len(obs, **foo)", ("name_not_allowed", 1, 11)),
            ("len(k=foo)", ("name_not_allowed", 1, 6)),
            ("obs.get(len)", ("callable_not_called", 1, 8)),
            ("len.get(1)", ("callable_not_called", 1, 0)),
            ("__x.get(1)", ("dunder_name", 1, 0)),
            ("obs.x.__y(1)", ("dunder_attribute", 1, 0)),
            ("obs.get.get()", ("attribute_not_allowed", 1, 0)),
            ("[x.a for x in obs]", ("attribute_target_not_allowed", 1, 1)),
            ("len.x", ("attribute_target_not_allowed", 1, 0)),
        ],
    )
    def test_call_and_attribute_rows(self, source: str, expected: tuple[Any, ...]) -> None:
        """§5.4: call arguments of every kind and method receivers are validated as expressions."""
        assert expected == rejection(source)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("(obs,\n b'x')", ("bytes_not_allowed", 2, 1)),
            ("(obs,\n '__a')", ("dunder_string", 2, 1)),
            ("(obs,\n __a)", ("dunder_name", 2, 1)),
            ("(obs,\n range)", ("name_not_allowed", 2, 1)),
            ("(obs,\n len)", ("callable_not_called", 2, 1)),
            ("(obs,\n sum(obs, 1))", ("call_arguments_not_allowed", 2, 1)),
            ("(obs,\n {**obs})", ("dict_unpacking", 2, 1)),
            ("(obs,\n obs | 1)", ("binop_not_allowed", 2, 1)),
            ("(obs,\n obs.__x)", ("dunder_attribute", 2, 1)),
            ("(obs,\n obs.a.b)", ("attribute_target_not_allowed", 2, 1)),
            ("(obs,\n obs.a)", ("attribute_not_allowed", 2, 1)),
            ("(obs,\n obs.pop())", ("call_target_method_not_allowed", 2, 1)),
            ("(obs,\n print(1))", ("call_target_not_allowed", 2, 1)),
            ("(obs,\n obs[0]())", ("call_target_not_name", 2, 1)),
            ("(obs,\n lambda: 1)", ("forbidden_node", 2, 1)),
            ("(obs,\n [1 for x.y in obs])", ("invalid_comprehension_target", 2, 8)),
            ("(obs,\n [1 for x in obs\n async for y in obs])", ("async_comprehension", 3, 11)),
            ("(obs,\n [1 for __x in obs])", ("dunder_comprehension_target", 2, 8)),
            ("(obs,\n [1 for len in obs])", ("comprehension_target_shadows_allowlist", 2, 8)),
            ("(obs,\n not " + "not " * 63 + "obs)", ("too_deep", 2, 253)),
        ],
    )
    def test_every_positioned_token_on_a_later_line(
        self, source: str, expected: tuple[Any, ...]
    ) -> None:
        """§5.6: every positioned token reports the line and column of its node beyond line 1."""
        assert expected == rejection(source)

    def test_complex_numbers_are_numbers(self) -> None:
        """§5.4: numeric constants, complex included, are allowed."""
        assert (5.0, -1 + 0j) == compile_predicate("(abs(3 + 4j), 1j * 1j)")(None)


class TestComprehensions:
    """
    SPEC §5.5: clause order, target rules and scoping.
    """

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("[x for x in obs async for y in foo]", ("async_comprehension", 1, 26)),
            ("[__x async for x in obs]", ("async_comprehension", 1, 15)),
            ("[1 for a in obs for __b in foo]", ("name_not_allowed", 1, 27)),
            ("[1 for a in obs if foo for b.c in obs]", ("name_not_allowed", 1, 19)),
            ("[1 for a in obs for b in foo if __c]", ("name_not_allowed", 1, 25)),
            ("[1 for obs.__x in obs]", ("invalid_comprehension_target", 1, 7)),
            ("[1 for x[foo] in obs]", ("invalid_comprehension_target", 1, 7)),
            ("[1 for (*a.b,) in obs]", ("invalid_comprehension_target", 1, 8)),
            ("[1 for *__a, in obs]", ("dunder_comprehension_target", 1, 8)),
            ("[1 for a, __b in obs]", ("dunder_comprehension_target", 1, 10)),
            ("[x for x in [y for y in obs] if y]", ("name_not_allowed", 1, 32)),
        ],
    )
    def test_clause_order_and_targets(self, source: str, expected: tuple[Any, ...]) -> None:
        """§5.5: per clause: async, iterable, targets, then conditions; inner scopes end."""
        assert expected == rejection(source)

    @pytest.mark.parametrize("name", ["obs", *CALLABLES])
    def test_targets_may_not_shadow_any_allowed_name(self, name: str) -> None:
        """§5.5: a target named obs or any of the 12 callables, even inside a tuple, is refused."""
        assert ("comprehension_target_shadows_allowlist", 1, 10) == rejection(
            f"[1 for a, {name} in [[1, 2]]]"
        )

    @pytest.mark.parametrize(
        "source",
        [
            "[b for a, *b in obs]",
            "[b for *b, in obs]",
            "[a + b[0] for [a, *b] in obs]",
            "[x for x in obs if any(y > x[0] for y in x)]",
            "[[x for x in x] for x in obs]",
            "[get for get in obs]",
            "[y for x in obs for y in x if y > x[0]]",
        ],
    )
    def test_accepted_targets_and_nested_scopes(self, source: str) -> None:
        """§5.5: name, starred and list targets, nested scopes and rebinding evaluate natively."""
        obs = [[1, 2, 3], [4, 5]]

        assert native(source, obs) == compile_predicate(source)(obs)


class TestEvaluationModel:
    """
    SPEC §5.8: what the compiled function binds, returns and raises.
    """

    def test_returns_the_value_itself(self) -> None:
        """§5.1/§5.8: the result is the expression's value, not a bool or a copy."""
        items = [1, 2]
        obs = {"items": items}

        assert compile_predicate("obs['items']")(obs) is items
        assert compile_predicate("obs")(obs) is obs
        assert [] == compile_predicate("obs and obs['none']")({"none": []})

    @pytest.mark.parametrize(
        ("source", "obs", "error"),
        [
            ("1 / obs", 0, ZeroDivisionError),
            ("obs['missing'] > 1", {}, KeyError),
            ("obs[5]", [1], IndexError),
            ("obs + 1", "x", TypeError),
            ("int(obs)", "1" * 5000, ValueError),
            ("obs ** 400", 10.0, OverflowError),
            ("obs.upper()", 3, AttributeError),
            ("int(obs)", "x", ValueError),
        ],
    )
    def test_exceptions_surface_unchanged(self, source: str, obs: Any, error: type) -> None:
        """§5.7/§5.8: ordinary errors, the int/str digit limit included, are the native ones."""
        predicate = compile_predicate(source)

        with pytest.raises(error) as info:
            predicate(obs)

        assert not isinstance(info.value, MissionkitError)
        with pytest.raises(error):
            native(source, obs)

    def test_globals_hold_only_the_callables_and_dunder_helpers(self) -> None:
        """§5.8: globals are an empty __builtins__, the 12 builtins themselves and __ helpers."""
        predicate = compile_predicate("sorted(str(x) for x in obs)")
        namespace = predicate.__func__.__globals__  # type: ignore[attr-defined]

        plain = {name for name in namespace if not name.startswith("__")}
        assert ALLOWED_CALLABLES == plain
        assert all(namespace[name] is getattr(builtins, name) for name in plain)
        assert {} == namespace["__builtins__"]

    def test_evaluation_never_mutates_obs(self) -> None:
        """§5.8: no expressible operation mutates the observation it reads."""
        obs = {"xs": [3, 1, 2], "d": {"b": 1, "a": 2}, "s": " Ab "}
        before = copy.deepcopy(obs)
        sources = [
            "sorted(obs['xs'])",
            "obs['xs'] + [4]",
            "obs['xs'] * 2",
            "obs['d'].get('c', [])",
            "[k for k in obs['d'].keys()]",
            "obs['s'].strip().lower()",
            "max(obs['xs'], default=None)",
            "obs['xs'][::-1]",
        ]

        results = [compile_predicate(source)(obs) for source in sources]

        assert before == obs
        assert [1, 2, 3] == results[0]


class TestCompilerOnlySyntaxErrors:
    @pytest.mark.parametrize(
        ("source", "col"),
        [
            ("sorted(obs, reverse=1, reverse=2)", 24),
            ("[1 for a, *b, *c in obs]", 8),
            ("[1 for [*a, *b] in obs]", 8),
        ],
    )
    def test_refused_as_syntax_errors(self, source: str, col: int) -> None:
        """§5.2 step 3: what only CPython's compiler rejects is a syntax_error too."""
        for check in (parse_predicate, compile_predicate):
            with pytest.raises(PredicateRejected) as info:
                check(source)

            assert ("syntax_error", 1, col) == (
                info.value.reason,
                info.value.lineno,
                info.value.col_offset,
            )

    def test_criteria_report_the_predicate_token(self) -> None:
        """§4.4: a predicate criterion with a repeated keyword fails with the predicate token."""
        criterion = {
            "criterion_id": "c",
            "kind": "predicate",
            "required": True,
            "expression": "sorted(obs, reverse=1, reverse=2)",
        }

        with pytest.raises(MissionValidationError) as info:
            validate_criteria([criterion])

        assert {
            "field": "criteria",
            "criterion_id": "c",
            "reason": "syntax_error",
            "lineno": 1,
            "col_offset": 24,
        } == info.value.details


class TestDeepTreesWithRaisedLimits:
    @pytest.mark.parametrize("source", ["obs" + "[0]" * 500, "1" + "+1" * 500])
    def test_compile_never_leaks_recursion_error(self, source: str) -> None:
        """§5.2: with limits that admit a deep tree, compiling succeeds or is too_deep."""
        limits = PredicateLimits(max_depth=1000, max_nodes=2000)
        parse_predicate(source, limits=limits)

        try:
            compile_predicate(source, limits=limits)
        except PredicateRejected as exc:
            assert "too_deep" == exc.reason


class TestMinMaxSortedCharge:
    @pytest.mark.parametrize(
        ("source", "obs", "cost"),
        [
            ("sorted(obs)", list(range(10)), 10),
            ("max(obs)", list(range(10)), 10),
            ("min(obs)", ["ab", "cde"], 7),
            ("sorted(obs)", ["ab", "cde"], 7),
        ],
    )
    def test_charge_is_count_plus_string_lengths(self, source: str, obs: Any, cost: int) -> None:
        """§5.3: a budget of element count + string lengths suffices; one unit less breaches."""
        compile_predicate(source, limits=PredicateLimits(max_work=cost))(obs)

        with pytest.raises(PredicateLimitExceeded):
            compile_predicate(source, limits=PredicateLimits(max_work=cost - 1))(obs)


class TestHardening:
    @pytest.mark.parametrize(
        ("source", "col"),
        [
            ("(x for x in obs)", 0),
            ("obs.get(1, (x for x in obs))", 11),
            ("max([], default=(x for x in obs))", 16),
            ("[(x for x in obs)]", 1),
            ("1 if obs else (x for x in obs)", 14),
        ],
    )
    def test_generators_never_come_out(self, source: str, col: int) -> None:
        """§5.8: a generator (a live frame) is only allowed where it is consumed."""
        with pytest.raises(PredicateRejected) as info:
            parse_predicate(source)

        assert ("forbidden_node", 1, col) == (
            info.value.reason,
            info.value.lineno,
            info.value.col_offset,
        )

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("sum(x for x in obs)", 6),
            ("sorted(x for x in obs)", [1, 2, 3]),
            ("[x for x in (y * 2 for y in obs)]", [6, 2, 4]),
            ("min((x for x in obs), default=0)", 1),
        ],
    )
    def test_consumed_generators_still_work(self, source: str, expected: Any) -> None:
        """§5.5: generators passed to a callable or iterated by a clause evaluate natively."""
        assert expected == compile_predicate(source)([3, 1, 2])

    def test_int_from_text_is_bounded(self) -> None:
        """§5.7: int(text, base) cannot build an int past max_int_bits."""
        with pytest.raises(PredicateLimitExceeded) as info:
            compile_predicate("int('1' * 99999, 2)")({})

        assert "int_bits" == info.value.what

    @pytest.mark.parametrize(
        "source",
        [
            "sum(len(str(-x)) for x in [1 << 4095] for i in obs)",
            "sum(len(f'{-x}') for x in [1 << 4095] for i in obs)",
            "sum(len(str(object=obs)) for i in obs)",
            "len('%(a)s' * 5000 % {'a': obs})",
            "sum('a'.endswith(t) for t in [('b',) * 100000] for i in obs)",
            "sum(len('a'.strip(s)) for s in [str(obs)] for i in obs)",
        ],
    )
    def test_rendering_costs_are_charged(self, source: str) -> None:
        """§5.7: big ints, str(object=...), %(key)s uses and string-method arguments are charged."""
        with pytest.raises(PredicateLimitExceeded) as info:
            compile_predicate(source)(list(range(100_000)))

        assert "work" == info.value.what

    def test_unicode_digit_widths_are_widths(self) -> None:
        """§5.7: a format width written in non-ASCII decimal digits is still a width."""
        with pytest.raises(PredicateLimitExceeded) as info:
            compile_predicate("len(f'{1:{obs}}')")("\u0661" * 9)

        assert "format_width" == info.value.what

    def test_remainder_in_a_long_loop_is_cheap(self) -> None:
        """§5.7: ``x % n`` on numbers is arithmetic, not formatting, and stays in budget."""
        predicate = compile_predicate("len([x for x in obs if x % 1000 == 0])")

        assert 100 == predicate(list(range(100_000)))
