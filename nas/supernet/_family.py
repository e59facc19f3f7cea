"""Training a family of sub-supernets: splits at set epochs, gradient matching, one budget.

:class:`FamilyTrainer` trains the family of :mod:`nas.supernet._splits` under one
:class:`~nas.supernet.TrainConfig` whose ``splits`` (:class:`~nas.supernet.SplitConfig`) says
when and how leaves split:

* **One budget for the family.** The budget (``epochs`` full epochs of optimizer steps, or
  ``steps``) counts the optimizer steps of *all* leaves, plus the forward/backward passes of
  gradient scoring (one pass of one path on one batch charged as one step), so that policies
  compare at an equal number of steps. A family *epoch* is ``steps_per_epoch`` family steps.
  The leaves take steps in turn (round robin, in leaf order): with ``L`` leaves each trains
  every ``L``-th step, each on its own data order, path sampler and optimizer (a
  :class:`~nas.supernet.SupernetTrainer` restricted to its mask; its epochs are its own passes
  over the data). The learning rate follows the *family's* schedule (per family epoch or per
  family step), so that one leaf trains exactly like :class:`~nas.supernet.SupernetTrainer`
  (policy ``none``: bit-identical weights).
* **The papers' budget** (``splits.budget: per_leaf``): every leaf trains a full epoch of its
  own per family epoch (a family epoch of ``L`` leaves is ``L * steps_per_epoch`` steps), as
  GM-NAS and few-shot NAS train each sub-supernet for the remaining epochs; the cost grows with
  the leaves and scoring is counted (``charged``) but does not shorten training.
* **Splits** happen at the end of family epoch ``e`` for each ``e`` of ``splits.at_epochs``:
  every current leaf asks the policy for a plan (:class:`~nas.supernet._splits.SplitPolicy`);
  its children replace it. Children of a non-final split copy the parent's whole training state
  (weights, optimizer, sampler, data order and generator, open epoch). At the **final** split
  (the last of ``at_epochs``, with ``restart: final``) the children start anew: new weights and
  optimizer, a sampler of their mask, their own generator, and the schedule restarted over the
  rest of the budget (GM-NAS's ``restart=final`` with ``fix_sche``).
* **Gradient matching** (:func:`gradient_distances`): for a slot of a leaf, ``repeats``
  minibatches; per minibatch one base path of the leaf (its stage forced deep enough to reach
  the slot) and, per choice of the slot, the gradient of the shared weights *except* the slot's
  own, the stem's and the classifier's, after forward and cross-entropy on that batch; distance
  ``1 - cos`` between choices, averaged over the minibatches. Scoring uses its own generator
  (seeded from the seed, the split and the leaf), raw (not augmented) training images, batch
  statistics with the running ones left as they were, and leaves the weights, gradients and
  the trainers' generators untouched.

Determinism and resume: everything the next step depends on is in :meth:`FamilyTrainer.state_dict`
(the tree, every leaf's trainer state, the family's counters); the policies' and the scoring's
generators are derived from the seed, the split's index and the leaf's id. A family resumed from
a checkpoint taken between family epochs -- in particular right after a split -- ends with the
same weights as an uninterrupted run, bit for bit on the same machine.

Data-parallel (``torchrun``): every leaf trainer is data-parallel; gradient scoring runs in full
on every process (identical weights and batches give identical distances), and rank 0's scores
are broadcast so that every process splits alike.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import Tensor, nn

from nas.space import Arch, ArchMask, ArchSpace, LayerChoice
from nas.supernet import _distributed as dp
from nas.supernet._config import SplitConfig, TrainConfig
from nas.supernet._data import ImageDataset
from nas.supernet._evaluate import SupernetEvaluator, device_of
from nas.supernet._network import Supernet
from nas.supernet._splits import (
    SPLIT_POLICIES,
    Family,
    Leaf,
    SlotScore,
    SplitPlan,
    SplitRecord,
    score_slot,
)
from nas.supernet._train import SupernetTrainer, build_supernet

__all__ = [
    "FamilyEvaluator",
    "FamilyTrainer",
    "check_split_budget",
    "family_from_weights",
    "gradient_distances",
]

_SALT = 0x6E5A


def _leaf_ints(leaf_id: str) -> list[int]:
    return [] if leaf_id == "root" else [int(p) for p in leaf_id.split(".")]


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([*parts]).generate_state(1)[0])


# ---------------------------------------------------------------------------- gradient matching


def _excluded(net: Supernet, slot: tuple[int, int]) -> set[int]:
    """Ids of the parameters left out of gradient matching: the slot's, the stem's, the head's."""
    out = {id(p) for p in net.layer(*slot).parameters()}
    out |= {id(p) for p in net.stem.parameters()}
    out |= {id(p) for p in net.head.parameters()}
    return out


def _with_stage(arch: Arch, stage: int, depth: int, layers: Sequence[LayerChoice]) -> Arch:
    """``arch`` with stage ``stage`` at ``depth`` with ``layers``."""
    depths = list(arch.depths)
    depths[stage] = depth
    all_layers = list(arch.layers)
    all_layers[stage] = tuple(layers)
    return Arch(tuple(depths), tuple(all_layers))


def _base_path(mask: ArchMask, slot: tuple[int, int], rng: np.random.Generator) -> Arch:
    """A path of ``mask`` whose stage ``slot[0]`` is deeper than ``slot[1]`` (the layers the
    forced depth adds drawn uniformly among their allowed active choices)."""
    stage, j = slot
    arch = mask.sample(rng)
    if arch.depths[stage] > j:
        return arch
    depth = next(d for d in mask.space.stages[stage].depths if d > j)
    layers = list(arch.layers[stage])
    for k in range(arch.depths[stage], depth):
        options = mask.active_choices(stage, k) or mask.space.slot_choices(stage, k)
        layers[k] = options[int(rng.integers(len(options)))]
    return _with_stage(arch, stage, depth, layers)


def _with_choice(arch: Arch, slot: tuple[int, int], choice: LayerChoice) -> Arch:
    """``arch`` with ``choice`` in ``slot`` (its depth unchanged)."""
    stage, j = slot
    layers = list(arch.layers[stage])
    layers[j] = choice
    return _with_stage(arch, stage, arch.depths[stage], layers)


def gradient_distances(
    net: Supernet,
    mask: ArchMask,
    slot: tuple[int, int],
    images: Tensor,
    labels: Tensor,
    *,
    repeats: int,
    batch_size: int,
    rng: np.random.Generator,
) -> tuple[tuple[Any, ...], np.ndarray]:
    """GM-NAS's distances between the allowed choices of ``slot`` in ``mask`` (module
    docstring).

    Args:
        net: the leaf's supernet (its weights, gradients and batch-norm running statistics are
            left as they were; it is left in train mode).
        mask: the leaf's mask.
        slot: ``(stage, slot)``.
        images, labels: the training set ``(n, c, h, w)``, ``(n,)`` (on ``net``'s device).
        repeats: minibatches to average over.
        batch_size: examples per minibatch (at most ``n``).
        rng: the only source of randomness.

    Returns:
        the choices (mask order) and the distance matrix ``(k, k)``, ``1 - cos`` averaged over
        the minibatches (0 on the diagonal). A choice computing identity (:data:`SKIPPED`) runs
        with the rest of its base path unchanged.
    """
    choices = mask.choices(*slot)
    excluded = _excluded(net, slot)
    params = [p for p in net.parameters() if id(p) not in excluded]
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    saved_grads = [None if p.grad is None else p.grad.clone() for p in net.parameters()]
    previous = net.active
    n = len(labels)
    k = len(choices)
    total = np.zeros((k, k))
    net.train()
    try:
        for _ in range(repeats):
            idx = torch.as_tensor(
                np.sort(rng.choice(n, size=min(batch_size, n), replace=False)),
                device=images.device,
            )
            x, y = images[idx], labels[idx]
            base = _base_path(mask, slot, rng)
            grads = []
            for choice in choices:
                for p in net.parameters():
                    p.grad = None
                arch = _with_choice(base, slot, choice)
                net.set_active(arch)
                F.cross_entropy(net(x), y).backward()
                grads.append(
                    torch.cat(
                        [
                            (p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                            for p in params
                        ]
                    )
                    .detach()
                    .double()
                )
            g = torch.stack(grads)
            norms = g.norm(dim=1)
            cos = (g @ g.T) / torch.clamp(norms[:, None] * norms[None, :], min=1e-6)
            total += (1.0 - cos).cpu().numpy()
    finally:
        for p, grad in zip(net.parameters(), saved_grads, strict=True):
            p.grad = grad
        with torch.no_grad():
            for name, buf in net.named_buffers():
                buf.copy_(buffers[name])
        net.set_active(previous)
    d = total / repeats
    np.fill_diagonal(d, 0.0)
    return tuple(choices), d


# ---------------------------------------------------------------------------- the family


def check_split_budget(space: ArchSpace, config: TrainConfig, n_train: int) -> None:
    """Refuse split settings that leave the last split's leaves without training: every split
    epoch must lie inside the budget, and the budget must keep at least one family epoch of
    steps after the last split once the policy's scoring (at most
    :meth:`SplitPolicy.scoring_passes`) is charged.

    Raises:
        ValueError: the message names ``train.splits`` and what to change.
    """
    splits = config.splits
    if splits is None or not splits.at_epochs:
        return
    spe = config.steps_per_epoch(n_train)
    budget = config.budget(n_train)
    late = [e for e in splits.at_epochs if e * spe >= budget]
    if late:
        raise ValueError(
            f"train.splits.at_epochs: {late} at or beyond the budget of {budget} steps "
            f"({budget / spe:g} epochs); split earlier or train longer"
        )
    policy = SPLIT_POLICIES.get(splits.policy)()
    policy.check_space(space)
    if splits.budget == "per_leaf":
        return  # scoring is not charged: the leaves train their full epochs anyway
    n_splits = 1 if policy.splits_once else len(splits.at_epochs)
    passes = policy.scoring_passes(space, n_splits, splits.branches, splits.repeats)
    left = budget - splits.at_epochs[n_splits - 1] * spe - passes
    if left < spe:
        raise ValueError(
            f"train.splits: scoring costs up to {passes} passes (charged as steps), which "
            f"leaves {max(left, 0)} of the {budget} steps for training after the last split "
            f"(at epoch {splits.at_epochs[n_splits - 1]}), less than one epoch ({spe} steps); "
            "lower train.splits.repeats, split earlier or raise train.epochs"
        )


class _LeafTrainer(SupernetTrainer):
    """A leaf's trainer: its schedule, progress and end follow the family's clock."""

    def __init__(
        self,
        family_trainer: FamilyTrainer,
        net: Supernet,
        data: ImageDataset,
        config: TrainConfig,
        mask: ArchMask | None,
    ) -> None:
        self.family_trainer = family_trainer
        super().__init__(net, data, config, mask=mask)

    def _lr_now(self, epoch_start: bool) -> float | None:
        return self.family_trainer.lr()

    def _progress(self) -> float:
        return self.family_trainer.progress()

    def train_tensors(self) -> tuple[Tensor, Tensor]:
        # One copy on the device for the whole family, not one per leaf.
        return self.family_trainer.train_tensors()

    @property
    def done(self) -> bool:
        return self.family_trainer.done


class FamilyTrainer:
    """Trains a family of sub-supernets (module docstring).

    Args:
        space: the architecture space.
        data: the data set (its train part is used).
        config: the settings; ``config.splits`` (default: policy ``none``) says how to split.
        on_split: called with each :class:`~nas.supernet._splits.SplitRecord` as it is made.

    Raises:
        ValueError: an unknown sampler or policy, a bad option, or a split epoch at or beyond
            the budget.
    """

    def __init__(
        self,
        space: ArchSpace,
        data: ImageDataset,
        config: TrainConfig,
        *,
        on_split: Callable[[SplitRecord], None] | None = None,
    ) -> None:
        self.space = space
        self.data = data
        self.config = config
        self.splits: SplitConfig = config.splits or SplitConfig()
        self.policy = SPLIT_POLICIES.get(self.splits.policy)()
        self.on_split = on_split
        n_train = len(data.y_train)
        self.steps_per_epoch = config.steps_per_epoch(n_train)
        self.budget = config.budget(n_train)
        self.planned_epochs = max(1, math.ceil(self.budget / self.steps_per_epoch))
        check_split_budget(space, config, n_train)
        self._train_set: tuple[Tensor, Tensor] | None = None
        self.family = Family.root(space)
        self.trainers: dict[str, _LeafTrainer] = {
            "root": self._new_trainer(build_supernet(space, config.seed), config, None)
        }
        #: ``per_leaf``: every leaf trains a full epoch per family epoch (the papers' protocol).
        self.per_leaf = self.splits.budget == "per_leaf"
        #: Family optimizer steps, charged steps, family epochs done, steps into this epoch.
        self.steps = 0
        self.charged = 0.0
        self.epoch = 0
        self.epoch_steps = 0
        #: Index into :data:`SplitConfig.at_epochs` of the next split; the round robin's turn.
        self.next_split = 0
        self.turn = 0
        #: Where the schedule (re)started: family epoch and steps spent.
        self.restart_epoch = 0
        self.restart_spent = 0.0
        self.history: list[dict[str, float]] = []

    def _new_trainer(
        self, net: Supernet, config: TrainConfig, mask: ArchMask | None
    ) -> _LeafTrainer:
        return _LeafTrainer(self, net, self.data, config, mask)

    def train_tensors(self) -> tuple[Tensor, Tensor]:
        """The training images and labels on the training device, moved once for every leaf
        and for gradient scoring."""
        if self._train_set is None:
            device = torch.device(self.config.device)
            self._train_set = (self.data.x_train.to(device), self.data.y_train.to(device))
        return self._train_set

    # ------------------------------------------------------------------ clock

    @property
    def spent(self) -> float:
        """Family optimizer steps plus charged steps."""
        return self.steps + self.charged

    @property
    def done(self) -> bool:
        """Whether the budget is spent (``per_leaf``: every planned epoch has run)."""
        if self.per_leaf:
            return self.epoch >= self.planned_epochs
        return self.spent >= self.budget

    def _time(self) -> float:
        """Family epochs elapsed (fractional) under ``per_leaf``."""
        quota = len(self.leaves) * self.steps_per_epoch
        return self.epoch + self.epoch_steps / quota

    def progress(self) -> float:
        """The share of the budget spent, in ``[0, 1]``."""
        if self.per_leaf:
            return min(self._time() / self.planned_epochs, 1.0)
        return min(self.spent / self.budget, 1.0)

    def lr(self) -> float:
        """The learning rate of the next step (the family's schedule, restarted at a final
        split)."""
        c = self.config
        if c.schedule == "constant":
            return c.lr
        span = max(self.planned_epochs - self.restart_epoch, 1)
        if c.schedule_unit == "epoch":
            e = self.epoch if self.per_leaf else self.steps // self.steps_per_epoch
            at = (e - self.restart_epoch) / span
        elif self.per_leaf:
            at = (self._time() - self.restart_epoch) / span
        else:
            at = (self.spent - self.restart_spent) / max(self.budget - self.restart_spent, 1e-12)
        return 0.5 * c.lr * (1.0 + math.cos(math.pi * min(max(at, 0.0), 1.0)))

    # ------------------------------------------------------------------ training

    @property
    def leaves(self) -> list[Leaf]:
        """The current leaves."""
        return self.family.leaves

    def net(self, leaf_id: str) -> Supernet:
        """The supernet of leaf ``leaf_id``."""
        return self.trainers[leaf_id].net

    def train_epoch(self) -> dict[str, float]:
        """Run the next family epoch (``steps_per_epoch`` steps, the leaves in turn; cut short
        when the budget runs out), then split if it is a split epoch. Returns ``{"epoch",
        "loss", "lr", "steps", "leaves"}`` (mean first-path loss, the learning rate at the
        epoch's start, steps spent so far, leaves after the epoch).

        Raises:
            RuntimeError: the budget is already spent.
        """
        if self.done:
            raise RuntimeError(f"training is complete ({self.budget} steps)")
        lr = self.lr()
        quota = self.steps_per_epoch * (len(self.leaves) if self.per_leaf else 1)
        losses: list[float] = []
        while self.epoch_steps < quota and not self.done:
            leaf = self.leaves[self.turn % len(self.leaves)]
            trainer = self.trainers[leaf.id]
            charged = trainer.charged
            trainer.train_step()
            losses.append(trainer.last_loss)
            self.steps += 1
            self.epoch_steps += 1
            self.charged += trainer.charged - charged
            self.turn += 1
        self.epoch += 1
        self.epoch_steps = 0
        if (
            self.next_split < len(self.splits.at_epochs)
            and self.epoch == self.splits.at_epochs[self.next_split]
            and not self.done
        ):
            self._split_all()
        record = {
            "epoch": float(self.epoch - 1),
            "loss": float(np.mean(losses)) if losses else float("nan"),
            "lr": lr,
            "steps": float(self.spent),
            "leaves": float(len(self.leaves)),
        }
        self.history.append(record)
        return record

    def fit(
        self, on_epoch: Callable[[dict[str, float]], None] | None = None
    ) -> list[dict[str, float]]:
        """Run family epochs until the budget is spent."""
        while not self.done:
            record = self.train_epoch()
            if on_epoch is not None:
                on_epoch(record)
        return self.history

    # ------------------------------------------------------------------ splits

    def _split_all(self) -> None:
        """Split every current leaf as the policy plans (the split at ``next_split``)."""
        index = self.next_split
        self.next_split += 1
        if self.policy.splits_once and index > 0:
            return
        final = self.splits.restart == "final" and index == len(self.splits.at_epochs) - 1
        plans: list[tuple[Leaf, SplitPlan | None]] = []
        for leaf in list(self.leaves):
            rng = np.random.default_rng(
                np.random.SeedSequence([self.config.seed, _SALT, index, 1, *_leaf_ints(leaf.id)])
            )
            score = functools.partial(self._score, leaf, index=index)
            plan = self.policy.plan(self.family, leaf, self.splits.branches, rng, score)
            plans.append((leaf, dp.broadcast_object(plan) if dp.world_size() > 1 else plan))
        for leaf, plan in plans:
            if plan is None:
                continue
            parent = self.trainers.pop(leaf.id)
            # Non-final children copy the parent's training state: taken once for all of them.
            inherited = None if final else parent.state_dict()
            record = functools.partial(
                SplitRecord,
                leaf.id,
                slot=plan.slot,
                groups=plan.groups,
                policy=self.policy.name,
                at_step=self.steps,
                final=final,
                scores=plan.scores,
            )
            children = self.family.split(leaf.id, plan.slot, plan.groups, record)
            for child in children:
                self.trainers[child.id] = self._child(parent, child, inherited)
            if self.on_split is not None:
                self.on_split(self.family.splits[-1])
        self.turn = 0
        if final:
            self.restart_epoch = self.epoch
            self.restart_spent = self.spent
        if dp.world_size() > 1:
            dp.check_identical(json.dumps(self.family.to_dict(), sort_keys=True), "the splits")

    def _child(
        self, parent: _LeafTrainer, child: Leaf, inherited: Mapping[str, Any] | None
    ) -> _LeafTrainer:
        """The trainer of ``child``: the parent's ``inherited`` training state, or (a final
        split: ``None``) new weights, optimizer and generator seeded from the child's id."""
        if inherited is None:
            seed = _seed(self.config.seed, _SALT, 2, *_leaf_ints(child.id))
            config = dataclasses.replace(self.config, seed=seed)
            return self._new_trainer(build_supernet(self.space, seed), config, child.mask)
        trainer = self._new_trainer(build_supernet(self.space, 0), parent.config, child.mask)
        trainer.load_state_dict(inherited)
        return trainer

    def _score(self, leaf: Leaf, slot: tuple[int, int], *, index: int) -> SlotScore:
        trainer = self.trainers[leaf.id]
        rng = np.random.default_rng(
            np.random.SeedSequence(
                [self.config.seed, _SALT, index, 3, *_leaf_ints(leaf.id), *slot]
            )
        )
        images, labels = self.train_tensors()
        choices, d = gradient_distances(
            trainer.net,
            leaf.mask,
            slot,
            images,
            labels,
            repeats=self.splits.repeats,
            batch_size=self.config.batch_size,
            rng=rng,
        )
        self.charged += self.splits.repeats * len(choices)
        return score_slot(slot, choices, d, self.splits.branches, rng)

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything training depends on: the tree, each leaf's trainer state, the counters."""
        return {
            "family": self.family.to_dict(),
            "leaves": {leaf_id: t.state_dict() for leaf_id, t in self.trainers.items()},
            "steps": self.steps,
            "charged": self.charged,
            "epoch": self.epoch,
            "epoch_steps": self.epoch_steps,
            "next_split": self.next_split,
            "turn": self.turn,
            "restart_epoch": self.restart_epoch,
            "restart_spent": self.restart_spent,
            "history": list(self.history),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (same space and config).

        A checkpoint of a single :class:`~nas.supernet.SupernetTrainer` (no ``family`` key) is
        read as the root of a family that has not split.
        """
        if "family" not in state:
            state = {
                "family": Family.root(self.space).to_dict(),
                "leaves": {"root": state},
                "steps": int(state.get("steps", 0)),
                "charged": float(state.get("charged", 0.0)),
                "epoch": int(state["epoch"]),
                "next_split": 0,
                "turn": 0,
                "restart_epoch": 0,
                "restart_spent": 0.0,
                "history": list(state["history"]),
            }
        self.family = Family.from_dict(self.space, state["family"])
        self.trainers = {}
        for leaf in self.family.leaves:
            leaf_state = state["leaves"][leaf.id]
            trainer = self._new_trainer(build_supernet(self.space, 0), self.config, leaf.mask)
            trainer.load_state_dict(leaf_state)
            self.trainers[leaf.id] = trainer
        self.steps = int(state["steps"])
        self.charged = float(state["charged"])
        self.epoch = int(state["epoch"])
        self.epoch_steps = int(state.get("epoch_steps", 0))
        self.next_split = int(state["next_split"])
        self.turn = int(state["turn"])
        self.restart_epoch = int(state["restart_epoch"])
        self.restart_spent = float(state["restart_spent"])
        self.history = list(state["history"])

    def weights(self) -> dict[str, Any]:
        """The final form stored for a study: the tree and each leaf's weights; for a family
        that never split, one supernet's form ``{"net", "history"}``
        (:func:`family_from_weights` reads both)."""
        if not self.family.splits:
            return {"net": self.net("root").state_dict(), "history": list(self.history)}
        return {
            "family": self.family.to_dict(),
            "nets": {leaf_id: t.net.state_dict() for leaf_id, t in self.trainers.items()},
            "history": list(self.history),
        }


# ---------------------------------------------------------------------------- evaluation


class FamilyEvaluator:
    """:class:`~nas.supernet.ArchEvaluator` of a family: each architecture is evaluated by the
    leaf that owns it (:meth:`Family.leaf_for`), its batch norm recalibrated on
    ``calibration`` images.

    Args:
        family: the tree.
        nets: each leaf's supernet, by leaf id.
        calibration: images ``(n, c, h, w)`` (any device; moved batch by batch).
        batch_size: calibration batch size.
    """

    def __init__(
        self,
        family: Family,
        nets: Mapping[str, Supernet],
        calibration: Tensor,
        batch_size: int = 256,
    ) -> None:
        missing = [leaf.id for leaf in family.leaves if leaf.id not in nets]
        if missing:
            raise ValueError(f"no weights for leaves {missing}")
        self.family = family
        self.nets = dict(nets)
        #: One :class:`~nas.supernet.SupernetEvaluator` per leaf.
        self.leaves = {
            leaf_id: SupernetEvaluator(net, calibration, batch_size)
            for leaf_id, net in self.nets.items()
        }

    @property
    def space(self) -> ArchSpace:
        return self.family.space

    @property
    def device(self) -> torch.device:
        return device_of(next(iter(self.nets.values())))

    def leaf_of(self, arch: Arch) -> str:
        """The id of the leaf that owns ``arch``.

        Raises:
            ValueError: no leaf owns it.
        """
        return self.family.leaf_for(arch).id

    def network(self, arch: Arch) -> nn.Module:
        return self.leaves[self.leaf_of(arch)].network(arch)

    def extract(self, arch: Arch) -> nn.Module:
        return self.leaves[self.leaf_of(arch)].extract(arch)


def family_from_weights(
    space: ArchSpace, weights: Mapping[str, Any], build: Callable[[], Supernet]
) -> tuple[Family, dict[str, Supernet]]:
    """The tree and leaf supernets of stored final weights (:meth:`FamilyTrainer.weights`; the
    form of one supernet, ``{"net": ...}``, is a family of one root leaf). ``build()`` makes an
    empty supernet to load each leaf's weights into."""
    if "family" in weights:
        family, states = Family.from_dict(space, weights["family"]), weights["nets"]
    else:
        family, states = Family.root(space), {"root": weights["net"]}
    nets = {}
    for leaf in family.leaves:
        nets[leaf.id] = build()
        nets[leaf.id].load_state_dict(states[leaf.id])
    return family, nets
