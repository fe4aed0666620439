"""
The error tree (SPEC §2.6): codes, envelopes, renderings, relations and pickling.
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest

import missionkit
from missionkit import errors as e

FACTORIES: dict[str, tuple[Callable[[], e.MissionkitError], str, dict[str, Any]]] = {
    "MissionkitError": (lambda: e.MissionkitError(), "missionkit_error", {}),
    "MissionValidationError": (
        lambda: e.MissionValidationError(
            details={"field": "criteria", "index": 1, "reason": "not_a_dict"}
        ),
        "validation_error",
        {"field": "criteria", "index": 1, "reason": "not_a_dict"},
    ),
    "PredicateRejected": (
        lambda: e.PredicateRejected("name_not_allowed", 1, 4),
        "predicate_rejected",
        {"reason": "name_not_allowed", "lineno": 1, "col_offset": 4},
    ),
    "ScriptRejected": (
        lambda: e.ScriptRejected("import_not_allowed"),
        "script_rejected",
        {"reason": "import_not_allowed", "lineno": None, "col_offset": None},
    ),
    "PredicateLimitExceeded": (
        lambda: e.PredicateLimitExceeded("work", 100_000),
        "predicate_limit_exceeded",
        {"what": "work", "limit": 100_000},
    ),
    "SessionError": (
        lambda: e.SessionError({"session_id": "s"}),
        "session_error",
        {"session_id": "s"},
    ),
    "SessionNotFound": (lambda: e.SessionNotFound("s"), "session_not_found", {"session_id": "s"}),
    "SessionFailed": (lambda: e.SessionFailed("s"), "session_failed", {"session_id": "s"}),
    "SessionTerminal": (
        lambda: e.SessionTerminal("s", "completed"),
        "session_terminal",
        {"session_id": "s", "status": "completed"},
    ),
    "SessionPaused": (lambda: e.SessionPaused("s"), "session_paused", {"session_id": "s"}),
    "NotPaused": (
        lambda: e.NotPaused("s", "running"),
        "not_paused",
        {"session_id": "s", "status": "running"},
    ),
    "NoIterations": (lambda: e.NoIterations("s"), "no_iterations", {"session_id": "s"}),
    "ConcurrentUpdate": (
        lambda: e.ConcurrentUpdate("s", 3, 4),
        "concurrent_update",
        {"session_id": "s", "expected_revision": 3, "actual_revision": 4},
    ),
    "ProposeNoToolAvailable": (
        lambda: e.ProposeNoToolAvailable("s", ("a", "b")),
        "propose_no_tool_available",
        {"session_id": "s", "tool_allowlist": ["a", "b"]},
    ),
    "InvalidArgument": (
        lambda: e.InvalidArgument("format", "unknown_format", session_id="s"),
        "invalid_argument",
        {"session_id": "s", "argument": "format", "reason": "unknown_format"},
    ),
    "StoreError": (lambda: e.StoreError("disk full"), "store_error", {"problem": "disk full"}),
    "SessionCorrupt": (
        lambda: e.SessionCorrupt("s", "bad json in s.json"),
        "session_corrupt",
        {"session_id": "s", "problem": "bad json in s.json"},
    ),
    "UnsupportedSchemaVersion": (
        lambda: e.UnsupportedSchemaVersion("s", 2),
        "unsupported_schema_version",
        {"session_id": "s", "version": 2, "supported": [1]},
    ),
    "ScaffoldSamplingError": (
        lambda: e.ScaffoldSamplingError("not_json"),
        "scaffold_sampling_failed",
        {"last_reason": "not_json"},
    ),
}

PARENTS: dict[str, tuple[type[BaseException], ...]] = {
    "MissionkitError": (Exception,),
    "MissionValidationError": (e.MissionkitError, ValueError),
    "PredicateRejected": (e.MissionkitError, ValueError),
    "ScriptRejected": (e.MissionkitError, ValueError),
    "PredicateLimitExceeded": (e.MissionkitError,),
    "SessionError": (e.MissionkitError,),
    "SessionNotFound": (e.SessionError,),
    "SessionFailed": (e.SessionError,),
    "SessionTerminal": (e.SessionError,),
    "SessionPaused": (e.SessionError,),
    "NotPaused": (e.SessionError,),
    "NoIterations": (e.SessionError,),
    "ConcurrentUpdate": (e.SessionError,),
    "ProposeNoToolAvailable": (e.SessionError,),
    "InvalidArgument": (e.SessionError,),
    "StoreError": (e.MissionkitError,),
    "SessionCorrupt": (e.StoreError,),
    "UnsupportedSchemaVersion": (e.StoreError,),
    "ScaffoldSamplingError": (e.MissionkitError,),
}

NAMES = sorted(FACTORIES)


def is_json_data(value: Any) -> bool:
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(is_json_data(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and is_json_data(v) for k, v in value.items())
    return False


class TestEveryClass:
    def test_table_covers_every_exported_error(self) -> None:
        """The table below lists every class of missionkit.errors."""
        assert sorted(e.__all__) == NAMES

    @pytest.mark.parametrize("name", NAMES)
    def test_code_and_envelope(self, name: str) -> None:
        """Each error has its stable code and a {code, details} envelope of JSON data."""
        factory, code, details = FACTORIES[name]
        err = factory()

        assert type(err) is getattr(e, name)
        assert code == err.code
        assert {"code": code, "details": details} == err.to_dict()
        assert ["code", "details"] == list(err.to_dict())
        assert is_json_data(err.to_dict())
        json.dumps(err.to_dict(), allow_nan=False)

    @pytest.mark.parametrize("name", NAMES)
    def test_relations(self, name: str) -> None:
        """Each error subclasses its parents of §2.6, MissionkitError and Exception."""
        err = FACTORIES[name][0]()

        for parent in PARENTS[name]:
            assert isinstance(err, parent)
        assert isinstance(err, e.MissionkitError)
        assert isinstance(err, Exception)

    @pytest.mark.parametrize("name", NAMES)
    def test_pickle_round_trip(self, name: str) -> None:
        """Every error pickles and unpickles to the same class, code, details and text."""
        err = FACTORIES[name][0]()

        clone = pickle.loads(pickle.dumps(err))

        assert type(err) is type(clone)
        assert err.code == clone.code
        assert err.details == clone.details
        assert str(err) == str(clone)
        assert err.to_dict() == clone.to_dict()
        assert err.args == clone.args

    @pytest.mark.parametrize("name", NAMES)
    def test_copy(self, name: str) -> None:
        """copy.copy and copy.deepcopy keep class, code and details."""
        err = FACTORIES[name][0]()

        for clone in (copy.copy(err), copy.deepcopy(err)):
            assert type(err) is type(clone)
            assert err.to_dict() == clone.to_dict()

    @pytest.mark.parametrize("name", NAMES)
    def test_re_exported_at_top_level(self, name: str) -> None:
        """Every error is re-exported by missionkit as the same object."""
        assert getattr(e, name) is getattr(missionkit, name)

    def test_only_validation_and_rejections_are_value_errors(self) -> None:
        """Exactly the validation and rejection errors are ValueErrors."""
        value_errors = {n for n in NAMES if issubclass(getattr(e, n), ValueError)}

        assert {"MissionValidationError", "PredicateRejected", "ScriptRejected"} == value_errors

    def test_to_dict_is_a_copy(self) -> None:
        """Mutating the envelope leaves the error unchanged."""
        err = e.SessionNotFound("s")

        err.to_dict()["details"]["session_id"] = "other"

        assert {"session_id": "s"} == err.details

    def test_details_are_always_json_data(self) -> None:
        """Details given as non-JSON values are stored as JSON data."""
        err = e.MissionkitError("custom", {"ids": ("a", "b"), "set": {2, 1}, "obj": object})

        assert is_json_data(err.details)
        assert {"ids": ["a", "b"], "set": [1, 2]} == {
            k: v for k, v in err.details.items() if k != "obj"
        }
        assert "builtins.type" == err.details["obj"]["_type"]


class TestRenderings:
    @pytest.mark.parametrize(
        ("details", "text"),
        [
            (
                {"field": "criteria", "index": 1, "reason": "not_a_dict"},
                "validation_error: criteria[1]: not_a_dict",
            ),
            ({"field": "directive", "reason": "empty"}, "validation_error: directive: empty"),
            (
                {
                    "field": "budget",
                    "subfield": "max_iterations",
                    "reason": "missing_or_not_positive_int_or_minus_one",
                },
                "validation_error: budget.max_iterations: missing_or_not_positive_int_or_minus_one",
            ),
            (
                {"field": "criteria", "criterion_id": "c1", "reason": "kind_invalid"},
                "validation_error: criteria['c1']: kind_invalid",
            ),
            (
                {"field": "tools", "tool_name": "t", "reason": "not_callable"},
                "validation_error: tools[tool 't']: not_callable",
            ),
            (
                {
                    "field": "strategy",
                    "subfield": "tool_calls",
                    "index": 0,
                    "reason": "args_not_a_dict",
                },
                "validation_error: strategy.tool_calls[0]: args_not_a_dict",
            ),
        ],
    )
    def test_validation_error_rendering(self, details: dict[str, Any], text: str) -> None:
        """MissionValidationError renders code, location and reason."""
        err = e.MissionValidationError(details=details)

        assert text == str(err)
        assert details["field"] == err.field
        assert details["reason"] == err.reason

    def test_validation_error_message_wins(self) -> None:
        """An explicit message replaces the rendering but not the details."""
        err = e.MissionValidationError(
            details={"field": "x", "reason": "invalid_value"}, message="custom"
        )

        assert "custom" == str(err)
        assert {"field": "x", "reason": "invalid_value"} == err.details

    def test_validation_error_default_code(self) -> None:
        """MissionValidationError's code is validation_error."""
        assert "validation_error" == e.MissionValidationError(details={}).code

    @pytest.mark.parametrize("cls", [e.PredicateRejected, e.ScriptRejected])
    def test_positioned_rejection(self, cls: type[Any]) -> None:
        """Rejections append (line L, col C) only when a line is known."""
        placed = cls("call_not_allowed", 2, 7)
        unplaced = cls("too_long")

        assert "call_not_allowed (line 2, col 7)" == str(placed)
        assert ("call_not_allowed", 2, 7) == (placed.reason, placed.lineno, placed.col_offset)
        assert "too_long" == str(unplaced)
        assert {"reason": "too_long", "lineno": None, "col_offset": None} == unplaced.details

    def test_positioned_rejection_attributes_survive_pickling(self) -> None:
        """reason, lineno and col_offset come back after pickling."""
        clone = pickle.loads(pickle.dumps(e.PredicateRejected("name_not_allowed", 3, 0)))

        assert ("name_not_allowed", 3, 0) == (clone.reason, clone.lineno, clone.col_offset)

    def test_limit_exceeded(self) -> None:
        """PredicateLimitExceeded renders limit_exceeded:<what> and keeps what and limit."""
        err = e.PredicateLimitExceeded("int_bits", 4096)
        clone = pickle.loads(pickle.dumps(err))

        assert "limit_exceeded:int_bits" == str(err)
        assert ("int_bits", 4096) == (clone.what, clone.limit)

    def test_scaffold_error_attributes(self) -> None:
        """ScaffoldSamplingError keeps last_reason through pickling."""
        clone = pickle.loads(pickle.dumps(e.ScaffoldSamplingError("schema_invalid")))

        assert "schema_invalid" == clone.last_reason

    def test_unsupported_schema_version_text(self) -> None:
        """The schema version error names the session and the version found."""
        err = e.UnsupportedSchemaVersion("mission-ab12", 2)

        assert (
            "session 'mission-ab12' has schema version 2; this missionkit reads version 1"
            == str(err)
        )

    def test_session_error_session_id(self) -> None:
        """SessionError exposes session_id from its details."""
        assert "s" == e.SessionTerminal("s", "terminated").session_id
        assert None is e.InvalidArgument("status", "unknown_status").session_id
        assert {"argument": "status", "reason": "unknown_status"} == e.InvalidArgument(
            "status", "unknown_status"
        ).details

    def test_store_error_wraps_cause(self) -> None:
        """StoreError carries the OS error as __cause__ and its problem in details."""
        with pytest.raises(e.StoreError) as info:
            try:
                raise OSError("disk")
            except OSError as exc:
                raise e.StoreError("cannot write s.json", session_id="s") from exc

        assert isinstance(info.value.__cause__, OSError)
        assert {"session_id": "s", "problem": "cannot write s.json"} == info.value.details
        assert "cannot write s.json" == info.value.problem

    def test_str_is_not_empty(self) -> None:
        """Every error has a non-empty message."""
        for name in NAMES:
            assert str(FACTORIES[name][0]())
