"""The searchers' history memo is a pure cache: it can never change a proposal.

Every check compares a *shared* searcher instance, fed a sequence of unrelated histories that
reuse trial ids and numbers, with a *fresh* instance per call (which has no memo to go stale).
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import nas.searchers._memo as memo_module
from nas._types import FrozenTrial, Objective, TrialState
from nas.searchers import (
    NSGA2Searcher,
    RegularizedEvolutionSearcher,
    Searcher,
    create_searcher,
)
from nas.searchers._memo import HistoryMemo, SeenKeys, digest
from nas.searchers._nsga2 import assign_generations
from nas.searchers._operators import complete_with_values, params_key
from nas.space import SearchSpace
from nas.testing.searchers import (
    discrete_space,
    make_objectives,
    mixed_space,
    record,
    simulate,
)

# name -> (objective count, options): small populations so that 60 trials span generations.
CASES: dict[str, tuple[int, dict[str, Any]]] = {
    "random": (2, {}),
    "regularized_evolution": (1, {"population_size": 6, "tournament_size": 2}),
    "nsga2": (2, {"population_size": 6}),
    "evolution": (3, {"population_size": 5}),
}

Factory = Callable[[], Searcher]


def _factory(
    name: str, space: SearchSpace, seed: int = 0
) -> tuple[Factory, tuple[Objective, ...]]:
    m, options = CASES[name]
    objectives = make_objectives(m)

    def factory() -> Searcher:
        return create_searcher(name, space, objectives, seed, options)

    return factory, objectives


def _history(name: str, space: SearchSpace, seed: int, n: int = 60) -> list[FrozenTrial]:
    """A finished simulated history; trial ids and numbers are 1..n / 0..n-1 for every seed."""
    factory, objectives = _factory(name, space, seed)
    return simulate(factory, space, objectives, n, workers=3)[1]


def _permute_params(history: Sequence[FrozenTrial], seed: int) -> list[FrozenTrial]:
    """The same trials (ids, numbers, states, values, attrs) with their params shuffled.

    Every cheap identity tuple such as ``(trial_id, number, state, values)`` is unchanged: a memo
    validated only by those would go stale.
    """
    order = np.random.default_rng(seed).permutation(len(history))
    return [
        dataclasses.replace(t, params=dict(history[int(j)].params))
        for t, j in zip(history, order, strict=True)
    ]


def _pending_tail(history: Sequence[FrozenTrial], k: int) -> list[FrozenTrial]:
    """``history`` with its last ``k`` trials back to RUNNING (no values)."""
    out = list(history[: len(history) - k])
    for t in history[len(history) - k :]:
        out.append(dataclasses.replace(t, state=TrialState.RUNNING, values={}))
    return out


def _assert_shared_matches_fresh(
    factory: Factory, histories: Sequence[Sequence[FrozenTrial]], n: int = 3
) -> list[str]:
    shared = factory()
    got = []
    for i, h in enumerate(histories):
        mine = record(shared.propose(list(h), n))
        fresh = record(factory().propose(list(h), n))
        assert mine == fresh, f"call {i} (history of {len(h)} trials): the memo went stale"
        got.append(fresh)
    return got


@pytest.mark.parametrize("name", sorted(CASES))
def test_unrelated_histories_sharing_ids_never_confuse_the_memo(name: str) -> None:
    space = mixed_space()
    factory, _ = _factory(name, space)
    a = _history(name, space, seed=1)
    b = _history(name, space, seed=2)
    assert [(t.trial_id, t.number) for t in a] == [(t.trial_id, t.number) for t in b]
    b_perm = _permute_params(a, seed=3)
    sequence = [
        a[:40],
        b[:40],  # same ids and numbers, other content
        a[:41],  # back to a, one trial longer
        b[:25],  # shorter: positions are dropped
        a,
        b_perm,  # only the params differ from a
        a,
        _pending_tail(a, 4),  # finished trials back to RUNNING
        a,
        [],
        copy.deepcopy(b),  # equal content, brand-new objects
        b,
        [*b[:59], a[59]],  # one foreign trial at the end
        b,
    ]
    records = _assert_shared_matches_fresh(factory, sequence)
    # The histories really lead to different proposals, so the comparison can catch a stale memo
    # (random search reads params only to avoid repeats: see the test on a finite space below).
    if name != "random":
        assert records[4] != records[5], "a and its params permutation propose the same"
        assert records[0] != records[1]


def test_random_searcher_memo_tracks_params_not_cheap_tuples() -> None:
    """On a tiny space, the only free assignment depends on the params of the history."""
    space = discrete_space()
    objectives = make_objectives(2)
    rng = np.random.default_rng(0)
    everything = []
    for a in ["p", "q", "r", "s"]:
        for b in range(4):
            for c in (10, 20, 30, 40):
                for d in (0.5, 1.5, 2.5, 3.5):
                    everything.append({"a": a, "b": b, "c": c, "d": d})
    order = rng.permutation(len(everything))

    def history(free: int) -> list[FrozenTrial]:
        """Every assignment but ``everything[free]``, with ids independent of the params."""
        taken = [everything[int(i)] for i in order if int(i) != free]
        return [FrozenTrial(k + 1, k, TrialState.COMPLETE, p) for k, p in enumerate(taken)]

    searcher = create_searcher("random", space, objectives, 0, {"max_retries": 2000})
    for free in (5, 77, 5, 200, 13):
        (p,) = searcher.propose(history(free), 1)
        assert p.params == everything[free]


def test_identical_objects_are_not_digested_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flat-cost property: a call digests only the trials that are new objects."""
    calls = [0]
    real = memo_module.digest

    def counting(trial: FrozenTrial, objectives: Sequence[Objective], key: Any) -> Any:
        calls[0] += 1
        return real(trial, objectives, key)

    space = mixed_space()
    history = _history("nsga2", space, seed=4, n=120)
    searcher, _ = _factory("nsga2", space)
    shared = searcher()
    monkeypatch.setattr(memo_module, "digest", counting)
    shared.propose(history[:100], 1)
    assert calls[0] == 100
    calls[0] = 0
    grown = history[:100] + _pending_tail(history[100:103], 3)
    shared.propose(grown, 1)
    assert calls[0] == 3  # only the new positions
    calls[0] = 0
    grown[101] = history[101]  # one pending trial finished: a new object at an old position
    shared.propose(grown, 1)
    assert calls[0] == 1


def test_history_memo_sync_reports_the_first_change() -> None:
    space = discrete_space()
    objectives = make_objectives(2)
    history = _history("nsga2", space, seed=5, n=30)
    memo = HistoryMemo(objectives)
    assert memo.sync(history[:20]) == 0
    assert memo.sync(history[:20]) == 20  # nothing changed
    assert memo.sync(history) == 20  # appended
    assert memo.sync(copy.deepcopy(history)) == 30  # new objects, same content
    changed = list(history)
    changed[12] = dataclasses.replace(history[12], state=TrialState.FAILED, values={})
    changed[25] = dataclasses.replace(history[25], system_attrs={"generation": 9})
    assert memo.sync(changed) == 12
    assert memo.sync(changed[:8]) == 8  # truncated
    assert len(memo) == 8
    assert memo.digests == [digest(t, objectives) for t in changed[:8]]
    expected: dict[Any, int] = {}
    for t in changed[:8]:
        expected[params_key(t.params)] = expected.get(params_key(t.params), 0) + 1
    assert memo.key_counts == expected


def test_digest_equality_is_exact() -> None:
    objectives = (Objective("f0", "minimize"), Objective("f1", "maximize"))
    base = FrozenTrial(1, 0, TrialState.COMPLETE, {"a": 1}, values={"f0": 0.0, "f1": 2.0})
    same = dataclasses.replace(base, trial_id=99, worker_id="elsewhere", user_attrs={"x": 1})
    assert digest(base, objectives) == digest(same, objectives)  # fields no searcher reads
    different = [
        dataclasses.replace(base, number=1),
        dataclasses.replace(base, state=TrialState.PRUNED),
        dataclasses.replace(base, params={"a": True}),  # True == 1 but is another value
        dataclasses.replace(base, params={"a": "1"}),
        dataclasses.replace(base, values={"f0": -0.0, "f1": 2.0}),  # -0.0 == 0.0
        dataclasses.replace(base, values={"f0": 0.0, "f1": float("nan")}),
        dataclasses.replace(base, system_attrs={"generation": 0}),
    ]
    for t in different:
        assert digest(t, objectives) != digest(base, objectives), t
    # Generation tags as the NSGA-II bookkeeping reads them (bools and negatives ignored).
    for tag, expected in ((3, 3), (True, None), (-1, None), ("2", None)):
        t = dataclasses.replace(base, system_attrs={"generation": tag})
        assert digest(t, objectives).generation == expected


def test_duplicated_numbers_are_tracked() -> None:
    objectives = make_objectives(1)
    trials = [FrozenTrial(k + 1, k, TrialState.RUNNING, {"a": k}) for k in range(4)]
    memo = HistoryMemo(objectives)
    memo.sync(trials)
    assert memo.numbers_unique
    dup = [*trials, dataclasses.replace(trials[2], trial_id=50)]
    memo.sync(dup)
    assert not memo.numbers_unique
    memo.sync(trials)
    assert memo.numbers_unique


def test_memo_is_cleared_when_a_sync_fails() -> None:
    objectives = make_objectives(1)
    good = [FrozenTrial(k + 1, k, TrialState.RUNNING, {"a": k}) for k in range(5)]
    memo = HistoryMemo(objectives)
    memo.sync(good)
    broken = dataclasses.replace(good[3], system_attrs=None)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        memo.sync([*good[:3], broken, good[4]])
    assert len(memo) == 0 and memo.key_counts == {}
    assert memo.sync(good) == 0
    assert len(memo) == 5


def test_seen_keys_overlay_does_not_touch_the_base() -> None:
    a, b = params_key({"x": 1}), params_key({"x": True})
    base = {a: 1}
    seen = SeenKeys(base)
    assert a in seen and b not in seen
    seen.add(b)
    assert b in seen and params_key({"x": 1.0}) in seen
    assert base == {a: 1}


# --------------------------------------------------------------------------- NSGA-II populations


def _nsga_history_variants() -> tuple[NSGA2Searcher, list[list[FrozenTrial]]]:
    space = mixed_space()
    objectives = make_objectives(2)

    def factory() -> Searcher:
        return NSGA2Searcher(space, objectives, 0, population_size=5)

    base = simulate(factory, space, objectives, 60, workers=4)[1]
    late = list(base)  # an early-generation trial finishes late: every later P_k changes
    late[3] = dataclasses.replace(base[3], state=TrialState.RUNNING, values={})
    untagged = [dataclasses.replace(t, system_attrs={}) if t.number % 9 == 4 else t for t in base]
    retagged = [  # tags out of order (another searcher, or hand-written)
        dataclasses.replace(t, system_attrs={"generation": (7 * t.number) % 5}) for t in base
    ]
    renumbered = [dataclasses.replace(t, number=t.number // 2) for t in base]  # duplicates
    variants = [base[:37], base, late, base, untagged, retagged, renumbered, base[:20], base]
    return NSGA2Searcher(space, objectives, 0, population_size=5), variants


def test_nsga2_memoised_populations_equal_the_reference() -> None:
    searcher, variants = _nsga_history_variants()
    for h in variants:
        upto = max(assign_generations(h)) + 1
        got = searcher.parent_populations(h, upto)
        want = searcher._parent_populations_from_scratch(h, upto)
        assert len(got) == len(want) == upto + 1
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            assert [t.number for t in g.members] == [t.number for t in w.members], k
            assert all(a is b for a, b in zip(g.members, w.members, strict=True)), k
            np.testing.assert_array_equal(g.values, w.values)
            np.testing.assert_array_equal(g.ranks, w.ranks)
            np.testing.assert_array_equal(g.crowding, w.crowding)
        assert searcher.next_generations(h, 7) == NSGA2Searcher.next_generations(
            NSGA2Searcher(searcher.space, searcher.objectives, 0, population_size=5), h, 7
        )
    assert searcher.parent_populations(variants[0], -1) == []


def test_nsga2_shared_instance_over_variants_matches_fresh() -> None:
    searcher, variants = _nsga_history_variants()

    def factory() -> Searcher:
        return NSGA2Searcher(searcher.space, searcher.objectives, 0, population_size=5)

    _assert_shared_matches_fresh(factory, variants, n=4)


def test_nsga2_returned_arrays_are_the_callers() -> None:
    searcher, variants = _nsga_history_variants()
    h = variants[1]
    first = searcher.parent_populations(h, 3)
    for pop in first:
        pop.values[:] = 0.0  # the caller may scribble on what it got
        pop.ranks[:] = 7
    again = searcher.parent_populations(h, 3)
    want = searcher._parent_populations_from_scratch(h, 3)
    for g, w in zip(again, want, strict=True):
        np.testing.assert_array_equal(g.values, w.values)
        np.testing.assert_array_equal(g.ranks, w.ranks)


# --------------------------------------------------------------------------- other properties


def test_regularized_evolution_population_equals_the_full_scan() -> None:
    space = mixed_space()
    objectives = make_objectives(1)
    history = _history("regularized_evolution", space, seed=6, n=50)
    history[45] = dataclasses.replace(history[45], values={"f0": float("inf")})
    history[47] = dataclasses.replace(history[47], state=TrialState.RUNNING, values={})
    searcher = RegularizedEvolutionSearcher(space, objectives, 0, population_size=8)
    for h in (history, history[:5], [], history[:46]):
        members, scores = searcher.population(h)
        complete, values = complete_with_values(h, objectives)
        assert members == complete[-8:]
        np.testing.assert_array_equal(scores, values[len(complete) - len(members) :, 0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_pickled_and_copied_searchers_propose_the_same(name: str) -> None:
    space = mixed_space()
    factory, _ = _factory(name, space)
    history = _history(name, space, seed=7, n=40)
    warm = factory()
    expected = record(warm.propose(history[:30], 2))  # the memo now holds 30 trials
    for clone in (pickle.loads(pickle.dumps(warm)), copy.deepcopy(warm)):
        assert record(clone.propose(history[:30], 2)) == expected
        assert record(clone.propose(history, 2)) == record(factory().propose(history, 2))


def test_concurrent_calls_on_one_instance() -> None:
    space = mixed_space()
    factory, _ = _factory("nsga2", space)
    histories = [_history("nsga2", space, seed=s, n=40) for s in (8, 9)]
    expected = [record(factory().propose(h, 2)) for h in histories]
    shared = factory()
    errors: list[str] = []

    def worker(i: int) -> None:
        for _ in range(15):
            got = record(shared.propose(histories[i], 2))
            if got != expected[i]:
                errors.append(f"thread {i} got a different proposal")

    threads = [threading.Thread(target=worker, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
