"""The evaluation interface: calibration, the evaluator contract, scores, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias

from nas.exceptions import StudyConfigError
from nas.space import ArchSpace
from nas.supernet import (
    METRICS,
    ArchEvaluator,
    EvalConfig,
    MetricContext,
    SupernetDefinition,
    SupernetEvaluator,
    build_supernet,
    recalibrate_bn,
    score,
)
from nas.supernet._metrics import compute_metrics
from nas.testing.path_samplers import SAMPLER_SPACE, toy_data


@pytest.fixture(scope="module")
def space() -> ArchSpace:
    return ArchSpace.from_dict(SAMPLER_SPACE)


def test_recalibration_gives_the_statistics_of_the_calibration_data(space) -> None:
    net = build_supernet(space, 0)
    arch = space.largest()
    images = toy_data(50).x_train  # equal batches: the cumulative average is the mean
    recalibrate_bn(net, arch, images, batch_size=25)
    stem_bn = net.stem.bn.bn
    with torch.no_grad():
        features = net.stem.conv(images)
    torch.testing.assert_close(
        stem_bn.running_mean, features.mean(dim=(0, 2, 3)), atol=1e-5, rtol=1e-4
    )
    assert not net.training and net.active == arch
    assert stem_bn.momentum == 0.1  # momentum restored for training


def test_the_supernet_evaluator_keeps_the_contract(space) -> None:
    net = build_supernet(space, 0)
    data = toy_data()
    evaluator = SupernetEvaluator(net, data.x_train)
    assert isinstance(evaluator, ArchEvaluator)
    rng = np.random.default_rng(0)
    for _ in range(10):
        arch = space.full_mask().sample(rng)
        with torch.no_grad():
            out = evaluator.network(arch)(data.x_val)
            standalone = evaluator.extract(arch)
            assert not standalone.training
            torch.testing.assert_close(standalone(data.x_val), out, rtol=1e-5, atol=1e-6)
            # calibration is deterministic: the same network for the same architecture
            torch.testing.assert_close(evaluator.network(arch)(data.x_val), out)


def test_score_is_accuracy_and_mean_nll(space) -> None:
    net = build_supernet(space, 0).eval()
    data = toy_data()
    with torch.no_grad():
        logits = net(data.x_val)
    s = score(net, data.x_val, data.y_val, batch_size=5)
    assert s.n == len(data.y_val)
    assert s.accuracy == pytest.approx(float((logits.argmax(-1) == data.y_val).float().mean()))
    assert s.nll == pytest.approx(float(F.cross_entropy(logits, data.y_val)), rel=1e-5)


def test_metrics_come_from_the_registry(space) -> None:
    data = toy_data()
    evaluator = SupernetEvaluator(build_supernet(space, 0), data.x_train)
    arch = space.largest()
    ctx = MetricContext(evaluator, arch, data, EvalConfig(latency_repeats=2, latency_warmup=0))
    out = compute_metrics(ctx, {"accuracy", "latency_ms"})
    quant = {"avg_wbits", "avg_abits", "bitops", "size_bytes"}  # computed unasked when quantized
    assert set(out) == {*METRICS.names(), "test_accuracy"} - quant
    assert compute_metrics(ctx, {"size_bytes"})["size_bytes"] == 4 * space.cost(arch).params
    assert out["error"] == pytest.approx(1 - out["accuracy"])
    assert out["params"] == space.cost(arch).params and out["latency_ms"] > 0
    assert "latency_ms" not in compute_metrics(ctx, {"accuracy"})  # on demand only
    definition = SupernetDefinition(space=space)
    definition.check_objectives({"nll": "minimize", "mflops": "minimize"})
    with pytest.raises(StudyConfigError, match="choose among accuracy, error, nll"):
        definition.check_objectives({"loss": "minimize"})
    with pytest.raises(StudyConfigError, match="must be maximized"):
        definition.check_objectives({"accuracy": "minimize"})
