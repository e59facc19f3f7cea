"""Cost of an architecture: MACs, FLOPs and parameters (analytic) and CPU latency (measured).

Counting conventions (the tests check them against the extracted network: parameters against
``sum(p.numel())``, FLOPs against ``torch.utils.flop_counter.FlopCounterMode``):

* MACs: multiply-accumulates of convolutions (``h_out * w_out * c_out * c_in / groups * k^2``)
  and of the classifier (``c * classes``), for one image. Batch norm, ReLU, the residual
  additions and pooling are not counted (as in torch's counter and most NAS papers).
* FLOPs: ``2 * MACs``. ``mflops`` = FLOPs / 1e6.
* Parameters: convolution weights, batch-norm affine weights and biases (2 per channel) and the
  classifier's weight and bias. Running statistics are buffers, not parameters.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from nas.supernet._arch import Arch, ArchSpace

__all__ = ["ArchCost", "arch_cost", "measure_latency"]


@dataclass(frozen=True)
class ArchCost:
    """Analytic cost of one architecture (per image).

    Attributes:
        macs: multiply-accumulates.
        params: trainable parameters.
    """

    macs: int
    params: int

    @property
    def flops(self) -> int:
        """``2 * macs``."""
        return 2 * self.macs

    @property
    def mflops(self) -> float:
        """FLOPs in millions."""
        return self.flops / 1e6


class _Counter:
    def __init__(self, h: int, w: int) -> None:
        self.h, self.w = h, w
        self.macs = 0
        self.params = 0

    def conv(
        self, c_in: int, c_out: int, k: int, stride: int = 1, depthwise: bool = False
    ) -> None:
        # padding k // 2: h_out = ceil(h / stride)
        self.h, self.w = -(-self.h // stride), -(-self.w // stride)
        per_out = (1 if depthwise else c_in) * k * k
        self.macs += self.h * self.w * c_out * per_out
        self.params += c_out * per_out

    def bn(self, c: int) -> None:
        self.params += 2 * c


def arch_cost(space: ArchSpace, arch: Arch) -> ArchCost:
    """MACs and parameters of ``arch`` in ``space`` (module docstring for the conventions).

    Raises:
        ValueError: ``arch`` has a different number of stages than ``space``.
    """
    if len(arch.depths) != len(space.stages):
        raise ValueError(f"architecture has {len(arch.depths)} stages, space {len(space.stages)}")
    n = _Counter(space.height, space.width)
    n.conv(space.in_channels, space.stem_channels, 3)
    n.bn(space.stem_channels)
    prev = space.stem_channels
    for st, depth, choices in zip(space.stages, arch.depths, arch.layers, strict=True):
        if st.stride != 1 or st.channels != prev:
            n.conv(prev, st.channels, 3, st.stride)
            n.bn(st.channels)
        c = st.channels
        for choice in choices[:depth]:
            if choice.op == "conv":
                n.conv(c, choice.width, choice.kernel)
                n.bn(choice.width)
                n.conv(choice.width, c, 1)
                n.bn(c)
            elif choice.op == "sepconv":
                n.conv(c, c, choice.kernel, depthwise=True)
                n.bn(c)
                n.conv(c, choice.width, 1)
                n.bn(choice.width)
                n.conv(choice.width, c, 1)
                n.bn(c)
        prev = c
    n.macs += prev * space.classes
    n.params += prev * space.classes + space.classes
    return ArchCost(macs=n.macs, params=n.params)


def measure_latency(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    warmup: int = 10,
    repeats: int = 50,
    device: str | torch.device = "cpu",
) -> float:
    """Median wall time of one forward pass of ``model``, in milliseconds.

    The model runs in eval mode under ``torch.inference_mode`` on ``device`` (CUDA is
    synchronised around each pass); ``warmup`` passes are discarded first. The caller's
    training mode is restored.

    Args:
        model: the network (typically :meth:`Supernet.extract` of an architecture).
        input_shape: shape of the input batch, e.g. ``(1, 1, 8, 8)``.
        warmup: passes not timed, ``>= 0``.
        repeats: timed passes, ``>= 1``.
        device: where to run.

    Raises:
        ValueError: ``repeats < 1`` or ``warmup < 0``.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    dev = torch.device(device)
    was_training = model.training
    model.eval()
    model.to(dev)
    x = torch.zeros(input_shape, device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times: list[float] = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                sync()
                t0 = time.perf_counter()
                model(x)
                sync()
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return 1e3 * statistics.median(times)
