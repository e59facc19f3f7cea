"""The runner: ask -> evaluate -> tell, for one worker of a study.

One step of the loop:

1. Re-queue RUNNING trials whose worker is dead (same number, same params); a trial whose
   workers already died ``max_restarts`` times while running it is marked FAILED instead, with
   the reason (a trial that crashes its process every time must not take the study down).
2. Claim the lowest-numbered WAITING trial if any (re-queued, enqueued by a user, or the extra
   proposals of a batch searcher).
3. Otherwise ask the searcher with the whole history (pending trials included) and insert its
   proposals atomically, claiming the first. The insert is conditional on the history the
   searcher saw still being current (``expected_next_number``); if another worker added trials
   meanwhile the step is retried with the fresh history, a bounded number of times.
4. Evaluate the objective under a heartbeat and store the outcome.

With one worker this makes the proposal sequence a pure function of the seed and the results,
so a study killed at any moment and resumed proposes exactly what an uninterrupted run would.
"""

from __future__ import annotations

import math
import signal
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nas._types import FrozenTrial, TrialState
from nas.exceptions import TrialFailed, TrialNotRunningError, TrialPruned
from nas.storage import StaleHistoryError
from nas.study._trial import Trial, normalize_result
from nas.study._worker import (
    HEARTBEAT_GRACE,
    HEARTBEAT_INTERVAL,
    Heartbeat,
    is_worker_dead,
    new_worker_id,
)

if TYPE_CHECKING:
    from nas.study._study import Callback, ObjectiveFunc, Study

__all__ = [
    "Outcome",
    "next_trial",
    "outcome_of_result",
    "pruned_outcome",
    "requeue_dead_trials",
    "run_worker",
    "store_outcome",
]

#: Attempts to insert proposals against a fresh history before accepting a stale one.
MAX_STALE_RETRIES = 5
#: Seconds to wait before asking again when the searcher has nothing to propose.
IDLE_POLL = 0.5
#: Re-queues of one trial after its worker died, before it is marked FAILED instead.
MAX_RESTARTS = 3


def requeue_dead_trials(
    study: Study,
    history: Sequence[FrozenTrial],
    worker_id: str,
    grace: float = HEARTBEAT_GRACE,
    max_restarts: int = MAX_RESTARTS,
) -> list[int]:
    """Put RUNNING trials of dead workers back to WAITING; returns their trial ids.

    ``worker_id`` calls this between trials, so a RUNNING trial it owns is an orphan (its
    claim committed but the reply was lost with the connection) and is re-queued too.

    A dead worker's trial that was already re-queued ``max_restarts`` times is marked FAILED
    instead (not in the returned ids), its reason naming the count and the last worker.

    ``history`` must be fresh (unfinished trials are re-read on every refresh, so their owner
    and heartbeat are current); the re-queue itself is a compare-and-swap on the owner.
    """
    now = datetime.now(UTC)
    requeued = []
    for t in history:
        if t.state != TrialState.RUNNING:
            continue
        if t.worker_id == worker_id:
            # Ours while we are between trials: claimed by a commit whose reply was lost (the
            # connection dropped). Nobody runs it: give it back.
            if study.storage.requeue_trial(t.trial_id, worker_id):
                requeued.append(t.trial_id)
            continue
        last_seen = t.heartbeat or t.datetime_start
        if not is_worker_dead(t.worker_id, last_seen, now=now, grace=grace):
            continue
        if t.restarts >= max_restarts:
            study.storage.abandon_trial(
                t.trial_id,
                t.worker_id,
                f"abandoned: the worker running this trial died {t.restarts + 1} times "
                f"(max_restarts={max_restarts}; last worker {t.worker_id}, last seen "
                f"{last_seen.isoformat(timespec='seconds') if last_seen else 'never'}); "
                "the objective may crash its process (out of memory, a native crash)",
            )
        elif study.storage.requeue_trial(t.trial_id, t.worker_id):
            requeued.append(t.trial_id)
    return requeued


class InterruptWatch:
    """Notices SIGINT during a trial even when the objective swallows ``KeyboardInterrupt``.

    Some libraries catch ``KeyboardInterrupt`` and carry on (scikit-learn's MLP stops training
    early and returns a half-trained model). Such a trial's result is not a real result: the
    runner discards it, re-queues the trial and stops. Installed only in the main thread (where
    Python delivers signals); elsewhere :attr:`interrupted` stays False.
    """

    def __init__(self) -> None:
        self.interrupted = False
        self._previous: Any = None
        self._installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        self.interrupted = True
        previous = self._previous
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> InterruptWatch:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            if self._previous is not signal.SIG_IGN:
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


class _Idle:
    """Sentinel: nothing to run right now, but other workers' trials may unblock the searcher."""


IDLE = _Idle()


def next_trial(
    study: Study,
    worker_id: str,
    n_trials: int | None,
    grace: float = HEARTBEAT_GRACE,
    max_restarts: int = MAX_RESTARTS,
) -> FrozenTrial | _Idle | None:
    """Claim the next trial for ``worker_id``.

    Returns:
        the claimed RUNNING trial; :data:`IDLE` when the searcher proposed nothing while other
        trials are pending; ``None`` when the study has reached ``n_trials`` (or the searcher
        is exhausted with nothing pending).
    """
    storage = study.storage
    for attempt in range(MAX_STALE_RETRIES + 1):
        history = study.trials
        unfinished = history[study._watermark :]  # everything before it is finished
        requeued = requeue_dead_trials(study, unfinished, worker_id, grace, max_restarts)
        if requeued or any(t.state == TrialState.WAITING for t in unfinished):
            claimed = storage.claim_waiting_trial(study.study_id, worker_id)
            if claimed is not None:
                return claimed
            history = study.trials  # another worker took them meanwhile
        if n_trials is not None and len(history) >= n_trials:
            return None
        proposals = study.searcher.propose(history, 1)
        if not proposals:
            busy = any(not t.state.is_finished for t in history)
            return IDLE if busy else None
        for p in proposals:  # a searcher bug must not write invalid params
            study.space.validate(p.params)
        expected = len(history) if attempt < MAX_STALE_RETRIES else None
        try:
            inserted, claimed = storage.add_trials(
                study.study_id,
                proposals,
                expected_next_number=expected,
                max_trials=n_trials,
                claim_worker=worker_id,
            )
        except StaleHistoryError:
            # Another worker added trials meanwhile; its WAITING extras may be ours to run.
            claimed = storage.claim_waiting_trial(study.study_id, worker_id)
            if claimed is not None:
                return claimed
            continue
        for t in inserted:
            study._remember(t)
        if claimed is not None:
            study._remember(claimed)
            return claimed
        return None  # truncated to nothing: the study is full
    return None


@dataclass
class Outcome:
    """How a trial ends: what :func:`store_outcome` writes.

    Attributes:
        state: COMPLETE, PRUNED or FAILED.
        values: objective name -> value (every objective for COMPLETE; the last reported
            values for PRUNED), or ``None``.
        reason: the failure or pruning reason.
        metrics, violations, infeasible: as :meth:`RDBStorage.finish_trial` stores them.
    """

    state: TrialState
    values: dict[str, float] | None = None
    reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    violations: tuple[float, ...] = ()
    infeasible: str | None = None


def outcome_of_result(study: Study, result: Any) -> Outcome:
    """The outcome of an objective's return value: COMPLETE with its values and metrics, and
    in a constrained study its constraint values; FAILED with the reason for a value of the
    wrong shape, a non-finite value, or constraints that could not be evaluated."""
    values, metrics, reason = normalize_result(result, [o.name for o in study.objectives])
    if values is None:
        return Outcome(TrialState.FAILED, reason=reason)
    if study.constraints is None:
        return Outcome(TrialState.COMPLETE, values, metrics=metrics)
    try:
        violations, infeasible = study.constraints.evaluate({**metrics, **values})
    except Exception:
        reason = "evaluating the constraints failed:\n" + traceback.format_exc()
        return Outcome(TrialState.FAILED, reason=reason)
    return Outcome(TrialState.COMPLETE, values, None, metrics, violations, infeasible)


def store_outcome(
    study: Study, trial_id: int, worker_id: str | None, outcome: Outcome
) -> FrozenTrial:
    """Finish the RUNNING trial ``trial_id`` (owned by ``worker_id`` unless ``None``) with
    ``outcome``, and remember it in ``study``'s cache.

    Raises:
        TrialNotRunningError: it is not RUNNING for ``worker_id`` (re-queued meanwhile).
    """
    index = {o.name: i for i, o in enumerate(study.objectives)}
    values = outcome.values
    finished = study.storage.finish_trial(
        trial_id,
        outcome.state,
        values=None if values is None else {index[k]: v for k, v in values.items()},
        failure_reason=outcome.reason,
        worker_id=worker_id,
        metrics=outcome.metrics,
        constraint_values=outcome.violations,
        infeasible_reason=outcome.infeasible,
    )
    study._remember(finished)
    return finished


def pruned_outcome(trial: Trial, message: str = "") -> Outcome:
    """PRUNED with the trial's last reported values and ``message``, else the pruner's reason."""
    reason = message or trial.prune_reason or "pruned by the objective"
    return Outcome(TrialState.PRUNED, trial.last_values() or None, reason)


def _evaluate(
    study: Study,
    objective: ObjectiveFunc,
    frozen: FrozenTrial,
    worker_id: str,
    interval: float,
    watch: InterruptWatch,
) -> FrozenTrial | None:
    """Run the objective on a claimed trial and store the outcome.

    Returns the finished trial, or ``None`` when the trial was taken from us meanwhile.

    Raises:
        KeyboardInterrupt: on Ctrl-C during the trial, swallowed by the objective or not; the
            trial is back to WAITING first.
    """
    trial = Trial(study, frozen, worker_id)
    heartbeat = Heartbeat(study.storage, frozen.trial_id, worker_id, interval)
    try:
        with heartbeat:
            result = objective(trial)
    except TrialPruned as e:
        outcome = pruned_outcome(trial, str(e))
    except TrialFailed as e:  # the reason is the whole story (e.g. a program's stderr)
        outcome = Outcome(TrialState.FAILED, reason=str(e) or "failed (TrialFailed)")
    except Exception:
        outcome = Outcome(TrialState.FAILED, reason=traceback.format_exc())
    except BaseException:
        # KeyboardInterrupt / SystemExit: give the trial back so a resume re-runs it.
        study.storage.requeue_trial(frozen.trial_id, worker_id)
        raise
    else:
        outcome = outcome_of_result(study, result)
    if watch.interrupted:  # the objective swallowed Ctrl-C: its outcome is not trustworthy
        study.storage.requeue_trial(frozen.trial_id, worker_id)
        raise KeyboardInterrupt
    try:
        return store_outcome(study, frozen.trial_id, worker_id, outcome)
    except TrialNotRunningError:
        return None  # presumed dead and re-queued by another worker; its re-run wins


def run_worker(
    study: Study,
    objective: ObjectiveFunc,
    *,
    n_trials: int | None,
    timeout: float | None,
    callbacks: Sequence[Callback] = (),
    heartbeat_interval: float | None = None,
    heartbeat_grace: float | None = None,
    worker_id: str | None = None,
    max_restarts: int = MAX_RESTARTS,
) -> int:
    """Run trials until the study total ``n_trials`` is reached, ``timeout`` passes, or none left.

    Returns:
        The number of trials this worker finished.
    """
    worker_id = worker_id or new_worker_id()
    interval = HEARTBEAT_INTERVAL if heartbeat_interval is None else heartbeat_interval
    grace = HEARTBEAT_GRACE if heartbeat_grace is None else heartbeat_grace
    deadline = math.inf if timeout is None else time.monotonic() + timeout
    done = 0
    study._stop_requested = False
    with InterruptWatch() as watch:
        while time.monotonic() < deadline and not study._stop_requested:
            claimed = next_trial(study, worker_id, n_trials, grace, max_restarts)
            if claimed is None:
                break
            if isinstance(claimed, _Idle):
                time.sleep(min(IDLE_POLL, max(0.0, deadline - time.monotonic())))
                continue
            finished = _evaluate(study, objective, claimed, worker_id, interval, watch)
            if finished is None:
                continue
            done += 1
            for cb in callbacks:
                cb(study, finished)
    return done
