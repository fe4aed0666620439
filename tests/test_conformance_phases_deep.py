"""
Conformance tests in depth for the phase wrapper, the step gate, propose, execute, commit and
failed iterations (SPEC §6.1–§6.4, §6.9, §6.10, §6.12).

Black-box: only the public API (``missionkit``, ``missionkit.testing``, ``missionkit.store``,
``missionkit.audit``, ``missionkit.models``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

import missionkit as mk
from fakes import event_criterion, event_label, start, threshold
from missionkit.audit import MemorySink
from missionkit.models import Strategy, ToolCall
from missionkit.store import MemoryStore
from missionkit.testing import FakeClock, ScriptedProposer, ScriptedSampler

SID = "mission-phases-deep"
# Every session here gets this id (a keyword argument may still override it).
_start = functools.partial(start, session_id=SID)
PHASES = ["propose", "execute", "observe", "evaluate", "decide"]
FAILED_FOLLOWUPS = [
    "Inspect the error of the failed phase, fix its cause and start a new session.",
    "These suggestions come from fixed templates.",
]


def _ok(**metrics: Any) -> Any:
    def tool() -> dict[str, Any]:
        return {"metrics": dict(metrics)}

    return tool


class TrapClock:
    """
    A FakeClock that raises a chosen exception once, after *n* further reads, when armed.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self._countdown: int | None = None
        self._error: BaseException = RuntimeError("clock failed")

    def arm(self, after: int = 0, error: BaseException | None = None) -> None:
        self._countdown = after
        if error is not None:
            self._error = error

    def __call__(self) -> datetime:
        if self._countdown is not None:
            if self._countdown == 0:
                self._countdown = None
                raise self._error
            self._countdown -= 1
        return self.clock()


class HookSink(MemorySink):
    """
    A MemorySink that also runs hooks on every event.
    """

    def __init__(self) -> None:
        super().__init__()
        self.hooks: list[Callable[[Any], None]] = []

    def __call__(self, event: Any, /) -> None:
        super().__call__(event)
        for hook in self.hooks:
            hook(event)


class RecordingStore(MemoryStore):
    """
    A MemoryStore that records the keyword arguments of every save.
    """

    def __init__(self) -> None:
        super().__init__()
        self.saves: list[dict[str, Any]] = []

    def save_session(self, state: Any, **kwargs: Any) -> None:
        self.saves.append({"state": state, **kwargs})
        super().save_session(state, **kwargs)


def _fail_in(
    phase: str, clock: TrapClock, sink: HookSink, error: BaseException | None = None
) -> None:
    """Arm *clock* so that the body of *phase* fails (one read after its start)."""
    previous = PHASES[PHASES.index(phase) - 1]

    def arm(event: Any) -> None:
        if event.event_type == "mission_phase_event" and event.phase == previous:
            clock.arm(after=1, error=error)

    sink.hooks.append(arm)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


class Halt(BaseException):
    pass


class TestPhaseWrapper:
    def test_records_and_events_bracket_each_phase(self) -> None:
        """§6.1: each phase has one record and one event with the same times, in order."""
        sink = MemorySink()
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=FakeClock(step=1), sinks=[sink])
        session = _start(mission, [threshold()])
        sink.clear()

        iteration = session.step()

        events = [e for e in sink.events if e.event_type == "mission_phase_event"]
        assert PHASES == [p.phase for p in iteration.phases]
        assert [(p.phase, p.started_at, p.ended_at) for p in iteration.phases] == [
            (e.phase, e.phase_started_at, e.phase_ended_at) for e in events
        ]
        assert {("succeeded", None)} == {(p.status, p.error_message) for p in iteration.phases}
        assert all(p.started_at < p.ended_at for p in iteration.phases)
        ends = [p.ended_at for p in iteration.phases]
        starts = [p.started_at for p in iteration.phases]
        assert all(e <= s for e, s in zip(ends, starts[1:], strict=False))
        assert iteration.started_at < starts[0]
        assert ends[-1] <= iteration.ended_at

    def test_failed_phase_event_matches_its_record(self) -> None:
        """§6.1: the failed phase's event carries the record's times and error text."""
        sink = MemorySink()

        def proposer(ctx: Any) -> None:
            raise LookupError("no idea")

        mission = mk.Mission(
            tools=[_ok()], clock=FakeClock(step=1), sinks=[sink], proposer=proposer
        )
        session = _start(mission, [event_criterion()])
        sink.clear()

        with pytest.raises(LookupError):
            session.step()

        record = session.state.iterations[0].phases[0]
        event = sink.events[0]
        assert (
            "propose",
            "failed",
            "LookupError: no idea",
            record.started_at,
            record.ended_at,
            0,
        ) == (
            event.phase,
            event.phase_status,
            event.error_message,
            event.phase_started_at,
            event.phase_ended_at,
            event.iteration_index,
        )
        assert ("failed", "LookupError: no idea") == (record.status, record.error_message)
        assert record.started_at < record.ended_at

    def test_unprintable_exception_text(self) -> None:
        """§6.1/§1.4: an exception whose str() raises is recorded as '<Type>: <unprintable>'."""

        def proposer(ctx: Any) -> None:
            raise Unprintable

        mission = mk.Mission(tools=[_ok()], clock=FakeClock(), proposer=proposer)
        session = _start(mission, [event_criterion()])

        with pytest.raises(Unprintable):
            session.step()

        report = session.report()
        assert report is not None
        assert ["Unprintable: <unprintable>"] * 2 == [
            session.state.iterations[0].phases[0].error_message,
            report.failure["error_message"],  # type: ignore[index]
        ]

    def test_empty_message_exception_text(self) -> None:
        """§6.1/§1.4: an exception with an empty message is recorded as 'Type: '."""

        def proposer(ctx: Any) -> None:
            raise ValueError

        mission = mk.Mission(tools=[_ok()], clock=FakeClock(), proposer=proposer)
        session = _start(mission, [event_criterion()])

        with pytest.raises(ValueError):
            session.step()

        assert "ValueError: " == session.state.iterations[0].phases[0].error_message

    def test_base_exception_in_evaluate_propagates_and_stores_nothing(self) -> None:
        """§6.1/§6.15(4): a BaseException mid-iteration propagates; nothing is committed."""
        clock = TrapClock()
        sink = HookSink()
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=clock, sinks=[sink])
        session = _start(mission, [threshold()])
        _fail_in("evaluate", clock, sink, Halt("stop"))
        sink.clear()

        with pytest.raises(Halt) as info:
            session.step()

        assert None is getattr(info.value, "__notes__", None)
        state = session.state
        assert ("pending", 1, 0, None) == (
            state.status,
            state.revision,
            len(state.iterations),
            session.report(),
        )
        labels = [event_label(e) for e in sink.events]
        assert "lifecycle:fail" not in labels
        assert not any(label.startswith("verdict:") for label in labels)
        sink.hooks.clear()
        assert "succeeded" == session.step().status

    @pytest.mark.parametrize(
        ("timeout", "use_async"),
        [(None, False), (1, False), (None, True)],
        ids=["calling_thread", "worker_thread", "astep"],
    )
    def test_base_exception_from_a_tool_propagates(self, timeout: Any, use_async: bool) -> None:
        """§6.1: a tool raising a BaseException propagates from every dispatch path; no write."""

        def bad() -> None:
            raise Halt("tool")

        mission = mk.Mission(tools=[mk.Tool(bad, timeout=timeout)], clock=FakeClock())
        session = _start(mission, [event_criterion()])

        with pytest.raises(Halt):
            if use_async:
                asyncio.run(session.astep())
            else:
                session.step()

        assert ("pending", 1, 0) == (
            session.status,
            session.state.revision,
            len(session.state.iterations),
        )


class TestGate:
    def test_status_gate_precedes_tool_check_for_paused(self) -> None:
        """§6.2: a paused session with no runnable tool raises SessionPaused and emits nothing."""
        sink = MemorySink()
        mission = mk.Mission(tools={"ext": None}, clock=FakeClock(), sinks=[sink])
        session = _start(mission, [event_criterion()])
        session.abort(pause=True)
        revision = session.state.revision
        sink.clear()

        with pytest.raises(mk.SessionPaused):
            session.step()

        assert ([], revision) == (sink.events, session.state.revision)

    @pytest.mark.parametrize(
        ("end", "error"),
        [
            (lambda s: s.complete(), mk.SessionTerminal),
            (lambda s: s.abort(), mk.SessionTerminal),
        ],
    )
    def test_status_gate_precedes_tool_check_for_terminal(self, end: Any, error: Any) -> None:
        """§6.2: a terminal session opened where no tool is runnable raises SessionTerminal."""
        first = mk.Mission(tools=[_ok()], clock=FakeClock())
        session = _start(first, [event_criterion()])
        end(session)
        sink = MemorySink()
        second = mk.Mission(tools={"ok": None}, store=first.store, clock=FakeClock(), sinks=[sink])

        with pytest.raises(error):
            second.session(SID).step()

        assert [] == sink.events

    def test_failed_gate_precedes_tool_check(self) -> None:
        """§6.2: a failed session opened where no tool is runnable raises SessionFailed."""

        def proposer(ctx: Any) -> None:
            raise RuntimeError("x")

        first = mk.Mission(tools=[_ok()], clock=FakeClock(), proposer=proposer)
        session = _start(first, [event_criterion()])
        with pytest.raises(RuntimeError):
            session.step()
        second = mk.Mission(tools={"ok": None}, store=first.store, clock=FakeClock())

        with pytest.raises(mk.SessionFailed):
            second.session(SID).step()

    def test_later_iterations_keep_the_first_started_at(self) -> None:
        """§6.2 step 5: each iteration starts at its own t0; the session keeps the first t0."""
        clock = FakeClock(step=1)
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=clock)
        session = _start(mission, [threshold()], stagnation_threshold=50)

        first = session.step()
        clock.advance(100)
        second = session.step()

        assert (0, 1) == (first.iteration_index, second.iteration_index)
        assert first.started_at == session.state.started_at
        assert second.started_at > first.ended_at
        assert second.started_at < second.phases[0].started_at


class TestProposeOrder:
    def _mission(self, sampler: Any, proposer: Any, sink: MemorySink | None = None) -> mk.Mission:
        return mk.Mission(
            tools={"a": _ok(loss=1.0), "b": _ok(loss=1.0)},
            sampler=sampler,
            proposer=proposer,
            clock=FakeClock(),
            sinks=[sink] if sink else [],
        )

    @staticmethod
    def _answer(tool: str) -> str:
        return json.dumps(
            {
                "revision_rationale": f"use {tool}",
                "next_strategy": {"tool_calls": [{"tool_name": tool, "args": {}}]},
                "confidence": 0.5,
            }
        )

    def test_used_sampler_skips_the_proposer(self) -> None:
        """§6.3 step 1: a used sampler result gives the strategy; the proposer is not called."""
        proposer = ScriptedProposer({"tool_calls": [{"tool_name": "a"}]})
        mission = self._mission(ScriptedSampler(self._answer("b")), proposer)
        session = _start(mission, [threshold()], use_sampling="every_iteration")

        iteration = session.step()

        assert ("sampler", "used", ["b"], []) == (
            iteration.strategy_source,
            iteration.sampling_status,
            [r.tool_name for r in iteration.tool_calls],
            proposer.contexts,
        )

    def test_sampler_fallback_goes_to_the_proposer_and_records_sampling(self) -> None:
        """§6.3 steps 1–2: a rejected sampler output falls to the proposer; fields are kept."""
        proposer = ScriptedProposer({"tool_calls": [{"tool_name": "a"}]})
        mission = self._mission(ScriptedSampler("no json here"), proposer)
        session = _start(mission, [threshold()], use_sampling="every_iteration")

        iteration = session.step()

        assert (
            "proposer",
            ["a"],
            "rejected",
            "json_parse",
            "no json here",
            None,
            1,
        ) == (
            iteration.strategy_source,
            [r.tool_name for r in iteration.tool_calls],
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.sampling_output,
            iteration.sampling_rationale,
            len(proposer.contexts),
        )

    def test_sampler_fallback_and_none_goes_to_default(self) -> None:
        """§6.3 steps 1–3: sampler fallback then a proposer returning None uses the default."""
        proposer = ScriptedProposer(None)
        mission = self._mission(ScriptedSampler(RuntimeError("down")), proposer)
        session = _start(mission, [threshold()], use_sampling="every_iteration")

        iteration = session.step()

        assert ("default", "rejected", "transport_error", 1) == (
            iteration.strategy_source,
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            len(proposer.contexts),
        )

    def test_pending_sampler_proposal_is_adopted_without_new_consultation(self) -> None:
        """§6.3: a pending proposal's source and sampling fields become the iteration's."""
        sampler = ScriptedSampler(self._answer("b"))
        proposer = ScriptedProposer()
        mission = self._mission(sampler, proposer)
        session = _start(mission, [threshold()], use_sampling="every_iteration")
        strategy = session.propose()
        pending = session.state.pending_proposal
        assert pending is not None

        iteration = session.step()

        assert (
            strategy,
            "sampler",
            "used",
            None,
            "use b",
            pending.sampling_output,
            pending.phases[0],
        ) == (
            iteration.strategy,
            iteration.strategy_source,
            iteration.sampling_status,
            iteration.sampling_rejection_reason,
            iteration.sampling_rationale,
            iteration.sampling_output,
            iteration.phases[0],
        )
        assert (1, [], None) == (
            len(sampler.prompts),
            proposer.contexts,
            session.state.pending_proposal,
        )

    def test_pending_proposer_proposal_is_not_re_proposed(self) -> None:
        """§6.3: with a pending proposal the proposer is not called again by step()."""
        proposer = ScriptedProposer({"tool_calls": [{"tool_name": "b"}]}, None)
        mission = self._mission(None, proposer)
        session = _start(mission, [threshold()])
        session.propose()

        iteration = session.step()

        assert ("proposer", ["b"], 1) == (
            iteration.strategy_source,
            [r.tool_name for r in iteration.tool_calls],
            len(proposer.contexts),
        )
        assert ["propose", *PHASES[1:]] == [p.phase for p in iteration.phases]


class TestProposerOutput:
    def test_strategy_object_is_kept_verbatim(self) -> None:
        """§6.3 step 2: a returned Strategy becomes the iteration's strategy unchanged."""
        strategy = Strategy(tool_calls=(ToolCall("b", {"k": 1}),), rationale="mine")

        def b(k: int) -> dict[str, Any]:
            return {"metrics": {"k": k}}

        mission = mk.Mission(
            tools={"a": _ok(), "b": b}, clock=FakeClock(), proposer=ScriptedProposer(strategy)
        )
        iteration = _start(mission, [event_criterion()]).step()

        assert (strategy, "proposer", "ok", {"k": 1}) == (
            iteration.strategy,
            iteration.strategy_source,
            iteration.tool_calls[0].status,
            iteration.tool_calls[0].args,
        )

    def test_awaitable_none_falls_back_to_default(self) -> None:
        """§6.3 step 2: an awaitable resolving to None falls back to the default proposer."""
        calls: list[int] = []

        async def proposer(ctx: Any) -> None:
            calls.append(ctx.iteration_index)
            await asyncio.sleep(0)

        mission = mk.Mission(tools={"a": _ok()}, clock=FakeClock(), proposer=proposer)
        iteration = _start(mission, [event_criterion()]).step()

        assert ("default", [0], "succeeded") == (
            iteration.strategy_source,
            calls,
            iteration.status,
        )

    @pytest.mark.parametrize(
        "value",
        [
            42,
            ["a"],
            "a",
            {"tool_calls": [{"tool_name": "a"}], "script": "x = 1"},
            {"script": "x = 1"},
            {"tool_calls": [{"tool_name": ""}]},
            {"tool_calls": [{"tool_name": "a", "args": [1]}]},
        ],
        ids=["int", "list", "str", "both", "script_not_allowed", "empty_name", "bad_args"],
    )
    def test_invalid_output_fails_the_propose_phase(self, value: Any) -> None:
        """§6.3 step 2/§6.10: any validate_strategy rejection fails the propose phase."""
        calls: list[int] = []

        def a() -> None:
            calls.append(1)

        mission = mk.Mission(tools={"a": a}, clock=FakeClock(), proposer=ScriptedProposer(value))
        session = _start(mission, [event_criterion()])

        with pytest.raises(mk.MissionValidationError) as info:
            session.step()

        iteration = session.state.iterations[0]
        assert (["propose"], None, (), None, []) == (
            [p.phase for p in iteration.phases],
            iteration.strategy,
            iteration.tool_calls,
            iteration.observation,
            calls,
        )
        assert iteration.phases[0].error_message.startswith("MissionValidationError: ")  # type: ignore[union-attr]
        assert "failed" == session.status
        assert info.value.__notes__[-1].endswith("failed in phase propose")


class TestExecute:
    @pytest.mark.parametrize(
        ("timeout", "text"),
        [(1e-3, "0.001"), (0.05, "0.05"), (1e-5, "1e-05"), (1, "1")],
    )
    def test_timeout_text_uses_general_format(self, timeout: float, text: str) -> None:
        """§6.4: the timeout message is 'TimeoutError: tool call exceeded <format(t, "g")>s'."""
        release = threading.Event()

        def hang() -> None:
            release.wait(3)

        try:
            mission = mk.Mission(tools=[mk.Tool(hang, timeout=timeout)], clock=FakeClock())
            record = _start(mission, [event_criterion()]).step().tool_calls[0]
        finally:
            release.set()

        assert ("failed", f"TimeoutError: tool call exceeded {text}s", None) == (
            record.status,
            record.error_message,
            record.result_summary,
        )

    def test_mission_int_timeout_text(self) -> None:
        """§6.4: an int Mission.tool_timeout of 1 is written as '1s'."""
        release = threading.Event()

        async def hang() -> None:
            await asyncio.sleep(3)

        mission = mk.Mission(tools={"hang": hang}, tool_timeout=1, clock=FakeClock())
        record = _start(mission, [event_criterion()]).step().tool_calls[0]
        release.set()

        assert "TimeoutError: tool call exceeded 1s" == record.error_message

    def test_remaining_active_seconds_timeout_text(self) -> None:
        """§6.4/§6.12: a timeout set by the remaining active seconds is formatted the same way."""
        clock = FakeClock()
        release = threading.Event()
        armed: list[bool] = []

        def slow() -> dict[str, Any]:
            if armed:
                release.wait(3)
            return {"metrics": {}}

        mission = mk.Mission(tools={"slow": slow}, clock=clock)
        session = _start(mission, [event_criterion()], budget={"max_wall_clock_seconds": 10})
        session.step()
        clock.advance(9.75)
        armed.append(True)
        try:
            iteration = session.step()
        finally:
            release.set()

        assert ("TimeoutError: tool call exceeded 0.25s", "succeeded", "adjust") == (
            iteration.tool_calls[0].error_message,
            iteration.status,
            iteration.verdict,
        )

    def test_async_tool_is_cancelled_on_timeout(self) -> None:
        """§6.4: an async callable is cancelled when its timeout elapses."""
        cancelled = threading.Event()

        async def hang() -> None:
            try:
                await asyncio.sleep(3)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        mission = mk.Mission(tools=[mk.Tool(hang, timeout=0.05)], clock=FakeClock())
        record = _start(mission, [event_criterion()]).step().tool_calls[0]

        assert cancelled.wait(2)
        assert "TimeoutError: tool call exceeded 0.05s" == record.error_message

    def test_calls_run_sequentially_in_order_with_keyword_args(self) -> None:
        """§6.4: calls run one after another, in order, with args passed as keywords."""
        log: list[str] = []

        def a(*, n: int) -> dict[str, Any]:
            log.append(f"a{n}:start")
            time.sleep(0.01)
            log.append(f"a{n}:end")
            return {"n": n}

        async def b(*, n: int) -> dict[str, Any]:
            log.append(f"b{n}:start")
            await asyncio.sleep(0.01)
            log.append(f"b{n}:end")
            return {"n": n}

        proposer = ScriptedProposer(
            {
                "tool_calls": [
                    {"tool_name": "a", "args": {"n": 1}},
                    {"tool_name": "b", "args": {"n": 2}},
                    {"tool_name": "a", "args": {"n": 3}},
                ]
            }
        )
        mission = mk.Mission(
            tools={"a": mk.Tool(a, timeout=5), "b": b}, clock=FakeClock(), proposer=proposer
        )
        iteration = _start(mission, [event_criterion()]).step()

        assert [
            "a1:start",
            "a1:end",
            "b2:start",
            "b2:end",
            "a3:start",
            "a3:end",
        ] == log
        assert [("a", "ok"), ("b", "ok"), ("a", "ok")] == [
            (r.tool_name, r.status) for r in iteration.tool_calls
        ]

    def test_raised_text_is_cut_and_unprintable_is_named(self) -> None:
        """§6.4/§1.4: a tool's error text is cut to 200 characters, or reads '<unprintable>'."""

        def long() -> None:
            raise RuntimeError("y" * 400)

        def odd() -> None:
            raise Unprintable

        proposer = ScriptedProposer({"tool_calls": [{"tool_name": "long"}, {"tool_name": "odd"}]})
        mission = mk.Mission(tools={"long": long, "odd": odd}, clock=FakeClock(), proposer=proposer)
        iteration = _start(mission, [event_criterion()]).step()

        texts = [("RuntimeError: " + "y" * 400)[:200], "Unprintable: <unprintable>"]
        assert texts == [r.error_message for r in iteration.tool_calls]
        assert texts == [e["error_message"] for e in iteration.observation.errors]  # type: ignore[union-attr]
        assert [None, None] == [r.result_summary for r in iteration.tool_calls]
        assert "succeeded" == iteration.status

    def test_fixed_texts_have_no_summary_and_skip_has_zero_duration(self) -> None:
        """§6.4: skipped calls have duration 0 and null text; lookup failures have fixed texts."""
        first = mk.Mission(tools={"gone": _ok(), "ext": None, "t": _ok()}, clock=FakeClock())
        _start(first, [event_criterion()], tool_allowlist=["gone", "ext", "t"])
        proposer = ScriptedProposer(
            {
                "tool_calls": [
                    {"tool_name": "gone"},
                    {"tool_name": "ext"},
                    {"tool_name": "other"},
                    {"tool_name": "t"},
                ]
            }
        )
        second = mk.Mission(
            tools={"ext": None, "t": _ok(), "other": _ok()},
            store=first.store,
            clock=FakeClock(step=1),
            proposer=proposer,
        )
        iteration = second.session(SID).step()

        assert [
            ("failed", "LookupError: tool 'gone' is not registered with this Mission", None),
            (
                "failed",
                "LookupError: tool 'ext' is external; report its result with Session.observe()",
                None,
            ),
            ("skipped_not_allowed", None, None),
            ("ok", None, {"type": "object", "bytes": 14, "keys": ["metrics"]}),
        ] == [(r.status, r.error_message, r.result_summary) for r in iteration.tool_calls]
        assert 0 == iteration.tool_calls[2].duration_ms

    def test_returned_value_is_converted_to_json_data(self) -> None:
        """§6.4: an ok result is converted with to_json_data (a tuple becomes a list)."""

        def pair() -> tuple[int, int]:
            return (1, 2)

        mission = mk.Mission(tools={"pair": pair}, clock=FakeClock())
        iteration = _start(mission, [event_criterion()]).step()

        assert ({"type": "array", "bytes": 5, "length": 2}, [1, 2]) == (
            iteration.tool_calls[0].result_summary,
            iteration.observation.tool_results[0]["result"],  # type: ignore[union-attr]
        )


class TestCommit:
    def test_non_terminal_commit_header_and_single_save(self) -> None:
        """§6.9: a non-terminal step is one save appending the iteration with no report."""
        store = RecordingStore()
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=FakeClock(step=1), store=store)
        session = _start(mission, [threshold()])
        store.saves.clear()

        iteration = session.step()

        assert 1 == len(store.saves)
        save = store.saves[0]
        assert (1, [iteration], None) == (
            save["expected_revision"],
            list(save["append"]),
            save["report"],
        )
        state = session.state
        progress = state.criterion_progress["loss"]
        assert (
            "running",
            iteration.started_at,
            0,
            (False, 1.0),
            None,
            None,
            None,
            None,
            2,
        ) == (
            state.status,
            state.started_at,
            state.no_progress_counter,
            (progress.ever_met, progress.best_value),
            state.pending_proposal,
            state.ended_at,
            state.final_verdict,
            state.final_verdict_reason,
            state.revision,
        )
        assert ("succeeded", "continue", "in_progress") == (
            iteration.status,
            iteration.verdict,
            iteration.verdict_reason,
        )
        assert state.updated_at >= iteration.ended_at
        assert None is session.report()

    def test_terminal_commit_saves_report_in_the_same_save(self) -> None:
        """§6.9: a terminal step saves header, iteration and report in one save_session call."""
        store = RecordingStore()
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=FakeClock(step=1), store=store)
        session = _start(mission, [threshold()], budget={"max_iterations": 2})
        session.step()
        store.saves.clear()

        iteration = session.step()

        assert 1 == len(store.saves)
        save = store.saves[0]
        report = save["report"]
        header = save["state"]
        assert report is not None
        assert (2, [iteration]) == (save["expected_revision"], list(save["append"]))
        assert (
            "terminated",
            "terminate",
            "max_iterations",
            iteration.ended_at,
        ) == (
            header.status,
            header.final_verdict,
            header.final_verdict_reason,
            header.ended_at,
        )
        assert (
            "terminated",
            "terminate",
            "max_iterations",
            2,
            iteration.ended_at,
            None,
            iteration,
        ) == (
            report.status,
            report.final_verdict,
            report.final_verdict_reason,
            report.iterations_run,
            report.ended_at,
            report.failure,
            report.iterations[-1],
        )
        assert report == session.report()

    def test_adopted_pending_proposal_is_cleared_in_the_commit(self) -> None:
        """§6.9: the header written by a step adopting a pending proposal has none."""
        store = RecordingStore()
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=FakeClock(), store=store)
        session = _start(mission, [threshold()])
        session.propose()
        assert session.state.pending_proposal is not None
        store.saves.clear()

        session.step()

        assert [None] == [s["state"].pending_proposal for s in store.saves]
        assert "running" == session.status


class TestFailedIterationShape:
    def _failing(self, phase: str) -> tuple[mk.Session, RecordingStore, HookSink, Any]:
        clock = TrapClock(FakeClock(step=1))
        sink = HookSink()
        store = RecordingStore()

        def train() -> dict[str, Any]:
            return {"metrics": {"loss": 1.0}}

        mission = mk.Mission(tools={"train": train}, clock=clock, sinks=[sink], store=store)
        session = _start(mission, [threshold()], stagnation_threshold=50)
        session.step()
        session.step()
        _fail_in(phase, clock, sink)
        store.saves.clear()
        sink.clear()
        with pytest.raises(RuntimeError, match="clock failed") as info:
            session.step()
        return session, store, sink, info.value

    def test_evaluate_failure_keeps_strategy_calls_and_observation(self) -> None:
        """§6.10: a failure in evaluate keeps the strategy, tool calls and observation built."""
        session, _, _, _ = self._failing("evaluate")
        failed = session.state.iterations[2]

        assert failed.strategy is not None
        assert "default" == failed.strategy_source
        assert [("train", "ok")] == [(r.tool_name, r.status) for r in failed.tool_calls]
        assert failed.observation is not None
        assert {"loss": 1.0} == dict(failed.observation.metrics)
        assert (None, None, False, False, 1, (), None) == (
            failed.verdict,
            failed.verdict_reason,
            failed.checkpoint_evaluated,
            failed.progress,
            failed.no_progress_counter,
            failed.criteria_evaluation,
            failed.revision_rationale,
        )
        assert failed.ended_at >= failed.phases[-1].ended_at

    def test_observe_failure_keeps_calls_but_has_no_observation(self) -> None:
        """§6.10: a failure in observe keeps the strategy and tool calls; observation is null."""
        session, _, _, _ = self._failing("observe")
        failed = session.state.iterations[2]

        assert (True, 1, None, ["propose", "execute", "observe"]) == (
            failed.strategy is not None,
            len(failed.tool_calls),
            failed.observation,
            [p.phase for p in failed.phases],
        )

    def test_failed_header_and_report_in_one_save(self) -> None:
        """§6.10: header, failed iteration and a report with its failure entry are one save."""
        session, store, _, _ = self._failing("decide")
        state = session.state
        failed = state.iterations[2]

        assert 1 == len(store.saves)
        save = store.saves[0]
        assert ([failed], 3) == (list(save["append"]), save["expected_revision"])
        assert (
            "failed",
            failed.ended_at,
            None,
            None,
            1,
            4,
            state.iterations[0].started_at,
        ) == (
            state.status,
            state.ended_at,
            state.final_verdict,
            state.final_verdict_reason,
            state.no_progress_counter,
            state.revision,
            state.started_at,
        )
        report = save["report"]
        assert report is not None
        assert report == session.report()
        assert {
            "iteration_index": 2,
            "phase": "decide",
            "error_message": "RuntimeError: clock failed",
        } == report.failure

    def test_failed_report_uses_the_last_evaluated_results(self) -> None:
        """§6.10/§12: the failed report keeps the last evaluation, exact lessons and follow-ups."""
        armed: list[bool] = []

        def proposer(ctx: Any) -> None:
            if armed:
                raise RuntimeError("clock failed")

        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=FakeClock(step=1), proposer=proposer)
        session = _start(mission, [threshold()], stagnation_threshold=50)
        session.step()
        session.step()
        armed.append(True)
        with pytest.raises(RuntimeError):
            session.step()
        report = session.report()
        assert report is not None
        state = session.state

        assert (
            "failed",
            None,
            None,
            3,
            state.ended_at,
            list(state.iterations[1].criteria_evaluation),
            FAILED_FOLLOWUPS,
            "template",
        ) == (
            report.status,
            report.final_verdict,
            report.final_verdict_reason,
            report.iterations_run,
            report.ended_at,
            list(report.final_criteria_evaluation),  # type: ignore[arg-type]
            list(report.recommended_followups),
            report.lessons_source,
        )
        assert (
            f"Session {SID} failed in phase 'propose' of iteration 2: "
            "RuntimeError: clock failed. Directive: 'Drive the loss down'. "
            "Criteria not met at the final evaluation: loss."
        ) == report.lessons

    def test_events_are_phases_entered_then_lifecycle_fail(self) -> None:
        """§6.10/§6.16: phase events of the phases entered, then lifecycle fail, no verdict."""
        _, _, sink, error = self._failing("evaluate")

        assert [
            "phase:propose:succeeded",
            "phase:execute:succeeded",
            "phase:observe:succeeded",
            "phase:evaluate:failed",
            "lifecycle:fail",
        ] == [event_label(e) for e in sink.events]
        assert [f"missionkit: iteration 2 of session {SID} failed in phase evaluate"] == (
            error.__notes__
        )

    def test_existing_notes_are_kept_and_the_note_appended(self) -> None:
        """§6.10: the original exception keeps its own notes; missionkit's note comes after."""
        boom = ValueError("bad")
        boom.add_note("from the proposer")

        def proposer(ctx: Any) -> None:
            raise boom

        mission = mk.Mission(tools=[_ok()], clock=FakeClock(), proposer=proposer)
        session = _start(mission, [event_criterion()])

        with pytest.raises(ValueError) as info:
            session.step()

        assert info.value is boom
        assert [
            "from the proposer",
            f"missionkit: iteration 0 of session {SID} failed in phase propose",
        ] == info.value.__notes__

    def test_first_iteration_failure_reports_previous_status_pending(self) -> None:
        """§6.10/§6.13: a first-iteration failure emits fail with previous_status pending."""
        sink = MemorySink()

        def proposer(ctx: Any) -> None:
            raise KeyError("k")

        mission = mk.Mission(tools=[_ok()], clock=FakeClock(), sinks=[sink], proposer=proposer)
        session = _start(mission, [event_criterion()])
        sink.clear()

        with pytest.raises(KeyError):
            session.step()

        fail = sink.events[-1].to_dict()
        assert ("fail", "failed", "pending", 0, "KeyError: 'k'") == (
            fail["action"],
            fail["status"],
            fail["previous_status"],
            fail["iteration_index"],
            fail["error_message"],
        )
        state = session.state
        assert (state.iterations[0].started_at, state.iterations[0].ended_at) == (
            state.started_at,
            state.ended_at,
        )

    def test_failure_after_pending_proposal_keeps_its_records(self) -> None:
        """§6.10/§6.3: a failed iteration keeps the adopted proposal's strategy and records."""
        clock = TrapClock(FakeClock(step=1))
        sink = HookSink()
        mission = mk.Mission(tools=[_ok(loss=1.0)], clock=clock, sinks=[sink])
        session = _start(mission, [threshold()])
        strategy = session.propose()
        pending = session.state.pending_proposal
        assert pending is not None
        _fail_in("observe", clock, sink)

        with pytest.raises(RuntimeError, match="clock failed"):
            session.step()

        failed = session.state.iterations[0]
        assert (strategy, "default", ["propose", "execute", "observe"], pending.phases[0]) == (
            failed.strategy,
            failed.strategy_source,
            [p.phase for p in failed.phases],
            failed.phases[0],
        )
        assert ("failed", "failed") == (failed.status, session.status)

    def test_history_and_report_stay_readable_after_failure(self) -> None:
        """§6.10: after a failure, history and report read back the failed iteration."""
        session, store, _, _ = self._failing("evaluate")
        summary = session.history()

        assert [
            ("succeeded", "continue"),
            ("succeeded", "continue"),
            ("failed", None),
        ] == [(row["status"], row["verdict"]) for row in summary]
        fresh = mk.Mission(store=store).session(SID)
        assert ("failed", session.report()) == (fresh.status, fresh.report())


class TestDeadlineShape:
    def test_deadline_iteration_full_shape(self) -> None:
        """§6.12: the deadline iteration runs no phase but decide and keeps the counter."""
        clock = FakeClock()
        sink = MemorySink()
        calls: list[int] = []

        def train() -> dict[str, Any]:
            calls.append(1)
            return {"metrics": {"loss": 1.0}}

        proposer = ScriptedProposer()
        mission = mk.Mission(tools={"train": train}, clock=clock, sinks=[sink], proposer=proposer)
        session = _start(
            mission, [threshold()], budget={"max_wall_clock_seconds": 30}, stagnation_threshold=50
        )
        session.step()
        session.step()
        before = session.state
        clock.advance(30)
        sink.clear()

        iteration = session.step()

        assert (
            2,
            "succeeded",
            None,
            None,
            (),
            None,
            None,
            (),
            False,
            False,
            1,
            "terminate",
            "max_wall_clock",
            None,
            None,
        ) == (
            iteration.iteration_index,
            iteration.status,
            iteration.strategy,
            iteration.strategy_source,
            iteration.tool_calls,
            iteration.script_call_log,
            iteration.observation,
            iteration.criteria_evaluation,
            iteration.checkpoint_evaluated,
            iteration.progress,
            iteration.no_progress_counter,
            iteration.verdict,
            iteration.verdict_reason,
            iteration.revision_rationale,
            iteration.sampling_status,
        )
        assert ([("decide", "succeeded")], 2, 2) == (
            [(p.phase, p.status) for p in iteration.phases],
            len(calls),
            len(proposer.contexts),
        )
        assert ["phase:decide:succeeded", "verdict:terminate/max_wall_clock"] == [
            event_label(e) for e in sink.events
        ]
        state = session.state
        assert (
            "terminated",
            1,
            before.criterion_progress,
            before.last_checkpoint_at,
            iteration.ended_at,
        ) == (
            state.status,
            state.no_progress_counter,
            state.criterion_progress,
            state.last_checkpoint_at,
            state.ended_at,
        )
        report = session.report()
        assert report is not None
        assert (30.0, list(state.iterations[1].criteria_evaluation)) == (
            report.active_seconds,
            list(report.final_criteria_evaluation),  # type: ignore[arg-type]
        )
