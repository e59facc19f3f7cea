"""Checks before the dashboard serves: the storage to open and the address to bind, each
refused as one line (``nas dashboard``)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from nas.exceptions import NasError
from nas.storage import RDBStorage, get_storage

__all__ = ["address_url", "open_served_storage"]


def open_served_storage(url: str, host: str, port: int) -> RDBStorage:
    """The storage the dashboard will serve, once it is known that it can be.

    Checks, before anything is created: ``url`` is a database URL; an SQLite file database
    exists (the dashboard reads studies, it does not create an empty database); ``host:port``
    can be bound (a clear line instead of the server's log when the port is taken).

    Raises:
        NasError: ``dashboard: ...`` -- a bad URL, a missing SQLite file, or an address in use
            or not bindable (with what to change: ``--storage``, ``--port``/``--host``).
        StorageError / SchemaVersionError: the database cannot be opened.
    """
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception as e:  # sqlalchemy raises ArgumentError; any failure is a bad URL
        raise NasError(f"dashboard: --storage {url!r} is not a database URL ({e})") from e
    database = parsed.database or ""
    sqlite_file = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if sqlite_file and not Path(database).is_file():
        raise NasError(
            f"dashboard: no database file {database!r}; run a study first or pass --storage"
        )
    opened = get_storage(url)
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as e:
        why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be bound ({e.strerror})"
        raise NasError(f"dashboard: {host}:{port} {why}; choose another with --port/--host") from e
    return opened


def address_url(host: str, port: int) -> str:
    """The dashboard's address as a URL (an IPv6 host in brackets)."""
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
