"""Alembic environment of the nas database schema (migrations: ``versions/``, ids = file names).

Runs in two ways:

* from :func:`nas.storage.upgrade` (``nas db upgrade``), which builds the config in code and
  passes an open connection, inside its own transaction, in ``config.attributes["connection"]``;
* from Alembic commands run by a developer, e.g.
  ``command.revision(nas.storage._schema.alembic_config("sqlite:///dev.db"),
  autogenerate=True, message=...)`` or the ``alembic`` CLI with an ini file whose
  ``script_location`` is this directory (the URL may also come from ``-x url=...``); then a
  connection is opened with a ``NullPool`` engine.

Host logging is left alone (no ``fileConfig``): nas is a library and an application embedding it
owns the logging configuration. ``render_as_batch=True`` makes autogenerate write batch
operations, which SQLite needs to alter tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from nas.storage._models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError(
            "no database URL: pass `-x url=sqlite:///file.db` or set sqlalchemy.url"
        )
    return url


def run_migrations_offline() -> None:
    """Emit the SQL to stdout (``alembic upgrade --sql``) instead of running it."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the passed connection, or on a new one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_engine(_url(), poolclass=NullPool)
    try:
        with engine.connect() as new_connection:
            _run_on(new_connection)
            new_connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
