"""Supernet training: a path sampler, an optimizer, a schedule, a budget, and hooks.

:class:`SupernetTrainer` trains a :class:`~nas.supernet.Supernet` (or the part of it an
:class:`~nas.space.ArchMask` allows) with the settings of a
:class:`~nas.supernet.TrainConfig`:

* each step trains the paths its :class:`~nas.supernet.PathSampler` chooses (gradients summed
  over the paths; the sampler's :class:`~nas.supernet.PathLoss` says how the paths learn from
  the labels and from each other), plus any extra loss of its hooks;
* the optimizer is SGD (momentum, optional Nesterov, weight decay) or Adam; the learning rate is
  cosine-annealed (or constant) per epoch or per step over the **budget**, counted in optimizer
  steps; extra forward/backward passes a method spends outside the steps are charged to the
  budget with :meth:`SupernetTrainer.charge`;
* gradients are clipped by global norm or by value before the step;
* :class:`TrainerHook` objects extend a step (extra losses, code before the optimizer step,
  per-epoch work, state in the checkpoint) without forking the trainer.

A step, in order: forward/backward of every path (:meth:`PathSampler.observe` sees each path's
logits); the hooks' extra losses, backward; all-reduce over data-parallel processes; clipping;
:meth:`PathSampler.after_gradients` and :meth:`TrainerHook.before_step` (the gradient is final);
the optimizer step; :meth:`TrainerHook.after_step`.

Determinism: the trainer owns a numpy generator seeded from ``TrainConfig.seed`` (paths, data
order, augmentation); the supernet's initial weights come from :func:`build_supernet`, which
seeds a private copy of torch's generator. Everything the next epoch depends on is in
:meth:`SupernetTrainer.state_dict` (weights, optimizer, epoch, steps spent, sampler and hook
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
feeds later draws is made identical before it is used -- gradients all-reduced before clipping,
:meth:`~PathSampler.after_gradients` and the step; per-example statistics summed over processes
(:meth:`~PathSampler.combine_processes`) before :meth:`~PathSampler.end_epoch`. The settings and
data shapes are checked to agree when the trainer is created, the epoch and generator state when
a checkpoint is loaded. Batch norm normalises with the batch statistics of each process's slice
(as ``DistributedDataParallel`` without ``SyncBatchNorm`` does), so training is not bitwise that
of one process on the whole batch; the running statistics are averaged over processes after
every epoch. Without a process group, nothing of this runs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nas.exceptions import NasError
from nas.space import Arch, ArchMask, ArchSpace
from nas.supernet import _distributed as dp
from nas.supernet._config import TrainConfig
from nas.supernet._data import ImageDataset, augment_batch
from nas.supernet._network import Supernet
from nas.supernet._samplers import PathSampler, create_sampler

__all__ = [
    "DeviceError",
    "GradientVariance",
    "SupernetTrainer",
    "TrainerHook",
    "build_supernet",
    "check_device",
]

_SEED_SALT = 0x7A11


class DeviceError(NasError, ValueError):
    """A device string that is not valid, or names an accelerator this machine lacks."""


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


class TrainerHook:
    """An extension of :class:`SupernetTrainer` (module docstring); every method is an optional
    no-op. A hook's state that the next epoch depends on goes in :meth:`state_dict` (it is
    checkpointed with the trainer, in the order the hooks were given)."""

    def start_step(self, trainer: SupernetTrainer) -> None:
        """Called at the start of every step, before its paths are drawn (e.g. a one-time
        initialisation that needs the training data)."""

    def extra_loss(self, trainer: SupernetTrainer, paths: Sequence[Arch]) -> Tensor | None:
        """A loss added to the step's (backpropagated once per step after the paths; e.g. a
        regulariser of the weights); ``None``: nothing."""
        return None

    def before_step(self, trainer: SupernetTrainer, paths: Sequence[Arch]) -> None:
        """Called with the final (all-reduced, clipped) gradient, before the optimizer step."""

    def after_step(self, trainer: SupernetTrainer, paths: Sequence[Arch]) -> None:
        """Called after the optimizer step."""

    def end_epoch(self, trainer: SupernetTrainer) -> None:
        """Called after every epoch, after the sampler's :meth:`~PathSampler.end_epoch`."""

    def state_dict(self) -> dict[str, Any]:
        """Plain state to checkpoint."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


@dataclass
class _OpenEpoch:
    """An epoch in progress: its data order, the next batch's start, the losses so far, the
    training progress and learning rate at its start."""

    order: np.ndarray
    started: float
    lr: float
    pos: int = 0
    losses: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": self.order.copy(),
            "started": self.started,
            "lr": self.lr,
            "pos": self.pos,
            "losses": list(self.losses),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _OpenEpoch:
        return cls(
            order=np.asarray(data["order"]).copy(),
            started=float(data["started"]),
            lr=float(data["lr"]),
            pos=int(data["pos"]),
            losses=[float(v) for v in data["losses"]],
        )


@dataclass(frozen=True)
class GradientVariance:
    """How noisy one training step's gradient is (:meth:`SupernetTrainer.gradient_variance`).

    Attributes:
        relative_mse: ``mean_k ||g_k - g*||^2 / ||g*||^2`` over the draws ``g_k`` (one step's
            importance-weighted gradient: an unbiased estimate of ``g*``) against the
            reference ``g*`` (the uniform sampler's full-data gradient); ``nan`` for samplers
            that train several paths per step (their step is no estimate of ``g*``).
        reference_norm: ``||g*||``.
        draws: number of draws.
    """

    relative_mse: float
    reference_norm: float
    draws: int


class SupernetTrainer:
    """Trains a supernet on an image data set (module docstring).

    Args:
        net: the supernet (e.g. from :func:`build_supernet`).
        data: the data set (its train part is used).
        config: the settings.
        mask: the part of the space to train (default: all of it).
        hooks: extensions, called in order.

    Data-parallel when a process group of more than one process is initialised (module
    docstring): then creating the trainer, :meth:`train_epoch`, :meth:`fit` and
    :meth:`load_state_dict` are collectives that every process calls alike, with the same
    ``config`` (but its ``device``) and data set.

    Raises:
        ValueError: an unknown sampler or a bad sampler option.
        DistributedError: data-parallel processes were given other settings or data shapes.
    """

    def __init__(
        self,
        net: Supernet,
        data: ImageDataset,
        config: TrainConfig,
        *,
        mask: ArchMask | None = None,
        hooks: Sequence[TrainerHook] = (),
    ) -> None:
        from nas.supernet._quant_train import quant_training

        self.net = net
        self.data = data
        self.config = config
        self.device = torch.device(config.device)
        self.net.to(self.device)
        n_train = len(data.y_train)
        sampler = create_sampler(
            config.sampler, mask or net.space.full_mask(), n_train, **dict(config.sampler_options)
        )
        # Elastic quantization (a space with quantization sites): H/R/L paths and its hooks.
        self.sampler: PathSampler
        self.sampler, quant_hooks = quant_training(net.space, config.quant, sampler)
        self.hooks = [*quant_hooks, *hooks]
        self.rng = np.random.default_rng(np.random.SeedSequence([config.seed, _SEED_SALT, 1]))
        self.optimizer = self._optimizer()
        #: Epochs run so far.
        self.epoch = 0
        #: Optimizer steps taken, and steps charged for passes outside them.
        self.steps = 0
        self.charged = 0.0
        #: The budget in optimizer steps (:meth:`TrainConfig.budget`).
        self.budget = config.budget(n_train)
        self.steps_per_epoch = config.steps_per_epoch(n_train)
        self.history: list[dict[str, float]] = []
        self._open: _OpenEpoch | None = None
        #: The first path's loss of the last step (data-parallel: this process's share).
        self.last_loss = float("nan")
        self._train_set: tuple[Tensor, Tensor] | None = None
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

    def _optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        if c.optimizer == "adam":
            return torch.optim.Adam(self.net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.SGD(
            self.net.parameters(),
            lr=c.lr,
            momentum=c.momentum,
            weight_decay=c.weight_decay,
            nesterov=c.nesterov,
        )

    # ------------------------------------------------------------------ budget

    @property
    def spent(self) -> float:
        """Optimizer steps taken plus steps charged."""
        return self.steps + self.charged

    @property
    def done(self) -> bool:
        """Whether the budget is spent."""
        return self.spent >= self.budget

    @property
    def planned_epochs(self) -> int:
        """Epochs the budget allows without charges (the per-epoch schedule's length)."""
        return max(1, math.ceil(self.budget / self.steps_per_epoch))

    def charge(self, steps: float) -> None:
        """Charge ``steps`` to the budget for work outside the training steps (one forward and
        backward pass of one path on one batch costs one step of a single-path sampler).

        Raises:
            ValueError: ``steps`` is negative or not finite.
        """
        if not math.isfinite(steps) or steps < 0:
            raise ValueError(f"charge: steps must be a finite number >= 0, got {steps!r}")
        self.charged += float(steps)

    def _lr(self, at: float) -> float:
        """The learning rate at ``at`` (epochs for the per-epoch schedule, a budget fraction
        for the per-step one)."""
        c = self.config
        if c.schedule == "constant":
            return c.lr
        return 0.5 * c.lr * (1.0 + math.cos(math.pi * min(at, 1.0)))

    def _set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    # ------------------------------------------------------------------ training

    def _lr_now(self, epoch_start: bool) -> float | None:
        """The learning rate to set before the next step (``None``: keep the current one):
        per-epoch schedules change at an epoch's start, per-step ones at every step. A family
        of sub-supernets overrides it to follow the family's clock."""
        if self.config.schedule_unit == "epoch":
            return self._lr(self.epoch / self.planned_epochs) if epoch_start else None
        return self._lr(self.spent / self.budget)

    def _progress(self) -> float:
        """The share of training done, in ``[0, 1]`` (a path sampler's ``tau`` is this share at
        the start of the epoch that ends)."""
        return self.spent / self.budget

    @property
    def in_epoch(self) -> bool:
        """Whether an epoch is open (started by :meth:`train_step`, not yet ended)."""
        return self._open is not None

    def train_step(self) -> dict[str, float] | None:
        """One optimizer step on the next batch of the open epoch, opening one (its data order
        drawn, a per-epoch learning rate set) when none is; the epoch ends after its last batch
        or when the budget runs out. Returns the epoch's record (see :meth:`train_epoch`) when
        this step ended it, else ``None``.

        Raises:
            RuntimeError: the budget is already spent.
        """
        c = self.config
        if self.done:
            raise RuntimeError(f"training is complete ({self.budget} steps)")
        if self._open is None:
            lr = self._lr_now(epoch_start=True)
            if lr is not None:
                self._set_lr(lr)
            order = self.sampler.epoch_indices(len(self.data.y_train), self.rng)
            self._open = _OpenEpoch(order=np.asarray(order), started=self._progress(), lr=0.0)
        ep = self._open
        self.net.train()
        lr = self._lr_now(epoch_start=False)
        if lr is not None:
            self._set_lr(lr)
        if ep.pos == 0:
            ep.lr = float(self.optimizer.param_groups[0]["lr"])
        x_all, y_all = self.train_tensors()
        idx = torch.as_tensor(ep.order[ep.pos : ep.pos + c.batch_size], device=self.device)
        ep.pos += c.batch_size
        x = augment_batch(x_all[idx], c.augment, self.rng)
        self.last_loss = self._step(x, y_all[idx], idx)
        ep.losses.append(self.last_loss)
        if ep.pos >= len(ep.order) or self.done:
            return self._end_epoch()
        return None

    def train_tensors(self) -> tuple[Tensor, Tensor]:
        """The training images and labels on the trainer's device (moved once)."""
        if self._train_set is None:
            self._train_set = (
                self.data.x_train.to(self.device),
                self.data.y_train.to(self.device),
            )
        return self._train_set

    def _end_epoch(self) -> dict[str, float]:
        ep = self._open
        assert ep is not None
        self._open = None
        losses = ep.losses
        if self.world_size > 1:
            # Each process's shares of the batches' losses add up to the batches' losses.
            losses = dp.sum_over_processes(np.asarray(losses, dtype=np.float64)).tolist()
            self.sampler.combine_processes(dp.sum_over_processes)
            dp.average_buffers(self.net)
        self.sampler.end_epoch(ep.started)
        for hook in self.hooks:
            hook.end_epoch(self)
        record = {
            "epoch": float(self.epoch),
            "loss": float(np.mean(losses)) if losses else float("nan"),
            "lr": ep.lr,
            "steps": float(self.spent),
        }
        self.history.append(record)
        self.epoch += 1
        return record

    def train_epoch(self) -> dict[str, float]:
        """Run the rest of the open epoch, or the next one (cut short when the budget runs
        out); returns ``{"epoch", "loss", "lr", "steps"}`` (the mean loss of the first path,
        the learning rate at the epoch's start, the steps spent so far).

        Raises:
            RuntimeError: the budget is already spent.
        """
        while True:
            record = self.train_step()
            if record is not None:
                return record

    def _step(self, x: Tensor, y: Tensor, idx: Tensor) -> float:
        """One optimizer step on the batch ``(x, y)`` (module docstring); returns the first
        path's loss (data-parallel: this process's share of it)."""
        for hook in self.hooks:
            hook.start_step(self)
        self.optimizer.zero_grad(set_to_none=True)
        paths = self.sampler.paths(self.rng)
        first_loss = self._gradients(paths, x, y, idx)
        params = list(self.net.parameters())
        if self.config.clip_mode == "norm":
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        else:
            torch.nn.utils.clip_grad_value_(params, self.config.grad_clip)
        self.sampler.after_gradients(self.net, paths)
        for hook in self.hooks:
            hook.before_step(self, paths)
        self.optimizer.step()
        self.steps += 1
        for hook in self.hooks:
            hook.after_step(self, paths)
        return first_loss

    def _gradients(self, paths: Sequence[Arch], x: Tensor, y: Tensor, idx: Tensor) -> float:
        """The step's gradient in ``.grad`` before clipping: every path's, the hooks' extra
        losses', all-reduced over data-parallel processes (the gradient of the whole batch's
        mean loss, identical everywhere). Returns what :meth:`_accumulate` does."""
        first_loss = self._accumulate(paths, x, y, idx)
        extras = [h.extra_loss(self, paths) for h in self.hooks]
        extra = [e for e in extras if e is not None]
        if extra:
            torch.stack([e.reshape(()) for e in extra]).sum().backward()
        if self.world_size > 1:
            lo, hi = dp.batch_slice(len(idx), self.rank, self.world_size)
            share = (hi - lo) / len(idx) if len(idx) else 0.0
            dp.all_reduce_gradients(list(self.net.parameters()), share)
        return first_loss

    def _accumulate(self, paths: Sequence[Arch], x: Tensor, y: Tensor, idx: Tensor) -> float:
        """Forward and backward every path on the batch (data-parallel: on this process's slice;
        nothing when the slice is empty); gradients add up in ``.grad``. Returns the first
        path's loss (data-parallel: ``share * slice loss``, the shares add up to the batch's)."""
        share = 1.0
        if self.world_size > 1:
            lo, hi = dp.batch_slice(len(idx), self.rank, self.world_size)
            share = (hi - lo) / len(idx) if len(idx) else 0.0
            x, y, idx = x[lo:hi], y[lo:hi], idx[lo:hi]
        if len(idx) == 0:
            return 0.0
        weights = self.sampler.sample_weights(idx)
        loss_of = self.sampler.path_loss
        earlier: list[Tensor] = []
        first_loss = 0.0
        for k, arch in enumerate(paths):
            self.net.set_active(arch)
            logits = self.net(x)
            loss = loss_of(k, logits, y, earlier, weights)
            loss.backward()
            detached = logits.detach()
            self.sampler.observe(detached, y, idx)
            earlier.append(detached)
            if k == 0:
                first_loss = share * float(loss.detach())
        return first_loss

    def fit(
        self, on_epoch: Callable[[dict[str, float]], None] | None = None
    ) -> list[dict[str, float]]:
        """Run epochs until the budget is spent; ``on_epoch`` is called with each epoch's
        record."""
        while not self.done:
            record = self.train_epoch()
            if on_epoch is not None:
                on_epoch(record)
        return self.history

    # ------------------------------------------------------------------ diagnostics

    def gradient_variance(
        self, draws: int = 32, reference_paths: int = 32, seed: int = 0
    ) -> GradientVariance:
        """How far one training step's gradient is from the gradient it estimates (PA&DA's
        claim is that importance sampling brings it closer).

        The reference ``g*`` is the uniform sampler's full-data gradient at the current
        weights: the mean over ``reference_paths`` paths drawn uniformly from the sampler's
        mask of the mean loss over all training examples (in batches of the training batch
        size). Each of the ``draws`` is one step as the sampler draws it now -- a batch from its
        data distribution, its path -- with the importance weights of
        :meth:`PathSampler.importance_weights` applied (``q_uniform / q`` for the path,
        ``1 / (N p_i)`` per example), so that it is an unbiased estimate of ``g*``; the result is
        their mean squared distance to ``g*`` relative to ``||g*||^2`` (before clipping).

        Side effects: none (weights, batch-norm statistics, gradients and the trainer's
        generator are left as they were; ``seed`` seeds a private generator).
        """
        rng = np.random.default_rng(np.random.SeedSequence([seed, _SEED_SALT, 2]))
        x_all, y_all = self.train_tensors()
        n = len(y_all)
        params = list(self.net.parameters())
        saved = {k: v.clone() for k, v in self.net.state_dict().items()}
        bs = self.config.batch_size
        self.net.train()

        def gradient(arch: Arch, idx: Tensor, path_w: float, data_w: Tensor | None) -> Tensor:
            for p in params:
                p.grad = None
            self.net.set_active(arch)
            logits = self.net(x_all[idx])
            per = torch.nn.functional.cross_entropy(logits, y_all[idx], reduction="none")
            if data_w is not None:
                per = per * data_w.to(per)
            (path_w * per.mean()).backward()
            return (
                torch.cat(
                    [
                        (p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                        for p in params
                    ]
                )
                .detach()
                .double()
                .cpu()
            )

        try:
            reference = torch.zeros(sum(p.numel() for p in params), dtype=torch.float64)
            for _ in range(reference_paths):
                arch = self.sampler.mask.sample(rng)
                for start in range(0, n, bs):
                    idx = torch.arange(start, min(start + bs, n), device=self.device)
                    reference += gradient(arch, idx, 1.0, None) * (len(idx) / n)
            reference /= reference_paths
            ref2 = float(reference.pow(2).sum())
            errors = []
            single = True
            for _ in range(draws):
                order = self.sampler.epoch_indices(n, rng)[:bs]
                idx = torch.as_tensor(order, device=self.device)
                paths = self.sampler.paths(rng)
                if len(paths) != 1:
                    single = False
                    break
                path_w, data_w = self.sampler.importance_weights(paths[0], idx)
                g = gradient(paths[0], idx, path_w, data_w)
                errors.append(float((g - reference).pow(2).sum()))
        finally:
            for p in params:
                p.grad = None
            self.net.load_state_dict(saved)
        mse = float(np.mean(errors)) / max(ref2, 1e-300) if single else float("nan")
        return GradientVariance(mse, math.sqrt(ref2), draws)

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything training depends on (weights, optimizer, epoch, steps spent, sampler and
        hook state, generator)."""
        return {
            "net": copy.deepcopy(self.net.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "epoch": self.epoch,
            "steps": self.steps,
            "charged": self.charged,
            "history": list(self.history),
            "sampler": self.sampler.state_dict(),
            "hooks": [h.state_dict() for h in self.hooks],
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "open_epoch": None if self._open is None else self._open.to_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (same space, config and hooks).

        Data-parallel: every process must load the same state (e.g. the same checkpoint).

        Raises:
            DistributedError: data-parallel processes loaded states of another epoch or
                generator state.
        """
        self.net.load_state_dict(state["net"])
        # torch's optimizer keeps the loaded tensors (e.g. momentum buffers) as its own: a copy,
        # so that a state loaded into several trainers (the children of a split) is not shared.
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
        self.epoch = int(state["epoch"])
        # Checkpoints written before the step budget counted whole epochs.
        self.steps = int(state.get("steps", self.epoch * self.steps_per_epoch))
        self.charged = float(state.get("charged", 0.0))
        self.history = list(state["history"])
        self.sampler.load_state_dict(state["sampler"])
        for hook, hook_state in zip(self.hooks, state.get("hooks", []), strict=False):
            hook.load_state_dict(hook_state)
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        open_epoch = state.get("open_epoch")
        self._open = None if open_epoch is None else _OpenEpoch.from_dict(open_epoch)
        if self.world_size > 1:
            dp.check_identical(
                repr((self.epoch, self.rng.bit_generator.state)), "the loaded checkpoint"
            )
