"""Web dashboard: browse, query and (optionally) annotate studies in a browser.

``nas dashboard [--storage URL] [--host 127.0.0.1] [--port 8080] [--allow-write]`` serves
:func:`create_app` with uvicorn. Pages: the studies list, a study page (optimisation history,
Pareto front, parallel coordinates, parameter importance, learning curves, the trial table with
server-side filter/sort/pagination, NAS architectures) and a trial page. Every page is backed by a
JSON API documented at ``/docs`` (OpenAPI at ``/openapi.json``). plotly.js is a partial bundle
shipped with the package (``static/vendor/plotly``, :mod:`nas.dashboard._bundle`): nothing is
fetched from the internet.

Pages poll ``/api/studies/{id}/changes`` with a cursor and receive only the trials written since;
the server itself reads only those from the database (:mod:`nas.dashboard._view`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    import socket

    from nas.dashboard._app import PLOTLY_URL, create_app
    from nas.dashboard._serve import address_url, bind_address, open_served_storage
    from nas.dashboard._view import EXCLUDED_ATTR, NOTE_ATTR
    from nas.storage import RDBStorage
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "nas.dashboard._app": ["PLOTLY_URL", "create_app"],
            "nas.dashboard._serve": ["address_url", "bind_address", "open_served_storage"],
            "nas.dashboard._view": ["EXCLUDED_ATTR", "NOTE_ATTR"],
        },
    )

__all__ = [
    "EXCLUDED_ATTR",
    "NOTE_ATTR",
    "PLOTLY_URL",
    "address_url",
    "bind_address",
    "create_app",
    "open_served_storage",
    "serve",
]


def serve(
    storage: str | RDBStorage,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    allow_write: bool = False,
    log_level: str = "warning",
    sock: socket.socket | None = None,
) -> None:
    """Run the dashboard until interrupted (blocking).

    A server bound to anything but a loopback address accepts any ``Host`` header (the user
    chose to expose it); on loopback only local names are accepted. With ``sock`` (a socket
    already bound to ``host``, e.g. by :func:`bind_address` with port 0) the server accepts on
    it and does not bind again: no other process can take the port in between.

    Raises:
        StorageError / SchemaVersionError: the storage cannot be opened.
        OSError: the port is taken.
    """
    import uvicorn

    from nas.dashboard._app import create_app

    loopback = host in ("127.0.0.1", "localhost", "::1")
    hosts = ("127.0.0.1", "localhost", "::1", "[::1]") if loopback else ("*",)
    app = create_app(storage, allow_write=allow_write, allowed_hosts=hosts)
    if sock is None:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
        return
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False))
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends it, as uvicorn.run's does
        server.run(sockets=[sock])
