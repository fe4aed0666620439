"""
Stateful tests: one stored session driven through several handles and stores.

SPEC §2.4, §6.2, §6.9–§6.18, §11. A Hypothesis rule-based machine drives one
session through random operations made, one at a time, via two `Session`
handles (plus a third opened mid-way, and handles of a second `Mission` sharing
the store) and checks after every rule what must hold whatever the engine
decided: revisions move by exactly one per successful write, iterations are
consecutive and equal what the operations returned, refusals write and emit
nothing, terminal states are sticky, every handle and a fresh `Mission` agree,
and `ConcurrentUpdate` never appears (the handles never race).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import missionkit as mk
from missionkit.audit import MemorySink
from missionkit.store import JsonDirStore, MemoryStore, SessionStore, SQLiteStore
from missionkit.testing import FakeClock

SESSION_ID = "mission-stateful"
TERMINAL = ("completed", "terminated", "failed")
ENGINE_PAIRS = {
    ("continue", "in_progress"),
    ("continue", "cadence_skip"),
    ("adjust", "heuristic_unproductive"),
    ("complete", "criteria_met"),
    ("terminate", "non_finite"),
    ("terminate", "max_iterations"),
    ("terminate", "max_wall_clock"),
    ("terminate", "no_progress"),
}
INF = float("inf")

# What the ``train`` tool does on one call.
OUTCOME = st.one_of(
    st.tuples(st.just("loss"), st.sampled_from([0.05, 0.3, 0.8, 1.0, INF])),
    st.tuples(st.just("done"), st.sampled_from([0.05, 0.5])),
    st.just(("raise", None)),
    st.just(("plain", None)),
)
OUTCOMES = st.lists(OUTCOME, min_size=1, max_size=4)

CRITERIA_POOL: list[dict[str, Any]] = [
    {
        "criterion_id": "loss",
        "kind": "metric_threshold",
        "required": True,
        "metric": "metrics.loss",
        "op": "<=",
        "target": 0.1,
    },
    {"criterion_id": "done", "kind": "event", "required": True, "event_name": "done"},
    {
        "criterion_id": "enough",
        "kind": "predicate",
        "required": False,
        "expression": "len(obs['tool_results']) >= 3",
    },
    {
        "criterion_id": "trained",
        "kind": "tool_call_succeeded",
        "required": True,
        "tool_name": "train",
        "min_count": 2,
    },
]

HOST_CALL = st.fixed_dictionaries(
    {
        "tool_name": st.sampled_from(["train", "ext", "elsewhere"]),
        "status": st.sampled_from(["ok", "failed", "skipped_not_allowed"]),
    },
    optional={
        "result": st.sampled_from(
            [{"metrics": {"loss": 0.05}}, {"events": [{"event_name": "done"}]}, "plain", None]
        ),
        "error_message": st.sampled_from(["RuntimeError: host failed", "timeout 12"]),
        "duration_ms": st.integers(0, 50),
    },
)
OBSERVATION = st.fixed_dictionaries(
    {},
    optional={
        "metrics": st.dictionaries(
            st.sampled_from(["loss", "acc"]), st.sampled_from([0.05, 0.4, 2, INF]), max_size=2
        ),
        "events": st.lists(
            st.fixed_dictionaries({"event_name": st.sampled_from(["done", "noise"])}), max_size=2
        ),
        "tool_calls": st.lists(HOST_CALL, max_size=3),
    },
)
BAD_OBSERVATION = st.sampled_from(
    [
        [],
        {"bogus": 1},
        {"metrics": []},
        {"events": [1]},
        {"tool_calls": [{"tool_name": "", "status": "ok"}]},
        {"tool_calls": [{"tool_name": "train", "status": "exploded"}]},
    ]
)
REASONS = st.sampled_from(["forced_complete", "done_here", "x1", "Bad Reason", "", "9lives"])
TOKEN_OK = {"forced_complete", "done_here", "x1"}


class ScriptedTrain:
    """
    The ``train`` tool: plays queued outcomes in order, then repeats the last one.
    """

    __name__ = "train"

    def __init__(self) -> None:
        self.queue: deque[tuple[str, Any]] = deque()
        self.last: tuple[str, Any] = ("loss", 1.0)

    def load(self, outcomes: list[tuple[str, Any]]) -> None:
        """
        Replace the queued outcomes.
        """
        self.queue = deque(outcomes)

    def __call__(self, **kwargs: Any) -> Any:
        if self.queue:
            self.last = self.queue.popleft()
        kind, value = self.last
        if kind == "raise":
            raise ValueError("train exploded")
        if kind == "plain":
            return "plain"
        if kind == "done":
            return {"metrics": {"loss": value}, "events": [{"event_name": "done"}]}
        return {"metrics": {"loss": value}}


def probe() -> dict[str, Any]:
    """
    A constant runnable tool.
    """
    return {"metrics": {"acc": 0.5}}


class OneShotFailingProposer:
    """
    Defers to the default proposer; raises `ZeroDivisionError` once when armed.

    Attributes:
        armed: Whether the next call raises.
        fired: How many times it raised.
    """

    def __init__(self) -> None:
        self.armed = False
        self.fired = 0

    def __call__(self, ctx: Any) -> None:
        if self.armed:
            self.armed = False
            self.fired += 1
            raise ZeroDivisionError("proposer exploded")
        return None


def gate_error(status: str) -> type[mk.SessionError] | None:
    """
    The error `step()`/`propose()`/`observe()`/`run()` must raise in *status*, or None.
    """
    return {
        "failed": mk.SessionFailed,
        "completed": mk.SessionTerminal,
        "terminated": mk.SessionTerminal,
        "paused": mk.SessionPaused,
    }.get(status)


def terminal_error(status: str) -> type[mk.SessionError] | None:
    """
    The error an operator action must raise in *status*, or None.
    """
    return {
        "failed": mk.SessionFailed,
        "completed": mk.SessionTerminal,
        "terminated": mk.SessionTerminal,
    }.get(status)


def may_end(machine: HandlesMachine) -> bool:
    """
    Session-ending rules wait until the session ran a few iterations (or already ended).
    """
    status = getattr(machine, "status", "pending")
    return status in TERMINAL or len(machine.iterations) >= machine.enders_after


class HandlesMachine(RuleBasedStateMachine):
    """
    One session, several handles, one store; a model of what must hold.
    """

    store_kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="mk-stateful-"))
        self.stores: list[SessionStore] = []

    # ------------------------------------------------------------------ setup

    def _open_store(self) -> SessionStore:
        if self.store_kind == "sqlite":
            store: SessionStore = SQLiteStore(self.tmp / "m.db")
        elif self.store_kind == "jsondir":
            store = JsonDirStore(self.tmp / "root")
        else:
            store = MemoryStore()
        self.stores.append(store)
        return store

    def _mission(self, store: SessionStore) -> mk.Mission:
        return mk.Mission(
            tools={"train": self.train, "probe": probe, "ext": None},
            store=store,
            sinks=[self.sink],
            proposer=self.proposer,
            clock=self.clock,
        )

    @initialize(
        criteria=st.sets(st.integers(0, len(CRITERIA_POOL) - 1), min_size=1),
        non_finite=st.sampled_from(["inconclusive", "unmet", "terminate"]),
        allowlist=st.sampled_from(
            [["train"], ["train", "probe"], ["train", "ext"], ["ext", "probe"]]
        ),
        max_iterations=st.sampled_from([-1, 2, 4, 7]),
        wall=st.sampled_from([-1, 15, 60]),
        stagnation=st.integers(1, 4),
        cadence=st.sampled_from(
            [
                {"kind": "every_iteration"},
                {"kind": "every_n_iterations", "n": 2},
                {"kind": "on_event", "event_name": "done"},
                {"kind": "every_t_seconds", "t": 3},
            ]
        ),
        clock_step=st.sampled_from([0.25, 1.0]),
        enders_after=st.sampled_from([0, 2, 5]),
    )
    def start(
        self,
        criteria: set[int],
        non_finite: str,
        allowlist: list[str],
        max_iterations: int,
        wall: int,
        stagnation: int,
        cadence: dict[str, Any],
        clock_step: float,
        enders_after: int,
    ) -> None:
        """
        Start the session and open two handles on it.
        """
        self.clock = FakeClock(step=clock_step)
        self.train = ScriptedTrain()
        self.proposer = OneShotFailingProposer()
        self.sink = MemorySink()
        self.store = self._open_store()
        self.mission = self._mission(self.store)
        self.other_mission = self._mission(self.store)
        chosen = [dict(CRITERIA_POOL[i]) for i in sorted(criteria)]
        for criterion in chosen:
            if criterion["kind"] == "metric_threshold":
                criterion["on_non_finite"] = non_finite
        self.max_iterations = max_iterations
        self.stagnation = stagnation
        self.wall = wall
        self.enders_after = enders_after
        first = self.mission.start(
            directive="Drive the loss down",
            criteria=chosen,
            budget={"max_iterations": max_iterations, "max_wall_clock_seconds": wall},
            tool_allowlist=allowlist,
            checkpoint_cadence=cadence,
            stagnation_threshold=stagnation,
            session_id=SESSION_ID,
        )
        self.handles = [first, self.mission.session(SESSION_ID)]
        # Model.
        self.revision = 1
        self.status = "pending"
        self.iterations: list[mk.Iteration] = []
        self.report: mk.FinalReport | None = None
        self.pending: Any = None

    # ------------------------------------------------------------------ helpers

    def _handle(self, index: int) -> mk.Session:
        return self.handles[index % len(self.handles)]

    def _call(self, fn: Any) -> tuple[Any, BaseException | None]:
        """
        Run *fn*, returning its result or the exception it raised.

        `ConcurrentUpdate` can only come from a genuine race, and the handles
        here never race; raw (non-missionkit) exceptions are returned for the
        caller to judge.
        """
        self.before = (self._stored().to_dict(), self._files())
        try:
            return fn(), None
        except mk.ConcurrentUpdate as exc:  # pragma: no cover - a defect
            raise AssertionError(f"ConcurrentUpdate without a race: {exc.details}") from exc
        except Exception as exc:
            return None, exc

    def _expect_refusal(
        self, exc: BaseException | None, expected: tuple[type[BaseException], ...], events: int
    ) -> None:
        """
        *exc* is one of *expected*, carries the session id, and nothing was written or emitted.
        """
        assert exc is not None, f"expected {expected}, got success"
        assert isinstance(exc, expected), f"expected {expected}, got {exc!r}"
        if isinstance(exc, mk.SessionError) and not isinstance(exc, mk.InvalidArgument):
            assert SESSION_ID == exc.details.get("session_id")
        if isinstance(exc, mk.SessionTerminal | mk.NotPaused):
            assert self.status == exc.details["status"]
        assert events == len(self.sink.events)
        assert self.revision == self.store.load_revision(SESSION_ID)
        assert self.before == (self._stored().to_dict(), self._files())

    def _failed_or_refused(self, exc: BaseException | None, fired: int, events: int) -> bool:
        """
        Check the call against an armed proposer failure or the gate's refusal.

        True when the call ended one of those ways (and was checked); False
        when it should have succeeded.
        """
        if self._failure_happened(fired):
            self._check_failure(exc, fired)
            return True
        expected = gate_error(self.status)
        if expected is not None:
            self._expect_refusal(exc, (expected,), events)
            return True
        return False

    def _expect_events(self, events: int, *labels: str) -> None:
        """
        The operation emitted exactly *labels* (``lifecycle:<action>`` or an event type).
        """
        emitted = [
            f"lifecycle:{e.action}" if e.event_type == "mission_lifecycle_event" else e.event_type
            for e in self.sink.events[events:]
        ]
        assert list(labels) == emitted

    def _files(self) -> dict[str, tuple[int, int]]:
        """
        Size and modification time of every file a `JsonDirStore` keeps (empty for other stores).
        """
        if self.store_kind != "jsondir":
            return {}
        root = self.tmp / "root"
        return {
            str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in root.rglob("*")
            if path.is_file()
        }

    def _stored(self) -> mk.SessionState:
        state = self.store.load_session(SESSION_ID)
        assert state is not None
        return state

    def _commit_iteration(self, iteration: mk.Iteration) -> None:
        """
        Account for one iteration the engine returned.
        """
        assert len(self.iterations) == iteration.iteration_index
        if iteration.status == "failed":
            assert (None, None) == (iteration.verdict, iteration.verdict_reason)
            status = "failed"
        else:
            assert (iteration.verdict, iteration.verdict_reason) in ENGINE_PAIRS
            status = {"complete": "completed", "terminate": "terminated"}.get(
                str(iteration.verdict), "running"
            )
        self.iterations.append(iteration)
        self.revision += 1
        self.pending = None
        self._become(status)

    def _become(self, status: str) -> None:
        """
        Move the model to *status*, capturing the report on a terminal transition.
        """
        self.status = status
        if status in TERMINAL and self.report is None:
            self.report = self.store.load_report(SESSION_ID)
            assert self.report is not None
            report = self.report
            assert (status, len(self.iterations)) == (report.status, report.iterations_run)
            assert tuple(self.iterations) == tuple(self.report.iterations)

    def _failure_happened(self, fired_before: int) -> bool:
        return self.proposer.fired > fired_before

    def _check_failure(self, exc: BaseException | None, fired_before: int) -> None:
        """
        The armed proposer failed an iteration: original exception, one failed iteration stored.
        """
        assert isinstance(exc, ZeroDivisionError), f"expected the proposer's error, got {exc!r}"
        index = len(self.iterations)
        assert f"missionkit: iteration {index} of session {SESSION_ID} failed in phase propose" in (
            getattr(exc, "__notes__", [])
        )
        stored = self._stored().iterations
        assert index + 1 == len(stored)
        failed = stored[-1]
        assert ("failed", index) == (failed.status, failed.iteration_index)
        self._commit_iteration(failed)
        assert self.proposer.fired == fired_before + 1

    # ------------------------------------------------------------------ rules

    @rule(index=st.integers(0, 3), outcomes=OUTCOMES)
    def step(self, index: int, outcomes: list[tuple[str, Any]]) -> None:
        """
        `step()` through one handle.
        """
        self.train.load(outcomes)
        events, fired = len(self.sink.events), self.proposer.fired
        pending = self.pending
        result, exc = self._call(self._handle(index).step)
        if self._failed_or_refused(exc, fired, events):
            return
        assert exc is None, f"step raised {exc!r}"
        assert result == self._stored().iterations[-1]
        assert "mission_verdict_event" == self.sink.events[-1].event_type
        if pending is not None and result.strategy is not None:
            assert (pending.strategy, pending.strategy_source) == (
                result.strategy,
                result.strategy_source,
            )
        self._commit_iteration(result)

    @rule(index=st.integers(0, 3))
    def propose(self, index: int) -> None:
        """
        `propose()` through one handle stores the returned strategy as the pending proposal.
        """
        events, fired = len(self.sink.events), self.proposer.fired
        result, exc = self._call(self._handle(index).propose)
        if self._failed_or_refused(exc, fired, events):
            return
        assert exc is None, f"propose raised {exc!r}"
        self.revision += 1
        pending = self._stored().pending_proposal
        assert pending is not None
        assert result == pending.strategy
        assert len(self.iterations) == len(self._stored().iterations)
        self.pending = pending

    @rule(index=st.integers(0, 3), observation=OBSERVATION)
    def observe(self, index: int, observation: dict[str, Any]) -> None:
        """
        `observe()` through one handle records one host iteration.
        """
        events = len(self.sink.events)
        pending = self.pending
        result, exc = self._call(lambda: self._handle(index).observe(observation))
        expected = gate_error(self.status)
        if expected is not None:
            self._expect_refusal(exc, (expected,), events)
            return
        assert exc is None, f"observe raised {exc!r}"
        assert result == self._stored().iterations[-1]
        self._expect_events(
            events,
            "mission_phase_event",
            "mission_phase_event",
            "mission_phase_event",
            "mission_verdict_event",
        )
        assert len(observation.get("tool_calls", [])) == len(result.tool_calls)
        if pending is None:
            assert (None, "host") == (result.strategy, result.strategy_source)
        else:
            assert (pending.strategy, pending.strategy_source) == (
                result.strategy,
                result.strategy_source,
            )
        self._commit_iteration(result)

    @rule(index=st.integers(0, 3), observation=BAD_OBSERVATION)
    def observe_invalid(self, index: int, observation: Any) -> None:
        """
        An invalid observation is rejected before anything is read or written.
        """
        events = len(self.sink.events)
        _, exc = self._call(lambda: self._handle(index).observe(observation))
        self._expect_refusal(exc, (mk.MissionValidationError,), events)

    @rule(index=st.integers(0, 3))
    def pause(self, index: int) -> None:
        """
        `abort(pause=True)` pauses an active session and is a no-op on a paused one.
        """
        events = len(self.sink.events)
        result, exc = self._call(lambda: self._handle(index).abort(pause=True))
        expected = terminal_error(self.status)
        if expected is not None:
            self._expect_refusal(exc, (expected,), events)
            return
        assert (None, None) == (result, exc)
        if self.status == "paused":
            assert events == len(self.sink.events)
            return
        self.revision += 1
        self._become("paused")
        self._expect_events(events, "lifecycle:pause")

    @rule(index=st.integers(0, 3))
    def resume(self, index: int) -> None:
        """
        `resume()` leaves paused (to running once started, else pending); elsewhere it is refused.
        """
        events = len(self.sink.events)
        result, exc = self._call(self._handle(index).resume)
        expected = terminal_error(self.status) or (
            mk.NotPaused if self.status != "paused" else None
        )
        if expected is not None:
            self._expect_refusal(exc, (expected,), events)
            return
        assert (None, None) == (result, exc)
        self.revision += 1
        self._become("running" if self.iterations else "pending")
        self._expect_events(events, "lifecycle:resume")

    @precondition(may_end)
    @rule(index=st.integers(0, 3), reason=REASONS)
    def complete(self, index: int, reason: str) -> None:
        """
        `complete(reason)` ends the session with ``complete/<reason>`` and returns the report.
        """
        events = len(self.sink.events)
        result, exc = self._call(lambda: self._handle(index).complete(reason))
        refusals: list[type[BaseException]] = []
        if terminal_error(self.status) is not None:
            refusals.append(terminal_error(self.status))  # type: ignore[arg-type]
        if reason not in TOKEN_OK:
            # The order of the two checks is not specified; either refusal is fine.
            refusals.append(mk.InvalidArgument)
        if refusals:
            self._expect_refusal(exc, tuple(refusals), events)
            if isinstance(exc, mk.InvalidArgument):
                assert ("reason", "must_be_token") == (
                    exc.details["argument"],
                    exc.details["reason"],
                )
            return
        assert exc is None, f"complete raised {exc!r}"
        self.revision += 1
        self.pending = None
        self._become("completed")
        self._expect_events(events, "lifecycle:complete")
        assert result == self.report
        assert ("complete", reason) == (result.final_verdict, result.final_verdict_reason)

    @precondition(may_end)
    @rule(index=st.integers(0, 3))
    def abort(self, index: int) -> None:
        """
        `abort()` ends the session with ``terminate/user_abort`` and returns the report.
        """
        events = len(self.sink.events)
        result, exc = self._call(lambda: self._handle(index).abort())
        expected = terminal_error(self.status)
        if expected is not None:
            self._expect_refusal(exc, (expected,), events)
            return
        assert exc is None, f"abort raised {exc!r}"
        self.revision += 1
        self.pending = None
        self._become("terminated")
        self._expect_events(events, "lifecycle:abort")
        assert result == self.report
        assert ("terminate", "user_abort") == (result.final_verdict, result.final_verdict_reason)

    @rule(index=st.integers(0, 3))
    def checkpoint(self, index: int) -> None:
        """
        `checkpoint()` re-decides the latest iteration and writes and emits nothing.
        """
        events = len(self.sink.events)
        result, exc = self._call(self._handle(index).checkpoint)
        expected = terminal_error(self.status) or (None if self.iterations else mk.NoIterations)
        if expected is not None:
            self._expect_refusal(exc, (expected,), events)
            return
        assert exc is None, f"checkpoint raised {exc!r}"
        assert events == len(self.sink.events)
        latest = self.iterations[-1].verdict_obj
        # decide() is pure; only the wall-clock rule reads the current time.
        assert result == latest or (
            self.wall != -1 and ("terminate", "max_wall_clock") == (result.label, result.reason)
        )

    @rule(index=st.integers(0, 3), k=st.integers(0, 4), outcomes=OUTCOMES)
    def run(self, index: int, k: int, outcomes: list[tuple[str, Any]]) -> None:
        """
        `run(max_iterations=k)` steps at most k times and returns the report iff it ended.
        """
        self.train.load(outcomes)
        events, fired = len(self.sink.events), self.proposer.fired
        before = len(self.iterations)
        seen: list[mk.Iteration] = []
        result, exc = self._call(
            lambda: self._handle(index).run(max_iterations=k, on_iteration=seen.append)
        )
        if k == 0:
            self._expect_refusal(exc, (mk.InvalidArgument,), events)
            return
        if self._failure_happened(fired):
            for iteration in seen:
                self._commit_iteration(iteration)
            self._check_failure(exc, fired)
            return
        expected = gate_error(self.status)
        if expected is not None:
            self._expect_refusal(exc, (expected,), events)
            return
        assert exc is None, f"run raised {exc!r}"
        stored = self._stored().iterations
        assert tuple(seen) == stored[before:]
        assert 1 <= len(seen) <= k
        for iteration in seen:
            self._commit_iteration(iteration)
        if self.status in TERMINAL:
            assert result == self.report
        else:
            assert (None, k) == (result, len(seen))

    @rule(index=st.integers(0, 3), outcomes=OUTCOMES, stop=st.booleans())
    def run_paused_by_other_handle(
        self, index: int, outcomes: list[tuple[str, Any]], stop: bool
    ) -> None:
        """
        A `run()` whose callback pauses via another handle (or returns False) stops after a step.
        """
        self.train.load(outcomes)
        events, fired = len(self.sink.events), self.proposer.fired
        runner = self._handle(index)
        other = self._handle(index + 1)
        seen: list[mk.Iteration] = []

        def callback(iteration: mk.Iteration) -> bool | None:
            seen.append(iteration)
            if iteration.verdict in ("complete", "terminate"):
                return None
            if stop:
                return False
            other.abort(pause=True)
            return None

        result, exc = self._call(lambda: runner.run(max_iterations=3, on_iteration=callback))
        if self._failed_or_refused(exc, fired, events):
            return
        assert exc is None, f"run raised {exc!r}"
        assert 1 == len(seen)
        self._commit_iteration(seen[0])
        if self.status in TERMINAL:
            assert result == self.report
            return
        assert result is None
        if not stop:
            self.revision += 1
            self._become("paused")

    @rule(other=st.booleans(), k=st.integers(0, 3), outcomes=OUTCOMES)
    def iterate(self, other: bool, k: int, outcomes: list[tuple[str, Any]]) -> None:
        """
        `Mission.iterate(id, k)` returns the summaries of the iterations it stored.
        """
        self.train.load(outcomes)
        mission = self.other_mission if other else self.mission
        events, fired = len(self.sink.events), self.proposer.fired
        before = len(self.iterations)
        result, exc = self._call(lambda: mission.iterate(SESSION_ID, k))
        if k == 0:
            self._expect_refusal(exc, (mk.InvalidArgument,), events)
            return
        expected = gate_error(self.status)
        if expected is not None:
            self._expect_refusal(exc, (expected,), events)
            return
        assert exc is None, f"iterate raised {exc!r}"
        stored = self._stored().iterations[before:]
        assert [it.summary() for it in stored] == list(result)
        assert 1 <= len(result) <= k
        for iteration in stored:
            self._commit_iteration(iteration)
        if self._failure_happened(fired):
            assert "failed" == self.status
        elif self.status not in TERMINAL:
            assert k == len(result)

    @rule(other=st.booleans())
    def open_handle(self, other: bool) -> None:
        """
        Open another handle mid-way, on this Mission or on a second one sharing the store.
        """
        mission = self.other_mission if other else self.mission
        handle = mission.session(SESSION_ID)
        if len(self.handles) < 4:
            self.handles.append(handle)
        else:
            self.handles[2 + int(other)] = handle

    @precondition(may_end)
    @rule()
    def arm_proposer(self) -> None:
        """
        Make the next propose phase raise, failing that iteration.
        """
        self.proposer.armed = True

    @rule(index=st.integers(0, 3))
    def history(self, index: int) -> None:
        """
        `history()` and `report()` are reads: they equal the stored data and write nothing.
        """
        handle = self._handle(index)
        events = len(self.sink.events)
        assert [it.summary().to_dict() for it in self.iterations] == handle.history()
        assert [it.to_dict() for it in self.iterations] == handle.history("full")
        assert len(self.iterations) == len(handle.history_records())
        assert self.report == handle.report()
        _, exc = self._call(lambda: handle.history("bogus"))
        self._expect_refusal(exc, (mk.InvalidArgument,), events)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def stored_session_matches_model(self) -> None:
        """
        Revision, status, iterations and report in the store are what the model expects.
        """
        if not hasattr(self, "store"):
            return
        state = self._stored()
        assert (self.revision, self.status) == (state.revision, state.status)
        assert list(range(len(state.iterations))) == [it.iteration_index for it in state.iterations]
        assert tuple(self.iterations) == state.iterations
        assert (self.pending is None) == (state.pending_proposal is None)
        if self.pending is not None:
            assert self.pending == state.pending_proposal
        report = self.store.load_report(SESSION_ID)
        assert self.report == report
        assert (self.status in TERMINAL) == (report is not None)
        assert (state.status == "paused") == (state.paused_at is not None)
        if self.max_iterations != -1:
            assert len(state.iterations) <= self.max_iterations
        assert (self.status in TERMINAL) == (state.ended_at is not None)
        if state.iterations:
            assert state.started_at is not None
        previous, self.previous = getattr(self, "previous", None), state
        if previous is not None:
            assert previous.created_at == state.created_at
            assert previous.updated_at <= state.updated_at
            assert previous.paused_seconds <= state.paused_seconds
            if previous.started_at is not None:
                assert previous.started_at == state.started_at
            if previous.ended_at is not None:
                assert previous.ended_at == state.ended_at
        for iteration in state.iterations:
            if iteration.status == "succeeded" and (
                iteration.no_progress_counter >= self.stagnation
                or iteration.iteration_index + 1 == self.max_iterations
            ):
                assert iteration.verdict in ("complete", "terminate")

    @rule()
    def handles_agree(self) -> None:
        """
        After a refresh every handle sees the stored session, status and report.

        (Only this rule and `history` refresh handles, so the others often act on stale caches.)
        """
        expected = self._stored().to_dict()
        for handle in self.handles:
            assert expected == handle.to_dict()
            assert self.status == handle.status
            assert self.report == handle.report()

    @invariant()
    def a_fresh_mission_agrees(self) -> None:
        """
        A handle of a freshly built Mission (and, for durable stores, a reopened store) agrees.
        """
        if not hasattr(self, "store"):
            return
        expected = self._stored().to_dict()
        fresh = mk.Mission(store=self.store, clock=self.clock)
        assert expected == fresh.session(SESSION_ID).to_dict()
        if self.store_kind != "memory":
            reopened = self._open_store()
            try:
                again = mk.Mission(store=reopened, clock=self.clock)
                assert expected == again.session(SESSION_ID).to_dict()
                assert self.report == again.session(SESSION_ID).report()
            finally:
                reopened.close()
                self.stores.remove(reopened)

    def teardown(self) -> None:
        try:
            if hasattr(self, "store"):
                self.handles_agree()
        finally:
            for store in self.stores:
                store.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


MACHINE_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class MemoryHandlesMachine(HandlesMachine):
    """
    The machine on a `MemoryStore`.
    """

    store_kind = "memory"


class SQLiteHandlesMachine(HandlesMachine):
    """
    The machine on an `SQLiteStore` in a temporary file.
    """

    store_kind = "sqlite"


class JsonDirHandlesMachine(HandlesMachine):
    """
    The machine on a `JsonDirStore` in a temporary directory.
    """

    store_kind = "jsondir"


TestMemoryHandles = MemoryHandlesMachine.TestCase
TestMemoryHandles.settings = MACHINE_SETTINGS
TestSQLiteHandles = SQLiteHandlesMachine.TestCase
TestSQLiteHandles.settings = MACHINE_SETTINGS
TestJsonDirHandles = JsonDirHandlesMachine.TestCase
TestJsonDirHandles.settings = MACHINE_SETTINGS
