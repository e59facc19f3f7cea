"""Checks before the dashboard serves: the storage to open and the address to bind, each
refused as one line (``nas dashboard``)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from nas.exceptions import NasError
from nas.storage import RDBStorage, get_storage

__all__ = ["address_url", "bind_address", "open_served_storage"]


def open_served_storage(url: str) -> RDBStorage:
    """The storage the dashboard will serve, once it is known that it can be.

    Checks, before anything is created: ``url`` is a database URL; an SQLite file database
    exists (the dashboard reads studies, it does not create an empty database). The address is
    :func:`bind_address`'s.

    Raises:
        NasError: ``dashboard: ...`` -- a bad URL or a missing SQLite file (with what to
            change: ``--storage``).
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
    return get_storage(url)


def bind_address(host: str, port: int) -> socket.socket:
    """A listening socket bound to ``host:port``; port 0 lets the system pick a free one (read
    it back with ``getsockname()[1]``). The server then accepts on this very socket
    (:func:`nas.dashboard.serve` ``sock=``), so the port cannot be taken in between.

    Raises:
        NasError: ``dashboard: host:port is in use`` (or cannot be bound), with what to change.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be bound ({e.strerror})"
        raise NasError(f"dashboard: {host}:{port} {why}; choose another with --port/--host") from e
    return sock


def address_url(host: str, port: int) -> str:
    """The dashboard's address as a URL (an IPv6 host in brackets)."""
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
