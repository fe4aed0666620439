"""
Property tests: compiled predicates behave like native evaluation.
"""

from __future__ import annotations

import builtins
import warnings
from typing import Any

from hypothesis import given

from missionkit.predicate import PredicateLimitExceeded, PredicateRejected, compile_predicate
from strategies_predicate import expressions, observations


def outcome(fn: Any) -> tuple[str, Any]:
    """
    Call *fn* and classify what happens.
    """
    try:
        return ("value", fn())
    except Exception as exc:
        return ("error", exc)


class TestAgainstNative:
    """
    Random allowed expressions over random JSON observations.
    """

    @given(expressions, observations())
    def test_same_as_native(self, source: str, obs: dict[str, Any]) -> None:
        """
        The predicate returns the native value, or raises a limit error or the native error type.
        """
        try:
            predicate = compile_predicate(source)
        except PredicateRejected as exc:
            # Generated sources are in the language except for size and nesting
            # limits and f-strings nested inside f-strings (a 3.11 syntax error).
            allowed = {"too_deep", "too_many_nodes", "forbidden_node", "syntax_error"}
            assert exc.reason in allowed, source
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = outcome(lambda: eval(source, {"__builtins__": builtins, "obs": obs}))
        actual = outcome(lambda: predicate(obs))

        if actual[0] == "value":
            assert expected[0] == "value", (source, actual, expected)
            assert repr(expected[1]) == repr(actual[1]), source
            return
        error = actual[1]
        if isinstance(error, PredicateLimitExceeded):
            return
        if isinstance(error, TypeError) and "accepts only None" in str(error):
            # min/max/sorted refuse non-scalar elements by design (SPEC §5.3).
            return
        assert expected[0] == "error", (source, error)
        assert type(expected[1]) is type(error), (source, error, expected[1])
