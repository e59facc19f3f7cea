"""``curve``: prune a trial whose learning curve, extrapolated to its last step, is unlikely to
beat the best COMPLETE trial (learning-curve extrapolation after Domhan, Springenberg & Hutter,
IJCAI 2015, made deterministic and cheap: least squares and the delta method instead of MCMC).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nas._types import FrozenTrial, Objective, TrialState
from nas.exceptions import PrunerConfigError
from nas.pruners._base import Pruner, int_option, real_option

__all__ = ["FAMILIES", "CurvePruner", "CurveForecast", "forecast"]

#: Predictions further than this many observed spans outside the observed values are
#: implausible (:func:`forecast` says what follows).
_PLAUSIBLE = 2.0
#: Floor of the residual standard deviation, as a share of the observed span.
_SIGMA_FLOOR = 1e-3
#: Singular values of the scaled Jacobian below this share of the largest are raised to it
#: (an unidentified parameter direction gets a large, finite variance, not zero).
_RCOND = 1e-6


@dataclass(frozen=True)
class _Family:
    """A parametric curve ``z = c + a * g(u; q)`` (``c``, ``a`` linear; ``q`` nonlinear),
    ``u = (step + 1) / (max_step + 1)`` in ``(0, 1]``."""

    name: str
    #: ``g(u, q)`` and its derivatives ``dg/dq`` (shape ``(len(q), len(u))``).
    basis: Callable[[np.ndarray, np.ndarray], np.ndarray]
    basis_grad: Callable[[np.ndarray, np.ndarray], np.ndarray]
    #: Bounds of ``q`` and a grid of starting values of ``q`` (relative to ``1 / u_last``
    #: where the parameter is a rate; see :func:`_starts`).
    q_low: tuple[float, ...]
    q_high: tuple[float, ...]
    q_grid: tuple[tuple[float, ...], ...]
    #: Which entries of ``q`` are rates (scaled by ``1 / u_last`` in the grid).
    rates: tuple[bool, ...]

    @property
    def n_params(self) -> int:
        return 2 + len(self.q_low)


def _pow_basis(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.asarray(u ** -q[0])


def _pow_grad(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.asarray([-np.log(u) * u ** -q[0]])


def _exp_basis(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.asarray(np.exp(-q[0] * u))


def _exp_grad(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.asarray([-u * np.exp(-q[0] * u)])


def _log_basis(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.asarray(np.log(u))


def _no_grad(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.zeros((0, len(u)))


def _janoschek_basis(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.asarray(np.exp(-q[0] * u ** q[1]))


def _janoschek_grad(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    ud = u ** q[1]
    e = np.exp(-q[0] * ud)
    return np.asarray([-ud * e, -q[0] * ud * np.log(u) * e])


def _mmf_basis(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + (q[0] * u) ** q[1]))


def _mmf_grad(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    ku = q[0] * u
    p = ku ** q[1]
    inv2 = 1.0 / (1.0 + p) ** 2
    return np.asarray([-q[1] * p / q[0] * inv2, -p * np.log(ku) * inv2])


#: The parametric families, by name, in ``x = (step + 1) / (max_step + 1)`` (minimisation form:
#: ``c`` is the asymptote, ``a``'s sign lets each one fall or rise):
#:
#: * ``pow3``: ``c + a * x^-alpha``;
#: * ``exp3``: ``c + a * exp(-b x)``;
#: * ``log2``: ``c + a * log(x)`` (unbounded: only its plausibility check stops it);
#: * ``janoschek``: ``c + a * exp(-k x^d)``;
#: * ``mmf`` (Morgan-Mercer-Flodin): ``c + a / (1 + (k x)^d)``.
FAMILIES: dict[str, _Family] = {
    f.name: f
    for f in (
        _Family(
            "pow3", _pow_basis, _pow_grad, (0.01,), (4.0,), ((0.3,), (1.0,), (2.5,)), (False,)
        ),
        _Family("exp3", _exp_basis, _exp_grad, (0.0,), (1e4,), ((0.5,), (2.0,), (6.0,)), (True,)),
        _Family("log2", _log_basis, _no_grad, (), (), ((),), ()),
        _Family(
            "janoschek",
            _janoschek_basis,
            _janoschek_grad,
            (1e-6, 0.1),
            (1e4, 5.0),
            ((0.5, 0.5), (2.0, 1.0), (5.0, 2.0)),
            (False, False),
        ),
        _Family(
            "mmf",
            _mmf_basis,
            _mmf_grad,
            (1e-4, 0.1),
            (1e4, 6.0),
            ((0.5, 1.0), (2.0, 1.0), (5.0, 2.0)),
            (True, False),
        ),
    )
}


def _linear_fit(g: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """``(c, a)`` minimising ``|c + a g - z|`` (``a = 0`` for a constant ``g``)."""
    gm, zm = g.mean(), z.mean()
    dg = g - gm
    var = float(dg @ dg)
    a = float(dg @ (z - zm)) / var if var > 0 else 0.0
    return float(zm - a * gm), a


def _projected_residuals(
    family: _Family, u: np.ndarray, z: np.ndarray, q: np.ndarray
) -> np.ndarray:
    """Residuals of the best ``(c, a)`` for ``q`` (variable projection)."""
    g = family.basis(u, q)
    c, a = _linear_fit(g, z)
    return np.asarray(c + a * g - z)


def _starts(family: _Family, u: np.ndarray, z: np.ndarray, n: int) -> list[np.ndarray]:
    """The ``n`` values of the family's grid of ``q`` with the smallest projected residuals
    (rates scaled by ``1 / u_last``, clipped to the bounds)."""
    scored = []
    for grid in family.q_grid:
        rates = zip(grid, family.rates, strict=True)
        q = np.array([v / u[-1] if rate else v for v, rate in rates])
        q = np.clip(q, family.q_low, family.q_high)
        r = _projected_residuals(family, u, z, q)
        rss = float(r @ r)
        if math.isfinite(rss):
            scored.append((rss, q))
    scored.sort(key=lambda s: s[0])
    return [q for _, q in scored[:n]]


@dataclass(frozen=True)
class _Fit:
    name: str
    mean: float  # prediction at u = 1 (normalised)
    var: float  # predictive variance at u = 1 (normalised)
    bic: float


def _fit(family: _Family, u: np.ndarray, z: np.ndarray) -> _Fit | None:
    """Least-squares fit of ``family`` to ``(u, z)`` and its prediction at ``u = 1``, or
    ``None`` (too few points, no finite fit).

    Variable projection: ``least_squares`` searches the bounded nonlinear parameters ``q``
    only, ``(c, a)`` solved in closed form for each ``q``; the delta method then uses the
    Jacobian of all parameters.
    """
    from scipy.optimize import least_squares

    n, k = len(u), family.n_params
    if n <= k:
        return None
    low, high = np.array(family.q_low), np.array(family.q_high)
    best: tuple[float, np.ndarray] | None = None
    with np.errstate(all="ignore"):
        for q0 in _starts(family, u, z, 2):
            if len(q0):
                x0 = np.clip(q0, low + 1e-9 * (high - low), high - 1e-9 * (high - low))
                q = least_squares(
                    lambda q: _projected_residuals(family, u, z, q),
                    x0,
                    bounds=(low, high),
                    method="trf",
                    x_scale="jac",
                    max_nfev=60,
                ).x
            else:
                q = q0
            r = _projected_residuals(family, u, z, q)
            rss = float(r @ r)
            if math.isfinite(rss) and (best is None or rss < best[0]):
                best = (rss, q)
        if best is None:
            return None
        rss, q = best
        c, a = _linear_fit(family.basis(u, q), z)
        one = np.ones(1)

        def jac(x: np.ndarray) -> np.ndarray:
            return np.column_stack(
                [np.ones_like(x), family.basis(x, q), *(a * family.basis_grad(x, q))]
            )

        mean = float(c + a * family.basis(one, q)[0])
        sigma2 = max(rss / (n - k), _SIGMA_FLOOR**2)
        # Delta method on the column-scaled Jacobian, small singular values floored.
        j = jac(u)
        grad = jac(one)[0]
        scale = np.linalg.norm(j, axis=0)
        scale[~(scale > 0)] = 1.0
        _, s, vt = np.linalg.svd(j / scale, full_matrices=False)
        s = np.maximum(s, _RCOND * s[0]) if s[0] > 0 else np.ones_like(s)
        var_params = sigma2 * float(np.sum(((vt @ (grad / scale)) / s) ** 2))
    var = sigma2 + var_params
    bic = n * math.log(max(rss / n, _SIGMA_FLOOR**2)) + k * math.log(n)
    if not (math.isfinite(mean) and math.isfinite(var)):
        return None
    return _Fit(family.name, mean, var, bic)


@dataclass(frozen=True)
class CurveForecast:
    """The extrapolation of one curve, in the curve's own (minimisation) units.

    Attributes:
        mean: predicted value at the final step.
        std: its predictive standard deviation (residual noise, parameter uncertainty by the
            delta method, and the spread between families).
        weights: family name -> weight (``exp(-BIC/2)``, normalised) of the families kept.
    """

    mean: float
    std: float
    weights: dict[str, float]


def forecast(
    steps: Sequence[int], values: Sequence[float], max_step: int, families: Sequence[str]
) -> CurveForecast | None:
    """Extrapolate the curve ``values`` (at ``steps``, increasing, all ``< max_step``) to
    ``max_step``: every family of ``families`` fitted by bounded nonlinear least squares
    (``scipy.optimize.least_squares``; ``x = (step + 1) / (max_step + 1)``, values scaled to
    span ``[0, 1]``; the two best of a few deterministic starts) and averaged with weights
    ``exp(-BIC/2)``; the variance is the mixture's (each family's residual variance plus its
    delta-method parameter variance, plus the spread of the family means).

    Plausibility, made to err towards keeping a trial: a family predicting a final value more
    than two observed spans *above* the observed values (worse) is left out; one predicting
    more than two spans *below* them (better) voids the whole forecast (``None``), since a
    curve that may improve that much must not be pruned on the others' word.

    A flat curve is predicted flat, with a tiny spread. Returns ``None`` when no family fits
    (too few points for every family, no finite fit) or a family predicts an implausible
    improvement.
    """
    u = (np.asarray(steps, dtype=float) + 1.0) / (max_step + 1.0)
    y = np.asarray(values, dtype=float)
    lo = float(y.min())
    span = float(y.max()) - lo
    span = max(span, 1e-9 * max(1.0, abs(lo)))
    z = (y - lo) / span
    fits = []
    for name in families:
        fit = _fit(FAMILIES[name], u, z)
        if fit is None or fit.mean > 1.0 + _PLAUSIBLE:
            continue  # no fit, or an implausible degradation: left out (keeps the trial)
        if fit.mean < -_PLAUSIBLE:
            return None  # an implausible improvement: nothing trusted, and nothing pruned
        fits.append(fit)
    if not fits:
        return None
    bic0 = min(f.bic for f in fits)
    w = np.array([math.exp(-(f.bic - bic0) / 2.0) for f in fits])
    w /= w.sum()
    means = np.array([f.mean for f in fits])
    mean = float(w @ means)
    var = float(w @ (np.array([f.var for f in fits]) + (means - mean) ** 2))
    return CurveForecast(
        mean=lo + span * mean,
        std=span * math.sqrt(var),
        weights={f.name: float(wi) for f, wi in zip(fits, w, strict=True)},
    )


class CurvePruner(Pruner):
    """Learning-curve extrapolation: prune a trial unlikely to end better than the best
    COMPLETE trial.

    Rule (minimisation values), at the trial's last step ``s`` when a check is due (every
    ``interval_steps``, :meth:`Pruner.check_step`):

    * no decision when ``s >= max_step`` (nothing left to extrapolate), with fewer than
      ``min_steps`` reported points, or while fewer than ``n_startup_trials`` COMPLETE trials
      have a value of the objective;
    * ``best`` = the best final value of a COMPLETE trial;
    * :func:`forecast` the trial's whole curve to ``max_step`` (mean ``m``, std ``sd``); no
      decision when no family fits, or one predicts an implausibly large improvement (more
      than two observed spans below the observed values);
    * prune when ``P(final < best) = Phi((best - m) / sd) < probability``.

    Deterministic (no sampling): the same curve gives the same forecast. Typically a few
    milliseconds per family for 30 points.

    Args:
        objectives: the study's objectives.
        seed: the study seed (unused).
        max_step: the step of the final value (e.g. the last epoch), ``>= 1`` (required).
        min_steps: reported points needed before judging, ``>= 3`` (default 4).
        probability: in ``(0, 1)`` (default 0.05; larger prunes more).
        n_startup_trials: COMPLETE trials needed, ``>= 1`` (default 1).
        families: names from :data:`FAMILIES` (default ``None``: all of them).
        interval_steps: steps between checks, ``>= 1`` (default 1).
        objective: the objective judged (required in a multi-objective study).
    """

    registered_name = "curve"

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        max_step: int,
        min_steps: int = 4,
        probability: float = 0.05,
        n_startup_trials: int = 1,
        families: Sequence[str] | None = None,
        interval_steps: int = 1,
        objective: str | None = None,
    ) -> None:
        super().__init__(objectives, seed, objective=objective)
        name = self.registered_name
        self.max_step = int_option(name, "max_step", max_step, minimum=1)
        self.min_steps = int_option(name, "min_steps", min_steps, minimum=3)
        self.probability = real_option(
            name, "probability", probability, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.n_startup_trials = int_option(name, "n_startup_trials", n_startup_trials, minimum=1)
        self.interval_steps = int_option(name, "interval_steps", interval_steps, minimum=1)
        if families is None:
            self.families: tuple[str, ...] = tuple(FAMILIES)
        else:
            if (
                isinstance(families, str)
                or not isinstance(families, Sequence)
                or not families
                or any(f not in FAMILIES for f in families)
                or len(set(families)) != len(families)
            ):
                raise PrunerConfigError(
                    f"pruner {name}: option 'families' must be a non-empty list of distinct "
                    f"names from {list(FAMILIES)}, got {families!r}"
                )
            self.families = tuple(families)

    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        step = self.check_step(trial, 0, self.interval_steps)
        if step is None or step >= self.max_step:
            return None
        points = self.curve(trial)
        if len(points) < self.min_steps:
            return None
        name = self.objective.name
        n_complete = sum(
            t.state == TrialState.COMPLETE and name in t.values
            for t in self.others(trial, history)
        )
        found = self.best_complete(trial, history)
        if found is None or n_complete < self.n_startup_trials:
            return None
        best_trial, best = found
        fc = forecast(list(points), list(points.values()), self.max_step, self.families)
        if fc is None or fc.std <= 0.0:
            return None
        p_better = 0.5 * (1.0 + math.erf((best - fc.mean) / (fc.std * math.sqrt(2.0))))
        if not p_better < self.probability:
            return None
        sign = self.objective.sign
        fams = ", ".join(f"{k} {v:.2f}" for k, v in fc.weights.items())
        return (
            f"{self.registered_name}: at step {step} predicts {name}={sign * fc.mean:.6g}"
            f"±{fc.std:.3g} at step {self.max_step} ({fams}); P(better than best "
            f"{sign * best:.6g} of trial {best_trial.number})={p_better:.3g} < "
            f"{self.probability:g}"
        )
