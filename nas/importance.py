"""Parameter importance by functional ANOVA (fANOVA) over a random forest.

Reference: F. Hutter, H. Hoos and K. Leyton-Brown, "An Efficient Approach for Assessing
Hyperparameter Importance", ICML 2014.

The importance of a parameter is the share of the objective's variance that the parameter explains
on its own (its *main effect*), under the uniform measure on the search space (log-uniform for
log-scaled parameters, uniform over the choices of a categorical):

* a random forest (scikit-learn ``RandomForestRegressor``) is fitted to the trials;
* each tree splits the bounded input box ``[0, 1]^d`` into axis-aligned leaf boxes with constant
  predictions, so its decomposition is exact: the *marginal* of feature ``i`` at ``x_i`` is the
  mean prediction over all other dimensions, i.e. the sum over the leaves whose ``i``-interval
  contains ``x_i`` of ``prediction * (volume of the leaf's other sides)``; it is constant between
  the tree's split points on ``i``;
* the main-effect variance ``V_i`` is the variance of that marginal over ``x_i`` (each interval
  between split points weighted by its length), divided by the tree's total variance ``V`` (the
  volume-weighted variance of the leaf predictions);
* the fractions ``V_i / V`` are averaged over the trees; trees with ``V == 0`` (a constant
  bootstrap sample) are skipped.

The fractions need not sum to 1: the rest of the variance is explained by interactions between
parameters. :func:`param_importances` normalises them to sum to 1, as Optuna does.

Two entry points:

* :func:`fanova_importances`: the numeric core on an encoded ``(n, d)`` matrix;
* :func:`param_importances`: encodes the COMPLETE trials of a study's space (bounds, log scale,
  categoricals, conditional parameters) and returns ``{name: importance}``.

Example::

    from nas.importance import param_importances

    importances = param_importances(study.final_trials(), study.space, "loss")
    # {"lr": 0.81, "n_layers": 0.15, "optimizer": 0.04, ...}, sorted, summing to 1

Cost: the forest dominates (``n_trees`` fully grown trees on ``n`` rows, fitted in parallel
threads); the decomposition is vectorised numpy per tree, ``O(leaves * d)`` plus a sort of each
feature's split points. 10,000 rows x 10 features with the defaults take about 4 s on 2 cores
(7 s of CPU: 6 s forest, 1 s decomposition); :func:`param_importances` caps the rows at
``max_trials`` (default 5,000, a seeded random subsample: about half the time) to bound the time
on long studies.

Randomness: everything is drawn from generators seeded by ``seed`` (the forest's own
``random_state`` and a ``numpy.random.Generator``); the global ``numpy.random`` state is neither
read nor changed, and the same inputs and seed give the same result whatever ``n_jobs`` is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nas._types import TrialState
from nas.exceptions import NasError, SpaceError
from nas.space import CategoricalParam, FixedParam

if TYPE_CHECKING:
    from nas._types import FrozenTrial
    from nas.space import Param, SearchSpace

__all__ = ["ImportanceError", "fanova_importances", "param_importances"]

_MAX_SEED = 2**32 - 1  # scikit-learn's bound for an integer random_state


class ImportanceError(NasError, ValueError):
    """Importances cannot be computed from these inputs.

    Raised for fewer than 2 usable trials, an objective name no trial has, unknown parameter
    names, and malformed arrays or options given to :func:`fanova_importances`. The message names
    the rule broken and the offending values.
    """


# --------------------------------------------------------------------------- numeric core


def fanova_importances(
    X: np.ndarray,  # noqa: N803 - scikit-learn's name for the design matrix
    y: np.ndarray,
    *,
    cardinalities: Sequence[int] | None = None,
    n_trees: int = 64,
    max_depth: int = 64,
    min_samples_leaf: int = 1,
    seed: int = 0,
    n_jobs: int | None = -1,
) -> np.ndarray:
    """First-order fANOVA variance fraction of every column of ``X`` (see the module docstring).

    Args:
        X: ``(n, d)`` inputs, ``n >= 2``, ``d >= 1``. A numeric column (cardinality 0) holds
            values in ``[0, 1]``, already scaled so that the uniform measure on ``[0, 1]`` is the
            intended prior (e.g. in log space for a log-scaled parameter). A categorical column
            with cardinality ``k`` holds category indices ``0 .. k - 1`` (as integral floats);
            each category weighs ``1 / k``, observed or not.
        y: ``(n,)`` finite targets (e.g. objective values).
        cardinalities: ``d`` integers: 0 for a numeric column, ``k >= 1`` for a categorical one
            with ``k`` categories. ``None`` (the default) means every column is numeric.
        n_trees: number of trees of the forest, ``>= 1``.
        max_depth: maximum depth of a tree, ``>= 1``.
        min_samples_leaf: minimum number of (bootstrap) samples in a leaf, ``>= 1``.
        seed: ``random_state`` of the forest, in ``[0, 2**32 - 1]``.
        n_jobs: threads fitting the forest (scikit-learn's meaning: ``-1`` all cores, ``None``
            one unless inside a joblib context). The result does not depend on it.

    Returns:
        ``(d,)`` float array of non-negative main-effect fractions, each in ``[0, 1]``. They need
        not sum to 1 (the rest of the variance is due to interactions) and are all 0 when ``y``
        is constant. A column the forest never splits on gets exactly 0.

    Raises:
        ImportanceError: ``X`` is not 2-D, has fewer than 2 rows or no column, contains NaN or
            +-inf, a numeric column leaves ``[0, 1]`` or a categorical one holds a value that
            is not an index ``0 .. k - 1``; ``y`` is not ``(n,)`` or is not finite;
            ``cardinalities`` has the wrong length or a negative entry; an option is out of
            range.

    Categorical columns are split by the forest as ordered indices (``c <= t`` vs ``c > t``);
    several splits still isolate any subset of categories, and the decomposition weighs each
    category by ``1 / k`` whatever the order.
    """
    xa, ya, cards = _check_inputs(X, y, cardinalities)
    _check_options(n_trees, max_depth, min_samples_leaf, seed)
    d = xa.shape[1]
    if np.ptp(ya) == 0.0:  # nothing to explain; every tree would be a single leaf
        return np.zeros(d)

    from sklearn.ensemble import RandomForestRegressor  # lazy: importing sklearn takes ~1 s

    forest = RandomForestRegressor(
        n_estimators=n_trees,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        max_features=1.0,
        bootstrap=True,
        random_state=seed,
        n_jobs=n_jobs,
    )
    forest.fit(xa, ya)

    total = np.zeros(d)
    used = 0
    for estimator in forest.estimators_:
        fractions = _tree_main_effects(estimator.tree_, cards)
        if fractions is not None:
            total += fractions
            used += 1
    if used == 0:
        return np.zeros(d)
    return np.clip(total / used, 0.0, 1.0)


def _check_inputs(
    x: object, y: object, cardinalities: Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x`` (the ``X`` of :func:`fanova_importances`) and ``y`` as float arrays, and the
    cardinalities as an int array, all validated."""
    try:
        xa = np.asarray(x, dtype=float)
        ya = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as e:
        raise ImportanceError(f"X and y must be numeric arrays ({e})") from e
    if xa.ndim != 2 or xa.shape[0] < 2 or xa.shape[1] < 1:
        raise ImportanceError(
            f"X must be a 2-D array with at least 2 rows and 1 column, got shape {xa.shape}"
        )
    n, d = xa.shape
    if ya.shape != (n,):
        raise ImportanceError(f"y must have shape ({n},) to match X, got shape {ya.shape}")
    if not np.isfinite(xa).all():
        rows = np.flatnonzero(~np.isfinite(xa).all(axis=1))[:5].tolist()
        raise ImportanceError(f"X must be finite (rows {rows} contain NaN or +-inf)")
    if not np.isfinite(ya).all():
        rows = np.flatnonzero(~np.isfinite(ya))[:5].tolist()
        raise ImportanceError(f"y must be finite (rows {rows} are NaN or +-inf)")
    if cardinalities is None:
        cards = np.zeros(d, dtype=np.int64)
    else:
        cards = np.asarray(cardinalities)
        if cards.shape != (d,) or not np.issubdtype(cards.dtype, np.integer):
            raise ImportanceError(
                f"cardinalities must be {d} integers (one per column of X), got {cardinalities!r}"
            )
        if (cards < 0).any():
            raise ImportanceError(
                f"cardinalities must be >= 0 (0 = numeric), got {cards.tolist()}"
            )
        cards = cards.astype(np.int64)
    for j in range(d):
        col = xa[:, j]
        k = int(cards[j])
        if k == 0 and (col.min() < 0.0 or col.max() > 1.0):
            raise ImportanceError(
                f"numeric column {j} of X must lie in [0, 1], got values in "
                f"[{col.min()!r}, {col.max()!r}]"
            )
        if k > 0 and ((col != np.round(col)).any() or col.min() < 0 or col.max() > k - 1):
            bad = col[(col != np.round(col)) | (col < 0) | (col > k - 1)][:5].tolist()
            raise ImportanceError(
                f"categorical column {j} of X (cardinality {k}) must hold indices 0..{k - 1}, "
                f"got {bad}"
            )
    return xa, ya, cards


def _check_options(n_trees: int, max_depth: int, min_samples_leaf: int, seed: int) -> None:
    for name, value in (
        ("n_trees", n_trees),
        ("max_depth", max_depth),
        ("min_samples_leaf", min_samples_leaf),
    ):
        if not _is_int(value) or value < 1:
            raise ImportanceError(f"{name} must be an integer >= 1, got {value!r}")
    if not _is_int(seed) or not 0 <= seed <= _MAX_SEED:
        raise ImportanceError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _tree_main_effects(tree: Any, cards: np.ndarray) -> np.ndarray | None:
    """``(d,)`` main-effect fractions ``V_i / V`` of one fitted scikit-learn tree (``tree_``),
    or ``None`` when the tree's total variance ``V`` is 0."""
    d = cards.shape[0]
    split_points = _unit_thresholds(tree, cards)
    lower, upper = _node_boxes(tree, split_points, d)
    is_leaf = tree.children_left == -1
    mean = tree.value[is_leaf, 0, 0].astype(float)
    lower, upper = lower[is_leaf], upper[is_leaf]
    width = upper - lower  # (L, d)

    # others[l, i]: volume of leaf l's box without dimension i (prefix * suffix products).
    ones = np.ones((width.shape[0], 1))
    prefix = np.cumprod(np.hstack([ones, width[:, :-1]]), axis=1)
    suffix = np.cumprod(np.hstack([ones, width[:, :0:-1]]), axis=1)[:, ::-1]
    others = prefix * suffix
    volume = others[:, 0] * width[:, 0]

    f0 = volume @ mean
    centred = mean - f0
    variance = float(volume @ centred**2)
    if not variance > 0.0 or not math.isfinite(variance):
        return None

    fractions = np.zeros(d)
    internal = ~is_leaf
    split_feature = tree.feature[internal]
    split_at = split_points[internal]
    for i in np.unique(split_feature):
        # The marginal of i is constant between consecutive split points ("cells").
        edges = np.unique(np.concatenate([[0.0, 1.0], split_at[split_feature == i]]))
        first = np.searchsorted(edges, lower[:, i])
        stop = np.searchsorted(edges, upper[:, i])
        contrib = others[:, i] * centred
        m = edges.size
        # Leaf l adds contrib[l] to cells first[l] .. stop[l] - 1: a difference array.
        delta = np.bincount(first, contrib, minlength=m) - np.bincount(stop, contrib, minlength=m)
        marginal = np.cumsum(delta)[:-1]  # centred marginal per cell (its weighted mean is 0)
        fractions[i] = (np.diff(edges) @ marginal**2) / variance
    return fractions


def _unit_thresholds(tree: Any, cards: np.ndarray) -> np.ndarray:
    """Every node's split point in the unit coordinates of the measure (garbage for leaves).

    Numeric column: the threshold itself (clipped to ``[0, 1]``). Categorical column with ``k``
    categories: category ``c`` occupies ``[c / k, (c + 1) / k)``, so ``x <= t`` keeps the
    categories ``0 .. floor(t)`` and the split point is ``(floor(t) + 1) / k``.
    """
    feature = np.maximum(tree.feature, 0)  # leaves have feature -2
    threshold = tree.threshold.astype(float)
    k = cards[feature]
    categorical = k > 0
    out = np.clip(threshold, 0.0, 1.0)
    kc = k[categorical]
    out[categorical] = np.clip(np.floor(threshold[categorical]) + 1.0, 0.0, kc) / kc
    return out


def _node_boxes(tree: Any, split_points: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``(node_count, d)`` lower and upper corners of every node's box in ``[0, 1]^d``.

    Filled one depth level at a time (at most ``max_depth`` vectorised steps): the children
    inherit the parent's box, and the split feature's side is cut at the node's split point (from
    :func:`_unit_thresholds`).
    """
    n_nodes = tree.node_count
    lower = np.zeros((n_nodes, d))
    upper = np.ones((n_nodes, d))
    left, right, feature = tree.children_left, tree.children_right, tree.feature
    frontier = np.array([0])
    while frontier.size:
        frontier = frontier[left[frontier] != -1]
        if not frontier.size:
            break
        lo, hi = lower[frontier], upper[frontier]
        f, t = feature[frontier], split_points[frontier]
        rows = np.arange(frontier.size)
        lch, rch = left[frontier], right[frontier]
        lower[lch], upper[lch] = lo, hi
        lower[rch], upper[rch] = lo, hi
        upper[lch, f] = np.clip(t, lo[rows, f], hi[rows, f])
        lower[rch, f] = np.clip(t, lo[rows, f], hi[rows, f])
        frontier = np.concatenate([lch, rch])
    return lower, upper


# --------------------------------------------------------------------------- trials wrapper


def param_importances(
    trials: Sequence[FrozenTrial],
    space: SearchSpace,
    objective: str,
    *,
    seed: int = 0,
    max_trials: int = 5000,
    params: Sequence[str] | None = None,
) -> dict[str, float]:
    """fANOVA importance of each parameter for one objective, normalised to sum to 1.

    Args:
        trials: the study's trials, normally :meth:`nas.Study.final_trials` (mixing budgets of a
            multi-fidelity study mixes different functions). Only COMPLETE trials with a finite
            value for ``objective`` are used; the others are ignored.
        space: the space the trials were drawn from (e.g. ``study.space``).
        objective: the objective's name (a key of ``FrozenTrial.values``). Its direction does not
            matter: variance is the same for ``y`` and ``-y``.
        seed: seeds the subsample, the imputation of inactive parameters and the forest, in
            ``[0, 2**32 - 1]``; same inputs and seed give the same result.
        max_trials: at most this many usable trials are used, ``>= 2``; beyond it a seeded
            uniform random subsample (the fit is superlinear in the number of rows).
        params: the parameters to analyse (default: every parameter of ``space``). The others
            are not given to the forest, so their effect counts as noise.

    Returns:
        ``{name: importance}`` for every analysed parameter, sorted by decreasing importance
        (ties in space order), non-negative and summing to 1 (all 0 when the objective is
        constant over the used trials, or when no analysed parameter varies).

    Raises:
        ImportanceError: ``objective`` is not a value of any COMPLETE trial; fewer than 2 usable
            trials; ``params`` is empty or names a parameter the space lacks; a trial's value
            lies outside its parameter's domain; ``max_trials`` or ``seed`` out of range.

    Encoding, one column per parameter:

    * float/int: the position in ``[0, 1]`` of :meth:`nas.space.Param.to_unit` (log space for a
      log-scaled parameter, so the measure is the log-uniform prior; ints on the cells of their
      grid);
    * categorical: the index of the choice, each choice weighing ``1 / k``;
    * fixed parameters, and parameters with fewer than 2 distinct values among the trials where
      they are active, never vary: importance 0 and no column.

    Conditional parameters. A parameter is active in a trial iff the trial records a value for
    it (the storage records exactly the active ones). The decomposition needs a value in every
    row, and the principled one follows from what "inactive" means: the objective does not depend
    on the parameter there. So an inactive entry is imputed by a draw from the parameter's prior
    (uniform in its unit coordinates, or a uniformly drawn choice), independent of everything
    else: the forest then sees no signal in that column outside the active region, and the
    parameter's main effect is the variance of its marginal over the *whole* space, i.e. roughly
    ``P(active)^2`` times its effect inside the active region. The effect of *being* active is
    credited to the parent that switches it on, not to the child (an "inactive" category would
    count the parent's effect twice).
    """
    if not isinstance(objective, str) or not objective:
        raise ImportanceError(f"objective must be a non-empty string, got {objective!r}")
    if not _is_int(max_trials) or max_trials < 2:
        raise ImportanceError(f"max_trials must be an integer >= 2, got {max_trials!r}")
    if not _is_int(seed) or not 0 <= seed <= _MAX_SEED:
        raise ImportanceError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    selected = _selected_params(space, params)

    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete and not any(objective in t.values for t in complete):
        seen = sorted({name for t in complete for name in t.values})
        raise ImportanceError(
            f"unknown objective {objective!r}: no COMPLETE trial has a value for it; "
            f"objectives found: {', '.join(map(repr, seen)) or 'none'}"
        )
    usable = [t for t in complete if _finite(t.values.get(objective))]
    if len(usable) < 2:
        raise ImportanceError(
            f"importances need at least 2 COMPLETE trials with a finite value for "
            f"{objective!r}, got {len(usable)} (of {len(trials)} trials)"
        )

    rng = np.random.default_rng(seed)
    if len(usable) > max_trials:
        keep = np.sort(rng.choice(len(usable), size=max_trials, replace=False))
        usable = [usable[i] for i in keep]
    y = np.array([float(t.values[objective]) for t in usable])

    importances = dict.fromkeys((p.name for p in selected), 0.0)
    columns: list[np.ndarray] = []
    cards: list[int] = []
    names: list[str] = []
    for param in selected:
        encoded = _encode(param, usable, rng)
        if encoded is not None:
            columns.append(encoded[0])
            cards.append(encoded[1])
            names.append(param.name)
    if columns and np.ptp(y) > 0.0:
        raw = fanova_importances(np.column_stack(columns), y, cardinalities=cards, seed=seed)
        total = float(raw.sum())
        if total > 0.0:
            for name, value in zip(names, raw / total, strict=True):
                importances[name] = float(value)
    order = {name: i for i, name in enumerate(importances)}
    return dict(sorted(importances.items(), key=lambda kv: (-kv[1], order[kv[0]])))


def _selected_params(space: SearchSpace, params: Sequence[str] | None) -> list[Param]:
    if params is None:
        return list(space.params)
    if isinstance(params, str):
        raise ImportanceError(f"params must be a sequence of names, got the string {params!r}")
    names = list(params)
    if not names:
        raise ImportanceError("params must name at least one parameter, got an empty sequence")
    unknown = [n for n in names if n not in space]
    if unknown:
        raise ImportanceError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"the space has: {', '.join(space.names)}"
        )
    wanted = set(names)
    return [p for p in space.params if p.name in wanted]  # space order, no duplicates


def _finite(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _encode(
    param: Param, trials: Sequence[FrozenTrial], rng: np.random.Generator
) -> tuple[np.ndarray, int] | None:
    """The column of ``param`` and its cardinality (0 = numeric), or ``None`` if the parameter
    takes fewer than 2 distinct values where active. Inactive entries are drawn from the prior.
    """
    if isinstance(param, FixedParam):
        return None
    column = np.full(len(trials), np.nan)
    for row, trial in enumerate(trials):
        if param.name not in trial.params:
            continue
        value = trial.params[param.name]
        try:
            if isinstance(param, CategoricalParam):
                column[row] = param.index(value)
            else:
                column[row] = param.to_unit(value)
        except SpaceError as e:
            raise ImportanceError(f"trial {trial.number}: {e}") from e
    active = ~np.isnan(column)
    if np.unique(column[active]).size < 2:
        return None
    inactive = int((~active).sum())
    if isinstance(param, CategoricalParam):
        k = param.cardinality
        column[~active] = rng.integers(k, size=inactive)
        return column, k
    column[~active] = rng.random(inactive)
    return column, 0
