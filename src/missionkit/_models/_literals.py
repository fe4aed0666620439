"""
Literal types and token sets of the data model (SPEC §3.2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, cast

from missionkit._text import TEXT_LIMIT

Status = Literal["pending", "running", "paused", "completed", "terminated", "failed"]
VerdictLabel = Literal["continue", "adjust", "complete", "terminate"]
CriterionStatus = Literal["met", "unmet", "inconclusive"]
Op = Literal["<", "<=", ">", ">=", "==", "!="]
TrendDirection = Literal["decreasing", "increasing", "non_increasing", "non_decreasing"]
CadenceKind = Literal["every_iteration", "every_n_iterations", "every_t_seconds", "on_event"]
CallStatus = Literal["ok", "failed", "skipped_not_allowed"]
Phase = Literal["propose", "execute", "observe", "evaluate", "decide"]
PhaseStatus = Literal["succeeded", "failed"]
IterationStatus = Literal["succeeded", "failed"]
StrategySource = Literal["default", "proposer", "sampler", "host"]
SamplingStatus = Literal["used", "rejected", "disabled", "unavailable"]
SamplingMode = Literal["after_adjust", "every_iteration"]
NonFinitePolicy = Literal["inconclusive", "unmet", "terminate"]
MinDeltaMode = Literal["abs", "rel"]
ScriptLimitKind = Literal["wall_time", "memory"]

STATUSES = ("pending", "running", "paused", "completed", "terminated", "failed")
TERMINAL_STATUSES = frozenset({"completed", "terminated", "failed"})
VERDICT_LABELS = ("continue", "adjust", "complete", "terminate")
TERMINAL_VERDICTS = frozenset({"complete", "terminate"})
CRITERION_STATUSES = ("met", "unmet", "inconclusive")
OPS = ("<", "<=", ">", ">=", "==", "!=")
TREND_DIRECTIONS = ("decreasing", "increasing", "non_increasing", "non_decreasing")
CADENCE_KINDS = ("every_iteration", "every_n_iterations", "every_t_seconds", "on_event")
CALL_STATUSES = ("ok", "failed", "skipped_not_allowed")
PHASES = ("propose", "execute", "observe", "evaluate", "decide")
PHASE_STATUSES = ("succeeded", "failed")
STRATEGY_SOURCES = ("default", "proposer", "sampler", "host")
SAMPLING_STATUSES = ("used", "rejected", "disabled", "unavailable")
SAMPLING_MODES = ("after_adjust", "every_iteration")
NON_FINITE_POLICIES = ("inconclusive", "unmet", "terminate")
MIN_DELTA_MODES = ("abs", "rel")
SCRIPT_LIMIT_KINDS = ("wall_time", "memory")


_SESSION_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def is_session_id(text: str) -> bool:
    """
    Whether *text* is a session id (SPEC §4.2): ``[A-Za-z0-9_.-]{1,128}``, not starting with ``.``.
    """
    return _SESSION_ID.fullmatch(text) is not None and not text.startswith(".")


def _cut200(value: str | None) -> str | None:
    return value if value is None or len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT]


def _as_tuple(value: Sequence[Any]) -> tuple[Any, ...]:
    # Sequence fields are tuples (SPEC §3.1): a plain list given to a constructor
    # becomes one, so the instance hashes and equals its own round trip. Any
    # other value is left as it is for the validators to judge.
    return tuple(value) if type(value) is list else cast("tuple[Any, ...]", value)


def _as_tuple_or_none(value: Sequence[Any] | None) -> tuple[Any, ...] | None:
    return None if value is None else _as_tuple(value)


def _validation() -> Any:
    import missionkit.validation as v

    return v
