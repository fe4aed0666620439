"""
The public surface (SPEC §2.2, §2.7, §15.3): exports, versions and a side-effect-free import.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import missionkit
import missionkit.errors
import missionkit.models

TOP_LEVEL = {
    "Mission",
    "Session",
    "Tool",
    "Limits",
    "ProposalContext",
    "MISSION_CONTROL_TOOLS",
    "to_json",
}

MODELS = [
    "Budget",
    "Cadence",
    "Criterion",
    "CriterionProgress",
    "CriterionResult",
    "EventCriterion",
    "FinalReport",
    "HostToolCall",
    "Iteration",
    "IterationSummary",
    "Limits",
    "MetricThresholdCriterion",
    "MetricTrendCriterion",
    "Observation",
    "ObservationInput",
    "PendingProposal",
    "PhaseRecord",
    "PredicateCriterion",
    "SessionState",
    "SessionSummary",
    "Strategy",
    "ToolCall",
    "ToolCallRecord",
    "ToolCallSucceededCriterion",
    "Verdict",
]

ERRORS = [
    "ConcurrentUpdate",
    "InvalidArgument",
    "MissionValidationError",
    "MissionkitError",
    "NoIterations",
    "NotPaused",
    "PredicateLimitExceeded",
    "PredicateRejected",
    "ProposeNoToolAvailable",
    "ScaffoldSamplingError",
    "ScriptRejected",
    "SessionCorrupt",
    "SessionError",
    "SessionFailed",
    "SessionNotFound",
    "SessionPaused",
    "SessionTerminal",
    "StoreError",
    "UnsupportedSchemaVersion",
]

PUBLIC_MODULES: dict[str, set[str]] = {
    "missionkit.models": set(MODELS),
    "missionkit.errors": set(ERRORS),
    "missionkit.validation": {
        "validate_session_id",
        "validate_directive",
        "validate_criteria",
        "validate_budget",
        "validate_tool_allowlist",
        "resolve_effective_allowlist",
        "validate_cadence",
        "validate_stagnation_threshold",
        "validate_strategy",
        "validate_metadata",
        "validate_observation",
        "MissionValidationError",
        "MISSION_CONTROL_TOOLS",
    },
    "missionkit.predicate": {
        "compile_predicate",
        "parse_predicate",
        "Predicate",
        "PredicateLimits",
        "PredicateRejected",
        "PredicateLimitExceeded",
        "ALLOWED_CALLABLES",
        "ALLOWED_METHODS",
    },
    "missionkit.audit": {
        "PhaseEvent",
        "VerdictEvent",
        "SamplingEvent",
        "ScriptCallEvent",
        "LifecycleEvent",
        "AuditEvent",
        "AuditSink",
        "LoggingSink",
        "RingBufferSink",
        "JsonlSink",
        "MemorySink",
        "replay_audit_entries",
    },
    "missionkit.store": {"SessionStore", "MemoryStore", "SQLiteStore", "JsonDirStore"},
    "missionkit.proposers": {"ProposalContext", "Proposer", "default_proposer"},
    "missionkit.sampling": {"Sampler", "SamplingPrompt"},
    "missionkit.scripts": {
        "validate_script",
        "ScriptRunner",
        "ScriptOutcome",
        "ScriptToolError",
        "SubprocessScriptRunner",
    },
    "missionkit.scaffold": {
        "scaffold_criteria",
        "scaffold_criteria_sampled",
        "ascaffold_criteria_sampled",
    },
    "missionkit.testing": {
        "FakeClock",
        "MemorySink",
        "ScriptedSampler",
        "ScriptedProposer",
        "InlineScriptRunner",
    },
    "missionkit.typing": {
        "Clock",
        "ToolFunction",
        "Proposer",
        "Sampler",
        "ScriptRunner",
        "AuditSink",
        "SessionStore",
        "OnIteration",
        "JSONValue",
    },
    "missionkit.cli": {"main"},
}


def _import_or_skip(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            pytest.skip(f"{name} is not implemented yet")
        raise


class TestTopLevel:
    def test_all_equals_sorted_public_names(self) -> None:
        """missionkit.__all__ is exactly the sorted public non-module names of the package."""
        public = [
            name
            for name, value in vars(missionkit).items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)
        ]

        assert sorted(public) == missionkit.__all__

    def test_all_has_every_spec_name(self) -> None:
        """Every §2.2 name (facade, models, errors) is exported."""
        expected = TOP_LEVEL | set(MODELS) | set(ERRORS)

        assert expected == set(missionkit.__all__)

    def test_re_exports_are_identical(self) -> None:
        """Top-level models and errors are the very objects of their modules."""
        for name in MODELS:
            assert getattr(missionkit.models, name) is getattr(missionkit, name)
        for name in ERRORS:
            assert getattr(missionkit.errors, name) is getattr(missionkit, name)

    def test_version_matches_metadata(self) -> None:
        """__version__ is the installed distribution's version."""
        assert importlib.metadata.version("missionkit") == missionkit.__version__

    def test_version_is_lazy(self) -> None:
        """__version__ is served on access, not stored in the module namespace."""
        assert "__version__" not in vars(missionkit)

    def test_unknown_attribute(self) -> None:
        """Unknown attributes raise AttributeError naming them."""
        with pytest.raises(AttributeError, match="no_such_name"):
            missionkit.no_such_name  # type: ignore[attr-defined]  # noqa: B018

    def test_control_tools(self) -> None:
        """MISSION_CONTROL_TOOLS is the frozenset of the nine mission_* names."""
        assert (
            frozenset(
                {
                    "mission_start",
                    "mission_status",
                    "mission_iterate",
                    "mission_checkpoint",
                    "mission_complete",
                    "mission_abort",
                    "mission_resume",
                    "mission_history",
                    "mission_list",
                }
            )
            == missionkit.MISSION_CONTROL_TOOLS
        )


class TestPublicModules:
    @pytest.mark.parametrize("module_name", sorted(PUBLIC_MODULES))
    def test_module_exports_exactly_its_names(self, module_name: str) -> None:
        """Each public module has a sorted __all__ listing exactly its §2.7 names."""
        module = _import_or_skip(module_name)

        assert sorted(PUBLIC_MODULES[module_name]) == module.__all__
        for name in module.__all__:
            assert getattr(module, name) is not None

    def test_testing_memory_sink_is_the_audit_one(self) -> None:
        """missionkit.testing.MemorySink is missionkit.audit.MemorySink."""
        import missionkit.audit
        import missionkit.testing

        assert missionkit.audit.MemorySink is missionkit.testing.MemorySink

    def test_py_typed_shipped(self) -> None:
        """The package ships a py.typed marker."""
        assert (Path(missionkit.__file__).parent / "py.typed").is_file()


_IMPORT_PROBE = """
import json, logging, os, sys, threading
import missionkit
for name in sys.argv[1:]:
    try:
        __import__(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
missionkit.__version__
mk = logging.getLogger("missionkit")
print(json.dumps({
    "threads": threading.active_count(),
    "root_handlers": len(logging.getLogger().handlers),
    "root_level": logging.getLogger().level,
    "mk_handlers": len(mk.handlers),
    "mk_level": mk.level,
    "audit_handlers": len(logging.getLogger("missionkit.audit").handlers),
    "last_resort": logging.lastResort is not None,
}))
"""


class TestImportSideEffects:
    def test_import_starts_nothing_and_writes_nothing(self, tmp_path: Path) -> None:
        """Importing every public module starts no thread, adds no handler and creates no file."""
        work, home, temp = tmp_path / "work", tmp_path / "home", tmp_path / "tmp"
        for folder in (work, home, temp):
            folder.mkdir()
        env = {
            **os.environ,
            "HOME": str(home),
            "TMPDIR": str(temp),
            "PYTHONDONTWRITEBYTECODE": "1",
            "XDG_CACHE_HOME": str(home / ".cache"),
        }

        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE, *sorted(PUBLIC_MODULES)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

        assert {
            "threads": 1,
            "root_handlers": 0,
            "root_level": 30,
            "mk_handlers": 0,
            "mk_level": 0,
            "audit_handlers": 0,
            "last_resort": True,
        } == json.loads(out.stdout)
        assert "" == out.stderr
        assert [] == [p for folder in (work, home, temp) for p in folder.rglob("*")]


class TestRuntimeDependencies:
    def test_only_attrs_and_cattrs_are_required(self) -> None:
        """Installing missionkit without extras pulls in attrs and cattrs only."""
        import importlib.metadata
        import re

        requirements = importlib.metadata.requires("missionkit") or []
        runtime = sorted(
            re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower()
            for r in requirements
            if "extra ==" not in r
        )

        assert ["attrs", "cattrs"] == runtime
