"""
JSON key orders of the spec's records, written out once for every test that checks them.
"""

from __future__ import annotations

__all__ = [
    "ITERATION_KEYS",
    "ITERATION_SUMMARY_KEYS",
    "REPORT_KEYS",
    "SESSION_KEYS",
    "SESSION_SUMMARY_KEYS",
]

#: SPEC §3.9.
ITERATION_KEYS = [
    "iteration_index",
    "status",
    "started_at",
    "ended_at",
    "phases",
    "strategy",
    "strategy_source",
    "tool_calls",
    "script_call_log",
    "script_error",
    "sandbox_terminated_reason",
    "observation",
    "criteria_evaluation",
    "checkpoint_evaluated",
    "progress",
    "no_progress_counter",
    "verdict",
    "verdict_reason",
    "revision_rationale",
    "sampling_status",
    "sampling_rejection_reason",
    "sampling_output",
    "sampling_rationale",
]

#: SPEC §3.11 (headers leave out ``iterations``).
SESSION_KEYS = [
    "version",
    "session_id",
    "revision",
    "status",
    "directive_text",
    "criteria",
    "budget",
    "tool_allowlist",
    "checkpoint_cadence",
    "stagnation_threshold",
    "use_sampling",
    "sampling_mode",
    "allow_scripted_strategies",
    "metadata",
    "created_at",
    "updated_at",
    "started_at",
    "ended_at",
    "paused_at",
    "paused_seconds",
    "last_checkpoint_at",
    "no_progress_counter",
    "criterion_progress",
    "final_verdict",
    "final_verdict_reason",
    "pending_proposal",
    "iterations",
]

#: SPEC §12.1.
REPORT_KEYS = [
    "version",
    "session_id",
    "status",
    "directive_text",
    "criteria",
    "budget",
    "checkpoint_cadence",
    "tool_allowlist",
    "stagnation_threshold",
    "metadata",
    "created_at",
    "started_at",
    "ended_at",
    "active_seconds",
    "iterations_run",
    "final_verdict",
    "final_verdict_reason",
    "final_criteria_evaluation",
    "failure",
    "lessons",
    "lessons_source",
    "recommended_followups",
    "iterations",
]

#: SPEC §3.12.
SESSION_SUMMARY_KEYS = [
    "session_id",
    "status",
    "created_at",
    "updated_at",
    "iteration_count",
    "final_verdict",
    "final_verdict_reason",
    "error",
]

#: SPEC §3.12.
ITERATION_SUMMARY_KEYS = [
    "iteration_index",
    "status",
    "verdict",
    "verdict_reason",
    "started_at",
    "ended_at",
]
