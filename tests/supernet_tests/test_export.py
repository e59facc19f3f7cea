"""``export_subnet`` / ``nas export``: the written network computes what the supernet computes
for the trial's architecture, in every format; bad requests are one-line errors."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import nas
from nas.supernet import ExportError, export_subnet, load_subnet, parse_supernet_objective
from nas.testing.cli import run_cli

SPACE = {
    "input": {"channels": 1, "height": 8, "width": 8},
    "classes": 10,
    "stem": {"channels": 4},
    "stages": [
        {"channels": 4, "stride": 1, "depth": [1, 2], "ops": ["conv", "sepconv", "skip"],
         "kernel": [3, 5], "width": [2, 4]},
        {"channels": 8, "stride": 2, "depth": [1], "ops": ["conv", "skip"], "kernel": 3,
         "width": 4},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def nas_study(tmp_path_factory):
    """A NAS study with a trained supernet and 6 trials (one FAILED), and a plain study."""
    url = f"sqlite:///{tmp_path_factory.mktemp('export')}/nas.db"
    obj = parse_supernet_objective(
        {"type": "supernet", "space": SPACE, "train": {"epochs": 2, "batch_size": 128}},
        source="t",
    )
    study = nas.create_study(
        "nas",
        obj.space.search_space,
        {"accuracy": "maximize", "params": "minimize"},
        storage=url,
        seed=1,
    )

    def objective(trial):
        if trial.number == 5:
            raise RuntimeError("boom")
        return obj(trial)

    obj.prepare(study)
    study.optimize(objective, n_trials=6)
    plain = nas.create_study("plain", {"params": {"x": {"type": "float", "low": 0, "high": 1}}},
                             {"y": "minimize"}, storage=url)  # fmt: skip
    plain.optimize(lambda t: t.params["x"], n_trials=1)
    return url, obj, study


def test_exported_files_reproduce_the_supernet(nas_study, tmp_path) -> None:
    url, obj, study = nas_study
    number = max(range(5), key=lambda n: study.trials[n].values["params"])  # a real network
    paths = export_subnet(nas.load_study("nas", url), number, tmp_path / "out")
    trial = study.trials[number]
    meta = json.loads(paths.arch_json.read_text())
    assert meta["trial"] == number and meta["params"] == trial.params
    assert meta["values"] == trial.values and meta["input_shape"] == [1, 8, 8]
    assert meta["metrics"]["accuracy"] == trial.values["accuracy"]

    net = obj.calibrated(study, obj.space.arch(trial.params))
    data = obj.data(study)
    x = data.x_test[:50]
    with torch.no_grad():
        expected = net(x)
        model = load_subnet(paths.directory)
        assert torch.allclose(model(x), expected, atol=1e-5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.load(str(paths.torchscript))
        assert torch.allclose(scripted(x), expected, atol=1e-5)
        assert paths.exported_program is not None
        program = torch.export.load(paths.exported_program).module()
        assert torch.allclose(program(x[:3]), expected[:3], atol=1e-5)  # any batch size
    # The exported network's accuracy is the trial's (same recalibrated statistics).
    val = (model(data.x_val).argmax(-1) == data.y_val).float().mean().item()
    assert val == pytest.approx(trial.values["accuracy"])
    assert sum(p.numel() for p in model.parameters()) == trial.values["params"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nas", "--trial", "99"], "has no trial 99 (trials are 0..5)"),
        (["nas", "--trial", "5"], "trial 5 of study 'nas' is FAILED"),
        (["plain", "--trial", "0"], "study 'plain' is not a NAS study"),
        (["missing", "--trial", "0"], "missing"),
        (["nas", "--trial", "0", "--device", "cuda:7"], "--device"),
    ],
)
def test_export_errors_are_one_line(nas_study, tmp_path, args, message) -> None:
    url, _, _ = nas_study
    code, _, err = run_cli("export", *args, "--out", str(tmp_path / "x"), "--storage", url)
    assert code == 2, err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_cli_export_writes_and_lists_the_files(nas_study, tmp_path) -> None:
    url, _, _ = nas_study
    code, out, err = run_cli(
        "export", "nas", "--trial", "0", "--out", str(tmp_path / "d"), "--storage", url, "--no-pt2"
    )
    assert code == 0, err
    names = [line.rsplit("/", 1)[-1] for line in out.split()]
    assert names == ["model.pt", "arch.json", "model.torchscript.pt"]
    assert not (tmp_path / "d" / "model.pt2").exists()


def test_load_subnet_refuses_other_directories(tmp_path) -> None:
    with pytest.raises(ExportError, match="not an exported subnet"):
        load_subnet(tmp_path)
    (tmp_path / "arch.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ExportError, match="format 'other'"):
        load_subnet(tmp_path)


def test_a_split_study_exports_from_the_leaf_that_owns_the_trial(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/fam.db"
    obj = parse_supernet_objective(
        {"type": "supernet", "space": SPACE,
         "train": {"epochs": 3, "batch_size": 128,
                   "splits": {"policy": "exhaustive", "at_epochs": [1]}}},
        source="t",
    )  # fmt: skip
    study = nas.create_study("fam", obj.space.search_space, {"accuracy": "maximize"},
                             storage=url, seed=1)  # fmt: skip
    study.optimize(obj, n_trials=6)
    family = obj.family(study)
    assert len(family.leaves) >= 2
    trial = next(t for t in study.trials if t.user_attrs["supernet.leaf"] != family.leaves[0].id)
    arch = obj.space.arch(trial.params)
    owner = family.leaf_for(arch).id
    assert trial.user_attrs["supernet.leaf"] == owner
    paths = export_subnet(nas.load_study("fam", url), trial.number, tmp_path / "out",
                          exported_program=False)  # fmt: skip
    x = obj.data(study).x_test[:50]
    with torch.no_grad():
        exported = load_subnet(paths.directory)(x)
        own = obj.calibrated(study, arch)
        assert own is obj.supernet(study, arch)
        torch.testing.assert_close(exported, own(x), atol=1e-5, rtol=1e-5)
        # Another leaf's weights (made to compute the same architecture) give other outputs.
        nets = obj.evaluator(study).nets  # type: ignore[attr-defined]
        other = next(nets[leaf.id] for leaf in family.leaves if leaf.id != owner)
        from nas.supernet import recalibrate_bn

        recalibrate_bn(other, arch, obj.data(study).x_train[:256])
        assert not torch.allclose(other(x), exported, atol=1e-3)
    with pytest.raises(ValueError, match="sub-supernets"):
        obj.supernet(study)


def test_a_quantized_trial_exports_on_its_grid(tmp_path) -> None:
    """A mixed-precision trial: every format computes the supernet's outputs exactly, the
    stored weights are integer codes of each conv's bit-width with their scales, and the
    trial's metrics include its bits and size."""
    from nas.space import quant_cost
    from nas.supernet import QuantizedConv2d, QuantizedLinear

    space = {
        **SPACE,
        "quant": {"wbits": [2, 4], "abits": [4, 8], "granularity": ["channel", "tensor"],
                  "symmetry": ["sym", "asym"]},
    }  # fmt: skip
    url = f"sqlite:///{tmp_path}/q.db"
    train = {"epochs": 2, "batch_size": 128, "optimizer": "adam", "lr": 0.003}
    obj = parse_supernet_objective(
        {"type": "supernet", "space": space, "train": train}, source="t"
    )
    study = nas.create_study(
        "q", obj.space.search_space, {"accuracy": "maximize", "size_bytes": "minimize"},
        storage=url, seed=2,
    )  # fmt: skip
    obj.prepare(study)
    study.optimize(obj, n_trials=3)
    trial = study.trials[2]
    arch = obj.space.arch(trial.params)
    cost = quant_cost(obj.space, arch)
    assert trial.values["size_bytes"] == cost.size_bytes
    assert trial.user_attrs["metrics"]["avg_wbits"] == pytest.approx(cost.avg_wbits)
    paths = export_subnet(nas.load_study("q", url), 2, tmp_path / "out")
    net = obj.calibrated(study, arch)
    x = obj.data(study).x_test[:40]
    with torch.no_grad():
        expected = net(x)
        model = load_subnet(paths.directory)
        assert torch.equal(model(x), expected)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.load(str(paths.torchscript))
        assert torch.equal(scripted(x), expected)
        assert paths.exported_program is not None
        program = torch.export.load(paths.exported_program).module()
        assert torch.allclose(program(x[:3]), expected[:3], atol=1e-6)
    state = torch.load(paths.state_dict, weights_only=True)
    layers = [m for m in model.modules() if isinstance(m, QuantizedConv2d | QuantizedLinear)]
    assert len(layers) == sum(1 for k in state if k.endswith(".codes"))
    for m in layers[1:-1]:  # the sites: 2 or 4 weight bits
        assert int(m.codes.min()) >= -8 and int(m.codes.max()) <= 7
    assert int(layers[0].codes.abs().max()) > 7  # the stem at 8 bits
