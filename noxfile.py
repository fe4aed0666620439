"""
Developer sessions: ``nox -s tests lint typecheck docs bench``.

CI runs the same steps from ``.ci/run`` without nox, so a fresh machine needs
nothing but Python and pip.
"""

from __future__ import annotations

import nox

nox.options.error_on_external_run = True
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests", "docs"]

PYTHONS = ["3.11", "3.12", "3.13"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """
    Run the test suite (pass ``-- -m 'not slow'`` to skip the process-heavy tests).
    """
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """
    Ruff lint and format check.
    """
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "src")


@nox.session(python=PYTHONS)
def typecheck(session: nox.Session) -> None:
    """
    mypy --strict on the package, the typing API tests and this file.
    """
    session.install("-e", ".[lint]", "nox")
    session.run("mypy")
    session.run("mypy", "--strict", "tests/typing/api.py", "noxfile.py")


@nox.session
def typing_api(session: nox.Session) -> None:
    """
    pyright on the typing API tests (needs Node.js; pyright comes from the npm registry).
    """
    session.install("-e", ".")
    session.run("npx", "--yes", "pyright@1", "tests/typing/api.py", external=True)


@nox.session
def docs(session: nox.Session) -> None:
    """
    Build the documentation with warnings as errors.
    """
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(session.create_tmp() + "/site"))


@nox.session
def bench(session: nox.Session) -> None:
    """
    Run every benchmark script; each prints its ratios against an in-run baseline.
    """
    session.install("-e", ".[bench]")
    scripts = (
        "predicate",
        "audit",
        "engine",
        "engine_breakdown",
        "engine_floor",
        "store",
        "script_start",
    )
    for script in (*scripts, "import_time"):
        session.run("python", f"bench/{script}.py")
