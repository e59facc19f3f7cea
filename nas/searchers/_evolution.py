"""Evolutionary searchers: regularized evolution (1 objective) and the ``evolution`` dispatcher.

``evolution`` picks regularized evolution for one objective and NSGA-II
(:mod:`nas.searchers._nsga2`) for more. Both algorithms are also registered under their own
names, ``regularized_evolution`` and ``nsga2``; each refuses the objective count it does not
handle with :class:`~nas.exceptions.SearcherConfigError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._types import FrozenTrial, Objective, Proposal
from nas.exceptions import SearcherConfigError
from nas.searchers._base import Searcher
from nas.searchers._memo import HistoryMemo, SeenKeys
from nas.searchers._nsga2 import NSGA2Searcher
from nas.searchers._operators import (
    check_int_option,
    check_sigma_option,
    is_mutable,
    mutate_one,
    rank_vector,
    sample_unique,
)
from nas.searchers._registry import register_searcher

if TYPE_CHECKING:
    from nas.space import SearchSpace

__all__ = ["EvolutionSearcher", "RegularizedEvolutionSearcher"]


@register_searcher("regularized_evolution")
class RegularizedEvolutionSearcher(Searcher):
    """Regularized ("aging") evolution, Real et al. 2019, for a single objective.

    Stateless formulation, rebuilt from the history on every call:

    * Trials numbered ``< population_size`` (pending ones count) are random draws.
    * The *population* is the ``population_size`` most recent COMPLETE trials by number; older
      ones have aged out even if they are the best. FAILED, PRUNED and pending trials, and
      COMPLETE ones without a finite value, are ignored. If it is empty, proposals are random.
    * Each child comes from its own tournament: ``tournament_size`` distinct members are drawn
      uniformly from the population and the best (respecting the objective's direction; ties to
      the lower trial number) is the parent. In a constrained study the tournament is Deb's:
      a feasible member beats an infeasible one, and of two infeasible ones the smaller total
      violation wins (:attr:`~nas.FrozenTrial.total_violation`). The child is the parent with
      exactly one active, mutable parameter mutated
      (:func:`~nas.searchers._operators.mutate_value`: numeric parameters take a Gaussian step
      of standard deviation ``mutation_sigma`` in unit space, i.e. as a fraction of the range,
      on the log scale for log parameters, and always change when they have more than one
      value; categorical ones switch to a different choice; fixed ones never change), then
      repaired so that parameters switched on by the change are sampled and those switched off
      are dropped.
    * A child equal to the params of any trial in the history (pending included) or to an
      earlier proposal of the same call is discarded and a new tournament is run, at most
      ``max_retries`` times; then non-repeating random draws are tried, and as a last resort a
      repeat is accepted (the space is exhausted).

    ``info`` of a proposal: ``{"origin": "random"}`` or ``{"origin": "mutation", "parent":
    <trial number>, "mutated": <param name or None>}``.

    Args:
        space: the search space.
        objectives: exactly one objective.
        seed: the study seed.
        population_size: size of the aging population and of the random warm-up, ``>= 2``
            (default 20).
        tournament_size: members per tournament, ``1 <= tournament_size <= population_size``
            (default 5).
        mutation_sigma: Gaussian step for numeric parameters in unit space, in ``(0, 1]``
            (default 0.15, i.e. 15% of the parameter's range).
        max_retries: tournaments tried per proposal to avoid a repeat, ``>= 0`` (default 32).

    Raises:
        SearcherConfigError: more than one objective, or an option breaks its rule.
    """

    max_objectives: ClassVar[int | None] = 1

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        population_size: int = 20,
        tournament_size: int = 5,
        mutation_sigma: float = 0.15,
        max_retries: int = 32,
    ) -> None:
        super().__init__(space, objectives, seed)
        owner = "regularized_evolution"
        self.population_size = check_int_option(owner, "population_size", population_size, 2)
        self.tournament_size = check_int_option(owner, "tournament_size", tournament_size, 1)
        if self.tournament_size > self.population_size:
            raise SearcherConfigError(
                f"{owner}: option 'tournament_size' must be <= population_size "
                f"({self.population_size}), got {self.tournament_size}"
            )
        self.mutation_sigma = check_sigma_option(owner, "mutation_sigma", mutation_sigma)
        self.max_retries = check_int_option(owner, "max_retries", max_retries, 0)
        self._can_mutate = any(is_mutable(p) for p in space.params)
        self._memo = HistoryMemo(self.objectives, self.space.key)

    def population(self, trials: Sequence[FrozenTrial]) -> tuple[list[FrozenTrial], np.ndarray]:
        """The current population and its minimization scores.

        The history is scanned backwards and the scan stops once the population is full, so
        the cost does not grow with the history length (only with the trials newer than the
        oldest member).

        Returns:
            ``(members, scores)``: the last ``population_size`` COMPLETE trials with a finite
            value, oldest first, and ``sign * value`` of each as a ``(len(members),)`` array.
        """
        members: list[FrozenTrial] = []
        scores: list[float] = []
        for t in reversed(trials):
            if len(members) == self.population_size:
                break
            row = rank_vector(t, self.objectives)
            if row is not None:
                members.append(t)
                scores.append(row[0])
        members.reverse()
        scores.reverse()
        return members, np.array(scores, dtype=float)

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """``max(n, 0)`` proposals; see the class docstring and :class:`Searcher`.

        The history's params keys come from an exact incremental memo
        (:class:`~nas.searchers._memo.HistoryMemo`), so the cost of a call does not grow with
        the history length beyond ``O(n)`` identity checks.
        """
        count = max(int(n), 0)
        if count == 0:
            return []
        rng = self.rng(trials, 0)
        members, scores = self.population(trials)
        out: list[Proposal] = []
        with self._memo.lock:
            self._memo.sync(trials)
            seen = SeenKeys(self._memo.key_counts)
            for i in range(count):
                warm_up = len(trials) + i < self.population_size
                if warm_up or not members or not self._can_mutate:
                    params = sample_unique(self.space, rng, seen, self.max_retries)
                    info: dict[str, Any] = {"origin": "random"}
                else:
                    params, info = self._child(members, scores, rng, seen)
                params = self.space.validate(params)
                seen.add(self.space.key(params))
                out.append(Proposal(params=params, info=info))
        return out

    def _tournament(
        self, members: list[FrozenTrial], scores: np.ndarray, rng: np.random.Generator
    ) -> FrozenTrial:
        size = min(self.tournament_size, len(members))
        drawn = rng.choice(len(members), size=size, replace=False)
        # Deb's constrained tournament: feasible first, then the smaller total violation.
        best = min(
            (int(j) for j in drawn),
            key=lambda j: (members[j].total_violation, scores[j], members[j].number),
        )
        return members[best]

    def _child(
        self,
        members: list[FrozenTrial],
        scores: np.ndarray,
        rng: np.random.Generator,
        seen: SeenKeys,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        for _ in range(self.max_retries + 1):
            parent = self._tournament(members, scores, rng)
            child, mutated = mutate_one(self.space, parent.params, rng, self.mutation_sigma)
            if self.space.key(child) not in seen:
                return child, {"origin": "mutation", "parent": parent.number, "mutated": mutated}
        params = sample_unique(self.space, rng, seen, self.max_retries)
        return params, {"origin": "random"}


def _option_names(cls: type) -> frozenset[str]:
    """The keyword-only constructor options of a searcher class."""
    sig = inspect.signature(cls)
    return frozenset(
        name for name, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
    )


@register_searcher("evolution")
class EvolutionSearcher(Searcher):
    """Evolutionary search for any number of objectives.

    One objective: :class:`RegularizedEvolutionSearcher`; two or more:
    :class:`~nas.searchers._nsga2.NSGA2Searcher`. Options are passed through to the chosen
    algorithm (see their docstrings for names, defaults and rules).

    Args:
        space: the search space.
        objectives: one or more objectives.
        seed: the study seed.
        **options: options of the chosen algorithm.

    Raises:
        SearcherConfigError: an option the chosen algorithm does not take (the message lists
            the valid ones), or an invalid option value.
    """

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        **options: Any,
    ) -> None:
        super().__init__(space, objectives, seed)
        impl_cls: type[RegularizedEvolutionSearcher] | type[NSGA2Searcher]
        if len(self.objectives) == 1:
            impl_cls, label = RegularizedEvolutionSearcher, "regularized evolution (1 objective)"
        else:
            impl_cls, label = NSGA2Searcher, f"NSGA-II ({len(self.objectives)} objectives)"
        valid = _option_names(impl_cls)
        unknown = sorted(set(options) - valid)
        if unknown:
            raise SearcherConfigError(
                f"evolution: option(s) {', '.join(repr(k) for k in unknown)} not accepted by "
                f"{label}; valid options: {', '.join(sorted(valid))}"
            )
        self.algorithm: RegularizedEvolutionSearcher | NSGA2Searcher = impl_cls(
            space, objectives, seed, **options
        )

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """Delegate to the chosen algorithm (same proposals as calling it directly)."""
        return self.algorithm.propose(trials, n)
