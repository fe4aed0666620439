"""
Tests for the script runners: shared semantics, subprocess limits and crash safety (SPEC §9.3–9.4).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from typing import Any

import pytest

from missionkit.errors import ScriptRejected
from missionkit.scripts import (
    ScriptOutcome,
    ScriptRunner,
    ScriptToolError,
    SubprocessScriptRunner,
)
from missionkit.scripts._inline import InlineScriptRunner

ALLOWLIST = ["submit_job", "list_things", "fail", "slow"]


class RecordingTools:
    """
    A fake engine ``call_tool``: records calls, echoes arguments, fails or sleeps on demand.
    """

    def __init__(self, sleep: float = 1.5) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sleep = sleep

    async def __call__(self, name: str, args: dict[str, Any]) -> Any:
        self.calls.append((name, args))
        if name == "fail":
            raise ScriptToolError(args.get("error_type", "ValueError"), args.get("msg", "bad"))
        if name == "slow":
            await asyncio.sleep(self.sleep)
            return "slept"
        return {"tool": name, "args": args}


def run(
    runner: ScriptRunner,
    script: str,
    tools: RecordingTools | None = None,
    *,
    allowlist: list[str] | None = None,
    max_seconds: float | None = None,
) -> ScriptOutcome:
    """
    Run *script* to its outcome on a fresh event loop.
    """
    return asyncio.run(
        runner.run(
            script,
            allowlist=ALLOWLIST if allowlist is None else allowlist,
            call_tool=tools if tools is not None else RecordingTools(),
            max_seconds=max_seconds,
        )
    )


def fake_child(code: str, **kwargs: Any) -> SubprocessScriptRunner:
    """
    A subprocess runner whose child is the Python snippet *code* instead of the real child.
    """
    runner = SubprocessScriptRunner(**kwargs)
    runner._child_argv = [sys.executable, "-c", code]
    return runner


@pytest.fixture(name="runner", params=["inline", "subprocess"], scope="module")
def _runner(request):
    if request.param == "inline":
        return InlineScriptRunner()
    return SubprocessScriptRunner()


class TestSharedSemantics:
    def test_tool_results_proxied(self, runner):
        """
        Tool calls reach call_tool with keyword arguments and their results come back.
        """
        tools = RecordingTools()
        script = "r = await submit_job(n=1, tags=['a'])\nawait mission.observe('r', r)"

        outcome = run(runner, script, tools)

        expected = ScriptOutcome(
            observations=(("r", {"tool": "submit_job", "args": {"n": 1, "tags": ["a"]}}),),
        )
        assert expected == outcome
        assert [("submit_job", {"n": 1, "tags": ["a"]})] == tools.calls

    def test_failed_tool_raises_named_exception(self, runner):
        """
        A failed call raises the named script-visible class, catchable by name.
        """
        script = (
            "try:\n"
            "    await fail(error_type='TimeoutError', msg='too slow')\n"
            "except TimeoutError as e:\n"
            "    mission.observe('caught', str(e))\n"
        )

        assert (("caught", "too slow"),) == run(runner, script).observations

    def test_unknown_error_type_becomes_runtime_error(self, runner):
        """
        An error type the script cannot name becomes RuntimeError('<type>: <message>').
        """
        script = "await fail(error_type='LookupErrorX', msg='nope')"

        expected = "RuntimeError: LookupErrorX: nope"

        assert expected == run(runner, script).error

    def test_runtime_error_type_keeps_message(self, runner):
        """
        The engine's tool_not_allowlisted failure reads as a plain RuntimeError.
        """
        script = (
            "try:\n"
            "    await fail(error_type='RuntimeError', msg='tool_not_allowlisted: x')\n"
            "except RuntimeError as e:\n"
            "    mission.observe('m', str(e))\n"
        )

        assert (("m", "tool_not_allowlisted: x"),) == run(runner, script).observations

    def test_observe_and_event(self, runner):
        """
        Observations and events work with and without await, as JSON data.
        """
        script = (
            "mission.observe('a', (1, 2))\n"
            "await mission.observe('b', {3: None})\n"
            "mission.event('done', n=1, name='x')\n"
            "await mission.event('again')\n"
        )

        outcome = run(runner, script)

        assert (("a", [1, 2]), ("b", {"3": None})) == outcome.observations
        expected = ({"event_name": "done", "n": 1, "name": "x"}, {"event_name": "again"})
        assert expected == outcome.events
        assert outcome.error is None
        assert outcome.limit is None

    def test_script_exception_keeps_observations(self, runner):
        """
        An uncaught exception becomes the error text; earlier observations are kept.
        """
        outcome = run(runner, "mission.observe('k', 1)\nx = {}['missing']")

        expected = ScriptOutcome(observations=(("k", 1),), error="KeyError: 'missing'")
        assert expected == outcome

    def test_error_text_capped(self, runner):
        """
        Exception text is cut to 200 characters.
        """
        outcome = run(runner, "raise ValueError('x' * 500)")

        assert "ValueError: " + "x" * 188 == outcome.error

    def test_call_cap(self):
        """
        The (max_calls + 1)-th call raises RuntimeError in the script without reaching the host.
        """
        for runner in (InlineScriptRunner(max_calls=2), SubprocessScriptRunner(max_calls=2)):
            tools = RecordingTools()
            script = (
                "for i in range(5):\n"
                "    try:\n"
                "        await list_things(i=i)\n"
                "    except RuntimeError as e:\n"
                "        mission.observe('err', str(e))\n"
            )

            outcome = run(runner, script, tools)

            assert 2 == len(tools.calls)
            expected = ("err", "script tool call limit (2) reached")
            assert (expected, expected, expected) == outcome.observations

    def test_default_call_cap(self, runner):
        """
        The default cap is 256 calls.
        """
        tools = RecordingTools()

        outcome = run(runner, "while True:\n    await list_things()", tools)

        assert "RuntimeError: script tool call limit (256) reached" == outcome.error
        assert 256 == len(tools.calls)

    def test_positional_arguments_rejected(self, runner):
        """
        Tool functions take keyword arguments only.
        """
        tools = RecordingTools()

        outcome = run(runner, "await submit_job(1)", tools)

        assert "TypeError: submit_job() takes keyword arguments only" == outcome.error
        assert [] == tools.calls

    @pytest.mark.parametrize(
        ("script", "expected"),
        [
            ("mission.observe(1, 2)", "TypeError: observation key must be a str, not int"),
            ("mission.event(None)", "TypeError: event name must be a str, not NoneType"),
        ],
    )
    def test_non_str_keys(self, runner, script, expected):
        """
        Observation keys and event names must be strings.
        """
        assert expected == run(runner, script).error

    def test_only_safe_builtins(self, runner):
        """
        Protected but unprovided names (eval) fail at run time; the safe builtins all work.
        """
        script = (
            "v = [len([1]), min(1, 2), max(1, 2), sum([1]), abs(-1), any([1]), all([1]),\n"
            "     sorted([2, 1]), list(range(2)), list(enumerate('a')), list(zip('a', 'b')),\n"
            "     dict(a=1), tuple([1]), len(set([1])), str(1), int('2'), float('1.5'), bool(0)]\n"
            "mission.observe('v', v)\n"
            "x = eval\n"
        )

        outcome = run(runner, script)

        expected_v = [1, 1, 2, 1, 1, True, True, [1, 2], [0, 1], [[0, "a"]], [["a", "b"]]]
        expected_v += [{"a": 1}, [1], 1, "1", 2, 1.5, False]
        assert (("v", expected_v),) == outcome.observations
        assert "NameError: name 'eval' is not defined" == outcome.error

    def test_compile_error_is_script_error(self, runner):
        """
        A validated script the compiler refuses ends with its SyntaxError text.
        """
        outcome = run(runner, "return 1")

        assert outcome.error.startswith("SyntaxError: 'return' outside function")

    def test_too_deep_for_the_compiler(self, runner):
        """
        A script the validator accepts but the compiler cannot nest ends with RecursionError.
        """
        outcome = run(runner, "x = " + "1" + "+1" * 2_500)

        assert outcome.error.startswith("RecursionError: ")

    def test_dunder_allowlist_entry_ignored(self, runner):
        """
        A tool named __builtins__ cannot replace the script's builtins.
        """
        tools = RecordingTools()
        allowlist = ["__builtins__", "list_things"]

        outcome = run(runner, "x = len([1])\nmission.observe('x', x)", tools, allowlist=allowlist)

        assert ScriptOutcome(observations=(("x", 1),)) == outcome

    def test_rejected_script_raises(self, runner):
        """
        A script outside the language is refused before anything runs.
        """
        with pytest.raises(ScriptRejected):
            run(runner, "import os")

    def test_call_tool_malfunction_propagates(self, runner):
        """
        An exception from call_tool other than ScriptToolError is a runner failure.
        """

        async def broken(name, args):
            raise LookupError("engine bug")

        with pytest.raises(LookupError, match="engine bug"):
            asyncio.run(
                runner.run(
                    "await list_things()", allowlist=ALLOWLIST, call_tool=broken, max_seconds=None
                )
            )

    def test_no_time_left(self, runner):
        """
        A zero budget ends the run at once with the wall-time limit.
        """
        tools = RecordingTools()

        outcome = run(runner, "await list_things()", tools, max_seconds=0)

        assert "wall_time" == outcome.limit
        assert [] == tools.calls

    def test_max_seconds_covers_tool_calls(self, runner):
        """
        The overall bound includes time spent in tool calls.
        """
        started = time.monotonic()

        outcome = run(
            runner, "mission.observe('a', 1)\nawait slow()", RecordingTools(5), max_seconds=0.5
        )

        assert "wall_time" == outcome.limit
        assert (("a", 1),) == outcome.observations
        assert time.monotonic() - started < 3


@pytest.mark.slow
class TestSubprocessLimits:
    def test_wall_time(self):
        """
        A busy loop is killed after wall_seconds and the host keeps working.
        """
        runner = SubprocessScriptRunner(wall_seconds=1)
        started = time.monotonic()

        outcome = run(runner, "mission.observe('before', 1)\nwhile True:\n    pass")

        assert time.monotonic() - started < 3
        assert ScriptOutcome(observations=(("before", 1),), limit="wall_time") == outcome
        assert ScriptOutcome(observations=(("after", 2),)) == run(
            runner, "mission.observe('after', 2)"
        )

    def test_max_seconds_bounds_busy_loop(self):
        """
        max_seconds ends a run before wall_seconds does.
        """
        started = time.monotonic()

        outcome = run(
            SubprocessScriptRunner(wall_seconds=20), "while True:\n    pass", max_seconds=1
        )

        assert "wall_time" == outcome.limit
        assert time.monotonic() - started < 3

    @pytest.mark.parametrize(
        "script",
        [
            "mission.observe('before', 1)\nx = 'x' * 10**9",
            "mission.observe('before', 1)\ntry:\n    x = [0] * 10**9\nexcept Exception:\n"
            "    mission.observe('caught', 1)",
        ],
    )
    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is Linux-only")
    def test_memory(self, script):
        """
        Allocating a gigabyte under a 200 MiB cap ends with the memory limit, even if caught.
        """
        runner = SubprocessScriptRunner(memory_bytes=200 * 1024 * 1024)

        outcome = run(runner, script)

        assert ScriptOutcome(observations=(("before", 1),), limit="memory") == outcome

    def test_tool_time_not_counted(self):
        """
        Time inside host tool calls does not count toward wall_seconds.
        """
        runner = SubprocessScriptRunner(wall_seconds=1)

        outcome = run(runner, "r = await slow()\nmission.observe('r', r)")

        assert ScriptOutcome(observations=(("r", "slept"),)) == outcome

    def test_workdir_removed_and_env_reduced(self, monkeypatch):
        """
        The child runs in a fresh directory that is removed afterwards, with only PATH set.
        """
        import missionkit.scripts._subprocess as sub

        seen: dict[str, Any] = {}
        real_exec = asyncio.create_subprocess_exec

        async def spy(*argv, **kwargs):
            seen.update(kwargs)
            return await real_exec(*argv, **kwargs)

        monkeypatch.setattr(sub.asyncio, "create_subprocess_exec", spy)

        assert ScriptOutcome() == run(SubprocessScriptRunner(), "x = 1")
        assert ["PATH"] == sorted(seen["env"])
        assert not os.path.exists(seen["cwd"])


class TestSubprocessCrashes:
    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            ("raise SystemExit(3)", "ScriptCrashed: exit code 3"),
            (
                "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
                "ScriptCrashed: exit code -9",
            ),
        ],
    )
    def test_child_exits(self, code, expected):
        """
        A child that ends without a final message reports its exit code.
        """
        assert ScriptOutcome(error=expected) == run(fake_child(code), "x = 1")

    @pytest.mark.parametrize(
        "code",
        [
            "print('garbage', flush=True); import time; time.sleep(30)",
            "print('[1, 2]', flush=True); import time; time.sleep(30)",
            'print(\'{"type": "teleport"}\', flush=True); import time; time.sleep(30)',
            'print(\'{"type": "call", "id": "x"}\', flush=True); import time; time.sleep(30)',
            'print(\'{"type": "observe", "key": 1, "value": 2}\', flush=True);'
            " import time; time.sleep(30)",
            "print('[' * 100000 + ']' * 100000, flush=True); import time; time.sleep(30)",
            "import sys; sys.stdout.write('x' * (17 * 1024 * 1024)); sys.stdout.flush();"
            " import time; time.sleep(30)",
            'import sys; sys.stdout.write(\'{"type": "done"\'); sys.stdout.flush()',
        ],
        ids=[
            "garbage",
            "not-object",
            "unknown-type",
            "malformed-call",
            "malformed-observe",
            "deep-json",
            "oversized",
            "partial-line",
        ],
    )
    def test_protocol_violations(self, code):
        """
        Garbage, oversized or malformed output kills the child and reports a crash promptly.
        """
        started = time.monotonic()

        outcome = run(fake_child(code, wall_seconds=20), "x = 1")

        assert outcome.error is not None
        assert outcome.error.startswith("ScriptCrashed: exit code ")
        assert outcome.limit is None
        assert time.monotonic() - started < 10

    def test_partial_data_survives_crash(self):
        """
        Observations streamed before a crash are kept.
        """
        code = (
            "import sys\n"
            'sys.stdout.write(\'{"type":"observe","key":"k","value":1}\\n\')\n'
            'sys.stdout.write(\'{"type":"event","name":"e","fields":{"a":2}}\\n\')\n'
            "sys.stdout.flush()\n"
            "raise SystemExit(3)\n"
        )

        outcome = run(fake_child(code), "x = 1")

        expected = ScriptOutcome(
            observations=(("k", 1),),
            events=({"event_name": "e", "a": 2},),
            error="ScriptCrashed: exit code 3",
        )
        assert expected == outcome

    def test_silent_child_hits_wall_time(self):
        """
        A child that never answers is killed at the wall limit.
        """
        started = time.monotonic()

        outcome = run(fake_child("import time; time.sleep(60)", wall_seconds=1), "x = 1")

        assert "wall_time" == outcome.limit
        assert time.monotonic() - started < 3

    def test_bogus_interpreter_crashes(self):
        """
        An interpreter that exits at once is a crash, not a hang.
        """
        false = shutil.which("false")
        if false is None:  # pragma: no cover - every POSIX system has false
            pytest.skip("no false command")
        runner = SubprocessScriptRunner(python=false)

        assert ScriptOutcome(error="ScriptCrashed: exit code 1") == run(runner, "x = 1")

    def test_missing_interpreter_raises(self):
        """
        An interpreter that cannot be started is a runner malfunction.
        """
        runner = SubprocessScriptRunner(python="/nonexistent/python")

        with pytest.raises(OSError):
            run(runner, "x = 1")

    def test_closed_runner_refuses(self):
        """
        A closed runner refuses new runs.
        """
        runner = SubprocessScriptRunner()
        runner.close()
        runner.close()

        with pytest.raises(RuntimeError, match="closed"):
            run(runner, "x = 1")


class TestConstruction:
    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"wall_seconds": 0}, ValueError),
            ({"wall_seconds": float("inf")}, ValueError),
            ({"wall_seconds": "1"}, TypeError),
            ({"memory_bytes": 0}, ValueError),
            ({"memory_bytes": 1.5}, TypeError),
            ({"max_calls": -1}, ValueError),
            ({"max_calls": True}, TypeError),
        ],
    )
    def test_bad_limits(self, kwargs, error):
        """
        Limits are checked when the runner is built.
        """
        with pytest.raises(error):
            SubprocessScriptRunner(**kwargs)

    def test_defaults(self):
        """
        The defaults are the specified ones.
        """
        runner = SubprocessScriptRunner()

        expected = (30.0, 268_435_456, 256, sys.executable)

        assert expected == (
            runner.wall_seconds,
            runner.memory_bytes,
            runner.max_calls,
            runner.python,
        )

    def test_inline_defaults(self):
        """
        The inline runner shares the wall and call defaults.
        """
        runner = InlineScriptRunner()

        assert (30.0, 256) == (runner.wall_seconds, runner.max_calls)


class TestChildStartup:
    def test_child_imports_only_what_it_needs(self) -> None:
        """The child prelude loads the child module without the engine, models or asyncio."""
        import json
        import subprocess

        from missionkit.scripts._subprocess import _PRELUDE, _package_parent

        probe = "import missionkit.scripts._child, json\nprint(json.dumps(sorted(sys.modules)))\n"
        done = subprocess.run(
            [sys.executable, "-I", "-c", _PRELUDE + probe, _package_parent()],
            capture_output=True,
            text=True,
            check=True,
        )
        modules = set(json.loads(done.stdout))

        assert "missionkit.scripts._child" in modules
        assert "missionkit.scripts._sandbox" in modules
        assert not {"missionkit._mission", "missionkit.models", "cattrs", "asyncio"} & modules
