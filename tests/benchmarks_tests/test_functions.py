"""Tests of the synthetic benchmark problems in nas.benchmarks.functions."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from nas.benchmarks import functions as fn
from nas.exceptions import NasError


def make_trial(params, budget=None, number=0):
    reports = []
    return SimpleNamespace(
        params=dict(params),
        budget=budget,
        number=number,
        report=lambda step, value: reports.append((step, value)),
        reports=reports,
    )


# ------------------------------------------------------------------------------------ Branin


@pytest.mark.parametrize("point", fn.BRANIN_MINIMIZERS)
def test_branin_three_minimizers(point):
    assert fn.branin(*point) == pytest.approx(0.397887, abs=1e-6)
    assert fn.branin(*point) == pytest.approx(fn.BRANIN_MINIMUM, rel=1e-12)


def test_branin_minimum_is_global_on_a_grid():
    x1, x2 = np.meshgrid(np.linspace(-5, 10, 301), np.linspace(0, 15, 301))
    values = fn.branin(x1, x2)
    assert values.shape == (301, 301)
    assert values.min() >= fn.BRANIN_MINIMUM - 1e-12
    assert values.min() < fn.BRANIN_MINIMUM + 0.01


def test_branin_known_value_off_optimum():
    # At the origin: (0 - 6)^2 + 10 (1 - 1/(8 pi)) cos(0) + 10 = 36 + 20 - 10/(8 pi).
    assert fn.branin(0.0, 0.0) == pytest.approx(56.0 - 10.0 / (8.0 * math.pi), rel=1e-12)


def test_branin_scalar_returns_float_and_arrays_broadcast():
    assert isinstance(fn.branin(1.0, 2.0), float)
    out = fn.branin(np.array([0.0, 1.0, 2.0]), 3.0)
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert out[1] == pytest.approx(fn.branin(1.0, 3.0))


def test_branin_rejects_non_finite_and_non_numeric():
    with pytest.raises(fn.BenchmarkInputError, match="finite"):
        fn.branin(float("nan"), 1.0)
    with pytest.raises(fn.BenchmarkInputError, match="numeric"):
        fn.branin("a", 1.0)
    assert issubclass(fn.BenchmarkInputError, NasError)
    assert issubclass(fn.BenchmarkInputError, ValueError)


def test_branin_mf_full_fidelity_equals_plain_and_low_fidelity_is_biased():
    rng = np.random.default_rng(1)
    x1 = rng.uniform(-5, 10, 500)
    x2 = rng.uniform(0, 15, 500)
    full = fn.branin(x1, x2)
    np.testing.assert_array_equal(fn.branin_mf(x1, x2, 1.0), full)
    low = fn.branin_mf(x1, x2, 0.2)
    assert np.max(np.abs(low - full)) > 1.0  # biased
    assert np.corrcoef(low, full)[0, 1] > 0.9  # but correlated
    # The low-fidelity minimum is not at Branin's minimizers.
    assert fn.branin_mf(math.pi, 2.275, 0.2) > fn.BRANIN_MINIMUM + 0.05


def test_branin_mf_uses_the_documented_coefficients():
    s = 0.3
    b = 5.1 / (4 * math.pi**2) - 0.01 * (1 - s)
    c = 5 / math.pi - 0.1 * (1 - s)
    t = 1 / (8 * math.pi) + 0.05 * (1 - s)
    x1, x2 = 2.0, 7.0
    expected = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
    assert fn.branin_mf(x1, x2, s) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("s", [0.0, -0.1, 1.01])
def test_branin_mf_rejects_fidelity_outside_unit_interval(s):
    with pytest.raises(fn.BenchmarkInputError, match=r"\(0, 1\]"):
        fn.branin_mf(0.0, 0.0, s)


def test_branin_objective_wrappers():
    trial = make_trial({"x1": math.pi, "x2": 2.275})
    value = fn.branin_objective(trial)
    assert isinstance(value, float)
    assert value == pytest.approx(fn.BRANIN_MINIMUM)
    assert fn.branin_mf_objective(trial) == value  # budget None -> full fidelity
    assert fn.branin_mf_objective(make_trial(trial.params, budget=1.0)) == value
    assert fn.branin_mf_objective(make_trial(trial.params, budget=0.25)) != value


def test_wrapper_reports_missing_and_bad_params():
    with pytest.raises(fn.BenchmarkInputError, match="missing parameter 'x2'"):
        fn.branin_objective(make_trial({"x1": 1.0}))
    with pytest.raises(fn.BenchmarkInputError, match="'x1' must be a finite real"):
        fn.branin_objective(make_trial({"x1": "1.0", "x2": 1.0}))
    with pytest.raises(fn.BenchmarkInputError, match="'x1' must be a finite real"):
        fn.branin_objective(make_trial({"x1": True, "x2": 1.0}))
    with pytest.raises(fn.BenchmarkInputError, match="budget must lie in"):
        fn.branin_mf_objective(make_trial({"x1": 1.0, "x2": 1.0}, budget=2.0))
    with pytest.raises(fn.BenchmarkInputError, match="budget must be a real"):
        fn.branin_mf_objective(make_trial({"x1": 1.0, "x2": 1.0}, budget="1"))


# --------------------------------------------------------------------------------- Hartmann6


def test_hartmann6_optimum():
    assert fn.hartmann6(fn.HARTMANN6_MINIMIZER) == pytest.approx(-3.32237, abs=1e-5)


def test_hartmann6_optimizer_is_a_local_minimum_and_random_points_are_worse():
    x_star = np.array(fn.HARTMANN6_MINIMIZER)
    f_star = fn.hartmann6(x_star)
    steps = 1e-3 * np.vstack([np.eye(6), -np.eye(6)])
    assert np.all(fn.hartmann6(x_star + steps) > f_star)
    rng = np.random.default_rng(0)
    assert fn.hartmann6(rng.random((20000, 6))).min() > fn.HARTMANN6_MINIMUM


def test_hartmann6_shapes():
    rng = np.random.default_rng(2)
    x = rng.random((4, 5, 6))
    out = fn.hartmann6(x)
    assert out.shape == (4, 5)
    assert out[2, 3] == pytest.approx(fn.hartmann6(x[2, 3]))
    assert isinstance(fn.hartmann6(x[0, 0]), float)
    with pytest.raises(fn.BenchmarkInputError, match=r"\(\.\.\., 6\)"):
        fn.hartmann6(np.zeros(5))
    with pytest.raises(fn.BenchmarkInputError, match="scalar"):
        fn.hartmann6(0.5)


def test_hartmann6_mf_full_equals_plain_and_bias_follows_alpha1():
    rng = np.random.default_rng(3)
    x = rng.random((300, 6))
    np.testing.assert_array_equal(fn.hartmann6_mf(x, 1.0), fn.hartmann6(x))
    low = fn.hartmann6_mf(x, 0.0 + 1e-9)
    assert np.all(low >= fn.hartmann6(x))  # a smaller alpha_1 can only raise -H
    assert np.corrcoef(low, fn.hartmann6(x))[0, 1] > 0.99
    x_star = np.array(fn.HARTMANN6_MINIMIZER)
    assert fn.hartmann6_mf(x_star, 0.5) > fn.hartmann6(x_star) + 1e-3
    # Per-point fidelities broadcast.
    s = np.linspace(0.1, 1.0, 300)
    both = fn.hartmann6_mf(x, s)
    assert both[-1] == fn.hartmann6(x[-1])
    assert both[0] == pytest.approx(fn.hartmann6_mf(x[0], 0.1))


def test_hartmann6_wrappers():
    params = {f"x{i}": v for i, v in enumerate(fn.HARTMANN6_MINIMIZER)}
    assert fn.hartmann6_objective(make_trial(params)) == pytest.approx(-3.32237, abs=1e-5)
    assert fn.hartmann6_mf_objective(make_trial(params)) == fn.hartmann6_objective(
        make_trial(params)
    )
    assert fn.hartmann6_mf_objective(make_trial(params, budget=0.3)) > -3.3


# -------------------------------------------------------------------------------------- ZDT1


def test_zdt1_on_the_true_front():
    f1 = np.linspace(0, 1, 11)
    x = np.zeros((11, 6))
    x[:, 0] = f1
    got1, got2 = fn.zdt1(x)
    np.testing.assert_allclose(got1, f1)
    np.testing.assert_allclose(got2, 1 - np.sqrt(f1), atol=1e-15)


def test_zdt1_off_front_values_and_shapes():
    x = np.array([0.25, 0.5, 0.5, 0.5, 0.5, 0.5])
    f1, f2 = fn.zdt1(x)
    g = 1 + 9 / 5 * 2.5
    assert isinstance(f1, float) and isinstance(f2, float)
    assert f1 == 0.25
    assert f2 == pytest.approx(g * (1 - math.sqrt(0.25 / g)))
    assert f2 > 1 - math.sqrt(0.25)  # dominated by the front
    b1, b2 = fn.zdt1(np.random.default_rng(0).random((2, 7, 3)))
    assert b1.shape == b2.shape == (2, 7)


def test_zdt1_rejects_bad_input():
    with pytest.raises(fn.BenchmarkInputError, match=r"\[0, 1\]"):
        fn.zdt1([0.5, 1.5])
    with pytest.raises(fn.BenchmarkInputError, match="at least 2"):
        fn.zdt1([0.5])


def test_zdt1_true_front():
    front = fn.zdt1_true_front(5)
    assert front.shape == (5, 2)
    np.testing.assert_allclose(front[:, 1], 1 - np.sqrt(front[:, 0]))
    with pytest.raises(fn.BenchmarkInputError):
        fn.zdt1_true_front(1)


def test_zdt1_mf_exact_at_full_fidelity_and_biased_below():
    rng = np.random.default_rng(4)
    x = rng.random((400, 6))
    f1, f2 = fn.zdt1(x)
    m1, m2 = fn.zdt1_mf(x, 1.0)
    np.testing.assert_array_equal(m1, f1)
    np.testing.assert_array_equal(m2, f2)
    l1, l2 = fn.zdt1_mf(x, 0.2)
    np.testing.assert_array_equal(l1, f1)
    assert np.max(np.abs(l2 - f2)) > 0.1
    assert np.corrcoef(l2, f2)[0, 1] > 0.8
    # Low fidelity believes the Pareto set is at x_i = 0.25 (1 - s): there it is on the front.
    shifted = np.array([0.36, 0.2, 0.2, 0.2, 0.2, 0.2])
    _, g2 = fn.zdt1_mf(shifted, 0.2)
    assert g2 == pytest.approx(1 - math.sqrt(0.36))
    # ... while the true Pareto set looks dominated at low fidelity.
    _, t2 = fn.zdt1_mf([0.36, 0, 0, 0, 0, 0], 0.2)
    assert t2 > g2 + 0.5


def test_zdt1_wrappers_read_consecutive_x_params():
    params = {f"x{i}": 0.0 for i in range(6)} | {"x0": 0.49, "other": "ignored"}
    out = fn.zdt1_objective(make_trial(params))
    assert out == {"f1": 0.49, "f2": pytest.approx(0.3)}
    assert fn.zdt1_mf_objective(make_trial(params)) == out
    assert fn.zdt1_mf_objective(make_trial(params, budget=0.5))["f2"] > out["f2"]
    # d is taken from the params: 3 inputs give g = 1 + 9/2 * x1 ...
    three = fn.zdt1_objective(make_trial({"x0": 0.0, "x1": 0.2, "x2": 0.0}))
    assert three["f2"] == pytest.approx(1 + 4.5 * 0.2)
    with pytest.raises(fn.BenchmarkInputError, match="x0, x1"):
        fn.zdt1_objective(make_trial({"x1": 0.2, "x2": 0.0}))


# ------------------------------------------------------------------------------ BraninCurrin


def test_branin_currin_matches_rescaled_branin_and_currin_formula():
    x1, x2 = 0.3, 0.6
    b, c = fn.branin_currin(x1, x2)
    assert b == pytest.approx(fn.branin(15 * x1 - 5, 15 * x2))
    expected_c = (
        (1 - math.exp(-1 / (2 * x2)))
        * (2300 * x1**3 + 1900 * x1**2 + 2092 * x1 + 60)
        / (100 * x1**3 + 500 * x1**2 + 4 * x1 + 20)
    )
    assert c == pytest.approx(expected_c, rel=1e-12)


def test_branin_currin_branin_minimizers_map_into_unit_square():
    for p1, p2 in fn.BRANIN_MINIMIZERS:
        b, _ = fn.branin_currin((p1 + 5) / 15, p2 / 15)
        assert b == pytest.approx(fn.BRANIN_MINIMUM)


def test_branin_currin_edge_and_ranges():
    b, c = fn.branin_currin(0.0, 0.0)
    assert c == pytest.approx(3.0)  # factor 1 in the x2 -> 0 limit, 60/20
    assert math.isfinite(b)
    g = np.linspace(0, 1, 201)
    bb, cc = fn.branin_currin(g[:, None], g[None, :])
    assert bb.shape == cc.shape == (201, 201)
    assert bb.min() == pytest.approx(fn.BRANIN_MINIMUM, abs=5e-3)
    assert bb.max() == pytest.approx(308.13, abs=0.01)
    assert cc.min() == pytest.approx(1.18, abs=0.01)
    assert cc.max() == pytest.approx(13.80, abs=0.01)
    # The objectives conflict: the branin minimizer is not the currin minimizer.
    assert np.unravel_index(bb.argmin(), bb.shape) != np.unravel_index(cc.argmin(), cc.shape)
    with pytest.raises(fn.BenchmarkInputError, match=r"x1 must lie in \[0, 1\]"):
        fn.branin_currin(1.2, 0.5)


def test_branin_currin_objective():
    out = fn.branin_currin_objective(make_trial({"x1": 0.3, "x2": 0.6}))
    b, c = fn.branin_currin(0.3, 0.6)
    assert out == {"branin": b, "currin": c}
    assert all(isinstance(v, float) for v in out.values())


# ---------------------------------------------------------------------------------- registry


def _in_space(space, params):
    for name, spec in space["params"].items():
        assert spec["type"] == "float"
        assert isinstance(spec["low"], float) and isinstance(spec["high"], float)
        assert spec["low"] < spec["high"]
        if not spec["low"] <= params[name] <= spec["high"]:
            return False
    return True


def test_spaces_are_valid_and_contain_the_optimizers():
    assert set(fn.SPACES) == {"branin", "hartmann6", "zdt1", "branin_currin"}
    assert set(fn.SPACES) == set(fn.DIRECTIONS)
    for p1, p2 in fn.BRANIN_MINIMIZERS:
        assert _in_space(fn.SPACES["branin"], {"x1": p1, "x2": p2})
    h6 = {f"x{i}": v for i, v in enumerate(fn.HARTMANN6_MINIMIZER)}
    assert _in_space(fn.SPACES["hartmann6"], h6)
    assert list(fn.SPACES["zdt1"]["params"]) == [f"x{i}" for i in range(6)]
    assert _in_space(fn.SPACES["zdt1"], {f"x{i}": 0.0 for i in range(6)})
    assert _in_space(fn.SPACES["branin_currin"], {"x1": 0.0, "x2": 1.0})


def test_objectives_registry_runs_on_a_point_of_each_space():
    rng = np.random.default_rng(5)
    for name, objective in fn.OBJECTIVES.items():
        space = fn.SPACES[name.removesuffix("_mf")]
        params = {
            k: float(rng.uniform(spec["low"], spec["high"])) for k, spec in space["params"].items()
        }
        out = objective(make_trial(params, budget=0.5 if name.endswith("_mf") else None))
        directions = fn.DIRECTIONS[name.removesuffix("_mf")]
        if len(directions) == 1:
            assert isinstance(out, float)
        else:
            assert set(out) == set(directions)


def test_results_do_not_alias_the_input():
    x = np.array([[0.2, 0.1, 0.0], [0.4, 0.0, 0.3]])
    f1, _ = fn.zdt1(x)
    f1[0] = 99.0
    assert x[0, 0] == 0.2


def test_constrained_problems_return_their_constraint_metrics() -> None:
    import math
    from types import SimpleNamespace

    from nas.benchmarks.functions import (
        BNH_CONSTRAINTS,
        GARDNER_CONSTRAINTS,
        bnh_objective,
        gardner_objective,
    )

    g = gardner_objective(SimpleNamespace(params={"x1": 3 * math.pi / 2, "x2": math.pi / 2}))
    assert g["value"] == pytest.approx(-1 + math.pi / 2) and g["c"] == pytest.approx(-1.0)
    assert g["c"] <= GARDNER_CONSTRAINTS["c"]["max"]  # feasible: the corner of a feasible region
    b = bnh_objective(SimpleNamespace(params={"x": 5.0, "y": 3.0}))
    assert b == pytest.approx({"f1": 136.0, "f2": 4.0, "c1": 9.0, "c2": 45.0})
    assert b["c1"] <= BNH_CONSTRAINTS["c1"]["max"] and b["c2"] >= BNH_CONSTRAINTS["c2"]["min"]
