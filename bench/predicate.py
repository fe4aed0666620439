"""
Predicate evaluation benchmark (SPEC §5.9).

Times each benchmark predicate compiled by missionkit against the same
expression written as a plain ``lambda``, interleaved in one process, and
against ``simpleeval`` and ``asteval`` when they are installed.

Run with ``python bench/predicate.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from missionkit.predicate import compile_predicate

CALLS = 1000
REPEATS = 7
ROUNDS = 5

EXPRESSIONS = [
    "obs['metrics']['val_loss'] < 0.1",
    "len(obs['tool_results']) >= 5",
    "any(r.get('score', 0) > 0.9 for r in obs['tool_results'])",
    "all(k in obs['metrics'] for k in ['a', 'b'])",
    "sum(r['score'] for r in obs['tool_results']) / max(1, len(obs['tool_results'])) > 0.5",
]

LAMBDAS: list[Callable[[Any], Any]] = [
    lambda obs: obs["metrics"]["val_loss"] < 0.1,
    lambda obs: len(obs["tool_results"]) >= 5,
    lambda obs: any(r.get("score", 0) > 0.9 for r in obs["tool_results"]),
    lambda obs: all(k in obs["metrics"] for k in ["a", "b"]),
    lambda obs: (
        sum(r["score"] for r in obs["tool_results"]) / max(1, len(obs["tool_results"])) > 0.5
    ),
]


def make_obs() -> dict[str, Any]:
    """
    Build the benchmark observation of SPEC §5.9.
    """
    return {
        "tool_results": [{"_status": "ok", "tool_name": "t", "score": k / 50} for k in range(50)],
        "metrics": {"val_loss": 0.2, "a": 1, "b": 2},
    }


def per_call(fn: Callable[[Any], Any], obs: Any) -> float:
    """
    Return the mean time of one call of *fn* over a batch of CALLS calls.
    """
    start = time.perf_counter()
    for _ in range(CALLS):
        fn(obs)
    return (time.perf_counter() - start) / CALLS


def optional_contenders(expr: str) -> dict[str, Callable[[Any], Any]]:
    """
    Build evaluators for *expr* with the optional third-party libraries.
    """
    found: dict[str, Callable[[Any], Any]] = {}
    try:
        import simpleeval
    except ImportError:
        pass
    else:
        parsed = simpleeval.EvalWithCompoundTypes(
            functions={"len": len, "any": any, "all": all, "sum": sum, "max": max}
        )
        tree = parsed.parse(expr)

        def run_simpleeval(obs: Any, parsed: Any = parsed, tree: Any = tree) -> Any:
            parsed.names = {"obs": obs}
            return parsed.eval(expr, previously_parsed=tree)

        found["simpleeval"] = run_simpleeval
    try:
        import asteval
    except ImportError:
        pass
    else:
        interpreter = asteval.Interpreter(minimal=True)
        node = interpreter.parse(expr)

        def run_asteval(obs: Any, interpreter: Any = interpreter, node: Any = node) -> Any:
            interpreter.symtable["obs"] = obs
            return interpreter.run(node)

        found["asteval"] = run_asteval
    return found


def main() -> None:
    """
    Measure every benchmark predicate and print medians and ratios.
    """
    obs = make_obs()
    print(f"{CALLS} calls x {REPEATS} repeats x {ROUNDS} rounds, medians per call")
    for number, (expr, hand) in enumerate(zip(EXPRESSIONS, LAMBDAS, strict=True), start=1):
        predicate = compile_predicate(expr)
        contenders: dict[str, Callable[[Any], Any]] = {"lambda": hand, "predicate": predicate}
        contenders.update(optional_contenders(expr))
        expected = hand(obs)
        if predicate(obs) != expected:
            raise SystemExit(f"predicate disagrees on {expr!r}")
        skipped: list[str] = []
        for name, fn in list(contenders.items()):
            try:
                agrees = fn(obs) == expected
            except Exception:
                agrees = False
            if not agrees:
                skipped.append(name)
                del contenders[name]
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(ROUNDS):
            for _ in range(REPEATS):
                for name, fn in contenders.items():
                    samples[name].append(per_call(fn, obs))
        medians = {name: statistics.median(values) for name, values in samples.items()}
        base = medians["lambda"]
        print(f"\n{number}. {expr}")
        for name, value in medians.items():
            print(f"   {name:<11} {value * 1e9:9.1f} ns   ratio {value / base:6.2f}")
        for name in skipped:
            print(f"   {name:<11} cannot evaluate this expression")


if __name__ == "__main__":
    main()
