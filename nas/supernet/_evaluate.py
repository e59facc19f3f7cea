"""The evaluation interface: a batch-norm-calibrated network for an architecture.

Everything that scores architectures with inherited weights -- the NAS objective's trials, the
ranking benchmark, ``nas export`` -- talks to an :class:`ArchEvaluator` and nothing else, so
that whatever holds the weights plugs in unchanged: one supernet (:class:`SupernetEvaluator`),
a family of split sub-supernets (each architecture routed to the leaf that owns it), or a
quantized supernet (the architecture's bit-widths set before calibration).

:func:`recalibrate_bn` re-estimates the batch-norm statistics of one architecture (running
statistics reset, cumulative average over calibration batches) before it is evaluated, since
the supernet's statistics mix every architecture trained. :func:`score` computes the accuracy
and the mean negative log-likelihood of a network on a labelled split in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import Tensor, nn

from nas.space import Arch, ArchSpace
from nas.supernet._network import Supernet
from nas.supernet._ops import DynamicBatchNorm2d

__all__ = [
    "ArchEvaluator",
    "Scores",
    "SupernetEvaluator",
    "evaluate_arch",
    "recalibrate_bn",
    "score",
]


@runtime_checkable
class ArchEvaluator(Protocol):
    """Turns an architecture into a network ready to be scored (module docstring).

    Contract:

    * :meth:`network` returns a module computing ``arch`` in eval mode with its batch-norm
      statistics calibrated for ``arch`` (deterministically: the same calibration images every
      time). It may be shared state (the same supernet for every architecture): it is valid
      until the next call.
    * :meth:`extract` returns a standalone network of plain ``torch.nn`` modules (owning its
      weights, eval mode) whose outputs equal :meth:`network`'s for ``arch``.
    * Both raise ``ValueError`` for an architecture outside :attr:`space`.
    """

    @property
    def space(self) -> ArchSpace:
        """The architecture space."""

    @property
    def device(self) -> torch.device:
        """Where the networks live (inputs are moved there)."""

    def network(self, arch: Arch) -> nn.Module:
        """A calibrated network computing ``arch`` (contract above)."""

    def extract(self, arch: Arch) -> nn.Module:
        """A standalone, calibrated network computing ``arch`` (contract above)."""


def _bn_layers(net: nn.Module) -> list[nn.BatchNorm2d]:
    return [m.bn for m in net.modules() if isinstance(m, DynamicBatchNorm2d)]


def device_of(net: nn.Module) -> torch.device:
    """Where ``net``'s parameters live (inputs are moved there)."""
    return next(net.parameters()).device


def recalibrate_bn(net: Supernet, arch: Arch, images: Tensor, batch_size: int = 256) -> None:
    """Re-estimate the batch-norm running statistics of ``arch`` on ``images``.

    Statistics are reset and accumulated as a cumulative average over the batches of
    ``images`` (in order, moved batch by batch to the supernet's device), with ``arch``
    active; weights are not touched. The supernet is left in eval mode with ``arch`` active.
    (The statistics of channels ``arch`` does not use are reset too: recalibrate again before
    evaluating another architecture.)
    """
    net.set_active(arch)
    device = device_of(net)
    bns = _bn_layers(net)
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    net.train()
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                net(images[start : start + batch_size].to(device))
    finally:
        for bn, m in zip(bns, saved, strict=True):
            bn.momentum = m
        net.eval()


class SupernetEvaluator:
    """:class:`ArchEvaluator` of one supernet: set the architecture active, recalibrate batch
    norm on ``calibration`` images.

    Args:
        net: the trained supernet.
        calibration: images ``(n, c, h, w)`` (any device; moved batch by batch).
        batch_size: calibration batch size.
    """

    def __init__(self, net: Supernet, calibration: Tensor, batch_size: int = 256) -> None:
        self.net = net
        self.calibration = calibration
        self.batch_size = batch_size

    @property
    def space(self) -> ArchSpace:
        return self.net.space

    @property
    def device(self) -> torch.device:
        return device_of(self.net)

    def network(self, arch: Arch) -> nn.Module:
        recalibrate_bn(self.net, arch, self.calibration, self.batch_size)
        return self.net

    def extract(self, arch: Arch) -> nn.Module:
        self.network(arch)
        return self.net.extract(arch).eval()


@dataclass(frozen=True)
class Scores:
    """What a network scores on a labelled split.

    Attributes:
        accuracy: top-1 accuracy in ``[0, 1]``.
        nll: mean negative log-likelihood (cross-entropy, nats).
        n: number of examples.
    """

    accuracy: float
    nll: float
    n: int


def score(net: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 512) -> Scores:
    """Accuracy and mean NLL of ``net`` (as it is: call it in eval mode) on ``images``
    ``(n, c, h, w)`` / ``labels`` ``(n,)`` (any device; batches are moved to ``net``'s)."""
    device = device_of(net)
    correct = 0
    nll = 0.0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = net(images[start : start + batch_size].to(device)).float()
            y = labels[start : start + batch_size].to(device)
            correct += int((logits.argmax(-1) == y).sum())
            nll += float(F.cross_entropy(logits, y, reduction="sum"))
    n = len(images)
    return Scores(correct / max(n, 1), nll / max(n, 1), n)


def evaluate_arch(
    net: Supernet,
    arch: Arch,
    images: Tensor,
    labels: Tensor,
    *,
    calibration: Tensor | None = None,
    batch_size: int = 512,
) -> float:
    """Top-1 accuracy of ``arch`` with inherited weights on ``images`` (in ``[0, 1]``).

    With ``calibration`` images, the batch-norm statistics are recalibrated first
    (:func:`recalibrate_bn`); otherwise the supernet's current statistics are used.
    """
    if calibration is not None:
        recalibrate_bn(net, arch, calibration)
    else:
        net.set_active(arch)
        net.eval()
    return score(net, images, labels, batch_size).accuracy
