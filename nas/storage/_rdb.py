"""RDBStorage: studies, trials and artifacts persisted in a SQL database (SQLite or PostgreSQL).

The storage knows no algorithm. It does create/read/update/delete on studies, trials and
artifacts addressed by integer ids, and it provides the few atomic operations a distributed
study needs: numbering new trials without gaps or duplicates, claiming a WAITING trial,
re-queueing the trial of a dead worker, and finishing a trial only once.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import (
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import IntegrityError

from nas._types import (
    Direction,
    FrozenTrial,
    Objective,
    Proposal,
    TrialState,
    parse_objectives,
)
from nas.exceptions import (
    ArtifactNotFoundError,
    DuplicatedStudyError,
    StorageError,
    StudyNotFoundError,
    TrialNotRunningError,
)
from nas.storage._engine import (
    DEFAULT_URL,
    create_storage_engine,
    is_memory_sqlite,
    mask_url,
    readonly_engine,
    run_transaction,
)
from nas.storage._models import (
    Artifact,
    ArtifactBlob,
    Study,
    StudyObjective,
    StudyUserAttr,
    Trial,
)
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
    LOCK_STUDY_COUNTER,
    LOCK_TRIAL,
    LOCK_TRIAL_FOR_REPORT,
    LOCK_TRIAL_OWNER,
    MAX_TRIALS_LOADED_ONE_BY_ONE,
    REQUEUE_OWNED,
    REQUEUE_UNOWNED,
    SELECT_CHILDREN_OF_TRIAL,
    SELECT_CLAIM_CANDIDATES,
    SELECT_OBJECTIVES,
    SELECT_RUNNING,
    SELECT_STUDY_COUNTER,
    SELECT_TRIAL,
    SELECT_TRIAL_IDS,
    SELECT_TRIAL_OWNER,
    STATE_RUNNING,
    STATE_WAITING,
    STATES_BY_NAME,
    TOUCH_TRIAL,
    TOUCH_TRIAL_FOR_REPORT,
    TRIALS_IN_SCOPE,
    TRIALS_UPDATED_SINCE,
    TRIALS_UPDATED_SINCE_IN_SCOPE,
    StudyQueries,
    TrialChildren,
    decode_json_into,
    encode_results,
    frozen_trial,
    read_children,
    state_slots,
)
from nas.storage._records import (
    ArtifactRecord,
    StaleHistoryError,
    StudyRecord,
    StudySummary,
    TrialNotFoundError,
)
from nas.storage._schema import ensure_schema

__all__ = ["RDBStorage", "get_storage"]

T = TypeVar("T")

_MAX_NAME_LENGTH = 512  # String(512) columns: study, objective, param and attribute names.
_MAX_WORKER_ID_LENGTH = 256
_MAX_KIND_LENGTH = 64
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
# claim_waiting_trial: candidates fetched per round, and rounds, before giving up on a race.
_CLAIM_ROUNDS = 32


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _dumps(value: Any, what: str) -> str:
    """Strict JSON text of ``value``; TypeError naming ``what`` if it is not representable."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{what} must be JSON-serialisable (str, int, float, bool, None, lists and dicts "
            f"with str keys; no NaN or infinity), got {value!r} ({e})"
        ) from e


def _objective(name: str, direction: str) -> Objective:
    """An Objective from a stored row (Objective itself validates the direction)."""
    return Objective(name, cast(Direction, direction))


def _inserted_id(result: CursorResult[Any], table: str) -> int:
    """The primary key of the row a single-row INSERT created."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:  # pragma: no cover - every supported dialect reports it
        raise StorageError(f"the database did not report the id of the new row in {table}")
    return int(key[0])


def _check_id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {value!r}")
    return value


def _check_name(value: Any, what: str, max_length: int = _MAX_NAME_LENGTH) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > max_length:
        raise ValueError(f"{what} must have at most {max_length} characters, got {len(value)}")
    return value


def _check_aware(value: Any, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} must be a timezone-aware datetime (e.g. datetime.now(UTC)), got the "
            f"naive {value.isoformat()}"
        )
    return value


def _check_float(value: Any, what: str) -> float:
    """A real number that SQL can store: int/float, not bool, not NaN (infinities allowed)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a float, got {value!r}")
    result = float(value)
    if math.isnan(result):
        raise ValueError(f"{what} must not be NaN")
    return result


def _check_objective_values(values: Mapping[int, float], what: str) -> dict[int, float]:
    if not isinstance(values, Mapping):
        raise TypeError(f"{what} must be a mapping objective index -> value, got {values!r}")
    checked: dict[int, float] = {}
    for idx, value in values.items():
        _check_id(idx, f"{what}: objective index")
        if idx < 0:
            raise ValueError(f"{what}: objective index must be >= 0, got {idx}")
        checked[idx] = _check_float(value, f"{what}[{idx}]")
    return checked


def _check_results(
    trial_id: int,
    state: TrialState,
    metrics: Mapping[str, float] | None,
    violations: Sequence[float] | None,
    reason: str | None,
) -> tuple[dict[str, float], tuple[float, ...], str | None]:
    """Validate ``finish_trial``'s metrics and violations (as they will be read back)."""
    what = f"finish_trial({trial_id})"
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        _check_name(key, f"{what} metric name")
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


def _attr_rows(attrs: Mapping[str, Any] | None, what: str) -> list[tuple[str, str]]:
    if attrs is None:
        return []
    if not isinstance(attrs, Mapping):
        raise TypeError(f"{what} must be a mapping str -> JSON value, got {attrs!r}")
    return [(_check_name(k, f"{what} key"), _dumps(v, f"{what}[{k!r}]")) for k, v in attrs.items()]


@dataclass(frozen=True, slots=True)
class _PreparedProposal:
    params: list[tuple[str, str]]
    budget: float | None
    info: list[tuple[str, str]]


def _prepare(proposal: Proposal, position: int) -> _PreparedProposal:
    what = f"proposals[{position}]"
    if not isinstance(proposal, Proposal):
        raise TypeError(f"{what} must be a nas.Proposal, got {type(proposal).__name__}")
    budget = proposal.budget
    if budget is not None:
        budget = _check_float(budget, f"{what}.budget")
    return _PreparedProposal(
        params=_attr_rows(proposal.params, f"{what}.params"),
        budget=budget,
        info=_attr_rows(proposal.info, f"{what}.info"),
    )


def _check_indices(n_objectives: int, values: Mapping[int, float], what: str) -> None:
    """Raise ValueError unless every key of ``values`` is an objective index (< n)."""
    bad = sorted(i for i in values if i >= n_objectives)
    if bad:
        raise ValueError(
            f"{what}: objective indices {bad} out of range; the study has "
            f"{n_objectives} objective(s) (indices 0..{n_objectives - 1})"
        )


class RDBStorage:
    """Studies, trials and artifacts in a SQL database; the one storage ``nas`` has.

    Contract:

    * **Thread-safe**: one engine (connection pool) per storage, one connection and one
      transaction per method call. Share one instance between threads; in another *process*,
      create another instance (engines must not cross ``fork``).
    * **Atomic**: every method is one transaction: it happens completely or not at all.
      Transient lock/serialization failures are retried (bounded, jittered backoff).
    * **Snapshots**: returned objects are fresh copies; later writes never change them, and
      mutating them never changes the database.
    * **Time**: every datetime returned is timezone-aware UTC (also on SQLite). Times are taken
      from the clock of the calling process, so workers on several machines need synchronized
      clocks (NTP) for heartbeats to be comparable.
    * **Change tracking**: every write that changes a trial or its children (not a
      heartbeat) stamps the trial's ``updated_at`` (:attr:`~nas.FrozenTrial.datetime_updated`)
      in the same transaction, so a poller can read only what changed:
      ``get_trials(study_id, updated_since=...)`` (see its contract on overlapping cursors).
    * **JSON**: parameter values, attributes, the space and the searcher are stored as strict
      JSON (``json.dumps(..., allow_nan=False)``): ``int``, ``float``, ``str``, ``bool`` and
      ``None`` round-trip exactly; tuples come back as lists.
    * **Objectives** are addressed by index when writing (``values={0: 0.93}``) and keyed by
      name in the :class:`~nas.FrozenTrial` objects returned.
    * **Errors**: a missing study raises :class:`~nas.exceptions.StudyNotFoundError`, a
      missing trial :class:`TrialNotFoundError`, a missing artifact
      :class:`~nas.exceptions.ArtifactNotFoundError` (all ``KeyError``), each naming the id;
      invalid arguments raise ``TypeError``/``ValueError`` before anything is written; any
      database failure raises :class:`~nas.exceptions.StorageError` (password masked in the
      message).

    Args:
        url: SQLAlchemy URL: ``sqlite:///path.db`` (default ``sqlite:///nas.db``),
            ``sqlite://`` (in memory, one process) or ``postgresql+psycopg://user:pw@host/db``.
        engine_kwargs: extra arguments for :func:`sqlalchemy.create_engine`.
        create: create the schema if the database is empty (no table at all).

    Raises:
        SchemaVersionError: the database schema is older (run ``nas db upgrade``), newer
            (upgrade nas) or not a nas schema; or it is empty and ``create`` is false.
        StorageError: the database cannot be reached.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        engine_kwargs: dict[str, Any] | None = None,
        create: bool = True,
    ) -> None:
        self._url = url
        self._masked_url = mask_url(url)
        self._engine = create_storage_engine(url, engine_kwargs=engine_kwargs)
        self._read_engine = readonly_engine(self._engine)
        # In-memory SQLite is a single shared connection: serialize transactions on it.
        self._lock = threading.RLock() if is_memory_sqlite(url) else None
        self._rng = random.Random()  # backoff jitter only; never seeds anything else
        try:
            ensure_schema(self._engine, url, create=create)
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def url(self) -> str:
        """The URL this storage was opened with (password included; use for connecting)."""
        return self._url

    def __repr__(self) -> str:
        return f"RDBStorage({self._masked_url!r})"

    def dispose(self) -> None:
        """Close every pooled connection. The storage reconnects if used again."""
        self._engine.dispose()

    # ----------------------------------------------------------------------------- plumbing

    def _write(self, what: str, fn: Callable[[Connection], T]) -> T:
        return run_transaction(self._engine, fn, what=what, rng=self._rng, lock=self._lock)

    def _read(self, what: str, fn: Callable[[Connection], T]) -> T:
        return run_transaction(self._read_engine, fn, what=what, rng=self._rng, lock=self._lock)

    def _study_missing(self, study_id: int) -> StudyNotFoundError:
        return StudyNotFoundError(f"no study with id {study_id} in {self._masked_url}")

    def _trial_missing(self, trial_id: int) -> TrialNotFoundError:
        return TrialNotFoundError(f"no trial with id {trial_id} in {self._masked_url}")

    def _artifact_missing(self, artifact_id: int) -> ArtifactNotFoundError:
        return ArtifactNotFoundError(f"no artifact with id {artifact_id} in {self._masked_url}")

    def _require_study(self, conn: Connection, study_id: int, *, lock: bool = False) -> int:
        """Check the study exists; return its next_trial_number (row locked if ``lock``).

        The lock is PostgreSQL's ``FOR NO KEY UPDATE``: it serializes writers of the study row
        but not inserts of rows referencing it (foreign key checks take ``KEY SHARE``). SQLite
        ignores it (the whole transaction already holds the write lock).
        """
        query = LOCK_STUDY_COUNTER if lock else SELECT_STUDY_COUNTER
        row = conn.execute(query, {"sid": study_id}).first()
        if row is None:
            raise self._study_missing(study_id)
        return int(row[0])

    def _require_trial(self, conn: Connection, trial_id: int, *, lock: bool = False) -> Any:
        """The row (study_id, state, worker_id) of a trial, locked if ``lock``."""
        query = LOCK_TRIAL_OWNER if lock else SELECT_TRIAL_OWNER
        row = conn.execute(query, {"tid": trial_id}).first()
        if row is None:
            raise self._trial_missing(trial_id)
        return row

    @staticmethod
    def _objectives(conn: Connection, study_id: int) -> tuple[Objective, ...]:
        rows = conn.execute(SELECT_OBJECTIVES, {"sid": study_id}).all()
        return tuple(_objective(name, direction) for name, direction in rows)

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

    # ------------------------------------------------------------------------------ studies

    def create_study(
        self,
        name: str,
        objectives: Sequence[Objective],
        space: dict[str, Any],
        searcher: dict[str, Any],
        seed: int,
        user_attrs: Mapping[str, Any] | None = None,
        constraints: Mapping[str, Any] | None = None,
    ) -> int:
        """Create a study and return its id.

        Args:
            name: unique, 1 to 512 characters.
            objectives: at least one, unique names; their order defines objective indices.
            space: JSON-serialisable space definition (stored verbatim).
            searcher: ``{"name": str, "options": {...}}`` (``options`` may be omitted).
            seed: signed 64-bit integer.
            user_attrs: initial user attributes (JSON values).
            constraints: JSON-serialisable constraints definition (stored verbatim; ``None``
                for an unconstrained study).

        Raises:
            DuplicatedStudyError: a study named ``name`` exists.
            ValueError / TypeError: an invalid argument (nothing is written).
        """
        _check_name(name, "study name")
        objective_tuple = parse_objectives(list(objectives))
        for objective in objective_tuple:
            _check_name(objective.name, "objective name")
        if not isinstance(space, Mapping):
            raise TypeError(f"space must be a dict, got {type(space).__name__}")
        if not isinstance(searcher, Mapping) or not isinstance(searcher.get("name"), str):
            raise ValueError(f"searcher must be a dict with a str 'name', got {searcher!r}")
        if not isinstance(searcher.get("options", {}), Mapping):
            raise ValueError(f"searcher['options'] must be a dict, got {searcher['options']!r}")
        _check_id(seed, "seed")
        if not _INT64_MIN <= seed <= _INT64_MAX:
            raise ValueError(f"seed must fit in a signed 64-bit integer, got {seed}")
        space_json = _dumps(dict(space), "space")
        searcher_json = _dumps(dict(searcher), "searcher")
        if constraints is not None and not isinstance(constraints, Mapping):
            raise TypeError(f"constraints must be a dict or None, got {constraints!r}")
        constraints_json = (
            None if constraints is None else _dumps(dict(constraints), "constraints")
        )
        attrs = _attr_rows(user_attrs, "user_attrs")

        def work(conn: Connection) -> int:
            if conn.execute(select(Study.id).where(Study.name == name)).first() is not None:
                raise DuplicatedStudyError(
                    f"a study named {name!r} already exists in {self._masked_url}"
                )
            now = _utcnow()
            try:
                result = conn.execute(
                    insert(Study).values(
                        name=name,
                        space_json=space_json,
                        searcher_json=searcher_json,
                        seed=seed,
                        next_trial_number=0,
                        created_at=now,
                        updated_at=now,
                        constraints_json=constraints_json,
                    )
                )
            except IntegrityError as e:  # created concurrently since our check (PostgreSQL)
                raise DuplicatedStudyError(
                    f"a study named {name!r} already exists in {self._masked_url}"
                ) from e
            study_id = _inserted_id(result, "studies")
            conn.execute(
                insert(StudyObjective),
                [
                    {"study_id": study_id, "idx": i, "name": o.name, "direction": o.direction}
                    for i, o in enumerate(objective_tuple)
                ],
            )
            if attrs:
                conn.execute(
                    insert(StudyUserAttr),
                    [{"study_id": study_id, "key": k, "value_json": v} for k, v in attrs],
                )
            return study_id

        return self._write(f"create_study({name!r})", work)

    def get_study_id(self, name: str) -> int:
        """The id of the study named ``name``.

        Raises:
            StudyNotFoundError: no such study.
        """

        def work(conn: Connection) -> int:
            study_id = conn.execute(select(Study.id).where(Study.name == name)).scalar()
            if study_id is None:
                raise StudyNotFoundError(f"no study named {name!r} in {self._masked_url}")
            return int(study_id)

        return self._read(f"get_study_id({name!r})", work)

    def get_study(self, study_id: int) -> StudyRecord:
        """A snapshot of the study's definition, user attributes and trial counter.

        Raises:
            StudyNotFoundError: no such study.
        """
        _check_id(study_id, "study_id")

        def work(conn: Connection) -> StudyRecord:
            row = conn.execute(
                select(
                    Study.name,
                    Study.space_json,
                    Study.searcher_json,
                    Study.seed,
                    Study.created_at,
                    Study.next_trial_number,
                    Study.constraints_json,
                ).where(Study.id == study_id)
            ).first()
            if row is None:
                raise self._study_missing(study_id)
            attrs = conn.execute(
                select(StudyUserAttr.key, StudyUserAttr.value_json)
                .where(StudyUserAttr.study_id == study_id)
                .order_by(StudyUserAttr.id)
            ).all()
            return StudyRecord(
                study_id=study_id,
                name=row.name,
                objectives=self._objectives(conn, study_id),
                space=json.loads(row.space_json),
                searcher=json.loads(row.searcher_json),
                seed=int(row.seed),
                user_attrs={k: json.loads(v) for k, v in attrs},
                created_at=row.created_at,
                next_trial_number=int(row.next_trial_number),
                constraints=(
                    None if row.constraints_json is None else json.loads(row.constraints_json)
                ),
            )

        return self._read(f"get_study({study_id})", work)

    def list_studies(self) -> list[StudySummary]:
        """Every study, by id, with its objectives, searcher name, trial counts and the time
        its trials last changed (two queries in all)."""

        def work(conn: Connection) -> list[StudySummary]:
            rows = conn.execute(
                select(
                    Study.id,
                    Study.name,
                    Study.created_at,
                    Study.searcher_json,
                    StudyObjective.name,
                    StudyObjective.direction,
                )
                .select_from(Study)
                .outerjoin(StudyObjective, StudyObjective.study_id == Study.id)
                .order_by(Study.id, StudyObjective.idx)
            ).all()
            counts: dict[int, dict[TrialState, int]] = {}
            last_updates: dict[int, datetime] = {}
            for study_id, state, count, last_update in conn.execute(
                select(
                    Trial.study_id, Trial.state, func.count(), func.max(Trial.updated_at)
                ).group_by(Trial.study_id, Trial.state)
            ):
                counts.setdefault(study_id, {})[STATES_BY_NAME[state]] = int(count)
                if study_id not in last_updates or last_update > last_updates[study_id]:
                    last_updates[study_id] = last_update
            studies: dict[int, tuple[str, datetime, str, list[Objective]]] = {}
            for study_id, name, created_at, searcher_json, obj_name, direction in rows:
                entry = studies.get(study_id)
                if entry is None:
                    searcher = str(json.loads(searcher_json)["name"])
                    entry = studies[study_id] = (name, created_at, searcher, [])
                if obj_name is not None:
                    entry[3].append(_objective(obj_name, direction))
            summaries = []
            for study_id, (name, created_at, searcher, objectives) in studies.items():
                state_counts = {s: counts.get(study_id, {}).get(s, 0) for s in TrialState}
                summaries.append(
                    StudySummary(
                        study_id=study_id,
                        name=name,
                        objectives=tuple(objectives),
                        created_at=created_at,
                        state_counts=state_counts,
                        n_trials=sum(state_counts.values()),
                        last_update=last_updates.get(study_id, created_at),
                        searcher=searcher,
                    )
                )
            return summaries

        return self._read("list_studies()", work)

    def rename_study(self, study_id: int, new_name: str) -> None:
        """Give the study a new unique name; its id, definition and trials stay.

        One UPDATE, which also sets the study's ``updated_at``: whether the name is taken is
        decided by the database's unique constraint inside the transaction, so two concurrent
        renames (or a rename and a :meth:`create_study`) to one name cannot both succeed.
        Renaming a study to its current name succeeds.

        Raises:
            StudyNotFoundError: no such study.
            DuplicatedStudyError: another study is named ``new_name`` (nothing changes).
            ValueError: ``new_name`` is not a 1 to 512 character string.
        """
        _check_id(study_id, "study_id")
        _check_name(new_name, "study name")

        def work(conn: Connection) -> None:
            try:
                result = conn.execute(
                    update(Study)
                    .where(Study.id == study_id)
                    .values(name=new_name, updated_at=_utcnow())
                )
            except IntegrityError as e:  # uq_studies_name: the only constraint it can break
                raise DuplicatedStudyError(
                    f"a study named {new_name!r} already exists in {self._masked_url}"
                ) from e
            if result.rowcount != 1:
                raise self._study_missing(study_id)

        self._write(f"rename_study({study_id}, {new_name!r})", work)

    def delete_study(self, study_id: int) -> None:
        """Delete the study and, by cascade, its objectives, attributes, trials and artifacts.

        Artifact contents stored in the database go with their artifacts (files recorded
        with :meth:`add_artifact` are not touched).

        Raises:
            StudyNotFoundError: no such study.
        """
        _check_id(study_id, "study_id")

        def work(conn: Connection) -> None:
            if conn.execute(delete(Study).where(Study.id == study_id)).rowcount != 1:
                raise self._study_missing(study_id)

        self._write(f"delete_study({study_id})", work)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set (insert or replace) a user attribute of the study.

        Raises:
            StudyNotFoundError: no such study.
            TypeError: ``value`` is not JSON-serialisable.
        """
        _check_id(study_id, "study_id")
        _check_name(key, "attribute key")
        value_json = _dumps(value, f"study user attr {key!r}")

        def work(conn: Connection) -> None:
            self._require_study(conn, study_id, lock=True)
            conn.execute(
                delete(StudyUserAttr).where(
                    StudyUserAttr.study_id == study_id, StudyUserAttr.key == key
                )
            )
            conn.execute(
                insert(StudyUserAttr).values(study_id=study_id, key=key, value_json=value_json)
            )
            conn.execute(update(Study).where(Study.id == study_id).values(updated_at=_utcnow()))

        self._write(f"set_study_user_attr({study_id}, {key!r})", work)

    # ------------------------------------------------------------------------------- leases

    def acquire_lease(
        self,
        study_id: int,
        name: str,
        owner: str,
        ttl: float,
        *,
        take_from: str | None = None,
    ) -> bool:
        """Take or renew the study's lease ``name`` for ``owner`` for ``ttl`` seconds.

        A lease is a mutual-exclusion token for work that one worker should do for the whole
        study (e.g. training its supernet). It is granted when nobody holds it, when it has
        expired, when ``owner`` already holds it (a renewal), or when its holder is
        ``take_from`` (the caller established that this holder is dead). The check and the
        write are one transaction with the study row locked. Stored as the study user attribute
        ``nas.lease.<name>``: ``{"owner": ..., "expires": ISO-8601 UTC}``.

        Returns:
            True if ``owner`` holds the lease now.

        Raises:
            StudyNotFoundError: no such study.
            ValueError: bad name or owner, or ``ttl <= 0``.
        """
        _check_id(study_id, "study_id")
        _check_name(name, "lease name")
        _check_name(owner, "lease owner")
        if not ttl > 0:
            raise ValueError(f"lease ttl must be > 0 seconds, got {ttl!r}")
        key = f"nas.lease.{name}"

        def work(conn: Connection) -> bool:
            self._require_study(conn, study_id, lock=True)
            now = _utcnow()
            current = _lease_value(conn, study_id, key)
            if current is not None:
                holder, expires = current
                if holder not in (owner, take_from) and expires > now:
                    return False
            value = {"owner": owner, "expires": (now + timedelta(seconds=ttl)).isoformat()}
            conn.execute(
                delete(StudyUserAttr).where(
                    StudyUserAttr.study_id == study_id, StudyUserAttr.key == key
                )
            )
            conn.execute(
                insert(StudyUserAttr).values(
                    study_id=study_id, key=key, value_json=_dumps(value, key)
                )
            )
            return True

        return self._write(f"acquire_lease({study_id}, {name!r})", work)

    def release_lease(self, study_id: int, name: str, owner: str) -> bool:
        """Give the lease back if ``owner`` holds it; returns whether it did.

        Raises:
            StudyNotFoundError: no such study.
        """
        _check_id(study_id, "study_id")
        key = f"nas.lease.{name}"

        def work(conn: Connection) -> bool:
            self._require_study(conn, study_id, lock=True)
            current = _lease_value(conn, study_id, key)
            if current is None or current[0] != owner:
                return False
            conn.execute(
                delete(StudyUserAttr).where(
                    StudyUserAttr.study_id == study_id, StudyUserAttr.key == key
                )
            )
            return True

        return self._write(f"release_lease({study_id}, {name!r})", work)

    def get_lease(self, study_id: int, name: str) -> tuple[str, datetime] | None:
        """``(owner, expires)`` of the study's lease ``name``, or ``None`` when nobody ever
        held it or it was released (an expired lease is still returned).

        Raises:
            StudyNotFoundError: no such study.
        """
        _check_id(study_id, "study_id")
        key = f"nas.lease.{name}"

        def work(conn: Connection) -> tuple[str, datetime] | None:
            self._require_study(conn, study_id)
            return _lease_value(conn, study_id, key)

        return self._read(f"get_lease({study_id}, {name!r})", work)

    # ------------------------------------------------------------------------------- trials

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
        _check_id(study_id, "study_id")
        prepared = [_prepare(p, i) for i, p in enumerate(proposals)]
        if expected_next_number is not None:
            _check_id(expected_next_number, "expected_next_number")
        if max_trials is not None:
            _check_id(max_trials, "max_trials")
            if max_trials < 0:
                raise ValueError(f"max_trials must be >= 0, got {max_trials}")
        if claim_worker is not None:
            _check_name(claim_worker, "claim_worker", _MAX_WORKER_ID_LENGTH)

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
            now = _utcnow()
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
            if n == 1:  # the common case: the driver reports the new id, no SELECT needed
                ids = [_inserted_id(conn.execute(INSERT_TRIAL, rows[0]), "trials")]
            else:
                conn.execute(INSERT_TRIAL, rows)
                by_number = dict(
                    conn.execute(
                        SELECT_TRIAL_IDS,
                        {"sid": study_id, "first": next_number, "stop": next_number + n},
                    ).all()
                )
                ids = [by_number[next_number + i] for i in range(n)]
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
            # What was just written, without reading it back: the JSON is decoded from the
            # very text stored, so the objects equal (and are independent of) a later read.
            loads = json.loads
            trials = [
                FrozenTrial(
                    trial_id=trial_id,
                    number=row["number"],
                    state=STATES_BY_NAME[row["state"]],
                    params={k: loads(v) for k, v in p.params},
                    budget=p.budget,
                    system_attrs={k: loads(v) for k, v in p.info},
                    worker_id=row["worker_id"],
                    datetime_created=now,
                    datetime_start=row["started_at"],
                    heartbeat=row["heartbeat_at"],
                    datetime_updated=now,
                )
                for trial_id, row, p in zip(ids, rows, kept, strict=True)
            ]
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
        _check_id(study_id, "study_id")
        _check_name(worker_id, "worker_id", _MAX_WORKER_ID_LENGTH)

        def work(conn: Connection) -> FrozenTrial | None:
            for _ in range(_CLAIM_ROUNDS):
                candidates = conn.execute(SELECT_CLAIM_CANDIDATES, {"sid": study_id}).all()
                if not candidates:
                    self._require_study(conn, study_id)
                    return None
                for (trial_id,) in candidates:
                    result = conn.execute(
                        CLAIM_TRIAL, {"tid": trial_id, "p_worker": worker_id, "p_now": _utcnow()}
                    )
                    if result.rowcount == 1:
                        return self._load_trial(conn, trial_id)
            raise StorageError(
                f"claim_waiting_trial(study {study_id}): lost the race for "
                f"{CLAIM_BATCH * _CLAIM_ROUNDS} WAITING trials to concurrent workers"
            )

        return self._write(f"claim_waiting_trial(study {study_id})", work)

    def running_trials(self, study_id: int) -> list[tuple[int, str | None, datetime | None]]:
        """``(trial_id, worker_id, heartbeat_at)`` of every RUNNING trial, by number.

        Raises:
            StudyNotFoundError: no such study.
        """
        _check_id(study_id, "study_id")

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
        _check_id(trial_id, "trial_id")
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
            if conn.execute(query, {**params, "p_now": _utcnow()}).rowcount != 1:
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
        _check_id(trial_id, "trial_id")
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
        _check_id(trial_id, "trial_id")

        def work(conn: Connection) -> bool:
            params = {"tid": trial_id, "p_worker": worker_id, "p_now": _utcnow()}
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
        _check_id(trial_id, "trial_id")
        _check_id(step, "step")
        if not _INT64_MIN <= step <= _INT64_MAX:
            raise ValueError(f"step must fit in a signed 64-bit integer, got {step}")
        checked = _check_objective_values(values, f"report(trial {trial_id}, step {step})")

        def work(conn: Connection) -> None:
            touch = {"tid": trial_id, "p_now": _utcnow()}
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
        _check_id(trial_id, "trial_id")
        _check_name(key, "attribute key")
        value_json = _dumps(value, f"trial user attr {key!r}")

        def work(conn: Connection) -> None:
            # Marks the trial changed and locks its row; no row: no such trial.
            if conn.execute(TOUCH_TRIAL, {"tid": trial_id, "p_now": _utcnow()}).rowcount != 1:
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
        _check_id(trial_id, "trial_id")
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
            trial_id, final, metrics, constraint_values, infeasible_reason
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
            now = _utcnow()
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
            return FrozenTrial(
                trial_id=trial_id,
                number=row.number,
                state=final,
                params=children.params,
                budget=row.budget,
                values=children.values,
                intermediate_values=children.intermediate,
                user_attrs=children.user_attrs,
                system_attrs=children.system_attrs,
                failure_reason=failure_reason,
                worker_id=row.worker_id,
                datetime_created=row.created_at,
                datetime_start=row.started_at,
                datetime_complete=now,
                heartbeat=row.heartbeat_at,
                restarts=row.restarts,
                datetime_updated=now,
                metrics=metrics_out,
                constraint_values=violations,
                infeasible_reason=reason if violations else None,
            )

        return self._write(f"finish_trial({trial_id})", work)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        """A snapshot of one trial.

        Raises:
            TrialNotFoundError: no such trial.
        """
        _check_id(trial_id, "trial_id")
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
        _check_id(study_id, "study_id")
        _check_id(min_number, "min_number")
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
        _check_id(study_id, "study_id")

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

    # ---------------------------------------------------------------------------- artifacts

    def add_artifact(
        self,
        study_id: int,
        kind: str,
        path: str,
        sha256: str,
        size: int,
        trial_id: int | None = None,
    ) -> int:
        """Record a file of the study (or of one of its trials); return the artifact id.

        Only the record is written: the content stays wherever ``path`` points, and
        :meth:`read_artifact` refuses it (use :meth:`store_artifact` to keep the content in
        the database).

        Args:
            study_id: the study.
            kind: category, 1 to 64 characters.
            path: where the file is; the storage does not check it.
            sha256: lowercase hex digest, 64 characters.
            size: bytes, >= 0.
            trial_id: the trial it belongs to, or ``None`` for a study-level artifact.

        Raises:
            StudyNotFoundError / TrialNotFoundError: no such study / trial.
            ValueError: bad digest, negative size, or the trial belongs to another study.
        """
        _check_id(study_id, "study_id")
        _check_name(kind, "artifact kind", _MAX_KIND_LENGTH)
        if not isinstance(path, str) or not path:
            raise ValueError(f"artifact path must be a non-empty string, got {path!r}")
        if not isinstance(sha256, str) or _SHA256_RE.fullmatch(sha256) is None:
            raise ValueError(f"sha256 must be 64 lowercase hex characters, got {sha256!r}")
        _check_id(size, "artifact size")
        if size < 0:
            raise ValueError(f"artifact size must be >= 0 bytes, got {size}")
        if trial_id is not None:
            _check_id(trial_id, "trial_id")

        def work(conn: Connection) -> int:
            return self._insert_artifact(conn, study_id, trial_id, kind, path, sha256, size)

        return self._write(f"add_artifact(study {study_id})", work)

    def _insert_artifact(
        self,
        conn: Connection,
        study_id: int,
        trial_id: int | None,
        kind: str,
        path: str,
        sha256: str,
        size: int,
    ) -> int:
        """Insert an ``artifacts`` row after checking the study, the trial and its owner."""
        self._require_study(conn, study_id)
        if trial_id is not None:
            owner = self._require_trial(conn, trial_id).study_id
            if owner != study_id:
                raise ValueError(
                    f"trial {trial_id} belongs to study {owner}, not to study {study_id}"
                )
        result = conn.execute(
            insert(Artifact).values(
                study_id=study_id,
                trial_id=trial_id,
                kind=kind,
                path=path,
                sha256=sha256,
                size=size,
                created_at=_utcnow(),
            )
        )
        return _inserted_id(result, "artifacts")

    def store_artifact(
        self,
        study_id: int,
        kind: str,
        name: str,
        data: bytes,
        trial_id: int | None = None,
    ) -> int:
        """Store ``data`` in the database as an artifact of the study (or of one of its trials).

        The ``artifacts`` row gets ``path=name``, and the SHA-256 and size of ``data``; the
        content goes to ``artifact_blobs``. Row and content are written in one transaction: a
        crash leaves both or neither. Any worker that can reach the database can then read the
        content with :meth:`read_artifact`. Storing the same name twice makes two artifacts.

        The whole content travels in one statement and is held in memory; the database bounds
        its size (PostgreSQL: 1 GB; SQLite: 1 GB by default; MySQL/MariaDB:
        ``max_allowed_packet``), and a larger one raises :class:`StorageError`.

        Args:
            study_id: the study.
            kind: category, 1 to 64 characters, e.g. ``"checkpoint"``.
            name: logical name, a non-empty string, e.g.
                ``"supernet/3f2a.../epoch-0004.pt"``; stored as the artifact's ``path``.
            data: the content: ``bytes``, ``bytearray`` or ``memoryview`` (may be empty).
            trial_id: the trial it belongs to, or ``None`` for a study-level artifact.

        Returns:
            The artifact id.

        Raises:
            StudyNotFoundError / TrialNotFoundError: no such study / trial.
            ValueError: bad kind or name, ``data`` not bytes-like, or the trial belongs to
                another study (nothing is written).
        """
        _check_id(study_id, "study_id")
        _check_name(kind, "artifact kind", _MAX_KIND_LENGTH)
        if not isinstance(name, str) or not name:
            raise ValueError(f"artifact name must be a non-empty string, got {name!r}")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(
                "artifact data must be bytes-like (bytes, bytearray or memoryview), got "
                f"{type(data).__name__}"
            )
        if trial_id is not None:
            _check_id(trial_id, "trial_id")
        content = bytes(data)  # immutable: a bytearray mutated later cannot change the hash
        sha256 = hashlib.sha256(content).hexdigest()

        def work(conn: Connection) -> int:
            artifact_id = self._insert_artifact(
                conn, study_id, trial_id, kind, name, sha256, len(content)
            )
            conn.execute(insert(ArtifactBlob).values(artifact_id=artifact_id, data=content))
            return artifact_id

        return self._write(f"store_artifact(study {study_id}, {name!r})", work)

    def read_artifact(self, artifact_id: int) -> bytes:
        """The content of an artifact stored with :meth:`store_artifact`.

        The content is checked against the SHA-256 and size recorded when it was stored.

        Raises:
            ArtifactNotFoundError: no such artifact, or the artifact has no content in the
                database (it was recorded with :meth:`add_artifact`: read the file at its
                path instead).
            StorageError: the stored content does not match its recorded SHA-256 or size
                (corrupted database).
        """
        _check_id(artifact_id, "artifact_id")

        def work(conn: Connection) -> tuple[str, str, int, bytes | None]:
            row = conn.execute(
                select(Artifact.path, Artifact.sha256, Artifact.size, ArtifactBlob.data)
                .select_from(Artifact)
                .outerjoin(ArtifactBlob, ArtifactBlob.artifact_id == Artifact.id)
                .where(Artifact.id == artifact_id)
            ).first()
            if row is None:
                raise self._artifact_missing(artifact_id)
            path, digest, size, data = row
            return path, digest, int(size), None if data is None else bytes(data)

        path, digest, size, data = self._read(f"read_artifact({artifact_id})", work)
        if data is None:
            raise ArtifactNotFoundError(
                f"artifact {artifact_id} has no content stored in {self._masked_url}: it was "
                f"recorded with add_artifact (path only); its file is at {path!r}"
            )
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest or len(data) != size:
            raise StorageError(
                f"artifact {artifact_id} ({path!r}) in {self._masked_url} is corrupted: its "
                f"stored content has {len(data)} bytes with sha256 {actual}, but {size} bytes "
                f"with sha256 {digest} were recorded"
            )
        return data

    def delete_artifact(self, artifact_id: int) -> None:
        """Delete the artifact row and its content stored in the database, if any.

        A file recorded with :meth:`add_artifact` is not touched, only its record.

        Raises:
            ArtifactNotFoundError: no such artifact.
        """
        _check_id(artifact_id, "artifact_id")

        def work(conn: Connection) -> None:
            # Explicit, not only ON DELETE CASCADE: also right where foreign keys are off.
            conn.execute(delete(ArtifactBlob).where(ArtifactBlob.artifact_id == artifact_id))
            if conn.execute(delete(Artifact).where(Artifact.id == artifact_id)).rowcount != 1:
                raise self._artifact_missing(artifact_id)

        self._write(f"delete_artifact({artifact_id})", work)

    def get_artifacts(
        self, study_id: int, trial_id: int | None = None, *, kind: str | None = None
    ) -> list[ArtifactRecord]:
        """The study's artifacts in insertion order, without their contents.

        Args:
            study_id: the study.
            trial_id: only this trial's artifacts; ``None`` for all (study- and trial-level).
            kind: only artifacts of this kind; ``None`` for every kind.

        Raises:
            StudyNotFoundError: no such study.
            ValueError: ``kind`` is not a 1 to 64 character string.
        """
        _check_id(study_id, "study_id")
        if trial_id is not None:
            _check_id(trial_id, "trial_id")
        if kind is not None:
            _check_name(kind, "artifact kind", _MAX_KIND_LENGTH)

        def work(conn: Connection) -> list[ArtifactRecord]:
            self._require_study(conn, study_id)
            query = select(
                Artifact.id,
                Artifact.trial_id,
                Artifact.kind,
                Artifact.path,
                Artifact.sha256,
                Artifact.size,
                Artifact.created_at,
                ArtifactBlob.artifact_id.is_not(None),  # only the key: contents stay unread
            )
            query = (
                query.select_from(Artifact)
                .outerjoin(ArtifactBlob, ArtifactBlob.artifact_id == Artifact.id)
                .where(Artifact.study_id == study_id)
            )
            if trial_id is not None:
                query = query.where(Artifact.trial_id == trial_id)
            if kind is not None:
                query = query.where(Artifact.kind == kind)
            return [
                ArtifactRecord(
                    artifact_id=int(a_id),
                    study_id=study_id,
                    trial_id=t_id,
                    kind=a_kind,
                    path=path,
                    sha256=digest,
                    size=int(size),
                    created_at=created_at,
                    stored=bool(stored),
                )
                for a_id, t_id, a_kind, path, digest, size, created_at, stored in conn.execute(
                    query.order_by(Artifact.id)
                )
            ]

        return self._read(f"get_artifacts(study {study_id})", work)


def _lease_value(conn: Connection, study_id: int, key: str) -> tuple[str, datetime] | None:
    """The lease stored under ``key``: ``(owner, expires)``; a malformed value counts as
    expired (anyone may take it)."""
    raw = conn.execute(
        select(StudyUserAttr.value_json).where(
            StudyUserAttr.study_id == study_id, StudyUserAttr.key == key
        )
    ).scalar()
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        expires = datetime.fromisoformat(value["expires"])
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return str(value["owner"]), expires
    except (ValueError, KeyError, TypeError):
        return "", datetime.min.replace(tzinfo=UTC)


def get_storage(url_or_storage: str | RDBStorage) -> RDBStorage:
    """Return ``url_or_storage`` itself if it is a storage, else open ``RDBStorage(url)``.

    Nothing is cached: each URL call opens a new storage (and connection pool).

    Raises:
        TypeError: neither a str nor an RDBStorage.
        SchemaVersionError / StorageError: see :class:`RDBStorage`.
    """
    if isinstance(url_or_storage, RDBStorage):
        return url_or_storage
    if isinstance(url_or_storage, str):
        return RDBStorage(url_or_storage)
    raise TypeError(
        f"storage must be a URL string or an RDBStorage, got {type(url_or_storage).__name__}"
    )
