"""Fixtures shared by the whole test suite: storage URLs for SQLite and PostgreSQL, and a guard
against tests that leak process-wide state into the tests that run after them.

``postgres_url`` creates a throw-away database on the server named by ``NAS_TEST_POSTGRES_URL``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and drops it afterwards. Without
a reachable server the PostgreSQL tests are skipped, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from nas.testing.databases import postgres_admin, throwaway_postgres_database

#: Signals whose handlers a test must leave as it found them: a handler left behind (ignored, or
#: replaced by one that does not raise) changes how Ctrl-C reaches every later test of the same
#: worker process.
_GUARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@pytest.fixture(autouse=True)
def _no_leaked_process_state() -> Iterator[None]:
    """Fail the test that changes a signal handler, the main thread's blocked signals, the
    working directory or a ``NAS_`` environment variable without restoring it (and restore
    them), instead of letting a later test of the same worker fail in its place."""
    handlers = {s: signal.getsignal(s) for s in _GUARDED_SIGNALS}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    cwd = os.getcwd()
    env = {k: v for k, v in os.environ.items() if k.startswith("NAS_")}
    yield
    leaked = []
    for s, handler in handlers.items():
        now = signal.getsignal(s)
        if now is not handler:
            leaked.append(f"the {signal.Signals(s).name} handler ({handler!r} -> {now!r})")
            signal.signal(s, handler)
    now_blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    if now_blocked != blocked:
        leaked.append(f"the blocked signals ({sorted(blocked)} -> {sorted(now_blocked)})")
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    if os.getcwd() != cwd:
        leaked.append(f"the working directory ({cwd} -> {os.getcwd()})")
        os.chdir(cwd)
    now_env = {k: v for k, v in os.environ.items() if k.startswith("NAS_")}
    if now_env != env:
        leaked.append(f"NAS_ environment variables ({env} -> {now_env})")
        for k in set(now_env) - set(env):
            del os.environ[k]
        os.environ.update(env)
    if leaked:
        pytest.fail("the test left changed process state behind: " + "; ".join(leaked))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a new SQLite file database in the test's temporary directory."""
    return f"sqlite:///{tmp_path}/nas.db"


@pytest.fixture(scope="session")
def _postgres_admin() -> Iterator[Engine | str]:
    """AUTOCOMMIT engine on the PostgreSQL server, or the reason it cannot be reached."""
    admin = postgres_admin()
    yield admin
    if not isinstance(admin, str):
        admin.dispose()


@pytest.fixture
def postgres_url(_postgres_admin) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database ``nas_test_<hex>``, dropped after the test."""
    if isinstance(_postgres_admin, str):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(_postgres_admin)
        pytest.skip(_postgres_admin)
    with throwaway_postgres_database(_postgres_admin) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request) -> str:
    """The URL of a new, empty database, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")
