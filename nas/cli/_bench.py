"""``nas bench ranking|splits|quant``: the built-in benchmarks of :mod:`nas.supernet`
(:func:`~nas.supernet.ranking_bench`, :func:`~nas.supernet.splits_bench`,
:func:`~nas.supernet.quant_bench`) under a progress bar; their reports rendered as tables,
lines and ``--json``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nas.cli._app import Format, app, emit, err, out
from nas.supernet._bench import SPLIT_SPACES  # torch-free
from nas.supernet._plugins import PATH_SAMPLERS, SPLIT_POLICIES  # the registries alone

if TYPE_CHECKING:
    from nas.supernet import BenchReport

__all__ = ["bench_app"]

bench_app = typer.Typer(help="Built-in benchmarks of the NAS engine.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _sampler_choices() -> dict[str, str]:
    return {name: name for name in [*PATH_SAMPLERS.names(), "all"]}


def _policy_choices() -> dict[str, str]:
    return {name: name for name in [*SPLIT_POLICIES.names(), "all"]}


def _chosen(value: str, choices: dict[str, str]) -> list[str]:
    """The names ``--sampler`` / ``--policy`` selects: every registered one for ``all``."""
    return [n for n in choices if n != "all"] if value == "all" else [value]


#: The ``--sampler`` choices of ``nas bench ranking``: every registered path sampler, or all.
RankingSampler = StrEnum("RankingSampler", _sampler_choices())  # type: ignore[misc]
#: The ``--policy`` choices of ``nas bench splits``: every registered split policy, or all.
SplitPolicyChoice = StrEnum("SplitPolicyChoice", _policy_choices())  # type: ignore[misc]
#: ``nas bench splits --space``: the ground truths it runs on.
SplitSpace = StrEnum("SplitSpace", {k: k for k in SPLIT_SPACES})  # type: ignore[misc]

JsonOpt = Annotated[
    Path | None, typer.Option("--json", help="Write per-seed results to this JSON file.")
]
DeviceOpt = Annotated[
    str, typer.Option("--device", help="Where supernets train: cpu, cuda, cuda:1, ...")
]


def _show(report: BenchReport, json_out: Path | None) -> None:
    from nas.supernet import write_bench_json

    for table in report.tables:
        emit(table, Format.table)
    for line in report.lines:
        out().print(line, highlight=False)
    if json_out is not None:
        write_bench_json(json_out, report.payload)


def _progress(what: str) -> Any:
    """A transient bar of training jobs, and the ``progress(done, total)`` that drives it."""
    from rich.progress import Progress

    bar = Progress(console=err(), transient=True)
    task = bar.add_task(what, total=None)

    def progress(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, progress


@bench_app.command("ranking")
def bench_ranking(
    sampler: Annotated[
        RankingSampler, typer.Option("--sampler", help="Path sampler to measure, or all.")
    ] = RankingSampler["all"],
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Supernet seeds per sampler.")] = 3,
    epochs: Annotated[
        int, typer.Option("--epochs", min=1, help="Supernet training epochs (every sampler).")
    ] = 30,
    json_out: JsonOpt = None,
    ground_truth: Annotated[
        Path,
        typer.Option("--ground-truth", help="Stand-alone accuracies of every architecture."),
    ] = Path("benchmarks/ranking_ground_truth.json"),
    device: DeviceOpt = "cpu",
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
    from nas.supernet import load_bench_ground_truth, ranking_bench

    gt = load_bench_ground_truth(ground_truth, device, json_out)
    bar, progress = _progress("training supernets")
    with bar:
        report = ranking_bench(
            gt,
            _chosen(sampler.value, _sampler_choices()),
            seeds=seeds,
            epochs=epochs,
            device=device,
            workers=workers,
            progress=progress,
        )
    _show(report, json_out)


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
    json_out: JsonOpt = None,
    ground_truth: Annotated[
        Path | None,
        typer.Option("--ground-truth", help="Stand-alone accuracies (default: the space's)."),
    ] = None,
    device: DeviceOpt = "cpu",
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
    from nas.supernet import load_bench_ground_truth, splits_bench, splits_bench_configs

    path = ground_truth or SPLIT_SPACES[space.value]
    gt = load_bench_ground_truth(path, device, json_out)
    configs, at = splits_bench_configs(
        gt,
        _chosen(policy.value, _policy_choices()),
        epochs=epochs,
        at_epochs=at_epochs,
        repeats=repeats,
        restart=restart,
    )
    bar, progress = _progress("training families")
    with bar:
        report = splits_bench(
            gt,
            configs,
            at_epochs=at,
            sampler=sampler.value,
            seeds=seeds,
            epochs=epochs,
            space=space.value,
            device=device,
            workers=workers,
            progress=progress,
        )
    _show(report, json_out)


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
    from nas.supernet import check_bench_options, quant_bench

    check_bench_options(device, json_out)
    bar, progress = _progress("training models")
    with bar:
        report = quant_bench(
            seeds=seeds,
            epochs=epochs,
            cqap_configs=cqap_configs,
            device=device,
            workers=workers,
            progress=progress,
        )
    _show(report, json_out)
