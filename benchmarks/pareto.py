"""Pareto utilities: nas.pareto vs Optuna's own, timed in the same run.

Written to the ``pareto`` section of ``docs/benchmarks.md``. The timings that used to be
assertions in the tests (a test asserts behaviour, a benchmark reports seconds):

* non-dominated sorting of ``n`` random points in 2 objectives (``nas.pareto.non_dominated_sort``
  vs Optuna's ``_fast_non_domination_rank``, the routine its NSGA-II sampler ranks with);
* the first front (``nas.pareto.pareto_mask`` vs Optuna's ``_is_pareto_front``);
* the exact hypervolume of one front of ``n`` points on the unit sphere in 3 objectives
  (``nas.pareto.hypervolume`` vs Optuna's ``compute_hypervolume``), and of a 4-objective front.

Every measurement is the median of ``--repeats`` runs after one warm-up; the two libraries get
the same arrays and their answers are checked equal (a benchmark that disagreed would be a bug).

Usage::

    python benchmarks/pareto.py             # full run, rewrites docs/benchmarks.md
    python benchmarks/pareto.py --quick     # smoke test, docs untouched
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_common_arguments, markdown_table, median, update_section

from nas.pareto import hypervolume, non_dominated_sort, pareto_mask

SECTION = "pareto"
TITLE = "Pareto utilities: sorting, fronts and hypervolume vs Optuna"


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of ``repeats`` calls after a warm-up, and the last result."""
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return median(times), out


def _sphere(n: int, m: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).random((n, m))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def run(sizes: list[int], hv_sizes: list[int], repeats: int) -> list[list[object]]:
    """The table rows: task, n, nas seconds, Optuna seconds, ratio (Optuna / nas)."""
    from optuna._hypervolume import compute_hypervolume
    from optuna.study._multi_objective import _fast_non_domination_rank, _is_pareto_front

    rows: list[list[object]] = []

    def row(task: str, n: int, ours: float, theirs: float) -> None:
        rows.append([task, n, f"{ours * 1e3:.2f}", f"{theirs * 1e3:.2f}", f"{theirs / ours:.1f}x"])

    for n in sizes:
        x = np.random.default_rng(n).random((n, 2))
        t_ours, ranks = _time(lambda x=x: non_dominated_sort(x), repeats)
        t_theirs, their_ranks = _time(lambda x=x: _fast_non_domination_rank(x), repeats)
        if not np.array_equal(ranks, their_ranks):
            raise AssertionError(f"non-dominated ranks differ from Optuna's at n={n}")
        row("non-dominated sort, 2 objectives", n, t_ours, t_theirs)

        def optuna_front(x: np.ndarray = x) -> np.ndarray:
            order = np.lexsort(x.T[::-1])
            uniq, inverse = np.unique(x[order], axis=0, return_inverse=True)
            on_front = _is_pareto_front(uniq, assume_unique_lexsorted=True)[inverse.reshape(-1)]
            mask = np.empty(len(x), dtype=bool)
            mask[order] = on_front
            return mask

        t_ours, mask = _time(lambda x=x: pareto_mask(x), repeats)
        t_theirs, their_mask = _time(optuna_front, repeats)
        if not np.array_equal(mask, their_mask):
            raise AssertionError(f"first front differs from Optuna's at n={n}")
        row("first front, 2 objectives", n, t_ours, t_theirs)
    for m in (3, 4):
        for n in hv_sizes if m == 3 else [max(hv_sizes) // 25]:
            x = _sphere(n, m, seed=5 + n)
            ref = np.ones(m)
            t_ours, hv = _time(lambda x=x, ref=ref: hypervolume(x, ref), repeats)
            t_theirs, their_hv = _time(
                lambda x=x, ref=ref: compute_hypervolume(x, ref, assume_pareto=True), repeats
            )
            if not np.isclose(hv, their_hv, rtol=1e-9, atol=0.0):
                raise AssertionError(f"hypervolume {hv} != Optuna's {their_hv} (n={n}, m={m})")
            row(f"hypervolume, one front, {m} objectives", n, t_ours, t_theirs)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per cell")
    args = parser.parse_args(argv)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    hv_sizes = [500] if args.quick else [500, 5_000, 20_000]
    repeats = 2 if args.quick else args.repeats
    started = time.perf_counter()
    rows = run(sizes, hv_sizes, repeats)
    table = markdown_table(["task", "points", "nas (ms)", "Optuna (ms)", "Optuna / nas"], rows)
    print(table)
    body = (
        f"Median of {repeats} runs after a warm-up, one process, the same arrays for both; "
        "every answer checked equal to Optuna's (ranks, fronts exactly; hypervolume to 1e-9). "
        "Random points in the unit square for the sorts; points on the unit sphere (all on "
        "one front, the hardest case) for the hypervolume.\n\n"
        f"{table}\n\nTotal run time {time.perf_counter() - started:.0f} s."
    )
    if args.docs if args.docs is not None else not args.quick:
        update_section(SECTION, TITLE, body)


if __name__ == "__main__":
    main()
