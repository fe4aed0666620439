"""
Record models of one iteration (SPEC §3.6–3.10).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs

from missionkit import _codec as c
from missionkit._converter import CONVERTER
from missionkit._jsonsafe import format_timestamp
from missionkit._models._inputs import (
    Strategy,
)
from missionkit._models._literals import (
    CALL_STATUSES,
    CRITERION_STATUSES,
    PHASE_STATUSES,
    PHASES,
    SAMPLING_STATUSES,
    SCRIPT_LIMIT_KINDS,
    STRATEGY_SOURCES,
    TERMINAL_VERDICTS,
    VERDICT_LABELS,
    CallStatus,
    CriterionStatus,
    IterationStatus,
    Phase,
    PhaseStatus,
    SamplingStatus,
    ScriptLimitKind,
    StrategySource,
    VerdictLabel,
    _as_tuple,
    _as_tuple_or_none,
    _cut200,
)


@attrs.frozen
class ToolCallRecord:
    """
    One executed (or skipped, or host-reported) tool call.

    Attributes:
        tool_name: Name of the tool.
        args: JSON-safe copy of the arguments.
        status: ``ok``, ``failed`` or ``skipped_not_allowed``.
        result_summary: ``{"type", "bytes", …}`` for ``ok`` calls, else None.
        duration_ms: Milliseconds between dispatch start and end.
        error_message: Error text (≤200) for failed calls.
    """

    _handwritten_json: ClassVar[bool] = True

    tool_name: str
    args: dict[str, Any]
    status: CallStatus
    result_summary: dict[str, Any] | None
    duration_ms: int
    error_message: str | None = attrs.field(default=None, converter=_cut200)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the record's JSON form.
        """
        return {
            "tool_name": self.tool_name,
            "args": self.args,
            "status": self.status,
            "result_summary": self.result_summary,
            "duration_ms": self.duration_ms,
            "error_message": self.error_message,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ToolCallRecord:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> ToolCallRecord:
        o = c.Obj(data, path)
        record = cls(
            tool_name=o.str_("tool_name"),
            args=o.dict_("args"),
            status=o.literal("status", CALL_STATUSES, "call status"),
            result_summary=o.dict_("result_summary", optional=True),
            duration_ms=o.int_("duration_ms", minimum=0),
            error_message=o.str_("error_message", optional=True),
        )
        o.done()
        return record


@attrs.frozen
class PhaseRecord:
    """
    One phase of an iteration.

    Attributes:
        phase: ``propose``, ``execute``, ``observe``, ``evaluate`` or ``decide``.
        status: ``succeeded`` or ``failed``.
        started_at: When the phase started.
        ended_at: When the phase ended.
        error_message: Exception text (≤200) of a failed phase.
    """

    _handwritten_json: ClassVar[bool] = True

    phase: Phase
    status: PhaseStatus
    started_at: datetime
    ended_at: datetime
    error_message: str | None = attrs.field(default=None, converter=_cut200)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the record's JSON form.
        """
        return {
            "phase": self.phase,
            "status": self.status,
            "started_at": format_timestamp(self.started_at),
            "ended_at": format_timestamp(self.ended_at),
            "error_message": self.error_message,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PhaseRecord:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> PhaseRecord:
        o = c.Obj(data, path)
        record = cls(
            phase=o.literal("phase", PHASES, "phase"),
            status=o.literal("status", PHASE_STATUSES, "phase status"),
            started_at=o.timestamp("started_at"),
            ended_at=o.timestamp("ended_at"),
            error_message=o.str_("error_message", optional=True),
        )
        o.done()
        return record


@attrs.frozen
class Observation:
    """
    The engine-built, normalised result of executing a strategy.

    Attributes:
        tool_results: One annotated entry per executed call.
        metrics: Merged metrics.
        events: Events from results, then script/host events.
        errors: ``{tool_name, status, error_message}`` per non-ok call.
        phase_started_at: Observe-phase start.
        phase_ended_at: When the observation was complete.
    """

    _handwritten_json: ClassVar[bool] = True

    tool_results: tuple[dict[str, Any], ...] = attrs.field(converter=_as_tuple)
    metrics: dict[str, Any]
    events: tuple[dict[str, Any], ...] = attrs.field(converter=_as_tuple)
    errors: tuple[dict[str, Any], ...] = attrs.field(converter=_as_tuple)
    phase_started_at: datetime
    phase_ended_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """
        Return the observation's JSON form.
        """
        return {
            "tool_results": list(self.tool_results),
            "metrics": self.metrics,
            "events": list(self.events),
            "errors": list(self.errors),
            "phase_started_at": format_timestamp(self.phase_started_at),
            "phase_ended_at": format_timestamp(self.phase_ended_at),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Observation:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> Observation:
        o = c.Obj(data, path)
        obs = cls(
            tool_results=o.list_("tool_results", c.dict_item) or (),
            metrics=o.dict_("metrics"),
            events=o.list_("events", c.dict_item) or (),
            errors=o.list_("errors", c.dict_item) or (),
            phase_started_at=o.timestamp("phase_started_at"),
            phase_ended_at=o.timestamp("phase_ended_at"),
        )
        o.done()
        return obs


@attrs.frozen
class CriterionResult:
    """
    One criterion's evaluation.

    Attributes:
        criterion_id: The criterion.
        status: ``met``, ``unmet`` or ``inconclusive``.
        evidence: Bounded JSON data explaining the status.
        evaluated_at: When it was evaluated.
    """

    _handwritten_json: ClassVar[bool] = True

    criterion_id: str
    status: CriterionStatus
    evidence: Any
    evaluated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """
        Return the result's JSON form.
        """
        return {
            "criterion_id": self.criterion_id,
            "status": self.status,
            "evidence": self.evidence,
            "evaluated_at": format_timestamp(self.evaluated_at),
        }

    @classmethod
    def from_dict(cls, data: Any) -> CriterionResult:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> CriterionResult:
        o = c.Obj(data, path)
        result = cls(
            criterion_id=o.str_("criterion_id"),
            status=o.literal("status", CRITERION_STATUSES, "criterion status"),
            evidence=o.raw("evidence"),
            evaluated_at=o.timestamp("evaluated_at"),
        )
        o.done()
        return result


@attrs.frozen
class Verdict:
    """
    The decision taken for an iteration.

    Attributes:
        label: ``continue``, ``adjust``, ``complete`` or ``terminate``.
        reason: The reason token, e.g. ``criteria_met``.
    """

    _handwritten_json: ClassVar[bool] = True

    label: VerdictLabel
    reason: str

    @property
    def is_terminal(self) -> bool:
        """
        Whether the verdict ends the session (``complete`` or ``terminate``).
        """
        return self.label in TERMINAL_VERDICTS

    def to_dict(self) -> dict[str, Any]:
        """
        Return ``{"verdict": label, "verdict_reason": reason}``.
        """
        return {"verdict": self.label, "verdict_reason": self.reason}

    @classmethod
    def from_dict(cls, data: Any) -> Verdict:
        """
        Decode ``{"verdict", "verdict_reason"}``.
        """
        o = c.Obj(data, "")
        verdict = cls(o.literal("verdict", VERDICT_LABELS, "verdict"), o.str_("verdict_reason"))
        o.done()
        return verdict


@attrs.frozen(kw_only=True)
class Iteration:
    """
    One pass through the phases, as stored.

    Attributes:
        iteration_index: 0-based index.
        status: ``failed`` iff a phase raised.
        started_at: When the iteration started.
        ended_at: When it ended.
        phases: Phase records in execution order.
        strategy: The proposed strategy, or None.
        strategy_source: Where the strategy came from.
        tool_calls: Executed or host-reported calls.
        script_call_log: In-script calls; non-null iff the strategy was a script.
        script_error: Uncaught script exception text.
        sandbox_terminated_reason: Resource limit a script hit.
        observation: The observation, or None.
        criteria_evaluation: One result per criterion on evaluated iterations.
        checkpoint_evaluated: Whether criteria were evaluated.
        progress: Whether this iteration counted as progress.
        no_progress_counter: Counter value after this iteration.
        verdict: Verdict label, or None for failed iterations.
        verdict_reason: Verdict reason, or None for failed iterations.
        revision_rationale: Set iff the verdict is ``adjust``.
        sampling_status: Outcome of a sampler consultation, if any.
        sampling_rejection_reason: Why the sampler's output was not used.
        sampling_output: Raw sampler text (capped).
        sampling_rationale: The sampler's rationale when its output was used.
    """

    iteration_index: int
    status: IterationStatus
    started_at: datetime
    ended_at: datetime
    phases: tuple[PhaseRecord, ...] = attrs.field(default=(), converter=_as_tuple)
    strategy: Strategy | None = None
    strategy_source: StrategySource | None = None
    tool_calls: tuple[ToolCallRecord, ...] = attrs.field(default=(), converter=_as_tuple)
    script_call_log: tuple[ToolCallRecord, ...] | None = attrs.field(
        default=None, converter=_as_tuple_or_none
    )
    script_error: str | None = attrs.field(default=None, converter=_cut200)
    sandbox_terminated_reason: ScriptLimitKind | None = None
    observation: Observation | None = None
    criteria_evaluation: tuple[CriterionResult, ...] = attrs.field(default=(), converter=_as_tuple)
    checkpoint_evaluated: bool = False
    progress: bool = False
    no_progress_counter: int = 0
    verdict: VerdictLabel | None = None
    verdict_reason: str | None = None
    revision_rationale: str | None = None
    sampling_status: SamplingStatus | None = None
    sampling_rejection_reason: str | None = None
    sampling_output: Any = None
    sampling_rationale: str | None = None

    @property
    def verdict_obj(self) -> Verdict | None:
        """
        The verdict as a `Verdict`, or None for failed iterations.
        """
        if self.verdict is None or self.verdict_reason is None:
            return None
        return Verdict(self.verdict, self.verdict_reason)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the iteration's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    def summary(self) -> IterationSummary:
        """
        The iteration's summary.
        """
        return IterationSummary(
            iteration_index=self.iteration_index,
            status=self.status,
            verdict=self.verdict,
            verdict_reason=self.verdict_reason,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )

    def _repr_html_(self) -> str:
        from missionkit._html import iteration_html

        return iteration_html(self)

    @classmethod
    def from_dict(cls, data: Any) -> Iteration:
        """
        Decode a stored iteration.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> Iteration:
        o = c.Obj(data, path)
        it = cls(
            iteration_index=o.int_("iteration_index", minimum=0),
            status=o.literal("status", ("succeeded", "failed"), "iteration status"),
            started_at=o.timestamp("started_at"),
            ended_at=o.timestamp("ended_at"),
            phases=o.list_("phases", PhaseRecord._from_record) or (),
            strategy=o.obj("strategy", Strategy._from_record, optional=True),
            strategy_source=o.literal(
                "strategy_source", STRATEGY_SOURCES, "strategy source", optional=True
            ),
            tool_calls=o.list_("tool_calls", ToolCallRecord._from_record) or (),
            script_call_log=o.list_("script_call_log", ToolCallRecord._from_record, optional=True),
            script_error=o.str_("script_error", optional=True),
            sandbox_terminated_reason=o.literal(
                "sandbox_terminated_reason", SCRIPT_LIMIT_KINDS, "script limit", optional=True
            ),
            observation=o.obj("observation", Observation._from_record, optional=True),
            criteria_evaluation=o.list_("criteria_evaluation", CriterionResult._from_record) or (),
            checkpoint_evaluated=o.bool_("checkpoint_evaluated"),
            progress=o.bool_("progress"),
            no_progress_counter=o.int_("no_progress_counter", minimum=0),
            verdict=o.literal("verdict", VERDICT_LABELS, "verdict", optional=True),
            verdict_reason=o.str_("verdict_reason", optional=True),
            revision_rationale=o.str_("revision_rationale", optional=True),
            sampling_status=o.literal(
                "sampling_status", SAMPLING_STATUSES, "sampling status", optional=True
            ),
            sampling_rejection_reason=o.str_("sampling_rejection_reason", optional=True),
            sampling_output=o.raw("sampling_output"),
            sampling_rationale=o.str_("sampling_rationale", optional=True),
        )
        o.done()
        return it


@attrs.frozen(kw_only=True)
class PendingProposal:
    """
    A strategy proposed by ``Session.propose()`` and not yet consumed.

    Attributes:
        strategy: The proposed strategy.
        strategy_source: Where it came from.
        phases: Propose phase records so far.
        sampling_status: Sampler outcome, if consulted.
        sampling_rejection_reason: Fallback reason.
        sampling_output: Raw sampler text (capped).
        sampling_rationale: Sampler rationale when used.
    """

    strategy: Strategy
    strategy_source: StrategySource
    phases: tuple[PhaseRecord, ...] = attrs.field(default=(), converter=_as_tuple)
    sampling_status: SamplingStatus | None = None
    sampling_rejection_reason: str | None = None
    sampling_output: Any = None
    sampling_rationale: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """
        Return the proposal's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> PendingProposal:
        """
        Decode a stored proposal.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> PendingProposal:
        o = c.Obj(data, path)
        strategy = o.obj("strategy", Strategy._from_record)
        assert strategy is not None
        proposal = cls(
            strategy=strategy,
            strategy_source=o.literal("strategy_source", STRATEGY_SOURCES, "strategy source"),
            phases=o.list_("phases", PhaseRecord._from_record) or (),
            sampling_status=o.literal(
                "sampling_status", SAMPLING_STATUSES, "sampling status", optional=True
            ),
            sampling_rejection_reason=o.str_("sampling_rejection_reason", optional=True),
            sampling_output=o.raw("sampling_output"),
            sampling_rationale=o.str_("sampling_rationale", optional=True),
        )
        o.done()
        return proposal


@attrs.frozen
class CriterionProgress:
    """
    Per-criterion progress bookkeeping kept on the session.

    Attributes:
        ever_met: Whether the criterion has ever been met.
        best_value: Best finite value so far (``metric_threshold`` only).
    """

    _handwritten_json: ClassVar[bool] = True

    ever_met: bool = False
    best_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """
        Return ``{"ever_met", "best_value"}``.
        """
        return {"ever_met": self.ever_met, "best_value": self.best_value}

    @classmethod
    def from_dict(cls, data: Any) -> CriterionProgress:
        """
        Decode a stored record.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> CriterionProgress:
        o = c.Obj(data, path)
        progress = cls(o.bool_("ever_met"), o.number("best_value", optional=True))
        o.done()
        return progress


@attrs.frozen(kw_only=True)
class IterationSummary:
    """
    A compact view of one iteration.

    Attributes:
        iteration_index: 0-based index.
        status: ``succeeded`` or ``failed``.
        verdict: Verdict label (None if failed).
        verdict_reason: Verdict reason (None if failed).
        started_at: Start time.
        ended_at: End time.
    """

    iteration_index: int
    status: IterationStatus
    verdict: VerdictLabel | None
    verdict_reason: str | None
    started_at: datetime
    ended_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """
        Return the summary's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> IterationSummary:
        """
        Decode a summary.
        """
        o = c.Obj(data, "")
        summary = cls(
            iteration_index=o.int_("iteration_index", minimum=0),
            status=o.literal("status", ("succeeded", "failed"), "iteration status"),
            verdict=o.literal("verdict", VERDICT_LABELS, "verdict", optional=True),
            verdict_reason=o.str_("verdict_reason", optional=True),
            started_at=o.timestamp("started_at"),
            ended_at=o.timestamp("ended_at"),
        )
        o.done()
        return summary
