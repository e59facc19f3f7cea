"""Searcher quality and overhead: nas searchers vs Optuna and HpBandSter, in the same process run.

Issue 3's comparison, written to the ``searchers-quality`` section of ``docs/benchmarks.md``.
Every problem is run by every line of its table, once per seed (seeds ``0 .. N-1``, the order of
the lines rotated from seed to seed); tables give the median and the interquartile range over
the seeds. The objectives are the functions of :mod:`nas.benchmarks.functions`, called through
the same wrappers (``OBJECTIVES``) by every library, so they cost the same everywhere.

* **Single objective** -- Branin @ 40 evaluations, Hartmann6 @ 60. Quality = regret of the best
  value found, ``min(values) - known minimum`` (``BRANIN_MINIMUM``, ``HARTMANN6_MINIMUM``; the
  latter is rounded to 5 decimals, so the smallest reachable Hartmann6 regret is about ``2e-6``).
  nas ``bayesian`` and ``random`` vs Optuna ``GPSampler``, ``TPESampler(multivariate=True)`` and
  ``RandomSampler``.
* **Multi-fidelity** -- ``hartmann6_mf`` (the objective reads ``trial.budget`` as a fidelity in
  ``(0, 1]``; the evaluation cost is taken proportional to the budget), budgets
  ``[1/27, 1]``, ``eta = 3`` (4 budgets, a Hyperband round costs 15 full evaluations), a total
  budget of 30 full-evaluation equivalents. nas ``bohb`` and ``hyperband`` vs HpBandSter's
  ``BOHB`` (its defaults otherwise), and nas ``random`` evaluating at full budget only. Every
  run's evaluations are taken in completion order and cut where their summed budget would exceed
  the total; quality = full-fidelity regret of the best evaluation *at the highest budget reached
  within the cut* (that is the full budget whenever one bracket finished: the column
  "highest budget" shows it).
* **Multi-objective** -- BraninCurrin (reference point ``(18, 6)``) and ZDT1 6-d (reference
  ``(1.1, 11)``) @ 60 evaluations; quality = exact hypervolume of all evaluations
  (:func:`nas.pareto.hypervolume`, points outside the reference count nothing). nas ``bayesian``,
  ``evolution`` (NSGA-II, population 20) and ``random`` vs Optuna ``GPSampler``,
  ``TPESampler(multivariate=True)`` and ``NSGAIISampler(population_size=20)``.

* **Scaling** -- milliseconds per proposal of nas ``bayesian`` and Optuna ``GPSampler`` after a
  history of 500 and 1,000 random Hartmann6 trials (3 proposals in a row; :func:`scaling`;
  ``--no-scaling`` skips it).

Where the libraries run: nas on a fresh SQLite file per run (its only storage; the public API:
``nas.create_study(..., storage="sqlite:///...")`` then ``study.optimize``); Optuna on in-memory
studies (its fastest storage); HpBandSter with its Pyro4 name server, master and one local worker
thread on 127.0.0.1, in this process (Pyro4's serializer set to pickle: with the default one it
hangs silently on Python 3.11).

Overhead per trial = wall time of the optimisation loop minus the time inside the objective,
divided by the number of evaluations run. It is split into "searcher" (time inside nas
``Searcher.propose``; inside the Optuna sampler hooks; inside HpBandSter's config generator
``get_config`` + ``new_result``) and the rest (nas: SQLite storage and loop; Optuna: in-memory
storage and loop; HpBandSter: Pyro4 round trips, dispatcher and master threads, as measured).
Study creation, name-server start-up and worker discovery are outside the timed loop; imports and
the first torch/GP calls are paid by an untimed warm-up run before the first timed one.

A nas searcher that is not registered in the running checkout, or that refuses the problem at
construction (``SearcherConfigError``), is listed as skipped with the reason; a run that raises is
listed as an error; no number is ever filled in for them.

Usage::

    python benchmarks/searchers.py                        # full run, rewrites docs/benchmarks.md
    python benchmarks/searchers.py --quick                # smoke test: tiny sizes, docs untouched
    python benchmarks/searchers.py --only branin,zdt1 --no-docs
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import math
import shutil
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
from rich.markup import escape
from rich.progress import Progress, TaskID

SECTION = "searchers-quality"
TITLE = "Searchers: quality and overhead vs Optuna and HpBandSter"
DEFAULT_SEEDS = 5
MIN_DOC_SEEDS = 5

#: Multi-fidelity setting shared by nas ``bohb``/``hyperband`` and HpBandSter's BOHB.
MF_MIN_BUDGET = 1.0 / 27.0
MF_MAX_BUDGET = 1.0
MF_ETA = 3
#: NSGA-II population of nas ``evolution`` and Optuna ``NSGAIISampler`` (3 generations in 60).
NSGA_POPULATION = 20
#: Relative slack when comparing summed budgets with the total (float sums of 1/27, 1/9, ...).
BUDGET_RTOL = 1e-9
#: The most HpBandSter iterations (brackets) one run may need to reach its total budget.
MAX_HB_ITERATIONS = 10_000
#: Seconds after which an HpBandSter run is declared hung (a full run takes well under a minute).
HPB_RUN_TIMEOUT = 600.0

Kind = Literal["single", "multi-fidelity", "multi-objective"]


# ============================================================================ problems
@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    Attributes:
        key: the name ``--only`` takes.
        title: display name.
        kind: which table it belongs to.
        space_key / objective_key / full_key: keys of ``SPACES`` / ``OBJECTIVES`` (``full_key``:
            the full-fidelity objective used to score a multi-fidelity incumbent).
        size / quick_size: evaluations per run (single/multi-objective) or total budget in
            full-evaluation units (multi-fidelity), full and ``--quick``.
        minimum: known global minimum (single objective and multi-fidelity).
        reference: hypervolume reference point (multi-objective).
    """

    key: str
    title: str
    kind: Kind
    space_key: str
    objective_key: str
    full_key: str
    size: float
    quick_size: float
    minimum: float | None = None
    reference: tuple[float, ...] | None = None


def problems() -> dict[str, Problem]:
    """The five problems of the issue, by ``--only`` name."""
    from nas.benchmarks.functions import BRANIN_MINIMUM, HARTMANN6_MINIMUM

    items = [
        Problem(
            "branin", "Branin", "single", "branin", "branin", "branin", 40, 12, BRANIN_MINIMUM,
        ),
        Problem(
            "hartmann6", "Hartmann6", "single", "hartmann6", "hartmann6", "hartmann6", 60, 12,
            HARTMANN6_MINIMUM,
        ),
        Problem(
            "hartmann6_mf", "Hartmann6, multi-fidelity", "multi-fidelity", "hartmann6",
            "hartmann6_mf", "hartmann6", 30.0, 5.0, HARTMANN6_MINIMUM,
        ),
        Problem(
            "branin_currin", "BraninCurrin", "multi-objective", "branin_currin",
            "branin_currin", "branin_currin", 60, 12, reference=(18.0, 6.0),
        ),
        Problem(
            "zdt1", "ZDT1 (6-d)", "multi-objective", "zdt1", "zdt1", "zdt1", 60, 12,
            reference=(1.1, 11.0),
        ),
    ]  # fmt: skip
    return {p.key: p for p in items}


def space_of(problem: Problem) -> dict[str, Any]:
    """The problem's search space in the YAML shape (a copy)."""
    from nas.benchmarks.functions import SPACES

    return {"params": {k: dict(v) for k, v in SPACES[problem.space_key]["params"].items()}}


def directions_of(problem: Problem) -> dict[str, str]:
    """Objective name -> direction, in order."""
    from nas.benchmarks.functions import DIRECTIONS

    return dict(DIRECTIONS[problem.space_key])


# ============================================================================ measuring
@dataclass(frozen=True)
class _Point:
    """What the objective wrappers read from a trial, for the libraries that have no nas Trial."""

    params: Mapping[str, float]
    budget: float | None
    number: int


@dataclass(frozen=True)
class Evaluation:
    """One objective call: params, budget as a fraction of the largest budget, values in order."""

    params: dict[str, Any]
    budget: float
    values: tuple[float, ...]


class Recorder:
    """Calls the problem's objective, times it and records every evaluation in completion order.

    Args:
        problem: the problem whose ``objective_key`` wrapper is called.
        tick: called after every evaluation (advances the progress bar; thread-safe there).
    """

    def __init__(self, problem: Problem, tick: Callable[[], None]) -> None:
        from nas.benchmarks.functions import OBJECTIVES

        self.problem = problem
        self.names = list(directions_of(problem))
        self.function = OBJECTIVES[problem.objective_key]
        self.tick = tick
        self.records: list[Evaluation] = []
        self.objective_seconds = 0.0
        self.spent = 0.0  # summed budgets, in full-evaluation units

    def evaluate(self, trial: Any) -> float | Mapping[str, float]:
        """Evaluate ``trial`` (a nas ``Trial`` or a :class:`_Point`).

        Returns:
            What the wrapper returned (a float, or a mapping for several objectives): the
            objective a nas study is given returns it unchanged. :meth:`values` has it in order.

        Raises:
            RuntimeError: the objective returned a mapping without one of the objectives.
        """
        start = time.perf_counter()
        out = self.function(trial)
        self.objective_seconds += time.perf_counter() - start
        if isinstance(out, Mapping):
            missing = [k for k in self.names if k not in out]
            if missing:
                raise RuntimeError(f"objective returned {sorted(out)}, missing {missing}")
            values = tuple(float(out[k]) for k in self.names)
        else:
            values = (float(out),)
        budget = 1.0 if trial.budget is None else float(trial.budget) / MF_MAX_BUDGET
        self.records.append(Evaluation(dict(trial.params), budget, values))
        self.spent += budget
        self.tick()
        return out

    def values(self, trial: Any) -> tuple[float, ...]:
        """:meth:`evaluate`, returning the objective values in order."""
        self.evaluate(trial)
        return self.records[-1].values


@dataclass
class RunResult:
    """One run (one line of a table, one seed).

    Attributes:
        evaluations: evaluations run (for multi-fidelity: all of them, also past the cut).
        wall: seconds of the optimisation loop, objective included.
        searcher: seconds inside the searcher / sampler / config generator.
        objective: seconds inside the objective.
        quality: regret (lower is better) or hypervolume (higher is better).
        spent: multi-fidelity: budget within the cut, in full-evaluation units.
        counted: multi-fidelity: evaluations within the cut.
        top_budget: multi-fidelity: highest budget reached within the cut (fraction of max).
    """

    evaluations: int
    wall: float
    searcher: float
    objective: float
    quality: float
    spent: float = math.nan
    counted: int = 0
    top_budget: float = math.nan

    @property
    def overhead_ms(self) -> float:
        """Milliseconds per evaluation outside the objective."""
        return 1000.0 * (self.wall - self.objective) / self.evaluations

    @property
    def searcher_ms(self) -> float:
        """Milliseconds per evaluation inside the searcher."""
        return 1000.0 * self.searcher / self.evaluations

    @property
    def rest_ms(self) -> float:
        """Milliseconds per evaluation outside both the objective and the searcher."""
        return self.overhead_ms - self.searcher_ms


def _timed(fn: Callable[..., Any], acc: list[float]) -> Callable[..., Any]:
    """``fn`` with the seconds spent in it added to ``acc[0]``.

    A call made from inside another timed call of the same thread is not counted twice (a
    thread-local depth); HpBandSter calls its config generator from two threads.
    """
    local = threading.local()

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        depth = getattr(local, "depth", 0)
        local.depth = depth + 1
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            local.depth = depth
            if depth == 0:
                acc[0] += time.perf_counter() - start

    return wrapper


def score(problem: Problem, records: Sequence[Evaluation], size: float) -> RunResult:
    """Quality of a run from its evaluations (the timing fields are left at zero).

    Single objective: regret of the best of the first ``size`` evaluations. Multi-objective:
    hypervolume of the first ``size``. Multi-fidelity: evaluations are cut where their summed
    budget would exceed ``size``; regret at full fidelity of the best evaluation at the highest
    budget within the cut.

    Raises:
        RuntimeError: fewer than ``size`` evaluations (single/multi-objective) or none within the
            budget (multi-fidelity).
    """
    from nas.benchmarks.functions import OBJECTIVES
    from nas.pareto import hypervolume

    if problem.kind == "multi-fidelity":
        cut: list[Evaluation] = []
        spent = 0.0
        for r in records:
            if spent + r.budget > size * (1.0 + BUDGET_RTOL):
                break
            cut.append(r)
            spent += r.budget
        if not cut:
            raise RuntimeError(f"no evaluation within the total budget {size}")
        top = max(r.budget for r in cut)
        at_top = [r for r in cut if math.isclose(r.budget, top, rel_tol=1e-9)]
        best = min(at_top, key=lambda r: r.values[0])
        full = OBJECTIVES[problem.full_key](_Point(best.params, None, -1))
        regret = float(full) - _minimum(problem)
        return RunResult(len(records), 0.0, 0.0, 0.0, regret, spent, len(cut), top)
    n = int(size)
    if len(records) < n:
        raise RuntimeError(f"only {len(records)} of {n} evaluations completed")
    values = np.array([r.values for r in records[:n]], dtype=float)
    if problem.kind == "single":
        quality = float(values[:, 0].min()) - _minimum(problem)
    else:
        if problem.reference is None:
            raise RuntimeError(f"{problem.key}: a multi-objective problem needs a reference")
        quality = float(hypervolume(values, np.array(problem.reference)))
    return RunResult(n, 0.0, 0.0, 0.0, quality)


def _minimum(problem: Problem) -> float:
    if problem.minimum is None:
        raise RuntimeError(f"{problem.key}: a regret needs the problem's known minimum")
    return problem.minimum


# ============================================================================ nas
class SearcherUnavailable(Exception):  # noqa: N818 - reads as an outcome
    """The nas searcher refused the problem at construction (SearcherConfigError)."""


def run_nas(
    problem: Problem,
    searcher: str,
    options: Mapping[str, Any],
    seed: int,
    size: float,
    workdir: Path,
    tick: Callable[[], None],
) -> RunResult:
    """One nas study on a fresh SQLite file in ``workdir``, through the public API.

    Single/multi-objective: ``size`` trials. Multi-fidelity: trials until the summed budget
    reaches ``size`` (a callback stops ``optimize`` after the trial that reaches it is stored).

    Raises:
        SearcherUnavailable: the searcher raised ``SearcherConfigError`` when the study was built.
        RuntimeError: too few evaluations (see :func:`score`); the message names the first failed
            trial's reason if any.
    """
    import nas
    from nas.exceptions import SearcherConfigError

    db = workdir / f"nas-{problem.key}-{searcher}-{seed}.db"
    try:
        study = nas.create_study(
            f"{problem.key}-{searcher}-{seed}",
            space=space_of(problem),
            objectives=directions_of(problem),
            searcher=searcher,
            searcher_options=dict(options),
            storage=f"sqlite:///{db}",
            seed=seed,
        )
    except SearcherConfigError as e:
        raise SearcherUnavailable(str(e)) from e
    searcher_seconds = [0.0]
    impl = study.searcher  # built once and cached by the study: time its propose
    impl.propose = _timed(impl.propose, searcher_seconds)  # type: ignore[method-assign]
    recorder = Recorder(problem, tick)
    callbacks: list[Callable[[Any, Any], None]] = []
    if problem.kind == "multi-fidelity":
        n_trials = int(4 * size * MF_MAX_BUDGET / MF_MIN_BUDGET) + 10  # a cap only

        def stop_when_spent(running: Any, _trial: Any) -> None:
            if recorder.spent >= size * (1.0 - BUDGET_RTOL):
                running.stop()

        callbacks.append(stop_when_spent)
    else:
        n_trials = int(size)
    start = time.perf_counter()
    study.optimize(recorder.evaluate, n_trials=n_trials, callbacks=callbacks)
    wall = time.perf_counter() - start
    complete = len(study.get_trials((nas.TrialState.COMPLETE,)))
    failed = study.get_trials((nas.TrialState.FAILED,))
    study.storage.dispose()
    if complete != len(recorder.records) or failed:
        first = (failed[0].failure_reason or "").strip().splitlines() if failed else []
        raise RuntimeError(
            f"{len(recorder.records)} evaluations but {complete} COMPLETE trials and "
            f"{len(failed)} FAILED" + (f"; first failure: {first[-1]}" if first else "")
        )
    result = score(problem, recorder.records, size)
    result.wall, result.searcher = wall, searcher_seconds[0]
    result.objective = recorder.objective_seconds
    result.evaluations = len(recorder.records)
    return result


# ============================================================================ Optuna


def run_optuna(
    problem: Problem,
    make_sampler: Callable[[int], Any],
    seed: int,
    size: float,
    tick: Callable[[], None],
) -> RunResult:
    """``size`` trials of an in-memory Optuna study with ``make_sampler(seed)``.

    Raises:
        RuntimeError: the space has a non-float parameter, or too few evaluations.
    """
    import optuna

    sampler = make_sampler(seed)
    searcher_seconds = [0.0]
    for hook in OPTUNA_SAMPLER_HOOKS:
        setattr(sampler, hook, _timed(getattr(sampler, hook), searcher_seconds))
    names = list(directions_of(problem))
    spec = space_of(problem)["params"]
    if any(p["type"] != "float" for p in spec.values()):
        raise RuntimeError(f"{problem.key}: only float parameters are mapped to Optuna here")
    study = optuna.create_study(
        directions=[directions_of(problem)[k] for k in names], sampler=sampler
    )
    recorder = Recorder(problem, tick)

    def objective(trial: Any) -> float | tuple[float, ...]:
        params = {
            k: trial.suggest_float(k, p["low"], p["high"], log=bool(p.get("log", False)))
            for k, p in spec.items()
        }
        values = recorder.values(_Point(params, None, trial.number))
        return values[0] if len(values) == 1 else values

    start = time.perf_counter()
    study.optimize(objective, n_trials=int(size))
    wall = time.perf_counter() - start
    result = score(problem, recorder.records, size)
    result.wall, result.searcher = wall, searcher_seconds[0]
    result.objective = recorder.objective_seconds
    result.evaluations = len(recorder.records)
    return result


# ============================================================================ HpBandSter
def hpbandster_iteration_costs(
    min_budget: float, max_budget: float, eta: int, n_iterations: int
) -> list[float]:
    """Cost of HpBandSter's first ``n_iterations`` BOHB/Hyperband iterations, in full evaluations.

    Mirrors ``hpbandster.optimizers.bohb.BOHB``: ``max_SH_iter = -int(log(min/max)/log(eta)) + 1``,
    budgets ``max * eta^-k``; iteration ``i`` runs bracket ``s = max_SH_iter - 1 - i mod
    max_SH_iter`` with ``n0 = floor(max_SH_iter / (s + 1)) * eta^s`` configurations and
    ``max(floor(n0 eta^-j), 1)`` at its ``j``-th budget. With budgets ``[1/27, 1]`` and
    ``eta = 3`` the costs are 4, 3, 4, 4 (then again).

    Raises:
        ValueError: ``min_budget`` not in ``(0, max_budget)``, ``eta < 2`` or
            ``n_iterations < 0``.
    """
    if not 0.0 < min_budget < max_budget or eta < 2 or n_iterations < 0:
        raise ValueError(
            f"need 0 < min_budget < max_budget, eta >= 2, n_iterations >= 0; got "
            f"min_budget={min_budget}, max_budget={max_budget}, eta={eta}, "
            f"n_iterations={n_iterations}"
        )
    max_sh_iter = -int(np.log(min_budget / max_budget) / np.log(eta)) + 1
    budgets = max_budget * np.power(float(eta), -np.linspace(max_sh_iter - 1, 0, max_sh_iter))
    costs = []
    for i in range(n_iterations):
        s = max_sh_iter - 1 - (i % max_sh_iter)
        n0 = int(np.floor(max_sh_iter / (s + 1)) * eta**s)
        counts = [max(int(n0 * float(eta) ** (-j)), 1) for j in range(s + 1)]
        stage_budgets = budgets[max_sh_iter - s - 1 :]
        costs.append(float(sum(c * b for c, b in zip(counts, stage_budgets, strict=True))))
    return [c / max_budget for c in costs]


def hpbandster_iterations_for(total: float) -> int:
    """The fewest HpBandSter iterations whose summed cost reaches ``total`` full evaluations.

    Raises:
        ValueError: ``total`` is not positive or needs more than ``MAX_HB_ITERATIONS``.
    """
    if not total > 0:
        raise ValueError(f"total budget must be > 0, got {total}")
    costs = hpbandster_iteration_costs(MF_MIN_BUDGET, MF_MAX_BUDGET, MF_ETA, MAX_HB_ITERATIONS)
    spent = 0.0
    for k, cost in enumerate(costs, start=1):
        spent += cost
        if spent >= total * (1.0 - BUDGET_RTOL):
            return k
    raise ValueError(f"total budget {total} needs more than {MAX_HB_ITERATIONS} iterations")


_PYRO_READY = [False]


def _configure_hpbandster() -> None:
    """Pickle serializer for Pyro4 (else HpBandSter hangs on 3.11); quiet loggers and warnings."""
    if _PYRO_READY[0]:
        return
    import Pyro4

    Pyro4.config.SERIALIZER = "pickle"
    Pyro4.config.SERIALIZERS_ACCEPTED.add("pickle")
    for name in ("hpbandster", "Pyro4"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # statsmodels' KDE goes through pandas, which warns about its future RNG default.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"pandas\..*")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"statsmodels\..*")
    _PYRO_READY[0] = True


@contextlib.contextmanager
def _numpy_global_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG for a library that only draws from it; restore it afterwards.

    HpBandSter's BOHB draws from ``np.random.*`` module functions and offers no generator
    argument, so this is the only way to make its runs depend on the seed. nas and Optuna never
    read the global state.
    """
    state = np.random.get_state()
    np.random.seed(seed)  # HpBandSter can only be seeded through the global RNG
    try:
        yield
    finally:
        np.random.set_state(state)


def run_hpbandster(
    problem: Problem, seed: int, size: float, tick: Callable[[], None]
) -> RunResult:
    """HpBandSter BOHB with one in-process worker until its iterations reach ``size``.

    Name server on 127.0.0.1 (random port), one background worker thread, the master in a
    watched thread of its own (see ``HPB_RUN_TIMEOUT``); the ConfigSpace has the nas space's
    float bounds (and log flags). Runs the fewest iterations whose scheduled cost reaches
    ``size`` (:func:`hpbandster_iterations_for`); the evaluations past ``size`` are run (and
    timed) but not scored.

    Raises:
        RuntimeError: the space has a non-float parameter, or the run did not finish within
            ``HPB_RUN_TIMEOUT`` seconds (a Pyro4 hang).
    """
    _configure_hpbandster()
    import ConfigSpace as CS  # noqa: N817 - the library's own convention
    import hpbandster.core.nameserver as hpns
    from hpbandster.core.worker import Worker
    from hpbandster.optimizers import BOHB

    spec = space_of(problem)["params"]
    if any(p["type"] != "float" for p in spec.values()):
        raise RuntimeError(f"{problem.key}: only float parameters are mapped to ConfigSpace here")
    cs = CS.ConfigurationSpace(seed=seed)
    for name, p in spec.items():
        cs.add(
            CS.UniformFloatHyperparameter(
                name, float(p["low"]), float(p["high"]), log=bool(p.get("log", False))
            )
        )
    recorder = Recorder(problem, tick)
    quiet = logging.getLogger("hpbandster.benchmark")
    quiet.setLevel(logging.ERROR)
    count = [0]

    class _Worker(Worker):  # type: ignore[misc]
        def compute(self, config_id: Any, config: Any, budget: Any, **kwargs: Any) -> dict:
            params = {k: float(config[k]) for k in spec}
            count[0] += 1
            values = recorder.values(_Point(params, float(budget), count[0] - 1))
            return {"loss": values[0], "info": {}}

    run_id = f"nas-bench-{seed}-{time.monotonic_ns()}"
    ns = hpns.NameServer(run_id=run_id, host="127.0.0.1", port=0)
    host, port = ns.start()
    optimizer = None
    try:
        worker = _Worker(run_id=run_id, nameserver=host, nameserver_port=port, logger=quiet)
        worker.run(background=True)
        optimizer = BOHB(
            configspace=cs,
            run_id=run_id,
            nameserver=host,
            nameserver_port=port,
            min_budget=MF_MIN_BUDGET,
            max_budget=MF_MAX_BUDGET,
            eta=MF_ETA,
            logger=quiet,
        )
        model_seconds = [0.0]
        cg = optimizer.config_generator
        cg.get_config = _timed(cg.get_config, model_seconds)
        cg.new_result = _timed(cg.new_result, model_seconds)
        optimizer.wait_for_workers(1)  # worker discovery is start-up, not per-trial overhead
        n_iterations = hpbandster_iterations_for(size)
        failure: list[BaseException] = []

        def drive() -> None:
            try:
                optimizer.run(n_iterations=n_iterations, min_n_workers=1)
            except BaseException as e:  # handed to the caller below
                failure.append(e)

        # The master runs in a thread so that a silent Pyro4 hang ends this run, not the script.
        driver = threading.Thread(target=drive, name="hpbandster-master", daemon=True)
        with _numpy_global_seed(seed):
            start = time.perf_counter()
            driver.start()
            driver.join(HPB_RUN_TIMEOUT)
            wall = time.perf_counter() - start
        if driver.is_alive():
            raise RuntimeError(
                f"HpBandSter did not finish {n_iterations} iterations in {HPB_RUN_TIMEOUT:.0f} s "
                f"({len(recorder.records)} evaluations done): hung, abandoned"
            )
        if failure:
            raise failure[0]
    finally:
        if optimizer is not None:
            optimizer.shutdown(shutdown_workers=True)
        ns.shutdown()
    result = score(problem, recorder.records, size)
    result.wall, result.searcher = wall, model_seconds[0]
    result.objective = recorder.objective_seconds
    result.evaluations = len(recorder.records)
    return result


# ============================================================================ lines
@dataclass
class Line:
    """One line of a table: a searcher on a problem, its results per seed."""

    problem: Problem
    name: str  # e.g. "nas `bayesian`"
    runs_in: str  # e.g. "SQLite", "in-memory", "Pyro4, 1 worker"
    run: Callable[[int, float, Path, Callable[[], None]], RunResult]
    library: Literal["nas", "Optuna", "HpBandSter"]
    skipped: str | None = None
    results: list[RunResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def values(self, attr: str) -> list[float]:
        """``getattr(result, attr)`` for every successful seed."""
        return [float(getattr(r, attr)) for r in self.results]


def _nas_line(
    problem: Problem, searcher: str, options: Mapping[str, Any], registered: Sequence[str]
) -> Line:
    def run(seed: int, size: float, workdir: Path, tick: Callable[[], None]) -> RunResult:
        return run_nas(problem, searcher, options, seed, size, workdir, tick)

    shown = f"nas `{searcher}`" + (
        " (" + ", ".join(f"{k}={_fmt_option(v)}" for k, v in options.items()) + ")"
        if options
        else ""
    )
    skipped = None
    if searcher not in registered:
        skipped = f"`{searcher}` is not registered in this checkout"
    return Line(problem, shown, "SQLite", run, "nas", skipped)


def _fmt_option(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        frac = (1.0 / value) if value else 0.0
        return f"1/{frac:.0f}" if value < 1 and math.isclose(frac, round(frac)) else f"{value:g}"
    return str(value)


def _optuna_line(problem: Problem, name: str, make: Callable[[int], Any]) -> Line:
    def run(seed: int, size: float, workdir: Path, tick: Callable[[], None]) -> RunResult:
        return run_optuna(problem, make, seed, size, tick)

    return Line(problem, f"Optuna `{name}`", "in-memory", run, "Optuna")


def _optuna_sampler(kind: str) -> Callable[[int], Any]:
    """``seed -> sampler`` for ``kind`` in ``gp``, ``tpe`` (multivariate), ``random``, ``nsga2``.

    Raises:
        ValueError: unknown ``kind``.
    """
    import optuna

    samplers = optuna.samplers
    makers: dict[str, Callable[[int], Any]] = {
        "gp": lambda seed: samplers.GPSampler(seed=seed),
        "tpe": lambda seed: samplers.TPESampler(multivariate=True, seed=seed),
        "random": lambda seed: samplers.RandomSampler(seed=seed),
        "nsga2": lambda seed: samplers.NSGAIISampler(population_size=NSGA_POPULATION, seed=seed),
    }
    if kind not in makers:
        raise ValueError(f"unknown Optuna sampler kind {kind!r}; valid: {', '.join(makers)}")
    return makers[kind]


def _hpbandster_line(problem: Problem) -> Line:
    def run(seed: int, size: float, workdir: Path, tick: Callable[[], None]) -> RunResult:
        return run_hpbandster(problem, seed, size, tick)

    return Line(problem, "HpBandSter `BOHB`", "Pyro4, 1 worker thread", run, "HpBandSter")


def make_lines(selected: Sequence[Problem]) -> list[Line]:
    """Every line of every selected problem, nas lines first within a problem."""
    from nas.searchers import searcher_names

    registered = searcher_names()
    gp, tpe, rnd, nsga = (_optuna_sampler(k) for k in ("gp", "tpe", "random", "nsga2"))
    mf_options = {"min_budget": MF_MIN_BUDGET, "max_budget": MF_MAX_BUDGET, "eta": MF_ETA}
    lines: list[Line] = []
    for p in selected:
        if p.kind == "single":
            lines += [
                _nas_line(p, "bayesian", {}, registered),
                _nas_line(p, "random", {}, registered),
                _optuna_line(p, "GPSampler", gp),
                _optuna_line(p, "TPESampler(multivariate=True)", tpe),
                _optuna_line(p, "RandomSampler", rnd),
            ]
        elif p.kind == "multi-fidelity":
            lines += [
                _nas_line(p, "bohb", mf_options, registered),
                _nas_line(p, "hyperband", mf_options, registered),
                _hpbandster_line(p),
                _nas_line(p, "random", {}, registered),
            ]
            lines[-1].name += " (full budget only)"
        else:
            lines += [
                _nas_line(p, "bayesian", {}, registered),
                _nas_line(p, "evolution", {"population_size": NSGA_POPULATION}, registered),
                _nas_line(p, "random", {}, registered),
                _optuna_line(p, "GPSampler", gp),
                _optuna_line(p, "TPESampler(multivariate=True)", tpe),
                _optuna_line(p, f"NSGAIISampler(population_size={NSGA_POPULATION})", nsga),
            ]
    return lines


#: Imported before anything is timed, so that no line pays a library's import in its first run.
WARM_IMPORTS = (
    "torch",
    "gpytorch",
    "botorch",
    "botorch.acquisition.multi_objective",
    "scipy.optimize",
    "optuna._gp.gp",
    "optuna._gp.acqf",
    "optuna._gp.optim_mixed",
    "statsmodels.api",
    "ConfigSpace",
    "hpbandster.optimizers",
)


def warm_up(lines: Sequence[Line], workdir: Path) -> None:
    """Pay one-time costs before the timed runs: imports, then one small untimed Branin run of
    Optuna ``GPSampler`` and of nas ``bayesian`` (each if it has a line to run) for the first
    torch calls.

    Failures here are logged and otherwise ignored: the timed runs report them properly.
    """
    import importlib

    for module in WARM_IMPORTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    branin = problems()["branin"]
    scratch = workdir / "warm-up"  # apart from the timed runs' files (same study names)
    scratch.mkdir(exist_ok=True)
    active = [v.name for v in lines if v.skipped is None]
    runs: list[tuple[str, Callable[[], RunResult]]] = []
    if any(name.startswith("Optuna `GPSampler`") for name in active):
        runs.append(
            (
                "Optuna GPSampler",
                lambda: run_optuna(branin, _optuna_sampler("gp"), 0, 12, lambda: None),
            )
        )
    if any(name.startswith("nas `bayesian`") for name in active):
        runs.append(
            (
                "nas bayesian",
                lambda: run_nas(branin, "bayesian", {}, 0, 12, scratch, lambda: None),
            )
        )
    for name, run in runs:
        try:
            run()
        except Exception as e:  # reported by the timed runs, not here
            console.log(escape(f"warm-up of {name} failed: {type(e).__name__}: {e}"))


def run_all(
    lines: list[Line],
    selected: Sequence[Problem],
    seeds: Sequence[int],
    quick: bool,
    workdir: Path,
) -> None:
    """Run every line once per seed; within a problem the order rotates with the seed.

    After each seed the time it took and the projected total are logged, so that a run that
    will not fit its time budget shows it after the first seed.
    """
    active = [v for v in lines if v.skipped is None]
    for v in lines:
        if v.skipped:
            console.log(
                f"[yellow]skipped[/] {escape(f'{v.problem.title} / {v.name}: {v.skipped}')}"
            )
    with progress_bar() as bar:
        overall = bar.add_task("runs", total=len(active) * len(seeds))
        t0 = time.perf_counter()
        for r, seed in enumerate(seeds):
            t_seed = time.perf_counter()
            for p in selected:
                group = [v for v in lines if v.problem is p]
                k = r % len(group)
                for v in group[k:] + group[:k]:
                    if v.skipped is not None:  # also set by an earlier seed's refusal
                        continue
                    _run_one(v, seed, p.quick_size if quick else p.size, workdir, bar)
                    bar.advance(overall)
            now = time.perf_counter()
            per_seed = (now - t0) / (r + 1)
            console.log(
                f"seed {seed} took {now - t_seed:.0f} s; projected total for {len(seeds)} "
                f"seed(s): {per_seed * len(seeds) / 60:.1f} min"
            )


def _run_one(line: Line, seed: int, size: float, workdir: Path, bar: Progress) -> None:
    p = line.problem
    label = f"{p.title} / {line.name} / seed {seed}"
    if p.kind == "multi-fidelity":
        total: float | None = None  # evaluations unknown in advance: budget is the limit
    else:
        total = size
    task: TaskID = bar.add_task(escape(label), total=total)
    try:
        res = line.run(seed, size, workdir, functools.partial(bar.advance, task))
    except SearcherUnavailable as e:
        line.skipped = f"refused the problem: {e}"
        console.log(f"[yellow]skipped[/] {escape(f'{label}: {line.skipped}')}")
    except Exception as e:  # a broken run is reported, never filled in
        line.errors.append(f"seed {seed}: {type(e).__name__}: {e}")
        console.log(f"[red]error[/] {escape(f'{label}: {type(e).__name__}: {e}')}")
        console.log(escape(traceback.format_exc(limit=-3)))
    else:
        line.results.append(res)
        extra = f", budget {res.spent:.3g} in {res.counted} evals" if res.counted else ""
        console.log(
            escape(
                f"{label}: quality {res.quality:.4g}{extra}; {res.evaluations} evals, "
                f"overhead {res.overhead_ms:.1f} ms/eval (searcher {res.searcher_ms:.1f})"
            )
        )
    finally:
        bar.remove_task(task)


# ============================================================================ reporting
def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(25th percentile, median, 75th percentile), linear interpolation.

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError("quartiles of an empty sequence")
    q1, q3 = np.percentile(np.asarray(values, dtype=float), [25.0, 75.0])
    return float(q1), median(values), float(q3)


def _num(x: float, kind: str) -> str:
    if kind == "regret":
        return f"{x:.2e}" if 0 < abs(x) < 1e-3 else f"{x:.4f}"
    if kind == "hv":
        return f"{x:.4f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def results_table(lines: Sequence[Line], kind: Kind, seeds: int) -> str:
    """Markdown table of one kind of problem: medians and IQRs over the successful seeds.

    Only lines with at least one successful run appear; :func:`not_in_table` lists the others.
    """
    quality = "regret" if kind != "multi-objective" else "hv"
    qname = "Regret" if quality == "regret" else "Hypervolume"
    headers = ["Problem", "Searcher", "Runs in", "Seeds ok"]
    if kind == "multi-fidelity":
        headers += ["Budget used", "Evals scored", "Highest budget"]
    headers += [
        f"{qname} (median)",
        f"{qname} IQR",
        "Overhead ms/eval",
        "Searcher ms/eval",
        "Rest ms/eval",
    ]
    rows: list[list[object]] = []
    for v in lines:
        if v.skipped is not None or not v.results:
            continue
        cells: list[object] = [v.problem.title, v.name, v.runs_in, f"{len(v.results)}/{seeds}"]
        if kind == "multi-fidelity":
            cells += [
                f"{median(v.values('spent')):.3g}",
                f"{median(v.values('counted')):.0f}",
                f"{median(v.values('top_budget')):.3g}",
            ]
        q1, med, q3 = quartiles(v.values("quality"))
        cells += [
            _num(med, quality),
            f"[{_num(q1, quality)}, {_num(q3, quality)}]",
            _num(median(v.values("overhead_ms")), "ms"),
            _num(median(v.values("searcher_ms")), "ms"),
            _num(median(v.values("rest_ms")), "ms"),
        ]
        rows.append(cells)
    if not rows:
        return "(no line of this table has a successful run)"
    return markdown_table(headers, rows)


def not_in_table(lines: Sequence[Line]) -> list[str]:
    """Markdown bullets for the lines without results: skipped (why) or every run raised."""
    out = []
    for v in lines:
        if v.skipped is not None:
            out.append(f"- {v.problem.title} / {v.name}: skipped, {v.skipped}.")
        elif not v.results:
            out.append(f"- {v.problem.title} / {v.name}: every run raised (errors below).")
    return out


@dataclass(frozen=True)
class Verdict:
    """One goal of the issue, checked on the medians."""

    text: str
    status: Literal["met", "missed", "not measured"]
    why: str = ""
    #: quality goals: (nas line, reference line) compared, so other_losses does not repeat them
    pair: tuple[Line, Line] | None = None


def _find(lines: Sequence[Line], problem: Problem, prefix: str) -> Line | None:
    return next((v for v in lines if v.problem is problem and v.name.startswith(prefix)), None)


def _missing(*pairs: tuple[str, Line | None]) -> str | None:
    """Why a comparison cannot be made (a line absent, skipped or without results), else None."""
    for name, line in pairs:
        if line is None:
            return f"no {name} line was run"
        if line.skipped is not None:
            return f"{line.name} skipped: {line.skipped}"
        if not line.results:
            return f"{line.name} has no successful run"
    return None


def _iqr_note(a: Line, b: Line, kind: str) -> str:
    qa, qb = quartiles(a.values("quality")), quartiles(b.values("quality"))
    span = (
        f"[{_num(qa[0], kind)}, {_num(qa[2], kind)}] vs [{_num(qb[0], kind)}, {_num(qb[2], kind)}]"
    )
    n = min(len(a.results), len(b.results))
    if n < 3:
        return f"{n} seed(s) only: too few to tell a systematic gap from seed noise"
    if qa[0] <= qb[2] and qb[0] <= qa[2]:
        return (
            f"the interquartile ranges overlap ({span}): within seed-to-seed spread at {n} seeds"
        )
    return f"the interquartile ranges do not overlap ({span}): a systematic gap, not seed noise"


def _quality_verdict(
    nas_line: Line | None, ref: Line | None, higher_better: bool, label: str
) -> Verdict:
    missing = _missing(("nas line", nas_line), ("reference", ref))
    if missing is not None or nas_line is None or ref is None:
        return Verdict(label, "not measured", missing or "")
    kind = "hv" if higher_better else "regret"
    a, b = median(nas_line.values("quality")), median(ref.values("quality"))
    ok = a >= b if higher_better else a <= b
    text = f"{label}: {nas_line.name} {_num(a, kind)} vs {ref.name} {_num(b, kind)}"
    why = "" if ok else _iqr_note(nas_line, ref, kind)
    return Verdict(text, "met" if ok else "missed", why, (nas_line, ref))


def _overhead_verdict(
    nas_line: Line | None, ref: Line | None, factor: float, label: str
) -> Verdict:
    missing = _missing(("nas line", nas_line), ("reference", ref))
    if missing is not None or nas_line is None or ref is None:
        return Verdict(label, "not measured", missing or "")
    o, s, r = (median(nas_line.values(k)) for k in ("overhead_ms", "searcher_ms", "rest_ms"))
    o_ref, s_ref, r_ref = (
        median(ref.values(k)) for k in ("overhead_ms", "searcher_ms", "rest_ms")
    )
    limit = factor * o_ref
    ok = o <= limit
    bound = _num(limit, "ms")
    if factor != 1:
        bound = f"{factor:g} x {_num(o_ref, 'ms')} = {bound}"
    text = (
        f"{label}: {nas_line.name} {_num(o, 'ms')} ms/eval vs {ref.name} "
        f"{_num(o_ref, 'ms')} (limit {bound})"
    )
    why = ""
    if not ok:
        hpb = ref.library == "HpBandSter"
        split = (
            f"nas spends {_num(s, 'ms')} ms/eval in the searcher and {_num(r, 'ms')} in SQLite "
            f"storage + loop; {ref.name} spends {_num(s_ref, 'ms')} in its "
            f"{'config generator' if hpb else 'sampler'} and {_num(r_ref, 'ms')} in "
            f"{'Pyro4 round trips + dispatch' if hpb else 'in-memory storage + loop'}"
        )
        if s > limit:
            why = f"{split}: the searcher alone exceeds the limit"
        else:
            why = f"{split}: the searcher is within the limit, storage + loop pass it"
    return Verdict(text, "met" if ok else "missed", why)


def verdicts(lines: Sequence[Line], selected: Sequence[Problem]) -> list[Verdict]:
    """The issue's goals, checked on the medians of this run."""
    out: list[Verdict] = []
    for p in selected:
        if p.kind == "single":
            bay, gp = _find(lines, p, "nas `bayesian`"), _find(lines, p, "Optuna `GPSampler`")
            out.append(
                _quality_verdict(bay, gp, False, f"{p.title} regret, bayesian <= GPSampler")
            )
            out.append(
                _overhead_verdict(bay, gp, 1.0, f"{p.title} overhead, bayesian <= GPSampler")
            )
        elif p.kind == "multi-fidelity":
            bohb, hpb = _find(lines, p, "nas `bohb`"), _find(lines, p, "HpBandSter")
            out.append(_quality_verdict(bohb, hpb, False, f"{p.title} regret, bohb <= HpBandSter"))
            out.append(
                _overhead_verdict(bohb, hpb, 0.2, f"{p.title} overhead, bohb <= 1/5 HpBandSter")
            )
        else:
            bay = _find(lines, p, "nas `bayesian`")
            optuna_lines = [
                v for v in lines if v.problem is p and v.library == "Optuna" and v.results
            ]
            best = max(optuna_lines, key=lambda v: median(v.values("quality")), default=None)
            out.append(
                _quality_verdict(
                    bay, best, True, f"{p.title} hypervolume, bayesian >= best Optuna"
                )
            )
            gp = _find(lines, p, "Optuna `GPSampler`")
            out.append(
                _overhead_verdict(bay, gp, 1.0, f"{p.title} overhead, bayesian <= GPSampler")
            )
            evo, nsga = _find(lines, p, "nas `evolution`"), _find(lines, p, "Optuna `NSGAII")
            out.append(
                _quality_verdict(evo, nsga, True, f"{p.title} hypervolume, evolution >= NSGA-II")
            )
    return out


def other_losses(
    lines: Sequence[Line], selected: Sequence[Problem], checked: Sequence[Verdict]
) -> list[str]:
    """Per nas line (not `random`), the references ahead of it on median quality.

    Each entry names them best first and compares the spread with the best one; pairs already
    compared by a goal in ``checked`` are left out.
    """
    covered = {(id(c.pair[0]), id(c.pair[1])) for c in checked if c.pair is not None}
    out = []
    for p in selected:
        higher = p.kind == "multi-objective"
        kind = "hv" if higher else "regret"
        ours = [v for v in lines if v.problem is p and v.library == "nas" and v.results]
        refs = [v for v in lines if v.problem is p and v.library != "nas" and v.results]
        for a in ours:
            if "`random`" in a.name:
                continue
            qa = median(a.values("quality"))
            ahead = [b for b in refs if (median(b.values("quality")) > qa) == higher]
            ahead = [
                b
                for b in ahead
                if median(b.values("quality")) != qa and (id(a), id(b)) not in covered
            ]
            if not ahead:
                continue
            ahead.sort(key=lambda b: median(b.values("quality")), reverse=higher)
            names = ", ".join(f"{b.name} {_num(median(b.values('quality')), kind)}" for b in ahead)
            out.append(
                f"{p.title}: {a.name} ({_num(qa, kind)}) is behind {names}; against the first, "
                + _iqr_note(a, ahead[0], kind)
            )
    return out


#: Where nas ``bayesian``'s time per proposal goes and why Optuna's GPSampler spends less: from
#: cProfile runs of Branin@40 and BraninCurrin@60 on the machine of 2026-11-22 (one core).
BAYESIAN_OVERHEAD_NOTE = """\
Where `bayesian`'s time goes (one core): without pending points (every sequential proposal, the
first of a batch) it takes the analytic path of `nas/searchers/_bo_analytic.py`: the MAP fit of
the GP in numpy with analytic gradients, warm-started from the hyperparameters the previous
model proposal recorded in its trial (`info["gp_params"]`, so a resumed study starts from the
same point), then LogEI (one objective) or the closed-form 2-D LogEHVI over the staircase cells
of the current front (two objectives; one decomposition per proposal), evaluated with
hand-written gradients on 2048 Sobol + perturbed candidates in one vectorised pass; independent
L-BFGS-B runs (interleaved with greenlet, one batched evaluation per step) start from the best 10
and from the best observed points. BoTorch's Monte-Carlo qLogNEI / qLogNEHVI (about 3.7 ms and
10 ms per evaluation, plus about 90 ms of box decompositions for two objectives) remain for
proposals with pending points, more than two objectives, or `acquisition: mc`."""

#: History sizes of the scaling measurement, and proposals timed at each.
SCALING_SIZES = (500, 1000)
SCALING_QUICK_SIZES = (60, 120)
SCALING_PROPOSALS = 3


def _scaling_history(n: int) -> list[tuple[dict[str, float], float]]:
    """``n`` uniformly random Hartmann6 points and values (seed 0), the same for both libraries."""
    from nas.benchmarks.functions import hartmann6

    rng = np.random.default_rng(0)
    points = rng.random((n, 6))
    return [
        ({f"x{i}": float(v) for i, v in enumerate(row)}, float(hartmann6(row))) for row in points
    ]


def scaling(quick: bool) -> list[tuple[int, list[float], list[float], int | None]]:
    """Milliseconds per proposal of nas ``bayesian`` and Optuna ``GPSampler`` after a history
    of ``n`` random Hartmann6 trials: ``SCALING_PROPOSALS`` proposals in a row, each evaluated
    and added to the history before the next (so both warm-start their kernel parameters from
    the second one on). Direct calls (nas ``Searcher.propose``, Optuna ``study.ask``): no
    storage in the numbers. Returns ``(n, nas ms, optuna ms, rows nas fitted)`` per size."""
    import optuna

    from nas._types import FrozenTrial, Objective, TrialState
    from nas.benchmarks.functions import SPACES, hartmann6
    from nas.searchers import create_searcher
    from nas.space import SearchSpace

    space = SearchSpace.from_dict(SPACES["hartmann6"])
    objectives = (Objective("value", "minimize"),)
    dists = {f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(6)}
    out = []
    for n in SCALING_QUICK_SIZES if quick else SCALING_SIZES:
        data = _scaling_history(n)
        history = [
            FrozenTrial(
                trial_id=k + 1, number=k, state=TrialState.COMPLETE, params=p, values={"value": v}
            )
            for k, (p, v) in enumerate(data)
        ]
        searcher = create_searcher("bayesian", space, objectives, 0)
        ours: list[float] = []
        n_fit = None
        for _ in range(SCALING_PROPOSALS):
            t0 = time.perf_counter()
            (prop,) = searcher.propose(history, 1)
            ours.append(1000 * (time.perf_counter() - t0))
            n_fit = prop.info.get("n_fit", n)
            value = float(hartmann6([prop.params[f"x{i}"] for i in range(6)]))
            history.append(
                FrozenTrial(
                    trial_id=len(history) + 1,
                    number=len(history),
                    state=TrialState.COMPLETE,
                    params=prop.params,
                    values={"value": value},
                    system_attrs=dict(prop.info),
                )
            )
        study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
        study.add_trials(
            [optuna.trial.create_trial(params=p, distributions=dists, value=v) for p, v in data]
        )
        theirs: list[float] = []
        for _ in range(SCALING_PROPOSALS):
            t0 = time.perf_counter()
            trial = study.ask(dists)
            theirs.append(1000 * (time.perf_counter() - t0))
            study.tell(trial, float(hartmann6([trial.params[f"x{i}"] for i in range(6)])))
        out.append((n, ours, theirs, n_fit))
        console.log(
            f"scaling n={n}: nas {', '.join(f'{t:.0f}' for t in ours)} ms; "
            f"GPSampler {', '.join(f'{t:.0f}' for t in theirs)} ms"
        )
    return out


def scaling_report(rows: Sequence[tuple[int, list[float], list[float], int | None]]) -> list[str]:
    """The markdown of the scaling measurement."""
    table = markdown_table(
        [
            "history (trials)",
            "nas `bayesian` ms/proposal",
            "rows fitted",
            "Optuna `GPSampler` ms/proposal",
        ],
        [
            [
                str(n),
                " / ".join(f"{t:.0f}" for t in ours),
                str(n_fit),
                " / ".join(f"{t:.0f}" for t in theirs),
            ]
            for n, ours, theirs, n_fit in rows
        ],
    )
    return [
        "",
        "### Scaling: one proposal after a long history (Hartmann6)",
        "",
        f"{SCALING_PROPOSALS} proposals in a row after a history of uniformly random Hartmann6 "
        "trials (seed 0, the same for both), each evaluated and added before the next; direct "
        "calls (nas `Searcher.propose`, Optuna `study.ask`), no storage. The first proposal fits "
        "the GP from scratch, the next ones warm-start it. nas fits its GP on at most "
        "`max_train` (default 300) rows: the best half by value and a seeded uniform draw of "
        "the rest; GPSampler fits on every trial.",
        "",
        table,
    ]


BOHB_REPLAY_NOTE = (
    "Decisions, not just outcomes: `tests/searchers_tests/test_bohb_hpbandster.py` feeds the "
    "same histories to HpBandSter's BOHB config generator and to nas `bohb` and checks after "
    "every result that both use a model of the same budget (switching to a larger budget at "
    "the same result), the same good and bad sets, the same KDE bandwidths, the same "
    "acquisition l(x)/g(x) and the same pick among the same candidates. On continuous spaces "
    "such as this one, the random streams are the only difference (numpy's global generator "
    "there, a seeded one here). With categorical parameters nas deviates on purpose: the "
    "Aitchison-Aitken bandwidth is capped at (c-1)/c and the kernel uses the parameter's c "
    "choices, where statsmodels counts only the choices present in the set (its kernel then "
    "does not sum to one)."
)


def _line_named(group: Sequence[Line], start: str) -> Line | None:
    return next((v for v in group if v.name.startswith(start) and len(v.results) >= 5), None)


def mf_comparisons(group: Sequence[Line]) -> list[str]:
    """BOHB's regret against its reference and its ablation, with the seed spread.

    Runs of two searchers are independent (one seed each, different random streams), so the
    test is Mann-Whitney's (two-sided) on the per-seed regrets; ``P(ours < theirs)`` is its
    common-language effect size (0.5 = parity). Needs 5 seeds per line.
    """
    from scipy.stats import mannwhitneyu

    bohb = _line_named(group, "nas `bohb`")
    if bohb is None:
        return []
    rows = []
    others = (
        ("HpBandSter `BOHB`", "the reference"),
        ("nas `hyperband`", "the ablation: the same brackets, random configurations"),
        ("nas `random`", "the floor: random full-budget configurations"),
    )
    for start, role in others:
        other = _line_named(group, start)
        if other is None:
            continue
        a, b = bohb.values("quality"), other.values("quality")
        res = mannwhitneyu(a, b, alternative="two-sided")
        share = float(res.statistic) / (len(a) * len(b))
        rows.append(
            [
                f"{bohb.name.split(' (')[0]} vs {other.name.split(' (')[0]} ({role})",
                f"{median(a):.4f} vs {median(b):.4f}",
                f"{median(a) - median(b):+.4f}",
                f"{1 - share:.2f}",
                f"{res.pvalue:.3g}",
            ]
        )
    if not rows:
        return []
    headers = ["Comparison", "Median regret", "Difference", "P(bohb lower)", "Mann-Whitney p"]
    out = [
        "",
        f"Regret of nas `bohb` against the others, {len(bohb.results)} seeds each (independent "
        "runs: Mann-Whitney U, two-sided; *P(bohb lower)* = the share of seed pairs where bohb's "
        "regret is the lower one, 0.5 = parity):",
        "",
        markdown_table(headers, rows),
    ]
    return out + _block_medians(group) + ["", BOHB_REPLAY_NOTE]


def _block_medians(group: Sequence[Line], block: int = 5) -> list[str]:
    """How far a median over ``block`` seeds moves: the medians of consecutive seed blocks."""
    complete = [v for v in group if v.results and not v.errors]
    n = min((len(v.results) for v in complete), default=0)
    if n < 2 * block or any(len(v.results) != n for v in complete):
        return []
    k = n // block
    spans = []
    for v in complete:
        q = v.values("quality")
        meds = [median(q[i * block : (i + 1) * block]) for i in range(k)]
        spans.append(f"{v.name.split(' (')[0]} {min(meds):.2f} to {max(meds):.2f}")
    return [
        "",
        f"How much a {block}-seed median moves: over the {k} consecutive blocks of {block} seeds "
        f"of this run, the median regret ranges {'; '.join(spans)}.",
    ]


def report(
    lines: Sequence[Line],
    selected: Sequence[Problem],
    seeds: Sequence[int],
    quick: bool,
    seconds: float,
    scaling_rows: Sequence[tuple[int, list[float], list[float], int | None]] = (),
) -> str:
    """The markdown body of the section (also printed to stdout)."""
    n = len(seeds)
    sizes = ", ".join(
        f"{p.title} {(p.quick_size if quick else p.size):g}"
        + (" full evaluations of budget" if p.kind == "multi-fidelity" else " evaluations")
        for p in selected
    )
    parts = [
        f"Seeds {', '.join(map(str, seeds))}; sizes: {sizes}. Medians and interquartile "
        f"ranges (25th-75th percentile) over the seeds. Total run time {seconds:.0f} s."
        + (" **Smoke-test sizes (--quick): not a measurement.**" if quick else ""),
        "",
        "How it is measured (details in the docstring of `benchmarks/searchers.py`): nas runs on "
        "a fresh SQLite file per run through `nas.create_study` + `study.optimize`; Optuna on "
        "in-memory studies; HpBandSter with its Pyro4 name server and one worker thread on "
        "127.0.0.1 in the same process (serializer: pickle). *Overhead* = loop wall time minus "
        "time in the objective, per evaluation; *searcher* = time in nas `Searcher.propose`, in "
        "the Optuna sampler hooks, or in HpBandSter's config generator (`get_config` + "
        "`new_result`); *rest* = the difference: nas SQLite storage + loop, Optuna in-memory "
        "storage + loop, HpBandSter Pyro4 round trips + dispatcher (as measured). Imports and the "
        "first GP fits are paid by an untimed warm-up. Every searcher "
        "runs with its defaults except the options shown. Optuna `GPSampler` runs with its "
        "defaults (`deterministic_objective=False`).",
    ]
    kinds: list[tuple[Kind, str, str]] = [
        (
            "single",
            "Single objective",
            "Regret = best value found - known minimum (lower is better).",
        ),
        (
            "multi-fidelity",
            "Multi-fidelity",
            f"`hartmann6_mf`: fidelity = budget in `[1/{1 / MF_MIN_BUDGET:.0f}, "
            f"{MF_MAX_BUDGET:g}]`, eta {MF_ETA}, evaluation cost taken proportional to the "
            "budget. Each run's evaluations are taken in completion order and cut where the "
            "summed budget would pass the total (*budget used*, in full evaluations; HpBandSter "
            "runs whole iterations, the fewest that reach the total, and its evaluations past "
            "the cut are timed but not scored). Regret = full-fidelity Hartmann6 of the best "
            "evaluation at the highest budget within the cut, minus the minimum. Overhead is "
            "per evaluation, all budgets counted; HpBandSter's includes its Pyro4 round trips.",
        ),
        (
            "multi-objective",
            "Multi-objective",
            "Hypervolume (higher is better) of all evaluations, exact, for the reference points "
            + ", ".join(f"{p.title} {p.reference}" for p in selected if p.reference)
            + ". nas `evolution` and Optuna `NSGAIISampler` both use population "
            + f"{NSGA_POPULATION}.",
        ),
    ]
    for kind, heading, note in kinds:
        group = [v for v in lines if v.problem.kind == kind]
        if not group:
            continue
        parts += ["", f"### {heading}", "", note, "", results_table(group, kind, n)]
        if kind == "multi-fidelity":
            parts += mf_comparisons(group)
        missing = not_in_table(group)
        if missing:
            parts += ["", "Not in the table:", "", *missing]
        errors = [f"- {v.problem.title} / {v.name}, {e}" for v in group for e in v.errors]
        if errors:
            parts += ["", "Runs that raised (not counted):", "", *errors]
    checks = verdicts(lines, selected)
    parts += ["", "### Goals of issue 3, checked on this run's medians", ""]
    for c in checks:
        mark = {"met": "met", "missed": "**missed**", "not measured": "not measured"}[c.status]
        shown = c.why if c.status == "not measured" else ""  # a miss's why is in the next list
        parts.append(f"- {c.text} — {mark}" + (f" ({shown})" if shown else ""))
    parts += ["", "### Where we lose and why", ""]
    losses = [f"- {c.text}: {c.why}." for c in checks if c.status == "missed"]
    losses += [f"- {s}." for s in other_losses(lines, selected, checks)]
    unmeasured = [c for c in checks if c.status == "not measured"]
    if losses:
        parts += losses
    else:
        parts.append("- No goal missed and no reference ahead on median quality in this run.")
    if unmeasured:
        parts.append(
            f"- Not measured ({len(unmeasured)} goal(s)): "
            + "; ".join(sorted({c.why for c in unmeasured}))
            + "."
        )
    parts += ["", BAYESIAN_OVERHEAD_NOTE]
    if scaling_rows:
        parts += scaling_report(scaling_rows)
    from nas.searchers import searcher_names

    parts += [
        "",
        f"nas searchers registered in this run: {', '.join(f'`{n}`' for n in searcher_names())}. "
        "MAP (Pareto/MAP on the model-merging study) is measured by `benchmarks/map_merge.py` in "
        "its own section of this file.",
    ]
    return "\n".join(parts) + "\n"


# ============================================================================ main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    all_problems = problems()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"seeds 0 .. N-1 per line (default {DEFAULT_SEEDS}; 1 with --quick)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated problems to run, of: {', '.join(all_problems)} (default: all)",
    )
    parser.add_argument(
        "--no-scaling",
        dest="scaling",
        action="store_false",
        help="skip the 500/1000-trial proposal timing of bayesian vs GPSampler (about a minute)",
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = 1 if args.quick else DEFAULT_SEEDS
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.only is None:
        args.problems = list(all_problems.values())
    else:
        names = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in names if s not in all_problems]
        if unknown or not names:
            parser.error(
                f"--only: unknown problem(s) {unknown or args.only!r}; "
                f"valid: {', '.join(all_problems)}"
            )
        args.problems = [all_problems[s] for s in dict.fromkeys(names)]
    if args.docs is None:
        args.docs = not args.quick
    if args.docs and (args.quick or args.seeds < MIN_DOC_SEEDS):
        parser.error(
            f"--docs needs full sizes and --seeds >= {MIN_DOC_SEEDS} (got --seeds "
            f"{args.seeds}{', --quick' if args.quick else ''}); add --no-docs"
        )
    return args


def docs_section(args: argparse.Namespace) -> tuple[str, str]:
    """The section of docs/benchmarks.md a run writes: the whole table without ``--only``,
    else one of its own per problem set (e.g. ``searchers-quality-hartmann6_mf`` for more
    seeds on one problem), so that a focused run never overwrites the full one."""
    if args.only is None:
        return SECTION, TITLE
    keys = [p.key for p in args.problems]
    titles = ", ".join(p.title for p in args.problems)
    return f"{SECTION}-{'-'.join(keys)}", f"Searchers on {titles}: {args.seeds} seeds"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    lines = make_lines(args.problems)
    seeds = list(range(args.seeds))
    workdir = Path(tempfile.mkdtemp(prefix="nas-bench-searchers-quality-", dir=args.workdir))
    t0 = time.perf_counter()
    try:
        warm_up(lines, workdir)
        run_all(lines, args.problems, seeds, args.quick, workdir)
        scaling_rows = scaling(args.quick) if args.scaling else []
    finally:
        if args.keep:
            console.log(f"DB files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    body = report(lines, args.problems, seeds, args.quick, time.perf_counter() - t0, scaling_rows)
    print("\n" + body, flush=True)
    if args.docs:
        section, title = docs_section(args)
        update_section(section, title, body)
        console.log(f"rewrote section {section!r} of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
