"""One-line text of a NAS trial's architecture (shared by the CLI tables and plot hovers)."""

from __future__ import annotations

from typing import Any

__all__ = ["arch_text"]


def arch_text(arch: Any) -> str | None:
    """The ``arch`` user attribute of a supernet-study trial (``{"depths": [...], "layers":
    [[[op, kernel, width], ...], ...]}``, canonical) as one line: per stage its computing layers
    as ``op kernel/width``, ``-`` for a stage of skips only, stages separated by ``|``; for a
    quantized architecture (a ``quant`` list) then ``·`` and the ``wbits/abits`` of every
    convolution that computes something, in network order.

    Returns ``None`` for anything else (a trial of another kind of study).
    """
    if not isinstance(arch, dict) or not isinstance(arch.get("layers"), list):
        return None
    stages = []
    for layers in arch["layers"]:
        if not isinstance(layers, list):
            return None
        try:
            real = [f"{op}{k}/{w}" for op, k, w in layers if op != "skip"]
        except (TypeError, ValueError):
            return None
        stages.append(" ".join(real) or "-")
    text = " | ".join(stages)
    quant = arch.get("quant")
    if isinstance(quant, list) and quant:
        try:
            bits = [f"{q[0]}/{q[1]}" for q in quant if q is not None]
        except (TypeError, IndexError):
            return text
        text += " · " + (" ".join(bits) or "-")
    return text
