"""Fixtures shared by the whole test suite: storage URLs for SQLite and PostgreSQL.

``postgres_url`` creates a throw-away database on the server named by ``NAS_TEST_POSTGRES_URL``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and drops it afterwards. Without
a reachable server the PostgreSQL tests are skipped, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a new SQLite file database in the test's temporary directory."""
    return f"sqlite:///{tmp_path}/nas.db"


@pytest.fixture(scope="session")
def _postgres_admin() -> Iterator[Engine | str]:
    """AUTOCOMMIT engine on the PostgreSQL server, or the reason it cannot be reached."""
    url = os.environ.get("NAS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    engine = sa.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
        connect_args={"connect_timeout": 3},
    )
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as e:  # any failure to reach the server: skip (or fail in CI)
        engine.dispose()
        masked = make_url(url).render_as_string(hide_password=True)
        yield f"PostgreSQL at {masked} is not reachable ({type(e).__name__}: {e})"
        return
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(_postgres_admin) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database ``nas_test_<hex>``, dropped after the test."""
    if isinstance(_postgres_admin, str):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(_postgres_admin)
        pytest.skip(_postgres_admin)
    engine = _postgres_admin
    name = f"nas_test_{secrets.token_hex(6)}"
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request) -> str:
    """The URL of a new, empty database, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")
