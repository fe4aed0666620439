"""
The testing helpers of missionkit.testing (SPEC §2.7): FakeClock, ScriptedSampler, ScriptedProposer.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from missionkit import Mission, Strategy, ToolCall
from missionkit.testing import FakeClock, ScriptedProposer, ScriptedSampler

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


class TestFakeClock:
    def test_default_start_and_no_step(self) -> None:
        """By default the clock stands still at 2025-01-01T00:00:00+00:00."""
        clock = FakeClock()

        assert [START, START, START] == [clock(), clock(), clock()]

    def test_step_advances_after_each_call(self) -> None:
        """Each call returns the current time, then advances it by step seconds."""
        clock = FakeClock(step=1.5)

        times = [clock(), clock(), clock()]

        assert [START + dt.timedelta(seconds=1.5 * i) for i in range(3)] == times
        assert START + dt.timedelta(seconds=4.5) == clock.now

    def test_now_peeks(self) -> None:
        """now shows the next value without advancing."""
        clock = FakeClock(step=10)

        assert clock.now == clock.now == START
        assert START == clock()
        assert START + dt.timedelta(seconds=10) == clock.now

    def test_advance(self) -> None:
        """advance moves the clock forward by the given seconds."""
        clock = FakeClock()

        clock.advance(90)
        clock.advance(0.25)

        assert START + dt.timedelta(seconds=90.25) == clock()

    def test_set(self) -> None:
        """set jumps to a datetime or an ISO string."""
        clock = FakeClock()

        clock.set("2030-06-01T12:00:00+00:00")
        first = clock()
        clock.set(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))

        assert dt.datetime(2030, 6, 1, 12, tzinfo=dt.UTC) == first
        assert dt.datetime(2020, 1, 1, tzinfo=dt.UTC) == clock()

    @pytest.mark.parametrize(
        "start",
        [
            dt.datetime(2025, 1, 1),
            "2025-01-01T00:00:00",
            "2025-01-01T02:00:00+02:00",
            dt.datetime(2024, 12, 31, 19, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        ],
    )
    def test_naive_and_offset_times_become_utc(self, start: Any) -> None:
        """Naive times are read as UTC and offsets are converted to UTC."""
        clock = FakeClock(start)

        now = clock()

        assert START == now
        assert dt.UTC == now.tzinfo

    def test_set_naive_is_utc(self) -> None:
        """set with a naive datetime reads it as UTC."""
        clock = FakeClock()

        clock.set(dt.datetime(2026, 1, 1))

        assert dt.datetime(2026, 1, 1, tzinfo=dt.UTC) == clock()
        assert dt.UTC == clock().tzinfo

    def test_thread_safe(self) -> None:
        """Concurrent calls each get a distinct tick; none is lost or repeated."""
        clock = FakeClock(step=1)
        seen: list[dt.datetime] = []
        lock = threading.Lock()

        def worker() -> None:
            local = [clock() for _ in range(250)]
            with lock:
                seen.extend(local)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert [START + dt.timedelta(seconds=i) for i in range(2000)] == sorted(seen)
        assert START + dt.timedelta(seconds=2000) == clock.now

    def test_instances_are_independent(self) -> None:
        """Two clocks share no state."""
        a, b = FakeClock(step=1), FakeClock(step=1)

        a()
        a.advance(5)

        assert START == b()

    def test_drives_mission_timestamps(self) -> None:
        """A Mission stamps new sessions with the fake time."""

        def probe() -> dict[str, Any]:
            return {}

        clock = FakeClock("2031-01-01T00:00:00+00:00")
        state = (
            Mission(tools=[probe], clock=clock)
            .start(
                directive="d",
                criteria=[
                    {"criterion_id": "c", "kind": "event", "required": True, "event_name": "e"}
                ],
                budget={"max_iterations": 1, "max_wall_clock_seconds": -1},
                tool_allowlist=["probe"],
            )
            .state
        )

        assert dt.datetime(2031, 1, 1, tzinfo=dt.UTC) == state.created_at


class TestScriptedSampler:
    def test_returns_responses_in_order_and_records_prompts(self) -> None:
        """Responses come back in order; every prompt is recorded."""
        sampler = ScriptedSampler("one", "two")

        assert ["one", "two"] == [sampler("p1"), sampler("p2")]
        assert ["p1", "p2"] == sampler.prompts

    def test_exceptions_are_raised(self) -> None:
        """An exception instance in the queue is raised in its turn, then the queue continues."""
        boom = ValueError("backend down")
        sampler = ScriptedSampler(boom, "after")

        with pytest.raises(ValueError) as info:
            sampler("p1")

        assert boom is info.value
        assert "after" == sampler("p2")
        assert ["p1", "p2"] == sampler.prompts

    def test_exhausted(self) -> None:
        """An empty queue raises RuntimeError and still records the prompt."""
        sampler = ScriptedSampler("only")
        sampler("p1")

        with pytest.raises(RuntimeError, match=r"^ScriptedSampler exhausted$"):
            sampler("p2")
        with pytest.raises(RuntimeError, match=r"^ScriptedSampler exhausted$"):
            ScriptedSampler()("p")
        assert ["p1", "p2"] == sampler.prompts

    def test_identity_attributes(self) -> None:
        """backend_name and model_id are both 'scripted'."""
        sampler = ScriptedSampler()

        assert ("scripted", "scripted") == (sampler.backend_name, sampler.model_id)

    def test_instances_are_independent(self) -> None:
        """Two samplers keep separate queues and prompt lists."""
        a, b = ScriptedSampler("a"), ScriptedSampler("b")

        assert ("a", "b") == (a("x"), b("y"))
        assert (["x"], ["y"]) == (a.prompts, b.prompts)


class TestScriptedProposer:
    def test_queue_then_none(self) -> None:
        """Queued strategies (None included) come back in order, then None forever."""
        first = Strategy(tool_calls=(ToolCall("probe"),))
        second = {"tool_calls": [{"tool_name": "probe"}]}
        proposer = ScriptedProposer(first, None, second)
        contexts = [object() for _ in range(5)]

        results = [proposer(ctx) for ctx in contexts]  # type: ignore[arg-type]

        assert [first, None, second, None, None] == results
        assert contexts == proposer.contexts

    def test_records_contexts_from_a_mission(self) -> None:
        """Used by a Mission, it receives one ProposalContext per proposal; None falls back."""
        calls: list[int] = []

        def probe(n: int = 0) -> dict[str, Any]:
            calls.append(n)
            return {"metrics": {"n": n}}

        proposer = ScriptedProposer(Strategy(tool_calls=(ToolCall("probe", {"n": 7}),)))
        session = Mission(tools=[probe], proposer=proposer, clock=FakeClock(step=1)).start(
            directive="d",
            criteria=[{"criterion_id": "c", "kind": "event", "required": True, "event_name": "e"}],
            budget={"max_iterations": 5, "max_wall_clock_seconds": -1},
            tool_allowlist=["probe"],
        )

        first = session.step()
        second = session.step()

        assert ("proposer", "default") == (first.strategy_source, second.strategy_source)
        assert 7 == calls[0]
        assert [session.id, session.id] == [ctx.session_id for ctx in proposer.contexts]
        assert [0, 1] == [ctx.iteration_index for ctx in proposer.contexts]
