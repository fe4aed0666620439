"""
Compilation of validated predicates into guarded Python functions (SPEC §5.7, §5.8).

The validated tree is rewritten once: operations that can be made expensive
are routed through the guard helpers of :mod:`._guards`, everything the
compiler can prove cheap is left exactly as written. The result is compiled
into an ordinary function, so evaluating a predicate costs about as much as
evaluating the same expression by hand.
"""

from __future__ import annotations

import ast
import warnings
from types import MethodType
from typing import Any, Final, cast

from missionkit.errors import PredicateRejected
from missionkit.predicate._guards import (
    DISPLAY_UNITS,
    FORMAT_CALL_UNITS,
    GUARD_NAMES,
    GUARDED_CALL_UNITS,
    digit_runs_exceed,
    make_guards,
    percent_format_exceeds,
)
from missionkit.predicate._limits import PredicateLimits
from missionkit.predicate._parse import ALLOWED_CALLABLES, parse_predicate

__all__ = ["Predicate", "compile_predicate"]

_METER: Final = "__m"
_TEMPLATE: Final = "def evaluate(__p, obs):\n    __m = [0]\n    return None\n"
_STR_METHODS: Final = frozenset({"lower", "upper", "strip", "startswith", "endswith"})
_NUMERIC_CALLS: Final = frozenset({"len", "abs", "bool", "int", "float"})
_ARITHMETIC: Final = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_SMALL_LITERAL: Final = 8
_SMALL_STRING: Final = 64
# A membership test that runs at most this many times per evaluation (inside
# comprehensions over short literal displays) is left unmetered: its cost is a
# small static multiple of a value the evaluation already holds.
_BOUNDED_RUNS: Final = 8


def _is_number(node: ast.expr) -> bool:
    """
    Tell whether *node* can only evaluate to a number, a bool or ``None`` (or raise).
    """
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, (bool, int, float, complex))
    if isinstance(node, (ast.UnaryOp, ast.Compare)):
        return True
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in _NUMERIC_CALLS
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, _ARITHMETIC) and _is_number(node.left) and _is_number(node.right)
    if isinstance(node, ast.BoolOp):
        return all(_is_number(value) for value in node.values)
    if isinstance(node, ast.IfExp):
        return _is_number(node.body) and _is_number(node.orelse)
    return False


def _renders_cheaply(node: ast.expr) -> bool:
    """
    Tell whether rendering *node*'s value costs a small constant (no big int can hide in it).
    """
    if isinstance(node, ast.Constant):
        value = node.value
        return not isinstance(value, int) or isinstance(value, bool) or value.bit_length() <= 64
    if isinstance(node, ast.Compare):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"len", "bool"}
    )


def _is_literal(node: ast.expr) -> bool:
    """
    Tell whether *node* is a constant or a display of fixed length.
    """
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return not any(isinstance(element, ast.Starred) for element in node.elts)
    if isinstance(node, ast.Dict):
        return all(key is not None for key in node.keys)
    return False


def _is_small_literal(node: ast.expr) -> bool:
    """
    Tell whether *node* is a literal small enough to leave unmetered inside loops.
    """
    if isinstance(node, ast.Constant):
        value = node.value
        return not isinstance(value, str) or len(value) <= _SMALL_STRING
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return _is_literal(node) and len(node.elts) <= _SMALL_LITERAL
    if isinstance(node, ast.Dict):
        return _is_literal(node) and len(node.keys) <= _SMALL_LITERAL
    return False


def _int_constant(node: ast.expr) -> int | None:
    """
    Return the int value of a constant *node*, else ``None``.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    return None


def _is_float_constant(node: ast.expr) -> bool:
    """
    Tell whether *node* is a float or complex constant.
    """
    return isinstance(node, ast.Constant) and isinstance(node.value, (float, complex))


class _Rewriter:
    """
    Insert guards into a validated predicate tree.

    Attributes:
        metered: Whether any emitted guard uses the work meter.
    """

    def __init__(self, limits: PredicateLimits) -> None:
        self._limits = limits
        self._loop = 0
        self._runs: int | None = 1
        self.metered = False

    def _meter(self) -> ast.Name:
        self.metered = True
        return ast.Name(id=_METER, ctx=ast.Load())

    def _call(
        self,
        helper: str,
        args: list[ast.expr],
        like: ast.AST,
        *,
        metered: bool = True,
        keywords: list[ast.keyword] | None = None,
    ) -> ast.expr:
        prefix: list[ast.expr] = [self._meter()] if metered else []
        call = ast.Call(
            func=ast.Name(id=helper, ctx=ast.Load()),
            args=prefix + args,
            keywords=keywords or [],
        )
        return ast.copy_location(call, like)

    def _int_op_is_safe(self, node: ast.BinOp) -> bool:
        """
        Tell whether an int ``**``, ``*`` or ``<<`` on two constants stays within the bit limit.
        """
        left, right = _int_constant(node.left), _int_constant(node.right)
        if left is None or right is None:
            return False
        max_bits = self._limits.max_int_bits
        if isinstance(node.op, ast.Pow):
            return right < 0 or left.bit_length() * right <= max_bits
        if isinstance(node.op, ast.LShift):
            return right < 0 or left.bit_length() + right <= max_bits
        return left.bit_length() + right.bit_length() <= max_bits

    def visit(self, node: ast.expr) -> ast.expr:
        """
        Return the guarded form of *node*.
        """
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is not None:
            return cast(ast.expr, method(node))
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                setattr(node, field, self.visit(value))
            elif isinstance(value, list):
                setattr(
                    node,
                    field,
                    [self.visit(v) if isinstance(v, ast.expr) else v for v in value],
                )
        return node

    def _elements(self, elements: list[ast.expr]) -> list[ast.expr]:
        result: list[ast.expr] = []
        for element in elements:
            if isinstance(element, ast.Starred):
                inner = self._call("__iter", [self.visit(element.value)], element)
                result.append(ast.copy_location(ast.Starred(value=inner, ctx=ast.Load()), element))
            else:
                result.append(self.visit(element))
        return result

    def visit_List(self, node: ast.List) -> ast.expr:
        node.elts = self._elements(node.elts)
        return node

    def visit_Tuple(self, node: ast.Tuple) -> ast.expr:
        node.elts = self._elements(node.elts)
        return node

    def visit_Set(self, node: ast.Set) -> ast.expr:
        node.elts = self._elements(node.elts)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        op = node.op
        original_left, original_right = node.left, node.right
        left, right = self.visit(node.left), self.visit(node.right)
        node.left, node.right = left, right
        if isinstance(op, ast.Pow):
            if (
                self._int_op_is_safe(ast.BinOp(original_left, op, original_right))
                or _is_float_constant(original_left)
                or _is_float_constant(original_right)
            ):
                return node
            return self._call("__pow", [left, right], node, metered=False)
        if isinstance(op, ast.Mult):
            if (
                self._int_op_is_safe(ast.BinOp(original_left, op, original_right))
                or _is_float_constant(original_left)
                or _is_float_constant(original_right)
            ):
                return node
            return self._call("__mul", [left, right], node)
        if isinstance(op, ast.LShift):
            if self._int_op_is_safe(ast.BinOp(original_left, op, original_right)):
                return node
            return self._call("__lshift", [left, right], node, metered=False)
        if isinstance(op, ast.Mod):
            if _is_number(original_left):
                return node
            if (
                isinstance(original_left, ast.Constant)
                and isinstance(original_left.value, str)
                and not percent_format_exceeds(original_left.value, self._limits.max_format_width)
            ):
                # A literal format is checked and counted here, once, not per evaluation.
                uses = ast.Constant(value=max(1, original_left.value.count("%(")))
                return self._call("__modc", [left, right, uses], node)
            return self._call("__mod", [left, right], node)
        if isinstance(op, ast.Add):
            if _is_number(original_left) or _is_number(original_right):
                return node
            if _is_small_literal(original_left) and _is_small_literal(original_right):
                return node
            return self._call("__add", [left, right], node)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        node.left = self.visit(node.left)
        comparators: list[ast.expr] = []
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            cheap = (
                _is_small_literal(comparator)
                or (self._loop == 0 and _is_literal(comparator))
                or (self._loop > 0 and self._runs is not None and self._runs <= _BOUNDED_RUNS)
            )
            new = self.visit(comparator)
            if isinstance(op, (ast.In, ast.NotIn)) and not cheap:
                new = self._call("__contains", [new], comparator)
            comparators.append(new)
        node.comparators = comparators
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        original_value = node.value
        value = self.visit(node.value)
        index = node.slice
        if not isinstance(index, ast.Slice):
            node.value = value
            node.slice = self.visit(index)
            return node
        bounds: list[ast.expr] = []
        for bound in (index.lower, index.upper, index.step):
            if bound is None:
                bounds.append(ast.copy_location(ast.Constant(value=None), node))
            else:
                bounds.append(self.visit(bound))
        if _is_small_literal(original_value) or (self._loop == 0 and _is_literal(original_value)):
            node.value = value
            index.lower, index.upper, index.step = (
                None if index.lower is None else bounds[0],
                None if index.upper is None else bounds[1],
                None if index.step is None else bounds[2],
            )
            return node
        return self._call("__slice", [value, *bounds], node)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        func = node.func
        original_args = list(node.args)
        args = self._elements(node.args)
        keywords = [
            ast.copy_location(ast.keyword(arg=kw.arg, value=self.visit(kw.value)), kw)
            for kw in node.keywords
        ]
        node.args, node.keywords = args, keywords
        if isinstance(func, ast.Attribute):
            original_receiver = func.value
            receiver = self.visit(func.value)
            if func.attr in _STR_METHODS:
                if not _is_small_literal(original_receiver):
                    receiver = self._call("__receiver", [receiver], original_receiver)
                # strip(chars) and startswith/endswith(prefixes) scan their argument too.
                node.args = [
                    arg
                    if _is_small_literal(original) or isinstance(arg, ast.Starred)
                    else self._call("__receiver", [arg], original)
                    for arg, original in zip(node.args, original_args, strict=True)
                ]
            func.value = receiver
            return node
        assert isinstance(func, ast.Name)
        name = func.id
        plain_single = (
            len(original_args) == 1
            and not keywords
            and not isinstance(original_args[0], ast.Starred)
        )
        first = original_args[0] if plain_single else None
        if name in {"len", "abs", "bool"}:
            return node
        if name == "str":
            if first is not None and _renders_cheaply(first):
                return node
        elif name in {"int", "float"}:
            if first is not None and _is_number(first):
                return node
        elif name in {"sum", "any", "all"}:
            if first is not None and (
                isinstance(first, (ast.GeneratorExp, ast.ListComp))
                or (self._loop == 0 and _is_literal(first))
                or _is_small_literal(first)
            ):
                return node
        elif name in {"min", "max"} and (
            len(original_args) >= 2
            and not keywords
            and all(_is_number(arg) and not isinstance(arg, ast.Starred) for arg in original_args)
        ):
            return node
        return self._call("__" + name, args, node, keywords=keywords)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.expr:
        original_value = node.value
        value = self.visit(node.value)
        spec = node.format_spec
        cheap_value = _renders_cheaply(original_value)
        if spec is None or (
            isinstance(spec, ast.JoinedStr)
            and all(isinstance(part, ast.Constant) for part in spec.values)
            and not digit_runs_exceed(
                "".join(str(cast(ast.Constant, part).value) for part in spec.values),
                self._limits.max_format_width,
            )
        ):
            if not cheap_value:
                # A non-empty spec on a container fails without rendering it.
                plain_spec = spec is not None and bool(spec.values) and node.conversion == -1
                helper = "__receiver" if plain_spec else "__render"
                value = self._call(helper, [value], original_value)
            node.value = value
            return node
        rendered_spec = self.visit(spec)
        conversion = ast.copy_location(ast.Constant(value=node.conversion), node)
        node.value = self._call("__format", [value, conversion, rendered_spec], node)
        node.conversion = -1
        node.format_spec = None
        return node

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp) -> None:
        outer, outer_runs = self._loop, self._runs
        charges: list[ast.Call] = []
        for position, clause in enumerate(node.generators):
            original_iter = clause.iter
            if position:
                self._loop = outer + 1
            new_iter = self.visit(clause.iter)
            if self._runs is not None and _is_literal(original_iter):
                self._runs *= len(getattr(original_iter, "elts", ())) or _BOUNDED_RUNS + 1
            else:
                self._runs = None
            if not (position == 0 and outer == 0 and _is_literal(original_iter)):
                new_iter = self._call("__iter", [new_iter], original_iter)
                charges.append(cast(ast.Call, new_iter))
            clause.iter = new_iter
            self._loop = outer + 1
            clause.ifs = [self.visit(cond) for cond in clause.ifs]
        self._loop = outer + 1
        node.elt = self.visit(node.elt)
        self._loop, self._runs = outer, outer_runs
        # Every iteration runs the conditions and the element: weight each clause's
        # charge by the guarded operations they contain, so costly loop bodies
        # reach the work limit proportionally sooner.
        extra = sum(
            _body_units(part) for part in [node.elt, *(c for g in node.generators for c in g.ifs)]
        )
        if extra:
            weight = ast.Constant(1 + extra)
            for call in charges:
                call.args.append(weight)

    def visit_ListComp(self, node: ast.ListComp) -> ast.expr:
        self._comprehension(node)
        return node

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.expr:
        self._comprehension(node)
        return node


def _body_units(tree: ast.AST) -> int:
    """
    Extra work units one evaluation of *tree* costs beyond a plain loop iteration.

    Guard helpers (other than loop charges) and container displays with
    non-constant parts are counted; constants and plain reads are free.
    """
    units = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name == "__modc":
                units += FORMAT_CALL_UNITS
            elif name == "__mod":
                # Only a literal format string makes ``%`` a formatting call; on
                # numbers it is a plain remainder.
                left = node.args[1] if len(node.args) > 1 else None
                literal = isinstance(left, ast.JoinedStr) or (
                    isinstance(left, ast.Constant) and isinstance(left.value, str)
                )
                units += FORMAT_CALL_UNITS if literal else GUARDED_CALL_UNITS
            elif name in GUARD_NAMES and name != "__iter":
                units += GUARDED_CALL_UNITS
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            if not all(isinstance(e, ast.Constant) for e in node.elts):
                units += DISPLAY_UNITS
        elif isinstance(node, ast.Dict):
            parts = [*node.keys, *node.values]
            if not all(isinstance(e, ast.Constant) for e in parts):
                units += DISPLAY_UNITS
    return units


def _build_function(source: str, limits: PredicateLimits) -> Any:
    """
    Parse, guard and compile *source* into ``evaluate(predicate, obs)``.
    """
    tree = parse_predicate(source, limits=limits)
    rewriter = _Rewriter(limits)
    try:
        body = rewriter.visit(tree.body)
    except RecursionError:
        # Only reachable with a max_depth raised far above the default: the
        # rewriter recurses once per level, like the parser.
        raise PredicateRejected("too_deep") from None
    module = ast.parse(_TEMPLATE)
    function = cast(ast.FunctionDef, module.body[0])
    meter_init, ret = function.body
    assert isinstance(meter_init, ast.Assign) and isinstance(ret, ast.Return)
    meter_list = cast(ast.List, meter_init.value)
    meter_list.elts = [ast.Constant(value=limits.max_work)]
    ret.value = body
    function.body = [meter_init, ret] if rewriter.metered else [ret]
    ast.fix_missing_locations(module)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = compile(module, "<predicate>", "exec", dont_inherit=True)
    except (RecursionError, MemoryError):
        raise PredicateRejected("too_deep") from None
    namespace: dict[str, Any] = {"__builtins__": {}}
    namespace.update(
        len=len,
        min=min,
        max=max,
        sum=sum,
        abs=abs,
        any=any,
        all=all,
        sorted=sorted,
        str=str,
        int=int,
        float=float,
        bool=bool,
    )
    assert namespace.keys() >= ALLOWED_CALLABLES
    namespace.update(make_guards(limits))
    exec(code, namespace)
    return namespace.pop("evaluate")


class _PredicateType(type):
    """
    Metaclass that lets the fast bound evaluator count as a :class:`Predicate`.
    """

    def __instancecheck__(cls, instance: Any) -> bool:
        if type.__instancecheck__(cls, instance):
            return True
        if type(instance) is not MethodType:
            return False
        owner: Any = instance.__self__
        return type.__instancecheck__(cls, owner) and instance is owner.evaluate


class Predicate(metaclass=_PredicateType):
    """
    A compiled predicate: call it with an observation to evaluate it.

    :func:`compile_predicate` hands out the bound :attr:`evaluate` method of
    a ``Predicate`` rather than the instance itself. A bound method is called
    without any extra Python frame, which keeps evaluation as fast as a
    hand-written lambda (SPEC §5.9); it still passes ``isinstance(p,
    Predicate)``, exposes :attr:`source` and :attr:`limits`, and pickles by
    recompiling from source.

    Args:
        source: The predicate text.
        limits: The limits to compile and evaluate under; defaults if ``None``.

    Raises:
        PredicateRejected: If *source* is outside the predicate language.

    Attributes:
        source: The predicate text.
        limits: The :class:`PredicateLimits` in force.
        evaluate: The compiled evaluator, bound to this predicate.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("__weakref__", "evaluate", "limits", "source")

    source: str
    limits: PredicateLimits
    evaluate: Any

    def __init__(self, source: str, *, limits: PredicateLimits | None = None) -> None:
        if limits is None:
            limits = PredicateLimits()
        function = _build_function(source, limits)
        function.__qualname__ = "Predicate.evaluate"
        function.source = source
        function.limits = limits
        self.source = source
        self.limits = limits
        self.evaluate = MethodType(function, self)

    def __call__(self, obs: Any) -> Any:
        """
        Evaluate the predicate against *obs*.

        Raises:
            PredicateLimitExceeded: If the evaluation would exceed a limit.
        """
        return self.evaluate(obs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.source, self.limits))

    def __repr__(self) -> str:
        return f"Predicate({self.source!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Predicate:
            return NotImplemented
        return (self.source, self.limits) == (other.source, other.limits)

    def __hash__(self) -> int:
        return hash((self.source, self.limits))


def _restore(source: str, limits: PredicateLimits) -> Predicate:
    """
    Recompile a pickled predicate.
    """
    return Predicate(source, limits=limits)


def compile_predicate(source: str, *, limits: PredicateLimits | None = None) -> Predicate:
    """
    Compile *source* once into a guarded, callable :class:`Predicate`.

    Args:
        source: The predicate text.
        limits: Limits for parsing and evaluation; defaults if ``None``.

    Returns:
        The predicate's bound evaluator (see :class:`Predicate`).

    Raises:
        PredicateRejected: If *source* is outside the predicate language.

    .. versionadded:: 0.1.0
    """
    return cast(Predicate, Predicate(source, limits=limits).evaluate)
