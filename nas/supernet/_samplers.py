"""Path samplers of supernet training: which architectures (and which data) each step trains.

A sampler is a strategy object owned by the trainer (:mod:`nas.supernet._train`); it draws from
the generator it is handed and keeps only plain state (:meth:`PathSampler.state_dict`) so that a
checkpoint restores it exactly.

* :class:`UniformSampler` -- single path, every dimension uniform (SPOS).
* :class:`SandwichSampler` -- the largest, the smallest and ``n_random`` random architectures per
  step; the others learn from the largest's soft predictions (in-place distillation, BigNAS).
* :class:`PadaSampler` -- PA&DA (../shared/papers.md section 2): the op of every layer slot is
  drawn from ``p_path = tau * g / sum(g) + (1 - tau) * uniform`` and the next epoch's data from
  ``p_data = tau * s / sum(s) + (1 - tau) / N`` (with replacement), ``tau = t / T`` at the end of
  epoch ``t`` of ``T``. ``g_k`` is the running gradient-norm importance of op ``k`` (the weights of
  the op's branch in the layers where it was chosen, averaged over those layers, then
  ``g <- (g + G) / 2`` per step, reset every epoch); ``s_i`` is the mean over the epoch's visits of
  ``||softmax(z_i) - onehot(y_i)||`` (the norm of the loss gradient w.r.t. the logits, free).
  Choices where the paper's code is arbitrary, stated: one op distribution shared by all slots
  (as the paper's, per edge type there); ``skip`` has no parameters and keeps ``g = 0`` (so its
  probability decays to 0 with ``tau``, as in the paper's code) unless ``skip_importance`` is
  set; the loss is the plain mean (no ``1 / (N p_i)`` unbiasing weights) unless ``unbiased``;
  kernel, width and depth stay uniform (the paper samples ops only).

Data-parallel training (:mod:`nas.supernet._distributed`): every process holds the same sampler
state and draws from the same generator, so paths and data orders agree; :meth:`observe` sees the
gradients already all-reduced over processes (identical everywhere) but only this process's slice
of the batch, so statistics of examples are summed over processes by
:meth:`PathSampler.combine_processes` before :meth:`PathSampler.end_epoch`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nas.supernet._arch import Arch, ArchSpace, LayerChoice
from nas.supernet._network import Supernet

__all__ = ["PadaSampler", "PathSampler", "SandwichSampler", "UniformSampler", "create_sampler"]


#: Position of each op in the op-importance vectors of :class:`PadaSampler`.
_OP_INDEX = {"conv": 0, "sepconv": 1, "skip": 2}


def _uniform_arch(space: ArchSpace, rng: np.random.Generator, op_probs: np.ndarray | None) -> Arch:
    depths = []
    layers = []
    for st in space.stages:
        depths.append(int(st.depths[rng.integers(len(st.depths))]))
        slots = []
        for _ in range(st.max_depth):
            if op_probs is None:
                op = st.ops[rng.integers(len(st.ops))]
            else:
                p = np.array([op_probs[_OP_INDEX[o]] for o in st.ops], dtype=float)
                p = p / p.sum() if p.sum() > 0 else np.full(len(st.ops), 1.0 / len(st.ops))
                op = st.ops[rng.choice(len(st.ops), p=p)]
            slots.append(
                LayerChoice(
                    op,
                    int(st.kernels[rng.integers(len(st.kernels))]),
                    int(st.widths[rng.integers(len(st.widths))]),
                )
            )
        layers.append(tuple(slots))
    return Arch(tuple(depths), tuple(layers))


class PathSampler(ABC):
    """Chooses the architectures of each training step (and, optionally, the data of each epoch).

    Args:
        space: the architecture space.
    """

    #: Name used in configs and reports.
    name: str = ""
    #: Whether the paths after the first learn from the first's soft predictions.
    distill: bool = False
    #: Whether :meth:`observe` reads the gradients (in data-parallel training they are then
    #: all-reduced after every path, before it is called, rather than once per step).
    reads_gradients: bool = False

    def __init__(self, space: ArchSpace) -> None:
        self.space = space

    @abstractmethod
    def paths(self, rng: np.random.Generator) -> list[Arch]:
        """The architectures to train in one step (their gradients are summed)."""

    def epoch_indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of the training examples of the next epoch, in order (default: a shuffle)."""
        return rng.permutation(n)

    def sample_weights(self, indices: Tensor) -> Tensor | None:
        """Per-example loss weights of a batch (``None``: the plain mean)."""
        return None

    def observe(  # noqa: B027 - an optional hook
        self, net: Supernet, arch: Arch, logits: Tensor, y: Tensor, idx: Tensor
    ) -> None:
        """Called after the backward pass of each path (gradients are in ``net``)."""

    def combine_processes(  # noqa: B027 - an optional hook
        self, sum_over_processes: Callable[[np.ndarray], np.ndarray]
    ) -> None:
        """Data-parallel training: turn what this process observed since the last
        :meth:`end_epoch` (its slices of the batches) into the totals over all processes, so
        that every process computes the same next distributions.

        Called on every process just before :meth:`end_epoch` (never in one process).
        ``sum_over_processes(a)`` is a collective returning the elementwise sum of ``a`` over
        the processes. Default: nothing to combine.
        """

    def end_epoch(self, epoch: int, epochs: int) -> None:  # noqa: B027 - an optional hook
        """Called after epoch ``epoch`` (0-based) of ``epochs``."""

    def state_dict(self) -> dict[str, Any]:
        """Plain state to checkpoint (numpy arrays and numbers)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore :meth:`state_dict`."""


class UniformSampler(PathSampler):
    """One uniformly random architecture per step (SPOS)."""

    name = "uniform"

    def paths(self, rng: np.random.Generator) -> list[Arch]:
        return [_uniform_arch(self.space, rng, None)]


class SandwichSampler(PathSampler):
    """Largest, smallest and ``n_random`` random architectures per step, with in-place
    distillation from the largest (BigNAS's sandwich rule).

    Raises:
        ValueError: ``n_random < 0``.
    """

    name = "sandwich"
    distill = True

    def __init__(self, space: ArchSpace, n_random: int = 2) -> None:
        super().__init__(space)
        if n_random < 0:
            raise ValueError(f"n_random must be >= 0, got {n_random}")
        self.n_random = n_random

    def paths(self, rng: np.random.Generator) -> list[Arch]:
        rand = [_uniform_arch(self.space, rng, None) for _ in range(self.n_random)]
        return [self.space.largest(), self.space.smallest(), *rand]


class PadaSampler(PathSampler):
    """PA&DA: importance sampling of ops and data by normalised gradient norms (module doc).

    Args:
        space: the architecture space.
        n_train: number of training examples.
        skip_importance: importance given to ``skip`` instead of 0 (``None``: the paper's 0).
        unbiased: weight each example's loss by ``1 / (N p_i)`` (the paper's code does not).
        sample_data: also resample the data (PA&DA); ``False`` gives "PA only".
        sample_paths: also sample the ops by importance; ``False`` gives "DA only".
    """

    name = "pada"
    reads_gradients = True

    def __init__(
        self,
        space: ArchSpace,
        n_train: int,
        *,
        skip_importance: float | None = None,
        unbiased: bool = False,
        sample_data: bool = True,
        sample_paths: bool = True,
    ) -> None:
        super().__init__(space)
        self.n_train = n_train
        self.skip_importance = skip_importance
        self.unbiased = unbiased
        self.sample_data = sample_data
        self.sample_paths = sample_paths
        n_ops = len(_OP_INDEX)
        self.p_path = np.full(n_ops, 1.0 / n_ops)
        self.g = np.zeros(n_ops)
        self.p_data = np.full(n_train, 1.0 / n_train)
        self._s_sum = np.zeros(n_train)
        self._s_count = np.zeros(n_train)

    def paths(self, rng: np.random.Generator) -> list[Arch]:
        return [_uniform_arch(self.space, rng, self.p_path if self.sample_paths else None)]

    def epoch_indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if not self.sample_data:
            return rng.permutation(n)
        drawn = rng.choice(n, size=n, replace=True, p=self.p_data)
        return rng.permutation(drawn)

    def sample_weights(self, indices: Tensor) -> Tensor | None:
        if not (self.unbiased and self.sample_data):
            return None
        p = torch.as_tensor(self.p_data[indices.cpu().numpy()], dtype=torch.float32)
        return 1.0 / (self.n_train * p)

    def observe(self, net: Supernet, arch: Arch, logits: Tensor, y: Tensor, idx: Tensor) -> None:
        with torch.no_grad():
            probs = torch.softmax(logits.detach(), dim=-1)
            probs[torch.arange(len(y)), y] -= 1.0
            s = probs.norm(dim=-1).cpu().numpy()
        ids = idx.cpu().numpy()
        np.add.at(self._s_sum, ids, s)
        np.add.at(self._s_count, ids, 1.0)
        # Op importance: gradient norm of each chosen branch, averaged over its layers.
        total = np.zeros(len(_OP_INDEX))
        count = np.zeros(len(_OP_INDEX))
        layers = net.stage_layers()
        for stage, depth, choices in zip(layers, arch.depths, arch.layers, strict=True):
            for layer, choice in list(zip(stage, choices, strict=True))[:depth]:
                if choice.op == "skip":
                    continue
                norm = 0.0
                for p in layer.branches[choice.op].parameters():
                    if p.grad is not None:
                        norm += float(p.grad.norm())
                total[_OP_INDEX[choice.op]] += norm
                count[_OP_INDEX[choice.op]] += 1
        step = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        if self.skip_importance is not None:
            step[_OP_INDEX["skip"]] = self.skip_importance
        self.g = (self.g + step) / 2.0

    def combine_processes(self, sum_over_processes: Callable[[np.ndarray], np.ndarray]) -> None:
        # Scores s_i of the examples of each process's slices; the op importance g needs no
        # combining: it was computed from the all-reduced gradients, the same everywhere.
        n = self.n_train
        total = sum_over_processes(np.concatenate([self._s_sum, self._s_count]))
        self._s_sum = total[:n].copy()
        self._s_count = total[n:].copy()

    def end_epoch(self, epoch: int, epochs: int) -> None:
        tau = (epoch + 1) / epochs
        n_ops = len(self.g)
        if self.g.sum() > 0:
            self.p_path = tau * self.g / self.g.sum() + (1.0 - tau) / n_ops
        self.g = np.zeros(n_ops)
        s_hat = np.where(self._s_count > 0, self._s_sum / np.maximum(self._s_count, 1), 0.0)
        if s_hat.sum() > 0:
            self.p_data = tau * s_hat / s_hat.sum() + (1.0 - tau) / self.n_train
        self._s_sum[:] = 0.0
        self._s_count[:] = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {
            "p_path": self.p_path.copy(),
            "g": self.g.copy(),
            "p_data": self.p_data.copy(),
            "s_sum": self._s_sum.copy(),
            "s_count": self._s_count.copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p_path = np.asarray(state["p_path"], dtype=float).copy()
        self.g = np.asarray(state["g"], dtype=float).copy()
        self.p_data = np.asarray(state["p_data"], dtype=float).copy()
        self._s_sum = np.asarray(state["s_sum"], dtype=float).copy()
        self._s_count = np.asarray(state["s_count"], dtype=float).copy()


def create_sampler(name: str, space: ArchSpace, n_train: int, **options: Any) -> PathSampler:
    """The sampler called ``name`` (``uniform``, ``sandwich``, ``pada``) with its options.

    Raises:
        ValueError: an unknown name (the message lists the valid ones) or a bad option.
    """
    if name == "uniform":
        if options:
            raise ValueError(f"sampler 'uniform' takes no options, got {sorted(options)}")
        return UniformSampler(space)
    if name == "sandwich":
        return SandwichSampler(space, **options)
    if name == "pada":
        return PadaSampler(space, n_train, **options)
    raise ValueError(f"unknown path sampler {name!r}; valid: 'uniform', 'sandwich', 'pada'")
