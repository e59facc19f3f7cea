"""Pareto-dominance math on objective vectors: ranking, crowding and hypervolume.

Every function takes an ``(n, m)`` array of **minimization** values: ``n`` points, ``m``
objectives, smaller is better in every column. Callers with maximized objectives multiply those
columns by ``-1`` first (:func:`minimization_values` does it for trials, using
:attr:`nas._types.Objective.sign`).

Conventions:

* ``p`` *dominates* ``q`` when ``p <= q`` in every objective and ``p < q`` in at least one.
  Exact duplicates therefore never dominate each other and always share a front.
* NaN is rejected everywhere (:class:`ValueError`); comparisons with ``+-inf`` are allowed in the
  ranking functions, :func:`crowding_distance` and :func:`default_reference_point` need finite
  values.

Complexities (``n`` points): two objectives: :func:`non_dominated_sort` ``O(n log n)``,
:func:`pareto_mask` ``O(n log n)`` fully vectorised; three objectives: sweeps with a 2-D
staircase, ``O(n log n)`` for the mask and ``O(n log n log F)`` for the sort (``F`` fronts);
four or more: a block filter of vectorised ``O(n * front)`` comparisons, the sort peeling one front
at a time. :func:`hypervolume` is exact: ``O(n log n)`` for two objectives, ``O(n^2)`` worst case
(``O(n log n)`` typical) for three, and for ``m > 3`` it slices the last objective recursively
down to the 3-D sweep (``O(n^(m-2))`` 3-D sweeps: fine for a few hundred points in 4-5
objectives, slow beyond).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nas._types import FrozenTrial, Objective

__all__ = [
    "constrained_non_dominated_sort",
    "crowding_distance",
    "default_reference_point",
    "dominates",
    "hypervolume",
    "minimization_values",
    "non_dominated_sort",
    "pareto_mask",
]


def _as_points(points: object, *, finite: bool = False, name: str = "points") -> np.ndarray:
    """Validate and convert ``points`` to a float ``(n, m)`` array (``m >= 1``)."""
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, m), got shape {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one objective column, got shape {arr.shape}")
    if np.isnan(arr).any():
        rows = np.flatnonzero(np.isnan(arr).any(axis=1))[:5].tolist()
        raise ValueError(f"{name} must not contain NaN (rows {rows} do)")
    if finite and not np.isfinite(arr).all():
        rows = np.flatnonzero(~np.isfinite(arr).all(axis=1))[:5].tolist()
        raise ValueError(f"{name} must be finite here (rows {rows} contain +-inf)")
    return arr


def dominates(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> bool:
    """Whether minimization vector ``a`` Pareto-dominates ``b``.

    Args:
        a: vector of length ``m``.
        b: vector of length ``m``.

    Returns:
        ``True`` iff ``a <= b`` everywhere and ``a < b`` somewhere.

    Raises:
        ValueError: the vectors have different lengths.
    """
    va = np.asarray(a, dtype=float).ravel()
    vb = np.asarray(b, dtype=float).ravel()
    if va.shape != vb.shape:
        raise ValueError(f"vectors must have the same length, got {va.size} and {vb.size}")
    return bool(np.all(va <= vb) and np.any(va < vb))


def minimization_values(
    trials: Sequence[FrozenTrial], objectives: Sequence[Objective]
) -> np.ndarray:
    """The ``(len(trials), len(objectives))`` matrix of sign-adjusted values (all minimized).

    Args:
        trials: trials that have a value for every objective (normally COMPLETE ones).
        objectives: the study's objectives; maximized columns are multiplied by ``-1``.

    Raises:
        ValueError: a trial lacks a value for one of the objectives.
    """
    m = len(objectives)
    if not trials:
        return np.empty((0, m), dtype=float)
    return np.array([t.value_vector(objectives) for t in trials], dtype=float).reshape(-1, m)


# --------------------------------------------------------------------------- non-dominated sort


def non_dominated_sort(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Rank every point by the Pareto front it belongs to.

    Args:
        points: ``(n, m)`` minimization values.

    Returns:
        ``(n,)`` int array; 0 for the non-dominated points, 1 for those non-dominated once the
        first front is removed, and so on. Duplicates get the same rank.

    Raises:
        ValueError: ``points`` is not 2-D or contains NaN.
    """
    pts = _as_points(points)
    n, m = pts.shape
    ranks = np.zeros(n, dtype=np.int64)
    if n == 0:
        return ranks
    if m == 1:
        # Rank = index of the distinct value.
        _, inverse = np.unique(pts[:, 0], return_inverse=True)
        return inverse.astype(np.int64).ravel()
    if m == 2:
        return _nds_2d(pts)
    if m == 3:
        return _nds_3d(pts)
    return _nds_peeling(pts)


def constrained_non_dominated_sort(
    points: np.ndarray | Sequence[Sequence[float]], violations: np.ndarray | Sequence[float]
) -> np.ndarray:
    """Fronts under Deb's constrained domination (Deb et al. 2002, section VI).

    ``a`` dominates ``b`` when ``a`` is feasible (violation 0) and ``b`` is not, when both are
    infeasible and ``a`` has the smaller total violation, or when both are feasible and ``a``
    Pareto-dominates ``b``. So the feasible points get their :func:`non_dominated_sort` ranks,
    and every infeasible point ranks after all of them, one front per distinct violation in
    increasing order (as Optuna's NSGA-II with ``constraints_func``).

    Args:
        points: ``(n, m)`` minimization values.
        violations: ``(n,)`` total violations, ``>= 0`` (``inf`` allowed).

    Returns:
        ``(n,)`` int ranks, 0 best; :func:`non_dominated_sort` when every violation is 0.

    Raises:
        ValueError: shapes disagree, ``points`` contains NaN, or a violation is negative/NaN.
    """
    pts = _as_points(points)
    viol = np.asarray(violations, dtype=float).reshape(-1)
    if viol.shape[0] != pts.shape[0]:
        raise ValueError(f"{pts.shape[0]} points but {viol.shape[0]} violations")
    if np.isnan(viol).any() or (viol < 0).any():
        raise ValueError("violations must be >= 0 (inf allowed), not NaN")
    feasible = viol == 0
    if feasible.all():
        return non_dominated_sort(pts)
    ranks = np.zeros(len(viol), dtype=np.int64)
    offset = 0
    if feasible.any():
        ranks[feasible] = non_dominated_sort(pts[feasible])
        offset = int(ranks[feasible].max()) + 1
    _, inverse = np.unique(viol[~feasible], return_inverse=True)
    ranks[~feasible] = offset + inverse.astype(np.int64).ravel()
    return ranks


def _nds_2d(pts: np.ndarray) -> np.ndarray:
    """Two objectives: lexicographic sweep with one binary search per point (O(n log n)).

    Points are visited in lexicographic order ``(f0, f1)``, so every dominator of a point is
    visited before it. For each front we keep the key ``(f1, f0)`` of its last member, which has
    the smallest ``f1`` of the front. Front ``k`` dominates the current point ``p`` iff that key
    is lexicographically smaller than ``(p1, p0)`` (equal means a duplicate). Domination by front
    ``k`` implies domination by every earlier front, so the keys are sorted and the rank of ``p``
    is a ``bisect_left``.
    """
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    f0 = pts[order, 0].tolist()
    f1 = pts[order, 1].tolist()
    keys: list[tuple[float, float]] = []
    sorted_ranks = np.empty(len(order), dtype=np.int64)
    for i, (a, b) in enumerate(zip(f0, f1, strict=True)):
        key = (b, a)
        r = bisect.bisect_left(keys, key)
        if r == len(keys):
            keys.append(key)
        else:
            keys[r] = key
        sorted_ranks[i] = r
    ranks = np.empty_like(sorted_ranks)
    ranks[order] = sorted_ranks
    return ranks


class _Staircase:
    """The 2-D non-dominated set of inserted ``(a, b)`` pairs, for domination queries.

    Kept sorted by ``a`` strictly ascending, ``b`` then strictly descending. Inserting a pair
    drops the pairs it weakly dominates; they can no longer answer a query the new pair cannot.
    """

    __slots__ = ("a", "b")

    def __init__(self) -> None:
        self.a: list[float] = []
        self.b: list[float] = []

    def covers(self, a: float, b: float) -> bool:
        """Whether some inserted pair is ``<= (a, b)`` in both coordinates."""
        i = bisect.bisect_right(self.a, a) - 1
        return i >= 0 and self.b[i] <= b

    def insert(self, a: float, b: float) -> None:
        """Insert a pair that :meth:`covers` does not cover."""
        k = bisect.bisect_left(self.a, a)
        e = k
        while e < len(self.a) and self.b[e] >= b:
            e += 1
        self.a[k:e] = [a]
        self.b[k:e] = [b]


def _unique_rows(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows in lexicographic order, and the index of each input row among them."""
    uniq, inverse = np.unique(pts, axis=0, return_inverse=True)
    return uniq, inverse.ravel()


def _nds_3d(pts: np.ndarray) -> np.ndarray:
    """Three objectives: lexicographic sweep over distinct rows, one staircase per front.

    Every dominator of a distinct row comes before it lexicographically, and any earlier distinct
    row ``q`` with ``q1 <= p1`` and ``q2 <= p2`` dominates ``p`` (``q0 <= p0`` and ``q != p``). So
    front ``k`` dominates ``p`` iff its staircase of ``(f1, f2)`` covers ``p``; this predicate is
    monotone in ``k``, which makes the rank a binary search over the fronts.
    """
    uniq, inverse = _unique_rows(pts)
    fronts: list[_Staircase] = []
    uranks = np.empty(uniq.shape[0], dtype=np.int64)
    for i, (_, a, b) in enumerate(uniq.tolist()):
        lo, hi = 0, len(fronts)
        while lo < hi:
            mid = (lo + hi) // 2
            if fronts[mid].covers(a, b):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(fronts):
            fronts.append(_Staircase())
        fronts[lo].insert(a, b)
        uranks[i] = lo
    return uranks[inverse]


def _nds_peeling(pts: np.ndarray) -> np.ndarray:
    """Any number of objectives: peel one front at a time with the vectorised filter."""
    n = pts.shape[0]
    ranks = np.full(n, -1, dtype=np.int64)
    remaining = np.arange(n)
    rank = 0
    while remaining.size:
        front = _pareto_mask_filter(pts[remaining])
        ranks[remaining[front]] = rank
        remaining = remaining[~front]
        rank += 1
    return ranks


# --------------------------------------------------------------------------- first front


def pareto_mask(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Which points are non-dominated (the first front).

    Args:
        points: ``(n, m)`` minimization values.

    Returns:
        ``(n,)`` bool array, ``True`` for points no other point dominates (duplicates of a
        non-dominated point are all ``True``).

    Raises:
        ValueError: ``points`` is not 2-D or contains NaN.
    """
    pts = _as_points(points)
    n, m = pts.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    if m == 1:
        return pts[:, 0] == pts[:, 0].min()
    if m == 2:
        return _pareto_mask_2d(pts)
    if m == 3:
        return _pareto_mask_3d(pts)
    return _pareto_mask_filter(pts)


def _pareto_mask_2d(pts: np.ndarray) -> np.ndarray:
    """Two objectives, fully vectorised.

    After a lexicographic sort, a point is dominated iff some point of an *earlier group of
    distinct values* has ``f1 <= `` its ``f1`` (that point has ``f0 <=`` too and differs).
    """
    n = pts.shape[0]
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    s = pts[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = np.any(s[1:] != s[:-1], axis=1)
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    cummin = np.minimum.accumulate(s[:, 1])
    prev_min = np.full(n, np.inf)
    has_prev = group_start > 0
    prev_min[has_prev] = cummin[group_start[has_prev] - 1]
    sorted_mask = prev_min > s[:, 1]
    mask = np.empty(n, dtype=bool)
    mask[order] = sorted_mask
    return mask


def _pareto_mask_3d(pts: np.ndarray) -> np.ndarray:
    """Three objectives: lexicographic sweep over distinct rows with one staircase (O(n log n))."""
    uniq, inverse = _unique_rows(pts)
    stairs = _Staircase()
    umask = np.zeros(uniq.shape[0], dtype=bool)
    for i, (_, a, b) in enumerate(uniq.tolist()):
        if not stairs.covers(a, b):
            umask[i] = True
            stairs.insert(a, b)
    return umask[inverse]


_FILTER_BLOCK = 64


def _pareto_mask_filter(pts: np.ndarray) -> np.ndarray:
    """Any number of objectives: block keep-and-discard filter in lexicographic order.

    A point can only be dominated by a point that comes earlier in lexicographic order. We walk
    the survivors in that order, a block of up to ``_FILTER_BLOCK`` at a time, and drop every
    not-yet-confirmed point that a block point dominates (a dominated block point may serve as a
    dominator: whatever it dominates, its own dominator dominates too). Cost: ``front / B``
    vectorised passes of ``B x n x m`` comparisons.
    """
    n = pts.shape[0]
    survivors = np.lexsort(pts.T[::-1])
    cand = pts[survivors]
    i = 0
    while i < cand.shape[0]:
        block = cand[i : i + _FILTER_BLOCK]
        rest = cand[i:]
        le = np.all(block[:, None, :] <= rest[None, :, :], axis=2)
        lt = np.any(block[:, None, :] < rest[None, :, :], axis=2)
        keep = ~np.any(le & lt, axis=0)
        n_block_kept = int(keep[: block.shape[0]].sum())
        if not keep.all():
            survivors = np.concatenate((survivors[:i], survivors[i:][keep]))
            cand = np.concatenate((cand[:i], rest[keep]))
        i += n_block_kept
    mask = np.zeros(n, dtype=bool)
    mask[survivors] = True
    return mask


# --------------------------------------------------------------------------- crowding distance


def crowding_distance(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """NSGA-II crowding distance of each point (normally the points of one front).

    For every objective with a non-zero range, the points holding the minimum or the maximum
    value get ``inf``; every other point adds ``(next larger value - next smaller value) /
    range``, where "next" means the nearest *distinct* value. An objective that is constant over
    the points adds nothing. Exact duplicates get the distance their common value would get
    alone, so the result does not depend on the order of the points.

    Args:
        points: ``(n, m)`` finite minimization values.

    Returns:
        ``(n,)`` float array, ``>= 0`` or ``inf``. With ``n <= 2`` every distance is ``inf``.

    Raises:
        ValueError: ``points`` is not 2-D or contains NaN/inf.
    """
    pts = _as_points(points, finite=True)
    n, m = pts.shape
    if n <= 2:
        return np.full(n, np.inf)
    dist = np.zeros(n, dtype=float)
    for j in range(m):
        values, inverse = np.unique(pts[:, j], return_inverse=True)
        inverse = inverse.ravel()
        k = values.size
        if k < 2:
            continue  # constant objective: no information, no boundary.
        span = values[-1] - values[0]
        per_value = np.empty(k, dtype=float)
        per_value[0] = per_value[-1] = np.inf
        if k > 2:
            per_value[1:-1] = (values[2:] - values[:-2]) / span
        dist += per_value[inverse]
    return dist


# --------------------------------------------------------------------------- hypervolume


def default_reference_point(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """A reference point for :func:`hypervolume`: the nadir plus 10% of the range.

    Per objective: ``max + 0.1 * (max - min)``; where the range is zero (one point, or a
    constant objective) the offset is ``1e-3 * max(1, |max|)``. The result is strictly greater
    than every point in every objective, so every non-dominated point counts.

    Args:
        points: ``(n, m)`` finite minimization values, ``n >= 1``.

    Returns:
        ``(m,)`` float array.

    Raises:
        ValueError: no points, or NaN/inf among them.
    """
    pts = _as_points(points, finite=True)
    if pts.shape[0] == 0:
        raise ValueError("default_reference_point needs at least one point, got 0")
    nadir = pts.max(axis=0)
    span = nadir - pts.min(axis=0)
    offset = np.where(span > 0, 0.1 * span, 1e-3 * np.maximum(1.0, np.abs(nadir)))
    ref = nadir + offset
    # Guard against an offset lost to rounding (huge magnitudes, tiny ranges).
    return np.where(ref > nadir, ref, np.nextafter(nadir, np.inf))


def hypervolume(
    points: np.ndarray | Sequence[Sequence[float]],
    reference: np.ndarray | Sequence[float],
) -> float:
    """Exact hypervolume (Lebesgue measure) dominated by ``points`` and bounded by ``reference``.

    Points that do not strictly dominate the reference in every objective contribute nothing
    and are ignored.

    Args:
        points: ``(n, m)`` minimization values (``+inf`` allowed: such points are ignored).
        reference: ``(m,)`` finite reference point (worse than the interesting points).

    Returns:
        The volume, ``>= 0`` (``inf`` if a counted point has a ``-inf`` coordinate).

    Raises:
        ValueError: shapes disagree, NaN in the points, or a non-finite reference.
    """
    pts = _as_points(points)
    ref = np.asarray(reference, dtype=float).ravel()
    m = pts.shape[1]
    if ref.shape != (m,):
        raise ValueError(
            f"reference must have {m} coordinates (one per objective), got {ref.shape}"
        )
    if not np.isfinite(ref).all():
        raise ValueError(f"reference must be finite, got {ref.tolist()}")
    pts = pts[np.all(pts < ref, axis=1)]
    if pts.shape[0] == 0:
        return 0.0
    if np.isneginf(pts).any():
        return math.inf
    pts = np.unique(pts[pareto_mask(pts)], axis=0)
    return float(_hv(pts, ref))


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of mutually non-dominated, distinct points that all dominate ``ref``."""
    n, m = pts.shape
    if n == 0:
        return 0.0
    if m == 1:
        return float(ref[0] - pts[:, 0].min())
    if m == 2:
        return _hv_2d(pts, ref)
    if m == 3:
        return _hv_3d(pts, ref)
    # Slice along the last objective (HSO): between consecutive levels the cross-section is
    # the (m-1)-D hypervolume of the points at or below the level.
    order = np.argsort(pts[:, -1], kind="stable")
    s = pts[order]
    levels = np.append(s[:, -1], ref[-1])
    total = 0.0
    for i in range(n):
        width = levels[i + 1] - levels[i]
        if width <= 0:
            continue
        section = s[: i + 1, :-1]
        section = np.unique(section[pareto_mask(section)], axis=0)
        total += width * _hv(section, ref[:-1])
    return total


def _hv_2d(pts: np.ndarray, ref: np.ndarray) -> float:
    """Sweep in f0: for a 2-D front sorted by f0 ascending, f1 is strictly descending."""
    front = pts[pareto_mask(pts)]
    order = np.lexsort((front[:, 1], front[:, 0]))
    f = front[order]
    prev_f1 = np.concatenate(([ref[1]], f[:-1, 1]))
    return float(np.sum((ref[0] - f[:, 0]) * (prev_f1 - f[:, 1])))


def _hv_3d(pts: np.ndarray, ref: np.ndarray) -> float:
    """Sweep in f2 while maintaining the 2-D front of (f0, f1) and its area incrementally.

    The 2-D front is kept sorted by f0 ascending (f1 then strictly descending). Inserting a point
    removes the points it dominates and adds exactly the area it covers that was not covered.
    """
    order = np.argsort(pts[:, 2], kind="stable")
    s = pts[order]
    r0, r1, r2 = float(ref[0]), float(ref[1]), float(ref[2])
    xs: list[float] = []
    ys: list[float] = []
    area = 0.0
    total = 0.0
    rows = s.tolist()
    for i, (x, y, z) in enumerate(rows):
        k = bisect.bisect_left(xs, x)
        dominated = (k > 0 and ys[k - 1] <= y) or (k < len(xs) and xs[k] == x and ys[k] <= y)
        if not dominated:
            # Points from k on with y >= this y are dominated by the new point (x ascending).
            e = k
            while e < len(xs) and ys[e] >= y:
                e += 1
            y_left = ys[k - 1] if k > 0 else r1
            x_next = xs[k] if k < len(xs) else r0
            gained = (x_next - x) * (y_left - y)
            for j in range(k, e):
                x_right = xs[j + 1] if j + 1 < len(xs) else r0
                gained += (x_right - xs[j]) * (ys[j] - y)
            area += gained
            xs[k:e] = [x]
            ys[k:e] = [y]
        z_next = rows[i + 1][2] if i + 1 < len(rows) else r2
        total += area * (z_next - z)
    return total
