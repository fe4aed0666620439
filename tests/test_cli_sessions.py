"""
``missionkit sessions …``: listing, inspecting, reports and audit replay on every kind of store.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cli_support import error_line, run_cli, spec_dict, write_spec, write_tools


@pytest.fixture(name="workdir")
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(name="stored")
def _stored(workdir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """
    A database with a completed session ``done`` and a running session ``open``.
    """
    module = write_tools(workdir)
    run_cli(capsys, "run", str(write_spec(workdir, spec_dict(module, session_id="done"))))
    flat = spec_dict(module, session_id="open", tools={"score": f"{module}:flat"})
    run_cli(capsys, "run", str(write_spec(workdir, flat, "open.json")), "--max-iterations", "2")
    return workdir


class TestMissingAndBrokenStores:
    @pytest.mark.parametrize(
        "command",
        [
            ["sessions", "list"],
            ["sessions", "show", "x1"],
            ["sessions", "history", "x1"],
            ["sessions", "report", "x1"],
        ],
    )
    def test_missing_database_is_empty_and_not_created(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], command: list[str]
    ) -> None:
        """Read-only commands treat a missing database as empty and never create it."""
        code, out, err = run_cli(capsys, *command)

        if command[1] == "list":
            assert (0, "(none)\n") == (code, out)
        else:
            assert 1 == code
            assert ("session_not_found", {"session_id": "x1"}) == error_line(err)
        assert not (workdir / "missionkit.db").exists()

    def test_missing_database_in_missing_directory(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A --store path whose directory does not exist also lists as empty."""
        code, out, _ = run_cli(
            capsys, "--output", "json", "--store", "no/dir/x.db", "sessions", "list"
        )

        assert (0, []) == (code, json.loads(out))

    def test_corrupt_database_is_a_store_error(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A file that is not an SQLite database fails with store_error, exit 1, one line."""
        (workdir / "missionkit.db").write_bytes(b"this is not a database" * 100)

        code, out, err = run_cli(capsys, "sessions", "list")

        assert (1, "") == (code, out)
        assert "store_error" == error_line(err)[0]
        assert "Traceback" not in err

    def test_unknown_session_is_one_clear_line(
        self, stored: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unknown id prints exactly one error line naming the code, exit 1."""
        code, out, err = run_cli(capsys, "sessions", "show", "nope")

        assert (1, "") == (code, out)
        assert ['error: session_not_found {"session_id": "nope"}'] == err.splitlines()

    def test_malformed_session_id(self, stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A malformed id is rejected with session_id_invalid before any lookup."""
        code, _, err = run_cli(capsys, "sessions", "history", "../etc")

        assert 1 == code
        assert (
            "validation_error",
            {"field": "session_id", "reason": "session_id_invalid"},
        ) == error_line(err)

    def test_json_mode_envelope(self, stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """In json mode an unknown id prints the envelope JSON on stderr."""
        code, _, err = run_cli(capsys, "--output", "json", "sessions", "report", "nope")

        assert 1 == code
        assert {"code": "session_not_found", "details": {"session_id": "nope"}} == json.loads(err)


class TestList:
    def test_table(self, stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The table lists every session with status, iterations and verdict."""
        code, out, _ = run_cli(capsys, "sessions", "list")

        lines = out.splitlines()
        assert 0 == code
        assert lines[0].startswith("SESSION_ID")
        assert {"done", "open"} == {line.split()[0] for line in lines[1:]}
        assert "complete/criteria_met" in out

    def test_filters_and_order(self, stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--status, --order-by, --ascending, --limit and --offset pass through to the store."""

        def ids(*args: str) -> list[str]:
            code, out, _ = run_cli(capsys, "--output", "json", "sessions", "list", *args)
            assert 0 == code
            return [row["session_id"] for row in json.loads(out)]

        assert ["open"] == ids("--status", "running")
        assert ["done", "open"] == ids("--order-by", "session_id", "--ascending")
        assert ["open", "done"] == ids("--order-by", "session_id")
        assert ["done"] == ids("--order-by", "session_id", "--ascending", "--limit", "1")
        assert ["open"] == ids("--order-by", "session_id", "--ascending", "--offset", "1")

    def test_unreadable_sessions_are_listed_with_their_error(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A corrupt session in a JSON directory store is listed as unreadable with its error."""
        module = write_tools(workdir)
        spec = write_spec(workdir, spec_dict(module, session_id="c1"))
        assert 0 == run_cli(capsys, "--store-dir", "s", "run", str(spec))[0]
        (workdir / "s" / "c1" / "session.json").write_text("{broken", encoding="utf-8")

        code, out, _ = run_cli(capsys, "--output", "json", "--store-dir", "s", "sessions", "list")

        (row,) = json.loads(out)
        assert (0, "c1", "unreadable") == (code, row["session_id"], row["status"])
        assert row["error"].startswith("session_corrupt: ")


class TestShowHistoryReport:
    def test_show_omits_iterations_and_counts_them(
        self, stored: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """sessions show prints the session without iterations, plus iteration_count."""
        code, out, _ = run_cli(capsys, "--output", "json", "sessions", "show", "open")

        data = json.loads(out)
        assert (0, 2, "running") == (code, data["iteration_count"], data["status"])
        assert "iterations" not in data

        code, out, _ = run_cli(capsys, "sessions", "show", "open")
        assert 0 == code
        assert "iteration_count" in out

    def test_history_summary_and_full(
        self, stored: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """sessions history prints IterationSummary rows, or full iterations with --format full."""
        code, out, _ = run_cli(capsys, "--output", "json", "sessions", "history", "open")
        rows = json.loads(out)
        assert (0, [0, 1]) == (code, [r["iteration_index"] for r in rows])
        assert "observation" not in rows[0]

        code, out, _ = run_cli(
            capsys, "--output", "json", "sessions", "history", "open", "--format", "full"
        )
        assert {"score": 0.0} == json.loads(out)[0]["observation"]["metrics"]

        for fmt in ("summary", "full"):
            code, out, _ = run_cli(capsys, "sessions", "history", "open", "--format", fmt)
            assert 0 == code
            assert "continue/in_progress" in out

    def test_report_of_finished_session(
        self, stored: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """sessions report prints the stored final report."""
        code, out, _ = run_cli(capsys, "--output", "json", "sessions", "report", "done")

        assert (0, "criteria_met") == (code, json.loads(out)["final_verdict_reason"])
        assert 0 == run_cli(capsys, "sessions", "report", "done")[0]

    def test_report_of_running_session(
        self, stored: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A non-terminal session has no report: report_not_found, exit 1."""
        code, _, err = run_cli(capsys, "sessions", "report", "open")

        assert 1 == code
        assert ("report_not_found", {"session_id": "open", "status": "running"}) == error_line(err)


class TestReplay:
    def test_replay_rebuilds_the_history(
        self, stored: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """sessions replay rebuilds each iteration's phases and verdict from the audit file."""
        code, out, _ = run_cli(capsys, "--output", "json", "sessions", "replay", "open")

        rows = json.loads(out)
        assert 0 == code
        assert [(0, "continue"), (1, "continue")] == [
            (r["iteration_index"], r["verdict"]) for r in rows
        ]
        assert ["propose", "execute", "observe", "evaluate", "decide"] == [
            p["phase"] for p in rows[0]["phases"]
        ]

        code, out, _ = run_cli(capsys, "sessions", "replay", "done")
        assert 0 == code
        assert "complete/criteria_met" in out

    def test_replay_with_explicit_audit_path(
        self, stored: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--audit reads another file; lines that are not JSON are skipped with a warning."""
        source = (stored / "missionkit-audit.jsonl").read_text(encoding="utf-8")
        (stored / "copy.jsonl").write_text("garbage\n" + source, encoding="utf-8")

        code, out, err = run_cli(
            capsys, "--output", "json", "sessions", "replay", "done", "--audit", "copy.jsonl"
        )

        assert (0, 1) == (code, len(json.loads(out)))
        assert "skipped 1 invalid line(s)" in err

    def test_replay_without_audit_file(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A missing audit file replays as empty, with a warning."""
        code, out, err = run_cli(capsys, "--output", "json", "sessions", "replay", "x1")

        assert (0, []) == (code, json.loads(out))
        assert "does not exist" in err


class TestLogging:
    def test_main_leaves_logging_as_it_found_it(
        self, stored: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """main() removes its stderr handler and restores the logger level when it returns."""
        logger = logging.getLogger("missionkit")
        before = (list(logger.handlers), logger.level)

        run_cli(capsys, "--debug", "sessions", "list")

        assert before == (list(logger.handlers), logger.level)
