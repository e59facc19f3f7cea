"""``patient``: prune (or ask another pruner) once a trial has stopped improving for
``patience`` steps (Optuna's ``PatientPruner``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas._types import FrozenTrial, Objective
from nas.exceptions import PrunerConfigError
from nas.pruners._base import Pruner, int_option, real_option

__all__ = ["PatientPruner"]


class PatientPruner(Pruner):
    """Early stopping on the trial's own curve, optionally gating another pruner.

    Rule (minimisation values, the trial's reported steps in order): with ``n`` reports, no
    decision while ``n <= patience + 1``; else ``before`` = the best value of all reports but
    the last ``patience + 1``, ``after`` = the best of the last ``patience + 1``. The trial
    has *stalled* when ``after > before + min_delta`` -- its recent best is worse than its
    earlier best by more than ``min_delta`` (so with ``min_delta=0`` a tie with the earlier best
    is not a stall, and a larger ``min_delta`` tolerates more). A stalled trial is pruned, or,
    with ``wrapped``, judged by that pruner (pruned only if it says so); a trial that has not
    stalled is never pruned. These are Optuna's semantics exactly (``min_delta`` is a
    tolerance for getting worse, not a required improvement).

    Only the trial itself is read, unless ``wrapped`` compares with the history.

    ``wrapped`` is ``{name: ..., options: {...}}`` (or a bare name) of another registered
    pruner, built with :func:`~nas.pruners.create_pruner` for the same objectives and seed.
    A single-objective wrapped pruner judges the same objective as this one: it is given this
    pruner's ``objective`` option when that is set, and its own options must not name an
    ``objective`` (one pruner, one judged objective). A multi-objective one (``pareto``) gets
    no ``objective``. :attr:`spec` keeps ``wrapped`` as given.

    Args:
        objectives: the study's objectives.
        seed: the study seed (passed to ``wrapped``).
        patience: steps without improvement tolerated, ``>= 0`` (required).
        min_delta: tolerance, ``>= 0`` (default 0.0).
        wrapped: the pruner consulted for a stalled trial (default ``None``: prune it).
        objective: the objective judged (required in a multi-objective study).

    Raises:
        PrunerConfigError: a bad option, or a bad ``wrapped`` (its own errors are prefixed
            with ``option 'wrapped'``).
    """

    registered_name = "patient"

    @property
    def reads_history(self) -> bool:
        """Only through ``wrapped``: the stall rule judges the trial's own values."""
        return self.wrapped is not None and self.wrapped.reads_history

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        patience: int,
        min_delta: float = 0.0,
        wrapped: Mapping[str, Any] | str | None = None,
        objective: str | None = None,
    ) -> None:
        super().__init__(objectives, seed, objective=objective)
        name = self.registered_name
        self.patience = int_option(name, "patience", patience)
        self.min_delta = real_option(name, "min_delta", min_delta, low=0.0)
        self.wrapped = None if wrapped is None else self._build_wrapped(wrapped, objective)

    def _build_wrapped(self, wrapped: object, objective: str | None) -> Pruner:
        from nas.pruners._registry import PRUNERS, create_pruner, parse_pruner

        where = f"pruner {self.registered_name}: option 'wrapped'"
        spec = parse_pruner(wrapped, where)
        if spec is None:  # pragma: no cover - wrapped is not None here
            raise PrunerConfigError(f"{where}: must not be empty")
        options = dict(spec["options"])
        if "objective" in options:
            raise PrunerConfigError(
                f"{where}: must not set 'objective' (the wrapped pruner judges this pruner's "
                "objective; set 'objective' on this pruner)"
            )
        if objective is not None and not PRUNERS.get(spec["name"]).multi_objective:
            options["objective"] = objective
        try:
            return create_pruner(spec["name"], self.objectives, self.seed, options)
        except PrunerConfigError as e:
            raise PrunerConfigError(f"{where}: {e}") from None

    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        values = list(self.curve(trial).values())
        window = self.patience + 1
        if len(values) <= window:
            return None
        before, after = min(values[:-window]), min(values[-window:])
        if after <= before + self.min_delta:
            return None
        sign = self.objective.sign
        stalled = (
            f"{self.registered_name}: best {self.objective.name} of the last {window} reports "
            f"{sign * after:.6g} is worse than the earlier best {sign * before:.6g}"
            + (f" by more than min_delta={self.min_delta:g}" if self.min_delta else "")
        )
        if self.wrapped is None:
            return stalled
        inner = self.wrapped.prune(trial, history)
        return None if inner is None else f"{stalled}; {inner}"
