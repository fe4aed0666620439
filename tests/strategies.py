"""
Reusable Hypothesis strategies: JSON values, hostile objects and valid mission inputs.

Add a builder here whenever a model or an input shape gains a feature.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import strategies as st

from missionkit.models import (
    Budget,
    Cadence,
    EventCriterion,
    HostToolCall,
    MetricThresholdCriterion,
    MetricTrendCriterion,
    ObservationInput,
    PredicateCriterion,
    Strategy,
    ToolCall,
    ToolCallSucceededCriterion,
)

# --------------------------------------------------------------------------- hostile objects


class HostileError(Exception):
    """
    Raised by every method of a hostile object.
    """


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise HostileError("hostile")


class Hostile:
    """
    An object whose comparison, hashing, container, conversion and text methods all raise.
    """

    __eq__ = _boom
    __ne__ = _boom
    __lt__ = _boom
    __le__ = _boom
    __gt__ = _boom
    __ge__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __len__ = _boom
    __iter__ = _boom
    __getitem__ = _boom
    __contains__ = _boom
    __bool__ = _boom
    __str__ = _boom
    __repr__ = _boom
    __format__ = _boom
    __int__ = _boom
    __float__ = _boom
    __index__ = _boom


class HostileClassAttribute:
    """
    An object whose ``__class__`` lookup raises, so even ``isinstance`` fails on it.
    """

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        raise HostileError("hostile __class__")


class HostileDict(dict):  # type: ignore[type-arg]
    """
    A dict subclass whose overridable methods all raise (its storage stays readable).
    """

    __eq__ = _boom
    __ne__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __len__ = _boom
    __iter__ = _boom
    __getitem__ = _boom
    __contains__ = _boom
    __bool__ = _boom
    __str__ = _boom
    __repr__ = _boom
    keys = _boom
    values = _boom
    items = _boom
    get = _boom
    copy = _boom
    pop = _boom
    setdefault = _boom
    update = _boom


class HostileList(list):  # type: ignore[type-arg]
    """
    A list subclass whose overridable methods all raise (its storage stays readable).
    """

    __eq__ = _boom
    __ne__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __len__ = _boom
    __iter__ = _boom
    __getitem__ = _boom
    __contains__ = _boom
    __bool__ = _boom
    __str__ = _boom
    __repr__ = _boom
    copy = _boom
    index = _boom
    count = _boom


class HostileStr(str):
    """
    A str subclass whose overridable methods all raise (its characters stay readable).
    """

    __eq__ = _boom
    __ne__ = _boom
    __lt__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __len__ = _boom
    __iter__ = _boom
    __getitem__ = _boom
    __contains__ = _boom
    __bool__ = _boom
    __str__ = _boom
    __repr__ = _boom
    strip = _boom  # type: ignore[assignment]
    split = _boom  # type: ignore[assignment]
    startswith = _boom  # type: ignore[assignment]
    lower = _boom  # type: ignore[assignment]
    encode = _boom  # type: ignore[assignment]


class HostileInt(int):
    """
    An int subclass whose comparisons, hashing and conversions raise.
    """

    __eq__ = _boom
    __ne__ = _boom
    __lt__ = _boom
    __le__ = _boom
    __gt__ = _boom
    __ge__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __bool__ = _boom
    __index__ = _boom
    __int__ = _boom
    __str__ = _boom
    __repr__ = _boom


class HostileFloat(float):
    """
    A float subclass whose comparisons, hashing and conversions raise.
    """

    __eq__ = _boom
    __ne__ = _boom
    __lt__ = _boom
    __le__ = _boom
    __gt__ = _boom
    __ge__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __bool__ = _boom
    __float__ = _boom
    __str__ = _boom
    __repr__ = _boom


class HostileMapping(Mapping[Any, Any]):
    """
    A non-dict mapping whose every access raises.
    """

    def __getitem__(self, key: Any) -> Any:
        raise HostileError("hostile mapping")

    def __iter__(self) -> Iterator[Any]:
        raise HostileError("hostile mapping")

    def __len__(self) -> int:
        raise HostileError("hostile mapping")


class Opaque:
    """
    A plain non-JSON object with a working repr.
    """

    def __repr__(self) -> str:
        return "Opaque()"


@functools.cache
def hostile_objects() -> st.SearchStrategy[Any]:
    """
    Objects that raise from their dunder methods, including hostile builtin subclasses.
    """
    return st.one_of(
        st.builds(Hostile),
        st.builds(HostileClassAttribute),
        st.builds(HostileMapping),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(HostileDict),
        st.lists(st.integers(), max_size=3).map(HostileList),
        st.text(max_size=8).map(HostileStr),
        st.sampled_from(["ok", "kind", "metric_threshold", "every_iteration", "t", ""]).map(
            HostileStr
        ),
        st.integers(min_value=-3, max_value=300).map(HostileInt),
        st.floats(allow_nan=True).map(HostileFloat),
    )


# ------------------------------------------------------------------ JSON and non-JSON values

HUGE_INT = 10**5000

json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, 1, -1, -2, 2**63]),
    st.sampled_from([1, -1]).map(lambda sign: sign * HUGE_INT),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 5.0]),
    st.text(max_size=12),
)


@functools.cache
def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """
    JSON data as missionkit defines it (non-finite floats and huge ints included).
    """
    return st.recursive(
        json_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


non_json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.binary(max_size=4),
    st.builds(object),
    st.builds(Opaque),
    st.just(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
    st.just(Ellipsis),
    st.just(int),
    st.just(len),
    st.complex_numbers(max_magnitude=10),
    st.frozensets(st.integers(), max_size=3),
)


@functools.cache
def any_values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """
    JSON data mixed with non-JSON and hostile objects, in any container.
    """
    leaves = st.one_of(json_scalars, non_json_scalars, hostile_objects())
    keys = st.one_of(st.text(max_size=6), st.integers(), st.none(), st.booleans())
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=3).map(tuple),
            st.dictionaries(keys, children, max_size=4),
            st.dictionaries(st.text(max_size=6), children, max_size=3).map(HostileDict),
            st.lists(children, max_size=3).map(HostileList),
        ),
        max_leaves=max_leaves,
    )


# --------------------------------------------------------------------------- valid inputs

_ALL_CRITERION_KEYS = frozenset(
    {
        "criterion_id",
        "kind",
        "required",
        "description",
        "metric",
        "op",
        "target",
        "min_delta",
        "min_delta_mode",
        "on_non_finite",
        "direction",
        "window",
        "min_points",
        "event_name",
        "expression",
        "tool_name",
        "min_count",
    }
)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=10)
metric_paths = st.lists(names, min_size=1, max_size=3).map(".".join)
extra_keys = st.text(max_size=8).filter(lambda k: k not in _ALL_CRITERION_KEYS)

PREDICATE_EXPRESSIONS = (
    "len(obs['tool_results']) > 0",
    "obs.get('missing', 3) == 3",
    "'abc'.upper() == 'ABC'",
    "any('x' in str(r).lower() for r in obs['tool_results'])",
    "[y for x in obs['xs'] for y in x]",
    "obs['metric_history']['loss'][-1] < 0.1",
)


def _optional_keys(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


_NON_FINITE_POLICY = st.sampled_from(["inconclusive", "unmet", "terminate"])
_EXTRAS = st.dictionaries(extra_keys, json_values(3), max_size=2)
_COMMON_OPTIONAL = {"description": st.text(max_size=10)}
_KIND_FIELDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "metric_threshold": (
        {
            "metric": metric_paths,
            "op": st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
            "target": st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=True)),
        },
        {
            "min_delta": st.one_of(
                st.integers(min_value=0),
                st.floats(min_value=0, allow_nan=False, allow_infinity=False),
            ),
            "min_delta_mode": st.sampled_from(["abs", "rel"]),
            "on_non_finite": _NON_FINITE_POLICY,
        },
    ),
    "metric_trend": (
        {
            "metric": metric_paths,
            "direction": st.sampled_from(
                ["decreasing", "increasing", "non_increasing", "non_decreasing"]
            ),
        },
        {
            "window": st.integers(min_value=1, max_value=100),
            "min_points": st.integers(min_value=1, max_value=100),
            "on_non_finite": _NON_FINITE_POLICY,
        },
    ),
    "event": ({"event_name": st.text(min_size=1, max_size=10)}, {}),
    "predicate": ({"expression": st.sampled_from(PREDICATE_EXPRESSIONS)}, {}),
    "tool_call_succeeded": (
        {"tool_name": names},
        {"min_count": st.integers(min_value=1, max_value=50)},
    ),
}
_KIND_STRATEGIES = {
    kind: st.fixed_dictionaries(
        {"kind": st.just(kind), "required": st.booleans(), **required},
        optional={**_COMMON_OPTIONAL, **optional},
    )
    for kind, (required, optional) in _KIND_FIELDS.items()
}


@st.composite
def valid_criterion_dicts(
    draw: st.DrawFn, criterion_id: st.SearchStrategy[str] | None = None, predicates: bool = True
) -> dict[str, Any]:
    """
    One valid criterion dict of any kind, with random optional keys and extras.
    """
    kinds = [k for k in _KIND_STRATEGIES if predicates or k != "predicate"]
    kind = draw(st.sampled_from(kinds))
    out: dict[str, Any] = {
        "criterion_id": draw(criterion_id if criterion_id is not None else names)
    }
    out.update(draw(_KIND_STRATEGIES[kind]))
    out.update(draw(_EXTRAS))
    return out


@st.composite
def valid_criteria_lists(draw: st.DrawFn, predicates: bool = True) -> list[dict[str, Any]]:
    """
    A valid criteria list (unique ids, 1–4 entries).
    """
    ids = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    return [
        draw(valid_criterion_dicts(criterion_id=st.just(cid), predicates=predicates)) for cid in ids
    ]


def valid_tool_call_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """
    A valid tool call dict, with or without ``args``.
    """
    return st.one_of(
        st.builds(lambda n: {"tool_name": n}, names),
        st.builds(
            lambda n, a: {"tool_name": n, "args": a},
            names,
            st.dictionaries(st.text(max_size=6), json_values(4), max_size=3),
        ),
    )


@st.composite
def valid_strategy_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """
    A valid tool-call strategy dict with optional rationale and expected keys.
    """
    out: dict[str, Any] = {
        "tool_calls": draw(st.lists(valid_tool_call_dicts(), min_size=1, max_size=4))
    }
    out.update(
        draw(
            _optional_keys(
                {
                    "rationale": st.text(max_size=12),
                    "expected_observation_keys": st.lists(st.text(max_size=6), max_size=3),
                }
            )
        )
    )
    return out


def valid_budget_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """
    A valid budget dict.
    """
    cap = st.one_of(st.just(-1), st.integers(min_value=1))
    return st.fixed_dictionaries({"max_iterations": cap, "max_wall_clock_seconds": cap})


def valid_cadence_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """
    A valid cadence dict of any kind.
    """
    positive = st.integers(min_value=1, max_value=10**6)
    return st.one_of(
        st.just({"kind": "every_iteration"}),
        st.fixed_dictionaries({"kind": st.just("every_n_iterations"), "n": positive}),
        st.fixed_dictionaries({"kind": st.just("every_t_seconds"), "t": positive}),
        st.fixed_dictionaries(
            {"kind": st.just("on_event"), "event_name": st.text(min_size=1, max_size=8)}
        ),
    )


@st.composite
def valid_host_call_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """
    A valid host-reported tool call dict.
    """
    out: dict[str, Any] = {
        "tool_name": draw(names),
        "status": draw(st.sampled_from(["ok", "failed", "skipped_not_allowed"])),
    }
    out.update(
        draw(
            _optional_keys(
                {
                    "args": st.dictionaries(st.text(max_size=6), json_values(4), max_size=3),
                    "result": json_values(6),
                    "error_message": st.one_of(st.none(), st.text(max_size=10)),
                    "duration_ms": st.integers(min_value=0, max_value=10**6),
                }
            )
        )
    )
    return out


def valid_observation_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """
    A valid observation dict (any subset of ``metrics``, ``events``, ``tool_calls``).
    """
    return _optional_keys(
        {
            "metrics": st.dictionaries(st.text(max_size=6), json_values(4), max_size=3),
            "events": st.lists(
                st.dictionaries(st.text(max_size=6), json_values(3), max_size=3), max_size=3
            ),
            "tool_calls": st.lists(valid_host_call_dicts(), max_size=3),
        }
    )


# ------------------------------------------------------------------ models with arbitrary fields


@functools.cache
def garbage_models() -> st.SearchStrategy[Any]:
    """
    Input model instances whose fields hold arbitrary (possibly hostile) values.
    """
    anything = any_values(2)
    common = {"criterion_id": anything, "required": anything, "description": anything}
    return st.one_of(
        st.builds(Budget, anything, anything),
        st.builds(Cadence, anything, anything, anything, anything),
        st.builds(ToolCall, anything, anything),
        st.builds(Strategy, anything, anything, anything, anything),
        st.builds(
            Strategy, st.lists(st.builds(ToolCall, anything, anything), max_size=2).map(tuple)
        ),
        st.builds(HostToolCall, anything, anything, anything, anything, anything, anything),
        st.builds(ObservationInput, anything, anything, anything),
        st.builds(
            MetricThresholdCriterion,
            metric=anything,
            op=anything,
            target=anything,
            min_delta=anything,
            min_delta_mode=anything,
            on_non_finite=anything,
            extra=anything,
            **common,
        ),
        st.builds(
            MetricTrendCriterion,
            metric=anything,
            direction=anything,
            window=anything,
            min_points=anything,
            on_non_finite=anything,
            extra=anything,
            **common,
        ),
        st.builds(EventCriterion, event_name=anything, extra=anything, **common),
        st.builds(PredicateCriterion, expression=anything, extra=anything, **common),
        st.builds(
            ToolCallSucceededCriterion,
            tool_name=anything,
            min_count=anything,
            extra=anything,
            **common,
        ),
    )


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[Any]) -> Any:
    """
    A value drawn from *base* with arbitrary values planted inside its containers.

    Each dict or list on the path chosen has one entry replaced (or a key added)
    with a value from `any_values`, so otherwise-valid containers carry
    non-JSON and hostile entries.
    """
    value = draw(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        value = _plant(draw, value)
    return value


def _plant(draw: st.DrawFn, value: Any) -> Any:
    if isinstance(value, dict) and type(value) is dict:
        out = dict(value)
        keys = list(out)
        if keys and draw(st.booleans()):
            key = draw(st.sampled_from(keys))
            out[key] = _plant(draw, out[key]) if draw(st.booleans()) else draw(any_values(4))
        else:
            out[draw(st.one_of(st.text(max_size=6), st.integers()))] = draw(any_values(4))
        return out
    if isinstance(value, list) and type(value) is list and value:
        items = list(value)
        index = draw(st.integers(min_value=0, max_value=len(items) - 1))
        items[index] = _plant(draw, items[index]) if draw(st.booleans()) else draw(any_values(4))
        return items
    return draw(any_values(4))


def fuzz_inputs() -> st.SearchStrategy[Any]:
    """
    Anything a caller might pass: JSON data, non-JSON and hostile objects, garbage models.
    """
    return st.one_of(any_values(), json_values(6), garbage_models())
