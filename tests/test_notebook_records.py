"""
``Session.history_records()`` rows for dataframes (SPEC §15.2).
"""

from __future__ import annotations

from typing import Any

import pytest

import missionkit as mk
from missionkit.testing import FakeClock

FIXED = [
    "session_id",
    "iteration_index",
    "status",
    "verdict",
    "verdict_reason",
    "started_at",
    "ended_at",
    "duration_s",
    "checkpoint_evaluated",
    "progress",
    "no_progress_counter",
    "n_tool_calls",
    "n_failed_calls",
]
CRITERIA = [
    {
        "criterion_id": "zeta",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.loss",
        "op": "<=",
        "target": 0.1,
    },
    {"criterion_id": "alpha", "kind": "event", "required": False, "event_name": "done"},
]


@pytest.fixture(name="session")
def _session() -> mk.Session:
    mission = mk.Mission(tools={"train": None}, clock=FakeClock(step=0.5))
    return mission.start(
        directive="Lower the loss",
        criteria=CRITERIA,
        budget={"max_iterations": 10, "max_wall_clock_seconds": -1},
        tool_allowlist=["train"],
        checkpoint_cadence={"kind": "every_n_iterations", "n": 2},
        session_id="mission-rows",
    )


def call(status: str, result: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"tool_name": "train", "status": status, "result": result}
    if status == "failed":
        out["error_message"] = "RuntimeError: boom"
    return out


class TestHistoryRecords:
    def test_empty(self, session: mk.Session) -> None:
        """A session without iterations has no rows."""
        assert [] == session.history_records()

    def test_key_order(self, session: mk.Session) -> None:
        """Fixed keys, then criteria in declaration order, then numeric metric keys sorted."""
        session.observe({"metrics": {"zz": 1, "loss": 0.5, "flag": True, "name": "x"}})
        session.observe({"metrics": {"b": 2.5, "loss": 0.4}})

        rows = session.history_records()

        expected = [
            *FIXED,
            "criterion:zeta",
            "criterion:alpha",
            "metric:b",
            "metric:loss",
            "metric:zz",
        ]
        assert [expected, expected] == [list(row) for row in rows]

    def test_values(self, session: mk.Session) -> None:
        """Rows carry statuses, counts, ISO times, durations, criteria and metric values."""
        session.observe(
            {
                "metrics": {"loss": 0.5},
                "tool_calls": [
                    call("ok", {"metrics": {"acc": 0.9}}),
                    call("failed"),
                    call("skipped_not_allowed"),
                ],
            }
        )
        session.observe({"metrics": {"loss": 0.05}})

        first, second = session.history_records()

        iterations = session.state.iterations
        assert {
            "session_id": "mission-rows",
            "iteration_index": 0,
            "status": "succeeded",
            "verdict": "continue",
            "verdict_reason": "in_progress",
            "started_at": iterations[0].started_at.isoformat(timespec="microseconds"),
            "ended_at": iterations[0].ended_at.isoformat(timespec="microseconds"),
            "duration_s": (iterations[0].ended_at - iterations[0].started_at).total_seconds(),
            "checkpoint_evaluated": True,
            "progress": False,
            "no_progress_counter": 0,
            "n_tool_calls": 3,
            "n_failed_calls": 2,
            "criterion:zeta": "unmet",
            "criterion:alpha": "unmet",
            "metric:acc": 0.9,
            "metric:loss": 0.5,
        } == first
        assert (False, None, None, None, 0.05, 0, 0) == (
            second["checkpoint_evaluated"],
            second["criterion:zeta"],
            second["criterion:alpha"],
            second["metric:acc"],
            second["metric:loss"],
            second["n_tool_calls"],
            second["n_failed_calls"],
        )
        assert isinstance(first["duration_s"], float)
        assert first["duration_s"] > 0

    def test_failed_iteration_row(self) -> None:
        """A failed iteration has a row with null verdict, null criteria and null metrics."""

        def boom(ctx: Any) -> None:
            raise ZeroDivisionError("division by zero")

        def train() -> dict[str, Any]:
            return {"metrics": {"loss": 1.0}}

        good = mk.Mission(tools=[train], clock=FakeClock())
        session = good.start(
            directive="Lower the loss",
            criteria=CRITERIA,
            budget={"max_iterations": 10, "max_wall_clock_seconds": -1},
            tool_allowlist=["train"],
        )
        session.step()
        bad = mk.Mission(tools=[train], clock=FakeClock(), store=good.store, proposer=boom)
        with pytest.raises(ZeroDivisionError):
            bad.session(session.id).step()

        row = session.history_records()[-1]

        assert ("failed", None, None, None, None, 0) == (
            row["status"],
            row["verdict"],
            row["criterion:zeta"],
            row["criterion:alpha"],
            row["metric:loss"],
            row["n_tool_calls"],
        )

    def test_rows_are_fresh_copies(self, session: mk.Session) -> None:
        """Rows are new dicts on every call; editing one changes nothing stored."""
        session.observe({"metrics": {"loss": 0.5}})

        rows = session.history_records()
        rows[0]["status"] = "tampered"

        assert "succeeded" == session.history_records()[0]["status"]
