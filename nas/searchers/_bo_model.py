"""The GP of the ``bayesian`` searcher, with the two hot paths computed directly.

The model is BoTorch's ``SingleTaskGP`` (Matern-5/2 or RBF kernel with ARD lengthscales, no output
scale, constant mean, homoskedastic Gaussian noise, ``Normalize`` inputs, ``Standardize`` outcomes;
batched over outputs when there are several objectives), fitted by ``fit_gpytorch_mll`` and used by
BoTorch's acquisition functions. On the tens of points a study has, GPyTorch's general machinery --
lazy tensors, settings contexts, a few hundred small tensor operations per call -- costs far more
than the arithmetic, and it is paid on every evaluation of the marginal likelihood (about 40 per
fit) and of the acquisition function (hundreds per proposal). Two replacements compute the same
numbers with a handful of operations each:

* :func:`fit_direct`: the hyperparameter fit -- SciPy's L-BFGS-B on the negative exact marginal
  log likelihood plus log priors, divided by the number of points (what ``fit_gpytorch_mll``
  minimises), with the gradient written out analytically in numpy, no autograd.
* :class:`FastSingleTaskGP`: a ``SingleTaskGP`` whose ``posterior`` computes the joint posterior
  mean and covariance from a Cholesky factor cached once per fit (the textbook formulas) and
  returns the same ``GPyTorchPosterior`` that BoTorch would (same outcome untransform, same
  multi-output structure), so that every acquisition function, cached-root sampling included,
  works unchanged.

Both check themselves against the general path and step aside (returning ``None`` / delegating
to ``SingleTaskGP``) where the model is not the one described above; the tests compare them
with BoTorch's results.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from botorch.models import SingleTaskGP
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultitaskMultivariateNormal, MultivariateNormal
from gpytorch.kernels import MaternKernel, RBFKernel
from gpytorch.priors import GammaPrior, LogNormalPrior
from linear_operator.operators import DenseLinearOperator

from nas.searchers._bo_analytic import GPPriors, fit_map, neg_log_posterior

_SQRT5 = math.sqrt(5.0)

if TYPE_CHECKING:
    from botorch.acquisition.objective import PosteriorTransform
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from torch import Tensor

__all__ = ["FastSingleTaskGP", "fit_direct", "kernel_name", "load_params"]

#: Names of the trainable parameters of the model the fast paths cover.
_PARAMS = (
    "model.covar_module.raw_lengthscale",
    "model.mean_module.raw_constant",
    "likelihood.noise_covar.raw_noise",
)
#: Noise variance (of the standardised outputs) at which :func:`mll_closure` checks itself.
_CHECK_NOISE = 0.1


def kernel_name(covar: Any) -> str | None:
    """``"rbf"`` (an ``RBFKernel``), ``"matern52"`` (a ``MaternKernel`` with ``nu = 2.5``), or
    ``None`` for any other kernel (the names of :data:`nas.searchers._bo_analytic.KERNELS`)."""
    if type(covar) is RBFKernel:
        return "rbf"
    if type(covar) is MaternKernel and covar.nu == 2.5:
        return "matern52"
    return None


def _kernel(d2: Tensor, kernel: str) -> Tensor:
    """The kernel at squared scaled distances ``d2`` (:func:`kernel_values` in torch). The
    Matern distance is ``sqrt`` of ``d2`` clamped at 1e-30, as GPyTorch's ``covar_dist``: its
    gradient is 0 (not ``inf * 0``) at coincident points, where the kernel's is 0 too."""
    if kernel == "rbf":
        return torch.exp(-0.5 * d2)
    r = d2.clamp_min(1e-30).sqrt()
    return (1.0 + _SQRT5 * r + (5.0 / 3.0) * d2) * torch.exp(-_SQRT5 * r)


def _covered(model: Any) -> bool:
    """Whether ``model`` is the GP the fast paths reproduce (see the module docstring)."""
    from gpytorch.constraints import GreaterThan
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.means import ConstantMean

    covar: Any = getattr(model, "covar_module", None)
    likelihood: Any = getattr(model, "likelihood", None)
    if kernel_name(covar) is None or covar.ard_num_dims is None:
        return False
    if type(likelihood) is not GaussianLikelihood or type(model.mean_module) is not ConstantMean:
        return False
    constraints = (covar.raw_lengthscale_constraint, likelihood.noise_covar.raw_noise_constraint)
    # Parameters must be the values themselves (no softplus): the gradient below is taken with
    # respect to the values.
    if any(type(c) is not GreaterThan or c.enforced for c in constraints):
        return False
    return isinstance(getattr(covar, "lengthscale_prior", None), LogNormalPrior) and isinstance(
        getattr(likelihood.noise_covar, "noise_prior", None), GammaPrior
    )


class _NumpyMll:
    """The negative marginal log likelihood of a covered model and its gradient, in numpy.

    The loss is BoTorch's: ``-(log p(y | theta) + log prior(theta)) / n``, summed over the
    outputs of a batched model; ``theta`` = lengthscales, constant mean and noise variance of
    each output: :func:`nas.searchers._bo_analytic.neg_log_posterior` with the model's kernel
    (Matern-5/2 or RBF). Built by :meth:`of`, which checks it against BoTorch's default
    closure.
    """

    def __init__(self, mll: ExactMarginalLogLikelihood) -> None:
        model = mll.model
        covar = model.covar_module
        noise_covar = model.likelihood.noise_covar
        x_t = model.transform_inputs(model.train_inputs[0]).detach()
        x = x_t.cpu().numpy().reshape(-1, *x_t.shape[-2:])  # (m, n, d)
        self.m, self.n, self.d = x.shape
        self.y = model.train_targets.detach().cpu().numpy().reshape(self.m, -1)
        self.diff2 = (x[:, :, None, :] - x[:, None, :, :]) ** 2  # (m, n, n, d)
        base = covar.lengthscale_prior.base_dist
        self.mu = np.broadcast_to(base.loc.detach().cpu().numpy(), (self.d,))
        self.s = np.broadcast_to(base.scale.detach().cpu().numpy(), (self.d,))
        self.ls_lower = float(covar.raw_lengthscale_constraint.lower_bound)
        self.noise_lower = float(noise_covar.raw_noise_constraint.lower_bound)
        self.priors = GPPriors(
            # the prior's own dtype (float32 unless converted): BoTorch's arithmetic
            ls_loc=np.asarray(self.mu),
            ls_scale=np.asarray(self.s),
            noise_conc=float(noise_covar.noise_prior.concentration),
            noise_rate=float(noise_covar.noise_prior.rate),
            ls_lower=self.ls_lower,
            noise_lower=self.noise_lower,
            noise_init=float("nan"),  # unused: the fit starts from the model's values
        )
        self.kernel = kernel_name(covar) or "rbf"  # covered: never None
        self.model = model

    @classmethod
    def of(cls, mll: ExactMarginalLogLikelihood) -> _NumpyMll | None:
        """The numpy loss of ``mll``, or ``None`` where it would not be BoTorch's.

        Checked against BoTorch's default closure at the current parameters with the noise
        variance raised to 0.1 (value and every gradient to 1e-8 relative): the check is of
        the formulas, at a well-conditioned point -- with a tiny noise variance and clustered
        points, two correct Cholesky-based evaluations differ in the 8th digit.
        """
        from botorch.optim.closures import get_loss_closure_with_grads

        model = mll.model
        params = {n: p for n, p in mll.named_parameters() if p.requires_grad}
        if set(params) != set(_PARAMS) or not _covered(model):
            return None
        base = getattr(model.covar_module.lengthscale_prior, "base_dist", None)
        if base is None:  # pragma: no cover - a LogNormalPrior has a base distribution
            return None
        out = cls(mll)
        default = get_loss_closure_with_grads(mll, params)
        raw_noise = model.likelihood.noise_covar.raw_noise
        saved = raw_noise.detach().clone()
        with torch.no_grad():
            raw_noise.fill_(_CHECK_NOISE)
        try:
            value_d, grads_d = default()
            theta = out.current()
        finally:
            with torch.no_grad():
                raw_noise.copy_(saved)
        result = out.value_and_grad(theta)
        if result is None:
            return None
        value, grad = result
        parts = dict(zip(_PARAMS, out.split(grad), strict=True))
        tensors = [torch.as_tensor(value), *(torch.as_tensor(parts[n]) for n in params)]
        for a, b in zip([value_d, *grads_d], tensors, strict=True):
            if a is None or not torch.allclose(
                a.detach().cpu().reshape(-1), b.reshape(-1).to(a.dtype), rtol=1e-8, atol=1e-10
            ):
                return None
        return out

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``theta`` as ``(lengthscales (m, d), constants (m,), noises (m,))``."""
        m, d = self.m, self.d
        return theta[: m * d].reshape(m, d), theta[m * d : m * d + m], theta[m * d + m :]

    def current(self) -> np.ndarray:
        """The model's current parameters as one vector."""
        model = self.model
        parts = (
            model.covar_module.lengthscale.detach().cpu().numpy().reshape(-1),
            model.mean_module.constant.detach().cpu().numpy().reshape(-1),
            model.likelihood.noise.detach().cpu().numpy().reshape(-1),
        )
        return np.concatenate(parts).astype(float)

    def bounds(self) -> list[tuple[float | None, float | None]]:
        """L-BFGS-B bounds of the vector (the parameters' constraints)."""
        m, d = self.m, self.d
        ls: tuple[float | None, float | None] = (self.ls_lower, None)
        free: tuple[float | None, float | None] = (None, None)
        noise: tuple[float | None, float | None] = (self.noise_lower, None)
        return [ls] * (m * d) + [free] * m + [noise] * m

    def write(self, theta: np.ndarray) -> None:
        """Set the model's parameters from the vector (raw values: no transforms)."""
        model = self.model
        ls, const, noise = self.split(theta)
        with torch.no_grad():
            for param, value in (
                (model.covar_module.raw_lengthscale, ls),
                (model.mean_module.raw_constant, const),
                (model.likelihood.noise_covar.raw_noise, noise),
            ):
                param.copy_(torch.as_tensor(value, dtype=param.dtype).reshape(param.shape))

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray] | None:
        """The loss and its gradient at ``theta``; ``None`` if a Cholesky factorisation fails."""
        theta = np.asarray(theta, dtype=float)
        return neg_log_posterior(self.diff2, self.y, theta, self.priors, self.kernel)


def fit_direct(mll: ExactMarginalLogLikelihood, maxiter: int) -> bool | None:
    """Fit the hyperparameters of a covered model by L-BFGS-B on the numpy loss.

    The objective of ``fit_gpytorch_mll`` (same start, same bounds, SciPy's L-BFGS-B,
    ``maxiter`` iterations at most) without its per-evaluation torch round trips, and with
    lengthscales and noise variances optimised in log space. The model is left in train mode.

    Returns:
        ``None`` if the model is not covered (use ``fit_gpytorch_mll``); ``False`` if the
        optimisation failed (a Cholesky factorisation failed at the start, or the result is not
        finite): the parameters are then restored and the caller should fall back to
        ``fit_gpytorch_mll``, which retries with jitter and resampled starts; ``True`` otherwise.
    """
    mll.train()
    loss = _NumpyMll.of(mll)
    if loss is None:
        return None
    theta = fit_map(
        loss.diff2,
        loss.y,
        loss.priors,
        loss.current(),
        maxiter,
        bounds=loss.bounds(),
        kernel=loss.kernel,
    )
    if theta is None:
        return False
    loss.write(theta)
    return True


def load_params(mll: ExactMarginalLogLikelihood, theta: np.ndarray) -> bool:
    """Set a covered model's hyperparameters from :func:`neg_log_posterior`'s vector (fitted
    elsewhere, e.g. by :func:`nas.searchers._bo_analytic.fit_map` on the same data); returns
    False, changing nothing, where the model is not covered or ``theta`` has the wrong size."""
    mll.train()
    loss = _NumpyMll.of(mll)
    if loss is None or len(theta) != len(loss.current()):
        return False
    loss.write(np.asarray(theta, dtype=float))
    return True


class FastSingleTaskGP(SingleTaskGP):
    """``SingleTaskGP`` with a direct posterior (see the module docstring).

    Call :meth:`cache_posterior` after fitting (it puts the model in eval mode); until then, and
    for any call the fast path does not cover (observation noise, a subset of outputs, a model
    other than the module docstring's), ``posterior`` is ``SingleTaskGP``'s.
    """

    _fast: dict[str, Tensor] | None = None
    _kernel_kind: str = "rbf"

    def cache_posterior(self) -> bool:
        """Factorise the training covariance once; returns whether the fast path is on."""
        self.eval()
        self._fast = None
        if not _covered(self):
            return False
        with torch.no_grad():
            x = self.train_inputs[0]  # transformed in eval mode: (n, d) or (m, n, d)
            m = self.num_outputs
            x = x.reshape(m, *x.shape[-2:]) if x.dim() == 3 else x.unsqueeze(0)
            y = self.train_targets.reshape(m, -1)
            ls = self.covar_module.lengthscale.reshape(m, 1, -1)
            const = self.mean_module.constant.reshape(m, 1)
            noise = self.likelihood.noise.reshape(m, 1, 1)
            kernel = kernel_name(self.covar_module) or "rbf"  # covered: never None
            z = x / ls
            d2 = _sqdist(z, z)
            d2.diagonal(dim1=-2, dim2=-1).zero_()
            k = _kernel(d2, kernel)
            n = k.shape[-1]
            k = k + noise * torch.eye(n, dtype=k.dtype, device=k.device)
            chol, info = torch.linalg.cholesky_ex(k)
            if bool((info != 0).any()):
                return False
            alpha = torch.cholesky_solve((y - const).unsqueeze(-1), chol)  # (m, n, 1)
            tf: Any = self.outcome_transform
            self._kernel_kind = kernel
            self._fast = {
                "z_train": z,  # (m, n, d)
                "ls": ls,  # (m, 1, d)
                "chol": chol,  # (m, n, n)
                "alpha": alpha,
                "const": const,  # (m, 1)
                "means": tf.means.reshape(-1),  # (m,)
                "stdvs": tf.stdvs.reshape(-1),
            }
        return True

    def posterior(  # type: ignore[override]
        self,
        X: Tensor,  # noqa: N803 - BoTorch's argument name
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: PosteriorTransform | None = None,
        **kwargs: Any,
    ) -> Any:
        """The joint posterior at ``X`` (``batch x q x d``), as ``SingleTaskGP.posterior``."""
        fast = self._fast
        if fast is None or output_indices is not None or observation_noise is not False:
            return super().posterior(
                X,
                output_indices=output_indices,
                observation_noise=observation_noise,
                posterior_transform=posterior_transform,
                **kwargs,
            )
        xt = self.transform_inputs(X)
        z = xt.unsqueeze(-3) / fast["ls"]  # (*batch, m, q, d)
        zt = fast["z_train"]
        k_star = _kernel(_sqdist(z, zt), self._kernel_kind)  # (*batch, m, q, n)
        d_ss = _sqdist(z, z)
        d_ss.diagonal(dim1=-2, dim2=-1).zero_()  # exactly 1 on the diagonal
        k_ss = _kernel(d_ss, self._kernel_kind)  # (*batch, m, q, q)
        chol = fast["chol"]
        mean = fast["const"].unsqueeze(-1) + (k_star @ fast["alpha"])  # (*batch, m, q, 1)
        v = torch.linalg.solve_triangular(chol, k_star.transpose(-1, -2), upper=False)
        cov = k_ss - v.transpose(-1, -2) @ v
        scale = fast["stdvs"].reshape(-1, 1)
        mean = fast["means"].reshape(-1, 1) + scale * mean.squeeze(-1)  # (*batch, m, q)
        cov = cov * (scale * scale).unsqueeze(-1)
        m = self.num_outputs
        if m == 1:
            mvn: MultivariateNormal = MultivariateNormal(
                mean.squeeze(-2), DenseLinearOperator(cov.squeeze(-3))
            )
        else:
            mvns = [
                MultivariateNormal(mean[..., t, :], DenseLinearOperator(cov[..., t, :, :]))
                for t in range(m)
            ]
            mvn = MultitaskMultivariateNormal.from_independent_mvns(mvns=mvns)
        posterior = GPyTorchPosterior(distribution=mvn)
        if posterior_transform is not None:
            return posterior_transform(posterior=posterior, X=X)
        return posterior


def _sqdist(a: Tensor, b: Tensor) -> Tensor:
    """Squared Euclidean distances between the rows of ``a`` (``... x p x d``) and ``b``
    (``... x r x d``), by the expanded form ``|a|^2 + |b|^2 - 2 a.b`` (memory ``p x r``, not
    ``p x r x d``), clamped at 0 against rounding."""
    a2 = a.pow(2).sum(-1, keepdim=True)
    b2 = b.pow(2).sum(-1, keepdim=True)
    return (a2 + b2.transpose(-1, -2) - 2.0 * (a @ b.transpose(-1, -2))).clamp_min(0.0)
