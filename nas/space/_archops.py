"""Operations of architecture spaces (the op registry) and their analytic cost.

An op is what one layer slot of a supernet computes (see :mod:`nas.space._arch`); the layer is
the residual block ``x + op(x)``. This module holds the torch-free half of every op: its name,
which elastic dimensions it has (``kernel``, ``width``), whether it is the identity, and how to
count its cost; the torch module that computes it is named by :attr:`OpSpec.module` and only
imported by :mod:`nas.supernet` when a network is built. Built-in ops:

* ``conv``: ``k x k`` conv to ``width`` hidden channels, BN, ReLU, ``1 x 1`` conv back, BN;
* ``sepconv``: depthwise ``k x k`` conv, BN, ReLU, ``1 x 1`` conv to ``width``, BN, ReLU,
  ``1 x 1`` conv back, BN;
* ``avgpool``: 3 x 3 average pooling, stride 1 (no parameters; pooling is not counted in
  MACs, as below);
* ``skip``: nothing (the layer is the identity).

Cost conventions (checked against the extracted network by the tests: parameters against
``sum(p.numel())``, FLOPs against ``torch.utils.flop_counter.FlopCounterMode``):

* MACs: multiply-accumulates of convolutions (``h_out * w_out * c_out * c_in / groups * k^2``)
  and of the classifier (``c * classes``), for one image. Batch norm, ReLU, the residual
  additions and pooling are not counted (as in torch's counter and most NAS papers).
* FLOPs: ``2 * MACs``; ``mflops`` = FLOPs / 1e6.
* Parameters: convolution weights, batch-norm affine weights and biases (2 per channel) and the
  classifier's weight and bias. Running statistics are buffers, not parameters.

Adding an op: register an :class:`OpSpec` in :data:`ARCH_OPS` whose ``module`` names a builder
``(channels, max_kernel, max_width) -> nn.Module`` of :mod:`nas.supernet`'s branch protocol
(:class:`nas.supernet._blocks.Branch`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nas._registry import Registry
from nas.exceptions import SpaceError

__all__ = ["ARCH_OPS", "ConvRecord", "CostCounter", "OpSpec", "op_convs"]


@dataclass(frozen=True)
class ConvRecord:
    """One convolution (or the classifier, ``kernel == 1`` on a 1 x 1 map) counted by a
    :class:`CostCounter`.

    Attributes:
        c_in, c_out: channels.
        kernel: kernel size.
        groups: ``c_in`` for a depthwise conv, else 1.
        macs: multiply-accumulates for one image.
        params: weights (no bias).
        in_elems: elements of its input feature map for one image (``c_in * h * w``).
    """

    c_in: int
    c_out: int
    kernel: int
    groups: int
    macs: int
    params: int
    in_elems: int = 0


@dataclass
class CostCounter:
    """Accumulates MACs and parameters along a network, tracking the feature-map size.

    Attributes:
        h, w: the current feature-map size.
        macs, params: totals so far.
        convs: every convolution counted, in order.
    """

    h: int
    w: int
    macs: int = 0
    params: int = 0
    convs: list[ConvRecord] = field(default_factory=list)

    def conv(
        self, c_in: int, c_out: int, k: int, stride: int = 1, depthwise: bool = False
    ) -> None:
        """A ``k x k`` convolution with padding ``k // 2`` (so ``h_out = ceil(h / stride)``)."""
        in_elems = c_in * self.h * self.w
        self.h, self.w = -(-self.h // stride), -(-self.w // stride)
        per_out = (1 if depthwise else c_in) * k * k
        macs = self.h * self.w * c_out * per_out
        self.macs += macs
        self.params += c_out * per_out
        self.convs.append(
            ConvRecord(c_in, c_out, k, c_in if depthwise else 1, macs, c_out * per_out, in_elems)
        )

    def bn(self, c: int) -> None:
        """A batch norm over ``c`` channels (affine weight and bias)."""
        self.params += 2 * c

    def linear(self, c_in: int, c_out: int) -> None:
        """A linear layer with bias (the classifier)."""
        self.macs += c_in * c_out
        self.params += c_in * c_out + c_out
        self.convs.append(ConvRecord(c_in, c_out, 1, 1, c_in * c_out, c_in * c_out, c_in))


@dataclass(frozen=True)
class OpSpec:
    """The torch-free description of an op (module docstring).

    Attributes:
        name: the name used in architecture spaces.
        elastic: the elastic dimensions the op has, a subset of ``("kernel", "width")``; a
            dimension it lacks is 0 in its :class:`~nas.space.LayerChoice`.
        count: adds the op's cost to a counter: ``count(counter, channels, kernel, width)``.
        module: ``"package.module:builder"`` of its supernet branch; ``None`` for an identity op.
    """

    name: str
    elastic: tuple[str, ...]
    count: Callable[[CostCounter, int, int, int], None]
    module: str | None

    def __post_init__(self) -> None:
        bad = [d for d in self.elastic if d not in ("kernel", "width")]
        if bad:
            raise ValueError(f"op {self.name!r}: unknown elastic dimensions {bad}")

    @property
    def identity(self) -> bool:
        """Whether the op computes nothing (the layer is the identity)."""
        return self.module is None


#: Every op an architecture space may name (module docstring).
ARCH_OPS: Registry[OpSpec] = Registry("architecture op", SpaceError)


def _count_conv(n: CostCounter, c: int, k: int, w: int) -> None:
    n.conv(c, w, k)
    n.bn(w)
    n.conv(w, c, 1)
    n.bn(c)


def _count_sepconv(n: CostCounter, c: int, k: int, w: int) -> None:
    n.conv(c, c, k, depthwise=True)
    n.bn(c)
    n.conv(c, w, 1)
    n.bn(w)
    n.conv(w, c, 1)
    n.bn(c)


def _count_nothing(n: CostCounter, c: int, k: int, w: int) -> None:
    return None


ARCH_OPS.register(
    "conv", OpSpec("conv", ("kernel", "width"), _count_conv, "nas.supernet._blocks:ConvBranch")
)
ARCH_OPS.register(
    "sepconv",
    OpSpec("sepconv", ("kernel", "width"), _count_sepconv, "nas.supernet._blocks:SepConvBranch"),
)
ARCH_OPS.register(
    "avgpool", OpSpec("avgpool", (), _count_nothing, "nas.supernet._blocks:AvgPoolBranch")
)
ARCH_OPS.register("skip", OpSpec("skip", (), _count_nothing, None))


def op_convs(name: str) -> int:
    """How many convolutions op ``name`` computes (what its ``count`` records), e.g. 2 for
    ``conv``, 3 for ``sepconv``, 0 for ``avgpool`` and ``skip``.

    Raises:
        SpaceError: no op of that name.
    """
    n = CostCounter(1, 1)
    ARCH_OPS.get(name).count(n, 1, 1, 1)
    return len(n.convs)
