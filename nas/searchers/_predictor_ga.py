"""EQ-Net's search: a genetic algorithm on a learned accuracy predictor, under constraints.

:class:`PredictorGA` (``predictor_ga``) proposes ``n_startup`` random assignments, then, at
every call, fits a :class:`~nas.searchers._predictor.Cqap` on the measured trials (the one
objective's values) and runs the paper's genetic algorithm on the predictor's values: a
population of ``population`` candidates, ``generations`` rounds in which the top
``parent_ratio`` are kept as parents and the rest replaced by children, half by mutation (each
active parameter redrawn with probability ``mutation_prob``) and half by uniform crossover of
two parents. Its best candidates that no trial has evaluated or holds are proposed, to be
measured; the next call refits on them, so the predictor improves where the search goes.

**Constraints.** Candidates must satisfy the study's bound constraints
(:meth:`~nas.searchers.Searcher.set_constraints`) on every metric the space can compute without
training -- for an architecture space's encodings (:attr:`~nas.space.SearchSpace.equivalence`),
:func:`nas.space.arch_metrics`: ``params``, ``mflops``, ``avg_wbits``, ``avg_abits``, ``bitops``,
``size_bytes`` -- exactly, as the paper keeps a candidate only inside its bit-width target.
Violations of the other bounds (measured metrics: accuracy, latency; or a callable) are learned
like the objective: a second predictor fitted on the trials' stored total violations ranks a
candidate it predicts infeasible after every candidate it predicts feasible (Deb's rule); the
objective's predictor is fitted on the feasible trials when there are enough of them. Sweeping
the bounds over several studies (or one study per target) yields the accuracy-vs-bits front.

Determinism: the predictor's initial weights and minibatch order and every GA draw come from
generators seeded by the study seed and the history length (:meth:`Searcher.rng`), so the same
history gives the same proposals, also across a crash and resume.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.searchers._base import Searcher
from nas.searchers._memo import HistoryMemo, SeenKeys
from nas.searchers._operators import (
    GaussianMutation,
    UniformCrossover,
    check_int_option,
    check_probability_option,
)
from nas.searchers._registry import register_searcher

if TYPE_CHECKING:
    from nas.space import SearchSpace

__all__ = ["PredictorGA"]

_MAX_DRAWS = 64


@register_searcher("predictor_ga")
class PredictorGA(Searcher):
    """A GA on a CQAP accuracy predictor under the study's constraints (module docstring).

    Args:
        space: the search space.
        objectives: exactly one objective.
        seed: the study seed.
        n_startup: random trials before the first predictor, ``>= 5``.
        population: GA population, ``>= 4``.
        generations: GA rounds per call, ``>= 1``.
        parent_ratio: share of the population kept as parents, in ``(0, 1)``.
        mutation_ratio: share of the children made by mutation (the rest by crossover).
        mutation_prob: per-parameter mutation probability.
        hidden: the predictor's hidden layer widths.
        epochs: the predictor's training passes.

    Raises:
        SearcherConfigError: an option out of range, or more than one objective.
    """

    max_objectives: ClassVar[int | None] = 1

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        n_startup: int = 32,
        population: int = 100,
        generations: int = 30,
        parent_ratio: float = 0.25,
        mutation_ratio: float = 0.5,
        mutation_prob: float = 0.1,
        hidden: Sequence[int] = (200, 200, 200),
        epochs: int = 300,
    ) -> None:
        super().__init__(space, objectives, seed)
        self.n_startup = check_int_option("predictor_ga", "n_startup", n_startup, 5)
        self.population = check_int_option("predictor_ga", "population", population, 4)
        self.generations = check_int_option("predictor_ga", "generations", generations, 1)
        self.parent_ratio = check_probability_option("predictor_ga", "parent_ratio", parent_ratio)
        if not 0 < self.parent_ratio < 1:
            from nas.exceptions import SearcherConfigError

            raise SearcherConfigError("predictor_ga: parent_ratio must be in (0, 1)")
        self.mutation_ratio = check_probability_option(
            "predictor_ga", "mutation_ratio", mutation_ratio
        )
        self.mutation = GaussianMutation(prob=mutation_prob)
        self.crossover = UniformCrossover(0.5)
        self.hidden = tuple(check_int_option("predictor_ga", "hidden", h, 1) for h in hidden)
        self.epochs = check_int_option("predictor_ga", "epochs", epochs, 1)
        self._memo = HistoryMemo(self.objectives, self.space.key)

    # ------------------------------------------------------------------ constraints

    def _analytic(self, params: Mapping[str, Any]) -> dict[str, float]:
        """The metrics an architecture space computes for ``params`` without training (empty
        for a space without an architecture space behind it)."""
        arch_space = self.space.equivalence
        if arch_space is None:
            return {}
        from nas.space import arch_metrics

        return arch_metrics(arch_space, arch_space.arch(params))

    def _violation(self, params: Mapping[str, Any]) -> float:
        """Total violation of the bounds the space computes (0: feasible or unknown)."""
        if self.constraints is None or not self.constraints.bounds:
            return 0.0
        metrics = self._analytic(params)
        total = 0.0
        for bound in self.constraints.bounds:
            if bound.metric in metrics:
                total += max(bound.value(float(metrics[bound.metric])), 0.0)
        return total

    def _draw(self, rng: np.random.Generator, seen: SeenKeys) -> dict[str, Any]:
        """A random unseen assignment, feasible where the space can tell (the least violating
        of :data:`_MAX_DRAWS` draws otherwise)."""
        best: dict[str, Any] | None = None
        best_v = math.inf
        for _ in range(_MAX_DRAWS):
            params = self.space.validate(self.space.sample(rng))
            if self.space.key(params) in seen:
                continue
            v = self._violation(params)
            if v < best_v:
                best, best_v = params, v
            if v == 0:
                break
        if best is None:
            best = self.space.validate(self.space.sample(rng))
        return best

    # ------------------------------------------------------------------ proposals

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """See :class:`Searcher` and the module docstring."""
        count = max(int(n), 0)
        if count == 0:
            return []
        objective = self.objectives[0]
        done = [
            t
            for t in trials
            if t.state == TrialState.COMPLETE
            and math.isfinite(float(t.values.get(objective.name, math.nan)))
        ]
        with self._memo.lock:
            self._memo.sync(trials)
            seen = SeenKeys(self._memo.key_counts)
            rng = self.rng(trials, 0)
            if len(done) < self.n_startup:
                out = []
                for _ in range(count):
                    params = self._draw(rng, seen)
                    seen.add(self.space.key(params))
                    out.append(Proposal(params=params, info={"predictor_ga": "startup"}))
                return out
            return self._evolve(done, rng, seen, count)

    def _fit(self, done: Sequence[FrozenTrial]) -> tuple[Any, Any, Any]:
        """The encoder, the objective's predictor (maximised) and, in a constrained study
        with infeasible trials, a predictor of the total violation (else ``None``)."""
        from nas.searchers._predictor import Cqap, SpaceEncoder

        objective = self.objectives[0]
        feasible = [t for t in done if t.feasible is not False]
        train = feasible if len(feasible) >= self.n_startup // 2 else list(done)
        enc = SpaceEncoder(self.space)
        x = enc.encode_many([t.params for t in train])
        y = np.array([float(t.values[objective.name]) for t in train])
        if objective.direction == "minimize":
            y = -y  # the GA maximises
        seed = int(np.random.SeedSequence([self.seed, len(done), 0xC0A9]).generate_state(1)[0])
        model = Cqap(enc.width, hidden=self.hidden, epochs=self.epochs, seed=seed).fit(x, y)
        violations = np.array([t.total_violation for t in done], dtype=float)
        finite = np.isfinite(violations)
        violation_model = None
        if (violations[finite] > 0).any():
            v = np.where(finite, violations, 2 * violations[finite].max())
            xv = enc.encode_many([t.params for t in done])
            violation_model = Cqap(
                enc.width, hidden=self.hidden, epochs=self.epochs, seed=seed + 1
            ).fit(xv, v)
        return enc, model, violation_model

    def _evolve(
        self,
        done: Sequence[FrozenTrial],
        rng: np.random.Generator,
        seen: SeenKeys,
        count: int,
    ) -> list[Proposal]:
        enc, model, violation_model = self._fit(done)
        space = self.space

        def score(pop: list[dict[str, Any]]) -> np.ndarray:
            x = enc.encode_many(pop)
            fitness = model.predict(x)
            exact = np.array([self._violation(p) for p in pop])
            predicted = (
                np.maximum(violation_model.predict(x), 0.0)
                if violation_model is not None
                else np.zeros(len(pop))
            )
            # Feasible first (by predicted value), then by (predicted) violation: Deb's rule.
            out = np.where(predicted > 1e-3, -1e6 * (1.0 + predicted), fitness)
            return np.where(exact > 0, -np.inf, out)

        pop = [self._draw(rng, seen) for _ in range(self.population)]
        fit = score(pop)
        n_parents = max(2, round(self.parent_ratio * self.population))
        n_mut = round(self.mutation_ratio * (self.population - n_parents))
        for _ in range(self.generations):
            order = np.argsort(-fit, kind="stable")
            parents = [pop[i] for i in order[:n_parents]]
            children: list[dict[str, Any]] = []
            for k in range(self.population - n_parents):
                if k < n_mut:
                    child = self.mutation(space, parents[int(rng.integers(n_parents))], rng)
                else:
                    a, b = rng.choice(n_parents, size=2, replace=False)
                    child = self.crossover(space, parents[int(a)], parents[int(b)], rng)
                children.append(space.validate(child))
            pop = parents + children
            fit = np.concatenate([fit[order[:n_parents]], score(children)])
        order = np.argsort(-fit, kind="stable")
        out: list[Proposal] = []
        for i in order:
            if len(out) == count:
                break
            params = pop[int(i)]
            key = space.key(params)
            if key in seen or not np.isfinite(fit[i]):
                continue
            seen.add(key)
            out.append(
                Proposal(params=params, info={"predictor_ga": "ga", "predicted": float(fit[i])})
            )
        while len(out) < count:  # the GA converged on evaluated points: explore
            params = self._draw(rng, seen)
            seen.add(space.key(params))
            out.append(Proposal(params=params, info={"predictor_ga": "explore"}))
        return out
