"""
Hypothesis strategies for predicate sources and JSON observations.

Expressions are generated from the allowed grammar of SPEC §5 as source text,
typed loosely so that ordinary run-time errors (TypeError, KeyError, …) are
common and exercised too.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

KEYS = ["a", "b", "xs", "s", "n"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-1000, max_value=1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet="abcXY 1", max_size=5),
)

json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def observations(draw: st.DrawFn) -> dict[str, Any]:
    """
    Draw an observation dict with a few well-known keys.
    """
    obs: dict[str, Any] = draw(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5))
    obs.setdefault("xs", draw(st.lists(scalars, max_size=5)))
    obs.setdefault("n", draw(st.integers(-20, 20)))
    obs.setdefault("s", draw(st.text(alphabet="abc ", max_size=6)))
    return obs


literal_sources = st.one_of(
    st.integers(-50, 50).map(repr),
    st.sampled_from(
        [
            "0.5",
            "True",
            "False",
            "None",
            "'a'",
            "'ab c'",
            "''",
            "[]",
            "[1, 2]",
            "(1, 'a')",
            "{'a': 1}",
            "{1, 2}",
        ]
    ),
)

leaf_sources = st.one_of(
    literal_sources,
    st.sampled_from(
        ["obs", "obs['xs']", "obs['n']", "obs['s']", "obs.get('a')", "obs.get('b', 0)"]
    ),
)

BINOPS = ["+", "-", "*", "/", "//", "%", "**", "<<"]
CMPOPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"]
CALLS = ["len", "abs", "bool", "str", "int", "float", "sum", "any", "all", "min", "max", "sorted"]
METHODS = [
    "keys()",
    "values()",
    "items()",
    "lower()",
    "upper()",
    "strip()",
    "startswith('a')",
    "endswith('b')",
    "get('a')",
]


def _infix(parts: tuple[str, str, str]) -> str:
    return f"({parts[0]} {parts[1]} {parts[2]})"


def _prefix(parts: tuple[str, str]) -> str:
    return f"({parts[0]}{parts[1]})"


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(children, children)
    return st.one_of(
        st.tuples(children, st.sampled_from(BINOPS), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(children, st.sampled_from(CMPOPS), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(st.sampled_from(["not ", "-", "+", "~"]), children).map(
            lambda t: f"({t[0]}{t[1]})"
        ),
        pair.map(lambda t: f"({t[0]} and {t[1]})"),
        pair.map(lambda t: f"({t[0]} or {t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(st.sampled_from(CALLS), children).map(lambda t: f"{t[0]}({t[1]})"),
        pair.map(lambda t: f"max({t[0]}, {t[1]})"),
        st.tuples(children, st.sampled_from(METHODS)).map(lambda t: f"({t[0]}).{t[1]}"),
        pair.map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, st.sampled_from(["1:", ":-1", "::2", "::-1", "1:3"])).map(
            lambda t: f"{t[0]}[{t[1]}]"
        ),
        pair.map(lambda t: f"[{t[0]}, {t[1]}]"),
        pair.map(lambda t: f"[{t[0]}, *{t[1]}]"),
        pair.map(lambda t: f"[v for v in {t[0]} if {t[1]}]"),
        children.map(lambda c: f"[(v, w) for v in {c} for w in v]"),
        children.map(lambda c: f"sum(1 for v in {c})"),
        children.map(lambda c: f'f"{{{c}}}"'),
        children.map(lambda c: f'f"{{{c}!r:>5}}"'),
        pair.map(lambda t: f"'%s%s' % ({t[0]}, {t[1]})"),
    )


expressions = st.recursive(leaf_sources, _extend, max_leaves=8)
"""
Predicate sources drawn from the allowed grammar.
"""
