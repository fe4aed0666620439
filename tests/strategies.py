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

import attrs
from hypothesis import strategies as st

from missionkit.models import (
    Budget,
    Cadence,
    CriterionProgress,
    CriterionResult,
    EventCriterion,
    FinalReport,
    HostToolCall,
    Iteration,
    IterationSummary,
    MetricThresholdCriterion,
    MetricTrendCriterion,
    Observation,
    ObservationInput,
    PendingProposal,
    PhaseRecord,
    PredicateCriterion,
    SessionState,
    SessionSummary,
    Strategy,
    ToolCall,
    ToolCallRecord,
    ToolCallSucceededCriterion,
    Verdict,
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
    # type() first: isinstance() would consult a hostile __class__ property.
    if type(value) is dict:
        out = dict(value)
        keys = list(out)
        if keys and draw(st.booleans()):
            key = draw(st.sampled_from(keys))
            out[key] = _plant(draw, out[key]) if draw(st.booleans()) else draw(any_values(4))
        else:
            out[draw(st.one_of(st.text(max_size=6), st.integers()))] = draw(any_values(4))
        return out
    if type(value) is list and value:
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


# =========================================================================== record models
#
# Builders for every model of SPEC §3, drawn directly as model instances (not
# through validation), with timezone-aware UTC datetimes at microsecond
# precision. JSON-data fields hold finite and non-finite floats but no ints too
# long to render as JSON text.

UTC_DATETIMES: st.SearchStrategy[dt.datetime] = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.just(dt.UTC),
)

record_json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
)


@functools.cache
def record_json_values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """
    JSON data as records hold it: non-finite floats allowed, every int renderable.
    """
    return st.recursive(
        record_json_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.text(max_size=6), children, max_size=3),
        ),
        max_leaves=max_leaves,
    )


def record_json_dicts(max_leaves: int = 6) -> st.SearchStrategy[dict[str, Any]]:
    """
    A JSON object with str keys and record JSON values.
    """
    return st.dictionaries(st.text(max_size=6), record_json_values(max_leaves), max_size=3)


_opt_text = st.one_of(st.none(), st.text(max_size=12))
_record_extra_keys = extra_keys.filter(lambda k: not k.startswith("_") and k != "kind")
_record_extras = st.dictionaries(_record_extra_keys, record_json_values(3), max_size=2)
_numbers = st.one_of(st.integers(min_value=-(10**9), max_value=10**9), st.floats(allow_nan=False))


def _criterion_common() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "criterion_id": names,
        "required": st.booleans(),
        "description": _opt_text,
        "extra": _record_extras,
    }


def metric_threshold_criteria() -> st.SearchStrategy[MetricThresholdCriterion]:
    """
    A `MetricThresholdCriterion` with any options and extras.
    """
    return st.builds(
        MetricThresholdCriterion,
        metric=metric_paths,
        op=st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
        target=_numbers,
        min_delta=st.one_of(
            st.integers(min_value=0, max_value=10**6),
            st.floats(min_value=0, allow_nan=False, allow_infinity=False),
        ),
        min_delta_mode=st.sampled_from(["abs", "rel"]),
        on_non_finite=_NON_FINITE_POLICY,
        **_criterion_common(),
    )


def metric_trend_criteria() -> st.SearchStrategy[MetricTrendCriterion]:
    """
    A `MetricTrendCriterion` with or without window and min_points.
    """
    positive = st.one_of(st.none(), st.integers(min_value=1, max_value=1000))
    return st.builds(
        MetricTrendCriterion,
        metric=metric_paths,
        direction=st.sampled_from(["decreasing", "increasing", "non_increasing", "non_decreasing"]),
        window=positive,
        min_points=positive,
        on_non_finite=_NON_FINITE_POLICY,
        **_criterion_common(),
    )


def event_criteria() -> st.SearchStrategy[EventCriterion]:
    """
    An `EventCriterion`.
    """
    return st.builds(
        EventCriterion, event_name=st.text(min_size=1, max_size=10), **_criterion_common()
    )


def predicate_criteria() -> st.SearchStrategy[PredicateCriterion]:
    """
    A `PredicateCriterion` over an expression that parses.
    """
    return st.builds(
        PredicateCriterion, expression=st.sampled_from(PREDICATE_EXPRESSIONS), **_criterion_common()
    )


def tool_call_succeeded_criteria() -> st.SearchStrategy[ToolCallSucceededCriterion]:
    """
    A `ToolCallSucceededCriterion`.
    """
    return st.builds(
        ToolCallSucceededCriterion,
        tool_name=names,
        min_count=st.integers(min_value=1, max_value=100),
        **_criterion_common(),
    )


def criterion_models() -> st.SearchStrategy[Any]:
    """
    A criterion model of any of the five kinds.
    """
    return st.one_of(
        metric_threshold_criteria(),
        metric_trend_criteria(),
        event_criteria(),
        predicate_criteria(),
        tool_call_succeeded_criteria(),
    )


@st.composite
def criterion_model_lists(draw: st.DrawFn, max_size: int = 3) -> tuple[Any, ...]:
    """
    Criterion models with unique ids.
    """
    items = draw(st.lists(criterion_models(), min_size=1, max_size=max_size))
    ids = draw(st.lists(names, min_size=len(items), max_size=len(items), unique=True))
    return tuple(attrs.evolve(item, criterion_id=cid) for item, cid in zip(items, ids, strict=True))


def budgets() -> st.SearchStrategy[Budget]:
    """
    A `Budget` (``-1`` or positive caps).
    """
    cap = st.one_of(st.just(-1), st.integers(min_value=1, max_value=10**9))
    return st.builds(Budget, cap, cap)


def cadences() -> st.SearchStrategy[Cadence]:
    """
    A `Cadence` of any kind, carrying only its own parameter.
    """
    positive = st.integers(min_value=1, max_value=10**6)
    return st.one_of(
        st.just(Cadence()),
        st.builds(lambda n: Cadence("every_n_iterations", n=n), positive),
        st.builds(lambda t: Cadence("every_t_seconds", t=t), positive),
        st.builds(lambda e: Cadence("on_event", event_name=e), st.text(min_size=1, max_size=8)),
    )


def tool_calls() -> st.SearchStrategy[ToolCall]:
    """
    A `ToolCall` with JSON args.
    """
    return st.builds(ToolCall, names, record_json_dicts(4))


def strategies() -> st.SearchStrategy[Strategy]:
    """
    A `Strategy` holding tool calls or a script, with optional rationale and keys.
    """
    optional_keys = st.one_of(st.none(), st.lists(st.text(max_size=6), max_size=3).map(tuple))
    body = st.one_of(
        st.builds(
            lambda calls: {"tool_calls": tuple(calls)},
            st.lists(tool_calls(), min_size=1, max_size=3),
        ),
        st.builds(lambda s: {"script": s}, st.text(min_size=1, max_size=40)),
    )
    return st.builds(
        lambda b, r, k: Strategy(**b, rationale=r, expected_observation_keys=k),
        body,
        _opt_text,
        optional_keys,
    )


_call_statuses = st.sampled_from(["ok", "failed", "skipped_not_allowed"])


def result_summaries() -> st.SearchStrategy[dict[str, Any]]:
    """
    A ``result_summary`` dict as the engine writes it.
    """
    size = st.integers(min_value=0, max_value=10**6)
    return st.one_of(
        st.builds(
            lambda b, k: {"type": "object", "bytes": b, "keys": k},
            size,
            st.lists(st.text(max_size=5), max_size=3),
        ),
        st.builds(
            lambda t, b, n: {"type": t, "bytes": b, "length": n},
            st.sampled_from(["array", "string"]),
            size,
            size,
        ),
        st.builds(
            lambda t, b: {"type": t, "bytes": b},
            st.sampled_from(["number", "boolean", "null"]),
            size,
        ),
    )


def tool_call_records() -> st.SearchStrategy[ToolCallRecord]:
    """
    A `ToolCallRecord` of any status.
    """
    return st.builds(
        ToolCallRecord,
        tool_name=names,
        args=record_json_dicts(4),
        status=_call_statuses,
        result_summary=st.one_of(st.none(), result_summaries()),
        duration_ms=st.integers(min_value=0, max_value=10**9),
        error_message=st.one_of(st.none(), st.text(max_size=250)),
    )


def phase_records() -> st.SearchStrategy[PhaseRecord]:
    """
    A `PhaseRecord`.
    """
    return st.builds(
        PhaseRecord,
        phase=st.sampled_from(["propose", "execute", "observe", "evaluate", "decide"]),
        status=st.sampled_from(["succeeded", "failed"]),
        started_at=UTC_DATETIMES,
        ended_at=UTC_DATETIMES,
        error_message=st.one_of(st.none(), st.text(max_size=250)),
    )


def observations() -> st.SearchStrategy[Observation]:
    """
    An `Observation` whose metrics may hold non-finite floats.
    """
    json_objects = st.lists(record_json_dicts(3), max_size=3).map(tuple)
    return st.builds(
        Observation,
        tool_results=json_objects,
        metrics=record_json_dicts(6),
        events=json_objects,
        errors=st.lists(
            st.builds(
                lambda n, s, m: {"tool_name": n, "status": s, "error_message": m},
                names,
                st.sampled_from(["failed", "skipped_not_allowed"]),
                _opt_text,
            ),
            max_size=2,
        ).map(tuple),
        phase_started_at=UTC_DATETIMES,
        phase_ended_at=UTC_DATETIMES,
    )


def criterion_results() -> st.SearchStrategy[CriterionResult]:
    """
    A `CriterionResult` with JSON evidence.
    """
    return st.builds(
        CriterionResult,
        criterion_id=names,
        status=st.sampled_from(["met", "unmet", "inconclusive"]),
        evidence=record_json_values(4),
        evaluated_at=UTC_DATETIMES,
    )


_verdict_labels = st.sampled_from(["continue", "adjust", "complete", "terminate"])
_reason_tokens = st.sampled_from(
    ["in_progress", "cadence_skip", "criteria_met", "no_progress", "user_abort", "forced_complete"]
)


def verdicts() -> st.SearchStrategy[Verdict]:
    """
    A `Verdict`.
    """
    return st.builds(Verdict, _verdict_labels, _reason_tokens)


_sampling_outputs = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.builds(
        lambda b, p: {"_truncated": True, "bytes": b, "preview": p},
        st.integers(min_value=0, max_value=10**6),
        st.text(max_size=20),
    ),
)
_sampling_fields: dict[str, st.SearchStrategy[Any]] = {
    "sampling_status": st.one_of(
        st.none(), st.sampled_from(["used", "rejected", "disabled", "unavailable"])
    ),
    "sampling_rejection_reason": _opt_text,
    "sampling_output": _sampling_outputs,
    "sampling_rationale": _opt_text,
}
_strategy_sources = st.sampled_from(["default", "proposer", "sampler", "host"])


def iterations(index: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[Iteration]:
    """
    An `Iteration` in which every optional field may be set or null.
    """
    return st.builds(
        Iteration,
        iteration_index=index if index is not None else st.integers(min_value=0, max_value=10**6),
        status=st.sampled_from(["succeeded", "failed"]),
        started_at=UTC_DATETIMES,
        ended_at=UTC_DATETIMES,
        phases=st.lists(phase_records(), max_size=3).map(tuple),
        strategy=st.one_of(st.none(), strategies()),
        strategy_source=st.one_of(st.none(), _strategy_sources),
        tool_calls=st.lists(tool_call_records(), max_size=2).map(tuple),
        script_call_log=st.one_of(st.none(), st.lists(tool_call_records(), max_size=2).map(tuple)),
        script_error=st.one_of(st.none(), st.text(max_size=250)),
        sandbox_terminated_reason=st.one_of(st.none(), st.sampled_from(["wall_time", "memory"])),
        observation=st.one_of(st.none(), observations()),
        criteria_evaluation=st.lists(criterion_results(), max_size=2).map(tuple),
        checkpoint_evaluated=st.booleans(),
        progress=st.booleans(),
        no_progress_counter=st.integers(min_value=0, max_value=100),
        verdict=st.one_of(st.none(), _verdict_labels),
        verdict_reason=st.one_of(st.none(), _reason_tokens),
        revision_rationale=_opt_text,
        **_sampling_fields,
    )


def pending_proposals() -> st.SearchStrategy[PendingProposal]:
    """
    A `PendingProposal`.
    """
    return st.builds(
        PendingProposal,
        strategy=strategies(),
        strategy_source=_strategy_sources,
        phases=st.lists(phase_records(), max_size=2).map(tuple),
        **_sampling_fields,
    )


def criterion_progress() -> st.SearchStrategy[CriterionProgress]:
    """
    A `CriterionProgress`.
    """
    return st.builds(
        CriterionProgress,
        st.booleans(),
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    )


_statuses = st.sampled_from(["pending", "running", "paused", "completed", "terminated", "failed"])
_opt_datetimes = st.one_of(st.none(), UTC_DATETIMES)


@st.composite
def iteration_tuples(draw: st.DrawFn, max_size: int = 3) -> tuple[Iteration, ...]:
    """
    Iterations with consecutive indices from 0.
    """
    count = draw(st.integers(min_value=0, max_value=max_size))
    return tuple(draw(iterations(st.just(i))) for i in range(count))


@st.composite
def session_states(draw: st.DrawFn, with_iterations: bool = True) -> SessionState:
    """
    A `SessionState` with every optional field set or null (and iterations).
    """
    criteria = draw(criterion_model_lists())
    use_sampling = draw(st.booleans())
    return SessionState(
        version=1,
        session_id="mission-"
        + draw(st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)),
        revision=draw(st.integers(min_value=1, max_value=10**6)),
        status=draw(_statuses),
        directive_text=draw(st.text(min_size=1, max_size=30)),
        criteria=criteria,
        budget=draw(budgets()),
        tool_allowlist=tuple(draw(st.lists(names, min_size=1, max_size=3, unique=True))),
        checkpoint_cadence=draw(cadences()),
        stagnation_threshold=draw(st.integers(min_value=1, max_value=50)),
        use_sampling=use_sampling,
        sampling_mode=draw(st.sampled_from(["after_adjust", "every_iteration"]))
        if use_sampling
        else None,
        allow_scripted_strategies=draw(st.booleans()),
        metadata=draw(record_json_dicts(4)),
        created_at=draw(UTC_DATETIMES),
        updated_at=draw(UTC_DATETIMES),
        started_at=draw(_opt_datetimes),
        ended_at=draw(_opt_datetimes),
        paused_at=draw(_opt_datetimes),
        paused_seconds=draw(st.floats(min_value=0, max_value=1e9)),
        last_checkpoint_at=draw(_opt_datetimes),
        no_progress_counter=draw(st.integers(min_value=0, max_value=100)),
        criterion_progress={c.criterion_id: draw(criterion_progress()) for c in criteria},
        final_verdict=draw(st.one_of(st.none(), _verdict_labels)),
        final_verdict_reason=draw(st.one_of(st.none(), _reason_tokens)),
        pending_proposal=draw(st.one_of(st.none(), pending_proposals())),
        iterations=draw(iteration_tuples()) if with_iterations else (),
    )


def session_summaries() -> st.SearchStrategy[SessionSummary]:
    """
    A `SessionSummary`, readable or not.
    """
    return st.builds(
        SessionSummary,
        session_id=names,
        status=st.one_of(_statuses, st.just("unreadable")),
        created_at=_opt_datetimes,
        updated_at=_opt_datetimes,
        iteration_count=st.one_of(st.none(), st.integers(min_value=0, max_value=10**6)),
        final_verdict=st.one_of(st.none(), _verdict_labels),
        final_verdict_reason=st.one_of(st.none(), _reason_tokens),
        error=_opt_text,
    )


def iteration_summaries() -> st.SearchStrategy[IterationSummary]:
    """
    An `IterationSummary`.
    """
    return st.builds(
        IterationSummary,
        iteration_index=st.integers(min_value=0, max_value=10**6),
        status=st.sampled_from(["succeeded", "failed"]),
        verdict=st.one_of(st.none(), _verdict_labels),
        verdict_reason=st.one_of(st.none(), _reason_tokens),
        started_at=UTC_DATETIMES,
        ended_at=UTC_DATETIMES,
    )


@st.composite
def final_reports(draw: st.DrawFn) -> FinalReport:
    """
    A `FinalReport` with every optional field set or null.
    """
    runs = draw(iteration_tuples())
    return FinalReport(
        session_id=draw(names),
        status=draw(st.sampled_from(["completed", "terminated", "failed"])),
        directive_text=draw(st.text(min_size=1, max_size=30)),
        criteria=draw(criterion_model_lists()),
        budget=draw(budgets()),
        checkpoint_cadence=draw(cadences()),
        tool_allowlist=tuple(draw(st.lists(names, max_size=3, unique=True))),
        stagnation_threshold=draw(st.integers(min_value=1, max_value=50)),
        metadata=draw(record_json_dicts(4)),
        created_at=draw(UTC_DATETIMES),
        started_at=draw(_opt_datetimes),
        ended_at=draw(UTC_DATETIMES),
        active_seconds=draw(st.floats(min_value=0, max_value=1e9)),
        iterations_run=len(runs),
        final_verdict=draw(st.one_of(st.none(), _verdict_labels)),
        final_verdict_reason=draw(st.one_of(st.none(), _reason_tokens)),
        final_criteria_evaluation=draw(
            st.one_of(st.none(), st.lists(criterion_results(), max_size=2).map(tuple))
        ),
        failure=draw(
            st.one_of(
                st.none(),
                st.builds(
                    lambda i, p, m: {"iteration_index": i, "phase": p, "error_message": m},
                    st.integers(min_value=0, max_value=100),
                    st.sampled_from(["propose", "execute", "observe", "evaluate", "decide"]),
                    st.text(max_size=20),
                ),
            )
        ),
        lessons=draw(st.text(max_size=40)),
        lessons_source=draw(st.sampled_from(["template", "sampler"])),
        recommended_followups=tuple(draw(st.lists(st.text(max_size=10), max_size=3))),
        iterations=runs,
    )


RECORD_MODEL_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "ToolCallRecord": tool_call_records(),
    "PhaseRecord": phase_records(),
    "Observation": observations(),
    "CriterionResult": criterion_results(),
    "Verdict": verdicts(),
    "Iteration": iterations(),
    "PendingProposal": pending_proposals(),
    "CriterionProgress": criterion_progress(),
    "SessionState": session_states(),
    "SessionSummary": session_summaries(),
    "IterationSummary": iteration_summaries(),
    "FinalReport": final_reports(),
}
"""
A builder per record model (decoded strictly by ``from_dict``), by class name.
"""
