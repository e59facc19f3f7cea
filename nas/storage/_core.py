"""What the storage's aggregates share: the transaction plumbing, the clock, the existence
checks, and the argument checks and strict JSON encoding of more than one aggregate.

:class:`StorageCore` is the base of :class:`~nas.storage.RDBStorage` and of its operation
mixins (``_trials.TrialsMixin``, ``_artifacts.ArtifactsMixin``, ``_leases.LeasesMixin``): each
public method validates its arguments, then runs one closure in one transaction through
:meth:`StorageCore._write` or :meth:`StorageCore._read`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, CursorResult, Engine

from nas.exceptions import StorageError, StudyNotFoundError
from nas.storage._engine import run_transaction
from nas.storage._queries import (
    LOCK_STUDY_COUNTER,
    LOCK_TRIAL_OWNER,
    SELECT_STUDY_COUNTER,
    SELECT_TRIAL_OWNER,
)
from nas.storage._records import TrialNotFoundError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_NAME_LENGTH",
    "StorageCore",
    "attr_rows",
    "check_id",
    "check_name",
    "dumps",
    "inserted_id",
]

T = TypeVar("T")

MAX_NAME_LENGTH = 512  # String(512) columns: study, objective, param and attribute names.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _utcnow() -> datetime:
    """The storage's clock: every time it writes is read here (tests replace it)."""
    return datetime.now(UTC)


class StorageCore:
    """The state and plumbing that every group of storage operations uses.

    The attributes are set by ``RDBStorage.__init__``; this class only declares them.

    Attributes:
        _url: the URL the storage was opened with (password included).
        _masked_url: the same with the password masked, for messages.
        _engine: the read-write engine (connection pool).
        _read_engine: a read-only view of ``_engine`` for the read methods.
        _lock: held around each transaction on in-memory SQLite (one shared connection);
            ``None`` elsewhere.
        _rng: backoff jitter only; never seeds anything else.
    """

    _url: str
    _masked_url: str
    _engine: Engine
    _read_engine: Engine
    _lock: AbstractContextManager[Any] | None
    _rng: random.Random

    def _write(self, what: str, fn: Callable[[Connection], T]) -> T:
        """``fn(connection)`` in one read-write transaction, retried on transient failures
        (:func:`~nas.storage._engine.run_transaction`; ``what`` names it in errors)."""
        return run_transaction(self._engine, fn, what=what, rng=self._rng, lock=self._lock)

    def _read(self, what: str, fn: Callable[[Connection], T]) -> T:
        """Like :meth:`_write`, in a read-only transaction (one snapshot)."""
        return run_transaction(self._read_engine, fn, what=what, rng=self._rng, lock=self._lock)

    @staticmethod
    def _now() -> datetime:
        """The current time, aware UTC: the time every write stamps."""
        return _utcnow()

    def _study_missing(self, study_id: int) -> StudyNotFoundError:
        return StudyNotFoundError(f"no study with id {study_id} in {self._masked_url}")

    def _trial_missing(self, trial_id: int) -> TrialNotFoundError:
        return TrialNotFoundError(f"no trial with id {trial_id} in {self._masked_url}")

    def _require_study(self, conn: Connection, study_id: int, *, lock: bool = False) -> int:
        """Check the study exists; return its next_trial_number (row locked if ``lock``).

        The lock is PostgreSQL's ``FOR NO KEY UPDATE``: it serializes writers of the study row
        but not inserts of rows referencing it (foreign key checks take ``KEY SHARE``). SQLite
        ignores it (the whole transaction already holds the write lock).

        Raises:
            StudyNotFoundError: no such study.
        """
        query = LOCK_STUDY_COUNTER if lock else SELECT_STUDY_COUNTER
        row = conn.execute(query, {"sid": study_id}).first()
        if row is None:
            raise self._study_missing(study_id)
        return int(row[0])

    def _require_trial(self, conn: Connection, trial_id: int, *, lock: bool = False) -> Any:
        """The row ``(study_id, state, worker_id)`` of a trial, locked if ``lock``.

        Raises:
            TrialNotFoundError: no such trial.
        """
        query = LOCK_TRIAL_OWNER if lock else SELECT_TRIAL_OWNER
        row = conn.execute(query, {"tid": trial_id}).first()
        if row is None:
            raise self._trial_missing(trial_id)
        return row


def dumps(value: Any, what: str) -> str:
    """Strict JSON text of ``value``.

    Raises:
        TypeError: ``value`` is not representable in strict JSON (names ``what``).
    """
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{what} must be JSON-serialisable (str, int, float, bool, None, lists and dicts "
            f"with str keys; no NaN or infinity), got {value!r} ({e})"
        ) from e


def inserted_id(result: CursorResult[Any], table: str) -> int:
    """The primary key of the row a single-row INSERT into ``table`` created."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:  # pragma: no cover - every supported dialect reports it
        raise StorageError(f"the database did not report the id of the new row in {table}")
    return int(key[0])


def check_id(value: Any, what: str) -> int:
    """``value`` if it is an int (not a bool).

    Raises:
        TypeError: it is not.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {value!r}")
    return value


def check_name(value: Any, what: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """``value`` if it is a non-empty string of at most ``max_length`` characters.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > max_length:
        raise ValueError(f"{what} must have at most {max_length} characters, got {len(value)}")
    return value


def attr_rows(attrs: Mapping[str, Any] | None, what: str) -> list[tuple[str, str]]:
    """``(key, JSON text)`` of every item of ``attrs`` (``None``: no item), in order.

    Raises:
        TypeError: ``attrs`` is not a mapping, or a value is not strict JSON.
        ValueError: a key is not a valid name (:func:`check_name`).
    """
    if attrs is None:
        return []
    if not isinstance(attrs, Mapping):
        raise TypeError(f"{what} must be a mapping str -> JSON value, got {attrs!r}")
    return [(check_name(k, f"{what} key"), dumps(v, f"{what}[{k!r}]")) for k, v in attrs.items()]
