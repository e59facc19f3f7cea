"""Algorithm-specific tests of ``bohb``: the KDE, the model selector, the sampling rules, quality.

Bracket bookkeeping is shared with ``hyperband`` and tested in ``test_hyperband.py``.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp, ndtr

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.benchmarks.functions import (
    HARTMANN6_MINIMUM,
    SPACES,
    hartmann6_mf_objective,
    zdt1_mf_objective,
)
from nas.exceptions import SearcherConfigError
from nas.pareto import hypervolume
from nas.searchers import BOHBSearcher, MixedKDE, Searcher, create_searcher
from nas.searchers._bohb import select_model_level, split_sizes
from nas.searchers._hyperband import augmented_chebyshev, iteration_weights
from nas.searchers._kde import KDEInputError, impute_missing, normal_reference_bandwidth
from nas.space import CategoricalParam, FloatParam, SearchSpace
from nas.testing.searchers import conditional_space, mixed_space, toy_values

MIN = (Objective("loss", "minimize"),)
OPTS = {"min_budget": 1, "max_budget": 9}


def box(dim: int) -> SearchSpace:
    return SearchSpace([FloatParam(f"x{i}", 0.0, 1.0) for i in range(dim)])


def finished(
    number: int,
    params: dict[str, Any],
    budget: float,
    values: dict[str, float] | None,
    state: TrialState = TrialState.COMPLETE,
    info: dict[str, Any] | None = None,
) -> FrozenTrial:
    return FrozenTrial(
        trial_id=number + 1,
        number=number,
        state=state,
        params=dict(params),
        budget=budget,
        values=dict(values or {}),
        system_attrs=dict(info or {}),
    )


def observations(
    space: SearchSpace,
    loss: Callable[[dict[str, Any]], float],
    counts: dict[float, int],
    seed: int = 0,
) -> list[FrozenTrial]:
    """Finished random trials at the given budgets (no bracket info: matched by budget)."""
    rng = np.random.default_rng(seed)
    out: list[FrozenTrial] = []
    for budget, count in counts.items():
        for _ in range(count):
            params = space.sample(rng)
            out.append(finished(len(out), params, budget, {"loss": loss(params)}))
    return out


# --------------------------------------------------------------------------- the KDE


def test_continuous_density_matches_scipy_gaussian_kde() -> None:
    rng = np.random.default_rng(0)
    data = rng.beta(2.0, 5.0, size=25)
    kde = MixedKDE(data[:, None], [0])
    h = 1.06 * data.std() * 25 ** (-1 / 5)  # normal reference, d = 1
    assert kde.bandwidth[0] == pytest.approx(h)
    ref = stats.gaussian_kde(data, bw_method=h / data.std(ddof=1))
    grid = np.linspace(-0.3, 1.3, 41)
    assert kde.pdf(grid[:, None]) == pytest.approx(ref(grid), rel=1e-10)
    # a density on the real line: integrates to 1
    wide = np.linspace(-2.0, 3.0, 20001)
    assert np.trapezoid(kde.pdf(wide[:, None]), wide) == pytest.approx(1.0, abs=1e-6)


def test_product_kernel_matches_the_formula() -> None:
    data = np.array([[0.2, 0.5, 0.0], [0.6, 0.9, 2.0]])
    bw = np.array([0.1, 0.3, 0.4])
    kde = MixedKDE(data, [0, 0, 3], bandwidth=bw)
    x = np.array([0.3, 0.7, 2.0])
    phi = stats.norm.pdf
    k0 = phi((0.3 - 0.2) / 0.1) / 0.1 * phi((0.7 - 0.5) / 0.3) / 0.3 * (0.4 / 2)
    k1 = phi((0.3 - 0.6) / 0.1) / 0.1 * phi((0.7 - 0.9) / 0.3) / 0.3 * (1 - 0.4)
    assert kde.pdf(x) == pytest.approx((k0 + k1) / 2, rel=1e-12)
    assert kde.log_pdf(x) == pytest.approx(math.log((k0 + k1) / 2), rel=1e-12)
    # far away the density underflows but the log density stays finite and exact
    far = np.array([[40.0, 0.5, 0.0]])
    logs = [
        stats.norm.logpdf(40.0, 0.2, 0.1) + stats.norm.logpdf(0.5, 0.5, 0.3) + math.log(0.6),
        stats.norm.logpdf(40.0, 0.6, 0.1) + stats.norm.logpdf(0.5, 0.9, 0.3) + math.log(0.2),
    ]
    assert kde.log_pdf(far)[0] == pytest.approx(logsumexp(logs) - math.log(2), rel=1e-12)
    assert kde.pdf(far)[0] == 0.0  # underflows, hence log space for l(x) / g(x)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # pandas, imported by statsmodels
def test_mixed_density_and_bandwidths_match_statsmodels() -> None:
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    n = 40
    data = np.column_stack([rng.random(n), rng.beta(2, 2, n), rng.integers(0, 4, n)])
    ours = MixedKDE(data, [0, 0, 4], min_bandwidth=1e-12)
    ref = sm.nonparametric.KDEMultivariate(data=data, var_type="ccu", bw="normal_reference")
    assert ours.bandwidth == pytest.approx(ref.bw, rel=1e-12)
    assert np.allclose(ours.bandwidth, normal_reference_bandwidth(data))
    pts = np.column_stack([rng.random(30), rng.random(30), rng.integers(0, 4, 30)])
    assert ours.pdf(pts) == pytest.approx(ref.pdf(pts), rel=1e-9)


def test_categorical_kernel_sums_to_one() -> None:
    data = np.array([[0.0], [2.0], [2.0], [4.0]])
    kde = MixedKDE(data, [5], bandwidth=[0.3])
    probs = kde.pdf(np.arange(5.0)[:, None])
    assert probs.sum() == pytest.approx(1.0)
    # Aitchison-Aitken: 1 - h on the datum, h / (c - 1) elsewhere, averaged over the data
    assert probs[2] == pytest.approx((2 * 0.7 + 2 * 0.3 / 4) / 4)
    # mixed: integrating the continuous column and summing the choices gives 1
    mixed = MixedKDE(np.array([[0.1, 1.0], [0.7, 0.0], [0.4, 2.0]]), [0, 3])
    wide = np.linspace(-3.0, 4.0, 20001)
    total = sum(
        np.trapezoid(mixed.pdf(np.column_stack([wide, np.full_like(wide, c)])), wide)
        for c in range(3)
    )
    assert total == pytest.approx(1.0, abs=1e-6)


def test_bandwidth_floor_and_categorical_cap() -> None:
    data = np.array([[0.5, 0.0], [0.5, 1.0], [0.5, 1.0], [0.5, 0.0]])
    kde = MixedKDE(data, [0, 2], min_bandwidth=1e-3)
    assert kde.bandwidth[0] == 1e-3  # constant column
    assert kde.bandwidth[1] <= 0.5  # (c - 1) / c: the uniform kernel, no more
    assert kde.pdf(np.array([0.5, 0.0])) > 0


def test_continuous_sampling_is_the_truncated_kernel_mixture() -> None:
    data = np.array([[0.02], [0.3], [0.95]])
    kde = MixedKDE(data, [0], bandwidth=[0.2])
    x = kde.sample(np.random.default_rng(1), 20000, bandwidth_factor=1.0)[:, 0]
    assert x.min() >= 0.0 and x.max() <= 1.0
    c, h = data[:, 0], 0.2

    def cdf(v: np.ndarray) -> np.ndarray:
        v = np.atleast_1d(v)[:, None]
        lo, hi = ndtr(-c / h), ndtr((1 - c) / h)
        return np.mean((ndtr((v - c) / h) - lo) / (hi - lo), axis=1)

    assert stats.kstest(x, cdf).pvalue > 1e-3
    # bandwidth_factor widens the kernel: one datum at 0.5, sd 3 * 0.05
    one = MixedKDE(np.array([[0.5]]), [0], bandwidth=[0.05])
    y = one.sample(np.random.default_rng(2), 20000, bandwidth_factor=3.0)[:, 0]
    assert y.std() == pytest.approx(
        stats.truncnorm(-0.5 / 0.15, 0.5 / 0.15, 0.5, 0.15).std(), rel=0.03
    )


def test_categorical_sampling_follows_the_kernel() -> None:
    data = np.array([[0.0], [0.0], [3.0]])
    kde = MixedKDE(data, [4], bandwidth=[0.3])
    draws = kde.sample(np.random.default_rng(5), 30000)[:, 0]
    assert set(np.unique(draws)) <= {0.0, 1.0, 2.0, 3.0}
    freq = np.bincount(draws.astype(int), minlength=4) / len(draws)
    assert freq == pytest.approx(kde.pdf(np.arange(4.0)[:, None]), abs=0.01)


def test_sampling_is_seeded() -> None:
    kde = MixedKDE(np.array([[0.1, 1.0], [0.8, 0.0]]), [0, 2])
    a = kde.sample(np.random.default_rng(9), 50, 3.0)
    b = kde.sample(np.random.default_rng(9), 50, 3.0)
    assert np.array_equal(a, b)


def test_impute_missing() -> None:
    data = np.array([[0.1, np.nan, np.nan], [0.2, 2.0, np.nan], [np.nan, 1.0, np.nan]])
    out = impute_missing(data, [0, 3, 0], np.random.default_rng(0))
    assert not np.isnan(out).any()
    assert out[2, 0] in (0.1, 0.2)  # copied from a row where the column is present
    assert out[0, 1] in (1.0, 2.0)
    assert np.all((out[:, 2] >= 0) & (out[:, 2] <= 1))  # nowhere present: uniform
    assert np.isnan(data).sum() == 5  # the input is untouched
    again = impute_missing(data, [0, 3, 0], np.random.default_rng(0))
    assert np.array_equal(out, again)


@pytest.mark.parametrize(
    ("data", "card", "match"),
    [
        ([[0.5, np.nan]], [0, 0], "finite"),
        ([[1.5]], [0], r"\[0, 1\]"),
        ([[3.0]], [3], "choice indices"),
        ([[0.5]], [1], "cardinality"),
        ([[0.5]], [0, 0], "one entry per column"),
        (np.zeros((0, 2)), [0, 0], "shape"),
    ],
)
def test_kde_rejects_bad_input(data: Any, card: list[int], match: str) -> None:
    with pytest.raises(KDEInputError, match=match):
        MixedKDE(data, card)


# --------------------------------------------------------------------------- model selection


def test_split_sizes_follow_hpbandster() -> None:
    assert split_sizes(14, 7, 15) == (7, 11)  # bad set has min(11, 14 - 7) = 7 rows
    assert split_sizes(100, 7, 15) == (15, 85)
    assert split_sizes(60, 3, 15) == (9, 51)


def test_select_model_level_takes_the_largest_budget_with_enough_points() -> None:
    # d = 6, N_min = 7: n >= N_min + 2 and both sets > 6 rows -> n >= 14
    assert select_model_level([30, 13, 14], 7, 6, 15) == 2
    assert select_model_level([30, 14, 13], 7, 6, 15) == 1
    assert select_model_level([14, 13, 13], 7, 6, 15) == 0
    assert select_model_level([13, 13, 13], 7, 6, 15) is None
    assert select_model_level([], 7, 6, 15) is None
    # a large N_min: the paper's N_min + 2 alone is not enough, the bad set needs > d rows
    assert select_model_level([22], 20, 3, 15) is None
    assert select_model_level([24], 20, 3, 15) == 0
    # a small d: the paper's N_min + 2 decides
    assert select_model_level([4], 2, 1, 15) == 0
    assert select_model_level([3], 2, 1, 15) is None


def test_bohb_uses_the_model_of_the_largest_budget_with_enough_points() -> None:
    space = box(2)  # d = 2, N_min = 3: a model needs 6 observations

    def loss(p: dict[str, Any]) -> float:
        return (p["x0"] - 0.3) ** 2 + (p["x1"] - 0.6) ** 2

    searcher = BOHBSearcher(space, MIN, 0, **OPTS)
    assert searcher.min_points_in_model == 3
    history = observations(space, loss, {3.0: 2, 9.0: 5})  # not enough anywhere
    assert {p.info["origin"] for p in searcher.propose(history, 40)} == {"random"}
    history = observations(space, loss, {1.0: 20, 3.0: 5, 9.0: 5})
    picks = [p.info for p in searcher.propose(history, 40) if p.info["origin"] == "model"]
    assert picks and {i["model_budget"] for i in picks} == {1.0}
    history.append(
        finished(len(history), space.sample(np.random.default_rng(1)), 3.0, {"loss": 1.0})
    )
    picks = [p.info for p in searcher.propose(history, 40) if p.info["origin"] == "model"]
    assert picks and {i["model_budget"] for i in picks} == {3.0}
    # pending trials are not observations; FAILED ones are (as the worst)
    pending = [
        finished(
            len(history) + k, space.sample(np.random.default_rng(k)), 9.0, None, TrialState.RUNNING
        )
        for k in range(3)
    ]
    picks = [
        p.info for p in searcher.propose(history + pending, 40) if p.info["origin"] == "model"
    ]
    assert {i["model_budget"] for i in picks} == {3.0}
    failed = [
        finished(
            len(history) + k, space.sample(np.random.default_rng(k)), 9.0, None, TrialState.FAILED
        )
        for k in range(3)
    ]
    picks = [p.info for p in searcher.propose(history + failed, 40) if p.info["origin"] == "model"]
    assert {i["model_budget"] for i in picks} == {9.0}


@pytest.mark.parametrize("fraction", [0.0, 1 / 3, 1.0])
def test_random_fraction(fraction: float) -> None:
    space = box(2)
    history = observations(space, lambda p: p["x0"], {1.0: 30})
    searcher = BOHBSearcher(space, MIN, 1, random_fraction=fraction, **OPTS)
    props = searcher.propose(history, 600)
    share = sum(p.info["origin"] == "random" for p in props) / len(props)
    assert share == pytest.approx(fraction, abs=0.06)


def test_model_picks_concentrate_near_the_optimum() -> None:
    space = box(3)
    opt = np.array([0.25, 0.7, 0.4])

    def loss(p: dict[str, Any]) -> float:
        return float(np.sum((np.array([p["x0"], p["x1"], p["x2"]]) - opt) ** 2))

    history = observations(space, loss, {1.0: 80})
    props = BOHBSearcher(space, MIN, 2, **OPTS).propose(history, 200)
    dist = {
        origin: [math.sqrt(loss(p.params)) for p in props if p.info["origin"] == origin]
        for origin in ("model", "random")
    }
    assert len(dist["model"]) > 100
    assert statistics.median(dist["model"]) < 0.5 * statistics.median(dist["random"])
    assert statistics.median(dist["model"]) < 0.3


def test_conditional_and_mixed_spaces() -> None:
    """Model picks are valid assignments; on a conditional space they follow the good branch."""
    objs = (Objective("f0", "minimize"),)
    space = mixed_space()
    history = observations(space, lambda p: toy_values(space, p, objs)["f0"], {1.0: 60})
    props = BOHBSearcher(space, MIN, 0, **OPTS).propose(history, 60)
    assert sum(p.info["origin"] == "model" for p in props) > 20
    for p in props:
        assert space.validate(p.params) == p.params

    space = conditional_space()

    def loss(p: dict[str, Any]) -> float:
        # the cnn branch with a dilated kernel is best; lr breaks ties
        return (p["model"] == "mlp") + 0.5 * (p.get("dilation", 0) < 2) + p["lr"]

    history = observations(space, loss, {1.0: 80})
    props = BOHBSearcher(space, MIN, 0, **OPTS).propose(history, 90)
    model = [p.params for p in props if p.info["origin"] == "model"]
    assert len(model) > 40
    for p in props:
        assert space.validate(p.params) == p.params
    assert sum(p["model"] == "cnn" for p in model) >= 0.9 * len(model)
    assert sum(p.get("dilation", 0) >= 2 for p in model) >= 0.7 * len(model)


def test_encode_decode_round_trip() -> None:
    space = mixed_space()
    searcher = BOHBSearcher(space, MIN, 0, **OPTS)
    rng = np.random.default_rng(0)
    for _ in range(50):
        params = space.sample(rng)
        row = searcher.encode(params)
        assert row.shape == (8,) and np.all(np.isfinite(row))  # 'one' and 'seed_like' are constant
        back = searcher.decode(row, rng)
        assert back.keys() == params.keys()
        for k, v in params.items():
            assert back[k] == (pytest.approx(v, rel=1e-12) if isinstance(v, float) else v)
            assert type(back[k]) is type(v)
    cond = BOHBSearcher(conditional_space(), MIN, 0, **OPTS)
    row = cond.encode({"model": "cnn", "kernel": 3, "lr": 0.01, "opt": "adam"})
    assert np.isnan(row).sum() == 4  # layers, units, dilation, momentum inactive


def test_no_duplicate_of_pending_or_finished_configs() -> None:
    space = SearchSpace([CategoricalParam(f"c{i}", ["a", "b", "c"]) for i in range(3)])  # 27
    rng = np.random.default_rng(0)
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < 14:
        p = space.sample(rng)
        seen[json.dumps(p, sort_keys=True)] = p
    configs = list(seen.values())
    history = [finished(k, p, 1.0, {"loss": float(k)}) for k, p in enumerate(configs[:10])]
    history += [
        finished(10 + k, p, 1.0, None, TrialState.WAITING) for k, p in enumerate(configs[10:])
    ]
    for seed in range(15):
        searcher = BOHBSearcher(space, MIN, seed, random_fraction=0.0, **OPTS)
        props = searcher.propose(history, 6)
        keys = [json.dumps(p.params, sort_keys=True) for p in props]
        assert not set(keys) & set(seen), f"seed {seed} repeated a config"
        assert len(set(keys)) == len(keys)
        assert any(p.info["origin"] == "model" for p in props)


def test_multi_objective_split_uses_the_iterations_weights() -> None:
    space = box(2)
    objs = (Objective("f1", "minimize"), Objective("f2", "maximize"))
    rng = np.random.default_rng(4)
    history = []
    for k in range(30):
        params = space.sample(rng)
        values = {"f1": params["x0"], "f2": params["x1"] + 0.1 * rng.random()}
        history.append(finished(k, params, 1.0, values))
    searcher = BOHBSearcher(space, objs, 7, **OPTS)
    for iteration in (0, 1):
        good, _ = searcher.fit(history, iteration, np.random.default_rng(0))
        mins = np.array([[t.values["f1"], -t.values["f2"]] for t in history])
        losses = augmented_chebyshev(mins, iteration_weights(7, iteration, 2))
        n_good, _ = split_sizes(30, searcher.min_points_in_model, 15)
        best = np.argsort(losses, kind="stable")[:n_good]
        expected = np.array([searcher.encode(history[k].params) for k in best])
        assert np.array_equal(good.data, expected)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"min_points_in_model": 0}, "min_points_in_model"),
        ({"min_points_in_model": 2.5}, "min_points_in_model"),
        ({"top_n_percent": 0}, "top_n_percent"),
        ({"top_n_percent": 100}, "top_n_percent"),
        ({"top_n_percent": True}, "top_n_percent"),
        ({"num_samples": 0}, "num_samples"),
        ({"random_fraction": 1.5}, "random_fraction"),
        ({"random_fraction": float("nan")}, "random_fraction"),
        ({"bandwidth_factor": 0}, "bandwidth_factor"),
        ({"min_bandwidth": -1e-3}, "min_bandwidth"),
        ({"min_bandwidth": float("inf")}, "min_bandwidth"),
        ({"eta": 0.5}, "eta"),
        ({"max_budget": None}, "max_budget"),
    ],
)
def test_invalid_options_raise(options: dict[str, Any], match: str) -> None:
    with pytest.raises(SearcherConfigError, match=match):
        create_searcher("bohb", box(2), MIN, 0, {**OPTS, **options})


def test_min_points_in_model_is_raised_to_d_plus_one() -> None:
    space = mixed_space()  # 8 modelled parameters
    assert BOHBSearcher(space, MIN, 0, **OPTS).min_points_in_model == 9
    assert BOHBSearcher(space, MIN, 0, min_points_in_model=2, **OPTS).min_points_in_model == 9
    assert BOHBSearcher(space, MIN, 0, min_points_in_model=20, **OPTS).min_points_in_model == 20


# --------------------------------------------------------------------------- quality


class _Trial:
    def __init__(self, number: int, params: dict[str, Any], budget: float | None) -> None:
        self.number, self.params, self.budget = number, params, budget


def run_with_budget(
    searcher: Searcher,
    objective: Callable[[Any], float | dict[str, float]],
    names: Sequence[str],
    total: float,
) -> list[FrozenTrial]:
    """Sequential study until the summed budgets (full evaluations: budget 1) reach ``total``."""
    history: list[FrozenTrial] = []
    spent = 0.0
    while spent < total - 1e-9:
        (p,) = searcher.propose(history, 1)
        budget = 1.0 if p.budget is None else p.budget
        out = objective(_Trial(len(history), p.params, budget))
        values = out if isinstance(out, dict) else {names[0]: out}
        history.append(
            finished(len(history), p.params, budget, values, info=copy.deepcopy(p.info))
        )
        spent += budget
    return history


MF = {"min_budget": 1 / 9, "max_budget": 1.0, "eta": 3}


def test_bohb_beats_hyperband_and_random_on_hartmann6_mf() -> None:
    """Equal total budget (60 full evaluations); regret of the best full-budget evaluation."""
    space = SearchSpace.from_dict(SPACES["hartmann6"])
    objs = (Objective("value", "minimize"),)
    regrets: dict[str, list[float]] = {}
    for name, options in (("random", {}), ("hyperband", MF), ("bohb", MF)):
        regrets[name] = []
        for seed in range(5):
            searcher = create_searcher(name, space, objs, seed, options)
            h = run_with_budget(searcher, hartmann6_mf_objective, ["value"], 60.0)
            best = min(t.values["value"] for t in h if t.budget == 1.0)
            regrets[name].append(best - HARTMANN6_MINIMUM)
    wins = sum(b < h for b, h in zip(regrets["bohb"], regrets["hyperband"], strict=True))
    assert wins >= 4, regrets
    assert statistics.median(regrets["bohb"]) < statistics.median(regrets["hyperband"])
    assert statistics.median(regrets["bohb"]) < statistics.median(regrets["random"])


def test_multi_objective_bohb_beats_random_hypervolume_on_zdt1_mf() -> None:
    space = SearchSpace.from_dict(SPACES["zdt1"])
    objs = (Objective("f1", "minimize"), Objective("f2", "minimize"))
    hv: dict[str, list[float]] = {}
    for name, options in (("random", {}), ("bohb", MF)):
        hv[name] = []
        for seed in range(5):
            searcher = create_searcher(name, space, objs, seed, options)
            h = run_with_budget(searcher, zdt1_mf_objective, ["f1", "f2"], 60.0)
            pts = np.array([[t.values["f1"], t.values["f2"]] for t in h if t.budget == 1.0])
            hv[name].append(hypervolume(pts, [1.1, 11.0]))
    wins = sum(b > r for b, r in zip(hv["bohb"], hv["random"], strict=True))
    assert wins >= 4, hv
    assert statistics.median(hv["bohb"]) > statistics.median(hv["random"])


def test_proposals_are_resume_exact_mid_bracket() -> None:
    """A fresh instance proposes what a long-lived one does, at every history length."""
    space = mixed_space()
    live = BOHBSearcher(space, MIN, 3, **OPTS)
    history: list[FrozenTrial] = []
    for k in range(70):
        (p,) = live.propose(history, 1)
        fresh = BOHBSearcher(space, MIN, 3, **OPTS).propose(list(history), 1)
        assert fresh == [p]
        value = toy_values(space, p.params, (Objective("loss", "minimize"),))["loss"]
        history.append(
            finished(k, p.params, p.budget, {"loss": value}, info=copy.deepcopy(p.info))
        )
    assert any(t.system_attrs["origin"] == "model" for t in history)


def test_proposal_shape() -> None:
    searcher = BOHBSearcher(box(2), MIN, 0, **OPTS)
    (p,) = searcher.propose([], 1)
    assert isinstance(p, Proposal) and p.budget == 1.0
    assert p.info == {"iteration": 0, "bracket": 2, "rung": 0, "slot": 0, "origin": "random"}
