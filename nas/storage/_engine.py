"""Storage URL -> SQLAlchemy engine, with the connection settings ``nas`` relies on.

SQLite (the default, ``sqlite:///nas.db``):

* ``journal_mode=WAL``: readers never block the writer and the writer never blocks readers;
* ``synchronous=NORMAL``: in WAL mode a commit is durable against a crash of the *process*
  (SIGKILL, OOM killer): the committed frames are in the WAL file in the OS page cache, and the
  next opener replays them. Only an OS crash or power loss may lose the last few commits (never
  corrupt the file) - the right trade-off for a study database, and much faster than ``FULL``;
* ``busy_timeout=30000`` ms: a writer waits up to 30 s for the lock instead of failing at once;
* ``foreign_keys=ON``: needed for ``ON DELETE CASCADE``;
* write transactions begin with ``BEGIN IMMEDIATE``: the write lock is taken up front, so
  concurrent writers queue on ``busy_timeout`` instead of failing with "database is locked"
  when two deferred transactions both try to upgrade their read lock. Read-only transactions
  use a plain (deferred) ``BEGIN``, which in WAL mode gives a consistent snapshot.

PostgreSQL (``postgresql+psycopg://user:pass@host/db``, psycopg 3): ``pool_pre_ping`` so a pooled
connection dropped by the server is replaced transparently. Write transactions run at
READ COMMITTED with explicit row locks; read-only transactions run at REPEATABLE READ so the
several SELECTs of one call see one snapshot.

Other dialects are passed through to SQLAlchemy untested.

:func:`run_transaction` runs a function in one transaction, retries it a bounded number of times
on transient lock/serialization errors with jittered exponential backoff, retries it for up to
an *outage budget* (default 60 s, env ``NAS_DB_OUTAGE_SECONDS``) when the connection to the
database is lost or refused (server restart, network cut, an administrator terminating
backends), and turns any other SQLAlchemy error into :class:`nas.exceptions.StorageError`.

Retrying after a lost connection is safe for every ``nas`` write because each one is atomic and
either idempotent or guarded by a compare-and-swap: when a commit went through but its
acknowledgement was lost, the retry finds the changed state (a stale history, a trial no longer
RUNNING for the worker, an existing study) and the caller reacts as if another worker had done
it; a trial claimed by a commit whose reply was lost is re-queued by its own worker
(:func:`nas.study._optimize.requeue_dead_trials`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from nas.exceptions import NasError, StorageError
from nas.storage._url import DEFAULT_URL

__all__ = [
    "DEFAULT_OUTAGE_SECONDS",
    "DEFAULT_URL",
    "MAX_ATTEMPTS",
    "READONLY_OPTION",
    "check_connection",
    "create_storage_engine",
    "is_disconnect",
    "is_memory_sqlite",
    "is_retryable",
    "mask_url",
    "outage_seconds",
    "parse_url",
    "readonly_engine",
    "run_transaction",
    "translate_error",
]

T = TypeVar("T")

#: Execution option marking a read-only engine: plain ``BEGIN`` on SQLite, REPEATABLE READ on
#: PostgreSQL.
READONLY_OPTION = "nas_readonly"

#: How many times :func:`run_transaction` tries a transaction before giving up.
MAX_ATTEMPTS = 8

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_BACKOFF_BASE_S = 0.02
_BACKOFF_MAX_S = 1.0

# Substrings of driver messages that mean "the transaction was rolled back because of a
# concurrent one; running it again will most likely succeed".
_RETRYABLE_MESSAGES = (
    "database is locked",
    "database table is locked",
    "database schema has changed",
    "could not serialize access",
    "deadlock detected",
    "lock wait timeout exceeded",
    "deadlock found",
)
# SQLSTATE codes: serialization_failure, deadlock_detected.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# Substrings of driver messages that mean "the connection to the server is gone or refused".
_DISCONNECT_MESSAGES = (
    "server closed the connection",
    "terminating connection",
    "connection refused",
    "could not connect",
    "connection is closed",
    "connection already closed",
    "consuming input failed",
    "server conn crashed",
    "connection timed out",
    "connection reset",
    "no connection to the server",
    "the database system is starting up",
    "the database system is shutting down",
    "lost connection",
    "gone away",
    "is not currently accepting connections",
)
#: Seconds a transaction keeps being retried while the database is unreachable.
DEFAULT_OUTAGE_SECONDS = 60.0
_OUTAGE_ENV = "NAS_DB_OUTAGE_SECONDS"
_OUTAGE_BACKOFF_MAX_S = 5.0


def outage_seconds() -> float:
    """The outage budget: ``NAS_DB_OUTAGE_SECONDS`` if set to a number >= 0, else 60 s."""
    import os

    raw = os.environ.get(_OUTAGE_ENV)
    if raw is None:
        return DEFAULT_OUTAGE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_OUTAGE_SECONDS
    return value if value >= 0 else DEFAULT_OUTAGE_SECONDS


def parse_url(url: str) -> URL:
    """Parse a storage URL.

    Raises:
        StorageError: ``url`` is not a valid SQLAlchemy URL.
    """
    if not isinstance(url, str) or not url:
        raise StorageError(f"a storage URL must be a non-empty string, got {url!r}")
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as e:
        raise StorageError(
            f"invalid storage URL {url!r}: expected e.g. 'sqlite:///nas.db' or "
            f"'postgresql+psycopg://user:password@host:5432/db' ({e})"
        ) from e


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``, for messages and logs."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except (ArgumentError, ValueError):
        return "<invalid storage URL>"
    return parsed.render_as_string(hide_password=True)


def is_memory_sqlite(url: str | URL) -> bool:
    """True for an in-memory SQLite database.

    That is ``sqlite://``, ``sqlite:///:memory:`` or a URI database with ``mode=memory``.
    """
    parsed = parse_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite":
        return False
    return parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"


def create_storage_engine(
    url: str, *, foreign_keys: bool = True, engine_kwargs: dict[str, Any] | None = None
) -> Engine:
    """Create the engine for ``url`` with the settings described in the module docstring.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///nas.db`` or ``postgresql+psycopg://...``.
        foreign_keys: SQLite only; ``False`` turns foreign key enforcement off (migrations
            that recreate tables must not cascade deletes).
        engine_kwargs: extra keyword arguments for :func:`sqlalchemy.create_engine`; they
            override the defaults chosen here.

    Returns:
        A new engine. Nothing is connected yet.

    Raises:
        StorageError: invalid URL, unknown dialect or driver not installed.
    """
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if is_memory_sqlite(parsed):
            # One shared connection: every pooled connection to ":memory:" would otherwise be
            # a different, empty database. RDBStorage serializes access with a lock.
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    kwargs.update(engine_kwargs or {})
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError, SQLAlchemyError) as e:
        raise StorageError(f"cannot create an engine for {mask_url(parsed)}: {e}") from e
    if backend == "sqlite":
        _install_sqlite_listeners(engine, foreign_keys=foreign_keys)
    return engine


def _install_sqlite_listeners(engine: Engine, *, foreign_keys: bool) -> None:
    memory = is_memory_sqlite(engine.url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (pysqlite's implicit BEGIN is deferred and only issued
        # before DML, which loses the lock-upgrade race and runs DDL outside transactions).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: durable across process kills (see the module docstring).
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        readonly = connection.get_execution_options().get(READONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def readonly_engine(engine: Engine) -> Engine:
    """A view of ``engine`` (same pool) whose transactions are read-only snapshots."""
    options: dict[str, Any] = {READONLY_OPTION: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    return engine.execution_options(**options)


def is_retryable(error: BaseException) -> bool:
    """True if ``error`` is a transient lock/serialization failure worth retrying."""
    if not isinstance(error, DBAPIError) or error.connection_invalidated:
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    message = str(orig).lower()
    return any(m in message for m in _RETRYABLE_MESSAGES)


def is_disconnect(error: BaseException) -> bool:
    """True if ``error`` means the connection to the database was lost or refused."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    sqlstate = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    # Class 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now.
    if sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}:
        return True
    message = str(orig).lower()
    return any(m in message for m in _DISCONNECT_MESSAGES)


def translate_error(error: SQLAlchemyError, url: str | URL, what: str) -> StorageError:
    """Turn a SQLAlchemy error into a :class:`StorageError` with a readable message.

    Args:
        error: the SQLAlchemy exception.
        url: the storage URL (its password is masked in the message).
        what: what was being done, e.g. ``"add_trials(study 3)"``.
    """
    masked = mask_url(url)
    if isinstance(error, DBAPIError):
        detail = str(error.orig).strip() or type(error.orig).__name__
        if error.connection_invalidated:
            return StorageError(
                f"{what}: lost the connection to the database at {masked}: {detail}"
            )
        return StorageError(f"{what} failed on {masked}: {detail}")
    return StorageError(f"{what} failed on {masked}: {error}")


def check_connection(engine: Engine) -> None:
    """Open and close one connection, to fail early with a clear message.

    Raises:
        StorageError: "cannot connect to the database at URL: reason" (password masked).
    """
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as e:
        detail = str(getattr(e, "orig", None) or e).strip()
        raise StorageError(
            f"cannot connect to the database at {mask_url(engine.url)}: {detail}"
        ) from e


def run_transaction(
    engine: Engine,
    fn: Callable[[Connection], T],
    *,
    what: str,
    rng: random.Random,
    lock: AbstractContextManager[Any] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    outage: float | None = None,
) -> T:
    """Run ``fn(connection)`` in one transaction; commit if it returns, roll back if it raises.

    A transient failure (see :func:`is_retryable`) rolls back and runs ``fn`` again, at most
    ``max_attempts`` times in all, sleeping ``uniform(0.5, 1.5) * min(1 s, 0.02 s * 2**k)``
    before try ``k + 1``. A lost or refused connection (see :func:`is_disconnect`) is retried
    for up to ``outage`` seconds from the first such failure (backoff up to 5 s), however many
    attempts that takes. ``fn`` must therefore have no side effects outside the database.

    Args:
        engine: the engine (or a read-only view from :func:`readonly_engine`).
        fn: the work; it receives a connection inside an open transaction.
        what: description of the operation for error messages.
        rng: source of the backoff jitter (a private ``random.Random``, not the global one).
        lock: held around each attempt when given (in-memory SQLite shares one connection).
        max_attempts: total tries on contention, at least 1.
        outage: seconds to keep retrying while the database is unreachable; ``None``:
            :func:`outage_seconds`.

    Returns:
        What ``fn`` returned.

    Raises:
        NasError: whatever ``fn`` raised deliberately (unchanged; the transaction is rolled
            back).
        StorageError: any SQLAlchemy error, after the retries for transient ones are spent;
            for an outage longer than the budget, a message saying so.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    budget = outage_seconds() if outage is None else outage
    guard: AbstractContextManager[Any] = lock if lock is not None else nullcontext()
    attempt = 0
    lost_since: float | None = None
    lost_tries = 0
    while True:
        try:
            with guard, engine.begin() as connection:
                return fn(connection)
        except NasError:
            raise
        except SQLAlchemyError as e:
            if is_disconnect(e):
                now = time.monotonic()
                lost_since = now if lost_since is None else lost_since
                if now - lost_since < budget:
                    delay = min(_OUTAGE_BACKOFF_MAX_S, 0.1 * 2**lost_tries)
                    lost_tries += 1
                    time.sleep(min(delay * rng.uniform(0.5, 1.5), budget - (now - lost_since)))
                    continue
                detail = str(getattr(e, "orig", e)).strip().splitlines()
                raise StorageError(
                    f"{what}: lost the database at {mask_url(engine.url)} for more than "
                    f"{budget:g} s ({detail[0] if detail else type(e).__name__}); nothing "
                    "stored before is lost: run the same command again once it is back "
                    f"(the wait is {_OUTAGE_ENV}, in seconds)"
                ) from e
            attempt += 1
            if attempt < max_attempts and is_retryable(e):
                delay = min(_BACKOFF_MAX_S, _BACKOFF_BASE_S * 2 ** (attempt - 1))
                time.sleep(delay * rng.uniform(0.5, 1.5))
                continue
            if is_retryable(e):
                raise StorageError(
                    f"{what} failed on {mask_url(engine.url)} after {max_attempts} attempts "
                    f"because of concurrent transactions: {getattr(e, 'orig', e)}"
                ) from e
            raise translate_error(e, engine.url, what) from e
