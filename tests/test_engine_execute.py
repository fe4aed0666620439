"""
Execute and observe: tool outcomes, JSON safety, caps and the observation (SPEC §6.4, §6.5, §3.14).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest

import missionkit as mk
from fakes import ScriptedTool, event_criterion, make_mission, start, threshold
from missionkit.store import SQLiteStore
from missionkit.testing import ScriptedProposer


class Opaque:
    """
    An arbitrary object with no JSON form.
    """

    def __repr__(self) -> str:
        return "<Opaque>"


def _payload(entry: dict[str, Any]) -> Any:
    """
    The tool's value inside an annotated entry (a dict result is the entry minus markers).
    """
    if "result" in entry:
        return entry["result"]
    return {k: v for k, v in entry.items() if k not in ("_status", "tool_name")}


def _calls(*names: str, **args: Any) -> dict[str, Any]:
    return {"tool_calls": [{"tool_name": n, "args": dict(args)} for n in names]}


class TestToolOutcomes:
    def test_raising_tool_fails_the_call_only(self) -> None:
        """A raising tool gives a failed record with the exception text; later calls still run."""
        mission = make_mission(
            {"bad": ScriptedTool(RuntimeError("boom")), "good": ScriptedTool(default=1)},
            proposer=ScriptedProposer(_calls("bad", "good")),
        )
        session = start(mission, [event_criterion()])
        iteration = session.step()

        assert ["failed", "ok"] == [r.status for r in iteration.tool_calls]
        assert "RuntimeError: boom" == iteration.tool_calls[0].error_message
        assert [
            {"tool_name": "bad", "status": "failed", "error_message": "RuntimeError: boom"}
        ] == (
            list(iteration.observation.errors)  # type: ignore[union-attr]
        )
        assert "succeeded" == iteration.status

    def test_sync_tool_timeout(self) -> None:
        """A sync tool hanging past its timeout fails with the fixed timeout text."""
        mission = make_mission([mk.Tool(lambda: time.sleep(2), name="hang", timeout=0.2)])
        session = start(mission, [event_criterion()])
        started = time.monotonic()
        iteration = session.step()

        assert time.monotonic() - started < 1.5
        assert ("failed", "TimeoutError: tool call exceeded 0.2s") == (
            iteration.tool_calls[0].status,
            iteration.tool_calls[0].error_message,
        )

    def test_async_tool_timeout_uses_mission_default(self) -> None:
        """An async tool is cancelled after the Mission-wide timeout."""

        async def hang() -> None:
            await asyncio.sleep(2)

        mission = make_mission({"hang": hang}, tool_timeout=0.15)
        session = start(mission, [event_criterion()])
        iteration = session.step()

        assert "TimeoutError: tool call exceeded 0.15s" == iteration.tool_calls[0].error_message

    def test_async_tool_result_is_awaited(self) -> None:
        """An async tool's awaited value is the result."""

        async def value() -> dict[str, Any]:
            return {"metrics": {"loss": 0.0}}

        session = start(make_mission({"value": value}), [threshold()])

        assert "complete" == session.step().verdict

    def test_async_entry_point(self) -> None:
        """astep runs sync tools and records the same outcome."""
        session = start(
            make_mission({"t": ScriptedTool(default={"metrics": {"loss": 0}})}), [threshold()]
        )

        assert "complete" == asyncio.run(session.astep()).verdict

    def test_external_tool(self) -> None:
        """Proposing an external tool fails the call with the fixed text."""
        mission = make_mission(
            {"ext": None, "t": ScriptedTool()}, proposer=ScriptedProposer(_calls("ext"))
        )
        session = start(mission, [event_criterion()])
        record = session.step().tool_calls[0]

        assert (
            "LookupError: tool 'ext' is external; report its result with Session.observe()"
        ) == record.error_message

    def test_unregistered_tool(self) -> None:
        """A tool allowlisted by another Mission but not registered here fails the call."""
        first = make_mission({"gone": ScriptedTool(), "t": ScriptedTool()})
        start(first, [event_criterion()])
        second = make_mission(
            {"t": ScriptedTool()}, store=first.store, proposer=ScriptedProposer(_calls("gone"))
        )
        record = second.session(first.sessions()[0].session_id).step().tool_calls[0]

        assert ("failed", "LookupError: tool 'gone' is not registered with this Mission") == (
            record.status,
            record.error_message,
        )

    def test_not_allowlisted_is_skipped(self) -> None:
        """A registered but not allowlisted call is skipped without dispatch."""
        other = ScriptedTool()
        mission = make_mission(
            {"t": ScriptedTool(), "other": other}, proposer=ScriptedProposer(_calls("other", x=1))
        )
        session = start(mission, [event_criterion()], tool_allowlist=["t"])
        iteration = session.step()
        record = iteration.tool_calls[0]

        assert ("skipped_not_allowed", 0, None, None, {"x": 1}) == (
            record.status,
            record.duration_ms,
            record.error_message,
            record.result_summary,
            record.args,
        )
        assert [] == other.calls
        assert [
            {"tool_name": "other", "status": "skipped_not_allowed", "error_message": None}
        ] == list(iteration.observation.errors)  # type: ignore[union-attr]

    def test_mutating_tool_does_not_change_records(self) -> None:
        """A tool mutating its arguments changes neither the stored args nor the strategy."""

        def mutate(items: list[int]) -> None:
            items.append(99)

        mission = make_mission(
            {"mutate": mutate}, proposer=ScriptedProposer(_calls("mutate", items=[1]))
        )
        session = start(mission, [event_criterion()])
        iteration = session.step()

        assert {"items": [1]} == iteration.tool_calls[0].args
        assert {"items": [1]} == iteration.strategy.tool_calls[0].args  # type: ignore[union-attr]

    def test_duration_uses_the_injected_clock(self) -> None:
        """duration_ms is measured with the injected clock."""
        from missionkit.testing import FakeClock

        clock = FakeClock()

        def slow() -> None:
            clock.advance(1.2345)

        iteration = start(make_mission({"slow": slow}, clock=clock), [event_criterion()]).step()

        assert 1234 == iteration.tool_calls[0].duration_ms


class TestJsonSafety:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ({3, 1, 2}, [1, 2, 3]),
            (dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2025-01-02T03:04:05+00:00"),
            (Opaque(), {"_repr": "<Opaque>", "_type": "test_engine_execute.Opaque"}),
            ((1, "a"), [1, "a"]),
        ],
    )
    def test_non_json_results_are_converted(
        self, value: Any, expected: Any, tmp_path: Path
    ) -> None:
        """Sets, datetimes, tuples and arbitrary objects are stored as JSON data."""
        store = SQLiteStore(tmp_path / "s.db")
        mission = make_mission({"t": ScriptedTool(value)}, store=store)
        session = start(mission, [event_criterion()])
        iteration = session.step()

        assert expected == _payload(iteration.observation.tool_results[0])  # type: ignore[union-attr]
        reloaded = make_mission({"t": ScriptedTool()}, store=store).session(session.id)
        stored = reloaded.state.iterations[0].observation
        assert expected == _payload(stored.tool_results[0])  # type: ignore[union-attr]

    def test_huge_string_is_truncated(self, tmp_path: Path) -> None:
        """A 10 MB string is summarised at full size and stored as a truncation marker."""
        text = "x" * 10_000_000
        store = SQLiteStore(tmp_path / "s.db")
        mission = make_mission({"t": ScriptedTool(text)}, store=store)
        session = start(mission, [event_criterion()])
        iteration = session.step()
        encoded = json.dumps(text)

        assert {"type": "string", "bytes": len(encoded), "length": len(text)} == (
            iteration.tool_calls[0].result_summary
        )
        assert {
            "_status": "ok",
            "tool_name": "t",
            "result": {"_truncated": True, "bytes": len(encoded), "preview": encoded[:256]},
        } == iteration.observation.tool_results[0]  # type: ignore[union-attr]
        assert 1 == len(make_mission({}, store=store).session(session.id).state.iterations)

    def test_metrics_merge_from_untruncated_result(self) -> None:
        """Metrics are merged from the full result; an oversized metric value is capped alone."""
        big = "y" * 70_000
        mission = make_mission({"t": ScriptedTool({"metrics": {"loss": 0.5, "blob": big}})})
        iteration = start(mission, [threshold()]).step()
        observation = iteration.observation
        assert observation is not None

        assert 0.5 == observation.metrics["loss"]
        assert True is observation.metrics["blob"]["_truncated"]
        assert {"_truncated"} <= set(observation.tool_results[0]["result"])

    def test_garbage_metrics_and_events_are_ignored(self) -> None:
        """Non-dict metrics and non-list events are ignored without failing the step."""
        mission = make_mission({"t": ScriptedTool({"metrics": [1, 2], "events": "e"})})
        iteration = start(mission, [threshold()]).step()

        assert ({}, ()) == (iteration.observation.metrics, iteration.observation.events)  # type: ignore[union-attr]


class TestObservation:
    def test_spec_example(self) -> None:
        """The worked example of §6.5 builds exactly the specified observation."""
        tools = {
            "a": ScriptedTool({"metrics": {"a": 1}, "events": [{"event_name": "e1"}]}),
            "b": ScriptedTool(
                {"metrics": {"a": 2, "b": 3}, "events": [{"event_name": "e2"}, "junk"]}
            ),
            "c": ScriptedTool("plain"),
            "d": ScriptedTool({"_status": "error", "x": 1}),
        }
        mission = make_mission(tools, proposer=ScriptedProposer(_calls("a", "b", "c", "d")))
        observation = start(mission, [event_criterion()]).step().observation
        assert observation is not None

        assert {"a": 2, "b": 3} == observation.metrics
        assert [{"event_name": "e1"}, {"event_name": "e2"}] == list(observation.events)
        assert {"_status": "ok", "tool_name": "c", "result": "plain"} == observation.tool_results[2]
        assert {
            "_status": "ok",
            "x": 1,
            "_shadowed": {"_status": "error"},
            "tool_name": "d",
        } == observation.tool_results[3]
        assert [] == list(observation.errors)

    def test_failed_entries_are_annotated(self) -> None:
        """A failed call's entry carries its status and a null result."""
        mission = make_mission({"t": ScriptedTool(ValueError("v"))})
        observation = start(mission, [event_criterion()]).step().observation

        assert {"_status": "failed", "tool_name": "t", "result": None} == observation.tool_results[
            0
        ]  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        ("value", "summary"),
        [
            ({"k": 1, "j": [1]}, {"type": "object", "bytes": 15, "keys": ["k", "j"]}),
            ({"é": "日本"}, {"type": "object", "bytes": 15, "keys": ["é"]}),
            ({"s": "\ud800"}, {"type": "object", "bytes": 11, "keys": ["s"]}),
            ([1, 2, 3], {"type": "array", "bytes": 7, "length": 3}),
            ("héllo", {"type": "string", "bytes": 8, "length": 5}),
            (1.5, {"type": "number", "bytes": 3}),
            (True, {"type": "boolean", "bytes": 4}),
            (None, {"type": "null", "bytes": 4}),
        ],
    )
    def test_result_summary_shapes(self, value: Any, summary: dict[str, Any]) -> None:
        """result_summary has the type, UTF-8 size and keys or length of the result."""
        iteration = start(make_mission({"t": ScriptedTool(value)}), [event_criterion()]).step()

        assert summary == iteration.tool_calls[0].result_summary

    def test_summary_keeps_first_20_keys(self) -> None:
        """Only the first 20 keys appear in an object summary."""
        value = {f"k{i}": i for i in range(25)}
        iteration = start(make_mission({"t": ScriptedTool(value)}), [event_criterion()]).step()

        assert [f"k{i}" for i in range(20)] == iteration.tool_calls[0].result_summary["keys"]  # type: ignore[index]
