"""Supernet training with a path sampler, batch-norm recalibration and subnet evaluation.

:class:`SupernetTrainer` runs SGD (momentum, weight decay, cosine schedule over the epochs,
gradient-norm clipping) on a :class:`~nas.supernet.Supernet`; each step trains the paths its
:class:`~nas.supernet._samplers.PathSampler` chooses (gradients summed over the paths; with
in-place distillation the paths after the first learn from the first's soft predictions).

Determinism: the trainer owns a numpy generator seeded from ``TrainConfig.seed`` (paths, data
order); the supernet's initial weights come from :func:`build_supernet`, which seeds a private
copy of torch's generator. Everything the next
step depends on is in :meth:`SupernetTrainer.state_dict` (weights, optimizer, epoch, sampler
state, the generator's state), so training resumed from a checkpoint taken between epochs gives
the same weights as an uninterrupted run, bit for bit on the same machine (and the same number
of processes).

Data parallelism: when a ``torch.distributed`` process group of more than one process is
initialised as the trainer is created (e.g. under ``torchrun``, :mod:`nas.supernet.train`), each
process trains its contiguous slice of every batch (:func:`~nas.supernet._distributed.batch_slice`)
and the gradients are all-reduced, weighted by the slices' sizes, so every process applies the
gradient of the whole batch's mean loss. The invariant that keeps the processes in **lockstep**
without sending paths or indices around: every process holds the same generator (seeded from the
same ``seed``), the same sampler state and the same weights (rank 0's are broadcast at the
start), so they draw the same data order and the same paths at every step, and everything that
feeds later draws is made identical before it is used -- gradients all-reduced before
:meth:`~nas.supernet._samplers.PathSampler.observe` reads them and before clipping and the step;
per-example statistics summed over processes
(:meth:`~nas.supernet._samplers.PathSampler.combine_processes`) before
:meth:`~nas.supernet._samplers.PathSampler.end_epoch`. The settings and data shapes are checked
to agree when the trainer is created, the epoch and generator state when a checkpoint is loaded.
Batch norm normalises with the batch statistics of each process's slice (as
``DistributedDataParallel`` without ``SyncBatchNorm`` does), so training is not bitwise that of
one process on the whole batch; the running statistics are averaged over processes after every
epoch, so the whole state (and every checkpoint) is the same on every process. (Trials
recalibrate batch norm anyway.) The reported loss is the whole batches' mean. Without a process
group, nothing of this runs and training is exactly the single-process one.

:func:`recalibrate_bn` re-estimates the batch-norm statistics of one architecture (running
statistics reset, cumulative average over calibration batches) before it is evaluated, since the
supernet's statistics mix every architecture trained.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import Tensor

from nas.exceptions import NasError
from nas.supernet import _distributed as dp
from nas.supernet._arch import Arch, ArchSpace
from nas.supernet._data import ImageDataset
from nas.supernet._network import Supernet
from nas.supernet._ops import DynamicBatchNorm2d
from nas.supernet._samplers import PathSampler, create_sampler

__all__ = [
    "DeviceError",
    "SupernetTrainer",
    "TrainConfig",
    "build_supernet",
    "check_device",
    "evaluate_arch",
    "recalibrate_bn",
]

_SEED_SALT = 0x7A11


class DeviceError(NasError, ValueError):
    """A device string that is not valid, or names an accelerator this machine lacks."""


@dataclass(frozen=True)
class TrainConfig:
    """Supernet training settings.

    Attributes:
        epochs: passes over the (possibly resampled) training set, ``>= 1``.
        batch_size: examples per step, ``>= 1``.
        lr: initial learning rate (cosine-annealed to 0 over ``epochs``), ``> 0``.
        momentum: SGD momentum in ``[0, 1)``.
        weight_decay: L2 penalty, ``>= 0``.
        grad_clip: maximum gradient norm per step, ``> 0``.
        sampler: ``uniform``, ``sandwich`` or ``pada``.
        sampler_options: keyword options of the sampler.
        seed: seeds the weights' initialisation (with :func:`build_supernet`) and the sampling.
        device: ``cpu`` or ``cuda[:N]``.

    Raises:
        ValueError: a value breaks its rule (the message names it).
    """

    epochs: int = 20
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 2.5e-4
    grad_clip: float = 5.0
    sampler: str = "uniform"
    sampler_options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs >= 1),
            ("batch_size", self.batch_size >= 1),
            ("lr", self.lr > 0),
            ("momentum", 0 <= self.momentum < 1),
            ("weight_decay", self.weight_decay >= 0),
            ("grad_clip", self.grad_clip > 0),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"train option {name!r} is out of range: {getattr(self, name)!r}")


def check_device(device: str, where: str = "device") -> torch.device:
    """Parse ``device`` (``cpu``, ``cuda``, ``cuda:N``, ``mps``) and check it exists here.

    Raises:
        DeviceError: not a torch device string, or the accelerator is not available (the
            message names ``where`` and suggests ``cpu``).
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise DeviceError(
            f"{where}: {device!r} is not a device (cpu, cuda, cuda:N): {e}"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"{where}: {device!r} requested but CUDA is not available here; use cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"{where}: {device!r} requested but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"{where}: {device!r} requested but MPS is not available here; use cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"{where}: unsupported device type {dev.type!r}; use cpu or cuda")
    return dev


def build_supernet(space: ArchSpace, seed: int) -> Supernet:
    """A supernet whose initial weights depend only on ``seed`` (torch's global generator is
    used on a private copy and left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(np.random.SeedSequence([seed, _SEED_SALT]).generate_state(1)[0]))
        return Supernet(space)


def _device_of(net: torch.nn.Module) -> torch.device:
    """Where ``net``'s parameters live (inputs are moved there)."""
    return next(net.parameters()).device


def _bn_layers(net: torch.nn.Module) -> list[torch.nn.BatchNorm2d]:
    return [m.bn for m in net.modules() if isinstance(m, DynamicBatchNorm2d)]


def recalibrate_bn(net: Supernet, arch: Arch, images: Tensor, batch_size: int = 256) -> None:
    """Re-estimate the batch-norm running statistics of ``arch`` on ``images``.

    Statistics are reset and accumulated as a cumulative average over the batches of
    ``images`` (in order, moved batch by batch to the supernet's device), with ``arch``
    active; weights are not touched. The supernet is left
    in eval mode with ``arch`` active. (The statistics of channels ``arch`` does not use are
    reset too: recalibrate again before evaluating another architecture.)
    """
    net.set_active(arch)
    device = _device_of(net)
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

    ``images`` ``(n, c, h, w)`` and ``labels`` ``(n,)`` may live on any device; batches are
    moved to the supernet's.

    With ``calibration`` images, the batch-norm statistics are recalibrated first
    (:func:`recalibrate_bn`); otherwise the supernet's current statistics are used.
    """
    if calibration is not None:
        recalibrate_bn(net, arch, calibration)
    else:
        net.set_active(arch)
        net.eval()
    device = _device_of(net)
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = net(images[start : start + batch_size].to(device))
            batch_labels = labels[start : start + batch_size].to(device)
            correct += int((logits.argmax(-1) == batch_labels).sum())
    return correct / max(len(images), 1)


class SupernetTrainer:
    """Trains a supernet on an image data set (module docstring).

    Args:
        net: the supernet (e.g. from :func:`build_supernet`).
        data: the data set (its train part is used).
        config: the settings.

    Data-parallel when a process group of more than one process is initialised (module
    docstring): then creating the trainer, :meth:`train_epoch`, :meth:`fit`,
    :meth:`gradient_variance` and :meth:`load_state_dict` are collectives that every process
    calls alike, with the same ``config`` (but its ``device``) and data set.

    Raises:
        ValueError: an unknown sampler or a bad sampler option.
        DistributedError: data-parallel processes were given other settings or data shapes.
    """

    def __init__(self, net: Supernet, data: ImageDataset, config: TrainConfig) -> None:
        self.net = net
        self.data = data
        self.config = config
        self.device = torch.device(config.device)
        self.net.to(self.device)
        self.sampler: PathSampler = create_sampler(
            config.sampler, net.space, len(data.y_train), **dict(config.sampler_options)
        )
        self.rng = np.random.default_rng(np.random.SeedSequence([config.seed, _SEED_SALT, 1]))
        self.optimizer = torch.optim.SGD(
            net.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        self.epoch = 0
        self.history: list[dict[str, float]] = []
        #: This process's rank and the number of data-parallel processes (0 and 1: alone).
        self.rank = dp.rank()
        self.world_size = dp.world_size()
        if self.world_size > 1:
            settings = {**config.__dict__, "device": None}
            dp.check_identical(
                repr((settings, tuple(data.x_train.shape), len(data.y_val), len(data.y_test))),
                "the training settings and data set",
            )
            dp.broadcast_module(self.net)

    def _lr(self, epoch: int) -> float:
        c = self.config
        return 0.5 * c.lr * (1.0 + float(np.cos(np.pi * epoch / c.epochs)))

    def train_epoch(self) -> dict[str, float]:
        """Run the next epoch; returns ``{"epoch", "loss", "lr"}`` (mean loss of the first path).

        Raises:
            RuntimeError: every epoch is already done.
        """
        c = self.config
        if self.epoch >= c.epochs:
            raise RuntimeError(f"training is complete ({c.epochs} epochs)")
        lr = self._lr(self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x_all = self.data.x_train.to(self.device)
        y_all = self.data.y_train.to(self.device)
        order = self.sampler.epoch_indices(len(y_all), self.rng)
        self.net.train()
        losses: list[float] = []
        for start in range(0, len(order), c.batch_size):
            idx = torch.as_tensor(order[start : start + c.batch_size], device=self.device)
            losses.append(self._step(x_all[idx], y_all[idx], idx))
        if self.world_size > 1:
            # Each process's shares of the batches' losses add up to the batches' losses.
            losses = dp.sum_over_processes(np.asarray(losses, dtype=np.float64)).tolist()
            self.sampler.combine_processes(dp.sum_over_processes)
            dp.average_buffers(self.net)
        self.sampler.end_epoch(self.epoch, c.epochs)
        record = {"epoch": float(self.epoch), "loss": float(np.mean(losses)), "lr": lr}
        self.history.append(record)
        self.epoch += 1
        return record

    def _step(self, x: Tensor, y: Tensor, idx: Tensor) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        first_loss = self._accumulate_gradients(x, y, idx, self.rng)
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return first_loss

    def _accumulate_gradients(
        self, x: Tensor, y: Tensor, idx: Tensor, rng: np.random.Generator
    ) -> float:
        """Forward and backward every path the sampler draws from ``rng`` for the batch ``x``
        (gradients add up in ``.grad``); returns the first path's loss.

        Data-parallel: ``x``, ``y``, ``idx`` are the whole batch (the same on every process),
        see :meth:`_accumulate_slice`."""
        if self.world_size > 1:
            return self._accumulate_slice(x, y, idx, rng)
        weights = self.sampler.sample_weights(idx)
        teacher: Tensor | None = None
        first_loss = 0.0
        for k, arch in enumerate(self.sampler.paths(rng)):
            self.net.set_active(arch)
            logits = self.net(x)
            loss = self._path_loss(k, logits, y, teacher, weights)
            loss.backward()
            self.sampler.observe(self.net, arch, logits, y, idx)
            if k == 0:
                first_loss = float(loss.detach())
                if self.sampler.distill:
                    teacher = F.softmax(logits.detach(), -1)
        return first_loss

    def _path_loss(
        self,
        k: int,
        logits: Tensor,
        y: Tensor,
        teacher: Tensor | None,
        weights: Tensor | None,
    ) -> Tensor:
        """Loss of the ``k``-th path of a step: distillation from ``teacher`` (the first path's
        soft predictions) for later paths of a distilling sampler, else cross-entropy (weighted
        per example by ``weights`` when the sampler unbiases)."""
        if k > 0 and self.sampler.distill and teacher is not None:
            return F.kl_div(
                F.log_softmax(logits, -1), teacher, reduction="batchmean", log_target=False
            )
        per = F.cross_entropy(logits, y, reduction="none")
        return (per * weights.to(per)).mean() if weights is not None else per.mean()

    def _accumulate_slice(
        self, x: Tensor, y: Tensor, idx: Tensor, rng: np.random.Generator
    ) -> float:
        """:meth:`_accumulate_gradients` of one data-parallel process for the batch ``x``.

        Every process draws the same paths from ``rng`` (lockstep, module docstring), forwards
        and backwards its slice of the batch (nothing when the slice is empty), and the
        gradients are all-reduced with weight ``slice size / batch size``: ``.grad`` then holds
        the gradient of the whole batch's mean loss (its sum over the paths), identical on every
        process. A sampler that :attr:`~PathSampler.reads_gradients` gets them all-reduced after
        every path, before :meth:`~PathSampler.observe` (each path's increment is reduced and
        added to the earlier paths' reduced sum: what one process would have accumulated);
        otherwise they are reduced once, after the last path. With distillation each slice
        learns from the first path's predictions on that slice. Returns this process's share of
        the first path's loss (``share * slice loss``; the shares add up to the batch's loss).
        """
        lo, hi = dp.batch_slice(len(idx), self.rank, self.world_size)
        share = (hi - lo) / len(idx) if len(idx) else 0.0
        x, y, idx = x[lo:hi], y[lo:hi], idx[lo:hi]
        params = list(self.net.parameters())
        per_path = self.sampler.reads_gradients
        weights = self.sampler.sample_weights(idx)
        teacher: Tensor | None = None
        first_loss = 0.0
        for k, arch in enumerate(self.sampler.paths(rng)):
            self.net.set_active(arch)
            earlier: list[Tensor | None] = []
            if per_path:  # keep the earlier paths' reduced gradients out of this reduction
                earlier = [p.grad for p in params]
                for p in params:
                    p.grad = None
            if hi > lo:
                logits = self.net(x)
                loss = self._path_loss(k, logits, y, teacher, weights)
                loss.backward()
                slice_loss = float(loss.detach())
            else:
                logits = torch.empty((0, self.net.space.classes), device=self.device)
                slice_loss = 0.0
            if per_path:
                dp.all_reduce_gradients(params, share)
                for p, g in zip(params, earlier, strict=True):
                    if g is not None:
                        p.grad = g if p.grad is None else p.grad.add_(g)
            self.sampler.observe(self.net, arch, logits, y, idx)
            if k == 0:
                first_loss = share * slice_loss
                if self.sampler.distill and hi > lo:
                    teacher = F.softmax(logits.detach(), -1)
        if not per_path:
            dp.all_reduce_gradients(params, share)
        return first_loss

    def gradient_variance(self, draws: int = 16, seed: int = 0) -> float:
        """Relative variance of the supernet's stochastic gradient, as the sampler draws it now.

        ``draws`` times: a minibatch drawn from the sampler's data distribution
        (:meth:`PathSampler.epoch_indices`) and its paths (:meth:`PathSampler.paths`), the
        gradient of all weights (what one training step would apply, before clipping).
        Returns ``mean_k ||g_k - g_mean||^2 / ||g_mean||^2``: the noise of the estimator
        relative to its signal (PA&DA's claim is that importance sampling lowers it).

        Side effects: the sampler observes these steps and batch-norm running statistics
        move (train mode): measure after scoring architectures. Weights are not changed and
        the trainer's generator is not used (``seed`` seeds a private one).
        """
        rng = np.random.default_rng(np.random.SeedSequence([seed, _SEED_SALT, 2]))
        x_all = self.data.x_train.to(self.device)
        y_all = self.data.y_train.to(self.device)
        self.net.train()
        grads = []
        for _ in range(draws):
            order = self.sampler.epoch_indices(len(y_all), rng)[: self.config.batch_size]
            idx = torch.as_tensor(order, device=self.device)
            self.optimizer.zero_grad(set_to_none=False)
            self._accumulate_gradients(x_all[idx], y_all[idx], idx, rng)
            grads.append(
                torch.cat(
                    [
                        (p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                        for p in self.net.parameters()
                    ]
                )
                .detach()
                .cpu()
                .double()
            )
        self.optimizer.zero_grad(set_to_none=True)
        g = torch.stack(grads)
        mean = g.mean(0)
        return float(((g - mean) ** 2).sum(1).mean() / mean.pow(2).sum().clamp_min(1e-300))

    def fit(
        self, on_epoch: Callable[[dict[str, float]], None] | None = None
    ) -> list[dict[str, float]]:
        """Run the remaining epochs; ``on_epoch`` is called with each epoch's record."""
        while self.epoch < self.config.epochs:
            record = self.train_epoch()
            if on_epoch is not None:
                on_epoch(record)
        return self.history

    def state_dict(self) -> dict[str, Any]:
        """Everything training depends on (weights, optimizer, epoch, sampler, generator)."""
        return {
            "net": copy.deepcopy(self.net.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "epoch": self.epoch,
            "history": list(self.history),
            "sampler": self.sampler.state_dict(),
            "rng": copy.deepcopy(self.rng.bit_generator.state),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (same space and config).

        Data-parallel: every process must load the same state (e.g. the same checkpoint).

        Raises:
            DistributedError: data-parallel processes loaded states of another epoch or
                generator state.
        """
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.sampler.load_state_dict(state["sampler"])
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        if self.world_size > 1:
            dp.check_identical(
                repr((self.epoch, self.rng.bit_generator.state)), "the loaded checkpoint"
            )
