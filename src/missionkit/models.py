"""
Every data model of a mission: inputs, records, session state and reports.

All models are frozen, slotted attrs classes. Sequence fields are tuples;
fields holding JSON data (``args``, ``metrics``, results, evidence,
``metadata``) hold plain dicts and lists that must be treated as immutable.
Each model has ``to_dict()`` (JSON data, key order as in SPEC §3) and
``from_dict()``. Input models (criteria, `Budget`, `Cadence`, `Strategy`,
`ObservationInput`) validate in ``from_dict`` exactly like
:mod:`missionkit.validation`; record models decode strictly and report the JSON
path of a defect.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from missionkit._models._criteria import (
    Criterion,
    EventCriterion,
    MetricThresholdCriterion,
    MetricTrendCriterion,
    PredicateCriterion,
    ToolCallSucceededCriterion,
)
from missionkit._models._inputs import (
    Budget,
    Cadence,
    HostToolCall,
    ObservationInput,
    Strategy,
    ToolCall,
)
from missionkit._models._limits import (
    Limits,
)
from missionkit._models._records import (
    CriterionProgress,
    CriterionResult,
    Iteration,
    IterationSummary,
    Observation,
    PendingProposal,
    PhaseRecord,
    ToolCallRecord,
    Verdict,
)
from missionkit._models._session import (
    FinalReport,
    SessionState,
    SessionSummary,
)

__all__ = [
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
