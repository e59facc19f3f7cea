"""Supernet training: determinism, exact resume, budget, optimizers, schedules, clipping, hooks,
gradient variance."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.space import ArchSpace
from nas.supernet import (
    PATH_SAMPLERS,
    SupernetEvaluator,
    SupernetTrainer,
    TrainConfig,
    TrainerHook,
    build_supernet,
    load_image_dataset,
    score,
)
from nas.testing.path_samplers import SAMPLER_SPACE, toy_data

DIGITS = Path(__file__).resolve().parents[2] / "search_spaces" / "digits_cnn.yaml"


@pytest.fixture(scope="module")
def space() -> ArchSpace:
    return ArchSpace.from_yaml(DIGITS)


@pytest.fixture(scope="module")
def data():
    return load_image_dataset("digits")


def _weights(trainer: SupernetTrainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.net.state_dict().values()]


@pytest.mark.parametrize("sampler", PATH_SAMPLERS.names())
def test_same_seed_same_weights_and_exact_resume(space, data, sampler: str) -> None:
    cfg = TrainConfig(epochs=2, batch_size=128, sampler=sampler, seed=3, augment="shift")
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
    # Mid-epoch: stepped one batch at a time (as a family of sub-supernets drives its leaves),
    # checkpointed after 3 batches of the second epoch, resumed in a new trainer.
    stepped = SupernetTrainer(build_supernet(space, 3), data, cfg)
    stepped.train_epoch()
    for _ in range(3):
        assert stepped.train_step() is None
    assert stepped.in_epoch
    midway = SupernetTrainer(build_supernet(space, 99), data, cfg)
    midway.load_state_dict(stepped.state_dict())
    assert midway.in_epoch
    midway.fit()
    for a, b in zip(_weights(straight), _weights(midway), strict=True):
        assert torch.equal(a, b)
    assert straight.history == midway.history
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
    evaluator = SupernetEvaluator(trainer.net, data.x_train[:512])
    scores = score(evaluator.network(space.largest()), data.x_val, data.y_val)
    assert scores.accuracy > 0.8 and scores.nll < 1.0  # chance is 0.1 and 2.3 nats
    with pytest.raises(RuntimeError, match="complete"):
        trainer.train_epoch()


def _toy_trainer(**config) -> SupernetTrainer:
    space = ArchSpace.from_dict(SAMPLER_SPACE)
    return SupernetTrainer(build_supernet(space, 0), toy_data(), TrainConfig(**config))


def test_the_budget_counts_optimizer_steps_and_charges() -> None:
    # 48 examples, batch 16: 3 steps an epoch
    t = _toy_trainer(epochs=4, batch_size=16)
    assert t.budget == 12 and t.planned_epochs == 4
    t.fit()
    assert t.steps == 12 and t.epoch == 4
    # a budget in steps ends mid-epoch
    t = _toy_trainer(epochs=4, batch_size=16, steps=7)
    t.fit()
    assert t.steps == 7 and t.epoch == 3 and t.planned_epochs == 3
    # charged passes come out of the same budget
    t = _toy_trainer(epochs=4, batch_size=16)
    t.train_epoch()
    t.charge(4.5)
    t.fit()
    assert t.steps + t.charged >= 12 and t.steps == 8 and t.charged == 4.5
    with pytest.raises(ValueError, match="charge"):
        t.charge(-1)
    # resumed from a checkpoint, the spent budget comes back with it
    a = _toy_trainer(epochs=4, batch_size=16)
    a.train_epoch()
    a.charge(2)
    state = a.state_dict()
    b = _toy_trainer(epochs=4, batch_size=16)
    b.load_state_dict(state)
    assert b.spent == 5


def _lrs(trainer: SupernetTrainer) -> list[float]:
    seen = []
    original = trainer.optimizer.step

    def step(*args, **kwargs):
        seen.append(trainer.optimizer.param_groups[0]["lr"])
        return original(*args, **kwargs)

    trainer.optimizer.step = step  # type: ignore[method-assign]
    trainer.fit()
    return seen


def test_schedules_per_epoch_and_per_step() -> None:
    per_epoch = _lrs(_toy_trainer(epochs=4, batch_size=16, lr=0.1))
    expected = [0.05 * (1 + math.cos(math.pi * e / 4)) for e in range(4) for _ in range(3)]
    assert per_epoch == pytest.approx(expected)
    per_step = _lrs(_toy_trainer(epochs=4, batch_size=16, lr=0.1, schedule_unit="step"))
    assert per_step == pytest.approx([0.05 * (1 + math.cos(math.pi * s / 12)) for s in range(12)])
    constant = _lrs(_toy_trainer(epochs=2, batch_size=16, lr=0.1, schedule="constant"))
    assert constant == pytest.approx([0.1] * 6)


def test_optimizers_and_clipping_modes() -> None:
    adam = _toy_trainer(epochs=1, batch_size=16, optimizer="adam", lr=0.01)
    assert isinstance(adam.optimizer, torch.optim.Adam)
    sgd = _toy_trainer(epochs=1, batch_size=16, nesterov=True)
    assert sgd.optimizer.param_groups[0]["nesterov"]
    clip = 1e-4
    t = _toy_trainer(epochs=1, batch_size=16, clip_mode="value", grad_clip=clip)
    largest = []

    class Spy(TrainerHook):
        def before_step(self, trainer, paths) -> None:
            largest.append(max(float(p.grad.abs().max()) for p in trainer.net.parameters()
                               if p.grad is not None))  # fmt: skip

    t.hooks.append(Spy())
    t.fit()
    assert largest and max(largest) <= clip
    for bad, match in (
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"clip_mode": "max"}, "clip_mode"),
        ({"schedule_unit": "batch"}, "schedule_unit"),
        ({"lr": 0.0}, "'lr'"),
        ({"epochs": True}, "epochs"),
        ({"nesterov": True, "optimizer": "adam"}, "nesterov"),
        ({"augment": "flip"}, "augment"),
    ):
        with pytest.raises(ValueError, match=match):
            TrainConfig(**bad)


class _Counting(TrainerHook):
    """An extra loss (pull every weight towards 0) and a checkpointed counter."""

    def __init__(self) -> None:
        self.steps = 0
        self.epochs = 0

    def extra_loss(self, trainer, paths):
        return 10.0 * sum(p.pow(2).sum() for p in trainer.net.parameters())

    def after_step(self, trainer, paths) -> None:
        self.steps += 1

    def end_epoch(self, trainer) -> None:
        self.epochs += 1

    def state_dict(self):
        return {"steps": self.steps, "epochs": self.epochs}

    def load_state_dict(self, state) -> None:
        self.steps, self.epochs = state["steps"], state["epochs"]


def test_hooks_add_losses_run_per_step_and_are_checkpointed() -> None:
    plain = _toy_trainer(epochs=2, batch_size=16, optimizer="adam", lr=0.01)
    plain.fit()
    hooked = _toy_trainer(epochs=2, batch_size=16, optimizer="adam", lr=0.01)
    hook = _Counting()
    hooked.hooks.append(hook)
    hooked.fit()
    assert hook.steps == 6 and hook.epochs == 2

    def total(t):
        return sum(float(p.detach().norm()) for p in t.net.parameters())

    assert total(hooked) < total(plain)  # the extra loss shrank the weights
    state = hooked.state_dict()
    again = _toy_trainer(epochs=2, batch_size=16)
    again.hooks.append(_Counting())
    again.load_state_dict(state)
    assert again.hooks[0].steps == 6


def test_shift_augmentation_is_seeded_and_keeps_the_images() -> None:
    from nas.supernet import augment_batch

    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4) + 1
    a = augment_batch(x, "shift", np.random.default_rng(0))
    b = augment_batch(x, "shift", np.random.default_rng(0))
    assert torch.equal(a, b) and a.shape == x.shape
    # every output pixel is an input pixel of the same image or the zero padding
    for i in range(2):
        assert set(a[i].flatten().tolist()) <= set(x[i].flatten().tolist()) | {0.0}
    assert augment_batch(x, "none", np.random.default_rng(0)) is x
    shifts = {tuple(augment_batch(x[:1], "shift", np.random.default_rng(s)).flatten().tolist())
              for s in range(40)}  # fmt: skip
    assert len(shifts) == 9  # 3 x 3 offsets


def test_gradient_variance_measures_the_estimator_against_the_full_gradient(data) -> None:
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
    # One architecture and the whole training set per draw: every draw is the reference.
    full = SupernetTrainer(build_supernet(one_arch, 0), data, TrainConfig(batch_size=n))
    assert full.gradient_variance(draws=2, reference_paths=1).relative_mse < 1e-8
    # Minibatches of 32: noise; the measurement changes neither weights, batch-norm statistics
    # nor the trainer's generator.
    small = SupernetTrainer(build_supernet(one_arch, 0), data, TrainConfig(batch_size=32))
    before = {k: v.clone() for k, v in small.net.state_dict().items()}
    rng_state = small.rng.bit_generator.state
    v = small.gradient_variance(draws=8, reference_paths=1, seed=1)
    assert v.relative_mse > 0.01 and np.isfinite(v.relative_mse) and v.reference_norm > 0
    after = small.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert small.rng.bit_generator.state == rng_state
    again = small.gradient_variance(draws=8, reference_paths=1, seed=1)
    assert again.relative_mse == pytest.approx(v.relative_mse, rel=1e-9)
    # A sampler of several paths per step makes no estimate of the one-path gradient.
    sandwich = SupernetTrainer(
        build_supernet(one_arch, 0), data, TrainConfig(batch_size=32, sampler="sandwich")
    )
    assert math.isnan(sandwich.gradient_variance(draws=2, reference_paths=1).relative_mse)
