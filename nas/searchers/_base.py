"""The searcher interface: trial history and seed in, proposals out.

A searcher is a pure function of ``(space, objectives, seed, options, history)``. It does no I/O,
touches no database and keeps no state that cannot be rebuilt from the history and the seed: the
study runner may build a fresh searcher for every call (after a crash, in another process, on
another machine) and must get the same proposals. This is what makes exact resume possible.

An instance may memoise what it derives from the history (see :mod:`nas.searchers._memo`) to keep
the cost of a call flat in the history length, provided the memo is validated against every
history it is given and so can never change a proposal: a fresh instance and a long-lived one
must propose exactly the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from nas._types import FrozenTrial, Objective, Proposal, TrialState

if TYPE_CHECKING:
    from nas.space import SearchSpace
    from nas.study._constraints import Constraints

__all__ = [
    "Searcher",
    "constrained_order",
    "constraint_columns",
    "finished",
    "pending",
    "total_violations",
]


class Searcher(ABC):
    """Base class of every searcher.

    Subclasses take their options as keyword-only constructor arguments, validate them there and
    raise :class:`nas.exceptions.SearcherConfigError` for a bad one.

    Contract of :meth:`propose`:

    * ``trials`` is the study's whole history in ``number`` order, *including* WAITING and
      RUNNING trials (pending: proposed, not finished). Pending trials must be taken into account
      (e.g. not proposed again, counted as busy slots of a bracket).
    * It returns between 0 and any number of proposals; ``n`` is how many the caller would like
      (free workers). Returning more is allowed (e.g. a whole rung); returning none means
      "nothing to propose until a pending trial finishes".
    * Every proposal's params are a valid, complete assignment of the space's active
      parameters (``space.validate(p.params)`` passes).
    * Same ``(seed, options, history)`` -> same proposals, in any process. Randomness comes only
      from :meth:`rng`; never from the global ``random``/``np.random``/``torch`` state.
    * **Constraints.** In a constrained study every COMPLETE trial carries its stored
      :attr:`~nas.FrozenTrial.constraint_violations` (and :attr:`~nas.FrozenTrial.feasible`).
      That is all a searcher knows of the constraints, so feasibility is a function of the
      history like everything else. Searchers rank trials through the helpers of this module
      (:func:`total_violations`, :func:`constrained_order`: feasible first, then by total
      violation, as Deb's constrained domination and Optuna's constraint handling do); a
      searcher that models the objectives may also model the violations (``bayesian``). An
      unconstrained study's trials have no violations and every helper reduces to the plain
      ranking.

    Args:
        space: the search space.
        objectives: the study's objectives in order (names and directions).
        seed: the study seed.
    """

    # ---- declared capabilities -------------------------------------------------------------
    # Read by the study configuration (e.g. which encoding of an architecture space to search)
    # and the conformance suite (which checks every declaration against the behaviour);
    # :meth:`unsupported` enforces them at construction for every searcher.

    #: The name it is registered under (set by ``register_searcher``).
    registered_name: ClassVar[str] = ""
    #: Fewest objectives it optimises.
    min_objectives: ClassVar[int] = 1
    #: Most objectives it optimises; ``None``: any number.
    max_objectives: ClassVar[int | None] = None
    #: Whether it takes conditional parameters (a GP over a fixed encoding does not).
    accepts_conditional: ClassVar[bool] = True
    #: The parameter kinds it takes (``float``, ``int``, ``categorical``, ``fixed``);
    #: ``None``: every kind.
    param_kinds: ClassVar[frozenset[str] | None] = None
    #: Whether its proposals carry budgets (multi-fidelity: ``hyperband``, ``bohb``); the others
    #: propose ``budget=None`` only.
    multi_fidelity: ClassVar[bool] = False
    #: Whether it steers by the trials' constraint violations (``random`` does not).
    honours_constraints: ClassVar[bool] = True
    #: Whether a PRUNED trial counts exactly as a FAILED one (ignored, or ranked worst at its
    #: budget: ``bohb``, ``hyperband``), as Optuna's NSGA-II and GP samplers do; ``False``:
    #: its params and last reported values inform the model, as in Optuna's TPE (``optuna``).
    pruned_as_failed: ClassVar[bool] = True

    @classmethod
    def unsupported(cls, space: SearchSpace, n_objectives: int) -> str | None:
        """Why the declared capabilities exclude ``space`` with ``n_objectives`` objectives
        (one clause naming the first offending objective count or parameter), or ``None``."""
        if n_objectives < cls.min_objectives:
            return f"needs at least {cls.min_objectives} objectives, got {n_objectives}"
        if cls.max_objectives is not None and n_objectives > cls.max_objectives:
            return f"supports at most {cls.max_objectives} objective(s), got {n_objectives}"
        for p in space.params:
            if p.condition is not None and not cls.accepts_conditional:
                return (
                    f"does not support conditional parameters ({p.name!r} depends on "
                    f"{p.condition.parent!r})"
                )
            if cls.param_kinds is not None and p.kind not in cls.param_kinds:
                return (
                    f"does not support {p.kind} parameters ({p.name!r} is {p.kind}; it takes "
                    f"{', '.join(sorted(cls.param_kinds))})"
                )
        return None

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], seed: int) -> None:
        if not objectives:
            raise ValueError("a searcher needs at least one objective")
        why = self.unsupported(space, len(objectives))
        if why is not None:
            from nas.exceptions import SearcherConfigError
            from nas.searchers._registry import searchers_for

            name = self.registered_name or type(self).__name__
            others = [n for n in searchers_for(space, len(objectives)) if n != name]
            hint = f"; searchers that can: {', '.join(others)}" if others else ""
            raise SearcherConfigError(f"{name} {why}{hint}")
        self.space = space
        self.objectives = tuple(objectives)
        self.seed = int(seed)
        #: The study's constraints (:meth:`set_constraints`); ``None``: unconstrained.
        self.constraints: Constraints | None = None

    def set_constraints(self, constraints: Constraints | None) -> None:
        """The study's constraints, set by the study after building the searcher (stored with
        the study, so they are history like the rest). Searchers that can judge a candidate
        before it is measured (``predictor_ga``: bounds on metrics the space computes) use
        them; the others rank by the trials' stored violations alone."""
        self.constraints = constraints

    @abstractmethod
    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """Propose new trials given the full history (see the class docstring for the contract)."""

    def rng(self, trials: Sequence[FrozenTrial], stream: int = 0) -> np.random.Generator:
        """A generator derived from the seed and the history length only.

        Deterministic across processes and across crash + resume: the ``k``-th call with a
        history of ``len(trials)`` trials always yields the same stream. ``stream`` separates
        independent uses within one call.
        """
        return np.random.default_rng(np.random.SeedSequence([self.seed, len(trials), stream]))


def finished(
    trials: Sequence[FrozenTrial], state: TrialState = TrialState.COMPLETE
) -> list[FrozenTrial]:
    """The trials of ``trials`` in ``state`` (COMPLETE by default), in the given order."""
    return [t for t in trials if t.state == state]


def pending(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The WAITING and RUNNING trials of ``trials``."""
    return [t for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING)]


def total_violations(trials: Sequence[FrozenTrial]) -> np.ndarray:
    """``(len(trials),)`` total constraint violation of each trial.

    ``0.0`` for a feasible trial and for a trial without recorded violations (an unconstrained
    study, or a trial that did not finish COMPLETE); ``> 0`` for an infeasible one; ``inf`` when
    one of its constraints could not be evaluated.
    """
    return np.array([t.total_violation for t in trials], dtype=float).reshape(len(trials))


def constrained_order(trials: Sequence[FrozenTrial], losses: np.ndarray) -> np.ndarray:
    """Indices of ``trials`` best first, constraints first.

    The order: trials with a finite loss that are feasible (by loss), then those that are
    infeasible (by total violation, then loss), then the rest (no finite loss); ties go to the
    lower trial number. In an unconstrained study this is the plain order by loss. It is how
    Optuna's TPE builds its "good" set under ``constraints_func`` and how Deb's constrained
    tournament ranks one objective.

    Args:
        trials: the trials.
        losses: ``(len(trials),)`` smaller-is-better scores (``inf`` or NaN: unrankable).
    """
    losses = np.asarray(losses, dtype=float).reshape(len(trials))
    finite = np.isfinite(losses)
    viol = total_violations(trials)
    klass = np.where(finite, np.where(viol > 0, 1, 0), 2)
    numbers = np.array([t.number for t in trials], dtype=np.int64).reshape(len(trials))
    safe = np.where(finite, losses, np.inf)
    return np.lexsort((numbers, safe, np.where(klass == 1, viol, 0.0), klass))


def constraint_columns(trials: Sequence[FrozenTrial]) -> np.ndarray:
    """``(len(trials), k)`` signed constraint values of ``trials`` (``<= 0`` satisfied), the
    outputs the GP models besides the objectives.

    ``k`` is the number of constraint values the trials carry (0 in an unconstrained study, or
    when they disagree on the number, which a callable could do: then nothing is modelled). A
    value that could not be evaluated (``inf``) is replaced by the largest finite value of its
    constraint plus its observed range (1 if none): clearly infeasible, and finite for the GP.
    """
    counts = {len(t.constraint_values) for t in trials}
    k = counts.pop() if len(counts) == 1 else 0
    c = np.array([t.constraint_values for t in trials], dtype=float).reshape(len(trials), k)
    for j in range(k):
        col = c[:, j]
        finite = np.isfinite(col)
        if finite.all():
            continue
        if finite.any():
            top, span = col[finite].max(), np.ptp(col[finite])
            col[~finite] = top + (span if span > 0 else 1.0)
        else:
            col[:] = 1.0
    return c
