"""The weight-sharing supernet of an :class:`~nas.supernet.ArchSpace` and subnet extraction.

:class:`Supernet` allocates every layer slot at its largest configuration (see
:mod:`nas.space._arch` for the block structure) out of the branches of the registered ops
(:mod:`nas.supernet._blocks`), themselves made of the dynamic primitives of
:mod:`nas.supernet._ops`. The active architecture is explicit state set by
:meth:`Supernet.set_active`; :meth:`Supernet.sample` draws one from a caller's generator;
:meth:`Supernet.extract` builds a standalone network of plain ``nn`` modules, with the sliced
weights and batch-norm statistics copied in, whose outputs equal the supernet's in that
configuration (eval mode).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

import numpy as np
from torch import Tensor, nn

from nas.space import ARCH_OPS, FIXED_QUANT, Arch, ArchMask, ArchSpace, LayerChoice
from nas.supernet._blocks import Branch, ConvBNAct
from nas.supernet._ops import DynamicConv2d, DynamicLinear
from nas.supernet._quant import ConvQuantizer

__all__ = ["ElasticLayer", "Residual", "Supernet", "quantized_layers"]


class Residual(nn.Module):
    """``x + body(x)`` (a static residual block of an extracted subnet)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def _builder(target: str) -> Callable[[int, int, int], Branch]:
    module, _, attr = target.partition(":")
    return cast(Callable[[int, int, int], Branch], getattr(importlib.import_module(module), attr))


class ElasticLayer(nn.Module):
    """One layer slot: ``x + op(x)`` with ``op`` in the stage's ops (module doc of
    :mod:`nas.space._arch`); one branch per op that computes something, built from the op
    registry (:data:`nas.space.ARCH_OPS`).

    The active choice is :attr:`choice` (``None``: the slot is skipped, as an identity op or a
    slot beyond the depth).
    """

    def __init__(self, channels: int, ops: tuple[str, ...], max_kernel: int, max_width: int):
        super().__init__()
        self.channels = channels
        self.branches = nn.ModuleDict()
        for op in ops:
            spec = ARCH_OPS.get(op)
            if spec.module is not None:
                self.branches[op] = _builder(spec.module)(channels, max_kernel, max_width)
        self.choice: LayerChoice | None = None

    def branch(self, op: str) -> Branch:
        """The branch of ``op``."""
        return cast(Branch, self.branches[op])

    def set_active(self, choice: LayerChoice | None) -> None:
        """Activate ``choice`` (``None`` or an identity op: the identity)."""
        if choice is None or choice.op not in self.branches:
            self.choice = None
            return
        self.branch(choice.op).set_choice(choice.kernel, choice.width)
        self.choice = choice

    def forward(self, x: Tensor) -> Tensor:
        if self.choice is None:
            return x
        return x + self.branch(self.choice.op)(x)

    def static(self) -> nn.Module | None:
        """The static block of the active choice (``None`` when skipped)."""
        if self.choice is None:
            return None
        return Residual(nn.Sequential(*self.branch(self.choice.op).static()))


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
        self.stem = ConvBNAct(space.in_channels, space.stem_channels, 3, act=True)
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        prev = space.stem_channels
        for st, transition in zip(space.stages, space.transitions, strict=True):
            if transition:
                self.transitions.append(
                    ConvBNAct(prev, st.channels, 3, act=True, stride=st.stride)
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
        #: Per quantization site of the space, the convs it sets (one per op having it).
        self.site_convs: list[list[DynamicConv2d]] = []
        if space.quant_sites:
            self._attach_quantizers()
        self.active: Arch = space.largest()
        self.set_active(self.active)

    def _attach_quantizers(self) -> None:
        """A :class:`~nas.supernet._quant.ConvQuantizer` on every conv of every site, and the
        fixed 8/8 ones on the stem's conv and the classifier."""
        self.stem.conv.quantizer = ConvQuantizer(self.stem.conv.max_out, [FIXED_QUANT])
        self.head.quantizer = ConvQuantizer(self.head.out, [FIXED_QUANT])
        for site in self.space.quant_sites:
            if site.slot is None:
                transition = self.transitions[site.stage]
                assert isinstance(transition, ConvBNAct)
                convs = [transition.conv]
            else:
                layer = self.layer(site.stage, site.slot)
                convs = [layer.branch(op).convs()[site.conv] for op in site.ops]
            choices = site.spec.choices()
            for conv in convs:
                conv.quantizer = ConvQuantizer(conv.max_out, choices)
            self.site_convs.append(convs)

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
        if self.site_convs:
            edge = FIXED_QUANT if arch.quant else None
            cast(ConvQuantizer, self.stem.conv.quantizer).set_active(edge)
            cast(ConvQuantizer, self.head.quantizer).set_active(edge)
            for k, convs in enumerate(self.site_convs):
                q = arch.quant[k] if arch.quant else None
                for conv in convs:
                    cast(ConvQuantizer, conv.quantizer).set_active(q)
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
                if c not in self.space.slot_choices(i, j):
                    raise ValueError(
                        f"stage {i} slot {j}: {c} is not among ops {list(st.ops)}, "
                        f"kernels {list(st.kernels)}, widths {list(st.widths)}"
                    )
        sites = space.quant_sites
        if arch.quant and len(arch.quant) != len(sites):
            raise ValueError(
                f"architecture has {len(arch.quant)} quantization settings, the space {len(sites)}"
            )
        for site, q in zip(sites, arch.quant, strict=False):
            if q is not None and not site.spec.allows(q):
                raise ValueError(f"{site.name}: quantization setting {q} is not allowed there")

    def sample(self, rng: np.random.Generator, mask: ArchMask | None = None) -> Arch:
        """A random architecture of ``mask`` (default: the whole space; depth, op, kernel and
        width uniform, :meth:`ArchMask.sample`), activated.

        Args:
            rng: the only source of randomness.
            mask: where to sample.
        """
        arch = (mask or self.space.full_mask()).sample(rng)
        self.set_active(arch)
        return arch

    def layer(self, stage: int, slot: int) -> ElasticLayer:
        """Layer slot ``slot`` of stage ``stage``."""
        return self.stage_layers()[stage][slot]

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
                if isinstance(transition, ConvBNAct):
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


def quantized_layers(net: Supernet) -> list[tuple[DynamicConv2d | DynamicLinear, ConvQuantizer]]:
    """Every layer of ``net`` with quantizers (stem conv, transitions, branch convs, the
    classifier), in module order; empty for a supernet that is not quantized."""
    out: list[tuple[DynamicConv2d | DynamicLinear, ConvQuantizer]] = []
    for module in net.modules():
        if isinstance(module, DynamicConv2d | DynamicLinear) and module.quantizer is not None:
            out.append((module, module.quantizer))
    return out
