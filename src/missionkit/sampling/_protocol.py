"""
The `Sampler` protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

__all__ = ["Sampler"]


class Sampler(Protocol):
    """
    A host-supplied callable that answers one prompt with text (SPEC §8.1).

    Any callable ``sampler(prompt: str, /) -> str`` or returning
    ``Awaitable[str]`` qualifies, e.g. a thin wrapper around an LLM API; nothing
    has to be subclassed. Sync samplers are called in a worker thread so a
    timeout can be enforced; a call that times out is abandoned, not killed.

    These attributes are optional and read with ``getattr``:

    - ``backend_name: str`` — reported as the audit ``sampling_backend``
      (default ``"host"``).
    - ``model_id: str`` — reported as ``sampling_model_id`` when non-empty.
    - ``timeout: float`` — seconds one call may take; the effective bound is
      the smaller of this and the session's remaining wall-clock time.

    Any exception raised, a timeout, or a non-``str`` return is recorded as a
    ``transport_error`` and the mission falls back to its proposers; it never
    fails an iteration.

    .. versionadded:: 0.1.0
    """

    def __call__(self, prompt: str, /) -> str | Awaitable[str]:
        """
        Answer *prompt*.
        """
        ...
