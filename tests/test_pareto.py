"""Tests of nas.pareto against brute-force definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nas._types import FrozenTrial, Objective, TrialState
from nas.pareto import (
    crowding_distance,
    default_reference_point,
    dominates,
    hypervolume,
    minimization_values,
    non_dominated_sort,
    pareto_mask,
)

# --------------------------------------------------------------------------- brute force


def bf_dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def bf_ranks(x: np.ndarray) -> np.ndarray:
    """Peel fronts with the O(n^2) definition."""
    ranks = np.full(len(x), -1)
    remaining = set(range(len(x)))
    rank = 0
    while remaining:
        front = [
            i for i in remaining if not any(bf_dominates(x[j], x[i]) for j in remaining if j != i)
        ]
        for i in front:
            ranks[i] = rank
        remaining -= set(front)
        rank += 1
    return ranks


def grid_hypervolume(x: np.ndarray, ref: np.ndarray) -> int:
    """Exact HV of integer points w.r.t. an integer reference by counting unit cells."""
    if len(x) == 0:
        return 0
    lo = x.min(axis=0).astype(int)
    count = 0
    for cell in itertools.product(*(range(lo[j], int(ref[j])) for j in range(x.shape[1]))):
        if np.any(np.all(x <= np.array(cell), axis=1)):
            count += 1
    return count


def inclusion_exclusion_hv(x: np.ndarray, ref: np.ndarray) -> float:
    """Exact HV of real points by inclusion-exclusion over subsets (small n only)."""
    x = x[np.all(x < ref, axis=1)]
    total = 0.0
    for k in range(1, len(x) + 1):
        for subset in itertools.combinations(range(len(x)), k):
            corner = x[list(subset)].max(axis=0)
            total += (-1) ** (k + 1) * float(np.prod(ref - corner))
    return total


def random_points(rng: np.random.Generator, n: int, m: int, *, ties: bool) -> np.ndarray:
    x = rng.integers(0, 4, size=(n, m)).astype(float) if ties else rng.random((n, m))
    if n >= 4:  # exact duplicates
        x = np.vstack([x, x[: n // 4]])
        x = x[rng.permutation(len(x))]
    return x


# --------------------------------------------------------------------------- sorting


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("ties", [False, True])
def test_non_dominated_sort_matches_brute_force(m: int, ties: bool) -> None:
    rng = np.random.default_rng(100 * m + ties)
    for _ in range(25):
        x = random_points(rng, int(rng.integers(0, 30)), m, ties=ties)
        expected = bf_ranks(x)
        np.testing.assert_array_equal(non_dominated_sort(x), expected)
        np.testing.assert_array_equal(pareto_mask(x), expected == 0)


def test_duplicates_share_front_and_dominated_point_ranks_below() -> None:
    x = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [1.0, 2.0], [0.0, 3.0]])
    np.testing.assert_array_equal(non_dominated_sort(x), [0, 0, 2, 1, 0])
    np.testing.assert_array_equal(pareto_mask(x), [True, True, False, False, True])


def test_equal_in_one_objective_is_dominated() -> None:
    # (1, 2) is dominated by (1, 1): equal f0, better f1. Same with the roles swapped.
    x = np.array([[1.0, 2.0], [1.0, 1.0], [2.0, 1.0]])
    np.testing.assert_array_equal(non_dominated_sort(x), [1, 0, 1])
    x3 = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 2.0], [0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(non_dominated_sort(x3), [0, 1, 0])


def test_empty_and_single() -> None:
    for m in (1, 2, 3, 4):
        assert non_dominated_sort(np.empty((0, m))).shape == (0,)
        assert pareto_mask(np.empty((0, m))).shape == (0,)
        np.testing.assert_array_equal(non_dominated_sort(np.ones((1, m))), [0])


def test_infinite_values_are_ordered() -> None:
    x = np.array([[np.inf, 0.0], [0.0, np.inf], [1.0, 1.0], [-np.inf, 5.0]])
    np.testing.assert_array_equal(non_dominated_sort(x), bf_ranks(x))


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        non_dominated_sort(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        pareto_mask(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="finite"):
        crowding_distance(np.array([[0.0, np.inf], [1.0, 1.0], [2.0, 0.0]]))


def test_two_objective_large_input() -> None:
    """10k points (the sizes benchmarks/pareto.py times): the front agrees with the ranks and
    with the definition."""
    x = np.random.default_rng(0).random((10_000, 2))
    ranks = non_dominated_sort(x)
    mask = pareto_mask(x)
    np.testing.assert_array_equal(mask, ranks == 0)
    # Spot-check the big case against the O(n) per-point definition.
    for i in np.random.default_rng(1).choice(len(x), 30, replace=False):
        dominated = np.any(np.all(x <= x[i], axis=1) & np.any(x < x[i], axis=1))
        assert mask[i] == (not dominated)


def test_three_objective_front_of_ten_thousand_points() -> None:
    # Worst case for filters: every point is non-dominated. (How fast: a benchmark's business,
    # never a test's assert.)
    x = np.random.default_rng(2).random((10_000, 3))
    x /= x.sum(axis=1, keepdims=True)
    assert pareto_mask(x).all()
    ranks = non_dominated_sort(np.vstack([x, x + 1.0]))
    assert (ranks[:10_000] == 0).all() and (ranks[10_000:] == 1).all()


def test_dominates() -> None:
    assert dominates([0, 1], [1, 1])
    assert not dominates([1, 1], [1, 1])
    assert not dominates([0, 2], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        dominates([0, 1], [0, 1, 2])


# --------------------------------------------------------------------------- crowding


def test_crowding_known_values() -> None:
    x = np.array([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
    d = crowding_distance(x)
    assert np.isinf(d[0]) and np.isinf(d[3])
    # point 1: (3 - 0)/4 + (4 - 1)/4 = 1.5 ; point 2: (4 - 1)/4 + (3 - 0)/4 = 1.5
    np.testing.assert_allclose(d[1:3], [1.5, 1.5])


def test_crowding_prefers_isolated_point() -> None:
    x = np.array([[0.0, 10.0], [1.0, 9.0], [1.1, 8.9], [5.0, 5.0], [10.0, 0.0]])
    d = crowding_distance(x)
    assert d[3] > d[1] and d[3] > d[2]


def test_crowding_small_and_constant() -> None:
    assert np.isinf(crowding_distance(np.array([[1.0, 2.0], [2.0, 1.0]]))).all()
    assert crowding_distance(np.empty((0, 2))).shape == (0,)
    # Constant second objective contributes nothing and creates no boundary.
    x = np.array([[0.0, 5.0], [1.0, 5.0], [3.0, 5.0], [4.0, 5.0]])
    d = crowding_distance(x)
    assert np.isinf(d[0]) and np.isinf(d[3])
    np.testing.assert_allclose(d[1:3], [0.75, 0.75])
    # All points identical: no information at all.
    np.testing.assert_array_equal(crowding_distance(np.ones((4, 2))), np.zeros(4))


def test_crowding_is_permutation_invariant_with_duplicates() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, size=(20, 3)).astype(float)
    x = np.vstack([x, x[:6]])
    d = crowding_distance(x)
    for _ in range(5):
        perm = rng.permutation(len(x))
        np.testing.assert_array_equal(crowding_distance(x[perm]), d[perm])
    # Duplicates get the same distance.
    np.testing.assert_array_equal(d[:6], d[20:])


# --------------------------------------------------------------------------- hypervolume


def test_hypervolume_known_values() -> None:
    assert hypervolume([[1.0, 0.0], [0.0, 1.0]], [2.0, 2.0]) == pytest.approx(3.0)
    assert hypervolume([[0.0, 0.0]], [1.0, 2.0]) == pytest.approx(2.0)
    assert hypervolume([[1.0]], [3.0]) == pytest.approx(2.0)
    # 3-D: three boxes of volume 2 w.r.t. (2, 2, 2); every pair and the triple meet in the
    # unit cube [1, 2]^3: 3 * 2 - 3 * 1 + 1 = 4.
    pts3 = [[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    assert hypervolume(pts3, [2.0, 2.0, 2.0]) == pytest.approx(4.0)
    assert hypervolume([[0.0, 0.0, 0.0]], [1.0, 2.0, 3.0]) == pytest.approx(6.0)
    # 4-D single box and two boxes.
    assert hypervolume([[0.0] * 4], [2.0] * 4) == pytest.approx(16.0)
    assert hypervolume([[0, 0, 0, 1], [1, 1, 1, 0]], [2] * 4) == pytest.approx(8 + 2 - 1)


def test_hypervolume_ignores_points_not_dominating_reference() -> None:
    ref = [2.0, 2.0]
    base = hypervolume([[1.0, 1.0]], ref)
    assert hypervolume([[1.0, 1.0], [2.0, 0.0], [0.0, 3.0], [5.0, 5.0]], ref) == base
    assert hypervolume([[2.0, 2.0]], ref) == 0.0
    assert hypervolume(np.empty((0, 3)), [1.0, 1.0, 1.0]) == 0.0
    assert hypervolume([[np.inf, 0.0]], ref) == 0.0


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_matches_grid_counting(m: int) -> None:
    rng = np.random.default_rng(10 + m)
    ref = np.full(m, 6.0)
    for _ in range(40):
        n = int(rng.integers(1, 12 if m < 4 else 8))
        x = rng.integers(0, 7, size=(n, m)).astype(float)  # some equal the reference: ignored
        if n >= 3:
            x = np.vstack([x, x[:2]])
        assert hypervolume(x, ref) == grid_hypervolume(x[np.all(x < ref, axis=1)], ref)


@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_hypervolume_matches_inclusion_exclusion(m: int) -> None:
    rng = np.random.default_rng(20 + m)
    for _ in range(15):
        x = rng.random((int(rng.integers(1, 9)), m))
        ref = np.full(m, 1.05)
        assert hypervolume(x, ref) == pytest.approx(inclusion_exclusion_hv(x, ref), rel=1e-12)


def test_hypervolume_invariances() -> None:
    rng = np.random.default_rng(4)
    x = rng.random((200, 3))
    ref = np.array([1.2, 1.1, 1.3])
    hv = hypervolume(x, ref)
    assert hypervolume(x[rng.permutation(200)], ref) == pytest.approx(hv, rel=1e-12)
    # Adding dominated points changes nothing; the front alone gives the same value.
    assert hypervolume(np.vstack([x, x + 0.01]), ref) == pytest.approx(hv, rel=1e-12)
    assert hypervolume(x[pareto_mask(x)], ref) == pytest.approx(hv, rel=1e-12)
    # Permuting objectives (and the reference accordingly) changes nothing.
    assert hypervolume(x[:, [2, 0, 1]], ref[[2, 0, 1]]) == pytest.approx(hv, rel=1e-12)


def test_hypervolume_3d_large_front() -> None:
    """5,000 points on one front (benchmarks/pareto.py times it)."""
    x = np.random.default_rng(5).random((5000, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # all on the unit sphere: one front
    hv = hypervolume(x, [1.0, 1.0, 1.0])
    # Complement of the sphere octant inside the unit cube: 1 - pi/6 (dense sample, below it).
    assert 0.0 < hv < 1.0 - np.pi / 6


def test_hypervolume_bad_reference() -> None:
    with pytest.raises(ValueError, match="coordinates"):
        hypervolume([[0.0, 0.0]], [1.0])
    with pytest.raises(ValueError, match="finite"):
        hypervolume([[0.0, 0.0]], [1.0, np.inf])


# --------------------------------------------------------------------------- reference point


def test_default_reference_point() -> None:
    x = np.array([[0.0, 10.0], [2.0, 0.0]])
    np.testing.assert_allclose(default_reference_point(x), [2.2, 11.0])
    single = default_reference_point([[3.0, -1.0]])
    assert np.all(single > [3.0, -1.0])
    huge = default_reference_point([[1e20, 5.0], [1e20, 6.0]])
    assert huge[0] > 1e20
    # Every point strictly dominates the reference, so every front point counts.
    pts = np.random.default_rng(6).random((50, 3))
    ref = default_reference_point(pts)
    assert np.all(pts < ref)
    with pytest.raises(ValueError, match="at least one point"):
        default_reference_point(np.empty((0, 2)))


# --------------------------------------------------------------------------- trials helper


def test_minimization_values_applies_directions() -> None:
    objectives = [Objective("loss", "minimize"), Objective("acc", "maximize")]
    trials = [
        FrozenTrial(1, 0, TrialState.COMPLETE, {}, values={"loss": 0.5, "acc": 0.9}),
        FrozenTrial(2, 1, TrialState.COMPLETE, {}, values={"loss": 0.4, "acc": 0.7}),
    ]
    v = minimization_values(trials, objectives)
    np.testing.assert_allclose(v, [[0.5, -0.9], [0.4, -0.7]])
    np.testing.assert_array_equal(non_dominated_sort(v), [0, 0])
    assert minimization_values([], objectives).shape == (0, 2)
    with pytest.raises(ValueError, match="acc"):
        minimization_values(
            [FrozenTrial(3, 2, TrialState.COMPLETE, {}, values={"loss": 1})], objectives
        )
