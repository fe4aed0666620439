"""
`Mission`: the composition root a host builds once.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from missionkit._engine._core import MissionCore
from missionkit._session import Session
from missionkit._tools import Tool, build_registry, positive_timeout
from missionkit.audit import LifecycleEvent
from missionkit.errors import InvalidArgument, MissionValidationError, SessionError
from missionkit.models import (
    Cadence,
    CriterionProgress,
    IterationSummary,
    Limits,
    SessionState,
    SessionSummary,
)
from missionkit.validation import MISSION_CONTROL_TOOLS

__all__ = ["Mission"]

_LOGGER = "missionkit"


def _system_clock() -> datetime:
    return datetime.now(UTC)


def _utc_clock(clock: Callable[[], datetime]) -> Callable[[], datetime]:
    """
    *clock* with readings normalised to aware UTC (SPEC §1.4: naive means UTC).

    Clocks known to read aware UTC already (`FakeClock`) are used as they are:
    the engine reads the clock over a dozen times per iteration.
    """
    if getattr(clock, "_missionkit_utc", False):
        return clock

    def utc_clock() -> datetime:
        now = clock()
        if type(now) is datetime and now.tzinfo is UTC:
            return now
        if not isinstance(now, datetime):
            raise TypeError(f"clock returned {type(now).__name__}, not a datetime")
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    return utc_clock


def _bad(details: dict[str, Any]) -> MissionValidationError:
    return MissionValidationError(details=details)


def _check_control_tools(value: Any) -> Collection[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Collection):
        raise _bad({"field": "control_tools", "reason": "invalid_value"})
    try:
        items = list(value)
    except Exception:
        raise _bad({"field": "control_tools", "reason": "invalid_value"}) from None
    if not all(isinstance(v, str) for v in items):
        raise _bad({"field": "control_tools", "reason": "invalid_value"})
    return frozenset(items)


def _check_flag_lookup(value: Any) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _bad({"field": "flag_lookup", "reason": "not_a_dict"})
    try:
        items = dict(value.items())
    except Exception:
        raise _bad({"field": "flag_lookup", "reason": "not_a_dict"}) from None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in items.items()):
        raise _bad({"field": "flag_lookup", "reason": "not_a_dict"})
    return MappingProxyType(items)


class Mission:
    """
    Compose tools, a store, audit sinks and strategy sources; start and open sessions.

    A Mission holds no per-session state and is thread-safe. Audit sinks are
    called synchronously, in the order given, on the thread running the
    operation; a sink that raises is logged at WARNING on logger
    ``missionkit`` and skipped, and the operation continues. Sinks must be
    thread-safe when the Mission is shared across threads.

    .. versionadded:: 0.1.0

    .. doctest::

        >>> import missionkit as mk
        >>> def probe() -> dict:
        ...     return {"metrics": {"ok": 1}}
        >>> mission = mk.Mission(tools=[probe])
        >>> session = mission.start(
        ...     directive="Check the probe",
        ...     criteria=[{"criterion_id": "ok", "kind": "metric_threshold",
        ...                "required": True, "metric": "metrics.ok", "op": "==", "target": 1}],
        ...     budget={"max_iterations": 3, "max_wall_clock_seconds": -1},
        ...     tool_allowlist=["probe"],
        ... )
        >>> session.run().final_verdict_reason
        'criteria_met'
    """

    def __init__(
        self,
        *,
        tools: Mapping[str, Callable[..., Any] | Tool | None]
        | Iterable[Callable[..., Any] | Tool] = (),
        store: Any = None,
        sinks: Iterable[Callable[[Any], None]] = (),
        proposer: Callable[..., Any] | None = None,
        sampler: Any = None,
        script_runner: Any = None,
        clock: Callable[[], datetime] | None = None,
        tool_timeout: float | None = None,
        control_tools: Collection[str] = MISSION_CONTROL_TOOLS,
        flag_lookup: Mapping[str, str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        registry = build_registry(tools)
        if tool_timeout is not None:
            seconds = positive_timeout(tool_timeout)
            if seconds is None:
                raise _bad({"field": "tool_timeout", "reason": "must_be_positive_number"})
            if type(tool_timeout) not in (int, float):
                tool_timeout = seconds
        try:
            sink_list = list(sinks)
        except Exception:
            raise _bad({"field": "sinks", "reason": "invalid_value"}) from None
        for index, sink in enumerate(sink_list):
            if not callable(sink):
                raise _bad({"field": "sinks", "index": index, "reason": "not_callable"})
        for name, value in (("proposer", proposer), ("sampler", sampler), ("clock", clock)):
            if value is not None and not callable(value):
                raise _bad({"field": name, "reason": "not_callable"})
        if limits is not None and not isinstance(limits, Limits):
            raise _bad({"field": "limits", "reason": "invalid_value"})
        if store is None:
            from missionkit.store import MemoryStore

            store = MemoryStore()
        self._owned_runner: Any = None
        self._runner_lock = threading.Lock()
        self._core = MissionCore(
            tools=MappingProxyType(registry),
            store=store,
            sinks=tuple(sink_list),
            proposer=proposer,
            sampler=sampler,
            clock=_system_clock if clock is None else _utc_clock(clock),
            tool_timeout=tool_timeout,
            control_tools=_check_control_tools(control_tools),
            flag_lookup=_check_flag_lookup(flag_lookup),
            limits=limits or Limits(),
            script_runner=(lambda: script_runner) if script_runner is not None else self._runner,
            logger=logging.getLogger(_LOGGER),
        )

    def _runner(self) -> Any:
        with self._runner_lock:
            if self._owned_runner is None:
                from missionkit.scripts import SubprocessScriptRunner

                self._owned_runner = SubprocessScriptRunner()
            return self._owned_runner

    # ------------------------------------------------------------ properties

    @property
    def store(self) -> Any:
        """
        The session store in use.
        """
        return self._core.store

    @property
    def tools(self) -> Mapping[str, Tool]:
        """
        Read-only mapping of tool name to `Tool`.
        """
        return self._core.tools

    def __repr__(self) -> str:
        return (
            f"<missionkit.Mission tools={len(self._core.tools)} sinks={len(self._core.sinks)} "
            f"store={type(self._core.store).__name__}>"
        )

    # ------------------------------------------------------------ sessions

    def start(
        self,
        *,
        directive: Any,
        criteria: Any,
        budget: Any,
        tool_allowlist: Any = None,
        allow_all_tools: Any = False,
        checkpoint_cadence: Any = None,
        stagnation_threshold: Any = 3,
        allow_scripted_strategies: Any = False,
        use_sampling: Any = None,
        session_id: Any = None,
        metadata: Any = None,
    ) -> Session:
        """
        Validate a start spec, store a new ``pending`` session and return its handle.

        Keyword names equal the start-spec JSON keys, so ``mission.start(**spec)`` works.

        Raises:
            MissionValidationError: A check of SPEC §4.12 failed; nothing was written.
        """
        state = self.build_state(
            directive=directive,
            criteria=criteria,
            budget=budget,
            tool_allowlist=tool_allowlist,
            allow_all_tools=allow_all_tools,
            checkpoint_cadence=checkpoint_cadence,
            stagnation_threshold=stagnation_threshold,
            allow_scripted_strategies=allow_scripted_strategies,
            use_sampling=use_sampling,
            session_id=session_id,
            metadata=metadata,
        )
        if not self._core.store.create_session(state):
            raise _bad({"field": "session_id", "reason": "duplicate_session_id"})
        core = self._core
        core.audit(
            LifecycleEvent,
            mission_session_id=state.session_id,
            action="start",
            status="pending",
        )
        handle = Session(core, state.session_id)
        handle._ref.adopt(state.header())
        return handle

    def build_state(self, **spec: Any) -> SessionState:
        """
        Run every `start` check (SPEC §4.12) and return the new state without storing it.

        The ``duplicate_session_id`` check is made against the store, read-only.
        """
        from missionkit import validation as v

        core = self._core
        session_id = spec.get("session_id")
        if session_id is not None:
            session_id = v.validate_session_id(session_id)
        directive = v.validate_directive(spec.get("directive"))
        criteria = v.validate_criteria(spec.get("criteria"))
        allowlist = v.resolve_effective_allowlist(
            allow_all_tools=spec.get("allow_all_tools", False),
            explicit_allowlist=spec.get("tool_allowlist"),
            registered_tools=core.tools,
            control_tools=core.control_tools,
            flag_lookup=core.flag_lookup,
        )
        budget = v.validate_budget(spec.get("budget"))
        cadence_in = spec.get("checkpoint_cadence")
        cadence = Cadence() if cadence_in is None else v.validate_cadence(cadence_in)
        threshold = v.validate_stagnation_threshold(spec.get("stagnation_threshold", 3))
        allow_scripts = spec.get("allow_scripted_strategies", False)
        if type(allow_scripts) is not bool:
            raise _bad({"field": "allow_scripted_strategies", "reason": "not_a_bool"})
        use_sampling = spec.get("use_sampling")
        if not (use_sampling is None or use_sampling is True or use_sampling is False) and not (
            isinstance(use_sampling, str) and use_sampling in ("after_adjust", "every_iteration")
        ):
            raise _bad(
                {
                    "field": "use_sampling",
                    "reason": "invalid_value",
                    "allowed": ["after_adjust", "every_iteration"],
                }
            )
        if use_sampling is None:
            sampling_on = core.sampler is not None
            mode = "after_adjust" if sampling_on else None
        elif use_sampling is False:
            sampling_on, mode = False, None
        else:
            sampling_on = True
            mode = "every_iteration" if use_sampling == "every_iteration" else "after_adjust"
            if core.sampler is None:
                raise _bad({"field": "use_sampling", "reason": "no_sampler_configured"})
        metadata_in = spec.get("metadata")
        metadata = {} if metadata_in is None else v.validate_metadata(metadata_in)
        if session_id is None:
            session_id = "mission-" + secrets.token_hex(8)
        elif core.store.load_revision(session_id) is not None:
            raise _bad({"field": "session_id", "reason": "duplicate_session_id"})
        now = core.clock()
        return SessionState(
            session_id=session_id,
            directive_text=directive,
            criteria=tuple(criteria),
            budget=budget,
            tool_allowlist=tuple(allowlist),
            checkpoint_cadence=cadence,
            stagnation_threshold=threshold,
            use_sampling=sampling_on,
            sampling_mode=mode,  # type: ignore[arg-type]
            allow_scripted_strategies=allow_scripts,
            metadata=metadata,
            created_at=now,
            updated_at=now,
            criterion_progress={c.criterion_id: CriterionProgress() for c in criteria},
        )

    def session(self, session_id: Any) -> Session:
        """
        Open a handle on a stored session.

        Raises:
            MissionValidationError: ``session_id_invalid``.
            SessionNotFound: No such session.
            SessionCorrupt: The stored session cannot be read.
            UnsupportedSchemaVersion: It was written by another schema version.
        """
        from missionkit.validation import validate_session_id

        sid = validate_session_id(session_id)
        handle = Session(self._core, sid)
        handle._ref.refresh()
        return handle

    def sessions(self, status: str | None = None) -> list[SessionSummary]:
        """
        Every session, newest first (ties by id); unreadable ones included.
        """
        if status is not None and status not in (
            "pending",
            "running",
            "paused",
            "completed",
            "terminated",
            "failed",
            "unreadable",
        ):
            raise InvalidArgument("status", "unknown_status")
        result: list[SessionSummary] = self._core.store.list_sessions(status=status)
        return result

    def iterate(self, session_id: Any, max_iterations: Any = 1) -> list[IterationSummary]:
        """
        Run up to *max_iterations* steps for a wrapper (``mission_iterate``, SPEC §6.18).

        A failed iteration does not raise: its summary comes last and the
        error is logged at ERROR on logger ``missionkit``. A `SessionError`
        after at least one completed step carries ``completed_iterations``.
        """
        handle, count = self._iterate_args(session_id, max_iterations)
        summaries: list[IterationSummary] = []
        for _ in range(count):
            before = len(handle._ref.refresh().iterations)
            try:
                iteration = handle.step()
            except Exception as exc:
                return self._iteration_error(handle, summaries, exc, before)
            summaries.append(iteration.summary())
            if iteration.verdict in ("complete", "terminate"):
                break
        return summaries

    async def aiterate(self, session_id: Any, max_iterations: Any = 1) -> list[IterationSummary]:
        """
        Async twin of `iterate`: tools run on the caller's loop.
        """
        handle, count = self._iterate_args(session_id, max_iterations)
        summaries: list[IterationSummary] = []
        for _ in range(count):
            before = len(handle._ref.refresh().iterations)
            try:
                iteration = await handle.astep()
            except Exception as exc:
                return self._iteration_error(handle, summaries, exc, before)
            summaries.append(iteration.summary())
            if iteration.verdict in ("complete", "terminate"):
                break
        return summaries

    def _iterate_args(self, session_id: Any, max_iterations: Any) -> tuple[Session, int]:
        if type(max_iterations) is not int or max_iterations <= 0:
            # Argument errors come first (nothing is read); the id joins the
            # details when it is a well-formed one (SPEC §2.6), as in Session.run.
            from missionkit.validation import validate_session_id

            try:
                sid: str | None = validate_session_id(session_id)
            except MissionValidationError:
                sid = None
            raise InvalidArgument("max_iterations", "must_be_positive_int", session_id=sid)
        return self.session(session_id), max_iterations

    def _iteration_error(
        self,
        handle: Session,
        summaries: list[IterationSummary],
        exc: Exception,
        before: int,
    ) -> list[IterationSummary]:
        """
        Turn the iteration this step failed into its summary; re-raise anything else.

        Whether the step stored a failed iteration is read from the store, not
        from the exception's type: a proposer may itself raise a `SessionError`.
        """
        try:
            cache = handle._ref.refresh()
        except Exception:
            raise exc from None
        iterations = cache.iterations
        failed = iterations[before] if len(iterations) > before else None
        if failed is None or failed.status != "failed":
            if isinstance(exc, SessionError) and summaries:
                exc.details["completed_iterations"] = [s.to_dict() for s in summaries]
            raise exc
        self._core.logger.error(
            "iteration %s of session %s failed",
            failed.iteration_index,
            handle.id,
            exc_info=exc,
            extra={"missionkit_session_id": handle.id},
        )
        summaries.append(failed.summary())
        return summaries

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        """
        Close what this Mission created itself (the default script runner). Idempotent.
        """
        with self._runner_lock:
            runner, self._owned_runner = self._owned_runner, None
        close = getattr(runner, "close", None)
        if callable(close):
            close()

    def __del__(self) -> None:
        # Only a Mission that started its own script runner holds a resource.
        if getattr(self, "_owned_runner", None) is not None:
            warnings.warn(
                "missionkit.Mission was collected without close(); closing its script runner",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )
            with contextlib.suppress(Exception):
                self.close()

    def __enter__(self) -> Mission:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
