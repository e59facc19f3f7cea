"""Hyperband (Li et al. 2018) as a stateless searcher, with HpBandSter's exact bracket formulas.

Schedule (:class:`HyperbandSchedule`, as in HpBandSter):

* ``s_max = floor(log_eta(max_budget / min_budget))``; the budgets are
  ``max_budget / eta**k`` for ``k = s_max .. 0`` (so the smallest one is ``>= min_budget``).
* Iteration ``i`` runs bracket ``s = s_max - (i mod (s_max + 1))``: rung ``j = 0 .. s`` holds
  ``n_j = max(floor(n_0 / eta**j), 1)`` configurations at budget ``max_budget / eta**(s - j)``,
  with ``n_0 = floor((s_max + 1) / (s + 1)) * eta**s`` (floored; HpBandSter floors where the
  Hyperband paper takes the ceiling).

Successive halving is decided from the stored results, never from memory. Every proposal
carries ``info = {"iteration": i, "bracket": s, "rung": j, ...}`` (stored as the trial's
``system_attrs``) plus ``"slot"`` for a new configuration of rung 0 or ``"promoted_from"`` (the
trial number) for a promotion, so the history alone tells which trial belongs where:

* Rung 0 of an iteration is filled lazily with new configurations, one per proposal.
* Rung ``j + 1`` opens once rung ``j`` is *complete*: all of its ``n_j`` trials exist and are
  finished. Its trials are the ``n_{j+1}`` best of rung ``j`` (ties by trial number), FAILED,
  PRUNED and COMPLETE-without-a-finite-value trials ranking last, each re-evaluated with the same
  params at the next budget as a NEW trial.
* Asynchronous workers (as HpBandSter's master): ``propose`` serves the oldest iteration that
  has something to run; an iteration waiting on pending (WAITING/RUNNING) trials is skipped;
  when none has work, the next iteration starts. A new iteration always has work, so
  ``propose(trials, n)`` always returns exactly ``n`` proposals. A trial of a dead worker is
  re-queued by the runner with the same number, params, budget and info: it is pending until it
  re-runs, then counts like any other, and meanwhile other iterations keep the workers busy.

Several objectives (ParEGO-style): each iteration draws weights ``w`` uniformly on the simplex
from ``SeedSequence([seed, 0x57, iteration])``; a trial's loss is the augmented Chebyshev
scalarisation ``max_k(w_k z_k) + 0.05 * sum_k w_k z_k`` of its minimisation values ``z``
normalised to ``[0, 1]`` (min-max over the trials being ranked). With one objective the loss is
``sign * value``.

Randomness: the new configuration of slot ``k`` of iteration ``i`` is drawn from
``default_rng(SeedSequence([seed, 0xC0, i, k]))`` (resampled, at most 32 times, while it repeats
the params of a trial of the history or of an earlier proposal of the same call), so it depends
on the seed, not on the order in which workers asked.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import SearcherConfigError
from nas.searchers._base import Searcher, constrained_order
from nas.searchers._memo import HistoryMemo, SeenKeys
from nas.searchers._operators import rank_vector, sample_unique
from nas.searchers._registry import register_searcher

if TYPE_CHECKING:
    from nas.space import SearchSpace

__all__ = [
    "Bracket",
    "HyperbandSchedule",
    "HyperbandSearcher",
    "augmented_chebyshev",
    "iteration_weights",
]

#: Slack of the floors of the schedule (``floor(x + _TOL)``) against binary rounding, so that
#: ``log(27) / log(3)`` or ``1 / (1/9)`` land on the integer they mean.
_TOL = 1e-9
#: The first bracket may not hold more configurations than this (a typo guard: max/min ~ 1e6).
_MAX_CONFIGS = 1_000_000
#: ParEGO's augmentation coefficient.
_RHO = 0.05
#: Redraws allowed to avoid repeating the params of an earlier trial.
_MAX_RETRIES = 32
#: SeedSequence stream tags.
_STREAM_CONFIG = 0xC0
_STREAM_WEIGHTS = 0x57
_PENDING = (TrialState.WAITING, TrialState.RUNNING)


def _real_option(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SearcherConfigError(f"{owner}: option {name!r} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise SearcherConfigError(f"{owner}: option {name!r} must be finite, got {x!r}")
    return x


def _as_int(value: object) -> int | None:
    """``value`` if it is an int (bools excluded), else ``None``."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _floor(x: float) -> int:
    return math.floor(x + _TOL)


@dataclass(frozen=True)
class Bracket:
    """One Hyperband iteration's successive-halving bracket.

    Attributes:
        iteration: the iteration index ``i >= 0``.
        s: the bracket index, ``s_max - (i mod (s_max + 1))``.
        n_configs: ``(s + 1,)`` number of trials of each rung, non-increasing.
        budgets: ``(s + 1,)`` budget of each rung, increasing, the last one ``max_budget``.
        levels: ``(s + 1,)`` index of each rung's budget in :attr:`HyperbandSchedule.budgets`.
    """

    iteration: int
    s: int
    n_configs: tuple[int, ...]
    budgets: tuple[float, ...]
    levels: tuple[int, ...]


class HyperbandSchedule:
    """Budgets and brackets of Hyperband for ``(min_budget, max_budget, eta)``.

    Args:
        min_budget: smallest budget allowed, finite and ``> 0``.
        max_budget: largest budget, finite and ``> min_budget``.
        eta: halving rate, finite and ``> 1``.
        owner: searcher name used in error messages.

    Raises:
        SearcherConfigError: a budget or ``eta`` breaks its rule, or the first bracket would hold
            more than 1e6 configurations.

    Attributes:
        s_max: ``floor(log_eta(max_budget / min_budget))``.
        budgets: ``(s_max + 1,)`` budget levels ``max_budget / eta**k``, ``k = s_max .. 0``
            (ascending).
    """

    def __init__(
        self, min_budget: object, max_budget: object, eta: object, owner: str = "hyperband"
    ) -> None:
        if min_budget is None or max_budget is None:
            missing = "min_budget" if min_budget is None else "max_budget"
            raise SearcherConfigError(
                f"{owner}: option {missing!r} is required (the smallest and largest budget, "
                f"e.g. min_budget: 1, max_budget: 27 epochs)"
            )
        lo = _real_option(owner, "min_budget", min_budget)
        hi = _real_option(owner, "max_budget", max_budget)
        rate = _real_option(owner, "eta", eta)
        if lo <= 0:
            raise SearcherConfigError(f"{owner}: option 'min_budget' must be > 0, got {lo!r}")
        if hi <= lo:
            raise SearcherConfigError(
                f"{owner}: option 'max_budget' must be > min_budget, got max_budget={hi!r}, "
                f"min_budget={lo!r}"
            )
        if rate <= 1:
            raise SearcherConfigError(f"{owner}: option 'eta' must be > 1, got {rate!r}")
        s_max = _floor(math.log(hi / lo) / math.log(rate))
        if rate**s_max > _MAX_CONFIGS:
            raise SearcherConfigError(
                f"{owner}: max_budget / min_budget = {hi / lo:.6g} with eta={rate!r} gives a "
                f"first bracket of {rate**s_max:.3g} configurations (more than {_MAX_CONFIGS}); "
                f"raise min_budget or eta"
            )
        self.min_budget = lo
        self.max_budget = hi
        self.eta = rate
        self.s_max = s_max
        self.budgets: tuple[float, ...] = tuple(hi / rate**k for k in range(s_max, -1, -1))
        self._brackets: dict[int, Bracket] = {}

    def bracket(self, iteration: int) -> Bracket:
        """The bracket of iteration ``iteration`` (see the module docstring).

        Raises:
            ValueError: ``iteration < 0``.
        """
        if iteration < 0:
            raise ValueError(f"iteration must be >= 0, got {iteration}")
        cached = self._brackets.get(iteration)
        if cached is not None:
            return cached
        s = self.s_max - iteration % (self.s_max + 1)
        n0 = _floor((self.s_max + 1) // (s + 1) * self.eta**s)
        n = tuple(max(_floor(n0 / self.eta**j), 1) for j in range(s + 1))
        levels = tuple(range(self.s_max - s, self.s_max + 1))
        out = Bracket(iteration, s, n, tuple(self.budgets[k] for k in levels), levels)
        self._brackets[iteration] = out  # immutable: safe to share
        return out

    def level_of(self, budget: object) -> int | None:
        """Index of ``budget`` in :attr:`budgets` (relative tolerance 1e-9), else ``None``."""
        if isinstance(budget, bool) or not isinstance(budget, numbers.Real):
            return None
        b = float(budget)
        for k, level in enumerate(self.budgets):
            if abs(b - level) <= 1e-9 * level:
                return k
        return None

    def __repr__(self) -> str:
        return (
            f"HyperbandSchedule(min_budget={self.min_budget!r}, max_budget={self.max_budget!r}, "
            f"eta={self.eta!r})"
        )


def iteration_weights(seed: int, iteration: int, n_objectives: int) -> np.ndarray:
    """ParEGO weights of an iteration: uniform on the simplex, from ``(seed, iteration)`` only.

    Returns:
        ``(n_objectives,)`` non-negative weights summing to 1 (``[1.0]`` for one objective).
    """
    if n_objectives == 1:
        return np.ones(1)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_WEIGHTS, iteration]))
    return np.asarray(rng.dirichlet(np.ones(n_objectives)), dtype=np.float64)


def augmented_chebyshev(values: np.ndarray, weights: np.ndarray, rho: float = _RHO) -> np.ndarray:
    """ParEGO's scalarisation of minimisation values; smaller is better.

    Each column is normalised to ``[0, 1]`` by its min and max over the rows that are finite
    everywhere (a constant column becomes 0); the loss of such a row is
    ``max_k(w_k z_k) + rho * sum_k w_k z_k``. A row with a non-finite entry gets ``+inf``. With
    one column the values themselves are returned (the ranking is the same).

    Args:
        values: ``(n, m)`` minimisation values (``sign * value``).
        weights: ``(m,)`` non-negative weights.
        rho: augmentation coefficient (ParEGO: 0.05).

    Returns:
        ``(n,)`` losses.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.all(np.isfinite(v), axis=1)
    out = np.full(v.shape[0], np.inf)
    if v.shape[1] == 1:
        out[finite] = v[finite, 0]
        return out
    if not np.any(finite):
        return out
    f = v[finite]
    lo, hi = f.min(axis=0), f.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    wz = weights * (f - lo) / span
    out[finite] = wz.max(axis=1) + rho * wz.sum(axis=1)
    return out


@dataclass
class _Iteration:
    """The trials of one iteration, by rung (parsed from the history)."""

    bracket: Bracket
    rungs: list[list[FrozenTrial]] = field(default_factory=list)


class _Entry:
    """What the searcher derives from one trial snapshot (cached by identity, see ``_entry``).

    Attributes:
        trial: the snapshot (kept so that its ``id`` cannot be reused while cached).
        place: ``(iteration, rung)`` from its info, or ``None`` for a trial of no iteration.
        level: index of its budget level (from its info, else matched by budget), or ``None``.
        row: scratch slot for a subclass's encoding of the params (BOHB's KDE row).
    """

    __slots__ = ("level", "place", "row", "trial")

    def __init__(
        self, trial: FrozenTrial, place: tuple[int, int] | None, level: int | None
    ) -> None:
        self.trial = trial
        self.place = place
        self.level = level
        self.row: np.ndarray | None = None


@dataclass
class _Call:
    """What one ``propose`` call derives from the history."""

    seen: SeenKeys
    iterations: dict[int, _Iteration]
    #: Finished trials at each budget level (whether from an iteration or matched by budget).
    finished_by_level: list[list[FrozenTrial]]
    cache: dict[Any, Any] = field(default_factory=dict)


@register_searcher("hyperband")
class HyperbandSearcher(Searcher):
    """Hyperband with successive halving decided from the stored results (see the module doc).

    New configurations are random draws from the space (:class:`BOHBSearcher
    <nas.searchers.BOHBSearcher>` replaces them by model-based ones). Objective functions
    receive the budget as ``trial.budget``.

    Args:
        space: the search space (any kind, conditional ones included).
        objectives: one or more objectives (several: ParEGO scalarisation per iteration).
        seed: the study seed.
        min_budget: smallest budget, ``> 0`` (required).
        max_budget: largest budget, ``> min_budget`` (required).
        eta: halving rate, ``> 1`` (default 3): each rung keeps the best ``1/eta``.

    Raises:
        SearcherConfigError: a missing or invalid option.
    """

    _owner = "hyperband"

    multi_fidelity: ClassVar[bool] = True
    honours_constraints: ClassVar[bool] = False

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        min_budget: float | None = None,
        max_budget: float | None = None,
        eta: float = 3.0,
    ) -> None:
        super().__init__(space, objectives, seed)
        self.schedule = HyperbandSchedule(min_budget, max_budget, eta, owner=self._owner)
        self._memo = HistoryMemo(self.objectives, self.space.key)
        self._entries: dict[int, _Entry] = {}

    # Pickles and copies drop the per-trial cache (rebuilt on the next call).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_entries"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # ---- history -------------------------------------------------------------------------

    def _place(self, trial: FrozenTrial) -> tuple[int, int] | None:
        """``(iteration, rung)`` of a trial proposed by this searcher, else ``None``."""
        info = trial.system_attrs
        it, rung, s = (_as_int(info.get(k)) for k in ("iteration", "rung", "bracket"))
        if it is None or rung is None or s is None:
            return None
        if it < 0 or s != self.schedule.s_max - it % (self.schedule.s_max + 1):
            return None
        if not 0 <= rung <= s:
            return None
        return it, rung

    def _entry(self, trial: FrozenTrial) -> _Entry:
        """The cached :class:`_Entry` of ``trial`` (call under the memo lock).

        Keyed by ``id(trial)`` and checked by identity: snapshots are immutable (see
        :mod:`nas.searchers._memo`), so an entry is valid exactly as long as it holds the very
        object it was computed from, and a cached entry never changes a result.
        """
        entry = self._entries.get(id(trial))
        if entry is None or entry.trial is not trial:
            place = self._place(trial)
            if place is not None:
                s_max = self.schedule.s_max
                level: int | None = place[0] % (s_max + 1) + place[1]  # s_max - s + rung
            elif trial.budget is None:
                # Not proposed by a Hyperband searcher and without a budget (enqueued, or
                # added from elsewhere): a full-fidelity result, as the study reports it.
                level = len(self.schedule.budgets) - 1
            else:
                level = self.schedule.level_of(trial.budget)
            entry = _Entry(trial, place, level)
            self._entries[id(trial)] = entry
        return entry

    def _parse(self, trials: Sequence[FrozenTrial], seen: SeenKeys) -> _Call:
        iterations: dict[int, _Iteration] = {}
        by_level: list[list[FrozenTrial]] = [[] for _ in self.schedule.budgets]
        entries = self._entries
        for t in trials:
            e = entries.get(id(t))
            if e is None or e.trial is not t:
                e = self._entry(t)
            if e.place is not None:
                it, rung = e.place
                group = iterations.get(it)
                if group is None:
                    bracket = self.schedule.bracket(it)
                    group = _Iteration(bracket, [[] for _ in range(bracket.s + 1)])
                    iterations[it] = group
                group.rungs[rung].append(t)
            if e.level is not None and t.state not in _PENDING:
                by_level[e.level].append(t)
        if len(self._entries) > 2 * len(trials) + 256:  # forget snapshots no longer in use
            self._entries = {id(t): self._entries[id(t)] for t in trials}
        return _Call(seen, iterations, by_level)

    def losses(self, trials: Sequence[FrozenTrial], iteration: int) -> np.ndarray:
        """Losses of ``trials`` as ranked in ``iteration`` (smaller is better).

        ``sign * value`` for one objective, the iteration's augmented Chebyshev scalarisation
        (normalised over ``trials``) for several; ``+inf`` for a trial that is not COMPLETE with
        a finite value for every objective.

        Returns:
            ``(len(trials),)`` array.
        """
        m = len(self.objectives)
        rows = np.full((len(trials), m), np.inf)
        for i, t in enumerate(trials):
            row = rank_vector(t, self.objectives)
            if row is not None:
                rows[i] = row
        return augmented_chebyshev(rows, iteration_weights(self.seed, iteration, m))

    def _promotions(self, entry: _Iteration, rung: int) -> list[FrozenTrial]:
        """The trials of ``rung - 1`` still to promote into ``rung`` (best first)."""
        below = entry.rungs[rung - 1]
        losses = self.losses(below, entry.bracket.iteration)
        order = constrained_order(below, losses)  # feasible first in a constrained study
        best = [below[int(k)] for k in order[: entry.bracket.n_configs[rung]]]
        done = {t.system_attrs.get("promoted_from") for t in entry.rungs[rung]}
        return [t for t in best if t.number not in done]

    def _work(self, entry: _Iteration) -> tuple[int, list[FrozenTrial] | int]:
        """What iteration ``entry`` can run now.

        Returns:
            ``(rung, promotions)`` with the trials to promote into ``rung``, or ``(0, k)`` with
            the number of new configurations rung 0 still needs; ``(-1, 0)`` when the iteration
            waits on pending trials or is done.
        """
        n = entry.bracket.n_configs
        for j, members in enumerate(entry.rungs):
            if len(members) < n[j]:
                if j == 0:
                    return 0, n[0] - len(members)
                todo = self._promotions(entry, j)
                return j, todo[: n[j] - len(members)]
            if any(t.state in _PENDING for t in members):
                return -1, 0
        return -1, 0

    # ---- proposals -----------------------------------------------------------------------

    def _info(self, bracket: Bracket, rung: int, **extra: Any) -> dict[str, Any]:
        return {"iteration": bracket.iteration, "bracket": bracket.s, "rung": rung, **extra}

    def _slot_rng(self, iteration: int, slot: int) -> np.random.Generator:
        """The generator of slot ``slot`` of rung 0 of ``iteration`` (seed-derived only)."""
        return np.random.default_rng(
            np.random.SeedSequence([self.seed, _STREAM_CONFIG, iteration, slot])
        )

    def _new_config(
        self, call: _Call, bracket: Bracket, slot: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Params and extra info of a new configuration for rung 0 of ``bracket``.

        Hyperband draws it at random from the space, avoiding repeats of ``call.seen``.
        """
        rng = self._slot_rng(bracket.iteration, slot)
        return sample_unique(self.space, rng, call.seen, _MAX_RETRIES), {"origin": "random"}

    def _new_proposal(self, call: _Call, bracket: Bracket, slot: int) -> Proposal:
        params, extra = self._new_config(call, bracket, slot)
        params = self.space.validate(params)
        call.seen.add(self.space.key(params))
        info = self._info(bracket, 0, slot=slot, **extra)
        return Proposal(params=params, budget=bracket.budgets[0], info=info)

    def _proposals(self, call: _Call) -> Iterator[Proposal]:
        """Every proposal that could be made now, in HpBandSter's order (lazy, unbounded)."""
        for it in sorted(call.iterations):
            entry = call.iterations[it]
            rung, work = self._work(entry)
            if rung < 0:
                continue
            if isinstance(work, int):
                start = len(entry.rungs[0])
                for slot in range(start, start + work):
                    yield self._new_proposal(call, entry.bracket, slot)
            else:
                for t in work:
                    info = self._info(
                        entry.bracket, rung, promoted_from=t.number, origin="promotion"
                    )
                    budget = entry.bracket.budgets[rung]
                    yield Proposal(params=dict(t.params), budget=budget, info=info)
        it = max(call.iterations) + 1 if call.iterations else 0
        while True:
            bracket = self.schedule.bracket(it)
            for slot in range(bracket.n_configs[0]):
                yield self._new_proposal(call, bracket, slot)
            it += 1

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """``max(n, 0)`` proposals (see the module docstring and :class:`Searcher`).

        Each carries ``budget`` (its rung's budget) and ``info`` with ``iteration``,
        ``bracket``, ``rung``, ``origin`` and ``slot`` (new configuration) or
        ``promoted_from`` (promotion).
        """
        count = max(int(n), 0)
        if count == 0:
            return []
        with self._memo.lock:
            self._memo.sync(trials)
            call = self._parse(trials, SeenKeys(self._memo.key_counts))
            out: list[Proposal] = []
            for p in self._proposals(call):
                out.append(p)
                if len(out) == count:
                    break
        return out

    def __repr__(self) -> str:
        s = self.schedule
        return (
            f"{type(self).__name__}(min_budget={s.min_budget!r}, max_budget={s.max_budget!r}, "
            f"eta={s.eta!r})"
        )
