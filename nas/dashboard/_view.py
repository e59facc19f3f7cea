"""The dashboard's in-memory, incrementally refreshed copy of each study it shows.

A :class:`StudyView` holds one snapshot per trial, indexed by trial number, and refreshes from the
database by asking only for the trials stamped (``trials.updated_at``) since the later of its
*database cursor* (the largest stamp it has seen) and the start of its previous refresh, minus
:data:`OVERLAP`: concurrent writers on PostgreSQL commit out of timestamp order, and writer
machines' clocks differ a little, so a trial stamped just before may become visible after.
Re-read trials are compared with the cached snapshot and only those that really changed get a new
*change number* (``seq``), a counter local to this process. Browsers poll with the last ``seq``
they saw and get exactly the trials changed since (:meth:`StudyView.changes`): neither the
database nor the network carries all trials per poll.

Heartbeats do not bump ``updated_at`` (see ``RDBStorage.heartbeat``), so a running trial is not
re-read on every poll.

Thread safety: FastAPI runs the synchronous endpoints in a thread pool; every method takes the
view's lock. Views are created lazily by :class:`Views` and refreshed at most every
:data:`MIN_REFRESH_SECONDS` whatever the number of polling browsers.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import numpy as np

from nas._attrs import EXCLUDED_ATTR, NOTE_ATTR
from nas._types import FrozenTrial, TrialState
from nas.exceptions import NasError
from nas.storage import RDBStorage, StudyRecord
from nas.study._study import highest_fidelity

__all__ = [
    "EXCLUDED_ATTR",
    "MIN_REFRESH_SECONDS",
    "NOTE_ATTR",
    "OVERLAP",
    "StudyView",
    "Views",
    "excluded_reason",
    "is_nas_study",
]

T = TypeVar("T")

#: How far behind its database cursor a refresh re-reads (covers out-of-order commits and small
#: clock differences between writer machines).
OVERLAP = timedelta(seconds=5)
#: A view refreshes from the database at most this often (seconds), however many polls arrive.
MIN_REFRESH_SECONDS = 0.2
#: Memoised results kept per study (plots, fronts, table queries); the oldest goes first.
MAX_DERIVED = 64
# EXCLUDED_ATTR (trial: why it is excluded from the analyses; ``None``: included again; set with
# ``--allow-write``) and NOTE_ATTR (study: the free-text note) come from the table in nas._attrs.


def excluded_reason(trial: FrozenTrial) -> str | None:
    """The reason the trial was excluded from analyses, or ``None`` if it is included."""
    value = trial.user_attrs.get(EXCLUDED_ATTR)
    return value if isinstance(value, str) else None


def is_nas_study(record: StudyRecord) -> bool:
    """True for an architecture-search study: its typed objective (dispatched on its stored
    type through :data:`nas.study.OBJECTIVE_TYPES`) produces architectures (its trials carry an
    ``arch`` attribute)."""
    from nas.study._objectives import OBJECTIVE_TYPES, stored_definition

    definition = stored_definition(record.user_attrs)
    kind = definition.get("type") if definition is not None else None
    if not isinstance(kind, str) or kind not in OBJECTIVE_TYPES:
        return False
    return bool(getattr(OBJECTIVE_TYPES.get(kind), "produces_architectures", False))


@dataclass
class _Derived:
    seq: int
    value: Any
    at: float  # time.monotonic() of the computation


@dataclass
class StudyView:
    """Cached trials of one study (see the module docstring).

    Attributes:
        storage: where the study lives.
        study_id: the study.
        clock: the time now (aware UTC), read at the start of each refresh.
        record: the study's definition and user attributes as of the last refresh.
        trials: snapshot of trial ``n`` at index ``n`` (``None`` for a number not read yet).
        seq: the change number of the latest change seen (0 before the first load).
    """

    storage: RDBStorage
    study_id: int
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)
    record: StudyRecord | None = None
    trials: list[FrozenTrial | None] = field(default_factory=list)
    seq: int = 0
    _seq_of: list[int] = field(default_factory=list)
    _record_seq: int = 0
    _cursor: datetime | None = None
    _previous_start: datetime | None = None
    _refreshed_at: float = -math.inf
    _derived: dict[Any, _Derived] = field(default_factory=dict)
    _key_locks: dict[Any, threading.Lock] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # ------------------------------------------------------------------ refresh
    def refresh(self, *, force: bool = False) -> StudyView:
        """Read what changed in the database since the last refresh (at most every
        :data:`MIN_REFRESH_SECONDS` unless ``force``). Returns ``self``.

        Raises:
            StudyNotFoundError: the study was deleted.
            StorageError: the database could not be read.
        """
        with self._lock:
            now = time.monotonic()
            if not force and now - self._refreshed_at < MIN_REFRESH_SECONDS:
                return self
            started = self.clock()
            record = self.storage.get_study(self.study_id)
            if self._cursor is None:
                fresh = self.storage.get_trials(self.study_id)
            else:
                # Whatever was stamped before the previous refresh began (minus the overlap)
                # was read then: an idle study costs an empty read, not its last 5 s of writes.
                since = max(self._cursor, self._previous_start or self._cursor) - OVERLAP
                fresh = self.storage.get_trials(self.study_id, updated_since=since)
            self._previous_start = started
            # The trial counter moves with every new trial; only a change of the study itself
            # (name, note, attributes) counts as a study change.
            if self.record is None or replace(record, next_trial_number=0) != replace(
                self.record, next_trial_number=0
            ):
                self.seq += 1
                self._record_seq = self.seq
                self.record = record
            for trial in fresh:
                self._store(trial)
            self._refreshed_at = now
            return self

    def _store(self, trial: FrozenTrial) -> None:
        n = trial.number
        while len(self.trials) <= n:
            # Numbers are dense (allocated atomically): a gap is filled by a later row of the
            # same refresh, or by the next one if its trial committed late.
            self.trials.append(None)
            self._seq_of.append(-1)
        # Equal snapshots (a re-read inside the overlap) keep their change number.
        if self.trials[n] != trial:
            self.seq += 1
            self.trials[n] = trial
            self._seq_of[n] = self.seq
        stamp = trial.datetime_updated
        if stamp is not None and (self._cursor is None or stamp > self._cursor):
            self._cursor = stamp

    # ------------------------------------------------------------------ queries
    def changes(self, since: int) -> tuple[list[FrozenTrial], bool]:
        """Trials changed after change number ``since``, by number, and whether the study's own
        record (name, note, attributes) changed too."""
        with self._lock:
            seq_of = np.asarray(self._seq_of, dtype=np.int64)
            idx = np.flatnonzero(seq_of > since)
            changed = [self.trials[i] for i in idx.tolist()]
            return [t for t in changed if t is not None], self._record_seq > since

    def snapshot(self) -> tuple[StudyRecord, list[FrozenTrial], int]:
        """The record, every trial (by number) and the change number, consistently."""
        with self._lock:
            assert self.record is not None
            return self.record, [t for t in self.trials if t is not None], self.seq

    def trial(self, number: int) -> FrozenTrial | None:
        """Trial ``number``, or ``None`` if the study has no such trial (yet)."""
        with self._lock:
            return self.trials[number] if 0 <= number < len(self.trials) else None

    def derived(
        self,
        key: Any,
        compute: Callable[[StudyRecord, list[FrozenTrial]], T],
        *,
        max_age: float = 0.0,
    ) -> T:
        """``compute(record, trials)``, memoised until the next change of the study.

        Only the latest value per key is kept. ``compute`` runs outside the view's lock on a
        consistent snapshot, so a slow computation (parameter importance) never blocks polls;
        concurrent callers of the same key wait for one computation instead of repeating it.

        Args:
            max_age: seconds a value may be served after the study changed (for expensive
                results of a running study: at most one computation per ``max_age``).
        """
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._derived.get(key)
                if hit is not None and (
                    hit.seq == self.seq or time.monotonic() - hit.at < max_age
                ):
                    return hit.value  # type: ignore[no-any-return]
                record, trials, seq = self.snapshot()
            value = compute(record, trials)
            with self._lock:
                self._derived[key] = _Derived(seq, value, time.monotonic())
                if len(self._derived) > MAX_DERIVED:  # many distinct table queries
                    oldest = min(self._derived, key=lambda k: self._derived[k].at)
                    del self._derived[oldest]
                    self._key_locks.pop(oldest, None)
            return value

    def forget_derived(self) -> None:
        """Drop every memoised result (after a write that must show at once)."""
        with self._lock:
            self._derived.clear()

    def derived_seq(self, key: Any) -> int:
        """The change number the latest :meth:`derived` value of ``key`` was computed at
        (-1 if none)."""
        with self._lock:
            hit = self._derived.get(key)
            return -1 if hit is None else hit.seq

    def final_trials(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        """The included COMPLETE trials results are reported from: in a multi-fidelity study,
        those at the largest budget reached (as :meth:`nas.study.Study.final_trials`)."""
        return highest_fidelity(
            [
                t
                for t in trials
                if t.state is TrialState.COMPLETE and excluded_reason(t) is None and t.values
            ]
        )


class Views:
    """One :class:`StudyView` per study id, created on first use, dropped with its study.

    ``instance`` is a random token of this server process: change numbers are only meaningful
    with it, so a browser that polls a restarted server learns it must reload.
    """

    def __init__(self, storage: RDBStorage) -> None:
        self.storage = storage
        self.instance = secrets.token_hex(6)
        self._views: dict[int, StudyView] = {}
        self._lock = threading.Lock()

    def get(self, study_id: int) -> StudyView:
        """The refreshed view of the study.

        Raises:
            StudyNotFoundError: no such study (its view, if any, is dropped).
        """
        with self._lock:
            view = self._views.get(study_id)
            if view is None:
                view = self._views[study_id] = StudyView(self.storage, study_id)
        try:
            return view.refresh()
        except KeyError:
            self.drop(study_id)
            raise

    def preload(self, max_trials: int = 100_000) -> None:
        """Load the views of the most recently updated studies, up to ``max_trials`` trials in
        all, so that the first page view of a freshly started server does not pay for reading a
        large study (run it in a background thread; errors are left for the pages to report)."""
        try:
            summaries = sorted(self.storage.list_studies(), key=lambda s: s.last_update)
        except NasError:
            return
        budget = max_trials
        for summary in reversed(summaries):
            if summary.n_trials > budget:
                continue
            budget -= summary.n_trials
            try:
                self.get(summary.study_id)
            except (NasError, KeyError):
                continue
        import sklearn.ensemble  # noqa: F401 - warm the import behind parameter importance

    def peek(self, study_id: int) -> StudyView | None:
        """The view if one was loaded already (no database access)."""
        with self._lock:
            return self._views.get(study_id)

    def drop(self, study_id: int) -> None:
        """Forget the study's view (after deleting the study)."""
        with self._lock:
            self._views.pop(study_id, None)
