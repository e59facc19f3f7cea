"""Typer application. Commands parse, call the public API, render; no business logic here."""

from __future__ import annotations

import csv
import io
import json
import math
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from nas._archtext import arch_text
from nas._types import FrozenTrial, TrialState
from nas.exceptions import NasError
from nas.study import (
    DEFAULT_STORAGE,
    Study,
    create_study_from_config,
    load_study,
    load_study_config,
    resolve_objective,
)
from nas.study._config import RUN_ATTR
from nas.study._objectives import objective_from_definition, stored_definition
from nas.supernet._splits import FAMILY_ATTR, LEAF_ATTR

try:  # typer >= 0.2x vendors click; its usage errors derive from TyperException
    from typer import TyperException as _UsageError
except ImportError:  # pragma: no cover - older typer on top of click
    from click import ClickException as _UsageError  # type: ignore[assignment,no-redef]

__all__ = ["app", "main"]

app = typer.Typer(
    name="nas",
    help="Hyperparameter and neural-architecture search with studies persisted in SQL.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database schema: show or upgrade the revision.", no_args_is_help=True)
app.add_typer(db_app, name="db")
bench_app = typer.Typer(help="Built-in benchmarks of the NAS engine.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar="NAS_STORAGE",
        help=f"Database URL (default {DEFAULT_STORAGE}; env NAS_STORAGE).",
        show_default=False,
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _version(value: bool) -> None:
    if value:
        from nas import __version__

        typer.echo(f"nas {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Hyperparameter and neural-architecture search with studies persisted in SQL."""


# --------------------------------------------------------------------------- run
NTrialsOpt = Annotated[
    int | None,
    typer.Option("--n-trials", min=0, help="Total trials of the study (overrides the file)."),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", min=0.0, help="Seconds after which no trial starts."),
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
        min=0,
        help="Re-runs of a trial whose worker died before it is marked FAILED.",
    ),
]


@dataclass
class _Opened:
    study: Study
    objective: Any
    total: int | None
    timeout: float | None
    plot: Path | None


def _with_device(objective: Any, device: str | None) -> Any:
    if device is None:
        return objective
    with_device = getattr(objective, "with_device", None)
    if not callable(with_device):
        raise NasError(
            f"--device {device}: only a supernet objective (objective: {{type: supernet}}) or "
            "another typed objective with a device has one; set it inside your objective "
            "function instead"
        )
    return with_device(device)


def _open_file(
    file: Path,
    storage: str | None,
    n_trials: int | None,
    seed: int | None,
    timeout: float | None,
    device: str | None,
) -> _Opened:
    """Validate the study file, create or reopen its study and remember how to run it."""
    cfg = load_study_config(file)
    objective = _with_device(resolve_objective(cfg.objective, cfg.base_dir), device)
    validate = getattr(objective, "validate", None)
    if callable(validate):  # e.g. a supernet objective: device and data set, before any write
        validate()
    study = create_study_from_config(
        cfg, storage=storage, seed=seed, n_trials=n_trials, timeout=timeout
    )
    total = cfg.n_trials if n_trials is None else n_trials
    return _Opened(study, objective, total, cfg.timeout if timeout is None else timeout, cfg.plot)


def _open_name(
    name: str,
    storage: str | None,
    n_trials: int | None,
    timeout: float | None,
    device: str | None,
) -> _Opened:
    """Reopen a study by name with the objective ``nas run FILE`` stored for it."""
    study = load_study(name, _storage(storage))
    attrs = study.user_attrs
    how = attrs.get(RUN_ATTR)
    if not isinstance(how, dict):
        raise NasError(
            f"study {name!r} was not started by `nas run FILE` or `nas worker FILE`, so its "
            "objective is unknown here; pass the study file instead of the name"
        )
    spec = how.get("objective")
    if isinstance(spec, dict) or spec == "supernet":  # a typed objective ("supernet": earlier)
        definition = stored_definition(attrs)
        if definition is None:
            raise NasError(
                f"study {name!r}: its objective is not defined yet; start it with its file"
            )
        objective: Any = objective_from_definition(definition, device=device)
    else:
        source = Path(str(how.get("file", "")))
        objective = _with_device(
            resolve_objective(str(how["objective"]), source.parent if source.name else None),
            device,
        )
    total = how.get("n_trials") if n_trials is None else n_trials
    limit = how.get("timeout") if timeout is None else timeout
    return _Opened(study, objective, total, limit, None)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Study YAML file.", show_default=False)],
    storage: StorageOpt = None,
    n_trials: NTrialsOpt = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Study seed (overrides the file).")
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
    opened = _open_file(file, storage, n_trials, seed, timeout, device)
    study, objective = opened.study, opened.objective
    if workers > 1:
        try:
            if hasattr(objective, "prepare"):  # trained once here, loaded by every worker
                _prepare_with_progress(study, objective, quiet)
            _run_local_workers(study, file, opened, workers, quiet, device, max_restarts)
        except KeyboardInterrupt:
            _interrupted(study)
    else:
        _work_here(opened, quiet, max_restarts)
    if not quiet:
        out.print(_summary(study), highlight=False)
        if len(study.objectives) > 1 and study.get_trials((TrialState.COMPLETE,)):
            _print_front(study, Format.table)
    if opened.plot is not None:
        path = _write_plot(study, opened.plot)
        if not quiet:
            err.print(f"wrote {path}", highlight=False)


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
    path = Path(target)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        opened = _open_file(path, storage, n_trials, None, timeout, device)
    else:
        opened = _open_name(target, storage, n_trials, timeout, device)
    _work_here(opened, quiet, max_restarts)
    if not quiet:
        out.print(_summary(opened.study), highlight=False)


def _work_here(opened: _Opened, quiet: bool, max_restarts: int) -> None:
    """Prepare the objective (e.g. train or load a supernet), then run trials in this process
    until the study's total; Ctrl-C re-queues the running trial and exits 130."""
    study, objective = opened.study, opened.objective
    try:
        if hasattr(objective, "prepare"):
            _prepare_with_progress(study, objective, quiet)
        if quiet:
            study.optimize(
                objective, n_trials=opened.total, timeout=opened.timeout, max_restarts=max_restarts
            )
        else:
            _optimize_with_progress(study, objective, opened.total, opened.timeout, max_restarts)
    except KeyboardInterrupt:
        _interrupted(study)


def _interrupted(study: Study) -> None:
    n = sum(t.state.is_finished for t in study.trials)
    err.print(
        f"interrupted: study {study.name!r} has {n} finished trials; "
        "run the same command to resume",
        highlight=False,
    )
    raise typer.Exit(130)


def _run_local_workers(
    study: Study,
    file: Path,
    opened: _Opened,
    workers: int,
    quiet: bool,
    device: str | None,
    max_restarts: int,
) -> None:
    """Start ``workers`` ``nas worker`` processes on the study and follow them in one bar.

    Raises:
        NasError: a worker exited with an error (its last line of output is quoted).
        KeyboardInterrupt: after every worker was interrupted (their trials re-queued).
    """
    import contextlib
    import subprocess
    import tempfile

    args = [
        sys.executable, "-m", "nas", "worker", str(file), "--storage", study.storage.url,
        "--quiet", "--max-restarts", str(max_restarts),
    ]  # fmt: skip
    if opened.total is not None:
        args += ["--n-trials", str(opened.total)]
    if opened.timeout is not None:
        args += ["--timeout", str(opened.timeout)]
    if device is not None:
        args += ["--device", device]
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in range(workers)]
        procs = [subprocess.Popen(args, stdout=log, stderr=log) for log in logs]
        try:
            _follow(study, procs, opened.total, quiet)
        except KeyboardInterrupt:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
            raise
        messages = []
        for k, p in enumerate(procs):
            if p.returncode != 0:
                logs[k].seek(0)
                lines = [line.strip() for line in logs[k].read().splitlines() if line.strip()]
                last = lines[-1] if lines else "(no output)"
                messages.append(f"worker {k} exited with status {p.returncode}: {last}")
    if messages:
        raise NasError("; ".join(messages))


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
        console=err,
    )


def _follow(study: Study, procs: list[Any], total: int | None, quiet: bool) -> None:
    """Poll the study until every worker process has exited, showing one progress bar."""
    import time

    if quiet:
        for p in procs:
            p.wait()
        return
    with _trials_progress() as progress:
        trials = study.trials
        task = progress.add_task(
            f"{study.name} ({len(procs)} workers)",
            total=total,
            completed=sum(t.state.is_finished for t in trials),
            status=_status(study, trials),
        )
        while True:
            done = all(p.poll() is not None for p in procs)
            trials = study.trials
            running = sum(t.state == TrialState.RUNNING for t in trials)
            progress.update(
                task,
                completed=sum(t.state.is_finished for t in trials),
                status=f"{_status(study, trials)} | running {running}",
            )
            if done:
                return
            time.sleep(0.5)


def _status(study: Study, trials: Sequence[FrozenTrial]) -> str:
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = sum(t.state == TrialState.FAILED for t in trials)
    if not complete:
        head = "no complete trial yet"
    elif not any(t.feasible is not False for t in complete):
        head = "no feasible trial yet"
    elif len(study.objectives) == 1:
        head = f"best {study.objectives[0].name}={study.best_value:.6g}"
    else:
        head = f"pareto front {len(study.pareto_front())}"
    if study.constraints is not None:
        head += f" | feasible {sum(t.feasible is True for t in complete)}/{len(complete)}"
    return f"{head} | failed {failed}"


def _prepare_with_progress(study: Study, objective: Any, quiet: bool) -> None:
    """Train (or load) what the objective needs before the first trial, e.g. a supernet."""
    if quiet:
        objective.prepare(study)
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
        console=err,
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

        objective.prepare(study, on_epoch=on_epoch, on_wait=on_wait)
    if task is None:
        err.print(f"supernet: trained weights loaded from {study.storage.url}", highlight=False)
    tree = study.user_attrs.get(FAMILY_ATTR)
    if tree:
        policies = sorted({r["policy"] for r in tree["splits"]})
        err.print(
            f"supernet: {len(tree['leaves'])} sub-supernets after {len(tree['splits'])} "
            f"{'/'.join(policies)} splits; trials go to the one that owns their network "
            f"(`nas splits {study.name}`)",
            highlight=False,
        )


def _optimize_with_progress(
    study: Study, objective: Any, total: int | None, timeout: float | None, max_restarts: int = 3
) -> None:
    trials = study.trials
    with _trials_progress() as progress:
        task = progress.add_task(
            study.name,
            total=total,
            completed=sum(t.state.is_finished for t in trials),
            status=_status(study, trials),
        )

        def update(s: Study, _: FrozenTrial) -> None:
            now = s.trials
            progress.update(
                task, completed=sum(t.state.is_finished for t in now), status=_status(s, now)
            )

        study.optimize(
            objective,
            n_trials=total,
            timeout=timeout,
            callbacks=[update],
            max_restarts=max_restarts,
        )


def _summary(study: Study) -> str:
    trials = study.trials
    counts = {s: sum(t.state == s for t in trials) for s in TrialState}
    parts = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
    line = f"study {study.name!r}: {len(trials)} trials ({parts or 'none'})"
    if study.constraints is not None:
        n_feasible = sum(t.feasible is True for t in trials)
        line += f"; {n_feasible} of {counts[TrialState.COMPLETE]} complete are feasible"
        if counts[TrialState.COMPLETE] and not n_feasible:
            return line + f" ({study.constraints!r}): no best trial"
    if counts[TrialState.COMPLETE]:
        if len(study.objectives) == 1:
            best = study.best_trial
            line += (
                f"; best {study.objectives[0].name}={study.best_value:.6g} (trial {best.number})"
            )
        else:
            front = study.pareto_front()
            line += f"; Pareto front of {len(front)} trials"
            if 2 <= len(study.objectives) <= 3:
                line += f", hypervolume {study.hypervolume():.6g}"
        line += f". See: nas pareto {study.name}" if len(study.objectives) > 1 else ""
    return line


# --------------------------------------------------------------------------- queries
def _storage(storage: str | None) -> str:
    return storage or DEFAULT_STORAGE


def _emit(
    rows: list[dict[str, Any]], fmt: Format, columns: list[str], title: str | None = None
) -> None:
    if fmt is Format.json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    flat = [{c: _cell(r.get(c)) for c in columns} for r in rows]
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        typer.echo(buf.getvalue(), nl=False)
        return
    table = Table(title=title)
    for c in columns:
        # Table headers drop the csv prefix; cells never fold (a folded number misleads).
        table.add_column(c.removeprefix("param:"), no_wrap=True)
    for r in flat:
        table.add_row(*(r[c] for c in columns))
    _print_table(table)


def _print_table(table: Table) -> None:
    """Render at the table's natural width, wider than the terminal if needed (like psql)."""
    needed = Measurement.get(out, out.options.update_width(10_000), table).maximum
    Console(width=max(out.width, needed), soft_wrap=True).print(table)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _trial_row(t: FrozenTrial) -> dict[str, Any]:
    return {
        "number": t.number,
        "state": str(t.state),
        "params": dict(t.params),
        "values": dict(t.values),
        "budget": t.budget,
        "datetime_start": t.datetime_start.isoformat() if t.datetime_start else None,
        "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else None,
        "duration": t.duration,
        "failure_reason": t.failure_reason,
        "user_attrs": dict(t.user_attrs),
        "metrics": {k: (v if math.isfinite(v) else None) for k, v in t.metrics.items()},
        "feasible": t.feasible,
        "constraint_values": [v if math.isfinite(v) else None for v in t.constraint_values],
    }


def _flatten(study: Study, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Spread params and values into their own columns for table/csv output."""
    value_cols = [o.name for o in study.objectives]
    param_cols = list(study.space.names)
    flat = []
    for r in rows:
        f = {
            k: v
            for k, v in r.items()
            if k not in ("params", "values", "user_attrs", "metrics", "constraint_values")
        }
        f.update({c: r["values"].get(c) for c in value_cols})
        f.update({f"param:{c}": r["params"].get(c) for c in param_cols})
        flat.append(f)
    return flat, value_cols + [f"param:{c}" for c in param_cols]


@app.command()
def studies(storage: StorageOpt = None, fmt: FormatOpt = Format.table) -> None:
    """List the studies in the storage with their trial counts."""
    from nas.storage import get_storage

    rows = []
    for s in get_storage(_storage(storage)).list_studies():
        counts = {str(k): v for k, v in s.state_counts.items()}
        rows.append(
            {
                "name": s.name,
                "objectives": ", ".join(f"{o.name} ({o.direction})" for o in s.objectives),
                "trials": s.n_trials,
                "complete": counts.get("COMPLETE", 0),
                "failed": counts.get("FAILED", 0),
                "pruned": counts.get("PRUNED", 0),
                "running": counts.get("RUNNING", 0),
                "waiting": counts.get("WAITING", 0),
                "created": s.created_at.isoformat(timespec="seconds"),
            }
        )
    _emit(rows, fmt, list(rows[0]) if rows else ["name", "objectives", "trials"], title="studies")


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
    """List the trials of a study."""
    study = load_study(name, _storage(storage))
    selected = study.get_trials(set(state) if state else None)
    rows = [_trial_row(t) for t in selected]
    if fmt is Format.json:
        _emit(rows, fmt, [])
        return
    flat, cols = _flatten(study, rows)
    extra: list[str] = []
    if study.constraints is not None:  # feasibility and total violation of each trial
        extra = ["feasible", "violation"]
        for f, t in zip(flat, selected, strict=True):
            f["feasible"] = {True: "yes", False: "no", None: None}[t.feasible]
            f["violation"] = t.total_violation if t.feasible is not None else None
    else:
        for f in flat:
            f.pop("feasible", None)
    for f in flat:
        reason = f.pop("failure_reason")
        f["failure"] = reason.strip().splitlines()[-1] if reason else None
    _emit(
        flat,
        fmt,
        ["number", "state", *cols, *extra, "budget", "duration", "failure"],
        title=f"trials of {name}",
    )


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
    study = load_study(name, _storage(storage))
    _print_front(study, fmt)
    if html is not None:
        written = _write_plot(study, html)
        err.print(f"wrote {written}", highlight=False)


def _print_front(study: Study, fmt: Format) -> None:
    """The Pareto front: trial-number order for json/csv, along the front for a table."""
    front = study.pareto_front()
    if fmt is Format.table:
        front.sort(key=lambda t: [t.values[o.name] for o in study.objectives])
    rows = [
        {"number": t.number, "params": dict(t.params), "values": dict(t.values)} for t in front
    ]
    if fmt is Format.json:
        _emit(rows, fmt, [])
        return
    title = f"Pareto front of {study.name} ({len(front)} trials)"
    archs = [arch_text(t.user_attrs.get("arch")) for t in front]
    if front and all(a is not None for a in archs):
        # A NAS study: one row per architecture of the front, with every trial of it (a study
        # proposes each network once, but trials from before that rule, or enqueued by hand,
        # may repeat one).
        names = [o.name for o in study.objectives]
        same: dict[str, list[int]] = {}
        for t in study.get_trials((TrialState.COMPLETE,)):
            same.setdefault(json.dumps(t.user_attrs.get("arch"), sort_keys=True), []).append(
                t.number
            )
        flat = []
        shown: set[str] = set()
        for t, a in zip(front, archs, strict=True):
            key = json.dumps(t.user_attrs.get("arch"), sort_keys=True)
            if key in shown:
                continue
            shown.add(key)
            numbers = same.get(key, [t.number])
            flat.append(
                {
                    "number": t.number,
                    **{n: t.values[n] for n in names},
                    "arch": a,
                    "leaf": t.user_attrs.get(LEAF_ATTR),
                    "trials": ", ".join(map(str, numbers)),
                }
            )
        title = f"Pareto front of {study.name} ({len(front)} trials, {len(flat)} architectures)"
        leaf = ["leaf"] if FAMILY_ATTR in study.user_attrs else []
        _emit(flat, fmt, ["number", *names, "arch", *leaf, "trials"], title=title)
        return
    flat, cols = _flatten(study, rows)
    _emit(flat, fmt, ["number", *cols], title=title)


@app.command()
def splits(
    name: Annotated[str, typer.Argument(help="Study name (a NAS study).", show_default=False)],
    storage: StorageOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Show how a NAS study's supernet was split into sub-supernets (train.splits): every split
    with its groups, and for gradient matching each scored slot's cut score and distances."""
    study = load_study(name, _storage(storage))
    tree = study.user_attrs.get(FAMILY_ATTR)
    if tree is None:
        raise NasError(
            f"study {name!r} has no split supernet (its objective has no train.splits, or it "
            "has not trained yet)"
        )
    if fmt is Format.json:
        typer.echo(json.dumps(tree, indent=2))
        return

    def text(choice: list[Any]) -> str:
        op, k, w = choice
        return f"{op}{k or ''}{'/' + str(w) if w else ''}" if (k or w) else str(op)

    rows = [
        {
            "split": i + 1,
            "leaf": r["leaf"],
            "slot": f"s{r['slot'][0]}.l{r['slot'][1]}",
            "children": " | ".join(
                f"{c}: {' '.join(map(text, g))}"
                for c, g in zip(r["children"], r["groups"], strict=True)
            ),
            "policy": r["policy"],
            "at_step": r["at_step"],
            "restart": "new weights" if r["final"] else "copied",
            "cut scores": ", ".join(
                f"s{x['slot'][0]}.l{x['slot'][1]} {x['cut']:.4g}" for x in r["scores"]
            ),
        }
        for i, r in enumerate(tree["splits"])
    ]
    columns = ["split", "leaf", "slot", "children", "policy", "at_step", "restart", "cut scores"]
    leaves = ", ".join(leaf["id"] for leaf in tree["leaves"])
    _emit(rows, fmt, columns, title=f"Splits of {study.name} (leaves {leaves})")
    if fmt is not Format.table:
        return
    for i, r in enumerate(tree["splits"]):
        chosen = [x for x in r["scores"] if x["slot"] == r["slot"]]
        if not chosen:
            continue
        labels = [text(c) for c in chosen[0]["choices"]]
        slot = f"s{r['slot'][0]}.l{r['slot'][1]}"
        table = Table(
            title=f"split {i + 1} (leaf {r['leaf']}): gradient distance (1 - cos) in {slot}"
        )
        table.add_column("")
        for label in labels:
            table.add_column(label, justify="right")
        for label, row in zip(labels, chosen[0]["distance"], strict=True):
            table.add_row(label, *(f"{v:.3f}" for v in row))
        _print_table(table)


def _write_plot(study: Study, path: Path) -> Path:
    """The study's Pareto front (or history, one objective) as offline HTML at ``path``."""
    from nas.plots import pareto_figure, write_html

    complete = study.get_trials((TrialState.COMPLETE,))
    front = study.pareto_front() if complete else []
    label = "Pareto front" if len(study.objectives) > 1 else "history"
    fig = pareto_figure(
        complete,
        study.objectives,
        front_numbers={t.number for t in front},
        title=f"{study.name}: {label}",
    )
    try:
        return write_html(fig, path)
    except OSError as e:
        raise NasError(f"cannot write {path}: {e.strerror or e}") from None


@app.command()
def export(
    name: Annotated[str, typer.Argument(help="Study name (a NAS study).", show_default=False)],
    trial: Annotated[int, typer.Option("--trial", min=0, help="Trial number to export.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write (created).")],
    storage: StorageOpt = None,
    device: Annotated[
        str, typer.Option("--device", help="Where the supernet is loaded (cpu, cuda).")
    ] = "cpu",
    pt2: Annotated[
        bool, typer.Option("--pt2/--no-pt2", help="Also write a torch.export program.")
    ] = True,
) -> None:
    """Write a NAS trial's network: state dict, architecture JSON, TorchScript (and .pt2)."""
    from nas.supernet import export_subnet

    study = load_study(name, _storage(storage))
    _check_device(device, "--device")
    try:
        paths = export_subnet(study, trial, out_dir, device=device, exported_program=pt2)
    except OSError as e:
        raise NasError(f"cannot write {out_dir}: {e.strerror or e}") from None
    written = [paths.state_dict, paths.arch_json, paths.torchscript]
    if paths.exported_program is not None:
        written.append(paths.exported_program)
    for p in written:
        out.print(str(p), highlight=False)


@app.command()
def delete(
    name: Annotated[str, typer.Argument(help="Study name.", show_default=False)],
    storage: StorageOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a study and all its trials."""
    from nas.study import delete_study

    url = _storage(storage)
    load_study(name, url)  # raises a clear error if missing
    if not yes and not typer.confirm(f"delete study {name!r} and all its trials from {url}?"):
        raise typer.Exit(1)
    delete_study(name, url)
    err.print(f"deleted study {name!r}", highlight=False)


@app.command()
def dashboard(
    storage: StorageOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8080,
    allow_write: Annotated[
        bool,
        typer.Option(
            "--allow-write",
            help="Enable renaming/deleting studies, notes and excluding trials from the pages.",
        ),
    ] = False,
) -> None:
    """Serve the web dashboard (studies, plots, trial table, JSON API at /docs)."""
    import errno
    import socket

    from sqlalchemy.engine import make_url

    from nas.dashboard import serve
    from nas.storage import get_storage

    url = _storage(storage)
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
    try:  # a clear line instead of uvicorn's log when the port is taken
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as e:
        why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be bound ({e.strerror})"
        raise NasError(f"dashboard: {host}:{port} {why}; choose another with --port/--host") from e
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    mode = "read-write" if allow_write else "read-only"
    err.print(f"nas dashboard ({mode}) on {where} for {url} - Ctrl-C to stop", highlight=False)
    serve(opened, host=host, port=port, allow_write=allow_write)


# --------------------------------------------------------------------------- db
@db_app.command("upgrade")
def db_upgrade(storage: StorageOpt = None) -> None:
    """Upgrade the database schema to this version of nas."""
    from nas.storage import upgrade

    url = _storage(storage)
    before, after = upgrade(url)
    if before == after:
        typer.echo(f"{url}: already at revision {after}")
    else:
        typer.echo(f"{url}: upgraded from {before or 'an empty database'} to {after}")


@db_app.command("current")
def db_current(storage: StorageOpt = None) -> None:
    """Print the schema revision of the database."""
    from nas.storage import HEAD_REVISION, current_revision

    url = _storage(storage)
    rev = current_revision(url)
    if rev is None:
        typer.echo(f"{url}: no nas schema yet (it is created at {HEAD_REVISION} on first use)")
    elif rev == HEAD_REVISION:
        typer.echo(f"{rev} (head)")
    else:
        typer.echo(f"{rev} (this nas needs {HEAD_REVISION}; run `nas db upgrade --storage {url}`)")


# --------------------------------------------------------------------------- bench
def _sampler_choices() -> dict[str, str]:
    from nas.supernet._samplers import PATH_SAMPLERS  # torch-free: the registry alone

    return {name: name for name in [*PATH_SAMPLERS.names(), "all"]}


#: The ``--sampler`` choices of ``nas bench ranking``: every registered path sampler, or all.
RankingSampler = StrEnum("RankingSampler", _sampler_choices())  # type: ignore[misc]


@bench_app.command("ranking")
def bench_ranking(
    sampler: Annotated[
        RankingSampler, typer.Option("--sampler", help="Path sampler to measure, or all.")
    ] = RankingSampler["all"],
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Supernet seeds per sampler.")] = 3,
    epochs: Annotated[
        int, typer.Option("--epochs", min=1, help="Supernet training epochs (every sampler).")
    ] = 30,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write per-seed results to this JSON file.")
    ] = None,
    ground_truth: Annotated[
        Path,
        typer.Option("--ground-truth", help="Stand-alone accuracies of every architecture."),
    ] = Path("benchmarks/ranking_ground_truth.json"),
    device: Annotated[
        str, typer.Option("--device", help="Where supernets train: cpu, cuda, cuda:1, ...")
    ] = "cpu",
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes training supernets at once.")
    ] = 1,
) -> None:
    """Kendall tau of supernet vs stand-alone accuracy per path sampler, beside its floor (free
    cost proxies) and ceiling (the ground truth's split-half agreement).

    Trains one supernet per sampler and seed on the ground truth's data (its recipe, ``--epochs``
    epochs), scores every architecture of its space on the held-out half with inherited weights
    after batch-norm recalibration, and compares with the stand-alone accuracies: over all
    architectures and within FLOPs bins.
    """
    import statistics

    from nas.supernet._ranking import paired

    gt = _bench_ground_truth(ground_truth, device, json_out)
    names = (
        [n for n in _sampler_choices() if n != "all"]
        if sampler.value == "all"
        else [sampler.value]
    )
    results = _ranking_runs(
        gt, "training supernets", [{"sampler": n} for n in names], seeds, epochs, device, workers
    )

    proxies, ceiling = gt.proxies(), gt.ceiling()
    within = gt.proxies_within_bins()
    table = Table(
        title=f"{len(gt.archs)} architectures, {seeds} seed(s), {epochs} epochs "
        f"(ground truth: {gt.seeds} stand-alone seeds)"
    )
    for col in ("", "Kendall tau", "within FLOPs bins", "tau by NLL", "top-5 overlap", "s / seed"):
        table.add_column(col)
    table.add_row("ceiling (split-half)", f"{ceiling:.3f}", "", "", "", "")
    for name, tau in proxies.items():
        table.add_row(f"floor: {name} proxy", f"{tau:.3f}", f"{within[name]:.3f}", "", "", "")
    for r in results:
        table.add_row(
            r.sampler,
            _spread(r.kendall_tau),
            _spread(r.kendall_tau_within_bins),
            _spread(r.kendall_tau_nll),
            _spread(r.top5_overlap),
            f"{statistics.fmean(r.train_seconds):.1f}",
        )
    _print_table(table)
    best_proxy = max(proxies, key=lambda k: proxies[k])
    if seeds >= 2:
        by_name = {r.sampler: r for r in results}
        for r in results:
            vs = paired(r.kendall_tau, proxies[best_proxy])
            line = (
                f"{r.sampler} - {best_proxy} proxy: {vs.mean:+.3f} ± {vs.se:.3f} "
                f"(higher on {vs.wins}/{vs.n} seeds, signed-rank p = {vs.p_value:.3f})"
            )
            if r.sampler != "uniform" and "uniform" in by_name:
                u = paired(r.kendall_tau, by_name["uniform"].kendall_tau)
                line += f"; - uniform: {u.mean:+.3f} ± {u.se:.3f} (p = {u.p_value:.3f})"
            out.print(line, highlight=False)
    if json_out is not None:
        payload: dict[str, Any] = {
            r.sampler: {**r.to_json(), "epochs": epochs, "seeds": list(range(seeds))}
            for r in results
        }
        payload["proxies"] = proxies
        payload["proxies_within_bins"] = within
        payload["ceiling"] = ceiling
        _write_json(json_out, payload)


def _policy_choices() -> dict[str, str]:
    from nas.supernet._splits import SPLIT_POLICIES  # torch-free: the registry alone

    return {name: name for name in [*SPLIT_POLICIES.names(), "all"]}


#: The ``--policy`` choices of ``nas bench splits``: every registered split policy, or all.
SplitPolicyChoice = StrEnum("SplitPolicyChoice", _policy_choices())  # type: ignore[misc]
#: ``nas bench splits --space``: the ground truths it runs on.
SPLIT_SPACES = {
    "micro": Path("benchmarks/ranking_ground_truth_ops.json"),
    "ranking": Path("benchmarks/ranking_ground_truth.json"),
}
SplitSpace = StrEnum("SplitSpace", {k: k for k in SPLIT_SPACES})  # type: ignore[misc]


@bench_app.command("splits")
def bench_splits(
    policy: Annotated[
        SplitPolicyChoice, typer.Option("--policy", help="Split policy to measure, or all.")
    ] = SplitPolicyChoice["all"],
    space: Annotated[
        SplitSpace,
        typer.Option(
            "--space",
            help="micro: 3 slots x 4 ops (64 architectures); ranking: 2 slots x 9 choices (81).",
        ),
    ] = SplitSpace["micro"],
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds per policy.")] = 3,
    epochs: Annotated[
        int, typer.Option("--epochs", min=2, help="The family's budget in epochs of steps.")
    ] = 60,
    at_epochs: Annotated[
        str, typer.Option("--at-epochs", help="Split epochs, comma-separated.")
    ] = "20,40",
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Minibatches of gm's gradient matching.")
    ] = 4,
    restart: Annotated[
        str, typer.Option("--restart", help="final (new weights at the last split) or none.")
    ] = "none",
    sampler: Annotated[
        RankingSampler, typer.Option("--sampler", help="Path sampler inside each leaf.")
    ] = RankingSampler["pada"],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write per-seed results to this JSON file.")
    ] = None,
    ground_truth: Annotated[
        Path | None,
        typer.Option("--ground-truth", help="Stand-alone accuracies (default: the space's)."),
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="Where supernets train: cpu, cuda, cuda:1, ...")
    ] = "cpu",
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes training families at once.")
    ] = 1,
) -> None:
    """Supernet splits (GM-NAS) at an equal budget of optimizer steps: Kendall tau (overall and
    within FLOPs bins) and top-1 regret of each split policy, beside the floor (cost proxies)
    and the ceiling (the ground truth's split-half agreement).

    Every policy trains a family with the same budget (gradient scoring is charged to it), the
    same seeds (the same initial weights and data order up to the first split) and the same
    path sampler inside each leaf; every architecture is scored by the leaf that owns it.
    """
    import statistics

    from nas.supernet._config import OptionError, SplitConfig, TrainConfig
    from nas.supernet._family import check_split_budget
    from nas.supernet._ranking import paired, ranking_data

    gt = _bench_ground_truth(ground_truth or SPLIT_SPACES[space.value], device, json_out)
    try:
        at = [int(x) for x in at_epochs.split(",") if x.strip()]
    except ValueError:
        raise NasError(f"--at-epochs {at_epochs!r}: expected integers like 20,40") from None
    names = (
        [n for n in _policy_choices() if n != "all"] if policy.value == "all" else [policy.value]
    )
    n_train = len(ranking_data(gt.data).y_train)
    configs = {}
    for name in names:
        try:
            split = SplitConfig(
                policy=name, at_epochs=tuple(at) if name != "none" else (), repeats=repeats,
                restart=restart,
            )  # fmt: skip
            train = TrainConfig(epochs=epochs, batch_size=gt.recipe.batch_size, splits=split)
        except OptionError as e:
            option = e.option.removeprefix("splits.").replace("_", "-")
            raise NasError(f"--{option}: must be {e.rule}, got {e.value!r}") from None
        try:
            check_split_budget(gt.space, train, n_train)
        except ValueError as e:
            raise NasError(f"--epochs/--at-epochs/--repeats: {e}") from None
        configs[name] = split.to_dict()
    runs = [{"sampler": sampler.value, "train": {"splits": configs[n]}, "label": n} for n in names]
    results = _ranking_runs(gt, "training families", runs, seeds, epochs, device, workers)

    proxies, ceiling = gt.proxies(), gt.ceiling()
    within, regret = gt.proxies_within_bins(), gt.proxies_regret()
    table = Table(
        title=f"{space.value}: {len(gt.archs)} architectures, {seeds} seed(s), {epochs} epochs "
        f"of steps, splits after epochs {at}, sampler {sampler.value}"
    )
    for col in ("", "Kendall tau", "within FLOPs bins", "top-1 regret", "leaves", "charged"):
        table.add_column(col)
    table.add_row("ceiling (split-half)", f"{ceiling:.3f}", "", f"{gt.ceiling_regret():.4f}")
    for name, tau in proxies.items():
        table.add_row(
            f"floor: {name} proxy", f"{tau:.3f}", f"{within[name]:.3f}", f"{regret[name]:.4f}"
        )
    table.add_row("floor: random pick", "", "", f"{regret['random']:.4f}")
    for r in results:
        table.add_row(
            r.sampler,
            _spread(r.kendall_tau),
            _spread(r.kendall_tau_within_bins),
            f"{statistics.fmean(r.top1_regret):.4f}",
            str(round(statistics.fmean(r.leaves), 1)),
            f"{statistics.fmean(r.charged_steps):.0f}",
        )
    _print_table(table)
    by_name = {r.sampler: r for r in results}
    if seeds >= 2 and "none" in by_name:
        for r in results:
            if r.sampler == "none":
                continue
            vs = paired(r.kendall_tau, by_name["none"].kendall_tau)
            out.print(
                f"{r.sampler} - none: {vs.mean:+.3f} ± {vs.se:.3f} (higher on {vs.wins}/{vs.n} "
                f"seeds, signed-rank p = {vs.p_value:.3f})",
                highlight=False,
            )
    if json_out is not None:
        payload: dict[str, Any] = {
            r.sampler: {
                **{k: v for k, v in r.to_json().items() if k != "agreement"},
                "epochs": epochs,
                "splits": configs[r.sampler],
                "seeds": list(range(seeds)),
            }
            for r in results
        }
        payload["proxies"] = proxies
        payload["proxies_within_bins"] = within
        payload["proxies_regret"] = regret
        payload["ceiling"] = ceiling
        payload["ceiling_regret"] = gt.ceiling_regret()
        _write_json(json_out, payload)


@bench_app.command("quant")
def bench_quant(
    seeds: Annotated[
        int, typer.Option("--seeds", min=1, help="Seeds (supernets and models).")
    ] = 1,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Epochs of every model.")] = 30,
    cqap_configs: Annotated[
        int,
        typer.Option(
            "--cqap-configs", min=0, help="Mixed settings measured for CQAP (half held out)."
        ),
    ] = 1000,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the results to this JSON file.")
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="Where models train: cpu, cuda, cuda:1, ...")
    ] = "cpu",
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes training models at once.")
    ] = 1,
) -> None:
    """Elastic quantization (EQ-Net): one supernet against one static LSQ QAT model per
    uniform setting (bits 2/4/8 x sym/asym x per-channel/per-tensor), same epochs each; the
    accuracy gap per setting, the 2-bit ablations (no WDR, no progressive guidance), CQAP's
    held-out Kendall tau and Pearson on mixed settings, and the training cost."""
    import statistics

    from rich.progress import Progress

    from nas.supernet._quant_bench import UNIFORM_SETTINGS, run_quant_bench

    _check_bench_options(device, json_out)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("training models", total=seeds * (4 + len(UNIFORM_SETTINGS)))
        result = run_quant_bench(
            list(range(seeds)),
            epochs,
            device=device,
            workers=workers,
            cqap_configs=cqap_configs,
            on_job=lambda: bar.advance(task),
        )
    table = Table(title=f"EQ-Net supernet vs static LSQ QAT: {seeds} seed(s), {epochs} epochs")
    for col in ("setting", "supernet", "static", "gap (points)", "no WDR", "no GPG"):
        table.add_column(col)
    table.add_row("full precision", "", _spread(result["fp_acc_seeds"]))
    for c in result["configs"]:
        sup, sta = c["supernet_acc_seeds"], c["static_acc_seeds"]
        table.add_row(
            f"W{c['wbits']}A{c['abits']} {c['granularity']} {c['symmetry']}",
            _spread(sup),
            _spread(sta),
            f"{100 * (statistics.fmean(sta) - statistics.fmean(sup)):.2f}",
            _spread(c["no_wdr_acc_seeds"]) if "no_wdr_acc_seeds" in c else "",
            _spread(c["no_gpg_acc_seeds"]) if "no_gpg_acc_seeds" in c else "",
        )
    _print_table(table)
    cqap, cost = result["cqap"], result["cost"]
    if cqap:
        out.print(
            f"CQAP: Kendall tau {cqap['kendall_tau']:.3f}, Pearson {cqap['pearson']:.3f} on "
            f"{int(cqap['n_test'])} held-out mixed settings",
            highlight=False,
        )
    out.print(
        f"cost: supernet {statistics.fmean(cost['supernet_passes']):.0f} passes, "
        f"{statistics.fmean(cost['supernet_seconds']):.1f} s; 12 static models "
        f"{statistics.fmean(cost['static_passes']):.0f} passes, "
        f"{statistics.fmean(cost['static_seconds']):.1f} s",
        highlight=False,
    )
    if json_out is not None:
        _write_json(json_out, result)


def _bench_ground_truth(path: Path, device: str, json_out: Path | None) -> Any:
    """The ground truth of a ``nas bench`` command, after checking its ``--device`` and that
    ``--json`` can be written (one-line errors)."""
    from nas.supernet._ranking import GroundTruth

    gt = GroundTruth.load(path)
    _check_bench_options(device, json_out)
    return gt


def _check_bench_options(device: str, json_out: Path | None) -> None:
    """A ``nas bench`` command's ``--device`` exists here and its ``--json`` can be written
    (one-line errors)."""
    _check_device(device, "--device")
    if json_out is not None and not json_out.parent.exists():
        raise NasError(f"--json {json_out}: directory {json_out.parent} does not exist")


def _ranking_runs(
    gt: Any,
    what: str,
    runs: list[dict[str, Any]],
    seeds: int,
    epochs: int,
    device: str,
    workers: int,
) -> list[Any]:
    """One :func:`~nas.supernet._ranking.run_ranking` per entry of ``runs`` (its keyword
    arguments) on seeds ``0..seeds-1``, under one progress bar."""
    from rich.progress import Progress

    from nas.supernet._ranking import run_ranking

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(what, total=len(runs) * seeds)
        return [
            run_ranking(
                gt,
                seeds=list(range(seeds)),
                epochs=epochs,
                device=device,
                workers=workers,
                on_seed=lambda: bar.advance(task),
                **run,
            )
            for run in runs
        ]


def _spread(values: list[float]) -> str:
    """``mean ± sd`` of per-seed values."""
    import statistics

    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def _write_json(path: Path, payload: Any) -> None:
    try:
        path.write_text(json.dumps(payload, indent=1) + "\n")
    except OSError as e:
        raise NasError(f"cannot write {path}: {e.strerror or e}") from None


def _check_device(device: str, where: str) -> None:
    from nas.supernet import check_device

    check_device(device, where)


# --------------------------------------------------------------------------- entry point
def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: every known error becomes one line on stderr and exit status 2."""
    command = typer.main.get_command(app)
    try:
        rv = command.main(
            args=list(argv) if argv is not None else None, prog_name="nas", standalone_mode=False
        )
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err.print("aborted", highlight=False)
        sys.exit(130)
    except _UsageError as e:
        ctx = getattr(e, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        sys.stderr.write(f"error: {_one_line(e.format_message())}{hint}\n")
        sys.exit(2)
    except NasError as e:
        sys.stderr.write(f"error: {_one_line(str(e))}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
