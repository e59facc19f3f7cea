"""Analytic costs agree with the extracted networks; latency is a median in milliseconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nas.supernet import ArchSpace, Supernet, arch_cost, measure_latency

DIGITS = Path(__file__).resolve().parents[2] / "search_spaces" / "digits_cnn.yaml"


def test_params_and_flops_match_the_extracted_network_and_torch_counter() -> None:
    space = ArchSpace.from_yaml(DIGITS)
    net = Supernet(space)
    rng = np.random.default_rng(0)
    archs = [space.largest(), space.smallest(), *(net.sample(rng) for _ in range(20))]
    for arch in archs:
        cost = arch_cost(space, arch)
        sub = net.extract(arch).eval()
        assert cost.params == sum(p.numel() for p in sub.parameters())
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            sub(torch.zeros(1, 1, 8, 8))
        assert cost.flops == counter.get_total_flops()
        assert cost.mflops == pytest.approx(cost.flops / 1e6)
    big, small = arch_cost(space, space.largest()), arch_cost(space, space.smallest())
    assert big.macs > small.macs and big.params > small.params


def test_latency_is_a_positive_median_and_restores_training_mode() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    model.train()
    ms = measure_latency(model, (1, 4), warmup=1, repeats=5)
    assert ms > 0
    assert model.training
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(model, (1, 4), repeats=0)
