"""Ask and tell: trials evaluated outside :meth:`Study.optimize` -- by a loop of your own, a
simulator, a job on a cluster, a shell script (``nas ask`` / ``nas tell``).

:func:`ask` claims the next trial exactly as a worker of :meth:`Study.optimize` does
(:func:`~nas.study._optimize.next_trial`): a WAITING trial first (re-queued after its worker
died, or enqueued), else the searcher's next proposal, inserted only while the study holds fewer
than its total; dead workers' trials are given back on the way. The trial is RUNNING and owned
until it is told:

* by this process, which beats for it from a daemon thread (``lease=None``): when the process
  dies, the trial goes back to WAITING like any worker's (at once on the same host, after the
  heartbeat grace elsewhere) and is asked again with the same number and params;
* or by a *lease* of ``lease`` seconds (``nas ask``: the asking process exits at once): the
  trial is alive until the lease expires, then given back the same way.

:func:`tell` finishes it: with values (COMPLETE; a NaN or infinite value makes it FAILED with
the reason, as an objective returning one does; extra numbers are metrics; a constrained
study's constraints are evaluated), or ``state=PRUNED`` (stored with its last reported values)
or ``state=FAILED``. The first result told for a trial wins: one told after the trial was given
back is still recorded while the trial is unfinished (a WAITING trial is claimed and finished at
once; a trial asked again meanwhile is finished, and the second evaluation's tell is refused);
a tell for a finished trial is refused and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nas._attrs import RUN_ATTR
from nas._types import FrozenTrial, TrialState
from nas.exceptions import StudyConfigError, TrialNotRunningError
from nas.study._optimize import (
    IDLE,
    Outcome,
    next_trial,
    outcome_of_result,
    pruned_outcome,
    store_outcome,
)
from nas.study._trial import Trial
from nas.study._values import check_n_trials
from nas.study._worker import (
    HEARTBEAT_INTERVAL,
    Heartbeat,
    lease_worker_id,
    new_worker_id,
)

if TYPE_CHECKING:
    from nas.study._study import Study

__all__ = ["ask", "stored_total", "tell"]

#: Seconds between two looks at the study while :func:`ask` waits for something to propose.
_POLL = 0.2


def stored_total(study: Study) -> int | None:
    """The study's total number of trials as ``nas run`` recorded it (:data:`RUN_ATTR`), or
    ``None`` (no total recorded: no limit)."""
    run = study.user_attrs.get(RUN_ATTR)
    total = run.get("n_trials") if isinstance(run, Mapping) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def ask(
    study: Study,
    *,
    n_trials: int | None = None,
    lease: float | None = None,
    wait: float = 0.0,
) -> Trial | None:
    """Claim the next trial of ``study`` (module docstring for the semantics).

    Args:
        n_trials: the study's total number of trials; ``None``: the total ``nas run``
            recorded for it, if any, else no limit.
        lease: seconds the trial stays owned without a heartbeat (for a trial told by another
            process); ``None``: this process beats for it until :func:`tell`.
        wait: seconds to wait for a proposal while the searcher has none until pending trials
            finish (e.g. a generation of NSGA-II waiting on its last evaluations).

    Returns:
        The RUNNING trial (``trial.number``, ``trial.params``, ``trial.budget``; report and
        :meth:`~Trial.should_prune` work on it), or ``None`` when the study holds its total
        number of trials, or nothing can be proposed before pending trials are told.

    Raises:
        StudyConfigError: ``n_trials`` not an int ``>= 0``, ``lease`` not a number ``> 0``,
            ``wait`` negative.
    """
    total = stored_total(study) if n_trials is None else check_n_trials(n_trials, "n_trials")
    if lease is not None and (
        isinstance(lease, bool) or not isinstance(lease, int | float) or not lease > 0
    ):
        raise StudyConfigError(f"lease: must be a number of seconds > 0, got {lease!r}")
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not wait >= 0:
        raise StudyConfigError(f"wait: must be a number of seconds >= 0, got {wait!r}")
    worker_id = new_worker_id() if lease is None else lease_worker_id(float(lease))
    deadline = time.monotonic() + wait
    while True:
        claimed = next_trial(study, worker_id, total)
        if claimed is None:
            return None
        if claimed is not IDLE:
            break
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
    assert isinstance(claimed, FrozenTrial)
    trial = Trial(study, claimed, worker_id)
    if lease is None:
        beat = Heartbeat(study.storage, claimed.trial_id, worker_id, HEARTBEAT_INTERVAL)
        beat.__enter__()
        study._asked[claimed.number] = (trial, beat)
    return trial


def tell(
    study: Study,
    trial: Trial | int,
    values: Any = None,
    *,
    state: TrialState | str | None = None,
    reason: str | None = None,
) -> FrozenTrial:
    """Finish an asked trial (module docstring for the semantics).

    Args:
        trial: the :class:`Trial` from :func:`ask`, or its number.
        values: the objective's result -- a number (one objective), a sequence (one per
            objective), or a mapping name -> value whose other keys are metrics -- for a
            COMPLETE trial; ``None`` with ``state``.
        state: ``"PRUNED"`` or ``"FAILED"`` instead of values (``"COMPLETE"`` needs values).
        reason: stored with a PRUNED or FAILED trial (default: says it was told so).

    Returns:
        The finished trial.

    Raises:
        StudyConfigError: neither or both of ``values`` and a PRUNED/FAILED ``state``; an
            unknown state; values of the wrong shape (a missing or unknown objective, not a
            number) -- nothing is written, the trial stays RUNNING; no trial of that number.
        TrialNotRunningError: the trial is finished already, or asked again by another
            worker since it was given back (nothing is written).
    """
    number = trial.number if isinstance(trial, Trial) else trial
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise StudyConfigError(f"trial: must be a Trial or a trial number >= 0, got {trial!r}")
    final = _state(state, values)
    history = study.trials
    if number >= len(history):
        raise StudyConfigError(
            f"study {study.name!r} has no trial {number} (it has {len(history)} trials)"
        )
    frozen = history[number]
    handle = trial if isinstance(trial, Trial) else None
    asked = study._asked.get(number)
    if handle is None and asked is not None:
        handle = asked[0]
    if handle is None:  # told by number from another process: what the trial holds
        handle = Trial(study, frozen, frozen.worker_id or "")
    outcome = _outcome(study, handle, final, values, reason)
    owner = _take(study, frozen)
    try:
        finished = store_outcome(study, frozen.trial_id, owner, outcome)
    except TrialNotRunningError:
        fresh = study.storage.get_trial(frozen.trial_id)
        raise TrialNotRunningError(_refusal(study, fresh)) from None
    if asked is not None:
        study._asked.pop(number, None)
        asked[1].__exit__(None, None, None)
    return finished


def _state(state: TrialState | str | None, values: Any) -> TrialState:
    if state is None:
        if values is None:
            raise StudyConfigError("tell: give the values, or state PRUNED or FAILED")
        return TrialState.COMPLETE
    try:
        final = TrialState(str(state).upper())
    except ValueError:
        raise StudyConfigError(
            f"tell: state must be COMPLETE, PRUNED or FAILED, got {state!r}"
        ) from None
    if not final.is_finished:
        raise StudyConfigError(f"tell: state must be COMPLETE, PRUNED or FAILED, got {state!r}")
    if final is TrialState.COMPLETE and values is None:
        raise StudyConfigError("tell: a COMPLETE trial needs its values")
    if final is not TrialState.COMPLETE and values is not None:
        raise StudyConfigError(
            f"tell: a {final.value} trial takes no values (a PRUNED one keeps its last "
            "reported values)"
        )
    return final


def _outcome(
    study: Study, trial: Trial, final: TrialState, values: Any, reason: str | None
) -> Outcome:
    if final is TrialState.PRUNED:
        return pruned_outcome(trial, reason or trial.prune_reason or "told PRUNED")
    if final is TrialState.FAILED:
        return Outcome(TrialState.FAILED, reason=reason or "told FAILED")
    outcome = outcome_of_result(study, values)
    if outcome.state is TrialState.FAILED and not _non_finite(outcome.reason):
        # The caller's mistake (a missing objective, a string): refuse, change nothing.
        raise StudyConfigError(f"tell: trial {trial.number}: {outcome.reason}")
    return outcome


def _non_finite(reason: str | None) -> bool:
    """Whether a FAILED outcome's reason is a non-finite objective value (the trial's result,
    stored FAILED) rather than a malformed one (refused)."""
    return bool(reason) and "not a finite number" in str(reason)


def _take(study: Study, frozen: FrozenTrial) -> str | None:
    """The owner to finish ``frozen`` as: its worker while RUNNING; for a WAITING trial (given
    back since it was asked), a claim made now."""
    if frozen.state is TrialState.RUNNING:
        return frozen.worker_id
    if frozen.state is TrialState.WAITING:
        worker_id = new_worker_id()
        claimed = study.storage.claim_trial(frozen.trial_id, worker_id)
        if claimed is not None:
            return worker_id
        frozen = study.storage.get_trial(frozen.trial_id)
    raise TrialNotRunningError(_refusal(study, frozen))


def _refusal(study: Study, frozen: FrozenTrial) -> str:
    if frozen.state.is_finished:
        return (
            f"trial {frozen.number} of study {study.name!r} is already {frozen.state.value} "
            "(a result was recorded first)"
        )
    return (
        f"trial {frozen.number} of study {study.name!r} changed hands while it was told (now "
        f"{frozen.state.value}, worker {frozen.worker_id}); tell it again"
    )
