"""``percentile`` and ``median``: prune a trial whose best value so far is worse than a
percentile of the COMPLETE trials' values at the same step (Optuna's ``PercentilePruner`` and
``MedianPruner``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nas._types import FrozenTrial, Objective, TrialState
from nas.pruners._base import Pruner, int_option, real_option

__all__ = ["MedianPruner", "PercentilePruner"]


class PercentilePruner(Pruner):
    """Keep the trials whose best value so far is within the best ``percentile`` of the
    COMPLETE trials at the same step.

    Rule, with ``s`` the trial's last step (minimisation values; see :class:`Pruner`):

    * no decision while fewer than ``max(1, n_startup_trials)`` COMPLETE trials exist, before
      ``s >= n_warmup_steps``, or off the check interval (:meth:`Pruner.check_step`: checks at
      ``n_warmup_steps + k * interval_steps``, a skipped check postponed to the next report);
    * ``best`` = the trial's best value over every step it reported;
    * ``p`` = the ``percentile``-th percentile (numpy's linear interpolation) of the COMPLETE
      trials' values at ``s`` (:meth:`Pruner.value_at`: the value reported at the last step
      ``<= s`` of a trial that reached ``s``); no decision when fewer than ``n_min_trials``
      COMPLETE trials have one;
    * prune when ``best > p``.

    Only COMPLETE trials are compared against (not PRUNED, FAILED or RUNNING ones), as in
    Optuna. Small percentiles prune more: ``percentile=25`` keeps roughly the best quarter.

    Deviation from Optuna: Optuna reads the other trials' values at exactly step ``s``; this
    pruner uses :meth:`Pruner.value_at`, so a trial that reports every other step is still
    compared at the steps in between. With every trial reporting at the same steps the
    decisions are Optuna's.

    Args:
        objectives: the study's objectives.
        seed: the study seed (unused: the rule is deterministic).
        percentile: in ``[0, 100]`` (required).
        n_startup_trials: COMPLETE trials needed before any pruning (default 5).
        n_warmup_steps: no pruning before this step (default 0).
        interval_steps: steps between checks, ``>= 1`` (default 1).
        n_min_trials: COMPLETE trials with a value at ``s`` needed to judge (default 1, ``>= 1``).
        objective: the objective judged (required in a multi-objective study).
    """

    registered_name = "percentile"

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        percentile: float,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
        objective: str | None = None,
    ) -> None:
        super().__init__(objectives, seed, objective=objective)
        name = self.registered_name
        self.percentile = real_option(name, "percentile", percentile, low=0.0, high=100.0)
        self.n_startup_trials = int_option(name, "n_startup_trials", n_startup_trials)
        self.n_warmup_steps = int_option(name, "n_warmup_steps", n_warmup_steps)
        self.interval_steps = int_option(name, "interval_steps", interval_steps, minimum=1)
        self.n_min_trials = int_option(name, "n_min_trials", n_min_trials, minimum=1)

    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        step = self.check_step(trial, self.n_warmup_steps, self.interval_steps)
        if step is None:
            return None
        complete = [t for t in self.others(trial, history) if t.state == TrialState.COMPLETE]
        if not complete or len(complete) < self.n_startup_trials:
            return None
        at_step = [v for t in complete if (v := self.value_at(t, step)) is not None]
        if len(at_step) < self.n_min_trials:
            return None
        best = min(self.curve(trial).values())
        p = float(np.percentile(np.asarray(at_step, dtype=float), self.percentile))
        if best <= p:
            return None
        sign = self.objective.sign
        return (
            f"{self.registered_name}: best {self.objective.name} so far {sign * best:.6g} is "
            f"worse than the {self.percentile:g}th percentile {sign * p:.6g} of "
            f"{len(at_step)} complete trial(s) at step {step}"
        )


class MedianPruner(PercentilePruner):
    """:class:`PercentilePruner` with ``percentile=50``: prune a trial whose best value so far
    is worse than the median of the COMPLETE trials' values at its last step.

    Args:
        objectives: the study's objectives.
        seed: the study seed (unused).
        n_startup_trials: COMPLETE trials needed before any pruning (default 5).
        n_warmup_steps: no pruning before this step (default 0).
        interval_steps: steps between checks, ``>= 1`` (default 1).
        n_min_trials: COMPLETE trials with a value at the step needed to judge (default 1).
        objective: the objective judged (required in a multi-objective study).
    """

    registered_name = "median"

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
        objective: str | None = None,
    ) -> None:
        super().__init__(
            objectives,
            seed,
            percentile=50.0,
            n_startup_trials=n_startup_trials,
            n_warmup_steps=n_warmup_steps,
            interval_steps=interval_steps,
            n_min_trials=n_min_trials,
            objective=objective,
        )
