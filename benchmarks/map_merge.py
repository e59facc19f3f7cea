"""MAP on the model-merging study: IGD and hypervolume ratio against a dense-grid ground truth.

The study is ``studies/merge_digits_map.yaml`` (two digit tasks, coefficients ``c0, c1`` in
``[0, 1.5]``, both accuracies maximized; see :mod:`nas.benchmarks.merging`); the same setup
with three tasks is run as a second problem. For every seed, ``map`` (the study file's
options), ``random`` and ``evolution`` (NSGA-II, ``population_size=10``) each run one real study
on SQLite up to the largest budget; the order of the searchers rotates from seed to seed. The
studies are sequential (one worker), so the first ``B`` trials of a run are exactly the study a
budget of ``B`` would have produced, and every budget is scored on that prefix.

Ground truth: the per-task accuracies of every point of the regular grid with 21 points per axis
(441 merges for two tasks, 9261 for three), evaluated in one batch; its non-dominated set is
the reference front. Metrics, on objectives normalised so that the reference front spans
``[0, 1]`` per objective (ideal -> 0, nadir -> 1, minimization):

* **IGD**: mean over the reference front's points of the Euclidean distance to the nearest
  point of the front being scored (lower is better).
* **HV ratio**: hypervolume of the scored front over that of the reference front, both for the
  reference point ``1.1`` in every normalised objective (higher is better; can exceed 1, since a
  searcher may find merges between grid points).

For ``map``, the *predicted* front (the surrogates' amortised front, as predicted, for the
same history) is scored with IGD as well, and the surrogates' training R² is listed.

Usage::

    python benchmarks/map_merge.py            # 20 seeds, rewrites the `map` section of docs
    python benchmarks/map_merge.py --quick    # 2 seeds, small budgets, docs untouched
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    REPO_ROOT,
    add_common_arguments,
    console,
    markdown_table,
    progress_bar,
    update_section,
)

SECTION = "map"
STUDY_FILE = REPO_ROOT / "studies" / "merge_digits_map.yaml"
GRID_POINTS = 21
REFERENCE = 1.1
EVOLUTION_POPULATION = 10
BUDGETS = {2: (20, 40, 110), 3: (40, 60, 110)}
QUICK_BUDGETS = {2: (20, 30), 3: (30,)}


@dataclass
class Problem:
    """One merge problem: its space, objectives, ground-truth front and normalisation."""

    n_tasks: int
    space: Any  # nas.SearchSpace
    objectives: dict[str, str]
    grid_size: int
    front: np.ndarray  # (K, T) accuracies of the grid's non-dominated merges
    ideal: np.ndarray  # (T,)
    nadir: np.ndarray  # (T,)
    grid_seconds: float

    def normalise(self, acc: np.ndarray) -> np.ndarray:
        """Accuracies -> minimization coordinates, the reference front spanning [0, 1]."""
        return (self.ideal - acc) / (self.ideal - self.nadir)

    def igd(self, acc: np.ndarray) -> float:
        """IGD of the points ``acc`` (any set; dominated points never matter) w.r.t. the front."""
        ref = self.normalise(self.front)
        pts = self.normalise(np.asarray(acc, dtype=float))
        dist = np.linalg.norm(ref[:, None, :] - pts[None, :, :], axis=2)
        return float(dist.min(axis=1).mean())

    def hv_ratio(self, acc: np.ndarray) -> float:
        """Hypervolume of ``acc`` over the reference front's, reference point 1.1 (normalised)."""
        from nas.pareto import hypervolume

        ref = np.full(self.n_tasks, REFERENCE)
        whole = hypervolume(self.normalise(self.front), ref)
        return hypervolume(self.normalise(np.asarray(acc, dtype=float)), ref) / whole


@dataclass
class Run:
    """One study run of one searcher and seed."""

    searcher: str
    seed: int
    values: np.ndarray  # (n, T) accuracies in trial-number order
    origins: list[str]
    seconds: float
    trials: list[Any] = field(repr=False)


def make_problem(n_tasks: int, space: Any) -> Problem:
    """Build the ground truth of the ``n_tasks``-task merge on the regular grid."""
    from nas.benchmarks.merging import coefficient_grid, merge_accuracies, merge_setup
    from nas.pareto import pareto_mask

    merge_setup(n_tasks)  # train first so that the grid timing is evaluation only
    grid = coefficient_grid(GRID_POINTS, n_tasks)
    start = time.perf_counter()
    acc = merge_accuracies(grid, n_tasks=n_tasks)
    seconds = time.perf_counter() - start
    front = np.unique(acc[pareto_mask(-acc)], axis=0)
    objectives = {f"acc_task{t}": "maximize" for t in range(n_tasks)}
    return Problem(
        n_tasks, space, objectives, len(grid), front, front.max(0), front.min(0), seconds
    )


def run_study(
    problem: Problem, searcher: str, options: dict[str, Any], seed: int, n: int, db: Path
) -> Run:
    """Run ``n`` trials of the merge study with ``searcher`` on the SQLite file ``db``.

    Raises:
        RuntimeError: the study does not end with ``n`` COMPLETE trials.
    """
    import nas
    from nas.benchmarks.merging import merge_objective

    study = nas.create_study(
        f"merge{problem.n_tasks}-{searcher}-{seed}",
        space=problem.space,
        objectives=problem.objectives,
        searcher=searcher,
        searcher_options=options,
        storage=f"sqlite:///{db}",
        seed=seed,
    )
    start = time.perf_counter()
    study.optimize(merge_objective, n_trials=n)
    seconds = time.perf_counter() - start
    trials = sorted(study.get_trials((nas.TrialState.COMPLETE,)), key=lambda t: t.number)
    study.storage.dispose()
    if len(trials) != n:
        raise RuntimeError(f"{searcher} seed {seed}: {len(trials)} COMPLETE trials, expected {n}")
    names = list(problem.objectives)
    values = np.array([[t.values[k] for k in names] for t in trials])
    origins = [str(t.system_attrs.get("origin", "")) for t in trials]
    return Run(searcher, seed, values, origins, seconds, trials)


def _median_iqr(values: Sequence[float], digits: int = 3) -> str:
    q1, med, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return f"{med:.{digits}f} [{q1:.{digits}f}, {q3:.{digits}f}]"


def score(
    problem: Problem,
    runs: list[Run],
    budgets: Sequence[int],
    map_options: dict[str, Any],
) -> list[dict[str, Any]]:
    """One row per (budget, searcher): medians and IQRs over the seeds."""
    from nas.searchers import create_searcher

    rows: list[dict[str, Any]] = []
    for budget in budgets:
        for name in dict.fromkeys(r.searcher for r in runs):
            mine = [r for r in runs if r.searcher == name]
            igd = [problem.igd(r.values[:budget]) for r in mine]
            hv = [problem.hv_ratio(r.values[:budget]) for r in mine]
            row: dict[str, Any] = {
                "budget": budget,
                "searcher": name,
                "igd": igd,
                "hv": hv,
                "seconds": [r.seconds * budget / len(r.values) for r in mine],
            }
            if name == "map":
                pred_igd, r2, design = [], [], []
                for r in mine:
                    impl = create_searcher(
                        "map",
                        problem.space,
                        [_objective(k, v) for k, v in problem.objectives.items()],
                        r.seed,
                        map_options,
                    )
                    front = impl.predicted_front(r.trials[:budget])  # type: ignore[attr-defined]
                    if front is not None:
                        pred_igd.append(problem.igd(front.values))
                        r2.append(float(np.mean([s.r2 for s in front.surrogates])))
                    design.append(sum(o in ("design", "extension") for o in r.origins[:budget]))
                row.update(pred_igd=pred_igd, r2=r2, design=design)
            rows.append(row)
    return rows


def _objective(name: str, direction: str) -> Any:
    from nas._types import Objective

    return Objective(name, direction)  # type: ignore[arg-type]


def table(problem: Problem, rows: list[dict[str, Any]]) -> str:
    headers = [
        "Evaluations (% of grid)",
        "Searcher",
        "IGD median [IQR]",
        "HV ratio median [IQR]",
        "Predicted-front IGD",
        "Surrogate R²",
        "Study wall time (s)",
    ]
    body = []
    for row in rows:
        share = 100.0 * row["budget"] / problem.grid_size
        label = row["searcher"]
        if label == "map":
            label = f"map ({int(np.median(row['design']))} design + front)"
        elif label == "evolution":
            label = f"evolution (NSGA-II, pop {EVOLUTION_POPULATION})"
        body.append(
            [
                f"{row['budget']} ({share:.1f}%)",
                label,
                _median_iqr(row["igd"], 4),
                _median_iqr(row["hv"], 3),
                _median_iqr(row["pred_igd"], 4) if row.get("pred_igd") else "-",
                f"{np.median(row['r2']):.3f}" if row.get("r2") else "-",
                f"{np.median(row['seconds']):.1f}",
            ]
        )
    return markdown_table(headers, body)


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """One line per budget: does map's median beat the others'?"""
    out = []
    for budget in dict.fromkeys(r["budget"] for r in rows):
        at = {r["searcher"]: r for r in rows if r["budget"] == budget}
        if "map" not in at:
            continue
        m_igd, m_hv = np.median(at["map"]["igd"]), np.median(at["map"]["hv"])
        parts = []
        for other, r in at.items():
            if other == "map":
                continue
            o_igd, o_hv = np.median(r["igd"]), np.median(r["hv"])
            igd_word = "better" if m_igd < o_igd else "worse" if m_igd > o_igd else "equal"
            hv_word = "better" if m_hv > o_hv else "worse" if m_hv < o_hv else "equal"
            parts.append(
                f"vs `{other}` IGD {igd_word} ({m_igd:.4f} vs {o_igd:.4f}), "
                f"HV ratio {hv_word} ({m_hv:.3f} vs {o_hv:.3f})"
            )
        out.append(f"- {budget} evaluations: map " + "; ".join(parts) + ".")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0 .. N-1 (>= 5 for docs)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = 2
    if args.docs is None:
        args.docs = not args.quick
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.docs and args.seeds < 5:
        parser.error(f"docs need >= 5 seeds (median and IQR), got --seeds {args.seeds}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import nas
    from nas.benchmarks.merging import merge_setup, merge_space
    from nas.study import load_study_config

    config = load_study_config(STUDY_FILE)
    if config.searcher != "map":
        raise SystemExit(f"{STUDY_FILE}: expected searcher 'map', got {config.searcher!r}")
    map_options = dict(config.searcher_options)
    all_budgets = QUICK_BUDGETS if args.quick else BUDGETS
    t0 = time.perf_counter()
    setup_start = time.perf_counter()
    setups = {t: merge_setup(t) for t in (2, 3)}
    setup_seconds = time.perf_counter() - setup_start
    problems = {
        2: make_problem(2, config.space),
        3: make_problem(3, nas.SearchSpace.from_dict(merge_space(3))),
    }
    searchers: list[tuple[str, dict[str, Any]]] = [
        ("map", map_options),
        ("random", {}),
        ("evolution", {"population_size": EVOLUTION_POPULATION}),
    ]
    workdir = Path(tempfile.mkdtemp(prefix="nas-bench-map-", dir=args.workdir))
    sections: list[str] = []
    try:
        for n_tasks, problem in problems.items():
            budgets = all_budgets[n_tasks]
            n = max(budgets)
            runs: list[Run] = []
            with progress_bar() as bar:
                task = bar.add_task(f"{n_tasks} tasks", total=args.seeds * len(searchers))
                for seed in range(args.seeds):
                    k = seed % len(searchers)
                    for name, options in searchers[k:] + searchers[:k]:
                        db = workdir / f"merge{n_tasks}-{name}-{seed}.db"
                        runs.append(run_study(problem, name, options, seed, n, db))
                        bar.advance(task)
            order = {name: i for i, (name, _) in enumerate(searchers)}
            runs.sort(key=lambda r: (order[r.searcher], r.seed))
            rows = score(problem, runs, budgets, map_options)
            setup = setups[n_tasks]
            text = table(problem, rows)
            print(f"\n{n_tasks} tasks\n{text}\n", flush=True)
            sections.append(
                f"### {n_tasks} tasks: classes "
                + " / ".join("-".join(map(str, (c[0], c[-1]))) for c in setup.task_classes)
                + "\n\n"
                f"Grid {GRID_POINTS}^{n_tasks} = {problem.grid_size} merges (batch-evaluated in "
                f"{problem.grid_seconds:.2f} s), reference front of {len(problem.front)} "
                f"points, ideal {np.round(problem.ideal, 3).tolist()}, nadir "
                f"{np.round(problem.nadir, 3).tolist()}. Base model accuracies "
                f"{np.round(setup.base_accuracy, 3).tolist()}; fine-tuned model t on each task: "
                f"{np.round(setup.finetuned_accuracy, 3).tolist()}.\n\n"
                + text
                + "\n\n"
                + "\n".join(verdicts(rows))
            )
    finally:
        if args.keep:
            console.log(f"DB files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - t0
    body = f"""
`map` with the options of `studies/merge_digits_map.yaml` ({map_options}) against `random` and
`evolution` at the same number of evaluations, seeds {", ".join(map(str, range(args.seeds)))};
median [25th, 75th percentile] over the seeds. Each searcher runs one real study (SQLite, one
worker) per seed to the largest budget, and each budget is scored on the first trials of that
run (what a study of that size produces: searchers depend only on the history). Training of
the models at study start: {setup_seconds:.1f} s for both task counts (imports and data
loading included). Total run time {total:.0f} s.

Metrics on objectives normalised by the reference front (ideal -> 0, nadir -> 1 per accuracy):
IGD of all evaluated merges to the grid's non-dominated set (lower is better) and hypervolume
ratio to it, reference point 1.1 per normalised objective (higher is better; above 1 means
merges better than any grid point were found). "Predicted-front IGD" scores the surrogates'
amortised front *as predicted* (no evaluation), "Surrogate R²" is the training R² averaged over
the objectives, both for the history of that budget. Wall time is the study's (training
excluded, searcher and SQLite included), pro-rated to the budget.

""" + "\n\n".join(sections)
    if args.docs:
        update_section(SECTION, "MAP on model merging (digits): IGD and hypervolume ratio", body)
        console.log(f"wrote section {SECTION!r} of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
