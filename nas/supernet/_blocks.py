"""Supernet branches: the torch modules of the registered ops (:data:`nas.space.ARCH_OPS`).

A layer slot (:class:`~nas.supernet.ElasticLayer`) holds one *branch* per op of its stage that
computes something; the op's :attr:`~nas.space.OpSpec.module` names the branch's builder,
called as ``builder(channels, max_kernel, max_width)``. A branch is the ``op`` of the residual
block ``x + op(x)`` and follows the :class:`Branch` protocol:

* :meth:`Branch.set_choice` activates a kernel and width (0 for a dimension the op lacks);
* ``forward(x)`` computes the op at the active choice (``x`` has ``channels`` channels);
* :meth:`Branch.static` builds plain ``nn`` modules of the active choice with the sliced weights
  and batch-norm statistics copied in (subnet extraction);
* :meth:`Branch.convs` lists its dynamic convolutions in order (their weight gradients are
  PA&DA's path importance; elastic quantization wraps them).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from nas.supernet._ops import DynamicBatchNorm2d, DynamicConv2d

__all__ = ["AvgPoolBranch", "Branch", "ConvBNAct", "ConvBranch", "SepConvBranch"]


class ConvBNAct(nn.Module):
    """Dynamic conv (``c_in -> c_out``, largest sizes), dynamic BN, optional ReLU."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        *,
        act: bool,
        stride: int = 1,
        depthwise: bool = False,
    ) -> None:
        super().__init__()
        self.conv = DynamicConv2d(c_in, c_out, kernel, stride=stride, depthwise=depthwise)
        self.bn = DynamicBatchNorm2d(c_out)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn(self.conv(x))
        return torch.relu(y) if self.act else y

    def static(self, in_channels: int) -> tuple[list[nn.Module], int]:
        """Plain modules of the active configuration and their output channel count."""
        conv = self.conv.static(in_channels)
        parts: list[nn.Module] = [conv, self.bn.static(conv.out_channels)]
        if self.act:
            parts.append(nn.ReLU())
        return parts, conv.out_channels


class Branch(nn.ModuleList):
    """A chain of :class:`ConvBNAct` blocks from ``channels`` back to ``channels`` (module
    docstring); subclasses build the blocks and say which conv is elastic in what. The blocks
    are the list's items (state-dict keys ``<branch>.<i>.conv.weight``)."""

    def __init__(self, channels: int, blocks: list[ConvBNAct]) -> None:
        super().__init__(blocks)
        self.channels = channels

    def set_choice(self, kernel: int, width: int) -> None:
        """Activate ``kernel`` and hidden ``width`` (the op's elastic dimensions)."""
        raise NotImplementedError  # pragma: no cover - every registered branch overrides it

    def _chain(self) -> list[ConvBNAct]:
        return [cast(ConvBNAct, block) for block in self]

    def forward(self, x: Tensor) -> Tensor:
        y = x
        for block in self._chain():
            y = block(y)
        return y

    def static(self) -> list[nn.Module]:
        """Plain modules of the active choice (``channels -> channels``)."""
        parts: list[nn.Module] = []
        c = self.channels
        for block in self._chain():
            seq, c = block.static(c)
            parts.extend(seq)
        return parts

    def convs(self) -> list[DynamicConv2d]:
        """The dynamic convolutions, in order."""
        return [block.conv for block in self._chain()]


class ConvBranch(Branch):
    """``conv``: ``k x k`` conv to ``width``, BN, ReLU, ``1 x 1`` conv back, BN."""

    def __init__(self, channels: int, max_kernel: int, max_width: int) -> None:
        super().__init__(
            channels,
            [
                ConvBNAct(channels, max_width, max_kernel, act=True),
                ConvBNAct(max_width, channels, 1, act=False),
            ],
        )

    def set_choice(self, kernel: int, width: int) -> None:
        first = self._chain()[0].conv
        first.active_kernel = kernel
        first.active_out = width


class SepConvBranch(Branch):
    """``sepconv``: depthwise ``k x k`` conv, BN, ReLU, ``1 x 1`` conv to ``width``, BN, ReLU,
    ``1 x 1`` conv back, BN."""

    def __init__(self, channels: int, max_kernel: int, max_width: int) -> None:
        super().__init__(
            channels,
            [
                ConvBNAct(channels, channels, max_kernel, act=True, depthwise=True),
                ConvBNAct(channels, max_width, 1, act=True),
                ConvBNAct(max_width, channels, 1, act=False),
            ],
        )

    def set_choice(self, kernel: int, width: int) -> None:
        chain = self._chain()
        chain[0].conv.active_kernel = kernel
        chain[1].conv.active_out = width


class AvgPoolBranch(Branch):
    """``avgpool``: 3 x 3 average pooling, stride 1, padding 1 (padding not counted); no
    parameters, no elastic dimension."""

    def __init__(self, channels: int, max_kernel: int, max_width: int) -> None:
        super().__init__(channels, [])

    def set_choice(self, kernel: int, width: int) -> None:
        return None

    def forward(self, x: Tensor) -> Tensor:
        return torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)

    def static(self) -> list[nn.Module]:
        return [nn.AvgPool2d(3, 1, 1, count_include_pad=False)]
