"""``curve``: learning-curve extrapolation on constructed curves."""

from __future__ import annotations

import time

import numpy as np
import pytest

from nas._types import Objective
from nas.pruners import create_pruner
from nas.pruners._curve import FAMILIES, forecast

LOSS = (Objective("loss", "minimize"),)
MAX_STEP = 50


def _pow(c, a, alpha, n, noise=0.0, seed=0):
    x = np.arange(n) + 1.0
    return list(c + a * x**-alpha + np.random.default_rng(seed).normal(0, noise, n))


def _pruner(**options):
    return create_pruner("curve", LOSS, options={"max_step": MAX_STEP, **options})


def _best(make_trial, final=0.3):
    return [make_trial(0, [1.0, 0.5, final], value=final)]


def test_prunes_a_curve_converging_to_worse_than_the_best(make_trial) -> None:
    # 0.5 + 0.5 x^-0.7: at step 50 about 0.53, far above the best 0.3.
    trial = make_trial(1, _pow(0.5, 0.5, 0.7, 10, noise=0.005), "RUNNING")
    reason = _pruner().prune(trial, _best(make_trial))
    assert reason is not None
    assert "at step 50" in reason and "best 0.3 of trial 0" in reason and "pow3" in reason


def test_keeps_a_curve_still_worse_than_the_best_but_heading_below_it(make_trial) -> None:
    # 0.1 + 0.9 x^-0.5: 0.385 at step 9 (worse than 0.3), about 0.226 at step 50.
    curve = _pow(0.1, 0.9, 0.5, 10, noise=0.003)
    assert curve[-1] > 0.3
    assert _pruner().prune(make_trial(1, curve, "RUNNING"), _best(make_trial)) is None


def test_needs_min_steps_points_and_complete_trials(make_trial) -> None:
    bad = _pow(0.5, 0.5, 0.7, 10, noise=0.005)
    pruner = _pruner(min_steps=6)
    assert pruner.prune(make_trial(1, bad[:5], "RUNNING"), _best(make_trial)) is None
    assert pruner.prune(make_trial(1, bad[:6], "RUNNING"), _best(make_trial)) is not None
    trial = make_trial(1, bad, "RUNNING")
    assert _pruner().prune(trial, []) is None
    assert _pruner().prune(trial, [make_trial(0, [0.0] * 3, "PRUNED")]) is None
    two = [*_best(make_trial), make_trial(2, [1.0, 0.9], value=0.9)]
    assert _pruner(n_startup_trials=3).prune(trial, two) is None
    assert _pruner(n_startup_trials=2).prune(trial, two) is not None


def test_no_decision_at_or_past_max_step(make_trial) -> None:
    bad = _pow(0.5, 0.5, 0.7, 12, noise=0.005)
    history = _best(make_trial)
    assert (
        create_pruner("curve", LOSS, options={"max_step": 12}).prune(
            make_trial(1, bad, "RUNNING"), history
        )
        is not None
    )
    assert (
        create_pruner("curve", LOSS, options={"max_step": 11}).prune(
            make_trial(1, bad, "RUNNING"), history
        )
        is None
    )


def test_probability_sets_how_sure_it_must_be(make_trial) -> None:
    # A noisy curve heading to about the best: pruned only by a lax threshold.
    curve = _pow(0.28, 0.6, 0.6, 12, noise=0.02, seed=3)
    history = _best(make_trial)
    strict, lax = _pruner(probability=0.01), _pruner(probability=0.9)
    assert strict.prune(make_trial(1, curve, "RUNNING"), history) is None
    assert lax.prune(make_trial(1, curve, "RUNNING"), history) is not None


def test_interval_steps(make_trial) -> None:
    bad = _pow(0.5, 0.5, 0.7, 12, noise=0.005)
    pruner = _pruner(interval_steps=3)
    due = [
        pruner.prune(make_trial(1, bad[: n + 1], "RUNNING"), _best(make_trial)) is not None
        for n in range(4, 12)
    ]
    assert due == [False, False, True, False, False, True, False, False]


def test_families_option_restricts_the_fit(make_trial) -> None:
    trial = make_trial(1, _pow(0.5, 0.5, 0.7, 10, noise=0.005), "RUNNING")
    reason = _pruner(families=["exp3"]).prune(trial, _best(make_trial))
    assert reason is not None and "exp3 1.00" in reason and "pow3" not in reason


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("pow3", lambda x: 0.2 + 0.8 * x**-0.6),
        ("exp3", lambda x: 0.1 + 0.9 * np.exp(-x / 8)),
        ("mmf", lambda x: 0.3 + 0.7 / (1 + (x / 5) ** 1.5)),
    ],
)
def test_forecast_recovers_an_exact_curve_of_each_shape(name, fn) -> None:
    steps = np.arange(20)
    fc = forecast(list(steps), list(fn(steps + 1.0)), MAX_STEP, list(FAMILIES))
    assert fc is not None
    truth = float(fn(MAX_STEP + 1.0))
    assert abs(fc.mean - truth) < 0.01
    assert fc.std < 0.02
    assert max(fc.weights, key=fc.weights.get) in {name, "janoschek", "mmf"}


def test_forecast_intervals_cover_the_truth_on_noisy_curves() -> None:
    covered = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        c, a, alpha = rng.uniform(0.1, 0.5), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.2)
        curve = _pow(c, a, alpha, 15, noise=0.01, seed=seed)
        fc = forecast(list(range(15)), curve, MAX_STEP, list(FAMILIES))
        truth = c + a * (MAX_STEP + 1.0) ** -alpha
        covered.append(fc is None or abs(fc.mean - truth) <= 3 * fc.std)
    assert sum(covered) >= 11


def test_forecast_refuses_an_implausible_improvement() -> None:
    # Falling in a straight line: extrapolating it 100x further is not trusted.
    assert forecast(list(range(8)), [1.0 - 0.1 * s for s in range(8)], 800, list(FAMILIES)) is None


def test_forecast_of_a_flat_curve_is_flat() -> None:
    fc = forecast(list(range(6)), [0.7] * 6, MAX_STEP, list(FAMILIES))
    assert fc is not None and fc.mean == pytest.approx(0.7) and fc.std < 1e-6


def test_fast_enough_for_thirty_points(make_trial) -> None:
    pruner = _pruner(max_step=100)
    trial = make_trial(1, _pow(0.3, 0.7, 0.5, 30, noise=0.01), "RUNNING")
    history = _best(make_trial)
    pruner.prune(trial, history)  # scipy imported
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        pruner.prune(trial, history)
        times.append(time.perf_counter() - t0)
    # About 25 ms on one core; generous for a loaded shared machine.
    assert sorted(times)[2] < 0.25
