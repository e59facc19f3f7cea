"""``successive_halving`` and ``hyperband``: rungs on constructed curves, the bracket draw,
and Optuna's successive-halving decisions replayed."""

from __future__ import annotations

from collections import Counter

import numpy as np
import optuna
import pytest

from nas._types import Objective
from nas.pruners import create_pruner
from nas.pruners._halving import hyperband_budgets

LOSS = (Objective("loss", "minimize"),)


def _sh(**options):
    return create_pruner("successive_halving", LOSS, options=options)


def _reached(make_trial, values, state="COMPLETE", steps=2, first=0):
    """Trials numbered from ``first`` whose value at every step is ``values[i]``."""
    return [make_trial(first + i, [v] * steps, state) for i, v in enumerate(values)]


@pytest.mark.parametrize(("value", "pruned"), [(0.5, False), (1.0, False), (1.5, True)])
def test_keeps_the_top_fraction_at_a_rung(make_trial, value, pruned) -> None:
    # Rung 0 at step 1 (min_resource=1, eta=4); 7 others there + the trial = 8: top 2 kept.
    history = _reached(make_trial, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    reason = _sh().prune(make_trial(9, [value, value], "RUNNING"), history)
    assert (reason is not None) == pruned
    if pruned:
        assert "rung 0 (step 1)" in reason and "top 2 of 8" in reason


def test_with_fewer_than_eta_competitors_only_the_best_passes(make_trial) -> None:
    history = _reached(make_trial, [1.0, 2.0])
    assert _sh().prune(make_trial(9, [0.9, 0.9], "RUNNING"), history) is None
    assert _sh().prune(make_trial(9, [1.1, 1.1], "RUNNING"), history) is not None


def test_nothing_is_judged_before_the_first_rung(make_trial) -> None:
    history = _reached(make_trial, [0.0] * 8, steps=10)
    pruner = _sh(min_resource=2, reduction_factor=2, min_early_stopping_rate=1)  # rungs 4, 8
    assert pruner.rung_steps(20) == [4, 8, 16]
    assert pruner.prune(make_trial(9, [5.0] * 4, "RUNNING"), history) is None
    assert pruner.prune(make_trial(9, [5.0] * 5, "RUNNING"), history) is not None


def test_every_state_competes(make_trial) -> None:
    history = _reached(make_trial, [0.0, 0.1, 0.2], "PRUNED")
    history += _reached(make_trial, [0.3], "FAILED", first=3)
    history += _reached(make_trial, [0.4], "RUNNING", first=4)
    # 6 competitors, eta 2: top 3 kept (cutoff 0.2).
    pruner = _sh(reduction_factor=2)
    assert pruner.prune(make_trial(9, [0.25, 0.25], "RUNNING"), history) is not None
    assert pruner.prune(make_trial(9, [0.15, 0.15], "RUNNING"), history) is None


def test_bootstrap_count_prunes_until_enough_trials_reached_the_rung(make_trial) -> None:
    pruner = _sh(bootstrap_count=3)
    best = make_trial(9, [0.0, 0.0], "RUNNING")
    reason = pruner.prune(best, _reached(make_trial, [1.0, 2.0]))
    assert reason is not None and "bootstrap_count=3" in reason
    assert pruner.prune(best, _reached(make_trial, [1.0, 2.0, 3.0])) is None


def test_every_reached_rung_is_judged_against_the_current_history(make_trial) -> None:
    # Rungs at steps 1 and 4 (eta 4). The trial is the best at step 4 but, since it passed
    # rung 0, eight trials reached step 1 with better values: its promotion is revoked.
    trial = make_trial(20, [0.5, 0.5, 0.5, 0.5, 0.1], "RUNNING")
    history = [make_trial(i, [0.9] * 5) for i in range(3)]  # reached both rungs, worse
    assert _sh().prune(trial, history) is None
    history += [make_trial(10 + i, [0.2, 0.2], "PRUNED") for i in range(8)]
    reason = _sh().prune(trial, history)
    assert reason is not None and "rung 0" in reason


def test_the_rung_value_is_the_value_at_the_rung_step(make_trial) -> None:
    # A competitor that reported steps 0 and 3 has the step-0 value at rung step 1 (value_at);
    # one that reported step 3 only did not reach the rung in a comparable way.
    history = [
        make_trial(0, {0: 0.0, 3: 9.0}),
        make_trial(1, {3: -9.0}),
    ]
    pruner = _sh(reduction_factor=2)  # 2 competitors: the best passes
    assert pruner.prune(make_trial(9, [-5.0, 0.1], "RUNNING"), history) is not None  # 0.1 > 0
    assert pruner.prune(make_trial(9, [5.0, -0.1], "RUNNING"), history) is None


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize(
    "options",
    [
        {"min_resource": 1, "reduction_factor": 4},
        {"min_resource": 1, "reduction_factor": 2, "min_early_stopping_rate": 1},
        {"min_resource": 2, "reduction_factor": 3, "bootstrap_count": 2},
    ],
)
def test_successive_halving_same_decisions_as_optuna(optuna_parity, direction, options) -> None:
    # Trials run one after another (Optuna's study.optimize): then judging every reached rung
    # again and judging each rung once agree.
    rng = np.random.default_rng(options["reduction_factor"])
    curves = []
    for _ in range(30):
        steps = np.arange(20)
        c = rng.uniform(0, 1) + np.exp(-steps / rng.uniform(1, 8)) + rng.normal(0, 0.05, 20)
        curves.append(list(c if direction == "minimize" else -c))
    ours = create_pruner("successive_halving", (Objective("loss", direction),), options=options)
    theirs = optuna.pruners.SuccessiveHalvingPruner(**options)
    records = optuna_parity(theirs, ours, curves, direction)
    assert [r for r in records if r[2] != r[3]] == []
    assert {r[2] for r in records} == {True, False}


# --------------------------------------------------------------------------- hyperband


def test_hyperband_budgets_follow_optunas_formula() -> None:
    assert hyperband_budgets(1, 27, 3) == (27, 12, 6, 4)
    assert hyperband_budgets(1, 26, 3) == (9, 5, 3)
    assert hyperband_budgets(4, 4, 3) == (1,)
    assert len(hyperband_budgets(1, 243, 3)) == 6  # floor(log_3 243) + 1, in exact integers


def test_the_bracket_is_a_pure_function_of_seed_and_number() -> None:
    a = create_pruner("hyperband", LOSS, 7, {"max_resource": 27})
    b = create_pruner("hyperband", LOSS, 7, {"max_resource": 27})
    other_seed = create_pruner("hyperband", LOSS, 8, {"max_resource": 27})
    brackets = [a.bracket_of(n) for n in range(200)]
    assert brackets == [b.bracket_of(n) for n in range(200)]
    assert brackets != [other_seed.bracket_of(n) for n in range(200)]
    # The documented draw, recomputed here.
    budgets = np.array(a.budgets, dtype=float)
    for n in range(50):
        u = np.random.default_rng(np.random.SeedSequence([7, 0xB4, n])).random()
        assert brackets[n] == int(np.searchsorted(np.cumsum(budgets) / budgets.sum(), u, "right"))


def test_brackets_are_drawn_in_proportion_to_their_budgets() -> None:
    pruner = create_pruner("hyperband", LOSS, 3, {"max_resource": 27})
    n = 20000
    counts = Counter(pruner.bracket_of(i) for i in range(n))
    budgets = np.array(pruner.budgets, dtype=float)
    expected = n * budgets / budgets.sum()
    observed = np.array([counts[i] for i in range(len(budgets))])
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < 16.3  # 99.9% quantile of chi-square with 3 degrees of freedom


def _numbers_in(pruner, bracket, count, start=0):
    found = [n for n in range(start, start + 2000) if pruner.bracket_of(n) == bracket]
    return found[:count]


def test_a_trial_competes_only_within_its_bracket(make_trial) -> None:
    pruner = create_pruner("hyperband", LOSS, 0, {"max_resource": 27})  # eta 3: bracket 0 at 1
    me, *mates = _numbers_in(pruner, 0, 4)
    strangers = [n for n in range(60) if pruner.bracket_of(n) != 0][:8]
    trial = make_trial(me, [0.5, 0.5], "RUNNING")
    far_better_strangers = [make_trial(n, [0.0, 0.0]) for n in strangers]
    assert pruner.prune(trial, far_better_strangers) is None
    better_mates = [make_trial(n, [0.0, 0.0]) for n in mates]
    reason = pruner.prune(trial, far_better_strangers + better_mates)
    assert reason is not None and reason.startswith("hyperband bracket 0:")


def test_each_bracket_is_successive_halving_with_its_early_stopping_rate(make_trial) -> None:
    pruner = create_pruner("hyperband", LOSS, 1, {"max_resource": 9, "reduction_factor": 3})
    rng = np.random.default_rng(0)
    history = [make_trial(i, list(rng.uniform(0, 1, 10)), "COMPLETE") for i in range(40)]
    decisions = []
    for number in range(40, 70):
        trial = make_trial(number, list(rng.uniform(0, 1, int(rng.integers(1, 11)))), "RUNNING")
        bracket = pruner.bracket_of(number)
        mates = [t for t in history if pruner.bracket_of(t.number) == bracket]
        sh = _sh(reduction_factor=3, min_early_stopping_rate=bracket)
        expected = sh.prune(trial, mates)
        got = pruner.prune(trial, history)
        assert (got is None) == (expected is None)
        decisions.append((bracket, got is None))
    assert len({b for b, _ in decisions}) == pruner.n_brackets == 3
    assert {d for _, d in decisions} == {True, False}
