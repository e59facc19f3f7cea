"""Supernet families: split policies, the min-cut partition, and the family tree (torch-free).

Few-shot NAS trains several *sub-supernets* instead of one: each is the supernet restricted by
an :class:`~nas.space.ArchMask` (the allowed choices of every layer slot). A **family** is a tree
of sub-supernets whose **leaves** partition the architecture space: a split replaces a leaf by
children whose masks divide one layer slot's *joint* choices ``(op, kernel, width)`` -- and
:data:`~nas.space.SKIPPED` where the slot may compute nothing -- into groups.
:meth:`Family.leaf_for` routes an architecture to the one leaf that owns it (by the effective
choice of every slot).

Which slot a leaf splits, and how, is its **split policy** (:data:`SPLIT_POLICIES`, the names a
study file's ``train.splits.policy`` accepts):

* ``none`` -- never splits: one-shot NAS.
* ``exhaustive`` -- at the first split only, one slot drawn at random is split into one leaf per
  choice: few-shot NAS (Zhao et al. 2021).
* ``random`` -- at every split, a random unsplit slot, divided into ``branches`` groups of sizes
  as equal as possible (a random balanced partition).
* ``gm`` -- gradient matching (GM-NAS, ``../shared/papers.md`` section 1): every unsplit slot is
  scored (:class:`SlotScore`: the gradient-matching distance of each pair of its choices, from
  the trainer) and divided by :func:`min_cut_partition`; the slot with the largest **cut score**
  (total pairwise distance minus the within-group part: its choices disagree most) is split.

An *unsplit* slot is one that no split on the leaf's lineage has divided; a slot needs at least
``branches`` allowed choices (two for ``exhaustive``) to be a candidate. Policies draw randomness
only from the generator they are handed.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from nas._attrs import FAMILY_ATTR, LEAF_ATTR
from nas.space import Arch, ArchMask, ArchSpace, LayerChoice
from nas.supernet._plugins import SPLIT_POLICIES

__all__ = [
    "FAMILY_ATTR",
    "LEAF_ATTR",
    "SPLIT_POLICIES",
    "Family",
    "Leaf",
    "SlotScore",
    "SplitPlan",
    "SplitPolicy",
    "SplitRecord",
    "min_cut_partition",
    "set_partitions",
]

#: Partitions enumerated exactly by :func:`min_cut_partition`; beyond, a local search.
EXACT_PARTITION_LIMIT = 200_000

Slot = tuple[int, int]


# ---------------------------------------------------------------------------- partitions


def _stirling2(n: int, k: int) -> int:
    """The number of partitions of ``n`` items into ``k`` non-empty groups."""
    return sum((-1) ** i * math.comb(k, i) * (k - i) ** n for i in range(k + 1)) // math.factorial(
        k
    )


def set_partitions(n: int, k: int) -> Iterator[tuple[int, ...]]:
    """Every partition of items ``0..n-1`` into exactly ``k`` non-empty groups, each once, as
    a group label per item (item 0 in group 0; a new group is numbered when first used).

    Raises:
        ValueError: ``k < 1`` or ``k > n``.
    """
    if not 1 <= k <= n:
        raise ValueError(f"cannot partition {n} items into {k} non-empty groups")
    labels = [0] * n

    def extend(i: int, used: int) -> Iterator[tuple[int, ...]]:
        if i == n:
            if used == k:
                yield tuple(labels)
            return
        # Enough items left to open the groups still missing?
        for g in range(min(used + 1, k)):
            if n - i - 1 < k - max(used, g + 1):
                continue
            labels[i] = g
            yield from extend(i + 1, max(used, g + 1))

    yield from extend(1, 1) if n > 0 else iter(())


def _within(d: np.ndarray, labels: np.ndarray) -> float:
    same = labels[:, None] == labels[None, :]
    return float(np.triu(np.where(same, d, 0.0), 1).sum())


def min_cut_partition(
    distance: np.ndarray | Sequence[Sequence[float]],
    groups: int,
    rng: np.random.Generator | None = None,
) -> tuple[tuple[int, ...], float]:
    """The partition of the items of a symmetric ``distance`` matrix ``(n, n)`` into ``groups``
    non-empty groups with the least total distance *within* groups (the same as the largest
    cut between them), and that least total.

    Exact (every partition, :func:`set_partitions`) while there are at most
    :data:`EXACT_PARTITION_LIMIT` of them; beyond, a local search (single-item moves from 16
    random starts drawn from ``rng``, or a generator seeded 0) that may miss the optimum. Ties
    go to the partition enumerated first.

    Returns:
        a group label per item (item 0 in group 0) and the within-group total (sum over
        unordered pairs).

    Raises:
        ValueError: ``distance`` is not a square matrix, or ``groups`` is not in ``1..n``.
    """
    d = np.asarray(distance, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"distance must be a square matrix, got shape {d.shape}")
    n = d.shape[0]
    if not 1 <= groups <= n:
        raise ValueError(f"cannot partition {n} items into {groups} non-empty groups")
    d = (d + d.T) / 2.0
    if _stirling2(n, groups) <= EXACT_PARTITION_LIMIT:
        best: tuple[int, ...] | None = None
        best_value = math.inf
        for labels in set_partitions(n, groups):
            value = _within(d, np.asarray(labels))
            if value < best_value - 1e-12:
                best, best_value = labels, value
        assert best is not None
        return best, best_value
    return _local_search(d, groups, rng or np.random.default_rng(0))


def _canonical(labels: Sequence[int]) -> tuple[int, ...]:
    """Relabel groups in order of first appearance."""
    names: dict[int, int] = {}
    return tuple(names.setdefault(int(g), len(names)) for g in labels)


def _local_search(
    d: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[tuple[int, ...], float]:
    n = d.shape[0]
    best: tuple[int, ...] = ()
    best_value = math.inf
    for _ in range(16):
        labels = np.concatenate([np.arange(k), rng.integers(k, size=n - k)])
        rng.shuffle(labels)
        improved = True
        while improved:
            improved = False
            for i in range(n):
                if np.sum(labels == labels[i]) == 1:
                    continue  # moving it would empty its group
                # Distance of item i to each group (without itself).
                to_group = np.array(
                    [d[i, (labels == g) & (np.arange(n) != i)].sum() for g in range(k)]
                )
                g = int(np.argmin(to_group))
                if to_group[g] < to_group[labels[i]] - 1e-12:
                    labels[i] = g
                    improved = True
        value = _within(d, labels)
        if value < best_value - 1e-12:
            best, best_value = _canonical(labels.tolist()), value
    return best, best_value


def balanced_partition(n: int, groups: int, rng: np.random.Generator) -> tuple[int, ...]:
    """A random partition of ``n`` items into ``groups`` groups whose sizes differ by at most
    one (labels per item, canonical as in :func:`set_partitions`).

    Raises:
        ValueError: ``groups`` not in ``1..n``.
    """
    if not 1 <= groups <= n:
        raise ValueError(f"cannot partition {n} items into {groups} non-empty groups")
    labels = np.arange(n) % groups
    rng.shuffle(labels)
    return _canonical(labels.tolist())


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class SlotScore:
    """The gradient-matching score of one slot of one leaf.

    Attributes:
        slot: ``(stage, slot)``.
        choices: the slot's allowed choices, in mask order (rows/columns of ``distance``).
        distance: ``1 - cos`` of the choices' gradients on the shared weights, averaged over the
            repeats, ``(len(choices), len(choices))``.
        groups: the min-cut partition (a group label per choice).
        within: its within-group total.
        cut: total pairwise distance minus ``within`` (the slot's score: larger splits first).
    """

    slot: Slot
    choices: tuple[LayerChoice, ...]
    distance: tuple[tuple[float, ...], ...]
    groups: tuple[int, ...]
    within: float
    cut: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "slot": list(self.slot),
            "choices": [[c.op, c.kernel, c.width] for c in self.choices],
            "distance": [list(r) for r in self.distance],
            "groups": list(self.groups),
            "within": self.within,
            "cut": self.cut,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlotScore:
        return cls(
            slot=(int(data["slot"][0]), int(data["slot"][1])),
            choices=tuple(LayerChoice(str(o), int(k), int(w)) for o, k, w in data["choices"]),
            distance=tuple(tuple(float(v) for v in r) for r in data["distance"]),
            groups=tuple(int(g) for g in data["groups"]),
            within=float(data["within"]),
            cut=float(data["cut"]),
        )


def score_slot(
    slot: Slot,
    choices: Sequence[LayerChoice],
    distance: np.ndarray,
    groups: int,
    rng: np.random.Generator | None = None,
) -> SlotScore:
    """:class:`SlotScore` of a slot from its distance matrix (:func:`min_cut_partition`)."""
    d = (np.asarray(distance, dtype=float) + np.asarray(distance, dtype=float).T) / 2.0
    labels, within = min_cut_partition(d, groups, rng)
    total = float(np.triu(d, 1).sum())
    return SlotScore(
        slot=slot,
        choices=tuple(choices),
        distance=tuple(tuple(float(v) for v in row) for row in d),
        groups=labels,
        within=within,
        cut=total - within,
    )


@dataclass(frozen=True)
class SplitRecord:
    """One split of a family: which leaf split which slot into which groups, and why.

    Attributes:
        leaf: the id of the leaf that was split (it became the parent of ``children``).
        children: the ids of the new leaves, one per group.
        slot: ``(stage, slot)`` that was divided.
        groups: the choices of each child, in child order.
        policy: the policy's name.
        at_step: family optimizer steps taken when the split happened.
        final: whether it was a final split (children re-initialised).
        scores: the slots scored (``gm``), in slot order; empty for other policies.
    """

    leaf: str
    children: tuple[str, ...]
    slot: Slot
    groups: tuple[tuple[LayerChoice, ...], ...]
    policy: str
    at_step: int
    final: bool
    scores: tuple[SlotScore, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "leaf": self.leaf,
            "children": list(self.children),
            "slot": list(self.slot),
            "groups": [[[c.op, c.kernel, c.width] for c in g] for g in self.groups],
            "policy": self.policy,
            "at_step": self.at_step,
            "final": self.final,
            "scores": [s.to_dict() for s in self.scores],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SplitRecord:
        return cls(
            leaf=str(data["leaf"]),
            children=tuple(str(c) for c in data["children"]),
            slot=(int(data["slot"][0]), int(data["slot"][1])),
            groups=tuple(
                tuple(LayerChoice(str(o), int(k), int(w)) for o, k, w in g) for g in data["groups"]
            ),
            policy=str(data["policy"]),
            at_step=int(data["at_step"]),
            final=bool(data["final"]),
            scores=tuple(SlotScore.from_dict(s) for s in data.get("scores", [])),
        )


@dataclass(frozen=True)
class Leaf:
    """A sub-supernet of a family: its id (``root``, then ``<parent>.<group>``, e.g. ``0.1``),
    its mask, and the slots its lineage has split."""

    id: str
    mask: ArchMask
    split_slots: tuple[Slot, ...] = ()

    def child_id(self, group: int) -> str:
        return str(group) if self.id == "root" else f"{self.id}.{group}"


@dataclass
class Family:
    """The tree of a split supernet (module docstring): its current leaves, in creation order,
    and every split so far.

    Attributes:
        space: the architecture space.
        leaves: the current leaves; their masks partition the space.
        splits: every split, in order.
    """

    space: ArchSpace
    leaves: list[Leaf] = field(default_factory=list)
    splits: list[SplitRecord] = field(default_factory=list)

    @classmethod
    def root(cls, space: ArchSpace) -> Family:
        """One leaf, the whole space."""
        return cls(space, [Leaf("root", space.full_mask())])

    def leaf(self, leaf_id: str) -> Leaf:
        """The current leaf ``leaf_id``.

        Raises:
            KeyError: no current leaf has that id.
        """
        for leaf in self.leaves:
            if leaf.id == leaf_id:
                return leaf
        raise KeyError(f"no leaf {leaf_id!r}; leaves: {', '.join(x.id for x in self.leaves)}")

    def leaf_for(self, arch: Arch) -> Leaf:
        """The one leaf whose mask contains ``arch``.

        Raises:
            ValueError: no leaf contains it (not an architecture of the space).
        """
        for leaf in self.leaves:
            if leaf.mask.contains(arch):
                return leaf
        raise ValueError(f"no leaf of the family contains {arch}")

    def split(
        self,
        leaf_id: str,
        slot: Slot,
        groups: Sequence[Sequence[LayerChoice]],
        record: Callable[[tuple[str, ...]], SplitRecord],
    ) -> list[Leaf]:
        """Replace leaf ``leaf_id`` by one child per group of ``slot``'s choices (in place,
        children where the parent was); ``record(children ids)`` makes the split's record.
        Returns the children.

        Raises:
            ValueError: the groups do not partition the slot's allowed choices.
        """
        parent = self.leaf(leaf_id)
        stage, j = slot
        allowed = set(parent.mask.choices(stage, j))
        flat = [c for g in groups for c in g]
        if len(flat) != len(set(flat)) or set(flat) != allowed or any(not g for g in groups):
            raise ValueError(f"groups {groups} do not partition the choices {sorted(allowed)}")
        children = [
            Leaf(
                parent.child_id(k), parent.mask.restrict(stage, j, g), (*parent.split_slots, slot)
            )
            for k, g in enumerate(groups)
        ]
        at = self.leaves.index(parent)
        self.leaves[at : at + 1] = children
        self.splits.append(record(tuple(c.id for c in children)))
        return children

    def candidates(self, leaf: Leaf, branches: int) -> list[Slot]:
        """The unsplit slots of ``leaf`` with at least ``branches`` allowed choices."""
        return [
            (s, j)
            for s, st in enumerate(self.space.stages)
            for j in range(st.max_depth)
            if (s, j) not in leaf.split_slots and len(leaf.mask.choices(s, j)) >= branches
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the leaves (id, mask, split slots) and the split records."""
        return {
            "leaves": [
                {
                    "id": leaf.id,
                    "mask": leaf.mask.to_dict(),
                    "split_slots": [list(s) for s in leaf.split_slots],
                }
                for leaf in self.leaves
            ],
            "splits": [r.to_dict() for r in self.splits],
        }

    @classmethod
    def from_dict(cls, space: ArchSpace, data: Mapping[str, Any]) -> Family:
        """Inverse of :meth:`to_dict` for ``space``.

        Raises:
            SpaceError: a mask that is not one of ``space``.
            KeyError, TypeError, ValueError: not that form.
        """
        return cls(
            space,
            [
                Leaf(
                    str(x["id"]),
                    ArchMask.from_dict(space, x["mask"]),
                    tuple((int(a), int(b)) for a, b in x["split_slots"]),
                )
                for x in data["leaves"]
            ],
            [SplitRecord.from_dict(r) for r in data["splits"]],
        )


# ---------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class SplitPlan:
    """What a policy decided for one leaf: the slot, the choices of each child, the scores."""

    slot: Slot
    groups: tuple[tuple[LayerChoice, ...], ...]
    scores: tuple[SlotScore, ...] = ()


class SplitPolicy(ABC):
    """Decides how a leaf splits (module docstring). Registered in :data:`SPLIT_POLICIES`.

    Attributes:
        name: the registered name.
        needs_scores: whether :meth:`plan` uses gradient-matching scores (the trainer computes
            them, charging their passes to the budget, only for such policies).
        splits_once: whether the policy splits at the first split point only.
    """

    name: ClassVar[str] = ""
    needs_scores: ClassVar[bool] = False
    splits_once: ClassVar[bool] = False

    def check_space(self, space: ArchSpace) -> None:  # noqa: B027 - an optional check
        """Refuse a space the policy cannot split.

        Raises:
            ValueError: the message names ``train.splits.policy`` and what to use instead.
        """

    def scoring_passes(self, space: ArchSpace, at_epochs: int, branches: int, repeats: int) -> int:
        """At most how many forward/backward passes the policy's scoring costs over
        ``at_epochs`` splits (charged to the training budget as steps); 0 without scoring."""
        return 0

    @abstractmethod
    def plan(
        self,
        family: Family,
        leaf: Leaf,
        branches: int,
        rng: np.random.Generator,
        score: Callable[[Slot], SlotScore],
    ) -> SplitPlan | None:
        """How ``leaf`` splits into ``branches`` groups (``None``: it does not). ``score(slot)``
        computes a candidate slot's :class:`SlotScore` (only policies with
        :attr:`needs_scores` call it)."""


# The built-in policies below are registered by name in nas.supernet._plugins.


def _groups(
    choices: Sequence[LayerChoice], labels: Sequence[int]
) -> tuple[tuple[LayerChoice, ...], ...]:
    k = max(labels) + 1
    return tuple(
        tuple(c for c, g in zip(choices, labels, strict=True) if g == i) for i in range(k)
    )


class NoSplit(SplitPolicy):
    """One-shot: never splits."""

    name = "none"

    def plan(
        self,
        family: Family,
        leaf: Leaf,
        branches: int,
        rng: np.random.Generator,
        score: Callable[[Slot], SlotScore],
    ) -> SplitPlan | None:
        return None


class ExhaustiveSplit(SplitPolicy):
    """Few-shot NAS: one random slot, one child per choice, at the first split only."""

    name = "exhaustive"
    splits_once = True

    def plan(
        self,
        family: Family,
        leaf: Leaf,
        branches: int,
        rng: np.random.Generator,
        score: Callable[[Slot], SlotScore],
    ) -> SplitPlan | None:
        slots = family.candidates(leaf, 2)
        if not slots:
            return None
        slot = slots[int(rng.integers(len(slots)))]
        return SplitPlan(slot, tuple((c,) for c in leaf.mask.choices(*slot)))


class RandomSplit(SplitPolicy):
    """A random unsplit slot, a random balanced partition."""

    name = "random"

    def plan(
        self,
        family: Family,
        leaf: Leaf,
        branches: int,
        rng: np.random.Generator,
        score: Callable[[Slot], SlotScore],
    ) -> SplitPlan | None:
        slots = family.candidates(leaf, branches)
        if not slots:
            return None
        slot = slots[int(rng.integers(len(slots)))]
        choices = leaf.mask.choices(*slot)
        return SplitPlan(slot, _groups(choices, balanced_partition(len(choices), branches, rng)))


class GradientMatchingSplit(SplitPolicy):
    """GM-NAS: score every unsplit slot, split the one with the largest cut score by its
    min-cut partition (ties: the first slot)."""

    name = "gm"
    needs_scores = True

    def check_space(self, space: ArchSpace) -> None:
        # Every slot needs weights beyond itself, the stem and the classifier: another slot or
        # a stage transition.
        slots = sum(st.max_depth for st in space.stages)
        if slots < 2 and not any(space.transitions):
            raise ValueError(
                "train.splits.policy: gm matches gradients on the weights shared beyond a slot, "
                "and this space has none (one layer slot, no stage transition); use random or "
                "exhaustive"
            )

    def scoring_passes(self, space: ArchSpace, at_epochs: int, branches: int, repeats: int) -> int:
        # Split k: at most branches**k leaves, each scoring its unsplit slots (every slot but
        # the k its lineage split; bounded by the k smallest left out).
        sizes = sorted(
            (len(space.slot_choices(s, j)) for s, st in enumerate(space.stages)
             for j in range(st.max_depth)),
            reverse=True,
        )  # fmt: skip
        return sum(
            branches**k * repeats * sum(n for n in sizes[: len(sizes) - k] if n >= branches)
            for k in range(at_epochs)
        )

    def plan(
        self,
        family: Family,
        leaf: Leaf,
        branches: int,
        rng: np.random.Generator,
        score: Callable[[Slot], SlotScore],
    ) -> SplitPlan | None:
        slots = family.candidates(leaf, branches)
        if not slots:
            return None
        scores = tuple(score(s) for s in slots)
        best = max(range(len(scores)), key=lambda i: (scores[i].cut, -i))
        chosen = scores[best]
        return SplitPlan(chosen.slot, _groups(chosen.choices, chosen.groups), scores)
