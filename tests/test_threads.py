"""
One Mission shared by several threads (SPEC §15.3).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import missionkit as mk
from missionkit.store import MemoryStore, SQLiteStore


def probe(k: int = 0) -> dict[str, Any]:
    """
    Report a constant metric.
    """
    return {"metrics": {"k": k}}


SPEC: dict[str, Any] = {
    "directive": "never done",
    "criteria": [
        {
            "criterion_id": "k",
            "kind": "metric_threshold",
            "required": True,
            "metric": "metrics.k",
            "op": ">",
            "target": 5,
        }
    ],
    "budget": {"max_iterations": 12, "max_wall_clock_seconds": -1},
    "tool_allowlist": ["probe"],
    "stagnation_threshold": 50,
}


@pytest.fixture(name="store", params=["memory", "sqlite"])
def _store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "m.db")
    yield store
    store.close()


def _in_threads(target: Any, count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


class TestSharedMission:
    def test_threads_run_their_own_sessions(self, store: Any) -> None:
        """Four threads each run three sessions to their budget through one Mission."""
        mission = mk.Mission(tools=[probe], store=store)
        errors: list[str] = []
        reasons: list[str | None] = []

        def worker() -> None:
            try:
                for _ in range(3):
                    report = mission.start(**SPEC).run()
                    reasons.append(report.final_verdict_reason if report else None)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(repr(exc))

        _in_threads(worker, 4)

        assert [] == errors
        assert ["max_iterations"] * 12 == reasons
        assert 12 == len(mission.sessions("terminated"))

    def test_handles_racing_on_one_session_keep_history_consecutive(self, store: Any) -> None:
        """Two threads stepping one session lose no iteration and duplicate none."""
        mission = mk.Mission(tools=[probe], store=store)
        session_id = mission.start(**SPEC).id

        def racer() -> None:
            handle = mission.session(session_id)
            while True:
                try:
                    iteration = handle.step()
                except mk.ConcurrentUpdate:
                    continue
                except mk.SessionTerminal:
                    return
                if iteration.verdict in ("complete", "terminate"):
                    return

        _in_threads(racer, 2)

        iterations = mission.session(session_id).state.iterations
        assert list(range(12)) == [it.iteration_index for it in iterations]
        assert "terminated" == mission.session(session_id).status
