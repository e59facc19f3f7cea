"""Engine settings (SQLite pragmas, BEGIN IMMEDIATE), retries and error translation."""

from __future__ import annotations

import random
import sqlite3
import threading
import time

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from nas._types import Objective, Proposal
from nas.exceptions import NasError, StorageError, StudyNotFoundError
from nas.storage import RDBStorage, get_storage, mask_url
from nas.storage._engine import (
    create_storage_engine,
    is_disconnect,
    is_memory_sqlite,
    is_retryable,
    outage_seconds,
    readonly_engine,
    run_transaction,
)


def _locked() -> OperationalError:
    return OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))


def test_sqlite_pragmas(sqlite_url: str) -> None:
    engine = create_storage_engine(sqlite_url)
    with engine.connect() as connection:
        values = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
    # synchronous 1 = NORMAL
    assert values == {
        "journal_mode": "wal",
        "synchronous": 1,
        "busy_timeout": 30_000,
        "foreign_keys": 1,
    }
    engine.dispose()
    no_fk = create_storage_engine(sqlite_url, foreign_keys=False)
    with no_fk.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
    no_fk.dispose()


def test_write_transactions_take_the_lock_up_front(sqlite_url: str) -> None:
    """BEGIN IMMEDIATE: a second writer cannot even begin while the first is open."""
    engine = create_storage_engine(sqlite_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("PRAGMA busy_timeout = 0")
    with engine.begin() as connection:
        connection.exec_driver_sql("SELECT 1")  # no write yet, but the lock is already held
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        # Readers are not blocked (WAL), and the read-only view begins a plain BEGIN.
        assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)
    other.execute("BEGIN IMMEDIATE")  # released at commit
    other.execute("ROLLBACK")
    with readonly_engine(engine).begin() as reader:
        reader.exec_driver_sql("SELECT 1")
        other.execute("BEGIN IMMEDIATE")  # a read transaction does not hold the write lock
        other.execute("ROLLBACK")
    other.close()
    engine.dispose()


def test_run_transaction_retries_transient_errors_then_commits(sqlite_url: str) -> None:
    engine = create_storage_engine(sqlite_url)
    calls = []

    def work(connection):
        calls.append(1)
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        connection.exec_driver_sql(f"INSERT INTO t VALUES ({len(calls)})")
        if len(calls) < 3:
            raise _locked()
        return "done"

    assert run_transaction(engine, work, what="test", rng=random.Random(0)) == "done"
    assert len(calls) == 3
    with engine.connect() as connection:  # the failed attempts were rolled back
        assert connection.exec_driver_sql("SELECT x FROM t").scalars().all() == [3]
    engine.dispose()


def test_run_transaction_gives_up_after_max_attempts(sqlite_url: str) -> None:
    engine = create_storage_engine(sqlite_url)
    calls = []

    def always_locked(connection):
        calls.append(1)
        raise _locked()

    with pytest.raises(StorageError, match="after 3 attempts") as info:
        run_transaction(engine, always_locked, what="w", rng=random.Random(0), max_attempts=3)
    assert len(calls) == 3
    assert isinstance(info.value.__cause__, OperationalError)
    engine.dispose()


def test_run_transaction_does_not_retry_other_errors(sqlite_url: str) -> None:
    engine = create_storage_engine(sqlite_url)
    calls = []

    def integrity(connection):
        calls.append(1)
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))

    with pytest.raises(StorageError, match=r"insert row failed on sqlite.*UNIQUE"):
        run_transaction(engine, integrity, what="insert row", rng=random.Random(0))

    def deliberate(connection):
        calls.append(1)
        raise StudyNotFoundError("no study 3")

    with pytest.raises(StudyNotFoundError):  # NasError passes through unchanged
        run_transaction(engine, deliberate, what="x", rng=random.Random(0))
    assert len(calls) == 2
    engine.dispose()


def test_is_retryable() -> None:
    assert is_retryable(_locked())
    serialization = OperationalError("x", {}, Exception("could not serialize access"))
    assert is_retryable(serialization)
    assert not is_retryable(OperationalError("x", {}, Exception("no such table: t")))
    assert not is_retryable(ValueError("database is locked"))


def _dropped() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def test_is_disconnect() -> None:
    assert is_disconnect(_dropped())
    refused = OperationalError("x", {}, Exception('connection to server at "h" failed: '
                                                  "Connection refused"))  # fmt: skip
    assert is_disconnect(refused)
    assert not is_disconnect(_locked())
    assert not is_disconnect(OperationalError("x", {}, Exception("no such table: t")))
    assert not is_disconnect(ValueError("server closed the connection"))


def test_lost_connections_are_retried_within_the_outage_budget(sqlite_url, monkeypatch) -> None:
    monkeypatch.setattr("nas.storage._engine._OUTAGE_BACKOFF_MAX_S", 0.02)  # keep it quick
    engine = create_storage_engine(sqlite_url)
    calls = []

    def flaky(connection):
        calls.append(1)
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        connection.exec_driver_sql(f"INSERT INTO t VALUES ({len(calls)})")
        if len(calls) <= 12:  # more failures than MAX_ATTEMPTS: the outage budget rules
            raise _dropped()
        return "back"

    assert run_transaction(engine, flaky, what="w", rng=random.Random(0), outage=30) == "back"
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT x FROM t").scalars().all() == [13]

    def down(connection):
        raise _dropped()

    started = time.monotonic()
    with pytest.raises(StorageError, match=r"w: lost the database at .* for more than 0.4 s"):
        run_transaction(engine, down, what="w", rng=random.Random(0), outage=0.4)
    assert 0.3 < time.monotonic() - started < 3.0
    engine.dispose()


def test_outage_budget_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("NAS_DB_OUTAGE_SECONDS", "2.5")
    assert outage_seconds() == 2.5
    monkeypatch.setenv("NAS_DB_OUTAGE_SECONDS", "soon")
    assert outage_seconds() == 60.0
    monkeypatch.delenv("NAS_DB_OUTAGE_SECONDS")
    assert outage_seconds() == 60.0


def test_mask_url_and_memory_detection() -> None:
    assert (
        mask_url("postgresql+psycopg://u:pw@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    )
    assert mask_url("sqlite:///nas.db") == "sqlite:///nas.db"
    assert is_memory_sqlite("sqlite://") and is_memory_sqlite("sqlite:///:memory:")
    assert is_memory_sqlite("sqlite:///file:mem?mode=memory&cache=shared&uri=true")
    assert not is_memory_sqlite("sqlite:///nas.db")
    assert not is_memory_sqlite("postgresql+psycopg://h/db")


def test_in_memory_storage_is_shared_and_thread_safe() -> None:
    storage = RDBStorage("sqlite://")
    study_id = storage.create_study("m", [Objective("y", "minimize")], {}, {"name": "r"}, 0)
    errors: list[BaseException] = []

    def add() -> None:
        try:
            for _ in range(10):
                storage.add_trials(study_id, [Proposal({"x": 1})])
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [t.number for t in storage.get_trials(study_id)] == list(range(40))
    storage.dispose()


def test_get_storage_passes_instances_through(sqlite_url: str) -> None:
    storage = get_storage(sqlite_url)
    assert isinstance(storage, RDBStorage) and storage.url == sqlite_url
    assert get_storage(storage) is storage
    other = get_storage(sqlite_url)
    assert other is not storage  # nothing is cached
    with pytest.raises(TypeError):
        get_storage(42)  # type: ignore[arg-type]
    storage.dispose()
    other.dispose()


def test_storage_errors_are_nas_errors() -> None:
    assert issubclass(StorageError, NasError)
