"""The study facade: create, load, query and optimize a study persisted in SQL."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas._attrs import PRUNER_ATTR
from nas._types import FrozenTrial, Objective, Proposal, TrialState, parse_objectives
from nas.exceptions import (
    DuplicatedStudyError,
    IncompatibleStudyError,
    StudyConfigError,
    StudyNotFoundError,
)
from nas.searchers import create_searcher
from nas.space import SearchSpace
from nas.storage import RDBStorage, get_storage
from nas.storage._url import DEFAULT_URL
from nas.study._constraints import Constraints, ConstraintsFunc, parse_constraints
from nas.study._values import (
    check_max_restarts,
    check_n_trials,
    check_searcher_options,
    check_seed,
    check_study_name,
    check_timeout,
)

if TYPE_CHECKING:
    import pandas as pd

    from nas.pruners import Pruner
    from nas.searchers import Searcher
    from nas.study._trial import Trial
    from nas.study._worker import Heartbeat

__all__ = [
    "Study",
    "StudyDefinition",
    "create_study",
    "delete_study",
    "load_study",
    "open_or_create",
]

#: The storage used when none is given (``sqlite:///nas.db``).
DEFAULT_STORAGE = DEFAULT_URL

ObjectiveFunc = Callable[["Trial"], Any]
Callback = Callable[["Study", FrozenTrial], None]


class Study:
    """A named optimisation study: a space, ordered objectives, a searcher, a seed, its trials.

    Obtain one with :func:`create_study` or :func:`load_study`. Everything lives in the storage;
    a ``Study`` object holds only a cache of *finished* trials (which never change), so several
    processes may work on the same study at once.
    """

    def __init__(self, storage: RDBStorage, study_id: int) -> None:
        record = storage.get_study(study_id)
        self._storage = storage
        self.study_id = study_id
        self.name: str = record.name
        self.objectives: tuple[Objective, ...] = tuple(record.objectives)
        self.space = SearchSpace.from_dict(record.space, source=f"study {record.name!r}")
        self.searcher_name: str = record.searcher["name"]
        self.searcher_options: dict[str, Any] = dict(record.searcher.get("options") or {})
        self.seed: int = record.seed
        #: The study's constraints (``None``: unconstrained); see :mod:`nas.study._constraints`.
        self.constraints: Constraints | None = (
            None if record.constraints is None else Constraints.from_json(record.constraints)
        )
        #: The stored pruner ``{"name": ..., "options": {...}}`` (``None``: no pruning).
        spec = record.user_attrs.get(PRUNER_ATTR)
        self.pruner_spec: dict[str, Any] | None = dict(spec) if isinstance(spec, Mapping) else None
        self._pruner: Pruner | None = None
        # Trials by number (numbers are contiguous from 0). Everything below ``_watermark`` is
        # finished, and finished trials never change, so only ``_watermark`` onwards is re-read.
        self._cache: list[FrozenTrial] = []
        self._watermark = 0
        self._searcher: Searcher | None = None
        self._stop_requested = False
        # Trials asked by this object and not told yet: number -> (trial, its heartbeat).
        self._asked: dict[int, tuple[Trial, Heartbeat]] = {}

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, storage={self._storage.url!r})"

    # ------------------------------------------------------------------ definition
    @property
    def storage(self) -> RDBStorage:
        """The storage backend holding this study."""
        return self._storage

    @property
    def directions(self) -> list[str]:
        """Objective directions in order."""
        return [o.direction for o in self.objectives]

    @property
    def searcher(self) -> Searcher:
        """The searcher rebuilt from the stored definition (stateless; built once per object).

        In a study whose space has an equivalence (an architecture search) it is guarded by
        :class:`~nas.searchers.UniqueProposals`: no network already evaluated or pending is
        proposed again, whatever the searcher.
        """
        if self._searcher is None:
            self._adopt_searcher(
                create_searcher(
                    self.searcher_name,
                    self.space,
                    self.objectives,
                    self.seed,
                    self.searcher_options,
                )
            )
        assert self._searcher is not None
        return self._searcher

    def _adopt_searcher(self, searcher: Searcher) -> None:
        """Use ``searcher`` -- built for this study's definition (space, objectives, seed,
        options), e.g. while it was validated at creation -- instead of building another; set
        :attr:`constraints` first. It gets the constraints and, in a space with an
        equivalence, the :class:`~nas.searchers.UniqueProposals` guard."""
        searcher.set_constraints(self.constraints)
        if self.space.equivalence is not None:
            from nas.searchers._unique import UniqueProposals

            searcher = UniqueProposals(searcher)
        self._searcher = searcher

    @property
    def pruner(self) -> Pruner | None:
        """The study's pruner (:mod:`nas.pruners`), rebuilt from its stored definition; ``None``
        when the study prunes nothing. :meth:`Trial.should_prune` asks it.

        Raises:
            PrunerConfigError: the stored pruner is not registered in this process (a plug-in
                not imported).
        """
        if self._pruner is None and self.pruner_spec is not None:
            from nas.pruners import create_pruner

            self._pruner = create_pruner(
                self.pruner_spec["name"],
                self.objectives,
                self.seed,
                self.pruner_spec.get("options") or {},
            )
        return self._pruner

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The study's user attributes."""
        return dict(self._storage.get_study(self.study_id).user_attrs)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable study attribute."""
        self._storage.set_study_user_attr(self.study_id, key, value)

    # ------------------------------------------------------------------ trials
    def _refresh(self) -> list[FrozenTrial]:
        """All trials in number order, fetching only those that may have changed.

        Finished trials never change, so only trials from the lowest unfinished number on are
        read again.
        """
        fresh = self._storage.get_trials(self.study_id, min_number=self._watermark)
        self._cache[self._watermark :] = fresh
        self._advance_watermark()
        return list(self._cache)

    def _advance_watermark(self) -> None:
        cache, w = self._cache, self._watermark
        while w < len(cache) and cache[w].state.is_finished:
            w += 1
        self._watermark = w

    def _remember(self, trial: FrozenTrial) -> None:
        """Record a snapshot this process just wrote (a new or finished trial) in the cache.

        Only a trial that extends the cache contiguously or replaces a cached one is kept;
        anything else is left for the next refresh to read.
        """
        if trial.number < len(self._cache):
            self._cache[trial.number] = trial
        elif trial.number == len(self._cache):
            self._cache.append(trial)
        else:
            return
        self._advance_watermark()

    @property
    def trials(self) -> list[FrozenTrial]:
        """Every trial (all states) in number order, as snapshots."""
        return self._refresh()

    def get_trials(self, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        """Trials in number order, optionally only those whose state is in ``states``."""
        trials = self._refresh()
        return trials if states is None else [t for t in trials if t.state in states]

    @property
    def best_trial(self) -> FrozenTrial:
        """The feasible COMPLETE trial with the best value (lowest number among ties).

        In a multi-fidelity study only the trials at the largest budget reached so far count
        (see :meth:`final_trials`): a cheap low-budget result is no evidence about the final one.
        In a constrained study only feasible trials count (as Optuna's ``best_trial`` with a
        ``constraints_func``).

        Raises:
            ValueError: the study has several objectives (use :meth:`pareto_front`), no trial
                is COMPLETE yet, or none of them is feasible (the message says how many are
                infeasible).
        """
        if len(self.objectives) != 1:
            raise ValueError(
                f"study {self.name!r} has {len(self.objectives)} objectives; best_trial is for "
                "single-objective studies, use pareto_front()"
            )
        complete = self._feasible_final_trials()
        obj = self.objectives[0]
        return min(complete, key=lambda t: (obj.sign * t.values[obj.name], t.number))

    @property
    def best_value(self) -> float:
        """Value of :attr:`best_trial`."""
        return self.best_trial.values[self.objectives[0].name]

    def final_trials(self) -> list[FrozenTrial]:
        """The COMPLETE trials that results are reported from, by number.

        Every COMPLETE trial, except in a multi-fidelity study (a COMPLETE trial has a budget):
        then those at the largest budget among the COMPLETE trials, a trial without a budget
        counting as full fidelity. Empty if no trial is COMPLETE.
        """
        return highest_fidelity(self.get_trials((TrialState.COMPLETE,)))

    def feasible_trials(self) -> list[FrozenTrial]:
        """The trials of :meth:`final_trials` that satisfy every constraint (all of them in an
        unconstrained study), by number."""
        return [t for t in self.final_trials() if t.feasible is not False]

    def _feasible_final_trials(self) -> list[FrozenTrial]:
        """:meth:`feasible_trials`, non-empty.

        Raises:
            ValueError: no trial is COMPLETE, or none of them is feasible.
        """
        complete = self.final_trials()
        if not complete:
            raise ValueError(f"study {self.name!r} has no COMPLETE trial yet")
        feasible = [t for t in complete if t.feasible is not False]
        if not feasible:
            raise ValueError(
                f"study {self.name!r} has no feasible trial yet: all {len(complete)} COMPLETE "
                f"trials violate its constraints ({self.constraints!r})"
            )
        return feasible

    def pareto_front(self) -> list[FrozenTrial]:
        """The non-dominated trials of :meth:`feasible_trials` (all objectives, mixed
        directions), by number.

        Empty when no trial is COMPLETE, and in a constrained study when none is feasible (as
        Optuna's ``best_trials``); an infeasible trial is never on the front.
        """
        from nas.pareto import pareto_mask

        complete = self.feasible_trials()
        if not complete:
            return []
        points = np.array([t.value_vector(self.objectives) for t in complete], dtype=float)
        mask = pareto_mask(points)
        return [t for t, keep in zip(complete, mask, strict=True) if keep]

    def hypervolume(self, reference: Sequence[float] | None = None) -> float:
        """Exact hypervolume dominated by the trials of :meth:`feasible_trials`.

        Fast for 2 and 3 objectives (sweeps); for more it slices recursively, which is exact but
        practical only for fronts of a few hundred points.

        Args:
            reference: reference point in the objectives' own units and order; defaults to the
                nadir of those trials plus 10% of their range.

        Raises:
            ValueError: no COMPLETE trial yet, or none is feasible.
        """
        from nas.pareto import default_reference_point, hypervolume

        complete = self._feasible_final_trials()
        points = np.array([t.value_vector(self.objectives) for t in complete], dtype=float)
        if reference is None:
            ref = default_reference_point(points)
        else:
            signs = np.array([o.sign for o in self.objectives])
            ref = signs * np.asarray(reference, dtype=float)
        return float(hypervolume(points, ref))

    def enqueue(
        self,
        params: Mapping[str, Any],
        budget: float | None = None,
        *,
        info: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        """Queue a trial with user-chosen params; a worker runs it before asking the searcher.

        Raises:
            SpaceError: ``params`` is not a valid assignment of the space's active parameters.
        """
        valid = self.space.validate(params)
        inserted, _ = self._storage.add_trials(
            self.study_id, [Proposal(valid, budget, dict(info or {}))]
        )
        return inserted[0]

    # ------------------------------------------------------------------ ask and tell
    def ask(
        self, *, n_trials: int | None = None, lease: float | None = None, wait: float = 0.0
    ) -> Trial | None:
        """Claim the next trial to evaluate yourself; finish it with :meth:`tell`.

        The trial is claimed exactly as a worker of :meth:`optimize` claims one (same
        searcher, same total, dead workers' trials given back first) and this process beats
        for it until it is told (``lease``: owned for that many seconds instead, for a trial
        told by another process). It can :meth:`~Trial.report` and
        :meth:`~Trial.should_prune`. See :mod:`nas.study._asktell`.

        Example:
            >>> while (trial := study.ask()) is not None:  # doctest: +SKIP
            ...     study.tell(trial, simulate(**trial.params))

        Args:
            n_trials: the study's total; ``None``: the total ``nas run`` recorded, if any.
            lease: seconds without a heartbeat before the trial is given back; ``None``: this
                process beats for it.
            wait: seconds to wait while the searcher has nothing to propose until pending
                trials are told.

        Returns:
            The RUNNING trial, or ``None``: the study holds its total, or nothing can be
            proposed before pending trials are told.

        Raises:
            StudyConfigError: a bad ``n_trials``, ``lease`` or ``wait``.
        """
        from nas.study._asktell import ask

        return ask(self, n_trials=n_trials, lease=lease, wait=wait)

    def tell(
        self,
        trial: Trial | int,
        values: Any = None,
        *,
        state: TrialState | str | None = None,
        reason: str | None = None,
    ) -> FrozenTrial:
        """Finish a trial from :meth:`ask` (or asked by ``nas ask``): with its ``values``
        (COMPLETE; NaN/inf: FAILED with the reason), or ``state="PRUNED"`` (kept with its last
        reported values) / ``state="FAILED"`` (with ``reason``).

        Args:
            trial: the trial or its number.
            values: a number (one objective), a sequence (one per objective) or a mapping
                name -> value (other keys: metrics).

        Returns:
            The finished trial.

        Raises:
            StudyConfigError: no values and no PRUNED/FAILED state, or both; values of the
                wrong shape; no such trial (nothing written).
            TrialNotRunningError: the trial is already finished (nothing written).
        """
        from nas.study._asktell import tell

        return tell(self, trial, values, state=state, reason=reason)

    # ------------------------------------------------------------------ results in and out
    def add_trials(self, trials: Iterable[FrozenTrial | Mapping[str, Any]]) -> list[FrozenTrial]:
        """Add trials that ran elsewhere (another study, an Optuna run, a spreadsheet) as
        finished trials of this study; every searcher then reads them as history.

        Each is a :class:`~nas.FrozenTrial` or a mapping as ``nas trials --format json``
        writes it: ``params`` (required), ``values`` (by objective name; a number for one
        objective; a list in objective order), ``state`` (COMPLETE by default, PRUNED,
        FAILED), ``budget``, ``intermediate_values``, ``user_attrs``, ``metrics``,
        ``failure_reason``, times; system attributes are never taken. All are validated
        first (params by the space, a finite value for every objective of a COMPLETE trial,
        no unknown objective; constraints evaluated by this study), then inserted in one
        transaction, numbered after the existing trials. Rules: :mod:`nas.study._import`.

        Example:
            >>> study.add_trials(  # doctest: +SKIP
            ...     [{"params": {"lr": 0.01}, "values": {"loss": 0.3}, "state": "COMPLETE"}]
            ... )

        Returns:
            The added trials, in the order given.

        Raises:
            StudyConfigError: a trial breaks a rule; the message names it (``trials[3]``) and
                the problem. Nothing is written.
        """
        from nas.study._import import add_trials

        return add_trials(self, trials)

    def to_dataframe(self) -> pd.DataFrame:
        """Every trial as one row of a pandas DataFrame, in number order, every field in a
        column as Optuna's ``trials_dataframe`` names them where it has the field
        (``values_<objective>``, ``params_<name>``, ``user_attrs_<key>``, ``duration`` as a
        Timedelta, ...; times timezone-aware UTC; ``intermediate_<objective>`` holds a dict
        step -> value). Columns: :func:`nas.study._dataframe.trials_dataframe`.

        Raises:
            NasError: pandas is not installed (``pip install pandas``).
        """
        from nas.study._dataframe import trials_dataframe

        return trials_dataframe(self)

    # ------------------------------------------------------------------ optimisation
    def stop(self) -> None:
        """Ask the running :meth:`optimize` of this object to return after the current trial.

        Meant for callbacks (e.g. "stop once the budget spent reaches B"). Nothing is left
        half-done: the trial being evaluated is stored first, and no further trial is claimed.
        Other workers and other ``Study`` objects are not affected.
        """
        self._stop_requested = True

    def optimize(
        self,
        objective: ObjectiveFunc,
        n_trials: int | None = None,
        timeout: float | None = None,
        *,
        callbacks: Sequence[Callback] = (),
        heartbeat_interval: float | None = None,
        heartbeat_grace: float | None = None,
        max_restarts: int = 3,
    ) -> None:
        """Run the ask -> evaluate -> tell loop in this process.

        Args:
            objective: ``objective(trial) -> float | dict[str, float]``. An exception marks the
                trial FAILED (traceback stored) and the loop goes on; :class:`nas.TrialPruned`
                marks it PRUNED; NaN/inf or a wrong shape marks it FAILED with the reason.
                An objective with a ``prepare(study)`` method (the supernet objective of NAS
                studies: it trains or loads the supernet) has it called first; its errors
                propagate.
            n_trials: the study's TOTAL number of trials (all states, earlier runs and other
                workers included). Re-running with the same total after a crash finishes the
                remaining trials. ``None``: no limit.
            timeout: seconds after which no new trial is started.
            callbacks: called as ``cb(study, finished_trial)`` after every trial this worker runs.
            heartbeat_interval / heartbeat_grace: override the liveness timings (seconds).
            max_restarts: how many times a trial whose worker died (killed, out of memory, a
                native crash) is re-queued; the next death marks it FAILED with the reason.

        The objective may return other numbers besides the objectives in its mapping (e.g.
        ``latency_ms``): they are stored as the trial's ``metrics``. In a constrained study the
        violations are computed from the objectives and metrics when the trial finishes and
        stored with it; a constraints callable that raises marks the trial FAILED.

        Raises:
            StudyConfigError: ``n_trials`` is not ``None`` or an int ``>= 0``, ``timeout`` not
                ``None`` or a number ``> 0``, ``max_restarts`` not an int ``>= 0`` (nothing
                runs); or the study's constraints are a callable that cannot be imported
                in this process and was not given (``create_study(..., constraints=f)``).
            KeyboardInterrupt: re-raised after the running trial was put back as WAITING (it is
                re-run, with the same params, on resume).
        """
        self._optimize(
            objective,
            check_n_trials(n_trials),
            check_timeout(timeout),
            callbacks=callbacks,
            heartbeat_interval=heartbeat_interval,
            heartbeat_grace=heartbeat_grace,
            max_restarts=check_max_restarts(max_restarts),
        )

    def _optimize(
        self,
        objective: ObjectiveFunc,
        n_trials: int | None,
        timeout: float | None,
        *,
        callbacks: Sequence[Callback] = (),
        heartbeat_interval: float | None = None,
        heartbeat_grace: float | None = None,
        max_restarts: int = 3,
    ) -> None:
        """:meth:`optimize` with ``n_trials``, ``timeout`` and ``max_restarts`` already
        validated (by :meth:`optimize`, or once by :func:`~nas.study.open_study`)."""
        from nas.study._optimize import run_worker

        if self.constraints is not None and self.constraints.is_callable:
            self.constraints.resolve()  # a callable that cannot be imported: say so now
        prepare = getattr(objective, "prepare", None)
        if callable(prepare):
            prepare(self)
        run_worker(
            self,
            objective,
            n_trials=n_trials,
            timeout=timeout,
            callbacks=callbacks,
            heartbeat_interval=heartbeat_interval,
            heartbeat_grace=heartbeat_grace,
            max_restarts=max_restarts,
        )


def highest_fidelity(complete: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The trials of ``complete`` at the largest budget among them (a trial without a budget
    counting as full fidelity); all of them when none has a budget. Order is kept."""
    if not any(t.budget is not None for t in complete):
        return list(complete)
    level = [math.inf if t.budget is None else float(t.budget) for t in complete]
    top = max(level)
    return [t for t, b in zip(complete, level, strict=True) if b == top]


def _as_space(space: SearchSpace | Mapping[str, Any] | str | Path) -> SearchSpace:
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, Mapping):
        return SearchSpace.from_dict(dict(space))
    if isinstance(space, str | Path):
        return SearchSpace.from_yaml(space)
    raise StudyConfigError(
        f"space must be a SearchSpace, a mapping or a YAML path, got {type(space).__name__}"
    )


def _definition_diff(
    name: str,
    stored: Study,
    space: SearchSpace,
    objectives: Sequence[Objective],
    searcher: dict[str, Any],
    seed: int,
    constraints: Constraints | None,
    pruner: Mapping[str, Any] | None = None,
) -> list[str]:
    diffs: list[str] = []
    if stored.space != space:
        a, b = stored.space.to_dict()["params"], space.to_dict()["params"]
        changed = sorted(
            k
            for k in set(a) | set(b)
            if json.dumps(a.get(k), sort_keys=True) != json.dumps(b.get(k), sort_keys=True)
        )
        if changed:
            diffs.append(f"search space differs in params {changed}")
        else:
            diffs.append(
                f"search space lists its params in another order ({list(a)} vs {list(b)})"
            )
    if tuple(stored.objectives) != tuple(objectives):
        old = {o.name: o.direction for o in stored.objectives}
        new = {o.name: o.direction for o in objectives}
        diffs.append(f"objectives differ (stored {old}, given {new})")
    stored_searcher = {"name": stored.searcher_name, "options": stored.searcher_options}
    if json.dumps(stored_searcher, sort_keys=True) != json.dumps(searcher, sort_keys=True):
        diffs.append(f"searcher differs (stored {stored_searcher}, given {searcher})")
    if stored.seed != seed:
        diffs.append(f"seed differs (stored {stored.seed}, given {seed})")
    if stored.constraints != constraints:
        diffs.append(f"constraints differ (stored {stored.constraints!r}, given {constraints!r})")
    if _pruner_text(stored.pruner_spec) != _pruner_text(pruner):
        diffs.append(f"pruner differs (stored {stored.pruner_spec}, given {pruner})")
    return diffs


def _pruner_text(spec: Mapping[str, Any] | None) -> str:
    """A pruner spec in a canonical text (no options = empty options)."""
    if spec is None:
        return "null"
    return json.dumps(
        {"name": spec.get("name"), "options": spec.get("options") or {}}, sort_keys=True
    )


def create_study(
    name: str,
    space: SearchSpace | Mapping[str, Any] | str | Path,
    objectives: Mapping[str, str] | Sequence[Objective],
    searcher: str = "random",
    searcher_options: Mapping[str, Any] | None = None,
    storage: str | RDBStorage = DEFAULT_STORAGE,
    seed: int = 0,
    load_if_exists: bool = False,
    constraints: Mapping[str, Any] | ConstraintsFunc | Constraints | None = None,
    pruner: str | Mapping[str, Any] | Pruner | None = None,
) -> Study:
    """Create a study (or open it again with ``load_if_exists=True``).

    Everything is validated before anything is written: a bad space, objective spec, searcher
    name or option raises and leaves the database untouched.

    Args:
        name: unique study name within the storage.
        space: a :class:`SearchSpace`, its dict form, or a YAML path.
        objectives: ordered mapping objective name -> ``"minimize"`` | ``"maximize"``.
        searcher: registered searcher name (see ``nas.searchers.searcher_names()``).
        searcher_options: keyword options of that searcher.
        storage: database URL (``sqlite:///nas.db``, ``postgresql+psycopg://...``) or storage.
        seed: the study seed; every searcher decision derives from it and the history.
        load_if_exists: return the existing study of that name instead of raising, provided
            its definition (space, objectives, searcher, seed, constraints) is identical.
        constraints: which trials are feasible (see :mod:`nas.study._constraints`): a mapping
            metric -> ``{"max": x}`` and/or ``{"min": y}`` over the objectives and the other
            numbers the objective returns, e.g. ``{"latency_ms": {"max": 2.5}}``; or a
            callable ``f(result) -> sequence of floats`` (``<= 0`` is satisfied; like Optuna's
            ``constraints_func``), where ``result`` maps every number the objective returned.
            ``best_trial``, ``pareto_front`` and every searcher honour them.
        pruner: stops unpromising trials early (:mod:`nas.pruners`): a name (``"median"``), a
            mapping ``{"name": "successive_halving", "options": {"reduction_factor": 3}}``, or
            a registered :class:`~nas.pruners.Pruner`; stored with the study.
            :meth:`Trial.should_prune` asks it. ``None``: no pruning.

    Example:
        >>> study = nas.create_study(  # doctest: +SKIP
        ...     "mp", space, {"accuracy": "maximize"},
        ...     constraints={"avg_wbits": {"max": 4}, "latency_ms": {"max": 2.5}},
        ... )

    Raises:
        DuplicatedStudyError: the name exists and ``load_if_exists`` is False.
        IncompatibleStudyError: it exists with another definition.
        SpaceError, StudyConfigError, UnknownSearcherError, SearcherConfigError,
            PrunerConfigError: bad input.
    """
    from nas.pruners import parse_pruner

    name = check_study_name(name, "name")
    seed = check_seed(seed, "seed")
    options = check_searcher_options(searcher_options, "searcher_options")
    space_obj = _as_space(space)
    try:
        objs = parse_objectives(objectives)
    except ValueError as e:
        raise StudyConfigError(str(e)) from e
    definition = StudyDefinition(
        name,
        space_obj,
        objs,
        searcher,
        options,
        seed,
        parse_constraints(constraints),
        parse_pruner(pruner, "pruner"),
    )
    # Building the searcher and the pruner validates their names and options before anything
    # is written; the study then uses this searcher.
    built = definition.build_searcher()
    definition.build_pruner()
    study, _ = open_or_create(
        get_storage(storage), definition, built, load_if_exists=load_if_exists
    )
    return study


@dataclass(frozen=True)
class StudyDefinition:
    """What defines a study -- name, space, objectives, searcher, seed, constraints, pruner --
    every part already validated (by :func:`create_study`, or by the study file's loader);
    reopening a study with another definition is refused."""

    name: str
    space: SearchSpace
    objectives: tuple[Objective, ...]
    searcher: str
    searcher_options: dict[str, Any]
    seed: int
    constraints: Constraints | None
    #: ``{"name": ..., "options": {...}}`` (:func:`nas.pruners.parse_pruner`), or ``None``.
    pruner: dict[str, Any] | None = None

    @property
    def searcher_config(self) -> dict[str, Any]:
        """The searcher as stored: ``{"name": ..., "options": {...}}``."""
        return {"name": self.searcher, "options": self.searcher_options}

    def build_searcher(self) -> Searcher:
        """The study's searcher, built for this definition.

        Raises:
            UnknownSearcherError, SearcherConfigError: bad name or options.
        """
        return create_searcher(
            self.searcher, self.space, self.objectives, self.seed, self.searcher_options
        )

    def build_pruner(self) -> Pruner | None:
        """The study's pruner, built for this definition (``None``: none).

        Raises:
            PrunerConfigError: bad name or options, or options that do not fit the objectives.
        """
        if self.pruner is None:
            return None
        from nas.pruners import create_pruner

        return create_pruner(
            self.pruner["name"], self.objectives, self.seed, self.pruner.get("options") or {}
        )


def open_or_create(
    store: RDBStorage,
    definition: StudyDefinition,
    searcher: Searcher,
    *,
    load_if_exists: bool,
    user_attrs: Mapping[str, Any] | None = None,
) -> tuple[Study, bool]:
    """The study of ``definition`` in ``store``: created -- its row and ``user_attrs`` in one
    transaction -- or, with ``load_if_exists``, reopened when it exists with the same
    definition. Nothing is validated again here: ``definition`` is.

    Args:
        searcher: built for ``definition`` (:meth:`StudyDefinition.build_searcher`); the
            returned study uses it instead of building another.
        user_attrs: the new study's initial user attributes (left alone when it is reopened).

    Returns:
        ``(study, created)``; ``created`` is False when an existing study was reopened.

    Raises:
        DuplicatedStudyError: the name exists and ``load_if_exists`` is False.
        IncompatibleStudyError: it exists with another definition (the differences listed).
    """
    d = definition
    cons = d.constraints

    def adopt(study: Study) -> Study:
        if cons is not None:
            study.constraints = cons  # the caller's callable, if any
        study._adopt_searcher(searcher)
        return study

    def reopen(study_id: int) -> Study:
        study = Study(store, study_id)
        diffs = _definition_diff(
            d.name, study, d.space, d.objectives, d.searcher_config, d.seed, cons, d.pruner
        )
        if diffs:
            raise IncompatibleStudyError(
                f"study {d.name!r} already exists in {store.url} with another definition: "
                + "; ".join(diffs)
                + ". Use a new study name, or delete the old one with "
                f"`nas delete {d.name} --storage {store.url}`"
            )
        return adopt(study)

    if load_if_exists:
        try:
            return reopen(store.get_study_id(d.name)), False
        except StudyNotFoundError:
            pass
    attrs = dict(user_attrs or {})
    if d.pruner is not None:
        attrs[PRUNER_ATTR] = d.pruner
    try:
        study_id = store.create_study(
            d.name,
            d.objectives,
            d.space.to_dict(),
            d.searcher_config,
            d.seed,
            user_attrs=attrs or None,
            constraints=None if cons is None else cons.to_json(),
        )
    except DuplicatedStudyError:
        if not load_if_exists:
            raise
        # Another worker created it between our lookup and our insert: open theirs.
        return reopen(store.get_study_id(d.name)), False
    return adopt(Study(store, study_id)), True


def load_study(name: str, storage: str | RDBStorage = DEFAULT_STORAGE) -> Study:
    """Open an existing study by name.

    Raises:
        StudyNotFoundError: no study of that name in the storage.
    """
    store = get_storage(storage)
    return Study(store, store.get_study_id(name))


def delete_study(name: str, storage: str | RDBStorage = DEFAULT_STORAGE) -> None:
    """Delete a study and everything it owns (trials, values, artifacts records).

    Raises:
        StudyNotFoundError: no study of that name in the storage.
    """
    store = get_storage(storage)
    store.delete_study(store.get_study_id(name))
