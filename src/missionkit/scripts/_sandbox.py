"""
What a running script sees, shared by the child process and the inline runner.

A script is compiled with top-level ``await`` allowed and evaluated to a
coroutine. Its only awaitables are the tool functions (which suspend with a
:class:`CallRequest`) and ``mission.observe``/``mission.event`` (which complete
at once), so a *driver* steps the coroutine by hand: every value the coroutine
yields is a tool call to fulfil, and the :class:`Reply` is sent back in. The
child fulfils calls over its pipe; the inline runner awaits ``call_tool``.
"""

from __future__ import annotations
import __future__

import ast
import math
from collections.abc import Callable, Coroutine, Generator, Iterable
from typing import Any, Final

from missionkit._jsonsafe import to_json_data

from ._language import (
    EXCEPTION_CLASSES,
    MISSION_NAME,
    SCRIPT_FILENAME,
    safe_builtins,
)
from ._validate import validate_script

__all__ = [
    "COMPILE_FLAGS",
    "CallRequest",
    "Finished",
    "Reply",
    "ScriptState",
    "check_runner_limits",
    "compile_script",
    "event_row",
    "finite_or_none",
    "tool_exception",
]

#: Top-level ``await``, and annotations kept as strings so they never run.
COMPILE_FLAGS: Final = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT | __future__.annotations.compiler_flag

_EXCEPTIONS_BY_NAME: Final[dict[str, type[Exception]]] = {
    cls.__name__: cls for cls in EXCEPTION_CLASSES
}


def tool_exception(error_type: str, error_message: str) -> Exception:
    """
    The exception a failed tool call raises inside the script.

    Returns:
        An instance of the script-visible class named *error_type*, or a
        ``RuntimeError("<error_type>: <error_message>")`` when there is none.
    """
    cls = _EXCEPTIONS_BY_NAME.get(error_type)
    if cls is None:
        return RuntimeError(f"{error_type}: {error_message}")
    return cls(error_message)


def compile_script(source: str, allowlist: Iterable[str]) -> Any:
    """
    Validate and compile *source*; the code object evaluates to a coroutine if it awaits.

    Return annotations, which the validator does not look at, are removed as
    well, so nothing unvalidated is ever compiled.

    Raises:
        missionkit.errors.ScriptRejected: The script is outside the language.
        SyntaxError: The compiler refused a validated tree (``return`` at module level).
        RecursionError: The tree is too deep for the compiler.
    """
    tree = validate_script(source, allowlist)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.returns = None
    return compile(tree, SCRIPT_FILENAME, "exec", flags=COMPILE_FLAGS, dont_inherit=True)


class CallRequest:
    """
    A tool call the script is suspended on.

    Attributes:
        tool: The tool name.
        args: The keyword arguments as JSON data.
    """

    __slots__ = ("args", "tool")

    def __init__(self, tool: str, args: dict[str, Any]) -> None:
        self.tool = tool
        self.args = args


class Reply:
    """
    The answer to a :class:`CallRequest`: a value, or a failure to raise in the script.
    """

    __slots__ = ("error_message", "error_type", "ok", "value")

    def __init__(
        self,
        ok: bool,
        value: Any = None,
        error_type: str = "",
        error_message: str = "",
    ) -> None:
        self.ok = ok
        self.value = value
        self.error_type = error_type
        self.error_message = error_message


class _Completed:
    """
    An awaitable that is already done (what ``mission.observe``/``event`` return).
    """

    __slots__ = ()

    def __await__(self) -> Generator[Any, Any, None]:
        return None
        yield  # pragma: no cover - makes this a generator


class _PendingCall:
    """
    The awaitable a tool function returns; nothing happens until it is awaited.
    """

    __slots__ = ("_args", "_state", "_tool")

    def __init__(self, state: ScriptState, tool: str, args: dict[str, Any]) -> None:
        self._state = state
        self._tool = tool
        self._args = args

    def __await__(self) -> Generator[Any, Any, Any]:
        self._state.count_call()
        reply = yield CallRequest(self._tool, to_json_data(self._args))
        if not isinstance(reply, Reply):
            raise RuntimeError("script tool call was not answered")
        if reply.ok:
            return reply.value
        raise tool_exception(reply.error_type, reply.error_message)


class _Mission:
    """
    The script's ``mission`` object: ``observe`` and ``event``, nothing else.
    """

    __slots__ = ("_state",)

    def __init__(self, state: ScriptState) -> None:
        self._state = state

    def __repr__(self) -> str:
        return "<mission>"

    def observe(self, key: Any, value: Any) -> _Completed:
        if not isinstance(key, str):
            raise TypeError(f"observation key must be a str, not {type(key).__name__}")
        self._state.on_observe(str.__str__(key), to_json_data(value))
        return _Completed()

    def event(self, name: Any, /, **fields: Any) -> _Completed:
        if not isinstance(name, str):
            raise TypeError(f"event name must be a str, not {type(name).__name__}")
        self._state.on_event(str.__str__(name), to_json_data(fields))
        return _Completed()


# Script-facing messages ("mission.observe() missing 1 required positional
# argument") should name what the script wrote, not this module's class.
_Mission.__qualname__ = MISSION_NAME


def _tool_function(state: ScriptState, name: str) -> Callable[..., _PendingCall]:
    def tool(*args: Any, **kwargs: Any) -> _PendingCall:
        if args:
            raise TypeError(f"{name}() takes keyword arguments only")
        return _PendingCall(state, name, kwargs)

    tool.__name__ = tool.__qualname__ = name
    return tool


class Finished(Exception):
    """
    Raised by :meth:`ScriptState.step` when the script has run to its end.
    """


class ScriptState:
    """
    One script run: its namespace, call counter and the running coroutine.

    Args:
        allowlist: Tool names to provide as functions.
        max_calls: Tool calls allowed; the next one raises ``RuntimeError`` in the script.
        on_observe: Receives each ``(key, value)`` as it is observed.
        on_event: Receives each event's name and fields (JSON data) as it is emitted.
    """

    __slots__ = ("_coro", "calls", "max_calls", "namespace", "on_event", "on_observe")

    def __init__(
        self,
        allowlist: Iterable[str],
        max_calls: int,
        on_observe: Callable[[str, Any], None],
        on_event: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self.calls = 0
        self.max_calls = max_calls
        self.on_observe = on_observe
        self.on_event = on_event
        self._coro: Coroutine[Any, Any, Any] | None = None
        namespace: dict[str, Any] = {"__builtins__": safe_builtins()}
        for name in allowlist:
            # A dunder name can never be referenced by a valid script; skipping it
            # also keeps a tool called "__builtins__" from replacing the builtins.
            if not name.startswith("__"):
                namespace[name] = _tool_function(self, name)
        namespace[MISSION_NAME] = _Mission(self)
        self.namespace = namespace

    def count_call(self) -> None:
        if self.calls >= self.max_calls:
            raise RuntimeError(f"script tool call limit ({self.max_calls}) reached")
        self.calls += 1

    def start(self, code: Any) -> CallRequest:
        """
        Run *code* up to its first tool call.

        Raises:
            Finished: The script ended without calling a tool.
            Exception: Whatever the script raised.
        """
        coro = eval(code, self.namespace)  # the validated, compiled script
        if coro is None:
            raise Finished
        self._coro = coro
        return self.step(None)

    def step(self, reply: Reply | None) -> CallRequest:
        """
        Resume the script with *reply* and run it up to its next tool call.

        Raises:
            Finished: The script ended.
            Exception: Whatever the script raised.
        """
        coro = self._coro
        assert coro is not None
        try:
            request = coro.send(reply)
        except StopIteration:
            raise Finished from None
        if not isinstance(request, CallRequest):
            coro.close()
            raise RuntimeError("script awaited something other than a tool call")
        return request

    def close(self) -> None:
        """
        Abandon the coroutine (its ``finally`` blocks run now, if at all).
        """
        coro, self._coro = self._coro, None
        if coro is not None:
            try:
                coro.close()
            except Exception:
                pass


def check_runner_limits(wall_seconds: Any, max_calls: Any) -> None:
    """
    The checks every runner applies to its wall-time and tool-call limits.

    Raises:
        TypeError: *wall_seconds* is not a number or *max_calls* not an int.
        ValueError: *wall_seconds* is not positive and finite, or *max_calls* is negative.
    """
    if isinstance(wall_seconds, bool) or not isinstance(wall_seconds, int | float):
        raise TypeError("wall_seconds must be a number")
    if not (0 < wall_seconds < math.inf):
        raise ValueError("wall_seconds must be positive and finite")
    if type(max_calls) is not int:
        raise TypeError("max_calls must be an int")
    if max_calls < 0:
        raise ValueError("max_calls must not be negative")


def finite_or_none(value: float | None) -> float | None:
    """
    *value*, or ``None`` when it is ``None`` or positive infinity.
    """
    if value is None or (isinstance(value, float) and math.isinf(value) and value > 0):
        return None
    return value


def event_row(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """
    The stored form of one event: ``{"event_name": name, **fields}``.
    """
    return {"event_name": name, **fields}
