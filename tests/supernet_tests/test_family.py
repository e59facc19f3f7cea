"""Families of sub-supernets: one budget, splits, gradient matching, exact resume, evaluation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nas.space import ArchSpace
from nas.supernet._config import TrainConfig
from nas.supernet._family import FamilyEvaluator, FamilyTrainer, gradient_distances
from nas.supernet._ranking import enumerate_archs
from nas.supernet._train import SupernetTrainer, build_supernet
from nas.testing.path_samplers import SAMPLER_SPACE, toy_data


@pytest.fixture(scope="module")
def space() -> ArchSpace:
    return ArchSpace.from_dict(SAMPLER_SPACE)


@pytest.fixture(scope="module")
def data():
    return toy_data(48)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("sampler", ["uniform", "sandwich", "pada"])
@pytest.mark.parametrize("unit", ["epoch", "step"])
def test_a_family_that_never_splits_trains_exactly_one_supernet(space, data, sampler, unit):
    cfg = TrainConfig(epochs=3, batch_size=8, sampler=sampler, seed=2, schedule_unit=unit)
    alone = SupernetTrainer(build_supernet(space, 2), data, cfg)
    alone.fit()
    family = FamilyTrainer(space, data, dataclasses.replace(cfg, splits={"policy": "none"}))
    family.fit()
    assert [leaf.id for leaf in family.leaves] == ["root"]
    assert _same(alone.net, family.net("root"))
    assert [h["loss"] for h in alone.history] == [h["loss"] for h in family.history]
    assert [h["lr"] for h in alone.history] == [h["lr"] for h in family.history]
    assert family.weights().keys() == {"net", "history"}  # one supernet's stored form


def _config(policy: str, epochs: int = 6, **splits) -> TrainConfig:
    """Splits after epochs 2 and 4; gm's scoring (charged to the budget) needs more epochs."""
    return TrainConfig(
        epochs=16 if policy == "gm" else epochs,
        batch_size=8,
        sampler="pada",
        seed=1,
        splits={"policy": policy, "at_epochs": [2, 4], "repeats": 1, **splits},
    )


@pytest.mark.parametrize("policy", ["exhaustive", "random", "gm"])
def test_splits_resume_bit_for_bit_from_any_epoch(space, data, policy: str) -> None:
    cfg = _config(policy)
    straight = FamilyTrainer(space, data, cfg)
    straight.fit()
    assert straight.family.splits and len(straight.leaves) > 1
    for stop in (1, 2, 3, 4, 5, len(straight.history) - 1):  # before, at, after each split
        part = FamilyTrainer(space, data, cfg)
        for _ in range(stop):
            part.train_epoch()
        resumed = FamilyTrainer(space, data, cfg)
        resumed.load_state_dict(part.state_dict())
        resumed.fit()
        assert resumed.family.to_dict() == straight.family.to_dict(), stop
        for leaf in straight.leaves:
            assert _same(straight.net(leaf.id), resumed.net(leaf.id)), (stop, leaf.id)
        assert resumed.history == straight.history


def test_the_budget_is_shared_by_the_leaves_and_scoring_is_charged(space, data) -> None:
    cfg = _config("random", restart="none")
    fam = FamilyTrainer(space, data, cfg)
    fam.fit()
    spe = cfg.steps_per_epoch(len(data.y_train))
    assert fam.steps == fam.budget == 6 * spe and fam.charged == 0
    # Round robin: between splits each leaf takes its share of the family's steps (its
    # counter carries its ancestors' steps: a split copies them).
    steps = [fam.trainers[leaf.id].steps for leaf in fam.leaves]
    assert steps == [2 * spe + 2 * spe // 2 + 2 * spe // 4] * 4
    gm = FamilyTrainer(space, data, _config("gm"))
    gm.fit()
    scored = [len(s.choices) for r in gm.family.splits for s in r.scores]
    assert gm.charged == sum(scored) and gm.steps + gm.charged >= gm.budget
    assert gm.steps < gm.budget  # the scoring passes took training steps away


def test_final_split_restarts_weights_and_schedule(space, data) -> None:
    cfg = _config("random")
    fam = FamilyTrainer(space, data, cfg)
    for _ in range(2):
        fam.train_epoch()
    # Before its first split the root trains alike under every policy.
    alone = FamilyTrainer(space, data, dataclasses.replace(cfg, splits={"policy": "none"}))
    for _ in range(2):
        alone.train_epoch()
    parent = alone.net("root").state_dict()
    # The first split copies the parent's whole state into each child.
    for leaf in fam.leaves:
        assert all(torch.equal(parent[k], v) for k, v in fam.net(leaf.id).state_dict().items())
        assert fam.trainers[leaf.id].steps == fam.steps
    lr_before = fam.lr()
    for _ in range(2):
        fam.train_epoch()
    assert fam.family.splits[-1].final and len(fam.leaves) == 4
    # The final split: new weights (per child), new optimizer, the schedule from the top.
    nets = [fam.net(leaf.id) for leaf in fam.leaves]
    assert not _same(nets[0], nets[1])
    assert all(fam.trainers[leaf.id].steps == 0 for leaf in fam.leaves)
    assert fam.lr() == cfg.lr > lr_before
    none = FamilyTrainer(space, data, _config("random", restart="none"))
    for _ in range(4):
        none.train_epoch()
    assert not none.family.splits[-1].final and none.lr() < cfg.lr


def test_gradient_distances_leave_the_supernet_as_it_was(space, data) -> None:
    trainer = SupernetTrainer(
        build_supernet(space, 0), data, TrainConfig(epochs=2, batch_size=8, seed=0)
    )
    trainer.train_epoch()
    net = trainer.net
    before = {k: v.clone() for k, v in net.state_dict().items()}  # weights and BN statistics
    grads = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    active = net.active
    mask = space.full_mask()
    choices, d = gradient_distances(
        net, mask, (0, 1), data.x_train, data.y_train, repeats=3, batch_size=8,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.active == active
    after = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.equal(a, b) for a, b in zip(grads, after, strict=True))
    assert choices == mask.choices(0, 1)
    assert d.shape == (len(choices), len(choices))
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0) and np.all((d >= -1e-9) & (d <= 2))
    again = gradient_distances(
        net, mask, (0, 1), data.x_train, data.y_train, repeats=3, batch_size=8,
        rng=np.random.default_rng(0),
    )[1]  # fmt: skip
    assert np.array_equal(d, again)
    # Choices that compute different things have different gradients elsewhere.
    assert d[np.triu_indices(len(choices), 1)].min() > 0


def test_the_family_evaluator_routes_each_architecture_to_its_leaf(space, data) -> None:
    fam = FamilyTrainer(space, data, _config("exhaustive"))
    fam.fit()
    nets = {leaf.id: fam.net(leaf.id) for leaf in fam.leaves}
    ev = FamilyEvaluator(fam.family, nets, data.x_train)
    seen = set()
    for arch in enumerate_archs(space):
        leaf = ev.leaf_of(arch)
        seen.add(leaf)
        assert fam.family.leaf(leaf).mask.contains(arch)
        net = ev.network(arch)
        assert net is nets[leaf] and net.active == arch
        with torch.no_grad():
            expected = net(data.x_val)
            got = ev.extract(arch)(data.x_val)
        torch.testing.assert_close(got, expected)
    assert seen == set(nets)
    with pytest.raises(ValueError, match="no weights"):
        FamilyEvaluator(fam.family, {}, data.x_train)


def test_splits_that_would_leave_leaves_untrained_are_refused(space, data) -> None:
    from nas.supernet._family import check_split_budget

    spe = TrainConfig(batch_size=8).steps_per_epoch(len(data.y_train))  # 6
    # gm's scoring is charged: 64 repeats over 5 slots would eat the whole budget.
    greedy = _config("gm", repeats=64)
    with pytest.raises(ValueError, match=r"train\.splits: scoring costs up to \d+ passes"):
        FamilyTrainer(space, data, greedy)
    check_split_budget(space, _config("gm"), len(data.y_train))  # fits
    # With a budget in steps, a split epoch beyond it.
    late = TrainConfig(steps=3 * spe, batch_size=8, splits={"policy": "random", "at_epochs": [3]})
    with pytest.raises(ValueError, match=r"at_epochs: \[3\] at or beyond the budget"):
        check_split_budget(space, late, len(data.y_train))


def test_the_papers_budget_gives_every_leaf_full_epochs(space, data) -> None:
    cfg = _config("gm", budget="per_leaf", repeats=2, restart="none")
    cfg = dataclasses.replace(cfg, epochs=6)
    fam = FamilyTrainer(space, data, cfg)
    fam.fit()
    spe = cfg.steps_per_epoch(len(data.y_train))
    assert len(fam.history) == 6 and len(fam.leaves) == 4
    # Epochs 0-1: the root; 2-3: two leaves; 4-5: four leaves, each a full epoch per epoch.
    assert fam.steps == spe * (2 * 1 + 2 * 2 + 2 * 4)
    assert all(fam.trainers[leaf.id].steps == 6 * spe for leaf in fam.leaves)
    assert fam.charged > 0  # scoring is counted, not charged against training
    assert [h["lr"] for h in fam.history] == [
        pytest.approx(0.5 * cfg.lr * (1 + np.cos(np.pi * e / 6))) for e in range(6)
    ]
    # Exact resume holds here too.
    part = FamilyTrainer(space, data, cfg)
    for _ in range(3):
        part.train_epoch()
    resumed = FamilyTrainer(space, data, cfg)
    resumed.load_state_dict(part.state_dict())
    resumed.fit()
    for leaf in fam.leaves:
        assert _same(fam.net(leaf.id), resumed.net(leaf.id))
    with pytest.raises(ValueError, match="budget"):
        TrainConfig(steps=100, splits={"policy": "gm", "at_epochs": [1], "budget": "per_leaf"})
