"""Pareto/MAP's surrogates: a full quadratic per metric, fitted by least squares, optionally
through a link function for bounded metrics.

:func:`fit_quadratic` fits ``y ~= link^-1(q(u))`` on unit-cube inputs ``u``, ``q`` a full
second-order polynomial of ``z = 2u - 1`` (:func:`quadratic_features`); the fitted
:class:`QuadraticSurrogate` predicts, differentiates, and reports its training and
leave-one-out residuals (which MAP's refinement and epsilon-dominance margins use).
Deterministic: no randomness anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "LINKS",
    "QuadraticSurrogate",
    "fit_quadratic",
    "link_accepts",
    "n_quadratic_terms",
    "quadratic_features",
]

#: Link functions: ``identity`` (y = q(x)), ``logit`` (y = sigmoid(q(x)), metrics in [0, 1]
#: such as accuracies) and ``softplus`` (y = log(1 + exp(q(x))), non-negative metrics such as
#: losses), as in the paper's ``choose_activation``.
LINKS: tuple[str, ...] = ("identity", "logit", "softplus")

# Nonlinear least squares of the link fits.
_LINK_CLIP = 1e-3  # y is clipped to [eps, 1 - eps] (logit) / [eps, inf) (softplus) for the init
_RIDGE = 1e-8  # tiny ridge on the non-constant coefficients: keeps saturated fits finite
_LOO_EPS = 1e-8  # leverage closer than this to 1: the leave-one-out residual is undefined


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
