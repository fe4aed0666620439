"""
Tests for compiled predicates: evaluation, run-time limits, pickling, threads.
"""

from __future__ import annotations

import builtins
import pickle
import threading
from typing import Any

import pytest

import missionkit.predicate
from missionkit.predicate import (
    Predicate,
    PredicateLimitExceeded,
    PredicateLimits,
    compile_predicate,
)


@pytest.fixture(name="obs")
def _obs() -> dict[str, Any]:
    return {
        "tool_results": [
            {"name": "search", "score": 0.95, "text": "Alpha x"},
            {"name": "fetch", "score": 0.4, "text": "beta"},
        ],
        "metrics": {"n": 12, "loss": 0.3},
        "metric_history": {"loss": [0.5, 0.05]},
        "xs": [[1, 2], [3]],
        "s": "abc",
        "big": list(range(100_000)),
    }


def native(source: str, obs: Any) -> Any:
    """
    Evaluate *source* with real builtins, as a hand-written lambda would.
    """
    return eval(source, {"__builtins__": builtins}, {"obs": obs})


def breach(source: str, obs: Any, limits: PredicateLimits | None = None) -> PredicateLimitExceeded:
    """
    Evaluate *source* and return the limit error it must raise.
    """
    predicate = compile_predicate(source, limits=limits)
    with pytest.raises(PredicateLimitExceeded) as info:
        predicate(obs)
    return info.value


class TestEvaluation:
    """
    Compiled predicates compute what the same expression computes natively.
    """

    @pytest.mark.parametrize(
        "source",
        [
            "len(obs['tool_results']) > 0",
            "obs.get('missing', 3) == 3",
            "'abc'.upper() == 'ABC'",
            "any('x' in str(r).lower() for r in obs['tool_results'])",
            "[y for x in obs['xs'] for y in x]",
            "obs['metric_history']['loss'][-1] < 0.1",
            "f\"{obs['metrics']['n']:>8}\" != ''",
            "sorted(obs['metrics'].keys())",
            "max(r['score'] for r in obs['tool_results'])",
            "min(3, 1.5, True)",
            "sum(obs['xs'][0]) + sum(x for x in obs['xs'][0])",
            "obs['s'][::-1] + obs['s'] * 2",
            "'%s-%05.1f' % (obs['s'], 2.5)",
            'f\'{obs["xs"]!r:>{obs["metrics"]["n"]}}\'',
            "[*obs['xs'], *obs['s']]",
            "int('12') + float(' 1.5 ') + abs(-2) + bool(obs)",
            "obs['s'].strip('a').startswith('b') and obs['s'].endswith('c')",
            "[k for k, v in obs['metrics'].items() if v > 1]",
            "2 ** 10 + 3 << 2",
            "(1, 2) + (3,)",
            "1 in obs['big'] and 'a' in obs['s'] and 'n' in obs['metrics']",
        ],
    )
    def test_matches_native(self, source: str, obs: dict[str, Any]) -> None:
        """
        The predicate returns the value native eval returns.
        """
        assert native(source, obs) == compile_predicate(source)(obs)

    def test_ordinary_errors_surface(self, obs: dict[str, Any]) -> None:
        """
        Ordinary exceptions propagate unchanged.
        """
        with pytest.raises(KeyError):
            compile_predicate("obs['missing'] > 1")(obs)

    @pytest.mark.parametrize("source", ["min(obs['xs'])", "sorted(obs['tool_results'])"])
    def test_min_max_sorted_scalars_only(self, source: str, obs: dict[str, Any]) -> None:
        """
        min, max and sorted refuse non-scalar elements with TypeError.
        """
        with pytest.raises(TypeError):
            compile_predicate(source)(obs)

    def test_method_on_list_is_attribute_error(self, obs: dict[str, Any]) -> None:
        """
        The nine methods do not exist on lists.
        """
        with pytest.raises(AttributeError):
            compile_predicate("obs['xs'].lower()")(obs)

    def test_no_builtins_reachable(self) -> None:
        """
        The compiled function's globals hold an empty __builtins__.
        """
        predicate = compile_predicate("len(obs)")

        assert {} == predicate.__func__.__globals__["__builtins__"]  # type: ignore[attr-defined]


class TestIntBits:
    """
    The int_bits guard on **, * and <<.
    """

    @pytest.mark.parametrize(
        ("ok", "bad"),
        [
            ("2 ** 4095", "2 ** 4096"),
            ("obs['two'] ** 4095", "obs['two'] ** 4096"),
            ("obs['one'] << 4095", "obs['one'] << 4096"),
            ("obs['big'] * obs['two']", "obs['big'] * obs['four']"),
            ("(-2) ** 4095", "3 ** 4095"),
        ],
    )
    def test_boundary(self, ok: str, bad: str) -> None:
        """
        A result of exactly 4096 bits passes; one bit more breaches.
        """
        obs = {"one": 1, "two": 2, "four": 4, "big": 2**4094}

        assert 4096 == compile_predicate(ok)(obs).bit_length()
        err = breach(bad, obs)
        assert ("int_bits", 4096, "limit_exceeded:int_bits") == (err.what, err.limit, str(err))

    @pytest.mark.parametrize("source", ["9**9**9", "2**(2**64)", "1 << 10**10", "(10**10000)"])
    def test_huge(self, source: str) -> None:
        """
        Huge powers and shifts are refused before they are computed.
        """
        assert "int_bits" == breach(source, {}).what

    @pytest.mark.parametrize("source", ["2 ** -5000", "1.5 ** 3", "True ** 5000", "0 ** 9999"])
    def test_not_guarded(self, source: str) -> None:
        """
        Negative exponents, floats and tiny bases are not limited.
        """
        assert native(source, {}) == compile_predicate(source)({})


class TestSequenceLength:
    """
    The sequence_length guard on repetition.
    """

    @pytest.mark.parametrize("template", ["obs['s'] * {n}", "{n} * obs['s']", "[0] * {n}"])
    def test_boundary(self, template: str) -> None:
        """
        Exactly 100000 elements are allowed; 100001 breach.
        """
        obs = {"s": "x"}

        assert 100_000 == len(compile_predicate(template.format(n=100_000))(obs))
        err = breach(template.format(n=100_001), obs)
        assert ("sequence_length", 100_000) == (err.what, err.limit)

    def test_bool_counts_as_int(self) -> None:
        """
        A bool repeat count is an int.
        """
        assert "ab" == compile_predicate("'ab' * True")({})


class TestFormatWidth:
    """
    The format_width guard on f-string specs and % formatting.
    """

    @pytest.mark.parametrize(
        ("ok", "bad"),
        [
            ("f'{1:>1000}'", "f'{1:>1001}'"),
            ("f'{1:>{obs[\"w\"]}}'", "f'{1:>{obs[\"w\"] + 1}}'"),
            ("f'{1.5:.1000f}'", "f'{1.5:.1001f}'"),
            ("'%1000d' % 1", "'%1001d' % 1"),
            ("'%.1000f' % 1.5", "'%.1001f' % 1.5"),
        ],
    )
    def test_boundary(self, ok: str, bad: str) -> None:
        """
        A width or precision of 1000 passes; 1001 breaches.
        """
        obs = {"w": 1000}

        assert native(ok, obs) == compile_predicate(ok)(obs)
        err = breach(bad, obs)
        assert ("format_width", 1000) == (err.what, err.limit)

    @pytest.mark.parametrize("source", ["'%*d' % (5, 1)", "'%.*f' % (2, 1.5)"])
    def test_star(self, source: str) -> None:
        """
        A * width or precision in % formatting breaches.
        """
        assert "format_width" == breach(source, {}).what


class TestWork:
    """
    The per-evaluation work meter.
    """

    def test_nested_loops_breach(self) -> None:
        """
        A quadratic loop over large data exceeds the default budget.
        """
        obs = {"xs": list(range(100_000))}

        err = breach("sum(1 for a in obs['xs'] for b in obs['xs'])", obs)

        assert ("work", 1_000_000, "limit_exceeded:work") == (err.what, err.limit, str(err))

    @pytest.mark.parametrize(
        "source",
        [
            "[v for v in obs['xs']]",
            "5 in obs['xs']",
            "str(obs['xs'])",
            "obs['xs'][1:]",
            "obs['xs'] + obs['xs']",
            "sorted(obs['xs'])",
            "sum(obs['xs'])",
            "f'{obs[\"xs\"]}'",
            "obs['t'].upper()",
            "int(obs['t'])",
        ],
    )
    def test_boundary(self, source: str) -> None:
        """
        A budget of the touched size passes; one unit less breaches.
        """
        obs = {"xs": list(range(50)), "t": "1" * 50}
        work = 200
        compile_predicate(source, limits=PredicateLimits(max_work=work))(obs)

        err = breach(source, obs, PredicateLimits(max_work=40))

        assert ("work", 40) == (err.what, err.limit)

    @pytest.mark.parametrize(
        "source",
        [
            "str(obs['n'])",
            "'%d' % obs['n']",
            "'%s' % (obs['n'],)",
            "f'{obs[\"n\"]}'",
            "str(obs['ns'])",
            "str(obs['mixed'])",
        ],
    )
    def test_ints_charge_per_byte(self, source: str) -> None:
        """
        Rendering an int costs a unit per byte of it, alone or inside a container.

        Rendering time grows with the square of the digits: 39,000 ints of 4,299
        digits took 1.7 s through ``%d`` when an int was charged as one unit.
        """
        big = int("9" * 4299)  # 14,281 bits: 1,785 bytes
        obs = {"n": big, "ns": [big] * 8, "mixed": [big, "x", 1.5] * 3}

        err = breach(source, obs, PredicateLimits(max_work=1_700))

        assert ("work", 1_700) == (err.what, err.limit)

    def test_meter_is_per_evaluation(self) -> None:
        """
        Repeated evaluations each get a fresh budget.
        """
        predicate = compile_predicate("len([v for v in obs])", limits=PredicateLimits(max_work=10))

        assert [10, 10, 10] == [predicate(list(range(10))) for _ in range(3)]


class TestPredicateObject:
    """
    Attributes, repr, pickling and thread safety of Predicate.
    """

    def test_attributes(self) -> None:
        """
        A predicate exposes its source and limits and is a Predicate.
        """
        limits = PredicateLimits(max_work=7)
        predicate = compile_predicate("obs > 1", limits=limits)

        assert ("obs > 1", limits) == (predicate.source, predicate.limits)
        assert isinstance(predicate, Predicate)
        assert "obs > 1" in repr(predicate)

    def test_pickle_round_trip(self) -> None:
        """
        A pickled predicate is recompiled and gives the same results.
        """
        limits = PredicateLimits(max_work=50)
        predicate = compile_predicate("len([x for x in obs])", limits=limits)

        clone = pickle.loads(pickle.dumps(predicate))

        assert (3, "len([x for x in obs])", limits) == (
            clone([1, 2, 3]),
            clone.source,
            clone.limits,
        )
        with pytest.raises(PredicateLimitExceeded):
            clone(list(range(51)))

    def test_instance_call_and_equality(self) -> None:
        """
        A Predicate instance is callable and compares by source and limits.
        """
        first, second = Predicate("obs + 1"), Predicate("obs + 1")

        assert (2, True) == (first(1), first == second)
        assert pickle.loads(pickle.dumps(first)) == first

    def test_threads(self) -> None:
        """
        One predicate evaluated from several threads gives each its own result.
        """
        predicate = compile_predicate("sum(x for x in obs) + len(str(obs))")
        errors: list[BaseException] = []

        def work(n: int) -> None:
            data = list(range(n))
            for _ in range(200):
                if predicate(data) != sum(data) + len(str(data)):
                    errors.append(AssertionError(n))

        threads = [threading.Thread(target=work, args=(n * 50,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert [] == errors

    def test_exports(self) -> None:
        """
        The package exports exactly the public names of SPEC §2.7, sorted.
        """
        assert [
            "ALLOWED_CALLABLES",
            "ALLOWED_METHODS",
            "Predicate",
            "PredicateLimitExceeded",
            "PredicateLimits",
            "PredicateRejected",
            "compile_predicate",
            "parse_predicate",
        ] == missionkit.predicate.__all__
