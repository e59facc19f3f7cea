"""Results in and out of a study: ``nas import`` (a trials file, via
:func:`nas.study.import_trials_file`) and ``nas copy`` (a whole study to another database or
name, via :func:`nas.study.copy_study`). ``nas trials --format json|csv`` is the export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.cli._app import StorageOpt, app, out, storage_url
from nas.storage._url import DEFAULT_URL as DEFAULT_STORAGE

__all__ = ["copy", "import_"]


@app.command("import")
def import_(
    name: Annotated[str, typer.Argument(help="Study name.", show_default=False)],
    file: Annotated[
        Path,
        typer.Argument(
            help="Trials file: .json (as `nas trials --format json` writes) or .csv (as "
            "`nas trials --format csv` writes, or Optuna's trials_dataframe().to_csv()).",
            show_default=False,
        ),
    ],
    storage: StorageOpt = None,
) -> None:
    """Add the finished trials of a file to a study (all or none), numbered after its
    trials; its searcher then reads them as history."""
    from nas.study import import_trials_file, load_study

    study = load_study(name, storage_url(storage))
    added = import_trials_file(study, file)
    numbers = f" (numbers {added[0].number}-{added[-1].number})" if added else ""
    out().print(f"imported {len(added)} trials into study {name!r}{numbers}", highlight=False)


@app.command()
def copy(
    name: Annotated[str, typer.Argument(help="Study to copy.", show_default=False)],
    to_url: Annotated[
        str, typer.Option("--to", help="Database URL to copy into.", show_default=False)
    ],
    from_url: Annotated[
        str | None,
        typer.Option(
            "--from",
            "--storage",
            envvar="NAS_STORAGE",
            help=f"Database URL to copy from (default {DEFAULT_STORAGE}; env NAS_STORAGE).",
            show_default=False,
        ),
    ] = None,
    new_name: Annotated[
        str | None,
        typer.Option("--name", help="Name of the copy (default: NAME).", show_default=False),
    ] = None,
) -> None:
    """Copy a study -- definition, every trial (numbers kept; RUNNING ones become WAITING),
    artifacts -- from --from (or NAS_STORAGE) to --to, e.g. SQLite -> PostgreSQL. The copy
    appears under its name only once complete; an existing study of that name is an error."""
    from nas.storage import mask_url
    from nas.study import copy_study

    source = storage_url(from_url)
    study = copy_study(name, source, to_url, new_name)
    n_artifacts = len(study.storage.get_artifacts(study.study_id))
    out().print(
        f"copied study {name!r} from {mask_url(source)} to {mask_url(to_url)} as "
        f"{study.name!r}: {len(study.trials)} trials, {n_artifacts} artifacts",
        highlight=False,
    )
