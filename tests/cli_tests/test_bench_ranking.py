"""``nas bench ranking``: the public contract (output, --json shape) on a tiny ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nas.space import ArchSpace
from nas.supernet import PATH_SAMPLERS
from nas.supernet._ranking import GroundTruth, StandaloneRecipe, enumerate_archs
from nas.testing.cli import run_cli
from nas.testing.supernet import THREE_NETWORKS

cli = run_cli


@pytest.fixture
def ground_truth(tmp_path: Path) -> Path:
    space = ArchSpace.from_dict(THREE_NETWORKS)
    archs = enumerate_archs(space)  # conv w2, conv w4, skip
    accuracy = np.array([[0.9, 0.92], [0.95, 0.93], [0.5, 0.55]])
    gt = GroundTruth(space, archs, accuracy, 1 - accuracy, StandaloneRecipe(epochs=1))
    path = tmp_path / "gt.json"
    gt.save(path)
    return path


def test_prints_tau_per_sampler_and_writes_the_json_contract(ground_truth, tmp_path) -> None:
    out_file = tmp_path / "r.json"
    code, out, err = cli(
        "bench",
        "ranking",
        "--sampler",
        "all",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--ground-truth",
        str(ground_truth),
        "--json",
        str(out_file),
    )
    assert code == 0, err
    for name in (*PATH_SAMPLERS.names(), "ceiling", "params proxy", "mflops proxy"):
        assert name in out
    assert "Kendall tau" in out and "within FLOPs bins" in out
    assert "signed-rank p" in out  # paired statistics against the better proxy and uniform
    payload = json.loads(out_file.read_text())
    assert set(payload) == {*PATH_SAMPLERS.names(), "proxies", "proxies_within_bins", "ceiling"}
    # the contract: per sampler the per-seed lists; the proxies; the ceiling
    assert set(payload["proxies"]) == {"params", "mflops"}
    gt = GroundTruth.load(ground_truth)
    assert payload["ceiling"] == pytest.approx(gt.ceiling())
    assert payload["proxies"]["params"] == pytest.approx(gt.proxies()["params"])
    for name in PATH_SAMPLERS.names():
        entry = payload[name]
        assert len(entry["kendall_tau"]) == len(entry["kendall_tau_within_bins"]) == 2
        assert all(-1.0 <= t <= 1.0 for t in entry["kendall_tau"])
        assert all(0.0 <= o <= 1.0 for o in entry["top5_overlap"])


def test_one_sampler_and_bad_inputs(ground_truth, tmp_path) -> None:
    code, out, _ = cli(
        "bench",
        "ranking",
        "--sampler",
        "pada",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--ground-truth",
        str(ground_truth),
    )
    assert code == 0 and "pada" in out and "uniform" not in out
    code, _, err = cli("bench", "ranking", "--ground-truth", str(tmp_path / "none.json"))
    assert code == 2 and "ranking_ground_truth.py" in err and "Traceback" not in err
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, _, err = cli("bench", "ranking", "--ground-truth", str(bad))
    assert code == 2 and "not a ranking ground-truth file" in err
