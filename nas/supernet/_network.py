"""The weight-sharing supernet of an :class:`~nas.supernet.ArchSpace` and subnet extraction.

:class:`Supernet` allocates every layer slot at its largest configuration (see
:mod:`nas.supernet._arch` for the block structure) out of the dynamic primitives of
:mod:`nas.supernet._ops`. The active architecture is explicit state set by
:meth:`Supernet.set_active`; :meth:`Supernet.sample` draws one from a caller's generator;
:meth:`Supernet.extract` builds a standalone network of plain ``nn`` modules, with the sliced
weights and batch-norm statistics copied in, whose outputs equal the supernet's in that
configuration (eval mode).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from torch import Tensor, nn

from nas.supernet._arch import Arch, ArchSpace, LayerChoice
from nas.supernet._ops import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear

__all__ = ["ElasticLayer", "Residual", "Supernet"]


class Residual(nn.Module):
    """``x + body(x)`` (a static residual block of an extracted subnet)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class _ConvBNAct(nn.Module):
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

    def static(self, in_channels: int) -> tuple[nn.Sequential, int]:
        conv = self.conv.static(in_channels)
        parts: list[nn.Module] = [conv, self.bn.static(conv.out_channels)]
        if self.act:
            parts.append(nn.ReLU())
        return nn.Sequential(*parts), conv.out_channels


class ElasticLayer(nn.Module):
    """One layer slot: ``x + op(x)`` with ``op`` in the stage's ops (module doc of ``_arch``).

    The active choice is :attr:`choice` (``None``: the slot is skipped, as a ``skip`` op or a
    slot beyond the depth).
    """

    def __init__(self, channels: int, ops: tuple[str, ...], max_kernel: int, max_width: int):
        super().__init__()
        self.channels = channels
        self.branches = nn.ModuleDict()
        if "conv" in ops:
            self.branches["conv"] = nn.ModuleList(
                [
                    _ConvBNAct(channels, max_width, max_kernel, act=True),
                    _ConvBNAct(max_width, channels, 1, act=False),
                ]
            )
        if "sepconv" in ops:
            self.branches["sepconv"] = nn.ModuleList(
                [
                    _ConvBNAct(channels, channels, max_kernel, act=True, depthwise=True),
                    _ConvBNAct(channels, max_width, 1, act=True),
                    _ConvBNAct(max_width, channels, 1, act=False),
                ]
            )
        self.choice: LayerChoice | None = None

    def _blocks(self, op: str) -> list[_ConvBNAct]:
        """The blocks of branch ``op``, in order."""
        return list(cast(nn.ModuleList, self.branches[op]))  # type: ignore[arg-type]

    def set_active(self, choice: LayerChoice | None) -> None:
        """Activate ``choice`` (``None`` or a ``skip`` op: the identity)."""
        if choice is None or choice.op == "skip":
            self.choice = None
            return
        branch = self._blocks(choice.op)
        first = branch[0]
        first.conv.active_kernel = choice.kernel
        if choice.op == "conv":
            first.conv.active_out = choice.width
        else:
            branch[1].conv.active_out = choice.width
        self.choice = choice

    def forward(self, x: Tensor) -> Tensor:
        if self.choice is None:
            return x
        y = x
        for block in self._blocks(self.choice.op):
            y = block(y)
        return x + y

    def static(self) -> nn.Module | None:
        """The static block of the active choice (``None`` when skipped)."""
        if self.choice is None:
            return None
        parts: list[nn.Module] = []
        c = self.channels
        for block in self._blocks(self.choice.op):
            seq, c = block.static(c)
            parts.extend(seq)
        return Residual(nn.Sequential(*parts))


class Supernet(nn.Module):
    """All architectures of ``space`` in one network (module docstring).

    Args:
        space: the architecture space.

    Attributes:
        space: the architecture space.
        active: the active architecture (initially the largest).
    """

    def __init__(self, space: ArchSpace) -> None:
        super().__init__()
        self.space = space
        self.stem = _ConvBNAct(space.in_channels, space.stem_channels, 3, act=True)
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        prev = space.stem_channels
        for st in space.stages:
            if st.stride != 1 or st.channels != prev:
                self.transitions.append(
                    _ConvBNAct(prev, st.channels, 3, act=True, stride=st.stride)
                )
            else:
                self.transitions.append(nn.Identity())
            self.stages.append(
                nn.ModuleList(
                    ElasticLayer(st.channels, st.ops, st.kernels[-1], st.widths[-1])
                    for _ in range(st.max_depth)
                )
            )
            prev = st.channels
        self.head = DynamicLinear(prev, space.classes)
        self.active: Arch = space.largest()
        self.set_active(self.active)

    def stage_layers(self) -> list[list[ElasticLayer]]:
        """The layer slots of every stage."""
        return [list(cast(nn.ModuleList, st)) for st in self.stages]  # type: ignore[arg-type]

    def set_active(self, arch: Arch) -> None:
        """Make ``arch`` the architecture that :meth:`forward` computes.

        Raises:
            ValueError: ``arch`` does not fit the space (stage count, slot count, or a choice
                outside the stage's choices).
        """
        self._check(arch)
        stages = self.stage_layers()
        for layers, depth, choices in zip(stages, arch.depths, arch.layers, strict=True):
            for j, (layer, choice) in enumerate(zip(layers, choices, strict=True)):
                layer.set_active(choice if j < depth else None)
        self.active = arch

    def _check(self, arch: Arch) -> None:
        space = self.space
        if len(arch.depths) != len(space.stages) or len(arch.layers) != len(space.stages):
            raise ValueError(
                f"architecture has {len(arch.depths)} stages, the space {len(space.stages)}"
            )
        for i, (st, depth, choices) in enumerate(
            zip(space.stages, arch.depths, arch.layers, strict=True)
        ):
            if depth not in st.depths or len(choices) != st.max_depth:
                raise ValueError(
                    f"stage {i}: depth {depth} (allowed {list(st.depths)}) with "
                    f"{len(choices)} slots (expected {st.max_depth})"
                )
            for j, c in enumerate(choices):
                if c.op not in st.ops or c.kernel not in st.kernels or c.width not in st.widths:
                    raise ValueError(
                        f"stage {i} slot {j}: {c} is not among ops {list(st.ops)}, "
                        f"kernels {list(st.kernels)}, widths {list(st.widths)}"
                    )

    def sample(self, rng: np.random.Generator) -> Arch:
        """A uniformly random architecture (each dimension independently), activated.

        Args:
            rng: the only source of randomness.
        """
        params = self.space.search_space.sample(rng)
        arch = self.space.arch(params)
        self.set_active(arch)
        return arch

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``(batch, in_channels, height, width)`` -> logits ``(batch, classes)``."""
        y = self.stem(x)
        for transition, layers in zip(self.transitions, self.stage_layers(), strict=True):
            y = transition(y)
            for layer in layers:
                y = layer(y)
        return self.head(y.mean(dim=(2, 3)))

    def extract(self, arch: Arch | None = None) -> nn.Sequential:
        """A standalone network of plain ``nn`` modules computing ``arch`` (default: the active
        one) with copies of the supernet's weights and batch-norm statistics.

        In eval mode its outputs equal the supernet's with ``arch`` active. The supernet's
        active architecture is left as it was.
        """
        previous = self.active
        if arch is not None:
            self.set_active(arch)
        try:
            parts: list[nn.Module] = []
            seq, c = self.stem.static(self.space.in_channels)
            parts.extend(seq)
            for transition, layers in zip(self.transitions, self.stage_layers(), strict=True):
                if isinstance(transition, _ConvBNAct):
                    seq, c = transition.static(c)
                    parts.extend(seq)
                for layer in layers:
                    block = layer.static()
                    if block is not None:
                        parts.append(block)
            parts.extend([nn.AdaptiveAvgPool2d(1), nn.Flatten(), self.head.static(c)])
            return nn.Sequential(*parts)
        finally:
            self.set_active(previous)
