"""Split benchmark: do supernet splits (few-shot NAS, GM-NAS) rank architectures better at an
equal budget of optimizer steps?

On the ranking benchmark's two ground truths (``benchmarks/ranking_ground_truth*.json``: every
architecture of the space trained stand-alone with 10 seeds), each split policy trains one family
of sub-supernets per seed -- the same budget of optimizer steps (gradient scoring charged to it),
the same seeds (the same initial weights and data order up to the first split), the same path
sampler inside every leaf -- and every architecture is scored on the held-out half by the leaf
that owns it, after batch-norm recalibration. Each table prints, beside the policies:

* the **ceiling**: the ground truth's split-half Kendall tau (seeds 0-4 against 5-9) and the
  top-1 regret of the first half's best judged by the second half;
* the **floor**: the free cost proxies (parameters, MFLOPs) and, for regret, a random pick;
* Kendall tau within FLOPs bins, top-1 regret (best stand-alone accuracy minus that of the
  architecture ranked first), leaves, optimizer steps and charged steps;
* paired statistics (mean difference, standard error, Wilcoxon signed-rank p) against one-shot
  (``none``) and between the policies of the claim gm > random >= exhaustive > none.

    python benchmarks/splits.py                 # 10 seeds x 5 variants x 2 spaces
    python benchmarks/splits.py --tries         # also the settings tried on the way
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from _common import (
    REPO_ROOT,
    add_supernet_arguments,
    console,
    markdown_table,
    mean_sd,
    parse_supernet_arguments,
    progress_bar,
    update_section,
)

SECTION = "supernet-splits"
TITLE = "Supernet splits (GM-NAS): Kendall tau and regret at an equal step budget (digits)"
BENCH = REPO_ROOT / "benchmarks"
SPACES: tuple[tuple[str, str, Path], ...] = (
    ("micro", "micro NAS-Bench-201: 3 slots x 4 ops, 64 architectures",
     BENCH / "ranking_ground_truth_ops.json"),
    ("ranking", "elastic: 2 slots x 9 joint (op, kernel, width) choices, 81 architectures",
     BENCH / "ranking_ground_truth.json"),
)  # fmt: skip
#: The main variants: (label, sampler, split settings beyond the common ones).
VARIANTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("none", "pada", {"policy": "none"}),
    ("exhaustive", "pada", {"policy": "exhaustive"}),
    ("random", "pada", {"policy": "random"}),
    ("gm", "pada", {"policy": "gm"}),
    ("gm + uniform", "uniform", {"policy": "gm"}),
)
#: Settings tried on the way (``--tries``): (label, sampler, split settings).
TRIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("none + uniform", "uniform", {"policy": "none"}),
    # The papers' protocol: every leaf trains full epochs (cost grows with the leaves), and a
    # one-shot supernet given the steps gm and random then take (20 + 2 x 20 + 4 x 20 epochs).
    (
        "exhaustive, papers' budget (per leaf)",
        "pada",
        {"policy": "exhaustive", "budget": "per_leaf"},
    ),
    ("random, papers' budget (per leaf)", "pada", {"policy": "random", "budget": "per_leaf"}),
    ("gm, papers' budget (per leaf)", "pada", {"policy": "gm", "budget": "per_leaf"}),
    ("none, 140 epochs (gm's per-leaf steps)", "pada", {"policy": "none", "epochs": 140}),
    ("exhaustive, restart final", "pada", {"policy": "exhaustive", "restart": "final"}),
    ("random, restart final", "pada", {"policy": "random", "restart": "final"}),
    ("gm, restart final", "pada", {"policy": "gm", "restart": "final"}),
    ("gm, 6 repeats", "pada", {"policy": "gm", "repeats": 6}),
    ("gm, one split (epoch 20)", "pada", {"policy": "gm", "at_epochs": [20]}),
    ("exhaustive, split at 40", "pada", {"policy": "exhaustive", "at_epochs": [40, 50]}),
    ("random, splits at 40, 50", "pada", {"policy": "random", "at_epochs": [40, 50]}),
    ("gm, splits at 40, 50", "pada", {"policy": "gm", "at_epochs": [40, 50]}),
)

PREAMBLE = """\
Few-shot NAS splits a supernet into sub-supernets so that architectures that pull the shared
weights apart stop sharing them; GM-NAS (`../shared/papers.md` section 1) chooses the layer slot
and the grouping of its choices from the agreement of their gradients on the shared weights.
Every policy here trains a family under **one budget of optimizer steps** for all its leaves
(they take steps in turn, so four leaves each get a quarter of the steps after the last split),
with gradient matching's forward/backward passes **charged** to that budget (one pass of one
path on one batch = one step). That is the comparison a user with a fixed compute budget faces;
it is harsher on splitting than the papers', whose sub-supernets each train for the remaining
epochs (the cost grows with the leaves).

Setup: the ranking benchmark's data (digits halves, shift augmentation) and stand-alone ground
truths (10 seeds per architecture), the ground truth's SGD recipe, PA&DA path and data sampling
inside each leaf unless the row says otherwise; splits into 2 groups after epochs 20 and 40 of a
60-epoch budget (4 leaves; `exhaustive` splits one random slot once, into one leaf per choice),
children keeping their parent's weights and schedule (`restart: none`); gradient matching over
`repeats` minibatches of 64 images. Trials are scored by the leaf that owns them.

The column *tau inside its leaves vs none's there* tests GM-NAS's premise directly: inside each
leaf, does the leaf order its own architectures better than the one-shot supernet of the same
seed orders the same architectures? A family can win there and still lose overall when its
leaves' scores are not comparable with each other (each leaf trained on its own share of the
architectures and of the steps): the overall tau also counts every pair of architectures that
live in different leaves.
"""


def _pair(a: list[float], b: list[float] | float, digits: int = 3) -> str:
    from nas.supernet._ranking import paired

    p = paired(a, b)
    return f"{p.mean:+.{digits}f} ± {p.se:.{digits}f} ({p.wins}/{p.n}, p={p.p_value:.3f})"


def _section(key: str, name: str, path: Path, args: argparse.Namespace) -> str:
    from nas.supernet._config import TrainConfig
    from nas.supernet._family import check_split_budget
    from nas.supernet._ranking import (
        GroundTruth,
        paired,
        ranking_data,
        run_ranking,
        within_groups,
    )

    gt = GroundTruth.load(path)
    seeds = list(range(args.seeds))
    variants = list(VARIANTS) + (list(TRIES) if args.tries else [])
    common = {"at_epochs": args.at_epochs, "branches": 2, "repeats": args.repeats,
              "restart": "none"}  # fmt: skip
    results = []
    seconds = []
    refused: list[str] = []
    n_train = len(ranking_data(gt.data).y_train)
    with progress_bar() as bar:
        task = bar.add_task(key, total=len(variants) * len(seeds))
        for label, sampler, splits in variants:
            spec = {**common, **splits}
            epochs = int(spec.pop("epochs", args.epochs))
            if spec["policy"] == "none":
                spec["at_epochs"] = []
            try:  # a setting whose scoring would eat the budget is reported, not run
                train = TrainConfig(epochs=epochs, batch_size=gt.recipe.batch_size, splits=spec)
                check_split_budget(gt.space, train, n_train)
            except ValueError as e:
                refused.append(f"* `{label}`: refused ({e})")
                bar.advance(task, len(seeds))
                continue
            started = time.perf_counter()
            results.append(
                run_ranking(
                    gt,
                    sampler,
                    seeds,
                    epochs=epochs,
                    train={"splits": spec},
                    label=label,
                    workers=args.workers,
                    device=args.device,
                    on_seed=lambda: bar.advance(task),
                )
            )
            seconds.append(time.perf_counter() - started)
    by = {r.sampler: r for r in results}
    proxies, within, regret = gt.proxies(), gt.proxies_within_bins(), gt.proxies_regret()
    one, one_within = gt.one_run()
    blank = [""] * 8
    rows = [
        ["ceiling: split-half agreement of the ground truth", f"{gt.ceiling():.3f}", "",
         f"{gt.ceiling_regret():.4f}", *blank[:6]],
        ["reference: one stand-alone run of every architecture", f"{one:.3f}",
         f"{one_within:.3f}", "", *blank[:6]],
        *[[f"floor: {k} proxy", f"{v:.3f}", f"{within[k]:.3f}", f"{regret[k]:.4f}", *blank[:6]]
          for k, v in proxies.items()],
        ["floor: a random architecture", "", "", f"{regret['random']:.4f}", *blank[:6]],
    ]  # fmt: skip
    none = by["none"].kendall_tau
    for r, s in zip(results, seconds, strict=True):
        # GM's premise, directly: inside each leaf, does the leaf order its architectures better
        # than the one-shot supernet (same seed) orders the same architectures?
        if r.leaves and max(r.leaves) > 1:
            mine = [
                within_groups(sc, gt.truth, ids)
                for sc, ids in zip(r.scores, r.leaf_ids, strict=True)
            ]
            shared = [within_groups(sc, gt.truth, ids) for sc, ids in
                      zip(by["none"].scores, r.leaf_ids, strict=True)]  # fmt: skip
            inside = f"{statistics.fmean(mine):.3f} vs {statistics.fmean(shared):.3f}: " + _pair(
                mine, shared
            )
        else:
            inside = ""
        rows.append(
            [
                f"`{r.sampler}`",
                mean_sd(r.kendall_tau),
                mean_sd(r.kendall_tau_within_bins),
                mean_sd(r.top1_regret, 4),
                "" if r.sampler == "none" else _pair(r.kendall_tau, none),
                inside,
                f"{statistics.fmean(r.leaves):g}",
                f"{statistics.fmean(r.train_steps):.0f}",
                f"{statistics.fmean(r.charged_steps):.0f}",
                f"{s / len(seeds) * args.workers:.0f}",
            ]
        )
    table = markdown_table(
        ["", "Kendall tau (mean ± sd)", "within FLOPs bins", "top-1 regret", "- none (paired tau)",
         "tau inside its leaves vs none's there", "leaves", "optimizer steps", "charged steps",
         "s / seed"],
        rows,
    )  # fmt: skip
    claims = []
    for a, b in (("gm", "random"), ("random", "exhaustive"), ("exhaustive", "none"),
                 ("gm", "none"), ("gm", "gm + uniform")):  # fmt: skip
        p = paired(by[a].kendall_tau, by[b].kendall_tau)
        q = paired(by[b].top1_regret, by[a].top1_regret)
        claims.append(
            [f"`{a}` - `{b}`", f"{p.mean:+.3f} ± {p.se:.3f}", f"{p.wins}/{p.n}",
             f"{p.p_value:.3f}", f"{q.mean:+.4f} ± {q.se:.4f}", f"{q.p_value:.3f}"]
        )  # fmt: skip
    claim_table = markdown_table(
        ["pair", "tau difference", "higher on", "p", "regret lower by", "p"], claims
    )
    best_proxy = max(proxies, key=lambda k: proxies[k])
    gm = by["gm"]
    vs_proxy = paired(gm.kendall_tau, proxies[best_proxy])
    verdict = (
        f"`gm` ranks with tau {mean_sd(gm.kendall_tau)} (within FLOPs bins "
        f"{mean_sd(gm.kendall_tau_within_bins)}), {vs_proxy.mean:+.3f} ± {vs_proxy.se:.3f} "
        f"against the {best_proxy} proxy (higher on {vs_proxy.wins}/{vs_proxy.n} seeds, p = "
        f"{vs_proxy.p_value:.3f}); one-shot `none` gets {mean_sd(none)}."
    )
    return f"""\
### {key}: {name}

Ground truth `{path.relative_to(REPO_ROOT)}` ({len(gt.archs)} architectures x {gt.seeds} seeds,
held-out accuracy {gt.truth.min():.3f}-{gt.truth.max():.3f}); families: {args.epochs} epochs of
steps, seeds 0..{args.seeds - 1}, splits after epochs {args.at_epochs}, gm over {args.repeats}
minibatches.

{table}

The claim gm > random >= exhaustive > none, pair by pair (same seeds; tau and top-1 regret):

{claim_table}

{verdict}
{chr(10).join(refused)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="families per variant (>= 5)")
    parser.add_argument("--epochs", type=int, default=60, help="the budget, in epochs of steps")
    parser.add_argument("--at-epochs", type=int, nargs="+", default=[20, 40], help="splits")
    parser.add_argument("--repeats", type=int, default=4, help="gm's minibatches")
    parser.add_argument("--tries", action="store_true", help="also the settings tried")
    parser.add_argument("--space", choices=[k for k, _, _ in SPACES], action="append",
                        help="only these spaces (default: both)")  # fmt: skip
    add_supernet_arguments(parser, "families")
    args = parse_supernet_arguments(parser, argv)
    started = time.perf_counter()
    chosen = [s for s in SPACES if not args.space or s[0] in args.space]
    parts = [_section(key, name, path, args) for key, name, path in chosen if path.exists()]
    flags = " --tries" if args.tries else ""
    body = (
        PREAMBLE
        + f"\nCommand: `python benchmarks/splits.py --seeds {args.seeds} --epochs {args.epochs}"
        + f" --at-epochs {' '.join(map(str, args.at_epochs))} --repeats {args.repeats}{flags}`"
        + " (also `nas bench splits --space micro|ranking`).\n\n"
        + "\n".join(parts)
        + f"\nTotal run time {time.perf_counter() - started:.0f} s.\n"
    )
    print(body)
    if args.docs:
        update_section(SECTION, TITLE, body)
        console.log(f"rewrote section {SECTION!r} of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
