"""
The script child process: ``python -I -m missionkit.scripts._child`` (SPEC §9.4).

It reads one ``start`` message from stdin, caps its own address space (and, as
a backstop should the host vanish, its CPU time), validates and compiles the
script again, and runs it, talking newline-delimited JSON to the host. The
protocol uses a private duplicate of the original stdout; file descriptor 1 is
pointed at stderr, so nothing printed by accident can corrupt the stream.

A ``MemoryError`` anywhere (even one the script catches with ``except
Exception``) is reported as ``limit {what: "memory"}`` and ends the process at
once: a trace hook watches exception events in the script's own frames.
"""

from __future__ import annotations

import os
import sys
from types import FrameType
from typing import Any, BinaryIO, Final

from missionkit._jsonsafe import truncation_marker
from missionkit._text import TEXT_LIMIT, exception_text
from missionkit.errors import ScriptRejected

from ._language import SCRIPT_FILENAME
from ._sandbox import (
    CallRequest,
    Finished,
    Reply,
    ScriptState,
    compile_script,
)
from ._wire import MAX_MESSAGE_BYTES, ProtocolError, decode, encode

__all__ = ["main"]

_LIMIT_MEMORY: Final = b'{"type":"limit","what":"memory"}\n'
_HOST_GONE_EXIT: Final = 2
_PREVIEW_CAP: Final = 1024 * 1024


class _HostGone(BaseException):
    """
    The host closed the pipe or spoke out of protocol; not catchable by scripts.
    """


def _set_limits(memory_bytes: Any, cpu_seconds: Any) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no resource limits
        return
    for which, value, slack in (
        (resource.RLIMIT_AS, memory_bytes, 0),
        (resource.RLIMIT_CPU, cpu_seconds, 5),
    ):
        if type(value) is not int or value <= 0:
            continue
        try:
            _soft, hard = resource.getrlimit(which)
            soft = value if hard == resource.RLIM_INFINITY else min(value, hard)
            new_hard = soft + slack
            if hard != resource.RLIM_INFINITY:
                new_hard = min(new_hard, hard)
            resource.setrlimit(which, (soft, new_hard))
        except (ValueError, OSError):  # pragma: no cover - best effort off Linux
            pass


class _Child:
    """
    The child's side of one run.
    """

    def __init__(self, out_fd: int, inp: BinaryIO) -> None:
        self.out_fd = out_fd
        self.inp = inp
        self.next_id = 0

    # -- I/O -----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.out_fd, view)
                view = view[written:]
        except OSError:
            raise _HostGone from None

    def send(self, message: dict[str, Any]) -> None:
        self.write(encode(message))

    def read(self) -> dict[str, Any]:
        line = self.inp.readline(MAX_MESSAGE_BYTES + 2)
        if not line.endswith(b"\n"):
            raise _HostGone
        try:
            return decode(line)
        except ProtocolError:
            raise _HostGone from None

    # -- script callbacks ----------------------------------------------------

    def observe(self, key: str, value: Any) -> None:
        try:
            data = encode({"type": "observe", "key": key, "value": value})
        except ProtocolError:
            marker = truncation_marker(value)
            data = encode({"type": "observe", "key": key[:_PREVIEW_CAP], "value": marker})
        self.write(data)

    def event(self, name: str, fields: dict[str, Any]) -> None:
        try:
            data = encode({"type": "event", "name": name, "fields": fields})
        except ProtocolError:
            capped = {k[:_PREVIEW_CAP]: truncation_marker(v) for k, v in fields.items()}
            data = encode({"type": "event", "name": name[:_PREVIEW_CAP], "fields": capped})
        self.write(data)

    def call(self, request: CallRequest) -> Reply:
        self.next_id += 1
        call_id = self.next_id
        try:
            data = encode(
                {"type": "call", "id": call_id, "tool": request.tool, "args": request.args}
            )
        except ProtocolError:
            return Reply(
                False, None, "ValueError", "tool arguments exceed the 16 MiB message limit"
            )
        self.write(data)
        reply = self.read()
        if reply.get("type") != "result" or reply.get("id") != call_id:
            raise _HostGone
        if reply.get("ok") is True:
            return Reply(True, reply.get("value"))
        error_type = reply.get("error_type")
        error_message = reply.get("error_message")
        if not isinstance(error_type, str) or not isinstance(error_message, str):
            raise _HostGone
        return Reply(False, None, error_type, error_message)

    # -- memory watch --------------------------------------------------------

    def trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != SCRIPT_FILENAME:
            return None
        frame.f_trace_lines = False
        return self.trace_local

    def trace_local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "exception" and issubclass(arg[0], MemoryError):
            self.memory_breach()
        return self.trace_local

    def memory_breach(self) -> None:
        try:
            os.write(self.out_fd, _LIMIT_MEMORY)
        finally:
            os._exit(0)

    # -- the run -------------------------------------------------------------

    def run(self) -> int:
        start = self.read()
        script = start.get("script")
        allowlist = start.get("allowlist")
        max_calls = start.get("max_calls")
        if (
            start.get("type") != "start"
            or not isinstance(script, str)
            or not isinstance(allowlist, list)
            or not all(isinstance(name, str) for name in allowlist)
            or type(max_calls) is not int
        ):
            raise _HostGone
        _set_limits(start.get("memory_bytes"), start.get("cpu_seconds"))
        try:
            code = compile_script(script, allowlist)
        except (ScriptRejected, SyntaxError, ValueError, RecursionError) as exc:
            self.send({"type": "error", "error_message": exception_text(exc, TEXT_LIMIT)})
            return 0
        state = ScriptState(allowlist, max_calls, self.observe, self.event)
        sys.settrace(self.trace)
        try:
            request = state.start(code)
            while True:
                request = state.step(self.call(request))
        except Finished:
            sys.settrace(None)
            self.send({"type": "done"})
        except MemoryError:
            self.memory_breach()
        except Exception as exc:
            sys.settrace(None)
            self.send({"type": "error", "error_message": exception_text(exc, TEXT_LIMIT)})
        return 0


def main() -> int:
    """
    Run one script for the host on the other end of stdin/stdout.

    Returns:
        The exit status: 0 after a terminal message was sent, 2 if the host went
        away or broke the protocol.
    """
    sys.stdout.flush()
    out_fd = os.dup(1)
    os.dup2(2, 1)
    child = _Child(out_fd, sys.stdin.buffer)
    try:
        return child.run()
    except MemoryError:
        child.memory_breach()
    except _HostGone:
        return _HOST_GONE_EXIT
    return 0  # pragma: no cover - memory_breach does not return


if __name__ == "__main__":
    raise SystemExit(main())
