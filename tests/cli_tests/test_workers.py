"""Many workers on one study: ``nas worker FILE|NAME``, ``nas run --workers N``, exact totals
under load on SQLite and PostgreSQL, and SIGKILLed workers whose trials are re-run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import nas
from nas.testing.cli import run_cli
from nas.testing.supernet import supernet_study, write_study

STUDY = """\
name: {name}
space: {{params: {{x: {{type: float, low: -3.0, high: 3.0}}, k: {{type: int, low: 1, high: 8}}}}}}
objective: objective.py:f
objectives: {{loss: minimize}}
searcher: {searcher}
n_trials: {n_trials}
seed: 0
"""

OBJECTIVE = """\
import os, time

def f(trial):
    time.sleep(float(os.environ.get("NAS_TEST_SLEEP", "0.01")))
    return (trial.params["x"] - 1.0) ** 2 + 0.1 * trial.params["k"]
"""


def _write(tmp_path: Path, name: str, n_trials: int, searcher: str = "random") -> Path:
    (tmp_path / "objective.py").write_text(OBJECTIVE)
    path = tmp_path / f"{name}.yaml"
    path.write_text(STUDY.format(name=name, n_trials=n_trials, searcher=searcher))
    return path


def _worker(study_file: Path, url: str, sleep: float, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nas", "worker", str(study_file), "--storage", url, "-q", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NAS_TEST_SLEEP": str(sleep)},
    )


def _check_exact(url: str, name: str, n: int) -> list[nas.FrozenTrial]:
    trials = nas.load_study(name, url).trials
    assert [t.number for t in trials] == list(range(n))  # no gap, no duplicate
    assert all(t.state == nas.TrialState.COMPLETE for t in trials), [
        (t.number, t.state, t.failure_reason) for t in trials if t.state != "COMPLETE"
    ]
    return trials


def test_worker_by_file_then_by_name(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    study_file = _write(tmp_path, "w", 12)
    url = f"sqlite:///{tmp_path}/nas.db"
    code, out, err = run_cli("worker", str(study_file), "--storage", url)
    assert code == 0, err
    assert "study 'w': 12 trials (12 complete)" in out
    # Another machine without the file joins by name: the objective and total come from the
    # database; --n-trials raises the total.
    code, out, err = run_cli("worker", "w", "--storage", url, "--n-trials", "15", "-q")
    assert code == 0, err
    _check_exact(url, "w", 15)
    # A study made through the Python API has no stored objective: a clear error.
    nas.create_study("api", {"params": {"x": {"type": "float", "low": 0, "high": 1}}},
                     {"y": "minimize"}, storage=url)  # fmt: skip
    code, _, err = run_cli("worker", "api", "--storage", url)
    assert code == 2 and "pass the study file instead" in err and err.count("\n") == 1
    code, _, err = run_cli("worker", "nope", "--storage", url)
    assert code == 2 and "nope" in err


def test_run_with_local_workers_shares_one_study(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    monkeypatch.setenv("NAS_TEST_SLEEP", "0.05")
    study_file = _write(
        tmp_path, "par", 24, searcher="{name: evolution, options: {population_size: 6}}"
    )
    code, out, err = run_cli("run", str(study_file), "--workers", "3")
    assert code == 0, err
    assert "par (3 workers)" in err and "study 'par': 24 trials (24 complete)" in out
    trials = _check_exact("sqlite:///nas.db", "par", 24)
    assert len({t.worker_id for t in trials}) >= 2  # really shared
    # Pending trials are visible to the searcher: no two trials share params.
    keys = {tuple(sorted(t.params.items())) for t in trials}
    assert len(keys) == 24


@pytest.mark.slow
def test_eight_workers_run_exactly_400_trials(tmp_path, storage_url) -> None:
    url = storage_url
    study_file = _write(tmp_path, "load", 400)
    procs = [_worker(study_file, url, 0.005) for _ in range(8)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (o, e) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, e
        assert "locked" not in (o + e).lower()
    trials = _check_exact(url, "load", 400)
    assert len({t.worker_id for t in trials}) >= 4


@pytest.mark.slow
def test_sigkilled_workers_lose_and_duplicate_nothing(tmp_path, storage_url) -> None:
    url = storage_url
    study_file = _write(tmp_path, "chaos", 60)
    rng = random.Random(0)
    procs = [_worker(study_file, url, 0.2) for _ in range(5)]
    storage = nas.storage.RDBStorage(url)
    killed = 0
    deadline = time.monotonic() + 120
    # Kill workers caught running a trial (so the kill lands mid-trial), a replacement
    # joining each time, until 4 kills or the study is over.
    while killed < 4 and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.1, 0.4))
        by_pid = {p.pid: p for p in procs if p.poll() is None}
        if not by_pid:
            break
        try:
            study = nas.load_study("chaos", storage)
        except KeyError:
            continue  # not created yet
        busy = [
            int(t.worker_id.split(":")[1])
            for t in study.trials
            if t.state == "RUNNING" and t.worker_id and int(t.worker_id.split(":")[1]) in by_pid
        ]
        if not busy:
            continue
        victim = by_pid[rng.choice(busy)]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed += 1
        procs.append(_worker(study_file, url, 0.2))
    storage.dispose()
    assert killed >= 3  # the study was still running while workers died
    for p in procs:
        if p.returncode is None:
            _, e = p.communicate(timeout=240)
            assert p.returncode == 0, e
    trials = _check_exact(url, "chaos", 60)
    assert any(t.restarts > 0 for t in trials)  # killed mid-trial, re-run with the same params


#: One stage, depth 1 or 2 of (conv of kernel 1 or 3 and width 2, 4 or 8 | skip).
NAS_SPACE = {
    "input": {"channels": 1, "height": 8, "width": 8},
    "classes": 10,
    "stem": {"channels": 4},
    "stages": [{"channels": 8, "stride": 2, "depth": [1, 2], "ops": ["conv", "skip"],
                "kernel": [1, 3], "width": [2, 4, 8]}],
}  # fmt: skip


def _nas_study(split: bool) -> dict[str, Any]:
    """A 16-trial NAS study; with ``split``, its supernet split by gradient matching after
    epochs 4 and 8."""
    train: dict[str, Any] = {"epochs": 12, "batch_size": 64, "sampler": "pada"}
    if split:
        train["splits"] = {"policy": "gm", "at_epochs": [4, 8], "repeats": 1}
    return supernet_study("nas_par", NAS_SPACE, train=train, n_trials=16)


@pytest.mark.slow
@pytest.mark.parametrize("split", [False, True], ids=["one-supernet", "split-family"])
def test_workers_starting_a_nas_study_together_train_one_supernet(tmp_path, split) -> None:
    from nas.study import objective_from_definition, stored_definition
    from nas.supernet._store import CHECKPOINT_KIND, WEIGHTS_KIND

    write_study(tmp_path / "nas.yaml", _nas_study(split))
    url = f"sqlite:///{tmp_path}/nas.db"
    args = [sys.executable, "-m", "nas", "worker", str(tmp_path / "nas.yaml"), "--storage", url]
    procs = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outputs]
    trained = [e for _, e in outputs if "training supernet" in e]
    waited = [e for _, e in outputs if "is training it; waiting" in e or "loaded from" in e]
    assert len(trained) == 1 and len(waited) == 2, [e[-300:] for _, e in outputs]
    study = nas.load_study("nas_par", url)
    storage = study.storage
    assert len(storage.get_artifacts(study.study_id, kind=WEIGHTS_KIND)) == 1
    assert storage.get_artifacts(study.study_id, kind=CHECKPOINT_KIND) == []
    assert storage.get_lease(study.study_id, "supernet-training") is None  # released
    trials = _check_exact(url, "nas_par", 16)
    assert len({json.dumps(t.user_attrs["arch"]) for t in trials}) == 16  # 16 networks
    # Which of the three measured is a race (the trainer may take all 16 before the others
    # poll): one more worker, joining by name later, measures 4 more with the stored weights.
    late = subprocess.run(
        [*args[:4], "nas_par", "--storage", url, "--n-trials", "20", "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert late.returncode == 0, late.stderr
    trials = _check_exact(url, "nas_par", 20)
    assert len(storage.get_artifacts(study.study_id, kind=WEIGHTS_KIND)) == 1  # not retrained
    # Every worker measured with the same weights: re-measured here from the stored weights,
    # each worker's trials give the values it stored.
    objective = objective_from_definition(stored_definition(study.user_attrs))
    objective.prepare(study, train=False)
    workers = {t.worker_id for t in trials}
    assert len(workers) >= 2
    for worker in workers:
        t = next(t for t in trials if t.worker_id == worker)
        arch = objective.space.arch(t.params)
        assert objective.measure(study, arch, {"accuracy"})["accuracy"] == t.values["accuracy"]
    # A split family: one tree, every trial measured by the leaf that owns its network.
    family = objective.family(study)
    assert len(family.leaves) == (4 if split else 1)
    for t in trials:
        assert t.user_attrs["supernet.leaf"] == family.leaf_for(objective.space.arch(t.params)).id
