"""Tests of the quick-start objective nas.benchmarks.digits.digits_mlp."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from nas.benchmarks import digits
from nas.benchmarks.functions import BenchmarkInputError

REPO = Path(__file__).resolve().parents[2]

GOOD = {
    "n_layers": 2,
    "width_1": 64,
    "width_2": 32,
    "activation": "relu",
    "learning_rate_init": 3e-3,
    "alpha": 1e-4,
    "batch_size": 64,
    "seed": 0,
}


def make_trial(params, budget=None, number=0):
    reports = []
    return SimpleNamespace(
        params=dict(params),
        budget=budget,
        number=number,
        report=lambda step, value: reports.append((step, dict(value))),
        reports=reports,
    )


def test_split_is_cached_standardized_and_read_only():
    split = digits.load_digits_split()
    assert digits.load_digits_split() is split
    x_train, x_val, y_train, y_val = split
    assert x_train.shape == (1347, 64) and x_val.shape == (450, 64)
    assert y_train.shape == (1347,) and y_val.shape == (450,)
    # Stratified: every class is in both parts, in about the same proportion.
    np.testing.assert_allclose(
        np.bincount(y_train) / len(y_train), np.bincount(y_val) / len(y_val), atol=0.01
    )
    # The scaler was fit on the training part only: its columns have mean 0 exactly (up to
    # rounding), the validation columns only approximately.
    np.testing.assert_allclose(x_train.mean(axis=0), 0.0, atol=1e-12)
    assert np.abs(x_val.mean(axis=0)).max() > 1e-6
    with pytest.raises(ValueError, match="read-only"):
        x_train[0, 0] = 1.0


def test_mlp_n_params_formula_and_sklearn_agree():
    w1, w2, w3 = 17, 9, 33
    assert digits.mlp_n_params([w1]) == 64 * w1 + w1 + w1 * 10 + 10
    assert digits.mlp_n_params([w1, w2, w3]) == (
        64 * w1 + w1 + w1 * w2 + w2 + w2 * w3 + w3 + w3 * 10 + 10
    )
    from sklearn.neural_network import MLPClassifier

    x_train, _, y_train, _ = digits.load_digits_split()
    model = MLPClassifier(hidden_layer_sizes=(w1, w2, w3), max_iter=1, random_state=0)
    model.partial_fit(x_train[:50], y_train[:50], classes=np.arange(10))
    counted = sum(c.size for c in model.coefs_) + sum(b.size for b in model.intercepts_)
    assert digits.mlp_n_params([w1, w2, w3]) == counted
    with pytest.raises(BenchmarkInputError, match=">= 1"):
        digits.mlp_n_params([0])


def test_epochs_from_budget():
    assert digits.digits_mlp_epochs(None) == 60
    assert digits.digits_mlp_epochs(1.0) == 60
    assert digits.digits_mlp_epochs(0.5) == 30
    assert digits.digits_mlp_epochs(1 / 60) == 1
    assert digits.digits_mlp_epochs(1e-6) == 1
    for bad in (0.0, -0.5, 1.5, "1", True):
        with pytest.raises(BenchmarkInputError, match="budget"):
            digits.digits_mlp_epochs(bad)


def test_digits_mlp_sane_and_deterministic():
    trial = make_trial(GOOD, budget=0.5)
    out = digits.digits_mlp(trial)
    assert set(out) == {"error", "n_params"}
    assert 0.0 <= out["error"] < 0.2
    assert out["n_params"] == 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    assert isinstance(out["error"], float) and isinstance(out["n_params"], float)
    # Reports every 5 epochs, the last one equal to the returned values.
    assert [s for s, _ in trial.reports] == [5, 10, 15, 20, 25, 30]
    assert trial.reports[-1][1] == out
    # Error is a multiple of 1/450 (validation size).
    assert out["error"] * 450 == pytest.approx(round(out["error"] * 450))
    again = make_trial(GOOD, budget=0.5)
    assert digits.digits_mlp(again) == out
    assert again.reports == trial.reports


def test_shorter_budget_is_a_prefix_of_the_longer_run():
    short = make_trial(GOOD, budget=10 / 60)
    digits.digits_mlp(short)
    long = make_trial(GOOD, budget=0.5)
    digits.digits_mlp(long)
    assert [s for s, _ in short.reports] == [5, 10]
    assert short.reports == long.reports[:2]


def test_seed_and_inactive_params():
    base = dict(GOOD, n_layers=1, width_1=32)
    ref = digits.digits_mlp(make_trial(base, budget=0.1))
    assert ref["n_params"] == 64 * 32 + 32 + 32 * 10 + 10
    # Inactive widths are ignored; a missing seed means seed 0.
    no_seed = {k: v for k, v in base.items() if k != "seed"}
    assert digits.digits_mlp(make_trial(no_seed | {"width_2": 200}, budget=0.1)) == ref
    # Another seed gives another initialisation; compare the first intermediate errors of a
    # barely trained net, where different weights virtually always differ.
    first = make_trial(base | {"learning_rate_init": 1e-4}, budget=5 / 60)
    second = make_trial(base | {"learning_rate_init": 1e-4, "seed": 7}, budget=5 / 60)
    assert digits.digits_mlp(first)["error"] != digits.digits_mlp(second)["error"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"n_layers": 4}, "'n_layers' must be an integer \\[1, 3\\]"),
        ({"n_layers": 2.5}, "'n_layers' must be an integer"),
        ({"n_layers": 3}, "missing parameter 'width_3'"),
        ({"activation": "gelu"}, "'activation' must be one of"),
        ({"learning_rate_init": 0.0}, "'learning_rate_init' must be a finite number > 0"),
        ({"alpha": float("nan")}, "'alpha' must be a finite number > 0"),
        ({"batch_size": 0}, "'batch_size' must be an integer >= 1"),
        ({"seed": -1}, "'seed' must be an integer"),
    ],
)
def test_digits_mlp_rejects_bad_params(change, match):
    with pytest.raises(BenchmarkInputError, match=match):
        digits.digits_mlp(make_trial(GOOD | change, budget=0.1))


def test_integral_floats_are_accepted_for_int_params():
    a = digits.digits_mlp(make_trial(GOOD | {"width_1": 64.0, "batch_size": 64.0}, budget=0.1))
    b = digits.digits_mlp(make_trial(GOOD, budget=0.1))
    assert a == b


def test_yaml_space_matches_the_python_space():
    path = REPO / "search_spaces" / "digits_mlp.yaml"
    loaded = yaml.safe_load(path.read_text())
    assert loaded == digits.DIGITS_MLP_SPACE
    params = loaded["params"]
    # YAML 1.1 reads 1e-4 (no dot) as a string: the bounds must be real floats.
    assert isinstance(params["learning_rate_init"]["low"], float)
    assert params["width_2"]["condition"] == {"parent": "n_layers", "in": [2, 3]}
    assert params["width_3"]["condition"] == {"parent": "n_layers", "in": [3]}
    assert "condition" not in params["width_1"]
    assert params["seed"] == {"type": "fixed", "value": 0}
