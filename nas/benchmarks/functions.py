"""Synthetic benchmark problems: Branin, Hartmann6, ZDT1, BraninCurrin and multi-fidelity variants.

Every problem comes in three pieces:

1. a pure numpy function on values or arrays (``branin(x1, x2)``, ``hartmann6(x)``, ...), with no
   side effects, that broadcasts over leading batch dimensions and returns a Python ``float`` for
   scalar input and a ``float64`` array otherwise;
2. an objective wrapper taking a trial (``branin_objective(trial)``): it reads ``trial.params``
   (and ``trial.budget`` for the multi-fidelity variants) and returns a float for a
   single-objective problem or a dict objective-name -> float for a multi-objective one;
3. an entry of :data:`SPACES` holding the search space in the YAML shape
   (``{"params": {"x1": {"type": "float", "low": -5.0, "high": 10.0}, ...}}``), and an entry of
   :data:`DIRECTIONS` naming the objectives the wrapper returns and their directions.

All objectives are minimized. The multi-fidelity wrappers read ``trial.budget`` as a fidelity
``s`` in ``(0, 1]`` (``None`` means full fidelity ``s = 1``); at ``s = 1`` they return exactly
the plain function, below it a deterministic, correlated but biased approximation.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from nas.exceptions import NasError

__all__ = [
    "BNH_CONSTRAINTS",
    "BRANIN_MINIMIZERS",
    "BRANIN_MINIMUM",
    "BenchmarkInputError",
    "BenchmarkTrial",
    "GARDNER_CONSTRAINTS",
    "DIRECTIONS",
    "HARTMANN6_MINIMIZER",
    "HARTMANN6_MINIMUM",
    "OBJECTIVES",
    "SPACES",
    "branin",
    "branin_currin",
    "branin_currin_objective",
    "branin_mf",
    "branin_mf_objective",
    "bnh_objective",
    "branin_objective",
    "gardner_objective",
    "hartmann6",
    "hartmann6_mf",
    "hartmann6_mf_objective",
    "hartmann6_objective",
    "zdt1",
    "zdt1_mf",
    "zdt1_mf_objective",
    "zdt1_objective",
    "zdt1_true_front",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
#: A Python float for scalar input, a float64 array for array input.
FloatOrArray: TypeAlias = float | FloatArray


class BenchmarkInputError(NasError, ValueError):
    """An input of a benchmark function is malformed: wrong shape, non-finite, out of its domain,
    a missing parameter, or a budget outside ``(0, 1]``."""


class BenchmarkTrial(Protocol):
    """What the objective wrappers need from a trial (``nas.Trial`` satisfies it).

    Attributes:
        params: parameter name -> value of the trial.
        budget: fidelity of the trial, or ``None`` for full fidelity.
        number: 0-based number of the trial in its study.
    """

    @property
    def params(self) -> Mapping[str, Any]:
        """Parameter name -> value."""

    @property
    def budget(self) -> float | None:
        """Fidelity in (0, 1], or ``None`` for full fidelity."""

    @property
    def number(self) -> int:
        """0-based trial number."""

    def report(self, step: int, value: float | Mapping[str, float]) -> None:
        """Record an intermediate value (or one per objective) at ``step``."""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _as_array(x: npt.ArrayLike, name: str) -> FloatArray:
    """Convert ``x`` to a finite float64 array; raise :class:`BenchmarkInputError` otherwise."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise BenchmarkInputError(f"{name} must be numeric, got {x!r}") from e
    if not np.all(np.isfinite(arr)):
        raise BenchmarkInputError(f"{name} must be finite, got {x!r}")
    return arr


def _check_unit_interval(arr: FloatArray, name: str) -> None:
    """Raise unless every entry of ``arr`` lies in [0, 1]."""
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise BenchmarkInputError(
            f"{name} must lie in [0, 1], got values in [{arr.min():.6g}, {arr.max():.6g}]"
        )


def _as_fidelity(s: npt.ArrayLike, name: str = "fidelity") -> FloatArray:
    """Convert a fidelity to an array and check ``0 < s <= 1``."""
    arr = _as_array(s, name)
    if arr.size and (arr.min() <= 0.0 or arr.max() > 1.0):
        raise BenchmarkInputError(
            f"{name} must lie in (0, 1], got values in [{arr.min():.6g}, {arr.max():.6g}]"
        )
    return arr


def _out(arr: FloatArray) -> FloatOrArray:
    """A Python float for a 0-d result, the array otherwise."""
    return float(arr) if arr.ndim == 0 else arr


def _last_axis(x: npt.ArrayLike, name: str, dim: int | None, min_dim: int = 1) -> FloatArray:
    """Convert ``x`` to an array of shape ``(..., d)`` with ``d == dim`` (or ``d >= min_dim``)."""
    arr = _as_array(x, name)
    if arr.ndim == 0:
        raise BenchmarkInputError(f"{name} must have shape (..., d), got a scalar")
    d = arr.shape[-1]
    if dim is not None and d != dim:
        raise BenchmarkInputError(f"{name} must have shape (..., {dim}), got {arr.shape}")
    if d < min_dim:
        raise BenchmarkInputError(f"{name} must have at least {min_dim} columns, got {arr.shape}")
    return arr


def _param(trial: BenchmarkTrial, name: str) -> float:
    """Read the real-valued parameter ``name`` of ``trial``."""
    params = trial.params
    if name not in params:
        raise BenchmarkInputError(
            f"trial {trial.number}: missing parameter {name!r}; got {sorted(params)}"
        )
    value = params[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        raise BenchmarkInputError(
            f"trial {trial.number}: parameter {name!r} must be a finite real number, got {value!r}"
        )
    return float(value)


def _fidelity(trial: BenchmarkTrial) -> float:
    """``trial.budget`` as a fidelity in (0, 1]; ``None`` means 1.0."""
    budget = trial.budget
    if budget is None:
        return 1.0
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real):
        raise BenchmarkInputError(
            f"trial {trial.number}: budget must be a real number in (0, 1] or None, got {budget!r}"
        )
    s = float(budget)
    if not (0.0 < s <= 1.0):
        raise BenchmarkInputError(f"trial {trial.number}: budget must lie in (0, 1], got {s}")
    return s


# --------------------------------------------------------------------------------------------
# Branin
# --------------------------------------------------------------------------------------------

_BRANIN_A = 1.0
_BRANIN_B = 5.1 / (4.0 * math.pi**2)
_BRANIN_C = 5.0 / math.pi
_BRANIN_R = 6.0
_BRANIN_S = 10.0
_BRANIN_T = 1.0 / (8.0 * math.pi)

#: Global minimum value of Branin, ``5 / (4 pi)``.
BRANIN_MINIMUM: float = 5.0 / (4.0 * math.pi)
#: The three global minimizers ``(x1, x2)`` of Branin.
BRANIN_MINIMIZERS: tuple[tuple[float, float], ...] = (
    (-math.pi, 12.275),
    (math.pi, 2.275),
    (3.0 * math.pi, 2.475),
)


def _branin_general(
    x1: FloatArray, x2: FloatArray, b: FloatArray | float, c: FloatArray | float, t: FloatArray
) -> FloatArray:
    """``a (x2 - b x1^2 + c x1 - r)^2 + s (1 - t) cos(x1) + s`` with a, r, s fixed."""
    inner = x2 - b * x1**2 + c * x1 - _BRANIN_R
    return np.asarray(
        _BRANIN_A * inner**2 + _BRANIN_S * (1.0 - t) * np.cos(x1) + _BRANIN_S, dtype=np.float64
    )


def branin(x1: npt.ArrayLike, x2: npt.ArrayLike) -> FloatOrArray:
    """The Branin(-Hoo) function.

    ``f = (x2 - 5.1/(4 pi^2) x1^2 + 5/pi x1 - 6)^2 + 10 (1 - 1/(8 pi)) cos(x1) + 10``.

    Domain (conventional; the formula is defined everywhere): ``x1 in [-5, 10]``,
    ``x2 in [0, 15]``. Global minimum ``5/(4 pi) = 0.397887`` at ``(-pi, 12.275)``,
    ``(pi, 2.275)`` and ``(3 pi, 2.475)``. Unitless.

    Args:
        x1: first coordinate, any shape broadcastable against ``x2``.
        x2: second coordinate.

    Returns:
        The values, shape ``broadcast(x1, x2)``; a float for scalar input.

    Raises:
        BenchmarkInputError: a non-numeric or non-finite input.
    """
    a1, a2 = _as_array(x1, "x1"), _as_array(x2, "x2")
    return _out(_branin_general(a1, a2, _BRANIN_B, _BRANIN_C, np.asarray(_BRANIN_T)))


def branin_mf(x1: npt.ArrayLike, x2: npt.ArrayLike, s: npt.ArrayLike = 1.0) -> FloatOrArray:
    """Multi-fidelity Branin with fidelity-dependent coefficients.

    The continuous-fidelity Branin of Kandasamy et al. (2017, "Multi-fidelity Bayesian
    optimisation with continuous approximations"), with one fidelity ``s`` driving all three
    coefficients::

        b(s) = 5.1/(4 pi^2) - 0.01 (1 - s)
        c(s) = 5/pi         - 0.1  (1 - s)
        t(s) = 1/(8 pi)     + 0.05 (1 - s)
        f(x, s) = (x2 - b(s) x1^2 + c(s) x1 - 6)^2 + 10 (1 - t(s)) cos(x1) + 10

    At ``s = 1`` this is exactly :func:`branin`; lower fidelities move the minimizers and the
    minimum value but stay strongly correlated with the full-fidelity function.

    Args:
        x1: first coordinate (domain ``[-5, 10]``).
        x2: second coordinate (domain ``[0, 15]``).
        s: fidelity in ``(0, 1]``, broadcastable against ``x1`` and ``x2``.

    Returns:
        The values, shape ``broadcast(x1, x2, s)``; a float for scalar input.

    Raises:
        BenchmarkInputError: a non-finite input or ``s`` outside ``(0, 1]``.
    """
    a1, a2 = _as_array(x1, "x1"), _as_array(x2, "x2")
    fid = _as_fidelity(s)
    gap = 1.0 - fid
    b = _BRANIN_B - 0.01 * gap
    c = _BRANIN_C - 0.1 * gap
    t = _BRANIN_T + 0.05 * gap
    return _out(_branin_general(a1, a2, b, c, t))


def branin_objective(trial: BenchmarkTrial) -> float:
    """Branin on params ``x1``, ``x2`` (see :data:`SPACES` ``["branin"]``).

    Raises:
        BenchmarkInputError: a parameter is missing or not a finite number.
    """
    return float(branin(_param(trial, "x1"), _param(trial, "x2")))


#: The constraint of Gardner et al. (2014)'s problem over :func:`gardner_objective`'s metric.
GARDNER_CONSTRAINTS: dict[str, dict[str, float]] = {"c": {"max": -0.95}}


def gardner_objective(trial: BenchmarkTrial) -> dict[str, float]:
    """Gardner et al. (2014)'s constrained problem on params ``x1``, ``x2`` in ``[0, 6]``:
    minimise ``value = sin(x1) + x2`` subject to ``c = sin(x1) sin(x2) <= -0.95`` (a small,
    disconnected feasible region; best feasible value about -0.75 in the first of its two
    regions). Returns ``{"value", "c"}``: the constraint
    reads the metric ``c`` (:data:`GARDNER_CONSTRAINTS`).

    Raises:
        BenchmarkInputError: a parameter is missing or not a finite number.
    """
    x1, x2 = _param(trial, "x1"), _param(trial, "x2")
    return {"value": math.sin(x1) + x2, "c": math.sin(x1) * math.sin(x2)}


#: BNH's constraints (Binh and Korn 1997) over :func:`bnh_objective`'s metrics.
BNH_CONSTRAINTS: dict[str, dict[str, float]] = {"c1": {"max": 25.0}, "c2": {"min": 7.7}}


def bnh_objective(trial: BenchmarkTrial) -> dict[str, float]:
    """BNH (Binh and Korn 1997) on ``x`` in ``[0, 5]``, ``y`` in ``[0, 3]``: minimise
    ``f1 = 4x^2 + 4y^2`` and ``f2 = (x-5)^2 + (y-5)^2`` subject to ``c1 = (x-5)^2 + y^2 <= 25``
    and ``c2 = (x-8)^2 + (y+3)^2 >= 7.7`` (:data:`BNH_CONSTRAINTS`). Returns
    ``{"f1", "f2", "c1", "c2"}``.

    Raises:
        BenchmarkInputError: a parameter is missing or not a finite number.
    """
    x, y = _param(trial, "x"), _param(trial, "y")
    return {
        "f1": 4 * x * x + 4 * y * y,
        "f2": (x - 5) ** 2 + (y - 5) ** 2,
        "c1": (x - 5) ** 2 + y * y,
        "c2": (x - 8) ** 2 + (y + 3) ** 2,
    }


def branin_mf_objective(trial: BenchmarkTrial) -> float:
    """Multi-fidelity Branin (:func:`branin_mf`) on params ``x1``, ``x2`` at ``trial.budget``.

    Raises:
        BenchmarkInputError: a parameter is missing or not finite, or the budget is outside
            ``(0, 1]``.
    """
    return float(branin_mf(_param(trial, "x1"), _param(trial, "x2"), _fidelity(trial)))


# --------------------------------------------------------------------------------------------
# Hartmann6
# --------------------------------------------------------------------------------------------

_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
        [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
        [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
        [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
    ]
)

#: Global minimum value of Hartmann6.
HARTMANN6_MINIMUM: float = -3.32236801141551
#: The global minimizer of Hartmann6 (6 coordinates in [0, 1]).
HARTMANN6_MINIMIZER: tuple[float, ...] = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)


def _hartmann6_terms(x: FloatArray) -> FloatArray:
    """``exp(-sum_j A_ij (x_j - P_ij)^2)`` for the 4 terms: shape ``(..., 4)``."""
    diff = x[..., np.newaxis, :] - _H6_P  # (..., 4, 6)
    return np.asarray(np.exp(-np.sum(_H6_A * diff**2, axis=-1)), dtype=np.float64)


def _hartmann6_with_alpha1(x: FloatArray, alpha1: FloatArray) -> FloatOrArray:
    """Hartmann6 with the first weight replaced by ``alpha1`` (broadcast against ``(...)``).

    One code path for the plain and the multi-fidelity function, so that fidelity 1 reproduces
    the plain values bit for bit.
    """
    terms = _hartmann6_terms(x)
    value = -(alpha1 * terms[..., 0] + terms[..., 1:] @ _H6_ALPHA[1:])
    return _out(np.asarray(value, dtype=np.float64))


def hartmann6(x: npt.ArrayLike) -> FloatOrArray:
    """The 6-dimensional Hartmann function ``-sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)``.

    Domain ``[0, 1]^6`` (the formula is defined everywhere). Global minimum ``-3.32237`` at
    :data:`HARTMANN6_MINIMIZER`. Unitless.

    Args:
        x: points, shape ``(..., 6)``.

    Returns:
        The values, shape ``(...)``; a float for a single point of shape ``(6,)``.

    Raises:
        BenchmarkInputError: the last axis is not of length 6, or a non-finite input.
    """
    return _hartmann6_with_alpha1(_last_axis(x, "x", 6), np.asarray(_H6_ALPHA[0]))


def hartmann6_mf(x: npt.ArrayLike, s: npt.ArrayLike = 1.0) -> FloatOrArray:
    """Multi-fidelity Hartmann6 with a fidelity-dependent bias (BoTorch's AugmentedHartmann).

    The first weight depends on the fidelity, ``alpha_1(s) = 1.0 - 0.1 (1 - s)``, the others are
    unchanged. At ``s = 1`` this is exactly :func:`hartmann6`; lower fidelities are slightly
    shallower near the basin of the first term.

    Args:
        x: points, shape ``(..., 6)``, domain ``[0, 1]^6``.
        s: fidelity in ``(0, 1]``, broadcastable against shape ``(...)``.

    Returns:
        The values, shape ``broadcast((...), s)``; a float for scalar input.

    Raises:
        BenchmarkInputError: wrong shape, a non-finite input or ``s`` outside ``(0, 1]``.
    """
    arr = _last_axis(x, "x", 6)
    fid = _as_fidelity(s)
    return _hartmann6_with_alpha1(arr, _H6_ALPHA[0] - 0.1 * (1.0 - fid))


def _hartmann6_point(trial: BenchmarkTrial) -> list[float]:
    return [_param(trial, f"x{i}") for i in range(6)]


def hartmann6_objective(trial: BenchmarkTrial) -> float:
    """Hartmann6 on params ``x0`` ... ``x5`` (see :data:`SPACES` ``["hartmann6"]``).

    Raises:
        BenchmarkInputError: a parameter is missing or not a finite number.
    """
    return float(hartmann6(_hartmann6_point(trial)))


def hartmann6_mf_objective(trial: BenchmarkTrial) -> float:
    """Multi-fidelity Hartmann6 (:func:`hartmann6_mf`) on ``x0`` ... ``x5`` at ``trial.budget``.

    Raises:
        BenchmarkInputError: a parameter is missing or not finite, or the budget is outside
            ``(0, 1]``.
    """
    return float(hartmann6_mf(_hartmann6_point(trial), _fidelity(trial)))


# --------------------------------------------------------------------------------------------
# ZDT1
# --------------------------------------------------------------------------------------------

#: At fidelity ``s``, the low-fidelity ZDT1 believes the front lies at ``x_i = 0.25 (1 - s)``.
_ZDT1_MF_SHIFT = 0.25


def _zdt1_from_g(f1: FloatArray, g: FloatArray) -> tuple[FloatOrArray, FloatOrArray]:
    f2 = g * (1.0 - np.sqrt(f1 / g))
    # np.array copies: f1 must not be a view of the caller's input.
    return _out(np.array(f1, dtype=np.float64)), _out(np.asarray(f2, dtype=np.float64))


def zdt1(x: npt.ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """The bi-objective ZDT1 problem (Zitzler, Deb and Thiele, 2000), both objectives minimized.

    ``f1 = x_0``, ``g = 1 + 9/(d - 1) sum_{i>=1} x_i``, ``f2 = g (1 - sqrt(f1 / g))``.

    Domain ``[0, 1]^d`` with ``d >= 2``. The Pareto set is ``x_i = 0`` for ``i >= 1`` (``g = 1``)
    and the true front is ``f2 = 1 - sqrt(f1)`` for ``f1 in [0, 1]``. Unitless.

    Args:
        x: points, shape ``(..., d)``.

    Returns:
        ``(f1, f2)``, each of shape ``(...)``; floats for a single point of shape ``(d,)``.

    Raises:
        BenchmarkInputError: ``d < 2``, a non-finite input or a coordinate outside ``[0, 1]``.
    """
    arr = _last_axis(x, "x", None, min_dim=2)
    _check_unit_interval(arr, "x")
    d = arr.shape[-1]
    g = 1.0 + 9.0 / (d - 1) * np.sum(arr[..., 1:], axis=-1)
    return _zdt1_from_g(arr[..., 0], g)


def zdt1_mf(x: npt.ArrayLike, s: npt.ArrayLike = 1.0) -> tuple[FloatOrArray, FloatOrArray]:
    """Multi-fidelity ZDT1: a deterministic, biased approximation that is exact at ``s = 1``.

    ``f1`` is exact. The distance function is computed around a shifted Pareto set::

        delta(s) = 0.25 (1 - s)
        g_s = 1 + 9/(d - 1) sum_{i>=1} |x_i - delta(s)|
        f2_s = g_s (1 - sqrt(f1 / g_s))

    For ``x`` in ``[0, 1]^d`` and ``s = 1``, ``|x_i - 0| = x_i`` so this is exactly :func:`zdt1`.
    At lower fidelity the believed Pareto set is ``x_i = delta(s)``: fidelities are correlated
    (same front shape, same ordering far from the front) but a searcher that trusts low fidelity
    alone converges to the wrong ``x`` and, measured at full fidelity, to a dominated front.

    Args:
        x: points, shape ``(..., d)`` with ``d >= 2``, domain ``[0, 1]^d``.
        s: fidelity in ``(0, 1]``, broadcastable against shape ``(...)``.

    Returns:
        ``(f1, f2)``, each of shape ``broadcast((...), s)``; floats for scalar input.

    Raises:
        BenchmarkInputError: ``d < 2``, a non-finite input, a coordinate outside ``[0, 1]`` or
            ``s`` outside ``(0, 1]``.
    """
    arr = _last_axis(x, "x", None, min_dim=2)
    _check_unit_interval(arr, "x")
    fid = _as_fidelity(s)
    d = arr.shape[-1]
    delta = _ZDT1_MF_SHIFT * (1.0 - fid)
    dist = np.abs(arr[..., 1:] - np.asarray(delta)[..., np.newaxis])
    g = 1.0 + 9.0 / (d - 1) * np.sum(dist, axis=-1)
    f1 = np.broadcast_to(arr[..., 0], g.shape)
    return _zdt1_from_g(f1, g)


def zdt1_true_front(n_points: int) -> FloatArray:
    """``n_points`` points of ZDT1's true Pareto front ``f2 = 1 - sqrt(f1)``, f1 evenly spaced.

    Args:
        n_points: number of points, at least 2.

    Returns:
        Array of shape ``(n_points, 2)`` with columns ``(f1, f2)``, ``f1`` from 0 to 1.

    Raises:
        BenchmarkInputError: ``n_points < 2``.
    """
    if isinstance(n_points, bool) or not isinstance(n_points, numbers.Integral) or n_points < 2:
        raise BenchmarkInputError(f"n_points must be an integer >= 2, got {n_points!r}")
    f1 = np.linspace(0.0, 1.0, int(n_points))
    return np.column_stack([f1, 1.0 - np.sqrt(f1)])


def _zdt1_point(trial: BenchmarkTrial) -> list[float]:
    """Params ``x0, x1, ...`` (consecutive from ``x0``) of ``trial``; at least two."""
    d = 0
    while f"x{d}" in trial.params:
        d += 1
    if d < 2:
        raise BenchmarkInputError(
            f"trial {trial.number}: ZDT1 needs params x0, x1, ... (at least 2), "
            f"got {sorted(trial.params)}"
        )
    return [_param(trial, f"x{i}") for i in range(d)]


def zdt1_objective(trial: BenchmarkTrial) -> dict[str, float]:
    """ZDT1 on params ``x0`` ... ``x{d-1}`` (``d`` = number of consecutive ``x<i>`` params).

    Returns:
        ``{"f1": ..., "f2": ...}``, both to minimize.

    Raises:
        BenchmarkInputError: fewer than two ``x<i>`` params, or a value outside ``[0, 1]``.
    """
    f1, f2 = zdt1(_zdt1_point(trial))
    return {"f1": float(f1), "f2": float(f2)}


def zdt1_mf_objective(trial: BenchmarkTrial) -> dict[str, float]:
    """Multi-fidelity ZDT1 (:func:`zdt1_mf`) on params ``x0`` ... at ``trial.budget``.

    Returns:
        ``{"f1": ..., "f2": ...}``, both to minimize.

    Raises:
        BenchmarkInputError: bad params (see :func:`zdt1_objective`) or a budget outside
            ``(0, 1]``.
    """
    f1, f2 = zdt1_mf(_zdt1_point(trial), _fidelity(trial))
    return {"f1": float(f1), "f2": float(f2)}


# --------------------------------------------------------------------------------------------
# BraninCurrin
# --------------------------------------------------------------------------------------------


def _currin(x1: FloatArray, x2: FloatArray) -> FloatArray:
    """Currin exponential function; the ``x2 -> 0`` limit of its first factor is 1."""
    positive = x2 > 0.0
    safe_x2 = np.where(positive, x2, 1.0)
    factor = np.where(positive, -np.expm1(-0.5 / safe_x2), 1.0)
    numer = ((2300.0 * x1 + 1900.0) * x1 + 2092.0) * x1 + 60.0
    denom = ((100.0 * x1 + 500.0) * x1 + 4.0) * x1 + 20.0
    return np.asarray(factor * numer / denom, dtype=np.float64)


def branin_currin(x1: npt.ArrayLike, x2: npt.ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """BraninCurrin: two objectives on ``[0, 1]^2``, both minimized (as in BoTorch).

    * ``branin`` = :func:`branin` at ``(15 x1 - 5, 15 x2)`` (Branin rescaled to the unit square);
      range about ``[0.398, 308]``.
    * ``currin`` = ``(1 - exp(-1 / (2 x2))) (2300 x1^3 + 1900 x1^2 + 2092 x1 + 60)
      / (100 x1^3 + 500 x1^2 + 4 x1 + 20)``, with ``1 - exp(-1/(2 x2)) = 1`` at ``x2 = 0``;
      range about ``[1.18, 13.8]``.

    The two conflict, giving a curved, partly disconnected Pareto front. Unitless.

    Args:
        x1: first coordinate in ``[0, 1]``, broadcastable against ``x2``.
        x2: second coordinate in ``[0, 1]``.

    Returns:
        ``(branin, currin)``, each of shape ``broadcast(x1, x2)``; floats for scalar input.

    Raises:
        BenchmarkInputError: a non-finite input or a coordinate outside ``[0, 1]``.
    """
    a1, a2 = np.broadcast_arrays(_as_array(x1, "x1"), _as_array(x2, "x2"))
    _check_unit_interval(a1, "x1")
    _check_unit_interval(a2, "x2")
    b = _branin_general(15.0 * a1 - 5.0, 15.0 * a2, _BRANIN_B, _BRANIN_C, np.asarray(_BRANIN_T))
    return _out(b), _out(_currin(a1, a2))


def branin_currin_objective(trial: BenchmarkTrial) -> dict[str, float]:
    """BraninCurrin on params ``x1``, ``x2`` in ``[0, 1]`` (see :data:`SPACES`).

    Returns:
        ``{"branin": ..., "currin": ...}``, both to minimize.

    Raises:
        BenchmarkInputError: a parameter is missing, not finite or outside ``[0, 1]``.
    """
    b, c = branin_currin(_param(trial, "x1"), _param(trial, "x2"))
    return {"branin": float(b), "currin": float(c)}


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------


def _unit_box(names: list[str]) -> dict[str, Any]:
    return {"params": {n: {"type": "float", "low": 0.0, "high": 1.0} for n in names}}


#: Search space (YAML shape) of each problem. The multi-fidelity variants use the space of their
#: plain problem; ``"zdt1"`` is the 6-dimensional instance (params ``x0`` ... ``x5``).
SPACES: dict[str, dict[str, Any]] = {
    "branin": {
        "params": {
            "x1": {"type": "float", "low": -5.0, "high": 10.0},
            "x2": {"type": "float", "low": 0.0, "high": 15.0},
        }
    },
    "hartmann6": _unit_box([f"x{i}" for i in range(6)]),
    "zdt1": _unit_box([f"x{i}" for i in range(6)]),
    "branin_currin": _unit_box(["x1", "x2"]),
}

#: Objective names and directions returned by each problem's wrapper. Single-objective wrappers
#: return a bare float; ``"value"`` is the name a study would give it.
DIRECTIONS: dict[str, dict[str, str]] = {
    "branin": {"value": "minimize"},
    "hartmann6": {"value": "minimize"},
    "zdt1": {"f1": "minimize", "f2": "minimize"},
    "branin_currin": {"branin": "minimize", "currin": "minimize"},
}

#: Objective wrappers by name: ``problem`` (full fidelity) and ``problem_mf`` (reads the budget).
OBJECTIVES: dict[str, Callable[[BenchmarkTrial], float | dict[str, float]]] = {
    "branin": branin_objective,
    "branin_mf": branin_mf_objective,
    "hartmann6": hartmann6_objective,
    "hartmann6_mf": hartmann6_mf_objective,
    "zdt1": zdt1_objective,
    "zdt1_mf": zdt1_mf_objective,
    "branin_currin": branin_currin_objective,
}
