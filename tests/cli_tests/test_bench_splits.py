"""``nas bench splits`` and ``nas splits``: the public contracts on tiny inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import nas
from nas.space import ArchSpace
from nas.supernet import SPLIT_POLICIES, parse_supernet_objective
from nas.supernet._ranking import GroundTruth, StandaloneRecipe, enumerate_archs
from nas.testing.cli import run_cli
from nas.testing.supernet import THREE_NETWORKS, TINY_SPACE  # noqa: F401

cli = run_cli


@pytest.fixture
def ground_truth(tmp_path: Path) -> Path:
    space = ArchSpace.from_dict(TINY_SPACE)
    archs = enumerate_archs(space)  # (conv w2 | conv w4 | skip) x (sepconv | skip)
    accuracy = np.array([[0.9, 0.92], [0.95, 0.93], [0.5, 0.55], [0.8, 0.82], [0.85, 0.8],
                         [0.3, 0.35]])  # fmt: skip
    gt = GroundTruth(space, archs, accuracy, 1 - accuracy, StandaloneRecipe(epochs=1))
    path = tmp_path / "gt.json"
    gt.save(path)
    return path


def _bench(ground_truth: Path, *args: str) -> tuple[int, str, str]:
    return cli("bench", "splits", "--ground-truth", str(ground_truth), "--epochs", "4",
               "--at-epochs", "1,2", "--repeats", "1", *args)  # fmt: skip


def test_prints_every_policy_and_writes_the_json_contract(ground_truth, tmp_path) -> None:
    out_file = tmp_path / "s.json"
    code, out, err = _bench(ground_truth, "--seeds", "2", "--json", str(out_file))
    assert code == 0, err
    for name in (*SPLIT_POLICIES.names(), "ceiling", "params proxy", "random pick"):
        assert name in out
    assert "top-1 regret" in out and "signed-rank p" in out
    payload = json.loads(out_file.read_text())
    assert set(SPLIT_POLICIES.names()) <= set(payload)
    assert {"proxies", "ceiling"} <= set(payload)
    gt = GroundTruth.load(ground_truth)
    assert payload["ceiling"] == pytest.approx(gt.ceiling())
    assert set(payload["proxies"]) == {"params", "mflops"}
    for name in SPLIT_POLICIES.names():
        entry = payload[name]
        assert len(entry["kendall_tau"]) == len(entry["top1_regret"]) == 2
        assert all(0.0 <= r <= 0.62 for r in entry["top1_regret"])  # best 0.94, worst 0.325
        assert entry["splits"]["policy"] == name
    # Slots of 3 and 2 choices: exhaustive makes 3 or 2 leaves, gm 2 then 4 (two splits).
    assert set(payload["exhaustive"]["leaves"]) <= {2, 3} and payload["gm"]["leaves"] == [4, 4]
    assert payload["none"]["leaves"] == [1, 1] and payload["none"]["charged_steps"] == [0, 0]
    assert all(c > 0 for c in payload["gm"]["charged_steps"])  # scoring is charged


def test_bad_inputs_are_one_line_and_status_2(ground_truth, tmp_path) -> None:
    cases = [
        (("--at-epochs", "a,b"), "--at-epochs"),
        (("--restart", "sometimes"), "--restart"),
        (("--at-epochs", "4"), "--at-epochs: must be epochs before the last (4)"),
        (("--repeats", "500"), "scoring costs up to"),
    ]
    for extra, message in cases:
        code, _, err = _bench(ground_truth, "--policy", "gm", *extra)
        assert code == 2 and message in err and "Traceback" not in err, (extra, err)
        assert len(err.strip().splitlines()) == 1
    code, _, err = cli("bench", "splits", "--ground-truth", str(tmp_path / "none.json"))
    assert code == 2 and "Traceback" not in err


def test_nas_splits_shows_the_record_of_a_split_study(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/nas.db"
    obj = parse_supernet_objective(
        {"type": "supernet", "space": TINY_SPACE,
         "train": {"epochs": 6, "batch_size": 128,
                   "splits": {"policy": "gm", "at_epochs": [2], "repeats": 1}},
         "eval": {"calibration": 64}},
        source="t",
    )  # fmt: skip
    study = nas.create_study("fam", obj.space.search_space, {"accuracy": "maximize"},
                             storage=url, seed=0)  # fmt: skip
    study.optimize(obj, n_trials=4)
    code, out, err = cli("splits", "fam", "--storage", url)
    assert code == 0, err
    assert "gm" in out and "cut scores" in out and "gradient distance" in out
    code, out, _ = cli("splits", "fam", "--storage", url, "--format", "json")
    tree = json.loads(out)
    assert [leaf["id"] for leaf in tree["leaves"]] == ["0", "1"]
    (split,) = tree["splits"]
    assert split["policy"] == "gm" and len(split["scores"]) == 2  # both slots were scored
    leaves = {t.user_attrs["supernet.leaf"] for t in nas.load_study("fam", url).trials}
    assert leaves <= {"0", "1"}
    # The front names the leaf of each architecture.
    code, out, _ = cli("pareto", "fam", "--storage", url)
    assert code == 0 and "leaf" in out
    # A study without splits: one line.
    plain = nas.create_study("plain", {"params": {"x": {"type": "float", "low": 0, "high": 1}}},
                             {"y": "minimize"}, storage=url)  # fmt: skip
    assert plain.study_id
    code, _, err = cli("splits", "plain", "--storage", url)
    assert code == 2 and "no split supernet" in err and "Traceback" not in err


def test_nas_run_reports_the_split_family(tmp_path) -> None:
    import yaml

    spec = {
        "name": "famrun",
        "objective": {"type": "supernet", "space": TINY_SPACE,
                      "train": {"epochs": 6, "batch_size": 128,
                                "splits": {"policy": "random", "at_epochs": [2, 4]}},
                      "eval": {"calibration": 64}},
        "objectives": {"accuracy": "maximize"},
        "n_trials": 3,
    }  # fmt: skip
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    url = f"sqlite:///{tmp_path}/r.db"
    code, _, err = cli("run", str(tmp_path / "s.yaml"), "--storage", url)
    assert code == 0, err
    assert "4 sub-supernets after 3 random splits" in err and "nas splits famrun" in err
    # Rerun: the weights are loaded, the family reported again.
    code, _, err = cli("run", str(tmp_path / "s.yaml"), "--storage", url, "--n-trials", "4")
    assert code == 0 and "loaded from" in err and "4 sub-supernets" in err
