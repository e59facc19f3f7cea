"""Pareto/MAP's amortised front: multi-objective search on cheap surrogates of the unit cube.

:func:`surrogate_nsga2` is a vectorised real-coded NSGA-II (SBX crossover, polynomial
mutation, crowded tournaments) and :func:`pareto_descent` polishes its population by
multiple-gradient descent; :func:`epsilon_dominated` tells which points of a predicted front
another point beats by more than a margin. All of them take the objective functions as
callables and draw only from the generator they are given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nas.pareto import non_dominated_sort

__all__ = ["epsilon_dominated", "pareto_descent", "surrogate_nsga2"]

# Surrogate NSGA-II variation (Deb's defaults, also the paper's eta = 20).
_SBX_ETA = 20.0
_SBX_PROB = 0.9
_PM_ETA = 20.0


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
