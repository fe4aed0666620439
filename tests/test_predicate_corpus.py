"""
The hostile-input corpus for the predicate language, each entry in its own process.

Every entry runs in a child process with an address-space limit and a timeout,
so a regression fails the test instead of hanging or exhausting CI. The child
reports the outcome, the CPU time of compiling plus one evaluation, and the
peak of extra memory; the budgets are those of the corpus README.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).parents[2] / "shared" / "attack-corpus" / "predicate.json"
# Hostile inputs of the same kinds found while hardening the evaluator.
EXTRA_CORPUS = Path(__file__).parent / "predicate_extra_corpus.json"
CPU_BUDGET = 0.100
MEMORY_BUDGET = 100 * 1024 * 1024
TIMEOUT = 20.0

CHILD = r"""
import builtins, json, resource, sys, time, tracemalloc

def make_obs():
    def nest(n):
        root = cur = []
        for _ in range(n):
            nxt = []; cur.append(nxt); cur = nxt
        return root
    return {
        'tool_results': [
            {'name': 'search', 'score': 0.95, 'text': 'alpha'},
            {'name': 'fetch',  'score': 0.91, 'text': 'beta'},
            {'name': 'calc',   'score': 0.97, 'text': 'gamma'},
            {'name': 'noop',   'score': 0.2,  'text': ''},
        ],
        'metrics': {'loss': 0.42, 'acc': 0.9, 'steps': 120},
        'errors': [], 'status': ' Done ', 'count': 7, 'tags': ['a', 'b'], 'none': None,
        'metrics_list': [0.1, 0.2], 'score_str': '0.93', 'nested': {'a': {'b': {'c': 1}}},
        'big_text': 'x' * 100_000, 'big_list': list(range(100_000)),
        'deep': nest(100_000), 'deep2': nest(100_000),
        '__class__': 'dunder-key',
    }

def plain(value):
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or type(item) in (bool, int, float, complex, str):
            continue
        if type(item) in (list, tuple):
            stack.extend(item)
        elif type(item) is dict:
            stack.extend(item.keys()); stack.extend(item.values())
        else:
            return False
    return True

def attempt(compile_predicate, expr, obs):
    from missionkit.predicate import PredicateRejected
    try:
        predicate = compile_predicate(expr)
    except PredicateRejected as exc:
        return {"outcome": "rejected", "reason": exc.reason}
    try:
        value = predicate(obs)
    except Exception as exc:
        return {"outcome": "error", "type": type(exc).__name__}
    return {"outcome": "value", "plain": plain(value), "value": value}

def main():
    expr = json.loads(sys.stdin.read())
    from missionkit.predicate import compile_predicate
    obs = make_obs()
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    vm = pages * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (vm + 512 * 1024 * 1024, resource.RLIM_INFINITY))
    start = time.process_time()
    result = attempt(compile_predicate, expr, obs)
    cpu = time.process_time() - start
    tracemalloc.start()
    attempt(compile_predicate, expr, obs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    report = {"cpu": cpu, "peak": peak, **{k: v for k, v in result.items() if k != "value"}}
    if result["outcome"] == "value":
        try:
            report["equal"] = result["value"] == eval(
                expr, {"__builtins__": builtins}, {"obs": obs}
            )
        except Exception as exc:
            report["equal"] = False
            report["native_error"] = type(exc).__name__
    print(json.dumps(report))

main()
"""


def load_corpus() -> list[dict[str, Any]]:
    """
    Read the shared corpus entries (when present) and the project's own supplement.
    """
    entries: list[dict[str, Any]] = []
    for path in (CORPUS, EXTRA_CORPUS):
        if path.is_file():
            entries += json.loads(path.read_text(encoding="utf-8"))
    return entries


ENTRIES = load_corpus()


def run_entry(expr: str) -> dict[str, Any]:
    """
    Run one corpus expression in a fresh, memory-limited child process.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            input=json.dumps(expr),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": "timeout"}
    if done.returncode != 0:
        return {"outcome": "crash", "stderr": done.stderr[-2000:]}
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.fixture(name="reports", scope="module")
def _reports() -> dict[str, dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(run_entry, [entry["expr"] for entry in ENTRIES])
        return {entry["expr"]: report for entry, report in zip(ENTRIES, results, strict=True)}


@pytest.mark.skipif(not ENTRIES, reason=f"attack corpus not found at {CORPUS}")
class TestAttackCorpus:
    """
    Every corpus entry behaves as the corpus README requires.
    """

    @pytest.mark.parametrize(
        "entry", ENTRIES, ids=[f"{i}-{e['category']}" for i, e in enumerate(ENTRIES)]
    )
    def test_entry(self, entry: dict[str, Any], reports: dict[str, dict[str, Any]]) -> None:
        """
        ok entries match native eval; all others are refused or raise, within budget.
        """
        report = reports[entry["expr"]]
        outcome = report["outcome"]

        assert outcome in {"rejected", "error", "value"}, report
        if entry["expected"] == "ok":
            if outcome == "rejected":
                assert "dunder_string" == report["reason"]
            else:
                assert ("value", True) == (outcome, report["equal"]), report
        else:
            assert outcome in {"rejected", "error"}, report
            assert report["cpu"] <= CPU_BUDGET, report
            assert report["peak"] <= MEMORY_BUDGET, report
