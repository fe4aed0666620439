"""
The collaborators one `Mission` composes, as the engine sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from missionkit._tools import Tool
from missionkit.audit import AuditEvent
from missionkit.audit._dispatch import deliver
from missionkit.models import Limits

__all__ = ["MissionCore"]


@attrs.frozen
class MissionCore:
    """
    Read-only composition of a Mission's collaborators, shared by its sessions.
    """

    tools: Mapping[str, Tool]
    store: Any
    sinks: tuple[Callable[[Any], None], ...]
    proposer: Callable[..., Any] | None
    sampler: Any
    clock: Callable[[], datetime]
    tool_timeout: float | None
    control_tools: Collection[str]
    flag_lookup: Mapping[str, str] | None
    limits: Limits
    script_runner: Callable[[], Any]
    logger: logging.Logger = attrs.field(factory=lambda: logging.getLogger("missionkit"))
    #: Whether sync entry points may take the straight-line iteration (`_fast`).
    #: Always on; the differential tests turn it off to compare with the general engine.
    fast_path: bool = True

    def audit(self, event_type: Callable[..., AuditEvent], /, **fields: Any) -> None:
        """
        Build one event stamped with the clock and deliver it to every sink, in order.

        A failing sink is logged and skipped. Without sinks nothing is built and the
        clock is not read.
        """
        if self.sinks:
            deliver(self.sinks, event_type(timestamp=self.clock(), **fields), self.logger)

    def runnable(self, allowlist: Sequence[str]) -> tuple[str, ...]:
        """
        Allowlisted tools this Mission can run, in allowlist order.
        """
        tools = self.tools
        return tuple([n for n in allowlist if n in tools and tools[n].func is not None])

    def known(self, allowlist: Sequence[str]) -> tuple[str, ...]:
        """
        Allowlisted tools this Mission knows (runnable or external), in allowlist order.
        """
        return tuple(n for n in allowlist if n in self.tools)
