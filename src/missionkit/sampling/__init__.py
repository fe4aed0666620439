"""
Consulting a host-supplied LLM *sampler* (SPEC §8).

A sampler is any callable taking the prompt text and returning text (or an
awaitable of text). Its answers are advisory: they can change the next
strategy and the final report's narrative, never verdicts or budgets.

.. versionadded:: 0.1.0
"""

from missionkit.sampling._prompt import SamplingPrompt
from missionkit.sampling._protocol import Sampler

__all__ = ["Sampler", "SamplingPrompt"]
