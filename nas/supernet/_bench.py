"""The built-in benchmarks of ``nas bench``, as reports: tables, summary lines, ``--json`` payload.

* :func:`ranking_bench` -- Kendall tau of supernet vs stand-alone accuracy per path sampler,
  beside the floor (cost proxies) and the ceiling (the ground truth's split-half agreement);
* :func:`splits_bench` -- supernet split policies at one budget of optimizer steps
  (:func:`splits_bench_configs` validates their options first);
* :func:`quant_bench` -- one EQ-Net supernet against static LSQ QAT models.

Each runs its trainings (:mod:`nas.supernet._ranking`, :mod:`nas.supernet._quant_bench`),
reports progress through ``progress(done, total)`` and returns a :class:`BenchReport` that a
front end renders; option errors name the ``nas bench`` flags they come from (``--device``,
``--json``, ``--at-epochs``, ...), as one line.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas._tables import TableData
from nas.exceptions import NasError

if TYPE_CHECKING:
    from nas.supernet._ranking import GroundTruth, RankingResult

__all__ = [
    "SPLIT_SPACES",
    "BenchReport",
    "check_bench_options",
    "load_bench_ground_truth",
    "quant_bench",
    "ranking_bench",
    "splits_bench",
    "splits_bench_configs",
    "write_bench_json",
]

#: ``nas bench splits --space``: the ground truths it runs on.
SPLIT_SPACES = {
    "micro": Path("benchmarks/ranking_ground_truth_ops.json"),
    "ranking": Path("benchmarks/ranking_ground_truth.json"),
}

#: ``progress(done, total)``: called with 0 first, then after every training job.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BenchReport:
    """What a benchmark found.

    Attributes:
        tables: to show, in order.
        lines: summary lines shown after the tables (paired statistics, costs).
        payload: the ``--json`` file's content.
    """

    tables: list[TableData]
    lines: list[str] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)


def check_bench_options(device: str, json_out: Path | None) -> None:
    """A benchmark's ``--device`` exists here and its ``--json`` can be written.

    Raises:
        DeviceError: ``--device: ...`` (not a device, or not on this machine).
        NasError: ``--json PATH: directory D does not exist``.
    """
    from nas.supernet._train import check_device

    check_device(device, "--device")
    if json_out is not None and not json_out.parent.exists():
        raise NasError(f"--json {json_out}: directory {json_out.parent} does not exist")


def load_bench_ground_truth(path: Path, device: str, json_out: Path | None) -> GroundTruth:
    """The ground truth of a benchmark, after :func:`check_bench_options`.

    Raises:
        GroundTruthError: the file is missing or malformed (the message says how to make one).
        DeviceError, NasError: as :func:`check_bench_options`.
    """
    from nas.supernet._ranking import GroundTruth

    gt = GroundTruth.load(path)
    check_bench_options(device, json_out)
    return gt


def write_bench_json(path: Path, payload: Any) -> None:
    """Write a report's payload as indented JSON.

    Raises:
        NasError: ``cannot write PATH: <reason>``.
    """
    try:
        path.write_text(json.dumps(payload, indent=1) + "\n")
    except OSError as e:
        raise NasError(f"cannot write {path}: {e.strerror or e}") from None


def _spread(values: Sequence[float]) -> str:
    """``mean ± sd`` of per-seed values."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def _runs(
    gt: GroundTruth,
    runs: list[dict[str, Any]],
    seeds: int,
    epochs: int,
    device: str,
    workers: int,
    progress: Progress | None,
) -> list[RankingResult]:
    """One :func:`~nas.supernet._ranking.run_ranking` per entry of ``runs`` (its keyword
    arguments) on seeds ``0..seeds-1``."""
    from nas.supernet._ranking import run_ranking

    one_seed = _job_counter(progress, len(runs) * seeds)
    return [
        run_ranking(
            gt,
            seeds=list(range(seeds)),
            epochs=epochs,
            device=device,
            workers=workers,
            on_seed=one_seed,
            **run,
        )
        for run in runs
    ]


def ranking_bench(
    gt: GroundTruth,
    samplers: Sequence[str],
    *,
    seeds: int,
    epochs: int,
    device: str = "cpu",
    workers: int = 1,
    progress: Progress | None = None,
) -> BenchReport:
    """Train one supernet per path sampler and seed on the ground truth's data (its recipe,
    ``epochs`` epochs), score every architecture with inherited weights after batch-norm
    recalibration, and compare with the stand-alone accuracies (``nas bench ranking``).

    Returns:
        One table (the ceiling, the proxies' floor, then per sampler the Kendall tau overall,
        within FLOPs bins and by NLL, the top-5 overlap and seconds per seed); with 2+ seeds a
        line per sampler pairing it with the better proxy (and with ``uniform``); the payload
        per sampler (per-seed lists, ``epochs``, ``seeds``) with ``proxies``,
        ``proxies_within_bins`` and ``ceiling``.
    """
    from nas.supernet._ranking import paired

    runs = [{"sampler": n} for n in samplers]
    results = _runs(gt, runs, seeds, epochs, device, workers, progress)
    proxies, ceiling = gt.proxies(), gt.ceiling()
    within = gt.proxies_within_bins()
    columns = ["", "Kendall tau", "within FLOPs bins", "tau by NLL", "top-5 overlap", "s / seed"]
    rows: list[dict[str, Any]] = [{"": "ceiling (split-half)", "Kendall tau": f"{ceiling:.3f}"}]
    for name, tau in proxies.items():
        rows.append(
            {
                "": f"floor: {name} proxy",
                "Kendall tau": f"{tau:.3f}",
                "within FLOPs bins": f"{within[name]:.3f}",
            }
        )
    for r in results:
        rows.append(
            {
                "": r.sampler,
                "Kendall tau": _spread(r.kendall_tau),
                "within FLOPs bins": _spread(r.kendall_tau_within_bins),
                "tau by NLL": _spread(r.kendall_tau_nll),
                "top-5 overlap": _spread(r.top5_overlap),
                "s / seed": f"{statistics.fmean(r.train_seconds):.1f}",
            }
        )
    title = (
        f"{len(gt.archs)} architectures, {seeds} seed(s), {epochs} epochs "
        f"(ground truth: {gt.seeds} stand-alone seeds)"
    )
    lines = []
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
            lines.append(line)
    payload: dict[str, Any] = {
        r.sampler: {**r.to_json(), "epochs": epochs, "seeds": list(range(seeds))} for r in results
    }
    payload["proxies"] = proxies
    payload["proxies_within_bins"] = within
    payload["ceiling"] = ceiling
    return BenchReport([TableData(columns, rows, title=title)], lines, payload)


def splits_bench_configs(
    gt: GroundTruth,
    policies: Sequence[str],
    *,
    epochs: int,
    at_epochs: str,
    repeats: int,
    restart: str,
) -> tuple[dict[str, dict[str, Any]], tuple[int, ...]]:
    """The ``train.splits`` mapping of each split policy at one budget, checked before any
    training: the options are valid and gradient scoring leaves training for the last split's
    leaves.

    Args:
        at_epochs: the split epochs, comma-separated (``"20,40"``; ignored by ``none``).

    Returns:
        The mappings by policy, and the split epochs.

    Raises:
        NasError: one line naming the flag (``--at-epochs``, ``--repeats``, ``--restart``,
            ``--epochs/--at-epochs/--repeats``) and the rule.
    """
    from nas.supernet._config import OptionError, SplitConfig, TrainConfig
    from nas.supernet._family import check_split_budget
    from nas.supernet._ranking import ranking_data

    try:
        at = tuple(int(x) for x in at_epochs.split(",") if x.strip())
    except ValueError:
        raise NasError(f"--at-epochs {at_epochs!r}: expected integers like 20,40") from None
    n_train = len(ranking_data(gt.data).y_train)
    configs = {}
    for name in policies:
        try:
            split = SplitConfig(
                policy=name, at_epochs=at if name != "none" else (), repeats=repeats,
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
    return configs, at


def splits_bench(
    gt: GroundTruth,
    configs: dict[str, dict[str, Any]],
    *,
    at_epochs: Sequence[int],
    sampler: str,
    seeds: int,
    epochs: int,
    space: str,
    device: str = "cpu",
    workers: int = 1,
    progress: Progress | None = None,
) -> BenchReport:
    """Train a family per split policy of ``configs`` (:func:`splits_bench_configs`) and seed
    with the same budget (gradient scoring charged), seeds and path sampler inside each leaf;
    score every architecture by the leaf that owns it (``nas bench splits``).

    Args:
        at_epochs: the split epochs (for the title).
        space: the space's name in the title.

    Returns:
        One table (ceiling, the proxies' and a random pick's floor, then per policy Kendall
        tau overall and within FLOPs bins, top-1 regret, leaves and charged steps); with 2+
        seeds a line per policy pairing it with one-shot ``none``; the payload per policy with
        ``proxies``, ``proxies_within_bins``, ``proxies_regret``, ``ceiling`` and
        ``ceiling_regret``.
    """
    from nas.supernet._ranking import paired

    names = list(configs)
    runs = [{"sampler": sampler, "train": {"splits": configs[n]}, "label": n} for n in names]
    results = _runs(gt, runs, seeds, epochs, device, workers, progress)
    proxies, ceiling = gt.proxies(), gt.ceiling()
    within, regret = gt.proxies_within_bins(), gt.proxies_regret()
    title = (
        f"{space}: {len(gt.archs)} architectures, {seeds} seed(s), {epochs} epochs "
        f"of steps, splits after epochs {list(at_epochs)}, sampler {sampler}"
    )
    columns = ["", "Kendall tau", "within FLOPs bins", "top-1 regret", "leaves", "charged"]
    rows: list[dict[str, Any]] = [
        {
            "": "ceiling (split-half)",
            "Kendall tau": f"{ceiling:.3f}",
            "top-1 regret": f"{gt.ceiling_regret():.4f}",
        }
    ]
    for name, tau in proxies.items():
        rows.append(
            {
                "": f"floor: {name} proxy",
                "Kendall tau": f"{tau:.3f}",
                "within FLOPs bins": f"{within[name]:.3f}",
                "top-1 regret": f"{regret[name]:.4f}",
            }
        )
    rows.append({"": "floor: random pick", "top-1 regret": f"{regret['random']:.4f}"})
    for r in results:
        rows.append(
            {
                "": r.sampler,
                "Kendall tau": _spread(r.kendall_tau),
                "within FLOPs bins": _spread(r.kendall_tau_within_bins),
                "top-1 regret": f"{statistics.fmean(r.top1_regret):.4f}",
                "leaves": str(round(statistics.fmean(r.leaves), 1)),
                "charged": f"{statistics.fmean(r.charged_steps):.0f}",
            }
        )
    lines = []
    by_name = {r.sampler: r for r in results}
    if seeds >= 2 and "none" in by_name:
        for r in results:
            if r.sampler == "none":
                continue
            vs = paired(r.kendall_tau, by_name["none"].kendall_tau)
            lines.append(
                f"{r.sampler} - none: {vs.mean:+.3f} ± {vs.se:.3f} (higher on {vs.wins}/{vs.n} "
                f"seeds, signed-rank p = {vs.p_value:.3f})"
            )
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
    return BenchReport([TableData(columns, rows, title=title)], lines, payload)


def quant_bench(
    *,
    seeds: int,
    epochs: int,
    cqap_configs: int,
    device: str = "cpu",
    workers: int = 1,
    progress: Progress | None = None,
) -> BenchReport:
    """One EQ-Net supernet against one static LSQ QAT model per uniform setting, same epochs
    each (``nas bench quant``; :func:`~nas.supernet._quant_bench.run_quant_bench`).

    Returns:
        One table (per setting: supernet and static accuracy, the gap in points, the 2-bit
        ablations), a CQAP line (when measured) and a cost line; the payload is the run's
        result.
    """
    from nas.supernet._quant_bench import UNIFORM_SETTINGS, run_quant_bench

    one_job = _job_counter(progress, seeds * (4 + len(UNIFORM_SETTINGS)))
    result = run_quant_bench(
        list(range(seeds)),
        epochs,
        device=device,
        workers=workers,
        cqap_configs=cqap_configs,
        on_job=one_job,
    )
    columns = ["setting", "supernet", "static", "gap (points)", "no WDR", "no GPG"]
    rows: list[dict[str, Any]] = [
        {"setting": "full precision", "static": _spread(result["fp_acc_seeds"])}
    ]
    for c in result["configs"]:
        sup, sta = c["supernet_acc_seeds"], c["static_acc_seeds"]
        rows.append(
            {
                "setting": f"W{c['wbits']}A{c['abits']} {c['granularity']} {c['symmetry']}",
                "supernet": _spread(sup),
                "static": _spread(sta),
                "gap (points)": f"{100 * (statistics.fmean(sta) - statistics.fmean(sup)):.2f}",
                "no WDR": _spread(c["no_wdr_acc_seeds"]) if "no_wdr_acc_seeds" in c else "",
                "no GPG": _spread(c["no_gpg_acc_seeds"]) if "no_gpg_acc_seeds" in c else "",
            }
        )
    title = f"EQ-Net supernet vs static LSQ QAT: {seeds} seed(s), {epochs} epochs"
    cqap, cost = result["cqap"], result["cost"]
    lines = []
    if cqap:
        lines.append(
            f"CQAP: Kendall tau {cqap['kendall_tau']:.3f}, Pearson {cqap['pearson']:.3f} on "
            f"{int(cqap['n_test'])} held-out mixed settings"
        )
    lines.append(
        f"cost: supernet {statistics.fmean(cost['supernet_passes']):.0f} passes, "
        f"{statistics.fmean(cost['supernet_seconds']):.1f} s; 12 static models "
        f"{statistics.fmean(cost['static_passes']):.0f} passes, "
        f"{statistics.fmean(cost['static_seconds']):.1f} s"
    )
    return BenchReport([TableData(columns, rows, title=title)], lines, result)


def _job_counter(progress: Progress | None, total: int) -> Callable[[], None]:
    """Report ``(0, total)`` to ``progress`` now and return the callback that reports one
    more finished job each time it is called (a no-op without ``progress``)."""
    done = 0
    if progress is not None:
        progress(0, total)

    def one_job() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    return one_job
