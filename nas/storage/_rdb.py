"""RDBStorage: studies, trials and artifacts persisted in a SQL database (SQLite or PostgreSQL).

The storage knows no algorithm. It does create/read/update/delete on studies, trials and
artifacts addressed by integer ids, and it provides the few atomic operations a distributed
study needs: numbering new trials without gaps or duplicates, claiming a WAITING trial,
re-queueing the trial of a dead worker, and finishing a trial only once.

:class:`RDBStorage` is the facade and states the contract; it holds the connection lifecycle
and the study operations, and inherits the operations of the other aggregates from their
modules: ``_trials`` (trials and their children), ``_imports`` (trials inserted with their
outcome: imported results, copied studies), ``_artifacts`` (artifacts and their stored
contents) and ``_leases`` (study leases). The SQL is in ``_queries``, the decoding of rows
into the returned objects in ``_records``, the shared plumbing in ``_core``.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from nas._types import Objective, TrialState, parse_objectives
from nas.exceptions import DuplicatedStudyError, StudyNotFoundError
from nas.storage._artifacts import ArtifactsMixin
from nas.storage._core import (
    INT64_MAX,
    INT64_MIN,
    attr_rows,
    check_id,
    check_name,
    dumps,
    inserted_id,
)
from nas.storage._engine import (
    DEFAULT_URL,
    create_storage_engine,
    is_memory_sqlite,
    mask_url,
    readonly_engine,
)
from nas.storage._imports import ImportsMixin
from nas.storage._leases import LeasesMixin
from nas.storage._models import Study, StudyObjective, StudyUserAttr, Trial
from nas.storage._queries import SELECT_OBJECTIVES
from nas.storage._records import (
    STATES_BY_NAME,
    StudyRecord,
    StudySummary,
    stored_objective,
)
from nas.storage._schema import ensure_schema
from nas.storage._trials import TrialsMixin

__all__ = ["RDBStorage", "get_storage"]


class RDBStorage(TrialsMixin, ImportsMixin, ArtifactsMixin, LeasesMixin):
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

    @staticmethod
    def _objectives(conn: Connection, study_id: int) -> tuple[Objective, ...]:
        """The study's objectives, by index."""
        rows = conn.execute(SELECT_OBJECTIVES, {"sid": study_id}).all()
        return tuple(stored_objective(name, direction) for name, direction in rows)

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
        check_name(name, "study name")
        objective_tuple = parse_objectives(list(objectives))
        for objective in objective_tuple:
            check_name(objective.name, "objective name")
        if not isinstance(space, Mapping):
            raise TypeError(f"space must be a dict, got {type(space).__name__}")
        if not isinstance(searcher, Mapping) or not isinstance(searcher.get("name"), str):
            raise ValueError(f"searcher must be a dict with a str 'name', got {searcher!r}")
        if not isinstance(searcher.get("options", {}), Mapping):
            raise ValueError(f"searcher['options'] must be a dict, got {searcher['options']!r}")
        check_id(seed, "seed")
        if not INT64_MIN <= seed <= INT64_MAX:
            raise ValueError(f"seed must fit in a signed 64-bit integer, got {seed}")
        space_json = dumps(dict(space), "space")
        searcher_json = dumps(dict(searcher), "searcher")
        if constraints is not None and not isinstance(constraints, Mapping):
            raise TypeError(f"constraints must be a dict or None, got {constraints!r}")
        constraints_json = None if constraints is None else dumps(dict(constraints), "constraints")
        attrs = attr_rows(user_attrs, "user_attrs")

        def work(conn: Connection) -> int:
            if conn.execute(select(Study.id).where(Study.name == name)).first() is not None:
                raise DuplicatedStudyError(
                    f"a study named {name!r} already exists in {self._masked_url}"
                )
            now = self._now()
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
            study_id = inserted_id(result, "studies")
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
        check_id(study_id, "study_id")

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
                    entry[3].append(stored_objective(obj_name, direction))
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
        check_id(study_id, "study_id")
        check_name(new_name, "study name")

        def work(conn: Connection) -> None:
            try:
                result = conn.execute(
                    update(Study)
                    .where(Study.id == study_id)
                    .values(name=new_name, updated_at=self._now())
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
        check_id(study_id, "study_id")

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
        check_id(study_id, "study_id")
        check_name(key, "attribute key")
        value_json = dumps(value, f"study user attr {key!r}")

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
            conn.execute(update(Study).where(Study.id == study_id).values(updated_at=self._now()))

        self._write(f"set_study_user_attr({study_id}, {key!r})", work)


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
