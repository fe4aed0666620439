"""
Conformance tests for SPEC §9 (scripted strategies), in depth.

Pins the rules the focused script modules leave open: check order inside one
statement, binding forms and positions not asserted elsewhere, the complete
protected-name set, the runner protocol's records, the host-side proxy's
records and in-script exceptions, and how an outcome becomes an iteration.
Runs through ``InlineScriptRunner`` or a scripted runner; the child process is
not needed for any of these rules.
"""

from __future__ import annotations

import ast
import asyncio
import math
import time
from typing import Any

import attrs
import pytest

import missionkit as mk
from missionkit.audit import MemorySink
from missionkit.errors import MissionkitError, MissionValidationError, ScriptRejected
from missionkit.models import Limits
from missionkit.scripts import (
    ScriptOutcome,
    ScriptToolError,
    SubprocessScriptRunner,
    validate_script,
)
from missionkit.testing import FakeClock, InlineScriptRunner, ScriptedProposer

ALLOWLIST = ["submit_job", "list_things"]
DONE = [{"criterion_id": "done", "kind": "event", "required": True, "event_name": "done"}]

SAFE_BUILTINS = [
    "len",
    "min",
    "max",
    "sum",
    "abs",
    "any",
    "all",
    "sorted",
    "range",
    "enumerate",
    "zip",
    "list",
    "dict",
    "tuple",
    "set",
    "str",
    "int",
    "float",
    "bool",
]
EXCEPTION_NAMES = [
    "Exception",
    "ValueError",
    "TypeError",
    "KeyError",
    "IndexError",
    "AttributeError",
    "LookupError",
    "RuntimeError",
    "ArithmeticError",
    "ZeroDivisionError",
    "OverflowError",
    "OSError",
    "FileNotFoundError",
    "TimeoutError",
    "ConnectionError",
    "StopIteration",
    "AssertionError",
]


def rejection(source: str, allowlist: list[str] | None = None) -> tuple[Any, ...]:
    """
    The (reason, lineno, col_offset) of rejecting *source*.
    """
    with pytest.raises(ScriptRejected) as info:
        validate_script(source, ALLOWLIST if allowlist is None else allowlist)
    return (info.value.reason, info.value.lineno, info.value.col_offset)


def run_inline(
    script: str,
    call_tool: Any,
    *,
    runner: InlineScriptRunner | None = None,
    allowlist: list[str] | None = None,
    max_seconds: float | None = None,
) -> ScriptOutcome:
    """
    Run *script* in-process on a fresh event loop.
    """
    return asyncio.run(
        (runner or InlineScriptRunner()).run(
            script,
            allowlist=ALLOWLIST if allowlist is None else allowlist,
            call_tool=call_tool,
            max_seconds=max_seconds,
        )
    )


class RecordingRunner:
    """
    A ScriptRunner that makes the given calls through ``call_tool`` and returns a fixed outcome.
    """

    def __init__(
        self, calls: list[tuple[str, dict[str, Any]]] | None = None, outcome: Any = None
    ) -> None:
        self.calls = calls or []
        self.outcome = outcome if outcome is not None else ScriptOutcome()
        self.runs: list[tuple[str, list[str], float | None]] = []
        self.replies: list[Any] = []

    async def run(
        self, script: str, *, allowlist: Any, call_tool: Any, max_seconds: Any
    ) -> ScriptOutcome:
        self.runs.append((script, list(allowlist), max_seconds))
        for name, args in self.calls:
            try:
                self.replies.append(await call_tool(name, args))
            except ScriptToolError as err:
                self.replies.append((err.error_type, err.error_message))
        if isinstance(self.outcome, list):
            return self.outcome.pop(0)
        return self.outcome


def make_mission(
    runner: Any,
    tools: Any,
    *,
    script: str = "x = 1",
    clock: FakeClock | None = None,
    sinks: list[Any] | None = None,
    proposer: Any = "scripted",
    **mission_kwargs: Any,
) -> mk.Mission:
    """
    A Mission whose proposer offers *script* on every iteration, run by *runner*.
    """
    return mk.Mission(
        tools=tools,
        proposer=ScriptedProposer(*[{"script": script}] * 5) if proposer == "scripted" else None,
        script_runner=runner,
        clock=clock or FakeClock(),
        sinks=sinks or [],
        **mission_kwargs,
    )


def start(
    runner: Any,
    tools: Any,
    *,
    allowlist: list[str] | None = None,
    wall: float = -1,
    allow_scripts: bool = True,
    **kwargs: Any,
) -> mk.Session:
    """
    A session of ``make_mission(runner, tools, **kwargs)`` with one event criterion.
    """
    return make_mission(runner, tools, **kwargs).start(
        directive="Run a script",
        criteria=DONE,
        budget={"max_iterations": 5, "max_wall_clock_seconds": wall},
        tool_allowlist=allowlist if allowlist is not None else list(tools),
        allow_scripted_strategies=allow_scripts,
    )


def plain() -> str:
    """
    A tool returning a non-dict value.
    """
    return "plain"


def other() -> int:
    """
    A registered tool the sessions below do not allowlist.
    """
    return 1


class TestValidatorOrderWithinStatements:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("len = y", ("name_not_allowed", 1, 6)),
            ("a.b = y", ("name_not_allowed", 1, 6)),
            ("a = len = 1", ("shadows_protected_name", 1, 4)),
            ("a, (b, len) = 1, (2, 3)", ("shadows_protected_name", 1, 7)),
            ("for len in y: pass", ("name_not_allowed", 1, 11)),
            ("for i, __j in []: pass", ("dunder_binding", 1, 7)),
            ("while y: pass", ("name_not_allowed", 1, 6)),
            ("raise ValueError('a') from y", ("name_not_allowed", 1, 27)),
        ],
    )
    def test_assignment_and_loop_order(self, source: str, expected: tuple[Any, ...]) -> None:
        """
        §9.2: `x = …` validates the value first, then each target; `for` its iterable first.
        """
        assert expected == rejection(source)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("x.y |= 1", ("binop_not_allowed", 1, 0)),
            ("x = 1\nx += y", ("name_not_allowed", 2, 5)),
            ("def f():\n    x += 1", ("name_not_allowed", 2, 4)),
            ("mission.observe += 1", ("invalid_target", 1, 0)),
        ],
    )
    def test_augmented_assignment_order(self, source: str, expected: tuple[Any, ...]) -> None:
        """
        §9.2: `x op= …` checks the operator, then the target, then the value.
        """
        assert expected == rejection(source)

    def test_all_allowed_augmented_operators(self) -> None:
        """
        §9.2: every allowed binary operator may be used augmented on a visible name.
        """
        source = "x = 1\n" + "\n".join(
            f"x {op}= 1" for op in ["+", "-", "*", "/", "//", "%", "**", "@", "<<"]
        )

        assert isinstance(validate_script(source, ALLOWLIST), ast.Module)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("len: int = 3", ("shadows_protected_name", 1, 0)),
            ("__x: int = 1", ("dunder_binding", 1, 0)),
            ("x = [0]\nx[0]: int = 1", ("invalid_target", 2, 0)),
            ("x: int = y", ("name_not_allowed", 1, 9)),
            ("x: __T = 1", ("dunder_name", 1, 3)),
        ],
    )
    def test_annotated_assignment(self, source: str, expected: tuple[Any, ...]) -> None:
        """
        §9.2: `x: T = …` needs a name target under the binding rules; T and the value validate.
        """
        assert expected == rejection(source)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            (
                "try:\n    pass\nexcept ValueError:\n    pass\nexcept:\n    pass",
                ("bare_except", 5, 0),
            ),
            (
                "try:\n    pass\nexcept ValueError:\n    pass\nfinally:\n    import os",
                ("forbidden_node", 6, 4),
            ),
            (
                "try:\n    pass\nexcept ValueError:\n    pass\nelse:\n    del x",
                ("forbidden_node", 6, 4),
            ),
        ],
    )
    def test_try_parts_all_validated(self, source: str, expected: tuple[Any, ...]) -> None:
        """
        §9.2: every handler, the else and the finally body of a try are validated.
        """
        assert expected == rejection(source)


class TestValidatorFunctionsAndScopes:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("def f(*, k=y): pass", ("name_not_allowed", 1, 11)),
            ("def f(a=f): pass", ("name_not_allowed", 1, 8)),
            ("def f(*, mission=1): pass", ("shadows_protected_name", 1, 9)),
            ("def f(*args, **len): pass", ("shadows_protected_name", 1, 15)),
            ("def f(a, /, __b): pass", ("dunder_binding", 1, 12)),
            ("f = lambda a=a: a", ("name_not_allowed", 1, 13)),
        ],
    )
    def test_parameters_and_defaults(self, source: str, expected: tuple[Any, ...]) -> None:
        """
        §9.2: defaults validate in the outer scope; every parameter kind obeys the binding rules.
        """
        assert expected == rejection(source)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("def f():\n    y = 1\nz = y", ("name_not_allowed", 3, 4)),
            ("f = lambda: (y := 1)\nz = y", ("name_not_allowed", 2, 4)),
            ("y = z\nz = 1", ("name_not_allowed", 1, 4)),
            ("x = [x for x in [1] if y]", ("name_not_allowed", 1, 23)),
        ],
    )
    def test_frames_hide_their_names(self, source: str, expected: tuple[Any, ...]) -> None:
        """
        §9.2: def and lambda bodies push frames; names must be bound before use.
        """
        assert expected == rejection(source)

    @pytest.mark.parametrize(
        "source",
        [
            "if True:\n    y = 1\nz = y",
            "while False:\n    w = 1\nz = [1]",
            "for i in [1]:\n    pass\nz = i",
            "try:\n    t = 1\nfinally:\n    pass\nz = t",
            "a = 1\ndef f():\n    return a\nz = f()",
            "def f():\n    a = 1\n    def g():\n        return a\n    return g()",
            "def f():\n    x = [(w := v) for v in [1]]\n    return w",
            "x = [[a + b for b in [1]] for a in [2]]",
        ],
    )
    def test_module_bodies_bind_into_module_frame(self, source: str) -> None:
        """
        §9.2: if/while/for/try bodies bind at module level; inner frames see outer names.
        """
        assert isinstance(validate_script(source, ALLOWLIST), ast.Module)


class TestValidatorCallsAttributesAwait:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("await mission.foo()", ("await_not_allowed", 1, 0)),
            ("await submit_job", ("await_not_allowed", 1, 0)),
            ("x = [y for y in await list_things()]", ("await_not_allowed", 1, 16)),
            ("x = [await mission.observe('k', 1) for _ in [1]]", ("await_not_allowed", 1, 5)),
            ("mission.observe('k', 1)()", ("call_target_shape", 1, 0)),
            ("x = mission.foo()", ("attribute_not_allowed", 1, 4)),
            ("x = foo.bar()", ("attribute_target_not_allowed", 1, 4)),
            ("x = foo.__bar__()", ("dunder_attribute", 1, 4)),
            ("def f():\n    return eval('1')", ("forbidden_call_target", 2, 11)),
            ("lambda: submit_job(a=1)", ("tool_call_not_awaited", 1, 8)),
            ("print(y)", ("name_not_allowed", 1, 0)),
            ("[1 for mission.observe in []]", ("invalid_target", 1, 7)),
        ],
    )
    def test_rejection_and_position(self, source: str, expected: tuple[Any, ...]) -> None:
        """
        §9.2: call, attribute and await rules, with the offending node's position.
        """
        assert expected == rejection(source)

    @pytest.mark.parametrize(
        "source",
        [
            "x = f'{await list_things()}'",
            "await submit_job(a=await list_things())",
            "await mission.event('e')",
            "(mission.observe)('k', 1)",
            "x = (mission).observe",
            "[mission.observe('k', i) for i in range(2)]",
            "def f():\n    mission.observe('k', 1)\n    return mission.event('e')",
            "x = sum(i for i in range(3))",
            "x = {1, 2}\ny = [1, 2, 3][0:2:1]\nz = [*[1], 2]\nw = len(*[[1]])",
            "x = b'__x'",
            "f = lambda *a, **k: 1",
        ],
    )
    def test_accepted(self, source: str) -> None:
        """
        §9.2: module-level awaits anywhere in an expression, mission calls, §5.4 forms, bytes.
        """
        assert isinstance(validate_script(source, ALLOWLIST), ast.Module)

    def test_reserved_operator_tokens_unreachable(self) -> None:
        """
        §9.2: unary, boolean and comparison operators are all allowed, so those tokens never fire.
        """
        source = (
            "a = 1\nb = [1]\n"
            "x = (not a) and (~a or -a or +a)\n"
            "y = a == 1 != 2 < 3 <= 4 > 0 >= 0\n"
            "z = a is None or a is not None or a in b or a not in b\n"
        )

        assert isinstance(validate_script(source, ALLOWLIST), ast.Module)


class TestProtectedNames:
    @pytest.mark.parametrize(
        "name", [*SAFE_BUILTINS, *EXCEPTION_NAMES, "exec", "eval", "compile", "mission"]
    )
    def test_readable_never_bindable(self, name: str) -> None:
        """
        §9.2: every protected name is readable, and no binding form may bind it.
        """
        assert isinstance(validate_script(f"x = {name}", ALLOWLIST), ast.Module)
        for source in [
            f"{name} = 1",
            f"{name}: int = 1",
            f"for {name} in []: pass",
            f"({name} := 1)",
            f"def {name}(): pass",
            f"g = lambda {name}: 1",
            f"x = [1 for {name} in []]",
        ]:
            assert "shadows_protected_name" == rejection(source)[0], source

    def test_dunder_import_is_a_dunder(self) -> None:
        """
        §9.2: __import__ is protected but, being a dunder, is neither readable nor bindable.
        """
        assert ("dunder_name", 1, 4) == rejection("x = __import__")
        assert ("dunder_binding", 1, 0) == rejection("__import__ = 1")

    def test_allowlist_decides_which_tools_are_protected(self) -> None:
        """
        §9.2: only allowlisted tool names are protected; other names bind freely.
        """
        assert isinstance(validate_script("delete_all = 1", ALLOWLIST), ast.Module)

        assert ("shadows_protected_name", 1, 0) == rejection("delete_all = 1", ["delete_all"])

    def test_rejection_error_shape(self) -> None:
        """
        §9.2/§2.6: ScriptRejected is a ValueError with code script_rejected and positioned details.
        """
        with pytest.raises(ScriptRejected) as info:
            validate_script("x = 1\n__y = 2", ALLOWLIST)

        err = info.value
        assert isinstance(err, MissionkitError)
        assert isinstance(err, ValueError)
        assert "script_rejected" == err.code
        assert {"reason": "dunder_binding", "lineno": 2, "col_offset": 0} == err.details


class TestRunnerProtocol:
    def test_outcome_fields_and_defaults(self) -> None:
        """
        §9.3: ScriptOutcome(observations, events, error, limit) defaults to an empty success.
        """
        assert ("observations", "events", "error", "limit") == tuple(
            f.name for f in attrs.fields(ScriptOutcome)
        )
        assert ScriptOutcome((), (), None, None) == ScriptOutcome()

    def test_script_tool_error(self) -> None:
        """
        §9.3: ScriptToolError carries error_type and error_message.
        """
        err = ScriptToolError("TimeoutError", "too slow")

        assert isinstance(err, Exception)
        assert ("TimeoutError", "too slow") == (err.error_type, err.error_message)

    @pytest.mark.parametrize("name", [n for n in EXCEPTION_NAMES if n != "StopIteration"])
    def test_every_visible_class_catchable_by_name(self, name: str) -> None:
        """
        §9.4: a failed call raises the script-visible class named by error_type, catchable by name.
        """

        async def call_tool(tool: str, args: dict[str, Any]) -> Any:
            raise ScriptToolError(name, "msg")

        script = (
            f"try:\n    await submit_job()\nexcept {name} as e:\n    mission.observe('caught', 1)\n"
        )

        assert ScriptOutcome(observations=(("caught", 1),)) == run_inline(script, call_tool)

    def test_non_exception_name_becomes_runtime_error(self) -> None:
        """
        §9.4: an error_type naming a safe builtin that is not an exception class gives RuntimeError.
        """

        async def call_tool(tool: str, args: dict[str, Any]) -> Any:
            raise ScriptToolError("len", "msg")

        script = (
            "try:\n    await submit_job()\nexcept RuntimeError as e:\n"
            "    mission.observe('m', str(e))"
        )

        assert (("m", "len: msg"),) == run_inline(script, call_tool).observations

    def test_zero_call_budget(self) -> None:
        """
        §9.4: with max_calls=0 the first call already raises, without reaching the host.
        """
        seen: list[str] = []

        async def call_tool(tool: str, args: dict[str, Any]) -> Any:
            seen.append(tool)

        outcome = run_inline(
            "await list_things()", call_tool, runner=InlineScriptRunner(max_calls=0)
        )

        assert "RuntimeError: script tool call limit (0) reached" == outcome.error
        assert [] == seen

    def test_inline_wall_limit_checked_at_await(self) -> None:
        """
        §9.4: the inline runner stops an over-time script at its next await, before the call.
        """
        seen: list[str] = []

        async def call_tool(tool: str, args: dict[str, Any]) -> Any:
            seen.append(tool)

        script = (
            "mission.observe('a', 1)\ni = 0\nwhile i < 2000000:\n    i += 1\nawait list_things()"
        )

        outcome = run_inline(script, call_tool, runner=InlineScriptRunner(wall_seconds=0.01))

        assert ScriptOutcome(observations=(("a", 1),), limit="wall_time") == outcome
        assert [] == seen

    def test_inline_tool_time_not_counted(self) -> None:
        """
        §9.4: time spent inside host tool calls does not count toward wall_seconds.
        """

        async def call_tool(tool: str, args: dict[str, Any]) -> Any:
            await asyncio.sleep(0.2)
            return "slept"

        outcome = run_inline(
            "r = await list_things()\nmission.observe('r', r)",
            call_tool,
            runner=InlineScriptRunner(wall_seconds=0.05),
        )

        assert ScriptOutcome(observations=(("r", "slept"),)) == outcome


class TestRunnerParameters:
    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"wall_seconds": -1}, ValueError),
            ({"wall_seconds": math.nan}, ValueError),
            ({"wall_seconds": True}, TypeError),
            ({"wall_seconds": None}, TypeError),
            ({"max_calls": 1.0}, TypeError),
            ({"max_calls": "3"}, TypeError),
            ({"max_calls": None}, TypeError),
        ],
    )
    @pytest.mark.parametrize("cls", [SubprocessScriptRunner, InlineScriptRunner])
    def test_shared_limits_checked(self, cls: Any, kwargs: dict[str, Any], error: Any) -> None:
        """
        §9.4: both runners refuse out-of-range or mistyped wall and call limits when built.
        """
        with pytest.raises(error):
            cls(**kwargs)

    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"memory_bytes": -1}, ValueError),
            ({"memory_bytes": True}, TypeError),
            ({"memory_bytes": "1"}, TypeError),
            ({"memory_bytes": None}, TypeError),
            ({"python": ""}, TypeError),
            ({"python": None}, TypeError),
        ],
    )
    def test_subprocess_only_parameters_checked(self, kwargs: dict[str, Any], error: Any) -> None:
        """
        §9.4: memory_bytes must be a positive int and python a path.
        """
        with pytest.raises(error):
            SubprocessScriptRunner(**kwargs)

    def test_accepted_values_normalised(self) -> None:
        """
        §9.4: an int wall limit and a zero call budget are accepted; wall_seconds is a float.
        """
        runner = SubprocessScriptRunner(wall_seconds=1, max_calls=0, memory_bytes=1)

        assert (1.0, 0, 1) == (runner.wall_seconds, runner.max_calls, runner.memory_bytes)
        assert isinstance(runner.wall_seconds, float)


class TestWhereScriptsComeFrom:
    def test_default_proposer_never_scripts(self) -> None:
        """
        §9.1: with scripts allowed but no custom proposer, the default proposer calls tools.
        """
        runner = RecordingRunner()

        iteration = start(runner, {"plain": plain}, proposer=None).step()

        assert iteration.script_call_log is None
        assert ["plain"] == [r.tool_name for r in iteration.tool_calls]
        assert [] == runner.runs

    def test_scripts_need_the_session_flag(self) -> None:
        """
        §9.1: a proposed script in a session without allow_scripted_strategies fails propose.
        """
        runner = RecordingRunner()
        session = start(runner, {"plain": plain}, allow_scripts=False)

        with pytest.raises(MissionValidationError) as info:
            session.step()

        assert {
            "field": "strategy",
            "subfield": "script",
            "reason": "scripts_not_allowed_by_session",
        } == info.value.details
        assert "failed" == session.status
        assert [] == runner.runs

    def test_invalid_script_rejected_when_proposed(self) -> None:
        """
        §9.1/§4.9: an invalid proposed script fails propose with the token and its position.
        """
        runner = RecordingRunner()
        session = start(runner, {"plain": plain}, script="x = 1\ny = plain()")

        with pytest.raises(MissionValidationError) as info:
            session.step()

        assert {
            "field": "strategy",
            "subfield": "script",
            "reason": "tool_call_not_awaited",
            "lineno": 2,
            "col_offset": 4,
        } == info.value.details
        assert any("failed in phase propose" in n for n in info.value.__notes__)
        assert [] == runner.runs

    def test_revalidated_host_side_before_running(self) -> None:
        """
        §9.1/§9.6: a stored script that no longer validates fails execute; the runner never runs.
        """
        runner = RecordingRunner()
        mission = make_mission(runner, {"plain": plain}, script="r = await plain()")
        session = mission.start(
            directive="Run a script",
            criteria=DONE,
            budget={"max_iterations": 5, "max_wall_clock_seconds": -1},
            tool_allowlist=["plain"],
            allow_scripted_strategies=True,
        )
        session.propose()
        store = mission.store
        header = store.load_header(session.id)
        pending = header.pending_proposal
        tampered = attrs.evolve(
            pending, strategy=attrs.evolve(pending.strategy, script="import os")
        )
        store.save_session(
            attrs.evolve(header, pending_proposal=tampered, revision=header.revision + 1),
            expected_revision=header.revision,
        )

        with pytest.raises(ScriptRejected) as info:
            session.step()

        assert "forbidden_node" == info.value.reason
        assert any("failed in phase execute" in n for n in info.value.__notes__)
        assert "failed" == session.status
        assert [] == runner.runs


class TestHostSideProxy:
    def test_remaining_budget_passed_as_max_seconds(self) -> None:
        """
        §9.3: max_seconds is the remaining active wall-clock budget at each run.
        """
        clock = FakeClock()
        runner = RecordingRunner()
        session = start(runner, {"plain": plain}, wall=100, clock=clock)

        session.step()
        clock.advance(30)
        session.step()

        assert [100.0, 70.0] == [seen[2] for seen in runner.runs]

    def test_refused_call_record_result_and_event(self) -> None:
        """
        §9.5: a non-allowlisted call is recorded skipped (args kept, 0 ms, no message) and audited.
        """
        sink = MemorySink()
        runner = RecordingRunner([("other", {"a": (1, 2)})])
        session = start(runner, {"plain": plain, "other": other}, allowlist=["plain"], sinks=[sink])

        iteration = session.step()

        record = iteration.script_call_log[0]
        assert ("other", {"a": [1, 2]}, "skipped_not_allowed", 0, None) == (
            record.tool_name,
            record.args,
            record.status,
            record.duration_ms,
            record.error_message,
        )
        assert [("RuntimeError", "tool_not_allowlisted: other")] == runner.replies
        assert iteration.observation is not None
        assert [{"_status": "skipped_not_allowed", "tool_name": "other", "result": None}] == list(
            iteration.observation.tool_results
        )
        assert [
            {"tool_name": "other", "status": "skipped_not_allowed", "error_message": None}
        ] == list(iteration.observation.errors)
        (event,) = [e for e in sink.events if e.event_type == "mission_script_call_event"]
        data = event.to_dict()
        assert (True, "other", "skipped_not_allowed", 0) == (
            data["via_script"],
            data["tool_name"],
            data["tool_status"],
            data["duration_ms"],
        )
        assert "error_message" not in data

    def test_failures_surface_as_named_exceptions(self) -> None:
        """
        §9.5/§9.4: failures reach the script as the class named in the record, else RuntimeError.
        """

        class MyError(Exception):
            pass

        def boom() -> None:
            raise MyError("boom")

        def bad() -> None:
            raise ValueError("bad")

        script = (
            "try:\n    await ext()\nexcept LookupError as e:\n    mission.observe('ext', str(e))\n"
            "try:\n    await bad()\nexcept ValueError as e:\n    mission.observe('bad', str(e))\n"
            "try:\n    await boom()\nexcept RuntimeError as e:\n"
            "    mission.observe('boom', str(e))\n"
        )
        iteration = start(
            InlineScriptRunner(), {"ext": None, "bad": bad, "boom": boom}, script=script
        ).step()

        assert iteration.observation is not None
        assert {
            "ext": "tool 'ext' is external; report its result with Session.observe()",
            "bad": "bad",
            "boom": "MyError: boom",
        } == iteration.observation.metrics["observations"]
        assert [
            "LookupError: tool 'ext' is external; report its result with Session.observe()",
            "ValueError: bad",
            "MyError: boom",
        ] == [r.error_message for r in iteration.script_call_log]
        assert iteration.script_error is None

    def test_timeout_surfaces_as_timeout_error(self) -> None:
        """
        §9.5: an in-script call that exceeds its tool timeout fails and raises TimeoutError.
        """

        async def slow() -> int:
            await asyncio.sleep(2)
            return 1

        script = (
            "try:\n    await slow()\nexcept TimeoutError as e:\n    mission.observe('t', str(e))"
        )
        started = time.monotonic()

        iteration = start(
            InlineScriptRunner(), {"slow": mk.Tool(slow, timeout=0.05)}, script=script
        ).step()

        assert time.monotonic() - started < 1.5
        assert iteration.observation is not None
        assert {"t": "tool call exceeded 0.05s"} == iteration.observation.metrics["observations"]
        assert [("failed", "TimeoutError: tool call exceeded 0.05s")] == [
            (r.status, r.error_message) for r in iteration.script_call_log
        ]

    def test_call_events_carry_current_index_and_error(self) -> None:
        """
        §9.5: each iteration's script call events carry that iteration's index and failure text.
        """

        def bad() -> None:
            raise ValueError("bad")

        sink = MemorySink()
        script = "try:\n    await bad()\nexcept ValueError:\n    pass"
        session = start(InlineScriptRunner(), {"bad": bad}, script=script, sinks=[sink])

        session.step()
        session.step()

        calls = [e for e in sink.events if e.event_type == "mission_script_call_event"]
        assert [(0, "failed", "ValueError: bad"), (1, "failed", "ValueError: bad")] == [
            (e.iteration_index, e.tool_status, e.error_message) for e in calls
        ]

    def test_pending_proposal_script_runs_at_step(self) -> None:
        """
        §9.5/§6.11: a proposed script runs at step(); its call events use the new index.
        """
        sink = MemorySink()

        def tick() -> dict[str, Any]:
            return {"events": [{"event_name": "done"}]}

        session = start(InlineScriptRunner(), {"tick": tick}, script="await tick()", sinks=[sink])
        session.propose()

        iteration = session.step()

        assert ("complete", "criteria_met") == (iteration.verdict, iteration.verdict_reason)
        calls = [e for e in sink.events if e.event_type == "mission_script_call_event"]
        assert [(0, "tick", "ok")] == [
            (e.iteration_index, e.tool_name, e.tool_status) for e in calls
        ]


class TestOutcomeToIteration:
    def test_script_without_calls_has_empty_log(self) -> None:
        """
        §9.6/§3.9: a script strategy has a (possibly empty) script_call_log and no tool_calls.
        """
        iteration = start(InlineScriptRunner(), {"plain": plain}).step()

        assert () == iteration.script_call_log
        assert () == iteration.tool_calls
        assert iteration.observation is not None
        assert () == iteration.observation.tool_results

    def test_plain_results_annotated(self) -> None:
        """
        §9.6: each record gives one annotated tool_results entry, as §6.5 rule 1.
        """
        iteration = start(
            InlineScriptRunner(), {"plain": plain}, script="r = await plain()\nq = await plain()"
        ).step()

        assert iteration.observation is not None
        assert [{"_status": "ok", "tool_name": "plain", "result": "plain"}] * 2 == list(
            iteration.observation.tool_results
        )

    def test_observe_rows_replace_tool_observations_metric(self) -> None:
        """
        §9.6: observe rows set metrics['observations'] after the tool metrics were merged.
        """

        def tool() -> dict[str, Any]:
            return {"metrics": {"observations": 5, "m": 1}}

        with_rows = RecordingRunner([("tool", {})], ScriptOutcome(observations=(("k", 1),)))
        without_rows = RecordingRunner([("tool", {})])

        first = start(with_rows, {"tool": tool}).step()
        second = start(without_rows, {"tool": tool}).step()

        assert first.observation is not None
        assert second.observation is not None
        assert {"observations": {"k": 1}, "m": 1} == first.observation.metrics
        assert {"observations": 5, "m": 1} == second.observation.metrics

    def test_rows_and_events_converted_and_capped(self) -> None:
        """
        §9.6/§3.14: observe values and script events are JSON data, capped at tool_result_bytes.
        """
        outcome = ScriptOutcome(
            observations=(("long", "y" * 300), ("shape", (1, 2))),
            events=({"event_name": "big", "p": "z" * 300}, {"event_name": "s", "v": {3}}),
        )

        iteration = start(
            RecordingRunner([], outcome), {"plain": plain}, limits=Limits(tool_result_bytes=100)
        ).step()

        assert iteration.observation is not None
        rows = iteration.observation.metrics["observations"]
        assert {"_truncated": True, "bytes": 302, "preview": '"' + "y" * 255} == rows["long"]
        assert [1, 2] == rows["shape"]
        big, small = iteration.observation.events
        assert (True, 327) == (big["_truncated"], big["bytes"])
        assert {"event_name": "s", "v": [3]} == small

    def test_script_error_capped_and_listed(self) -> None:
        """
        §9.6: script_error is at most 200 characters and is the '<script>' error row's message.
        """
        error = "ValueError: " + "e" * 500

        iteration = start(RecordingRunner([], ScriptOutcome(error=error)), {"plain": plain}).step()

        assert error[:200] == iteration.script_error
        assert iteration.observation is not None
        assert [
            {"tool_name": "<script>", "status": "failed", "error_message": error[:200]}
        ] == list(iteration.observation.errors)
        assert "succeeded" == iteration.status

    def test_limit_beats_completion(self) -> None:
        """
        §9.6/§6.7: a limit breach ends terminate/script_limit even if all criteria are met.
        """
        outcome = ScriptOutcome(events=({"event_name": "done"},), limit="memory")
        session = start(RecordingRunner([], outcome), {"plain": plain})

        iteration = session.step()

        assert ("terminate", "script_limit", "memory") == (
            iteration.verdict,
            iteration.verdict_reason,
            iteration.sandbox_terminated_reason,
        )
        assert iteration.checkpoint_evaluated
        assert [("done", "met")] == [
            (r.criterion_id, r.status) for r in iteration.criteria_evaluation
        ]
        assert iteration.observation is not None
        assert () == iteration.observation.errors
        assert iteration.script_error is None
        assert "terminated" == session.status

    def test_new_script_error_triggers_adjust(self) -> None:
        """
        §9.6/§6.8 b: a new script error signature triggers adjust, summarised 'scripted strategy'.
        """
        runner = RecordingRunner([], [ScriptOutcome(), ScriptOutcome(error="KeyError: 'x'")])
        session = start(runner, {"plain": plain})
        session.step()

        iteration = session.step()

        assert ("adjust", "heuristic_unproductive") == (iteration.verdict, iteration.verdict_reason)
        assert (
            "adjust at iteration 2: new_observation_errors; unmet criteria: done; "
            "strategy: scripted strategy; no-progress 1/3; propose a different strategy next."
        ) == iteration.revision_rationale

    def test_script_fields_persisted(self) -> None:
        """
        §9.6/§3.9: script_call_log, script_error and sandbox_terminated_reason are stored.
        """
        runner = RecordingRunner(
            [("plain", {"n": 1})], ScriptOutcome(error="KeyError: 'x'", limit="wall_time")
        )
        session = start(runner, {"plain": plain})
        session.step()

        (stored,) = session.history(format="full")

        assert "KeyError: 'x'" == stored["script_error"]
        assert "wall_time" == stored["sandbox_terminated_reason"]
        assert [("plain", {"n": 1}, "failed")] == [
            (r["tool_name"], r["args"], r["status"]) for r in stored["script_call_log"]
        ]
        assert [] == stored["tool_calls"]
