"""The trials of a study: numbering new trials, claiming, re-queueing, reporting, finishing
once, and reading them back (RDBStorage's trial operations).

Crash safety rests on two rules kept by every method here: each call is one transaction, and
every state change of a RUNNING trial is a compare-and-swap on its state (and owner), so a
worker presumed dead can never finish a trial someone else now runs. Every write that changes
a trial or its children, but not a heartbeat, stamps the trial's ``updated_at``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from nas._types import FrozenTrial, Proposal, TrialState
from nas.exceptions import StorageError, TrialNotRunningError
from nas.storage._core import (
    INT64_MAX,
    INT64_MIN,
    StorageCore,
    attr_rows,
    check_id,
    check_name,
    dumps,
    inserted_id,
)
from nas.storage._models import Trial
from nas.storage._queries import (
    ABANDON_OWNED,
    ABANDON_UNOWNED,
    ADVANCE_STUDY_COUNTER,
    ALL_TRIALS,
    CLAIM_BATCH,
    CLAIM_TRIAL,
    DELETE_INTERMEDIATE_AT_STEP,
    DELETE_USER_ATTR,
    DELETE_VALUES,
    FINISH_TRIAL,
    HEARTBEAT,
    INSERT_INTERMEDIATE,
    INSERT_PARAMS,
    INSERT_SYSTEM_ATTRS,
    INSERT_TRIAL,
    INSERT_USER_ATTR,
    INSERT_VALUES,
    LOCK_TRIAL,
    LOCK_TRIAL_FOR_REPORT,
    MAX_TRIALS_LOADED_ONE_BY_ONE,
    REQUEUE_OWNED,
    REQUEUE_UNOWNED,
    SELECT_CHILDREN_OF_TRIAL,
    SELECT_CLAIM_CANDIDATES,
    SELECT_OBJECTIVES,
    SELECT_RUNNING,
    SELECT_TRIAL,
    SELECT_TRIAL_IDS,
    STATE_RUNNING,
    STATE_WAITING,
    TOUCH_TRIAL,
    TOUCH_TRIAL_FOR_REPORT,
    TRIALS_IN_SCOPE,
    TRIALS_UPDATED_SINCE,
    TRIALS_UPDATED_SINCE_IN_SCOPE,
    StudyQueries,
    state_slots,
)
from nas.storage._records import (
    STATES_BY_NAME,
    StaleHistoryError,
    TrialChildren,
    TrialRow,
    decode_json_into,
    encode_results,
    frozen_trial,
    read_children,
)

__all__ = ["TrialsMixin"]

_MAX_WORKER_ID_LENGTH = 256
# claim_waiting_trial: candidates fetched per round, and rounds, before giving up on a race.
_CLAIM_ROUNDS = 32


def _check_aware(value: Any, what: str) -> datetime:
    """``value`` if it is a timezone-aware datetime.

    Raises:
        TypeError: not a datetime.
        ValueError: a naive datetime.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} must be a timezone-aware datetime (e.g. datetime.now(UTC)), got the "
            f"naive {value.isoformat()}"
        )
    return value


def _check_float(value: Any, what: str) -> float:
    """A real number that SQL can store: int/float, not bool, not NaN (infinities allowed).

    Raises:
        TypeError: not an int or float (or a bool).
        ValueError: NaN.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a float, got {value!r}")
    result = float(value)
    if math.isnan(result):
        raise ValueError(f"{what} must not be NaN")
    return result


def _check_objective_values(values: Mapping[int, float], what: str) -> dict[int, float]:
    """``values`` as a new dict objective index (an int ``>= 0``) -> float.

    Raises:
        TypeError / ValueError: not a mapping, a bad index, a bad value (see
            :func:`_check_float`). Indices beyond the study's objectives are checked later
            (:func:`_check_indices`), in the transaction that knows the study.
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"{what} must be a mapping objective index -> value, got {values!r}")
    checked: dict[int, float] = {}
    for idx, value in values.items():
        check_id(idx, f"{what}: objective index")
        if idx < 0:
            raise ValueError(f"{what}: objective index must be >= 0, got {idx}")
        checked[idx] = _check_float(value, f"{what}[{idx}]")
    return checked


def _check_results(
    what: str,
    state: TrialState,
    metrics: Mapping[str, float] | None,
    violations: Sequence[float] | None,
    reason: str | None,
) -> tuple[dict[str, float], tuple[float, ...], str | None]:
    """Validate the metrics, constraint values and infeasible reason of a finished trial
    (``what`` names the call in messages, e.g. ``finish_trial(7)``).

    Returns:
        ``(metrics, constraint values, reason)`` as they will be read back: metrics as
        floats (non-finite ones NaN), constraint values as floats.

    Raises:
        TypeError / ValueError: a bad metric name or value, a NaN, ``-inf`` or non-number
            constraint value, constraint values for a state other than COMPLETE, a non-str
            reason.
    """
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        check_name(key, f"{what} metric name")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{what}: metric {key!r} must be a number, got {value!r}")
        out[key] = float(value) if math.isfinite(value) else math.nan
    checked: list[float] = []
    for value in violations or ():
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValueError(f"{what}: a constraint value must be a number, got {value!r}")
        if value == -math.inf:
            raise ValueError(f"{what}: a constraint value must be finite or +inf, got {value}")
        checked.append(float(value))
    if checked and state is not TrialState.COMPLETE:
        raise ValueError(f"{what}: constraint values are for COMPLETE trials only")
    if reason is not None and not isinstance(reason, str):
        raise TypeError(f"{what}: infeasible_reason must be a str or None, got {reason!r}")
    return out, tuple(checked), reason


@dataclass(frozen=True, slots=True)
class _PreparedProposal:
    """A proposal checked and encoded for ``add_trials``: params and info as ``(key, JSON
    text)`` rows, the budget as a float (or ``None``)."""

    params: list[tuple[str, str]]
    budget: float | None
    info: list[tuple[str, str]]


def _prepare(proposal: Proposal, position: int) -> _PreparedProposal:
    """Check and encode ``proposals[position]`` before anything is written.

    Raises:
        TypeError / ValueError: not a Proposal, a NaN or non-number budget, a bad key or a
            non-JSON value in its params or info.
    """
    what = f"proposals[{position}]"
    if not isinstance(proposal, Proposal):
        raise TypeError(f"{what} must be a nas.Proposal, got {type(proposal).__name__}")
    budget = proposal.budget
    if budget is not None:
        budget = _check_float(budget, f"{what}.budget")
    return _PreparedProposal(
        params=attr_rows(proposal.params, f"{what}.params"),
        budget=budget,
        info=attr_rows(proposal.info, f"{what}.info"),
    )


def _check_indices(n_objectives: int, values: Mapping[int, float], what: str) -> None:
    """Raise ValueError unless every key of ``values`` is an objective index (< n)."""
    bad = sorted(i for i in values if i >= n_objectives)
    if bad:
        raise ValueError(
            f"{what}: objective indices {bad} out of range; the study has "
            f"{n_objectives} objective(s) (indices 0..{n_objectives - 1})"
        )


def _insert_trial_rows(
    conn: Connection, study_id: int, next_number: int, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert trial ``rows`` numbered ``next_number, next_number + 1, ...``; their ids in order.

    One row (the common case) takes the id the driver reports, no SELECT needed; several are
    inserted in one executemany and their ids read back by number.
    """
    if len(rows) == 1:
        return [inserted_id(conn.execute(INSERT_TRIAL, rows[0]), "trials")]
    conn.execute(INSERT_TRIAL, list(rows))
    stop = next_number + len(rows)
    by_number = dict(
        conn.execute(SELECT_TRIAL_IDS, {"sid": study_id, "first": next_number, "stop": stop}).all()
    )
    return [by_number[number] for number in range(next_number, stop)]


class TrialsMixin(StorageCore):
    """RDBStorage's trial operations (see :class:`~nas.storage.RDBStorage` for the contract
    they share: one transaction per call, snapshots, aware UTC times, errors)."""

    @staticmethod
    def _children_of_trial(
        conn: Connection, study_id: int, trial_id: int
    ) -> tuple[list[str], TrialChildren]:
        """(the study's objective names by index, the trial's children): one SELECT."""
        rows = conn.execute(SELECT_CHILDREN_OF_TRIAL, {"sid": study_id, "tid": trial_id})
        return read_children(rows)

    @staticmethod
    def _children_of_study_trials(
        conn: Connection,
        queries: StudyQueries,
        params: dict[str, Any],
        trial_ids: Iterable[int],
    ) -> dict[int, TrialChildren]:
        """Children of the trials of ``queries.trials``: six lean SELECTs.

        ``trial_ids`` must be exactly the ids ``queries.trials`` returned with ``params`` in
        the same snapshot (every child row found belongs to one of them). One tight loop per
        table; the JSON texts are decoded in one batch (:func:`decode_json_into`).
        """
        names = [name for name, _ in conn.execute(SELECT_OBJECTIVES, params)]
        children = {trial_id: TrialChildren() for trial_id in trial_ids}
        targets: list[dict[str, Any]] = []
        keys: list[str] = []
        texts: list[str] = []
        for query, attr in (
            (queries.params, "params"),
            (queries.user_attrs, "user_attrs"),
            (queries.system_attrs, "system_attrs"),
        ):
            for trial_id, key, text in conn.execute(query, params):
                target = getattr(children[trial_id], attr)
                target[key] = None  # placeholder: fixes the key order
                targets.append(target)
                keys.append(key)
                texts.append(text)
        for trial_id, idx, value in conn.execute(queries.values, params):
            children[trial_id].values[names[idx]] = value
        for trial_id, idx, step, value in conn.execute(queries.intermediate, params):
            intermediate = children[trial_id].intermediate
            per_objective = intermediate.get(names[idx])
            if per_objective is None:
                per_objective = intermediate[names[idx]] = {}
            per_objective[step] = value
        decode_json_into(targets, keys, texts)
        return children

    def _load_trial(self, conn: Connection, trial_id: int) -> FrozenTrial:
        """One trial, in two SELECTs (its row, then its children)."""
        row = conn.execute(SELECT_TRIAL, {"tid": trial_id}).first()
        if row is None:
            raise self._trial_missing(trial_id)
        _, children = self._children_of_trial(conn, row.study_id, trial_id)
        return frozen_trial(row, children)

    def add_trials(
        self,
        study_id: int,
        proposals: Sequence[Proposal],
        *,
        expected_next_number: int | None = None,
        max_trials: int | None = None,
        claim_worker: str | None = None,
    ) -> tuple[list[FrozenTrial], FrozenTrial | None]:
        """Append proposals as WAITING trials with consecutive numbers, atomically.

        In one transaction with the study row locked (SQLite: ``BEGIN IMMEDIATE``;
        PostgreSQL: ``SELECT ... FOR UPDATE``): check ``expected_next_number``, truncate the
        proposals so that the study never holds more than ``max_trials`` trials, insert them
        (params, budget; ``info`` becomes the system attributes) numbered from the study's
        ``next_trial_number``, and advance that counter. Concurrent callers therefore never
        produce a gap or a duplicate number.

        Args:
            study_id: the study.
            proposals: in the order they get numbers.
            expected_next_number: the ``next_trial_number`` the proposals were computed for
                (= number of trials in the history the searcher saw); ``None`` skips the check.
            max_trials: cap on the total number of trials of the study; ``None`` for no cap.
            claim_worker: if given, the first inserted trial is inserted RUNNING, owned by
                this worker, with ``started_at`` and ``heartbeat_at`` set.

        Returns:
            (inserted trials in number order - possibly fewer than proposed, possibly none;
            the claimed trial or ``None``).

        Raises:
            StudyNotFoundError: no such study.
            StaleHistoryError: ``expected_next_number`` differs from the study's counter
                (nothing is inserted).
            TypeError / ValueError: a proposal holds a non-JSON value, a NaN budget, ...
        """
        check_id(study_id, "study_id")
        prepared = [_prepare(p, i) for i, p in enumerate(proposals)]
        if expected_next_number is not None:
            check_id(expected_next_number, "expected_next_number")
        if max_trials is not None:
            check_id(max_trials, "max_trials")
            if max_trials < 0:
                raise ValueError(f"max_trials must be >= 0, got {max_trials}")
        if claim_worker is not None:
            check_name(claim_worker, "claim_worker", _MAX_WORKER_ID_LENGTH)

        def work(conn: Connection) -> tuple[list[FrozenTrial], FrozenTrial | None]:
            next_number = self._require_study(conn, study_id, lock=True)
            if expected_next_number is not None and expected_next_number != next_number:
                raise StaleHistoryError(
                    f"study {study_id} has next trial number {next_number} but the proposals "
                    f"were made for {expected_next_number}: other trials were added "
                    "meanwhile; reload the history and propose again"
                )
            n = len(prepared)
            if max_trials is not None:
                n = max(0, min(n, max_trials - next_number))
            if n == 0:
                return [], None
            now = self._now()
            rows: list[dict[str, Any]] = []
            for i in range(n):
                claimed = claim_worker is not None and i == 0
                rows.append(
                    {
                        "study_id": study_id,
                        "number": next_number + i,
                        "state": STATE_RUNNING if claimed else STATE_WAITING,
                        "budget": prepared[i].budget,
                        "created_at": now,
                        "started_at": now if claimed else None,
                        "heartbeat_at": now if claimed else None,
                        "worker_id": claim_worker if claimed else None,
                        "restarts": 0,
                        "updated_at": now,
                    }
                )
            ids = _insert_trial_rows(conn, study_id, next_number, rows)
            param_rows = []
            info_rows = []
            kept = prepared[:n]  # max_trials may have truncated the proposals
            for trial_id, p in zip(ids, kept, strict=True):
                param_rows += [
                    {"trial_id": trial_id, "name": k, "value_json": v} for k, v in p.params
                ]
                info_rows += [{"trial_id": trial_id, "key": k, "value_json": v} for k, v in p.info]
            if param_rows:
                conn.execute(INSERT_PARAMS, param_rows)
            if info_rows:
                conn.execute(INSERT_SYSTEM_ATTRS, info_rows)
            conn.execute(
                ADVANCE_STUDY_COUNTER, {"sid": study_id, "p_next": next_number + n, "p_now": now}
            )
            # What was just written, without reading it back: the rows and the very JSON texts
            # stored, through the one builder, so the objects equal (and are independent of)
            # a later read.
            loads = json.loads
            trials: list[FrozenTrial] = []
            for trial_id, row, p in zip(ids, rows, kept, strict=True):
                children = TrialChildren()
                children.params = {k: loads(v) for k, v in p.params}
                children.system_attrs = {k: loads(v) for k, v in p.info}
                written = TrialRow(
                    id=trial_id,
                    number=row["number"],
                    state=row["state"],
                    budget=row["budget"],
                    created_at=now,
                    started_at=row["started_at"],
                    finished_at=None,
                    heartbeat_at=row["heartbeat_at"],
                    worker_id=row["worker_id"],
                    failure_reason=None,
                    restarts=0,
                    updated_at=now,
                    metrics_json=None,
                    constraints_json=None,
                )
                trials.append(frozen_trial(written, children))
            return trials, (trials[0] if claim_worker is not None else None)

        return self._write(f"add_trials(study {study_id})", work)

    def claim_waiting_trial(self, study_id: int, worker_id: str) -> FrozenTrial | None:
        """Atomically move the lowest-numbered WAITING trial to RUNNING for ``worker_id``.

        Uses ``UPDATE ... WHERE id = ? AND state = 'WAITING'`` and checks the row count; a
        trial taken by a concurrent worker is skipped and the next candidate tried.

        Returns:
            The claimed trial (``started_at``/``heartbeat_at`` set), or ``None`` if no trial
            is WAITING.

        Raises:
            StudyNotFoundError: no such study.
            StorageError: every candidate was lost to concurrent workers
                (8 x 32 attempts; practically impossible).
        """
        check_id(study_id, "study_id")
        check_name(worker_id, "worker_id", _MAX_WORKER_ID_LENGTH)

        def work(conn: Connection) -> FrozenTrial | None:
            for _ in range(_CLAIM_ROUNDS):
                candidates = conn.execute(SELECT_CLAIM_CANDIDATES, {"sid": study_id}).all()
                if not candidates:
                    self._require_study(conn, study_id)
                    return None
                for (trial_id,) in candidates:
                    result = conn.execute(
                        CLAIM_TRIAL, {"tid": trial_id, "p_worker": worker_id, "p_now": self._now()}
                    )
                    if result.rowcount == 1:
                        return self._load_trial(conn, trial_id)
            raise StorageError(
                f"claim_waiting_trial(study {study_id}): lost the race for "
                f"{CLAIM_BATCH * _CLAIM_ROUNDS} WAITING trials to concurrent workers"
            )

        return self._write(f"claim_waiting_trial(study {study_id})", work)

    def claim_trial(self, trial_id: int, worker_id: str) -> FrozenTrial | None:
        """Atomically move the WAITING trial ``trial_id`` to RUNNING for ``worker_id`` (e.g. to
        record a result told for a trial that was given back meanwhile).

        Returns:
            The claimed trial, or ``None`` when it is not WAITING (claimed by someone else,
            RUNNING or finished).

        Raises:
            TrialNotFoundError: no such trial.
        """
        check_id(trial_id, "trial_id")
        check_name(worker_id, "worker_id", _MAX_WORKER_ID_LENGTH)

        def work(conn: Connection) -> FrozenTrial | None:
            result = conn.execute(
                CLAIM_TRIAL, {"tid": trial_id, "p_worker": worker_id, "p_now": self._now()}
            )
            if result.rowcount != 1:
                self._require_trial(conn, trial_id)
                return None
            return self._load_trial(conn, trial_id)

        return self._write(f"claim_trial({trial_id})", work)

    def running_trials(self, study_id: int) -> list[tuple[int, str | None, datetime | None]]:
        """``(trial_id, worker_id, heartbeat_at)`` of every RUNNING trial, by number.

        Raises:
            StudyNotFoundError: no such study.
        """
        check_id(study_id, "study_id")

        def work(conn: Connection) -> list[tuple[int, str | None, datetime | None]]:
            self._require_study(conn, study_id)
            rows = conn.execute(SELECT_RUNNING, {"sid": study_id}).all()
            return [(int(i), w, h) for i, w, h in rows]

        return self._read(f"running_trials(study {study_id})", work)

    def requeue_trial(self, trial_id: int, expected_worker_id: str | None) -> bool:
        """Put a RUNNING trial back to WAITING (its worker died), compare-and-swap style.

        Only if the trial is RUNNING and its ``worker_id`` still equals ``expected_worker_id``
        (``None`` matches a NULL worker): state becomes WAITING, worker/start/heartbeat are
        cleared, ``restarts`` incremented. Number, params, budget, attributes and the
        intermediate values reported so far are kept (the re-run overwrites the steps it
        reports again).

        Returns:
            True if re-queued; False if the trial was no longer RUNNING for that worker
            (finished, re-queued or claimed by someone else meanwhile).

        Raises:
            TrialNotFoundError: no such trial.
        """
        check_id(trial_id, "trial_id")
        query = REQUEUE_UNOWNED if expected_worker_id is None else REQUEUE_OWNED
        return self._swap_owned(
            f"requeue_trial({trial_id})", query, trial_id, expected_worker_id, {}
        )

    def _swap_owned(
        self,
        what: str,
        query: Any,
        trial_id: int,
        worker_id: str | None,
        extra: dict[str, Any],
    ) -> bool:
        """Run a compare-and-swap ``query`` on a trial RUNNING for ``worker_id``; True if it
        matched (TrialNotFoundError when the trial does not exist). ``p_now`` is the time of
        the attempt (``finished_at``/``updated_at``)."""
        params: dict[str, Any] = {"tid": trial_id, **extra}
        if worker_id is not None:
            params["p_worker"] = worker_id

        def work(conn: Connection) -> bool:
            if conn.execute(query, {**params, "p_now": self._now()}).rowcount != 1:
                self._require_trial(conn, trial_id)
                return False
            return True

        return self._write(what, work)

    def abandon_trial(self, trial_id: int, expected_worker_id: str | None, reason: str) -> bool:
        """Mark a RUNNING trial FAILED with ``reason`` because its worker died (too often to
        retry it again), compare-and-swap style like :meth:`requeue_trial`.

        Returns:
            True if it was marked FAILED; False if it was no longer RUNNING for that worker.

        Raises:
            TrialNotFoundError: no such trial.
            ValueError: ``reason`` is not a non-empty string.
        """
        check_id(trial_id, "trial_id")
        if not isinstance(reason, str) or not reason:
            raise ValueError(f"reason must be a non-empty string, got {reason!r}")
        query = ABANDON_UNOWNED if expected_worker_id is None else ABANDON_OWNED
        return self._swap_owned(
            f"abandon_trial({trial_id})",
            query,
            trial_id,
            expected_worker_id,
            {"p_reason": reason},
        )

    def heartbeat(self, trial_id: int, worker_id: str) -> bool:
        """Set the trial's ``heartbeat_at`` to now if it is RUNNING for ``worker_id``.

        Liveness only: the trial's ``updated_at`` (:attr:`~nas.FrozenTrial.datetime_updated`)
        is left alone, so a heartbeat does not make the trial show up in
        ``get_trials(updated_since=...)`` (otherwise every RUNNING trial would look changed at
        every poll).

        Returns:
            False if the trial is no longer RUNNING for this worker (re-queued, finished):
            the worker should stop working on it.

        Raises:
            TrialNotFoundError: no such trial.
        """
        check_id(trial_id, "trial_id")

        def work(conn: Connection) -> bool:
            params = {"tid": trial_id, "p_worker": worker_id, "p_now": self._now()}
            if conn.execute(HEARTBEAT, params).rowcount != 1:
                self._require_trial(conn, trial_id)
                return False
            return True

        return self._write(f"heartbeat({trial_id})", work)

    def report(self, trial_id: int, step: int, values: Mapping[int, float]) -> None:
        """Record intermediate values at ``step`` (objective index -> value), replacing any.

        Raises:
            TrialNotFoundError: no such trial.
            TrialNotRunningError: the trial is not RUNNING.
            ValueError / TypeError: an objective index out of range, a NaN or non-number value,
                a non-int step.
        """
        check_id(trial_id, "trial_id")
        check_id(step, "step")
        if not INT64_MIN <= step <= INT64_MAX:
            raise ValueError(f"step must fit in a signed 64-bit integer, got {step}")
        checked = _check_objective_values(values, f"report(trial {trial_id}, step {step})")

        def work(conn: Connection) -> None:
            touch = {"tid": trial_id, "p_now": self._now()}
            # Fast path: one UPDATE checks the state and the indices, locks the row and marks
            # the trial changed. Otherwise (or with nothing to report) find out why, in order.
            touched = (
                bool(checked)
                and conn.execute(
                    TOUCH_TRIAL_FOR_REPORT, {**touch, "p_max_idx": max(checked)}
                ).rowcount
                == 1
            )
            if not touched:
                row = conn.execute(LOCK_TRIAL_FOR_REPORT, {"tid": trial_id}).first()
                if row is None:
                    raise self._trial_missing(trial_id)
                if row.state != STATE_RUNNING:
                    raise TrialNotRunningError(
                        f"cannot report step {step} of trial {trial_id}: it is {row.state}, "
                        "not RUNNING"
                    )
                _check_indices(int(row.n_objectives), checked, f"report(trial {trial_id})")
                if not checked:
                    return
                # Only when the trial became RUNNING again between the two statements
                # (PostgreSQL, READ COMMITTED: re-queued and claimed meanwhile).
                conn.execute(TOUCH_TRIAL, touch)
            conn.execute(
                DELETE_INTERMEDIATE_AT_STEP,
                [{"tid": trial_id, "step": step, "idx": i} for i in checked],
            )
            conn.execute(
                INSERT_INTERMEDIATE,
                [
                    {"trial_id": trial_id, "objective_idx": i, "step": step, "value": v}
                    for i, v in checked.items()
                ],
            )

        self._write(f"report(trial {trial_id}, step {step})", work)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        """Set (insert or replace) a user attribute of a trial, in any state.

        Raises:
            TrialNotFoundError: no such trial.
            TypeError: ``value`` is not JSON-serialisable (NaN and infinity included).
        """
        check_id(trial_id, "trial_id")
        check_name(key, "attribute key")
        value_json = dumps(value, f"trial user attr {key!r}")

        def work(conn: Connection) -> None:
            # Marks the trial changed and locks its row; no row: no such trial.
            if conn.execute(TOUCH_TRIAL, {"tid": trial_id, "p_now": self._now()}).rowcount != 1:
                raise self._trial_missing(trial_id)
            conn.execute(DELETE_USER_ATTR, {"tid": trial_id, "attr_key": key})
            conn.execute(
                INSERT_USER_ATTR, {"trial_id": trial_id, "key": key, "value_json": value_json}
            )

        self._write(f"set_trial_user_attr({trial_id}, {key!r})", work)

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        *,
        values: Mapping[int, float] | None = None,
        failure_reason: str | None = None,
        worker_id: str | None = None,
        metrics: Mapping[str, float] | None = None,
        constraint_values: Sequence[float] | None = None,
        infeasible_reason: str | None = None,
    ) -> FrozenTrial:
        """Move a RUNNING trial to COMPLETE, PRUNED or FAILED, once.

        Args:
            trial_id: the trial.
            state: COMPLETE, PRUNED or FAILED.
            values: objective index -> final value. COMPLETE needs a value for every
                objective; PRUNED/FAILED may give some or none.
            failure_reason: e.g. the traceback of a FAILED trial.
            worker_id: if given, the trial must be owned by this worker.
            metrics: the other numbers the objective returned (name -> float; a non-finite
                one is stored as ``null`` and read back as NaN).
            constraint_values: per constraint, the signed value (``<= 0`` satisfied) or
                ``inf`` (not evaluable); COMPLETE only. Stored with the violations
                ``max(0, value)``.
            infeasible_reason: why a constraint value is ``inf``.

        Returns:
            The finished trial (``datetime_complete`` set).

        Raises:
            TrialNotFoundError: no such trial.
            TrialNotRunningError: the trial is not RUNNING (e.g. already finished) or is owned
                by another worker.
            ValueError / TypeError: ``state`` not terminal, bad values, COMPLETE without a
                value for every objective.
        """
        check_id(trial_id, "trial_id")
        try:
            final = TrialState(state)
        except ValueError as e:
            raise ValueError(f"unknown trial state {state!r}") from e
        if not final.is_finished:
            raise ValueError(f"finish_trial needs COMPLETE, PRUNED or FAILED, got {final.value}")
        checked = _check_objective_values(values or {}, f"finish_trial({trial_id}) values")
        if failure_reason is not None and not isinstance(failure_reason, str):
            raise TypeError(f"failure_reason must be a str or None, got {failure_reason!r}")
        metrics_out, violations, reason = _check_results(
            f"finish_trial({trial_id})", final, metrics, constraint_values, infeasible_reason
        )
        metrics_json, constraints_json = encode_results(metrics_out, violations, reason)

        def work(conn: Connection) -> FrozenTrial:
            row = conn.execute(LOCK_TRIAL, {"tid": trial_id}).first()
            if row is None:
                raise self._trial_missing(trial_id)
            if row.state != STATE_RUNNING or (
                worker_id is not None and row.worker_id != worker_id
            ):
                owner = "" if worker_id is None else f" owned by worker {worker_id!r}"
                raise TrialNotRunningError(
                    f"cannot finish trial {trial_id} as {final.value}: it is {row.state} "
                    f"(worker {row.worker_id!r}), expected RUNNING{owner}"
                )
            # Read the children before writing: the returned trial is this plus what we write.
            names, children = self._children_of_trial(conn, row.study_id, trial_id)
            n = len(names)
            _check_indices(n, checked, f"finish_trial({trial_id})")
            if final is TrialState.COMPLETE and len(checked) != n:
                missing = sorted(set(range(n)) - set(checked))
                raise ValueError(
                    f"finish_trial({trial_id}) as COMPLETE needs a value for every objective; "
                    f"missing objective indices {missing}"
                )
            now = self._now()
            conn.execute(
                FINISH_TRIAL,
                {
                    "tid": trial_id,
                    "p_state": final.value,
                    "p_now": now,
                    "p_reason": failure_reason,
                    "p_metrics": metrics_json,
                    "p_constraints": constraints_json,
                },
            )
            if checked:
                if children.values:  # never for a trial finished by this class; kept safe
                    conn.execute(DELETE_VALUES, {"tid": trial_id})
                conn.execute(
                    INSERT_VALUES,
                    [
                        {"trial_id": trial_id, "objective_idx": i, "value": v}
                        for i, v in checked.items()
                    ],
                )
                children.values = {names[i]: checked[i] for i in sorted(checked)}
            # The row as FINISH_TRIAL left it, through the one builder: the returned trial
            # equals a later read.
            finished = TrialRow._make(row[: len(TrialRow._fields)])._replace(
                state=final.value,
                finished_at=now,
                failure_reason=failure_reason,
                updated_at=now,
                metrics_json=metrics_json,
                constraints_json=constraints_json,
            )
            return frozen_trial(finished, children)

        return self._write(f"finish_trial({trial_id})", work)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        """A snapshot of one trial.

        Raises:
            TrialNotFoundError: no such trial.
        """
        check_id(trial_id, "trial_id")
        return self._read(f"get_trial({trial_id})", lambda conn: self._load_trial(conn, trial_id))

    def get_trials(
        self,
        study_id: int,
        *,
        min_number: int = 0,
        states: Container[TrialState] | None = None,
        updated_since: datetime | None = None,
    ) -> list[FrozenTrial]:
        """Snapshots of the study's trials with ``number >= min_number``, in number order.

        One read snapshot: one SELECT of the trials (if none, one more to check that the
        study exists); then their children (params, values, intermediate values, user and
        system attributes, objective names) - one UNION ALL per trial for up to 8 trials, one
        SELECT per table beyond - grouped in Python.

        Polling for changes (``updated_since``): every write that changes a trial or its
        children - its creation, claim, report, user attribute, finish, re-queue or abandon,
        but not a heartbeat - sets its ``updated_at`` (:attr:`~nas.FrozenTrial.datetime_updated`)
        to the writer's clock at the time of the write, in the same transaction. Concurrent
        writers commit out of timestamp order: a write stamped ``t`` may become visible after
        a poll that already returned writes stamped later than ``t``. So a poller must not
        use the latest ``datetime_updated`` it saw as its next cursor as is; it should ask
        for ``updated_since=cursor - overlap`` (an overlap longer than a write transaction
        lasts plus the clock skew between writers - a few seconds) and de-duplicate the
        trials it gets again by ``number`` (keeping the latest snapshot). The filter is
        inclusive (``updated_at >= updated_since``) and uses the index
        ``(study_id, updated_at)``.

        Args:
            study_id: the study.
            min_number: only trials numbered at least this (incremental history loading).
            states: only trials whose state is in this container; ``None`` for all.
            updated_since: only trials whose ``updated_at >= updated_since`` (an aware
                datetime); ``None`` for all. Combines with the other filters.

        Raises:
            StudyNotFoundError: no such study.
            ValueError: ``updated_since`` is a naive datetime.
            TypeError: ``updated_since`` is not a datetime.
        """
        check_id(study_id, "study_id")
        check_id(min_number, "min_number")
        queries: StudyQueries
        params: dict[str, Any] = {"sid": study_id}
        everything = min_number <= 0 and states is None
        if not everything:
            params |= {"min_number": min_number, **state_slots(states)}
        if updated_since is not None:
            params["since"] = _check_aware(updated_since, "updated_since")
            queries = TRIALS_UPDATED_SINCE if everything else TRIALS_UPDATED_SINCE_IN_SCOPE
        else:
            queries = ALL_TRIALS if everything else TRIALS_IN_SCOPE

        def work(conn: Connection) -> list[FrozenTrial]:
            rows = conn.execute(queries.trials, params).all()
            if not rows:
                self._require_study(conn, study_id)
                return []
            if not queries.by_number:
                rows = sorted(rows, key=lambda row: row.number)
            if len(rows) <= MAX_TRIALS_LOADED_ONE_BY_ONE:
                children = {
                    row[0]: self._children_of_trial(conn, study_id, row[0])[1] for row in rows
                }
            else:
                trial_ids = [row[0] for row in rows]
                children = self._children_of_study_trials(conn, queries, params, trial_ids)
            return [frozen_trial(row, children[row[0]]) for row in rows]

        return self._read(f"get_trials(study {study_id})", work)

    def count_trials(self, study_id: int) -> dict[TrialState, int]:
        """Number of trials per state (every state is a key, zeros included).

        Raises:
            StudyNotFoundError: no such study.
        """
        check_id(study_id, "study_id")

        def work(conn: Connection) -> dict[TrialState, int]:
            self._require_study(conn, study_id)
            rows = conn.execute(
                select(Trial.state, func.count())
                .where(Trial.study_id == study_id)
                .group_by(Trial.state)
            ).all()
            found = {STATES_BY_NAME[state]: int(count) for state, count in rows}
            return {s: found.get(s, 0) for s in TrialState}

        return self._read(f"count_trials(study {study_id})", work)
