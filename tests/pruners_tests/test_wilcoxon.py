"""``wilcoxon``: paired tests against the best COMPLETE trial, and Optuna's decisions."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from nas._types import Objective
from nas.pruners import create_pruner
from nas.pruners._wilcoxon import signed_rank_p_value

LOSS = (Objective("loss", "minimize"),)
BASE = [0.3, 0.9, 0.5, 0.7, 0.2, 0.8, 0.4, 0.6, 0.1, 1.0]  # per-instance difficulty


def _best(make_trial, number=0, shift=0.0):
    curve = [v + shift for v in BASE]
    return make_trial(number, curve, value=float(np.mean(curve)))


def test_prunes_a_clearly_worse_trial_and_keeps_an_equal_one(make_trial) -> None:
    pruner = create_pruner("wilcoxon", LOSS)
    history = [_best(make_trial)]
    worse = make_trial(1, [v + 0.1 for v in BASE[:8]], "RUNNING")
    reason = pruner.prune(worse, history)
    assert reason is not None and "best trial 0" in reason and "8 common" in reason
    equal = make_trial(1, BASE[:8], "RUNNING")
    assert pruner.prune(equal, history) is None
    better = make_trial(1, [v - 0.1 for v in BASE[:8]], "RUNNING")
    assert pruner.prune(better, history) is None


def test_compares_with_the_best_complete_trial_only(make_trial) -> None:
    pruner = create_pruner("wilcoxon", LOSS)
    trial = make_trial(5, [v + 0.1 for v in BASE[:8]], "RUNNING")
    # Only a worse COMPLETE trial, and far better non-COMPLETE ones: nothing to prune against.
    history = [
        _best(make_trial, 0, shift=0.5),
        make_trial(1, [v - 1 for v in BASE], "PRUNED"),
        make_trial(2, [v - 1 for v in BASE], "RUNNING"),
    ]
    assert pruner.prune(trial, history) is None
    # The best of several COMPLETE trials (by final value) is the reference.
    history.append(_best(make_trial, 3))
    assert pruner.prune(trial, history) is not None


def test_steps_are_instances_matched_exactly(make_trial) -> None:
    pruner = create_pruner("wilcoxon", LOSS)
    history = [make_trial(0, {s: BASE[s] for s in range(0, 10, 2)}, value=0.4)]
    # Reported at odd steps only: no common instance, no test (no value_at carrying).
    odd = make_trial(1, {s: BASE[s] + 1 for s in range(1, 10, 2)}, "RUNNING")
    assert pruner.prune(odd, history) is None


def test_startup_steps(make_trial) -> None:
    history = [_best(make_trial)]
    worse = [v + 0.1 for v in BASE]
    pruner = create_pruner("wilcoxon", LOSS, options={"n_startup_steps": 6, "p_threshold": 0.5})
    assert pruner.prune(make_trial(1, worse[:5], "RUNNING"), history) is None
    assert pruner.prune(make_trial(1, worse[:6], "RUNNING"), history) is not None
    # Never fewer than 2 paired values, whatever n_startup_steps says.
    eager = create_pruner("wilcoxon", LOSS, options={"n_startup_steps": 0, "p_threshold": 1.0})
    assert eager.prune(make_trial(1, worse[:1], "RUNNING"), history) is None
    assert eager.prune(make_trial(1, worse[:2], "RUNNING"), history) is not None


def test_safety_rule_keeps_a_trial_whose_average_is_not_worse(make_trial) -> None:
    # The best trial's average over all its instances is 0.55; a trial that is worse on every
    # common instance but did only the easy ones so far has a lower average: kept.
    history = [_best(make_trial)]
    easy = [0, 4, 8]  # difficulties 0.3, 0.2, 0.1
    trial = make_trial(1, {s: BASE[s] + 0.05 for s in easy}, "RUNNING")
    loose = create_pruner("wilcoxon", LOSS, options={"p_threshold": 1.0})
    assert loose.prune(trial, history) is None
    hard = make_trial(1, {s: BASE[s] + 0.05 for s in (1, 5, 9)}, "RUNNING")
    assert loose.prune(hard, history) is not None


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize(("p_threshold", "n_startup_steps"), [(0.1, 2), (0.3, 4), (0.05, 0)])
def test_same_decisions_as_optuna(optuna_parity, direction, p_threshold, n_startup_steps) -> None:
    rng = np.random.default_rng(n_startup_steps)
    difficulty = rng.uniform(0, 1, 12)
    curves = []
    for _ in range(16):
        values = difficulty + rng.uniform(-0.3, 0.3) + rng.normal(0, 0.1, 12)
        if direction == "maximize":
            values = -values
        order = rng.permutation(12)  # instances reported in any order
        curves.append({int(s): float(values[s]) for s in order})
    ours = create_pruner(
        "wilcoxon",
        (Objective("loss", direction),),
        options={"p_threshold": p_threshold, "n_startup_steps": n_startup_steps},
    )
    theirs = optuna.pruners.WilcoxonPruner(
        p_threshold=p_threshold, n_startup_steps=n_startup_steps
    )
    records = optuna_parity(theirs, ours, curves, direction, final=lambda v: float(np.mean(v)))
    assert [r for r in records if r[2] != r[3]] == []
    assert {r[2] for r in records} == {True, False}


def test_p_value_with_ties_and_zeros_is_scipys() -> None:
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(0)
    tied = 0
    for _ in range(40):
        n = int(rng.integers(2, 10))  # SciPy's enumeration is slow beyond
        d = rng.integers(-3, 4, n) * rng.choice([0.1, 1.0, 1e-9])
        tied += len(np.unique(np.abs(d))) < n
        expected = wilcoxon(d, alternative="greater", zero_method="zsplit").pvalue
        assert signed_rank_p_value(d) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert tied > 25
    d = np.array([0.3, 0.1, -0.2, 0.5, 0.4, 0.25])  # no ties: SciPy's exact distribution
    assert (
        signed_rank_p_value(d) == wilcoxon(d, alternative="greater", zero_method="zsplit").pvalue
    )
