"""Searcher benchmark: per-trial overhead and result quality, ``nas`` vs Optuna in the same run.

Two pairs, ``--trials`` trials each, ``--seeds`` seeds, medians over seeds, written to the
``searchers`` section of ``docs/benchmarks.md``:

* **1 objective, Branin** (``x1 in [-5, 10]``, ``x2 in [0, 15]``): nas ``"random"`` vs Optuna
  ``RandomSampler``; quality = best value found (global minimum 0.397887).
* **2 objectives, ZDT1** (6 variables in ``[0, 1]``): nas ``"evolution"`` (NSGA-II for several
  objectives) vs Optuna ``NSGAIISampler``, both with ``population_size=50``; quality = exact
  hypervolume of all COMPLETE trials w.r.t. the reference point ``(1.1, 11.0)``, computed for
  both with :func:`nas.pareto.hypervolume` (the ideal front ``f2 = 1 - sqrt(f1)`` gives
  ``1.1 * 11 - 1/3 = 11.7667``).

nas has no in-memory storage, so both libraries run on SQLite files; Optuna's in-memory storage
is run too as a reference line. The objectives are trivial to evaluate, so the wall time per
trial is the library's overhead: searcher + storage + loop. The time spent inside the searcher
alone is measured by wrapping nas ``Searcher.propose`` and the Optuna sampler hooks
(``infer_relative_search_space``, ``sample_relative``, ``sample_independent``, ``before_trial``,
``after_trial``). The order of the libraries is rotated from seed to seed.

Usage::

    python benchmarks/bench_searchers.py            # full size, rewrites docs/benchmarks.md
    python benchmarks/bench_searchers.py --quick    # smoke test (< 1 min), docs untouched
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    OPTUNA_SAMPLER_HOOKS,
    add_common_arguments,
    console,
    markdown_table,
    median,
    progress_bar,
    update_section,
)

SECTION = "searchers"
POPULATION = 50
ZDT1_REFERENCE = (1.1, 11.0)
BRANIN_MINIMUM = 5.0 / (4.0 * np.pi)


@dataclass
class Problem:
    """A benchmark problem in both libraries' terms."""

    key: str  # key in nas.benchmarks.functions.SPACES
    objectives: dict[str, str]
    evaluate: Callable[[dict[str, float]], dict[str, float]]
    space: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    """One optimize run: cumulative timestamps and searcher time after each finished trial."""

    label: str
    seconds: float
    finished_at: np.ndarray  # (n,) seconds since the start of optimize, per finished trial
    searcher_cum: np.ndarray  # (n,) cumulative seconds inside the searcher, per finished trial
    quality: float

    def ms_per_trial(self, first: int, last: int) -> float:
        """Mean wall ms per trial over finished trials ``first .. last - 1``."""
        start = 0.0 if first == 0 else self.finished_at[first - 1]
        return 1000.0 * (self.finished_at[last - 1] - start) / (last - first)

    def searcher_ms(self, first: int, last: int) -> float:
        """Mean ms per trial spent in the searcher over finished trials ``first .. last - 1``."""
        start = 0.0 if first == 0 else self.searcher_cum[first - 1]
        return 1000.0 * (self.searcher_cum[last - 1] - start) / (last - first)


def _problems() -> dict[str, Problem]:
    from nas.benchmarks.functions import SPACES, branin, zdt1

    def eval_branin(p: dict[str, float]) -> dict[str, float]:
        return {"value": float(branin(p["x1"], p["x2"]))}

    def eval_zdt1(p: dict[str, float]) -> dict[str, float]:
        f1, f2 = zdt1(np.array([p[f"x{i}"] for i in range(6)]))
        return {"f1": float(f1), "f2": float(f2)}

    return {
        "branin": Problem("branin", {"value": "minimize"}, eval_branin, SPACES["branin"]),
        "zdt1": Problem("zdt1", {"f1": "minimize", "f2": "minimize"}, eval_zdt1, SPACES["zdt1"]),
    }


def _quality(problem: Problem, values: np.ndarray) -> float:
    """Best value (1 objective) or hypervolume w.r.t. ZDT1_REFERENCE (2 objectives)."""
    from nas.pareto import hypervolume

    if values.shape[1] == 1:
        return float(values[:, 0].min())
    return float(hypervolume(values, np.array(ZDT1_REFERENCE)))


def _timed(fn: Callable[..., Any], acc: list[float]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[0] += time.perf_counter() - t

    return wrapper


# ---------------------------------------------------------------------------- nas
def run_nas(
    problem: Problem,
    searcher: str,
    options: dict[str, Any],
    n: int,
    seed: int,
    db: Path,
    label: str,
) -> RunResult:
    """Run ``n`` trials of ``problem`` with a nas searcher on the SQLite file ``db``.

    Raises:
        RuntimeError: the study does not end with ``n`` COMPLETE trials, or the searcher was
            not built with the requested ``population_size``.
    """
    import nas

    study = nas.create_study(
        f"{problem.key}-{searcher}",
        space=problem.space,
        objectives=problem.objectives,
        searcher=searcher,
        searcher_options=options,
        storage=f"sqlite:///{db}",
        seed=seed,
    )
    acc = [0.0]
    impl = study.searcher  # built once and cached by the study; shadow its propose to time it
    impl.propose = _timed(impl.propose, acc)  # type: ignore[method-assign]
    built = getattr(getattr(impl, "algorithm", impl), "population_size", None)
    if "population_size" in options and built != options["population_size"]:
        raise RuntimeError(f"{label}: searcher built with population_size={built}, not {options}")
    finished, searcher_cum = np.zeros(n), np.zeros(n)
    count = [0]

    def objective(trial: Any) -> dict[str, float]:
        return problem.evaluate(trial.params)

    with progress_bar() as bar:
        task = bar.add_task(label, total=n)
        start = time.perf_counter()

        def on_finished(_study: Any, _trial: Any) -> None:
            finished[count[0]] = time.perf_counter() - start
            searcher_cum[count[0]] = acc[0]
            count[0] += 1
            bar.advance(task)

        study.optimize(objective, n_trials=n, callbacks=[on_finished])
        seconds = time.perf_counter() - start
    names = list(problem.objectives)
    complete = study.get_trials((nas.TrialState.COMPLETE,))
    if count[0] != n or len(complete) != n:
        raise RuntimeError(
            f"{label}: {count[0]} trials finished, {len(complete)} COMPLETE, expected {n}"
        )
    values = np.array([[t.values[k] for k in names] for t in complete])
    study.storage.dispose()
    return RunResult(label, seconds, finished, searcher_cum, _quality(problem, values))


# ---------------------------------------------------------------------------- optuna


def run_optuna(
    problem: Problem, sampler: Any, n: int, storage: str | None, label: str
) -> RunResult:
    """Run ``n`` trials of ``problem`` with an Optuna ``sampler``; ``storage=None`` is in-memory.

    Raises:
        RuntimeError: the study does not end with ``n`` COMPLETE trials.
    """
    import optuna

    acc = [0.0]
    for hook in OPTUNA_SAMPLER_HOOKS:
        setattr(sampler, hook, _timed(getattr(sampler, hook), acc))
    names = list(problem.objectives)
    study = optuna.create_study(
        study_name=f"{problem.key}-{type(sampler).__name__}",
        storage=storage,
        directions=[problem.objectives[k] for k in names],
        sampler=sampler,
    )
    params_spec = problem.space["params"]

    def objective(trial: Any) -> tuple[float, ...]:
        params = {k: trial.suggest_float(k, v["low"], v["high"]) for k, v in params_spec.items()}
        out = problem.evaluate(params)
        return tuple(out[k] for k in names)

    finished, searcher_cum = np.zeros(n), np.zeros(n)
    count = [0]
    with progress_bar() as bar:
        task = bar.add_task(label, total=n)
        start = time.perf_counter()

        def on_finished(_study: Any, _trial: Any) -> None:
            finished[count[0]] = time.perf_counter() - start
            searcher_cum[count[0]] = acc[0]
            count[0] += 1
            bar.advance(task)

        study.optimize(objective, n_trials=n, callbacks=[on_finished])
        seconds = time.perf_counter() - start
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if count[0] != n or len(complete) != n:
        raise RuntimeError(
            f"{label}: {count[0]} trials finished, {len(complete)} COMPLETE, expected {n}"
        )
    values = np.array([t.values for t in complete], dtype=float)
    return RunResult(label, seconds, finished, searcher_cum, _quality(problem, values))


# ---------------------------------------------------------------------------- driver
@dataclass
class Variant:
    """One line of the table and the results of its runs (one per seed)."""

    pair: str
    library: str
    storage: str
    run: Callable[[int, Path, str], RunResult]  # (seed, workdir, label) -> result
    results: list[RunResult] = field(default_factory=list)


def make_variants(n: int) -> list[Variant]:
    """The six lines of the table: per pair, nas on SQLite, Optuna on SQLite, Optuna in memory."""
    import optuna

    probs = _problems()
    branin, zdt1 = probs["branin"], probs["zdt1"]
    rnd, evo = "Branin, 1 obj, random", f"ZDT1, 2 obj, evolution (pop {POPULATION})"

    def optuna_random(storage: bool) -> Callable[[int, Path, str], RunResult]:
        def run(seed: int, workdir: Path, label: str) -> RunResult:
            url = f"sqlite:///{workdir / f'optuna-random-{seed}.db'}" if storage else None
            sampler = optuna.samplers.RandomSampler(seed=seed)
            return run_optuna(branin, sampler, n, url, label)

        return run

    def optuna_nsga2(storage: bool) -> Callable[[int, Path, str], RunResult]:
        def run(seed: int, workdir: Path, label: str) -> RunResult:
            url = f"sqlite:///{workdir / f'optuna-nsga2-{seed}.db'}" if storage else None
            sampler = optuna.samplers.NSGAIISampler(population_size=POPULATION, seed=seed)
            return run_optuna(zdt1, sampler, n, url, label)

        return run

    def nas_run(
        problem: Problem, searcher: str, options: dict[str, Any]
    ) -> Callable[..., RunResult]:
        def run(seed: int, workdir: Path, label: str) -> RunResult:
            db = workdir / f"nas-{searcher}-{seed}.db"
            return run_nas(problem, searcher, options, n, seed, db, label)

        return run

    return [
        Variant(rnd, "nas `random`", "SQLite", nas_run(branin, "random", {})),
        Variant(rnd, "Optuna `RandomSampler`", "SQLite", optuna_random(True)),
        Variant(rnd, "Optuna `RandomSampler`", "in-memory (reference)", optuna_random(False)),
        Variant(
            evo,
            "nas `evolution`",
            "SQLite",
            nas_run(zdt1, "evolution", {"population_size": POPULATION}),
        ),
        Variant(evo, "Optuna `NSGAIISampler`", "SQLite", optuna_nsga2(True)),
        Variant(evo, "Optuna `NSGAIISampler`", "in-memory (reference)", optuna_nsga2(False)),
    ]


def run_all(variants: list[Variant], seeds: list[int], workdir: Path) -> None:
    """Run every variant once per seed; within each pair the order rotates with the seed."""
    for r, seed in enumerate(seeds):
        for pair in dict.fromkeys(v.pair for v in variants):
            group = [v for v in variants if v.pair == pair]
            k = r % len(group)
            for v in group[k:] + group[:k]:
                label = f"{v.library.replace('`', '')} {v.storage.split()[0]} seed {seed}"
                res = v.run(seed, workdir, label)
                v.results.append(res)
                console.log(f"{label}: {res.seconds:.1f} s, quality {res.quality:.4g}")


def results_table(variants: list[Variant], n: int) -> str:
    """Markdown table of the medians over seeds (every variant must have run at least once)."""
    tail = min(100, n)
    rows = []
    for v in variants:
        rs = v.results
        sqlite_ref = next(
            (
                u
                for u in variants
                if u.pair == v.pair and u.storage == "SQLite" and "Optuna" in u.library
            ),
            None,
        )
        all_ms = median([r.ms_per_trial(0, n) for r in rs])
        ref_ms = (
            median([r.ms_per_trial(0, n) for r in sqlite_ref.results])
            if sqlite_ref
            else float("nan")
        )
        quality_name = "best value" if v.pair.startswith("Branin") else "hypervolume"
        rows.append(
            [
                v.pair,
                v.library,
                v.storage,
                f"{all_ms:.2f}",
                f"{median([r.ms_per_trial(0, tail) for r in rs]):.2f}",
                f"{median([r.ms_per_trial(n - tail, n) for r in rs]):.2f}",
                f"{median([r.searcher_ms(0, n) for r in rs]):.2f}",
                f"{median([r.searcher_ms(n - tail, n) for r in rs]):.2f}",
                f"{ref_ms / all_ms:.2f}x",
                f"{quality_name} {median([r.quality for r in rs]):.4f}",
                ", ".join(f"{r.quality:.4f}" for r in rs),
            ]
        )
    return markdown_table(
        [
            "Problem / pair",
            "Library",
            "Storage",
            f"ms/trial (all {n})",
            f"ms/trial (first {tail})",
            f"ms/trial (last {tail})",
            "searcher ms/trial (all)",
            f"searcher ms/trial (last {tail})",
            "speed vs Optuna SQLite",
            "quality (median)",
            "quality per seed",
        ],
        rows,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000, help="trials per run")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 per variant")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.seeds = 120, 1
    if args.docs is None:
        args.docs = not args.quick
    if args.trials < 2 * POPULATION and not args.quick:
        parser.error(
            f"--trials must be >= {2 * POPULATION} (two NSGA-II generations), got {args.trials}"
        )
    if args.trials < 1 or args.seeds < 1:
        parser.error(f"--trials and --seeds must be >= 1, got {args.trials} and {args.seeds}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    variants = make_variants(args.trials)
    workdir = Path(tempfile.mkdtemp(prefix="nas-bench-searchers-", dir=args.workdir))
    t0 = time.perf_counter()
    try:
        run_all(variants, list(range(args.seeds)), workdir)
    finally:
        if args.keep:
            console.log(f"DB files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - t0
    table = results_table(variants, args.trials)
    print("\n" + table + "\n", flush=True)
    body = f"""
{args.trials} trials per run, seeds {", ".join(map(str, range(args.seeds)))}; every number is the
median over the seeds (quality per seed listed). Total run time {total:.0f} s.

- Branin (1 objective, `x1 in [-5, 10]`, `x2 in [0, 15]`): nas `random` vs Optuna
  `RandomSampler`. Quality = best value found (global minimum {BRANIN_MINIMUM:.6f}; lower is
  better).
- ZDT1 (2 objectives, 6 variables in `[0, 1]`): nas `evolution` (NSGA-II for 2 objectives) vs
  Optuna `NSGAIISampler`, `population_size={POPULATION}` on both. Quality = exact hypervolume of
  all COMPLETE trials for reference point `{ZDT1_REFERENCE}` via `nas.pareto.hypervolume`
  (higher is better; the true Pareto front gives 11.7667).
- Objectives are trivial (`nas.benchmarks.functions.branin` / `zdt1`), so ms/trial is the
  libraries' own overhead: searcher + storage + optimize loop. nas has no in-memory storage: the
  comparison is SQLite vs SQLite (Optuna RDBStorage, its default `sqlite:///` URL); Optuna
  in-memory is a reference line only. "searcher ms/trial" is time inside nas `Searcher.propose`
  or the Optuna sampler hooks (`infer_relative_search_space`, `sample_relative`,
  `sample_independent`, `before_trial`, `after_trial`), which for Optuna includes the storage
  reads those hooks make. "first/last {min(100, args.trials)}" show growth with the history.
- "speed vs Optuna SQLite" = Optuna-SQLite ms/trial / this line's ms/trial (> 1: faster).

{table}
"""
    if args.docs:
        update_section(SECTION, "Searchers: overhead per trial and quality", body)
        console.log("rewrote section 'searchers' of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
