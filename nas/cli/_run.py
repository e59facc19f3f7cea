"""``nas run`` and ``nas worker``: open a study through :func:`nas.study.open_study` and run it,
with progress bars. Every value is validated by the library, once, before anything is written
(one line and exit status 2 otherwise)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nas._types import FrozenTrial, TrialState
from nas.cli._app import Format, StorageOpt, app, emit, err, out

if TYPE_CHECKING:
    from nas.study import OpenedStudy, Study

__all__ = ["run", "worker"]

# The library validates these values (nas.study._values), naming the flag: no ranges here.
NTrialsOpt = Annotated[
    int | None,
    typer.Option("--n-trials", help="Total trials of the study (overrides the file)."),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Seconds after which no trial starts."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
DeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="Where a supernet objective trains and evaluates (overrides objective.device).",
        show_default=False,
    ),
]
MaxRestartsOpt = Annotated[
    int,
    typer.Option(
        "--max-restarts",
        help="Re-runs of a trial whose worker died before it is marked FAILED.",
    ),
]


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Study YAML file.", show_default=False)],
    storage: StorageOpt = None,
    n_trials: NTrialsOpt = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Study seed (overrides the file).")
    ] = None,
    timeout: TimeoutOpt = None,
    quiet: QuietOpt = False,
    device: DeviceOpt = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Local worker processes sharing the study (one progress bar for all).",
        ),
    ] = 1,
    max_restarts: MaxRestartsOpt = 3,
) -> None:
    """Create the study of FILE, or resume it, and run it to its total number of trials."""
    from nas.study import front_table, open_study, summary_line

    opened = open_study(
        file,
        storage=storage,
        n_trials=n_trials,
        seed=seed,
        timeout=timeout,
        device=device,
        max_restarts=max_restarts,
        flags=True,
    )
    study = opened.study
    if workers > 1:
        try:
            _prepare(opened, quiet)  # trained once here, loaded by every worker
            _run_local(opened, workers, quiet)
        except KeyboardInterrupt:
            _interrupted(study)
    else:
        _work_here(opened, quiet)
    if not quiet:
        out().print(summary_line(study), highlight=False)
        if len(study.objectives) > 1 and study.get_trials((TrialState.COMPLETE,)):
            emit(front_table(study), Format.table)
    if opened.plot is not None:
        from nas.plots import write_study_plot

        path = write_study_plot(study, opened.plot)
        if not quiet:
            err().print(f"wrote {path}", highlight=False)


@app.command()
def worker(
    target: Annotated[
        str,
        typer.Argument(
            help="Study YAML file, or the name of a study started with `nas run FILE`.",
            show_default=False,
        ),
    ],
    storage: StorageOpt = None,
    n_trials: NTrialsOpt = None,
    timeout: TimeoutOpt = None,
    quiet: QuietOpt = False,
    device: DeviceOpt = None,
    max_restarts: MaxRestartsOpt = 3,
) -> None:
    """Join a study as one more worker (any number, on any machine that reaches the database).

    Trials are claimed atomically and the study's total is enforced across all workers; a
    worker that dies mid-trial has the trial re-run by another. Exits when the total is reached.
    """
    from nas.study import open_study, summary_line

    opened = open_study(
        target,
        storage=storage,
        n_trials=n_trials,
        timeout=timeout,
        device=device,
        max_restarts=max_restarts,
        flags=True,
    )
    _work_here(opened, quiet)
    if not quiet:
        out().print(summary_line(opened.study), highlight=False)


def _work_here(opened: OpenedStudy, quiet: bool) -> None:
    """Prepare the objective (e.g. train or load a supernet), then run trials in this process
    until the study's total; Ctrl-C re-queues the running trial and exits 130."""
    try:
        _prepare(opened, quiet)
        if quiet:
            opened.optimize()
        else:
            _optimize_with_progress(opened)
    except KeyboardInterrupt:
        _interrupted(opened.study)


def _interrupted(study: Study) -> None:
    n = sum(t.state.is_finished for t in study.trials)
    err().print(
        f"interrupted: study {study.name!r} has {n} finished trials; "
        "run the same command to resume",
        highlight=False,
    )
    raise typer.Exit(130)


def _trials_progress() -> Any:
    """The progress bar of trials: description, bar, done/total, status line, elapsed time."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=err(),
    )


def _run_local(opened: OpenedStudy, workers: int, quiet: bool) -> None:
    """:func:`~nas.study.run_local_workers` under one progress bar (none if quiet)."""
    from nas.study import run_local_workers, status_line

    if quiet:
        run_local_workers(opened, workers)
        return
    study = opened.study
    with _trials_progress() as progress:
        trials = study.trials
        task = progress.add_task(
            f"{study.name} ({workers} workers)",
            total=opened.n_trials,
            completed=sum(t.state.is_finished for t in trials),
            status=status_line(study, trials),
        )

        def show(now: Sequence[FrozenTrial]) -> None:
            running = sum(t.state == TrialState.RUNNING for t in now)
            progress.update(
                task,
                completed=sum(t.state.is_finished for t in now),
                status=f"{status_line(study, now)} | running {running}",
            )

        run_local_workers(opened, workers, on_poll=show)


def _prepare(opened: OpenedStudy, quiet: bool) -> None:
    """Train (or load) what the objective needs before the first trial, e.g. a supernet, with
    a progress bar of its epochs."""
    study, objective = opened.study, opened.objective
    if not hasattr(objective, "prepare"):
        return
    if quiet:
        opened.prepare()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]training supernet"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs | loss {task.fields[loss]}{task.fields[leaves]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err(),
        transient=False,
    ) as progress:
        task: Any = None

        def on_epoch(done: int, total: int, record: Any) -> None:
            nonlocal task
            loss = f"{float(record.get('loss', float('nan'))):.4f}"
            n = int(record.get("leaves", 1))
            leaves = f" | {n} sub-supernets" if n > 1 else ""
            if task is None:
                task = progress.add_task(
                    "train", total=total, completed=done, loss=loss, leaves=leaves
                )
            else:
                progress.update(task, completed=done, loss=loss, leaves=leaves)

        def on_wait(holder: str) -> None:
            progress.console.print(
                f"supernet: {holder} is training it; waiting for its weights", highlight=False
            )

        opened.prepare(on_epoch=on_epoch, on_wait=on_wait)
    if task is None:
        err().print(f"supernet: trained weights loaded from {study.storage.url}", highlight=False)
    from nas._attrs import FAMILY_ATTR

    tree = study.user_attrs.get(FAMILY_ATTR)
    if tree:
        policies = sorted({r["policy"] for r in tree["splits"]})
        err().print(
            f"supernet: {len(tree['leaves'])} sub-supernets after {len(tree['splits'])} "
            f"{'/'.join(policies)} splits; trials go to the one that owns their network "
            f"(`nas splits {study.name}`)",
            highlight=False,
        )


def _optimize_with_progress(opened: OpenedStudy) -> None:
    from nas.study import status_line

    study = opened.study
    trials = study.trials
    with _trials_progress() as progress:
        task = progress.add_task(
            study.name,
            total=opened.n_trials,
            completed=sum(t.state.is_finished for t in trials),
            status=status_line(study, trials),
        )

        def update(s: Study, _: FrozenTrial) -> None:
            now = s.trials
            progress.update(
                task, completed=sum(t.state.is_finished for t in now), status=status_line(s, now)
            )

        opened.optimize(callbacks=[update])
