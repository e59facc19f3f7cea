"""Value types shared by every box of ``nas``: trial states, frozen trials, objectives, proposals.

These are plain, immutable data. Searchers receive :class:`FrozenTrial` snapshots and return
:class:`Proposal` objects; storage persists both; the study facade hands them to users.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

__all__ = ["Direction", "FrozenTrial", "Objective", "Proposal", "TrialState", "parse_objectives"]

Direction = Literal["minimize", "maximize"]


class TrialState(StrEnum):
    """Life cycle of a trial: WAITING -> RUNNING -> COMPLETE | PRUNED | FAILED.

    A RUNNING trial whose worker died goes back to WAITING (same number, same params). The members
    compare equal to their names, so ``trial.state == "COMPLETE"`` holds.
    """

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAILED = "FAILED"

    @property
    def is_finished(self) -> bool:
        """True for the terminal states COMPLETE, PRUNED and FAILED."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)


@dataclass(frozen=True, slots=True)
class Objective:
    """One objective of a study: a name and whether to minimize or maximize it."""

    name: str
    direction: Direction

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"objective name must be a non-empty string, got {self.name!r}")
        if self.direction not in ("minimize", "maximize"):
            raise ValueError(
                f"objective {self.name!r}: direction must be 'minimize' or 'maximize', "
                f"got {self.direction!r}"
            )

    @property
    def sign(self) -> float:
        """+1.0 for minimize, -1.0 for maximize: ``sign * value`` is always to be minimized."""
        return 1.0 if self.direction == "minimize" else -1.0


def parse_objectives(objectives: Mapping[str, str] | Sequence[Objective]) -> tuple[Objective, ...]:
    """Turn an ordered ``{name: "minimize"|"maximize"}`` mapping (or Objective list) into a tuple.

    Raises:
        ValueError: empty, a duplicated name, or a direction other than minimize/maximize.
    """
    if isinstance(objectives, Mapping):
        result = tuple(Objective(str(k), v) for k, v in objectives.items())  # type: ignore[arg-type]
    else:
        result = tuple(objectives)
        if not all(isinstance(o, Objective) for o in result):
            raise ValueError("objectives must be a mapping name -> direction or Objective objects")
    if not result:
        raise ValueError("a study needs at least one objective")
    names = [o.name for o in result]
    if len(set(names)) != len(names):
        raise ValueError(f"objective names must be unique, got {names}")
    return result


@dataclass(frozen=True, slots=True)
class Proposal:
    """What a searcher proposes: a full assignment of the *active* parameters, and a budget.

    Attributes:
        params: parameter name -> value, exactly the parameters active under the space's
            conditions (fixed parameters included).
        budget: fidelity for multi-fidelity searchers (e.g. epochs), ``None`` otherwise.
        info: JSON-serialisable bookkeeping the searcher wants back in the history (stored as
            the trial's ``system_attrs``), e.g. a bracket id or a generation number.
    """

    params: dict[str, Any]
    budget: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrozenTrial:
    """An immutable snapshot of one trial, as stored.

    Attributes:
        trial_id: storage-wide primary key.
        number: 0-based position of the trial within its study (unique per study).
        state: see :class:`TrialState`.
        params: active parameter values (only those active under the space's conditions).
        budget: fidelity the trial runs at, or ``None``.
        values: objective name -> value; empty unless the trial is COMPLETE.
        intermediate_values: objective name -> {step -> value} reported while running.
        user_attrs / system_attrs: JSON values set by the user / by the searcher
            (``Proposal.info``).
        failure_reason: traceback or reason of a FAILED (or PRUNED) trial.
        worker_id: id of the worker that ran (or runs) the trial.
        restarts: how many times the trial was re-queued after its worker died.
        datetime_updated: when the trial or its children last changed (creation, claim,
            report, user attribute, finish, re-queue, abandon; not heartbeats), as stored;
            ``None`` for a trial that does not come from a storage.
        metrics: the other numbers the objective returned besides the objectives (name ->
            value; e.g. ``latency_ms`` of a supernet objective), stored when the trial
            finished. A non-finite value is stored as NaN.
        constraint_values: one entry per constraint of the study, in the study's order, set
            when the trial finished COMPLETE in a constrained study (empty otherwise): the
            signed constraint value, ``<= 0`` when satisfied (as Optuna's ``constraints``
            system attribute): ``value - max`` for ``{max: x}``, ``min - value`` for
            ``{min: y}``, the callable's own value; ``inf`` when it could not be evaluated
            (the constrained value was missing or NaN; see ``infeasible_reason``). The
            violations (:attr:`constraint_violations`) derive from it.
        infeasible_reason: why a constraint could not be evaluated, else ``None``.
    """

    trial_id: int
    number: int
    state: TrialState
    params: dict[str, Any]
    budget: float | None = None
    values: dict[str, float] = field(default_factory=dict)
    intermediate_values: dict[str, dict[int, float]] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None
    worker_id: str | None = None
    datetime_created: datetime | None = None
    datetime_start: datetime | None = None
    datetime_complete: datetime | None = None
    heartbeat: datetime | None = None
    restarts: int = 0
    datetime_updated: datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    constraint_values: tuple[float, ...] = ()
    infeasible_reason: str | None = None

    @property
    def constraint_violations(self) -> tuple[float, ...]:
        """Per constraint, by how much it is violated: ``max(0, value)`` of
        :attr:`constraint_values` (``0.0`` satisfied, ``inf`` not evaluable; empty when none
        are recorded)."""
        return tuple(max(0.0, v) for v in self.constraint_values)

    @property
    def feasible(self) -> bool | None:
        """Whether every constraint is satisfied: ``None`` when the trial has no constraint
        values recorded (an unconstrained study, or a trial that did not finish COMPLETE)."""
        if not self.constraint_values:
            return None
        return all(v <= 0.0 for v in self.constraint_values)

    @property
    def total_violation(self) -> float:
        """The sum of :attr:`constraint_violations` (``0.0`` when none are recorded, ``inf``
        when one could not be evaluated); what constrained searchers rank infeasible trials
        by."""
        return float(sum(max(0.0, v) for v in self.constraint_values))

    @property
    def duration(self) -> float | None:
        """Seconds between start and completion, or ``None`` while unfinished."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return (self.datetime_complete - self.datetime_start).total_seconds()

    def value_vector(self, objectives: Sequence[Objective]) -> list[float]:
        """Values in objective order, each multiplied by the objective's sign (all minimize).

        Raises:
            ValueError: the trial lacks a value for one of the objectives.
        """
        try:
            return [o.sign * self.values[o.name] for o in objectives]
        except KeyError as e:
            raise ValueError(
                f"trial {self.number} has no value for objective {e.args[0]!r}"
            ) from e


def is_finite_number(x: Any) -> bool:
    """True for an int/float (not bool) that is neither NaN nor infinite."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
