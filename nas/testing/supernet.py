"""Small supernet spaces for tests of the NAS engine and of code built on it."""

from __future__ import annotations

from typing import Any

__all__ = ["THREE_NETWORKS", "TINY_SPACE"]

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
