"""Ground truth of the ranking benchmark: every architecture of a space trained stand-alone.

Writes a ground-truth JSON (:class:`nas.supernet._ranking.GroundTruth`): the architecture
space, the data split, the training recipe and, per architecture, its held-out accuracy and
NLL for each seed. ``nas bench ranking`` and ``benchmarks/ranking.py`` read it; regenerate it
only when the space or the recipe change::

    # the elastic space (81 architectures), 10 seeds x 30 epochs: 810 runs, ~20 min on 2 cores
    python benchmarks/ranking_ground_truth.py
    # the op space (64 architectures, micro NAS-Bench-201): 640 runs, ~12 min on 2 cores
    python benchmarks/ranking_ground_truth.py --space benchmarks/ranking_space_ops.yaml \\
        --out benchmarks/ranking_ground_truth_ops.json

Data: digits split in half, stratified: 899 training images (randomly shifted by up to one
pixel each time they are seen) and 898 held-out images, on which every network is scored.
"""

from __future__ import annotations

import argparse
import os

from _common import REPO_ROOT, command_line, console, machine_facts, progress_bar

SPACE = REPO_ROOT / "benchmarks" / "ranking_space.yaml"
OUT = REPO_ROOT / "benchmarks" / "ranking_ground_truth.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default=str(SPACE), help="architecture space YAML")
    parser.add_argument("--seeds", type=int, default=10, help="training seeds per architecture")
    parser.add_argument("--epochs", type=int, default=30, help="stand-alone training epochs")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes (one thread each)"
    )
    parser.add_argument("--out", default=str(OUT), help="where the JSON goes")
    args = parser.parse_args(argv)

    from nas.space import ArchSpace
    from nas.supernet._ranking import StandaloneRecipe, build_ground_truth, enumerate_archs

    space = ArchSpace.from_yaml(args.space)
    recipe = StandaloneRecipe(epochs=args.epochs)
    n = len(enumerate_archs(space))
    with progress_bar() as bar:
        task = bar.add_task("stand-alone training", total=n * args.seeds)
        gt = build_ground_truth(
            space, recipe, args.seeds, workers=args.workers, on_run=lambda: bar.advance(task)
        )
    gt.meta = {**gt.meta, "command": command_line(), "machine": machine_facts()}
    gt.save(args.out)
    console.log(
        f"wrote {args.out}: {n} architectures x {args.seeds} seeds in {gt.meta['seconds']} s; "
        f"ceiling (split-half tau) {gt.ceiling():.3f}, proxies "
        + ", ".join(f"{k} {v:.3f}" for k, v in gt.proxies().items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
