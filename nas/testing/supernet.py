"""Small supernet spaces for tests of the NAS engine and of code built on it."""

from __future__ import annotations

from typing import Any

__all__ = ["TINY_SPACE"]

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
