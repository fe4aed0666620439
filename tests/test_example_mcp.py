"""
The MCP server example (``docs/examples/mcp_server.py``) through a real in-memory MCP client.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import missionkit as mk
from missionkit.testing import FakeClock

pytest.importorskip("mcp")

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "mcp_server.py"
TOOLS = [
    "mission_abort",
    "mission_checkpoint",
    "mission_complete",
    "mission_history",
    "mission_iterate",
    "mission_list",
    "mission_resume",
    "mission_start",
    "mission_status",
]
START = {
    "directive": "Measure until the score reaches ten",
    "criteria": [
        {
            "criterion_id": "score",
            "kind": "metric_threshold",
            "required": True,
            "metric": "metrics.score",
            "op": ">=",
            "target": 10,
        }
    ],
    "budget": {"max_iterations": 5, "max_wall_clock_seconds": -1},
    "tool_allowlist": ["measure"],
    "session_id": "mission-mcp",
}

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mcp_server_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@asynccontextmanager
async def connect(server: Any) -> AsyncIterator[tuple[Call, Callable[[], Awaitable[Any]]]]:
    """
    An in-memory client session on *server*, for either major version of ``mcp``.
    """
    try:
        from mcp import Client
    except ImportError:  # mcp 1.x
        from mcp.shared.memory import create_connected_server_and_client_session

        async with create_connected_server_and_client_session(server._mcp_server) as session:
            yield session.call_tool, session.list_tools
    else:
        async with Client(server) as client:
            yield client.call_tool, client.list_tools


def text(result: Any) -> Any:
    failed = getattr(result, "is_error", None)  # mcp 2.x
    if failed is None:  # mcp 1.x
        failed = result.isError
    assert not failed, result
    [content] = result.content
    return json.loads(content.text)


@pytest.fixture(name="example")
def _example() -> ModuleType:
    return load_example()


@pytest.fixture(name="mission")
def _mission(example: ModuleType) -> mk.Mission:
    return mk.Mission(tools=[example.measure], clock=FakeClock(step=1))


class TestMcpExample:
    def test_tool_names(self, example: ModuleType, mission: mk.Mission) -> None:
        """The server lists exactly the nine mission_* tools."""

        async def main() -> list[str]:
            async with connect(example.build_server(mission)) as (_, list_tools):
                listing = await list_tools()
                return sorted(tool.name for tool in listing.tools)

        assert TOOLS == asyncio.run(main())
        assert frozenset(TOOLS) == mk.MISSION_CONTROL_TOOLS

    def test_start_iterate_status_complete(self, example: ModuleType, mission: mk.Mission) -> None:
        """start, iterate, status and complete answer with the JSON of the wrapper shape."""

        async def main() -> list[Any]:
            async with connect(example.build_server(mission)) as (call, _):
                started = text(await call("mission_start", START))
                iterated = text(
                    await call(
                        "mission_iterate",
                        {"session_id": "mission-mcp", "max_iterations_this_call": 2},
                    )
                )
                status = text(await call("mission_status", {"session_id": "mission-mcp"}))
                checkpoint = text(await call("mission_checkpoint", {"session_id": "mission-mcp"}))
                completed = text(
                    await call(
                        "mission_complete", {"session_id": "mission-mcp", "reason": "good_enough"}
                    )
                )
                history = text(await call("mission_history", {"session_id": "mission-mcp"}))
                listed = text(await call("mission_list", {}))
                return [started, iterated, status, checkpoint, completed, history, listed]

        started, iterated, status, checkpoint, completed, history, listed = asyncio.run(main())

        session = mission.session("mission-mcp")
        summaries = [it.summary().to_dict() for it in session.state.iterations]
        assert {"session_id": "mission-mcp", "status": "pending"} == started
        assert {"session_id": "mission-mcp", "iterations": summaries} == iterated
        assert ["continue", "continue"] == [s["verdict"] for s in iterated["iterations"]]
        assert ("running", 2) == (status["status"], len(status["iterations"]))
        assert {"verdict": "continue", "verdict_reason": "in_progress"} == checkpoint
        assert ("completed", "complete", "good_enough") == (
            completed["status"],
            completed["final_verdict"],
            completed["final_verdict_reason"],
        )
        assert json.loads(mk.to_json(session.report())) == completed
        assert summaries == history
        assert ["mission-mcp"] == [s["session_id"] for s in listed["sessions"]]

    def test_pause_resume_and_abort(self, example: ModuleType, mission: mk.Mission) -> None:
        """mission_abort pauses (null) or aborts (report); mission_resume answers null."""

        async def main() -> list[Any]:
            async with connect(example.build_server(mission)) as (call, _):
                await call("mission_start", START)
                sid = {"session_id": "mission-mcp"}
                paused = text(await call("mission_abort", {**sid, "pause": True}))
                refused = text(await call("mission_iterate", sid))
                resumed = text(await call("mission_resume", sid))
                aborted = text(await call("mission_abort", sid))
                return [paused, refused, resumed, aborted]

        paused, refused, resumed, aborted = asyncio.run(main())

        assert None is paused
        assert {"code": "session_paused", "details": {"session_id": "mission-mcp"}} == refused
        assert None is resumed
        assert ("terminated", "user_abort") == (aborted["status"], aborted["final_verdict_reason"])

    @pytest.mark.parametrize(
        ("tool", "arguments", "envelope"),
        [
            (
                "mission_status",
                {"session_id": "mission-unknown"},
                {"code": "session_not_found", "details": {"session_id": "mission-unknown"}},
            ),
            (
                "mission_iterate",
                {"session_id": "mission-unknown"},
                {"code": "session_not_found", "details": {"session_id": "mission-unknown"}},
            ),
            (
                "mission_complete",
                {"session_id": "../etc"},
                {
                    "code": "validation_error",
                    "details": {"field": "session_id", "reason": "session_id_invalid"},
                },
            ),
            (
                "mission_list",
                {"status": "bogus"},
                {
                    "code": "invalid_argument",
                    "details": {"argument": "status", "reason": "unknown_status"},
                },
            ),
            (
                "mission_start",
                {**START, "budget": {"max_iterations": 0, "max_wall_clock_seconds": -1}},
                None,
            ),
        ],
    )
    def test_error_envelopes(
        self,
        example: ModuleType,
        mission: mk.Mission,
        tool: str,
        arguments: dict[str, Any],
        envelope: dict[str, Any] | None,
    ) -> None:
        """missionkit errors come back as {"code", "details"} envelopes, not MCP errors."""

        async def main() -> Any:
            async with connect(example.build_server(mission)) as (call, _):
                return text(await call(tool, arguments))

        answer = asyncio.run(main())

        if envelope is None:
            assert "validation_error" == answer["code"]
            assert "budget" == answer["details"]["field"]
        else:
            assert envelope == answer
        assert [] == mission.sessions()
