"""
The default script runner: one throw-away child process per script (SPEC §9.4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from missionkit._jsonsafe import to_json_data
from missionkit._text import TEXT_LIMIT

from ._protocol import ScriptOutcome, ScriptToolError
from ._sandbox import check_runner_limits, event_row, finite_or_none
from ._validate import validate_script
from ._wire import MAX_MESSAGE_BYTES, ProtocolError, decode, encode

__all__ = ["SubprocessScriptRunner"]

_LOG: Final = logging.getLogger("missionkit")
_STDERR_TAIL: Final = 4096
_EXIT_GRACE: Final = 2.0
_CHILD_MODULE: Final = "missionkit.scripts._child"
# Bound on the observe/event data one run may stream to the host, so a script
# cannot exhaust the host's memory by observing in a loop.
_MAX_STREAMED_BYTES: Final = 64 * 1024 * 1024

# Run the child module with the directory holding this missionkit package
# appended to the child's sys.path if it is not already there. Under ``-I`` an
# installed (or editable-installed) missionkit is found through site-packages as
# usual; appending covers a source checkout that the host imported via
# PYTHONPATH or a sys.path tweak, which ``-I`` would otherwise hide.
#
# The child needs a handful of modules (wire format, sandbox, JSON safety,
# errors), not the engine. Registering the two packages on its import path
# without running their ``__init__`` keeps the package-level re-exports (the
# engine, the models, cattrs, asyncio) out of it: every scripted iteration
# starts one child, so this is paid per iteration.
_PRELUDE: Final = (
    "import sys\n"
    "p = sys.argv.pop(1)\n"
    "if p not in sys.path:\n"
    "    sys.path.append(p)\n"
    "import importlib.util\n"
    "for n in ('missionkit', 'missionkit.scripts'):\n"
    "    sys.modules[n] = importlib.util.module_from_spec(importlib.util.find_spec(n))\n"
)
_BOOTSTRAP: Final = _PRELUDE + f"from {_CHILD_MODULE} import main\nraise SystemExit(main())\n"
_SIGXCPU: Final = getattr(signal, "SIGXCPU", None)


def _package_parent() -> str:
    return str(Path(__file__).resolve().parents[2])


class _Stop(Exception):
    """
    Ends the message loop with an outcome decided by the host.
    """

    def __init__(
        self,
        limit: Literal["wall_time"] | None = None,
        crashed: str = "",
        *,
        exited: bool = False,
    ) -> None:
        super().__init__(limit, crashed)
        self.limit = limit
        self.crashed = crashed
        self.exited = exited


class _Clock:
    """
    The script's own running time: paused while a host tool call is in flight.
    """

    def __init__(self, wall_seconds: float, max_seconds: float | None) -> None:
        now = time.monotonic()
        self.wall_seconds = wall_seconds
        self.used = 0.0
        self.running_since: float | None = now
        self.deadline = None if max_seconds is None else now + max_seconds

    def pause(self) -> None:
        if self.running_since is not None:
            self.used += time.monotonic() - self.running_since
            self.running_since = None

    def resume(self) -> None:
        if self.running_since is None:
            self.running_since = time.monotonic()

    def overall_left(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def left(self) -> float:
        """
        Seconds until the next limit, counting the running clock.
        """
        now = time.monotonic()
        used = self.used + (0.0 if self.running_since is None else now - self.running_since)
        left = self.wall_seconds - used
        if self.deadline is not None:
            left = min(left, self.deadline - now)
        return left


class _Run:
    """
    The host's side of one child: the message loop and what it collected.
    """

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        clock: _Clock,
        call_tool: Callable[[str, dict[str, Any]], Awaitable[Any]],
        max_calls: int,
    ) -> None:
        self.proc = proc
        self.clock = clock
        self.call_tool = call_tool
        self.max_calls = max_calls
        self.calls = 0
        self.observations: list[tuple[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.stderr_tail = b""
        self.streamed = 0

    async def drain_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        while chunk := await stream.read(65536):
            self.stderr_tail = (self.stderr_tail + chunk)[-_STDERR_TAIL:]

    async def send(self, message: dict[str, Any]) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(encode(message))
            await self.bounded(stdin.drain())
        except (BrokenPipeError, ConnectionResetError):
            pass  # the child is gone; reading its stdout tells the rest

    async def bounded(self, awaitable: Awaitable[Any]) -> Any:
        """
        Await *awaitable* while the script clock runs; a breach stops the run.
        """
        left = self.clock.left()
        if left <= 0:
            raise _Stop("wall_time")
        try:
            return await asyncio.wait_for(awaitable, left)
        except TimeoutError:
            raise _Stop("wall_time") from None

    async def messages(self) -> ScriptOutcome:
        stdout = self.proc.stdout
        assert stdout is not None
        while True:
            try:
                line = await self.bounded(stdout.readline())
            except ValueError:  # the line is longer than the stream limit
                raise _Stop(crashed="message exceeds the 16 MiB limit") from None
            if not line:
                raise _Stop(crashed="child closed its output without a final message", exited=True)
            if not line.endswith(b"\n"):
                raise _Stop(crashed="child output ended in the middle of a message")
            try:
                message = decode(line)
            except ProtocolError as exc:
                raise _Stop(crashed=str(exc)) from None
            if message["type"] in ("observe", "event"):
                self.streamed += len(line)
                if self.streamed > _MAX_STREAMED_BYTES:
                    raise _Stop(crashed="observations and events exceed 64 MiB")
            outcome = await self.handle(message)
            if outcome is not None:
                return outcome

    async def handle(self, message: dict[str, Any]) -> ScriptOutcome | None:
        kind = message["type"]
        if kind == "observe":
            key = message.get("key")
            if not isinstance(key, str) or "value" not in message:
                raise _Stop(crashed="malformed observe message")
            self.observations.append((key, message["value"]))
        elif kind == "event":
            name, fields = message.get("name"), message.get("fields")
            if not isinstance(name, str) or not isinstance(fields, dict):
                raise _Stop(crashed="malformed event message")
            self.events.append(event_row(name, fields))
        elif kind == "call":
            await self.call(message)
        elif kind == "done":
            return self.outcome()
        elif kind == "error":
            text = message.get("error_message")
            if not isinstance(text, str):
                raise _Stop(crashed="malformed error message")
            return self.outcome(error=text[:TEXT_LIMIT])
        elif kind == "limit" and message.get("what") == "memory":
            return self.outcome(limit="memory")
        else:
            raise _Stop(crashed=f"unexpected message type {kind[:40]!r}")
        return None

    async def call(self, message: dict[str, Any]) -> None:
        call_id, tool, args = message.get("id"), message.get("tool"), message.get("args")
        if type(call_id) is not int or not isinstance(tool, str) or not isinstance(args, dict):
            raise _Stop(crashed="malformed call message")
        self.calls += 1
        if self.calls > self.max_calls:
            raise _Stop(crashed="child exceeded the tool call limit")
        self.clock.pause()
        try:
            left = self.clock.overall_left()
            if left is None:
                value = await self.call_tool(tool, args)
            elif left <= 0:
                raise _Stop("wall_time")
            else:
                try:
                    value = await asyncio.wait_for(self.call_tool(tool, args), left)
                except TimeoutError:
                    raise _Stop("wall_time") from None
            reply = {"type": "result", "id": call_id, "ok": True, "value": to_json_data(value)}
        except ScriptToolError as exc:
            reply = {
                "type": "result",
                "id": call_id,
                "ok": False,
                "error_type": str(exc.error_type),
                "error_message": str(exc.error_message),
            }
        finally:
            self.clock.resume()
        try:
            await self.send(reply)
        except ProtocolError:
            await self.send(
                {
                    "type": "result",
                    "id": call_id,
                    "ok": False,
                    "error_type": "ValueError",
                    "error_message": "tool result exceeds the 16 MiB message limit",
                }
            )

    def outcome(
        self,
        *,
        error: str | None = None,
        limit: Literal["wall_time", "memory"] | None = None,
    ) -> ScriptOutcome:
        return ScriptOutcome(
            observations=tuple(self.observations),
            events=tuple(self.events),
            error=error,
            limit=limit,
        )


class SubprocessScriptRunner:
    """
    Run each script in a fresh, resource-limited child Python process.

    The child is started as ``python -I`` with a short bootstrap that runs
    ``missionkit.scripts._child`` (the package's parent directory is appended to
    the child's ``sys.path`` if ``-I`` would otherwise hide it), in a fresh
    temporary working directory that is removed afterwards, with an environment
    reduced to ``PATH`` (plus ``SYSTEMROOT`` on Windows). The address-space cap is
    enforced with ``RLIMIT_AS`` on Linux, best effort on other POSIX systems, and
    not at all on Windows. The child's CPU time is also capped at *wall_seconds*
    plus a margin, so a child whose host vanished cannot spin forever.

    Every way a run can end produces a :class:`ScriptOutcome`, and the child is
    always killed if still running and reaped before :meth:`run` returns. A
    crash, a protocol violation (garbage, an oversized line, output ending early)
    or an external kill gives ``error="ScriptCrashed: exit code <n>"``, and so
    does streaming more than 64 MiB of observations and events in one run (the
    host's own memory is at stake); the last
    4 KiB of the child's stderr are logged to the ``missionkit`` logger at warning
    level with ``extra={"missionkit_stderr": …}``.

    The runner holds no per-run state and may be shared by concurrent runs.

    Args:
        wall_seconds: The script's own running time limit (time spent in host
            tool calls does not count).
        memory_bytes: The child's address-space limit.
        max_calls: Tool calls allowed per run.
        python: The interpreter for the child.

    Raises:
        ValueError: A limit is not positive (``max_calls`` may be 0).
        TypeError: A limit has the wrong type.

    .. versionadded:: 0.1
    """

    __slots__ = ("_child_argv", "_closed", "_live", "_lock", "_settings")

    def __init__(
        self,
        wall_seconds: float = 30.0,
        memory_bytes: int = 268_435_456,
        max_calls: int = 256,
        python: str = sys.executable,
    ) -> None:
        check_runner_limits(wall_seconds, max_calls)
        if type(memory_bytes) is not int:
            raise TypeError("memory_bytes must be an int")
        if memory_bytes <= 0:
            raise ValueError("memory_bytes must be positive")
        if not isinstance(python, str | os.PathLike) or not str(python):
            raise TypeError("python must be a path to an interpreter")
        self._settings = (float(wall_seconds), memory_bytes, max_calls, os.fspath(python))
        # Test hook: the full command line of the child, replacing the default.
        self._child_argv: Sequence[str] | None = None
        self._live: set[asyncio.subprocess.Process] = set()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def wall_seconds(self) -> float:
        """
        The script's own running time limit in seconds.
        """
        return self._settings[0]

    @property
    def memory_bytes(self) -> int:
        """
        The child's address-space limit in bytes.
        """
        return self._settings[1]

    @property
    def max_calls(self) -> int:
        """
        Tool calls allowed per run.
        """
        return self._settings[2]

    @property
    def python(self) -> str:
        """
        The interpreter used for the child.
        """
        return self._settings[3]

    def __repr__(self) -> str:
        return (
            f"SubprocessScriptRunner(wall_seconds={self.wall_seconds!r}, "
            f"memory_bytes={self.memory_bytes!r}, max_calls={self.max_calls!r}, "
            f"python={self.python!r})"
        )

    def close(self) -> None:
        """
        Kill any child still running and refuse further runs. Idempotent.
        """
        with self._lock:
            self._closed = True
            live = list(self._live)
        for proc in live:
            with contextlib.suppress(ProcessLookupError, OSError):
                proc.kill()

    async def aclose(self) -> None:
        """
        Async spelling of :meth:`close`.
        """
        self.close()

    def _argv(self) -> list[str]:
        if self._child_argv is not None:
            return list(self._child_argv)
        return [self.python, "-I", "-c", _BOOTSTRAP, _package_parent()]

    async def run(
        self,
        script: str,
        *,
        allowlist: Sequence[str],
        call_tool: Callable[[str, dict[str, Any]], Awaitable[Any]],
        max_seconds: float | None,
    ) -> ScriptOutcome:
        """
        Run *script* in a child process (see the class docstring).

        Args:
            script: The script source.
            allowlist: The tool names the script may call.
            call_tool: The engine's proxy; returns JSON data or raises
                :class:`ScriptToolError`.
            max_seconds: The whole run's time bound (tool calls included), or ``None``.

        Returns:
            The outcome.

        Raises:
            missionkit.errors.ScriptRejected: The script fails validation here, before
                any process starts.
            OSError: The interpreter could not be started.
            RuntimeError: The runner was closed.
            Exception: Anything *call_tool* raises other than :class:`ScriptToolError`
                (the child is killed first).
        """
        allowlist = list(allowlist)
        validate_script(script, allowlist)
        if self._closed:
            raise RuntimeError("the script runner is closed")
        wall_seconds, memory_bytes = self.wall_seconds, self.memory_bytes
        max_seconds = finite_or_none(max_seconds)
        if max_seconds is not None and not max_seconds > 0:
            return ScriptOutcome(limit="wall_time")
        workdir = tempfile.mkdtemp(prefix="missionkit-script-")
        try:
            return await self._run_in(
                workdir, script, allowlist, call_tool, max_seconds, wall_seconds, memory_bytes
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    async def _run_in(
        self,
        workdir: str,
        script: str,
        allowlist: list[str],
        call_tool: Callable[[str, dict[str, Any]], Awaitable[Any]],
        max_seconds: float | None,
        wall_seconds: float,
        memory_bytes: int,
    ) -> ScriptOutcome:
        env = {"PATH": os.environ.get("PATH", os.defpath)}
        if sys.platform == "win32" and "SYSTEMROOT" in os.environ:  # pragma: no cover
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        proc = await asyncio.create_subprocess_exec(
            *self._argv(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=workdir,
            env=env,
            limit=MAX_MESSAGE_BYTES + 1,
        )
        with self._lock:
            self._live.add(proc)
        run = _Run(proc, _Clock(wall_seconds, max_seconds), call_tool, self.max_calls)
        stderr_task = asyncio.ensure_future(run.drain_stderr())
        try:
            if self._closed:
                raise _Stop(crashed="the script runner was closed")
            await run.send(
                {
                    "type": "start",
                    "script": script,
                    "allowlist": allowlist,
                    "max_calls": self.max_calls,
                    "memory_bytes": memory_bytes,
                    "cpu_seconds": math.ceil(wall_seconds) + 5,
                }
            )
            outcome = await run.messages()
            await self._wait_exit(proc)
            return outcome
        except _Stop as stop:
            if stop.exited and stop.limit is None:
                # The child closed its output: let it report its own exit status.
                await self._wait_exit(proc, max(0.0, min(_EXIT_GRACE, run.clock.left())))
            await self._kill(proc)
            if stop.limit is not None or proc.returncode == _negated(_SIGXCPU):
                return run.outcome(limit="wall_time")
            await _settle(stderr_task)
            code = proc.returncode
            tail = run.stderr_tail.decode("utf-8", "replace")
            _LOG.warning(
                "script child ended abnormally (%s); exit code %s; stderr tail: %r",
                stop.crashed,
                code,
                tail,
                extra={"missionkit_stderr": tail, "missionkit_exit_code": code},
            )
            return run.outcome(error=f"ScriptCrashed: exit code {code}")
        finally:
            await self._kill(proc)
            await _settle(stderr_task)
            with self._lock:
                self._live.discard(proc)

    async def _wait_exit(
        self, proc: asyncio.subprocess.Process, grace: float = _EXIT_GRACE
    ) -> None:
        stdin = proc.stdin
        if stdin is not None:
            stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            await self._kill(proc)

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, OSError):
                proc.kill()
        await proc.wait()


def _negated(signum: int | None) -> int | None:
    return None if signum is None else -int(signum)


async def _settle(task: asyncio.Future[None]) -> None:
    """
    Let the stderr reader finish (the pipe closes with the child), or cancel it.
    """
    if task.done():
        return
    try:
        await asyncio.wait_for(asyncio.shield(task), 1.0)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
