"""The analytic path of the ``bayesian`` searcher: a numpy GP, LogEI and two-objective LogEHVI.

When a proposal has no pending points (sequential studies, the first point of a batch), BoTorch's
Monte-Carlo acquisition functions are not needed: the expected improvement of one Gaussian and
the expected hypervolume improvement of two independent Gaussians over a 2-D front have closed
forms. This module computes them, with their gradients, in plain numpy (no torch, no autograd):

* :class:`GPPriors`, :func:`neg_log_posterior`, :func:`fit_map`: the MAP hyperparameter fit of the
  searcher's GP (Matern-5/2 or RBF kernel with ARD lengthscales, see :func:`kernel_values`; no
  output scale, constant mean, homoscedastic noise; one independent GP per output, on
  standardised outputs) -- the loss
  :mod:`nas.searchers._bo_model` also uses for the BoTorch model, so both paths fit the same
  model.
* :class:`NumpyGP`: the fitted GP's posterior mean and variance at a batch of points, in the
  outputs' own units, with their gradients with respect to the inputs.
* :class:`LogEI`: ``log E[max(0, f(x) - best)]`` (Ament et al. 2023, "Unexpected improvements to
  expected improvement", eq. 9: the same three-branch stable formula as BoTorch's ``log_ei``),
  times the probability of feasibility of each constraint (independent GPs, ``c(x) <= 0``).
* :class:`LogEHVI2`: ``log E[HVI(f1(x), f2(x))]`` for two objectives: the region a new point can
  add to the hypervolume of a 2-D front is a staircase of ``k + 1`` cells (``k`` front points),
  each unbounded above in the second objective; since the outputs are independent, the
  expectation of the area a point adds to a cell factorises into one truncated first moment per
  objective, and the sum over cells is taken in log space (Emmerich et al. 2006; Yang et al.
  2019 for the cell decomposition).

All values are maximised (the searcher flips minimised objectives). Everything is float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr

__all__ = [
    "GPPriors",
    "LogEHVI2",
    "LogEI",
    "NumpyGP",
    "KERNELS",
    "fit_map",
    "kernel_values",
    "log_h",
    "neg_log_posterior",
    "standardize",
]

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_SQRT_2PI = 0.5 * _LOG_2PI
_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_HALF_PI = math.log(math.sqrt(0.5 * math.pi))
#: Below this ``z`` the second branch of ``log_h`` loses every digit (``1 / sqrt(eps)``).
_Z_ASYMPTOTIC = -1.0 / math.sqrt(np.finfo(float).eps)
#: Smallest posterior variance (standardised units) of the analytic path: keeps ``z`` finite.
_MIN_VAR = 1e-12
#: BoTorch's ``Standardize``: a standard deviation below this is replaced by 1.
_MIN_STDV = 1e-8
#: Diagonal jitters of :class:`NumpyGP`'s Cholesky factorisation, tried in turn on failure.
_CHOLESKY_JITTERS = (1e-10, 1e-9, 1e-8, 1e-7, 1e-6)
#: The kernels of the GP (:func:`kernel_values`); the first is the searcher's default.
KERNELS = ("matern52", "rbf")
_SQRT5 = math.sqrt(5.0)


# ---------------------------------------------------------------------- kernels


def kernel_values(s: np.ndarray, kernel: str) -> tuple[np.ndarray, np.ndarray]:
    """The kernel and ``-2 dk/ds`` at squared scaled distances ``s = sum_k (x_k - x'_k)^2 /
    l_k^2`` (no output scale: ``k(0) = 1``).

    ``"rbf"``: ``k = exp(-s / 2)``, ``-2 dk/ds = k``. ``"matern52"``: with ``r = sqrt(s)``,
    ``k = (1 + sqrt5 r + 5/3 s) exp(-sqrt5 r)`` and ``-2 dk/ds = 5/3 (1 + sqrt5 r)
    exp(-sqrt5 r)``, finite at ``r = 0`` (the smooth form: no ``1 / r``).

    Every gradient follows from ``g = -2 dk/ds``: ``dk/dl_k = g (x_k - x'_k)^2 / l_k^3`` and
    ``dk/dx = -g (x - x') / l^2``.
    """
    if kernel == "rbf":
        k = np.exp(-0.5 * s)
        return k, k
    if kernel == "matern52":
        r = np.sqrt(np.maximum(s, 0.0))
        e = np.exp(-_SQRT5 * r)
        poly = 1.0 + _SQRT5 * r
        return (poly + (5.0 / 3.0) * s) * e, (5.0 / 3.0) * poly * e
    raise ValueError(f"unknown kernel {kernel!r}; expected one of {list(KERNELS)}")


# ---------------------------------------------------------------------- stable special functions


def _log1mexp(a: np.ndarray) -> np.ndarray:
    """``log(1 - exp(a))`` for ``a <= 0``, accurate on both sides of ``-log 2``
    (``-inf`` at 0)."""
    a = np.minimum(a, 0.0)
    with np.errstate(divide="ignore"):
        return np.where(a > -math.log(2.0), np.log(-np.expm1(a)), np.log1p(-np.exp(a)))


def log_h(z: np.ndarray) -> np.ndarray:
    """``log(phi(z) + z Phi(z))``: the log expected improvement of a standard normal over
    ``-z``, accurate for every finite ``z`` (three branches, as BoTorch's ``log_ei``)."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu * zu - _LOG_SQRT_2PI) + zu * np.exp(log_ndtr(zu)))
    mid = ~upper & (z > _Z_ASYMPTOTIC)
    zm = z[mid]
    # phi(z) (1 - |z| sqrt(pi/2) erfcx(-z/sqrt 2)), the bracket written as 1 - exp(...)
    inner = np.log(erfcx(-_SQRT_HALF * zm) * np.abs(zm)) + _LOG_SQRT_HALF_PI
    out[mid] = -0.5 * zm * zm - _LOG_SQRT_2PI + _log1mexp(inner)
    low = ~upper & ~mid
    zl = z[low]
    out[low] = -0.5 * zl * zl - _LOG_SQRT_2PI - 2.0 * np.log(np.abs(zl))
    return out


def _log_phi(z: np.ndarray) -> np.ndarray:
    """Log density of the standard normal."""
    return -0.5 * z * z - _LOG_SQRT_2PI


def standardize(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BoTorch's ``Standardize`` of ``(n, m)`` outputs: ``(y_std, means (m,), stdvs (m,))``.

    Column means and Bessel-corrected standard deviations (1 for a single row or a spread below
    ``1e-8``), exactly as the BoTorch model's outcome transform computes them.
    """
    means = y.mean(axis=0)
    if len(y) > 1:
        stdvs = y.std(axis=0, ddof=1)
        stdvs = np.where(stdvs >= _MIN_STDV, stdvs, 1.0)
    else:
        stdvs = np.ones(y.shape[1])
    return (y - means) / stdvs, means, stdvs


# ---------------------------------------------------------------------- hyperparameter fit


@dataclass(frozen=True)
class GPPriors:
    """Priors and floors of the GP's hyperparameters (BoTorch's dimension-scaled defaults).

    Attributes:
        ls_loc / ls_scale: log-normal prior of every lengthscale (``(d,)`` each).
        noise_conc / noise_rate: Gamma prior of the noise variance (standardised units).
        ls_lower / noise_lower: floors of the lengthscales and the noise variance.
        noise_init: the noise variance a cold fit starts from.
    """

    ls_loc: np.ndarray
    ls_scale: np.ndarray
    noise_conc: float
    noise_rate: float
    ls_lower: float
    noise_lower: float
    noise_init: float

    @classmethod
    def dim_scaled(
        cls, d: int, noise: tuple[float, float], noise_lower: float, noise_init: float
    ) -> GPPriors:
        """BoTorch's ``get_covar_module_with_dim_scaled_prior`` for ``d`` inputs:
        ``LogNormal(sqrt(2) + log(d) / 2, sqrt(3))`` lengthscales with a floor of 0.025."""
        loc = math.sqrt(2.0) + 0.5 * math.log(d)
        return cls(
            ls_loc=np.full(d, loc),
            ls_scale=np.full(d, math.sqrt(3.0)),
            noise_conc=noise[0],
            noise_rate=noise[1],
            ls_lower=0.025,
            noise_lower=noise_lower,
            noise_init=noise_init,
        )

    def initial(self, m: int) -> np.ndarray:
        """The cold start of the fit for ``m`` outputs (the parameter vector of
        :func:`neg_log_posterior`): lengthscales at the prior's mode, constant means 0, noise
        variances ``noise_init`` -- BoTorch's initial values."""
        mode = np.exp(self.ls_loc - self.ls_scale**2)
        return np.concatenate([np.tile(mode, m), np.zeros(m), np.full(m, self.noise_init)])


def neg_log_posterior(
    diff2: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
    priors: GPPriors,
    kernel: str = KERNELS[0],
) -> tuple[float, np.ndarray] | None:
    """BoTorch's training loss of the GP and its gradient, in numpy.

    The loss is ``-(log p(y | theta) + log prior(theta)) / n`` summed over the outputs; with
    ``W = alpha alpha^T - K^{-1}`` (``alpha = K^{-1} (y - c)``) the gradients are
    ``-1/2 tr(W dK/dtheta)``: ``dK/dl_k = G * (x_ik - x_jk)^2 / l_k^3`` with ``G = -2 dk/ds``
    (:func:`kernel_values`; ``G = K`` for the RBF kernel), ``dK/dsigma^2 = I``;
    ``d/dc = -sum(alpha)``.

    Args:
        diff2: ``(m, n, n, d)`` squared coordinate differences of the training inputs (the
            same inputs repeated per output, or a broadcastable ``(1, n, n, d)``).
        y: ``(m, n)`` standardised training outputs.
        theta: ``m * d`` lengthscales, ``m`` constant means, ``m`` noise variances.
        priors: the priors.
        kernel: ``"matern52"`` or ``"rbf"`` (:data:`KERNELS`).

    Returns:
        ``(loss, gradient)``, or ``None`` when a covariance matrix is not positive definite.
    """
    m, n = y.shape
    d = diff2.shape[-1]
    ls = theta[: m * d].reshape(m, d)
    const = theta[m * d : m * d + m]
    noise = theta[m * d + m :]
    mu, s = priors.ls_loc, priors.ls_scale
    conc, rate = priors.noise_conc, priors.noise_rate
    gamma_norm = conc * math.log(rate) - math.lgamma(conc)
    total = 0.0
    g_ls = np.empty((m, d))
    g_c = np.empty(m)
    g_noise = np.empty(m)
    eye = np.eye(n)
    for j in range(m):
        scaled = diff2[min(j, len(diff2) - 1)] / ls[j] ** 2  # (n, n, d)
        k_x, g_x = kernel_values(scaled.sum(-1), kernel)
        k = k_x + noise[j] * eye
        if not np.all(np.isfinite(k)):
            return None
        try:
            chol = np.linalg.cholesky(k)
        except np.linalg.LinAlgError:
            return None
        r = y[j] - const[j]
        alpha = cho_solve((chol, True), r)
        inv_l = solve_triangular(chol, eye, lower=True)
        w = np.outer(alpha, alpha) - inv_l.T @ inv_l
        ll = -0.5 * r @ alpha - np.log(np.diag(chol)).sum() - 0.5 * n * _LOG_2PI
        # d ll / d l_k = 1/2 sum_ij W_ij G_ij (x_ik - x_jk)^2 / l_k^3
        d_ls = 0.5 * np.einsum("ij,ijk->k", w * g_x, scaled) / ls[j]
        log_ls = np.log(ls[j])
        lp_ls = -log_ls - np.log(s * math.sqrt(2 * math.pi)) - (log_ls - mu) ** 2 / (2 * s**2)
        d_lp_ls = -1.0 / ls[j] - (log_ls - mu) / (s**2 * ls[j])
        lp_noise = gamma_norm + (conc - 1.0) * math.log(noise[j]) - rate * noise[j]
        d_lp_noise = (conc - 1.0) / noise[j] - rate
        total += -(ll + lp_ls.sum() + lp_noise) / n
        g_ls[j] = -(d_ls + d_lp_ls) / n
        g_c[j] = -alpha.sum() / n
        g_noise[j] = -(0.5 * np.trace(w) + d_lp_noise) / n
    return total, np.concatenate([g_ls.reshape(-1), g_c, g_noise])


def fit_map(
    diff2: np.ndarray,
    y: np.ndarray,
    priors: GPPriors,
    theta0: np.ndarray,
    maxiter: int,
    *,
    bounds: list[tuple[float | None, float | None]] | None = None,
    kernel: str = KERNELS[0],
) -> np.ndarray | None:
    """MAP hyperparameters by L-BFGS-B from ``theta0`` (:func:`neg_log_posterior`'s vector).

    Lengthscales and noise variances are optimised in log space: the same optimum, but a noise
    variance pressed against its floor (deterministic objectives) has gradients of order 1e5
    in value space, which makes L-BFGS-B stop early; in log space they are O(1). SciPy's
    default tolerances, at most ``maxiter`` iterations.

    Args:
        bounds: per-entry bounds of ``theta`` (default: the priors' floors, constants free).
        kernel: the GP's kernel (:data:`KERNELS`).

    Returns:
        The fitted vector, or ``None`` when the loss cannot be evaluated at ``theta0`` or the
        result is not finite.
    """
    m = y.shape[0]
    d = diff2.shape[-1]
    if bounds is None:
        ls_b: tuple[float | None, float | None] = (priors.ls_lower, None)
        free: tuple[float | None, float | None] = (None, None)
        noise_b: tuple[float | None, float | None] = (priors.noise_lower, None)
        bounds = [ls_b] * (m * d) + [free] * m + [noise_b] * m
    if neg_log_posterior(diff2, y, theta0, priors, kernel) is None:
        return None
    logged = np.ones(len(theta0), dtype=bool)
    logged[m * d : m * d + m] = False  # the constant means

    def to_theta(phi: np.ndarray) -> np.ndarray:
        return np.where(logged, np.exp(np.where(logged, phi, 0.0)), phi)

    def fun(phi: np.ndarray) -> tuple[float, np.ndarray]:
        theta = to_theta(phi)
        out = neg_log_posterior(diff2, y, theta, priors, kernel)
        if out is None:  # L-BFGS-B backtracks from an infinite value
            return np.inf, np.zeros_like(phi)
        value, grad = out
        return value, np.where(logged, grad * theta, grad)

    log_bounds = [
        (math.log(lo) if flag and lo is not None else lo, hi)
        for flag, (lo, hi) in zip(logged, bounds, strict=True)
    ]
    phi0 = np.where(logged, np.log(np.where(logged, theta0, 1.0)), theta0)
    res = minimize(
        fun, phi0, jac=True, method="L-BFGS-B", bounds=log_bounds, options={"maxiter": maxiter}
    )
    theta = to_theta(np.asarray(res.x, dtype=float))
    if not (np.all(np.isfinite(theta)) and np.isfinite(res.fun)):
        return None
    return theta


def squared_differences(x: np.ndarray) -> np.ndarray:
    """``(1, n, n, d)`` squared coordinate differences of the rows of ``x`` (``(n, d)``)."""
    return ((x[:, None, :] - x[None, :, :]) ** 2)[None]


# ---------------------------------------------------------------------- posterior


class NumpyGP:
    """The fitted GP's posterior, one independent GP per output (see the module docstring).

    Args:
        x: ``(n, d)`` training inputs (the encoding's unit box; ``Normalize`` is the identity).
        y: ``(n, m)`` training outputs in their own units (standardised here).
        theta: fitted parameters (:func:`neg_log_posterior`'s vector).
        kernel: the kernel they were fitted with (:data:`KERNELS`).

    Raises:
        numpy.linalg.LinAlgError: a training covariance is not positive definite, even with
            a jitter of 1e-6 on its diagonal.
    """

    def __init__(
        self, x: np.ndarray, y: np.ndarray, theta: np.ndarray, kernel: str = KERNELS[0]
    ) -> None:
        n, d = x.shape
        self.kernel = kernel
        m = y.shape[1]
        y_std, self.means, self.stdvs = standardize(y)
        self.x = x
        self.ls = theta[: m * d].reshape(m, d)
        self.const = theta[m * d : m * d + m]
        self.noise = theta[m * d + m :]
        self.m, self.n, self.d = m, n, d
        self.chol = np.empty((m, n, n))
        self.alpha = np.empty((m, n))
        for j in range(m):
            z = x / self.ls[j]
            k = kernel_values(_sqdist(z, z), kernel)[0] + self.noise[j] * np.eye(n)
            self.chol[j] = _jittered_cholesky(k)
            self.alpha[j] = cho_solve((self.chol[j], True), y_std[:, j] - self.const[j])

    def posterior(
        self, xs: np.ndarray, outputs: list[int] | None = None, *, grad: bool = False
    ) -> tuple[np.ndarray, ...]:
        """Posterior mean and variance of ``outputs`` (default all) at the rows of ``xs``.

        Returns:
            ``(mean, var)``, each ``(k, len(outputs))`` in the outputs' own units; with
            ``grad``, also ``(d_mean, d_var)``, each ``(k, len(outputs), d)``.
        """
        outs = list(range(self.m)) if outputs is None else outputs
        k = len(xs)
        mean = np.empty((k, len(outs)))
        var = np.empty((k, len(outs)))
        d_mean = np.empty((k, len(outs), self.d)) if grad else None
        d_var = np.empty((k, len(outs), self.d)) if grad else None
        for c, j in enumerate(outs):
            inv_ls2 = 1.0 / self.ls[j] ** 2
            z = xs / self.ls[j]
            # (k, n) kernel values and -2 dk/ds
            k_star, g_star = kernel_values(_sqdist(z, self.x / self.ls[j]), self.kernel)
            v = solve_triangular(self.chol[j], k_star.T, lower=True)  # (n, k)
            s2 = self.stdvs[j] ** 2
            var_s = 1.0 - np.einsum("ik,ik->k", v, v)
            clipped = var_s < _MIN_VAR
            mean[:, c] = self.means[j] + self.stdvs[j] * (self.const[j] + k_star @ self.alpha[j])
            var[:, c] = s2 * np.maximum(var_s, _MIN_VAR)
            if d_mean is not None and d_var is not None:
                w = g_star * self.alpha[j]  # (k, n): dk*/dx = -g* (x - x_i) / l^2
                d_mean[:, c] = -self.stdvs[j] * (xs * w.sum(1)[:, None] - w @ self.x) * inv_ls2
                beta = solve_triangular(self.chol[j], v, lower=True, trans="T")  # K^-1 k*
                q = g_star * beta.T
                dv = 2.0 * s2 * (xs * q.sum(1)[:, None] - q @ self.x) * inv_ls2
                dv[clipped] = 0.0
                d_var[:, c] = dv
        if d_mean is None or d_var is None:
            return mean, var
        return mean, var, d_mean, d_var

    def lengthscales(self, outputs: list[int]) -> np.ndarray:
        """``(d,)`` geometric mean of the lengthscales of ``outputs``."""
        return np.exp(np.log(self.ls[outputs]).mean(axis=0))


def _jittered_cholesky(k: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of ``k``; when it is not numerically positive definite (a noise
    variance near its floor and near-duplicate rows), retried with ``1e-10, 1e-9, ..., 1e-6``
    added to the diagonal, as GPyTorch's ``psd_safe_cholesky``.

    Raises:
        numpy.linalg.LinAlgError: still not positive definite with the largest jitter.
    """
    try:
        return np.linalg.cholesky(k)
    except np.linalg.LinAlgError:
        pass
    eye = np.eye(len(k))
    for jitter in _CHOLESKY_JITTERS[:-1]:
        try:
            return np.linalg.cholesky(k + jitter * eye)
        except np.linalg.LinAlgError:
            continue
    return np.linalg.cholesky(k + _CHOLESKY_JITTERS[-1] * eye)


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``a`` and ``b``, clamped at 0."""
    a2 = np.einsum("ij,ij->i", a, a)[:, None]
    b2 = np.einsum("ij,ij->i", b, b)[None, :]
    return np.maximum(a2 + b2 - 2.0 * (a @ b.T), 0.0)


# ---------------------------------------------------------------------- acquisition functions


class AnalyticAcquisition:
    """A closed-form acquisition function to maximise (``log`` scale), with its gradient.

    Subclasses implement :meth:`_log_value`; feasibility (independent constraint GPs,
    ``c(x) + margin <= 0``) multiplies the value, i.e. adds ``sum_j log Phi(-(mu_j + margin_j) /
    sigma_j)``.

    Attributes:
        gp: the model.
        scales: ``(d,)`` typical lengthscale of the inputs (to precondition optimisers).
    """

    def __init__(
        self,
        gp: NumpyGP,
        objectives: list[int],
        constraints: list[int],
        margins: list[float],
    ) -> None:
        self.gp = gp
        self.objectives = objectives
        self.constraints = constraints
        self.margins = np.asarray(margins, dtype=float)
        self.scales = gp.lengthscales(objectives)

    def __call__(self, xs: np.ndarray) -> np.ndarray:
        """``(k,)`` values at the rows of ``xs`` (``(k, d)``)."""
        return self.value_and_grad(xs, grad=False)[0]

    def value_and_grad(
        self, xs: np.ndarray, *, grad: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(values (k,), gradients (k, d) or None)`` at the rows of ``xs``."""
        xs = np.asarray(xs, dtype=float)
        outs = self.objectives + self.constraints
        post = self.gp.posterior(xs, outs, grad=grad)
        mean, var = post[0], post[1]
        sd = np.sqrt(var)
        no = len(self.objectives)
        value, g_mu, g_sd = self._log_value(mean[:, :no], sd[:, :no])
        if self.constraints:
            u = -(mean[:, no:] + self.margins) / sd[:, no:]
            value = value + log_ndtr(u).sum(axis=1)
            if grad:
                ratio = np.exp(_log_phi(u) - log_ndtr(u))  # d log Phi(u) / du
                g_mu = np.concatenate([g_mu, -ratio / sd[:, no:]], axis=1)
                g_sd = np.concatenate([g_sd, -ratio * u / sd[:, no:]], axis=1)
        if not grad:
            return value, None
        d_mean, d_var = post[2], post[3]
        g_var = g_sd / (2.0 * sd)
        gradient = np.einsum("ko,kod->kd", g_mu, d_mean) + np.einsum("ko,kod->kd", g_var, d_var)
        gradient[~np.isfinite(value)] = 0.0
        return value, gradient

    def _log_value(
        self, mean: np.ndarray, sd: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(value, d value / d mean, d value / d sd)`` of the objectives' part."""
        raise NotImplementedError


class LogEI(AnalyticAcquisition):
    """``log E[max(0, f(x) - best)]`` (one objective, maximised), times the probability of
    feasibility when constrained.

    Args:
        gp: the model; output ``objective`` is the objective, ``constraints`` the constraints.
        best: the incumbent; ``-inf`` (no feasible incumbent) leaves only the feasibility term.
        margins: added to each constraint's value before ``<= 0`` is asked.
    """

    def __init__(
        self,
        gp: NumpyGP,
        best: float,
        *,
        objective: int = 0,
        constraints: list[int] | None = None,
        margins: list[float] | None = None,
    ) -> None:
        super().__init__(gp, [objective], list(constraints or []), list(margins or []))
        self.best = float(best)

    def _log_value(
        self, mean: np.ndarray, sd: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mu, s = mean[:, 0], sd[:, 0]
        if not math.isfinite(self.best):
            zero = np.zeros((len(mu), 1))
            return np.zeros(len(mu)), zero, zero
        z = (mu - self.best) / s
        lh = log_h(z)
        ratio = np.exp(log_ndtr(z) - lh)  # h'(z) / h(z) = Phi(z) / h(z)
        value = lh + np.log(s)
        return value, (ratio / s)[:, None], ((1.0 - z * ratio) / s)[:, None]


class LogEHVI2(AnalyticAcquisition):
    """``log E[HVI(x)]`` for two maximised objectives (see the module docstring).

    Args:
        gp: the model; ``objectives`` are its two objective outputs.
        front: ``(k, 2)`` observed points (any; the non-dominated ones that dominate ``ref``
            define the cells).
        ref: the reference point ``(2,)``.
        constraints / margins: as :class:`LogEI`.
    """

    def __init__(
        self,
        gp: NumpyGP,
        front: np.ndarray,
        ref: np.ndarray,
        *,
        objectives: tuple[int, int] = (0, 1),
        constraints: list[int] | None = None,
        margins: list[float] | None = None,
    ) -> None:
        super().__init__(gp, list(objectives), list(constraints or []), list(margins or []))
        self.lower1, self.upper1, self.lower2 = staircase_cells(front, ref)

    def _log_value(
        self, mean: np.ndarray, sd: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mu1, s1 = mean[:, :1], sd[:, :1]  # (k, 1) against (cells,)
        mu2, s2 = mean[:, 1:2], sd[:, 1:2]
        # First objective: E[(min(Y1, u) - l)+] = EI(l) - EI(u).
        z_l = (mu1 - self.lower1) / s1
        log_ei_l = log_h(z_l) + np.log(s1)
        bounded = np.isfinite(self.upper1)
        z_u = np.where(bounded, (mu1 - np.where(bounded, self.upper1, 0.0)) / s1, -np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ei_u = np.where(bounded, log_h(np.where(bounded, z_u, 0.0)) + np.log(s1), -np.inf)
            log_a = log_ei_l + _log1mexp(np.where(bounded, log_ei_u - log_ei_l, -np.inf))
        # Second objective: E[(Y2 - h)+].
        z_h = (mu2 - self.lower2) / s2
        log_b = log_h(z_h) + np.log(s2)
        terms = log_a + log_b  # (k, cells)
        top = np.max(terms, axis=1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        weights = np.exp(terms - top)
        total = weights.sum(axis=1, keepdims=True)
        value = (top + np.log(total))[:, 0]
        weights = weights / np.where(total > 0, total, 1.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # d A / d mu1 = Phi(z_l) - Phi(z_u); d A / d s1 = phi(z_l) - phi(z_u); all over A.
            log_dphi = np.where(
                z_u > 0,
                log_ndtr(-z_u) + _log1mexp(log_ndtr(-z_l) - log_ndtr(-z_u)),
                log_ndtr(z_l) + _log1mexp(log_ndtr(z_u) - log_ndtr(z_l)),
            )
            a_mu = np.exp(log_dphi - log_a)
            a_sd = np.exp(_log_phi(z_l) - log_a) - np.exp(_log_phi(z_u) - log_a)
            b_mu = np.exp(log_ndtr(z_h) - log_b)
            b_sd = np.exp(_log_phi(z_h) - log_b)
            parts = [weights * a_mu, weights * a_sd, weights * b_mu, weights * b_sd]
        g1, g2, g3, g4 = (np.where(weights > 0, p, 0.0).sum(axis=1) for p in parts)
        return value, np.stack([g1, g3], axis=1), np.stack([g2, g4], axis=1)


def staircase_cells(front: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, ...]:
    """The non-dominated cells of a 2-D front (maximisation) above ``ref``.

    With the front points that dominate ``ref`` sorted by the first objective, ``a_1 < ... <
    a_k`` (second objective ``b_1 > ... > b_k``), cell ``j`` is ``[x_j, x_{j+1}] x [h_j, inf)``
    with ``x = (ref_1, a_1, ..., a_k, inf)`` and ``h = (b_1, ..., b_k, ref_2)``. The hypervolume
    a point ``y`` adds is ``sum_j (min(y_1, x_{j+1}) - x_j)+ (y_2 - h_j)+``.

    Returns:
        ``(lower1, upper1, lower2)``, each ``(k + 1,)``.
    """
    pts = np.asarray(front, dtype=float).reshape(-1, 2)
    pts = pts[np.all(pts > ref, axis=1)]
    if len(pts):
        order = np.lexsort((-pts[:, 1], -pts[:, 0]))  # first objective descending
        kept: list[np.ndarray] = []
        best2 = -np.inf
        for p in pts[order]:
            if p[1] > best2:  # not dominated by a point with a larger (or equal) first value
                kept.append(p)
                best2 = p[1]
        nd = np.array(kept)[::-1]  # first objective ascending, second descending
    else:
        nd = np.empty((0, 2))
    lower1 = np.concatenate([[ref[0]], nd[:, 0]])
    upper1 = np.concatenate([nd[:, 0], [np.inf]])
    lower2 = np.concatenate([nd[:, 1], [ref[1]]])
    return lower1, upper1, lower2
