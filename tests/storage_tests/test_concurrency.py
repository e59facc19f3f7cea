"""Real concurrency: several spawned processes (and threads) on one SQLite file / PostgreSQL DB."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sqlite3
import threading
import time
from typing import Any

from nas._types import Proposal, TrialState
from nas.storage import HEAD_REVISION, RDBStorage, current_revision
from nas.testing.storage import (
    claim_worker_loop,
    endless_writer,
    make_study,
    open_and_create_study,
)

N_PROCESSES = 4
MAX_TRIALS = 40
TIMEOUT = 60.0


def _run_processes(target: Any, args_per_process: list[tuple[Any, ...]]) -> list[Any]:
    """Start one spawned process per args tuple; collect what each puts on the queue.

    The processes meet at a barrier after their (slow) start-up, so that they really run
    their loops at the same time.
    """
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(len(args_per_process) + 1), ctx.Queue()
    processes = [ctx.Process(target=target, args=(*a, start, results)) for a in args_per_process]
    for p in processes:
        p.start()
    start.wait(timeout=TIMEOUT)
    collected: list[Any] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(collected) < len(processes) and time.monotonic() < deadline:
            try:
                collected.append(results.get(timeout=0.2))
            except queue.Empty:  # a child that crashed before reporting must not stall us
                if not any(p.is_alive() for p in processes) and results.empty():
                    break
    finally:
        for p in processes:
            p.join(timeout=TIMEOUT)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in processes] == [0] * len(processes)
    assert len(collected) == len(processes), collected
    return collected


def _check_exactly_once(storage: RDBStorage, study_id: int, claims: dict[str, list[int]]) -> None:
    trials = storage.get_trials(study_id)
    assert [t.number for t in trials] == list(range(MAX_TRIALS))  # no gap, no duplicate
    assert all(t.state is TrialState.COMPLETE for t in trials)
    all_claims = [trial_id for ids in claims.values() for trial_id in ids]
    assert sorted(all_claims) == sorted(t.trial_id for t in trials)  # each claimed once
    owner = {trial_id: worker for worker, ids in claims.items() for trial_id in ids}
    assert all(t.worker_id == owner[t.trial_id] for t in trials)
    assert all(t.values["loss"] == float(t.number) for t in trials)
    assert storage.get_study(study_id).next_trial_number == MAX_TRIALS


def test_processes_number_and_claim_each_trial_exactly_once(storage_url: str) -> None:
    storage = RDBStorage(storage_url)
    study_id = make_study(storage)
    results = _run_processes(
        claim_worker_loop,
        [(storage_url, study_id, f"w{i}", MAX_TRIALS, 3, 0.01) for i in range(N_PROCESSES)],
    )
    claims = dict(results)
    assert not [r for r in claims.values() if isinstance(r, str)], claims
    _check_exactly_once(storage, study_id, claims)
    # The processes really competed (a serial run would pass the checks above trivially).
    assert sum(1 for ids in claims.values() if ids) >= 2, {w: len(i) for w, i in claims.items()}
    storage.dispose()


def test_threads_sharing_one_storage(storage_url: str) -> None:
    storage = RDBStorage(storage_url)
    study_id = make_study(storage)
    claims: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(worker: str) -> None:
        mine: list[int] = []
        try:
            for _ in range(2 * MAX_TRIALS):
                trial = storage.claim_waiting_trial(study_id, worker)
                if trial is None:
                    _, trial = storage.add_trials(
                        study_id,
                        [Proposal({"k": k}) for k in range(2)],
                        max_trials=MAX_TRIALS,
                        claim_worker=worker,
                    )
                    if trial is None:
                        break
                values = {0: float(trial.number), 1: 0.0}
                storage.finish_trial(trial.trial_id, TrialState.COMPLETE, values=values)
                mine.append(trial.trial_id)
        except BaseException as e:  # collected and asserted below
            errors.append(e)
        claims[worker] = mine

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(N_PROCESSES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    assert errors == []
    _check_exactly_once(storage, study_id, claims)
    storage.dispose()


def test_processes_creating_the_same_new_database(storage_url: str) -> None:
    names = [f"study-{i}" for i in range(N_PROCESSES)]
    results = dict(_run_processes(open_and_create_study, [(storage_url, n) for n in names]))
    assert not [r for r in results.values() if isinstance(r, str)], results
    assert current_revision(storage_url) == HEAD_REVISION
    storage = RDBStorage(storage_url)
    assert {s.name: s.study_id for s in storage.list_studies()} == results
    storage.dispose()


def test_sigkill_while_writing_keeps_every_committed_trial(sqlite_url: str) -> None:
    storage = RDBStorage(sqlite_url)
    study_id = make_study(storage)
    ctx = multiprocessing.get_context("spawn")
    # No lock: the writer is SIGKILLed, possibly while holding it, and reading a locked Value
    # would then block forever. One writer, one int: the unlocked read is safe.
    committed = ctx.Value("i", 0, lock=False)
    process = ctx.Process(target=endless_writer, args=(sqlite_url, study_id, committed))
    process.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while committed.value < 15 and process.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.is_alive(), f"writer died on its own (exit code {process.exitcode})"
        assert committed.value >= 15, "writer too slow"
        os.kill(process.pid, signal.SIGKILL)  # most likely in the middle of a transaction
        process.join(timeout=TIMEOUT)
    finally:
        if process.is_alive():
            process.kill()
    assert process.exitcode == -signal.SIGKILL
    known = committed.value

    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    storage.dispose()
    reopened = RDBStorage(sqlite_url)
    trials = reopened.get_trials(study_id)
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(trials)))
    finished = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(finished) >= known  # nothing committed was lost
    for t in finished:  # and each committed trial is whole
        assert t.values == {"loss": float(t.number), "accuracy": 1.0}
        assert t.intermediate_values == {"loss": {0: float(t.number)}}
        assert t.params == {"x": t.number / 7, "blob": "y" * 2000}
    # An interrupted trial is at most RUNNING (the kill hit before its finish committed).
    assert all(t.state is TrialState.RUNNING for t in trials[len(finished) :])
    assert len(trials) - len(finished) <= 1
    inserted, _ = reopened.add_trials(study_id, [Proposal({"x": 0.0})])
    assert inserted[0].number == len(trials)
    reopened.dispose()
