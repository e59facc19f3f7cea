"""Supernet training: samplers, determinism, exact resume, BN recalibration, PA&DA updates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nas.supernet import ArchSpace, load_image_dataset
from nas.supernet._samplers import PadaSampler, SandwichSampler, create_sampler
from nas.supernet._train import (
    SupernetTrainer,
    TrainConfig,
    build_supernet,
    evaluate_arch,
    recalibrate_bn,
)

DIGITS = Path(__file__).resolve().parents[2] / "search_spaces" / "digits_cnn.yaml"


@pytest.fixture(scope="module")
def space() -> ArchSpace:
    return ArchSpace.from_yaml(DIGITS)


@pytest.fixture(scope="module")
def data():
    return load_image_dataset("digits")


def _weights(trainer: SupernetTrainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.net.state_dict().values()]


@pytest.mark.parametrize("sampler", ["uniform", "sandwich", "pada"])
def test_same_seed_same_weights_and_exact_resume(space, data, sampler: str) -> None:
    cfg = TrainConfig(epochs=2, batch_size=128, sampler=sampler, seed=3)
    straight = SupernetTrainer(build_supernet(space, 3), data, cfg)
    straight.fit()
    again = SupernetTrainer(build_supernet(space, 3), data, cfg)
    again.train_epoch()
    checkpoint = again.state_dict()
    resumed = SupernetTrainer(build_supernet(space, 99), data, cfg)  # other init: overwritten
    resumed.load_state_dict(checkpoint)
    resumed.train_epoch()
    for a, b in zip(_weights(straight), _weights(resumed), strict=True):
        assert torch.equal(a, b)
    assert straight.history == resumed.history
    other = SupernetTrainer(
        build_supernet(space, 4), data, TrainConfig(**{**cfg.__dict__, "seed": 4})
    )
    other.fit()
    assert any(
        not torch.equal(a, b) for a, b in zip(_weights(straight), _weights(other), strict=True)
    )


def test_training_learns_and_the_global_rng_is_untouched(space, data) -> None:
    torch.manual_seed(123)
    state = torch.get_rng_state()
    trainer = SupernetTrainer(
        build_supernet(space, 0), data, TrainConfig(epochs=4, batch_size=64, sampler="sandwich")
    )
    trainer.fit()
    assert torch.equal(torch.get_rng_state(), state)
    losses = [r["loss"] for r in trainer.history]
    assert losses[-1] < losses[0]
    acc = evaluate_arch(
        trainer.net, space.largest(), data.x_val, data.y_val, calibration=data.x_train[:512]
    )
    assert acc > 0.8  # chance is 0.1
    with pytest.raises(RuntimeError, match="complete"):
        trainer.train_epoch()


def test_recalibration_gives_the_statistics_of_the_calibration_data(space, data) -> None:
    net = build_supernet(space, 0)
    arch = space.largest()
    images = data.x_train[:300]
    recalibrate_bn(net, arch, images, batch_size=100)
    stem_bn = net.stem.bn.bn
    with torch.no_grad():
        features = net.stem.conv(images)
    torch.testing.assert_close(
        stem_bn.running_mean, features.mean(dim=(0, 2, 3)), atol=1e-5, rtol=1e-4
    )
    assert not net.training and net.active == arch
    # momentum restored for training
    assert stem_bn.momentum == 0.1


def test_pada_distributions_follow_the_schedule(space) -> None:
    s = PadaSampler(space, n_train=4)
    s.g = np.array([3.0, 1.0, 0.0])
    s._s_sum = np.array([1.0, 3.0, 0.0, 0.0])
    s._s_count = np.array([1.0, 1.0, 0.0, 0.0])
    s.end_epoch(0, 2)  # tau = 1/2
    np.testing.assert_allclose(s.p_path, 0.5 * np.array([0.75, 0.25, 0.0]) + 0.5 / 3)
    np.testing.assert_allclose(s.p_data, 0.5 * np.array([0.25, 0.75, 0.0, 0.0]) + 0.5 / 4)
    assert s.g.sum() == 0 and s._s_count.sum() == 0  # reset every epoch
    rng = np.random.default_rng(0)
    drawn = s.epoch_indices(4, rng)
    assert len(drawn) == 4 and set(drawn) <= {0, 1, 2, 3}
    unbiased = PadaSampler(space, n_train=4, unbiased=True)
    unbiased.p_data = np.array([0.5, 0.25, 0.125, 0.125])
    w = unbiased.sample_weights(torch.tensor([0, 1]))
    torch.testing.assert_close(w, torch.tensor([0.5, 1.0]))


def test_sandwich_paths_and_sampler_errors(space) -> None:
    paths = SandwichSampler(space, n_random=2).paths(np.random.default_rng(0))
    assert paths[0] == space.largest() and paths[1] == space.smallest() and len(paths) == 4
    with pytest.raises(ValueError, match="unknown path sampler 'spos'"):
        create_sampler("spos", space, 10)
    with pytest.raises(ValueError, match="takes no options"):
        create_sampler("uniform", space, 10, n_random=1)
    with pytest.raises(ValueError, match="'lr'"):
        TrainConfig(lr=0.0)


def test_gradient_variance_measures_the_estimator_noise(data) -> None:
    one_arch = ArchSpace.from_dict(
        {
            "input": {"channels": 1, "height": 8, "width": 8},
            "classes": 10,
            "stem": {"channels": 4},
            "stages": [
                {"channels": 4, "stride": 1, "depth": [1], "ops": ["conv"], "kernel": 3,
                 "width": 4},
            ],
        }
    )  # fmt: skip
    n = len(data.y_train)
    # One architecture and the whole training set per draw: every draw is the same gradient.
    full = SupernetTrainer(build_supernet(one_arch, 0), data, TrainConfig(batch_size=n))
    assert full.gradient_variance(draws=4) < 1e-8
    # Minibatches of 32: noise; and the measurement changes neither weights nor the generator.
    small = SupernetTrainer(build_supernet(one_arch, 0), data, TrainConfig(batch_size=32))
    before = [p.detach().clone() for p in small.net.parameters()]
    rng_state = small.rng.bit_generator.state
    v = small.gradient_variance(draws=8, seed=1)
    assert v > 0.01 and np.isfinite(v)
    after = list(small.net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert small.rng.bit_generator.state == rng_state
    assert small.gradient_variance(draws=8, seed=1) == pytest.approx(v, rel=1e-9)
