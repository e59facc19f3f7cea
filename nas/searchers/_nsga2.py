"""NSGA-II (Deb et al. 2002) as a stateless searcher for two or more objectives.

Generations are bookkeeping in the history, not state: every proposal carries
``info["generation"]``, and the parent population of each generation is a function of the
COMPLETE trials of the earlier ones. A searcher instance memoises the generations and parent
populations (:class:`_GenerationIndex` over a :class:`~nas.searchers._memo.HistoryMemo`) and
recomputes only what the trials changed since its previous call invalidate, so a call costs the
same at any history length; the memo is checked against every history it is given and never
changes a result (a fresh instance proposes exactly the same).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._types import FrozenTrial, Objective, Proposal
from nas.exceptions import SearcherConfigError
from nas.pareto import constrained_non_dominated_sort, crowding_distance
from nas.searchers._base import Searcher
from nas.searchers._memo import HistoryMemo, SeenKeys, TrialDigest, generation_tag
from nas.searchers._operators import (
    BinaryTournament,
    Crossover,
    GaussianMutation,
    Mutation,
    Selection,
    UniformCrossover,
    check_int_option,
    check_probability_option,
    check_sigma_option,
    complete_with_values,
    sample_unique,
)
from nas.searchers._registry import register_searcher

if TYPE_CHECKING:
    from nas.space import SearchSpace

__all__ = ["NSGA2Searcher", "RankedPopulation", "assign_generations", "select_survivors"]

_OWNER = "nsga2"


@dataclass(frozen=True)
class RankedPopulation:
    """A parent population with its NSGA-II ranking.

    Attributes:
        members: the trials, in selection order (best rank first, then larger crowding).
        values: ``(len(members), m)`` minimization values.
        ranks: ``(len(members),)`` non-dominated rank within the population (0 = best).
        crowding: ``(len(members),)`` crowding distance within each rank's front.
        violations: ``(len(members),)`` total constraint violations (0 when unconstrained).
    """

    members: list[FrozenTrial]
    values: np.ndarray
    ranks: np.ndarray
    crowding: np.ndarray
    violations: np.ndarray


def _rank_and_crowd(values: np.ndarray, violations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of the rows of ``values`` under constrained domination (plain non-dominated
    sorting when every violation is 0) and crowding distances per front."""
    ranks = constrained_non_dominated_sort(values, violations)
    crowd = np.full(len(ranks), np.inf)
    order = np.argsort(ranks, kind="stable")
    bounds = np.flatnonzero(np.diff(ranks[order])) + 1
    for idx in np.split(order, bounds):
        if len(idx) > 2:  # fronts of one or two points are all boundary points (inf)
            crowd[idx] = crowding_distance(values[idx])
    return ranks, crowd


def select_survivors(
    members: Sequence[FrozenTrial], values: np.ndarray, size: int
) -> RankedPopulation:
    """NSGA-II environmental selection: the best ``size`` of ``members``.

    Fronts are those of Deb's constrained domination
    (:func:`~nas.pareto.constrained_non_dominated_sort` over the members'
    :attr:`~nas.FrozenTrial.total_violation`; plain Pareto fronts when unconstrained). Fronts
    are taken whole in rank order while they fit; the front that does not fit is cut by
    crowding distance (larger first, ties to the lower trial number). Ranks and crowding are then
    recomputed on the survivors (they are what the parents' tournaments compare).

    Args:
        members: candidate trials.
        values: ``(len(members), m)`` their minimization values.
        size: population size, ``>= 1``.

    Returns:
        The survivors, at most ``size`` of them, ordered best first.
    """
    if len(members) == 0:
        empty = np.empty((0, values.shape[1] if values.ndim == 2 else 0))
        return RankedPopulation([], empty, np.empty(0, np.int64), np.empty(0), np.empty(0))
    numbers = np.array([t.number for t in members])
    violations = np.array([t.total_violation for t in members], dtype=float)
    order, ranks, crowd = _survivors(numbers, values, size, violations)
    return RankedPopulation(
        [members[int(i)] for i in order], values[order], ranks, crowd, violations[order]
    )


def _survivors(
    numbers: np.ndarray, values: np.ndarray, size: int, violations: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The computation of :func:`select_survivors` on ``n >= 1`` candidates.

    Args:
        numbers: ``(n,)`` trial numbers (the last tie-break).
        values: ``(n, m)`` minimization values.
        size: population size, ``>= 1``.
        violations: ``(n,)`` total constraint violations.

    Returns:
        ``(order, ranks, crowding)``: indices of the survivors into the candidates, best first,
        and the survivors' ranks and crowding distances.
    """
    ranks, crowd = _rank_and_crowd(values, violations)
    # lexsort: last key is primary -> rank asc, crowding desc, number asc.
    order = np.lexsort((numbers, -crowd, ranks))[:size]
    if len(order) == len(numbers):  # nothing cut: the ranking is unchanged
        return order, ranks[order], crowd[order]
    kept_ranks, kept_crowd = _rank_and_crowd(values[order], violations[order])
    return order, kept_ranks, kept_crowd


def assign_generations(trials: Sequence[FrozenTrial]) -> list[int]:
    """The generation of every trial of the history.

    A trial's generation is its ``system_attrs["generation"]`` when that is a non-negative int;
    a trial without one (enqueued by hand, or proposed by another searcher) belongs to the
    generation of the closest earlier trial that has one (0 at the start).
    """
    out: list[int] = []
    current = 0
    for t in trials:
        g = generation_tag(t)
        if g is not None:
            current = g
        out.append(current)
    return out


@dataclass(frozen=True)
class _MemoPopulation:
    """A memoised parent population: history positions instead of trial objects.

    Attributes:
        positions: history positions of the members, in selection order.
        values, ranks, crowding, violations: as in :class:`RankedPopulation` (read-only
            arrays).
    """

    positions: list[int]
    values: np.ndarray
    ranks: np.ndarray
    crowding: np.ndarray
    violations: np.ndarray


def _read_only(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


class _GenerationIndex:
    """Generations and parent populations of a history, maintained incrementally.

    A pure memo over the digests of a :class:`~nas.searchers._memo.HistoryMemo`:
    :meth:`update` is told the first history position whose digest changed and discards
    everything that depends on it, i.e. the generation of every later position and every
    ``P_k`` with ``k`` >= the smallest generation among the old and new generations of those
    positions (``P_k`` depends only on the trials of generations ``<= k``). Populations are
    then rebuilt lazily by :meth:`populations`, starting from the newest one still valid.
    Positions are meaningful because the digests pin the content of every position.

    Args:
        n_objectives: number of objectives ``m``.
        population_size: NSGA-II population size.
    """

    def __init__(self, n_objectives: int, population_size: int) -> None:
        self.m = n_objectives
        self.population_size = population_size
        self.clear()

    def clear(self) -> None:
        """Forget everything (the next :meth:`update` must start at position 0)."""
        self.gens: list[int] = []
        self.sizes: dict[int, int] = {}  # generation -> number of trials (only counts > 0)
        self.positions: dict[int, list[int]] = {}  # generation -> its positions, ascending
        self.pops: list[_MemoPopulation] = []  # P_0 .. P_j, all valid

    def update(self, digests: Sequence[TrialDigest], start: int) -> None:
        """Account for ``digests`` (the whole history) that changed from position ``start`` on.

        Raises:
            ValueError: ``start`` is beyond the positions this index covers.
        """
        if start > len(self.gens):
            raise ValueError(
                f"generation index covers {len(self.gens)} positions, cannot update from {start}"
            )
        affected: set[int] = set()
        for g in self.gens[start:]:
            affected.add(g)
            left = self.sizes[g] - 1
            if left:
                self.sizes[g] = left
            else:
                del self.sizes[g]
        for g in affected:
            at = self.positions[g]
            del at[bisect_left(at, start) :]
            if not at:
                del self.positions[g]
        del self.gens[start:]
        current = self.gens[-1] if self.gens else 0
        for pos in range(start, len(digests)):
            tag = digests[pos].generation
            if tag is not None:
                current = tag
            self.gens.append(current)
            self.sizes[current] = self.sizes.get(current, 0) + 1
            self.positions.setdefault(current, []).append(pos)
            affected.add(current)
        if affected:
            del self.pops[min(affected) :]

    def next_generations(self, n: int) -> list[int]:
        """See :meth:`NSGA2Searcher.next_generations`."""
        g = max(self.sizes, default=0)
        count = self.sizes.get(g, 0)
        out: list[int] = []
        for _ in range(n):
            if count >= self.population_size:
                g, count = g + 1, 0
            out.append(g)
            count += 1
        return out

    def populations(self, digests: Sequence[TrialDigest], upto: int) -> list[_MemoPopulation]:
        """``[P_0, ..., P_upto]`` (``upto >= -1``), computing only those not memoised."""
        while len(self.pops) <= upto:
            k = len(self.pops)
            if self.pops:
                prev = self.pops[-1]
                prev_positions, prev_values, prev_viol = (
                    prev.positions,
                    prev.values,
                    prev.violations,
                )
            else:
                prev_positions, prev_values, prev_viol = [], np.empty((0, self.m)), np.empty(0)
            new = [p for p in self.positions.get(k, ()) if digests[p].values is not None]
            rows = np.array([digests[p].values for p in new], dtype=float)
            candidates = prev_positions + new
            values = np.vstack((prev_values, rows.reshape(len(new), self.m)))
            viol = np.concatenate(
                (prev_viol, np.array([digests[p].violation for p in new], dtype=float))
            )
            if candidates:
                numbers = np.array([digests[p].number for p in candidates])
                order, ranks, crowd = _survivors(numbers, values, self.population_size, viol)
                pop = _MemoPopulation(
                    [candidates[int(i)] for i in order], values[order], ranks, crowd, viol[order]
                )
            else:
                pop = _MemoPopulation([], values, np.empty(0, np.int64), np.empty(0), viol)
            _read_only(pop.values, pop.ranks, pop.crowding, pop.violations)
            self.pops.append(pop)
        return self.pops[: upto + 1]


@register_searcher("nsga2")
class NSGA2Searcher(Searcher):
    """NSGA-II for two or more objectives, rebuilt from the history on every call.

    * **Generations.** A new proposal joins the latest generation ``g`` of the history while it
      has fewer than ``population_size`` trials (any state), otherwise it opens ``g + 1``
      (:func:`assign_generations`). Generation 0 is random.
    * **Parents.** ``P_0`` is the best ``population_size`` COMPLETE trials of generation 0;
      ``P_k`` is the best ``population_size`` of ``P_{k-1}`` plus the COMPLETE trials of
      generation ``k`` (:func:`select_survivors`: non-dominated rank, then crowding distance;
      in a constrained study the ranks are Deb's constrained domination, so the crowded
      tournament also prefers feasible parents, then smaller total violation).
      Children of generation ``h >= 1`` have parents from ``P_{h-1}``; while that is empty
      (nothing finished yet) they are random.
    * **Variation.** Two parents by ``selection`` (default crowded binary tournament); with
      probability ``crossover_prob`` the child is ``crossover(A, B)`` (default uniform crossover
      over the union of both parents' parameters, repaired), else a copy of A; then
      ``mutation`` (default: each active parameter with probability ``mutation_prob``, numeric
      ones by a Gaussian step of ``mutation_sigma`` in unit space, categorical ones to a
      different choice).
    * **No repeats.** A child equal to any trial's params in the history (pending included) or
      to an earlier proposal of the call is redrawn (new parents), at most ``max_retries``
      times; then non-repeating random draws are tried; then a repeat is accepted.

    ``info``: ``{"generation": g, "origin": "random"}`` or ``{"generation": g, "origin":
    "offspring", "parents": [a, b]}`` (trial numbers).

    Args:
        space: the search space.
        objectives: two or more objectives.
        seed: the study seed.
        population_size: trials per generation and parent population size, ``>= 2`` (20).
        crossover_prob: probability of crossover in ``[0, 1]`` (0.9).
        swapping_prob: probability that the default uniform crossover takes a parameter from
            the second parent, in ``[0, 1]`` (``None``: 0.5). Not allowed with ``crossover``.
        mutation_prob: per-parameter mutation probability of the default mutation, in
            ``[0, 1]`` (``None``: ``1 / number of active mutable parameters``). Not allowed with
            ``mutation``.
        mutation_sigma: Gaussian step of the default mutation in unit space, in ``(0, 1]``
            (``None``: 0.15). Not allowed with ``mutation``.
        crossover: a :class:`~nas.searchers._operators.Crossover` (``None``:
            ``UniformCrossover(swapping_prob)``).
        mutation: a :class:`~nas.searchers._operators.Mutation` (``None``:
            ``GaussianMutation(mutation_prob, mutation_sigma)``).
        selection: a :class:`~nas.searchers._operators.Selection` (``None``:
            ``BinaryTournament()``).
        max_retries: redraws per proposal to avoid a repeat, ``>= 0`` (32).

    Raises:
        SearcherConfigError: fewer than two objectives, an option out of range, a strategy that
            is not callable, or a default-strategy option combined with a custom strategy.
    """

    min_objectives: ClassVar[int] = 2

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        population_size: int = 20,
        crossover_prob: float = 0.9,
        swapping_prob: float | None = None,
        mutation_prob: float | None = None,
        mutation_sigma: float | None = None,
        crossover: Crossover | None = None,
        mutation: Mutation | None = None,
        selection: Selection | None = None,
        max_retries: int = 32,
    ) -> None:
        super().__init__(space, objectives, seed)
        self.population_size = check_int_option(_OWNER, "population_size", population_size, 2)
        self.crossover_prob = check_probability_option(_OWNER, "crossover_prob", crossover_prob)
        self.max_retries = check_int_option(_OWNER, "max_retries", max_retries, 0)

        if crossover is None:
            sp = 0.5 if swapping_prob is None else swapping_prob
            self.crossover: Crossover = UniformCrossover(
                check_probability_option(_OWNER, "swapping_prob", sp)
            )
        else:
            _check_strategy("crossover", crossover, swapping_prob=swapping_prob)
            self.crossover = crossover

        if mutation is None:
            prob = None
            if mutation_prob is not None:
                prob = check_probability_option(_OWNER, "mutation_prob", mutation_prob)
            sigma = check_sigma_option(
                _OWNER, "mutation_sigma", 0.15 if mutation_sigma is None else mutation_sigma
            )
            self.mutation: Mutation = GaussianMutation(prob, sigma)
        else:
            _check_strategy(
                "mutation", mutation, mutation_prob=mutation_prob, mutation_sigma=mutation_sigma
            )
            self.mutation = mutation

        if selection is None:
            self.selection: Selection = BinaryTournament()
        else:
            _check_strategy("selection", selection)
            self.selection = selection

        self._memo = HistoryMemo(self.objectives, self.space.key)
        self._index = _GenerationIndex(len(self.objectives), self.population_size)

    # ---- bookkeeping -----------------------------------------------------------------------
    #
    # Everything below is a function of the history only. It is computed through an exact
    # incremental memo (self._memo: per-position digests; self._index: generations and parent
    # populations), so a call does work proportional to what changed since the previous call,
    # plus O(len(trials)) identity checks. The memo is validated against every history it is
    # given and can never change a result; _parent_populations_from_scratch is the reference
    # computation, used when trial numbers are not unique (the memo is keyed by position).

    def _sync(self, trials: Sequence[FrozenTrial]) -> None:
        """Bring the memo up to ``trials``; call with ``self._memo.lock`` held."""
        try:
            start = self._memo.sync(trials)
            self._index.update(self._memo.digests, start)
        except BaseException:
            self._memo.clear()
            self._index.clear()
            raise

    def _ranked(self, trials: Sequence[FrozenTrial], pop: _MemoPopulation) -> RankedPopulation:
        """A memoised population with the current trial objects (arrays copied)."""
        return RankedPopulation(
            [trials[p] for p in pop.positions],
            pop.values.copy(),
            pop.ranks.copy(),
            pop.crowding.copy(),
            pop.violations.copy(),
        )

    def _parent_map(
        self, trials: Sequence[FrozenTrial], ks: Collection[int]
    ) -> dict[int, RankedPopulation]:
        """``{k: P_k}`` for every ``k >= 0`` in ``ks``; call with the memo synced to ``trials``."""
        if not ks:
            return {}
        upto = max(ks)
        if not self._memo.numbers_unique:  # positions cannot stand for trials: no memo
            pops = self._parent_populations_from_scratch(trials, upto)
            return {k: pops[k] for k in ks}
        memo = self._index.populations(self._memo.digests, upto)
        return {k: self._ranked(trials, memo[k]) for k in ks}

    def parent_populations(
        self, trials: Sequence[FrozenTrial], upto: int
    ) -> list[RankedPopulation]:
        """``[P_0, ..., P_upto]`` of the history (see the class docstring); ``[]`` if
        ``upto < 0``.

        Members are the trial objects of ``trials``; the arrays are the caller's to keep.
        """
        with self._memo.lock:
            self._sync(trials)
            pops = self._parent_map(trials, range(upto + 1))
        return [pops[k] for k in range(upto + 1)]

    def _parent_populations_from_scratch(
        self, trials: Sequence[FrozenTrial], upto: int
    ) -> list[RankedPopulation]:
        """``[P_0, ..., P_upto]`` computed from the history alone, without the memo."""
        gens = assign_generations(trials)
        complete, values = complete_with_values(trials, self.objectives)
        gen_of = {t.number: g for t, g in zip(trials, gens, strict=True)}
        complete_gens = np.array([gen_of[t.number] for t in complete], dtype=np.int64)
        pops: list[RankedPopulation] = []
        prev_members: list[FrozenTrial] = []
        prev_values = np.empty((0, len(self.objectives)))
        for k in range(upto + 1):
            idx = np.flatnonzero(complete_gens == k)
            members = prev_members + [complete[int(i)] for i in idx]
            vals = np.vstack((prev_values, values[idx]))
            pop = select_survivors(members, vals, self.population_size)
            pops.append(pop)
            prev_members, prev_values = pop.members, pop.values
        return pops

    def next_generations(self, trials: Sequence[FrozenTrial], n: int) -> list[int]:
        """Generation numbers of the next ``n`` proposals given the history (``[]`` if
        ``n <= 0``)."""
        with self._memo.lock:
            self._sync(trials)
            return self._index.next_generations(n)

    # ---- proposing -------------------------------------------------------------------------

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """``max(n, 0)`` proposals; see the class docstring and :class:`Searcher`."""
        n = max(int(n), 0)
        if n == 0:
            return []
        rng = self.rng(trials, 0)
        out: list[Proposal] = []
        with self._memo.lock:
            self._sync(trials)
            seen = SeenKeys(self._memo.key_counts)
            generations = self._index.next_generations(n)
            pops = self._parent_map(trials, {h - 1 for h in generations if h >= 1})
            for h in generations:
                parents = pops.get(h - 1)
                if parents is None or not parents.members:
                    params = sample_unique(self.space, rng, seen, self.max_retries)
                    info: dict[str, Any] = {"generation": h, "origin": "random"}
                else:
                    params, info = self._offspring(parents, rng, seen)
                    info = {"generation": h, **info}
                params = self.space.validate(params)
                seen.add(self.space.key(params))
                out.append(Proposal(params=params, info=info))
        return out

    def _offspring(
        self, parents: RankedPopulation, rng: np.random.Generator, seen: SeenKeys
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        for _ in range(self.max_retries + 1):
            a = parents.members[self.selection(parents.ranks, parents.crowding, rng)]
            b = parents.members[self.selection(parents.ranks, parents.crowding, rng)]
            if rng.random() < self.crossover_prob:
                child = self.crossover(self.space, a.params, b.params, rng)
            else:
                child = self.space.repair(a.params, rng)
            child = self.space.repair(self.mutation(self.space, child, rng), rng)
            if self.space.key(child) not in seen:
                return child, {"origin": "offspring", "parents": [a.number, b.number]}
        params = sample_unique(self.space, rng, seen, self.max_retries)
        return params, {"origin": "random"}


def _check_strategy(role: str, strategy: object, **default_only: object) -> None:
    """A custom strategy must be callable and excludes the default strategy's own options."""
    if not callable(strategy):
        raise SearcherConfigError(
            f"{_OWNER}: option {role!r} must be a callable {role} strategy, got {strategy!r}"
        )
    given = [name for name, value in default_only.items() if value is not None]
    if given:
        raise SearcherConfigError(
            f"{_OWNER}: option(s) {', '.join(repr(g) for g in given)} configure the default "
            f"{role} and cannot be combined with a custom {role} ({strategy!r})"
        )
