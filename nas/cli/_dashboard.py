"""``nas dashboard``: serve :mod:`nas.dashboard` after its one-line checks
(:func:`nas.dashboard.open_served_storage`). fastapi and uvicorn load only here."""

from __future__ import annotations

from typing import Annotated

import typer

from nas.cli._app import StorageOpt, app, err, storage_url

__all__ = ["dashboard"]


@app.command()
def dashboard(
    storage: StorageOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="TCP port (0: any free one).", min=0, max=65535)
    ] = 8080,
    allow_write: Annotated[
        bool,
        typer.Option(
            "--allow-write",
            help="Enable renaming/deleting studies, notes and excluding trials from the pages.",
        ),
    ] = False,
) -> None:
    """Serve the web dashboard (studies, plots, trial table, JSON API at /docs)."""
    import nas.dashboard

    url = storage_url(storage)
    opened = nas.dashboard.open_served_storage(url)
    sock = nas.dashboard.bind_address(host, port)
    port = sock.getsockname()[1]  # the system's pick for --port 0
    mode = "read-write" if allow_write else "read-only"
    where = nas.dashboard.address_url(host, port)
    err().print(f"nas dashboard ({mode}) on {where} for {url} - Ctrl-C to stop", highlight=False)
    with sock:
        nas.dashboard.serve(opened, host=host, port=port, allow_write=allow_write, sock=sock)
