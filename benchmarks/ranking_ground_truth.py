"""Ground truth of the mini NAS ranking benchmark: every architecture trained stand-alone.

Writes ``benchmarks/ranking_ground_truth.json``: the architecture space
(``benchmarks/ranking_space.yaml``, 81 architectures), the training settings, and per
architecture its params and its validation accuracy on digits for each seed (and their mean,
the score rankings are compared against). ``nas bench ranking`` reads this file; regenerate it
only when the space or the settings change::

    python benchmarks/ranking_ground_truth.py            # 3 seeds x 15 epochs, ~10 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import time

from _common import REPO_ROOT, command_line, console, machine_facts, progress_bar

SPACE = REPO_ROOT / "benchmarks" / "ranking_space.yaml"
OUT = REPO_ROOT / "benchmarks" / "ranking_ground_truth.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per architecture")
    parser.add_argument("--epochs", type=int, default=15, help="stand-alone training epochs")
    parser.add_argument("--out", default=str(OUT), help="where the JSON goes")
    args = parser.parse_args(argv)

    from nas.supernet import ArchSpace, load_image_dataset
    from nas.supernet._ranking import enumerate_archs, train_standalone

    space = ArchSpace.from_yaml(SPACE)
    data = load_image_dataset("digits")
    archs = enumerate_archs(space)
    started = time.perf_counter()
    rows = []
    with progress_bar() as bar:
        task = bar.add_task("stand-alone training", total=len(archs) * args.seeds)
        for arch in archs:
            accs = []
            for seed in range(args.seeds):
                accs.append(train_standalone(space, arch, data, epochs=args.epochs, seed=seed))
                bar.advance(task)
            rows.append(
                {"params": space.params(arch), "accuracy": accs, "mean": sum(accs) / len(accs)}
            )
    payload = {
        "command": command_line(),
        "machine": machine_facts(),
        "seconds": round(time.perf_counter() - started, 1),
        "dataset": "digits",
        "split": "validation (load_image_dataset('digits', seed=0))",
        "training": {
            "epochs": args.epochs,
            "batch_size": 64,
            "lr": 0.05,
            "momentum": 0.9,
            "weight_decay": 2.5e-4,
            "schedule": "cosine",
            "seeds": list(range(args.seeds)),
        },
        "space": space.to_dict(),
        "archs": rows,
    }
    with open(args.out, "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True)
        f.write("\n")
    console.log(f"wrote {args.out}: {len(rows)} architectures in {payload['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
