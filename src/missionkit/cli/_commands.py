"""
The command implementations behind the ``missionkit`` parser (SPEC §14.3).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from missionkit._jsonsafe import to_json
from missionkit._mission import Mission
from missionkit._session import Session
from missionkit.cli import _output as out
from missionkit.cli._spec import (
    Spec,
    import_callable,
    import_root,
    read_spec,
    resolve_plugins,
)
from missionkit.errors import MissionkitError
from missionkit.models import FinalReport, Iteration, SessionState, SessionSummary
from missionkit.store._listing import summary_of

__all__ = [
    "DEFAULT_AUDIT",
    "DEFAULT_STORE",
    "CliContext",
    "UsageError",
    "cmd_demo",
    "cmd_run",
    "cmd_scaffold",
    "cmd_sessions_history",
    "cmd_sessions_list",
    "cmd_sessions_replay",
    "cmd_sessions_report",
    "cmd_sessions_show",
    "cmd_validate",
]

DEFAULT_STORE = "missionkit.db"
DEFAULT_AUDIT = "missionkit-audit.jsonl"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TERMINATED = 3
EXIT_FAILED = 4
EXIT_STOPPED = 5


class UsageError(Exception):
    """
    A command-line usage error (exit code 2).

    Attributes:
        details: JSON data for the ``usage_error`` envelope.
    """

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = {"message": message, **details}


@attrs.frozen
class CliContext:
    """
    The global options every command sees.

    Attributes:
        output: ``table`` or ``json``.
        quiet: Suppress progress lines and notes on stderr.
        store: The SQLite database path (default ``./missionkit.db``).
        store_dir: A `JsonDirStore` root, overriding *store*.
    """

    output: str = "table"
    quiet: bool = False
    store: str | None = None
    store_dir: str | None = None

    def emit(self, value: Any, table: Callable[[], str]) -> None:
        """
        Print a result on stdout: strict JSON, or the text *table* builds.
        """
        if self.output == "json":
            out.write_json(value, sys.stdout)
        else:
            print(table(), file=sys.stdout)

    def note(self, text: str) -> None:
        """
        Print a human note on stderr unless quiet.
        """
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def open_store(self, *, create: bool) -> Any:
        """
        Open the configured store; read-only callers never create a missing one.
        """
        from missionkit.store import JsonDirStore, MemoryStore, SQLiteStore

        if self.store_dir is not None:
            return JsonDirStore(self.store_dir)
        path = self.store if self.store is not None else DEFAULT_STORE
        if not create and not os.path.exists(path):
            # A missing database reads as empty (also in a missing directory,
            # which SQLite could not even open).
            return MemoryStore()
        return SQLiteStore(path, create=create)


# ---------------------------------------------------------------- running sessions


def _summary(state: SessionState) -> SessionSummary:
    return summary_of(state, len(state.iterations))


def _exit_code(status: str) -> int:
    return {"completed": EXIT_OK, "terminated": EXIT_TERMINATED, "failed": EXIT_FAILED}.get(
        status, EXIT_STOPPED
    )


def _drive(ctx: CliContext, session: Session, max_iterations: int | None) -> int:
    """
    Step *session* until a terminal verdict or *max_iterations*, printing progress.
    """
    before = session.state
    threshold = before.stagnation_threshold
    count = len(before.criteria)
    started_at: datetime | None = before.started_at
    paused = before.paused_seconds

    def on_iteration(iteration: Iteration) -> None:
        nonlocal started_at
        if started_at is None:
            started_at = iteration.started_at
        active = max(0.0, (iteration.ended_at - started_at).total_seconds() - paused)
        ctx.note(out.progress_line(session.id, iteration, count, threshold, active))

    try:
        report = session.run(max_iterations=max_iterations, on_iteration=on_iteration)
    except Exception:
        if before.status == "failed" or session.status != "failed":
            raise
        report = session.report()
        if report is not None and report.failure is not None:
            failure = report.failure
            ctx.note(
                out.failure_line(
                    session.id,
                    failure.get("iteration_index"),
                    failure.get("phase"),
                    failure.get("error_message"),
                )
            )
    if report is None:
        state = session.state
        if state.status == "failed":  # pragma: no cover - a report is written with the failure
            return EXIT_FAILED
        summary = _summary(state)
        ctx.emit(summary, lambda: out.render_summary(summary))
        return _exit_code(state.status)
    _emit_report(ctx, report)
    return _exit_code(report.status)


def _emit_report(ctx: CliContext, report: FinalReport) -> None:
    ctx.emit(report, lambda: out.render_report(report))


def _audit_sinks(args: argparse.Namespace) -> list[Any]:
    from missionkit.audit import JsonlSink

    if getattr(args, "no_audit", False):
        return []
    return [JsonlSink(args.audit or DEFAULT_AUDIT)]


def _close(mission: Mission | None, store: Any, sinks: list[Any]) -> None:
    for sink in sinks:
        sink.close()
    if mission is not None:
        mission.close()
    if store is not None:
        store.close()


def _load(args: argparse.Namespace) -> Spec:
    return read_spec(args.spec)


def cmd_run(ctx: CliContext, args: argparse.Namespace) -> int:
    """
    ``run SPEC``: start (or ``--resume``) the spec's session and step it.
    """
    spec = _load(args)
    session_id = spec.start.get("session_id")
    if args.resume and session_id is None:
        raise UsageError("--resume needs a spec with a session_id", argument="--resume")
    with import_root(spec.path.parent):
        plugins = resolve_plugins(spec)
        store: Any = None
        sinks: list[Any] = []
        mission: Mission | None = None
        try:
            store = ctx.open_store(create=True)
            sinks = _audit_sinks(args)
            mission = Mission(
                tools=plugins.tools,
                store=store,
                sinks=sinks,
                proposer=plugins.proposer,
                sampler=plugins.sampler,
                tool_timeout=plugins.tool_timeout,
            )
            if args.resume:
                session = mission.session(session_id)
            else:
                session = mission.start(**spec.start)
            return _drive(ctx, session, args.max_iterations)
        finally:
            _close(mission, store, sinks)


def _normalised(state: SessionState, spec: Spec) -> dict[str, Any]:
    return {
        "directive": state.directive_text,
        "criteria": [c.to_dict() for c in state.criteria],
        "budget": state.budget.to_dict(),
        "tool_allowlist": list(state.tool_allowlist),
        "checkpoint_cadence": state.checkpoint_cadence.to_dict(),
        "stagnation_threshold": state.stagnation_threshold,
        "allow_scripted_strategies": state.allow_scripted_strategies,
        "use_sampling": state.sampling_mode if state.use_sampling else False,
        "session_id": spec.start.get("session_id"),
        "metadata": state.metadata,
    }


def _preview(text: str, limit: int = 72) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def cmd_validate(ctx: CliContext, args: argparse.Namespace) -> int:
    """
    ``validate SPEC``: every start check, nothing written.
    """
    spec = _load(args)
    with import_root(spec.path.parent):
        plugins = resolve_plugins(spec)
        store = ctx.open_store(create=False)
        mission: Mission | None = None
        try:
            mission = Mission(
                tools=plugins.tools,
                store=store,
                proposer=plugins.proposer,
                sampler=plugins.sampler,
                tool_timeout=plugins.tool_timeout,
            )
            state = mission.build_state(**spec.start)
        finally:
            _close(mission, store, [])
    normalised = _normalised(state, spec)
    ctx.emit(normalised, lambda: f"OK {_preview(state.directive_text)}")
    return EXIT_OK


def cmd_demo(ctx: CliContext, args: argparse.Namespace) -> int:
    """
    ``demo``: run the built-in mission of SPEC §14.4 on the configured store.
    """
    from missionkit.cli._demo import DEMO_SPEC, demo_proposer, evaluate

    store: Any = None
    sinks: list[Any] = []
    mission: Mission | None = None
    try:
        store = ctx.open_store(create=True)
        sinks = _audit_sinks(args)
        mission = Mission(tools=[evaluate], store=store, sinks=sinks, proposer=demo_proposer)
        session = mission.start(**DEMO_SPEC)
        code = _drive(ctx, session, args.max_iterations)
        if ctx.output == "table":
            ctx.note(
                f"inspect it with: missionkit sessions history {session.id}"
                f" | missionkit sessions replay {session.id}"
            )
        return code
    finally:
        _close(mission, store, sinks)


# ---------------------------------------------------------------- sessions


def _with_session(
    ctx: CliContext, session_id: str, action: Callable[[Mission, Session], int]
) -> int:
    store = ctx.open_store(create=False)
    mission = Mission(store=store)
    try:
        return action(mission, mission.session(session_id))
    finally:
        _close(mission, store, [])


_LIST_COLUMNS: list[out.Column] = [
    out.column("session_id"),
    out.column("status"),
    out.column("iteration_count", "iterations"),
    ("verdict", lambda r: _verdict(r.get("final_verdict"), r.get("final_verdict_reason"))),
    out.column("created_at"),
    out.column("updated_at"),
    out.column("error"),
]


def _verdict(label: Any, reason: Any) -> str | None:
    return None if label is None else f"{label}/{reason}"


def cmd_sessions_list(ctx: CliContext, args: argparse.Namespace) -> int:
    """
    ``sessions list``: stored sessions, unreadable ones with their error.
    """
    store = ctx.open_store(create=False)
    try:
        summaries = store.list_sessions(
            status=args.status,
            order_by=args.order_by,
            descending=not args.ascending,
            limit=args.limit,
            offset=args.offset,
        )
    finally:
        store.close()
    rows = [s.to_dict() for s in summaries]
    ctx.emit(summaries, lambda: out.render_table(rows, _LIST_COLUMNS))
    return EXIT_OK


def cmd_sessions_show(ctx: CliContext, args: argparse.Namespace) -> int:
    """
    ``sessions show ID``: the session without iterations, plus ``iteration_count``.
    """

    def show(mission: Mission, session: Session) -> int:
        state = session.state
        data = state.header_dict()
        data["iteration_count"] = len(state.iterations)
        ctx.emit(data, lambda: out.render_kv(data))
        return EXIT_OK

    return _with_session(ctx, args.session_id, show)


_HISTORY_COLUMNS: list[out.Column] = [
    out.column("iteration_index", "index"),
    out.column("status"),
    ("verdict", lambda r: _verdict(r.get("verdict"), r.get("verdict_reason"))),
    out.column("started_at"),
    out.column("ended_at"),
]


def _calls(row: Any) -> str:
    calls = row.get("tool_calls") or row.get("script_call_log") or []
    return ", ".join(
        f"{c.get('tool_name')}({to_json(c.get('args', {}))[1:-1]}):{c.get('status')}" for c in calls
    )


_FULL_COLUMNS: list[out.Column] = [
    *_HISTORY_COLUMNS[:3],
    ("calls", _calls),
    ("metrics", lambda r: (r.get("observation") or {}).get("metrics")),
    ("criteria", lambda r: " ".join(c["status"] for c in r.get("criteria_evaluation", []))),
]


def cmd_sessions_history(ctx: CliContext, args: argparse.Namespace) -> int:
    """
    ``sessions history ID``: `Session.history` in the chosen format.
    """

    def history(mission: Mission, session: Session) -> int:
        rows = session.history(args.format)
        columns = _HISTORY_COLUMNS if args.format == "summary" else _FULL_COLUMNS
        ctx.emit(rows, lambda: out.render_table(rows, columns))
        return EXIT_OK

    return _with_session(ctx, args.session_id, history)


def cmd_sessions_report(ctx: CliContext, args: argparse.Namespace) -> int:
    """
    ``sessions report ID``: the stored final report (``report_not_found`` before one exists).
    """

    def report(mission: Mission, session: Session) -> int:
        found = session.report()
        if found is None:
            raise MissionkitError(
                "report_not_found", {"session_id": session.id, "status": session.status}
            )
        _emit_report(ctx, found)
        return EXIT_OK

    return _with_session(ctx, args.session_id, report)


_REPLAY_COLUMNS: list[out.Column] = [
    out.column("iteration_index", "index"),
    ("verdict", lambda r: _verdict(r.get("verdict"), r.get("verdict_reason"))),
    ("phases", lambda r: " ".join(f"{p['phase']}:{p['status']}" for p in r.get("phases", []))),
    out.column("revision_rationale", "rationale"),
]


def cmd_sessions_replay(ctx: CliContext, args: argparse.Namespace) -> int:
    """
    ``sessions replay ID``: the iteration history rebuilt from the JSONL audit file.
    """
    from missionkit.audit import JsonlSink, replay_audit_entries
    from missionkit.validation import validate_session_id

    session_id = validate_session_id(args.session_id)
    path = args.audit or DEFAULT_AUDIT
    if not os.path.exists(path):
        ctx.note(f"warning: audit file {path} does not exist")
    try:
        entries = JsonlSink.read_entries(path)
    except OSError as exc:
        from missionkit.errors import StoreError

        raise StoreError(f"cannot read audit file {path!r}: {exc.strerror}") from exc
    rows = replay_audit_entries(session_id, entries)
    ctx.emit(rows, lambda: out.render_table(rows, _REPLAY_COLUMNS))
    return EXIT_OK


# ---------------------------------------------------------------- scaffolding


def cmd_scaffold(ctx: CliContext, args: argparse.Namespace) -> int:
    """
    ``scaffold-criteria``: starting criteria for a directive, sampled or templated.
    """
    from missionkit import scaffold
    from missionkit.errors import ScaffoldSamplingError

    allowlist = list(args.allowlist) if args.allowlist else None
    criteria: list[dict[str, Any]] | None = None
    if args.sampler is not None:
        with import_root(Path.cwd()):
            sampler = import_callable(args.sampler, "sampler")
        try:
            criteria = scaffold.scaffold_criteria_sampled(
                args.directive,
                sampler,
                allowlist=allowlist,
                max_criteria=args.max_criteria,
                retries=args.retries,
            )
        except ScaffoldSamplingError as err:
            print(
                f"warning: sampled scaffolding failed ({err.last_reason}); "
                "using deterministic templates",
                file=sys.stderr,
                flush=True,
            )
    if criteria is None:
        criteria = scaffold.scaffold_criteria(
            args.directive, allowlist=allowlist, max_criteria=args.max_criteria
        )
    text = to_json(criteria, indent=2)
    if args.output_file is not None:
        try:
            Path(args.output_file).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            from missionkit.errors import StoreError

            raise StoreError(f"cannot write {args.output_file!r}: {exc.strerror}") from exc
        ctx.note(f"wrote {len(criteria)} criteria to {args.output_file}")
    else:
        print(text, file=sys.stdout)
    return EXIT_OK
