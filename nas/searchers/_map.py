"""Pareto/MAP (Li et al., 2024): quadratic surrogates and an amortised Pareto front.

MAP ("Model merging with Amortized Pareto fronts") replaces most evaluations of an expensive
multi-objective problem by one cheap surrogate per objective: a full second-order polynomial
of the inputs (squares, pairwise interactions, linear terms and a constant), fitted by least
squares to a small space-filling design, optionally through a link function for bounded
metrics. The Pareto front of the surrogates (the *amortised* front) is then computed with
NSGA-II (polished by multiple-gradient descent), which costs milliseconds instead of real
evaluations, and points of that predicted front are proposed for real evaluation. See
``shared/papers.md`` §4 for the paper's algorithm; this module is the general-purpose version
for any continuous search space.

Everything is a function of ``(space, objectives, seed, options, history)``: the design comes
from a scrambled Sobol sequence seeded by the study seed, the surrogates are refitted from the
COMPLETE trials on every call, and the surrogate NSGA-II draws from
:meth:`~nas.searchers.Searcher.rng` of the fitted trials. An instance memoises the last fit and
front (keyed by the exact data they were computed from), which saves work between calls but
never changes a proposal.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import SearcherConfigError
from nas.pareto import non_dominated_sort, pareto_mask
from nas.searchers._base import Searcher, constraint_columns
from nas.searchers._operators import check_int_option
from nas.searchers._registry import register_searcher
from nas.space import FixedParam

if TYPE_CHECKING:
    from nas.space import SearchSpace

__all__ = [
    "LINKS",
    "MapSearcher",
    "PredictedFront",
    "QuadraticSurrogate",
    "epsilon_dominated",
    "fit_quadratic",
    "link_accepts",
    "n_quadratic_terms",
    "pareto_descent",
    "quadratic_features",
    "surrogate_nsga2",
]

_OWNER = "map"

#: Link functions: ``identity`` (y = q(x)), ``logit`` (y = sigmoid(q(x)), metrics in [0, 1]
#: such as accuracies) and ``softplus`` (y = log(1 + exp(q(x))), non-negative metrics such as
#: losses), as in the paper's ``choose_activation``.
LINKS: tuple[str, ...] = ("identity", "logit", "softplus")

# Streams of Searcher.rng / of the design seed sequence, so that no two uses share draws.
_DESIGN_STREAM = 0x4D4150  # "MAP"
_FRONT_STREAM = 1
_REFINE_STREAM = 2

# Surrogate NSGA-II variation (Deb's defaults, also the paper's eta = 20).
_SBX_ETA = 20.0
_SBX_PROB = 0.9
_PM_ETA = 20.0
# Nonlinear least squares of the link fits.
_LINK_CLIP = 1e-3  # y is clipped to [eps, 1 - eps] (logit) / [eps, inf) (softplus) for the init
_RIDGE = 1e-8  # tiny ridge on the non-constant coefficients: keeps saturated fits finite
_LOO_EPS = 1e-8  # leverage closer than this to 1: the leave-one-out residual is undefined


# --------------------------------------------------------------------------- quadratic fits


def n_quadratic_terms(d: int) -> int:
    """Coefficients of a full quadratic in ``d`` inputs: ``(d + 1)(d + 2) / 2``."""
    return (d + 1) * (d + 2) // 2


def quadratic_features(unit: np.ndarray) -> np.ndarray:
    """The design matrix of a full second-order polynomial.

    Inputs are centred first, ``z = 2u - 1`` (so ``z`` lies in ``[-1, 1]``, which keeps the
    matrix well conditioned). Columns, in order: ``1``; ``z_0 .. z_{d-1}``; ``z_i z_j`` for
    ``i <= j`` in row-major upper-triangle order (``z_0^2, z_0 z_1, ..., z_{d-1}^2``).

    Args:
        unit: ``(n, d)`` points of the unit cube (any reals are accepted).

    Returns:
        ``(n, (d + 1)(d + 2) / 2)`` float array.

    Raises:
        ValueError: ``unit`` is not 2-D.
    """
    u = np.asarray(unit, dtype=float)
    if u.ndim != 2:
        raise ValueError(f"unit must be a 2-D (n, d) array, got shape {u.shape}")
    z = 2.0 * u - 1.0
    i, j = np.triu_indices(u.shape[1])
    return np.hstack((np.ones((u.shape[0], 1)), z, z[:, i] * z[:, j]))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic
    return out


def _softplus(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.logaddexp(0.0, x)
    return out


def _apply_link(link: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(y, dy/deta)`` of the link's inverse at ``eta``."""
    if link == "logit":
        s = _sigmoid(eta)
        return s, s * (1.0 - s)
    if link == "softplus":
        return _softplus(eta), _sigmoid(eta)
    return eta, np.ones_like(eta)


def _link_inverse(link: str, y: np.ndarray) -> np.ndarray:
    """``eta`` with ``link_inverse(eta) ~= y`` on clipped ``y`` (the nonlinear fit's start)."""
    if link == "logit":
        c = np.clip(y, _LINK_CLIP, 1.0 - _LINK_CLIP)
        out: np.ndarray = np.log(c) - np.log1p(-c)
        return out
    if link == "softplus":
        c = np.maximum(y, _LINK_CLIP)
        return c + np.log(-np.expm1(-c))  # log(exp(c) - 1), stable
    return y


def link_accepts(link: str, y: np.ndarray) -> bool:
    """Whether every value of ``y`` lies in the range of ``link`` (``[0, 1]`` for ``logit``,
    ``>= 0`` for ``softplus``, anything finite for ``identity``)."""
    if link == "logit":
        return bool(np.all((y >= 0.0) & (y <= 1.0)))
    if link == "softplus":
        return bool(np.all(y >= 0.0))
    return True


@dataclass(frozen=True, eq=False)
class QuadraticSurrogate:
    """A fitted ``y ~= link^-1(q(u))`` with ``q`` a full quadratic in ``z = 2u - 1``.

    Attributes:
        coef: ``(p,)`` coefficients of :func:`quadratic_features`' columns.
        link: one of :data:`LINKS`.
        residuals: ``(n,)`` training residuals ``y - prediction``.
        loo_residuals: ``(n,)`` leave-one-out residuals ``e_i / (1 - h_ii)`` (for a link, of
            the Gauss-Newton linearisation at the optimum); ``nan`` where the leverage
            ``h_ii`` is 1 (the point is interpolated: no leave-one-out information).
        r2: coefficient of determination on the training data (1.0 for constant data fitted
            exactly).
    """

    coef: np.ndarray
    link: str
    residuals: np.ndarray
    loo_residuals: np.ndarray
    r2: float

    @property
    def noise(self) -> float:
        """Residual standard error ``sqrt(SSR / (n - p))`` (``0.0`` when ``n <= p``): the scale
        below which differences between predictions are not significant."""
        n, p = self.residuals.shape[0], self.coef.shape[0]
        if n <= p:
            return 0.0
        return math.sqrt(float(np.sum(self.residuals**2)) / (n - p))

    @property
    def standard_error(self) -> float:
        """Standard error of a fitted value at average leverage, ``noise * sqrt(p / n)``: the
        uncertainty of the surrogate's mean prediction, which shrinks as data accumulates."""
        n, p = self.residuals.shape[0], self.coef.shape[0]
        return self.noise * math.sqrt(p / n)

    @property
    def dim(self) -> int:
        """Number of inputs ``d``."""
        p = self.coef.shape[0]
        return round((math.sqrt(8 * p + 1) - 3) / 2)

    def predict(self, unit: np.ndarray) -> np.ndarray:
        """Predictions at ``(n, d)`` unit-cube points, shape ``(n,)``, in the metric's scale."""
        eta = quadratic_features(unit) @ self.coef
        return _apply_link(self.link, eta)[0]

    def gradient(self, unit: np.ndarray) -> np.ndarray:
        """Gradients of :meth:`predict` with respect to the unit-cube inputs, ``(n, d)``.

        With ``z = 2u - 1`` and ``eta = c + b.z + z.Q.z`` (``Q`` upper triangular holding the
        square and interaction coefficients), ``d eta / du = 2 (b + (Q + Q^T) z)``, times the
        link's slope at ``eta``.
        """
        u = np.asarray(unit, dtype=float)
        d = u.shape[1]
        quad = np.zeros((d, d))
        quad[np.triu_indices(d)] = self.coef[1 + d :]
        z = 2.0 * u - 1.0
        deta_dz = self.coef[1 : 1 + d] + z @ (quad + quad.T)
        slope = _apply_link(self.link, quadratic_features(u) @ self.coef)[1]
        out: np.ndarray = 2.0 * slope[:, None] * deta_dz
        return out


def fit_quadratic(unit: np.ndarray, y: np.ndarray, link: str = "identity") -> QuadraticSurrogate:
    """Fit one quadratic surrogate by least squares.

    ``identity``: ordinary least squares (minimum-norm solution if the design is rank
    deficient). ``logit``/``softplus``: nonlinear least squares in the metric's own scale,
    ``min sum_i (link^-1(q(u_i)) - y_i)^2`` (the paper's ``curve_fit`` formulation), by
    Levenberg-Marquardt from the linear fit of the clipped ``link(y)``, with a ``1e-8`` ridge on
    the non-constant coefficients so that a saturated metric (all accuracies 1.0) stays finite.

    Args:
        unit: ``(n, d)`` inputs in the unit cube.
        y: ``(n,)`` finite targets (within the link's range, see :func:`link_accepts`).
        link: one of :data:`LINKS`.

    Returns:
        The fitted :class:`QuadraticSurrogate`.

    Raises:
        ValueError: shapes disagree, ``n < 1``, non-finite data, an unknown link, or targets
            outside the link's range.
    """
    u = np.asarray(unit, dtype=float)
    t = np.asarray(y, dtype=float).ravel()
    if u.ndim != 2 or u.shape[0] != t.shape[0] or u.shape[0] < 1:
        raise ValueError(
            f"fit_quadratic needs unit (n, d) and y (n,) with n >= 1, got {u.shape} and {t.shape}"
        )
    if not (np.isfinite(u).all() and np.isfinite(t).all()):
        raise ValueError("fit_quadratic needs finite inputs and targets")
    if link not in LINKS:
        raise ValueError(f"unknown link {link!r}; valid links: {', '.join(LINKS)}")
    if not link_accepts(link, t):
        raise ValueError(
            f"link {link!r} needs targets in its range, got min {t.min()!r}, max {t.max()!r}"
        )
    phi = quadratic_features(u)
    beta = np.linalg.lstsq(phi, _link_inverse(link, t), rcond=None)[0]
    if link != "identity":
        beta = _nonlinear_fit(phi, t, link, beta)
    eta = phi @ beta
    pred, slope = _apply_link(link, eta)
    resid = t - pred
    loo = _loo(phi * slope[:, None], resid)
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    ss_res = float(np.sum(resid**2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    for arr in (beta, resid, loo):
        arr.flags.writeable = False
    return QuadraticSurrogate(coef=beta, link=link, residuals=resid, loo_residuals=loo, r2=r2)


def _nonlinear_fit(phi: np.ndarray, y: np.ndarray, link: str, beta0: np.ndarray) -> np.ndarray:
    """Levenberg-Marquardt on ``link^-1(phi @ beta) - y`` plus ridge rows; deterministic."""
    from scipy.optimize import least_squares

    n, p = phi.shape
    ridge = math.sqrt(_RIDGE)
    # Ridge rows on every coefficient but the constant; they also make the system overdetermined
    # as LM requires (rows >= unknowns) whatever n is.
    reg = np.zeros((p - 1, p))
    reg[:, 1:] = ridge * np.eye(p - 1)

    def fun(beta: np.ndarray) -> np.ndarray:
        out = np.empty(n + p - 1)
        out[:n] = _apply_link(link, phi @ beta)[0] - y
        out[n:] = reg @ beta
        return out

    def jac(beta: np.ndarray) -> np.ndarray:
        slope = _apply_link(link, phi @ beta)[1]
        return np.vstack((phi * slope[:, None], reg))

    # A start in the saturated tail has a vanishing gradient; pull it back to |eta| <= 8.
    eta0 = phi @ beta0
    peak = float(np.max(np.abs(eta0))) if eta0.size else 0.0
    if peak > 8.0:
        beta0 = beta0 * (8.0 / peak)
    result = least_squares(
        fun, beta0, jac=jac, method="lm", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=200 * p
    )
    beta = np.asarray(result.x, dtype=float)
    # Keep whichever of the start and the optimum is better (LM never does worse, but a
    # non-finite step would).
    if not np.isfinite(beta).all() or np.sum(fun(beta) ** 2) > np.sum(fun(beta0) ** 2):
        beta = beta0
    return beta


def _loo(jac: np.ndarray, resid: np.ndarray) -> np.ndarray:
    """Leave-one-out residuals ``e_i / (1 - h_ii)`` of a (linearised) least-squares fit."""
    u, s, _ = np.linalg.svd(jac, full_matrices=False)
    rank = int(np.sum(s > s[0] * max(jac.shape) * np.finfo(float).eps)) if s.size else 0
    lev = np.sum(u[:, :rank] ** 2, axis=1)
    out = np.full(resid.shape, np.nan)
    ok = (1.0 - lev) > _LOO_EPS
    out[ok] = resid[ok] / (1.0 - lev[ok])
    return out


# --------------------------------------------------------------------------- surrogate NSGA-II


def epsilon_dominated(values: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Which points another point beats by a significant margin.

    Point ``b`` is epsilon-dominated by ``a`` when ``a`` is nowhere worse than ``b`` by more
    than ``eps`` and somewhere better by more than ``eps`` (minimization):
    ``all(f_a <= f_b + eps) and any(f_a < f_b - eps)``. With ``eps = 0`` this is Pareto
    dominance. MAP uses it with the surrogates' residual standard errors to drop the flat tails
    of a predicted front (e.g. a tiny predicted gain in one accuracy bought with a large loss
    in the other), which are noise of the fit rather than real trade-offs.

    Args:
        values: ``(n, m)`` minimization values.
        eps: ``(m,)`` non-negative margins.

    Returns:
        ``(n,)`` bool.
    """
    v = np.asarray(values, dtype=float)
    e = np.asarray(eps, dtype=float)
    not_worse = np.all(v[:, None, :] <= v[None, :, :] + e, axis=2)  # [a, b]
    better = np.any(v[:, None, :] < v[None, :, :] - e, axis=2)
    out: np.ndarray = np.any(not_worse & better, axis=0)
    return out


def _crowding_all(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Crowding distance of every point within its own front, vectorised over all fronts.

    Per objective, the points of a front are sorted by value; the two ends get ``inf`` and the
    others the gap between their neighbours divided by the front's range (``0`` for a constant
    objective). Exact duplicates inside a front are neighbours at distance 0, which penalises
    them (wanted on the surrogate, where duplicates carry no new information).
    """
    n, m = values.shape
    dist = np.zeros(n)
    for j in range(m):
        order = np.lexsort((values[:, j], ranks))
        r = ranks[order]
        v = values[order, j]
        first = np.ones(n, dtype=bool)
        first[1:] = r[1:] != r[:-1]
        last = np.ones(n, dtype=bool)
        last[:-1] = r[1:] != r[:-1]
        starts = np.flatnonzero(first)
        ends = np.flatnonzero(last)
        span = np.repeat(v[ends] - v[starts], ends - starts + 1)
        gap = np.zeros(n)
        inner = ~(first | last)
        gap[inner] = v[2:][inner[1:-1]] - v[:-2][inner[1:-1]]
        contrib = np.where(span > 0, gap / np.where(span > 0, span, 1.0), 0.0)
        contrib[(first | last) & (span > 0)] = np.inf
        dist[order] += contrib
    return dist


def _survive(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NSGA-II environmental selection: indices of the ``size`` best, their ranks and crowding.

    Survivors are whole fronts plus the most crowded-apart part of the last one, so their ranks
    are unchanged; their crowding distances are those computed in the combined set (as in Deb
    et al. 2002).
    """
    ranks = non_dominated_sort(values)
    crowd = _crowding_all(values, ranks)
    order = np.lexsort((np.arange(len(ranks)), -crowd, ranks))[:size]
    return order, ranks[order], crowd[order]


def _tournament(
    ranks: np.ndarray, crowd: np.ndarray, rng: np.random.Generator, count: int
) -> np.ndarray:
    """``count`` winners of crowded binary tournaments (lower rank, then larger crowding)."""
    a = rng.integers(len(ranks), size=count)
    b = rng.integers(len(ranks), size=count)
    a_wins = (ranks[a] < ranks[b]) | ((ranks[a] == ranks[b]) & (crowd[a] >= crowd[b]))
    return np.where(a_wins, a, b)


def _variation(parents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBX crossover (eta 20, probability 0.9, each variable with probability 0.5) and
    polynomial mutation (eta 20, probability ``1/d`` per variable), clipped to ``[0, 1]``."""
    n, d = parents.shape
    half = n // 2
    p1, p2 = parents[:half], parents[half : 2 * half]
    r = rng.random((half, d))
    beta = np.where(
        r <= 0.5,
        (2.0 * r) ** (1.0 / (_SBX_ETA + 1.0)),
        (1.0 / (2.0 * (1.0 - r))) ** (1.0 / (_SBX_ETA + 1.0)),
    )
    cross = (rng.random((half, 1)) < _SBX_PROB) & (rng.random((half, d)) < 0.5)
    c1 = np.where(cross, 0.5 * ((1 + beta) * p1 + (1 - beta) * p2), p1)
    c2 = np.where(cross, 0.5 * ((1 - beta) * p1 + (1 + beta) * p2), p2)
    children = np.vstack((c1, c2, parents[2 * half :]))
    mutate = rng.random((n, d)) < 1.0 / d
    q = rng.random((n, d))
    delta = np.where(
        q < 0.5,
        (2.0 * q) ** (1.0 / (_PM_ETA + 1.0)) - 1.0,
        1.0 - (2.0 * (1.0 - q)) ** (1.0 / (_PM_ETA + 1.0)),
    )
    out: np.ndarray = np.clip(children + mutate * delta, 0.0, 1.0)
    return out


def surrogate_nsga2(
    evaluate: Any,
    dim: int,
    rng: np.random.Generator,
    population: int = 100,
    generations: int = 50,
    seeds: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised real-coded NSGA-II on a cheap function of the unit cube.

    Args:
        evaluate: callable ``(k, dim) -> (k, m)`` minimization values (finite).
        dim: number of inputs ``d >= 1``.
        rng: the only source of randomness.
        population: population size ``>= 4`` (and the number of points returned).
        generations: generations ``>= 0``.
        seeds: optional ``(s, dim)`` points placed in the initial population (at most half of
            it), the rest being uniform draws.

    Returns:
        ``(points, values, ranks)`` of the final population: ``(population, d)``,
        ``(population, m)`` and ``(population,)`` (rank 0 = the predicted Pareto front),
        ordered by rank then decreasing crowding.
    """
    pop = rng.random((population, dim))
    if seeds is not None and len(seeds):
        k = min(len(seeds), population // 2)
        pop[:k] = np.clip(seeds[:k], 0.0, 1.0)
    vals = np.asarray(evaluate(pop), dtype=float)
    order, ranks, crowd = _survive(vals, population)
    pop, vals = pop[order], vals[order]
    for _ in range(generations):
        parents = pop[_tournament(ranks, crowd, rng, population)]
        children = _variation(parents, rng)
        both = np.vstack((pop, children))
        both_vals = np.vstack((vals, np.asarray(evaluate(children), dtype=float)))
        order, ranks, crowd = _survive(both_vals, population)
        pop, vals = both[order], both_vals[order]
    return pop, vals, ranks


def _min_norm_combination(grads: np.ndarray) -> np.ndarray:
    """Per point, the minimum-norm element of the convex hull of its ``m`` gradients.

    Args:
        grads: ``(k, m, d)``.

    Returns:
        ``(k, d)``; its negation decreases every objective whose gradient is in the hull
        (Desideri's multiple-gradient descent direction), zero at Pareto-critical points.
    """
    k, m, _ = grads.shape
    if m == 1:
        return grads[:, 0, :]
    if m == 2:
        g1, g2 = grads[:, 0, :], grads[:, 1, :]
        diff = g1 - g2
        den = np.sum(diff**2, axis=1)
        alpha = np.clip(-np.sum(diff * g2, axis=1) / np.where(den > 0, den, 1.0), 0.0, 1.0)
        return alpha[:, None] * g1 + (1.0 - alpha[:, None]) * g2
    # Frank-Wolfe on the simplex with exact line search. An approximate minimiser is enough:
    # the descent step that uses it is only accepted if no objective gets worse.
    alpha = np.full((k, m), 1.0 / m)
    rows = np.arange(k)
    for _ in range(12):
        w = np.einsum("km,kmd->kd", alpha, grads)
        t = np.argmin(np.einsum("kmd,kd->km", grads, w), axis=1)
        gt = grads[rows, t]
        diff = w - gt
        den = np.sum(diff**2, axis=1)
        gamma = np.clip(np.sum(diff * w, axis=1) / np.where(den > 0, den, 1.0), 0.0, 1.0)
        alpha *= 1.0 - gamma[:, None]
        alpha[rows, t] += gamma
    out: np.ndarray = np.einsum("km,kmd->kd", alpha, grads)
    return out


def pareto_descent(
    points: np.ndarray,
    evaluate: Any,
    jacobian: Any,
    steps: int = 30,
) -> tuple[np.ndarray, np.ndarray]:
    """Polish points towards the Pareto set by multiple-gradient descent inside the unit cube.

    NSGA-II spreads its population well but converges slowly in the last digits; on smooth
    surrogates a few common-descent steps per point finish the job. Each step moves a point
    along minus the minimum-norm convex combination of its objectives' gradients (projected on
    the box: a component pushing out of ``[0, 1]`` at a bound is dropped), and is kept only if
    no objective gets worse and one improves; the step length grows by 1.5 after a success and
    halves after a failure.

    Args:
        points: ``(k, d)`` starting points in the unit cube.
        evaluate: ``(k, d) -> (k, m)`` minimization values.
        jacobian: ``(k, d) -> (k, m, d)`` their gradients.
        steps: iterations (``>= 0``).

    Returns:
        ``(points, values)`` after polishing; no point's values are worse than at the start.
    """
    x = np.array(points, dtype=float, copy=True)
    f = np.asarray(evaluate(x), dtype=float)
    step = np.full(x.shape[0], 0.05)
    for _ in range(steps):
        grads = np.asarray(jacobian(x), dtype=float)
        at_low = (x <= 0.0)[:, None, :] & (grads > 0.0)
        at_high = (x >= 1.0)[:, None, :] & (grads < 0.0)
        grads = np.where(at_low | at_high, 0.0, grads)
        direction = -_min_norm_combination(grads)
        norm = np.linalg.norm(direction, axis=1)
        moving = norm > 1e-12
        if not moving.any():
            break
        unit_dir = direction / np.where(moving, norm, 1.0)[:, None]
        cand = np.clip(x + step[:, None] * unit_dir, 0.0, 1.0)
        fc = np.asarray(evaluate(cand), dtype=float)
        ok = moving & np.all(fc <= f, axis=1) & np.any(fc < f, axis=1)
        x[ok], f[ok] = cand[ok], fc[ok]
        step = np.where(ok, np.minimum(step * 1.5, 0.25), step * 0.5)
    return x, f


# --------------------------------------------------------------------------- the searcher


@dataclass(frozen=True, eq=False)
class PredictedFront:
    """The surrogates' amortised Pareto front for one history.

    Attributes:
        params: the front's points as parameter assignments (valid in the space).
        unit: ``(k, d)`` the same points in the unit cube (the space's float params in order).
        values: ``(k, m)`` predicted objective values in each objective's own orientation
            (e.g. accuracies, not negated), columns in the study's objective order.
        surrogates: the fitted surrogates, one per objective.
        n_fit: COMPLETE trials the surrogates were fitted on.
    """

    params: list[dict[str, Any]]
    unit: np.ndarray
    values: np.ndarray
    surrogates: tuple[QuadraticSurrogate, ...]
    n_fit: int


@dataclass(frozen=True, eq=False)
class _Fit:
    """Memoised result of one fit + surrogate NSGA-II (a function of the data only)."""

    key: bytes
    surrogates: tuple[QuadraticSurrogate, ...]
    links: tuple[str, ...]
    cand_unit: np.ndarray  # (C, d) final NSGA-II population
    cand_min: np.ndarray  # (C, m) its predicted minimization values
    cand_rank: np.ndarray  # (C,)
    cand_tier: np.ndarray  # (C,) selection priority, 0 first (see MapSearcher._front_pick)
    n_fit: int


@register_searcher("map")
class MapSearcher(Searcher):
    """Pareto/MAP: quadratic surrogates, an amortised Pareto front, front points evaluated.

    Continuous spaces only: every parameter must be an unconditional float (linear or log; log
    parameters are modelled in log space through ``to_unit``) or an unconditional fixed
    value; at least one float. Any number of objectives; with one objective MAP is a
    quadratic-surrogate optimiser (the "front" is the surrogate's minimiser).

    Let ``d`` be the number of float parameters and ``p = (d + 1)(d + 2) / 2`` the number of
    coefficients of a quadratic. Trial ``k`` of the history (every state counts, pending
    trials included) is proposed as follows:

    1. **Design** (``k < n_design``): point ``k`` of a scrambled Sobol sequence in the unit cube,
       scrambled by a generator derived from the study seed only.
    2. Afterwards, if fewer than ``p`` COMPLETE trials with finite values exist (failures),
       the Sobol sequence is continued (``origin: "extension"``) until the fit is determined.
    3. **Fit**: one quadratic per objective on all COMPLETE trials (:func:`fit_quadratic`,
       through the objective's ``link``). A ``logit``/``softplus`` objective whose observed
       values leave the link's range (``[0, 1]`` / ``>= 0``) is fitted with ``identity``
       instead, and the proposal's ``info["links"]`` says so.
    4. **Refinement** (Bayesian MAP, only with ``refine=True``, for the ``n_refine`` trials
       after the design): a point where the surrogates fit worst. Every fitted point gets a
       score, the sum over objectives of its squared leave-one-out residual divided by that
       objective's variance; the scores are smoothed over the cube with a Gaussian kernel
       (Scott bandwidth), ``64 d`` uniform candidates are scored, damped by
       ``min(1, distance to the nearest existing point / bandwidth)`` so that points do not
       pile up, and the best is proposed. (The paper bins the hyperspherical angles of the
       merging coefficients and samples bins by a softmax of their mean squared residual;
       the kernel smoother is the same idea for any box.)
    5. **Front**: NSGA-II on the surrogates (:func:`surrogate_nsga2`, ``n_front_candidates``
       individuals for ``n_generations`` generations, seeded with the evaluated non-dominated
       points, restricted to the space's box: no extrapolation), whose final population is
       then polished by multiple-gradient descent on the surrogates (:func:`pareto_descent`:
       NSGA-II spreads well but converges slowly in the last digits). Its rank-0 points are
       the predicted front. Candidates are tiered: first the predicted-front points that are not
       :func:`epsilon_dominated` with margins equal to the surrogates' standard errors
       (:attr:`QuadraticSurrogate.standard_error`; this drops the flat tails of the front,
       where a gain in one objective below the fit's uncertainty is bought with a large loss
       in another), then the other predicted-front points, then the rest of the population by
       rank. Proposals are picked greedily: among the candidates farther than
       ``min_distance`` (Euclidean, unit cube) from every trial of the history and every
       earlier proposal of the call, take the best tier, and within it the candidate whose
       predicted objective vector is farthest from the predictions at all those points (with
       objectives scaled by the predicted front's range). So the front is covered from its
       extremes inwards, and gaps are filled as the study goes on. With one objective the best
       predicted candidate is taken instead. If no candidate qualifies, the Sobol sequence is
       continued.

    ``info`` of a proposal: ``{"origin": "design" | "extension", "index": k}``,
    ``{"origin": "refine", "n_fit": ..., "score": ...}`` or ``{"origin": "front", "n_fit":
    ..., "predicted": {objective: value}, "links": {...}}`` (``predicted`` is the
    surrogates' value at the proposed point, ``links`` the link each objective was fitted with).

    Args:
        space: a continuous search space (see above).
        objectives: one or more objectives.
        seed: the study seed.
        n_design: size of the space-filling design, ``>= p`` (default ``(d + 1)(d + 2)``,
            i.e. ``2p``, as in the paper; with ``refine`` the default is ``ceil(1.5 p)``, so
            that design plus refinement spend the same ``2p`` evaluations by default).
        n_front_candidates: population of the surrogate NSGA-II, ``>= 4`` (default 100, the
            paper's ``mu = lambda = 100``).
        n_generations: generations of the surrogate NSGA-II, ``>= 1`` (default 50).
        link: ``"identity"`` (default), ``"logit"`` or ``"softplus"`` for every objective, or
            a mapping objective name -> link (objectives left out use ``"identity"``).
        refine: Bayesian-MAP refinement after the design (default False).
        n_refine: refinement trials when ``refine`` is on, ``>= 1`` (default
            ``max(1, 2p - n_design)``).
        min_distance: proposals keep at least this Euclidean distance in the unit cube from
            every existing trial, in ``[0, 1]`` (default 0.01).

    Raises:
        SearcherConfigError: a categorical, int or conditional parameter, no float parameter,
            or an option out of range (the message names the option, the rule and the value).
    """

    max_objectives: ClassVar[int | None] = None
    accepts_conditional: ClassVar[bool] = False
    param_kinds: ClassVar[frozenset[str] | None] = frozenset({"float", "fixed"})

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        n_design: int | None = None,
        n_front_candidates: int = 100,
        n_generations: int = 50,
        link: str | Mapping[str, str] = "identity",
        refine: bool = False,
        n_refine: int | None = None,
        min_distance: float = 0.01,
    ) -> None:
        super().__init__(space, objectives, seed)
        floats: list[Any] = []
        fixed: dict[str, Any] = {}
        for param in space.params:
            if param.condition is not None:
                raise SearcherConfigError(
                    f"{_OWNER}: parameter {param.name!r} is conditional; MAP fits one "
                    f"quadratic over a fixed set of continuous inputs, so conditional spaces "
                    f"are not supported (use 'bayesian', 'evolution' or 'random')"
                )
            if param.kind == "float":
                floats.append(param)
            elif isinstance(param, FixedParam):
                fixed[param.name] = param.value
            else:
                raise SearcherConfigError(
                    f"{_OWNER}: parameter {param.name!r} is {param.kind}; MAP's quadratic "
                    f"surrogates and design need continuous (float) parameters only (got "
                    f"{param.kind} domain {param.describe_domain()})"
                )
        if not floats:
            raise SearcherConfigError(
                f"{_OWNER}: the space has no float parameter, nothing to fit a surrogate on "
                f"(parameters: {', '.join(space.names) or 'none'})"
            )
        self._floats = tuple(floats)
        self._fixed = fixed
        self.dim = len(floats)
        self.n_terms = n_quadratic_terms(self.dim)
        if n_design is None:
            # With refinement the 2p fitting evaluations are split: 1.5p space-filling (more
            # than p, so that leave-one-out residuals exist) and the rest adaptive.
            n_design = -(-3 * self.n_terms // 2) if refine is True else 2 * self.n_terms
        self.n_design = check_int_option(_OWNER, "n_design", n_design, self.n_terms)
        self.n_front_candidates = check_int_option(
            _OWNER, "n_front_candidates", n_front_candidates, 4
        )
        self.n_generations = check_int_option(_OWNER, "n_generations", n_generations, 1)
        self.links = self._check_links(link)
        if not isinstance(refine, bool):
            raise SearcherConfigError(f"{_OWNER}: option 'refine' must be a bool, got {refine!r}")
        self.refine = refine
        if n_refine is None:
            n_refine = max(1, 2 * self.n_terms - self.n_design)
        self.n_refine = check_int_option(_OWNER, "n_refine", n_refine, 1)
        if (
            isinstance(min_distance, bool)
            or not isinstance(min_distance, int | float)
            or not 0.0 <= float(min_distance) <= 1.0
        ):
            raise SearcherConfigError(
                f"{_OWNER}: option 'min_distance' must be a number in [0, 1] (unit-cube "
                f"distance), got {min_distance!r}"
            )
        self.min_distance = float(min_distance)
        self._lock = threading.Lock()
        self._memo: _Fit | None = None
        self._design_cache = np.empty((0, self.dim))

    def _check_links(self, link: object) -> tuple[str, ...]:
        names = [o.name for o in self.objectives]
        if isinstance(link, str):
            chosen = {name: link for name in names}
        elif isinstance(link, Mapping):
            unknown = sorted(str(k) for k in link if k not in names)
            if unknown:
                raise SearcherConfigError(
                    f"{_OWNER}: option 'link' names unknown objective(s) {unknown}; the "
                    f"objectives are {names}"
                )
            chosen = {name: link.get(name, "identity") for name in names}
        else:
            raise SearcherConfigError(
                f"{_OWNER}: option 'link' must be one of {list(LINKS)} or a mapping objective "
                f"-> link, got {link!r}"
            )
        for name, value in chosen.items():
            if value not in LINKS:
                raise SearcherConfigError(
                    f"{_OWNER}: option 'link' for objective {name!r} must be one of "
                    f"{list(LINKS)}, got {value!r}"
                )
        return tuple(chosen[name] for name in names)

    # ---- conversions -----------------------------------------------------------------------

    def _to_unit(self, params: Mapping[str, Any]) -> np.ndarray | None:
        """The trial's float params in the unit cube, or ``None`` if one is missing/invalid."""
        try:
            return np.array([p.to_unit(params[p.name]) for p in self._floats], dtype=float)
        except (KeyError, ValueError, TypeError):
            return None

    def _from_unit(self, u: np.ndarray) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for p, x in zip(self._floats, u, strict=True):
            params[p.name] = p.from_unit(float(np.clip(x, 0.0, 1.0)))
        params.update(self._fixed)
        return self.space.validate(params)

    def design_points(self, count: int) -> np.ndarray:
        """The first ``count`` points of the study's scrambled Sobol sequence, ``(count, d)``.

        The scrambling generator derives from the study seed only, so the design does not depend
        on the history.
        """
        if count > self._design_cache.shape[0]:
            from scipy.stats import qmc

            m = max(1, math.ceil(math.log2(max(count, 2))))
            gen = np.random.default_rng(np.random.SeedSequence([self.seed, _DESIGN_STREAM]))
            pts = qmc.Sobol(self.dim, scramble=True, rng=gen).random_base2(m)
            pts.flags.writeable = False
            self._design_cache = pts
        return self._design_cache[:count]

    # ---- data and fit ----------------------------------------------------------------------

    def _data(
        self, trials: Sequence[FrozenTrial]
    ) -> tuple[list[FrozenTrial], np.ndarray, np.ndarray, np.ndarray]:
        """``(fit_trials, U, Y, existing)``: COMPLETE trials with finite values, their unit
        points ``(k, d)`` and raw values ``(k, m)``, and the unit points of every trial
        ``(len(trials), d)`` (rows of trials whose params do not map are left out)."""
        fit_trials: list[FrozenTrial] = []
        rows_u: list[np.ndarray] = []
        rows_y: list[list[float]] = []
        existing: list[np.ndarray] = []
        for t in trials:
            u = self._to_unit(t.params)
            if u is None:
                continue
            existing.append(u)
            if t.state != TrialState.COMPLETE:
                continue
            try:
                row = [float(t.values[o.name]) for o in self.objectives]
            except (KeyError, TypeError, ValueError):
                continue
            if all(math.isfinite(v) for v in row):
                fit_trials.append(t)
                rows_u.append(u)
                rows_y.append(row)
        m, d = len(self.objectives), self.dim
        unit = np.array(rows_u, dtype=float).reshape(len(rows_u), d)
        y = np.array(rows_y, dtype=float).reshape(len(rows_y), m)
        ex = np.array(existing, dtype=float).reshape(len(existing), d)
        return fit_trials, unit, y, ex

    def _fit(self, fit_trials: Sequence[FrozenTrial], unit: np.ndarray, y: np.ndarray) -> _Fit:
        """Surrogates and the surrogate NSGA-II front for the data (memoised on the data)."""
        key = unit.tobytes() + b"|" + y.tobytes()
        memo = self._memo
        if memo is not None and memo.key == key:
            return memo
        links = tuple(
            link if link_accepts(link, y[:, j]) else "identity"
            for j, link in enumerate(self.links)
        )
        surrogates = tuple(fit_quadratic(unit, y[:, j], links[j]) for j in range(y.shape[1]))
        signs = np.array([o.sign for o in self.objectives], dtype=float)
        # Constrained: one quadratic per constraint value too, and the surrogate front search
        # is penalised by the predicted violation (in units of each objective's observed
        # range), so the front it finds -- and the trials spread along it -- is the predicted
        # feasible one where there is any.
        cons = constraint_columns(fit_trials)
        c_models = tuple(fit_quadratic(unit, cons[:, j], "identity") for j in range(cons.shape[1]))
        spans = np.ptp(y, axis=0) if len(y) else np.ones(y.shape[1])
        penalty_scale = np.where(spans > 0, spans, 1.0)
        c_scale = np.array(
            [max(float(np.ptp(cons[:, j])), 1e-12) for j in range(cons.shape[1])], dtype=float
        )

        def evaluate(points: np.ndarray) -> np.ndarray:
            cols = [s.predict(points) for s in surrogates]
            out = np.stack(cols, axis=1) * signs
            if c_models:
                viol = sum(
                    np.maximum(0.0, c.predict(points)) / c_scale[j] for j, c in enumerate(c_models)
                )
                out = out + 10.0 * np.asarray(viol)[:, None] * penalty_scale[None, :]
            return out

        def jacobian(points: np.ndarray) -> np.ndarray:
            grads = [s.gradient(points) for s in surrogates]
            out = np.stack(grads, axis=1) * signs[None, :, None]
            for j, c in enumerate(c_models):  # the penalty's gradient, where it is active
                active = (c.predict(points) > 0)[:, None]
                g = np.where(active, c.gradient(points), 0.0) / c_scale[j]
                out = out + 10.0 * penalty_scale[None, :, None] * g[:, None, :]
            return out

        observed = y * signs
        feasible = np.array([t.feasible is not False for t in fit_trials], dtype=bool)
        if c_models and feasible.any() and len(unit):
            seeds = unit[feasible][pareto_mask(observed[feasible])]
        else:
            seeds = unit[pareto_mask(observed)] if len(unit) else None
        rng = self.rng(fit_trials, _FRONT_STREAM)
        pop, vals, ranks = surrogate_nsga2(
            evaluate,
            self.dim,
            rng,
            population=self.n_front_candidates,
            generations=self.n_generations,
            seeds=seeds,
        )
        pop, vals = pareto_descent(pop, evaluate, jacobian)
        ranks = non_dominated_sort(vals)
        margin = np.array([s.standard_error for s in surrogates])
        significant = ~epsilon_dominated(vals, margin)
        tier = np.where(ranks == 0, np.where(significant, 0, 1), ranks + 1)
        fit = _Fit(key, surrogates, links, pop, vals, ranks, tier, len(fit_trials))
        self._memo = fit
        return fit

    # ---- proposing -------------------------------------------------------------------------

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """``max(n, 0)`` proposals; see the class docstring and :class:`Searcher`."""
        count = max(int(n), 0)
        if count == 0:
            return []
        with self._lock:
            return self._propose(trials, count)

    def _propose(self, trials: Sequence[FrozenTrial], count: int) -> list[Proposal]:
        start = len(trials)
        positions = range(start, start + count)
        design_positions = [k for k in positions if k < self.n_design]
        out: list[Proposal] = []
        seen = {self.space.key(t.params) for t in trials}
        if design_positions:
            pts = self.design_points(design_positions[-1] + 1)
            for k in design_positions:
                out.append(self._sobol_proposal(k, pts[k], "design", seen))
        if len(out) == count:
            return out
        fit_trials, unit, y, existing = self._data(trials)
        if len(fit_trials) < self.n_terms:
            return out + self._extension(positions[len(out) :], seen)
        fit = self._fit(fit_trials, unit, y)
        chosen: list[np.ndarray] = []
        refine_rng: np.random.Generator | None = None
        for k in positions[len(out) :]:
            if self.refine and k < self.n_design + self.n_refine:
                if refine_rng is None:
                    refine_rng = self.rng(trials, _REFINE_STREAM)
                picked = self._refine_point(fit, unit, y, existing, chosen, refine_rng)
                if picked is not None:
                    u, score = picked
                    chosen.append(u)
                    params = self._from_unit(u)
                    seen.add(self.space.key(params))
                    info = {"origin": "refine", "n_fit": fit.n_fit, "score": _finite(score)}
                    out.append(Proposal(params=params, info=info))
                    continue
            else:
                idx = self._front_pick(fit, existing, chosen)
                if idx is not None:
                    u = fit.cand_unit[idx]
                    params = self._from_unit(u)
                    if self.space.key(params) not in seen:
                        chosen.append(u)
                        seen.add(self.space.key(params))
                        out.append(Proposal(params=params, info=self._front_info(fit, u)))
                        continue
            out.extend(self._extension([k], seen))
            chosen.append(self.design_points(k + 1)[k])
        return out

    def _sobol_proposal(self, k: int, u: np.ndarray, origin: str, seen: set[Any]) -> Proposal:
        params = self._from_unit(u)
        seen.add(self.space.key(params))
        return Proposal(params=params, info={"origin": origin, "index": int(k)})

    def _extension(self, positions: Sequence[int], seen: set[Any]) -> list[Proposal]:
        """Continue the Sobol sequence at the given history positions."""
        if not positions:
            return []
        pts = self.design_points(max(positions) + 1)
        return [self._sobol_proposal(k, pts[k], "extension", seen) for k in positions]

    def _front_info(self, fit: _Fit, u: np.ndarray) -> dict[str, Any]:
        predicted = {
            o.name: _finite(float(s.predict(u[None, :])[0]))
            for o, s in zip(self.objectives, fit.surrogates, strict=True)
        }
        links = {o.name: link for o, link in zip(self.objectives, fit.links, strict=True)}
        return {"origin": "front", "n_fit": fit.n_fit, "predicted": predicted, "links": links}

    def _blocked(self, points: np.ndarray, existing: np.ndarray, chosen: list[np.ndarray]) -> Any:
        """``(len(points),)`` bool: closer than ``min_distance`` to an existing/chosen point."""
        ref = np.vstack([existing, *[c[None, :] for c in chosen]]) if chosen else existing
        if ref.shape[0] == 0:
            return np.zeros(points.shape[0], dtype=bool)
        d2 = np.sum((points[:, None, :] - ref[None, :, :]) ** 2, axis=2)
        return np.sqrt(d2.min(axis=1)) < max(self.min_distance, 1e-12)

    def _front_pick(self, fit: _Fit, existing: np.ndarray, chosen: list[np.ndarray]) -> int | None:
        """Index into the candidates of the next front proposal, or ``None`` if all blocked."""
        allowed = ~self._blocked(fit.cand_unit, existing, chosen)
        if not allowed.any():
            return None
        best_tier = fit.cand_tier[allowed].min()
        idx = np.flatnonzero(allowed & (fit.cand_tier == best_tier))
        vals = fit.cand_min
        if vals.shape[1] == 1:
            return int(idx[np.argmin(vals[idx, 0])])
        front = vals[fit.cand_rank == fit.cand_rank.min()]
        span = front.max(axis=0) - front.min(axis=0)
        scale = np.where(span > 0, span, 1.0)
        ref_u = np.vstack([existing, *[c[None, :] for c in chosen]]) if chosen else existing
        if ref_u.shape[0] == 0:
            return int(idx[0])
        signs = np.array([o.sign for o in self.objectives], dtype=float)
        ref_f = np.stack([s.predict(ref_u) for s in fit.surrogates], axis=1) * signs
        diff = (vals[idx, None, :] - ref_f[None, :, :]) / scale
        gap = np.sqrt(np.sum(diff**2, axis=2)).min(axis=1)
        return int(idx[np.argmax(gap)])

    def _refine_point(
        self,
        fit: _Fit,
        unit: np.ndarray,
        y: np.ndarray,
        existing: np.ndarray,
        chosen: list[np.ndarray],
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, float] | None:
        """A point where the surrogates' leave-one-out error is large, or ``None``."""
        var = y.var(axis=0)
        loo = np.stack([s.loo_residuals for s in fit.surrogates], axis=1)
        scaled = loo**2 / np.where(var > 0, var, 1.0)
        known = np.isfinite(scaled).all(axis=1)
        if not known.any():
            return None
        score = scaled[known].sum(axis=1)
        pts = unit[known]
        n, d = pts.shape
        bw = 1.06 * (1.0 / math.sqrt(12.0)) * n ** (-1.0 / (d + 4))
        cand = rng.random((64 * d, d))
        w = np.exp(-0.5 * np.sum((cand[:, None, :] - pts[None, :, :]) ** 2, axis=2) / bw**2)
        field = (w @ score) / np.maximum(w.sum(axis=1), 1e-300)
        ref = np.vstack([existing, *[c[None, :] for c in chosen]]) if chosen else existing
        nearest = np.sqrt(np.sum((cand[:, None, :] - ref[None, :, :]) ** 2, axis=2).min(axis=1))
        value = field * np.minimum(1.0, nearest / bw)
        value[nearest < max(self.min_distance, 1e-12)] = -np.inf
        best = int(np.argmax(value))
        if not np.isfinite(value[best]):
            return None
        return cand[best], float(value[best])

    # ---- inspection ------------------------------------------------------------------------

    def predicted_front(self, trials: Sequence[FrozenTrial]) -> PredictedFront | None:
        """The amortised front the next front proposal would be picked from.

        Returns:
            The rank-0 points of the surrogate NSGA-II (duplicates removed) with their predicted
            values, or ``None`` while fewer than ``p`` COMPLETE trials exist.
        """
        with self._lock:
            fit_trials, unit, y, _ = self._data(trials)
            if len(fit_trials) < self.n_terms:
                return None
            fit = self._fit(fit_trials, unit, y)
        front = fit.cand_rank == 0
        pts, first = np.unique(fit.cand_unit[front], axis=0, return_index=True)
        signs = np.array([o.sign for o in self.objectives], dtype=float)
        values = fit.cand_min[front][first] * signs
        return PredictedFront(
            params=[self._from_unit(u) for u in pts],
            unit=pts,
            values=values,
            surrogates=fit.surrogates,
            n_fit=fit.n_fit,
        )


def _finite(x: float) -> float | None:
    """``x`` if finite, else ``None`` (proposal info must be JSON without NaN/inf)."""
    return float(x) if math.isfinite(x) else None
