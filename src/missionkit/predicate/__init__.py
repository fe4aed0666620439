"""
The predicate language (SPEC §5): a small, guarded subset of Python expressions.

Predicates are parsed against an allow-list, rewritten with run-time guards
and compiled once into an ordinary function of one argument, ``obs``.

.. versionadded:: 0.1.0
"""

from missionkit.errors import PredicateLimitExceeded, PredicateRejected
from missionkit.predicate._compile import Predicate, compile_predicate
from missionkit.predicate._limits import PredicateLimits
from missionkit.predicate._parse import ALLOWED_CALLABLES, ALLOWED_METHODS, parse_predicate

__all__ = [
    "ALLOWED_CALLABLES",
    "ALLOWED_METHODS",
    "Predicate",
    "PredicateLimitExceeded",
    "PredicateLimits",
    "PredicateRejected",
    "compile_predicate",
    "parse_predicate",
]
