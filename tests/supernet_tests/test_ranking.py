"""Ranking tools: enumeration of distinct architectures, stand-alone training, agreement metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.supernet import ArchSpace, load_image_dataset
from nas.supernet._ranking import (
    enumerate_archs,
    kendall_tau,
    run_ranking,
    supernet_scores,
    top_k_overlap,
    train_standalone,
)
from nas.supernet._train import build_supernet

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_space_has_81_distinct_architectures() -> None:
    space = ArchSpace.from_yaml(ROOT / "benchmarks" / "ranking_space.yaml")
    archs = enumerate_archs(space)
    assert len(archs) == 81
    assert len({space.canonical(a) for a in archs}) == 81
    # every architecture is an assignment of the search space
    for a in archs[:5]:
        assert space.arch(space.params(a)) == a


def test_depth_duplicates_are_enumerated_once() -> None:
    space = ArchSpace.from_dict(
        {
            "input": {"channels": 1, "height": 8, "width": 8},
            "classes": 10,
            "stem": {"channels": 4},
            "stages": [
                {
                    "channels": 4,
                    "stride": 1,
                    "depth": [1, 2],
                    "ops": ["conv", "skip"],
                    "kernel": 3,
                    "width": 4,
                }
            ],
        }
    )
    # slot choices {conv, skip}; depth 1: 2 functions; depth 2: 4, of which 2 repeat depth 1
    assert len(enumerate_archs(space)) == 4


def test_agreement_metrics() -> None:
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert top_k_overlap([0.9, 0.8, 0.1, 0.2], [0.7, 0.1, 0.9, 0.0], k=2) == 0.5
    with pytest.raises(ValueError):
        kendall_tau([1], [1])
    with pytest.raises(ValueError):
        top_k_overlap([1, 2], [1, 2], k=3)


def test_standalone_training_and_supernet_scores_are_accuracies() -> None:
    space = ArchSpace.from_yaml(ROOT / "benchmarks" / "ranking_space.yaml")
    data = load_image_dataset("digits")
    archs = enumerate_archs(space)[:3]
    acc = train_standalone(space, archs[0], data, epochs=2, seed=0)
    assert 0.3 < acc <= 1.0  # two epochs already beat chance (0.1) by far
    assert acc == train_standalone(space, archs[0], data, epochs=2, seed=0)
    scores = supernet_scores(build_supernet(space, 0), archs, data, calibration_size=128)
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)


def test_run_ranking_with_options_label_and_gradient_variance() -> None:
    space = ArchSpace.from_yaml(ROOT / "benchmarks" / "ranking_space.yaml")
    data = load_image_dataset("digits")
    archs = enumerate_archs(space)[:6]
    truth = [0.9, 0.8, 0.7, 0.95, 0.85, 0.6]
    steps: list[int] = []
    result = run_ranking(
        space, archs, truth, data, "pada", [0, 1], epochs=1, batch_size=256,
        on_step=lambda: steps.append(1), sampler_options={"sample_data": False},
        label="pada, PA only", grad_variance=True,
    )  # fmt: skip
    assert result.sampler == "pada, PA only" and len(steps) == 2
    assert len(result.kendall_tau) == len(result.grad_variance) == 2
    assert all(-1.0 <= t <= 1.0 for t in result.kendall_tau)
    assert all(v > 0 for v in result.grad_variance)
    with pytest.raises(TypeError):  # options reach the sampler
        run_ranking(space, archs, truth, data, "pada", [0], epochs=1,
                    sampler_options={"bogus": True})  # fmt: skip
