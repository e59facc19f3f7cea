"""The analytic path of the ``bayesian`` searcher: LogEI and 2-D LogEHVI against BoTorch,
which path is used when, resume determinism with warm-started hyperparameters, large histories."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.acquisition.multi_objective.analytic import ExpectedHypervolumeImprovement
from botorch.utils.multi_objective.box_decompositions.non_dominated import (
    FastNondominatedPartitioning,
)
from gpytorch.mlls import ExactMarginalLogLikelihood

from nas._types import FrozenTrial, Objective, TrialState
from nas.benchmarks.functions import SPACES, hartmann6
from nas.searchers import BayesianSearcher
from nas.searchers._bo_analytic import (
    KERNELS,
    GPPriors,
    LogEHVI2,
    LogEI,
    NumpyGP,
    fit_map,
    log_h,
    neg_log_posterior,
    squared_differences,
    standardize,
)
from nas.space import SearchSpace

FAST = {"num_restarts": 2, "raw_samples": 64, "mc_samples": 16, "max_fit_iterations": 20}


def _fitted(
    n: int, d: int, m: int, seed: int = 0, kernel: str = "matern52"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = np.stack([np.sin(3 * x @ rng.normal(size=d)) + 0.3 * x[:, j % d] for j in range(m)], 1)
    priors = GPPriors.dim_scaled(d, (1.1, 30.0), 1e-6, 1e-3)
    y_std = standardize(y)[0].T.copy()
    theta = fit_map(squared_differences(x), y_std, priors, priors.initial(m), 60, kernel=kernel)
    assert theta is not None
    return x, y, theta


def _botorch_model(x: np.ndarray, y: np.ndarray, theta: np.ndarray, kernel: str = "matern52"):
    """The searcher's BoTorch model (the Monte-Carlo path's) with the same hyperparameters."""
    from nas.searchers._bo_model import load_params

    space = SearchSpace.from_dict(
        {
            "params": {
                f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(x.shape[1])
            }
        }
    )
    objs = tuple(Objective(f"f{j}", "maximize") for j in range(y.shape[1]))
    s = BayesianSearcher(space, objs, 0, kernel=kernel)
    model, ok = s._fit(torch.as_tensor(x), torch.as_tensor(y), theta)
    assert ok
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    assert load_params(mll, theta)  # the numpy loss passed its check against BoTorch's
    assert model.cache_posterior()  # the direct posterior covers the kernel
    return model


def _grad(acq, xs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    xt = xs.clone().requires_grad_(True)
    v = acq(xt.unsqueeze(-2))
    v.sum().backward()
    return v.detach().numpy(), xt.grad.numpy()


def test_log_h_is_accurate_in_every_branch() -> None:
    from scipy.stats import norm

    z = np.array([-40.0, -5.0, -1.5, -0.5, 0.0, 2.0, 10.0])
    expected = np.log(norm.pdf(z) + z * norm.cdf(z))
    finite = np.isfinite(expected) & (z > -30)
    assert np.allclose(log_h(z)[finite], expected[finite], rtol=1e-9)
    # far tail: the asymptote phi(z) / z^2
    assert log_h(np.array([-1e9]))[0] == pytest.approx(
        -0.5e18 - 0.5 * np.log(2 * np.pi) - 2 * np.log(1e9)
    )
    assert np.all(np.isfinite(log_h(np.array([-1e3, -40.0, -26.0]))))


@pytest.mark.parametrize("kernel", KERNELS)
def test_numpy_posterior_equals_the_botorch_model(kernel: str) -> None:
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import MaternKernel, RBFKernel

    x, y, theta = _fitted(20, 3, 2, kernel=kernel)
    gp = NumpyGP(x, y, theta, kernel)
    model = _botorch_model(x, y, theta, kernel)
    covar = model.covar_module
    if kernel == "rbf":
        assert type(covar) is RBFKernel
    else:
        assert type(covar) is MaternKernel and covar.nu == 2.5
    # a training input (r = 0) among the points
    xs = np.concatenate([np.random.default_rng(5).random((7, 3)), x[:1]])
    mean, var = gp.posterior(xs)
    with torch.no_grad():
        post = model.posterior(torch.as_tensor(xs))  # the direct posterior
        general = SingleTaskGP.posterior(model, torch.as_tensor(xs))  # GPyTorch's
    for p in (post, general):
        assert np.allclose(mean, p.mean.numpy(), rtol=1e-8, atol=1e-10)
        assert np.allclose(var, p.variance.numpy(), rtol=1e-6, atol=1e-10)
    # joint covariance too (the Monte-Carlo path samples it)
    assert torch.allclose(
        post.distribution.covariance_matrix,
        general.distribution.covariance_matrix,
        rtol=1e-6,
        atol=1e-10,
    )


@pytest.mark.parametrize("kernel", KERNELS)
def test_loss_gradient_matches_finite_differences(kernel: str) -> None:
    x, y, theta = _fitted(15, 3, 2, kernel=kernel)
    priors = GPPriors.dim_scaled(3, (1.1, 30.0), 1e-6, 1e-3)
    y_std = standardize(y)[0].T.copy()
    diff2 = squared_differences(x)
    theta = theta * np.exp(np.random.default_rng(3).normal(0, 0.2, len(theta)))  # off-optimum
    theta[6:8] = [0.1, -0.2]  # the constant means
    out = neg_log_posterior(diff2, y_std, theta, priors, kernel)
    assert out is not None
    grad = out[1]
    for i in range(len(theta)):
        h = 1e-6 * max(abs(theta[i]), 1e-3)
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        f_up = neg_log_posterior(diff2, y_std, up, priors, kernel)
        f_down = neg_log_posterior(diff2, y_std, down, priors, kernel)
        assert f_up is not None and f_down is not None
        fd = (f_up[0] - f_down[0]) / (2 * h)
        assert fd == pytest.approx(grad[i], rel=1e-5, abs=1e-7), (i, fd, grad[i])


@pytest.mark.parametrize("kernel", KERNELS)
def test_posterior_gradients_match_finite_differences(kernel: str) -> None:
    x, y, theta = _fitted(15, 3, 2, kernel=kernel)
    gp = NumpyGP(x, y, theta, kernel)
    xs = np.random.default_rng(4).random((5, 3))
    _, _, d_mean, d_var = gp.posterior(xs, grad=True)
    eps = 1e-6
    for k in range(3):
        e = np.zeros(3)
        e[k] = eps
        m_up, v_up = gp.posterior(xs + e)
        m_down, v_down = gp.posterior(xs - e)
        assert np.allclose(d_mean[..., k], (m_up - m_down) / (2 * eps), rtol=1e-5, atol=1e-7)
        assert np.allclose(d_var[..., k], (v_up - v_down) / (2 * eps), rtol=1e-4, atol=1e-7)
    # at a training input (r = 0 to that row): finite, and the one-sided slopes agree with it
    _, _, d_mean0, d_var0 = gp.posterior(x[:1], grad=True)
    assert np.all(np.isfinite(d_mean0)) and np.all(np.isfinite(d_var0))
    for k in range(3):
        e = np.zeros(3)
        e[k] = 1e-5
        m_up = gp.posterior(x[:1] + e)[0]
        m_down = gp.posterior(x[:1] - e)[0]
        assert np.allclose(d_mean0[..., k], (m_up - m_down) / 2e-5, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("kernel", KERNELS)
def test_log_ei_values_and_gradients_match_botorch(kernel: str) -> None:
    x, y, theta = _fitted(25, 3, 1, kernel=kernel)
    gp = NumpyGP(x, y, theta, kernel)
    best = float(y.max()) + 0.05
    ours = LogEI(gp, best)
    theirs = LogExpectedImprovement(_botorch_model(x, y, theta, kernel), best_f=best)
    xs = np.random.default_rng(1).random((9, 3))
    v, g = ours.value_and_grad(xs)
    v_b, g_b = _grad(theirs, torch.as_tensor(xs))
    # the two posteriors agree to about 1e-8 relative (different triangular solves)
    assert np.allclose(v, v_b, rtol=1e-6, atol=1e-9)
    assert np.allclose(g, g_b, rtol=1e-5, atol=1e-8)


def test_log_ehvi_values_match_botorch_and_gradients_match_finite_differences() -> None:
    x, y, theta = _fitted(25, 2, 2)
    gp = NumpyGP(x, y, theta)
    ref = y.min(axis=0) - 0.1
    ours = LogEHVI2(gp, y, ref)
    partitioning = FastNondominatedPartitioning(
        ref_point=torch.as_tensor(ref), Y=torch.as_tensor(y)
    )
    theirs = ExpectedHypervolumeImprovement(
        _botorch_model(x, y, theta), ref_point=ref.tolist(), partitioning=partitioning
    )
    xs = np.random.default_rng(2).random((9, 2))
    v, g = ours.value_and_grad(xs)
    with torch.no_grad():
        v_b = theirs(torch.as_tensor(xs).unsqueeze(-2)).numpy()
    assert np.allclose(np.exp(v), v_b, rtol=1e-7, atol=1e-12)
    eps = 1e-6
    for k in range(2):
        e = np.zeros(2)
        e[k] = eps
        fd = (ours(xs + e) - ours(xs - e)) / (2 * eps)
        assert np.allclose(g[:, k], fd, rtol=2e-3, atol=1e-6)  # steep far from the data


def test_log_ehvi_equals_a_monte_carlo_estimate() -> None:
    x, y, theta = _fitted(15, 2, 2, seed=3)
    gp = NumpyGP(x, y, theta)
    ref = y.min(axis=0) - 0.2
    acq = LogEHVI2(gp, y, ref)
    xs = np.random.default_rng(4).random((3, 2))
    mean, var = gp.posterior(xs)
    rng = np.random.default_rng(0)
    samples = mean[:, None, :] + np.sqrt(var)[:, None, :] * rng.normal(size=(3, 200_000, 2))
    lo, hi, lo2 = acq.lower1, acq.upper1, acq.lower2
    widths = np.clip(np.minimum(samples[..., :1], hi) - lo, 0, None)
    heights = np.clip(samples[..., 1:] - lo2, 0, None)
    mc = (widths * heights).sum(-1).mean(-1)
    assert np.allclose(np.exp(acq(xs)), mc, rtol=0.02)


def _history(space: SearchSpace, n: int, seed: int = 0) -> list[FrozenTrial]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        p = space.sample(rng)
        v = float(hartmann6([p[f"x{i}"] for i in range(6)]))
        out.append(
            FrozenTrial(
                trial_id=k + 1, number=k, state=TrialState.COMPLETE, params=p, values={"value": v}
            )
        )
    return out


MIN = (Objective("value", "minimize"),)


def test_pending_points_or_the_mc_option_take_the_monte_carlo_path() -> None:
    space = SearchSpace.from_dict(SPACES["hartmann6"])
    history = _history(space, 12)
    s = BayesianSearcher(space, MIN, 0, **FAST)
    assert s.propose(history, 1)[0].info["acquisition"] == "LogEI"
    running = FrozenTrial(
        trial_id=99,
        number=12,
        state=TrialState.RUNNING,
        params=space.sample(np.random.default_rng(9)),
    )
    assert s.propose([*history, running], 1)[0].info["acquisition"] == "qLogNEI"
    assert [p.info["acquisition"] for p in s.propose(history, 2)] == ["LogEI", "qLogNEI"]
    mc = BayesianSearcher(space, MIN, 0, acquisition="mc", **FAST)
    assert mc.propose(history, 1)[0].info["acquisition"] == "qLogNEI"


def test_warm_start_comes_from_the_history_so_a_fresh_instance_proposes_the_same() -> None:
    space = SearchSpace.from_dict(SPACES["hartmann6"])
    history = _history(space, 14)
    s = BayesianSearcher(space, MIN, 0, **FAST)
    chain: list[FrozenTrial] = list(history)
    for _ in range(3):
        (p,) = s.propose(chain, 1)
        assert len(p.info["gp_params"]) == 6 + 2
        v = float(hartmann6([p.params[f"x{i}"] for i in range(6)]))
        chain.append(
            FrozenTrial(
                trial_id=len(chain) + 1,
                number=len(chain),
                state=TrialState.COMPLETE,
                params=p.params,
                values={"value": v},
                system_attrs=dict(p.info),
            )
        )
    again = BayesianSearcher(space, MIN, 0, **FAST).propose(chain, 1)[0]
    assert again == s.propose(chain, 1)[0]
    # a cold start (no recorded hyperparameters) is a valid proposal too
    stripped = [dataclasses.replace(t, system_attrs={}) for t in chain]
    assert (
        BayesianSearcher(space, MIN, 0, **FAST).propose(stripped, 1)[0].info["origin"] == "model"
    )


def test_a_thousand_trials_fit_on_a_subset() -> None:
    space = SearchSpace.from_dict(SPACES["hartmann6"])
    history = _history(space, 1000)
    s = BayesianSearcher(space, MIN, 0, max_train=120, **FAST)
    (p,) = s.propose(history, 1)
    assert p.info["origin"] == "model" and p.info["n_train"] == 1000 and p.info["n_fit"] == 120
    space.validate(p.params)
