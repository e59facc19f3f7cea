"""``threshold``: prune a trial whose last reported value leaves a fixed range (Optuna's
``ThresholdPruner``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from nas._types import FrozenTrial, Objective
from nas.exceptions import PrunerConfigError
from nas.pruners._base import Pruner, int_option, real_option

__all__ = ["ThresholdPruner"]


class ThresholdPruner(Pruner):
    """Prune when the last reported value is outside ``[lower, upper]``.

    ``lower`` and ``upper`` are in the objective's own units: they bound the RAW stored values,
    not the sign-flipped minimisation values the other pruners compare, whatever the
    objective's direction (``upper: 10.0`` on a loss stops a diverging run; ``lower: 0.2`` on
    a maximised accuracy stops a run stuck at chance level). The bounds are inclusive: a value
    equal to a bound is kept. Only the trial itself is read; the history is ignored.

    Checks happen at the trial's last step ``s`` when ``s >= n_warmup_steps`` and on the
    interval (:meth:`Pruner.check_step`), as Optuna's.

    Args:
        objectives: the study's objectives.
        seed: the study seed (unused).
        lower: the smallest value kept (default ``None``: no lower bound).
        upper: the largest value kept (default ``None``: no upper bound); at least one of
            ``lower`` and ``upper`` is required, and ``lower <= upper``.
        n_warmup_steps: no pruning before this step (default 0).
        interval_steps: steps between checks, ``>= 1`` (default 1).
        objective: the objective judged (required in a multi-objective study).
    """

    registered_name = "threshold"

    @property
    def reads_history(self) -> bool:
        """Never: the bounds judge the trial's own values."""
        return False

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        lower: float | None = None,
        upper: float | None = None,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        objective: str | None = None,
    ) -> None:
        super().__init__(objectives, seed, objective=objective)
        name = self.registered_name
        if lower is None and upper is None:
            raise PrunerConfigError(f"pruner {name}: give option 'lower', 'upper' or both")
        self.lower = -math.inf if lower is None else real_option(name, "lower", lower)
        self.upper = math.inf if upper is None else real_option(name, "upper", upper)
        if self.lower > self.upper:
            raise PrunerConfigError(
                f"pruner {name}: options 'lower' <= 'upper' must hold, got lower={lower}, "
                f"upper={upper}"
            )
        self.n_warmup_steps = int_option(name, "n_warmup_steps", n_warmup_steps)
        self.interval_steps = int_option(name, "interval_steps", interval_steps, minimum=1)

    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        step = self.check_step(trial, self.n_warmup_steps, self.interval_steps)
        if step is None:
            return None
        value = float(trial.intermediate_values[self.objective.name][step])
        if self.lower <= value <= self.upper:
            return None
        if value < self.lower:
            side = f"below lower={self.lower:g}"
        else:
            side = f"above upper={self.upper:g}"
        name = self.objective.name
        return f"{self.registered_name}: {name}={value:.6g} at step {step} is {side}"
