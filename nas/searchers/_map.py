"""Pareto/MAP (Li et al., 2024): quadratic surrogates and an amortised Pareto front.

MAP ("Model merging with Amortized Pareto fronts") replaces most evaluations of an expensive
multi-objective problem by one cheap surrogate per objective: a full second-order polynomial
of the inputs (squares, pairwise interactions, linear terms and a constant), fitted by least
squares to a small space-filling design, optionally through a link function for bounded
metrics. The Pareto front of the surrogates (the *amortised* front) is then computed with
NSGA-II (polished by multiple-gradient descent), which costs milliseconds instead of real
evaluations, and points of that predicted front are proposed for real evaluation. See
``shared/papers.md`` §4 for the paper's algorithm; this is the general-purpose version for any
continuous search space, in three modules: the surrogates (``_map_surrogate``), the search of
their front (``_map_front``) and, here, the searcher that proposes from them.

Everything is a function of ``(space, objectives, seed, options, history)``: the design comes
from a scrambled Sobol sequence seeded by the study seed, the surrogates are refitted from the
COMPLETE trials on every call, and the surrogate NSGA-II draws from
:meth:`~nas.searchers.Searcher.rng` of the fitted trials. An instance memoises the last fit and
front (keyed by the exact data they were computed from), which saves work between calls but
never changes a proposal.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import SearcherConfigError
from nas.pareto import non_dominated_sort, pareto_mask
from nas.searchers._base import Searcher, constraint_columns
from nas.searchers._map_front import epsilon_dominated, pareto_descent, surrogate_nsga2
from nas.searchers._map_surrogate import (
    LINKS,
    QuadraticSurrogate,
    fit_quadratic,
    link_accepts,
    n_quadratic_terms,
    quadratic_features,
)
from nas.searchers._operators import check_int_option
from nas.searchers._registry import register_searcher
from nas.space import FixedParam

if TYPE_CHECKING:
    from nas.space import SearchSpace

# The surrogates and the front search are re-exported: this module is where they were first
# imported from (``nas.searchers._map``).
__all__ = [
    "LINKS",
    "MapSearcher",
    "PredictedFront",
    "QuadraticSurrogate",
    "epsilon_dominated",
    "fit_quadratic",
    "link_accepts",
    "n_quadratic_terms",
    "pareto_descent",
    "quadratic_features",
    "surrogate_nsga2",
]

_OWNER = "map"

# Streams of Searcher.rng / of the design seed sequence, so that no two uses share draws.
_DESIGN_STREAM = 0x4D4150  # "MAP"
_FRONT_STREAM = 1
_REFINE_STREAM = 2


@dataclass(frozen=True, eq=False)
class PredictedFront:
    """The surrogates' amortised Pareto front for one history.

    Attributes:
        params: the front's points as parameter assignments (valid in the space).
        unit: ``(k, d)`` the same points in the unit cube (the space's float params in order).
        values: ``(k, m)`` predicted objective values in each objective's own orientation
            (e.g. accuracies, not negated), columns in the study's objective order.
        surrogates: the fitted surrogates, one per objective.
        n_fit: COMPLETE trials the surrogates were fitted on.
    """

    params: list[dict[str, Any]]
    unit: np.ndarray
    values: np.ndarray
    surrogates: tuple[QuadraticSurrogate, ...]
    n_fit: int


@dataclass(frozen=True, eq=False)
class _Fit:
    """Memoised result of one fit + surrogate NSGA-II (a function of the data only)."""

    key: bytes
    surrogates: tuple[QuadraticSurrogate, ...]
    links: tuple[str, ...]
    cand_unit: np.ndarray  # (C, d) final NSGA-II population
    cand_min: np.ndarray  # (C, m) its predicted minimization values
    cand_rank: np.ndarray  # (C,)
    cand_tier: np.ndarray  # (C,) selection priority, 0 first (see MapSearcher._front_pick)
    n_fit: int


@register_searcher("map")
class MapSearcher(Searcher):
    """Pareto/MAP: quadratic surrogates, an amortised Pareto front, front points evaluated.

    Continuous spaces only: every parameter must be an unconditional float (linear or log; log
    parameters are modelled in log space through ``to_unit``) or an unconditional fixed
    value; at least one float. Any number of objectives; with one objective MAP is a
    quadratic-surrogate optimiser (the "front" is the surrogate's minimiser).

    Let ``d`` be the number of float parameters and ``p = (d + 1)(d + 2) / 2`` the number of
    coefficients of a quadratic. Trial ``k`` of the history (every state counts, pending
    trials included) is proposed as follows:

    1. **Design** (``k < n_design``): point ``k`` of a scrambled Sobol sequence in the unit cube,
       scrambled by a generator derived from the study seed only.
    2. Afterwards, if fewer than ``p`` COMPLETE trials with finite values exist (failures),
       the Sobol sequence is continued (``origin: "extension"``) until the fit is determined.
    3. **Fit**: one quadratic per objective on all COMPLETE trials (:func:`fit_quadratic`,
       through the objective's ``link``). A ``logit``/``softplus`` objective whose observed
       values leave the link's range (``[0, 1]`` / ``>= 0``) is fitted with ``identity``
       instead, and the proposal's ``info["links"]`` says so.
    4. **Refinement** (Bayesian MAP, only with ``refine=True``, for the ``n_refine`` trials
       after the design): a point where the surrogates fit worst. Every fitted point gets a
       score, the sum over objectives of its squared leave-one-out residual divided by that
       objective's variance; the scores are smoothed over the cube with a Gaussian kernel
       (Scott bandwidth), ``64 d`` uniform candidates are scored, damped by
       ``min(1, distance to the nearest existing point / bandwidth)`` so that points do not
       pile up, and the best is proposed. (The paper bins the hyperspherical angles of the
       merging coefficients and samples bins by a softmax of their mean squared residual;
       the kernel smoother is the same idea for any box.)
    5. **Front**: NSGA-II on the surrogates (:func:`surrogate_nsga2`, ``n_front_candidates``
       individuals for ``n_generations`` generations, seeded with the evaluated non-dominated
       points, restricted to the space's box: no extrapolation), whose final population is
       then polished by multiple-gradient descent on the surrogates (:func:`pareto_descent`:
       NSGA-II spreads well but converges slowly in the last digits). Its rank-0 points are
       the predicted front. Candidates are tiered: first the predicted-front points that are not
       :func:`epsilon_dominated` with margins equal to the surrogates' standard errors
       (:attr:`QuadraticSurrogate.standard_error`; this drops the flat tails of the front,
       where a gain in one objective below the fit's uncertainty is bought with a large loss
       in another), then the other predicted-front points, then the rest of the population by
       rank. Proposals are picked greedily: among the candidates farther than
       ``min_distance`` (Euclidean, unit cube) from every trial of the history and every
       earlier proposal of the call, take the best tier, and within it the candidate whose
       predicted objective vector is farthest from the predictions at all those points (with
       objectives scaled by the predicted front's range). So the front is covered from its
       extremes inwards, and gaps are filled as the study goes on. With one objective the best
       predicted candidate is taken instead. If no candidate qualifies, the Sobol sequence is
       continued.

    ``info`` of a proposal: ``{"origin": "design" | "extension", "index": k}``,
    ``{"origin": "refine", "n_fit": ..., "score": ...}`` or ``{"origin": "front", "n_fit":
    ..., "predicted": {objective: value}, "links": {...}}`` (``predicted`` is the
    surrogates' value at the proposed point, ``links`` the link each objective was fitted with).

    Args:
        space: a continuous search space (see above).
        objectives: one or more objectives.
        seed: the study seed.
        n_design: size of the space-filling design, ``>= p`` (default ``(d + 1)(d + 2)``,
            i.e. ``2p``, as in the paper; with ``refine`` the default is ``ceil(1.5 p)``, so
            that design plus refinement spend the same ``2p`` evaluations by default).
        n_front_candidates: population of the surrogate NSGA-II, ``>= 4`` (default 100, the
            paper's ``mu = lambda = 100``).
        n_generations: generations of the surrogate NSGA-II, ``>= 1`` (default 50).
        link: ``"identity"`` (default), ``"logit"`` or ``"softplus"`` for every objective, or
            a mapping objective name -> link (objectives left out use ``"identity"``).
        refine: Bayesian-MAP refinement after the design (default False).
        n_refine: refinement trials when ``refine`` is on, ``>= 1`` (default
            ``max(1, 2p - n_design)``).
        min_distance: proposals keep at least this Euclidean distance in the unit cube from
            every existing trial, in ``[0, 1]`` (default 0.01).

    Raises:
        SearcherConfigError: a categorical, int or conditional parameter, no float parameter,
            or an option out of range (the message names the option, the rule and the value).
    """

    max_objectives: ClassVar[int | None] = None
    accepts_conditional: ClassVar[bool] = False
    param_kinds: ClassVar[frozenset[str] | None] = frozenset({"float", "fixed"})

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        n_design: int | None = None,
        n_front_candidates: int = 100,
        n_generations: int = 50,
        link: str | Mapping[str, str] = "identity",
        refine: bool = False,
        n_refine: int | None = None,
        min_distance: float = 0.01,
    ) -> None:
        super().__init__(space, objectives, seed)
        floats: list[Any] = []
        fixed: dict[str, Any] = {}
        for param in space.params:  # float or fixed, unconditioned: the declared capabilities
            if isinstance(param, FixedParam):
                fixed[param.name] = param.value
            else:
                floats.append(param)
        if not floats:
            raise SearcherConfigError(
                f"{_OWNER}: the space has no float parameter, nothing to fit a surrogate on "
                f"(parameters: {', '.join(space.names) or 'none'})"
            )
        self._floats = tuple(floats)
        self._fixed = fixed
        self.dim = len(floats)
        self.n_terms = n_quadratic_terms(self.dim)
        if n_design is None:
            # With refinement the 2p fitting evaluations are split: 1.5p space-filling (more
            # than p, so that leave-one-out residuals exist) and the rest adaptive.
            n_design = -(-3 * self.n_terms // 2) if refine is True else 2 * self.n_terms
        self.n_design = check_int_option(_OWNER, "n_design", n_design, self.n_terms)
        self.n_front_candidates = check_int_option(
            _OWNER, "n_front_candidates", n_front_candidates, 4
        )
        self.n_generations = check_int_option(_OWNER, "n_generations", n_generations, 1)
        self.links = self._check_links(link)
        if not isinstance(refine, bool):
            raise SearcherConfigError(f"{_OWNER}: option 'refine' must be a bool, got {refine!r}")
        self.refine = refine
        if n_refine is None:
            n_refine = max(1, 2 * self.n_terms - self.n_design)
        self.n_refine = check_int_option(_OWNER, "n_refine", n_refine, 1)
        if (
            isinstance(min_distance, bool)
            or not isinstance(min_distance, int | float)
            or not 0.0 <= float(min_distance) <= 1.0
        ):
            raise SearcherConfigError(
                f"{_OWNER}: option 'min_distance' must be a number in [0, 1] (unit-cube "
                f"distance), got {min_distance!r}"
            )
        self.min_distance = float(min_distance)
        self._lock = threading.Lock()
        self._memo: _Fit | None = None
        self._design_cache = np.empty((0, self.dim))

    def _check_links(self, link: object) -> tuple[str, ...]:
        names = [o.name for o in self.objectives]
        if isinstance(link, str):
            chosen = {name: link for name in names}
        elif isinstance(link, Mapping):
            unknown = sorted(str(k) for k in link if k not in names)
            if unknown:
                raise SearcherConfigError(
                    f"{_OWNER}: option 'link' names unknown objective(s) {unknown}; the "
                    f"objectives are {names}"
                )
            chosen = {name: link.get(name, "identity") for name in names}
        else:
            raise SearcherConfigError(
                f"{_OWNER}: option 'link' must be one of {list(LINKS)} or a mapping objective "
                f"-> link, got {link!r}"
            )
        for name, value in chosen.items():
            if value not in LINKS:
                raise SearcherConfigError(
                    f"{_OWNER}: option 'link' for objective {name!r} must be one of "
                    f"{list(LINKS)}, got {value!r}"
                )
        return tuple(chosen[name] for name in names)

    # ---- conversions -----------------------------------------------------------------------

    def _to_unit(self, params: Mapping[str, Any]) -> np.ndarray | None:
        """The trial's float params in the unit cube, or ``None`` if one is missing/invalid."""
        try:
            return np.array([p.to_unit(params[p.name]) for p in self._floats], dtype=float)
        except (KeyError, ValueError, TypeError):
            return None

    def _from_unit(self, u: np.ndarray) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for p, x in zip(self._floats, u, strict=True):
            params[p.name] = p.from_unit(float(np.clip(x, 0.0, 1.0)))
        params.update(self._fixed)
        return self.space.validate(params)

    def design_points(self, count: int) -> np.ndarray:
        """The first ``count`` points of the study's scrambled Sobol sequence, ``(count, d)``.

        The scrambling generator derives from the study seed only, so the design does not depend
        on the history.
        """
        if count > self._design_cache.shape[0]:
            from scipy.stats import qmc

            m = max(1, math.ceil(math.log2(max(count, 2))))
            gen = np.random.default_rng(np.random.SeedSequence([self.seed, _DESIGN_STREAM]))
            pts = qmc.Sobol(self.dim, scramble=True, rng=gen).random_base2(m)
            pts.flags.writeable = False
            self._design_cache = pts
        return self._design_cache[:count]

    # ---- data and fit ----------------------------------------------------------------------

    def _data(
        self, trials: Sequence[FrozenTrial]
    ) -> tuple[list[FrozenTrial], np.ndarray, np.ndarray, np.ndarray]:
        """``(fit_trials, U, Y, existing)``: COMPLETE trials with finite values, their unit
        points ``(k, d)`` and raw values ``(k, m)``, and the unit points of every trial
        ``(len(trials), d)`` (rows of trials whose params do not map are left out)."""
        fit_trials: list[FrozenTrial] = []
        rows_u: list[np.ndarray] = []
        rows_y: list[list[float]] = []
        existing: list[np.ndarray] = []
        for t in trials:
            u = self._to_unit(t.params)
            if u is None:
                continue
            existing.append(u)
            if t.state != TrialState.COMPLETE:
                continue
            try:
                row = [float(t.values[o.name]) for o in self.objectives]
            except (KeyError, TypeError, ValueError):
                continue
            if all(math.isfinite(v) for v in row):
                fit_trials.append(t)
                rows_u.append(u)
                rows_y.append(row)
        m, d = len(self.objectives), self.dim
        unit = np.array(rows_u, dtype=float).reshape(len(rows_u), d)
        y = np.array(rows_y, dtype=float).reshape(len(rows_y), m)
        ex = np.array(existing, dtype=float).reshape(len(existing), d)
        return fit_trials, unit, y, ex

    def _fit(self, fit_trials: Sequence[FrozenTrial], unit: np.ndarray, y: np.ndarray) -> _Fit:
        """Surrogates and the surrogate NSGA-II front for the data (memoised on the data)."""
        key = unit.tobytes() + b"|" + y.tobytes()
        memo = self._memo
        if memo is not None and memo.key == key:
            return memo
        links = tuple(
            link if link_accepts(link, y[:, j]) else "identity"
            for j, link in enumerate(self.links)
        )
        surrogates = tuple(fit_quadratic(unit, y[:, j], links[j]) for j in range(y.shape[1]))
        signs = np.array([o.sign for o in self.objectives], dtype=float)
        # Constrained: one quadratic per constraint value too, and the surrogate front search
        # is penalised by the predicted violation (in units of each objective's observed
        # range), so the front it finds -- and the trials spread along it -- is the predicted
        # feasible one where there is any.
        cons = constraint_columns(fit_trials)
        c_models = tuple(fit_quadratic(unit, cons[:, j], "identity") for j in range(cons.shape[1]))
        spans = np.ptp(y, axis=0) if len(y) else np.ones(y.shape[1])
        penalty_scale = np.where(spans > 0, spans, 1.0)
        c_scale = np.array(
            [max(float(np.ptp(cons[:, j])), 1e-12) for j in range(cons.shape[1])], dtype=float
        )

        def evaluate(points: np.ndarray) -> np.ndarray:
            cols = [s.predict(points) for s in surrogates]
            out = np.stack(cols, axis=1) * signs
            if c_models:
                viol = sum(
                    np.maximum(0.0, c.predict(points)) / c_scale[j] for j, c in enumerate(c_models)
                )
                out = out + 10.0 * np.asarray(viol)[:, None] * penalty_scale[None, :]
            return out

        def jacobian(points: np.ndarray) -> np.ndarray:
            grads = [s.gradient(points) for s in surrogates]
            out = np.stack(grads, axis=1) * signs[None, :, None]
            for j, c in enumerate(c_models):  # the penalty's gradient, where it is active
                active = (c.predict(points) > 0)[:, None]
                g = np.where(active, c.gradient(points), 0.0) / c_scale[j]
                out = out + 10.0 * penalty_scale[None, :, None] * g[:, None, :]
            return out

        observed = y * signs
        feasible = np.array([t.feasible is not False for t in fit_trials], dtype=bool)
        if c_models and feasible.any() and len(unit):
            seeds = unit[feasible][pareto_mask(observed[feasible])]
        else:
            seeds = unit[pareto_mask(observed)] if len(unit) else None
        rng = self.rng(fit_trials, _FRONT_STREAM)
        pop, vals, ranks = surrogate_nsga2(
            evaluate,
            self.dim,
            rng,
            population=self.n_front_candidates,
            generations=self.n_generations,
            seeds=seeds,
        )
        pop, vals = pareto_descent(pop, evaluate, jacobian)
        ranks = non_dominated_sort(vals)
        margin = np.array([s.standard_error for s in surrogates])
        significant = ~epsilon_dominated(vals, margin)
        tier = np.where(ranks == 0, np.where(significant, 0, 1), ranks + 1)
        fit = _Fit(key, surrogates, links, pop, vals, ranks, tier, len(fit_trials))
        self._memo = fit
        return fit

    # ---- proposing -------------------------------------------------------------------------

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """``max(n, 0)`` proposals; see the class docstring and :class:`Searcher`."""
        count = max(int(n), 0)
        if count == 0:
            return []
        with self._lock:
            return self._propose(trials, count)

    def _propose(self, trials: Sequence[FrozenTrial], count: int) -> list[Proposal]:
        start = len(trials)
        positions = range(start, start + count)
        design_positions = [k for k in positions if k < self.n_design]
        out: list[Proposal] = []
        seen = {self.space.key(t.params) for t in trials}
        if design_positions:
            pts = self.design_points(design_positions[-1] + 1)
            for k in design_positions:
                out.append(self._sobol_proposal(k, pts[k], "design", seen))
        if len(out) == count:
            return out
        fit_trials, unit, y, existing = self._data(trials)
        if len(fit_trials) < self.n_terms:
            return out + self._extension(positions[len(out) :], seen)
        fit = self._fit(fit_trials, unit, y)
        chosen: list[np.ndarray] = []
        refine_rng: np.random.Generator | None = None
        for k in positions[len(out) :]:
            if self.refine and k < self.n_design + self.n_refine:
                if refine_rng is None:
                    refine_rng = self.rng(trials, _REFINE_STREAM)
                picked = self._refine_point(fit, unit, y, existing, chosen, refine_rng)
                if picked is not None:
                    u, score = picked
                    chosen.append(u)
                    params = self._from_unit(u)
                    seen.add(self.space.key(params))
                    info = {"origin": "refine", "n_fit": fit.n_fit, "score": _finite(score)}
                    out.append(Proposal(params=params, info=info))
                    continue
            else:
                idx = self._front_pick(fit, existing, chosen)
                if idx is not None:
                    u = fit.cand_unit[idx]
                    params = self._from_unit(u)
                    if self.space.key(params) not in seen:
                        chosen.append(u)
                        seen.add(self.space.key(params))
                        out.append(Proposal(params=params, info=self._front_info(fit, u)))
                        continue
            out.extend(self._extension([k], seen))
            chosen.append(self.design_points(k + 1)[k])
        return out

    def _sobol_proposal(self, k: int, u: np.ndarray, origin: str, seen: set[Any]) -> Proposal:
        params = self._from_unit(u)
        seen.add(self.space.key(params))
        return Proposal(params=params, info={"origin": origin, "index": int(k)})

    def _extension(self, positions: Sequence[int], seen: set[Any]) -> list[Proposal]:
        """Continue the Sobol sequence at the given history positions."""
        if not positions:
            return []
        pts = self.design_points(max(positions) + 1)
        return [self._sobol_proposal(k, pts[k], "extension", seen) for k in positions]

    def _front_info(self, fit: _Fit, u: np.ndarray) -> dict[str, Any]:
        predicted = {
            o.name: _finite(float(s.predict(u[None, :])[0]))
            for o, s in zip(self.objectives, fit.surrogates, strict=True)
        }
        links = {o.name: link for o, link in zip(self.objectives, fit.links, strict=True)}
        return {"origin": "front", "n_fit": fit.n_fit, "predicted": predicted, "links": links}

    def _blocked(self, points: np.ndarray, existing: np.ndarray, chosen: list[np.ndarray]) -> Any:
        """``(len(points),)`` bool: closer than ``min_distance`` to an existing/chosen point."""
        ref = np.vstack([existing, *[c[None, :] for c in chosen]]) if chosen else existing
        if ref.shape[0] == 0:
            return np.zeros(points.shape[0], dtype=bool)
        d2 = np.sum((points[:, None, :] - ref[None, :, :]) ** 2, axis=2)
        return np.sqrt(d2.min(axis=1)) < max(self.min_distance, 1e-12)

    def _front_pick(self, fit: _Fit, existing: np.ndarray, chosen: list[np.ndarray]) -> int | None:
        """Index into the candidates of the next front proposal, or ``None`` if all blocked."""
        allowed = ~self._blocked(fit.cand_unit, existing, chosen)
        if not allowed.any():
            return None
        best_tier = fit.cand_tier[allowed].min()
        idx = np.flatnonzero(allowed & (fit.cand_tier == best_tier))
        vals = fit.cand_min
        if vals.shape[1] == 1:
            return int(idx[np.argmin(vals[idx, 0])])
        front = vals[fit.cand_rank == fit.cand_rank.min()]
        span = front.max(axis=0) - front.min(axis=0)
        scale = np.where(span > 0, span, 1.0)
        ref_u = np.vstack([existing, *[c[None, :] for c in chosen]]) if chosen else existing
        if ref_u.shape[0] == 0:
            return int(idx[0])
        signs = np.array([o.sign for o in self.objectives], dtype=float)
        ref_f = np.stack([s.predict(ref_u) for s in fit.surrogates], axis=1) * signs
        diff = (vals[idx, None, :] - ref_f[None, :, :]) / scale
        gap = np.sqrt(np.sum(diff**2, axis=2)).min(axis=1)
        return int(idx[np.argmax(gap)])

    def _refine_point(
        self,
        fit: _Fit,
        unit: np.ndarray,
        y: np.ndarray,
        existing: np.ndarray,
        chosen: list[np.ndarray],
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, float] | None:
        """A point where the surrogates' leave-one-out error is large, or ``None``."""
        var = y.var(axis=0)
        loo = np.stack([s.loo_residuals for s in fit.surrogates], axis=1)
        scaled = loo**2 / np.where(var > 0, var, 1.0)
        known = np.isfinite(scaled).all(axis=1)
        if not known.any():
            return None
        score = scaled[known].sum(axis=1)
        pts = unit[known]
        n, d = pts.shape
        bw = 1.06 * (1.0 / math.sqrt(12.0)) * n ** (-1.0 / (d + 4))
        cand = rng.random((64 * d, d))
        w = np.exp(-0.5 * np.sum((cand[:, None, :] - pts[None, :, :]) ** 2, axis=2) / bw**2)
        field = (w @ score) / np.maximum(w.sum(axis=1), 1e-300)
        ref = np.vstack([existing, *[c[None, :] for c in chosen]]) if chosen else existing
        nearest = np.sqrt(np.sum((cand[:, None, :] - ref[None, :, :]) ** 2, axis=2).min(axis=1))
        value = field * np.minimum(1.0, nearest / bw)
        value[nearest < max(self.min_distance, 1e-12)] = -np.inf
        best = int(np.argmax(value))
        if not np.isfinite(value[best]):
            return None
        return cand[best], float(value[best])

    # ---- inspection ------------------------------------------------------------------------

    def predicted_front(self, trials: Sequence[FrozenTrial]) -> PredictedFront | None:
        """The amortised front the next front proposal would be picked from.

        Returns:
            The rank-0 points of the surrogate NSGA-II (duplicates removed) with their predicted
            values, or ``None`` while fewer than ``p`` COMPLETE trials exist.
        """
        with self._lock:
            fit_trials, unit, y, _ = self._data(trials)
            if len(fit_trials) < self.n_terms:
                return None
            fit = self._fit(fit_trials, unit, y)
        front = fit.cand_rank == 0
        pts, first = np.unique(fit.cand_unit[front], axis=0, return_index=True)
        signs = np.array([o.sign for o in self.objectives], dtype=float)
        values = fit.cand_min[front][first] * signs
        return PredictedFront(
            params=[self._from_unit(u) for u in pts],
            unit=pts,
            values=values,
            surrogates=fit.surrogates,
            n_fit=fit.n_fit,
        )


def _finite(x: float) -> float | None:
    """``x`` if finite, else ``None`` (proposal info must be JSON without NaN/inf)."""
    return float(x) if math.isfinite(x) else None
