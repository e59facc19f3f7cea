"""The bodies of the multi-process storage tests.

They live in an importable module because ``spawn`` children import their target by name.
"""

from __future__ import annotations

import time
from typing import Any

from nas._types import Proposal, TrialState
from nas.storage import RDBStorage
from nas.testing.storage._base import make_study

__all__ = ["claim_worker_loop", "endless_writer", "open_and_create_study"]


def claim_worker_loop(
    url: str,
    study_id: int,
    worker_id: str,
    max_trials: int,
    batch: int,
    work_seconds: float,
    start: Any,
    results: Any,
) -> None:
    """Body of one process of the concurrency test: claim or add, then finish, until full.

    Loops: claim a WAITING trial; if none, ``add_trials(batch proposals, max_trials,
    claim_worker)``; "evaluate" it (sleep ``work_seconds``, which lets the other processes
    take the SQLite lock: a busy-waiting writer otherwise sleeps while the holder re-acquires
    the lock); finish it as COMPLETE. Stops when neither call yields a trial.
    Puts ``(worker_id, [claimed trial ids])`` on ``results`` (or ``(worker_id, "error")``).

    Args:
        url: storage URL.
        study_id: the shared study.
        worker_id: this worker's id.
        max_trials: the study's cap.
        batch: proposals per ``add_trials`` call (the extras stay WAITING for others).
        work_seconds: simulated evaluation time per trial.
        start: a ``multiprocessing.Barrier`` (or Event) all workers wait on, to start
            together once the storage is open.
        results: a ``multiprocessing.Queue``.
    """
    storage = RDBStorage(url)
    claimed: list[int] = []
    try:
        start.wait(timeout=60)
        for _ in range(10 * max_trials + 10):  # bounded: each turn finishes a trial or stops
            trial = storage.claim_waiting_trial(study_id, worker_id)
            if trial is None:
                _, trial = storage.add_trials(
                    study_id,
                    [Proposal({"worker": worker_id, "k": k}) for k in range(batch)],
                    max_trials=max_trials,
                    claim_worker=worker_id,
                )
                if trial is None:
                    break
            time.sleep(work_seconds)
            storage.finish_trial(
                trial.trial_id,
                TrialState.COMPLETE,
                values={0: float(trial.number), 1: 0.0},
                worker_id=worker_id,
            )
            claimed.append(trial.trial_id)
        results.put((worker_id, claimed))
    except Exception as e:  # report instead of dying silently in the child
        results.put((worker_id, f"error: {type(e).__name__}: {e}"))
    finally:
        storage.dispose()


def endless_writer(url: str, study_id: int, committed: Any) -> None:
    """Add, claim, report and finish trials forever; the test SIGKILLs this process.

    After each finished trial commits, ``committed.value`` (a ``multiprocessing.Value('i')``)
    is set to the number of trials finished so far.
    """
    storage = RDBStorage(url)
    done = 0
    while True:
        _, trial = storage.add_trials(
            study_id, [Proposal({"x": done / 7, "blob": "y" * 2000})], claim_worker="victim"
        )
        if trial is None:
            raise RuntimeError("add_trials with claim_worker and no max_trials claimed nothing")
        storage.report(trial.trial_id, 0, {0: float(done)})
        storage.finish_trial(trial.trial_id, TrialState.COMPLETE, values={0: float(done), 1: 1.0})
        done += 1
        committed.value = done


def open_and_create_study(url: str, name: str, start: Any, results: Any) -> None:
    """Open a storage on ``url`` (possibly creating the schema) and create study ``name``.

    Used by the test in which several processes open the same new database at once (they
    meet at ``start``, a ``multiprocessing.Barrier`` or Event, first). Puts
    ``(name, study_id)`` or ``(name, "error: ...")`` on ``results``.
    """
    try:
        start.wait(timeout=60)
        storage = RDBStorage(url)
        try:
            results.put((name, make_study(storage, name)))
        finally:
            storage.dispose()
    except Exception as e:  # report instead of dying silently in the child
        results.put((name, f"error: {type(e).__name__}: {e}"))
