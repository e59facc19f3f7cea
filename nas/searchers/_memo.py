"""An exact, incremental memo of what searchers derive from a history.

A searcher is a pure function of ``(space, objectives, seed, options, history)`` and is handed
the *whole* history on every call, so anything derived from it naively costs ``O(n)`` per
proposal (``O(n**2)`` per study). :class:`HistoryMemo` brings that down to ``O(changes)``
without ever changing a result:

* It keeps, per position of the last history it saw, the trial object and a
  :class:`TrialDigest`: everything of the trial a built-in searcher reads (number, state,
  params key, objective vector, generation tag), with an exact equality.
* :meth:`HistoryMemo.sync` compares the new history with the old one *by object identity*
  (a C-level scan, about 15 ns per trial: the only cost that still grows with the history,
  and the price of validating any history, not just the one seen last). Only positions
  holding a different object are digested again (in a study, those are the trials that
  finished or are still pending: the study reuses the snapshot objects of finished trials),
  and only a digest that differs counts as a change. A different history that reuses trial
  ids, numbers or even objects at other positions is therefore never confused with the old
  one: what is compared is the content.
* Derived data (the multiset of params keys here; generations and parent populations in
  :mod:`nas.searchers._nsga2`) are updated from the first changed position on.

The memo assumes what :class:`~nas._types.FrozenTrial` promises: a snapshot is never mutated
(its dicts included) after it was handed to a searcher. Pickling or deep-copying a memo drops
its contents (they are rebuilt on the next call), so searchers stay picklable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Container, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import is_, is_not
from typing import Any

from nas._types import FrozenTrial, Objective, TrialState
from nas.searchers._operators import ParamsKey, params_key, rank_vector

__all__ = ["HistoryMemo", "SeenKeys", "TrialDigest", "digest", "generation_tag"]


def generation_tag(trial: FrozenTrial) -> int | None:
    """``system_attrs["generation"]`` when it is a non-negative int (bools excluded), else None."""
    g = trial.system_attrs.get("generation")
    if isinstance(g, int) and not isinstance(g, bool) and g >= 0:
        return g
    return None


@dataclass(frozen=True, slots=True)
class TrialDigest:
    """What the built-in searchers read from one trial, with an exact equality.

    Two digests compare equal iff the trials have the same number, state, params key
    (:func:`~nas.searchers._operators.params_key`), generation tag (:func:`generation_tag`),
    bit-identical objective vectors and bit-identical total constraint violations; a searcher
    that reads only these fields therefore computes the same result from either trial.

    Attributes:
        number: the trial's number.
        state: the trial's state.
        key: ``params_key(trial.params)``.
        generation: :func:`generation_tag` of the trial.
        values: the minimization vector (:func:`~nas.searchers._operators.rank_vector`) when the
            trial is COMPLETE with a finite value for every objective, else ``None``; not
            compared (``bits`` is).
        bits: ``float.hex`` of every entry of ``values`` (so that ``0.0`` and ``-0.0`` differ).
        violation: :attr:`~nas.FrozenTrial.total_violation` (0 when unconstrained); compared
            through ``violation_bits``.
        violation_bits: ``float.hex`` of ``violation``.
    """

    number: int
    state: TrialState
    key: ParamsKey
    generation: int | None
    values: tuple[float, ...] | None = field(compare=False)
    bits: tuple[str, ...] | None
    violation: float = field(default=0.0, compare=False)
    violation_bits: str = "0x0.0p+0"


def digest(
    trial: FrozenTrial,
    objectives: Sequence[Objective],
    key: Callable[[Mapping[str, Any]], Hashable] = params_key,
) -> TrialDigest:
    """The :class:`TrialDigest` of ``trial`` for a searcher with ``objectives``; ``key`` is the
    identity of params (the space's :meth:`~nas.space.SearchSpace.key`)."""
    row = rank_vector(trial, objectives)
    values = None if row is None else tuple(row)
    return TrialDigest(
        number=trial.number,
        state=trial.state,
        key=key(trial.params),
        generation=generation_tag(trial),
        values=values,
        bits=None if values is None else tuple(v.hex() for v in values),
        violation=(violation := trial.total_violation),
        violation_bits=violation.hex(),
    )


class SeenKeys:
    """Params keys to avoid during one ``propose`` call: the history's plus the call's own.

    A read-only view of ``base`` (not copied; it must not change while the view is used) with a
    private set for the keys added by :meth:`add`.

    Args:
        base: the keys of the history (any container supporting ``in``).
    """

    __slots__ = ("_added", "_base")

    def __init__(self, base: Container[ParamsKey]) -> None:
        self._base = base
        self._added: set[ParamsKey] = set()

    def __contains__(self, key: object) -> bool:
        return key in self._added or key in self._base

    def add(self, key: ParamsKey) -> None:
        """Avoid ``key`` too for the rest of the call."""
        self._added.add(key)


class HistoryMemo:
    """Per-position digests of the last history seen, kept up to date incrementally.

    Use it under :attr:`lock` for the whole computation that reads it (a searcher shared by
    threads must not see it change mid-call)::

        with memo.lock:
            start = memo.sync(trials)
            ...  # read memo.digests, memo.key_counts

    Args:
        objectives: the searcher's objectives (they define :attr:`TrialDigest.values`).
        key: the identity of params (the space's :meth:`~nas.space.SearchSpace.key`, so that
            assignments describing the same network count as one).

    Attributes:
        lock: re-entrant lock guarding the memo.
        digests: ``digests[i]`` is the digest of ``trials[i]`` of the last :meth:`sync`.
        key_counts: params key -> how many trials of the history have it (a multiset; a key
            is present iff its count is > 0).
    """

    def __init__(
        self,
        objectives: Sequence[Objective],
        key: Callable[[Mapping[str, Any]], Hashable] = params_key,
    ) -> None:
        self.objectives = tuple(objectives)
        self.key = key
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        """Forget every history (the next :meth:`sync` digests all of its trials)."""
        self._trials: list[FrozenTrial] = []
        self._stable = 0  # positions < _stable were not replaced in the last sync (a hint)
        self.digests: list[TrialDigest] = []
        self.key_counts: dict[ParamsKey, int] = {}
        self._number_counts: dict[int, int] = {}
        self._duplicated_numbers = 0

    # Pickling and deep copies drop the memo (and the lock, which cannot be pickled).
    def __getstate__(self) -> dict[str, Any]:
        return {"objectives": self.objectives, "key": self.key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.objectives = state["objectives"]
        self.key = state.get("key", params_key)
        self.lock = threading.RLock()
        self.clear()

    def __len__(self) -> int:
        return len(self.digests)

    @property
    def numbers_unique(self) -> bool:
        """Whether no two trials of the last synced history share a number."""
        return self._duplicated_numbers == 0

    def sync(self, trials: Sequence[FrozenTrial]) -> int:
        """Make the memo describe ``trials``.

        Positions holding the same object as last time are trusted; the others are digested
        and compared; positions past the end of the shorter history are added or removed.

        Args:
            trials: the history, in the order the searcher receives it.

        Returns:
            The first position whose digest changed (or that was added or removed), i.e. the
            length of the longest prefix known to be unchanged; ``len(trials)`` when nothing
            changed.
        """
        try:
            return self._sync(trials)
        except BaseException:
            self.clear()  # a half-updated memo would be wrong, an empty one is merely slow
            raise

    def _sync(self, trials: Sequence[FrozenTrial]) -> int:
        old_len, new_len = len(self._trials), len(trials)
        common = min(old_len, new_len)
        first = common
        for pos in self._replaced(trials, common):
            trial = trials[pos]
            self._trials[pos] = trial
            new = digest(trial, self.objectives, self.key)
            old = self.digests[pos]
            if new != old:
                self._drop(old)
                self._add(new)
                self.digests[pos] = new
                first = min(first, pos)
        if new_len < old_len:
            for old in self.digests[new_len:]:
                self._drop(old)
            del self._trials[new_len:]
            del self.digests[new_len:]
        else:
            for pos in range(old_len, new_len):
                trial = trials[pos]
                new = digest(trial, self.objectives, self.key)
                self._trials.append(trial)
                self.digests.append(new)
                self._add(new)
        return first

    def _replaced(self, trials: Sequence[FrozenTrial], common: int) -> list[int]:
        """The positions ``< common`` where ``trials`` holds another object than the memo.

        Every position is checked, at C speed. The prefix that held the same objects on the
        previous call (in a study: the finished trials, whose snapshots it reuses) is checked
        first with the cheapest scan; only if it is intact is the rest scanned separately.
        """
        stable = min(self._stable, common)
        if stable and isinstance(trials, list | tuple):
            head = trials[:stable]  # C-level copy of pointers; map() stops at the shorter
            if all(map(is_, head, self._trials)):
                tail = range(stable, common)
                found = compress(tail, map(is_not, trials[stable:common], self._trials[stable:]))
                replaced = list(found)
                self._stable = replaced[0] if replaced else common
                return replaced
        replaced = list(compress(range(common), map(is_not, trials, self._trials)))
        self._stable = replaced[0] if replaced else common
        return replaced

    def _add(self, d: TrialDigest) -> None:
        self.key_counts[d.key] = self.key_counts.get(d.key, 0) + 1
        count = self._number_counts.get(d.number, 0) + 1
        self._number_counts[d.number] = count
        if count > 1:
            self._duplicated_numbers += 1

    def _drop(self, d: TrialDigest) -> None:
        count = self.key_counts[d.key] - 1
        if count:
            self.key_counts[d.key] = count
        else:
            del self.key_counts[d.key]
        count = self._number_counts[d.number] - 1
        if count:
            self._number_counts[d.number] = count
        else:
            del self._number_counts[d.number]
        if count >= 1:
            self._duplicated_numbers -= 1
