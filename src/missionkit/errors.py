"""
Every error missionkit raises, rooted at one class.

Wrappers (an MCP server, an agent framework) catch :class:`MissionkitError` and
return ``err.to_dict()``: a ``{"code", "details"}`` envelope of JSON data whose
tokens are stable contracts.

::

    MissionkitError(Exception)                 .code .details .to_dict()
    ├── MissionValidationError(…, ValueError)  validation_error
    ├── PredicateRejected(…, ValueError)       predicate_rejected
    ├── ScriptRejected(…, ValueError)          script_rejected
    ├── PredicateLimitExceeded                 predicate_limit_exceeded
    ├── SessionError
    │   ├── SessionNotFound                    session_not_found
    │   ├── SessionFailed                      session_failed
    │   ├── SessionTerminal                    session_terminal
    │   ├── SessionPaused                      session_paused
    │   ├── NotPaused                          not_paused
    │   ├── NoIterations                       no_iterations
    │   ├── ConcurrentUpdate                   concurrent_update
    │   ├── ProposeNoToolAvailable             propose_no_tool_available
    │   └── InvalidArgument                    invalid_argument
    ├── StoreError                             store_error
    │   ├── SessionCorrupt                     session_corrupt
    │   └── UnsupportedSchemaVersion           unsupported_schema_version
    └── ScaffoldSamplingError                  scaffold_sampling_failed

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from missionkit._jsonsafe import to_json_data

__all__ = [
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


def _rebuild(
    cls: type[MissionkitError], code: str, details: dict[str, Any], message: str
) -> MissionkitError:
    """
    Recreate a pickled error without calling its (subclass-specific) ``__init__``.
    """
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.code = code
    err.details = details
    err._message = message
    err._restore_attributes()
    return err


class MissionkitError(Exception):
    """
    Root of every missionkit error.

    Attributes:
        code: A stable, machine-readable token.
        details: JSON data describing the failure; keys depend on *code*.
    """

    default_code: ClassVar[str] = "missionkit_error"

    code: str
    details: dict[str, Any]

    def __init__(
        self,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        message: str | None = None,
    ) -> None:
        self.code = code if code is not None else self.default_code
        # SPEC §2.6: details are always JSON data, whatever the raiser passed.
        self.details = to_json_data(dict(details)) if details else {}
        self._message = message if message is not None else self._render()
        super().__init__(self._message)

    def _render(self) -> str:
        return f"{self.code}: {json.dumps(self.details, sort_keys=True, default=repr)}"

    def _restore_attributes(self) -> None:
        """
        Re-derive convenience attributes from *details* after unpickling.
        """

    def __str__(self) -> str:
        return self._message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.code, self.details, self._message))

    def to_dict(self) -> dict[str, Any]:
        """
        Return the ``{"code": …, "details": …}`` envelope.
        """
        return {"code": self.code, "details": dict(self.details)}


class MissionValidationError(MissionkitError, ValueError):
    """
    An input failed validation; *details* say which field and why.

    The message renders as ``validation_error: criteria[1]: not_a_dict``.
    """

    default_code = "validation_error"

    def _render(self) -> str:
        d = self.details
        where = str(d.get("field", "input"))
        if "subfield" in d:
            where += f".{d['subfield']}"
        if "index" in d:
            where += f"[{d['index']}]"
        if "criterion_id" in d:
            where += f"[{d['criterion_id']!r}]"
        if "tool_name" in d:
            where += f"[tool {d['tool_name']!r}]"
        return f"{self.code}: {where}: {d.get('reason', 'invalid')}"

    @property
    def field(self) -> str | None:
        """
        The top-level field that failed, if any.
        """
        value = self.details.get("field")
        return value if isinstance(value, str) else None

    @property
    def reason(self) -> str | None:
        """
        The reason token.
        """
        value = self.details.get("reason")
        return value if isinstance(value, str) else None


class _PositionedRejection(MissionkitError, ValueError):
    """
    Shared shape of predicate and script rejections: a reason and a position.
    """

    reason: str
    lineno: int | None
    col_offset: int | None

    def __init__(
        self, reason: str, lineno: int | None = None, col_offset: int | None = None
    ) -> None:
        self.reason = reason
        self.lineno = lineno
        self.col_offset = col_offset
        super().__init__(None, {"reason": reason, "lineno": lineno, "col_offset": col_offset})

    def _render(self) -> str:
        if self.lineno is None:
            return self.reason
        return f"{self.reason} (line {self.lineno}, col {self.col_offset})"

    def _restore_attributes(self) -> None:
        self.reason = self.details["reason"]
        self.lineno = self.details["lineno"]
        self.col_offset = self.details["col_offset"]


class PredicateRejected(_PositionedRejection):
    """
    A predicate source is outside the predicate language (SPEC §5).

    Attributes:
        reason: The rejection token, e.g. ``name_not_allowed``.
        lineno: 1-based line of the offending node, or None.
        col_offset: Column of the offending node, or None.
    """

    default_code = "predicate_rejected"


class ScriptRejected(_PositionedRejection):
    """
    A script is outside the script language (SPEC §9.2).
    """

    default_code = "script_rejected"


class PredicateLimitExceeded(MissionkitError):
    """
    A predicate evaluation hit a resource limit before doing the expensive work.

    Attributes:
        what: ``int_bits``, ``sequence_length``, ``format_width`` or ``work``.
        limit: The configured limit that would have been exceeded.
    """

    default_code = "predicate_limit_exceeded"

    what: str
    limit: int

    def __init__(self, what: str, limit: int) -> None:
        self.what = what
        self.limit = limit
        super().__init__(None, {"what": what, "limit": limit}, message=f"limit_exceeded:{what}")

    def _restore_attributes(self) -> None:
        self.what = self.details["what"]
        self.limit = self.details["limit"]


class SessionError(MissionkitError):
    """
    An operation was refused because of the state of a session.
    """

    default_code = "session_error"

    def __init__(
        self, details: dict[str, Any] | None = None, *, message: str | None = None
    ) -> None:
        super().__init__(None, details, message=message)

    @property
    def session_id(self) -> str | None:
        """
        The session involved, if any.
        """
        value = self.details.get("session_id")
        return value if isinstance(value, str) else None


class SessionNotFound(SessionError):
    """
    No session with this id is stored.
    """

    default_code = "session_not_found"

    def __init__(self, session_id: str) -> None:
        super().__init__({"session_id": session_id}, message=f"session {session_id!r} not found")


class SessionFailed(SessionError):
    """
    The session ended ``failed``; it accepts no further operations.
    """

    default_code = "session_failed"

    def __init__(self, session_id: str) -> None:
        super().__init__({"session_id": session_id}, message=f"session {session_id!r} has failed")


class SessionTerminal(SessionError):
    """
    The session is ``completed`` or ``terminated``.
    """

    default_code = "session_terminal"

    def __init__(self, session_id: str, status: str) -> None:
        super().__init__(
            {"session_id": session_id, "status": status},
            message=f"session {session_id!r} is {status}",
        )


class SessionPaused(SessionError):
    """
    The session is paused; resume it first.
    """

    default_code = "session_paused"

    def __init__(self, session_id: str) -> None:
        super().__init__({"session_id": session_id}, message=f"session {session_id!r} is paused")


class NotPaused(SessionError):
    """
    ``resume()`` was called on a session that is not paused.
    """

    default_code = "not_paused"

    def __init__(self, session_id: str, status: str) -> None:
        super().__init__(
            {"session_id": session_id, "status": status},
            message=f"session {session_id!r} is {status}, not paused",
        )


class NoIterations(SessionError):
    """
    ``checkpoint()`` needs at least one stored iteration.
    """

    default_code = "no_iterations"

    def __init__(self, session_id: str) -> None:
        super().__init__(
            {"session_id": session_id},
            message=f"session {session_id!r} has no iterations",
        )


class ConcurrentUpdate(SessionError):
    """
    Another writer saved the session first; nothing was written.
    """

    default_code = "concurrent_update"

    def __init__(self, session_id: str, expected_revision: int, actual_revision: int) -> None:
        super().__init__(
            {
                "session_id": session_id,
                "expected_revision": expected_revision,
                "actual_revision": actual_revision,
            },
            message=(
                f"session {session_id!r} was updated concurrently "
                f"(expected revision {expected_revision}, found {actual_revision})"
            ),
        )


class ProposeNoToolAvailable(SessionError):
    """
    No allowlisted tool is usable, so no strategy can be proposed.
    """

    default_code = "propose_no_tool_available"

    def __init__(self, session_id: str, tool_allowlist: Sequence[str]) -> None:
        super().__init__(
            {"session_id": session_id, "tool_allowlist": list(tool_allowlist)},
            message=f"session {session_id!r}: no allowlisted tool is available",
        )


class InvalidArgument(SessionError):
    """
    An argument of a session or store operation is malformed.
    """

    default_code = "invalid_argument"

    def __init__(self, argument: str, reason: str, *, session_id: str | None = None) -> None:
        details: dict[str, Any] = {}
        if session_id is not None:
            details["session_id"] = session_id
        details["argument"] = argument
        details["reason"] = reason
        super().__init__(details, message=f"invalid_argument: {argument}: {reason}")


class StoreError(MissionkitError):
    """
    The store could not read or write; the OS or sqlite error is the ``__cause__``.
    """

    default_code = "store_error"

    def __init__(
        self,
        problem: str,
        *,
        session_id: str | None = None,
        details: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        d: dict[str, Any] = {}
        if session_id is not None:
            d["session_id"] = session_id
        d["problem"] = problem
        if details:
            d.update(details)
        super().__init__(None, d, message=message or f"{self.default_code}: {problem}")

    @property
    def problem(self) -> str:
        """
        What went wrong, naming the file or row.
        """
        return str(self.details.get("problem", ""))


class SessionCorrupt(StoreError):
    """
    A stored session cannot be read; *problem* names the file or row and the defect.
    """

    default_code = "session_corrupt"

    def __init__(self, session_id: str, problem: str) -> None:
        super().__init__(
            problem,
            session_id=session_id,
            message=f"session {session_id!r} is corrupt: {problem}",
        )


class UnsupportedSchemaVersion(StoreError):
    """
    A stored session (or store) has a schema version this missionkit cannot read.
    """

    default_code = "unsupported_schema_version"

    def __init__(self, session_id: str, version: Any, *, message: str | None = None) -> None:
        MissionkitError.__init__(
            self,
            None,
            {"session_id": session_id, "version": version, "supported": [1]},
            message=message
            or (
                f"session {session_id!r} has schema version {version!r}; "
                "this missionkit reads version 1"
            ),
        )


class ScaffoldSamplingError(MissionkitError):
    """
    Sampled criteria scaffolding failed after every attempt.

    Attributes:
        last_reason: The reason token of the last failed attempt.
    """

    default_code = "scaffold_sampling_failed"

    last_reason: str

    def __init__(self, last_reason: str, *, message: str | None = None) -> None:
        self.last_reason = last_reason
        super().__init__(
            None,
            {"last_reason": last_reason},
            message=message or f"scaffold_sampling_failed: {last_reason}",
        )

    def _restore_attributes(self) -> None:
        self.last_reason = self.details["last_reason"]
