"""Elastic quantization: LSQ quantizers, the quantized supernet, extraction, EQ-Net training."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias

from nas.exceptions import StudyConfigError
from nas.space import Arch, ArchSpace, QuantChoice
from nas.supernet import (
    QuantizedConv2d,
    SupernetDefinition,
    SupernetEvaluator,
    SupernetTrainer,
    TrainConfig,
    build_supernet,
)
from nas.supernet._network import quantized_layers
from nas.supernet._quant import (
    fake_quantize,
    grad_scale,
    init_quantizers,
    quant_range,
    round_ste,
)
from nas.supernet._quant_train import GuidedLoss, QuantPaths, coverage_archs, wdr_loss
from nas.testing.path_samplers import SAMPLER_SPACE, toy_data

QSPACE = {
    **SAMPLER_SPACE,
    "quant": {
        "wbits": [2, 4, 8],
        "abits": [2, 4, 8],
        "granularity": ["channel", "tensor"],
        "symmetry": ["sym", "asym"],
    },
}


@pytest.fixture(scope="module")
def space() -> ArchSpace:
    return ArchSpace.from_dict(QSPACE)


def _initialised(space: ArchSpace, seed: int = 0):
    net = build_supernet(space, seed)
    init_quantizers(net, toy_data(48).x_train, coverage_archs(space))
    return net


def test_ste_and_gradient_scale_are_exact_forward_and_scaled_backward() -> None:
    x = torch.linspace(-3.7, 3.7, 101, requires_grad=True)
    y = round_ste(x)
    assert torch.equal(y, x.detach().round())
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
    s = torch.tensor([0.3, 1.7], requires_grad=True)
    z = grad_scale(s, 0.25)
    assert torch.equal(z, s.detach())
    z.sum().backward()
    assert torch.allclose(s.grad, torch.full_like(s, 0.25))
    assert quant_range(4, True) == (-8, 7) and quant_range(4, False) == (0, 15)


def test_fake_quantize_lands_on_the_grid() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, generator=g)
    step, offset = torch.tensor(0.1), torch.tensor(0.05)
    q = fake_quantize(x, step, offset, -8, 7)
    codes = (q - offset) / step
    assert torch.allclose(codes, codes.round(), atol=1e-4)
    assert codes.min() >= -8 - 1e-4 and codes.max() <= 7 + 1e-4
    assert len(torch.unique(q)) <= 16


def test_initial_ranges_beat_the_full_range_and_are_checkpointed(space) -> None:
    net = _initialised(space)
    layers = quantized_layers(net)
    assert layers and all(bool(q.initialized) for _, q in layers)
    conv, qz = layers[1]
    w = conv.latent_weight.detach()
    for key, log_step in qz.weight.log_steps.items():
        bits = int(key[1:].split("_")[0])
        n, p = quant_range(bits, True)
        if key.endswith("_sym_tensor"):
            full = w.abs().max() / p
            err_full = (w - fake_quantize(w, full, None, n, p)).abs().pow(2.4).sum()
            err = (w - fake_quantize(w, log_step.detach().exp(), None, n, p)).abs().pow(2.4).sum()
            assert err <= err_full + 1e-6
    # a post-ReLU input is unsigned; the residual stream's is signed
    signs = {bool(q.act.signed) for _, q in layers}
    assert signs == {True, False}
    other = build_supernet(space, 5)
    other.load_state_dict(net.state_dict())
    assert all(bool(q.initialized) for _, q in quantized_layers(other))
    for (_, a), (_, b) in zip(layers, quantized_layers(other), strict=True):
        assert torch.equal(a.act.signed, b.act.signed)


def test_extracted_network_is_on_the_grid_and_equals_the_supernet(space) -> None:
    net = _initialised(space).eval()
    data = toy_data(48)
    rng = np.random.default_rng(0)
    evaluator = SupernetEvaluator(net, data.x_train)
    for k in range(6):
        arch = space.full_mask().sample(rng) if k else space.smallest()
        out = evaluator.network(arch)(data.x_val)
        model = evaluator.extract(arch)
        assert torch.equal(model(data.x_val), out)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.script(model)
        assert torch.equal(scripted(data.x_val), out)
        convs = [m for m in model.modules() if isinstance(m, QuantizedConv2d)]
        assert convs
        for m in convs:
            bits = int(math.log2(int(m.a_max - m.a_min) + 1))
            assert bits in (2, 4, 8)
            w = m.dequantized_weight()
            per_tensor = m.w_scale.numel() == 1 or bool(
                (m.w_scale == m.w_scale.flatten()[0]).all()
            )
            groups = [w] if per_tensor else list(w)
            for group in groups:
                assert len(torch.unique(group)) <= 256
            assert int(m.codes.min()) >= -128 and int(m.codes.max()) <= 127
    # weight bits per conv, checked against the architecture's settings
    arch = Arch(
        space.largest().depths,
        space.largest().layers,
        tuple(QuantChoice(2, 8, "channel", "asym") for _ in space.quant_sites),
    )
    model = evaluator.extract(arch)
    middle = [m for m in model.modules() if isinstance(m, QuantizedConv2d)][1:]
    for m in middle:
        assert int(m.codes.min()) >= -2 and int(m.codes.max()) <= 1
        for row in m.dequantized_weight():
            assert len(torch.unique(row)) <= 4


def test_a_bad_setting_is_refused(space) -> None:
    net = build_supernet(space, 0)
    arch = space.largest()
    bad = list(arch.quant)
    bad[0] = QuantChoice(3, 8, "channel", "sym")
    with pytest.raises(ValueError, match="not allowed there"):
        net.set_active(Arch(arch.depths, arch.layers, tuple(bad)))
    with pytest.raises(ValueError, match="quantization settings"):
        net.set_active(Arch(arch.depths, arch.layers, arch.quant[:2]))


def test_hrl_paths_and_progressive_guidance(space) -> None:
    from nas.supernet import QuantTrainConfig, create_sampler

    base = create_sampler("uniform", space, 10)
    paths = QuantPaths(base, QuantTrainConfig())
    h, r, low = paths.paths(np.random.default_rng(0))
    assert h.layers == r.layers == low.layers
    assert all(q.wbits == 8 and q.abits == 8 for q in h.quant)
    assert all(q.wbits == 2 and q.abits == 2 for q in low.quant)
    (single,) = QuantPaths(base, QuantTrainConfig(paths="single")).paths(np.random.default_rng(0))
    assert all(
        site.spec.allows(q) for site, q in zip(space.quant_sites, single.quant, strict=True)
    )
    with pytest.raises(ValueError, match="draws 4 paths per step"):
        QuantPaths(create_sampler("sandwich", space, 10), QuantTrainConfig())
    loss = GuidedLoss(base.path_loss, 0.5)
    g = torch.Generator().manual_seed(1)
    teacher, student = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1])
    kl = F.kl_div(F.log_softmax(student, -1), F.softmax(teacher, -1), reduction="batchmean")
    want = 0.5 * kl + 0.5 * F.cross_entropy(student, y)
    assert torch.allclose(loss(1, student, y, [teacher], None), want)
    assert torch.allclose(loss(0, student, y, [], None), F.cross_entropy(student, y))
    plain = GuidedLoss(base.path_loss, 0.0)
    assert torch.allclose(
        plain(2, student, y, [teacher, teacher], None), F.cross_entropy(student, y)
    )


def test_wdr_pulls_towards_a_uniform_distribution() -> None:
    g = torch.Generator().manual_seed(0)
    uniform = torch.rand(20000, generator=g) * 2 - 1
    normal = torch.randn(20000, generator=g)
    skewed = torch.randn(20000, generator=g).exp()
    assert wdr_loss([uniform], 1.0, 0.015) < 1e-3
    assert wdr_loss([normal], 1.0, 0.015) == pytest.approx(0.015 * 1.2**2, rel=0.1)
    assert wdr_loss([skewed], 1.0, 0.015) > 1.0


def test_training_is_deterministic_resumable_and_learns(space) -> None:
    data = toy_data(96)
    cfg = TrainConfig(
        epochs=8, batch_size=16, lr=0.05, weight_decay=0.0, grad_clip=1.0, clip_mode="value",
        schedule_unit="step", sampler="pada", seed=2,
    )  # fmt: skip
    straight = SupernetTrainer(build_supernet(space, 2), data, cfg)
    straight.fit()
    again = SupernetTrainer(build_supernet(space, 2), data, cfg)
    again.train_epoch()
    for _ in range(2):
        again.train_step()
    resumed = SupernetTrainer(build_supernet(space, 7), data, cfg)
    resumed.load_state_dict(again.state_dict())
    resumed.fit()
    for (k, a), b in zip(
        straight.net.state_dict().items(), resumed.net.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    assert straight.history == resumed.history
    assert straight.history[-1]["loss"] < straight.history[0]["loss"]
    # the H path learns: the largest network at 8 bits beats chance on the training data
    evaluator = SupernetEvaluator(straight.net, data.x_train)
    net = evaluator.network(space.largest())
    with torch.no_grad():
        acc = float((net(data.x_train).argmax(-1) == data.y_train).float().mean())
    assert acc > 0.6
    assert len(straight.hooks) == 2  # quantizer initialisation and WDR


def test_quant_settings_are_validated_against_the_space(space) -> None:
    plain = ArchSpace.from_dict(SAMPLER_SPACE)
    with pytest.raises(StudyConfigError, match=r"train\.quant: the architecture space has no"):
        SupernetDefinition(space=plain, train={"quant": {"gpg": False}})
    with pytest.raises(StudyConfigError, match="'sandwich' draws 4 paths"):
        SupernetDefinition(space=space, train={"sampler": "sandwich"})
    with pytest.raises(StudyConfigError, match=r"quant\.gpg_lambda"):
        SupernetDefinition(space=space, train={"quant": {"gpg_lambda": 2}})
    SupernetDefinition(space=space, train={"sampler": "pada", "quant": {"wdr": False}})


def test_a_supernet_study_returns_the_metrics_its_constraints_name(tmp_path) -> None:
    import nas
    from nas.supernet import parse_supernet_objective

    obj = parse_supernet_objective(
        {"type": "supernet", "space": {**QSPACE, "input": {"channels": 1, "height": 8,
         "width": 8}, "classes": 10}, "train": {"epochs": 1, "batch_size": 256}},
        source="t",
    )  # fmt: skip
    study = nas.create_study(
        "c",
        obj.space.search_space,
        {"accuracy": "maximize"},
        storage=f"sqlite:///{tmp_path}/c.db",
        constraints={"avg_wbits": {"max": 4}, "bitops": {"min": 1}},
    )
    obj.prepare(study)
    study.optimize(obj, n_trials=6)
    for t in study.trials:
        bits = t.user_attrs["metrics"]["avg_wbits"]
        assert t.feasible == (bits <= 4)
    bad = nas.create_study(
        "bad", obj.space.search_space, {"accuracy": "maximize"},
        storage=f"sqlite:///{tmp_path}/c.db", constraints={"loss": {"max": 1}},
    )  # fmt: skip
    with pytest.raises(StudyConfigError, match="constraints: 'loss' is not a metric"):
        obj.prepare(bad)
