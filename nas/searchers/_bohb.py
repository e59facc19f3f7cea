"""BOHB (Falkner, Klein and Hutter 2018): Hyperband whose new configurations come from KDEs.

The brackets, promotions and multi-objective scalarisation are Hyperband's
(:mod:`nas.searchers._hyperband`); only the new configurations of rung 0 differ. For each one,
with HpBandSter's defaults and rules:

1. With probability ``random_fraction`` (or when no budget has a model) it is a random draw.
2. Otherwise the model is that of the **largest budget** whose finished observations (COMPLETE,
   FAILED and PRUNED trials at that budget; pending ones are ignored, as in HpBandSter; a trial
   without a budget -- enqueued, or added with ``Study.add_trials`` -- counts at the largest
   budget, full fidelity as the study reports it) are
   ``n >= N_min + 2`` (the paper's rule) and split into a good and a bad set of more than ``d``
   rows each (HpBandSter's code; ``d`` = number of modelled parameters), see
   :func:`select_model_level`. ``N_min = max(min_points_in_model, d + 1)``
   (``min_points_in_model=None`` means ``d + 1``, and HpBandSter raises smaller values to it).
3. The observations are sorted by loss (FAILED, PRUNED and non-finite ones last, as ``+inf``;
   several objectives: the iteration's ParEGO scalarisation), ``n_good = max(N_min,
   floor(top_n_percent * n / 100))`` best ones form the good set and the next
   ``n_bad = max(N_min, floor((100 - top_n_percent) * n / 100))`` the bad set (it may come out
   smaller). Inactive conditional parameters are imputed
   (:func:`~nas.searchers._kde.impute_missing`) within each set, and a
   :class:`~nas.searchers._kde.MixedKDE` is fitted on each: ``l(x)`` on the good set, ``g(x)``
   on the bad one.
4. ``num_samples`` candidates are drawn from ``l`` with the continuous bandwidths multiplied by
   ``bandwidth_factor`` (all bandwidths floored at ``min_bandwidth``) and the one maximising
   ``l(x) / g(x)`` (in log space) is decoded: numeric parameters through ``Param.from_unit``,
   categorical ones by index, then :meth:`SearchSpace.repair` drops the parameters inactive under
   the decoded values. A candidate repeating the params of a trial of the history (pending ones
   included) or of an earlier proposal of the call is skipped for the next best; if all repeat,
   the configuration is random.

Modelled parameters: every parameter with more than one value; floats and ints are continuous
columns (their unit-space position), categoricals are categorical columns (choice index).

Randomness: everything a new configuration of slot ``k`` of iteration ``i`` needs (the random
fraction coin, the imputation, the candidates, a random draw) comes from
``default_rng(SeedSequence([seed, 0xC0, i, k]))``; the model itself is a function of the
history. Proposals are therefore a function of ``(seed, options, history)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._types import Objective
from nas.exceptions import SearcherConfigError, SpaceError
from nas.searchers._base import constrained_order
from nas.searchers._hyperband import (
    _MAX_RETRIES,
    Bracket,
    HyperbandSearcher,
    _Call,
)
from nas.searchers._kde import MixedKDE, impute_missing
from nas.searchers._operators import (
    check_int_option,
    check_probability_option,
    sample_unique,
)
from nas.searchers._registry import register_searcher

if TYPE_CHECKING:
    from nas._types import FrozenTrial
    from nas.space import Param, SearchSpace

__all__ = ["BOHBSearcher", "select_model_level", "split_sizes"]

_OWNER = "bohb"


def split_sizes(n: int, min_points: int, top_n_percent: float) -> tuple[int, int]:
    """HpBandSter's good/bad split sizes for ``n`` observations.

    Returns:
        ``(n_good, n_bad)`` with ``n_good = max(min_points, floor(top_n_percent * n / 100))``
        and ``n_bad = max(min_points, floor((100 - top_n_percent) * n / 100))``; the bad set
        takes the ``n_bad`` observations after the good ones, so it has
        ``min(n_bad, n - n_good)`` rows.
    """
    n_good = max(min_points, math.floor(top_n_percent * n / 100 + 1e-9))
    n_bad = max(min_points, math.floor((100 - top_n_percent) * n / 100 + 1e-9))
    return n_good, n_bad


def select_model_level(
    counts: Sequence[int], min_points: int, n_dims: int, top_n_percent: float
) -> int | None:
    """The budget level whose model BOHB uses: the largest one that has a model.

    Level ``k`` (budgets ascending) has a model iff its ``n = counts[k]`` observations satisfy
    ``n >= min_points + 2`` (BOHB paper) and the :func:`split_sizes` split leaves more than
    ``n_dims`` rows in both the good and the bad set (HpBandSter's code skips the fit
    otherwise).

    Args:
        counts: finished observations per budget level, smallest budget first.
        min_points: ``N_min``, ``>= 1``.
        n_dims: number of modelled parameters ``d``.
        top_n_percent: percentage of observations in the good set, in ``(0, 100)``.

    Returns:
        The index into ``counts``, or ``None`` when no level has a model.
    """
    for k in range(len(counts) - 1, -1, -1):
        n = int(counts[k])
        if n < min_points + 2:
            continue
        n_good, n_bad = split_sizes(n, min_points, top_n_percent)
        if n_good > n_dims and min(n_bad, n - n_good) > n_dims:
            return k
    return None


def _positive_option(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SearcherConfigError(f"{_OWNER}: option {name!r} must be a number > 0, got {value!r}")
    x = float(value)
    if not (math.isfinite(x) and x > 0):
        raise SearcherConfigError(f"{_OWNER}: option {name!r} must be finite and > 0, got {x!r}")
    return x


@register_searcher("bohb")
class BOHBSearcher(HyperbandSearcher):
    """BOHB: Hyperband brackets, new configurations from per-budget KDEs (see the module doc).

    Args:
        space: the search space (any kind, conditional ones included).
        objectives: one or more objectives (several: ParEGO scalarisation per iteration, used
            for both promotions and the good/bad split).
        seed: the study seed.
        min_budget: smallest budget, ``> 0`` (required).
        max_budget: largest budget, ``> min_budget`` (required).
        eta: halving rate, ``> 1`` (default 3).
        min_points_in_model: ``N_min``, an int ``>= 1`` raised to ``d + 1`` if smaller;
            ``None`` (default) means ``d + 1``, ``d`` = number of modelled parameters.
        top_n_percent: percentage of observations forming the good set, in ``(0, 100)``
            (default 15).
        num_samples: candidates drawn from the good KDE per configuration, ``>= 1`` (default
            64).
        random_fraction: probability of a random configuration even with a model, in
            ``[0, 1]`` (default 1/3).
        bandwidth_factor: widening of the continuous kernels when drawing candidates, ``> 0``
            (default 3).
        min_bandwidth: floor of every KDE bandwidth, ``> 0`` (default 1e-3).

    Raises:
        SearcherConfigError: a missing or invalid option.
    """

    _owner = _OWNER

    honours_constraints: ClassVar[bool] = True

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        min_budget: float | None = None,
        max_budget: float | None = None,
        eta: float = 3.0,
        min_points_in_model: int | None = None,
        top_n_percent: float = 15,
        num_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3.0,
        min_bandwidth: float = 1e-3,
    ) -> None:
        super().__init__(
            space, objectives, seed, min_budget=min_budget, max_budget=max_budget, eta=eta
        )
        dims: list[Param] = [p for p in space.params if p.cardinality != 1]
        self._dims = tuple(dims)
        self._card = tuple(int(p.cardinality or 0) if p.kind == "categorical" else 0 for p in dims)
        self._constants = {p.name: p.from_unit(0.5) for p in space.params if p.cardinality == 1}
        d = len(dims)
        if min_points_in_model is None:
            self.min_points_in_model = d + 1
        else:
            given = check_int_option(_OWNER, "min_points_in_model", min_points_in_model, 1)
            self.min_points_in_model = max(given, d + 1)
        if isinstance(top_n_percent, bool) or not isinstance(top_n_percent, numbers.Real):
            raise SearcherConfigError(
                f"{_OWNER}: option 'top_n_percent' must be a number in (0, 100), "
                f"got {top_n_percent!r}"
            )
        if not 0 < float(top_n_percent) < 100:
            raise SearcherConfigError(
                f"{_OWNER}: option 'top_n_percent' must be in (0, 100), got {top_n_percent!r}"
            )
        self.top_n_percent: float = float(top_n_percent)
        self.num_samples: int = check_int_option(_OWNER, "num_samples", num_samples, 1)
        self.random_fraction: float = check_probability_option(
            _OWNER, "random_fraction", random_fraction
        )
        self.bandwidth_factor: float = _positive_option("bandwidth_factor", bandwidth_factor)
        self.min_bandwidth: float = _positive_option("min_bandwidth", min_bandwidth)

    # ---- encoding ------------------------------------------------------------------------

    def encode(self, params: dict[str, Any]) -> np.ndarray:
        """The KDE row of an assignment: ``(d,)`` floats, NaN for an absent (inactive) param.

        Numeric parameters map to ``Param.to_unit``, categorical ones to the choice index; a
        value outside its domain is treated as absent.
        """
        row = np.full(len(self._dims), np.nan)
        for j, p in enumerate(self._dims):
            if p.name not in params:
                continue
            try:
                if self._card[j]:
                    row[j] = p.index(params[p.name])  # type: ignore[attr-defined]
                else:
                    row[j] = p.to_unit(params[p.name])
            except SpaceError:
                continue
        return row

    def decode(self, row: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
        """An assignment from a KDE row: the inverse of :meth:`encode`, repaired.

        Parameters inactive under the decoded values are dropped (:meth:`SearchSpace.repair`);
        every active one is present in the row, so ``rng`` is not drawn from.
        """
        values: dict[str, Any] = dict(self._constants)
        for j, p in enumerate(self._dims):
            if self._card[j]:
                k = min(max(int(np.rint(row[j])), 0), self._card[j] - 1)
                values[p.name] = p.choices[k]  # type: ignore[attr-defined]
            else:
                values[p.name] = p.from_unit(float(row[j]))
        return self.space.repair(values, rng)

    # ---- model ---------------------------------------------------------------------------

    def _row(self, trial: FrozenTrial) -> np.ndarray:
        """:meth:`encode` of a trial of the current call, cached with its entry."""
        entry = self._entry(trial)
        if entry.row is None:
            entry.row = self.encode(trial.params)
        return entry.row

    def _model_level(self, call: _Call) -> int | None:
        key = ("level",)
        if key not in call.cache:
            counts = [len(ts) for ts in call.finished_by_level]
            call.cache[key] = select_model_level(
                counts, self.min_points_in_model, len(self._dims), self.top_n_percent
            )
        level: int | None = call.cache[key]
        return level

    def _observations(self, call: _Call, level: int) -> tuple[list[FrozenTrial], np.ndarray]:
        key = ("obs", level)
        if key not in call.cache:
            trials = call.finished_by_level[level]
            rows = np.array([self._row(t) for t in trials]).reshape(len(trials), -1)
            call.cache[key] = (trials, rows)
        obs: tuple[list[FrozenTrial], np.ndarray] = call.cache[key]
        return obs

    def fit(
        self, trials: Sequence[FrozenTrial], iteration: int, rng: np.random.Generator
    ) -> tuple[MixedKDE, MixedKDE]:
        """Fit the good and bad KDEs ``(l, g)`` on finished ``trials`` of one budget.

        Args:
            trials: the observations (enough of them: see :func:`select_model_level`).
            iteration: the iteration whose weights rank the trials (several objectives).
            rng: draws the imputed values of inactive parameters.

        Raises:
            KDEInputError: too few observations to fill both sets.
        """
        rows = np.array([self.encode(t.params) for t in trials]).reshape(len(trials), -1)
        return self._fit(list(trials), rows, iteration, rng)

    def _fit(
        self,
        trials: list[FrozenTrial],
        rows: np.ndarray,
        iteration: int,
        rng: np.random.Generator,
    ) -> tuple[MixedKDE, MixedKDE]:
        losses = self.losses(trials, iteration)
        # Constrained: the good set is the best feasible trials first, then the least
        # infeasible (Optuna's TPE with constraints_func does the same).
        order = constrained_order(trials, losses)
        n_good, n_bad = split_sizes(len(trials), self.min_points_in_model, self.top_n_percent)
        good = impute_missing(rows[order[:n_good]], self._card, rng)
        bad = impute_missing(rows[order[n_good : n_good + n_bad]], self._card, rng)
        kw = {"min_bandwidth": self.min_bandwidth}
        return MixedKDE(good, self._card, **kw), MixedKDE(bad, self._card, **kw)

    def _model_config(
        self, call: _Call, level: int, iteration: int, rng: np.random.Generator
    ) -> dict[str, Any] | None:
        trials, rows = self._observations(call, level)
        good, bad = self._fit(trials, rows, iteration, rng)
        candidates = good.sample(rng, self.num_samples, self.bandwidth_factor)
        score = np.asarray(good.log_pdf(candidates)) - np.asarray(bad.log_pdf(candidates))
        for k in np.argsort(-score, kind="stable"):
            params = self.decode(candidates[int(k)], rng)
            if self.space.key(params) not in call.seen:
                return params
        return None

    def _new_config(
        self, call: _Call, bracket: Bracket, slot: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self._slot_rng(bracket.iteration, slot)
        if self._dims and rng.random() >= self.random_fraction:
            level = self._model_level(call)
            if level is not None:
                params = self._model_config(call, level, bracket.iteration, rng)
                if params is not None:
                    budget = self.schedule.budgets[level]
                    return params, {"origin": "model", "model_budget": budget}
        return sample_unique(self.space, rng, call.seen, _MAX_RETRIES), {"origin": "random"}

    def __repr__(self) -> str:
        s = self.schedule
        return (
            f"BOHBSearcher(min_budget={s.min_budget!r}, max_budget={s.max_budget!r}, "
            f"eta={s.eta!r}, min_points_in_model={self.min_points_in_model!r}, "
            f"top_n_percent={self.top_n_percent!r}, num_samples={self.num_samples!r}, "
            f"random_fraction={self.random_fraction!r}, "
            f"bandwidth_factor={self.bandwidth_factor!r}, min_bandwidth={self.min_bandwidth!r})"
        )
