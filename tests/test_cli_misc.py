"""
Usage errors, ``scaffold-criteria``, ``demo`` and the command run as a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from cli_support import error_line, run_cli, write_tools
from missionkit.cli import main


@pytest.fixture(name="workdir")
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


class TestUsage:
    @pytest.mark.parametrize(
        "argv",
        [
            [],
            ["frobnicate"],
            ["run"],
            ["sessions"],
            ["sessions", "show"],
            ["demo", "--max-iterations", "0"],
            ["demo", "--max-iterations", "x"],
            ["sessions", "list", "--status", "sleepy"],
            ["sessions", "list", "--offset", "-1"],
            ["sessions", "history", "x1", "--format", "long"],
            ["scaffold-criteria"],
            ["--output", "yaml", "demo"],
            ["--store", "a.db", "--store-dir", "d", "sessions", "list"],
        ],
    )
    def test_usage_errors_exit_2(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
    ) -> None:
        """Malformed command lines exit 2 with a usage_error line and write nothing."""
        code, out, err = run_cli(capsys, *argv)

        assert (2, "") == (code, out)
        assert "usage_error" == error_line(err)[0]
        assert [] == list(workdir.iterdir())

    def test_usage_error_in_json_mode(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """In json mode a usage error is an envelope on stderr."""
        code, _, err = run_cli(capsys, "--output", "json", "sessions", "list", "--limit", "0")

        assert 2 == code
        assert "usage_error" == json.loads(err)["code"]

    def test_help_and_version_exit_0(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--help and --version print to stdout and exit 0."""
        code, out, _ = run_cli(capsys, "--help")
        assert 0 == code
        assert "scaffold-criteria" in out

        code, out, _ = run_cli(capsys, "--version")
        assert 0 == code
        assert out.startswith("missionkit ")


class TestScaffold:
    def test_deterministic(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --sampler the deterministic templates are printed as a JSON array."""
        code, out, err = run_cli(
            capsys, "scaffold-criteria", "--directive", "Reduce the validation loss"
        )

        criteria = json.loads(out)
        assert (0, "") == (code, err)
        assert "metric_threshold" == criteria[0]["kind"]

    def test_allowlist_and_max_criteria(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--allowlist (repeatable) and --max-criteria reach the scaffolder."""
        code, out, _ = run_cli(
            capsys,
            "scaffold-criteria",
            "--directive",
            "Find the broken host",
            "--allowlist",
            "ping",
            "--allowlist",
            "trace",
            "--allowlist",
            "dig",
            "--max-criteria",
            "2",
        )

        criteria = json.loads(out)
        assert 0 == code
        assert [("tool_call_succeeded", "ping"), ("tool_call_succeeded", "trace")] == [
            (c["kind"], c["tool_name"]) for c in criteria
        ]

    def test_garbage_sampler_falls_back_with_a_warning(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A sampler returning garbage prints the fallback warning and the template criteria."""
        module = write_tools(workdir)
        directive = "Reduce the validation loss"
        expected = json.loads(run_cli(capsys, "scaffold-criteria", "--directive", directive)[1])

        code, out, err = run_cli(
            capsys,
            "scaffold-criteria",
            "--directive",
            directive,
            "--sampler",
            f"{module}:garbage_sampler",
            "--retries",
            "1",
        )

        assert (0, expected) == (code, json.loads(out))
        assert err.startswith("warning: sampled scaffolding failed (")
        assert err.rstrip().endswith("); using deterministic templates")

    def test_working_sampler(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A sampler that answers with a valid criteria array is used as is."""
        module = write_tools(
            workdir,
            "import json\n"
            "def sampler(prompt):\n"
            "    return json.dumps([{'criterion_id': 'ok', 'kind': 'tool_call_succeeded',\n"
            "                        'required': True, 'tool_name': 'ping'}])\n",
        )

        code, out, err = run_cli(
            capsys,
            "scaffold-criteria",
            "--directive",
            "Ping the host",
            "--allowlist",
            "ping",
            "--sampler",
            f"{module}:sampler",
        )

        assert (0, "") == (code, err)
        assert ["ok"] == [c["criterion_id"] for c in json.loads(out)]

    def test_sampler_import_failure(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unimportable --sampler is an import_failed validation error, exit 1."""
        code, _, err = run_cli(
            capsys, "scaffold-criteria", "--directive", "x", "--sampler", "nope_mod_q:s"
        )

        assert 1 == code
        assert {"field": "sampler", "subfield": "nope_mod_q:s", "reason": "import_failed"} == (
            error_line(err)[1]
        )

    def test_output_file(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--output-file writes the JSON array instead of printing it."""
        code, out, _ = run_cli(
            capsys, "scaffold-criteria", "--directive", "Reduce cost", "--output-file", "c.json"
        )

        assert (0, "") == (code, out)
        assert "metrics.cost" == json.loads((workdir / "c.json").read_text("utf-8"))[0]["metric"]

    def test_invalid_directive(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An empty directive is a validation error, exit 1."""
        code, _, err = run_cli(capsys, "scaffold-criteria", "--directive", "   ")

        assert 1 == code
        assert {"field": "directive", "reason": "empty"} == error_line(err)[1]


class TestDemo:
    def test_demo_completes_at_iteration_8(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The demo explores x = 0,1,2,3,4,5,3.5,3,3.75 and completes at iteration 8, exit 0."""
        code, out, err = run_cli(capsys, "--output", "json", "demo")

        report = json.loads(out)
        xs = [it["tool_calls"][0]["args"]["x"] for it in report["iterations"]]
        assert 0 == code
        assert [0, 1, 2, 3, 4, 5, 3.5, 3.0, 3.75] == xs
        assert ("complete", "criteria_met", 9) == (
            report["final_verdict"],
            report["final_verdict_reason"],
            report["iterations_run"],
        )
        progress = [line for line in err.splitlines() if line.startswith("[")]
        assert 9 == len(progress)
        assert (
            f"[{report['session_id']}] iteration 8: complete/criteria_met | criteria met 3/3"
            in (progress[-1])
        )
        assert "no-progress 1/5" in progress[5]

    def test_each_demo_is_a_new_session_on_the_configured_store(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Every demo run adds a session to ./missionkit.db that sessions commands can read."""
        run_cli(capsys, "demo")
        run_cli(capsys, "demo")

        code, out, _ = run_cli(capsys, "--output", "json", "sessions", "list")

        rows = json.loads(out)
        assert (0, 2) == (code, len({r["session_id"] for r in rows}))
        assert {"completed"} == {r["status"] for r in rows}

    def test_demo_stopped_early_exits_5(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """demo --max-iterations 3 stops before the verdict: exit 5, summary printed."""
        code, out, _ = run_cli(capsys, "--output", "json", "demo", "--max-iterations", "3")

        assert (5, "running", 3) == (
            code,
            json.loads(out)["status"],
            json.loads(out)["iteration_count"],
        )

    def test_demo_table_output(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The table form names the verdict, the criteria and the lessons."""
        code, out, _ = run_cli(capsys, "demo")

        assert 0 == code
        for text in ("complete/criteria_met", "loss_target", "ever_close", "lessons:"):
            assert text in out


def _console_script() -> Path | None:
    scripts = Path(sysconfig.get_path("scripts"))
    for name in ("missionkit", "missionkit.exe"):
        candidate = scripts / name
        if candidate.exists():
            return candidate
    candidate = Path(sys.executable).parent / "missionkit"
    return candidate if candidate.exists() else None


class TestProcess:
    def test_python_m_missionkit_demo(self, tmp_path: Path) -> None:
        """``python -m missionkit demo`` exits 0 and ends with the completing progress line."""
        done = subprocess.run(
            [sys.executable, "-m", "missionkit", "demo"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

        progress = [line for line in done.stderr.splitlines() if line.startswith("[")]
        assert 0 == done.returncode, done.stderr
        assert "iteration 8: complete/criteria_met" in progress[-1]
        assert "verdict" in done.stdout
        assert (tmp_path / "missionkit.db").is_file()

    def test_console_script(self, tmp_path: Path) -> None:
        """The installed ``missionkit`` script runs the demo and prints strict JSON."""
        script = _console_script()
        if script is None:
            pytest.skip("the missionkit console script is not installed")
        done = subprocess.run(
            [str(script), "--output", "json", "--quiet", "demo"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

        assert (0, "") == (done.returncode, done.stderr)
        assert "completed" == json.loads(done.stdout)["status"]

    def test_import_failure_in_a_process_has_no_traceback(self, tmp_path: Path) -> None:
        """A spec naming an unimportable tool exits 1 with one error line and its cause."""
        (tmp_path / "spec.json").write_text(
            json.dumps({"directive": "d", "tools": ["missing_pkg_zz.tools:train"]}),
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

        done = subprocess.run(
            [sys.executable, "-m", "missionkit", "run", "spec.json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )

        assert (1, "") == (done.returncode, done.stdout)
        assert done.stderr.startswith(
            'error: validation_error {"field": "tools", "subfield": "missing_pkg_zz.tools:train",'
        )
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "missionkit.db").exists()


def test_main_reads_sys_argv(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """main() without arguments parses sys.argv[1:]."""
    monkeypatch.setattr(sys, "argv", ["missionkit", "sessions", "list"])

    assert 0 == main()
    assert "(none)\n" == capsys.readouterr().out
