"""
The script validator: an allow-list walk over the parsed module (SPEC §9.2).

The walk is iterative (an explicit work stack), so arbitrarily deep trees are
validated without touching the interpreter's recursion limit. Work items run in
source order, which gives the "first failure wins" rule and the "bound before
use" rule at the same time: a name becomes visible exactly when the work item
that binds it has run.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from typing import Any, Final

from missionkit.errors import ScriptRejected

from ._language import (
    EXCEPTION_NAMES,
    FORBIDDEN_CALL_NAMES,
    MISSION_ATTRIBUTES,
    MISSION_NAME,
    SAFE_CALLABLE_NAMES,
)

__all__ = ["MAX_SOURCE_LENGTH", "validate_script"]

MAX_SOURCE_LENGTH: Final = 65_536

_BASE_PROTECTED: Final[frozenset[str]] = (
    SAFE_CALLABLE_NAMES | EXCEPTION_NAMES | FORBIDDEN_CALL_NAMES | {MISSION_NAME}
)
_FORBIDDEN_BINOPS: Final = (ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd)

# Frame kinds. Overlay frames (comprehension targets, ``except … as`` names) are
# visible to lookups but never receive ordinary bindings.
_MODULE: Final = "module"
_FUNCTION: Final = "function"
_LAMBDA: Final = "lambda"
_COMPREHENSION: Final = "comprehension"
_HANDLER: Final = "handler"
_OVERLAYS: Final = frozenset({_COMPREHENSION, _HANDLER})
_NOT_MODULE_LEVEL: Final = frozenset({_FUNCTION, _LAMBDA, _COMPREHENSION})


class _Frame:
    """
    One scope: the names it binds and the frame it sits in.
    """

    __slots__ = ("kind", "names", "parent")

    def __init__(self, kind: str, parent: _Frame | None) -> None:
        self.kind = kind
        self.parent = parent
        self.names: set[str] = set()

    def sees(self, name: str) -> bool:
        frame: _Frame | None = self
        while frame is not None:
            if name in frame.names:
                return True
            frame = frame.parent
        return False

    def binding_frame(self) -> _Frame:
        """
        The frame an ordinary binding (assignment, ``def``, walrus) lands in.
        """
        frame = self
        while frame.kind in _OVERLAYS and frame.parent is not None:
            frame = frame.parent
        return frame

    def module_level(self) -> bool:
        frame: _Frame | None = self
        while frame is not None:
            if frame.kind in _NOT_MODULE_LEVEL:
                return False
            frame = frame.parent
        return True


def _reject(reason: str, node: Any = None) -> ScriptRejected:
    lineno = getattr(node, "lineno", None)
    col = getattr(node, "col_offset", None)
    return ScriptRejected(reason, lineno, col)


_Task = tuple[Callable[..., None], tuple[Any, ...]]


class _Walker:
    """
    One validation run: the allowlist and the pending work.
    """

    __slots__ = ("protected", "todo", "tools")

    def __init__(self, allowlist: Iterable[str]) -> None:
        self.tools = frozenset(name for name in allowlist if isinstance(name, str))
        self.protected = _BASE_PROTECTED | self.tools
        self.todo: list[_Task] = []

    # -- scheduling --------------------------------------------------------

    def schedule(self, tasks: list[_Task]) -> None:
        """
        Queue *tasks* so that they run next, in the given order.
        """
        self.todo.extend(reversed(tasks))

    def run(self, module: ast.Module) -> None:
        root = _Frame(_MODULE, None)
        self.schedule([(self.stmt, (s, root)) for s in module.body])
        todo = self.todo
        while todo:
            func, args = todo.pop()
            func(*args)

    def exprs(self, nodes: Iterable[ast.expr | None], frame: _Frame) -> list[_Task]:
        return [(self.expr, (n, frame)) for n in nodes if n is not None]

    def stmts(self, nodes: Iterable[ast.stmt], frame: _Frame) -> list[_Task]:
        return [(self.stmt, (n, frame)) for n in nodes]

    # -- names -------------------------------------------------------------

    def load(self, node: ast.Name, frame: _Frame) -> None:
        name = node.id
        if name.startswith("__"):
            raise _reject("dunder_name", node)
        if name not in self.protected and not frame.sees(name):
            raise _reject("name_not_allowed", node)

    def bind_name(self, name: str, node: Any, frame: _Frame, dunder_reason: str) -> None:
        if name.startswith("__"):
            raise _reject(dunder_reason, node)
        if name in self.protected:
            raise _reject("shadows_protected_name", node)
        frame.names.add(name)

    def bind_target(self, target: ast.expr, frame: _Frame, comprehension: bool) -> None:
        """
        Bind an assignment, ``for`` or comprehension target (names, tuples, lists, starred).
        """
        kind = type(target)
        if kind is ast.Name:
            assert isinstance(target, ast.Name)
            dunder = "dunder_comprehension_target" if comprehension else "dunder_binding"
            self.bind_name(target.id, target, frame, dunder)
        elif kind is ast.Tuple or kind is ast.List:
            assert isinstance(target, ast.Tuple | ast.List)
            self.schedule([(self.bind_target, (e, frame, comprehension)) for e in target.elts])
        elif kind is ast.Starred:
            assert isinstance(target, ast.Starred)
            self.schedule([(self.bind_target, (target.value, frame, comprehension))])
        else:
            raise _reject("invalid_target", target)

    # -- statements --------------------------------------------------------

    def stmt(self, node: ast.stmt, frame: _Frame) -> None:
        handler = _STATEMENTS.get(type(node))
        if handler is None:
            raise _reject("forbidden_node", node)
        handler(self, node, frame)

    def s_expr(self, node: ast.Expr, frame: _Frame) -> None:
        self.schedule([(self.expr, (node.value, frame))])

    def s_nothing(self, node: ast.stmt, frame: _Frame) -> None:
        return None

    def s_return(self, node: ast.Return, frame: _Frame) -> None:
        self.schedule(self.exprs([node.value], frame))

    def s_raise(self, node: ast.Raise, frame: _Frame) -> None:
        self.schedule(self.exprs([node.exc, node.cause], frame))

    def s_if_while(self, node: ast.If | ast.While, frame: _Frame) -> None:
        self.schedule(
            [
                (self.expr, (node.test, frame)),
                *self.stmts(node.body, frame),
                *self.stmts(node.orelse, frame),
            ]
        )

    def s_for(self, node: ast.For, frame: _Frame) -> None:
        self.schedule(
            [
                (self.expr, (node.iter, frame)),
                (self.bind_target, (node.target, frame.binding_frame(), False)),
                *self.stmts(node.body, frame),
                *self.stmts(node.orelse, frame),
            ]
        )

    def s_assign(self, node: ast.Assign, frame: _Frame) -> None:
        target_frame = frame.binding_frame()
        self.schedule(
            [
                (self.expr, (node.value, frame)),
                *[(self.bind_target, (t, target_frame, False)) for t in node.targets],
            ]
        )

    def s_augassign(self, node: ast.AugAssign, frame: _Frame) -> None:
        if isinstance(node.op, _FORBIDDEN_BINOPS):
            raise _reject("binop_not_allowed", node)
        target = node.target
        if type(target) is not ast.Name:
            raise _reject("invalid_target", target)
        assert isinstance(target, ast.Name)
        if target.id.startswith("__"):
            raise _reject("dunder_binding", target)
        if target.id not in self.protected and not frame.sees(target.id):
            raise _reject("name_not_allowed", target)
        if target.id in self.protected:
            raise _reject("shadows_protected_name", target)
        self.schedule([(self.expr, (node.value, frame))])

    def s_annassign(self, node: ast.AnnAssign, frame: _Frame) -> None:
        target = node.target
        if type(target) is not ast.Name:
            raise _reject("invalid_target", target)
        tasks = self.exprs([node.annotation, node.value], frame)
        if node.value is not None:
            tasks.append((self.bind_target, (target, frame.binding_frame(), False)))
        self.schedule(tasks)

    def s_try(self, node: ast.Try, frame: _Frame) -> None:
        self.schedule(
            [
                *self.stmts(node.body, frame),
                *[(self.handler, (h, frame)) for h in node.handlers],
                *self.stmts(node.orelse, frame),
                *self.stmts(node.finalbody, frame),
            ]
        )

    def handler(self, node: ast.ExceptHandler, frame: _Frame) -> None:
        if node.type is None:
            raise _reject("bare_except", node)
        body_frame = frame
        tasks: list[_Task] = [(self.expr, (node.type, frame))]
        if node.name is not None:
            body_frame = _Frame(_HANDLER, frame)
            tasks.append((self.bind_name, (node.name, node, body_frame, "dunder_binding")))
        tasks.extend(self.stmts(node.body, body_frame))
        self.schedule(tasks)

    def s_def(self, node: ast.FunctionDef, frame: _Frame) -> None:
        if node.decorator_list:
            raise _reject("decorator_not_allowed", node.decorator_list[0])
        args = node.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if args.vararg is not None:
            params.insert(len(args.posonlyargs) + len(args.args), args.vararg)
        if args.kwarg is not None:
            params.append(args.kwarg)
        body_frame = _Frame(_FUNCTION, frame)
        self.schedule(
            [
                *self.exprs([*args.defaults, *args.kw_defaults], frame),
                *self.exprs([p.annotation for p in params], frame),
                (self.bind_name, (node.name, node, frame.binding_frame(), "dunder_binding")),
                (self.parameters, (params, body_frame)),
                *self.stmts(node.body, body_frame),
            ]
        )

    def parameters(self, params: list[ast.arg], frame: _Frame) -> None:
        for param in params:
            if param.arg in frame.names:
                raise _reject("duplicate_parameter", param)
            self.bind_name(param.arg, param, frame, "dunder_binding")

    # -- expressions -------------------------------------------------------

    def expr(self, node: ast.expr, frame: _Frame) -> None:
        handler = _EXPRESSIONS.get(type(node))
        if handler is None:
            raise _reject("forbidden_node", node)
        handler(self, node, frame)

    def e_constant(self, node: ast.Constant, frame: _Frame) -> None:
        if isinstance(node.value, str) and node.value.startswith("__"):
            raise _reject("dunder_string", node)

    def e_elements(self, node: ast.List | ast.Tuple | ast.Set, frame: _Frame) -> None:
        self.schedule(self.exprs(node.elts, frame))

    def e_starred(self, node: ast.Starred, frame: _Frame) -> None:
        self.schedule([(self.expr, (node.value, frame))])

    def e_dict(self, node: ast.Dict, frame: _Frame) -> None:
        tasks: list[_Task] = []
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                tasks.append((self.fail, ("dict_unpacking", node)))
            else:
                tasks.append((self.expr, (key, frame)))
            tasks.append((self.expr, (value, frame)))
        self.schedule(tasks)

    def fail(self, reason: str, node: Any) -> None:
        raise _reject(reason, node)

    def e_binop(self, node: ast.BinOp, frame: _Frame) -> None:
        if isinstance(node.op, _FORBIDDEN_BINOPS):
            raise _reject("binop_not_allowed", node)
        self.schedule(self.exprs([node.left, node.right], frame))

    def e_unaryop(self, node: ast.UnaryOp, frame: _Frame) -> None:
        self.schedule([(self.expr, (node.operand, frame))])

    def e_boolop(self, node: ast.BoolOp, frame: _Frame) -> None:
        self.schedule(self.exprs(node.values, frame))

    def e_compare(self, node: ast.Compare, frame: _Frame) -> None:
        self.schedule(self.exprs([node.left, *node.comparators], frame))

    def e_ifexp(self, node: ast.IfExp, frame: _Frame) -> None:
        self.schedule(self.exprs([node.test, node.body, node.orelse], frame))

    def e_subscript(self, node: ast.Subscript, frame: _Frame) -> None:
        self.schedule(self.exprs([node.value, node.slice], frame))

    def e_slice(self, node: ast.Slice, frame: _Frame) -> None:
        self.schedule(self.exprs([node.lower, node.upper, node.step], frame))

    def e_name(self, node: ast.Name, frame: _Frame) -> None:
        self.load(node, frame)

    def e_attribute(self, node: ast.Attribute, frame: _Frame) -> None:
        if node.attr.startswith("__"):
            raise _reject("dunder_attribute", node)
        base = node.value
        if type(base) is not ast.Name:
            raise _reject("attribute_target_not_name", node)
        assert isinstance(base, ast.Name)
        if base.id != MISSION_NAME:
            raise _reject("attribute_target_not_allowed", node)
        if node.attr not in MISSION_ATTRIBUTES:
            raise _reject("attribute_not_allowed", node)
        self.load(base, frame)

    def e_call(self, node: ast.Call, frame: _Frame) -> None:
        self.call(node, frame, awaited=False)

    def call(self, node: ast.Call, frame: _Frame, *, awaited: bool) -> None:
        func = node.func
        kind = type(func)
        if kind is ast.Name:
            assert isinstance(func, ast.Name)
            if func.id in FORBIDDEN_CALL_NAMES:
                raise _reject("forbidden_call_target", node)
            self.load(func, frame)
            if func.id in self.tools and not awaited:
                raise _reject("tool_call_not_awaited", node)
        elif kind is ast.Attribute:
            assert isinstance(func, ast.Attribute)
            self.e_attribute(func, frame)
        else:
            raise _reject("call_target_shape", node)
        self.schedule(
            [
                *self.exprs(node.args, frame),
                *self.exprs([k.value for k in node.keywords], frame),
            ]
        )

    def e_await(self, node: ast.Await, frame: _Frame) -> None:
        call = node.value
        if not (frame.module_level() and isinstance(call, ast.Call) and self.awaitable(call)):
            raise _reject("await_not_allowed", node)
        self.call(call, frame, awaited=True)

    def awaitable(self, call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Name):
            return func.id in self.tools and func.id not in FORBIDDEN_CALL_NAMES
        return (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == MISSION_NAME
            and func.attr in MISSION_ATTRIBUTES
        )

    def e_joinedstr(self, node: ast.JoinedStr, frame: _Frame) -> None:
        self.schedule(self.exprs(node.values, frame))

    def e_formatted(self, node: ast.FormattedValue, frame: _Frame) -> None:
        self.schedule(self.exprs([node.value, node.format_spec], frame))

    def e_namedexpr(self, node: ast.NamedExpr, frame: _Frame) -> None:
        self.schedule(
            [
                (self.expr, (node.value, frame)),
                (self.bind_target, (node.target, frame.binding_frame(), False)),
            ]
        )

    def e_lambda(self, node: ast.Lambda, frame: _Frame) -> None:
        args = node.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if args.vararg is not None:
            params.insert(len(args.posonlyargs) + len(args.args), args.vararg)
        if args.kwarg is not None:
            params.append(args.kwarg)
        body_frame = _Frame(_LAMBDA, frame)
        self.schedule(
            [
                *self.exprs([*args.defaults, *args.kw_defaults], frame),
                (self.parameters, (params, body_frame)),
                (self.expr, (node.body, body_frame)),
            ]
        )

    def e_comprehension(self, node: ast.ListComp | ast.GeneratorExp, frame: _Frame) -> None:
        inner = _Frame(_COMPREHENSION, frame)
        tasks: list[_Task] = []
        for clause in node.generators:
            tasks.append((self.clause_start, (clause, node)))
            tasks.append((self.expr, (clause.iter, inner)))
            tasks.append((self.bind_target, (clause.target, inner, True)))
            tasks.extend(self.exprs(clause.ifs, inner))
        tasks.append((self.expr, (node.elt, inner)))
        self.schedule(tasks)

    def clause_start(self, clause: ast.comprehension, node: ast.expr) -> None:
        if clause.is_async:
            raise _reject("async_comprehension", node)


_STATEMENTS: Final[dict[type[ast.stmt], Callable[[_Walker, Any, _Frame], None]]] = {
    ast.Expr: _Walker.s_expr,
    ast.Pass: _Walker.s_nothing,
    ast.Break: _Walker.s_nothing,
    ast.Continue: _Walker.s_nothing,
    ast.Return: _Walker.s_return,
    ast.Raise: _Walker.s_raise,
    ast.If: _Walker.s_if_while,
    ast.While: _Walker.s_if_while,
    ast.For: _Walker.s_for,
    ast.Assign: _Walker.s_assign,
    ast.AugAssign: _Walker.s_augassign,
    ast.AnnAssign: _Walker.s_annassign,
    ast.Try: _Walker.s_try,
    ast.FunctionDef: _Walker.s_def,
}

_EXPRESSIONS: Final[dict[type[ast.expr], Callable[[_Walker, Any, _Frame], None]]] = {
    ast.Constant: _Walker.e_constant,
    ast.Name: _Walker.e_name,
    ast.List: _Walker.e_elements,
    ast.Tuple: _Walker.e_elements,
    ast.Set: _Walker.e_elements,
    ast.Starred: _Walker.e_starred,
    ast.Dict: _Walker.e_dict,
    ast.BinOp: _Walker.e_binop,
    ast.UnaryOp: _Walker.e_unaryop,
    ast.BoolOp: _Walker.e_boolop,
    ast.Compare: _Walker.e_compare,
    ast.IfExp: _Walker.e_ifexp,
    ast.Subscript: _Walker.e_subscript,
    ast.Slice: _Walker.e_slice,
    ast.Attribute: _Walker.e_attribute,
    ast.Call: _Walker.e_call,
    ast.Await: _Walker.e_await,
    ast.JoinedStr: _Walker.e_joinedstr,
    ast.FormattedValue: _Walker.e_formatted,
    ast.NamedExpr: _Walker.e_namedexpr,
    ast.Lambda: _Walker.e_lambda,
    ast.ListComp: _Walker.e_comprehension,
    ast.GeneratorExp: _Walker.e_comprehension,
}


def _parse(source: str) -> ast.Module:
    try:
        return ast.parse(source, filename="<script>", mode="exec")
    except SyntaxError as exc:
        raise ScriptRejected("syntax_error", exc.lineno, exc.offset) from None
    except (ValueError, RecursionError, MemoryError):
        # NUL bytes (older parsers), or input nested beyond what the parser or
        # the tree construction can hold: no position is meaningful.
        raise ScriptRejected("syntax_error") from None


def validate_script(source: object, allowlist: Iterable[str]) -> ast.Module:
    """
    Check that *source* is inside the script language and return its tree.

    The walk is iterative, so deeply nested input is validated (or rejected)
    without raising :class:`RecursionError`.

    Args:
        source: The script text.
        allowlist: The tool names the script may call (each only as ``await tool(...)``).

    Returns:
        The parsed module, unchanged.

    Raises:
        missionkit.errors.ScriptRejected: With the first failing rule's reason token and,
            where one exists, the offending node's position (``lineno`` 1-based,
            ``col_offset`` 0-based as in :mod:`ast`; for ``syntax_error`` the parser's
            1-based offset).

    .. versionadded:: 0.1
    """
    if not isinstance(source, str):
        raise ScriptRejected("not_a_string")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ScriptRejected("source_too_long")
    module = _parse(source)
    try:
        _Walker(allowlist).run(module)
    except (RecursionError, MemoryError):  # pragma: no cover - the walk does not recurse
        raise ScriptRejected("syntax_error") from None
    return module
