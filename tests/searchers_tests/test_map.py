"""Algorithm-specific tests of the ``map`` searcher (Pareto/MAP) and its building blocks."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import SearcherConfigError
from nas.pareto import pareto_mask
from nas.searchers import MapSearcher, create_searcher, fit_quadratic
from nas.searchers._map import (
    epsilon_dominated,
    n_quadratic_terms,
    pareto_descent,
    quadratic_features,
    surrogate_nsga2,
)
from nas.space import SearchSpace

TWO = (Objective("f1", "minimize"), Objective("f2", "minimize"))


def unit_space(d: int, **extra: dict[str, Any]) -> SearchSpace:
    params: dict[str, Any] = {
        f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(d)
    }
    params.update(extra)
    return SearchSpace.from_dict({"params": params})


def trial(number: int, params: dict[str, Any], values: dict[str, float] | None, **kw: Any) -> Any:
    state = kw.pop("state", TrialState.COMPLETE if values is not None else TrialState.RUNNING)
    return FrozenTrial(
        trial_id=number + 1,
        number=number,
        state=state,
        params=dict(params),
        values=dict(values or {}),
        **kw,
    )


def run(
    searcher: MapSearcher,
    evaluate: Callable[[dict[str, Any]], dict[str, float]],
    n_trials: int,
    history: list[FrozenTrial] | None = None,
) -> list[FrozenTrial]:
    """Sequential study: propose one, evaluate it, repeat."""
    hist = list(history or [])
    while len(hist) < n_trials:
        (p,) = searcher.propose(hist, 1)
        hist.append(trial(len(hist), p.params, evaluate(p.params), system_attrs=dict(p.info)))
    return hist


# --------------------------------------------------------------------------- quadratic fits


def test_features_have_p_columns_in_documented_order() -> None:
    u = np.array([[0.25, 1.0, 0.5]])
    phi = quadratic_features(u)
    z = 2 * u[0] - 1  # [-0.5, 1, 0]
    expected = [1, *z, z[0] ** 2, z[0] * z[1], z[0] * z[2], z[1] ** 2, z[1] * z[2], z[2] ** 2]
    assert phi.shape == (1, n_quadratic_terms(3)) == (1, 10)
    np.testing.assert_allclose(phi[0], expected)


def test_fit_recovers_exact_quadratic_with_interactions() -> None:
    rng = np.random.default_rng(0)
    d = 3
    a = rng.normal(size=(d, d))
    sym = a + a.T  # full symmetric: every interaction term non-zero
    b = rng.normal(size=d)

    def f(u: np.ndarray) -> np.ndarray:
        return 0.7 + u @ b + np.einsum("ni,ij,nj->n", u, sym, u)

    u_train = rng.random((25, d))
    model = fit_quadratic(u_train, f(u_train))
    u_test = rng.random((200, d))
    np.testing.assert_allclose(model.predict(u_test), f(u_test), atol=1e-9)
    assert np.max(np.abs(model.residuals)) < 1e-10
    assert np.nanmax(np.abs(model.loo_residuals)) < 1e-9
    assert model.r2 == pytest.approx(1.0)
    # A pure interaction u0 * u1 (no squares, no linear terms) is recovered too.
    pure = fit_quadratic(u_train, u_train[:, 0] * u_train[:, 1])
    np.testing.assert_allclose(pure.predict(u_test), u_test[:, 0] * u_test[:, 1], atol=1e-10)


def test_logit_link_recovers_sigmoid_of_quadratic() -> None:
    rng = np.random.default_rng(1)

    def q(u: np.ndarray) -> np.ndarray:
        return 1.0 + 3.0 * u[:, 0] - 2.0 * u[:, 1] + 4.0 * u[:, 0] * u[:, 1] - 2.5 * u[:, 1] ** 2

    u_train = rng.random((30, 2))
    y = 1.0 / (1.0 + np.exp(-q(u_train)))
    model = fit_quadratic(u_train, y, "logit")
    u_test = rng.random((100, 2))
    truth = 1.0 / (1.0 + np.exp(-q(u_test)))
    np.testing.assert_allclose(model.predict(u_test), truth, atol=1e-6)
    assert model.predict(u_test).min() > 0 and model.predict(u_test).max() < 1
    # The link matters: a plain quadratic fits the same data clearly worse.
    plain = fit_quadratic(u_train, y)
    assert (
        np.abs(plain.predict(u_test) - truth).max()
        > 100 * np.abs(model.predict(u_test) - truth).max()
    )


def test_logit_link_fits_saturated_accuracies_without_diverging() -> None:
    u = np.random.default_rng(2).random((12, 2))
    y = np.where(u[:, 0] > 0.5, 1.0, 0.9)  # half the accuracies exactly 1.0
    model = fit_quadratic(u, y, "logit")
    assert np.isfinite(model.coef).all()
    pred = model.predict(u)
    assert np.all((pred >= 0) & (pred <= 1))
    assert np.abs(pred - y).max() < 0.06


def test_softplus_link_recovers_softplus_of_quadratic() -> None:
    rng = np.random.default_rng(3)
    u = rng.random((30, 2))
    eta = -1.0 + 2.0 * u[:, 0] + 3.0 * u[:, 1] ** 2 - u[:, 0] * u[:, 1]
    model = fit_quadratic(u, np.logaddexp(0.0, eta), "softplus")
    np.testing.assert_allclose(model.predict(u), np.logaddexp(0.0, eta), atol=1e-7)


def test_loo_residuals_match_brute_force_refits() -> None:
    rng = np.random.default_rng(4)
    u = rng.random((15, 2))
    y = np.sin(3 * u[:, 0]) + u[:, 1] ** 3 + 0.05 * rng.normal(size=15)
    model = fit_quadratic(u, y)
    for i in range(15):
        keep = np.arange(15) != i
        refit = fit_quadratic(u[keep], y[keep])
        assert model.loo_residuals[i] == pytest.approx(y[i] - refit.predict(u[i : i + 1])[0])


@pytest.mark.parametrize("link", ["identity", "logit", "softplus"])
def test_gradient_matches_finite_differences(link: str) -> None:
    rng = np.random.default_rng(8)
    u = rng.random((20, 3))
    y = 1 / (1 + np.exp(-(u @ [1.0, -2.0, 0.5] + u[:, 0] * u[:, 2])))  # in (0, 1), positive
    model = fit_quadratic(u, y, link)
    x = rng.random((5, 3))
    h = 1e-6
    numeric = np.stack(
        [(model.predict(x + h * e) - model.predict(x - h * e)) / (2 * h) for e in np.eye(3)],
        axis=1,
    )
    np.testing.assert_allclose(model.gradient(x), numeric, rtol=1e-5, atol=1e-8)


def test_interpolating_fit_has_undefined_loo_and_zero_noise() -> None:
    u = np.random.default_rng(5).random((6, 2))  # n == p: exact interpolation
    model = fit_quadratic(u, u[:, 0] ** 3)
    assert np.isnan(model.loo_residuals).all()
    assert model.noise == 0.0 and model.standard_error == 0.0


@pytest.mark.parametrize(
    ("link", "y", "match"),
    [
        ("logit", [0.5, 1.2, 0.3], "range"),
        ("softplus", [1.0, -0.1, 2.0], "range"),
        ("x", [1, 2, 3], "unknown"),
    ],
)
def test_fit_rejects_targets_outside_the_link(link: str, y: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_quadratic(np.random.default_rng(0).random((3, 1)), np.array(y), link)


# --------------------------------------------------------------------------- front machinery


def test_epsilon_dominance_with_zero_margin_is_pareto_dominance() -> None:
    pts = np.random.default_rng(6).random((60, 2))
    np.testing.assert_array_equal(~epsilon_dominated(pts, np.zeros(2)), pareto_mask(pts))


def test_epsilon_dominance_drops_flat_tail() -> None:
    # The last point gains 0.001 in f2 over the middle one at the price of 0.5 in f1: with a
    # margin of 0.01 that is noise; without a margin all three are Pareto-optimal.
    pts = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.499]])
    assert epsilon_dominated(pts, np.array([0.01, 0.01])).tolist() == [False, False, True]
    assert not epsilon_dominated(pts, np.zeros(2)).any()


def test_surrogate_nsga2_finds_and_spreads_the_pareto_set() -> None:
    a, b = np.array([0.2, 0.3]), np.array([0.8, 0.7])

    def evaluate(u: np.ndarray) -> np.ndarray:
        return np.stack([np.sum((u - a) ** 2, 1), np.sum((u - b) ** 2, 1)], axis=1)

    def jacobian(u: np.ndarray) -> np.ndarray:
        return np.stack([2 * (u - a), 2 * (u - b)], axis=1)

    def off_segment(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance of each point to the Pareto set (the segment [a, b]), position along it."""
        t = np.clip((pts - a) @ (b - a) / np.sum((b - a) ** 2), 0, 1)
        return np.linalg.norm(pts - (a + t[:, None] * (b - a)), axis=1), t

    pts, vals, ranks = surrogate_nsga2(evaluate, 2, np.random.default_rng(7), 60, 60)
    front = pts[ranks == 0]
    assert len(front) >= 40
    dist, t = off_segment(front)
    assert np.median(dist) < 0.03 and dist.max() < 0.15  # NSGA-II alone: close, not exact
    assert t.min() < 0.05 and t.max() > 0.95
    assert np.max(np.diff(np.sort(t))) < 0.1  # no big gap along the front
    # Multiple-gradient descent finishes the convergence without worsening any objective.
    polished, pvals = pareto_descent(front, evaluate, jacobian)
    np.testing.assert_allclose(pvals, evaluate(polished))
    assert np.all(pvals <= vals[ranks == 0] + 1e-15)
    assert off_segment(polished)[0].max() < 2e-3


# --------------------------------------------------------------------------- the searcher


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_default_design_size_is_d_plus_1_times_d_plus_2(d: int) -> None:
    s = MapSearcher(unit_space(d), TWO, 0)
    assert s.n_design == (d + 1) * (d + 2)
    refine = MapSearcher(unit_space(d), TWO, 0, refine=True)
    p = (d + 1) * (d + 2) // 2
    assert refine.n_design == math.ceil(1.5 * p)
    assert refine.n_design + refine.n_refine == 2 * p


def test_design_phase_then_front_phase() -> None:
    s = MapSearcher(unit_space(2), TWO, 0)
    hist = run(s, _toy2, 20)
    origins = [t.system_attrs["origin"] for t in hist]
    assert origins == ["design"] * 12 + ["front"] * 8
    assert [t.system_attrs["index"] for t in hist[:12]] == list(range(12))


def test_design_is_a_scrambled_sobol_sequence() -> None:
    s = MapSearcher(unit_space(1), (Objective("f", "minimize"),), 3)
    props = s.propose([], 6)  # the whole 1-D design: (1 + 1)(1 + 2) = 6
    x = np.array([p.params["x0"] for p in props])
    # A Sobol sequence puts one point in each half, then in each quarter (a (0, m, 1)-net).
    assert sorted(np.floor(x[:2] * 2).astype(int)) == [0, 1]
    assert sorted(np.floor(x[:4] * 4).astype(int)) == [0, 1, 2, 3]
    # Seeded from the study seed: another seed scrambles differently, the same seed does not.
    other = MapSearcher(unit_space(1), (Objective("f", "minimize"),), 4).propose([], 6)
    same = MapSearcher(unit_space(1), (Objective("f", "minimize"),), 3).propose([], 6)
    assert [p.params for p in same] == [p.params for p in props]
    assert [p.params for p in other] != [p.params for p in props]


def test_design_counts_pending_trials() -> None:
    s = MapSearcher(unit_space(2), TWO, 0)
    design = s.propose([], 12)
    pending = [trial(k, design[k].params, None) for k in range(5)]
    (nxt,) = s.propose(pending, 1)
    assert nxt.info == {"origin": "design", "index": 5}
    assert nxt.params == design[5].params


def _toy2(params: dict[str, Any]) -> dict[str, float]:
    """Exact quadratics of (x0, x1): the Pareto set is the segment from A to B."""
    u = np.array([params["x0"], params["x1"]])
    return {
        "f1": float(np.sum((u - [0.2, 0.3]) ** 2)),
        "f2": float(np.sum((u - [0.8, 0.7]) ** 2)),
    }


def test_predicted_front_is_the_true_front_on_a_quadratic_problem() -> None:
    s = MapSearcher(unit_space(2), TWO, 1)
    hist = run(s, _toy2, 12)
    front = s.predicted_front(hist)
    assert front is not None and front.n_fit == 12 and len(front.params) >= 30
    for params, predicted in zip(front.params, front.values, strict=True):
        truth = _toy2(params)
        assert predicted == pytest.approx([truth["f1"], truth["f2"]], abs=1e-8)
    # Every predicted point lies on the true Pareto set (the segment), and they span it.
    a, b = np.array([0.2, 0.3]), np.array([0.8, 0.7])
    t = np.clip((front.unit - a) @ (b - a) / np.sum((b - a) ** 2), 0, 1)
    assert np.linalg.norm(front.unit - (a + t[:, None] * (b - a)), axis=1).max() < 5e-3
    assert t.min() < 0.05 and t.max() > 0.95


def test_front_proposals_are_true_pareto_points_spread_along_the_front() -> None:
    s = MapSearcher(unit_space(2), TWO, 2)
    hist = run(s, _toy2, 22)
    front_trials = [t for t in hist if t.system_attrs["origin"] == "front"]
    assert len(front_trials) == 10
    a, b = np.array([0.2, 0.3]), np.array([0.8, 0.7])
    u = np.array([[t.params["x0"], t.params["x1"]] for t in front_trials])
    pos = np.clip((u - a) @ (b - a) / np.sum((b - a) ** 2), 0, 1)
    assert np.linalg.norm(u - (a + pos[:, None] * (b - a)), axis=1).max() < 5e-3
    # Spread: the proposals cover the front, no two closer than 3% of its length.
    assert pos.min() < 0.1 and pos.max() > 0.9
    assert np.min(np.diff(np.sort(pos))) > 0.03
    # The predictions in the info are the (exact) surrogate values.
    for t in front_trials:
        assert t.system_attrs["predicted"] == pytest.approx(t.values, abs=1e-8)


def test_map_beats_random_on_a_zdt1_like_problem() -> None:
    """ZDT1 in 2-D (not quadratic): MAP's evaluated front is closer to the true one."""

    def zdt1(params: dict[str, Any]) -> dict[str, float]:
        f1, g = params["x0"], 1.0 + 9.0 * params["x1"]
        return {"f1": f1, "f2": g * (1.0 - math.sqrt(f1 / g))}

    true = np.linspace(0, 1, 201)
    true_front = np.stack([true, 1 - np.sqrt(true)], axis=1)

    def igd(hist: list[FrozenTrial]) -> float:
        v = np.array([[t.values["f1"], t.values["f2"]] for t in hist])
        return float(np.linalg.norm(true_front[:, None] - v[None], axis=2).min(axis=1).mean())

    space = unit_space(2)
    map_igd, random_igd = [], []
    for seed in range(3):
        map_igd.append(igd(run(MapSearcher(space, TWO, seed), zdt1, 30)))
        rnd = create_searcher("random", space, TWO, seed)
        random_igd.append(igd(run(rnd, zdt1, 30)))  # type: ignore[arg-type]
    assert np.median(map_igd) < 0.1
    assert np.median(map_igd) < 0.5 * np.median(random_igd)


def test_single_objective_proposes_the_quadratic_minimiser_in_log_space() -> None:
    """``lr`` is log-scaled: f is quadratic in log10(lr), so the surrogate is exact there."""
    space = SearchSpace.from_dict(
        {
            "params": {
                "lr": {"type": "float", "low": 1.0e-5, "high": 1.0, "log": True},
                "x": {"type": "float", "low": -1.0, "high": 3.0},
                "tag": {"type": "fixed", "value": "v1"},
            }
        }
    )

    def f(params: dict[str, Any]) -> dict[str, float]:
        assert params["tag"] == "v1"
        return {"loss": (math.log10(params["lr"]) + 2.0) ** 2 + (params["x"] - 0.5) ** 2}

    s = MapSearcher(space, (Objective("loss", "minimize"),), 0)
    hist = run(s, f, 13)
    best = hist[12]
    assert best.system_attrs["origin"] == "front"
    assert best.params["lr"] == pytest.approx(1e-2, rel=0.02)
    assert best.params["x"] == pytest.approx(0.5, abs=0.01)
    assert best.values["loss"] < 1e-4


def test_failed_design_trials_extend_the_design_until_the_fit_is_determined() -> None:
    s = MapSearcher(unit_space(2), TWO, 0)
    design = s.propose([], 12)
    hist = []
    for k, p in enumerate(design):
        if k < 8:  # 8 of 12 fail: 4 complete < p = 6
            hist.append(trial(k, p.params, None, state=TrialState.FAILED))
        else:
            hist.append(trial(k, p.params, _toy2(p.params)))
    nxt = s.propose(hist, 3)
    assert [p.info["origin"] for p in nxt] == ["extension"] * 3
    assert [p.info["index"] for p in nxt] == [12, 13, 14]
    hist += [trial(12 + i, p.params, _toy2(p.params)) for i, p in enumerate(nxt[:2])]
    (front,) = s.propose(hist, 1)
    assert front.info["origin"] == "front" and front.info["n_fit"] == 6


def test_batch_front_proposals_are_distinct_and_apart() -> None:
    s = MapSearcher(unit_space(2), TWO, 0, min_distance=0.05)
    hist = run(s, _toy2, 12)
    pending = [trial(12, {"x0": 0.2, "x1": 0.3}, None)]  # the f1 end of the front, in flight
    batch = s.propose(hist + pending, 6)
    assert [p.info["origin"] for p in batch] == ["front"] * 6
    u = np.array([[p.params["x0"], p.params["x1"]] for p in batch])
    existing = np.array([[t.params["x0"], t.params["x1"]] for t in hist + pending])
    allpts = np.vstack([existing, u])
    d = np.linalg.norm(allpts[:, None] - allpts[None], axis=2)
    d[np.diag_indices_from(d)] = np.inf
    assert d[len(existing) :].min() >= 0.05


def test_logit_link_falls_back_to_identity_outside_0_1() -> None:
    objs = (Objective("acc", "maximize"), Objective("loss", "minimize"))
    s = MapSearcher(unit_space(2), objs, 0, link={"acc": "logit", "loss": "softplus"})

    def f(params: dict[str, Any]) -> dict[str, float]:
        x, y = params["x0"], params["x1"]
        return {"acc": 0.5 + x - 0.3 * y, "loss": 0.1 + (x - y) ** 2}  # acc exceeds 1

    hist = run(s, f, 13)
    assert hist[12].system_attrs["links"] == {"acc": "identity", "loss": "softplus"}


def test_refine_puts_points_where_the_fit_is_worst() -> None:
    """A quadratic plus a narrow bump near (0.9, 0.9): the refinement goes to the bump."""

    def f(params: dict[str, Any]) -> dict[str, float]:
        u = np.array([params["x0"], params["x1"]])
        bump = 2.0 * math.exp(-np.sum((u - 0.9) ** 2) / (2 * 0.08**2))
        return {"f1": float(np.sum((u - 0.3) ** 2) + bump), "f2": float(np.sum((u - 0.6) ** 2))}

    hits = 0
    for seed in range(4):
        s = MapSearcher(unit_space(2), TWO, seed, refine=True, n_design=20, n_refine=1)
        hist = run(s, f, 21)
        assert hist[20].system_attrs["origin"] == "refine"
        u = np.array([hist[20].params["x0"], hist[20].params["x1"]])
        hits += bool(np.linalg.norm(u - 0.9) < 0.3)
    assert hits >= 3


def test_refine_then_front() -> None:
    s = MapSearcher(unit_space(2), TWO, 0, refine=True)
    hist = run(s, _toy2, 14)
    assert [t.system_attrs["origin"] for t in hist] == ["design"] * 9 + ["refine"] * 3 + [
        "front"
    ] * 2


def test_memo_never_changes_proposals() -> None:
    long_lived = MapSearcher(unit_space(2), TWO, 5)
    hist = run(long_lived, _toy2, 20)
    fresh = [MapSearcher(unit_space(2), TWO, 5).propose(hist[:k], 2) for k in range(12, 21)]
    again = [long_lived.propose(hist[:k], 2) for k in range(12, 21)]
    assert [[p.params for p in b] for b in fresh] == [[p.params for p in b] for b in again]


def test_predicted_front_is_none_before_the_fit() -> None:
    s = MapSearcher(unit_space(2), TWO, 0)
    assert s.predicted_front(run(s, _toy2, 5)) is None


# --------------------------------------------------------------------------- refusals, options


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"n": {"type": "int", "low": 0, "high": 5}}, "'n' is int"),
        ({"c": {"type": "categorical", "choices": ["a", "b"]}}, "'c' is categorical"),
        (
            {
                "m": {"type": "fixed", "value": "a"},
                "z": {
                    "type": "float",
                    "low": 0,
                    "high": 1,
                    "condition": {"parent": "m", "in": ["a"]},
                },
            },
            "'z' depends on 'm'",
        ),
    ],
)
def test_refuses_non_continuous_spaces(spec: dict[str, Any], match: str) -> None:
    space = unit_space(1, **spec)
    with pytest.raises(SearcherConfigError, match=match):
        create_searcher("map", space, TWO, 0)


def test_refuses_a_space_without_floats() -> None:
    space = SearchSpace.from_dict({"params": {"k": {"type": "fixed", "value": 1}}})
    with pytest.raises(SearcherConfigError, match="no float parameter"):
        create_searcher("map", space, TWO, 0)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"n_design": 5}, "n_design"),  # p = 6 for d = 2
        ({"n_front_candidates": 3}, "n_front_candidates"),
        ({"n_generations": 0}, "n_generations"),
        ({"link": "probit"}, "link"),
        ({"link": {"nope": "logit"}}, "unknown objective"),
        ({"link": 3}, "link"),
        ({"refine": "yes"}, "refine"),
        ({"n_refine": 0}, "n_refine"),
        ({"min_distance": 1.5}, "min_distance"),
        ({"min_distance": float("nan")}, "min_distance"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], match: str) -> None:
    with pytest.raises(SearcherConfigError, match=match):
        create_searcher("map", unit_space(2), TWO, 0, options)


def test_proposals_are_valid_json_and_keep_fixed_params() -> None:
    import json

    space = unit_space(2, k={"type": "fixed", "value": 7})
    s = MapSearcher(space, TWO, 0)
    hist = run(s, _toy2, 16)
    for t in hist:
        assert t.params["k"] == 7
        space.validate(t.params)
        json.dumps(t.system_attrs, allow_nan=False)
    assert isinstance(s.propose(hist, 1)[0], Proposal)
