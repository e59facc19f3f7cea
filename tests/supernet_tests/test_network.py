"""The supernet: set-active, sampling, and extraction equal to the supernet's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nas.space import ARCH_OPS
from nas.supernet import ArchSpace, LayerChoice, Supernet, build_supernet

DIGITS = Path(__file__).resolve().parents[2] / "search_spaces" / "digits_cnn.yaml"


@pytest.fixture(scope="module")
def trained() -> Supernet:
    """A supernet whose batch-norm statistics and weights moved away from their init."""
    torch.manual_seed(0)
    net = Supernet(ArchSpace.from_yaml(DIGITS))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    net.train()
    for _ in range(20):
        net.sample(rng)
        x = torch.randn(16, 1, 8, 8)
        loss = torch.nn.functional.cross_entropy(net(x), torch.randint(0, 10, (16,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net


def test_extracted_subnets_equal_the_supernet_on_random_architectures(trained: Supernet) -> None:
    rng = np.random.default_rng(1)
    x = torch.randn(7, 1, 8, 8)
    archs = [trained.space.largest(), trained.space.smallest()]
    archs += [trained.sample(rng) for _ in range(25)]
    with torch.no_grad():
        for arch in archs:
            trained.set_active(arch)
            expected = trained(x)
            sub = trained.extract(arch).eval()
            torch.testing.assert_close(sub(x), expected, rtol=1e-5, atol=1e-6)
            # the standalone net owns its weights: no parameter is shared with the supernet
            ours = {p.data_ptr() for p in trained.parameters()}
            assert not ours & {p.data_ptr() for p in sub.parameters()}


def test_extract_leaves_the_active_architecture_alone(trained: Supernet) -> None:
    big = trained.space.largest()
    trained.set_active(big)
    trained.extract(trained.space.smallest())
    assert trained.active == big


def test_sampling_is_deterministic_per_generator_and_covers_the_choices() -> None:
    net = Supernet(ArchSpace.from_yaml(DIGITS))
    a = [net.sample(np.random.default_rng(5)) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(0)
    ops = {c.op for _ in range(60) for c in net.sample(rng).layers[0]}
    assert ops == {"conv", "sepconv", "skip"}


def test_depth_and_skip_change_the_output_and_smaller_archs_cost_less(trained: Supernet) -> None:
    space = trained.space
    x = torch.randn(2, 1, 8, 8)
    big = space.largest()
    shallow = type(big)((1, big.depths[1]), big.layers)
    with torch.no_grad():
        trained.set_active(big)
        y_big = trained(x)
        trained.set_active(shallow)
        y_shallow = trained(x)
    assert not torch.allclose(y_big, y_shallow)


def test_foreign_architectures_are_refused() -> None:
    net = Supernet(ArchSpace.from_yaml(DIGITS))
    big = net.space.largest()
    bad_width = type(big)(
        big.depths, ((LayerChoice("conv", 3, 7), big.layers[0][1]), big.layers[1])
    )
    with pytest.raises(ValueError, match="stage 0 slot 0"):
        net.set_active(bad_width)
    with pytest.raises(ValueError, match="stages"):
        net.set_active(type(big)(big.depths[:1], big.layers[:1]))


@pytest.mark.parametrize("op", ARCH_OPS.names())
def test_every_registered_op_extracts_exactly_and_costs_what_it_counts(op: str) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    space = ArchSpace.from_dict(
        {
            "input": {"channels": 1, "height": 8, "width": 8},
            "classes": 10,
            "stem": {"channels": 4},
            "stages": [{"channels": 6, "stride": 2, "depth": [1, 2], "ops": [op],
                        "kernel": [1, 3], "width": [2, 5]}],
        }
    )  # fmt: skip
    net = build_supernet(space, 0)
    net.train()
    with torch.no_grad():  # move the batch-norm statistics away from their init
        for arch in (space.largest(), space.smallest()):
            net.set_active(arch)
            net(torch.randn(16, 1, 8, 8))
    net.eval()
    x = torch.randn(5, 1, 8, 8)
    rng = np.random.default_rng(0)
    for arch in [
        space.largest(),
        space.smallest(),
        *(space.full_mask().sample(rng) for _ in range(8)),
    ]:
        net.set_active(arch)
        with torch.no_grad():
            sub = net.extract(arch).eval()
            torch.testing.assert_close(sub(x), net(x), rtol=1e-5, atol=1e-6)
        cost = space.cost(arch)
        assert cost.params == sum(p.numel() for p in sub.parameters())
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            sub(torch.zeros(1, 1, 8, 8))
        assert cost.flops == counter.get_total_flops()
