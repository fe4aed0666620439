"""
Tests for the script validator (SPEC §9.2).
"""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missionkit.errors import ScriptRejected
from missionkit.scripts import validate_script

ALLOWLIST = ["submit_job", "list_things"]


def rejection(source: object) -> ScriptRejected:
    """
    Validate *source* against the standard allowlist and return the rejection.
    """
    with pytest.raises(ScriptRejected) as info:
        validate_script(source, ALLOWLIST)
    return info.value


def position(err: ScriptRejected) -> tuple[str, int | None, int | None]:
    """
    The reason and position of *err*.
    """
    return (err.reason, err.lineno, err.col_offset)


class TestPreParse:
    def test_not_a_string(self):
        """
        A non-str source is rejected as not_a_string without a position.
        """
        expected = ("not_a_string", None, None)

        assert expected == position(rejection(None))

    def test_bytes_source_is_not_a_string(self):
        """
        Bytes are not script source.
        """
        expected = "not_a_string"

        assert expected == rejection(b"x = 1").reason

    def test_source_too_long(self):
        """
        65 537 characters is one too many.
        """
        expected = ("source_too_long", None, None)

        assert expected == position(rejection("#" * 65_537))

    def test_longest_source_accepted(self):
        """
        Exactly 65 536 characters is accepted.
        """
        validate_script("#" * 65_536, ALLOWLIST)

    def test_syntax_error_position(self):
        """
        A parse failure carries the parser's line and offset.
        """
        expected = ("syntax_error", 1, 7)

        assert expected == position(rejection("def f(:"))

    def test_nul_byte(self):
        """
        A NUL byte in the source is a syntax error, never a ValueError.
        """
        expected = "syntax_error"

        assert expected == rejection("x = 1\0").reason

    def test_parser_overflow_is_syntax_error(self):
        """
        Input nested beyond what the parser can build is a positionless syntax error.
        """
        err = rejection("x = " + "1" + "+1" * 30_000)

        expected = ("syntax_error", None, None)

        assert expected == position(err)

    def test_parser_stack_overflow_is_syntax_error(self):
        """
        A parser stack overflow (MemoryError inside the parser) is a positionless syntax error.
        """
        expected = ("syntax_error", None, None)

        assert expected == position(rejection("x = " + "-" * 60_000 + "1"))

    def test_deep_but_parsable_tree_validates(self):
        """
        A tree deeper than the recursion limit is walked without RecursionError.
        """
        validate_script("x = " + "1" + "+1" * 2_500, ALLOWLIST)

    def test_deep_tree_rejection_found(self):
        """
        A forbidden node at the bottom of a deep tree is still found and positioned.
        """
        err = rejection("x = " + "1+" * 2_500 + "y")

        expected = ("name_not_allowed", 1, 4 + 2 * 2_500)

        assert expected == position(err)


class TestTokens:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("import os", ("forbidden_node", 1, 0)),
            ("from os import path", ("forbidden_node", 1, 0)),
            ("class A: pass", ("forbidden_node", 1, 0)),
            ("with a: pass", ("forbidden_node", 1, 0)),
            ("x = 1\ndel x", ("forbidden_node", 2, 0)),
            ("global x", ("forbidden_node", 1, 0)),
            ("def f():\n    nonlocal x", ("forbidden_node", 2, 4)),
            ("assert x", ("forbidden_node", 1, 0)),
            ("async def f(): pass", ("forbidden_node", 1, 0)),
            ("match 1:\n    case 1: pass", ("forbidden_node", 1, 0)),
            ("try:\n    pass\nexcept* ValueError:\n    pass", ("forbidden_node", 1, 0)),
            ("x = {k: 1 for k in []}", ("forbidden_node", 1, 4)),
            ("x = {k for k in []}", ("forbidden_node", 1, 4)),
            ("def f():\n    yield 1", ("forbidden_node", 2, 4)),
        ],
    )
    def test_forbidden_node(self, source, expected):
        """
        Statements and expressions outside the language are forbidden_node at their position.
        """
        assert expected == position(rejection(source))

    def test_dunder_binding(self):
        """
        Binding a dunder name is rejected.
        """
        expected = ("dunder_binding", 1, 0)

        assert expected == position(rejection("__x = 1"))

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("len = 3", ("shadows_protected_name", 1, 0)),
            ("(mission := 1)", ("shadows_protected_name", 1, 1)),
            ("for submit_job in []: pass", ("shadows_protected_name", 1, 4)),
            ("def exec(): pass", ("shadows_protected_name", 1, 0)),
            ("def f(RuntimeError): pass", ("shadows_protected_name", 1, 6)),
            ("g = lambda list_things: 1", ("shadows_protected_name", 1, 11)),
            (
                "try:\n    pass\nexcept ValueError as str:\n    pass",
                ("shadows_protected_name", 3, 0),
            ),
            ("x = [1 for int in []]", ("shadows_protected_name", 1, 11)),
            ("compile = 1", ("shadows_protected_name", 1, 0)),
        ],
    )
    def test_shadows_protected_name(self, source, expected):
        """
        No binding form may rebind a protected name.
        """
        assert expected == position(rejection(source))

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("a.b = 1", ("invalid_target", 1, 0)),
            ("x = [0]\nx[0] = 1", ("invalid_target", 2, 0)),
            ("[1 for a.b in []]", ("invalid_target", 1, 7)),
            ("x = 1\nx.y += 1", ("invalid_target", 2, 0)),
            ("x.y: int = 1", ("invalid_target", 1, 0)),
            ("for x[0] in []: pass", ("invalid_target", 1, 4)),
        ],
    )
    def test_invalid_target(self, source, expected):
        """
        Only names (in tuples, lists and starred) can be assigned to.
        """
        assert expected == position(rejection(source))

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("x = 1\nx |= 2", ("binop_not_allowed", 2, 0)),
            ("y = 1 >> 2", ("binop_not_allowed", 1, 4)),
            ("y = 1 & 2", ("binop_not_allowed", 1, 4)),
            ("y = 1 ^ 2", ("binop_not_allowed", 1, 4)),
        ],
    )
    def test_binop_not_allowed(self, source, expected):
        """
        Bitwise or, and, xor and right shift are rejected, also augmented.
        """
        assert expected == position(rejection(source))

    def test_bare_except(self):
        """
        A bare except clause is rejected at the handler.
        """
        expected = ("bare_except", 3, 0)

        assert expected == position(rejection("try:\n    pass\nexcept:\n    pass"))

    def test_decorator_not_allowed(self):
        """
        Any decorator is rejected at the decorator expression.
        """
        expected = ("decorator_not_allowed", 1, 1)

        assert expected == position(rejection("@d\ndef f(): pass"))

    @pytest.mark.parametrize("source", ["def f(a, a): pass", "g = lambda a, *a: 1"])
    def test_duplicate_parameter(self, source):
        """
        A repeated parameter name is rejected (this parser lets duplicates through).
        """
        expected = "duplicate_parameter"

        assert expected == rejection(source).reason

    def test_dunder_string(self):
        """
        A string constant starting with two underscores is rejected.
        """
        expected = ("dunder_string", 1, 4)

        assert expected == position(rejection("x = '__class__'"))

    def test_dunder_name(self):
        """
        Reading a dunder name is rejected.
        """
        expected = ("dunder_name", 1, 4)

        assert expected == position(rejection("x = __builtins__"))

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("x = y", ("name_not_allowed", 1, 4)),
            ("x += 1", ("name_not_allowed", 1, 0)),
            ("print(1)", ("name_not_allowed", 1, 0)),
            ("x = obs", ("name_not_allowed", 1, 4)),
            ("def f():\n    return later\nlater = 1", ("name_not_allowed", 2, 11)),
            ("x = [a for a in [1]]\ny = a", ("name_not_allowed", 2, 4)),
            ("f = lambda p: p\ny = p", ("name_not_allowed", 2, 4)),
            ("def f(p):\n    pass\ny = p", ("name_not_allowed", 3, 4)),
        ],
    )
    def test_name_not_allowed(self, source, expected):
        """
        Names must be protected or bound earlier in a visible frame.
        """
        assert expected == position(rejection(source))

    def test_dict_unpacking(self):
        """
        Dict displays may not unpack another mapping.
        """
        expected = ("dict_unpacking", 2, 4)

        assert expected == position(rejection("d = {}\nx = {**d}"))

    def test_dunder_attribute(self):
        """
        Dunder attributes are rejected before anything else about the attribute.
        """
        expected = ("dunder_attribute", 1, 4)

        assert expected == position(rejection("x = mission.__dict__"))

    def test_attribute_target_not_name(self):
        """
        An attribute of anything but a plain name is rejected.
        """
        expected = ("attribute_target_not_name", 1, 4)

        assert expected == position(rejection("x = [1][0].y"))

    def test_attribute_target_not_allowed(self):
        """
        Attributes exist only on mission.
        """
        expected = ("attribute_target_not_allowed", 1, 4)

        assert expected == position(rejection("x = some.attr"))

    def test_attribute_not_allowed(self):
        """
        Only mission.observe and mission.event exist.
        """
        expected = ("attribute_not_allowed", 1, 4)

        assert expected == position(rejection("x = mission.foo"))

    @pytest.mark.parametrize("name", ["exec", "eval", "compile", "__import__"])
    def test_forbidden_call_target(self, name):
        """
        Calls of exec, eval, compile and __import__ are rejected before visibility.
        """
        expected = ("forbidden_call_target", 1, 4)

        assert expected == position(rejection(f"x = {name}('1')"))

    @pytest.mark.parametrize("source", ["f()()", "obs[0]()", "(lambda: 1)()"])
    def test_call_target_shape(self, source):
        """
        Only names and mission attributes can be called.
        """
        expected = ("call_target_shape", 1, 0)

        assert expected == position(rejection(source))

    def test_method_call_on_literal(self):
        """
        A method call on a literal is an attribute of a non-name.
        """
        expected = ("attribute_target_not_name", 1, 0)

        assert expected == position(rejection("'{}'.format(1)"))

    def test_call_of_subscript_is_shape(self):
        """
        The callee's shape is checked before the callee is visited.
        """
        expected = ("call_target_shape", 1, 0)

        assert expected == position(rejection("obs[0]()"))

    def test_tool_call_not_awaited(self):
        """
        A tool call must be the direct operand of await.
        """
        expected = ("tool_call_not_awaited", 1, 4)

        assert expected == position(rejection("r = submit_job(a=1)"))

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("await x", ("await_not_allowed", 1, 0)),
            ("await len([])", ("await_not_allowed", 1, 0)),
            ("def f():\n    await submit_job()", ("await_not_allowed", 2, 4)),
            ("g = lambda: await submit_job()", ("await_not_allowed", 1, 12)),
            ("x = [await submit_job() for _ in [1]]", ("await_not_allowed", 1, 5)),
            ("f = submit_job\nawait f()", ("await_not_allowed", 2, 0)),
            ("await mission.observe", ("await_not_allowed", 1, 0)),
        ],
    )
    def test_await_not_allowed(self, source, expected):
        """
        Await only applies to tool and mission calls in module-level code.
        """
        assert expected == position(rejection(source))

    def test_async_comprehension(self):
        """
        Async comprehension clauses are rejected.
        """
        expected = ("async_comprehension", 1, 0)

        assert expected == position(rejection("[x async for x in y]"))

    def test_dunder_comprehension_target(self):
        """
        Comprehension targets may not be dunder names.
        """
        expected = ("dunder_comprehension_target", 1, 7)

        assert expected == position(rejection("[1 for __x in []]"))


class TestScopes:
    def test_comprehension_iterable_sees_earlier_targets(self):
        """
        A later clause's iterable sees the targets of earlier clauses.
        """
        validate_script("z = [y for x in [[1]] for y in x]", ALLOWLIST)

    def test_comprehension_iterable_does_not_see_own_target(self):
        """
        The first iterable is evaluated outside the comprehension.
        """
        expected = "name_not_allowed"

        assert expected == rejection("z = [x for x in x]").reason

    def test_recursion_validates(self):
        """
        A function's own name is bound before its body is validated.
        """
        validate_script("def f(n):\n    return 1 if n < 1 else f(n - 1)\nx = f(3)", ALLOWLIST)

    def test_defaults_use_outer_scope(self):
        """
        Default values are validated where the def is, not inside it.
        """
        expected = "name_not_allowed"

        assert expected == rejection("def f(a, b=a): pass").reason

    def test_except_name_visible_only_in_handler(self):
        """
        The as-name of a handler is gone after the handler.
        """
        source = "try:\n    pass\nexcept ValueError as e:\n    x = e\ny = e"

        expected = ("name_not_allowed", 5, 4)

        assert expected == position(rejection(source))

    def test_walrus_in_comprehension_binds_outside(self):
        """
        A walrus inside a comprehension binds in the enclosing frame.
        """
        validate_script("x = [(last := v) for v in [1, 2]]\ny = last", ALLOWLIST)

    def test_return_annotation_ignored(self):
        """
        Return annotations are not validated (the runners never evaluate them).
        """
        validate_script("def f() -> Anything:\n    return 1", ALLOWLIST)

    def test_parameter_annotation_validated(self):
        """
        Parameter annotations are validated in the outer scope.
        """
        expected = "name_not_allowed"

        assert expected == rejection("def f(a: Anything): pass").reason


class TestAccepted:
    @pytest.mark.parametrize(
        "source",
        [
            "def helper(x, *rest, k=1, **kw):\n    return [y * 2 for y in x if y] + list(rest)\n"
            "z = helper([1, 2], 3)",
            "total = 0\nfor i in range(3):\n    total += i\nelse:\n    pass\n"
            "while total > 0:\n    total -= 1",
            "s = sorted([3, 1])\nz = [y for x in [[1]] for y in x]",
            "try:\n    r = await submit_job(n=1)\nexcept RuntimeError as e:\n"
            "    await mission.observe('err', str(e))\nfinally:\n    pass",
            "n = 3\ns = f'{n:>8} {n!r}'",
            "r = await list_things()",
            "await mission.observe('k', 1)",
            "mission.event('done', n=1)",
            "b = b'raw bytes'",
            "g = lambda a, b=1: a + b\nx = g(1)",
            "if (n := 5) > 3:\n    x = n",
            "a, (b, *c) = 1, (2, 3, 4)",
            "x: int = 1\ny: str",
            "raise ValueError('x') from None",
            "obs = await list_things(**{'a': 1})\nx = obs",
            "f = mission.observe\nf('k', 1)",
        ],
    )
    def test_accepted(self, source):
        """
        The accepted examples of the specification validate.
        """
        validate_script(source, ALLOWLIST)

    def test_returns_module(self):
        """
        The parsed module is returned for the caller to compile.
        """
        tree = validate_script("x = 1", ALLOWLIST)

        assert isinstance(tree, ast.Module)
        expected = "x = 1"

        assert expected == ast.unparse(tree)

    def test_unallowlisted_tool_is_just_an_unknown_name(self):
        """
        A tool outside the allowlist is not visible to the script.
        """
        expected = "await_not_allowed"

        assert expected == rejection("await delete_all()").reason

    def test_nfkc_identifiers_fold(self):
        """
        Identifiers are compared after NFKC folding, so fullwidth eval is still eval.
        """
        expected = "forbidden_call_target"

        assert expected == rejection("x = ｅｖａｌ('1')").reason


class TestProperties:
    @given(st.text(max_size=200))
    def test_only_rejections(self, source):
        """
        Arbitrary text is either accepted or rejected with ScriptRejected, nothing else.
        """
        try:
            validate_script(source, ALLOWLIST)
        except ScriptRejected:
            pass

    @given(
        st.lists(
            st.sampled_from(
                [
                    "x",
                    "1",
                    "(",
                    ")",
                    "[",
                    "]",
                    "+",
                    " ",
                    ":",
                    "=",
                    "\n",
                    "await ",
                    "lambda ",
                    "for ",
                    " in ",
                    "if ",
                    "else ",
                    "def ",
                    "mission",
                    ".",
                    "observe",
                    "submit_job",
                    ",",
                    "*",
                    "**",
                    "'s'",
                    "__",
                    "    ",
                    "try",
                    "except ",
                    "as ",
                    "return ",
                ]
            ),
            max_size=40,
        )
    )
    def test_only_rejections_on_tokens(self, tokens):
        """
        Token soup close to the language is either accepted or rejected with ScriptRejected.
        """
        try:
            validate_script("".join(tokens), ALLOWLIST)
        except ScriptRejected:
            pass
