"""Path samplers beyond the conformance suite: PA&DA as published, sandwich, the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nas.space import ArchSpace
from nas.supernet import (
    PATH_SAMPLERS,
    PadaSampler,
    SandwichSampler,
    Supernet,
    SupernetTrainer,
    TrainConfig,
    build_supernet,
    create_sampler,
)
from nas.testing.path_samplers import SAMPLER_SPACE, toy_data

RANKING = Path(__file__).resolve().parents[2] / "benchmarks" / "ranking_space.yaml"


@pytest.fixture(scope="module")
def space() -> ArchSpace:
    return ArchSpace.from_yaml(RANKING)


@pytest.fixture(scope="module")
def net(space: ArchSpace) -> Supernet:
    return build_supernet(space, 0)


def _set_branch_gradients(net: Supernet, norms: dict[str, float], bn: float = 0.0) -> None:
    """Give every branch's convolutions gradients whose norms add up to ``norms[op]`` per layer
    (and the batch norms gradients of norm ``bn``)."""
    for stage in net.stage_layers():
        for layer in stage:
            for op, branch in layer.branches.items():
                convs = branch.convs()
                for conv in convs:
                    g = torch.ones_like(conv.weight)
                    conv.weight.grad = g * (norms[op] / len(convs) / float(g.norm()))
                for block in branch:
                    block.bn.bn.weight.grad = torch.full_like(block.bn.bn.weight, bn)


def _simulate(
    sampler: PadaSampler, net: Supernet, norms: dict[str, float], epochs: int, steps: int
) -> list[np.ndarray]:
    """Run ``epochs`` epochs of ``steps`` sampled steps whose branches all have the gradient
    norms ``norms``; returns ``p_path`` after every epoch."""
    rng = np.random.default_rng(0)
    shares = []
    for epoch in range(epochs):
        for _ in range(steps):
            paths = sampler.paths(rng)
            _set_branch_gradients(net, norms)
            sampler.after_gradients(net, paths)
        sampler.end_epoch(epoch / epochs)
        shares.append(sampler.p_path.copy())
    return shares


def test_equal_importance_keeps_the_op_shares_balanced(space, net) -> None:
    # The bug this catches: an op's running importance decaying at the steps it is not chosen,
    # which made the distribution swing between near-one-hot states.
    s = PadaSampler(space.full_mask(), n_train=10)
    conv, sep = s.ops.index("conv"), s.ops.index("sepconv")
    for p in _simulate(s, net, {"conv": 1.0, "sepconv": 1.0}, epochs=30, steps=17):
        assert p[conv] == pytest.approx(p[sep], rel=1e-5)


def test_importance_does_not_follow_the_sampling_frequency(space, net) -> None:
    s = PadaSampler(space.full_mask(), n_train=10)
    conv, sep, skip = (s.ops.index(o) for o in ("conv", "sepconv", "skip"))
    s.p_path = np.zeros(3)
    s.p_path[[conv, sep, skip]] = [0.9, 0.05, 0.05]  # sepconv rarely sampled
    rng = np.random.default_rng(1)
    chosen = 0
    for _ in range(40):
        paths = s.paths(rng)
        chosen += sum(c.op == "sepconv" for _, _, c in paths[0].active_layers())
        _set_branch_gradients(net, {"conv": 2.0, "sepconv": 2.0})
        s.after_gradients(net, paths)
    assert 0 < chosen < 12  # really skewed
    assert s.g[conv] == pytest.approx(2.0, rel=1e-5) and s.g[sep] == pytest.approx(2.0, rel=1e-5)
    s.end_epoch(0.5)
    assert s.p_path[conv] == pytest.approx(s.p_path[sep], rel=1e-5)


def test_ops_not_chosen_keep_their_importance_and_chosen_ones_average(space, net) -> None:
    s = PadaSampler(space.full_mask(), n_train=10)
    conv, sep = s.ops.index("conv"), s.ops.index("sepconv")
    arch = space.full_mask().largest()  # conv in both slots
    _set_branch_gradients(net, {"conv": 4.0, "sepconv": 8.0})
    s.after_gradients(net, [arch])
    assert s.g[conv] == pytest.approx(4.0, rel=1e-5)  # the first value sets it
    _set_branch_gradients(net, {"conv": 2.0, "sepconv": 8.0})
    s.after_gradients(net, [arch])
    assert s.g[conv] == pytest.approx(3.0, rel=1e-5)  # then pairwise averages
    assert s.g[sep] == 0.0  # never chosen, never changed


def test_importance_reads_the_conv_weights_only(space, net) -> None:
    s = PadaSampler(space.full_mask(), n_train=10)
    _set_branch_gradients(net, {"conv": 1.0, "sepconv": 1.0}, bn=100.0)
    s.after_gradients(net, [space.full_mask().largest()])
    assert s.g[s.ops.index("conv")] == pytest.approx(1.0, rel=1e-5)


def test_tau_follows_the_papers_schedule_through_the_trainer() -> None:
    space = ArchSpace.from_dict(SAMPLER_SPACE)
    trainer = SupernetTrainer(
        build_supernet(space, 0), toy_data(), TrainConfig(epochs=4, batch_size=16, sampler="pada")
    )
    s = trainer.sampler
    assert isinstance(s, PadaSampler)
    seen = []
    original = s.end_epoch

    def spy(progress: float) -> None:
        seen.append(progress)
        g = s.g.copy()
        original(progress)
        if g.sum() > 0:
            np.testing.assert_allclose(s.p_path, progress * g / g.sum() + (1 - progress) / 3)

    s.end_epoch = spy  # type: ignore[method-assign]
    trainer.fit()
    assert seen == [0.0, 0.25, 0.5, 0.75]  # tau = t / T after epoch t (0-based)


def test_importance_is_read_after_the_gradient_is_clipped() -> None:
    space = ArchSpace.from_dict(SAMPLER_SPACE)
    clip = 1e-3
    trainer = SupernetTrainer(
        build_supernet(space, 0),
        toy_data(),
        TrainConfig(epochs=1, batch_size=16, sampler="pada", grad_clip=clip),
    )
    norms = []
    original = trainer.sampler.after_gradients

    def spy(net, paths) -> None:
        grads = [p.grad.flatten() for p in net.parameters() if p.grad is not None]
        norms.append(float(torch.cat(grads).norm()))
        original(net, paths)

    trainer.sampler.after_gradients = spy  # type: ignore[method-assign]
    trainer.fit()
    assert norms and max(norms) <= clip * (1 + 1e-5)


def test_data_distribution_and_weights(space) -> None:
    s = PadaSampler(space.full_mask(), n_train=4)
    s.observe(torch.tensor([[5.0, 0.0], [0.0, 5.0]]), torch.tensor([0, 0]), torch.tensor([0, 1]))
    s.observe(torch.tensor([[0.0, 0.0]]), torch.tensor([0]), torch.tensor([0]))
    first = np.linalg.norm(np.exp([5.0, 0.0]) / np.exp([5.0, 0.0]).sum() - [1, 0])
    half = np.linalg.norm([0.5 - 1, 0.5])
    np.testing.assert_allclose(s._s[0], (first + half) / 2)  # running value over visits
    s.end_epoch(0.5)
    s_hat = np.array(
        [
            (first + half) / 2,
            np.linalg.norm([-1 + 1 / (1 + np.exp(5)), 1 - 1 / (1 + np.exp(5))]),
            0,
            0,
        ]
    )
    np.testing.assert_allclose(s.p_data, 0.5 * s_hat / s_hat.sum() + 0.5 / 4, rtol=1e-6)
    drawn = s.epoch_indices(4, np.random.default_rng(0))
    assert len(drawn) == 4 and set(drawn) <= {0, 1, 2, 3}
    unbiased = PadaSampler(space.full_mask(), n_train=4, unbiased=True)
    unbiased.p_data = np.array([0.5, 0.25, 0.125, 0.125])
    torch.testing.assert_close(
        unbiased.sample_weights(torch.tensor([0, 1])), torch.tensor([0.5, 1.0])
    )
    assert s.sample_weights(torch.tensor([0])) is None  # the paper's plain mean
    assert 1.0 <= s.data_ess <= 4.0


def test_importance_weights_undo_the_op_distribution(space) -> None:
    s = PadaSampler(space.full_mask(), n_train=4)
    s.p_path = np.array([0.5, 0.25, 0.25])  # conv, sepconv, skip
    arch = space.full_mask().largest()  # conv in both slots
    w, data_w = s.importance_weights(arch, torch.tensor([0, 1]))
    assert w == pytest.approx(((1 / 3) / 0.5) ** 2)
    torch.testing.assert_close(data_w, torch.ones(2))


def test_sandwich_paths_and_sampler_errors(space) -> None:
    paths = SandwichSampler(space.full_mask(), 1, n_random=2).paths(np.random.default_rng(0))
    assert paths[0] == space.largest() and paths[1] == space.smallest() and len(paths) == 4
    with pytest.raises(ValueError, match="unknown path sampler 'spos'"):
        create_sampler("spos", space, 10)
    with pytest.raises(ValueError, match="uniform"):
        create_sampler("uniform", space, 10, n_random=1)
    with pytest.raises(ValueError, match="n_random"):
        create_sampler("sandwich", space, 10, n_random=-1)
    assert PATH_SAMPLERS.names()[:3] == ["uniform", "sandwich", "pada"]


def test_batch_scores_update_like_one_example_at_a_time(space) -> None:
    rng = np.random.default_rng(0)
    batched = PadaSampler(space.full_mask(), n_train=20)
    single = PadaSampler(space.full_mask(), n_train=20)
    for _ in range(5):
        idx = torch.as_tensor(rng.integers(0, 20, size=16))  # with repeats
        logits = torch.as_tensor(rng.normal(size=(16, 4)), dtype=torch.float32)
        y = torch.as_tensor(rng.integers(0, 4, size=16))
        batched.observe(logits, y, idx)
        for k in range(16):
            single.observe(logits[k : k + 1], y[k : k + 1], idx[k : k + 1])
    np.testing.assert_allclose(batched._s, single._s, rtol=1e-6)
    np.testing.assert_array_equal(batched._seen, single._seen)


def test_skip_importance_goes_to_every_op_without_parameters() -> None:
    ops_space = ArchSpace.from_yaml(RANKING.with_name("ranking_space_ops.yaml"))
    s = PadaSampler(ops_space.full_mask(), n_train=4, skip_importance=2.0)
    assert set(s.parameter_free) == {"avgpool", "skip"}
    s.g[s.ops.index("conv")] = 6.0
    s.end_epoch(1.0)
    np.testing.assert_allclose(s.p_path[[s.ops.index(o) for o in ("conv", "avgpool", "skip")]],
                               [0.6, 0.2, 0.2])  # fmt: skip
    paper = PadaSampler(ops_space.full_mask(), n_train=4)
    paper.g[paper.ops.index("conv")] = 6.0
    paper.end_epoch(0.5)
    assert paper.p_path[paper.ops.index("avgpool")] == pytest.approx(0.5 / 3)
