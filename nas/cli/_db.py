"""``nas db upgrade`` and ``nas db current``: the schema revision (:mod:`nas.storage`)."""

from __future__ import annotations

import typer

from nas.cli._app import StorageOpt, app, storage_url

__all__ = ["db_app"]

db_app = typer.Typer(help="Database schema: show or upgrade the revision.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(storage: StorageOpt = None) -> None:
    """Upgrade the database schema to this version of nas."""
    from nas.storage import upgrade

    url = storage_url(storage)
    before, after = upgrade(url)
    if before == after:
        typer.echo(f"{url}: already at revision {after}")
    else:
        typer.echo(f"{url}: upgraded from {before or 'an empty database'} to {after}")


@db_app.command("current")
def db_current(storage: StorageOpt = None) -> None:
    """Print the schema revision of the database."""
    from nas.storage import HEAD_REVISION, current_revision

    url = storage_url(storage)
    rev = current_revision(url)
    if rev is None:
        typer.echo(f"{url}: no nas schema yet (it is created at {HEAD_REVISION} on first use)")
    elif rev == HEAD_REVISION:
        typer.echo(f"{rev} (head)")
    else:
        typer.echo(f"{rev} (this nas needs {HEAD_REVISION}; run `nas db upgrade --storage {url}`)")
