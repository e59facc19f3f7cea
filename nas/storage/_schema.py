"""Schema versioning: create a new database at head, check an existing one, upgrade an old one.

The migrations live in the repository's ``alembic/`` directory (shipped in the wheel as
``nas/_alembic``). Revision ids are human-readable and equal to the migration file names
(``v0.1.0.a``, ``v0.1.0.b``, ``v0.2.0.a``, ...); the chain is linear.

* A **new** database (no tables at all) is created from the models with ``create_all`` and
  stamped at :data:`HEAD_REVISION` by writing the ``alembic_version`` row directly - no Alembic
  machinery on the hot path. Creation is safe when several processes open the same new
  database at once: on SQLite the creating transaction holds the write lock (``BEGIN
  IMMEDIATE``) and re-checks for tables inside it; on PostgreSQL it takes a transaction-level
  advisory lock; on any dialect an "already exists" failure makes the loser re-check instead of
  failing.
* An **existing** database must be exactly at :data:`HEAD_REVISION`; otherwise
  :class:`~nas.exceptions.SchemaVersionError` says whether to run ``nas db upgrade`` (older) or
  to upgrade ``nas`` (newer or unknown revision).
* :func:`upgrade` runs the Alembic migrations up to head.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from nas.exceptions import SchemaVersionError, StorageError
from nas.storage._engine import (
    check_connection,
    create_storage_engine,
    is_memory_sqlite,
    mask_url,
    parse_url,
    readonly_engine,
    translate_error,
)
from nas.storage._models import Base

__all__ = [
    "HEAD_REVISION",
    "VERSION_TABLE",
    "alembic_config",
    "check_schema",
    "current_revision",
    "ensure_schema",
    "known_revisions",
    "script_location",
    "upgrade",
]

#: The revision of the schema this version of ``nas`` reads and writes (``alembic heads``).
HEAD_REVISION = "v0.4.0.a"

#: Alembic's bookkeeping table (same layout as Alembic creates it).
VERSION_TABLE = "alembic_version"

_version_metadata = MetaData()
_alembic_version = Table(
    VERSION_TABLE,
    _version_metadata,
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

# Arbitrary constant key of the PostgreSQL advisory lock serializing schema creation.
_PG_SCHEMA_LOCK_KEY = 0x6E61_7300  # "nas\0"
_CREATE_ATTEMPTS = 5


def script_location() -> Path:
    """The Alembic script directory: ``nas/_alembic`` in a wheel, ``<repo>/alembic`` otherwise.

    Raises:
        StorageError: neither directory holds an ``env.py`` (a broken installation).
    """
    import nas

    package_dir = Path(nas.__file__).resolve().parent
    candidates = (package_dir / "_alembic", package_dir.parent / "alembic")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    raise StorageError(
        "cannot find the nas database migrations: none of "
        + ", ".join(str(c) for c in candidates)
        + " contains env.py (broken installation?)"
    )


def alembic_config(url: str, connection: Connection | None = None) -> Any:
    """Build an :class:`alembic.config.Config` for ``url`` in code (no ``alembic.ini``).

    Args:
        url: storage URL; ``%`` is escaped for the ini-style interpolation.
        connection: when given, ``env.py`` runs the migrations on it (inside the caller's
            transaction) instead of opening its own.

    Returns:
        The Alembic config (typed ``Any`` so that importing this module does not import
        Alembic).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def known_revisions() -> list[str]:
    """Every revision id of the migration chain, oldest first.

    Raises:
        StorageError: the script directory is missing.
    """
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(script_location()))
    return [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]


def _read_revision(connection: Connection) -> tuple[bool, str | None]:
    """(database holds anything, revision in ``alembic_version`` or None).

    An empty ``alembic_version`` table alone (left by ``alembic downgrade base``) counts as an
    empty database.
    """
    tables = set(inspect(connection).get_table_names())
    other_tables = bool(tables - {VERSION_TABLE})
    if VERSION_TABLE not in tables:
        return other_tables, None
    rows = connection.execute(select(_alembic_version.c.version_num)).scalars().all()
    if len(rows) > 1:
        raise SchemaVersionError(
            f"{VERSION_TABLE} holds {len(rows)} revisions {sorted(rows)}; "
            "nas expects a single linear migration chain"
        )
    revision = rows[0] if rows else None
    return other_tables or revision is not None, revision


def check_schema(url: str, has_tables: bool, revision: str | None) -> None:
    """Raise unless (``has_tables``, ``revision``) describes a database at head.

    Raises:
        SchemaVersionError: no nas schema, older schema (run ``nas db upgrade``), or a newer or
            unknown revision (upgrade nas).
    """
    masked = mask_url(url)
    if revision == HEAD_REVISION:
        return
    if revision is None:
        if has_tables:
            raise SchemaVersionError(
                f"database at {masked} has tables but no {VERSION_TABLE} revision: it was not "
                "created by nas (or its creation was interrupted); use a new database"
            )
        raise SchemaVersionError(
            f"database at {masked} is empty; open it with create=True or run "
            f"`nas db upgrade --storage {masked}` to create the nas schema"
        )
    revisions = known_revisions()
    if revision in revisions and revisions.index(revision) < revisions.index(HEAD_REVISION):
        raise SchemaVersionError(
            f"database at {masked} is at schema revision {revision} but this nas needs "
            f"{HEAD_REVISION}; run `nas db upgrade --storage {masked}` (back it up first)"
        )
    raise SchemaVersionError(
        f"database at {masked} is at schema revision {revision}, which this nas (head "
        f"{HEAD_REVISION}) does not know: it was written by a newer nas; upgrade nas"
    )


def _is_already_exists(error: SQLAlchemyError) -> bool:
    message = str(getattr(error, "orig", error)).lower()
    return "already exists" in message or "duplicate key" in message or "unique" in message


def ensure_schema(engine: Engine, url: str, *, create: bool) -> None:
    """Check that the database behind ``engine`` is at head; create it first if it is new.

    Args:
        engine: engine from :func:`nas.storage._engine.create_storage_engine` (on SQLite its
            transactions begin with ``BEGIN IMMEDIATE``, which serializes concurrent
            creators).
        url: the storage URL, for messages.
        create: create the schema if the database has no table at all.

    Raises:
        SchemaVersionError: see :func:`check_schema`.
        StorageError: the database cannot be reached or refused the DDL.
    """
    check_connection(engine)
    try:
        # Common case first, without the write lock: the schema exists.
        with readonly_engine(engine).begin() as connection:
            has_tables, revision = _read_revision(connection)
    except SQLAlchemyError as e:
        raise translate_error(e, url, "checking the database schema") from e
    if has_tables or not create:
        check_schema(url, has_tables, revision)
        return
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql(
                        f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK_KEY})"
                    )
                # Re-check under the lock: another process may have created it meanwhile.
                has_tables, revision = _read_revision(connection)
                if not has_tables:
                    Base.metadata.create_all(connection)
                    _alembic_version.create(connection, checkfirst=True)
                    connection.execute(_alembic_version.insert().values(version_num=HEAD_REVISION))
                    return
        except SQLAlchemyError as e:
            # Another process created the schema between our check and our DDL (dialects
            # without transactional DDL or advisory locks): look again.
            if attempt + 1 < _CREATE_ATTEMPTS and _is_already_exists(e):
                continue
            raise translate_error(e, url, "creating the database schema") from e
        break
    check_schema(url, has_tables, revision)


def current_revision(url: str) -> str | None:
    """The schema revision of the database at ``url``; ``None`` if it has none (or no file).

    Read-only: a SQLite file that does not exist is not created.

    Raises:
        StorageError: the database cannot be reached.
    """
    parsed = parse_url(url)
    if (
        parsed.get_backend_name() == "sqlite"
        and not is_memory_sqlite(parsed)
        and not Path(parsed.database or "").exists()
    ):
        return None
    engine = create_storage_engine(url, engine_kwargs={"poolclass": NullPool})
    try:
        check_connection(engine)
        try:
            with readonly_engine(engine).connect() as connection:
                return _read_revision(connection)[1]
        except SQLAlchemyError as e:
            raise translate_error(e, url, "reading the schema revision") from e
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the database at ``url`` to ``revision`` (default: the head) with Alembic.

    An empty database gets the whole schema through every migration. A database at or beyond
    ``revision`` is left untouched (this never downgrades). The upgrade runs in one
    transaction (SQLite: ``BEGIN IMMEDIATE``, so concurrent upgraders queue), with SQLite
    foreign keys off so that a migration recreating a table cannot cascade deletes.

    Args:
        url: storage URL.
        revision: target revision id, or ``"head"``.

    Returns:
        ``(revision before, revision after)``; the first is ``None`` for an empty database.

    Raises:
        SchemaVersionError: the database has tables but no revision, or is at a revision this
            nas does not know (newer nas).
        StorageError: the database cannot be reached or a migration failed (nothing is
            changed then, except on dialects without transactional DDL).
    """
    from alembic import command
    from alembic.util import CommandError

    revisions = known_revisions()
    target = HEAD_REVISION if revision == "head" else revision
    if target not in revisions:
        raise SchemaVersionError(f"unknown target revision {revision!r}; known: {revisions}")
    parse_url(url)
    engine = create_storage_engine(url, foreign_keys=False, engine_kwargs={"poolclass": NullPool})
    try:
        check_connection(engine)
        with engine.begin() as connection:
            has_tables, before = _read_revision(connection)
            if before is None and has_tables:
                check_schema(url, has_tables, before)  # raises: tables of unknown origin
            if before is not None and before not in revisions:
                check_schema(url, has_tables, before)  # raises: newer nas
            if before is not None and revisions.index(before) >= revisions.index(target):
                return before, before
            command.upgrade(alembic_config(url, connection), target)
            after = _read_revision(connection)[1]
    except (SQLAlchemyError, CommandError) as e:
        if isinstance(e, SQLAlchemyError):
            raise translate_error(e, url, f"upgrading the schema to {target}") from e
        raise StorageError(f"upgrading {mask_url(url)} to {target} failed: {e}") from e
    finally:
        engine.dispose()
    if after != target:  # pragma: no cover - would be a broken migration chain
        raise StorageError(f"upgrade of {mask_url(url)} ended at {after}, expected {target}")
    return before, after
