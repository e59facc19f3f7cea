"""Exact resume: a study SIGKILLed at any moment then resumed proposes what an uninterrupted run does.

Runs for every registered searcher (a new searcher is covered by registering it), with one and
two objectives, in real subprocesses against SQLite.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
from contextlib import closing

import pytest

import nas
from nas.searchers import searcher_class, searcher_names
from nas.testing.searchers import SMALL_CONDITIONAL_SPACE

N_TRIALS = 40

#: The richest space first; searchers that refuse it (e.g. GP-based ones refuse conditional
#: parameters) run on the continuous one.
SPACES = {
    "conditional": SMALL_CONDITIONAL_SPACE,
    "continuous": {
        "params": {
            "x": {"type": "float", "low": -3.0, "high": 3.0},
            "y": {"type": "float", "low": 0.0, "high": 1.0},
            "lr": {"type": "float", "low": 1.0e-4, "high": 1.0, "log": True},
        }
    },
}

#: Options a searcher needs (multi-fidelity budgets) or that keep it fast; defaults otherwise.
OPTIONS: dict[str, dict] = {
    "hyperband": {"min_budget": 1, "max_budget": 9},
    "bohb": {"min_budget": 1, "max_budget": 9},
    "bayesian": {"num_restarts": 2, "raw_samples": 64, "mc_samples": 32},
}

SCRIPT = (
    textwrap.dedent(
        """
    import json, os, signal, sys, threading, time
    import nas

    SPACES = SPACES_JSON

    url, searcher, n_obj, kill_at, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    space_name, options = sys.argv[6], json.loads(sys.argv[7])
    SPACE = SPACES[space_name]
    OBJECTIVES = {"f": "minimize"} if n_obj == 1 else {"f": "minimize", "g": "maximize"}

    def objective(trial):
        p = trial.params
        if trial.number == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.02)
        trial.report(0, {"f": p["x"]})
        n = p.get("n", 8 * (1 + p.get("y", 0.0)))
        f = (p["x"] - 1.0) ** 2 + 0.01 * n + p.get("drop", 0.2) + (p.get("act") == "tanh") * 0.3
        f += 0.1 / (trial.budget or 1.0)  # multi-fidelity searchers: a budget-dependent bias
        if n_obj == 1:
            return f
        return {"f": f, "g": -abs(p["x"] + 1.0) - 0.005 * n}

    study = nas.create_study("resume", SPACE, OBJECTIVES, searcher=searcher, searcher_options=options,
                             storage=url, seed=11, load_if_exists=True)
    if kill_after > 0:
        timer = threading.Timer(kill_after, lambda: os.kill(os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()
    study.optimize(objective, n_trials=N_TRIALS)
    print(json.dumps([[t.number, t.state, t.params, t.values] for t in study.trials]))
    """
    )
    .replace("N_TRIALS", str(N_TRIALS))
    .replace("SPACES_JSON", f"json.loads({json.dumps(SPACES)!r})")
)


def _combos() -> list[tuple[str, int, str]]:
    """(searcher, objective count, space) for every count each searcher accepts, richest space."""
    out = []
    for name in searcher_names():
        for n_obj in (1, 2):
            for space_name, space in SPACES.items():
                # the searcher's declared capabilities: this objective count, this space?
                if searcher_class(name).unsupported(nas.SearchSpace.from_dict(space), n_obj):
                    continue
                out.append((name, n_obj, space_name))
                break
    return out


def test_every_searcher_is_covered():
    covered = {name for name, _, _ in _combos()}
    assert covered == set(searcher_names())


def _run(script, url, searcher, n_obj, kill_at=-1, kill_after=0.0, space="conditional"):
    options = json.dumps(OPTIONS.get(searcher, {}))
    return subprocess.run(
        [
            sys.executable,
            str(script),
            url,
            searcher,
            str(n_obj),
            str(kill_at),
            str(kill_after),
            space,
            options,
        ],
        capture_output=True,
        text=True,
        timeout=300,  # a limit for a loaded machine, not a timing claim
    )


def _count_finished(path) -> int:
    import sqlite3

    with closing(sqlite3.connect(path)) as con:
        (n,) = con.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()
    return int(n)


@pytest.mark.parametrize(("searcher", "n_obj", "space"), _combos())
def test_sigkill_then_resume_gives_the_uninterrupted_sequence(tmp_path, searcher, n_obj, space):
    script = tmp_path / "run_study.py"
    script.write_text(SCRIPT)

    ref = _run(script, f"sqlite:///{tmp_path}/ref.db", searcher, n_obj, space=space)
    assert ref.returncode == 0, ref.stderr
    expected = json.loads(ref.stdout)
    assert len(expected) == N_TRIALS and all(t[1] == "COMPLETE" for t in expected)

    url = f"sqlite:///{tmp_path}/crash.db"
    rng = random.Random(f"{searcher}-{n_obj}")
    # 1) killed inside the objective of a trial (left RUNNING), 2) killed by a timer at a random
    # moment (mid-commit, mid-proposal, anywhere), 3) resumed to completion.
    first = _run(
        script, url, searcher, n_obj, kill_at=rng.randrange(5, N_TRIALS // 2), space=space
    )
    assert first.returncode == -signal.SIGKILL
    # At least N/2 trials of >= 20 ms remain, so a kill within 0.3 s lands mid-study.
    second = _run(script, url, searcher, n_obj, kill_after=rng.uniform(0.01, 0.3), space=space)
    assert second.returncode == -signal.SIGKILL, second.stderr
    finished = _count_finished(tmp_path / "crash.db")
    assert finished < N_TRIALS  # the kill really interrupted the study
    final = _run(script, url, searcher, n_obj, space=space)
    assert final.returncode == 0, final.stderr
    got = json.loads(final.stdout)
    assert [t[2] for t in got] == [t[2] for t in expected]  # same proposals, in order
    assert got == expected  # and same states and values
