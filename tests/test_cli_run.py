"""
``missionkit run`` and ``missionkit validate``: spec files, imports, outcomes and exit codes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cli_support import error_line, run_cli, spec_dict, write_spec, write_tools
from missionkit.audit import JsonlSink


@pytest.fixture(name="workdir")
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(name="module")
def _module(workdir: Path) -> str:
    return write_tools(workdir)


def _stored_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT session_id FROM sessions")]


class TestRunOutcomes:
    def test_completed_session_exits_0_and_prints_the_report(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A spec whose criterion is met ends completed: exit 0, report and progress printed."""
        spec = write_spec(workdir, spec_dict(module, session_id="done"))

        code, out, err = run_cli(capsys, "run", str(spec))

        assert 0 == code
        assert "complete/criteria_met" in out
        assert (
            "[done] iteration 0: complete/criteria_met | criteria met 1/1"
            " | no-progress 0/3 | active " in err
        )
        assert ["done"] == _stored_ids(workdir / "missionkit.db")

    def test_json_output_is_the_final_report(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With --output json, stdout is the strict-JSON final report."""
        spec = write_spec(workdir, spec_dict(module))

        code, out, _ = run_cli(capsys, "--output", "json", "run", str(spec))

        report = json.loads(out)
        assert 0 == code
        assert ("completed", "complete", "criteria_met") == (
            report["status"],
            report["final_verdict"],
            report["final_verdict_reason"],
        )

    def test_terminated_session_exits_3(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unreachable criterion with a two-iteration budget ends terminated: exit 3."""
        spec = write_spec(
            workdir,
            spec_dict(
                module,
                tools={"score": f"{module}:flat"},
                budget={"max_iterations": 2, "max_wall_clock_seconds": 60},
            ),
        )

        code, out, err = run_cli(capsys, "--output", "json", "run", str(spec))

        assert 3 == code
        assert ("terminate", "max_iterations") == (
            json.loads(out)["final_verdict"],
            json.loads(out)["final_verdict_reason"],
        )
        assert "iteration 1: terminate/max_iterations" in err

    def test_failed_iteration_exits_4_with_a_failure_line(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A proposer that raises fails the session: exit 4, a failure line, no traceback."""
        spec = write_spec(
            workdir, spec_dict(module, session_id="f1", proposer=f"{module}:boom_proposer")
        )

        code, out, err = run_cli(capsys, "run", str(spec))

        assert 4 == code
        assert "[f1] iteration 0: failed in propose: RuntimeError: proposer exploded" in err
        assert "Traceback" not in err
        assert "failed" in out

    def test_max_iterations_stops_early_with_exit_5(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--max-iterations before a terminal verdict exits 5 and prints the session summary."""
        spec = write_spec(workdir, spec_dict(module, tools={"score": f"{module}:flat"}))

        code, out, err = run_cli(
            capsys, "--output", "json", "run", str(spec), "--max-iterations", "2"
        )

        summary = json.loads(out)
        assert 5 == code
        assert ("running", 2) == (summary["status"], summary["iteration_count"])
        assert 2 == err.count("continue/in_progress")

    def test_quiet_suppresses_progress(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--quiet prints no progress lines."""
        spec = write_spec(workdir, spec_dict(module))

        code, _, err = run_cli(capsys, "--quiet", "run", str(spec))

        assert (0, "") == (code, err)

    def test_global_options_after_the_command(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Global options are also accepted after the command name."""
        spec = write_spec(workdir, spec_dict(module))

        code, out, err = run_cli(capsys, "run", str(spec), "--output", "json", "--quiet")

        assert (0, "") == (code, err)
        assert "completed" == json.loads(out)["status"]

    def test_interrupt_exits_130_and_stores_no_iteration(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Ctrl-C during an iteration exits 130 and leaves the stored session untouched."""
        spec = write_spec(
            workdir,
            spec_dict(module, session_id="int1", proposer=f"{module}:interrupting_proposer"),
        )

        code, _, err = run_cli(capsys, "run", str(spec))
        assert 130 == code
        assert "interrupted" in err

        code, out, _ = run_cli(capsys, "--output", "json", "sessions", "show", "int1")
        assert (0, 0, "pending") == (
            code,
            json.loads(out)["iteration_count"],
            json.loads(out)["status"],
        )

    def test_json_dir_store(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--store-dir keeps sessions in a JsonDirStore directory instead of SQLite."""
        spec = write_spec(workdir, spec_dict(module, session_id="js1"))

        code, _, _ = run_cli(capsys, "--store-dir", "sessions", "run", str(spec))

        assert 0 == code
        assert (workdir / "sessions" / "js1" / "session.json").is_file()
        assert not (workdir / "missionkit.db").exists()

    def test_duplicate_session_id_is_a_validation_error(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Starting a spec's session_id a second time fails with duplicate_session_id, exit 1."""
        spec = write_spec(workdir, spec_dict(module, session_id="dup"))
        assert 0 == run_cli(capsys, "run", str(spec))[0]

        code, _, err = run_cli(capsys, "run", str(spec))

        assert 1 == code
        assert (
            "validation_error",
            {"field": "session_id", "reason": "duplicate_session_id"},
        ) == error_line(err)


class TestResume:
    def test_resume_continues_the_stored_session(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--resume steps the stored session named by the spec's session_id."""
        spec = write_spec(
            workdir, spec_dict(module, session_id="r1", tools={"score": f"{module}:flat"})
        )
        assert 5 == run_cli(capsys, "run", str(spec), "--max-iterations", "1")[0]

        code, out, err = run_cli(
            capsys, "--output", "json", "run", str(spec), "--resume", "--max-iterations", "2"
        )

        assert 5 == code
        assert 3 == json.loads(out)["iteration_count"]
        assert "[r1] iteration 1: " in err
        assert "[r1] iteration 2: " in err

    def test_resume_without_session_id_is_a_usage_error(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--resume with a spec lacking session_id exits 2."""
        spec = write_spec(workdir, spec_dict(module))

        code, _, err = run_cli(capsys, "run", str(spec), "--resume")

        assert 2 == code
        assert "usage_error" == error_line(err)[0]

    def test_resume_of_unknown_session(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--resume of a session that is not stored fails with session_not_found, exit 1."""
        spec = write_spec(workdir, spec_dict(module, session_id="ghost"))

        code, _, err = run_cli(capsys, "run", str(spec), "--resume")

        assert 1 == code
        assert ("session_not_found", {"session_id": "ghost"}) == error_line(err)

    def test_resume_of_finished_session(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Resuming a completed session is refused with session_terminal, exit 1."""
        spec = write_spec(workdir, spec_dict(module, session_id="fin"))
        assert 0 == run_cli(capsys, "run", str(spec))[0]

        code, _, err = run_cli(capsys, "run", str(spec), "--resume")

        assert 1 == code
        assert "session_terminal" == error_line(err)[0]

    def test_resume_of_failed_session(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Resuming a failed session is refused with session_failed, exit 1, not 4."""
        spec = write_spec(
            workdir, spec_dict(module, session_id="bad", proposer=f"{module}:boom_proposer")
        )
        assert 4 == run_cli(capsys, "run", str(spec))[0]

        code, _, err = run_cli(capsys, "run", str(spec), "--resume")

        assert 1 == code
        assert "session_failed" == error_line(err)[0]


class TestAuditFile:
    def test_run_writes_the_default_audit_file(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """run appends audit events to ./missionkit-audit.jsonl by default."""
        spec = write_spec(workdir, spec_dict(module, session_id="a1"))

        run_cli(capsys, "run", str(spec))

        entries = JsonlSink.read_entries(workdir / "missionkit-audit.jsonl")
        assert {"a1"} == {e["mission_session_id"] for e in entries}
        assert "mission_verdict_event" in {e["event_type"] for e in entries}

    def test_custom_audit_path_and_no_audit(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--audit PATH writes elsewhere; --no-audit writes nothing."""
        run_cli(capsys, "run", str(write_spec(workdir, spec_dict(module))), "--audit", "a.jsonl")
        run_cli(capsys, "run", str(write_spec(workdir, spec_dict(module))), "--no-audit")

        assert (workdir / "a.jsonl").stat().st_size > 0
        assert not (workdir / "missionkit-audit.jsonl").exists()

    def test_audit_and_no_audit_are_exclusive(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--audit together with --no-audit is a usage error."""
        spec = write_spec(workdir, spec_dict(module))

        assert 2 == run_cli(capsys, "run", str(spec), "--audit", "x", "--no-audit")[0]


class TestSpecErrors:
    @pytest.mark.parametrize(
        ("name", "content", "reason"),
        [
            ("spec.json", "{not json", "invalid_json"),
            ("spec.toml", "directive = ", "invalid_toml"),
            ("spec.json", "[1, 2]", "not_a_dict"),
            ("spec.toml", b"\xff\xfe = 1", "invalid_toml"),
        ],
    )
    def test_malformed_files(
        self,
        workdir: Path,
        capsys: pytest.CaptureFixture[str],
        name: str,
        content: str | bytes,
        reason: str,
    ) -> None:
        """Unparseable or non-object spec files fail with {field: spec, reason}, exit 1."""
        path = workdir / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")

        for command in ("run", "validate"):
            code, _, err = run_cli(capsys, command, str(path))
            assert 1 == code
            assert ("validation_error", {"field": "spec", "reason": reason}) == error_line(err)

    def test_missing_file_is_unreadable(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A spec path that cannot be read fails with reason unreadable and names the cause."""
        code, _, err = run_cli(capsys, "run", "nowhere.json")

        assert 1 == code
        assert ("validation_error", {"field": "spec", "reason": "unreadable"}) == error_line(err)
        assert "cause: FileNotFoundError" in err

    def test_unknown_key(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A top-level key that is neither a start keyword nor a plug-in key is rejected."""
        spec = write_spec(workdir, spec_dict(module, directivee="typo"))

        code, _, err = run_cli(capsys, "validate", str(spec))

        assert 1 == code
        assert (
            "validation_error",
            {"field": "spec", "subfield": "directivee", "reason": "unknown_key"},
        ) == error_line(err)

    def test_invalid_criteria(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Criteria errors use the validator's details (here an unknown kind)."""
        bad = {"criterion_id": "c", "kind": "vibes", "required": True}
        spec = write_spec(workdir, spec_dict(module, criteria=[bad]))

        code, _, err = run_cli(capsys, "run", str(spec))

        assert 1 == code
        assert {"field": "criteria", "criterion_id": "c", "reason": "kind_invalid"}.items() <= (
            error_line(err)[1].items()
        )
        assert not (workdir / "missionkit-audit.jsonl").exists()

    def test_tool_that_cannot_be_imported(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unimportable tool fails with import_failed, exit 1, no traceback, the cause named."""
        spec = write_spec(workdir, spec_dict(module, tools={"score": "no_such_module_xyz:score"}))

        code, out, err = run_cli(capsys, "run", str(spec))

        assert (1, "") == (code, out)
        assert (
            "validation_error",
            {"field": "tools", "subfield": "no_such_module_xyz:score", "reason": "import_failed"},
        ) == error_line(err)
        assert "ModuleNotFoundError" in err
        assert "Traceback" not in err

    @pytest.mark.parametrize(
        ("key", "value", "field", "reason"),
        [
            ("tools", ["{m}:NOT_CALLABLE"], "tools", "not_callable"),
            ("tools", ["{m}:missing_attr"], "tools", "import_failed"),
            ("tools", ["{m}"], "tools", "import_failed"),
            ("proposer", "{m}:nope", "proposer", "import_failed"),
            ("proposer", "{m}:NOT_CALLABLE", "proposer", "not_callable"),
            ("sampler", "{m}:NOT_CALLABLE", "sampler", "not_callable"),
        ],
    )
    def test_bad_import_paths(
        self,
        workdir: Path,
        module: str,
        capsys: pytest.CaptureFixture[str],
        key: str,
        value: str | list[str],
        field: str,
        reason: str,
    ) -> None:
        """Import paths that do not resolve to a callable name their field, path and reason."""
        filled = (
            [v.format(m=module) for v in value]
            if isinstance(value, list)
            else value.format(m=module)
        )
        spec = write_spec(workdir, spec_dict(module, **{key: filled}))
        path = filled[0] if isinstance(filled, list) else filled

        code, _, err = run_cli(capsys, "validate", str(spec))

        assert 1 == code
        assert (
            "validation_error",
            {"field": field, "subfield": path, "reason": reason},
        ) == error_line(err)

    def test_tools_of_the_wrong_shape(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """tools that is neither a list nor a table is invalid_value."""
        spec = write_spec(workdir, spec_dict(module, tools="oops"))

        code, _, err = run_cli(capsys, "validate", str(spec))

        assert 1 == code
        assert ("validation_error", {"field": "tools", "reason": "invalid_value"}) == error_line(
            err
        )

    def test_json_mode_error_is_the_envelope(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """In json mode the error on stderr is the envelope itself."""
        (workdir / "spec.json").write_text("{", encoding="utf-8")

        code, out, err = run_cli(capsys, "--output", "json", "validate", "spec.json")

        assert (1, "") == (code, out)
        assert {
            "code": "validation_error",
            "details": {"field": "spec", "reason": "invalid_json"},
        } == json.loads(err)

    def test_debug_prints_the_traceback(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--debug adds the traceback before the error line."""
        code, _, err = run_cli(capsys, "--debug", "validate", "missing.json")

        assert 1 == code
        assert "Traceback" in err


class TestValidate:
    def test_table_prints_ok_and_writes_nothing(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """validate prints OK with a directive preview and creates no database or audit file."""
        spec = write_spec(workdir, spec_dict(module))

        code, out, _ = run_cli(capsys, "validate", str(spec))

        assert (0, "OK Push the score to at least 0.5\n") == (code, out)
        assert not (workdir / "missionkit.db").exists()
        assert not (workdir / "missionkit-audit.jsonl").exists()

    def test_json_prints_the_normalised_spec(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """validate --output json prints the normalised start spec with defaults filled in."""
        spec = write_spec(workdir, spec_dict(module, directive="  padded  "))

        code, out, _ = run_cli(capsys, "--output", "json", "validate", str(spec))

        data = json.loads(out)
        assert 0 == code
        assert {
            "directive": "padded",
            "budget": {"max_iterations": 5, "max_wall_clock_seconds": 60},
            "tool_allowlist": ["score"],
            "checkpoint_cadence": {"kind": "every_iteration"},
            "stagnation_threshold": 3,
            "allow_scripted_strategies": False,
            "use_sampling": False,
            "session_id": None,
            "metadata": {},
        }.items() <= data.items()

    def test_toml_spec(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """TOML spec files are read with tomllib, as in the specification's example."""
        (workdir / "spec.toml").write_text(
            f"""
directive = "Drive the score up"
tool_allowlist = ["score"]
stagnation_threshold = 5
tools = {{ score = "{module}:score" }}
budget = {{ max_iterations = 20, max_wall_clock_seconds = 600 }}

[[criteria]]
criterion_id = "score"
kind = "metric_threshold"
required = true
metric = "metrics.score"
op = ">="
target = 0.5
""",
            encoding="utf-8",
        )

        assert 0 == run_cli(capsys, "validate", "spec.toml")[0]
        assert 0 == run_cli(capsys, "run", "spec.toml")[0]

    def test_duplicate_session_id_is_checked_against_the_store(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """validate reports duplicate_session_id when the configured store has the id."""
        spec = write_spec(workdir, spec_dict(module, session_id="v1"))
        assert 0 == run_cli(capsys, "validate", str(spec))[0]
        run_cli(capsys, "run", str(spec))

        code, _, err = run_cli(capsys, "validate", str(spec))

        assert 1 == code
        assert "duplicate_session_id" == error_line(err)[1]["reason"]

    def test_use_sampling_without_sampler(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """use_sampling without a sampler in the spec is no_sampler_configured."""
        spec = write_spec(workdir, spec_dict(module, use_sampling=True))

        code, _, err = run_cli(capsys, "validate", str(spec))

        assert 1 == code
        assert {"field": "use_sampling", "reason": "no_sampler_configured"} == error_line(err)[1]

    def test_spec_directory_is_importable(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Tool modules next to the spec import even when the current directory is elsewhere."""
        specs = workdir / "specs"
        specs.mkdir()
        module = write_tools(specs)
        spec = write_spec(specs, spec_dict(module))
        elsewhere = workdir / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)

        assert 0 == run_cli(capsys, "validate", str(spec))[0]
