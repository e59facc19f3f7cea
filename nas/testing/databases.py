"""Throw-away databases for tests and benchmarks: a fresh PostgreSQL database per use.

:func:`postgres_admin` connects to the server named by ``NAS_TEST_POSTGRES_URL`` (default
:data:`DEFAULT_POSTGRES_URL`, the project's local server) or says why it cannot;
:func:`throwaway_postgres_database` creates an empty database with a random name on it and
drops it afterwards (``WITH (FORCE)``: connections a crashed worker left open do not block the
drop). The test suite's ``postgres_url`` fixture and ``benchmarks/workers.py`` both use them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "DEFAULT_POSTGRES_URL",
    "postgres_admin",
    "postgres_server_url",
    "throwaway_postgres_database",
]

#: The PostgreSQL server every machine of the project runs (trust auth, database ``test``).
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_server_url() -> str:
    """``NAS_TEST_POSTGRES_URL``, else :data:`DEFAULT_POSTGRES_URL`."""
    return os.environ.get("NAS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_admin(url: str | None = None, connect_timeout: int = 3) -> Engine | str:
    """An AUTOCOMMIT engine on the server of ``url`` (default :func:`postgres_server_url`),
    checked with ``SELECT 1``; or, when it cannot be reached, the reason as one line (the
    password masked). The caller disposes of the engine."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = url or postgres_server_url()
    engine = sa.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
        connect_args={"connect_timeout": connect_timeout},
    )
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as e:  # any failure to reach the server is reported, not raised
        engine.dispose()
        masked = make_url(url).render_as_string(hide_password=True)
        return f"PostgreSQL at {masked} is not reachable ({type(e).__name__}: {e})"
    return engine


@contextlib.contextmanager
def throwaway_postgres_database(admin: Engine, prefix: str = "nas_test") -> Iterator[str]:
    """Create the empty database ``<prefix>_<12 hex digits>`` through ``admin`` (an AUTOCOMMIT
    engine, see :func:`postgres_admin`), yield its URL (password included, ready for
    :func:`nas.storage.get_storage`), and drop it on exit, also after an exception."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
