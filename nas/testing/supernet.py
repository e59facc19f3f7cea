"""Small supernet spaces and study files for tests of the NAS engine and of code built on it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["THREE_NETWORKS", "TINY_SPACE", "supernet_study", "write_study"]

#: 2 stages, 1 slot each on 8x8 digits: (conv x 2 widths + skip) x (sepconv + skip) = 6
#: architectures; trains in well under a second per epoch on a CPU.
TINY_SPACE: dict[str, Any] = {
    "input": {"channels": 1, "height": 8, "width": 8},
    "classes": 10,
    "stem": {"channels": 4},
    "stages": [
        {"channels": 4, "stride": 1, "depth": [1], "ops": ["conv", "skip"], "kernel": 3,
         "width": [2, 4]},
        {"channels": 8, "stride": 2, "depth": [1], "ops": ["sepconv", "skip"], "kernel": 3,
         "width": 4},
    ],
}  # fmt: skip

#: 1 stage, 1 slot on 8x8 digits: conv of hidden width 2 or 4, or skip -- 3 networks (the flat
#: encoding has 4 assignments of them); stand-alone training of all three takes a second.
THREE_NETWORKS: dict[str, Any] = {
    "input": {"channels": 1, "height": 8, "width": 8},
    "classes": 10,
    "stem": {"channels": 4},
    "stages": [{"channels": 4, "stride": 1, "depth": [1], "ops": ["conv", "skip"], "kernel": 3,
                "width": [2, 4]}],
}  # fmt: skip


def supernet_study(
    name: str = "nas",
    space: Mapping[str, Any] = TINY_SPACE,
    *,
    train: Mapping[str, Any] | None = None,
    eval: Mapping[str, Any] | None = None,
    objectives: Mapping[str, str] | None = None,
    searcher: str | Mapping[str, Any] = "random",
    n_trials: int = 4,
    seed: int = 0,
    objective: Mapping[str, Any] | None = None,
    **keys: Any,
) -> dict[str, Any]:
    """The mapping of a study file whose objective trains a supernet of ``space`` (the
    architecture space's ``supernet:`` mapping) on digits.

    ``train`` defaults to 2 epochs of batch 128 with PA&DA sampling, ``eval`` to 128
    calibration images, ``objectives`` to accuracy (max) and MFLOPs (min); ``objective`` adds
    keys to the objective mapping (e.g. ``device``), ``keys`` to the study (e.g. ``plot``).
    Every value is a deep copy: a test may edit the result freely.
    """
    spec: dict[str, Any] = {
        "name": name,
        "objective": {
            "type": "supernet",
            "space": {"supernet": dict(space)},
            "train": dict(train or {"epochs": 2, "batch_size": 128, "sampler": "pada"}),
            "eval": dict(eval or {"calibration": 128}),
            **dict(objective or {}),
        },
        "objectives": dict(objectives or {"accuracy": "maximize", "mflops": "minimize"}),
        "searcher": searcher if isinstance(searcher, str) else dict(searcher),
        "n_trials": n_trials,
        "seed": seed,
        **keys,
    }
    return copy.deepcopy(spec)


def write_study(path: str | Path, study: Mapping[str, Any]) -> Path:
    """Write the study-file mapping ``study`` (e.g. from :func:`supernet_study`) as YAML to
    ``path``; returns the path."""
    import yaml

    out = Path(path)
    out.write_text(yaml.safe_dump(dict(study), sort_keys=False), encoding="utf-8")
    return out
