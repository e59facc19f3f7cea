"""``pareto``: prune a trial whose vector of intermediate values is dominated at its step, in a
multi-objective study."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nas._types import FrozenTrial, Objective, TrialState
from nas.exceptions import PrunerConfigError
from nas.pareto import non_dominated_sort
from nas.pruners._base import Pruner, int_option, real_option

__all__ = ["ParetoPruner", "margin_ranks"]


def margin_ranks(points: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """1-based non-dominated rank of every row of ``points`` (``(n, m)`` minimisation
    values) under dominance with a margin.

    ``a`` dominates ``b`` when ``a_j + margin * range_j <= b_j`` in every objective ``j`` and
    ``a != b``, ``range_j`` being the spread (max - min) of column ``j``. ``margin=0`` is
    plain Pareto dominance (:func:`nas.pareto.non_dominated_sort`, ``O(n log n)`` for two or
    three objectives); a positive margin builds the ``n x n`` dominance matrix (``O(n^2 m)``)
    and peels it front by front. The relation is a strict partial order for any margin
    (``a + d <= b`` and ``b + d <= c`` give ``a + d <= c``), so the fronts are well defined.
    """
    pts = np.asarray(points, dtype=float)
    if margin == 0.0 or len(pts) == 0:
        return non_dominated_sort(pts) + 1
    delta = margin * (pts.max(axis=0) - pts.min(axis=0))
    le = np.all(pts[:, None, :] + delta <= pts[None, :, :], axis=2)
    lt = np.any(pts[:, None, :] < pts[None, :, :], axis=2)
    dominates = le & lt  # dominates[i, j]: i dominates j
    ranks = np.zeros(len(pts), dtype=np.int64)
    remaining = np.ones(len(pts), dtype=bool)
    rank = 0
    while remaining.any():  # each pass removes at least one point (finite strict order)
        rank += 1
        dominated = (dominates & remaining[:, None]).any(axis=0)
        front = remaining & ~dominated
        ranks[front] = rank
        remaining &= ~front
    return ranks


class ParetoPruner(Pruner):
    """Prune a trial that is dominated, at its last step, by the other trials' vectors of
    intermediate values.

    Rule (minimisation values of every objective):

    * ``s`` = the trial's last step over all objectives; no decision while fewer than
      ``max(1, n_startup_trials)`` other trials are COMPLETE, before ``s >= n_warmup_steps``,
      or off the check interval (:meth:`Pruner.check_step`, over the steps any objective was
      reported at), nor when the trial lacks a value for an objective at ``s``
      (:meth:`Pruner.value_at`);
    * the field at ``s``: the trial's vector and those of every other trial -- any state:
      COMPLETE, PRUNED, FAILED or RUNNING -- with a value of every objective at ``s`` (a trial
      missing one is left out);
    * ranks: non-dominated sorting of the field (:func:`margin_ranks`, 1 = the front), where
      ``a`` dominates ``b`` only if it is better by at least ``margin`` times the field's
      range of each objective in every objective (``margin=0``: plain dominance; a margin
      keeps trials whose deficit may be noise);
    * with ``percentile=None``: prune when the trial's rank is ``> rank`` (the default
      ``rank=1`` prunes a trial dominated by any other at that step);
    * with ``percentile=q``: prune when the trial's rank is ``>`` the ``q``-th percentile
      (numpy's linear interpolation) of the ranks of the whole field, the trial included --
      a relative rule for large fields (``q=50``: keep the better half of the fronts as
      populated; ``q=100`` never prunes).

    Args:
        objectives: the study's objectives (any number; every one is judged).
        seed: the study seed (unused).
        n_startup_trials: COMPLETE trials needed before any pruning (default 5).
        n_warmup_steps: no pruning before this step (default 0).
        interval_steps: steps between checks, ``>= 1`` (default 1).
        rank: the worst rank kept, ``>= 1`` (default 1).
        percentile: ``None`` (default) or in ``(0, 100]``; excludes a ``rank`` other than 1.
        margin: ``>= 0`` (default 0.0).

    Raises:
        PrunerConfigError: a bad option, ``objective`` given (every objective is judged),
            ``percentile`` with ``rank != 1``.
    """

    registered_name = "pareto"
    multi_objective = True

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        rank: int = 1,
        percentile: float | None = None,
        margin: float = 0.0,
    ) -> None:
        super().__init__(objectives, seed)
        name = self.registered_name
        self.n_startup_trials = int_option(name, "n_startup_trials", n_startup_trials)
        self.n_warmup_steps = int_option(name, "n_warmup_steps", n_warmup_steps)
        self.interval_steps = int_option(name, "interval_steps", interval_steps, minimum=1)
        self.rank = int_option(name, "rank", rank, minimum=1)
        self.percentile = (
            None
            if percentile is None
            else real_option(name, "percentile", percentile, low=0.0, high=100.0, low_open=True)
        )
        if self.percentile is not None and self.rank != 1:
            raise PrunerConfigError(
                f"pruner {name}: options 'percentile' and 'rank' exclude each other, got "
                f"percentile={percentile}, rank={rank}"
            )
        self.margin = real_option(name, "margin", margin, low=0.0)

    def _vector(self, trial: FrozenTrial, step: int) -> list[float] | None:
        vector = []
        for o in self.objectives:
            v = self.value_at(trial, step, o)
            if v is None:
                return None
            vector.append(v)
        return vector

    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        step = self.check_step(trial, self.n_warmup_steps, self.interval_steps, self.objectives)
        if step is None:
            return None
        others = self.others(trial, history)
        n_complete = sum(t.state == TrialState.COMPLETE for t in others)
        if n_complete == 0 or n_complete < self.n_startup_trials:
            return None
        mine = self._vector(trial, step)
        if mine is None:
            return None
        field = [mine] + [v for t in others if (v := self._vector(t, step)) is not None]
        ranks = margin_ranks(np.asarray(field, dtype=float), self.margin)
        if self.percentile is None:
            limit = float(self.rank)
            rule = f"rank={self.rank}"
        else:
            limit = float(np.percentile(ranks, self.percentile))
            rule = f"the {self.percentile:g}th percentile {limit:g} of the ranks"
        if ranks[0] <= limit:
            return None
        return (
            f"{self.registered_name}: at step {step} its rank {int(ranks[0])} among "
            f"{len(field)} trial(s) is worse than {rule}"
            + (f" (margin {self.margin:g})" if self.margin else "")
        )
