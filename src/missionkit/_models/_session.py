"""
Session state, summaries and the final report (SPEC §3.11–3.13, §12).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import attrs

from missionkit import _codec as c
from missionkit._converter import CONVERTER
from missionkit._models._criteria import (
    Criterion,
    criterion_from_record,
)
from missionkit._models._inputs import (
    Budget,
    Cadence,
)
from missionkit._models._literals import (
    SAMPLING_MODES,
    STATUSES,
    TERMINAL_STATUSES,
    VERDICT_LABELS,
    SamplingMode,
    Status,
    VerdictLabel,
    _as_tuple,
    _as_tuple_or_none,
)
from missionkit._models._records import (
    CriterionProgress,
    CriterionResult,
    Iteration,
    PendingProposal,
)


def _progress_map(data: Any, path: str) -> dict[str, CriterionProgress]:
    if not isinstance(data, dict):
        raise c.record_error(path, "expected an object")
    return {k: CriterionProgress._from_record(v, c.join(path, k)) for k, v in data.items()}


@attrs.frozen(kw_only=True)
class SessionState:
    """
    Everything stored about one session.

    Attributes:
        version: Schema version (1).
        session_id: The session id.
        revision: Compare-and-swap counter, +1 on every save.
        status: Lifecycle status.
        directive_text: The stripped directive.
        criteria: Declared criteria.
        budget: Iteration and wall-clock caps.
        tool_allowlist: Tools the session may call, in order.
        checkpoint_cadence: When criteria are evaluated.
        stagnation_threshold: Evaluated iterations without progress before terminating.
        use_sampling: Whether the sampler is consulted.
        sampling_mode: When it is consulted; None iff sampling is off.
        allow_scripted_strategies: Whether strategies may be scripts.
        metadata: Host metadata.
        created_at: Creation time.
        updated_at: Time of the last save.
        started_at: When the first iteration started.
        ended_at: When the session became terminal.
        paused_at: When the current pause began.
        paused_seconds: Total paused time folded so far.
        last_checkpoint_at: Time of the last evaluated iteration.
        no_progress_counter: Current stagnation counter.
        criterion_progress: Per-criterion progress.
        final_verdict: Final verdict label.
        final_verdict_reason: Final verdict reason.
        pending_proposal: A proposal awaiting execution.
        iterations: Stored iterations (empty in headers).
    """

    version: int = 1
    session_id: str
    revision: int = 1
    status: Status = "pending"
    directive_text: str
    criteria: tuple[Criterion, ...] = attrs.field(converter=_as_tuple)
    budget: Budget
    tool_allowlist: tuple[str, ...] = attrs.field(converter=_as_tuple)
    checkpoint_cadence: Cadence = attrs.field(factory=Cadence)
    stagnation_threshold: int = 3
    use_sampling: bool = False
    sampling_mode: SamplingMode | None = None
    allow_scripted_strategies: bool = False
    metadata: dict[str, Any] = attrs.field(factory=dict)
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    paused_at: datetime | None = None
    paused_seconds: float = 0.0
    last_checkpoint_at: datetime | None = None
    no_progress_counter: int = 0
    criterion_progress: dict[str, CriterionProgress] = attrs.field(factory=dict)
    final_verdict: VerdictLabel | None = None
    final_verdict_reason: str | None = None
    pending_proposal: PendingProposal | None = None
    iterations: tuple[Iteration, ...] = attrs.field(default=(), converter=_as_tuple)

    @property
    def is_terminal(self) -> bool:
        """
        Whether the status is ``completed``, ``terminated`` or ``failed``.
        """
        return self.status in TERMINAL_STATUSES

    def active_seconds(self, now: datetime) -> float:
        """
        Active time at *now*: wall time since ``started_at`` minus paused time.
        """
        if self.started_at is None:
            return 0.0
        total = (now - self.started_at).total_seconds() - self.paused_seconds
        if self.paused_at is not None:
            total -= (now - self.paused_at).total_seconds()
        return max(0.0, total)

    def header(self) -> SessionState:
        """
        This state without iterations.
        """
        return attrs.evolve(self, iterations=()) if self.iterations else self

    def to_dict(self) -> dict[str, Any]:
        """
        Return the session's JSON form, including iterations.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    def header_dict(self) -> dict[str, Any]:
        """
        Return the JSON form without the ``iterations`` key (what stores keep as a header).
        """
        out = self.header().to_dict()
        del out["iterations"]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> SessionState:
        """
        Decode a stored session; a missing ``iterations`` key means a header.

        Raises:
            missionkit.errors.MissionValidationError: ``{field: <path>, reason: invalid_value}``.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> SessionState:
        o = c.Obj(data, path)
        version = o.int_("version")
        if version != 1:
            raise o.fail("version", f"unsupported schema version {version}")
        criteria = o.list_("criteria", criterion_from_record)
        budget = o.obj("budget", Budget._from_record)
        allowlist = o.list_("tool_allowlist", c.str_item)
        cadence = o.obj("checkpoint_cadence", Cadence._from_record)
        progress = o.obj("criterion_progress", _progress_map)
        state = cls(
            version=version,
            session_id=o.str_("session_id"),
            revision=o.int_("revision", minimum=1),
            status=o.literal("status", STATUSES, "status"),
            directive_text=o.str_("directive_text"),
            criteria=criteria or (),
            budget=budget,  # type: ignore[arg-type]
            tool_allowlist=allowlist or (),
            checkpoint_cadence=cadence,  # type: ignore[arg-type]
            stagnation_threshold=o.int_("stagnation_threshold", minimum=1),
            use_sampling=o.bool_("use_sampling"),
            sampling_mode=o.literal(
                "sampling_mode", SAMPLING_MODES, "sampling mode", optional=True
            ),
            allow_scripted_strategies=o.bool_("allow_scripted_strategies"),
            metadata=o.dict_("metadata"),
            created_at=o.timestamp("created_at"),
            updated_at=o.timestamp("updated_at"),
            started_at=o.timestamp("started_at", optional=True),
            ended_at=o.timestamp("ended_at", optional=True),
            paused_at=o.timestamp("paused_at", optional=True),
            paused_seconds=float(o.number("paused_seconds", finite=True)),
            last_checkpoint_at=o.timestamp("last_checkpoint_at", optional=True),
            no_progress_counter=o.int_("no_progress_counter", minimum=0),
            criterion_progress=progress or {},
            final_verdict=o.literal("final_verdict", VERDICT_LABELS, "verdict", optional=True),
            final_verdict_reason=o.str_("final_verdict_reason", optional=True),
            pending_proposal=o.obj("pending_proposal", PendingProposal._from_record, optional=True),
            iterations=o.list_("iterations", Iteration._from_record, optional=True) or (),
        )
        o.done()
        return state


@attrs.frozen(kw_only=True)
class SessionSummary:
    """
    One row of a session listing.

    Attributes:
        session_id: The session id.
        status: Status, or ``unreadable``.
        created_at: Creation time (None if unreadable).
        updated_at: Last save time (None if unreadable).
        iteration_count: Stored iterations (None if unreadable).
        final_verdict: Final verdict label.
        final_verdict_reason: Final verdict reason.
        error: ``"<code>: <problem>"`` for unreadable sessions.
    """

    session_id: str
    status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    iteration_count: int | None = None
    final_verdict: str | None = None
    final_verdict_reason: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """
        Return the summary's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> SessionSummary:
        """
        Decode a summary.
        """
        o = c.Obj(data, "")
        summary = cls(
            session_id=o.str_("session_id"),
            status=o.literal("status", (*STATUSES, "unreadable"), "status"),
            created_at=o.timestamp("created_at", optional=True),
            updated_at=o.timestamp("updated_at", optional=True),
            iteration_count=o.int_("iteration_count", optional=True, minimum=0),
            final_verdict=o.str_("final_verdict", optional=True),
            final_verdict_reason=o.str_("final_verdict_reason", optional=True),
            error=o.str_("error", optional=True),
        )
        o.done()
        return summary


@attrs.frozen(kw_only=True)
class FinalReport:
    """
    The durable summary written atomically with every terminal transition.

    Attributes:
        version: Report schema version (1).
        session_id: The session.
        status: ``completed``, ``terminated`` or ``failed``.
        directive_text: Copied from the session.
        criteria: Copied from the session.
        budget: Copied from the session.
        checkpoint_cadence: Copied from the session.
        tool_allowlist: Copied from the session.
        stagnation_threshold: Copied from the session.
        metadata: Copied from the session.
        created_at: Session creation time.
        started_at: First iteration start, or None.
        ended_at: Terminal transition time.
        active_seconds: Active time at ``ended_at``.
        iterations_run: Stored iterations including the final one.
        final_verdict: Final verdict label (None for failed).
        final_verdict_reason: Final verdict reason (None for failed).
        final_criteria_evaluation: Results of the last evaluated iteration.
        failure: ``{iteration_index, phase, error_message}`` for failed sessions.
        lessons: Lessons text.
        lessons_source: ``template`` or ``sampler``.
        recommended_followups: Suggested next steps.
        iterations: Every stored iteration.
    """

    version: int = 1
    session_id: str
    status: Status
    directive_text: str
    criteria: tuple[Criterion, ...] = attrs.field(converter=_as_tuple)
    budget: Budget
    checkpoint_cadence: Cadence
    tool_allowlist: tuple[str, ...] = attrs.field(converter=_as_tuple)
    stagnation_threshold: int
    metadata: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime
    active_seconds: float
    iterations_run: int
    final_verdict: VerdictLabel | None
    final_verdict_reason: str | None
    final_criteria_evaluation: tuple[CriterionResult, ...] | None = attrs.field(
        converter=_as_tuple_or_none
    )
    failure: dict[str, Any] | None
    lessons: str
    lessons_source: Literal["template", "sampler"]
    recommended_followups: tuple[str, ...] = attrs.field(converter=_as_tuple)
    iterations: tuple[Iteration, ...] = attrs.field(converter=_as_tuple)

    def to_dict(self) -> dict[str, Any]:
        """
        Return the report's JSON form.
        """
        out: dict[str, Any] = CONVERTER.unstructure(self)
        return out

    def _repr_html_(self) -> str:
        from missionkit._html import report_html

        return report_html(self)

    @classmethod
    def from_dict(cls, data: Any) -> FinalReport:
        """
        Decode a stored report.
        """
        return cls._from_record(data, "")

    @classmethod
    def _from_record(cls, data: Any, path: str) -> FinalReport:
        o = c.Obj(data, path)
        version = o.int_("version")
        if version != 1:
            raise o.fail("version", f"unsupported report version {version}")
        ended_at = o.timestamp("ended_at")
        report = cls(
            version=version,
            session_id=o.str_("session_id"),
            status=o.literal("status", ("completed", "terminated", "failed"), "final status"),
            directive_text=o.str_("directive_text"),
            criteria=o.list_("criteria", criterion_from_record) or (),
            budget=o.obj("budget", Budget._from_record),  # type: ignore[arg-type]
            checkpoint_cadence=o.obj("checkpoint_cadence", Cadence._from_record),  # type: ignore[arg-type]
            tool_allowlist=o.list_("tool_allowlist", c.str_item) or (),
            stagnation_threshold=o.int_("stagnation_threshold", minimum=1),
            metadata=o.dict_("metadata"),
            created_at=o.timestamp("created_at"),
            started_at=o.timestamp("started_at", optional=True),
            ended_at=ended_at,
            active_seconds=float(o.number("active_seconds", finite=True)),
            iterations_run=o.int_("iterations_run", minimum=0),
            final_verdict=o.literal("final_verdict", VERDICT_LABELS, "verdict", optional=True),
            final_verdict_reason=o.str_("final_verdict_reason", optional=True),
            final_criteria_evaluation=o.list_(
                "final_criteria_evaluation", CriterionResult._from_record, optional=True
            ),
            failure=o.dict_("failure", optional=True),
            lessons=o.str_("lessons"),
            lessons_source=o.literal("lessons_source", ("template", "sampler"), "lessons source"),
            recommended_followups=o.list_("recommended_followups", c.str_item) or (),
            iterations=o.list_("iterations", Iteration._from_record) or (),
        )
        o.done()
        return report
