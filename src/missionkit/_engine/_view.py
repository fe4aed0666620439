"""
The cumulative view handed to predicates, maintained incrementally (SPEC §6.6.2).

A `Session` handle keeps one `CumulativeView`. Stored iterations are added
once; the current iteration is staged on top and either kept (after its
commit) or rolled back, so no iteration ever rebuilds the view from storage.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from missionkit._jsonsafe import format_timestamp
from missionkit.models import Iteration, Observation

__all__ = ["CumulativeView", "history_point", "observation_json"]


class LazyObservationJSON(dict[str, Any]):
    """
    The observation's JSON form for metric paths: timestamps formatted only on lookup.

    Formatting two timestamps per evaluated iteration is most of the cost of
    this mapping, and metric paths almost never point at them.
    """

    __slots__ = ("_obs",)

    def __init__(self, obs: Observation) -> None:
        super().__init__(
            tool_results=list(obs.tool_results),
            metrics=obs.metrics,
            events=list(obs.events),
            errors=list(obs.errors),
        )
        self._obs = obs

    def __missing__(self, key: str) -> str:
        if key == "phase_started_at":
            return format_timestamp(self._obs.phase_started_at)
        if key == "phase_ended_at":
            return format_timestamp(self._obs.phase_ended_at)
        raise KeyError(key)


def observation_json(obs: Observation) -> dict[str, Any]:
    """
    The JSON form of an observation, sharing its containers (read-only use).
    """
    return {
        "tool_results": list(obs.tool_results),
        "metrics": obs.metrics,
        "events": list(obs.events),
        "errors": list(obs.errors),
        "phase_started_at": format_timestamp(obs.phase_started_at),
        "phase_ended_at": format_timestamp(obs.phase_ended_at),
    }


def history_point(value: Any) -> float | None:
    """
    ``float(value)`` for a finite int/float metric (not bool), else None (SPEC §6.6.2).

    An int too large for a float has no point: it cannot be charted as one.
    """
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            return None
    return None


class CumulativeView:
    """
    All tool results so far, metric history and successful-call counts.
    """

    __slots__ = (
        "_staged",
        "dict_entries",
        "enabled",
        "metric_history",
        "ok_counts",
        "tool_results",
    )

    def __init__(self, enabled: bool = True) -> None:
        # Sessions whose criteria never read the cumulative view (no predicate,
        # trend or tool-call criteria) skip maintaining it altogether.
        self.enabled = enabled
        self.tool_results: list[Any] = []
        self.metric_history: dict[str, list[float]] = {}
        self.ok_counts: Counter[str] = Counter()
        self.dict_entries = 0
        self._staged: tuple[int, list[str], list[str]] | None = None

    def _append(self, obs: Observation) -> list[str]:
        self.tool_results.extend(obs.tool_results)
        for entry in obs.tool_results:
            if isinstance(entry, dict):
                self.dict_entries += 1
                if entry.get("_status") == "ok":
                    name = entry.get("tool_name")
                    if isinstance(name, str):
                        self.ok_counts[name] += 1
        touched = []
        for key, value in obs.metrics.items():
            point = history_point(value)
            if point is not None:
                self.metric_history.setdefault(key, []).append(point)
                touched.append(key)
        return touched

    def add(self, iteration: Iteration) -> None:
        """
        Add a stored iteration permanently.
        """
        if self.enabled and iteration.observation is not None:
            self._append(iteration.observation)

    def stage(self, obs: Observation) -> dict[str, Any]:
        """
        Stage the current observation and return the view predicates receive.
        """
        if not self.enabled:
            raise RuntimeError("the cumulative view is not maintained for this session")
        self.rollback()
        before = len(self.tool_results)
        touched = self._append(obs)
        names = [
            e.get("tool_name")
            for e in obs.tool_results
            if isinstance(e, dict)
            and e.get("_status") == "ok"
            and isinstance(e.get("tool_name"), str)
        ]
        self._staged = (before, touched, names)  # type: ignore[assignment]
        view = observation_json(obs)
        view["tool_results"] = self.tool_results
        view["metric_history"] = self.metric_history
        return view

    def settle(self, iteration: Iteration) -> None:
        """
        Keep the staged observation if it belongs to *iteration*, else add it.
        """
        if self._staged is not None:
            self._staged = None
        elif self.enabled:
            self.add(iteration)

    def rollback(self) -> None:
        """
        Drop a staged observation (its iteration was not stored).
        """
        if self._staged is None:
            return
        before, touched, names = self._staged
        removed = self.tool_results[before:]
        del self.tool_results[before:]
        self.dict_entries -= sum(1 for e in removed if isinstance(e, dict))
        for key in touched:
            series = self.metric_history[key]
            series.pop()
            if not series:
                del self.metric_history[key]
        for name in names:
            self.ok_counts[name] -= 1
        self._staged = None
