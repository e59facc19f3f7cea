"""Ranking tools: enumeration of distinct architectures, stand-alone training, agreement metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas.space import ArchSpace
from nas.supernet._ranking import (
    GroundTruth,
    GroundTruthError,
    StandaloneRecipe,
    agreement_by_dimension,
    build_ground_truth,
    enumerate_archs,
    kendall_tau,
    kendall_tau_within_bins,
    paired,
    ranking_data,
    run_ranking,
    top1_regret,
    top_k_overlap,
    train_standalone,
    within_groups,
)
from nas.testing.supernet import THREE_NETWORKS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("name", "count"), [("ranking_space", 81), ("ranking_space_ops", 64)])
def test_the_benchmark_spaces_have_their_distinct_architectures(name: str, count: int) -> None:
    space = ArchSpace.from_yaml(ROOT / "benchmarks" / f"{name}.yaml")
    archs = enumerate_archs(space)
    assert len(archs) == count
    assert len({space.canonical(a) for a in archs}) == count
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


def test_within_bin_tau_and_paired_statistics() -> None:
    truth = [1, 2, 3, 4, 5, 6]
    estimate = [3, 2, 1, 4, 5, 6]  # wrong inside the first bin, right inside the second
    bins = [[0, 1, 2], [3, 4, 5]]
    assert kendall_tau_within_bins(estimate, truth, bins) == pytest.approx(0.0)
    assert kendall_tau_within_bins(truth, truth, bins) == pytest.approx(1.0)
    p = paired([0.5, 0.6, 0.7, 0.8], [0.4, 0.4, 0.5, 0.9])
    assert p.mean == pytest.approx(0.1) and p.wins == 3 and p.n == 4 and 0 < p.p_value <= 1
    against_constant = paired([0.5, 0.6, 0.7], 0.55)
    assert against_constant.wins == 2
    assert paired([0.3, 0.3], [0.3, 0.3]).p_value == 1.0


def _tiny_gt(tmp_path: Path, seeds: int = 4) -> GroundTruth:
    space = ArchSpace.from_dict(THREE_NETWORKS)
    gt = build_ground_truth(space, StandaloneRecipe(epochs=2), seeds)
    gt.save(tmp_path / "gt.json")
    return GroundTruth.load(tmp_path / "gt.json")


def test_ground_truth_holds_scores_ceiling_and_floor(tmp_path) -> None:
    gt = _tiny_gt(tmp_path)
    assert gt.accuracy.shape == gt.nll.shape == (3, 4)
    assert ((gt.accuracy > 0) & (gt.accuracy <= 1)).all() and (gt.nll > 0).all()
    # a stand-alone run is a function of its seed (re-trained: the same scores)
    again = train_standalone(gt.space, gt.archs[0], ranking_data(), StandaloneRecipe(epochs=2), 1)
    assert again.accuracy == gt.accuracy[0, 1] and again.nll == pytest.approx(gt.nll[0, 1])
    # the ceiling is the first half of the seeds against the second
    half = kendall_tau(gt.accuracy[:, :2].mean(1), gt.accuracy[:, 2:].mean(1))
    assert gt.ceiling() == pytest.approx(half)
    # one stand-alone run of every architecture, against the other seeds' mean
    one = np.mean([kendall_tau(gt.accuracy[:, i], np.delete(gt.accuracy, i, 1).mean(1))
                   for i in range(4)])  # fmt: skip
    assert gt.one_run()[0] == pytest.approx(one)
    costs = gt.costs()
    assert gt.proxies()["params"] == pytest.approx(kendall_tau(costs["params"], gt.truth))
    assert sorted(i for b in gt.bins(2) for i in b) == [0, 1, 2]
    # the architectures of the cheapest bin cost no more than those of the next
    cheap, dear = gt.bins(2)
    assert max(costs["mflops"][cheap]) <= min(costs["mflops"][dear])


def test_run_ranking_reports_every_measure_per_seed(tmp_path) -> None:
    gt = _tiny_gt(tmp_path, seeds=2)
    seen: list[int] = []
    result = run_ranking(
        gt, "pada", [0, 1], epochs=1, sampler_options={"sample_data": False},
        label="pada, PA only", grad_variance=True, on_seed=lambda: seen.append(1),
    )  # fmt: skip
    assert result.sampler == "pada, PA only" and len(seen) == 2
    for key in ("kendall_tau", "kendall_tau_within_bins", "kendall_tau_nll", "grad_variance"):
        values = getattr(result, key)
        assert len(values) == 2 and all(np.isfinite(values)), key
    assert all(len(s) == 3 for s in result.scores) and result.data_ess == []
    # two processes give what one does
    parallel = run_ranking(
        gt, "pada", [0, 1], epochs=1, sampler_options={"sample_data": False}, workers=2
    )
    assert parallel.kendall_tau == result.kendall_tau and parallel.scores == result.scores
    with pytest.raises(ValueError, match="bogus"):  # options reach the sampler
        run_ranking(gt, "pada", [0], epochs=1, sampler_options={"bogus": True})


def test_a_missing_or_broken_ground_truth_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(GroundTruthError, match=r"ranking_ground_truth\.py"):
        GroundTruth.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(GroundTruthError, match="not a ranking ground-truth file"):
        GroundTruth.load(tmp_path / "bad.json")


def test_agreement_by_dimension_counts_single_change_pairs() -> None:
    space = ArchSpace.from_dict(THREE_NETWORKS)
    archs = enumerate_archs(space)  # conv w2, conv w4, skip
    truth = [0.8, 0.9, 0.5]
    right = agreement_by_dimension(space, archs, truth, truth)
    assert right == {"op": (1.0, 2), "width": (1.0, 1)}
    wrong_width = agreement_by_dimension(space, archs, [0.9, 0.8, 0.5], truth)
    assert wrong_width["width"] == (0.0, 1) and wrong_width["op"] == (1.0, 2)
    tied = agreement_by_dimension(space, archs, [0.8, 0.8, 0.5], truth)
    assert tied["width"] == (0.5, 1)


def test_top1_regret_and_agreement_within_groups() -> None:
    truth = [0.90, 0.95, 0.50, 0.70]
    assert top1_regret([1, 3, 0, 2], truth) == pytest.approx(0.0)  # picks the best
    assert top1_regret([3, 1, 0, 2], truth) == pytest.approx(0.05)
    assert top1_regret([2, 2, 0, 1], truth) == pytest.approx(0.95 - 0.925)  # tie: mean of both
    # Inside groups only: ordered right in each group, whatever the order across groups.
    estimate = [1, 2, 10, 20]  # right inside a (0.90, 0.95) and b (0.50, 0.70), b above a
    assert within_groups(estimate, truth, ["a", "a", "b", "b"]) == pytest.approx(1.0)
    assert kendall_tau(estimate, truth) < 1.0
    assert within_groups([2, 1, 1, 2], truth, ["a", "a", "b", "b"]) == pytest.approx(0.0)
    assert np.isnan(within_groups(estimate, truth, ["a", "b", "c", "d"]))


def test_regret_floors_and_ceiling(tmp_path) -> None:
    space = ArchSpace.from_dict(THREE_NETWORKS)
    archs = enumerate_archs(space)  # conv w2, conv w4, skip: params rank them 2 > 1 > 3
    accuracy = np.array([[0.96, 0.92, 0.90, 0.94], [0.93, 0.95, 0.94, 0.92], [0.5, 0.5, 0.6, 0.5]])
    gt = GroundTruth(space, archs, accuracy, 1 - accuracy, StandaloneRecipe(epochs=1))
    truth = accuracy.mean(1)
    regret = gt.proxies_regret()
    assert regret["params"] == pytest.approx(truth.max() - truth[1])  # the widest conv
    assert regret["random"] == pytest.approx(truth.max() - truth.mean())
    # Ceiling: the best of seeds 0-1 (arch 0: 0.94 vs 0.94 -> tie with arch 1) judged by 2-3.
    first, second = accuracy[:, :2].mean(1), accuracy[:, 2:].mean(1)
    assert gt.ceiling_regret() == pytest.approx(top1_regret(first, second))
