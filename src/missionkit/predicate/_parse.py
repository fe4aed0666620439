"""
Parsing and allow-list validation of predicate sources (SPEC §5.2–§5.6).

Every check walks the tree with an explicit stack: a hostile source may be
nested far deeper than the interpreter's recursion limit, and the validator
must refuse it rather than crash with ``RecursionError``.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator
from typing import Final

from missionkit.errors import PredicateRejected
from missionkit.predicate._limits import PredicateLimits

__all__ = ["ALLOWED_CALLABLES", "ALLOWED_METHODS", "MAX_LOOP_NESTING", "parse_predicate"]

ALLOWED_CALLABLES: Final[frozenset[str]] = frozenset(
    {"len", "min", "max", "sum", "abs", "any", "all", "sorted", "str", "int", "float", "bool"}
)
"""
The twelve builtins a predicate may call, by name (SPEC §5.3).
"""

ALLOWED_METHODS: Final[frozenset[str]] = frozenset(
    {"get", "keys", "values", "items", "lower", "upper", "strip", "startswith", "endswith"}
)
"""
The nine methods a predicate may call on a ``dict`` or ``str`` receiver (SPEC §5.3).
"""

_DATA_NAME: Final = "obs"

MAX_LOOP_NESTING: Final = 3
"""
Most ``for`` clauses that may enclose any point of a predicate.

Each nested clause multiplies the work; the work meter bounds it, but a static
cap refuses the shape outright (``forbidden_node`` on the comprehension).
"""

_ALLOWED_BINOPS: Final = (
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.MatMult,
    ast.LShift,
)

_COUNTED: Final = (ast.expr, ast.comprehension, ast.keyword)

# Node types whose children are plain expressions validated in ``_fields`` order.
_TRANSPARENT: Final = (
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Starred,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Subscript,
    ast.Slice,
    ast.JoinedStr,
    ast.FormattedValue,
)


_Task = tuple[ast.AST, frozenset[str], int, bool]


def _position(node: ast.AST) -> tuple[int | None, int | None]:
    """
    Return the ``(lineno, col_offset)`` of *node*, or ``(None, None)``.
    """
    return getattr(node, "lineno", None), getattr(node, "col_offset", None)


def _reject(reason: str, node: ast.AST | None = None) -> PredicateRejected:
    """
    Build the rejection for *reason*, positioned at *node* when one is given.
    """
    if node is None:
        return PredicateRejected(reason)
    lineno, col = _position(node)
    return PredicateRejected(reason, lineno, col)


def parse_predicate(source: object, *, limits: PredicateLimits | None = None) -> ast.Expression:
    """
    Parse *source* and check it against the predicate language.

    Args:
        source: The predicate text.
        limits: Size limits; the defaults of :class:`PredicateLimits` if ``None``.

    Returns:
        The validated ``ast.Expression``.

    Raises:
        PredicateRejected: With the first failing rule's reason token and,
            where the rule defines one, its position.

    .. versionadded:: 0.1.0
    """
    if limits is None:
        limits = PredicateLimits()
    if not isinstance(source, str):
        raise PredicateRejected("not_a_string")
    if len(source) > limits.source_length:
        raise PredicateRejected("source_too_long")
    tree = _parse(source)
    _check_size(tree, limits)
    _Validator().run(tree)
    _check_compiles(tree)
    return tree


def _parse(source: str) -> ast.Expression:
    """
    Run ``ast.parse`` and map every way it can fail onto a rejection.

    Warnings (invalid escape sequences and the like) are silenced so that the
    outcome does not depend on the host's warning filters.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise PredicateRejected("syntax_error", exc.lineno, exc.offset) from None
    except (RecursionError, MemoryError):
        raise PredicateRejected("too_deep") from None
    except ValueError:
        # Older interpreters refuse NUL bytes with ValueError instead of SyntaxError.
        raise PredicateRejected("syntax_error") from None


def _check_compiles(tree: ast.Expression) -> None:
    """
    Refuse what CPython's compiler rejects although its parser accepts it.

    A repeated keyword argument (``sorted(obs, reverse=1, reverse=2)``) or two
    starred names in one target are syntax errors found only when compiling;
    they are reported like the parser's (SPEC §5.2 step 3).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(tree, "<predicate>", "eval", dont_inherit=True)
    except SyntaxError as exc:
        raise PredicateRejected("syntax_error", exc.lineno, exc.offset) from None
    except (RecursionError, MemoryError):
        raise PredicateRejected("too_deep") from None


def _check_size(tree: ast.Expression, limits: PredicateLimits) -> None:
    """
    Apply the node-count and depth limits (SPEC §5.2 steps 4 and 5).

    Both are computed in one pre-order pass; the count wins over the depth
    because it is the earlier step.
    """
    count = 0
    too_deep: ast.AST | None = None
    found_deep = False
    stack: list[tuple[ast.AST, int]] = [(tree.body, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _COUNTED):
            count += 1
            depth += 1
            if depth > limits.max_depth and not found_deep:
                found_deep = True
                too_deep = node
        children = list(ast.iter_child_nodes(node))
        stack.extend((child, depth) for child in reversed(children))
    if count > limits.max_nodes:
        raise PredicateRejected("too_many_nodes")
    if found_deep:
        raise _reject("too_deep", too_deep)


class _Validator:
    """
    The allow-list walk of SPEC §5.2 step 6, driven by an explicit task stack.

    A task is either a node to visit with the comprehension targets visible
    at that point, or a deferred check of one comprehension clause's targets
    (which must run between its iterable and its conditions).
    """

    def __init__(self) -> None:
        # Generator expressions passed straight to an allowed callable; any other
        # would hand the caller a live generator (and its frame).
        self._consumed: set[int] = set()

    def run(self, tree: ast.Expression) -> None:
        """
        Walk *tree* and raise on the first disallowed node.
        """
        stack: list[_Task] = [(tree.body, frozenset(), 0, False)]
        while stack:
            node, scope, loops, is_target_check = stack.pop()
            if is_target_check:
                assert isinstance(node, ast.comprehension)
                self._check_targets(node)
                continue
            children = self._visit(node, scope, loops)
            stack.extend(reversed(children))

    def _visit(self, node: ast.AST, scope: frozenset[str], loops: int) -> list[_Task]:
        """
        Check *node* itself and return its child tasks in visiting order.
        """
        if isinstance(node, ast.comprehension):
            if node.is_async:
                raise _reject("async_comprehension", node.target)
            return []
        if isinstance(node, ast.Constant):
            self._check_constant(node)
            return []
        if isinstance(node, ast.Name):
            self._check_name(node, scope)
            return []
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                self._consumed.update(
                    id(arg) for arg in node.args if isinstance(arg, ast.GeneratorExp)
                )
            return self._visit_call(node, scope, loops)
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("__"):
                raise _reject("dunder_attribute", node)
            if not (isinstance(node.value, ast.Name) and node.value.id == _DATA_NAME):
                raise _reject("attribute_target_not_allowed", node)
            raise _reject("attribute_not_allowed", node)
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, _ALLOWED_BINOPS):
                raise _reject("binop_not_allowed", node)
            return [(node.left, scope, loops, False), (node.right, scope, loops, False)]
        if isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):
                raise _reject("dict_unpacking", node)
            keys: list[ast.AST] = [key for key in node.keys if key is not None]
            return [(child, scope, loops, False) for child in (*keys, *node.values)]
        if isinstance(node, ast.keyword):
            return [(node.value, scope, loops, False)]
        if isinstance(node, ast.GeneratorExp) and id(node) not in self._consumed:
            raise _reject("forbidden_node", node)
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            # A generator a clause iterates over is consumed there.
            self._consumed.update(
                id(clause.iter)
                for clause in node.generators
                if isinstance(clause.iter, ast.GeneratorExp)
            )
            return self._visit_comprehension(node, scope, loops)
        if isinstance(node, _TRANSPARENT):
            return [(child, scope, loops, False) for child in ast.iter_child_nodes(node)]
        if isinstance(node, ast.expr_context):
            return []
        if isinstance(node, (ast.operator, ast.unaryop, ast.boolop, ast.cmpop)):
            return []
        raise _reject("forbidden_node", node)

    @staticmethod
    def _check_constant(node: ast.Constant) -> None:
        """
        Refuse dunder strings, bytes and the Ellipsis singleton.
        """
        value = node.value
        if isinstance(value, str):
            if value.startswith("__"):
                raise _reject("dunder_string", node)
        elif isinstance(value, bytes):
            raise _reject("bytes_not_allowed", node)
        elif value is Ellipsis:
            # Ellipsis is not plain data; a predicate must never return it.
            raise _reject("forbidden_node", node)

    @staticmethod
    def _check_name(node: ast.Name, scope: frozenset[str]) -> None:
        """
        Allow ``obs`` and visible comprehension targets; nothing else.
        """
        name = node.id
        if name.startswith("__"):
            raise _reject("dunder_name", node)
        if name == _DATA_NAME or name in scope:
            return
        if name in ALLOWED_CALLABLES:
            raise _reject("callable_not_called", node)
        raise _reject("name_not_allowed", node)

    @staticmethod
    def _visit_call(node: ast.Call, scope: frozenset[str], loops: int) -> list[_Task]:
        """
        Check the callee of *node* and return the argument tasks.
        """
        func = node.func
        children: list[_Task] = []
        if isinstance(func, ast.Name):
            if func.id not in ALLOWED_CALLABLES:
                raise _reject("call_target_not_allowed", node)
            if func.id == "sum" and (
                len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred)
            ):
                raise _reject("call_arguments_not_allowed", node)
        elif isinstance(func, ast.Attribute):
            if func.attr.startswith("__"):
                raise _reject("dunder_attribute", func)
            if func.attr not in ALLOWED_METHODS:
                raise _reject("call_target_method_not_allowed", func)
            children.append((func.value, scope, loops, False))
        else:
            raise _reject("call_target_not_name", node)
        children.extend((arg, scope, loops, False) for arg in node.args)
        children.extend((kw, scope, loops, False) for kw in node.keywords)
        return children

    @staticmethod
    def _visit_comprehension(
        node: ast.ListComp | ast.GeneratorExp, scope: frozenset[str], loops: int
    ) -> list[_Task]:
        """
        Order the tasks of a comprehension as SPEC §5.5 prescribes.
        """
        if loops + len(node.generators) > MAX_LOOP_NESTING:
            raise _reject("forbidden_node", node)
        children: list[_Task] = []
        visible = scope
        for depth, clause in enumerate(node.generators, start=loops):
            # The clause itself first (its ``async``), then its iterable: clause by clause.
            children.append((clause, visible, depth, False))
            children.append((clause.iter, visible, depth, False))
            children.append((clause, visible, depth, True))
            visible = visible | frozenset(_target_names(clause.target))
            children.extend((cond, visible, depth + 1, False) for cond in clause.ifs)
        children.append((node.elt, visible, loops + len(node.generators), False))
        return children

    @staticmethod
    def _check_targets(clause: ast.comprehension) -> None:
        """
        Check the shape and the names of one clause's targets.
        """
        target = clause.target
        if isinstance(target, ast.Name):
            elements: list[ast.expr] = [target]
        elif isinstance(target, (ast.Tuple, ast.List)):
            elements = list(target.elts)
        else:
            raise _reject("invalid_comprehension_target", target)
        for element in elements:
            name_node = element.value if isinstance(element, ast.Starred) else element
            if not isinstance(name_node, ast.Name):
                raise _reject("invalid_comprehension_target", element)
            name = name_node.id
            if name.startswith("__"):
                raise _reject("dunder_comprehension_target", name_node)
            if name == _DATA_NAME or name in ALLOWED_CALLABLES:
                raise _reject("comprehension_target_shadows_allowlist", name_node)


def _target_names(target: ast.expr) -> Iterator[str]:
    """
    Yield the names a (well-formed) comprehension target binds.
    """
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            inner = element.value if isinstance(element, ast.Starred) else element
            if isinstance(inner, ast.Name):
                yield inner.id
