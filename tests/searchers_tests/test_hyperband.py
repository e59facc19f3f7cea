"""Algorithm-specific tests of the ``hyperband`` searcher (brackets, promotions, asynchrony).

Also the study-level check that needs a real storage: a dead worker's trial re-queued with its
bracket info. SIGKILL + resume runs in ``tests/study_tests/test_resume.py`` (with budgets 1..9).
"""

from __future__ import annotations

import copy
import json
import math
import socket
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import nas
from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import SearcherConfigError
from nas.searchers import HyperbandSchedule, HyperbandSearcher, Searcher, create_searcher
from nas.searchers._hyperband import augmented_chebyshev, iteration_weights
from nas.space import FloatParam, SearchSpace
from nas.testing.searchers import (
    SMALL_CONDITIONAL_SPACE,
    conditional_space,
    make_objectives,
    simulate,
)

MIN = (Objective("loss", "minimize"),)
MAX = (Objective("acc", "maximize"),)
TWO = (Objective("f1", "minimize"), Objective("f2", "maximize"))
OPTS = {"min_budget": 1, "max_budget": 9, "eta": 3}


def box(dim: int = 2) -> SearchSpace:
    return SearchSpace([FloatParam(f"x{i}", 0.0, 1.0) for i in range(dim)])


def trial(
    number: int,
    p: Proposal,
    state: TrialState = TrialState.COMPLETE,
    values: dict[str, float] | None = None,
    restarts: int = 0,
) -> FrozenTrial:
    return FrozenTrial(
        trial_id=number + 1,
        number=number,
        state=state,
        params=dict(p.params),
        budget=p.budget,
        values=dict(values or {}),
        system_attrs=copy.deepcopy(p.info),
        restarts=restarts,
    )


def run_sequential(
    searcher: Searcher, f: Callable[[dict[str, Any], float], dict[str, float]], n: int
) -> list[FrozenTrial]:
    history: list[FrozenTrial] = []
    for i in range(n):
        (p,) = searcher.propose(history, 1)
        history.append(trial(i, p, values=f(p.params, p.budget)))
    return history


def where(history: Sequence[FrozenTrial], iteration: int, rung: int) -> list[FrozenTrial]:
    return [
        t
        for t in history
        if t.system_attrs.get("iteration") == iteration and t.system_attrs.get("rung") == rung
    ]


# --------------------------------------------------------------------------- schedule


def test_brackets_match_hyperband_for_1_27_3() -> None:
    """HpBandSter's floors: 27@1 -> 9@3 -> 3@9 -> 1@27, 9@3 ..., 6@9 -> 2@27, 4@27."""
    s = HyperbandSchedule(1, 27, 3)
    assert s.s_max == 3
    assert s.budgets == (1.0, 3.0, 9.0, 27.0)
    expected = [
        (3, (27, 9, 3, 1), (1.0, 3.0, 9.0, 27.0)),
        (2, (9, 3, 1), (3.0, 9.0, 27.0)),
        (1, (6, 2), (9.0, 27.0)),
        (0, (4,), (27.0,)),
    ]
    for i in range(8):  # two full cycles
        b = s.bracket(i)
        assert (b.s, b.n_configs, b.budgets) == expected[i % 4]
        assert b.iteration == i
        assert [s.budgets[k] for k in b.levels] == list(b.budgets)


def test_brackets_match_hyperband_for_fractional_budgets() -> None:
    """(1/9, 1, 3): s_max = 2 although 1 / (1/9) is not exactly 9 in binary."""
    for low in (1 / 9, 0.111, 0.1111111111111111):
        s = HyperbandSchedule(low, 1.0, 3)
        assert s.s_max == 2
        assert s.budgets == pytest.approx((1 / 9, 1 / 3, 1.0), rel=1e-12)
        assert s.budgets[-1] == 1.0
        got = [(b.s, b.n_configs) for b in map(s.bracket, range(3))]
        assert got == [(2, (9, 3, 1)), (1, (3, 1)), (0, (3,))]
    # max/min just below eta**k gives one bracket less (HpBandSter's floor of log_eta)
    assert HyperbandSchedule(0.12, 1.0, 3).s_max == 1
    assert HyperbandSchedule(0.12, 1.0, 3).budgets == pytest.approx((1 / 3, 1.0))


def test_brackets_follow_hpbandster_formulas_for_any_eta() -> None:
    for low, high, eta in [(1, 81, 3), (0.5, 64, 2), (1, 100, 2.5), (1, 2, 3)]:
        s = HyperbandSchedule(low, high, eta)
        s_max = math.floor(math.log(high / low) / math.log(eta) + 1e-9)
        assert s.s_max == s_max
        for i in range(s_max + 1):
            b = s.bracket(i)
            n0 = math.floor((s_max + 1) // (b.s + 1) * eta**b.s + 1e-9)
            assert b.s == s_max - i
            assert b.n_configs == tuple(
                max(math.floor(n0 * eta ** (-j) + 1e-9), 1) for j in range(b.s + 1)
            )
            assert b.budgets == pytest.approx([high * eta ** (j - b.s) for j in range(b.s + 1)])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_budget": 9}, "min_budget.*required"),
        ({"min_budget": 1}, "max_budget.*required"),
        ({"min_budget": 0, "max_budget": 9}, "min_budget.*> 0"),
        ({"min_budget": -1, "max_budget": 9}, "min_budget.*> 0"),
        ({"min_budget": 3, "max_budget": 3}, "max_budget.*> min_budget"),
        ({"min_budget": 1, "max_budget": 9, "eta": 1}, "eta.*> 1"),
        ({"min_budget": 1, "max_budget": 9, "eta": True}, "eta.*number"),
        ({"min_budget": "1", "max_budget": 9}, "min_budget.*number"),
        ({"min_budget": 1, "max_budget": float("inf")}, "max_budget.*finite"),
        ({"min_budget": 1, "max_budget": float("nan")}, "max_budget.*finite"),
        ({"min_budget": 1e-9, "max_budget": 1, "eta": 2}, "first bracket"),
        ({"min_budget": 1, "max_budget": 9, "bogus": 1}, "bogus"),
    ],
)
def test_invalid_options_raise(options: dict[str, Any], match: str) -> None:
    with pytest.raises(SearcherConfigError, match=match):
        create_searcher("hyperband", box(), MIN, 0, options)


# --------------------------------------------------------------------------- successive halving


def test_sequential_run_follows_the_brackets_and_promotes_the_best() -> None:
    """One worker on (1, 9, 3): 9@1 -> best 3 @3 -> best 1 @9, then 3@3 -> 1@9, then 3@9."""

    def f(params: dict[str, Any], budget: float) -> dict[str, float]:
        # The best region moves with the budget, so a promotion by the wrong rung's values shows.
        center = 0.2 if budget < 2 else 0.8
        return {"loss": (params["x0"] - center) ** 2 + 0.01 * params["x1"]}

    searcher = HyperbandSearcher(box(), MIN, 5, **OPTS)
    h = run_sequential(searcher, f, 13 + 4 + 3 + 13)
    budgets = [t.budget for t in h]
    assert budgets[:13] == [1.0] * 9 + [3.0] * 3 + [9.0]
    assert budgets[13:17] == [3.0] * 3 + [9.0]
    assert budgets[17:20] == [9.0] * 3
    assert budgets[20:33] == [1.0] * 9 + [3.0] * 3 + [9.0]  # iteration 3 = bracket 2 again
    info = [t.system_attrs for t in h]
    assert [i["iteration"] for i in info[:20]] == [0] * 13 + [1] * 4 + [2] * 3
    assert [i["bracket"] for i in info[:20]] == [2] * 13 + [1] * 4 + [0] * 3
    assert [i["slot"] for i in info[:9]] == list(range(9))
    rung0 = h[:9]
    best3 = sorted(rung0, key=lambda t: t.values["loss"])[:3]
    assert [i["promoted_from"] for i in info[9:12]] == [t.number for t in best3]
    for t in h[9:12]:
        assert t.params == h[t.system_attrs["promoted_from"]].params
    best_at_3 = min(h[9:12], key=lambda t: t.values["loss"])
    assert info[12]["promoted_from"] == best_at_3.number
    # the rung-2 winner is chosen by the budget-3 values, not the budget-1 ones
    by_rung0 = min(h[9:12], key=lambda t: h[t.system_attrs["promoted_from"]].values["loss"])
    assert best_at_3.number != by_rung0.number  # the scenario distinguishes the two
    assert info[16]["promoted_from"] == min(h[13:16], key=lambda t: t.values["loss"]).number
    # new configurations are new; promotions repeat params at a higher budget only
    keys = [(json.dumps(t.params, sort_keys=True), t.budget) for t in h]
    assert len(set(keys)) == len(keys)


def test_promotions_respect_direction_and_rank_failures_last() -> None:
    searcher = HyperbandSearcher(box(), MAX, 0, **OPTS)
    props = searcher.propose([], 9)
    assert [p.info["slot"] for p in props] == list(range(9))
    acc = [0.5, 0.9, 0.1, 0.95, 0.3, 0.99, 0.7, 0.2, 0.8]
    states = [TrialState.COMPLETE] * 9
    states[5] = TrialState.FAILED  # would be the best
    states[3] = TrialState.PRUNED  # would be second
    history = [
        trial(k, p, s, {"acc": a} if s == TrialState.COMPLETE else None)
        for k, (p, s, a) in enumerate(zip(props, states, acc, strict=True))
    ]
    promos = searcher.propose(history, 3)
    assert [p.info["promoted_from"] for p in promos] == [1, 8, 6]  # 0.9, 0.8, 0.7 (maximize)
    assert all(p.budget == 3.0 and p.info["rung"] == 1 for p in promos)
    # With only two ranked trials, failures fill the rung, ties by trial number.
    for k in (1, 6, 7, 8, 2):
        history[k] = trial(k, props[k], TrialState.FAILED)
    promos = searcher.propose(history, 3)
    assert [p.info["promoted_from"] for p in promos] == [0, 4, 1]


def test_no_promotion_before_the_rung_is_complete_and_next_iteration_starts() -> None:
    searcher = HyperbandSearcher(box(), MIN, 0, **OPTS)
    props = searcher.propose([], 9)
    history = [trial(k, p, values={"loss": float(k)}) for k, p in enumerate(props)]
    history[4] = trial(4, props[4], TrialState.RUNNING)
    batch = searcher.propose(history, 5)
    # iteration 0 waits on trial 4: iteration 1 (3 configs @3) then iteration 2 (3 @9)
    assert [(p.info["iteration"], p.info["rung"], p.budget) for p in batch] == [
        (1, 0, 3.0),
        (1, 0, 3.0),
        (1, 0, 3.0),
        (2, 0, 9.0),
        (2, 0, 9.0),
    ]
    # Once trial 4 finishes, the oldest iteration gets the next proposals again.
    history[4] = trial(4, props[4], values={"loss": -1.0})
    history += [trial(9 + k, p, TrialState.RUNNING) for k, p in enumerate(batch)]
    nxt = searcher.propose(history, 4)
    assert [p.info.get("promoted_from") for p in nxt[:3]] == [4, 0, 1]
    assert (nxt[3].info["iteration"], nxt[3].info["slot"]) == (2, 2)


def test_dead_workers_requeued_trial_keeps_its_slot_and_the_rung_completes() -> None:
    searcher = HyperbandSearcher(box(), MIN, 1, **OPTS)
    props = searcher.propose([], 9)
    history = [trial(k, p, values={"loss": 10.0 + k}) for k, p in enumerate(props)]
    # Trial 4's worker died: the runner put it back to WAITING with the same params and info.
    history[4] = trial(4, props[4], TrialState.WAITING, restarts=1)
    others = searcher.propose(history, 3)
    assert all(p.info["iteration"] == 1 for p in others)  # no new slot, no promotion in it. 0
    history += [trial(9 + k, p, values={"loss": 0.0}) for k, p in enumerate(others)]
    assert searcher.propose(history, 1)[0].info["iteration"] == 1  # iteration 1 promotes
    # The re-run finishes (best of its rung): iteration 0 resumes with its promotions.
    history[4] = trial(4, props[4], values={"loss": 1.0}, restarts=1)
    promos = searcher.propose(history, 3)
    assert [p.info["promoted_from"] for p in promos] == [4, 0, 1]
    assert all(p.info["iteration"] == 0 and p.budget == 3.0 for p in promos)


class _Checked(Searcher):
    """Delegates to a hyperband searcher and checks every proposal against an independent
    re-implementation of HpBandSter's scheduling rules on the history it was given."""

    def __init__(self, inner: HyperbandSearcher) -> None:
        super().__init__(inner.space, inner.objectives, inner.seed)
        self.inner = inner
        self.promotions = 0

    def _loss(self, t: FrozenTrial) -> float:
        if t.state != TrialState.COMPLETE:
            return math.inf
        if len(self.objectives) == 1:
            return self.objectives[0].sign * t.values[self.objectives[0].name]
        raise AssertionError("single objective only")

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        out = self.inner.propose(trials, n)
        assert len(out) == n
        sched = self.inner.schedule
        state = list(trials)
        for p in out:
            rungs: dict[int, dict[int, list[FrozenTrial]]] = defaultdict(lambda: defaultdict(list))
            for t in state:
                rungs[t.system_attrs["iteration"]][t.system_attrs["rung"]].append(t)
            expected = None  # (iteration, rung, allowed promoted_from numbers)
            for it in sorted(rungs):
                b = sched.bracket(it)
                for j in range(b.s + 1):
                    members = rungs[it][j]
                    if len(members) < b.n_configs[j]:
                        if j == 0:
                            expected = (it, 0, None)
                        else:
                            below = sorted(
                                rungs[it][j - 1], key=lambda t: (self._loss(t), t.number)
                            )
                            top = [t.number for t in below[: b.n_configs[j]]]
                            done = {t.system_attrs["promoted_from"] for t in members}
                            expected = (it, j, [k for k in top if k not in done])
                        break
                    if any(not t.state.is_finished for t in members):
                        break
                if expected is not None:
                    break
            if expected is None:
                expected = (max(rungs) + 1 if rungs else 0, 0, None)
            it, j, allowed = expected
            b = sched.bracket(it)
            assert (p.info["iteration"], p.info["rung"], p.info["bracket"]) == (it, j, b.s), (
                p.info,
                expected,
            )
            assert p.budget == b.budgets[j]
            if allowed is None:
                assert p.info["slot"] == len(rungs[it][0])
            else:
                assert p.info["promoted_from"] == allowed[0]
                assert p.params == state[allowed[0]].params
                self.promotions += 1
            state.append(trial(len(state), p, TrialState.WAITING))
        return out


@pytest.mark.parametrize("workers", [1, 3, 6])
def test_asynchronous_workers_follow_hpbandster_order_and_never_stall(workers: int) -> None:
    """Pending trials block only their own iteration; later iterations keep workers busy.

    ``simulate`` fails every 7th trial and prunes every 11th, and raises if the searcher ever
    returns nothing while trials are pending.
    """
    space = box(3)
    checked: list[_Checked] = []

    def factory() -> Searcher:
        checked.append(_Checked(HyperbandSearcher(space, MIN, 3, **OPTS)))
        return checked[-1]

    _, history = simulate(factory, space, MIN, 120, workers=workers)
    assert len(history) == 120
    assert checked[0].promotions > 10
    iterations = {t.system_attrs["iteration"] for t in history}
    assert len(iterations) >= 8


def test_configs_depend_on_the_seed_not_on_worker_timing() -> None:
    space = box(3)
    runs = []
    for workers in (1, 4):
        _, h = simulate(
            lambda: HyperbandSearcher(space, MIN, 9, **OPTS), space, MIN, 60, workers=workers
        )
        runs.append(
            {
                (t.system_attrs["iteration"], t.system_attrs["slot"]): t.params
                for t in h
                if t.system_attrs["rung"] == 0
            }
        )
    common = runs[0].keys() & runs[1].keys()
    assert len(common) >= 20
    assert all(runs[0][k] == runs[1][k] for k in common)


def test_conditional_space_and_foreign_trials() -> None:
    """Trials without bracket info (enqueued by a user) are not part of any iteration, but their
    params are not proposed again as new configurations."""
    space = conditional_space()
    searcher = HyperbandSearcher(space, MIN, 0, **OPTS)
    rng = np.random.default_rng(0)
    foreign = [trial(k, Proposal(space.sample(rng)), values={"loss": 0.0}) for k in range(3)]
    props = searcher.propose(foreign, 9)
    assert [p.info["slot"] for p in props] == list(range(9))
    keys = {json.dumps(t.params, sort_keys=True) for t in foreign}
    assert all(json.dumps(p.params, sort_keys=True) not in keys for p in props)
    for p in props:
        space.validate(p.params)


# --------------------------------------------------------------------------- several objectives


def test_augmented_chebyshev() -> None:
    v = np.array([[0.0, 10.0], [1.0, 0.0], [0.5, 5.0], [np.nan, 1.0]])
    w = np.array([0.25, 0.75])
    got = augmented_chebyshev(v, w)
    z = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    expected = (w * z).max(axis=1) + 0.05 * (w * z).sum(axis=1)
    assert got[:3] == pytest.approx(expected)
    assert got[3] == math.inf
    assert augmented_chebyshev(np.array([[3.0], [1.0]]), np.ones(1)).tolist() == [3.0, 1.0]


def test_iteration_weights_are_seeded_per_iteration() -> None:
    w = iteration_weights(7, 3, 3)
    assert w.shape == (3,) and w.sum() == pytest.approx(1.0) and np.all(w >= 0)
    assert np.array_equal(w, iteration_weights(7, 3, 3))
    assert not np.array_equal(w, iteration_weights(7, 4, 3))
    assert not np.array_equal(w, iteration_weights(8, 3, 3))
    assert iteration_weights(7, 3, 1).tolist() == [1.0]


def test_multi_objective_promotions_use_the_iterations_scalarisation() -> None:
    space = box(2)
    searcher = HyperbandSearcher(space, TWO, 4, **OPTS)
    props = searcher.propose([], 9)
    rng = np.random.default_rng(1)
    values = [{"f1": float(a), "f2": float(b)} for a, b in rng.random((9, 2))]
    history = [trial(k, p, values=v) for k, (p, v) in enumerate(zip(props, values, strict=True))]
    promos = searcher.propose(history, 3)
    mins = np.array([[v["f1"], -v["f2"]] for v in values])  # f2 is maximized
    losses = augmented_chebyshev(mins, iteration_weights(4, 0, 2))
    assert [p.info["promoted_from"] for p in promos] == np.argsort(losses)[:3].tolist()
    assert searcher.losses(history, 0) == pytest.approx(losses)


# --------------------------------------------------------------------------- with a real storage


def _dead_worker_id() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}:deadbeef"


def test_study_requeues_a_dead_workers_trial_with_its_info(sqlite_url: str) -> None:
    seen_budgets: list[tuple[int, float | None]] = []

    def objective(t: nas.Trial) -> float:
        seen_budgets.append((t.number, t.budget))
        return (t.params["x0"] - 0.3) ** 2 + 0.1 / t.budget

    study = nas.create_study(
        "hb",
        box(2),
        {"loss": "minimize"},
        searcher="hyperband",
        searcher_options=OPTS,
        storage=sqlite_url,
        seed=0,
    )
    first = study.searcher.propose(study.trials, 1)
    _, claimed = study.storage.add_trials(study.study_id, first, claim_worker=_dead_worker_id())
    assert claimed is not None and claimed.state == TrialState.RUNNING
    study.optimize(objective, n_trials=13)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 13
    assert trials[0].restarts == 1
    assert trials[0].system_attrs == first[0].info
    assert trials[0].budget == first[0].budget == 1.0
    assert sorted(seen_budgets) == [(t.number, t.budget) for t in trials]
    rung0 = sorted(where(trials, 0, 0), key=lambda t: (t.values["loss"], t.number))
    assert len(rung0) == 9
    assert [t.system_attrs["promoted_from"] for t in where(trials, 0, 1)] == [
        t.number for t in rung0[:3]
    ]
    (top,) = where(trials, 0, 2)
    assert top.budget == 9.0


def test_forty_trials_reach_promotions_and_the_model() -> None:
    """``tests/study_tests/test_resume.py`` SIGKILLs 40-trial studies with ``OPTS``-like budgets
    (1..9): within 40 sequential trials every rung is reached (and bohb's model is used), so
    that test exercises promotions and model-based picks across the crash."""
    space = SearchSpace.from_dict(SMALL_CONDITIONAL_SPACE)
    options = {"min_budget": 1, "max_budget": 9}
    for name in ("hyperband", "bohb"):
        for objs in (MIN, TWO):
            _, h = simulate(
                lambda n=name, o=objs: create_searcher(n, space, o, 11, options),
                space,
                objs,
                40,
                workers=1,
                fail_every=0,
                prune_every=0,
            )
            assert {t.system_attrs["rung"] for t in h} == {0, 1, 2}
            if name == "bohb":
                assert any(t.system_attrs["origin"] == "model" for t in h)


def test_objective_count_any() -> None:
    for m in (1, 2, 3):
        searcher = create_searcher("hyperband", box(), make_objectives(m), 0, OPTS)
        assert len(searcher.propose([], 2)) == 2
