"""
Expose a `missionkit.Mission` as the nine ``mission_*`` tools of an MCP server.

missionkit ships no transport; this example lets the ``mcp`` package (an
optional dependency: ``pip install "missionkit[mcp]"``) provide one. Every tool
returns a JSON text: the result on success, or the error envelope
``{"code": …, "details": {…}}`` of any `missionkit.MissionkitError`. Strict
JSON comes from `missionkit.to_json`, so non-finite metrics arrive as
``"NaN"``/``"Infinity"`` strings.

Arguments are annotated ``Any`` on purpose: missionkit validates every input
itself and answers with an envelope, so a model calling the tools sees one
error shape only.

Run it over stdio with ``python mcp_server.py [missions.db]``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import missionkit as mk
from missionkit.store import SQLiteStore

try:  # mcp >= 2 renamed FastMCP to MCPServer.
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # pragma: no cover - mcp 1.x
    from mcp.server.fastmcp import FastMCP as _Server  # type: ignore[no-redef,attr-defined,unused-ignore]


async def _envelope(call: Callable[[], Any]) -> str:
    """
    Run *call* (awaiting its result if needed) and render the outcome as JSON.
    """
    try:
        result = call()
        if inspect.isawaitable(result):
            result = await result
    except mk.MissionkitError as err:
        return mk.to_json(err.to_dict())
    return mk.to_json(result)


def build_server(mission: mk.Mission, name: str = "missionkit") -> Any:
    """
    Build an MCP server whose tools drive *mission*.

    Iterations, completion and abort use missionkit's async twins, so tools
    run on the server's event loop.
    """
    server = _Server(name)

    @server.tool(name="mission_start")
    async def mission_start(
        directive: Any,
        criteria: Any,
        budget: Any,
        tool_allowlist: Any = None,
        allow_all_tools: Any = False,
        checkpoint_cadence: Any = None,
        stagnation_threshold: Any = 3,
        allow_scripted_strategies: Any = False,
        use_sampling: Any = None,
        session_id: Any = None,
        metadata: Any = None,
    ) -> str:
        """Start a mission session; returns its id and status."""

        def start() -> dict[str, Any]:
            session = mission.start(
                directive=directive,
                criteria=criteria,
                budget=budget,
                tool_allowlist=tool_allowlist,
                allow_all_tools=allow_all_tools,
                checkpoint_cadence=checkpoint_cadence,
                stagnation_threshold=stagnation_threshold,
                allow_scripted_strategies=allow_scripted_strategies,
                use_sampling=use_sampling,
                session_id=session_id,
                metadata=metadata,
            )
            return {"session_id": session.id, "status": session.status}

        return await _envelope(start)

    @server.tool(name="mission_iterate")
    async def mission_iterate(session_id: Any, max_iterations_this_call: Any = 1) -> str:
        """Run up to max_iterations_this_call iterations; returns their summaries."""

        async def iterate() -> dict[str, Any]:
            summaries = await mission.aiterate(session_id, max_iterations_this_call)
            return {"session_id": session_id, "iterations": summaries}

        return await _envelope(iterate)

    @server.tool(name="mission_status")
    async def mission_status(session_id: Any) -> str:
        """The full session state, iterations included."""
        return await _envelope(lambda: mission.session(session_id).to_dict())

    @server.tool(name="mission_checkpoint")
    async def mission_checkpoint(session_id: Any) -> str:
        """Re-decide the latest iteration as of now, without writing anything."""
        return await _envelope(lambda: mission.session(session_id).checkpoint())

    @server.tool(name="mission_complete")
    async def mission_complete(session_id: Any, reason: Any = "forced_complete") -> str:
        """Complete the session now; returns the final report."""
        return await _envelope(lambda: mission.session(session_id).acomplete(reason))

    @server.tool(name="mission_abort")
    async def mission_abort(session_id: Any, pause: Any = False) -> str:
        """Abort the session (returns the final report), or pause it (returns null)."""
        return await _envelope(lambda: mission.session(session_id).aabort(pause=pause))

    @server.tool(name="mission_resume")
    async def mission_resume(session_id: Any) -> str:
        """Resume a paused session."""
        return await _envelope(lambda: mission.session(session_id).resume())

    @server.tool(name="mission_history")
    async def mission_history(session_id: Any, format: Any = "summary") -> str:
        """Iterations as summaries ("summary") or in full ("full")."""
        return await _envelope(lambda: mission.session(session_id).history(format))

    @server.tool(name="mission_list")
    async def mission_list(status: Any = None) -> str:
        """Every stored session, newest first, optionally filtered by status."""
        return await _envelope(lambda: {"sessions": mission.sessions(status)})

    return server


def measure(step: int = 1) -> dict[str, Any]:
    """Pretend to measure something; report a metric."""
    return {"metrics": {"score": float(step)}}


def main(argv: list[str] | None = None) -> None:
    """
    Serve a demo mission over stdio, persisting sessions in SQLite.
    """
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else "missions.db"
    with mk.Mission(tools=[measure], store=SQLiteStore(path)) as mission:
        build_server(mission).run()


if __name__ == "__main__":
    main()
