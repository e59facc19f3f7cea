"""Constrained optimisation: nas searchers vs Optuna samplers with ``constraints_func``.

Written to the ``constraints`` section of ``docs/benchmarks.md``. Both libraries run in this
process on the same problems, the same budget and the same seeds ``0 .. N-1``:

* **Single objective** -- Gardner et al. (2014)'s problem (:func:`nas.benchmarks.functions.
  gardner_objective`): minimise ``sin(x1) + x2`` on ``[0, 6]^2`` subject to
  ``sin(x1) sin(x2) <= -0.95`` (a small feasible region, about 4% of the box). Quality = best
  feasible value (lower is better; a run without a feasible trial is reported as such).
  nas ``bayesian`` vs Optuna ``GPSampler``, nas ``regularized_evolution`` (population 10) and
  nas ``optuna`` (TPE through the adapter) vs Optuna ``TPESampler``, and nas ``random`` as the
  floor.
* **Multi-objective** -- BNH (:func:`nas.benchmarks.functions.bnh_objective`, two
  constraints). Quality = hypervolume of the feasible trials, reference ``(140, 55)``. nas
  ``bayesian`` vs Optuna ``GPSampler``, nas ``nsga2`` (population 10) vs Optuna
  ``NSGAIISampler(population_size=10)``, Optuna ``TPESampler``, and nas ``random``.

Also reported: the fraction of feasible trials. Paired statistics (per seed, nas minus its
Optuna counterpart: mean ± standard error, wins, Wilcoxon p) for each pair.

Usage::

    python benchmarks/constraints.py              # full run, rewrites docs/benchmarks.md
    python benchmarks/constraints.py --quick      # smoke test, docs untouched
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_common_arguments, markdown_table, mean_sd, update_section

import nas
from nas.benchmarks.functions import (
    BNH_CONSTRAINTS,
    GARDNER_CONSTRAINTS,
    bnh_objective,
    gardner_objective,
)
from nas.pareto import hypervolume

SECTION = "constraints"
TITLE = "Constraints: nas searchers vs Optuna constraints_func"
BNH_REF = (140.0, 55.0)
GARDNER_WORST = 7.0  # sin(x1) + x2 <= 1 + 6 on the box


@dataclass(frozen=True)
class Problem:
    name: str
    space: dict[str, Any]
    objectives: dict[str, str]
    constraints: dict[str, dict[str, float]]
    objective: Callable[[Any], dict[str, float]]
    n_trials: int


def _signed(
    constraints: Mapping[str, Mapping[str, float]], result: Mapping[str, float]
) -> list[float]:
    """Optuna's constraints_func values (<= 0 feasible) of a bound mapping."""
    out = []
    for metric, bound in constraints.items():
        v = result[metric]
        sides = []
        if "max" in bound:
            sides.append(v - bound["max"])
        if "min" in bound:
            sides.append(bound["min"] - v)
        out.append(max(sides))
    return out


GARDNER = Problem(
    "gardner",
    {"params": {n: {"type": "float", "low": 0.0, "high": 6.0} for n in ("x1", "x2")}},
    {"value": "minimize"},
    GARDNER_CONSTRAINTS,
    gardner_objective,
    40,
)
BNH = Problem(
    "bnh",
    {
        "params": {
            "x": {"type": "float", "low": 0.0, "high": 5.0},
            "y": {"type": "float", "low": 0.0, "high": 3.0},
        }
    },
    {"f1": "minimize", "f2": "minimize"},
    BNH_CONSTRAINTS,
    bnh_objective,
    50,
)

#: (label, library, searcher or sampler, options) per problem.
LINES: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = {
    "gardner": [
        ("nas bayesian", "nas", "bayesian", {}),
        ("Optuna GPSampler", "optuna", "GPSampler", {}),
        ("nas regularized_evolution", "nas", "regularized_evolution", {"population_size": 10}),
        ("nas optuna (TPE adapter)", "nas", "optuna", {"sampler": "TPESampler"}),
        ("Optuna TPESampler", "optuna", "TPESampler", {}),
        ("nas random (floor)", "nas", "random", {}),
    ],
    "bnh": [
        ("nas bayesian", "nas", "bayesian", {"ref_point": list(BNH_REF)}),
        ("Optuna GPSampler", "optuna", "GPSampler", {}),
        ("nas nsga2", "nas", "nsga2", {"population_size": 10}),
        ("Optuna NSGAIISampler", "optuna", "NSGAIISampler", {"population_size": 10}),
        ("Optuna TPESampler", "optuna", "TPESampler", {}),
        ("nas random (floor)", "nas", "random", {}),
    ],
}
PAIRS = {
    "gardner": [
        ("nas bayesian", "Optuna GPSampler"),
        ("nas regularized_evolution", "Optuna TPESampler"),
        ("nas optuna (TPE adapter)", "Optuna TPESampler"),
    ],
    "bnh": [("nas bayesian", "Optuna GPSampler"), ("nas nsga2", "Optuna NSGAIISampler")],
}


def _score(problem: Problem, rows: list[tuple[dict[str, float], bool]]) -> float:
    """Best feasible value (single objective) or feasible hypervolume (BNH)."""
    feasible = [v for v, ok in rows if ok]
    if problem.name == "gardner":
        return min((v["value"] for v in feasible), default=math.inf)
    if not feasible:
        return 0.0
    pts = np.array([[v["f1"], v["f2"]] for v in feasible])
    return float(hypervolume(pts, np.array(BNH_REF)))


def run_nas(
    problem: Problem, name: str, options: dict[str, Any], seed: int, db: Path
) -> list[tuple[dict[str, float], bool]]:
    study = nas.create_study(
        f"{problem.name}-{name}-{seed}",
        problem.space,
        problem.objectives,
        searcher=name,
        searcher_options=options,
        storage=f"sqlite:///{db}",
        seed=seed,
        constraints=problem.constraints,
    )
    study.optimize(problem.objective, n_trials=problem.n_trials)
    return [
        ({**t.values, **t.metrics}, bool(t.feasible))
        for t in study.trials
        if t.state == nas.TrialState.COMPLETE
    ]


def run_optuna(
    problem: Problem, sampler: str, options: dict[str, Any], seed: int
) -> list[tuple[dict[str, float], bool]]:
    import optuna

    def constraints_func(trial: optuna.trial.FrozenTrial) -> list[float]:
        return list(trial.user_attrs["constraints"])

    cls = getattr(optuna.samplers, sampler)
    study = optuna.create_study(
        directions=list(problem.objectives.values()),
        sampler=cls(seed=seed, constraints_func=constraints_func, **options),
    )
    out: list[tuple[dict[str, float], bool]] = []

    class _Trial:  # the nas benchmark functions read trial.params
        def __init__(self, params: dict[str, float]) -> None:
            self.params = params
            self.budget = None

    def objective(trial: optuna.Trial) -> Sequence[float]:
        params = {
            n: trial.suggest_float(n, p["low"], p["high"])
            for n, p in problem.space["params"].items()
        }
        result = problem.objective(_Trial(params))
        c = _signed(problem.constraints, result)
        trial.set_user_attr("constraints", c)
        out.append((result, all(v <= 0 for v in c)))
        return [result[o] for o in problem.objectives]

    study.optimize(objective, n_trials=problem.n_trials)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore")
    problems = [GARDNER, BNH]
    if args.quick:
        problems = [
            Problem(p.name, p.space, p.objectives, p.constraints, p.objective, 12)
            for p in problems
        ]
        args.seeds = min(args.seeds, 2)
    workdir = Path(tempfile.mkdtemp(prefix="nas-bench-constraints-", dir=args.workdir))
    results = _RESULTS
    t0 = time.perf_counter()
    for problem in problems:
        for seed in range(args.seeds):
            for label, lib, name, options in LINES[problem.name]:
                start = time.perf_counter()
                if lib == "nas":
                    rows = run_nas(
                        problem, name, options, seed, workdir / f"{problem.name}-{seed}.db"
                    )
                else:
                    rows = run_optuna(problem, name, options, seed)
                wall = time.perf_counter() - start
                frac = sum(ok for _, ok in rows) / max(len(rows), 1)
                results.setdefault((problem.name, label), []).append(
                    (_score(problem, rows), frac, wall)
                )
                score = _score(problem, rows)
                print(
                    f"{problem.name} {seed} {label}: {score:.4g} {frac:.2f} {wall:.1f}s",
                    flush=True,
                )
    body = report(problems, args.seeds, time.perf_counter() - t0, args.quick)
    print("\n" + body)
    if args.docs if args.docs is not None else not args.quick:
        update_section(SECTION, TITLE, body)
    return 0


_RESULTS: dict[tuple[str, str], list[tuple[float, float, float]]] = {}


def report(problems: Sequence[Problem], seeds: int, elapsed: float, quick: bool) -> str:
    from nas.supernet._ranking import paired

    results = _RESULTS
    parts = [
        f"{seeds} seeds (0 .. {seeds - 1}); Gardner @ {problems[0].n_trials} trials, BNH @ "
        f"{problems[1].n_trials} trials; whole run {elapsed / 60:.1f} min (wall times include "
        "whatever else ran on the machine)."
        + (" **Smoke-test sizes (--quick): not a measurement.**" if quick else "")
    ]
    for problem in problems:
        quality = (
            "best feasible value (lower is better)"
            if problem.name == "gardner"
            else f"feasible hypervolume, ref {BNH_REF} (higher is better)"
        )
        rows = []
        for label, *_ in LINES[problem.name]:
            r = results[(problem.name, label)]
            scores = [s for s, _, _ in r]
            n_none = sum(not math.isfinite(s) for s in scores)
            finite = [s for s in scores if math.isfinite(s)]
            rows.append(
                [
                    label,
                    mean_sd(finite) if finite else "-",
                    f"{n_none}/{len(scores)}",
                    mean_sd([f for _, f, _ in r], 2),
                    f"{np.median([w for _, _, w in r]):.1f}",
                ]
            )
        parts.append(
            f"**{problem.name}** -- {quality}, mean ± sd over the seeds' runs that found a "
            "feasible trial (see the next column):"
        )
        parts.append(
            markdown_table(
                [
                    "line",
                    "quality",
                    "runs without a feasible trial",
                    "feasible fraction",
                    "median s/run",
                ],
                rows,
            )
        )
        prow = []
        sign = 1.0 if problem.name == "gardner" else -1.0  # positive = nas better
        for a, b in PAIRS[problem.name]:
            sa = [s for s, _, _ in results[(problem.name, a)]]
            sb = [s for s, _, _ in results[(problem.name, b)]]
            sa = [x if math.isfinite(x) else GARDNER_WORST for x in sa]
            sb = [x if math.isfinite(x) else GARDNER_WORST for x in sb]
            p = paired([sign * (y - x) for x, y in zip(sa, sb, strict=True)], 0.0)
            prow.append(
                [
                    f"{a} vs {b}",
                    f"{p.mean:+.4g} ± {p.se:.2g}",
                    f"{p.wins}/{p.n}",
                    f"{p.p_value:.3g}",
                ]
            )
        parts.append(
            "Paired, per seed (positive = nas better; a Gardner run without a feasible trial "
            f"counts as value {GARDNER_WORST}, the largest value of the box):\n\n"
            + markdown_table(["pair", "mean diff ± se", "nas wins", "Wilcoxon p"], prow)
        )
    return "\n\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
