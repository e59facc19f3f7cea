"""``successive_halving`` (asynchronous, ASHA) and ``hyperband``: keep the best
``1/reduction_factor`` of the trials at geometrically spaced steps (Optuna's
``SuccessiveHalvingPruner`` and ``HyperbandPruner``), derived from the stored intermediate
values alone."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from nas._types import FrozenTrial, Objective
from nas.exceptions import PrunerConfigError
from nas.pruners._base import Pruner, int_option

__all__ = ["HyperbandPruner", "SuccessiveHalvingPruner", "hyperband_budgets"]


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (Li et al. 2020, ASHA), stateless.

    Rung ``r = 0, 1, ...`` sits at step ``min_resource * reduction_factor ** (
    min_early_stopping_rate + r)``. A trial's value at a rung is :meth:`Pruner.value_at` the
    rung's step (the value reported at the last step ``<= `` it, once the trial got that far).
    A trial *reached* a rung when it has such a value; every trial of the history that did --
    in any state: COMPLETE, PRUNED, FAILED or RUNNING -- competes there, the judged trial
    included.

    Rule (minimisation values, ``eta = reduction_factor``): at every rung the trial reached,
    with ``n`` competitors (itself included):

    * ``n <= bootstrap_count``: pruned (Optuna's rule: too few trials reached the rung to
      promote anyone, and a trial cannot be paused);
    * otherwise the trial passes the rung when its value is ``<=`` the ``k``-th smallest
      competing value, ``k = max(1, n // eta)`` -- the top ``1/eta`` (and, while
      ``n < eta``, only the best);
    * pruned when it fails any rung it reached.

    Judging every reached rung against the *current* history, not only the newest one when it
    is first reached, is what makes the decision a function of the stored values: Optuna
    records each trial's rung values in attributes when it first judges them, and judges a
    trial at one rung only once. A stateless pruner cannot know what the history looked like
    when the trial reached an old rung; re-judging all of them gives the same answer whenever
    it is asked (after a crash, a skipped ``should_prune``, a report that jumps past a rung).
    The cost: a promotion is provisional -- a trial that passed a rung while it was young is
    pruned later if enough better trials reach that rung to push it out of the top ``1/eta``,
    so the survivors of every rung stay its top ``1/eta``. When trials run one at a time (every
    competitor finished before the trial starts) the two rules agree, and so do the decisions
    with Optuna's.

    Other deviations from Optuna: ``min_resource`` must be an int (Optuna's ``"auto"``
    estimates it from the first COMPLETE trial and freezes it in the pruner object, a state a
    stored pruner cannot keep); a trial that reports past a rung's step without reporting at
    or before it did not reach that rung (Optuna records its later value there).

    Args:
        objectives: the study's objectives.
        seed: the study seed (unused).
        min_resource: step of the first rung (with ``min_early_stopping_rate=0``), ``>= 1``
            (default 1).
        reduction_factor: ``eta``, ``>= 2`` (default 4).
        min_early_stopping_rate: ``s``, offsets the rungs, ``>= 0`` (default 0).
        bootstrap_count: competitors needed at a rung before anyone is promoted, ``>= 0``
            (default 0).
        objective: the objective judged (required in a multi-objective study).
    """

    registered_name = "successive_halving"

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        min_resource: int = 1,
        reduction_factor: int = 4,
        min_early_stopping_rate: int = 0,
        bootstrap_count: int = 0,
        objective: str | None = None,
    ) -> None:
        super().__init__(objectives, seed, objective=objective)
        name = self.registered_name
        self.min_resource = int_option(name, "min_resource", min_resource, minimum=1)
        self.reduction_factor = int_option(name, "reduction_factor", reduction_factor, minimum=2)
        self.min_early_stopping_rate = int_option(
            name, "min_early_stopping_rate", min_early_stopping_rate
        )
        self.bootstrap_count = int_option(name, "bootstrap_count", bootstrap_count)

    def rung_steps(self, last_step: int) -> list[int]:
        """The steps of the rungs at or before ``last_step``, in order."""
        steps = []
        step = self.min_resource * self.reduction_factor**self.min_early_stopping_rate
        while step <= last_step:
            steps.append(step)
            step *= self.reduction_factor
        return steps

    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        return self._judge(trial, self.others(trial, history))

    def _judge(self, trial: FrozenTrial, others: Sequence[FrozenTrial]) -> str | None:
        """The rule of the class docstring against the competitors ``others``."""
        last = self.last_step(trial)
        if last is None:
            return None
        eta = self.reduction_factor
        for rung, step in enumerate(self.rung_steps(last)):
            value = self.value_at(trial, step)
            if value is None:
                continue
            competing = [v for t in others if (v := self.value_at(t, step)) is not None]
            competing.append(value)
            n = len(competing)
            if n <= self.bootstrap_count:
                return (
                    f"{self.registered_name}: rung {rung} (step {step}) reached by {n} trial(s), "
                    f"not more than bootstrap_count={self.bootstrap_count}"
                )
            k = max(1, n // eta)
            cutoff = sorted(competing)[k - 1]
            if value > cutoff:
                sign = self.objective.sign
                return (
                    f"{self.registered_name}: rung {rung} (step {step}): "
                    f"{self.objective.name}={sign * value:.6g} is not in the top {k} of {n} "
                    f"(cutoff {sign * cutoff:.6g})"
                )
        return None


def hyperband_budgets(
    min_resource: int, max_resource: int, reduction_factor: int
) -> tuple[int, ...]:
    """The trial-allocation budget of each Hyperband bracket, bracket 0 (most aggressive
    early stopping) first.

    ``n_brackets`` is the number of ``k >= 0`` with ``min_resource * reduction_factor**k <=
    max_resource`` (``floor(log_eta(max / min)) + 1``, in integers); bracket ``i`` gets
    ``ceil(n_brackets * eta**s / (s + 1))`` with ``s = n_brackets - 1 - i``, as Optuna's.
    """
    n_brackets = 0
    step = min_resource
    while step <= max_resource:
        n_brackets += 1
        step *= reduction_factor
    budgets = []
    for i in range(n_brackets):
        s = n_brackets - 1 - i
        budgets.append(-(-n_brackets * reduction_factor**s // (s + 1)))
    return tuple(budgets)


@functools.lru_cache(maxsize=65536)
def _bracket(seed: int, number: int, budgets: tuple[int, ...]) -> int:
    """The bracket of trial ``number``: drawn with weights ``budgets`` from
    ``default_rng(SeedSequence([seed, 0xB4, number]))`` (one uniform draw against the
    cumulative budgets)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed % 2**64, 0xB4, number]))
    u = rng.random() * sum(budgets)
    for i, budget in enumerate(budgets):
        u -= budget
        if u < 0:
            return i
    return len(budgets) - 1  # u == total only through rounding


class HyperbandPruner(Pruner):
    """Hyperband over asynchronous successive halving (Li et al. 2018; Optuna's layout).

    The trials are split into ``n_brackets`` brackets (:func:`hyperband_budgets`); bracket
    ``i`` is a :class:`SuccessiveHalvingPruner` with ``min_early_stopping_rate = i`` (its
    first rung at ``min_resource * reduction_factor**i``: bracket 0 stops early most
    aggressively, the last one only judges at ``max_resource``'s rung) and the same
    ``min_resource``, ``reduction_factor`` and ``bootstrap_count``. A trial's bracket is a
    pure function of ``(seed, trial.number)``: drawn from ``numpy.random.default_rng(
    SeedSequence([seed, 0xB4, number]))`` with probabilities proportional to the bracket
    budgets. A trial competes only with the trials of its own bracket (any state), by the
    rule of :class:`SuccessiveHalvingPruner` (every reached rung judged against the current
    history).

    Deviations from Optuna: the bracket draw (Optuna hashes the study name and the trial
    number with CRC32); ``max_resource`` is required (Optuna's ``"auto"`` freezes a value
    estimated from the first COMPLETE trial); ``n_brackets`` is computed in integers (Optuna's
    ``floor(log(243 / 1, 3)) + 1`` is 5 through rounding, here 6).

    Args:
        objectives: the study's objectives.
        seed: the study seed (draws the brackets).
        min_resource: first rung of bracket 0, ``>= 1`` (default 1).
        max_resource: the largest step a trial runs to, ``>= min_resource`` (required).
        reduction_factor: ``eta``, ``>= 2`` (default 3).
        bootstrap_count: as :class:`SuccessiveHalvingPruner`'s (default 0).
        objective: the objective judged (required in a multi-objective study).
    """

    registered_name = "hyperband"

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        min_resource: int = 1,
        max_resource: int,
        reduction_factor: int = 3,
        bootstrap_count: int = 0,
        objective: str | None = None,
    ) -> None:
        super().__init__(objectives, seed, objective=objective)
        name = self.registered_name
        self.min_resource = int_option(name, "min_resource", min_resource, minimum=1)
        self.max_resource = int_option(name, "max_resource", max_resource, minimum=1)
        if self.max_resource < self.min_resource:
            raise PrunerConfigError(
                f"pruner {name}: option 'max_resource' must be >= min_resource="
                f"{self.min_resource}, got {max_resource}"
            )
        self.reduction_factor = int_option(name, "reduction_factor", reduction_factor, minimum=2)
        self.bootstrap_count = int_option(name, "bootstrap_count", bootstrap_count)
        self.budgets = hyperband_budgets(
            self.min_resource, self.max_resource, self.reduction_factor
        )
        self.brackets = [
            SuccessiveHalvingPruner(
                objectives,
                seed,
                min_resource=self.min_resource,
                reduction_factor=self.reduction_factor,
                min_early_stopping_rate=i,
                bootstrap_count=self.bootstrap_count,
                objective=objective,
            )
            for i in range(len(self.budgets))
        ]

    @property
    def n_brackets(self) -> int:
        """How many brackets the resources give."""
        return len(self.budgets)

    def bracket_of(self, number: int) -> int:
        """The bracket of trial ``number`` (class docstring)."""
        return _bracket(self.seed, int(number), self.budgets)

    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        if self.last_step(trial) is None:
            return None
        bracket = self.bracket_of(trial.number)
        mates = [t for t in self.others(trial, history) if self.bracket_of(t.number) == bracket]
        reason = self.brackets[bracket]._judge(trial, mates)
        if reason is None:
            return None
        return f"{self.registered_name} bracket {bracket}: {reason}"
