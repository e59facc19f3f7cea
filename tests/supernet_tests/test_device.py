"""Devices: bad device names are one clear error everywhere; on a machine with CUDA, training,
recalibration, evaluation, NAS trials and export run on the GPU and agree with the CPU.

The CUDA tests skip where there is no GPU (CI has none); they run where one is lent.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nas
from nas.supernet import (
    ArchSpace,
    DeviceError,
    SupernetTrainer,
    TrainConfig,
    build_supernet,
    check_device,
    evaluate_arch,
    export_subnet,
    load_image_dataset,
    load_subnet,
    parse_supernet_objective,
)
from nas.supernet._ranking import train_standalone
from nas.testing.cli import run_cli

SPACE = {
    "input": {"channels": 1, "height": 8, "width": 8},
    "classes": 10,
    "stem": {"channels": 4},
    "stages": [
        {"channels": 8, "stride": 2, "depth": [1, 2], "ops": ["conv", "sepconv", "skip"],
         "kernel": [3, 5], "width": [4, 8]},
    ],
}  # fmt: skip

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_check_device_messages() -> None:
    assert check_device("cpu").type == "cpu"
    with pytest.raises(DeviceError, match="'gpu!' is not a device"):
        check_device("gpu!", "objective.device")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available here; use cpu"):
            check_device("cuda")
    with pytest.raises(DeviceError, match="cuda:99"):
        check_device("cuda:99")


def test_run_device_override_needs_a_supernet_objective(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(
        "name: s\nspace: {params: {x: {type: float, low: 0, high: 1}}}\n"
        "objective: nas.benchmarks.functions:branin_objective\nobjectives: {value: minimize}\n"
    )
    code, _, err = run_cli("run", "s.yaml", "--device", "cuda")
    assert code == 2 and "only a supernet objective" in err


@cuda
def test_training_and_evaluation_on_cuda_match_cpu_closely() -> None:
    space = ArchSpace.from_dict(SPACE)
    data = load_image_dataset("digits")
    results = {}
    for device in ("cpu", "cuda"):
        config = TrainConfig(epochs=2, batch_size=128, sampler="pada", seed=0, device=device)
        trainer = SupernetTrainer(build_supernet(space, 0), data, config)
        trainer.fit()
        assert next(trainer.net.parameters()).device.type == device
        arch = space.largest()
        # CPU tensors in, the supernet's device used.
        acc = evaluate_arch(trainer.net, arch, data.x_val, data.y_val, calibration=data.x_train)
        results[device] = (acc, [r["loss"] for r in trainer.history])
    # Same algorithm and seed; kernels differ in rounding only.
    assert results["cuda"][0] == pytest.approx(results["cpu"][0], abs=0.05)
    assert np.allclose(results["cuda"][1], results["cpu"][1], rtol=0.1)
    acc = train_standalone(space, space.largest(), data, epochs=1, seed=0, device="cuda")
    assert 0.1 < acc <= 1.0


@cuda
def test_nas_study_and_export_on_cuda(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/nas.db"
    obj = parse_supernet_objective(
        {"type": "supernet", "space": SPACE, "device": "cuda", "train": {"epochs": 2}},
        source="t",
    )
    study = nas.create_study(
        "gpu",
        obj.search_space,
        {"accuracy": "maximize", "latency_ms": "minimize"},
        storage=url,
        seed=0,
    )
    study.optimize(obj, n_trials=4)
    assert all(t.state == nas.TrialState.COMPLETE for t in study.trials)
    assert next(obj.supernet(study).parameters()).device.type == "cuda"
    # The weights stored in the database load on the CPU for export.
    paths = export_subnet(nas.load_study("gpu", url), 0, tmp_path / "out", device="cpu")
    model = load_subnet(paths.directory)
    assert next(model.parameters()).device.type == "cpu"
    code, _, err = run_cli(
        "export", "gpu", "--trial", "1", "--out", str(tmp_path / "o2"), "--storage", url,
        "--device", "cuda", "--no-pt2",
    )  # fmt: skip
    assert code == 0, err
