"""Trials that ran somewhere else -- results brought into a study, the trials of a copied
study -- inserted with their whole outcome in one transaction (RDBStorage's import operation).

:meth:`ImportsMixin.import_trials` numbers the trials from the study's counter with the study
row locked, exactly like ``add_trials``, so imports, new trials and other imports never share or
skip a number; unlike ``add_trials`` it writes finished trials (COMPLETE, PRUNED, FAILED) with
their values, intermediate values, metrics, constraint values and times, or WAITING trials
with what they carried (a copied study's unfinished trials).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from nas._types import FrozenTrial, TrialState
from nas.storage._core import (
    INT64_MAX,
    INT64_MIN,
    StorageCore,
    attr_rows,
    check_id,
    check_name,
)
from nas.storage._queries import (
    ADVANCE_STUDY_COUNTER,
    INSERT_INTERMEDIATE,
    INSERT_PARAMS,
    INSERT_SYSTEM_ATTRS,
    INSERT_USER_ATTR,
    INSERT_VALUES,
    SELECT_OBJECTIVES,
)
from nas.storage._records import (
    StaleHistoryError,
    TrialChildren,
    TrialRow,
    encode_results,
    frozen_trial,
)
from nas.storage._trials import (
    _MAX_WORKER_ID_LENGTH,
    _check_aware,
    _check_float,
    _check_indices,
    _check_objective_values,
    _check_results,
    _insert_trial_rows,
)

__all__ = ["ImportsMixin", "TrialImport", "trial_import_of"]

_IMPORTABLE = (TrialState.WAITING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)


@dataclass(frozen=True, slots=True)
class TrialImport:
    """One trial for :meth:`~nas.storage.RDBStorage.import_trials`, as it is to be stored.

    Objectives are addressed by index, as everywhere the storage writes (``values={0: 0.93}``,
    ``intermediate_values={0: {step: value}}``).

    Attributes:
        state: COMPLETE, PRUNED or FAILED (a finished trial), or WAITING (a trial still to
            run, e.g. one that was RUNNING in a copied study). Never RUNNING: a running trial
            belongs to a live worker.
        params / budget / user_attrs / system_attrs: as :class:`~nas.Proposal` and
            ``set_trial_user_attr`` store them.
        values: objective index -> final value; COMPLETE needs every objective, WAITING none.
        intermediate_values: objective index -> {step -> value} (steps are signed 64-bit
            ints; values are not NaN).
        metrics / constraint_values / infeasible_reason: as ``finish_trial`` stores them
            (constraint values for COMPLETE trials only).
        failure_reason: the reason of a FAILED (or PRUNED) trial; ``None`` for WAITING.
        worker_id: the worker that ran it (``None`` for WAITING).
        restarts: how many times it was re-queued, ``>= 0``.
        datetime_created: when it was created; ``None``: ``datetime_start`` if given, else
            the time of the import.
        datetime_start / datetime_complete: when it ran (aware datetimes, start not after
            completion); for a finished trial ``None`` means the time of the import; a WAITING
            trial has neither.
        heartbeat: the last heartbeat of its worker (finished trials keep theirs), or ``None``.
    """

    state: TrialState
    params: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[int, float] = field(default_factory=dict)
    intermediate_values: Mapping[int, Mapping[int, float]] = field(default_factory=dict)
    budget: float | None = None
    user_attrs: Mapping[str, Any] = field(default_factory=dict)
    system_attrs: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    constraint_values: Sequence[float] = ()
    infeasible_reason: str | None = None
    failure_reason: str | None = None
    worker_id: str | None = None
    restarts: int = 0
    datetime_created: datetime | None = None
    datetime_start: datetime | None = None
    datetime_complete: datetime | None = None
    heartbeat: datetime | None = None


@dataclass(slots=True)
class _Prepared:
    """A :class:`TrialImport` checked and encoded: what its rows will hold."""

    state: TrialState
    params: list[tuple[str, str]]
    values: dict[int, float]
    intermediate: list[tuple[int, int, float]]
    budget: float | None
    user_attrs: list[tuple[str, str]]
    system_attrs: list[tuple[str, str]]
    metrics_json: str | None
    constraints_json: str | None
    failure_reason: str | None
    worker_id: str | None
    restarts: int
    created: datetime | None
    start: datetime | None
    complete: datetime | None
    heartbeat: datetime | None


def _optional_time(value: Any, what: str) -> datetime | None:
    return None if value is None else _check_aware(value, what)


def _prepare(trial: TrialImport, position: int) -> _Prepared:
    """Check and encode ``trials[position]`` before anything is written.

    Raises:
        TypeError / ValueError: see :meth:`ImportsMixin.import_trials`.
    """
    what = f"trials[{position}]"
    if not isinstance(trial, TrialImport):
        raise TypeError(f"{what} must be a TrialImport, got {type(trial).__name__}")
    try:
        state = TrialState(trial.state)
    except ValueError as e:
        raise ValueError(f"{what}: unknown trial state {trial.state!r}") from e
    if state not in _IMPORTABLE:
        raise ValueError(
            f"{what}: cannot import a {state.value} trial (a running trial belongs to a live "
            "worker); import it as WAITING, or as COMPLETE, PRUNED or FAILED"
        )
    values = _check_objective_values(trial.values, f"{what}.values")
    if not isinstance(trial.intermediate_values, Mapping):
        raise TypeError(
            f"{what}.intermediate_values must be a mapping, got {trial.intermediate_values!r}"
        )
    intermediate: list[tuple[int, int, float]] = []
    for idx, steps in trial.intermediate_values.items():
        check_id(idx, f"{what}.intermediate_values: objective index")
        if idx < 0:
            raise ValueError(f"{what}.intermediate_values: objective index must be >= 0")
        if not isinstance(steps, Mapping):
            raise TypeError(
                f"{what}.intermediate_values[{idx}] must be a mapping step -> value, got {steps!r}"
            )
        for step, value in steps.items():
            check_id(step, f"{what}.intermediate_values[{idx}]: step")
            if not INT64_MIN <= step <= INT64_MAX:
                raise ValueError(f"{what}: step must fit in a signed 64-bit integer, got {step}")
            intermediate.append(
                (idx, step, _check_float(value, f"{what}.intermediate_values[{idx}][{step}]"))
            )
    budget = trial.budget
    if budget is not None:
        budget = _check_float(budget, f"{what}.budget")
    metrics, constraint_values, reason = _check_results(
        what, state, trial.metrics, trial.constraint_values, trial.infeasible_reason
    )
    metrics_json, constraints_json = encode_results(metrics, constraint_values, reason)
    if trial.failure_reason is not None and not isinstance(trial.failure_reason, str):
        raise TypeError(f"{what}.failure_reason must be a str or None")
    if trial.worker_id is not None:
        check_name(trial.worker_id, f"{what}.worker_id", _MAX_WORKER_ID_LENGTH)
    check_id(trial.restarts, f"{what}.restarts")
    if trial.restarts < 0:
        raise ValueError(f"{what}.restarts must be >= 0, got {trial.restarts}")
    created = _optional_time(trial.datetime_created, f"{what}.datetime_created")
    start = _optional_time(trial.datetime_start, f"{what}.datetime_start")
    complete = _optional_time(trial.datetime_complete, f"{what}.datetime_complete")
    heartbeat = _optional_time(trial.heartbeat, f"{what}.heartbeat")
    if start is not None and complete is not None and complete < start:
        raise ValueError(
            f"{what}: datetime_complete {complete.isoformat()} is before datetime_start "
            f"{start.isoformat()}"
        )
    if state is TrialState.WAITING:
        outcome = {
            "values": values,
            "metrics": metrics,
            "constraint_values": constraint_values,
            "failure_reason": trial.failure_reason,
            "worker_id": trial.worker_id,
            "datetime_start": start,
            "datetime_complete": complete,
            "heartbeat": heartbeat,
        }
        given = [k for k, v in outcome.items() if v]
        if given:
            raise ValueError(f"{what}: a WAITING trial has no {', '.join(given)}")
    return _Prepared(
        state=state,
        params=attr_rows(trial.params, f"{what}.params"),
        values=values,
        intermediate=intermediate,
        budget=budget,
        user_attrs=attr_rows(trial.user_attrs, f"{what}.user_attrs"),
        system_attrs=attr_rows(trial.system_attrs, f"{what}.system_attrs"),
        metrics_json=metrics_json,
        constraints_json=constraints_json,
        failure_reason=trial.failure_reason,
        worker_id=trial.worker_id,
        restarts=trial.restarts,
        created=created,
        start=start,
        complete=complete,
        heartbeat=heartbeat,
    )


class ImportsMixin(StorageCore):
    """RDBStorage's import operation (see :class:`~nas.storage.RDBStorage` for the contract
    it shares: one transaction per call, snapshots, aware UTC times, errors)."""

    def import_trials(
        self,
        study_id: int,
        trials: Sequence[TrialImport],
        *,
        expected_next_number: int | None = None,
    ) -> list[FrozenTrial]:
        """Insert trials as they are -- finished with their outcome, or WAITING -- atomically.

        In one transaction with the study row locked (as :meth:`add_trials`): check
        ``expected_next_number``, insert the trials numbered from the study's
        ``next_trial_number`` in the order given, with their params, budget, values,
        intermediate values, user and system attributes, metrics, constraint values, failure
        reason, worker, restarts and times, and advance the counter. All of them or none.

        Every inserted trial's ``updated_at`` (:attr:`~nas.FrozenTrial.datetime_updated`) is the
        time of the import, whatever its other times: a poller (``get_trials(updated_since=)``)
        sees imported trials as changes.

        Args:
            study_id: the study.
            trials: the trials, in the order they get numbers.
            expected_next_number: the ``next_trial_number`` the caller expects (``0``: the
                study must have no trial yet, as when a study is copied); ``None`` skips the
                check.

        Returns:
            The inserted trials, in number order (equal to a later read of them).

        Raises:
            StudyNotFoundError: no such study.
            StaleHistoryError: ``expected_next_number`` differs from the study's counter.
            TypeError / ValueError: an item is not a :class:`TrialImport`, or breaks a rule of
                its attributes: a RUNNING state, an objective index out of range, a COMPLETE
                trial without a value for every objective, a NaN value, a non-JSON parameter
                or attribute, constraint values on a trial that is not COMPLETE, an outcome on
                a WAITING trial, a naive datetime, a completion before the start (nothing is
                written).
        """
        check_id(study_id, "study_id")
        prepared = [_prepare(t, i) for i, t in enumerate(trials)]
        if expected_next_number is not None:
            check_id(expected_next_number, "expected_next_number")

        def work(conn: Connection) -> list[FrozenTrial]:
            next_number = self._require_study(conn, study_id, lock=True)
            if expected_next_number is not None and expected_next_number != next_number:
                raise StaleHistoryError(
                    f"study {study_id} has next trial number {next_number}, expected "
                    f"{expected_next_number}: other trials were added meanwhile"
                )
            if not prepared:
                return []
            names = [name for name, _ in conn.execute(SELECT_OBJECTIVES, {"sid": study_id})]
            for i, p in enumerate(prepared):
                _check_indices(len(names), p.values, f"trials[{i}].values")
                _check_indices(
                    len(names), {idx: 0.0 for idx, _, _ in p.intermediate}, f"trials[{i}]"
                )
                if p.state is TrialState.COMPLETE and len(p.values) != len(names):
                    missing = sorted(set(range(len(names))) - set(p.values))
                    raise ValueError(
                        f"trials[{i}]: a COMPLETE trial needs a value for every objective; "
                        f"missing objective indices {missing}"
                    )
            now = self._now()
            rows = [
                self._trial_row(study_id, next_number + i, p, now) for i, p in enumerate(prepared)
            ]
            n = len(rows)
            ids = _insert_trial_rows(conn, study_id, next_number, rows)
            self._insert_children(conn, ids, prepared)
            conn.execute(
                ADVANCE_STUDY_COUNTER, {"sid": study_id, "p_next": next_number + n, "p_now": now}
            )
            return [
                self._written(trial_id, row, p, names)
                for trial_id, row, p in zip(ids, rows, prepared, strict=True)
            ]

        return self._write(f"import_trials(study {study_id})", work)

    @staticmethod
    def _trial_row(study_id: int, number: int, p: _Prepared, now: datetime) -> dict[str, Any]:
        """The ``trials`` row of one prepared trial (missing times filled in)."""
        start, complete = p.start, p.complete
        if p.state is not TrialState.WAITING:
            start = start or now
            complete = complete or now
            if complete < start:  # only one of them was given: never a negative duration
                start, complete = (complete, complete) if p.start is None else (start, start)
        return {
            "study_id": study_id,
            "number": number,
            "state": p.state.value,
            "budget": p.budget,
            "created_at": p.created or start or now,
            "started_at": start,
            "finished_at": complete if p.state is not TrialState.WAITING else None,
            "heartbeat_at": p.heartbeat,
            "worker_id": p.worker_id,
            "failure_reason": p.failure_reason,
            "restarts": p.restarts,
            "updated_at": now,
            "metrics_json": p.metrics_json,
            "constraints_json": p.constraints_json,
        }

    @staticmethod
    def _insert_children(conn: Connection, ids: list[int], prepared: list[_Prepared]) -> None:
        """The child rows of the inserted trials: one executemany per table."""
        params: list[dict[str, Any]] = []
        values: list[dict[str, Any]] = []
        intermediate: list[dict[str, Any]] = []
        user_attrs: list[dict[str, Any]] = []
        system_attrs: list[dict[str, Any]] = []
        for trial_id, p in zip(ids, prepared, strict=True):
            params += [{"trial_id": trial_id, "name": k, "value_json": v} for k, v in p.params]
            values += [
                {"trial_id": trial_id, "objective_idx": i, "value": v}
                for i, v in sorted(p.values.items())
            ]
            intermediate += [
                {"trial_id": trial_id, "objective_idx": i, "step": s, "value": v}
                for i, s, v in p.intermediate
            ]
            user_attrs += [
                {"trial_id": trial_id, "key": k, "value_json": v} for k, v in p.user_attrs
            ]
            system_attrs += [
                {"trial_id": trial_id, "key": k, "value_json": v} for k, v in p.system_attrs
            ]
        for statement, batch in (
            (INSERT_PARAMS, params),
            (INSERT_VALUES, values),
            (INSERT_INTERMEDIATE, intermediate),
            (INSERT_USER_ATTR, user_attrs),
            (INSERT_SYSTEM_ATTRS, system_attrs),
        ):
            if batch:
                conn.execute(statement, batch)

    @staticmethod
    def _written(
        trial_id: int, row: dict[str, Any], p: _Prepared, names: list[str]
    ) -> FrozenTrial:
        """The trial just written, through the one builder (equal to a later read)."""
        loads = json.loads
        children = TrialChildren()
        children.params = {k: loads(v) for k, v in p.params}
        children.values = {names[i]: v for i, v in sorted(p.values.items())}
        for idx, step, value in sorted(p.intermediate):
            children.intermediate.setdefault(names[idx], {})[step] = value
        children.user_attrs = {k: loads(v) for k, v in p.user_attrs}
        children.system_attrs = {k: loads(v) for k, v in p.system_attrs}
        written = TrialRow(
            id=trial_id,
            number=row["number"],
            state=row["state"],
            budget=row["budget"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            heartbeat_at=row["heartbeat_at"],
            worker_id=row["worker_id"],
            failure_reason=row["failure_reason"],
            restarts=row["restarts"],
            updated_at=row["updated_at"],
            metrics_json=row["metrics_json"],
            constraints_json=row["constraints_json"],
        )
        return frozen_trial(written, children)


def trial_import_of(trial: FrozenTrial, objective_names: Sequence[str]) -> TrialImport:
    """``trial`` as a :class:`TrialImport` for a study with these objectives (by index), every
    field kept; a RUNNING trial becomes WAITING as a re-queued one does (no worker, start or
    heartbeat; its number of restarts, attributes and intermediate values kept).

    Raises:
        ValueError: the trial has a value for an objective not in ``objective_names``.
    """
    index = {name: i for i, name in enumerate(objective_names)}
    unknown = sorted((set(trial.values) | set(trial.intermediate_values)) - set(index))
    if unknown:
        raise ValueError(f"trial {trial.number}: unknown objectives {unknown}")
    pending = not trial.state.is_finished
    return TrialImport(
        state=TrialState.WAITING if pending else trial.state,
        params=trial.params,
        values={index[k]: v for k, v in trial.values.items()},
        intermediate_values={index[k]: v for k, v in trial.intermediate_values.items()},
        budget=trial.budget,
        user_attrs=trial.user_attrs,
        system_attrs=trial.system_attrs,
        metrics={k: v for k, v in trial.metrics.items()},
        constraint_values=trial.constraint_values,
        infeasible_reason=trial.infeasible_reason,
        failure_reason=trial.failure_reason,
        worker_id=None if pending else trial.worker_id,
        restarts=trial.restarts,
        datetime_created=trial.datetime_created,
        datetime_start=None if pending else trial.datetime_start,
        datetime_complete=None if pending else trial.datetime_complete,
        heartbeat=None if pending else trial.heartbeat,
    )
