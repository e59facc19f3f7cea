"""Pruners on learning curves: every nas pruner vs no pruning vs Optuna's pruners.

Written to the ``pruners`` section of ``docs/benchmarks.md``. Tabular, LCBench-style: for each
seed the same ``--trials`` configurations are drawn once per task and each one's whole curve is
computed once (deterministic training, seeded by the seed and the configuration's index); every
arm -- nas with each pruner, Optuna with each of its pruners, no pruning -- then gets the same
configurations in the same order (nas ``study.enqueue``, Optuna ``study.enqueue_trial``) and an
objective that *replays* the stored curve step by step: ``report``, ``should_prune``, raise
``TrialPruned`` when told. The arms are therefore exactly paired, and a pruner's only effect is
which trials it stops where.

Tasks (nothing is downloaded; every data set ships inside scikit-learn):

* ``digits-mlp`` -- an MLP (``sklearn.neural_network.MLPClassifier``, Adam, 1-2 hidden layers,
  log learning rate, widths, L2 ``alpha``, batch size) trained on ``load_digits`` epoch by
  epoch (``partial_fit``), 30 epochs; value = validation error after each epoch (stratified
  75/25 split drawn per seed, standardised on the training part).
* ``cancer-gb`` -- gradient boosting (``GradientBoostingClassifier``: learning rate, depth,
  subsample, leaf size, feature fraction) on ``load_breast_cancer``, the boosting stages as
  steps (``staged_predict_proba``), 50 stages; value = validation log-loss after each stage
  (it can rise again: fast learners overfit).
* ``cancer-svm-folds`` -- an RBF SVM (``C``, ``gamma``) scored by 10-fold stratified
  cross-validation, the folds as steps (value = the fold's validation hinge loss, final value
  = their mean). Steps are instances here, not time: the shape ``wilcoxon`` is made for, so
  only ``wilcoxon`` (nas and Optuna) runs on it; the learning-curve pruners run on the other
  two, where ``wilcoxon``'s paired test across steps would compare epochs of one run.
* ``digits-mlp`` again with two objectives -- validation error per epoch and the network's
  size (thousands of weights, fixed per configuration) -- for nas's ``pareto`` pruner. Optuna
  cannot prune a multi-objective study (``Trial.report`` raises ``NotImplementedError``; the
  script checks it in the installed Optuna and prints what it got).

Every pruner gets the task's warm-up as its earliest decision (``n_warmup_steps``, or
``min_resource`` for the halving pruners; :func:`curve_arms`), Optuna's twin the same options.

Metrics, per arm and seed: compute (steps consumed, summed over trials), best final value
(the best value at the final step among the trials that completed; a pruned trial has no final
value), regret vs no pruning, and the pruned *would-be incumbents* (pruned trials whose final
value beats every trial completed before them). The ceiling is no pruning (every
configuration trained fully).
Two floors, both free to compute from the stored curves:

* *budget-matched*: no pruning with the compute the pruner spent -- the expected best final
  value of ``k = spent / steps`` configurations drawn at random from the same ``N`` and trained
  fully (exact expectation over the subsets, fractional ``k`` interpolated linearly);
* *shuffled* (random pruning): the pruner's own stopping steps given to random trials -- same
  compute, same number of completed trials, so its value is the expected best of a random
  subset of that many configurations.

A pruner that does not beat the budget-matched floor would have done better spending its
compute on fewer, fully trained configurations. Paired statistics across seeds: mean
difference, 95% bootstrap interval (10 000 resamples of the seeds), Wilcoxon signed-rank p.

nas vs Optuna: each pair of same-named pruners (same options) runs independently (compute,
quality, wall time, time per ``should_prune``). Where the two runs stop every trial at the same
step, every decision was taken on identical histories and agreed; where they differ, the pair
runs once more in *lockstep* -- one trial at a time in both libraries through ask/tell, both
asked at every step, nas's decision applied to both -- so every decision is compared on an
identical history (the share of identical decisions). For ``hyperband`` the lockstep run also
judges each trial with nas's successive-halving rule inside *Optuna's* bracket of the trial,
to tell the bracket draw (which differs by design) from the rule.

Usage::

    python benchmarks/pruners.py --seeds 10 --trials 60   # full run, rewrites the docs section
    python benchmarks/pruners.py --quick                   # smoke test, docs untouched

With ``--workdir DIR`` the curves are cached in ``DIR`` and reused by later runs (the replays
and the statistics are then all that runs).
"""

from __future__ import annotations

import argparse
import binascii
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_common_arguments, markdown_table, mean_sd, update_section

import nas
from nas.benchmarks.digits import mlp_n_params
from nas.pareto import hypervolume, pareto_mask
from nas.space import CategoricalParam, FloatParam, IntParam, SearchSpace

if TYPE_CHECKING:
    import optuna

SECTION = "pruners"
TITLE = "Pruners on learning curves: nas pruners vs no pruning vs Optuna"
#: Bootstrap resamples of the seeds for the 95% intervals.
N_BOOT = 10_000
#: Random subsets drawn for the multi-objective floors (hypervolume has no closed form).
N_SUBSETS = 400
#: The reduction factor of successive halving and hyperband.
ETA = 3
#: Version of the curve computations (part of the cache file names under --workdir).
CURVES_VERSION = 1


# ---------------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class Task:
    """One tabular benchmark: a space, how many steps, how its curves are computed.

    Attributes:
        name: short name (tables, cache files).
        unit: what a step is (``epochs``, ``stages``, ``folds``).
        metric: what the value is (lower is better).
        steps: steps of a full trial; reported as ``1 .. steps``.
        space: the search space (nas dict form).
        curves: ``curves(configs, seed) -> (len(configs), steps)`` values.
        folds: steps are instances (final value = their mean) rather than a learning curve
            (final value = the last step's).
        warmup: the warm-up given to the pruners that take one (``n_warmup_steps``).
        threshold: the ``threshold`` pruner's ``upper`` bound (a user's a-priori "hopeless
            after the warm-up"), ``None`` where it does not run.
    """

    name: str
    unit: str
    metric: str
    steps: int
    space: dict[str, Any]
    curves: Callable[[Sequence[Mapping[str, Any]], int], np.ndarray]
    folds: bool = False
    warmup: int = 0
    threshold: float | None = None

    def final(self, values: np.ndarray) -> np.ndarray:
        """Final value of every row of ``values`` (``(n, steps)``)."""
        return values.mean(axis=1) if self.folds else values[:, -1]


def _blas_one_thread() -> Any:
    """A context pinning BLAS to one thread (deterministic sums, no oversubscription)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _split(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """Stratified 75/25 split drawn by ``seed``, standardised on the training part."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(x_tr)
    return scaler.transform(x_tr), scaler.transform(x_va), y_tr, y_va


def digits_mlp_curves(configs: Sequence[Mapping[str, Any]], seed: int) -> np.ndarray:
    """Validation error after each of :data:`DIGITS_EPOCHS` epochs (``partial_fit``)."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = _split(x, y, seed)
    classes = np.unique(y_tr)
    out = np.empty((len(configs), DIGITS_EPOCHS))
    with _blas_one_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i, p in enumerate(configs):
            widths = [int(p["width_1"])] + ([int(p["width_2"])] if p["n_layers"] == 2 else [])
            model = MLPClassifier(
                hidden_layer_sizes=tuple(widths),
                learning_rate_init=float(p["learning_rate_init"]),
                alpha=float(p["alpha"]),
                batch_size=int(p["batch_size"]),
                random_state=1000 * seed + i,
            )
            for epoch in range(DIGITS_EPOCHS):
                model.partial_fit(x_tr, y_tr, classes=classes)
                out[i, epoch] = float(np.mean(model.predict(x_va) != y_va))
    return out


def cancer_gb_curves(configs: Sequence[Mapping[str, Any]], seed: int) -> np.ndarray:
    """Validation log-loss after each of :data:`GB_STAGES` boosting stages."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import log_loss

    x, y = load_breast_cancer(return_X_y=True)
    x_tr, x_va, y_tr, y_va = _split(x, y, seed)
    out = np.empty((len(configs), GB_STAGES))
    with _blas_one_thread():
        for i, p in enumerate(configs):
            model = GradientBoostingClassifier(
                n_estimators=GB_STAGES,
                learning_rate=float(p["learning_rate"]),
                max_depth=int(p["max_depth"]),
                subsample=float(p["subsample"]),
                min_samples_leaf=int(p["min_samples_leaf"]),
                max_features=float(p["max_features"]),
                random_state=1000 * seed + i,
            ).fit(x_tr, y_tr)
            for stage, proba in enumerate(model.staged_predict_proba(x_va)):
                out[i, stage] = float(log_loss(y_va, proba, labels=[0, 1]))
    return out


def cancer_svm_folds(configs: Sequence[Mapping[str, Any]], seed: int) -> np.ndarray:
    """Validation hinge loss of each of :data:`SVM_FOLDS` stratified folds."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = load_breast_cancer(return_X_y=True)
    folds = list(StratifiedKFold(SVM_FOLDS, shuffle=True, random_state=seed).split(x, y))
    out = np.empty((len(configs), SVM_FOLDS))
    with _blas_one_thread():
        for i, p in enumerate(configs):
            for f, (tr, va) in enumerate(folds):
                model = make_pipeline(
                    StandardScaler(), SVC(C=float(p["C"]), gamma=float(p["gamma"]))
                ).fit(x[tr], y[tr])
                margin = (2 * y[va] - 1) * model.decision_function(x[va])
                out[i, f] = float(np.mean(np.maximum(0.0, 1.0 - margin)))
    return out


DIGITS_EPOCHS = 30
GB_STAGES = 50
SVM_FOLDS = 10

DIGITS = Task(
    "digits-mlp",
    "epochs",
    "validation error",
    DIGITS_EPOCHS,
    {
        "params": {
            "n_layers": {"type": "int", "low": 1, "high": 2},
            "width_1": {"type": "int", "low": 8, "high": 256, "log": True},
            "width_2": {
                "type": "int",
                "low": 8,
                "high": 256,
                "log": True,
                "condition": {"parent": "n_layers", "in": [2]},
            },
            "learning_rate_init": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "alpha": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
            "batch_size": {"type": "categorical", "choices": [16, 32, 64, 128, 256]},
        }
    },
    digits_mlp_curves,
    warmup=3,
    threshold=0.5,
)
CANCER_GB = Task(
    "cancer-gb",
    "stages",
    "validation log-loss",
    GB_STAGES,
    {
        "params": {
            "learning_rate": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
            "max_depth": {"type": "int", "low": 1, "high": 6},
            "subsample": {"type": "float", "low": 0.3, "high": 1.0},
            "min_samples_leaf": {"type": "int", "low": 1, "high": 50, "log": True},
            "max_features": {"type": "float", "low": 0.1, "high": 1.0},
        }
    },
    cancer_gb_curves,
    warmup=5,
    threshold=0.6,
)
CANCER_SVM = Task(
    "cancer-svm-folds",
    "folds",
    "10-fold CV hinge loss",
    SVM_FOLDS,
    {
        "params": {
            "C": {"type": "float", "low": 1e-2, "high": 1e3, "log": True},
            "gamma": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        }
    },
    cancer_svm_folds,
    folds=True,
)
TASKS = (DIGITS, CANCER_GB, CANCER_SVM)
#: The multi-objective task's second objective: the network's weights, in thousands.
MO_OBJECTIVES = {"error": "minimize", "kparams": "minimize"}
#: Its hypervolume reference point: the region worth keeping on digits -- error below 20%
#: (chance is 90%) and fewer than 30 000 weights (the space spans 0.6k to 86k). Hypervolumes
#: are reported as a share of this box (the origin to the reference point), in %.
MO_REF = (0.2, 30.0)
MO_BOX = MO_REF[0] * MO_REF[1]


@dataclass
class TaskData:
    """One seed's configurations of a task and their stored curves."""

    task: Task
    seed: int
    configs: list[dict[str, Any]]
    values: np.ndarray  # (N, steps)

    @property
    def final(self) -> np.ndarray:
        return self.task.final(self.values)

    @property
    def kparams(self) -> np.ndarray:
        """Thousands of weights per configuration (``digits-mlp`` only)."""
        return np.array(
            [
                mlp_n_params([c["width_1"]] + ([c["width_2"]] if c["n_layers"] == 2 else []))
                / 1000.0
                for c in self.configs
            ]
        )


def load_task(task: Task, seed: int, n: int, cache: Path | None) -> TaskData:
    """Draw ``n`` configurations of ``task`` for ``seed`` and compute (or read) their curves."""
    space = SearchSpace.from_dict(task.space, source=task.name)
    rng = np.random.default_rng([seed, TASKS.index(task)])
    configs = [space.sample(rng) for _ in range(n)]
    path = None if cache is None else cache / f"{task.name}-{seed}-{n}-v{CURVES_VERSION}.npy"
    if path is not None and path.exists():
        values = np.load(path)
    else:
        values = task.curves(configs, seed)
        if path is not None:
            np.save(path, values)
    return TaskData(task, seed, configs, values)


# ----------------------------------------------------------------------------------- arms
@dataclass(frozen=True)
class Arm:
    """A line of the tables: no pruning, a nas pruner or an Optuna pruner.

    Attributes:
        label: shown in the tables.
        nas: the nas pruner spec (``None`` for Optuna arms and for no pruning in Optuna).
        optuna: builds the Optuna pruner (``None`` for nas arms).
        twin: the label of the same-named pruner of the other library (nas arms only).
        reference: a no-pruning line (the ceiling), not judged against the floors.
    """

    label: str
    nas: dict[str, Any] | None = None
    optuna: Callable[[], optuna.pruners.BasePruner] | None = None
    twin: str | None = None
    reference: bool = False

    @property
    def library(self) -> str:
        return "optuna" if self.optuna is not None else "nas"


def curve_arms(task: Task) -> list[Arm]:
    """The arms of a learning-curve task, nas's and Optuna's with matching options.

    Every pruner gets the task's warm-up ``w`` as its earliest decision: ``n_warmup_steps=w``
    (median, percentile, patient's wrapped median, threshold), ``min_resource=w`` (first rung of
    successive halving and of hyperband's most aggressive bracket), ``min_steps=max(4, w)``
    (curve). Median-type pruners wait for 5 complete trials (Optuna's default).
    """
    import optuna.pruners as op

    w, t = task.warmup, task.steps
    median = {"n_startup_trials": 5, "n_warmup_steps": w}
    halving = {"min_resource": w, "reduction_factor": ETA}
    assert task.threshold is not None
    threshold = {"upper": task.threshold, "n_warmup_steps": w}
    return [
        Arm("none", {}, reference=True),
        Arm("Optuna none (NopPruner)", optuna=op.NopPruner, reference=True),
        Arm("nas median", {"name": "median", "options": median}, twin="Optuna MedianPruner"),
        Arm(
            "nas percentile 25",
            {"name": "percentile", "options": {"percentile": 25.0, **median}},
            twin="Optuna PercentilePruner 25",
        ),
        Arm(
            "nas successive_halving",
            {"name": "successive_halving", "options": {**halving, "min_early_stopping_rate": 0}},
            twin="Optuna SuccessiveHalvingPruner",
        ),
        Arm(
            "nas hyperband",
            {"name": "hyperband", "options": {**halving, "max_resource": t}},
            twin="Optuna HyperbandPruner",
        ),
        Arm(
            "nas patient(median)",
            {
                "name": "patient",
                "options": {"patience": 3, "wrapped": {"name": "median", "options": median}},
            },
            twin="Optuna PatientPruner(Median)",
        ),
        Arm(
            "nas threshold",
            {"name": "threshold", "options": threshold},
            twin="Optuna ThresholdPruner",
        ),
        Arm("nas curve", {"name": "curve", "options": {"max_step": t, "min_steps": max(4, w)}}),
        Arm("Optuna MedianPruner", optuna=lambda: op.MedianPruner(5, w)),
        Arm("Optuna PercentilePruner 25", optuna=lambda: op.PercentilePruner(25.0, 5, w)),
        Arm(
            "Optuna SuccessiveHalvingPruner",
            optuna=lambda: op.SuccessiveHalvingPruner(
                min_resource=w, reduction_factor=ETA, min_early_stopping_rate=0
            ),
        ),
        Arm(
            "Optuna HyperbandPruner",
            optuna=lambda: op.HyperbandPruner(
                min_resource=w, max_resource=t, reduction_factor=ETA
            ),
        ),
        Arm(
            "Optuna PatientPruner(Median)",
            optuna=lambda: op.PatientPruner(op.MedianPruner(5, w), patience=3),
        ),
        Arm(
            "Optuna ThresholdPruner",
            optuna=lambda: op.ThresholdPruner(upper=threshold["upper"], n_warmup_steps=w),
        ),
    ]


def fold_arms() -> list[Arm]:
    """The arms of the instance-shaped task: ``wilcoxon`` in both libraries."""
    import optuna.pruners as op

    options = {"p_threshold": 0.1, "n_startup_steps": 2}
    return [
        Arm("none", {}, reference=True),
        Arm("Optuna none (NopPruner)", optuna=op.NopPruner, reference=True),
        Arm(
            "nas wilcoxon", {"name": "wilcoxon", "options": options}, twin="Optuna WilcoxonPruner"
        ),
        Arm(
            "Optuna WilcoxonPruner",
            optuna=lambda: op.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2),
        ),
    ]


def mo_arms() -> list[Arm]:
    """The arms of the two-objective task (nas only)."""
    warm = {"n_warmup_steps": DIGITS.warmup}
    return [
        Arm("none", {}, reference=True),
        Arm("nas pareto (defaults: rank 1)", {"name": "pareto", "options": {}}),
        Arm("nas pareto rank 1, warm-up 3", {"name": "pareto", "options": warm}),
        Arm(
            "nas pareto margin 0.05, warm-up 3",
            {"name": "pareto", "options": {**warm, "margin": 0.05}},
        ),
        Arm(
            "nas pareto percentile 50, warm-up 3",
            {"name": "pareto", "options": {**warm, "percentile": 50.0}},
        ),
        Arm(
            "nas median on error alone",
            {"name": "median", "options": {"objective": "error", "n_startup_trials": 5, **warm}},
        ),
    ]


def available(arm: Arm, mo: bool = False) -> bool:
    """Whether ``arm``'s pruner can be built in this nas (one not written yet is skipped)."""
    if not arm.nas:
        return True
    from nas.pruners import create_pruner

    names = MO_OBJECTIVES if mo else {"value": "minimize"}
    objectives = [nas.Objective(n, d) for n, d in names.items()]  # type: ignore[arg-type]
    try:
        create_pruner(arm.nas["name"], objectives, 0, arm.nas.get("options"))
    except ImportError:
        return False
    return True


# -------------------------------------------------------------------------------- running
@dataclass
class Run:
    """What one arm did on one seed's task.

    Attributes:
        steps: steps consumed by each trial (``(N,)``).
        complete: whether each trial completed (``(N,)``); a trial pruned at the final step
            consumed every step but has no final value.
        wall: seconds of the whole optimisation (enqueue to the last trial stored).
        decide: seconds inside ``should_prune``; ``n_decide`` calls.
    """

    steps: np.ndarray
    complete: np.ndarray
    wall: float
    decide: float
    n_decide: int


def _replay(
    values: np.ndarray,
    report: Callable[[int, int], None],
    should_prune: Callable[[], bool],
    clock: list[float],
    out_steps: np.ndarray,
    i: int,
) -> bool:
    """Replay row ``i`` of ``values``: report step ``s = 1..`` and ask; ``True`` if pruned."""
    for s in range(1, values.shape[1] + 1):
        report(i, s)
        t0 = time.perf_counter()
        prune = should_prune()
        clock[0] += time.perf_counter() - t0
        clock[1] += 1
        out_steps[i] = s
        if prune:
            return True
    return False


def run_nas(data: TaskData, arm: Arm, mo: bool = False) -> Run:
    """One nas study (in-memory SQLite) replaying ``data`` under ``arm``'s pruner."""
    objectives = MO_OBJECTIVES if mo else {"value": "minimize"}
    study = nas.create_study(
        f"{data.task.name}-{arm.label}-{data.seed}",
        data.task.space,
        objectives,
        storage="sqlite://",
        seed=data.seed,
        pruner=arm.nas or None,
    )
    n = len(data.configs)
    steps = np.zeros(n, dtype=np.int64)
    complete = np.zeros(n, dtype=bool)
    clock = [0.0, 0]
    kparams = data.kparams if mo else None
    final = data.final

    def objective(trial: nas.Trial) -> float | dict[str, float]:
        i = trial.number
        if trial.params != data.configs[i]:
            raise RuntimeError(f"trial {i} got {trial.params}, enqueued {data.configs[i]}")

        def report(i: int, s: int) -> None:
            v = float(data.values[i, s - 1])
            if kparams is not None:
                trial.report(s, {"error": v, "kparams": float(kparams[i])})
            else:
                trial.report(s, v)

        if _replay(data.values, report, trial.should_prune, clock, steps, i):
            raise nas.TrialPruned()
        complete[i] = True
        if kparams is not None:
            return {"error": float(final[i]), "kparams": float(kparams[i])}
        return float(final[i])

    t0 = time.perf_counter()
    for params in data.configs:
        study.enqueue(params)
    study.optimize(objective, n_trials=n)
    wall = time.perf_counter() - t0
    states = [t.state for t in study.trials]
    if states != [nas.TrialState.COMPLETE if c else nas.TrialState.PRUNED for c in complete]:
        raise RuntimeError(f"{arm.label}: stored states disagree with the replay: {states}")
    study.storage.dispose()
    return Run(steps, complete, wall, clock[0], int(clock[1]))


def _suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Suggest every active parameter of ``space`` (enqueued values come back)."""
    out: dict[str, Any] = {}
    for p in space.params:
        if not space.is_active(p.name, out):
            continue
        if isinstance(p, FloatParam):
            out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        elif isinstance(p, IntParam):
            out[p.name] = trial.suggest_int(p.name, p.low, p.high, log=p.log)
        elif isinstance(p, CategoricalParam):
            out[p.name] = trial.suggest_categorical(p.name, list(p.choices))  # type: ignore[arg-type]
        else:
            raise TypeError(f"{p.name}: no Optuna suggestion for a {p.kind} parameter")
    return out


def run_optuna(data: TaskData, arm: Arm) -> Run:
    """One Optuna study (its default in-memory storage) replaying ``data``."""
    import optuna

    assert arm.optuna is not None
    space = SearchSpace.from_dict(data.task.space, source=data.task.name)
    study = optuna.create_study(
        study_name=f"{data.task.name}-{data.seed}",
        pruner=arm.optuna(),
        sampler=optuna.samplers.RandomSampler(seed=data.seed),
    )
    n = len(data.configs)
    steps = np.zeros(n, dtype=np.int64)
    complete = np.zeros(n, dtype=bool)
    clock = [0.0, 0]
    final = data.final

    def objective(trial: optuna.Trial) -> float:
        i = trial.number
        params = _suggest(trial, space)
        if params != data.configs[i]:
            raise RuntimeError(f"trial {i} got {params}, enqueued {data.configs[i]}")

        def report(i: int, s: int) -> None:
            trial.report(float(data.values[i, s - 1]), s)

        if _replay(data.values, report, trial.should_prune, clock, steps, i):
            raise optuna.TrialPruned()
        complete[i] = True
        return float(final[i])

    t0 = time.perf_counter()
    for params in data.configs:
        study.enqueue_trial(params)
    study.optimize(objective, n_trials=n)
    wall = time.perf_counter() - t0
    states = [t.state for t in study.trials]
    expected = [
        optuna.trial.TrialState.COMPLETE if c else optuna.trial.TrialState.PRUNED for c in complete
    ]
    if states != expected:
        raise RuntimeError(f"{arm.label}: stored states disagree with the replay: {states}")
    return Run(steps, complete, wall, clock[0], int(clock[1]))


@dataclass
class Lockstep:
    """Decisions of a nas pruner and its Optuna twin on identical histories.

    Attributes:
        agree: decisions equal; ``nas_only``: nas pruned, Optuna would not; ``optuna_only``:
            the reverse (decisions of a trial up to the first step either prunes at).
        trials_agree, trials_total: trials both stopped at the same step (or both completed).
        examples: a few ``(trial, step, nas reason or None)`` of the disagreements.
        emulated_agree, emulated_total: ``hyperband`` only -- Optuna's decisions reproduced by
            nas's successive-halving rule when the trials are split into Optuna's brackets
            (:func:`optuna_bracket`) instead of nas's.
    """

    agree: int = 0
    nas_only: int = 0
    optuna_only: int = 0
    examples: list[tuple[int, int, str | None]] = field(default_factory=list)
    emulated_agree: int = 0
    emulated_total: int = 0
    trials_agree: int = 0
    trials_total: int = 0

    @property
    def total(self) -> int:
        return self.agree + self.nas_only + self.optuna_only


def optuna_bracket(study_name: str, number: int, n_brackets: int, eta: int) -> int:
    """The bracket Optuna 5's ``HyperbandPruner`` puts trial ``number`` in (its
    ``_get_bracket_id``: CRC32 of ``"<study name>_<number>"`` modulo the total allocation
    budget, walked bracket by bracket; budgets ``ceil(n_brackets * eta**s / (s + 1))``)."""
    budgets = [math.ceil(n_brackets * eta**s / (s + 1)) for s in range(n_brackets - 1, -1, -1)]
    r = binascii.crc32(f"{study_name}_{number}".encode()) % sum(budgets)
    for bracket, budget in enumerate(budgets):
        r -= budget
        if r < 0:
            return bracket
    raise AssertionError("unreachable: r < sum(budgets)")


def _emulator(
    data: TaskData, spec: Mapping[str, Any], study_name: str
) -> Callable[[int, Sequence[nas.FrozenTrial]], bool]:
    """nas's successive-halving rule over Optuna's hyperband brackets: ``f(i, history)`` is
    whether trial ``i`` is pruned when it competes with the trials of its Optuna bracket."""
    from nas.pruners import create_pruner

    opts = spec["options"]
    lo, hi, eta = (
        int(opts["min_resource"]),
        int(opts["max_resource"]),
        int(opts["reduction_factor"]),
    )
    n_brackets = math.floor(math.log(hi / lo, eta)) + 1  # Optuna's formula
    objectives = [nas.Objective("value", "minimize")]
    rules = [
        create_pruner(
            "successive_halving",
            objectives,
            data.seed,
            {"min_resource": lo, "reduction_factor": eta, "min_early_stopping_rate": b},
        )
        for b in range(n_brackets)
    ]
    brackets = [optuna_bracket(study_name, i, n_brackets, eta) for i in range(len(data.configs))]

    def prune(i: int, history: Sequence[nas.FrozenTrial]) -> bool:
        me = next(t for t in history if t.number == i)
        mates = [t for t in history if brackets[t.number] == brackets[i]]
        return rules[brackets[i]].prune(me, mates) is not None

    return prune


def lockstep(data: TaskData, nas_arm: Arm, optuna_arm: Arm) -> Lockstep:
    """Run both libraries one trial at a time (ask/tell) on ``data``, ask both pruners at
    every step, and apply nas's decision to both studies: their histories stay identical, so
    every decision is compared on the same input."""
    import optuna

    assert optuna_arm.optuna is not None
    study = nas.create_study(
        f"lockstep-{data.task.name}-{nas_arm.label}-{data.seed}",
        data.task.space,
        {"value": "minimize"},
        storage="sqlite://",
        seed=data.seed,
        pruner=nas_arm.nas,
    )
    study_name = f"{data.task.name}-{data.seed}"
    ostudy = optuna.create_study(study_name=study_name, pruner=optuna_arm.optuna())
    assert nas_arm.nas is not None
    emulate = (
        _emulator(data, nas_arm.nas, study_name) if nas_arm.nas["name"] == "hyperband" else None
    )
    out = Lockstep()
    final = data.final
    for params in data.configs:
        study.enqueue(params)
    for i in range(len(data.configs)):
        trial = study.ask()
        otrial = ostudy.ask()
        assert trial is not None and trial.number == otrial.number == i
        pruned = False
        # Decisions are compared up to the first step either library prunes at: after that
        # the trial lives on (nas's decision) where Optuna would have stopped it, and Optuna's
        # later answers are about a trial it never runs. Optuna is still asked at every step,
        # so it records the rung values a trial that got that far has in an Optuna run.
        judging = True
        same = True
        for s in range(1, data.values.shape[1] + 1):
            v = float(data.values[i, s - 1])
            trial.report(s, v)
            otrial.report(v, s)
            a, b = trial.should_prune(), otrial.should_prune()
            if judging:
                if a == b:
                    out.agree += 1
                else:
                    same = False
                    if a:
                        out.nas_only += 1
                    else:
                        out.optuna_only += 1
                    if len(out.examples) < 3:
                        out.examples.append((i, s, trial.prune_reason))
                if emulate is not None:
                    out.emulated_agree += emulate(i, study.trials) == b
                    out.emulated_total += 1
                judging = not (a or b)
            if a:
                pruned = True
                break
        out.trials_agree += same
        out.trials_total += 1
        if pruned:
            study.tell(trial, state="PRUNED")
            ostudy.tell(otrial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, float(final[i]))
            ostudy.tell(otrial, float(final[i]))
    study.storage.dispose()
    return out


def optuna_multi_objective_check() -> str:
    """What the installed Optuna does when a multi-objective trial reports (one line)."""
    import optuna

    study = optuna.create_study(directions=["minimize", "minimize"])
    trial = study.ask()
    got = []
    for call in (lambda: trial.report(0.5, 1), trial.should_prune):
        try:
            call()
            got.append("no error")
        except Exception as e:  # reporting whatever it raises is the point
            got.append(f"{type(e).__name__}: {str(e).rstrip('.')}")
    return (
        f"Optuna {optuna.__version__}, two-objective study: `trial.report` -> {got[0]}; "
        f"`trial.should_prune` -> {got[1]}"
    )


# --------------------------------------------------------------------------------- floors
def expected_best(final: np.ndarray, k: float) -> float:
    """Expected best (lowest) of ``k`` values drawn without replacement from ``final``:
    exact, ``P(min = v_(j)) = C(N - j, k - 1) / C(N, k)`` over the sorted values (1-based
    ``j``); a fractional ``k`` interpolates linearly, ``k < 1`` counts as 1."""
    v = np.sort(np.asarray(final, dtype=float))
    n = len(v)

    def at(kk: int) -> float:
        kk = min(max(kk, 1), n)
        total = math.comb(n, kk)
        return float(sum(math.comb(n - 1 - j, kk - 1) * v[j] for j in range(n - kk + 1)) / total)

    k = min(max(k, 1.0), float(n))
    lo = math.floor(k)
    frac = k - lo
    return at(lo) if frac == 0 else (1 - frac) * at(lo) + frac * at(lo + 1)


def expected_hv(points: np.ndarray, k: float, rng: np.random.Generator) -> float:
    """Monte-Carlo expected hypervolume (reference :data:`MO_REF`) of ``k`` rows drawn at
    random from ``points`` (``floor(k)`` or ``floor(k) + 1`` rows, so the mean size is ``k``)."""
    n = len(points)
    k = min(max(k, 1.0), float(n))
    lo = math.floor(k)
    total = 0.0
    for _ in range(N_SUBSETS):
        size = min(lo + int(rng.random() < k - lo), n)
        rows = rng.choice(n, size=size, replace=False)
        total += hypervolume(points[rows], MO_REF)
    return 100.0 * total / N_SUBSETS / MO_BOX


# ------------------------------------------------------------------------------- results
@dataclass
class Outcome:
    """One arm on one seed, scored.

    Attributes:
        compute: steps spent, as a share of no pruning's.
        completed: trials that completed.
        best: best final value (lower is better); for the MO task the hypervolume in % of the
            reference box (higher is better).
        floor_budget, floor_shuffled: the two floors (module docstring), same unit as ``best``.
        wall: seconds of the run; ``us_per_decision``: mean microseconds per ``should_prune``.
        pruned: trials pruned.
        lost: pruned trials that would have mattered: single objective, those whose final value
            beats every trial completed before them (they would have become the incumbent);
            MO task, members of no pruning's Pareto front (of the final vectors).
        steps: steps consumed by each trial.
    """

    compute: float
    completed: int
    best: float
    floor_budget: float
    floor_shuffled: float
    wall: float
    us_per_decision: float
    pruned: int
    lost: int
    steps: np.ndarray
    front: int = 0


def score(data: TaskData, run: Run, rng: np.random.Generator, mo: bool = False) -> Outcome:
    """Compute, quality and both floors of ``run``."""
    total = data.values.size
    spent = float(run.steps.sum())
    k_budget = spent / data.task.steps
    n_done = int(run.complete.sum())
    final = data.final
    if mo:
        points = np.column_stack([final, data.kparams])
        hv = float(hypervolume(points[run.complete], MO_REF)) if n_done else 0.0
        best = 100.0 * hv / MO_BOX
        floor_budget = expected_hv(points, k_budget, rng)
        floor_shuffled = expected_hv(points, float(n_done), rng)
        on_front = pareto_mask(points)
        lost = int(np.sum(on_front & ~run.complete))
    else:
        best = float(final[run.complete].min()) if n_done else math.inf
        floor_budget = expected_best(final, k_budget)
        floor_shuffled = expected_best(final, float(n_done))
        incumbent, lost = math.inf, 0
        for i in range(len(final)):  # trials run one after the other, in number order
            if run.complete[i]:
                incumbent = min(incumbent, float(final[i]))
            else:
                lost += int(final[i] < incumbent)
    return Outcome(
        spent / total,
        n_done,
        best,
        floor_budget,
        floor_shuffled,
        run.wall,
        1e6 * run.decide / max(run.n_decide, 1),
        len(final) - n_done,
        lost,
        run.steps,
        int(on_front.sum()) if mo else 0,
    )


@dataclass(frozen=True)
class Paired:
    """Paired differences across seeds: mean, 95% bootstrap interval, Wilcoxon p, signs."""

    mean: float
    lo: float
    hi: float
    p: float
    better: int  # seeds where the difference favours the arm
    worse: int
    n: int

    def cell(self, digits: int = 4) -> str:
        return f"{self.mean:+.{digits}f} [{self.lo:+.{digits}f}, {self.hi:+.{digits}f}]"


def paired(d: Sequence[float], rng: np.random.Generator, higher_better: bool = False) -> Paired:
    """:class:`Paired` of the per-seed differences ``d`` (arm minus reference)."""
    from scipy.stats import wilcoxon

    x = np.asarray(d, dtype=float)
    means = rng.choice(x, size=(N_BOOT, len(x)), replace=True).mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    p = float(wilcoxon(x).pvalue) if len(x) > 1 and np.any(x != 0) else 1.0
    good = x > 0 if higher_better else x < 0
    bad = x < 0 if higher_better else x > 0
    return Paired(
        float(x.mean()), float(lo), float(hi), p, int(good.sum()), int(bad.sum()), len(x)
    )


# -------------------------------------------------------------------------------- driver
#: (task name, arm label) -> per-seed outcomes; lockstep results by (task, nas label).
Results = dict[tuple[str, str], list[Outcome]]


def run_task(
    data: TaskData,
    arms: Sequence[Arm],
    results: Results,
    locks: dict[tuple[str, str], Lockstep],
    rng: np.random.Generator,
    mo: bool = False,
    key: str | None = None,
) -> None:
    """Run every arm on one seed's ``data`` (order reversed on odd seeds) and, for every nas
    arm with an Optuna twin whose run differs from the twin's, the lockstep comparison."""
    key = key or data.task.name
    order = list(arms) if data.seed % 2 == 0 else list(reversed(arms))
    runs: dict[str, Run] = {}
    for arm in order:
        run = run_nas(data, arm, mo=mo) if arm.library == "nas" else run_optuna(data, arm)
        runs[arm.label] = run
        out = score(data, run, rng, mo=mo)
        results.setdefault((key, arm.label), []).append(out)
        print(
            f"{key} seed {data.seed} {arm.label}: compute {out.compute:.1%}, "
            f"{out.completed} complete, best {out.best:.5g}, {out.wall:.2f} s",
            flush=True,
        )
    labels = {a.label: a for a in arms}
    for arm in arms:
        if arm.twin is None or arm.twin not in labels:
            continue
        mine, theirs = runs[arm.label], runs[arm.twin]
        if np.array_equal(mine.steps, theirs.steps) and np.array_equal(
            mine.complete, theirs.complete
        ):
            # Identical runs: by induction over the trials every history was identical and
            # every decision equal -- the lockstep run would replay exactly these.
            n = len(mine.steps)
            lk = Lockstep(agree=int(mine.steps.sum()), trials_agree=n, trials_total=n)
        else:
            lk = lockstep(data, arm, labels[arm.twin])
        acc = locks.setdefault((key, arm.label), Lockstep())
        acc.agree += lk.agree
        acc.nas_only += lk.nas_only
        acc.optuna_only += lk.optuna_only
        acc.emulated_agree += lk.emulated_agree
        acc.emulated_total += lk.emulated_total
        acc.trials_agree += lk.trials_agree
        acc.trials_total += lk.trials_total
        room = 3 - len(acc.examples)
        acc.examples.extend((data.seed * 10_000 + t, s, r) for t, s, r in lk.examples[:room])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 .. N-1 (>= 5 for docs)")
    parser.add_argument("--trials", type=int, default=60, help="configurations per seed and task")
    args = parser.parse_args(argv)
    docs = args.docs if args.docs is not None else not args.quick
    if args.quick:
        args.seeds, args.trials = min(args.seeds, 2), min(args.trials, 16)
    if docs and args.seeds < 5:
        parser.error("--docs needs --seeds >= 5")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    cache = None
    if args.workdir is not None:
        cache = Path(args.workdir)
        cache.mkdir(parents=True, exist_ok=True)
    mo_check = optuna_multi_objective_check()
    print(mo_check, flush=True)

    t_start = time.perf_counter()
    results: Results = {}
    locks: dict[tuple[str, str], Lockstep] = {}
    arms_of = {
        DIGITS.name: [a for a in curve_arms(DIGITS) if available(a)],
        CANCER_GB.name: [a for a in curve_arms(CANCER_GB) if available(a)],
        CANCER_SVM.name: [a for a in fold_arms() if available(a)],
        "digits-mlp-mo": [a for a in mo_arms() if available(a, mo=True)],
    }
    skipped = sorted(
        {a.label for a in [*curve_arms(DIGITS), *fold_arms()] if not available(a)}
        | {a.label for a in mo_arms() if not available(a, mo=True)}
    )
    if skipped:
        print(f"not available in this nas (skipped): {', '.join(skipped)}", flush=True)
    curve_seconds: dict[str, float] = {}
    for seed in range(args.seeds):
        rng = np.random.default_rng([seed, 7])
        for task in TASKS:
            t0 = time.perf_counter()
            data = load_task(task, seed, args.trials, cache)
            curve_seconds[task.name] = curve_seconds.get(task.name, 0.0) + time.perf_counter() - t0
            run_task(data, arms_of[task.name], results, locks, rng)
            if task is DIGITS:
                mo = arms_of["digits-mlp-mo"]
                run_task(data, mo, results, locks, rng, mo=True, key="digits-mlp-mo")
    elapsed = time.perf_counter() - t_start
    body = report(args, arms_of, results, locks, mo_check, skipped, curve_seconds, elapsed)
    print("\n" + body)
    if docs:
        update_section(SECTION, TITLE, body)
    return 0


# -------------------------------------------------------------------------------- report
def _lost(r: Sequence[Outcome]) -> str:
    """``lost / pruned`` summed over the seeds, with the share."""
    lost, pruned = sum(o.lost for o in r), sum(o.pruned for o in r)
    return f"{lost}/{pruned}" + (f" ({100 * lost / pruned:.1f}%)" if pruned else "")


def _verdict(p: Paired, higher_better: bool = False) -> str:
    """The arm against a floor from the interval of ``arm - floor``."""
    good, bad = (p.lo > 0, p.hi < 0) if higher_better else (p.hi < 0, p.lo > 0)
    if good:
        return "beats it"
    if bad:
        return "**loses to it**"
    return "tie (CI spans 0)"


def report(
    args: argparse.Namespace,
    arms_of: Mapping[str, Sequence[Arm]],
    results: Results,
    locks: Mapping[tuple[str, str], Lockstep],
    mo_check: str,
    skipped: Sequence[str],
    curve_seconds: Mapping[str, float],
    elapsed: float,
) -> str:
    """The markdown body of the section."""
    rng = np.random.default_rng(12345)
    seeds = args.seeds
    parts = [
        f"{seeds} seeds (0 .. {seeds - 1}), {args.trials} configurations per seed and task, the "
        "same configurations in the same order for every arm (exact pairing; curves computed "
        "once per seed and replayed, see the script's docstring). Whole run "
        f"{elapsed / 60:.1f} min, of which computing the curves "
        + ", ".join(f"{k} {v:.0f} s" for k, v in curve_seconds.items())
        + ". nas studies use in-memory SQLite (`sqlite://`), Optuna its default in-memory "
        "storage. Wall times include whatever else ran on the machine."
        + (" **Smoke-test sizes (--quick): not a measurement.**" if args.quick else "")
    ]
    if skipped:
        parts.append("Not available in this nas, skipped: " + ", ".join(skipped) + ".")
    parts.append(_setup())
    n_epochs = args.seeds * args.trials * DIGITS.steps
    epoch_ms = 1000 * curve_seconds.get(DIGITS.name, 0.0) / max(n_epochs, 1)
    parts.extend(_summary(arms_of, results, locks, rng, epoch_ms))
    for task in (DIGITS, CANCER_GB, CANCER_SVM):
        parts.extend(_task_report(task, arms_of[task.name], results, locks, rng))
    parts.extend(_mo_report(arms_of["digits-mlp-mo"], results, rng, mo_check))
    return "\n\n".join(parts)


def _setup() -> str:
    """What runs, with which options (static text from the constants)."""
    d, g = DIGITS, CANCER_GB
    return "\n".join(
        [
            "Setup (the script's docstring has the details):",
            "",
            f"* `{d.name}`: sklearn `MLPClassifier` (Adam; 1-2 hidden layers of 8-256, log "
            "learning rate 1e-4..1e-1, `alpha`, batch size) on `load_digits`, trained epoch by "
            f"epoch; value = validation error after each of {d.steps} epochs (stratified "
            "75/25 split drawn per seed).",
            f"* `{g.name}`: `GradientBoostingClassifier` (learning rate, depth, subsample, "
            f"leaf size, feature fraction) on `load_breast_cancer`; value = validation log-loss "
            f"after each of {g.steps} boosting stages (it may rise again: fast learners "
            "overfit).",
            f"* `{CANCER_SVM.name}`: RBF SVM (`C`, `gamma`), {SVM_FOLDS}-fold stratified CV, "
            "the folds as steps (value = the fold's hinge loss, final value their mean): the "
            "instance-shaped objective `wilcoxon` is for; only `wilcoxon` runs there, and it "
            "does not run on the learning curves (its paired test across steps would compare "
            "epochs of one run as if they were instances).",
            "* Options, the same in both libraries: every pruner's earliest decision is the "
            f"task's warm-up w ({d.warmup} epochs, {g.warmup} stages): "
            "median and percentile 25 with `n_startup_trials=5, n_warmup_steps=w`; "
            f"successive halving with `min_resource=w, reduction_factor={ETA}, "
            "min_early_stopping_rate=0`; hyperband with `min_resource=w, max_resource=<steps>, "
            f"reduction_factor={ETA}`; patient with `patience=3` around that median; threshold "
            f"`upper={d.threshold}` (digits error) / `{g.threshold}` (log-loss; the prior's is "
            "0.66) with `n_warmup_steps=w`; curve (nas only) `max_step=<steps>, "
            "min_steps=max(4, w)`, default `probability=0.05`; wilcoxon `p_threshold=0.1, "
            "n_startup_steps=2`.",
            "* Ceiling: no pruning (the best of all configurations). Floors: *budget-matched* "
            "(expected best of `spent / steps` configurations drawn at random and trained "
            "fully: no pruning with the pruner's compute) and *shuffled* (the pruner's own "
            "stopping steps dealt to random trials: same compute, same number completed).",
        ]
    )


def _summary(
    arms_of: Mapping[str, Sequence[Arm]],
    results: Results,
    locks: Mapping[tuple[str, str], Lockstep],
    rng: np.random.Generator,
    epoch_ms: float,
) -> list[str]:
    """The headline table (learning-curve tasks side by side) and the reading;
    ``epoch_ms``: milliseconds per digits epoch while the curves were computed."""
    curve_tasks = (DIGITS, CANCER_GB)
    rows = []
    verdicts: dict[str, list[str]] = {}
    regrets: dict[tuple[str, str], tuple[float, float, int]] = {}
    for arm in arms_of[DIGITS.name]:
        row = [arm.label]
        for task in curve_tasks:
            r = results[(task.name, arm.label)]
            none = results[(task.name, "none")]
            regret = statistics.fmean(o.best - z.best for o, z in zip(r, none, strict=True))
            compute = 100 * statistics.fmean(o.compute for o in r)
            kept = sum(o.best == z.best for o, z in zip(r, none, strict=True))
            regrets[(task.name, arm.label)] = (compute, regret, kept)
            row += [f"{compute:.0f}", f"{regret:+.4f}", f"{kept}/{len(r)}"]
            if arm.reference:
                row.append("-")
                continue
            v = _verdict(paired([o.best - o.floor_budget for o in r], rng))
            row.append(v)
            verdicts.setdefault(v, []).append(f"{arm.label} ({task.name})")
        rows.append(row)
    headers = ["arm"]
    for task in curve_tasks:
        headers += [
            f"{task.name}: {task.unit} %",
            "regret",
            "best kept",
            "vs budget-matched floor",
        ]
    bullets = []
    for task in curve_tasks:
        safe = [
            (c, label)
            for (t, label), (c, _, kept) in regrets.items()
            if t == task.name and label.startswith("nas ") and kept == len(results[(t, "none")])
        ]
        if safe:
            c, label = min(safe)
            bullets.append(
                f"{task.name}: the cheapest nas pruner that kept the best configuration on "
                f"every seed is {label} ({c:.0f}% of the compute)."
            )
        worst = max(
            ((rg, label) for (t, label), (_, rg, _) in regrets.items() if t == task.name),
            default=None,
        )
        if worst is not None and worst[0] > 0:
            bullets.append(
                f"{task.name}: the largest mean regret is {worst[1]}'s ({worst[0]:+.4f})."
            )
    lost = verdicts.get("**loses to it**", [])
    tied = verdicts.get("tie (CI spans 0)", [])
    bullets.append(
        "Against the budget-matched floor -- losing means the compute would have been better "
        "spent training fewer configurations fully: lose: "
        + (", ".join(lost) if lost else "none")
        + "; indistinguishable (interval spans 0): "
        + (", ".join(tied) if tied else "none")
        + "; every other pruner beats it."
    )
    curve_lost = [
        (t.name, sum(o.lost for o in results[(t.name, "nas curve")]))
        for t in curve_tasks
        if (t.name, "nas curve") in results
    ]
    if curve_lost:
        parts = []
        for name, lost_n in curve_lost:
            pruned = sum(o.pruned for o in results[(name, "nas curve")])
            parts.append(f"{lost_n} of {pruned} ({100 * lost_n / max(pruned, 1):.1f}%) on {name}")
        bullets.append(
            "`curve` prunes a trial when its forecast gives it P < 0.05 of ending better than "
            "the best complete trial; of the trials it pruned, "
            + ", ".join(parts)
            + " would in fact have ended better than every trial completed before them "
            "(a calibrated forecast would keep this below about 5%)."
        )
    perfect: dict[str, list[str]] = {}
    partial = []
    for (task_name, label), lk in sorted(locks.items()):
        if lk.total and lk.agree == lk.total:
            perfect.setdefault(label.removeprefix("nas "), []).append(task_name)
        elif lk.total:
            partial.append(
                f"{label} on {task_name} {100 * lk.agree / lk.total:.1f}% of decisions, "
                f"{100 * lk.trials_agree / max(lk.trials_total, 1):.0f}% of trials"
            )
    if perfect or partial:
        bullets.append(
            "Same decision as the Optuna twin on identical histories: "
            + (
                "every decision of "
                + ", ".join(f"{k} ({', '.join(v)})" for k, v in perfect.items())
                if perfect
                else ""
            )
            + ("; " if perfect and partial else "")
            + "; ".join(partial)
            + "."
        )
    emulated = [(name, lk) for (name, _), lk in sorted(locks.items()) if lk.emulated_total]
    if emulated:
        bullets.append(
            "hyperband differs only by its bracket draw (by design: nas draws from the seed and "
            "the trial number, Optuna hashes the study name): inside Optuna's brackets nas's "
            "rule reproduces "
            + ", ".join(
                f"{100 * lk.emulated_agree / lk.emulated_total:.1f}% ({name})"
                for name, lk in emulated
            )
            + " of Optuna's decisions."
        )
    nas_us = [
        o.us_per_decision
        for (task_name, label), r in results.items()
        if label.startswith("nas ") and task_name != "digits-mlp-mo"
        for o in r
    ]
    opt_us = [
        o.us_per_decision
        for (task_name, label), r in results.items()
        if label.startswith("Optuna ") and "NopPruner" not in label
        for o in r
    ]
    curve_us = [
        o.us_per_decision for t in curve_tasks for o in results.get((t.name, "nas curve"), [])
    ]
    thr = [
        o.us_per_decision for t in curve_tasks for o in results.get((t.name, "nas threshold"), [])
    ]
    if nas_us and opt_us:
        bullets.append(
            f"Time per `should_prune` (median over pruners, tasks and seeds): nas "
            f"{statistics.median(nas_us):.0f} µs, Optuna {statistics.median(opt_us):.0f} µs"
            + (f"; nas curve {statistics.median(curve_us) / 1000:.0f} ms" if curve_us else "")
            + (
                f"; nas threshold, which reads nothing but the trial, "
                f"{statistics.median(thr):.0f} µs"
                if thr
                else ""
            )
            + ". A nas `should_prune` reads the study's trials from the database on every call, "
            "whatever the pruner needs (the stored history is what makes every worker decide "
            "the same); on these replayed curves that is the whole cost of a step."
            + (
                f" For scale, an epoch of the digits MLP (training and validation) took "
                f"{epoch_ms:.0f} ms here."
                if epoch_ms >= 1
                else ""
            )
        )
    mo = results.get(("digits-mlp-mo", "none"))
    if mo:
        cells = []
        for arm in arms_of["digits-mlp-mo"]:
            if arm.reference:
                continue
            r = results[("digits-mlp-mo", arm.label)]
            ratio = statistics.fmean(o.best / z.best for o, z in zip(r, mo, strict=True))
            saved = 100 * (1 - statistics.fmean(o.compute for o in r))
            v = _verdict(
                paired([o.best - o.floor_budget for o in r], rng, higher_better=True),
                higher_better=True,
            )
            cells.append(f"{arm.label} saves {saved:.0f}% at {100 * ratio:.1f}% ({v})")
        bullets.append(
            "Two objectives (compute saved, hypervolume in % of no pruning's, against the "
            "budget-matched floor): " + "; ".join(cells) + "."
        )
    return [
        "**Summary** (learning-curve tasks; compute in % of no pruning; regret = mean best "
        "final value minus no pruning's; best kept = seeds where the best configuration "
        "completed; verdict against the budget-matched floor; details below):\n\n"
        + markdown_table(headers, rows),
        "Reading:\n\n" + "\n".join(f"* {b}" for b in bullets),
    ]


def _task_report(
    task: Task,
    arms: Sequence[Arm],
    results: Results,
    locks: Mapping[tuple[str, str], Lockstep],
    rng: np.random.Generator,
) -> list[str]:
    none = results[(task.name, "none")]
    none_best = [o.best for o in none]
    n = len(none)
    out = [
        f"### {task.name}: {task.metric}, {task.steps} {task.unit} per full trial\n\n"
        f"No pruning (the ceiling: every configuration trained fully) reaches "
        f"{mean_sd(none_best, 4)} with {none[0].steps.sum():.0f} {task.unit} per seed."
    ]
    rows = []
    floor_rows = []
    for arm in arms:
        r = results[(task.name, arm.label)]
        best = [o.best for o in r]
        regret = paired([b - a for a, b in zip(none_best, best, strict=True)], rng)
        rows.append(
            [
                arm.label,
                f"{100 * statistics.fmean(o.compute for o in r):.1f}",
                f"{statistics.fmean(o.completed for o in r):.1f}",
                _lost(r),
                mean_sd(best, 4),
                regret.cell(),
                f"{sum(o.best == b for o, b in zip(r, none_best, strict=True))}/{n}",
                f"{statistics.median(o.wall for o in r):.2f}",
                f"{statistics.median(o.us_per_decision for o in r):.0f}",
            ]
        )
        if arm.reference:
            continue
        vs_budget = paired([o.best - o.floor_budget for o in r], rng)
        vs_shuffled = paired([o.best - o.floor_shuffled for o in r], rng)
        floor_rows.append(
            [
                arm.label,
                f"{statistics.fmean(o.floor_budget for o in r):.4f}",
                vs_budget.cell(),
                f"{vs_budget.better}/{vs_budget.worse}/{n}",
                f"{vs_budget.p:.3g}",
                _verdict(vs_budget),
                f"{statistics.fmean(o.floor_shuffled for o in r):.4f}",
                vs_shuffled.cell(),
                f"{vs_shuffled.better}/{vs_shuffled.worse}/{n}",
            ]
        )
    out.append(
        "Compute, quality and regret (mean over seeds; regret = best final value minus no "
        "pruning's on the same seed, 95% bootstrap interval; `= none` counts the seeds where "
        "the pruner kept the best configuration; *pruned would-be incumbents*: pruned trials "
        "whose final value beats every trial completed before them -- they would have become "
        "the best so far --, of all pruned trials, summed over the seeds):\n\n"
        + markdown_table(
            [
                "arm",
                f"{task.unit} spent, % of none",
                "completed trials",
                "pruned would-be incumbents",
                "best final value",
                "regret vs none [95% CI]",
                "= none",
                "s/run (median)",
                "µs per should_prune",
            ],
            rows,
        )
    )
    out.append(
        "Against the floors (difference = arm minus floor, negative = the arm is better; "
        "better/worse/seeds; Wilcoxon p of the budget-matched difference):\n\n"
        + markdown_table(
            [
                "arm",
                "budget-matched floor",
                "arm - floor [95% CI]",
                "better/worse/n",
                "p",
                "verdict",
                "shuffled floor",
                "arm - shuffled [95% CI]",
                "better/worse/n",
            ],
            floor_rows,
        )
    )
    pair_rows = []
    for arm in arms:
        if arm.twin is None or (task.name, arm.twin) not in results:
            continue
        a, b = results[(task.name, arm.label)], results[(task.name, arm.twin)]
        same_trials = sum(int(np.sum(x.steps == y.steps)) for x, y in zip(a, b, strict=True))
        n_trials = sum(len(x.steps) for x in a)
        same_runs = sum(bool(np.array_equal(x.steps, y.steps)) for x, y in zip(a, b, strict=True))
        lk = locks[(task.name, arm.label)]
        pair_rows.append(
            [
                f"{arm.label} vs {arm.twin}",
                f"{100 * same_trials / n_trials:.1f}",
                f"{same_runs}/{len(a)}",
                f"{100 * lk.agree / max(lk.total, 1):.2f} ({lk.total})",
                f"{100 * lk.trials_agree / max(lk.trials_total, 1):.1f}",
                f"{lk.nas_only} / {lk.optuna_only}",
                f"{statistics.median(x.wall for x in a):.2f} / "
                f"{statistics.median(y.wall for y in b):.2f}",
                f"{statistics.median(x.us_per_decision for x in a):.0f} / "
                f"{statistics.median(y.us_per_decision for y in b):.0f}",
            ]
        )
    if pair_rows:
        out.append(
            "nas vs Optuna, same-named pruners with the same options. Independent runs: trials "
            "stopped at the same step, seeds whose runs are identical. On identical histories "
            "(lockstep; identical runs count as such): decisions that agree (of a trial's "
            "decisions up to the first step either library prunes at), trials stopped at the "
            "same step, disagreements by side. Then time:\n\n"
            + markdown_table(
                [
                    "pair",
                    "same stop step, % trials",
                    "identical runs",
                    "same decision, % (decisions)",
                    "same stop step, % trials (lockstep)",
                    "nas-only / Optuna-only prunes",
                    "s/run nas / Optuna",
                    "µs per should_prune nas / Optuna",
                ],
                pair_rows,
            )
        )
        notes = []
        for arm in arms:
            found = locks.get((task.name, arm.label))
            if found is not None and found.emulated_total:
                notes.append(
                    f"* {arm.label}: the brackets are drawn differently (nas: from the seed and "
                    "the trial number; Optuna: CRC32 of the study name and the trial number). "
                    "Splitting the trials into *Optuna's* brackets and judging each with nas's "
                    "`successive_halving` rule (its bracket's `min_early_stopping_rate`) "
                    f"reproduces {100 * found.emulated_agree / found.emulated_total:.2f}% of "
                    f"Optuna's {found.emulated_total} lockstep decisions."
                )
            if found is not None and found.examples:
                ex = "; ".join(
                    f"seed {code // 10_000} trial {code % 10_000} step {s}: nas "
                    + (f"pruned ({r})" if r else "kept it")
                    for code, s, r in found.examples
                )
                notes.append(f"* {arm.label}: {ex}")
        if notes:
            out.append("Where they differ (first lockstep disagreements):\n\n" + "\n".join(notes))
    return out


def _mo_report(
    arms: Sequence[Arm], results: Results, rng: np.random.Generator, mo_check: str
) -> list[str]:
    key = "digits-mlp-mo"
    none = results[(key, "none")]
    n = len(none)
    rows = []
    for arm in arms:
        r = results[(key, arm.label)]
        hv = [o.best for o in r]
        ratio = [o.best / z.best for o, z in zip(r, none, strict=True)]
        vs_budget = paired([o.best - o.floor_budget for o in r], rng, higher_better=True)
        rows.append(
            [
                arm.label,
                f"{100 * (1 - statistics.fmean(o.compute for o in r)):.1f}",
                f"{statistics.fmean(o.completed for o in r):.1f}",
                f"{sum(o.lost for o in r)}/{sum(o.front for o in r)}",
                mean_sd(hv, 2),
                f"{statistics.fmean(ratio):.4f} (min {min(ratio):.4f})",
                f"{statistics.fmean(o.floor_budget for o in r):.2f}",
                "-" if arm.reference else vs_budget.cell(2),
                "-" if arm.reference else f"{vs_budget.better}/{vs_budget.worse}/{n}",
                "-" if arm.reference else _verdict(vs_budget, higher_better=True),
                f"{statistics.fmean(o.floor_shuffled for o in r):.2f}",
                f"{statistics.median(o.wall for o in r):.2f}",
            ]
        )
    return [
        "### digits-mlp, two objectives: validation error and thousands of weights\n\n"
        f"The same configurations and curves as `digits-mlp`; objectives (error, kparams), both "
        f"minimised; hypervolume of the completed trials' final vectors, reference point "
        f"{MO_REF} (error 20%, 30k weights; points beyond it count nothing), in % of the "
        "box from the origin to it. "
        "The floors are Monte-Carlo expectations over "
        f"{N_SUBSETS} random subsets: budget-matched (as many full trainings as the compute "
        "spent) and shuffled (as many completed trials). Optuna has no counterpart: "
        f"{mo_check}.",
        markdown_table(
            [
                "arm",
                "compute saved, %",
                "completed trials",
                "front members pruned / front size",
                "hypervolume, % of box",
                "HV / none's (mean, min)",
                "budget-matched floor HV",
                "arm - floor [95% CI]",
                "better/worse/n",
                "verdict",
                "shuffled floor HV",
                "s/run (median)",
            ],
            rows,
        ),
    ]


if __name__ == "__main__":
    sys.exit(main())
