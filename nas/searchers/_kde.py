"""The kernel density estimator of BOHB: a product kernel on the unit cube, numpy only.

This is the model HpBandSter builds with statsmodels' ``KDEMultivariate`` (``var_type`` ``'c'``
for continuous and integer hyperparameters, ``'u'`` for categorical ones,
``bw='normal_reference'``), re-implemented so that ``nas`` does not depend on statsmodels:

* Data are rows of ``d`` columns. A *continuous* column (cardinality ``0``) holds values in
  ``[0, 1]`` (a parameter's unit-space position, :meth:`nas.space.Param.to_unit`); a
  *categorical* column of cardinality ``c >= 2`` holds choice indices ``0 .. c - 1``.
* Density: ``p(x) = 1/n sum_i prod_j k_j(x_j, X_ij)`` with a Gaussian kernel
  ``k_j = phi((x_j - X_ij) / h_j) / h_j`` (not truncated to ``[0, 1]``, as in statsmodels) on a
  continuous column and the Aitchison-Aitken kernel ``k_j = 1 - h_j`` if ``x_j == X_ij`` else
  ``h_j / (c - 1)`` on a categorical one (it sums to 1 over the ``c`` choices).
* Bandwidths: Scott's normal reference rule of statsmodels,
  ``h_j = 1.06 * std_j * n ** (-1 / (d + 4))`` (population standard deviation, every column,
  categorical ones included), floored at ``min_bandwidth`` (HpBandSter's 1e-3). A categorical
  bandwidth is also capped at ``(c - 1) / c`` (the uniform kernel; above it the kernel would put
  more mass on the other choices than on the datum's own, and statsmodels' cap of 1 allows
  that).
* Sampling (:meth:`MixedKDE.sample`, HpBandSter's candidate generator): pick a datum uniformly,
  then per column draw from its kernel: a normal of standard deviation ``bandwidth_factor * h_j``
  truncated to ``[0, 1]``
  (HpBandSter widens the continuous kernels by ``bandwidth_factor = 3`` to explore), or keep
  the datum's choice with probability ``1 - h_j`` and take one of the ``c - 1`` others
  uniformly otherwise (exactly the Aitchison-Aitken kernel).

Densities are computed in log space (log-sum-exp over the data), so no value underflows to 0
even in many dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from nas.exceptions import NasError

__all__ = ["KDEInputError", "MixedKDE", "impute_missing", "normal_reference_bandwidth"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class KDEInputError(NasError, ValueError):
    """Data, bandwidths, cardinalities or query points given to :class:`MixedKDE` are malformed."""


def _check_cardinalities(cardinalities: Sequence[int], d: int) -> np.ndarray:
    card = np.asarray([int(c) for c in cardinalities], dtype=np.int64)
    if card.shape != (d,):
        raise KDEInputError(
            f"cardinalities must have one entry per column ({d}), got {len(card)}: "
            f"{list(cardinalities)}"
        )
    bad = [int(c) for c in card if c != 0 and c < 2]
    if bad:
        raise KDEInputError(
            f"a cardinality is 0 (continuous column) or >= 2 (categorical), got {bad}"
        )
    return card


def _check_categorical_values(values: np.ndarray, card: np.ndarray, what: str) -> None:
    """Raise unless every categorical column of ``values`` holds integers in ``[0, c)``."""
    for j in np.flatnonzero(card > 0):
        col = values[:, j]
        ok = np.isfinite(col) & (col == np.round(col)) & (col >= 0) & (col < card[j])
        if not np.all(ok):
            raise KDEInputError(
                f"{what}: categorical column {j} must hold choice indices 0..{card[j] - 1}, "
                f"got {col[~ok][:5].tolist()}"
            )


def normal_reference_bandwidth(data: npt.ArrayLike) -> np.ndarray:
    """statsmodels' ``normal_reference`` rule: ``1.06 * std_j * n ** (-1 / (d + 4))`` per column.

    Args:
        data: ``(n, d)`` array, ``n >= 1``.

    Returns:
        ``(d,)`` bandwidths (``0`` for a constant column; callers floor them).

    Raises:
        KDEInputError: ``data`` is not a non-empty 2-D array.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise KDEInputError(f"data must have shape (n >= 1, d >= 1), got {x.shape}")
    n, d = x.shape
    return np.asarray(1.06 * x.std(axis=0) * n ** (-1.0 / (d + 4)), dtype=np.float64)


def impute_missing(
    data: npt.ArrayLike, cardinalities: Sequence[int], rng: np.random.Generator
) -> np.ndarray:
    """Fill the NaN entries (inactive conditional parameters) of ``data``; a new array.

    As HpBandSter does before fitting its KDEs: a missing entry of column ``j`` takes the value
    of column ``j`` in a row drawn uniformly among the rows where it is present; when no row
    has it, a uniform value (``U[0, 1]`` for a continuous column, a uniform index for a
    categorical one). Columns are processed in order, missing rows in order, so the result is
    a deterministic function of ``data`` and the state of ``rng``.

    Args:
        data: ``(n, d)`` array with NaN for missing entries.
        cardinalities: ``(d,)``: 0 for a continuous column, ``c >= 2`` for a categorical one.
        rng: the only source of randomness.

    Returns:
        A ``(n, d)`` float array without NaN.

    Raises:
        KDEInputError: ``data`` is not 2-D, or the cardinalities do not match its columns.
    """
    x = np.array(data, dtype=np.float64)  # a copy
    if x.ndim != 2:
        raise KDEInputError(f"data must have shape (n, d), got {x.shape}")
    card = _check_cardinalities(cardinalities, x.shape[1])
    for j in range(x.shape[1]):
        missing = np.flatnonzero(np.isnan(x[:, j]))
        if missing.size == 0:
            continue
        present = np.flatnonzero(~np.isnan(x[:, j]))
        if present.size:
            x[missing, j] = x[present[rng.integers(present.size, size=missing.size)], j]
        elif card[j] > 0:
            x[missing, j] = rng.integers(card[j], size=missing.size)
        else:
            x[missing, j] = rng.random(missing.size)
    return x


class MixedKDE:
    """Product-kernel density on ``[0, 1]`` continuous and categorical columns (see module doc).

    Args:
        data: ``(n, d)`` observations, ``n >= 1``, ``d >= 1``, finite; continuous columns in
            ``[0, 1]``, categorical columns integer indices in ``[0, c)``.
        cardinalities: ``(d,)``: ``0`` for a continuous column, ``c >= 2`` for a categorical
            column with ``c`` choices.
        bandwidth: ``(d,)`` positive bandwidths to use instead of the normal reference rule
            (they are still floored and capped as described in the module docstring).
        min_bandwidth: floor of every bandwidth, ``> 0`` (HpBandSter: 1e-3).

    Raises:
        KDEInputError: any rule above is broken.

    Attributes:
        data: the ``(n, d)`` observations (read-only).
        cardinalities: the ``(d,)`` cardinalities.
        bandwidth: the ``(d,)`` bandwidths in use (after floor and cap).
    """

    def __init__(
        self,
        data: npt.ArrayLike,
        cardinalities: Sequence[int],
        *,
        bandwidth: npt.ArrayLike | None = None,
        min_bandwidth: float = 1e-3,
    ) -> None:
        x = np.array(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise KDEInputError(f"data must have shape (n >= 1, d >= 1), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise KDEInputError("data must be finite (impute missing entries first)")
        card = _check_cardinalities(cardinalities, x.shape[1])
        cont = card == 0
        if np.any((x[:, cont] < 0.0) | (x[:, cont] > 1.0)):
            raise KDEInputError(
                f"continuous columns must lie in [0, 1], got values in "
                f"[{x[:, cont].min():.6g}, {x[:, cont].max():.6g}]"
            )
        _check_categorical_values(x, card, "data")
        if not (isinstance(min_bandwidth, int | float) and math.isfinite(min_bandwidth)) or (
            min_bandwidth <= 0
        ):
            raise KDEInputError(
                f"min_bandwidth must be a finite number > 0, got {min_bandwidth!r}"
            )
        if bandwidth is None:
            bw = normal_reference_bandwidth(x)
        else:
            bw = np.array(bandwidth, dtype=np.float64)
            if bw.shape != (x.shape[1],) or not np.all(np.isfinite(bw)) or np.any(bw <= 0):
                raise KDEInputError(
                    f"bandwidth must be {x.shape[1]} finite numbers > 0, got {bw.tolist()}"
                )
        bw = np.maximum(bw, float(min_bandwidth))
        cat = ~cont
        cap = (card[cat] - 1) / card[cat]
        bw[cat] = np.minimum(bw[cat], cap)
        x.setflags(write=False)
        bw.setflags(write=False)
        card.setflags(write=False)
        self.data = x
        self.cardinalities = card
        self.bandwidth = bw
        self._cont = np.flatnonzero(cont)
        self._cat = np.flatnonzero(cat)
        lam = bw[self._cat]
        self._log_same = np.log1p(-lam)  # log(1 - h)
        self._log_other = np.log(lam) - np.log(card[self._cat] - 1.0)  # log(h / (c - 1))
        self._log_norm = float(np.sum(np.log(bw[self._cont]))) + self._cont.size * _LOG_SQRT_2PI

    @property
    def n(self) -> int:
        """Number of observations."""
        return int(self.data.shape[0])

    @property
    def d(self) -> int:
        """Number of columns."""
        return int(self.data.shape[1])

    def _points(self, x: npt.ArrayLike) -> tuple[np.ndarray, bool]:
        pts = np.asarray(x, dtype=np.float64)
        single = pts.ndim == 1
        if single:
            pts = pts[np.newaxis, :]
        if pts.ndim != 2 or pts.shape[1] != self.d:
            raise KDEInputError(
                f"points must have shape (m, {self.d}) or ({self.d},), got {pts.shape}"
            )
        if not np.all(np.isfinite(pts)):
            raise KDEInputError("points must be finite")
        return pts, single

    def log_pdf(self, x: npt.ArrayLike) -> np.ndarray | float:
        """Log density at ``x``.

        Args:
            x: ``(m, d)`` points or a single ``(d,)`` point. A categorical coordinate is
                rounded to the nearest integer; one that is not a valid index matches no datum.

        Returns:
            ``(m,)`` log densities, or a float for a single point.

        Raises:
            KDEInputError: wrong shape or a non-finite coordinate.
        """
        pts, single = self._points(x)
        # (m, n) log kernel products, accumulated column group by column group.
        logk = np.full((pts.shape[0], self.n), -self._log_norm)
        if self._cont.size:
            z = (pts[:, np.newaxis, self._cont] - self.data[np.newaxis, :, self._cont]) / (
                self.bandwidth[self._cont]
            )
            logk -= 0.5 * np.einsum("mnj,mnj->mn", z, z)
        if self._cat.size:
            same = np.rint(pts[:, np.newaxis, self._cat]) == self.data[np.newaxis, :, self._cat]
            logk += np.where(same, self._log_same, self._log_other).sum(axis=2)
        top = logk.max(axis=1)
        out = top + np.log(np.exp(logk - top[:, np.newaxis]).sum(axis=1)) - math.log(self.n)
        return float(out[0]) if single else out

    def pdf(self, x: npt.ArrayLike) -> np.ndarray | float:
        """Density at ``x`` (``exp`` of :meth:`log_pdf`; may underflow to 0 far from the data)."""
        return np.exp(self.log_pdf(x))

    def sample(
        self, rng: np.random.Generator, size: int, bandwidth_factor: float = 1.0
    ) -> np.ndarray:
        """Draw ``size`` points from the KDE, continuous kernels widened by ``bandwidth_factor``.

        Per point: a datum drawn uniformly; per continuous column a normal centred on the datum
        with standard deviation ``bandwidth_factor * h_j``, truncated to ``[0, 1]`` (inverse
        CDF, exact); per categorical column the datum's choice with probability ``1 - h_j``,
        else one of the other ``c - 1`` choices uniformly. With ``bandwidth_factor == 1`` this is
        the equal-weight mixture of every datum's kernel truncated to the cube: exactly
        :meth:`pdf` on the categorical columns, and :meth:`pdf` up to the truncation of the
        Gaussian kernels on the continuous ones.

        Args:
            rng: the only source of randomness.
            size: number of points, ``>= 0``.
            bandwidth_factor: multiplier of the continuous bandwidths, finite and ``> 0``.

        Returns:
            ``(size, d)`` array: continuous columns in ``[0, 1]``, categorical columns integer
            indices (as floats).

        Raises:
            KDEInputError: ``size < 0`` or a bad ``bandwidth_factor``.
        """
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
            raise KDEInputError(f"size must be an integer >= 0, got {size!r}")
        factor = float(bandwidth_factor)
        if not (math.isfinite(factor) and factor > 0):
            raise KDEInputError(
                f"bandwidth_factor must be finite and > 0, got {bandwidth_factor!r}"
            )
        centers = self.data[rng.integers(self.n, size=int(size))]
        out = centers.copy()
        if self._cont.size:
            c = centers[:, self._cont]
            sd = factor * self.bandwidth[self._cont]
            lo, hi = ndtr(-c / sd), ndtr((1.0 - c) / sd)
            u = rng.random(c.shape)
            out[:, self._cont] = np.clip(c + sd * ndtri(lo + u * (hi - lo)), 0.0, 1.0)
        if self._cat.size:
            m = centers[:, self._cat].astype(np.int64)
            change = rng.random(m.shape) < self.bandwidth[self._cat]
            other = rng.integers(0, self.cardinalities[self._cat] - 1, size=m.shape)
            other = other + (other >= m)  # skip the datum's own choice
            out[:, self._cat] = np.where(change, other, m)
        return out

    def __repr__(self) -> str:
        return f"MixedKDE(n={self.n}, d={self.d}, bandwidth={self.bandwidth.tolist()!r})"
