"""Conformance suite for path samplers: every registered sampler, present and future, passes it.

Usage (this is exactly ``tests/supernet_tests/test_sampler_conformance.py``)::

    import pytest
    from nas.supernet import PATH_SAMPLERS
    from nas.testing.path_samplers import PathSamplerConformance

    @pytest.fixture(params=PATH_SAMPLERS.names())
    def sampler_name(request):
        return request.param

    class TestPathSamplerConformance(PathSamplerConformance):
        pass

A new sampler gets the whole suite by being registered in :data:`nas.supernet.PATH_SAMPLERS`.
Subclasses may override :meth:`PathSamplerConformance.options_for`.

What is checked, for every sampler, by training a tiny supernet a few steps
(:func:`run_sampler`: the real trainer, so every hook a sampler has is exercised):

* **determinism**: the same seed gives the same paths, data orders and sampler state; another
  seed other paths;
* **exact resume**: a sampler restored from :meth:`~nas.supernet.PathSampler.state_dict` after
  an epoch draws what an uninterrupted one draws (and its state survives a JSON-free
  checkpoint round trip: numpy arrays and numbers only);
* **stays inside its mask**: trained on a restricted :class:`~nas.space.ArchMask`, every path is
  in the mask, and over enough steps every allowed op is trained;
* **valid data**: epoch indices are in range; per-example weights, when any, are positive and
  finite; the importance weights of a path are positive and finite;
* an unknown option is refused with ``ValueError`` naming the sampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch

from nas.space import Arch, ArchMask, ArchSpace
from nas.supernet import PATH_SAMPLERS, ImageDataset, SupernetTrainer, TrainConfig, build_supernet

__all__ = [
    "SAMPLER_SPACE",
    "PathSamplerConformance",
    "RecordingTrainer",
    "all_paths",
    "run_sampler",
    "toy_data",
]

#: Two stages, up to two slots in the first: every kind of choice (op, kernel, width, depth,
#: skip) in a supernet that trains in milliseconds.
SAMPLER_SPACE: dict[str, Any] = {
    "input": {"channels": 1, "height": 6, "width": 6},
    "classes": 3,
    "stem": {"channels": 4},
    "stages": [
        {"channels": 4, "stride": 1, "depth": [1, 2], "ops": ["conv", "sepconv", "skip"],
         "kernel": [1, 3], "width": [2, 4]},
        {"channels": 6, "stride": 2, "depth": [1], "ops": ["conv", "skip"], "kernel": 3,
         "width": [2, 4]},
    ],
}  # fmt: skip


def toy_data(n: int = 48, seed: int = 0) -> ImageDataset:
    """A learnable 3-class data set of ``1 x 6 x 6`` images (class = which third is bright)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = 0.3 * torch.rand((n, 1, 6, 6), generator=g)
    for c in range(3):
        x[y == c, :, 2 * c : 2 * c + 2, :] += 1.0
    return ImageDataset("toy", x, y, x[:12], y[:12], x[:12], y[:12], 3)


class RecordingTrainer(SupernetTrainer):
    """A trainer that records every step's paths and every epoch's data order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.paths_seen: list[list[Arch]] = []
        self.orders: list[list[int]] = []
        original_paths = self.sampler.paths
        original_order = self.sampler.epoch_indices

        def paths(rng: np.random.Generator) -> list[Arch]:
            drawn = original_paths(rng)
            self.paths_seen.append(drawn)
            return drawn

        def order(n: int, rng: np.random.Generator) -> np.ndarray:
            drawn = original_order(n, rng)
            self.orders.append([int(i) for i in drawn])
            return drawn

        self.sampler.paths = paths  # type: ignore[method-assign]
        self.sampler.epoch_indices = order  # type: ignore[method-assign]


def run_sampler(
    name: str,
    options: dict[str, Any],
    *,
    seed: int = 0,
    epochs: int = 3,
    mask: ArchMask | None = None,
    data: ImageDataset | None = None,
) -> RecordingTrainer:
    """Train the :data:`SAMPLER_SPACE` supernet with sampler ``name`` for ``epochs`` epochs
    (batch 16) and return the trainer with what it drew."""
    space = ArchSpace.from_dict(SAMPLER_SPACE)
    config = TrainConfig(
        epochs=epochs, batch_size=16, lr=0.05, sampler=name, sampler_options=options, seed=seed
    )
    trainer = RecordingTrainer(build_supernet(space, seed), data or toy_data(), config, mask=mask)
    trainer.fit()
    return trainer


def _equal_states(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    return all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


class PathSamplerConformance:
    """The suite (module docstring); needs a ``sampler_name`` fixture."""

    def options_for(self, sampler_name: str) -> dict[str, Any]:
        """Options to build ``sampler_name`` with (default none)."""
        return {}

    def test_same_seed_same_draws_other_seed_other_draws(self, sampler_name: str) -> None:
        opts = self.options_for(sampler_name)
        a = run_sampler(sampler_name, opts, seed=1)
        b = run_sampler(sampler_name, opts, seed=1)
        assert a.paths_seen == b.paths_seen and a.orders == b.orders
        assert _equal_states(a.sampler.state_dict(), b.sampler.state_dict())
        c = run_sampler(sampler_name, opts, seed=2)
        assert c.paths_seen != a.paths_seen

    def test_resume_from_state_draws_what_an_uninterrupted_run_draws(
        self, sampler_name: str
    ) -> None:
        opts = self.options_for(sampler_name)
        straight = run_sampler(sampler_name, opts, seed=3, epochs=4)
        space = ArchSpace.from_dict(SAMPLER_SPACE)
        config = TrainConfig(
            epochs=4, batch_size=16, sampler=sampler_name, sampler_options=opts, seed=3
        )
        first = RecordingTrainer(build_supernet(space, 3), toy_data(), config)
        first.train_epoch()  # resume after two epochs: adaptive samplers have moved by then
        first.train_epoch()
        state = first.state_dict()
        for value in state["sampler"].values():  # plain data: numpy arrays and numbers
            assert isinstance(value, np.ndarray | int | float | bool | str | list | type(None))
        resumed = RecordingTrainer(build_supernet(space, 7), toy_data(), config)
        resumed.load_state_dict(state)
        resumed.fit()
        assert first.paths_seen + resumed.paths_seen == straight.paths_seen
        assert first.orders + resumed.orders == straight.orders
        assert _equal_states(resumed.sampler.state_dict(), straight.sampler.state_dict())

    def test_paths_stay_inside_a_restricted_mask(self, sampler_name: str) -> None:
        space = ArchSpace.from_dict(SAMPLER_SPACE)
        full = space.full_mask()
        allowed = [c for c in full.choices(0, 0) if c.op == "sepconv" or c.kernel == 3]
        mask = full.restrict(0, 0, allowed).restrict(
            1, 0, [c for c in full.choices(1, 0) if c.op == "conv"]
        )
        trainer = run_sampler(sampler_name, self.options_for(sampler_name), mask=mask, epochs=4)
        paths = [p for step in trainer.paths_seen for p in step]
        assert paths and all(mask.contains(p) for p in paths)
        trained_ops = {p.effective(0, 0).op for p in paths}
        assert {"conv", "sepconv"} <= trained_ops

    def test_data_and_weights_are_valid(self, sampler_name: str) -> None:
        trainer = run_sampler(sampler_name, self.options_for(sampler_name), epochs=2)
        n = len(trainer.data.y_train)
        for order in trainer.orders:
            assert len(order) == n and all(0 <= i < n for i in order)
        idx = torch.arange(8)
        weights = trainer.sampler.sample_weights(idx)
        if weights is not None:
            assert bool(torch.isfinite(weights).all()) and bool((weights > 0).all())
        arch = trainer.paths_seen[-1][0]
        path_w, data_w = trainer.sampler.importance_weights(arch, idx)
        assert np.isfinite(path_w) and path_w > 0
        if data_w is not None:
            assert bool(torch.isfinite(data_w).all()) and bool((data_w > 0).all())

    def test_unknown_option_is_refused(self, sampler_name: str) -> None:
        space = ArchSpace.from_dict(SAMPLER_SPACE)
        with pytest.raises(ValueError, match=sampler_name):
            PATH_SAMPLERS.get(sampler_name).check_options(space, {"no_such_option": 1})


def all_paths(trainer: RecordingTrainer) -> Sequence[Arch]:
    """Every path ``trainer`` trained, in order."""
    return [p for step in trainer.paths_seen for p in step]
