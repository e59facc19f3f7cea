"""Losing the PostgreSQL server: dropped connections are retried; an outage longer than the
budget ends a worker with one clear line, nothing already stored is lost, and the study then
finishes exactly."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy.engine import make_url

import nas

pytestmark = pytest.mark.postgres

STUDY = """\
name: outage
space: {params: {x: {type: float, low: -3.0, high: 3.0}}}
objective: objective.py:f
objectives: {loss: minimize}
searcher: random
n_trials: N_TRIALS
seed: 0
"""

OBJECTIVE = """\
import time

def f(trial):
    time.sleep(0.05)
    return (trial.params["x"] - 1.0) ** 2
"""


def _setup(tmp_path, n_trials: int):
    (tmp_path / "objective.py").write_text(OBJECTIVE)
    path = tmp_path / "outage.yaml"
    path.write_text(STUDY.replace("N_TRIALS", str(n_trials)))
    return path


def _terminate_backends(admin, db: str) -> int:
    with admin.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_terminated_connections_are_retried(postgres_url, _postgres_admin, tmp_path) -> None:
    db = make_url(postgres_url).database
    study_file = _setup(tmp_path, 40)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nas", "worker", str(study_file), "--storage", postgres_url, "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = 0
    stop = threading.Event()

    def storm() -> None:
        nonlocal killed
        storage = nas.storage.RDBStorage(postgres_url)
        while not stop.is_set():  # start once trials run (not during schema creation)
            try:
                if any(t.state == "COMPLETE" for t in nas.load_study("outage", storage).trials):
                    break
            except KeyError:
                pass
            time.sleep(0.05)
        storage.dispose()
        while not stop.is_set():
            time.sleep(0.15)
            killed += _terminate_backends(_postgres_admin, db)

    thread = threading.Thread(target=storm, daemon=True)
    thread.start()
    try:
        _, err = proc.communicate(timeout=180)
    finally:
        stop.set()
        thread.join()
    assert proc.returncode == 0, err
    assert killed > 3  # connections really were cut while it ran
    trials = nas.load_study("outage", postgres_url).trials
    assert [t.number for t in trials] == list(range(40))
    assert all(t.state == nas.TrialState.COMPLETE for t in trials)


def test_an_outage_longer_than_the_budget_exits_cleanly(
    postgres_url, _postgres_admin, tmp_path
) -> None:
    db = make_url(postgres_url).database
    study_file = _setup(tmp_path, 400)
    env = {**os.environ, "NAS_DB_OUTAGE_SECONDS": "2"}
    args = [sys.executable, "-m", "nas", "worker", str(study_file), "--storage", postgres_url]
    proc = subprocess.Popen(
        [*args, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    storage = nas.storage.RDBStorage(postgres_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # let it finish a few trials first
        time.sleep(0.2)
        try:
            study = nas.load_study("outage", storage)
        except KeyError:
            continue
        if sum(t.state == "COMPLETE" for t in study.trials) >= 5:
            break
    storage.dispose()
    try:
        with _postgres_admin.connect() as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        _terminate_backends(_postgres_admin, db)
        _, err = proc.communicate(timeout=60)
    finally:
        with _postgres_admin.connect() as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "lost the database" in lines[0] and "for more than 2 s" in lines[0]
    before = {
        t.number: t.values for t in nas.load_study("outage", postgres_url).trials if t.values
    }
    assert len(before) >= 5
    # Back up: the same command finishes the study exactly; nothing stored before changed.
    done = subprocess.run(
        [*args, "-q", "--n-trials", "30"], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    trials = nas.load_study("outage", postgres_url).trials
    assert [t.number for t in trials] == list(range(max(30, len(trials))))
    assert all(t.state == nas.TrialState.COMPLETE for t in trials)
    assert all(trials[n].values == v for n, v in before.items())
