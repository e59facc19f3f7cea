"""``median`` and ``percentile``: constructed curves, and Optuna's decisions replayed."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from nas._types import Objective
from nas.pruners import create_pruner

LOSS = (Objective("loss", "minimize"),)


def _history(make_trial, n=5):
    # Five COMPLETE trials: at step s trial i reports i + 1 - 0.1 s (median at step s: 3 - 0.1 s).
    return [make_trial(i, [i + 1 - 0.1 * s for s in range(10)]) for i in range(n)]


def test_median_prunes_a_curve_above_all_others_and_keeps_one_below(make_trial) -> None:
    pruner = create_pruner("median", LOSS)
    history = _history(make_trial)
    above = make_trial(5, [9.0, 8.5, 8.0], "RUNNING")
    below = make_trial(6, [0.5, 0.4, 0.3], "RUNNING")
    reason = pruner.prune(above, [*history, above])
    assert reason is not None and "step 2" in reason and "2.8" in reason  # the median there
    assert pruner.prune(below, [*history, below]) is None


def test_median_compares_the_best_value_so_far_not_the_last(make_trial) -> None:
    pruner = create_pruner("median", LOSS)
    history = _history(make_trial)
    # The last value 4.0 is above the median 2.8 at step 2, but the best so far (0.1) is not.
    trial = make_trial(5, [0.1, 3.9, 4.0], "RUNNING")
    assert pruner.prune(trial, history) is None
    worse = make_trial(5, [3.0, 3.9, 4.0], "RUNNING")
    assert pruner.prune(worse, history) is not None


def test_the_boundary_value_is_kept(make_trial) -> None:
    pruner = create_pruner("median", LOSS)
    history = _history(make_trial)
    assert pruner.prune(make_trial(5, [2.8 + 1e-9, 2.9, 2.8], "RUNNING"), history) is None


def test_startup_counts_complete_trials_only(make_trial) -> None:
    pruner = create_pruner("median", LOSS, options={"n_startup_trials": 5})
    four = _history(make_trial, 4)
    others = [
        make_trial(10 + i, [0.0] * 10, state) for i, state in enumerate(["PRUNED", "FAILED"])
    ]
    trial = make_trial(20, [9.0, 9.0, 9.0], "RUNNING")
    assert pruner.prune(trial, [*four, *others]) is None
    assert pruner.prune(trial, [*four, make_trial(4, [5.0] * 10)]) is not None


def test_only_complete_trials_are_compared_against(make_trial) -> None:
    pruner = create_pruner("median", LOSS, options={"n_startup_trials": 1})
    history = [make_trial(0, [1.0] * 10)]
    # Pruned and running trials far better than the trial do not move the median.
    history += [make_trial(i, [-5.0] * 10, "PRUNED") for i in range(1, 6)]
    assert pruner.prune(make_trial(9, [0.5, 0.5], "RUNNING"), history) is None


def test_warmup_interval_and_min_trials(make_trial) -> None:
    history = _history(make_trial)
    bad = [9.0] * 8
    warm = create_pruner("median", LOSS, options={"n_warmup_steps": 3})
    assert warm.prune(make_trial(5, bad[:3], "RUNNING"), history) is None  # last step 2
    assert warm.prune(make_trial(5, bad[:4], "RUNNING"), history) is not None
    every3 = create_pruner("median", LOSS, options={"n_warmup_steps": 1, "interval_steps": 3})
    due = [
        every3.prune(make_trial(5, bad[: s + 1], "RUNNING"), history) is not None for s in range(8)
    ]
    assert due == [False, True, False, False, True, False, False, True]
    # A check step that was not reported (4) is made at the next report (6).
    sparse = make_trial(5, {0: 9.0, 3: 9.0, 6: 9.0}, "RUNNING")
    assert every3.prune(sparse, history) is not None
    min_trials = create_pruner("median", LOSS, options={"n_min_trials": 6})
    assert min_trials.prune(make_trial(5, bad[:3], "RUNNING"), history) is None


def test_value_at_compares_trials_reporting_every_other_step(make_trial) -> None:
    # Complete trials reported at even steps only: at step 3 their value at step 2 counts.
    history = [make_trial(i, {s: float(i) for s in range(0, 10, 2)}) for i in range(5)]
    pruner = create_pruner("median", LOSS)
    assert pruner.prune(make_trial(5, [9.0, 9.0, 9.0, 9.0], "RUNNING"), history) is not None
    # ... but not a trial that never got to step 3.
    short = [make_trial(i, {0: float(i), 2: float(i)}) for i in range(5)]
    assert pruner.prune(make_trial(5, [9.0] * 4, "RUNNING"), short) is None


@pytest.mark.parametrize(
    ("percentile", "pruned"),
    [(0.0, [0, 1, 2, 3, 4]), (25.0, [1, 2, 3, 4]), (60.0, [2, 3, 4]), (100.0, [4])],
)
def test_percentile_cuts_where_numpy_puts_the_percentile(make_trial, percentile, pruned) -> None:
    history = [make_trial(i, [float(i)] * 3) for i in range(5)]  # values 0..4 at every step
    pruner = create_pruner("percentile", LOSS, options={"percentile": percentile})
    # Trial v reports v + 0.5: pruned when that is above the percentile (60th: 2.4).
    got = [v for v in range(5) if pruner.prune(make_trial(9, [v + 0.5] * 3, "RUNNING"), history)]
    assert got == pruned


def _random_curves(rng, n_trials=24, n_steps=12):
    curves = []
    for _ in range(n_trials):
        level, drop, tau = rng.uniform(0, 1), rng.uniform(0.2, 2), rng.uniform(1, 6)
        steps = np.arange(n_steps)
        curves.append(list(level + drop * np.exp(-steps / tau) + rng.normal(0, 0.05, n_steps)))
    return curves


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize(
    ("percentile", "options"),
    [
        (50.0, {}),
        (50.0, {"n_startup_trials": 2, "n_warmup_steps": 2, "interval_steps": 3}),
        (30.0, {"n_startup_trials": 3, "n_min_trials": 4}),
        (80.0, {"n_startup_trials": 0, "interval_steps": 2}),
    ],
)
def test_same_decisions_as_optuna(optuna_parity, direction, percentile, options) -> None:
    rng = np.random.default_rng(int(percentile) + len(options))
    curves = _random_curves(rng)
    if direction == "maximize":
        curves = [[-v for v in c] for c in curves]
    ours = create_pruner(
        "percentile",
        (Objective("loss", direction),),
        options={"percentile": percentile, **options},
    )
    theirs = optuna.pruners.PercentilePruner(percentile, **options)
    records = optuna_parity(theirs, ours, curves, direction)
    assert [r for r in records if r[2] != r[3]] == []
    assert {r[2] for r in records} == {True, False}  # both decisions were exercised


def test_median_same_decisions_as_optuna(optuna_parity) -> None:
    curves = _random_curves(np.random.default_rng(7))
    ours = create_pruner("median", LOSS, options={"n_startup_trials": 3})
    records = optuna_parity(
        optuna.pruners.MedianPruner(n_startup_trials=3), ours, curves, "minimize"
    )
    assert [r for r in records if r[2] != r[3]] == []
    assert {r[2] for r in records} == {True, False}
