"""``nas ask`` / ``nas report`` / ``nas tell``: a study driven one trial at a time from a shell."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nas
from nas._types import TrialState
from nas.testing.cli import run_cli

STUDY = """\
name: demo
space: {params: {x: {type: float, low: -3, high: 3}}}
objective: q:f
objectives: {loss: minimize}
n_trials: 3
storage: sqlite:///demo.db
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    (tmp_path / "q.py").write_text("def f(trial):\n    return trial.params['x'] ** 2\n")
    (tmp_path / "s.yaml").write_text(STUDY)
    assert run_cli("run", "s.yaml", "--n-trials", "0", "-q")[0] == 0
    return tmp_path


DB = ("--storage", "sqlite:///demo.db")


def test_a_loop_asks_until_the_total_and_tells_each_trial(workdir: Path) -> None:
    told = []
    while True:
        code, out, err = run_cli("ask", "demo", *DB)
        if code == 1:
            assert "holds its total number of trials" in err and out == ""
            break
        assert code == 0, err
        asked = json.loads(out)
        assert set(asked) >= {"number", "params"} and asked["study"] == "demo"
        loss = asked["params"]["x"] ** 2
        code, _, err = run_cli(
            "tell", "demo", "--trial", str(asked["number"]), "--values",
            json.dumps({"loss": loss, "seconds": 1.5}), *DB,
        )  # fmt: skip
        assert code == 0 and err.startswith(f"trial {asked['number']}: COMPLETE"), err
        told.append((asked["number"], loss))
    study = nas.load_study("demo", "sqlite:///demo.db")
    assert [(t.number, t.values["loss"]) for t in study.trials] == told and len(told) == 3
    assert all(t.metrics == {"seconds": 1.5} for t in study.trials)


def test_report_prints_the_pruners_verdict_and_tell_prunes(workdir: Path) -> None:
    code, out, _ = run_cli("ask", "demo", *DB)  # the study has no pruner: always continue
    number = str(json.loads(out)["number"])
    code, out, err = run_cli(
        "report", "demo", "--trial", number, "--step", "0", "--values", "2.5", *DB
    )
    assert (code, out) == (0, "continue\n"), err
    code, out, _ = run_cli(
        "report", "demo", "--trial", number, "--step", "1", "--values", '{"loss": 2}', "-f",
        "json", *DB,
    )  # fmt: skip
    assert json.loads(out) == {"number": 0, "step": 1, "prune": False, "reason": None}
    code, _, err = run_cli("tell", "demo", "--trial", number, "--state", "PRUNED", *DB)
    assert code == 0, err
    pruned = nas.load_study("demo", "sqlite:///demo.db").trials[0]
    assert pruned.state is TrialState.PRUNED and pruned.values == {"loss": 2.0}
    assert pruned.intermediate_values == {"loss": {0: 2.5, 1: 2.0}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--values", "1", "--state", "FAILED"), "give exactly one of --values JSON and --state"),
        ((), "give exactly one of --values JSON and --state"),
        (("--state", "COMPLETE"), "--state: must be FAILED or PRUNED"),
        (("--values", "{loss: 1}"), "--values: not JSON"),
        (("--values", '{"lost": 1}'), r"tell: trial 0: objective returned keys \['lost'\]"),
    ],
)
def test_bad_tells_print_one_line_and_change_nothing(
    workdir: Path, args: tuple[str, ...], message: str
) -> None:
    assert run_cli("ask", "demo", *DB)[0] == 0
    code, out, err = run_cli("tell", "demo", "--trial", "0", *args, *DB)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("error: ") and re.search(message, err), err
    assert nas.load_study("demo", "sqlite:///demo.db").trials[0].state is TrialState.RUNNING


def test_telling_a_finished_or_unknown_trial_is_refused(workdir: Path) -> None:
    assert run_cli("ask", "demo", *DB)[0] == 0
    assert run_cli("tell", "demo", "--trial", "0", "--values", "1", *DB)[0] == 0
    code, _, err = run_cli("tell", "demo", "--trial", "0", "--values", "2", *DB)
    assert code == 2 and "is already COMPLETE" in err
    code, _, err = run_cli("tell", "demo", "--trial", "7", "--values", "2", *DB)
    assert code == 2 and "has no trial 7" in err
    code, _, err = run_cli("report", "demo", "--trial", "0", "--step", "0", "--values", "1", *DB)
    assert code == 2 and "is COMPLETE, not RUNNING" in err


def test_ask_in_a_shell_loop(workdir: Path) -> None:
    # The README's loop, as a user runs it: separate processes, a lease per asked trial.
    nas_bin = str(Path(sys.executable).with_name("nas"))
    script = f"""
    set -e
    while trial=$({nas_bin} ask demo --storage sqlite:///demo.db); do
        n=$(echo "$trial" | {sys.executable} -c 'import json,sys; print(json.load(sys.stdin)["number"])')
        {nas_bin} tell demo --trial "$n" --values '{{"loss": 1.0}}' --storage sqlite:///demo.db
    done
    """
    env = {**os.environ, "NAS_STORAGE": ""}
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    study = nas.load_study("demo", "sqlite:///demo.db")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert all(t.worker_id and t.worker_id.startswith("lease:") for t in study.trials)
