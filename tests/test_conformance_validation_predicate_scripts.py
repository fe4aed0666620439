"""
Conformance tests for SPEC §4 (validation), §5 (predicate language) and §9 (scripts).

Black-box checks of rules the focused test modules leave open: pipeline order,
rejection positions, exact run-time limit boundaries, script binding rules and
the runner protocol as seen from a session.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
from typing import Any

import pytest

import missionkit as mk
from missionkit.errors import (
    MissionValidationError,
    PredicateLimitExceeded,
    PredicateRejected,
    ScriptRejected,
)
from missionkit.models import Budget, Cadence, Limits, ObservationInput, Strategy, ToolCall
from missionkit.predicate import PredicateLimits, compile_predicate, parse_predicate
from missionkit.scripts import (
    ScriptOutcome,
    ScriptToolError,
    SubprocessScriptRunner,
    validate_script,
)
from missionkit.testing import FakeClock, InlineScriptRunner, ScriptedProposer
from missionkit.validation import (
    validate_budget,
    validate_cadence,
    validate_observation,
    validate_strategy,
)

SCRIPT_ALLOWLIST = ["submit_job", "list_things"]
DONE = [{"criterion_id": "c", "kind": "event", "required": True, "event_name": "done"}]


def predicate_rejection(source: str, limits: PredicateLimits | None = None) -> tuple[Any, ...]:
    """
    The (reason, lineno, col_offset) of rejecting predicate *source*.
    """
    with pytest.raises(PredicateRejected) as info:
        parse_predicate(source, limits=limits)
    return (info.value.reason, info.value.lineno, info.value.col_offset)


def script_rejection(source: str) -> tuple[Any, ...]:
    """
    The (reason, lineno, col_offset) of rejecting script *source*.
    """
    with pytest.raises(ScriptRejected) as info:
        validate_script(source, SCRIPT_ALLOWLIST)
    return (info.value.reason, info.value.lineno, info.value.col_offset)


def limit_breach(source: str, obs: Any, limits: PredicateLimits | None = None) -> Any:
    """
    The (what, limit) of the limit error that evaluating *source* on *obs* raises.
    """
    predicate = compile_predicate(source, limits=limits)
    with pytest.raises(PredicateLimitExceeded) as info:
        predicate(obs)
    return (info.value.what, info.value.limit)


def native(source: str, obs: Any) -> Any:
    """
    Evaluate *source* as a hand-written expression over *obs* would.
    """
    return eval(source, {"__builtins__": builtins, "obs": obs})


class TestValidationCommon:
    """
    SPEC §4.1 common rules and small gaps in §4.9/§4.10/§4.12.
    """

    @pytest.mark.parametrize(
        ("func", "model"),
        [
            (validate_budget, Budget(3, -1)),
            (validate_cadence, Cadence("every_n_iterations", n=2)),
            (
                lambda value: validate_strategy(value, [], False),
                Strategy(tool_calls=(ToolCall("t", {"a": [1]}),)),
            ),
            (validate_observation, ObservationInput(metrics={"a": 1})),
        ],
    )
    def test_model_input_gives_new_equal_value(self, func: Any, model: Any) -> None:
        """§4.1 rules 1 and 6: a model input is re-validated into a new, equal value."""
        result = func(model)

        assert model == result
        assert result is not model

    def test_strategy_model_with_empty_tool_calls(self) -> None:
        """§4.9 check 3: a Strategy model with an empty tool_calls tuple is not a non-empty list."""
        with pytest.raises(MissionValidationError) as info:
            validate_strategy(Strategy(tool_calls=()), [], False)

        expected = {
            "field": "strategy",
            "subfield": "tool_calls",
            "reason": "must_be_non_empty_list",
        }
        assert expected == info.value.details

    def test_start_metadata_none_and_external_tool_allowlisted(self) -> None:
        """§4.10/§4.12: metadata None means {}; an external (known) tool may be allowlisted."""

        def probe() -> int:
            return 1

        mission = mk.Mission(tools={"probe": probe, "ext": None}, clock=FakeClock())

        state = mission.start(
            directive="d",
            criteria=DONE,
            budget={"max_iterations": 2, "max_wall_clock_seconds": -1},
            tool_allowlist=["ext"],
            metadata=None,
        ).state

        assert ({}, ("ext",)) == (state.metadata, state.tool_allowlist)


class TestPredicatePipeline:
    """
    SPEC §5.2: first failure wins, in step order; depth positions.
    """

    def test_node_count_before_depth(self) -> None:
        """§5.2 steps 4/5: a source over both limits is too_many_nodes, without a position."""
        limits = PredicateLimits(max_nodes=4, max_depth=1)

        assert ("too_many_nodes", None, None) == predicate_rejection("len(obs) > 0", limits)

    def test_depth_before_allow_list(self) -> None:
        """§5.2 steps 5/6: a too-deep source is too_deep even if it also holds a bad name."""
        limits = PredicateLimits(max_depth=2)

        assert ("too_deep", 1, 8) == predicate_rejection("not not foo", limits)

    def test_depth_positioned_at_first_preorder_node(self) -> None:
        """§5.2 step 5: too_deep points at the first node, pre-order, deeper than the limit."""
        limits = PredicateLimits(max_depth=3)

        actual = predicate_rejection("obs['a'] + (obs['b'] + (1 + 2))", limits)

        assert ("too_deep", 1, 12) == actual

    def test_parse_runs_no_runtime_guard(self) -> None:
        """§5.1: parse_predicate validates only; the int_bits guard fires at evaluation."""
        assert isinstance(parse_predicate("2 ** 4096"), ast.Expression)
        assert ("int_bits", 4096) == limit_breach("2 ** 4096", {})


class TestPredicateConstructs:
    """
    SPEC §5.3–§5.5: check order inside constructs, scoping and accepted constructs.
    """

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("obs[__x]()", ("call_target_not_name", 1, 0)),
            ("foo(__x)", ("call_target_not_allowed", 1, 0)),
            ("foo.append(1)", ("call_target_method_not_allowed", 1, 0)),
            ("foo.get(1)", ("name_not_allowed", 1, 0)),
            ("str.lower('A')", ("callable_not_called", 1, 0)),
            ("__x.y", ("attribute_target_not_allowed", 1, 0)),
            ("{'a': foo}", ("name_not_allowed", 1, 6)),
            ("f'{1:{foo}}'", ("name_not_allowed", 1, 6)),
            ("{foo: 1, **obs}", ("dict_unpacking", 1, 0)),
            ("[y for x in obs['xs'] if y for y in x]", ("name_not_allowed", 1, 25)),
            ("[a for (a, (b, c)) in obs]", ("invalid_comprehension_target", 1, 11)),
        ],
    )
    def test_rejection_order_and_position(self, source: str, expected: tuple[Any, ...]) -> None:
        """§5.4/§5.5: callee, attribute and clause rules fire in the specified order and place."""
        assert expected == predicate_rejection(source)

    @pytest.mark.parametrize(
        "source",
        [
            "~obs['n'] == -2 and obs is not None and not obs['n'] is None",
            "{1, 2} == {2, 1} and {'a': 1}['a'] == 1",
            "[x for x in obs['xs'] for x in x]",
            "[[x + y for y in obs['b']] for x in obs['a']]",
            "[a for a, *b in obs['xs']]",
            "max(*obs['a']) + min(obs['a']) if obs['a'] else 0",
            "obs['s'][1:10:2] + +obs['n'] * 0 * 'x'",
        ],
    )
    def test_accepted_constructs_evaluate_natively(self, source: str) -> None:
        """§5.4/§5.5: allowed constructs, reused and nested targets compute the native value."""
        obs = {"n": 1, "xs": [[1, 2], [3]], "a": [1, 2], "b": [10], "s": "abcdefghijk"}

        assert native(source, obs) == compile_predicate(source)(obs)

    def test_matmul_and_lshift_allowed(self) -> None:
        """§5.4: @ and << are allowed binary operators."""
        assert isinstance(parse_predicate("obs['a'] @ obs['b'] << 1"), ast.Expression)

    @pytest.mark.parametrize("value", [None, 3, 1.5, True])
    def test_methods_on_scalars_are_attribute_errors(self, value: Any) -> None:
        """§5.3: the nine methods do not resolve on numbers or None."""
        with pytest.raises(AttributeError):
            compile_predicate("obs['v'].get('x')")({"v": value})


class TestPredicateRuntimeLimits:
    """
    SPEC §5.7: exact boundaries of the guards not pinned elsewhere.
    """

    def test_int_bits_with_bool_operand(self) -> None:
        """§5.7: bool operands count as ints for the int_bits guard."""
        assert 4096 == compile_predicate("True << 4095")({}).bit_length()
        assert ("int_bits", 4096) == limit_breach("True << 4096", {})

    def test_sequence_length_tuple(self) -> None:
        """§5.7: tuple repetition reaching exactly 100000 passes; one more element breaches."""
        assert 100_000 == len(compile_predicate("(1, 2) * 50000")({}))
        assert ("sequence_length", 100_000) == limit_breach("(1, 2) * 50001", {})
        assert ("sequence_length", 100_000) == limit_breach("50001 * obs", (1, 2))

    @pytest.mark.parametrize("source", ["obs * -(10 ** 9)", "obs * 0", "obs * False"])
    def test_sequence_length_non_positive_count(self, source: str) -> None:
        """§5.7: a repeat count that is not > 0 is not limited."""
        assert "" == compile_predicate(source)("x" * 1000)

    @pytest.mark.parametrize(
        ("ok", "bad"),
        [
            ("f'{1:01000}'", "f'{1:01001}'"),
            ("'%-1000d' % 1", "'%-1001d' % 1"),
            ("'%(a)1000d' % {'a': 1}", "'%(a)1001d' % {'a': 1}"),
        ],
    )
    def test_format_width_digit_runs(self, ok: str, bad: str) -> None:
        """§5.7: any maximal digit run, flags and mapping keys included, may be at most 1000."""
        assert native(ok, {}) == compile_predicate(ok)({})
        assert ("format_width", 1000) == limit_breach(bad, {})

    def test_modulo_of_numbers_not_guarded(self) -> None:
        """§5.7: only str % is checked for widths; numeric modulo is plain arithmetic."""
        assert 2001 % 1001 == compile_predicate("2001 % 1001")({})

    @pytest.mark.parametrize(
        ("source", "obs", "cost"),
        [
            ("[v for v in obs]", list(range(10)), 10),
            ("[x for x in (y for y in obs)]", list(range(10)), 20),
            ("'a' in obs", "b" * 10, 10),
            ("sum(obs)", list(range(10)), 10),
            ("any(obs)", [0] * 7, 7),
            ("obs[1:]", list(range(10)), 9),
            ("obs + obs", [1, 2, 3], 6),
            ("obs * 2", [1, 2, 3], 6),
            ("obs.upper()", "abcd", 4),
            ("int(obs)", "1234", 4),
        ],
    )
    def test_work_charges_exactly(self, source: str, obs: Any, cost: int) -> None:
        """§5.7: a budget equal to the charged size passes; one unit less breaches."""
        result = compile_predicate(source, limits=PredicateLimits(max_work=cost))(obs)

        assert native(source, obs) == result
        assert ("work", cost - 1) == limit_breach(source, obs, PredicateLimits(max_work=cost - 1))

    def test_limit_envelope(self) -> None:
        """§2.6/§5.7: a breach carries code predicate_limit_exceeded and details {what, limit}."""
        predicate = compile_predicate("sum(obs)", limits=PredicateLimits(max_work=2))

        with pytest.raises(PredicateLimitExceeded) as info:
            predicate([1, 2, 3])

        expected = {"code": "predicate_limit_exceeded", "details": {"what": "work", "limit": 2}}
        assert expected == info.value.to_dict()
        assert "limit_exceeded:work" == str(info.value)

    @pytest.mark.parametrize("field", ["source_length", "max_nodes", "max_work"])
    @pytest.mark.parametrize("value", [0, -1])
    def test_limits_must_be_positive(self, field: str, value: int) -> None:
        """§5.1: PredicateLimits fields are positive ints."""
        with pytest.raises(ValueError):
            PredicateLimits(**{field: value})


class TestScriptValidation:
    """
    SPEC §9.2: binding rules, call and await rules, positions.
    """

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("y |= 2", ("binop_not_allowed", 1, 0)),
            ("len += 1", ("shadows_protected_name", 1, 0)),
            ("@d\ndef len(): pass", ("decorator_not_allowed", 1, 1)),
            ("(__x := 1)", ("dunder_binding", 1, 1)),
            ("for __i in []: pass", ("dunder_binding", 1, 4)),
            ("try:\n    pass\nexcept ValueError as __e:\n    pass", ("dunder_binding", 3, 0)),
            ("def __f(): pass", ("dunder_binding", 1, 0)),
            ("g = lambda __a: 1", ("dunder_binding", 1, 11)),
            ("x = x", ("name_not_allowed", 1, 4)),
            ("x = lambda: y", ("name_not_allowed", 1, 12)),
            ("__foo()", ("dunder_name", 1, 0)),
            ("x = [submit_job() for _ in []]", ("tool_call_not_awaited", 1, 5)),
            ("def f():\n    return submit_job()", ("tool_call_not_awaited", 2, 11)),
            ("r = submit_job(x=__y)", ("tool_call_not_awaited", 1, 4)),
            ("await submit_job(x=__y)", ("dunder_name", 1, 19)),
            ("await eval('1')", ("await_not_allowed", 1, 0)),
            ("await (await list_things())", ("await_not_allowed", 1, 0)),
            ("x = [1 for len in []]", ("shadows_protected_name", 1, 11)),
            ("x = [1 for (a, b.c) in []]", ("invalid_target", 1, 15)),
            ("mission.observe = 1", ("invalid_target", 1, 0)),
            ("x: Undefined = 1", ("name_not_allowed", 1, 3)),
            ("try:\n    pass\nexcept foo:\n    pass", ("name_not_allowed", 3, 7)),
            ("x = f'{mission.foo}'", ("attribute_not_allowed", 1, 7)),
            ("x = b'\\x00'.upper()", ("attribute_target_not_name", 1, 4)),
        ],
    )
    def test_rejection_and_position(self, source: str, expected: tuple[Any, ...]) -> None:
        """§9.2: each rule fires in source order, with the offending node's position."""
        assert expected == script_rejection(source)

    @pytest.mark.parametrize(
        "name",
        ["ValueError", "StopIteration", "ConnectionError", "range", "enumerate", "mission"],
    )
    def test_protected_names_never_bindable(self, name: str) -> None:
        """§9.2: builtins, exception classes and mission are protected in every binding form."""
        assert "shadows_protected_name" == script_rejection(f"{name} = 1")[0]
        assert "shadows_protected_name" == script_rejection(f"def f({name}): pass")[0]

    @pytest.mark.parametrize(
        "source",
        [
            "for i in range(2):\n    await submit_job(i=i)",
            "while False:\n    await list_things()",
            "if True:\n    r = await list_things()",
            "try:\n    pass\nexcept ValueError as e:\n    await mission.event('e', m=str(e))",
            "x = ...",
            "x = 1 @ 2\ny = 1 << 2",
            "x = StopIteration\nraise AssertionError('x')",
            "a = b = 1\nc = a + b",
            "for x in []:\n    pass\nelse:\n    y = 1",
            "x = [a for *a, in [[1]]]",
            "def f(*, k=1, **kw):\n    return k\nx = f(k=2)",
        ],
    )
    def test_accepted(self, source: str) -> None:
        """§9.2: module-level await in compound statements and §5.4 constructs are accepted."""
        assert isinstance(validate_script(source, SCRIPT_ALLOWLIST), ast.Module)

    def test_length_counts_characters(self) -> None:
        """§9.2: the 65 536 limit counts characters, not UTF-8 bytes."""
        assert isinstance(validate_script("#" + "é" * 65_535, []), ast.Module)
        assert ("source_too_long", None, None) == script_rejection("#" + "é" * 65_536)


def _session(runner: Any, script: str, tools: Any, **mission_kwargs: Any) -> mk.Session:
    """
    A session whose proposer offers *script*, run by *runner*, over *tools*.
    """
    mission = mk.Mission(
        tools=tools,
        proposer=ScriptedProposer({"script": script}),
        script_runner=runner,
        clock=FakeClock(),
        **mission_kwargs,
    )
    return mission.start(
        directive="Run a script",
        criteria=DONE,
        budget={"max_iterations": 3, "max_wall_clock_seconds": 100},
        tool_allowlist=list(tools),
        allow_scripted_strategies=True,
    )


class RecordingRunner:
    """
    A ScriptRunner that records its arguments and makes the calls it is told to.
    """

    def __init__(self, calls: list[str], outcome: ScriptOutcome) -> None:
        self.calls = calls
        self.outcome = outcome
        self.seen: list[Any] = []

    async def run(
        self, script: str, *, allowlist: Any, call_tool: Any, max_seconds: Any
    ) -> ScriptOutcome:
        self.seen.append((script, list(allowlist), max_seconds))
        for name in self.calls:
            try:
                self.seen.append(await call_tool(name, {}))
            except ScriptToolError as err:
                self.seen.append((err.error_type, err.error_message))
        return self.outcome


def _shaped() -> dict[str, Any]:
    """
    A tool whose result holds non-JSON containers.
    """
    return {"xs": (1, 2), "s": {3}}


class TestRunnerThroughSession:
    """
    SPEC §9.3, §9.5 and §9.6 as observed through Session.step().
    """

    def test_runner_arguments_and_proxy(self) -> None:
        """§9.3/§9.5: runner gets the allowlist and remaining budget; results are JSON-safe."""
        runner = RecordingRunner(["shaped", "ext"], ScriptOutcome())
        session = _session(runner, "x = 1", {"shaped": _shaped, "ext": None})

        iteration = session.step()

        script, allowlist, max_seconds = runner.seen[0]
        assert ("x = 1", ["shaped", "ext"], 100.0) == (script, allowlist, max_seconds)
        assert {"xs": [1, 2], "s": [3]} == runner.seen[1]
        assert isinstance(runner.seen[2], tuple)
        assert () == iteration.tool_calls
        assert iteration.script_call_log is not None
        assert [("shaped", "ok"), ("ext", "failed")] == [
            (r.tool_name, r.status) for r in iteration.script_call_log
        ]

    def test_uncapped_budget_gives_no_deadline(self) -> None:
        """§9.3: max_seconds is None when the wall-clock budget is uncapped."""
        runner = RecordingRunner([], ScriptOutcome())
        mission = mk.Mission(
            tools=[_shaped],
            proposer=ScriptedProposer({"script": "x = 1"}),
            script_runner=runner,
            clock=FakeClock(),
        )
        session = mission.start(
            directive="Run a script",
            criteria=DONE,
            budget={"max_iterations": 3, "max_wall_clock_seconds": -1},
            tool_allowlist=["_shaped"],
            allow_scripted_strategies=True,
        )

        session.step()

        assert None is runner.seen[0][2]

    def test_observation_rows_and_events(self) -> None:
        """§9.6: later observe keys win; script events follow tool events."""

        def tool() -> dict[str, Any]:
            return {"events": [{"event_name": "from_tool"}]}

        outcome = ScriptOutcome(
            observations=(("k", 1), ("j", 2), ("k", 3)),
            events=({"event_name": "from_script"},),
        )
        iteration = _session(RecordingRunner(["tool"], outcome), "x = 1", {"tool": tool}).step()

        assert iteration.observation is not None
        assert {"k": 3, "j": 2} == iteration.observation.metrics["observations"]
        assert ["from_tool", "from_script"] == [
            e["event_name"] for e in iteration.observation.events
        ]

    def test_no_observe_rows_no_observations_metric(self) -> None:
        """§9.6: metrics gain an observations key only when observe rows exist."""
        iteration = _session(RecordingRunner([], ScriptOutcome()), "x = 1", {"t": _shaped}).step()

        assert iteration.observation is not None
        assert "observations" not in iteration.observation.metrics

    def test_script_sees_capped_result(self) -> None:
        """§9.5: the value returned to the script is the capped value the observation stores."""

        def big() -> str:
            return "x" * 300

        script = "r = await big()\nawait mission.observe('r', [r['_truncated'], r['bytes']])"
        session = _session(
            InlineScriptRunner(), script, {"big": big}, limits=Limits(tool_result_bytes=100)
        )

        iteration = session.step()

        assert iteration.observation is not None
        assert [True, 302] == iteration.observation.metrics["observations"]["r"]


class TestSubprocessRunner:
    """
    SPEC §9.4 behaviours of the child not pinned elsewhere.
    """

    def test_values_converted_and_error_class_named(self) -> None:
        """§9.4: observe converts with to_json_data; a failed call raises the named class."""

        async def call_tool(name: str, args: dict[str, Any]) -> Any:
            raise ScriptToolError("KeyError", "missing")

        script = (
            "mission.observe('s', {3, 1, 2})\n"
            "try:\n"
            "    await submit_job()\n"
            "except KeyError as e:\n"
            "    mission.event('caught', message=str(e))\n"
        )
        outcome = asyncio.run(
            SubprocessScriptRunner(wall_seconds=10).run(
                script, allowlist=["submit_job"], call_tool=call_tool, max_seconds=None
            )
        )

        expected = ScriptOutcome(
            observations=(("s", [1, 2, 3]),),
            events=({"event_name": "caught", "message": "'missing'"},),
        )
        assert expected == outcome


class TestComprehensionClauseOrder:
    def test_async_clause_checked_in_clause_order(self) -> None:
        """§5.5: clause 0's iterable is validated before clause 1's ``async for`` is looked at."""
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("[x for x in foo async for y in obs]")

        assert ("name_not_allowed", 1, 12) == (
            info.value.reason,
            info.value.lineno,
            info.value.col_offset,
        )

    def test_async_first_clause_still_rejected(self) -> None:
        """§5.5: an ``async for`` first clause is refused at its target."""
        with pytest.raises(PredicateRejected) as info:
            parse_predicate("[x async for x in obs]")

        assert "async_comprehension" == info.value.reason
