"""Read-only queries: ``nas studies``, ``nas trials``, ``nas pareto``, ``nas splits``; tables
assembled by the library (:func:`nas.study.trials_table`, :func:`nas.study.front_table`,
:func:`nas.supernet.split_tables`, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas._types import TrialState
from nas.cli._app import (
    Format,
    FormatOpt,
    StorageOpt,
    app,
    emit,
    emit_json,
    err,
    storage_url,
)

__all__ = ["pareto", "splits", "studies", "trials"]


@app.command()
def studies(storage: StorageOpt = None, fmt: FormatOpt = Format.table) -> None:
    """List the studies in the storage with their trial counts."""
    from nas.study import studies_table

    emit(studies_table(storage_url(storage)), fmt)


@app.command()
def trials(
    name: Annotated[str, typer.Argument(help="Study name.", show_default=False)],
    storage: StorageOpt = None,
    fmt: FormatOpt = Format.table,
    state: Annotated[
        list[TrialState] | None,
        typer.Option("--state", help="Only trials in this state (repeatable)."),
    ] = None,
) -> None:
    """List the trials of a study. CSV and JSON hold every field of every trial (what `nas
    import` reads back); the table shows the main ones."""
    from nas.study import load_study, trial_record, trials_table

    study = load_study(name, storage_url(storage))
    selected = study.get_trials(set(state) if state else None)
    if fmt is Format.json:
        emit_json([trial_record(t) for t in selected])
    else:
        emit(trials_table(study, selected, full=fmt is Format.csv), fmt)


@app.command()
def pareto(
    name: Annotated[str, typer.Argument(help="Study name.", show_default=False)],
    storage: StorageOpt = None,
    fmt: FormatOpt = Format.table,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write an interactive plot (offline HTML).")
    ] = None,
) -> None:
    """Print the non-dominated trials of a study (and optionally plot them)."""
    from nas.study import front_records, front_table, load_study

    study = load_study(name, storage_url(storage))
    if fmt is Format.json:
        emit_json(front_records(study))
    else:  # a table along the front; CSV in trial-number order
        emit(front_table(study, along_front=fmt is Format.table), fmt)
    if html is not None:
        from nas.plots import write_study_plot

        written = write_study_plot(study, html)
        err().print(f"wrote {written}", highlight=False)


@app.command()
def splits(
    name: Annotated[str, typer.Argument(help="Study name (a NAS study).", show_default=False)],
    storage: StorageOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Show how a NAS study's supernet was split into sub-supernets (train.splits): every split
    with its groups, and for gradient matching each scored slot's cut score and distances."""
    from nas.study import load_study
    from nas.supernet import split_tables, split_tree  # torch-free

    study = load_study(name, storage_url(storage))
    if fmt is Format.json:
        emit_json(split_tree(study))
        return
    first, *distances = split_tables(study)
    emit(first, fmt)
    if fmt is Format.table:
        for table in distances:
            emit(table, fmt)
