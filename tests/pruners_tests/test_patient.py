"""``patient``: stalls on constructed curves, the wrapped pruner, and Optuna's decisions."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from nas._types import Objective
from nas.exceptions import PrunerConfigError
from nas.pruners import create_pruner

LOSS = (Objective("loss", "minimize"),)
TWO = (Objective("loss", "minimize"), Objective("acc", "maximize"))


def test_prunes_a_stalled_curve_and_keeps_an_improving_one(make_trial) -> None:
    pruner = create_pruner("patient", LOSS, options={"patience": 2})
    stalled = make_trial(0, [1.0, 0.5, 0.6, 0.7, 0.55], "RUNNING")
    reason = pruner.prune(stalled, [])
    assert reason is not None and "last 3 reports" in reason and "0.55" in reason
    improving = make_trial(0, [1.0, 0.5, 0.6, 0.7, 0.45], "RUNNING")
    assert pruner.prune(improving, []) is None


def test_a_tie_with_the_earlier_best_is_not_a_stall_and_min_delta_tolerates(make_trial) -> None:
    tie = make_trial(0, [1.0, 0.5, 0.6, 0.5], "RUNNING")
    assert create_pruner("patient", LOSS, options={"patience": 1}).prune(tie, []) is None
    worse = make_trial(0, [1.0, 0.5, 0.6, 0.58], "RUNNING")
    assert create_pruner("patient", LOSS, options={"patience": 1}).prune(worse, []) is not None
    tolerant = create_pruner("patient", LOSS, options={"patience": 1, "min_delta": 0.1})
    assert tolerant.prune(worse, []) is None


def test_needs_more_than_patience_plus_one_reports(make_trial) -> None:
    pruner = create_pruner("patient", LOSS, options={"patience": 2})
    assert pruner.prune(make_trial(0, [0.1, 0.5, 0.6], "RUNNING"), []) is None
    assert pruner.prune(make_trial(0, [0.1, 0.5, 0.6, 0.7], "RUNNING"), []) is not None


def test_patience_zero_compares_the_last_report_with_the_best_before(make_trial) -> None:
    pruner = create_pruner("patient", LOSS, options={"patience": 0})
    assert pruner.prune(make_trial(0, [0.3, 0.2, 0.25], "RUNNING"), []) is not None
    assert pruner.prune(make_trial(0, [0.3, 0.2, 0.15], "RUNNING"), []) is None


def test_a_stall_is_handed_to_the_wrapped_pruner(make_trial) -> None:
    wrapped = {"name": "threshold", "options": {"upper": 0.5}}
    pruner = create_pruner("patient", LOSS, options={"patience": 1, "wrapped": wrapped})
    stalled_high = make_trial(0, [1.0, 0.8, 0.9, 0.95], "RUNNING")
    stalled_low = make_trial(0, [0.3, 0.2, 0.3, 0.4], "RUNNING")
    improving_high = make_trial(0, [1.0, 0.9, 0.8, 0.7], "RUNNING")
    reason = pruner.prune(stalled_high, [])
    assert reason is not None and "threshold" in reason
    assert pruner.prune(stalled_low, []) is None  # stalled, but the threshold keeps it
    assert pruner.prune(improving_high, []) is None  # over the threshold, but improving


def test_the_wrapped_pruner_judges_the_outer_objective(make_trial) -> None:
    wrapped = {"name": "threshold", "options": {"lower": 0.5}}
    pruner = create_pruner(
        "patient", TWO, options={"patience": 0, "wrapped": wrapped, "objective": "acc"}
    )
    assert pruner.wrapped is not None and pruner.wrapped.objective.name == "acc"
    assert pruner.spec["options"]["wrapped"] == wrapped  # stored as given
    stalled = make_trial(0, None, "RUNNING", curves={"acc": [0.4, 0.3], "loss": [9.0, 9.0]})
    assert pruner.prune(stalled, []) is not None
    with pytest.raises(PrunerConfigError, match=r"option 'wrapped'.*objective"):
        create_pruner(
            "patient",
            TWO,
            options={
                "patience": 0,
                "objective": "acc",
                "wrapped": {"name": "threshold", "options": {"lower": 0.5, "objective": "loss"}},
            },
        )
    # A multi-objective wrapped pruner gets no objective.
    outer = create_pruner(
        "patient", TWO, options={"patience": 0, "objective": "acc", "wrapped": "pareto"}
    )
    assert outer.wrapped is not None and outer.wrapped.registered_name == "pareto"


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize(
    ("patience", "min_delta", "wrapped"),
    [(0, 0.0, False), (2, 0.0, False), (3, 0.05, False), (1, 0.0, True)],
)
def test_same_decisions_as_optuna(optuna_parity, direction, patience, min_delta, wrapped) -> None:
    rng = np.random.default_rng(patience)
    curves = []
    for _ in range(15):
        steps = np.arange(12)
        c = rng.uniform(0, 1) + np.exp(-steps / rng.uniform(1, 8)) + rng.normal(0, 0.08, 12)
        curves.append(list(c if direction == "minimize" else -c))
    options = {"patience": patience, "min_delta": min_delta}
    inner = None
    if wrapped:
        options["wrapped"] = {"name": "median", "options": {"n_startup_trials": 2}}
        inner = optuna.pruners.MedianPruner(n_startup_trials=2)
    ours = create_pruner("patient", (Objective("loss", direction),), options=options)
    theirs = optuna.pruners.PatientPruner(inner, patience, min_delta)
    records = optuna_parity(theirs, ours, curves, direction)
    assert [r for r in records if r[2] != r[3]] == []
    assert {r[2] for r in records} == {True, False}
