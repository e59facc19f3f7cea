"""``threshold``: raw-unit bounds, and Optuna's decisions replayed."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from nas._types import Objective
from nas.pruners import create_pruner

LOSS = (Objective("loss", "minimize"),)
ACC = (Objective("acc", "maximize"),)


def test_prunes_outside_the_bounds_and_keeps_the_bounds_themselves(make_trial) -> None:
    pruner = create_pruner("threshold", LOSS, options={"lower": 0.0, "upper": 1.0})
    decide = [
        pruner.prune(make_trial(0, [0.5, v], "RUNNING"), []) is not None
        for v in (-0.01, 0.0, 0.5, 1.0, 1.01)
    ]
    assert decide == [True, False, False, False, True]
    reason = pruner.prune(make_trial(0, [0.5, 7.0], "RUNNING"), [])
    assert reason is not None and "above upper=1" in reason and "step 1" in reason


def test_only_the_last_value_counts(make_trial) -> None:
    pruner = create_pruner("threshold", LOSS, options={"upper": 1.0})
    assert pruner.prune(make_trial(0, [50.0, 0.5], "RUNNING"), []) is None


def test_bounds_are_raw_values_for_a_maximized_objective(make_trial) -> None:
    # Accuracy stuck below 0.2 is pruned: the bound is on the stored value, not on -acc.
    pruner = create_pruner("threshold", ACC, options={"lower": 0.2})
    assert pruner.prune(make_trial(0, [0.1], "RUNNING", name="acc"), []) is not None
    assert pruner.prune(make_trial(0, [0.9], "RUNNING", name="acc"), []) is None


def test_one_sided_bounds(make_trial) -> None:
    upper = create_pruner("threshold", LOSS, options={"upper": 1.0})
    lower = create_pruner("threshold", LOSS, options={"lower": 1.0})
    trial = make_trial(0, [-1e300], "RUNNING")
    assert upper.prune(trial, []) is None
    assert lower.prune(trial, []) is not None


def test_warmup_and_interval(make_trial) -> None:
    pruner = create_pruner(
        "threshold", LOSS, options={"upper": 1.0, "n_warmup_steps": 2, "interval_steps": 2}
    )
    due = [pruner.prune(make_trial(0, [5.0] * (s + 1), "RUNNING"), []) for s in range(7)]
    assert [d is not None for d in due] == [False, False, True, False, True, False, True]


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize(
    "options",
    [
        {"lower": -0.5, "upper": 0.8},
        {"upper": 0.6, "n_warmup_steps": 3, "interval_steps": 2},
        {"lower": 0.1, "interval_steps": 3},
    ],
)
def test_same_decisions_as_optuna(optuna_parity, direction, options) -> None:
    rng = np.random.default_rng(len(options))
    curves = [list(rng.normal(0.2, 0.5, 10)) for _ in range(12)]
    ours = create_pruner("threshold", (Objective("loss", direction),), options=options)
    records = optuna_parity(optuna.pruners.ThresholdPruner(**options), ours, curves, direction)
    assert [r for r in records if r[2] != r[3]] == []
    assert {r[2] for r in records} == {True, False}
