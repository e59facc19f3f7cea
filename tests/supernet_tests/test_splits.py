"""Supernet families without torch: partitions, the min-cut helper, the tree, the policies, the
``train.splits`` settings."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from nas.space import SKIPPED, ArchSpace
from nas.supernet._config import OptionError, SplitConfig, TrainConfig, parse_supernet_definition
from nas.supernet._ranking import enumerate_archs
from nas.supernet._splits import (
    SPLIT_POLICIES,
    Family,
    SlotScore,
    SplitRecord,
    balanced_partition,
    min_cut_partition,
    score_slot,
    set_partitions,
)
from nas.testing.path_samplers import SAMPLER_SPACE
from nas.testing.supernet import TINY_SPACE


def _stirling(n: int, k: int) -> int:
    return sum((-1) ** i * math.comb(k, i) * (k - i) ** n for i in range(k + 1)) // math.factorial(
        k
    )


@pytest.mark.parametrize(("n", "k"), [(1, 1), (4, 2), (5, 3), (9, 2), (6, 6), (7, 1)])
def test_set_partitions_lists_each_partition_once(n: int, k: int) -> None:
    found = list(set_partitions(n, k))
    assert len(found) == _stirling(n, k)  # 255 two-way partitions of 9 choices
    as_sets = {frozenset(frozenset(i for i in range(n) if lab[i] == g) for g in range(k))
               for lab in found}  # fmt: skip
    assert len(as_sets) == len(found)
    assert all(lab[0] == 0 and set(lab) == set(range(k)) for lab in found)
    with pytest.raises(ValueError):
        list(set_partitions(3, 4))


def _brute_force(d: np.ndarray, k: int) -> float:
    """Least within-group distance over every labelling with k non-empty groups."""
    n = len(d)
    best = math.inf
    for labels in itertools.product(range(k), repeat=n):
        if len(set(labels)) != k:
            continue
        within = sum(d[i, j] for i in range(n) for j in range(i + 1, n) if labels[i] == labels[j])
        best = min(best, within)
    return best


@pytest.mark.parametrize("groups", [2, 3])
def test_min_cut_partition_matches_exhaustive_search(groups: int) -> None:
    rng = np.random.default_rng(groups)
    for trial in range(12):
        n = int(rng.integers(groups, 8))
        a = rng.random((n, n))
        d = (a + a.T) / 2
        np.fill_diagonal(d, 0)
        labels, within = min_cut_partition(d, groups)
        assert within == pytest.approx(_brute_force(d, groups)), trial
        # The labels are a partition with that within-group total.
        lab = np.asarray(labels)
        assert set(labels) == set(range(groups))
        assert float(np.triu(np.where(lab[:, None] == lab[None, :], d, 0), 1).sum()) == (
            pytest.approx(within)
        )


def test_min_cut_partition_local_search_finds_planted_groups(monkeypatch) -> None:
    # Beyond the exact limit a local search runs: on well-separated groups it finds them.
    monkeypatch.setattr("nas.supernet._splits.EXACT_PARTITION_LIMIT", 0)
    rng = np.random.default_rng(0)
    truth = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
    d = np.where(truth[:, None] == truth[None, :], 0.1, 1.0) + 0.05 * rng.random((12, 12))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    labels, _ = min_cut_partition(d, 3, np.random.default_rng(1))
    assert labels == (0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2)
    with pytest.raises(ValueError):
        min_cut_partition(np.zeros((2, 3)), 2)
    with pytest.raises(ValueError):
        min_cut_partition(np.zeros((2, 2)), 3)


def test_score_slot_cut_is_total_minus_within() -> None:
    space = ArchSpace.from_dict(TINY_SPACE)
    choices = space.slot_choices(0, 0)  # conv w2, conv w4, skip
    d = np.array([[0, 0.1, 0.9], [0.1, 0, 0.8], [0.9, 0.8, 0]])
    s = score_slot((0, 0), choices, d, 2)
    assert s.groups == (0, 0, 1)  # the two convs agree; skip goes alone
    assert s.within == pytest.approx(0.1) and s.cut == pytest.approx(1.7)
    assert SlotScore.from_dict(s.to_dict()) == s


def test_balanced_partition_sizes_and_determinism() -> None:
    for n, k in [(9, 2), (4, 2), (7, 3)]:
        labels = balanced_partition(n, k, np.random.default_rng(5))
        sizes = np.bincount(labels)
        assert len(sizes) == k and sizes.max() - sizes.min() <= 1 and labels[0] == 0
        assert labels == balanced_partition(n, k, np.random.default_rng(5))


def test_leaves_partition_the_space_and_route_every_architecture() -> None:
    space = ArchSpace.from_dict(SAMPLER_SPACE)
    archs = enumerate_archs(space)
    family = Family.root(space)
    slot = (0, 1)  # a slot beyond the least depth: SKIPPED is one of its choices
    choices = family.leaves[0].mask.choices(*slot)
    assert SKIPPED in choices
    groups = [choices[: len(choices) // 2], choices[len(choices) // 2 :]]

    def record(ids):
        return SplitRecord("root", ids, slot, tuple(map(tuple, groups)), "random", 0, False)

    children = family.split("root", slot, groups, record)
    assert [c.id for c in children] == ["0", "1"]
    slot2 = (1, 0)
    c2 = family.leaf("1").mask.choices(*slot2)
    family.split("1", slot2, [c2[:1], c2[1:]], lambda ids: record(ids))
    assert [leaf.id for leaf in family.leaves] == ["0", "1.0", "1.1"]
    for arch in archs:
        owners = [leaf.id for leaf in family.leaves if leaf.mask.contains(arch)]
        assert len(owners) == 1
        assert family.leaf_for(arch).id == owners[0]
    assert family.leaf("1.1").split_slots == (slot, slot2)
    assert family.candidates(family.leaf("1.1"), 2) == [(0, 0)]
    back = Family.from_dict(space, family.to_dict())
    assert back.to_dict() == family.to_dict()
    assert [leaf.mask for leaf in back.leaves] == [leaf.mask for leaf in family.leaves]
    with pytest.raises(ValueError, match="do not partition"):
        family.split("0", (0, 0), [family.leaf("0").mask.choices(0, 0)[:1]], record)
    with pytest.raises(KeyError):
        family.leaf("root")


def _plan(name: str, family: Family, scores=None, branches: int = 2, seed: int = 0):
    policy = SPLIT_POLICIES.get(name)()
    calls: list = []

    def score(slot):
        calls.append(slot)
        return scores[slot]

    plan = policy.plan(family, family.leaves[0], branches, np.random.default_rng(seed), score)
    return plan, calls


def test_policies() -> None:
    space = ArchSpace.from_dict(SAMPLER_SPACE)
    family = Family.root(space)
    assert set(SPLIT_POLICIES.names()) >= {"none", "exhaustive", "random", "gm"}
    assert _plan("none", family)[0] is None
    plan, calls = _plan("exhaustive", family)
    assert not calls and all(len(g) == 1 for g in plan.groups)
    assert [c for (c,) in plan.groups] == list(space.full_mask().choices(*plan.slot))
    assert SPLIT_POLICIES.get("exhaustive").splits_once
    plan, calls = _plan("random", family, branches=3)
    sizes = sorted(len(g) for g in plan.groups)
    assert not calls and len(sizes) == 3 and sizes[-1] - sizes[0] <= 1
    # gm scores every candidate slot and splits the one whose choices disagree most.
    slots = family.candidates(family.leaves[0], 2)
    scores = {}
    for i, slot in enumerate(slots):
        choices = space.full_mask().choices(*slot)
        d = np.full((len(choices), len(choices)), 0.1 * (i + 1))
        np.fill_diagonal(d, 0)
        scores[slot] = score_slot(slot, choices, d, 2)
    best = max(slots, key=lambda s: scores[s].cut)
    plan, calls = _plan("gm", family, scores)
    assert calls == slots and plan.slot == best
    assert plan.scores == tuple(scores[s] for s in slots)


def test_split_settings_are_validated() -> None:
    c = SplitConfig.from_value({"policy": "gm", "at_epochs": [2, 4], "branches": 3})
    assert c.at_epochs == (2, 4) and c.repeats == 16 and c.restart == "final"
    assert SplitConfig.from_value(c.to_dict()) == c
    bad = [
        ({"policy": "magic", "at_epochs": [1]}, "splits.policy"),
        ({"policy": "gm", "at_epochs": [3, 2]}, "splits.at_epochs"),
        ({"policy": "gm", "at_epochs": [0]}, "splits.at_epochs"),
        ({"policy": "gm"}, "splits.at_epochs"),
        ({"policy": "gm", "at_epochs": [1], "branches": 1}, "splits.branches"),
        ({"policy": "gm", "at_epochs": [1], "repeats": 0}, "splits.repeats"),
        ({"policy": "gm", "at_epochs": [1], "restart": "always"}, "splits.restart"),
        ({"policy": "gm", "at_epochs": [1], "typo": 1}, "splits.typo"),
    ]
    for value, option in bad:
        with pytest.raises(OptionError) as info:
            SplitConfig.from_value(value)
        assert info.value.option == option, value
    with pytest.raises(OptionError) as info:
        TrainConfig(epochs=4, splits={"policy": "gm", "at_epochs": [2, 4]})
    assert info.value.option == "splits.at_epochs"
    assert TrainConfig(epochs=5, splits={"policy": "gm", "at_epochs": [2, 4]}).splits == (
        SplitConfig("gm", (2, 4))
    )
    # In a study file: one line naming the key.
    from nas.exceptions import StudyConfigError

    with pytest.raises(
        StudyConfigError, match=r"objective\.train\.splits\.policy: must be one of"
    ):
        parse_supernet_definition(
            {"type": "supernet", "space": {"supernet": TINY_SPACE},
             "train": {"epochs": 4, "splits": {"policy": "best", "at_epochs": [1]}}}
        )  # fmt: skip
