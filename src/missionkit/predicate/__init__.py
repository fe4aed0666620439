"""
The predicate language (SPEC §5).
"""

from missionkit.predicate._limits import PredicateLimits


__all__ = ["PredicateLimits"]
