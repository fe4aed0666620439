"""
missionkit: embeddable goal-directed iteration loops.

A host declares a directive, machine-checkable criteria, a budget and a tool
allowlist; missionkit runs propose → execute → observe → evaluate → decide
until a verdict, persisting every session and auditing every phase.
"""

# No ``from __future__ import annotations`` or ``typing`` import here: every
# public name of this module is a re-export listed in ``__all__``.
from missionkit._jsonsafe import to_json
from missionkit._mission import Mission
from missionkit._session import Session
from missionkit._tools import Tool
from missionkit.errors import (
    ConcurrentUpdate,
    InvalidArgument,
    MissionkitError,
    MissionValidationError,
    NoIterations,
    NotPaused,
    PredicateLimitExceeded,
    PredicateRejected,
    ProposeNoToolAvailable,
    ScaffoldSamplingError,
    ScriptRejected,
    SessionCorrupt,
    SessionError,
    SessionFailed,
    SessionNotFound,
    SessionPaused,
    SessionTerminal,
    StoreError,
    UnsupportedSchemaVersion,
)
from missionkit.models import (
    Budget,
    Cadence,
    Criterion,
    CriterionProgress,
    CriterionResult,
    EventCriterion,
    FinalReport,
    HostToolCall,
    Iteration,
    IterationSummary,
    Limits,
    MetricThresholdCriterion,
    MetricTrendCriterion,
    Observation,
    ObservationInput,
    PendingProposal,
    PhaseRecord,
    PredicateCriterion,
    SessionState,
    SessionSummary,
    Strategy,
    ToolCall,
    ToolCallRecord,
    ToolCallSucceededCriterion,
    Verdict,
)
from missionkit.proposers import ProposalContext
from missionkit.validation import MISSION_CONTROL_TOOLS

__all__ = [
    "Budget",
    "Cadence",
    "ConcurrentUpdate",
    "Criterion",
    "CriterionProgress",
    "CriterionResult",
    "EventCriterion",
    "FinalReport",
    "HostToolCall",
    "InvalidArgument",
    "Iteration",
    "IterationSummary",
    "Limits",
    "MISSION_CONTROL_TOOLS",
    "MetricThresholdCriterion",
    "MetricTrendCriterion",
    "Mission",
    "MissionValidationError",
    "MissionkitError",
    "NoIterations",
    "NotPaused",
    "Observation",
    "ObservationInput",
    "PendingProposal",
    "PhaseRecord",
    "PredicateCriterion",
    "PredicateLimitExceeded",
    "PredicateRejected",
    "ProposalContext",
    "ProposeNoToolAvailable",
    "ScaffoldSamplingError",
    "ScriptRejected",
    "Session",
    "SessionCorrupt",
    "SessionError",
    "SessionFailed",
    "SessionNotFound",
    "SessionPaused",
    "SessionState",
    "SessionSummary",
    "SessionTerminal",
    "StoreError",
    "Strategy",
    "Tool",
    "ToolCall",
    "ToolCallRecord",
    "ToolCallSucceededCriterion",
    "UnsupportedSchemaVersion",
    "Verdict",
    "to_json",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("missionkit")
    raise AttributeError(f"module 'missionkit' has no attribute {name!r}")
