"""The pruner interface: a running trial's reported values and the study's history in, a
decision out.

A pruner is a pure function of ``(objectives, seed, options, trial, history)``, like a searcher
(:mod:`nas.searchers._base`): it reads the intermediate values *stored* with the trials, keeps no
state between calls and touches no database. Every worker of a study -- on any machine, before
or after a crash -- therefore takes the same decision for the same stored history, and a pruner
may be rebuilt for every call.

Contract of :meth:`Pruner.prune`:

* ``trial`` is the RUNNING trial being judged, its :attr:`~nas.FrozenTrial.intermediate_values`
  up to date (everything it reported so far). ``history`` is the study's whole history in
  ``number`` order (all states; it may contain an older snapshot of ``trial`` itself, which a
  pruner must ignore: compare by ``number``).
* It returns ``None`` (go on) or a one-line reason to prune (what was compared at which step),
  stored as the PRUNED trial's ``failure_reason``.
* A trial that reported nothing is never pruned.
* Same inputs -> same decision, in any process. Randomness (``hyperband``'s bracket of a trial)
  derives from the seed and the trial number only.

Values: pruners compare *minimisation* values -- the stored value times the objective's
:attr:`~nas.Objective.sign` -- through the helpers below (:meth:`Pruner.curve`,
:meth:`Pruner.value_at`), so no pruner handles directions itself. A single-objective pruner
judges one objective: the study's only one, or the one named by its ``objective`` option (which
a multi-objective study must give; ``pareto`` judges all of them).
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from nas._types import FrozenTrial, Objective, TrialState
from nas.exceptions import PrunerConfigError

__all__ = [
    "Pruner",
    "int_option",
    "real_option",
]


class Pruner(ABC):
    """Base class of every pruner (module docstring for the contract).

    Subclasses take their options as keyword-only constructor arguments (after
    ``objectives`` and ``seed``), validate them there and raise
    :class:`~nas.exceptions.PrunerConfigError` naming the option for a bad one. They call
    ``super().__init__(objectives, seed, objective=objective)`` when they judge one
    objective.

    Args:
        objectives: the study's objectives in order.
        seed: the study seed.
        objective: the name of the objective judged (single-objective pruners); ``None``: the
            study's only objective.

    Raises:
        PrunerConfigError: an unknown ``objective``, or none given in a multi-objective study
            by a single-objective pruner.
    """

    #: The name it is registered under (set by ``register_pruner``).
    registered_name: ClassVar[str] = ""
    #: Whether it judges the vector of every objective (``pareto``) instead of one objective.
    multi_objective: ClassVar[bool] = False

    def __init__(
        self, objectives: Sequence[Objective], seed: int = 0, *, objective: str | None = None
    ) -> None:
        self.objectives = tuple(objectives)
        if not self.objectives:
            raise PrunerConfigError("a pruner needs at least one objective")
        self.seed = int(seed)
        names = [o.name for o in self.objectives]
        name = self.registered_name or type(self).__name__
        if self.multi_objective:
            if objective is not None:
                raise PrunerConfigError(
                    f"pruner {name}: judges every objective; option 'objective' does not apply"
                )
            self.objective = self.objectives[0]
        elif objective is None:
            if len(self.objectives) > 1:
                raise PrunerConfigError(
                    f"pruner {name}: this study has {len(names)} objectives ({', '.join(names)}); "
                    "say which one it judges with option 'objective', or use the 'pareto' "
                    "pruner, which judges all of them"
                )
            self.objective = self.objectives[0]
        else:
            if objective not in names:
                raise PrunerConfigError(
                    f"pruner {name}: option 'objective' must be one of {names}, got {objective!r}"
                )
            self.objective = self.objectives[names.index(objective)]
        #: The options it was built with, as stored with the study (set by ``create_pruner``).
        self.options: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options!r})"

    @property
    def reads_history(self) -> bool:
        """Whether :meth:`prune` looks at the history at all (``threshold`` judges the trial
        alone): when it does not, :meth:`Trial.should_prune` passes an empty history instead
        of reading the study's trials from the database."""
        return True

    @property
    def spec(self) -> dict[str, Any]:
        """The stored form ``{"name": ..., "options": {...}}`` (``create_pruner`` rebuilds it)."""
        return {"name": self.registered_name, "options": dict(self.options)}

    @abstractmethod
    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        """``None`` to let ``trial`` go on, or a one-line reason to prune it now."""

    # ------------------------------------------------------------------ helpers
    def curve(self, trial: FrozenTrial, objective: Objective | None = None) -> dict[int, float]:
        """``trial``'s reported values of ``objective`` (default: the judged one) as
        minimisation values (``sign * value``), by step in increasing order."""
        o = objective or self.objective
        reported = trial.intermediate_values.get(o.name, {})
        return {int(s): o.sign * float(reported[s]) for s in sorted(reported)}

    def last_step(self, trial: FrozenTrial, objective: Objective | None = None) -> int | None:
        """The largest step ``trial`` reported ``objective`` at, or ``None``."""
        reported = trial.intermediate_values.get((objective or self.objective).name, {})
        return max(reported) if reported else None

    def value_at(
        self, trial: FrozenTrial, step: int, objective: Objective | None = None
    ) -> float | None:
        """``trial``'s minimisation value of ``objective`` at ``step``: the value reported at the
        largest step ``<= step`` provided the trial reached ``step`` (reported at it or
        beyond); else ``None``. Trials that report at different steps (every epoch, every
        other epoch) are thus compared at the same point of training."""
        o = objective or self.objective
        reported = trial.intermediate_values.get(o.name, {})
        if not reported or max(reported) < step:
            return None
        before = [s for s in reported if s <= step]
        if not before:
            return None
        return o.sign * float(reported[max(before)])

    @staticmethod
    def others(trial: FrozenTrial, history: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        """The trials of ``history`` other than ``trial`` (by number), in order."""
        return [t for t in history if t.number != trial.number]

    def check_step(
        self,
        trial: FrozenTrial,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        objectives: Sequence[Objective] | None = None,
    ) -> int | None:
        """``trial``'s last step when a pruning check is due there, else ``None``; its steps
        are those it reported the judged objective at (or any of ``objectives``).

        Checks are due at the steps ``n_warmup_steps + k * interval_steps`` (``k >= 0``); a
        check whose step was not reported is postponed to the first step reported after it
        (Optuna's rule): the last step ``s >= n_warmup_steps`` is due when no earlier report
        of the trial lies at or after the latest check step ``<= s``. A trial reporting every
        step is thus checked at the check steps only; one reporting every 5 steps with
        ``interval_steps=2`` is checked at every report.
        """
        steps: set[int] = set()
        for o in objectives or (self.objective,):
            steps.update(trial.intermediate_values.get(o.name, {}))
        if not steps:
            return None
        step = max(steps)
        if step < n_warmup_steps:
            return None
        check = (step - n_warmup_steps) // interval_steps * interval_steps + n_warmup_steps
        previous = max((s for s in steps if s != step), default=-1)
        return step if previous < check else None

    def best_complete(
        self, trial: FrozenTrial, history: Sequence[FrozenTrial]
    ) -> tuple[FrozenTrial, float] | None:
        """The COMPLETE trial of ``history`` (other than ``trial``) with the best final value
        of the judged objective, and that value as a minimisation value; the lowest number
        wins a tie; ``None`` when no COMPLETE trial has a value."""
        name, sign = self.objective.name, self.objective.sign
        best: tuple[FrozenTrial, float] | None = None
        for t in history:
            if t.number == trial.number or t.state != TrialState.COMPLETE:
                continue
            if name not in t.values:
                continue
            v = sign * float(t.values[name])
            if best is None or v < best[1]:
                best = (t, v)
        return best


def int_option(owner: str, name: str, value: object, *, minimum: int = 0) -> int:
    """``value`` as an int ``>= minimum``.

    Raises:
        PrunerConfigError: not an int (bools excluded) or below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise PrunerConfigError(f"pruner {owner}: option {name!r} must be an int, got {value!r}")
    if int(value) < minimum:
        raise PrunerConfigError(
            f"pruner {owner}: option {name!r} must be >= {minimum}, got {value}"
        )
    return int(value)


def real_option(
    owner: str,
    name: str,
    value: object,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float in ``[low, high]`` (an end excluded when ``*_open``).

    Raises:
        PrunerConfigError: not a finite number, or out of range (the range is named).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PrunerConfigError(f"pruner {owner}: option {name!r} must be a number, got {value!r}")
    x = float(value)
    below = x <= low if low_open else x < low
    above = x >= high if high_open else x > high
    if not math.isfinite(x) or below or above:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise PrunerConfigError(
            f"pruner {owner}: option {name!r} must be in {lo}{low}, {high}{hi}, got {value!r}"
        )
    return x


def options_mapping(owner: str, options: object) -> dict[str, Any]:
    """``options`` as a dict with string keys (``None``: empty).

    Raises:
        PrunerConfigError: not a mapping with string keys.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise PrunerConfigError(
            f"pruner {owner}: options must be a mapping option -> value, got {options!r}"
        )
    return dict(options)
