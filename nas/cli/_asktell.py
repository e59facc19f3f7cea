"""``nas ask``, ``nas report`` and ``nas tell``: a study driven from a shell loop or another
program, one trial at a time (:mod:`nas.study._asktell` holds the semantics)::

    while trial=$(nas ask demo --format json); do
        n=$(echo "$trial" | jq .number)
        loss=$(./simulate "$(echo "$trial" | jq -c .params)")
        nas tell demo --trial "$n" --values "{\"loss\": $loss}"
    done

``nas ask`` exits with status 1 (and one line on stderr) when the study holds its total or
nothing can be proposed until pending trials are told; bad input exits with 2.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from nas._tables import TableData
from nas._types import FrozenTrial, TrialState
from nas.cli._app import Format, StorageOpt, app, emit, emit_json, err, storage_url
from nas.exceptions import StudyConfigError

__all__ = ["ask", "report", "tell"]

NameArg = Annotated[str, typer.Argument(help="Study name.", show_default=False)]
TrialOpt = Annotated[int, typer.Option("--trial", help="Trial number (from nas ask).")]
AskFormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


@app.command()
def ask(
    name: NameArg,
    storage: StorageOpt = None,
    fmt: AskFormatOpt = Format.json,
    n_trials: Annotated[
        int | None,
        typer.Option("--n-trials", help="Total trials of the study (default: the stored one)."),
    ] = None,
    lease: Annotated[
        float,
        typer.Option(
            "--lease",
            help="Seconds the trial stays yours; then it is given back and asked again.",
        ),
    ] = 3600.0,
    wait: Annotated[
        float,
        typer.Option("--wait", help="Seconds to wait while the searcher waits on pending trials."),
    ] = 0.0,
) -> None:
    """Claim the next trial and print its number and params (JSON by default)."""
    from nas.study import load_study

    study = load_study(name, storage_url(storage))
    trial = study.ask(n_trials=n_trials, lease=lease, wait=wait)
    if trial is None:
        counts = {s.value: 0 for s in TrialState}
        for t in study.trials:
            counts[t.state.value] += 1
        pending = counts["WAITING"] + counts["RUNNING"]
        why = (
            f"{pending} trials are pending; tell them or ask with --wait"
            if pending
            else "the study holds its total number of trials (--n-trials to ask for more)"
        )
        err().print(f"nothing to ask in study {name!r}: {why}", highlight=False)
        raise typer.Exit(1)
    record = {
        "study": study.name,
        "number": trial.number,
        "params": trial.params,
        "budget": trial.budget,
        "worker_id": trial.worker_id,
    }
    if fmt is Format.json:
        typer.echo(json.dumps(record))
        return
    row = {"number": trial.number, "budget": trial.budget}
    row.update({f"param:{k}": v for k, v in trial.params.items()})
    emit(TableData(list(row), [row], title=f"study {study.name}"), fmt)


@app.command()
def report(
    name: NameArg,
    trial: TrialOpt,
    step: Annotated[int, typer.Option("--step", help="The step (epoch, iteration, ...).")],
    values: Annotated[
        str, typer.Option("--values", help='JSON: {"loss": 0.3} (or a number: one objective).')
    ],
    storage: StorageOpt = None,
    fmt: AskFormatOpt = Format.table,
) -> None:
    """Store an intermediate value of an asked trial and print the pruner's verdict:
    ``prune`` (then tell it --state PRUNED) or ``continue``."""
    from nas.study import load_study

    study = load_study(name, storage_url(storage))
    handle = _running(study, trial)
    handle.report(step, _json_values(values))
    prune = handle.should_prune()
    if fmt is Format.json:
        emit_json({"number": trial, "step": step, "prune": prune, "reason": handle.prune_reason})
    else:
        typer.echo("prune" if prune else "continue")
        if prune:
            err().print(handle.prune_reason or "", highlight=False)


@app.command()
def tell(
    name: NameArg,
    trial: TrialOpt,
    values: Annotated[
        str | None,
        typer.Option(
            "--values",
            help='JSON: {"loss": 0.3, "acc": 0.9} (or a number: one objective); other keys '
            "are metrics.",
            show_default=False,
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="FAILED or PRUNED, instead of values.", show_default=False),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (stored with a FAILED/PRUNED trial).")
    ] = None,
    storage: StorageOpt = None,
    fmt: AskFormatOpt = Format.table,
) -> None:
    """Finish an asked trial with its values, or as FAILED or PRUNED."""
    if (values is None) == (state is None):
        raise StudyConfigError("nas tell: give exactly one of --values JSON and --state")
    if state is not None and state.upper() not in ("FAILED", "PRUNED"):
        raise StudyConfigError(f"--state: must be FAILED or PRUNED, got {state!r}")
    from nas.study import load_study

    study = load_study(name, storage_url(storage))
    parsed = None if values is None else _json_values(values)
    finished = study.tell(trial, parsed, state=state, reason=reason)
    if fmt is Format.json:
        from nas.study import trial_record

        emit_json(trial_record(finished))
    else:
        err().print(_told(finished), highlight=False)


def _json_values(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise StudyConfigError(
            f"--values: not JSON ({e.msg} at character {e.pos}): {text!r}; e.g. "
            "'{\"loss\": 0.3}' or 0.3"
        ) from None


def _running(study: Any, number: int) -> Any:
    from nas.study import Trial

    trials = study.trials
    if not 0 <= number < len(trials):
        raise StudyConfigError(
            f"--trial: study {study.name!r} has no trial {number} (it has {len(trials)})"
        )
    frozen: FrozenTrial = trials[number]
    if frozen.state is not TrialState.RUNNING:
        raise StudyConfigError(
            f"--trial: trial {number} of study {study.name!r} is {frozen.state.value}, not "
            "RUNNING (ask for a trial first)"
        )
    return Trial(study, frozen, frozen.worker_id or "")


def _told(t: FrozenTrial) -> str:
    values = ", ".join(f"{k}={v:.6g}" for k, v in t.values.items())
    text = f"trial {t.number}: {t.state.value}"
    if values:
        text += f" ({values})"
    if t.state is TrialState.FAILED and t.failure_reason:
        text += f": {t.failure_reason.strip().splitlines()[-1]}"
    return text
