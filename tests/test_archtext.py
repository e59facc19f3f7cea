"""One-line text of a NAS trial's architecture attribute."""

from __future__ import annotations

import pytest

from nas._archtext import arch_text


def test_stages_layers_and_empty_stages() -> None:
    arch = {
        "depths": [2, 1],
        "layers": [[["conv", 3, 16], ["skip", 0, 0]], [["skip", 0, 0]]],
    }
    assert arch_text(arch) == "conv3/16 | -"
    two = {"layers": [[["sepconv", 5, 8], ["conv", 3, 4]], [["conv", 3, 32]]]}
    assert arch_text(two) == "sepconv5/8 conv3/4 | conv3/32"
    quantized = {
        **arch,
        "quant": [[4, 8, "channel", "sym"], None, [2, 2, "tensor", "asym"], None],
    }
    assert arch_text(quantized) == "conv3/16 | - · 4/8 2/2"


@pytest.mark.parametrize(
    "value", [None, 3, "conv", {"depths": [1]}, {"layers": "x"}, {"layers": [[["conv", 3]]]},
              {"layers": [5]}]
)  # fmt: skip
def test_anything_else_is_none(value) -> None:
    assert arch_text(value) is None
