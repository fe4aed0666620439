"""
Conformance tests for the command-line interface in depth (SPEC §14).

These cover rules the other CLI test modules do not assert exactly: the global options, every
spec-file key and error, the JSON shapes of every command, the exit codes of every outcome and the
demo mission.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import missionkit as mk
from cli_support import error_line, run_cli, spec_dict, write_spec
from missionkit.scaffold import scaffold_criteria
from missionkit.store import SQLiteStore
from spec_key_orders import (
    ITERATION_KEYS,
    ITERATION_SUMMARY_KEYS,
    SESSION_KEYS,
    SESSION_SUMMARY_KEYS,
)

TOOLS_SOURCE = """
import logging
import time
from pathlib import Path


def score(value: float = 1.0) -> dict:
    return {"metrics": {"score": value}}


def flat() -> dict:
    return {"metrics": {"score": 0.0}}


def slow() -> dict:
    time.sleep(1.0)
    return {"metrics": {"score": 1.0}}


def noisy() -> dict:
    log = logging.getLogger("missionkit.conformance")
    log.warning("tool-warning-marker")
    log.info("tool-info-marker")
    return {"metrics": {"score": 1.0}}


def interrupt_once(ctx):
    marker = Path("interrupted-once.txt")
    if not marker.exists():
        marker.write_text("x", encoding="utf-8")
        raise KeyboardInterrupt
    return {"tool_calls": [{"tool_name": "score", "args": {"value": 0.9}}]}


def picky_proposer(ctx):
    return {"tool_calls": [{"tool_name": "score", "args": {"value": 0.75}}]}


def bad_proposer(ctx):
    raise ValueError("no idea what to do")


def sampler(prompt):
    return "not json"


def raising_sampler(prompt):
    raise RuntimeError("backend down")


def fail_second(ctx):
    if ctx.iterations:
        raise LookupError("second proposal impossible")
    return {"tool_calls": [{"tool_name": "score", "args": {"value": 0.0}}]}


def slow_once(value: float = 1.0) -> dict:
    marker = Path("slow-started.txt")
    if not marker.exists():
        marker.write_text("x", encoding="utf-8")
        time.sleep(30)
    return {"metrics": {"score": value}}


NOT_CALLABLE = 42
"""

BROKEN_MODULE = "raise RuntimeError('this module refuses to import')\n"


@pytest.fixture(name="workdir")
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(name="module")
def _module(workdir: Path) -> str:
    name = f"deep_tools_{uuid.uuid4().hex[:12]}"
    (workdir / f"{name}.py").write_text(TOOLS_SOURCE, encoding="utf-8")
    return name


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code, out, _ = run_cli(capsys, "--output", "json", *args)
    return code, _strict(out)


def _process(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "missionkit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ----------------------------------------------------------------------------- §14.1


class TestGlobalOptions:
    def test_store_path_selects_the_sqlite_database(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.1: --store PATH keeps sessions in that SQLite file instead of ./missionkit.db.
        """
        spec = write_spec(workdir, spec_dict(module, session_id="st1"))

        assert 0 == run_cli(capsys, "--store", "custom.db", "--quiet", "run", str(spec))[0]

        store = SQLiteStore(workdir / "custom.db")
        try:
            assert ["st1"] == [s.session_id for s in store.list_sessions()]
        finally:
            store.close()
        assert not (workdir / "missionkit.db").exists()
        code, rows = _json(capsys, "--store", "custom.db", "sessions", "list")
        assert (0, ["st1"]) == (code, [r["session_id"] for r in rows])
        assert (0, []) == _json(capsys, "sessions", "list")

    @pytest.mark.parametrize(
        "command",
        [
            ["sessions", "list"],
            ["sessions", "show", "js1"],
            ["sessions", "history", "js1"],
            ["sessions", "history", "js1", "--format", "full"],
            ["sessions", "report", "js1"],
            ["sessions", "replay", "js1"],
            ["validate", "other.json"],
        ],
    )
    def test_json_output_is_to_json_with_indent_2(
        self,
        workdir: Path,
        module: str,
        capsys: pytest.CaptureFixture[str],
        command: list[str],
    ) -> None:
        """
        SPEC §14.1: every json result on stdout is exactly to_json(value, indent=2) plus a newline.
        """
        run_cli(
            capsys, "--quiet", "run", str(write_spec(workdir, spec_dict(module, session_id="js1")))
        )
        write_spec(workdir, spec_dict(module, session_id="js2"), "other.json")

        code, out, _ = run_cli(capsys, "--output", "json", *command)

        assert 0 == code
        assert mk.to_json(_strict(out), indent=2) + "\n" == out

    def test_missionkit_warnings_reach_stderr_and_info_does_not(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.1: the CLI logs missionkit records at WARNING to stderr, and leaves the root logger
        alone.
        """
        module = f"noisy_{uuid.uuid4().hex[:10]}"
        (workdir / f"{module}.py").write_text(TOOLS_SOURCE, encoding="utf-8")
        spec = write_spec(
            workdir,
            spec_dict(module, tool_allowlist=["noisy"], tools={"noisy": f"{module}:noisy"}),
        )
        root = logging.getLogger()
        before = (list(root.handlers), root.level)

        code, out, err = run_cli(capsys, "--quiet", "run", str(spec))

        assert 0 == code
        assert "tool-warning-marker" in err
        assert "tool-info-marker" not in err
        assert "tool-warning-marker" not in out
        assert before == (list(root.handlers), root.level)

    def test_environment_variables_are_ignored(
        self,
        workdir: Path,
        module: str,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """
        SPEC §14.1: the CLI reads no environment variables, so MISSIONKIT_* settings change nothing.
        """
        for name, value in {
            "MISSIONKIT_STORE": "env.db",
            "MISSIONKIT_STORE_DIR": "envdir",
            "MISSIONKIT_OUTPUT": "json",
            "MISSIONKIT_AUDIT": "env.jsonl",
            "MISSIONKIT_QUIET": "1",
        }.items():
            monkeypatch.setenv(name, value)
        spec = write_spec(workdir, spec_dict(module))

        code, out, err = run_cli(capsys, "run", str(spec))

        assert 0 == code
        assert err.startswith("[")
        with pytest.raises(ValueError):
            json.loads(out)
        assert (workdir / "missionkit.db").is_file()
        assert (workdir / "missionkit-audit.jsonl").is_file()
        for name in ("env.db", "envdir", "env.jsonl"):
            assert not (workdir / name).exists()

    def test_validate_and_replay_never_create_an_explicit_store(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.1: read-only commands leave a missing --store database uncreated.
        """
        spec = write_spec(workdir, spec_dict(module, session_id="ro1"))

        validated = run_cli(capsys, "--store", "ro.db", "validate", str(spec))
        replayed = run_cli(capsys, "--store", "ro.db", "--quiet", "sessions", "replay", "ro1")

        assert (0, 0) == (validated[0], replayed[0])
        assert not (workdir / "ro.db").exists()


# ----------------------------------------------------------------------------- §14.2


class TestSpecFiles:
    @pytest.mark.parametrize("name", ["spec.cfg", "spec", "spec.yaml"])
    def test_any_non_toml_name_is_parsed_as_json(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str], name: str
    ) -> None:
        """
        SPEC §14.2: a file not named .toml is parsed as JSON whatever its extension.
        """
        spec = write_spec(workdir, spec_dict(module), name)

        assert (0, "OK Push the score to at least 0.5\n") == run_cli(capsys, "validate", str(spec))[
            :2
        ]

    def test_toml_text_in_a_json_named_file_is_invalid_json(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2: only the .toml suffix selects tomllib; TOML in spec.json is invalid_json.
        """
        (workdir / "spec.json").write_text('directive = "x"\n', encoding="utf-8")

        code, _, err = run_cli(capsys, "validate", "spec.json")

        assert 1 == code
        assert ("validation_error", {"field": "spec", "reason": "invalid_json"}) == error_line(err)

    def test_invalid_utf8_json_is_invalid_json(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2: bytes that are not UTF-8 JSON are reported as invalid_json, exit 1.
        """
        (workdir / "spec.json").write_bytes(b'{"directive": "\xff\xfe"}')

        code, _, err = run_cli(capsys, "run", "spec.json")

        assert 1 == code
        assert ("validation_error", {"field": "spec", "reason": "invalid_json"}) == error_line(err)

    def test_directory_is_unreadable(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2: a spec path that is a directory cannot be read: reason unreadable, exit 1.
        """
        (workdir / "specdir").mkdir()

        code, out, err = run_cli(capsys, "--output", "json", "validate", "specdir")

        assert (1, "") == (code, out)
        assert {
            "code": "validation_error",
            "details": {"field": "spec", "reason": "unreadable"},
        } == (_strict(err))

    def test_unknown_key_in_toml(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """
        SPEC §14.2: an unknown top-level TOML key is {field: spec, subfield: key, reason:
        unknown_key}.
        """
        (workdir / "spec.toml").write_text(
            'directive = "d"\ntool_timeout = 5\n\n[tool_table]\nx = 1\n', encoding="utf-8"
        )

        code, _, err = run_cli(capsys, "run", "spec.toml")

        assert 1 == code
        assert (
            "validation_error",
            {"field": "spec", "subfield": "tool_table", "reason": "unknown_key"},
        ) == error_line(err)
        assert not (workdir / "missionkit.db").exists()

    def test_every_start_and_mission_key_is_accepted(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2: all eleven Mission.start keys and the four Mission keys reach validation.
        """
        spec = write_spec(
            workdir,
            spec_dict(
                module,
                tool_allowlist=["score"],
                allow_all_tools=False,
                checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
                stagnation_threshold=7,
                allow_scripted_strategies=True,
                use_sampling="every_iteration",
                session_id="all-keys_1",
                metadata={"team": "blue", "n": 3},
                tool_timeout=4.5,
                proposer=f"{module}:picky_proposer",
                sampler=f"{module}:sampler",
            ),
        )

        code, data = _json(capsys, "validate", str(spec))

        assert 0 == code
        assert {
            "tool_allowlist": ["score"],
            "checkpoint_cadence": {"kind": "every_n_iterations", "n": 2},
            "stagnation_threshold": 7,
            "allow_scripted_strategies": True,
            "use_sampling": "every_iteration",
            "session_id": "all-keys_1",
            "metadata": {"team": "blue", "n": 3},
        }.items() <= data.items()

    def test_tools_table_names_each_tool_by_its_key(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2: in the table form of tools the key is the tool's name, in table order.
        """
        data = spec_dict(
            module,
            allow_all_tools=True,
            tools={"alpha": f"{module}:score", "beta": f"{module}:flat"},
        )
        del data["tool_allowlist"]
        spec = write_spec(workdir, data)

        code, normalised = _json(capsys, "validate", str(spec))
        assert (0, ["alpha", "beta"]) == (code, normalised["tool_allowlist"])

        one = write_spec(
            workdir,
            spec_dict(module, tool_allowlist=["alpha"], tools={"alpha": f"{module}:score"}),
            "one.json",
        )
        code, out, _ = run_cli(capsys, "--quiet", "--output", "json", "run", str(one))
        report = _strict(out)
        assert (0, "alpha") == (code, report["iterations"][0]["tool_calls"][0]["tool_name"])

    def test_tool_timeout_bounds_each_call(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2/§6.4: tool_timeout is the Mission's default per-call timeout.
        """
        spec = write_spec(
            workdir,
            spec_dict(
                module,
                tool_allowlist=["slow"],
                tools=[f"{module}:slow"],
                tool_timeout=0.1,
                budget={"max_iterations": 1, "max_wall_clock_seconds": 60},
            ),
        )

        code, out, _ = run_cli(capsys, "--quiet", "--output", "json", "run", str(spec))

        (call,) = _strict(out)["iterations"][0]["tool_calls"]
        assert 3 == code
        assert ("failed", "TimeoutError: tool call exceeded 0.1s") == (
            call["status"],
            call["error_message"],
        )

    @pytest.mark.parametrize("value", [0, -1, "soon", math.inf])
    def test_invalid_tool_timeout(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str], value: Any
    ) -> None:
        """
        SPEC §14.2/§4.13: a tool_timeout that is not a positive finite number exits 1.
        """
        spec = workdir / "spec.json"
        text = json.dumps(spec_dict(module, tool_timeout=value))
        spec.write_text(text, encoding="utf-8")

        code, _, err = run_cli(capsys, "validate", str(spec))

        assert 1 == code
        assert (
            "validation_error",
            {"field": "tool_timeout", "reason": "must_be_positive_number"},
        ) == error_line(err)

    @pytest.mark.parametrize("key", ["sampler", "proposer", "tools"])
    def test_module_failing_at_import_is_import_failed(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str], key: str
    ) -> None:
        """
        SPEC §14.2: a module that raises while importing is import_failed for its field, exit 1.
        """
        broken = f"broken_{uuid.uuid4().hex[:10]}"
        (workdir / f"{broken}.py").write_text(BROKEN_MODULE, encoding="utf-8")
        path = f"{broken}:thing"
        value: Any = [path] if key == "tools" else path

        code, out, err = run_cli(
            capsys, "validate", str(write_spec(workdir, spec_dict(module, **{key: value})))
        )

        assert (1, "") == (code, out)
        assert (
            "validation_error",
            {"field": key, "subfield": path, "reason": "import_failed"},
        ) == error_line(err)
        assert "Traceback" not in err

    def test_spec_directory_comes_first_on_sys_path(self, tmp_path: Path) -> None:
        """
        SPEC §14.2: the spec's directory is prepended, so its module shadows one in the cwd.
        """
        name = f"shadow_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(
            "def score():\n    return {'metrics': {'score': 0.0}}\n", encoding="utf-8"
        )
        specs = tmp_path / "specs"
        specs.mkdir()
        (specs / f"{name}.py").write_text(
            "def score():\n    return {'metrics': {'score': 1.0}}\n", encoding="utf-8"
        )
        write_spec(
            specs,
            spec_dict(name, budget={"max_iterations": 1, "max_wall_clock_seconds": 60}),
        )

        done = _process(tmp_path, "--quiet", "--output", "json", "run", "specs/spec.json")

        assert 0 == done.returncode, done.stderr
        assert {"score": 1.0} == _strict(done.stdout)["iterations"][0]["observation"]["metrics"]


# ----------------------------------------------------------------------------- §14.3 run


class TestRun:
    def test_stopped_early_prints_a_session_summary(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: run stopped by --max-iterations prints the SessionSummary keys in order.
        """
        spec = write_spec(
            workdir, spec_dict(module, session_id="se1", tools={"score": f"{module}:flat"})
        )

        code, out, _ = run_cli(
            capsys, "--quiet", "--output", "json", "run", str(spec), "--max-iterations", "1"
        )

        summary = _strict(out)
        assert 5 == code
        assert SESSION_SUMMARY_KEYS == list(summary)
        assert ("se1", "running", 1, None, None, None) == (
            summary["session_id"],
            summary["status"],
            summary["iteration_count"],
            summary["final_verdict"],
            summary["final_verdict_reason"],
            summary["error"],
        )

    def test_failed_session_prints_the_report_with_its_failure(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3/§14.5: a failed iteration exits 4 and stdout is the failed report.
        """
        spec = write_spec(
            workdir, spec_dict(module, session_id="fl1", proposer=f"{module}:bad_proposer")
        )

        code, out, err = run_cli(capsys, "--output", "json", "run", str(spec))

        report = _strict(out)
        assert 4 == code
        assert ("failed", None, None, 1) == (
            report["status"],
            report["final_verdict"],
            report["final_verdict_reason"],
            report["iterations_run"],
        )
        assert {
            "iteration_index": 0,
            "phase": "propose",
            "error_message": "ValueError: no idea what to do",
        } == report["failure"]
        assert ["[fl1] iteration 0: failed in propose: ValueError: no idea what to do"] == [
            line for line in err.splitlines() if line.startswith("[")
        ]

    def test_paused_by_someone_else_exits_5(
        self,
        workdir: Path,
        module: str,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """
        SPEC §14.5/§6.17: a session paused by another caller between steps stops run with exit 5.
        """
        spec = write_spec(
            workdir, spec_dict(module, session_id="pz1", tools={"score": f"{module}:flat"})
        )
        db = workdir / "missionkit.db"

        class PausingStderr:
            def __init__(self, inner: Any) -> None:
                self.inner = inner
                self.paused = False

            def write(self, text: str) -> int:
                if "[pz1] iteration 0:" in text and not self.paused:
                    self.paused = True
                    store = SQLiteStore(db)
                    try:
                        mk.Mission(store=store).session("pz1").abort(pause=True)
                    finally:
                        store.close()
                return int(self.inner.write(text))

            def __getattr__(self, name: str) -> Any:
                return getattr(self.inner, name)

        capsys.readouterr()
        monkeypatch.setattr(sys, "stderr", PausingStderr(sys.stderr))

        code, out, err = run_cli(capsys, "--output", "json", "run", str(spec))

        summary = _strict(out)
        assert 5 == code
        assert ("paused", 1) == (summary["status"], summary["iteration_count"])
        assert 1 == err.count("[pz1] iteration")

    def test_run_resume_of_a_paused_session_is_a_session_error(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.5/§6.17: run --resume refuses a paused session like step(): session_paused, exit 1.
        """
        spec = write_spec(
            workdir, spec_dict(module, session_id="pz2", tools={"score": f"{module}:flat"})
        )
        assert 5 == run_cli(capsys, "--quiet", "run", str(spec), "--max-iterations", "1")[0]
        store = SQLiteStore(workdir / "missionkit.db")
        try:
            mk.Mission(store=store).session("pz2").abort(pause=True)
        finally:
            store.close()

        code, out, err = run_cli(capsys, "run", str(spec), "--resume")

        assert (1, "") == (code, out)
        name, details = error_line(err)
        assert ("session_paused", "pz2") == (name, details["session_id"])

    def test_interrupted_run_resumes_from_the_stored_state(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.5: after Ctrl-C (exit 130) run --resume continues and stores the iteration once.
        """
        spec = write_spec(
            workdir, spec_dict(module, session_id="ir1", proposer=f"{module}:interrupt_once")
        )

        assert 130 == run_cli(capsys, "run", str(spec))[0]
        code, out, err = run_cli(capsys, "--output", "json", "run", str(spec), "--resume")

        report = _strict(out)
        assert 0 == code
        assert (1, [0], {"value": 0.9}) == (
            report["iterations_run"],
            [it["iteration_index"] for it in report["iterations"]],
            report["iterations"][0]["tool_calls"][0]["args"],
        )
        assert err.startswith("[ir1] iteration 0: complete/criteria_met | criteria met 1/1 |")

    def test_corrupt_database_fails_run_with_store_error(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.5: a store error while running exits 1 with store_error, no traceback.
        """
        (workdir / "missionkit.db").write_bytes(b"definitely not sqlite" * 200)
        spec = write_spec(workdir, spec_dict(module))

        code, out, err = run_cli(capsys, "run", str(spec))

        assert (1, "") == (code, out)
        assert "store_error" == error_line(err)[0]
        assert "Traceback" not in err


# ----------------------------------------------------------------------------- §14.3 validate


class TestValidate:
    def test_duplicate_id_in_a_json_dir_store(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: validate checks duplicate_session_id against the configured --store-dir.
        """
        spec = write_spec(workdir, spec_dict(module, session_id="vd1"))
        assert 0 == run_cli(capsys, "--quiet", "--store-dir", "sd", "run", str(spec))[0]

        default = run_cli(capsys, "validate", str(spec))
        code, _, err = run_cli(capsys, "--store-dir", "sd", "validate", str(spec))

        assert 0 == default[0]
        assert 1 == code
        assert (
            "validation_error",
            {"field": "session_id", "reason": "duplicate_session_id"},
        ) == error_line(err)


# ----------------------------------------------------------------------------- §14.3 sessions


@pytest.fixture(name="three")
def _three(workdir: Path, module: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """
    Sessions ``b2`` (completed), ``a1`` (running, 2 iterations) and ``c3`` (failed), in that order.
    """
    run_cli(capsys, "--quiet", "run", str(write_spec(workdir, spec_dict(module, session_id="b2"))))
    flat = spec_dict(module, session_id="a1", tools={"score": f"{module}:flat"})
    run_cli(
        capsys, "--quiet", "run", str(write_spec(workdir, flat, "a1.json")), "--max-iterations", "2"
    )
    bad = spec_dict(module, session_id="c3", proposer=f"{module}:bad_proposer")
    run_cli(capsys, "--quiet", "run", str(write_spec(workdir, bad, "c3.json")))
    return workdir


class TestSessions:
    def test_list_default_order_is_newest_created_first(
        self, three: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: sessions list defaults to newest created_at first; --ascending reverses it.
        """
        code, rows = _json(capsys, "sessions", "list")
        assert (0, ["c3", "a1", "b2"]) == (code, [r["session_id"] for r in rows])
        assert [SESSION_SUMMARY_KEYS] * 3 == [list(r) for r in rows]

        _, rows = _json(capsys, "sessions", "list", "--ascending")
        assert ["b2", "a1", "c3"] == [r["session_id"] for r in rows]

        _, rows = _json(capsys, "sessions", "list", "--order-by", "updated_at", "--limit", "2")
        assert ["c3", "a1"] == [r["session_id"] for r in rows]

    def test_list_status_unreadable(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3/§11.7: --status unreadable lists only the unreadable sessions.
        """
        for sid in ("ok1", "bad1"):
            spec = write_spec(workdir, spec_dict(module, session_id=sid), f"{sid}.json")
            assert 0 == run_cli(capsys, "--quiet", "--store-dir", "s", "run", str(spec))[0]
        (workdir / "s" / "bad1" / "session.json").write_text("{", encoding="utf-8")

        code, rows = _json(capsys, "--store-dir", "s", "sessions", "list", "--status", "unreadable")
        _, readable = _json(capsys, "--store-dir", "s", "sessions", "list", "--status", "completed")

        assert (0, [("bad1", "unreadable")]) == (
            code,
            [(r["session_id"], r["status"]) for r in rows],
        )
        assert ["ok1"] == [r["session_id"] for r in readable]

    def test_show_keys_are_the_session_state_without_iterations(
        self, three: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3/§3.11: sessions show is the SessionState keys minus iterations plus
        iteration_count.
        """
        code, data = _json(capsys, "sessions", "show", "a1")

        assert 0 == code
        assert set(SESSION_KEYS[:-1]) | {"iteration_count"} == set(data)
        assert [k for k in data if k != "iteration_count"] == SESSION_KEYS[:-1]
        assert (2, "running", 3) == (data["iteration_count"], data["status"], data["revision"])

    def test_history_keys(self, three: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """
        SPEC §14.3/§3.9/§3.12: history rows are IterationSummary or full Iteration keys in order.
        """
        _, summary = _json(capsys, "sessions", "history", "a1")
        _, full = _json(capsys, "sessions", "history", "a1", "--format", "full")

        assert [ITERATION_SUMMARY_KEYS] * 2 == [list(r) for r in summary]
        assert [ITERATION_KEYS] * 2 == [list(r) for r in full]

    def test_history_of_a_failed_session(
        self, three: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: the failed iteration appears in history with status failed and a null verdict.
        """
        code, rows = _json(capsys, "sessions", "history", "c3")

        assert (0, [(0, "failed", None, None)]) == (
            code,
            [(r["iteration_index"], r["status"], r["verdict"], r["verdict_reason"]) for r in rows],
        )

    def test_report_of_a_failed_session(
        self, three: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3/§12.1: a failed session has a report, printed with exit 0.
        """
        code, report = _json(capsys, "sessions", "report", "c3")

        assert (0, "failed", "propose") == (code, report["status"], report["failure"]["phase"])

    def test_unreadable_session_commands_exit_1(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.5/§11.7: show/history/report of a corrupt session fail with session_corrupt, exit
        1.
        """
        spec = write_spec(workdir, spec_dict(module, session_id="cx1"))
        run_cli(capsys, "--quiet", "--store-dir", "s", "run", str(spec))
        (workdir / "s" / "cx1" / "session.json").write_text("[]", encoding="utf-8")

        for action in ("show", "history", "report"):
            code, out, err = run_cli(
                capsys, "--output", "json", "--store-dir", "s", "sessions", action, "cx1"
            )
            envelope = _strict(err)
            assert (1, "", "session_corrupt", "cx1") == (
                code,
                out,
                envelope["code"],
                envelope["details"]["session_id"],
            )

    def test_replay_of_an_invalid_or_unknown_id(
        self, three: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: replay validates the id (exit 1) and an id absent from the audit file replays as
        [].
        """
        code, _, err = run_cli(capsys, "sessions", "replay", ".hidden")
        assert 1 == code
        assert (
            "validation_error",
            {"field": "session_id", "reason": "session_id_invalid"},
        ) == error_line(err)

        assert (0, []) == _json(capsys, "sessions", "replay", "nobody")


# ----------------------------------------------------------------------------- §14.3 scaffold


class TestScaffold:
    def test_json_mode_and_output_file_give_the_same_array(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: scaffold-criteria prints the same JSON array in either output mode or to a file.
        """
        args = ["scaffold-criteria", "--directive", "Cut the latency", "--max-criteria", "2"]
        expected = scaffold_criteria("Cut the latency", max_criteria=2)

        table = run_cli(capsys, *args)
        as_json = run_cli(capsys, "--output", "json", *args)
        to_file = run_cli(capsys, "--quiet", *args, "--output-file", "out.json")

        assert (0, expected) == (table[0], _strict(table[1]))
        assert (0, expected) == (as_json[0], _strict(as_json[1]))
        assert (0, "", "") == to_file
        assert expected == _strict((workdir / "out.json").read_text("utf-8"))

    def test_max_criteria_below_one_is_one(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3/§13.1: --max-criteria 0 is treated as 1.
        """
        code, out, _ = run_cli(
            capsys,
            "scaffold-criteria",
            "--directive",
            "Find the host",
            "--allowlist",
            "ping",
            "--allowlist",
            "dig",
            "--max-criteria",
            "0",
        )

        assert (0, ["ping_called"]) == (code, [c["criterion_id"] for c in _strict(out)])

    def test_not_callable_sampler(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: a --sampler that is not callable is not_callable, exit 1.
        """
        code, out, err = run_cli(
            capsys, "scaffold-criteria", "--directive", "x", "--sampler", f"{module}:NOT_CALLABLE"
        )

        assert (1, "") == (code, out)
        assert (
            "validation_error",
            {"field": "sampler", "subfield": f"{module}:NOT_CALLABLE", "reason": "not_callable"},
        ) == error_line(err)

    def test_raising_sampler_falls_back_with_transport_error(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3/§13.2: a sampler that raises gives the transport_error warning and the templates.
        """
        code, out, err = run_cli(
            capsys,
            "scaffold-criteria",
            "--directive",
            "Raise accuracy",
            "--sampler",
            f"{module}:raising_sampler",
        )

        assert (0, scaffold_criteria("Raise accuracy")) == (code, _strict(out))
        assert (
            "warning: sampled scaffolding failed (transport_error); using deterministic templates\n"
            == err
        )


# ----------------------------------------------------------------------------- §14.3/§14.4 demo


class TestDemo:
    def test_demo_mission_matches_the_specification(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.4: the demo's criteria, budget, threshold, tool output and final evaluation.
        """
        code, report = _json(capsys, "--quiet", "demo")

        assert 0 == code
        assert [
            ("loss_target", "metric_threshold", True),
            ("evaluated", "tool_call_succeeded", True),
            ("ever_close", "predicate", False),
        ] == [(c["criterion_id"], c["kind"], c["required"]) for c in report["criteria"]]
        loss, evaluated, close = report["criteria"]
        assert ("metrics.loss", "<=", 0.01) == (loss["metric"], loss["op"], loss["target"])
        assert ("evaluate", 3) == (evaluated["tool_name"], evaluated["min_count"])
        assert (
            "min(r['metrics']['loss'] for r in obs['tool_results'] if r['_status'] == 'ok') < 1.0"
            == close["expression"]
        )
        assert {"max_iterations": 25, "max_wall_clock_seconds": 60} == report["budget"]
        assert (5, ["evaluate"]) == (report["stagnation_threshold"], report["tool_allowlist"])
        for iteration in report["iterations"]:
            x = iteration["tool_calls"][0]["args"]["x"]
            assert {"loss": (x - 3.7) ** 2, "x": x} == iteration["observation"]["metrics"]
        assert ["met", "met", "met"] == [r["status"] for r in report["final_criteria_evaluation"]]

    def test_demo_uses_the_configured_json_dir_store(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: demo runs on the configured store, here --store-dir, not ./missionkit.db.
        """
        code, report = _json(capsys, "--quiet", "--store-dir", "demo-sessions", "demo")

        assert 0 == code
        assert (workdir / "demo-sessions" / report["session_id"] / "session.json").is_file()
        assert not (workdir / "missionkit.db").exists()
        _, rows = _json(capsys, "--store-dir", "demo-sessions", "sessions", "list")
        assert [report["session_id"]] == [r["session_id"] for r in rows]

    def test_demo_session_is_inspectable_afterwards(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: after demo, sessions history and report read the demo session from
        ./missionkit.db.
        """
        code, report = _json(capsys, "--quiet", "demo")
        sid = report["session_id"]

        _, history = _json(capsys, "sessions", "history", sid)
        _, stored = _json(capsys, "sessions", "report", sid)

        assert 0 == code
        assert list(range(9)) == [r["iteration_index"] for r in history]
        assert ("complete", "criteria_met") == (
            history[-1]["verdict"],
            history[-1]["verdict_reason"],
        )
        assert report == stored


# ----------------------------------------------------------------------------- §14.5


class TestExitCodes:
    @pytest.mark.parametrize(
        "argv",
        [
            ["run", "spec.json", "--max-iterations", "0"],
            ["run", "spec.json", "--max-iterations", "-3"],
            ["run", "spec.json", "--frobnicate"],
            ["validate"],
            ["validate", "a.json", "b.json"],
            ["sessions", "list", "--order-by", "name"],
            ["sessions", "list", "--limit", "x"],
            ["sessions", "report"],
            ["sessions", "replay"],
            ["sessions", "frob", "x1"],
            ["scaffold-criteria", "--directive", "x", "--max-criteria", "many"],
            ["demo", "--resume"],
            ["--quiet", "--output"],
            ["demo", "--no-audit"],
            ["demo", "--audit", "x.jsonl"],
            ["sessions", "list", "--store", "a.db", "--store-dir", "d"],
            ["--store", "a.db", "sessions", "list", "--store-dir", "d"],
        ],
    )
    def test_more_usage_errors_exit_2(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str], argv: list[str]
    ) -> None:
        """
        SPEC §14.5: malformed command lines exit 2, print nothing on stdout and start nothing.
        """
        write_spec(workdir, spec_dict(module))

        code, out, err = run_cli(capsys, *argv)

        assert (2, "") == (code, out)
        assert "usage_error" == error_line(err)[0]
        assert not (workdir / "missionkit.db").exists()
        assert not (workdir / "missionkit-audit.jsonl").exists()

    def test_usage_error_after_the_command_in_json_mode(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.1/§14.5: --output json given after the command still yields a JSON usage envelope.
        """
        spec = write_spec(workdir, spec_dict(module))

        code, out, err = run_cli(
            capsys, "run", str(spec), "--output", "json", "--max-iterations", "0"
        )

        assert (2, "") == (code, out)
        assert "usage_error" == _strict(err)["code"]

    def test_real_sigint_exits_130_and_resume_continues(self, tmp_path: Path) -> None:
        """
        SPEC §14.5: SIGINT during a tool call exits 130, stores nothing, and run --resume goes on.
        """
        name = f"sig_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(TOOLS_SOURCE, encoding="utf-8")
        write_spec(
            tmp_path,
            spec_dict(
                name,
                session_id="sg1",
                tools={"score": f"{name}:slow_once"},
                tool_timeout=60,
            ),
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "missionkit", "--output", "json", "run", "spec.json"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        while not (tmp_path / "slow-started.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)

        assert (130, "") == (child.returncode, out), err
        shown = _process(tmp_path, "--output", "json", "sessions", "show", "sg1")
        assert 0 == _strict(shown.stdout)["iteration_count"]
        resumed = _process(tmp_path, "--output", "json", "run", "spec.json", "--resume")
        assert (0, 1) == (resumed.returncode, _strict(resumed.stdout)["iterations_run"])


class TestMoreRules:
    def test_progress_active_matches_the_report(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: the last progress line's active seconds are the report's, to one decimal.
        """
        code, out, err = run_cli(capsys, "--output", "json", "demo")

        report = _strict(out)
        last = [line for line in err.splitlines() if line.startswith("[")][-1]
        assert 0 == code
        assert last.endswith(f" | active {report['active_seconds']:.1f}s")

    def test_failure_after_a_successful_iteration(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: a later failed iteration prints its failure line after the normal ones.
        """
        spec = write_spec(
            workdir,
            spec_dict(module, session_id="f2", proposer=f"{module}:fail_second"),
        )

        code, out, err = run_cli(capsys, "--output", "json", "run", str(spec))

        lines = [line for line in err.splitlines() if line.startswith("[")]
        assert 4 == code
        assert 2 == len(lines)
        assert lines[0].startswith("[f2] iteration 0: continue/in_progress | criteria met 0/1 |")
        assert (
            "[f2] iteration 1: failed in propose: LookupError: second proposal impossible"
            == (lines[1])
        )
        assert (2, 1) == (
            _strict(out)["iterations_run"],
            _strict(out)["failure"]["iteration_index"],
        )

    def test_relative_paths_resolve_against_cwd_and_spec_dir(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2/§14.3: packages beside the spec import; store and audit stay in the cwd.
        """
        pkg = f"pkg_{uuid.uuid4().hex[:10]}"
        (workdir / "specs" / pkg).mkdir(parents=True)
        (workdir / "specs" / pkg / "__init__.py").write_text("", encoding="utf-8")
        (workdir / "specs" / pkg / "tools.py").write_text(TOOLS_SOURCE, encoding="utf-8")
        spec = write_spec(workdir / "specs", spec_dict(pkg, tools={"score": f"{pkg}.tools:score"}))

        code, _, _ = run_cli(capsys, "--quiet", "run", "specs/spec.json")

        assert 0 == code
        assert (workdir / "missionkit.db").is_file()
        assert (workdir / "missionkit-audit.jsonl").is_file()
        assert sorted(p.name for p in spec.parent.iterdir() if p.is_file()) == ["spec.json"]

    def test_tool_instance_in_the_list_form_uses_its_name(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.2/§2.3: a list entry naming a Tool registers it under Tool.name.
        """
        name = f"tooly_{uuid.uuid4().hex[:10]}"
        (workdir / f"{name}.py").write_text(
            "from missionkit import Tool\n"
            "def score():\n"
            "    return {'metrics': {'score': 1.0}}\n"
            "RENAMED = Tool(score, name='renamed')\n",
            encoding="utf-8",
        )
        spec = write_spec(
            workdir, spec_dict(name, tools=[f"{name}:RENAMED"], tool_allowlist=["renamed"])
        )

        code, out, _ = run_cli(capsys, "--quiet", "--output", "json", "run", str(spec))

        assert (0, "renamed") == (
            code,
            _strict(out)["iterations"][0]["tool_calls"][0]["tool_name"],
        )

    def test_unreadable_session_row_in_the_table(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.3: the sessions list table shows an unreadable session with its error.
        """
        spec = write_spec(workdir, spec_dict(module, session_id="ur1"))
        run_cli(capsys, "--quiet", "--store-dir", "s", "run", str(spec))
        (workdir / "s" / "ur1" / "session.json").write_text("{", encoding="utf-8")

        code, out, _ = run_cli(capsys, "--store-dir", "s", "sessions", "list")

        (row,) = [line for line in out.splitlines() if line.startswith("ur1")]
        assert 0 == code
        assert "unreadable" in row
        assert "session_corrupt:" in row

    @pytest.mark.parametrize("command", [["demo"], ["run", "spec.json"]])
    def test_store_in_a_missing_directory_is_a_store_error(
        self,
        workdir: Path,
        module: str,
        capsys: pytest.CaptureFixture[str],
        command: list[str],
    ) -> None:
        """
        SPEC §14.5/§11.4: a --store whose directory is missing fails run and demo with exit 1.
        """
        write_spec(workdir, spec_dict(module))

        code, out, err = run_cli(capsys, "--store", "missing/x.db", *command)

        assert (1, "") == (code, out)
        assert "store_error" == error_line(err)[0]
        assert not (workdir / "missing").exists()

    def test_debug_after_the_command(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.1: --debug (like every global option) may follow the command; it adds a traceback.
        """
        plain = run_cli(capsys, "sessions", "show", "nobody")
        debug = run_cli(capsys, "sessions", "show", "nobody", "--debug")

        assert (1, 1) == (plain[0], debug[0])
        assert "Traceback" not in plain[2]
        assert "Traceback" in debug[2]
        assert ("session_not_found", {"session_id": "nobody"}) == error_line(debug[2])

    def test_terminal_verdict_on_the_last_allowed_iteration_is_not_exit_5(
        self, workdir: Path, module: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        SPEC §14.5: reaching a terminal verdict at exactly N iterations exits by status, not 5.
        """
        spec = write_spec(
            workdir,
            spec_dict(
                module,
                tools={"score": f"{module}:flat"},
                budget={"max_iterations": 2, "max_wall_clock_seconds": 60},
            ),
        )

        code, out, _ = run_cli(
            capsys, "--quiet", "--output", "json", "run", str(spec), "--max-iterations", "2"
        )

        assert (3, "terminated") == (code, _strict(out)["status"])

    @pytest.mark.parametrize(
        ("argv", "expected"),
        [
            (["sessions", "show", "nobody"], 1),
            (["frobnicate"], 2),
            (["--quiet", "demo", "--max-iterations", "1"], 5),
        ],
    )
    def test_console_script_propagates_exit_codes(
        self, tmp_path: Path, argv: list[str], expected: int
    ) -> None:
        """
        SPEC §2.1/§14.5: the missionkit console script exits with main()'s return code.
        """
        script = Path(sys.executable).parent / "missionkit"
        if not script.exists():
            pytest.skip("the missionkit console script is not installed next to the interpreter")

        done = subprocess.run(
            [str(script), *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

        assert expected == done.returncode, done.stderr


def test_read_only_list_leaves_an_empty_database_file_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    SPEC §14.1: read-only commands never set up a store, so a 0-byte file stays 0 bytes.
    """
    from missionkit.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "missionkit.db").write_bytes(b"")

    assert 0 == main(["sessions", "list"])
    assert "(none)\n" == capsys.readouterr().out
    assert 0 == (tmp_path / "missionkit.db").stat().st_size
