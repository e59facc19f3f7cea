"""``pareto``: dominated vectors at a step, margin, rank and percentile rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nas._types import Objective
from nas.exceptions import PrunerConfigError
from nas.pruners import create_pruner
from nas.pruners._pareto import margin_ranks

TWO = (Objective("loss", "minimize"), Objective("acc", "maximize"))


def _t(make_trial, number, loss, acc, state="COMPLETE", steps=3):
    """A trial reporting the same (loss, acc) at steps 0..steps-1."""
    return make_trial(number, None, state, curves={"loss": [loss] * steps, "acc": [acc] * steps})


def _field(make_trial):
    # Front: (0.1, 0.6), (0.3, 0.8), (0.5, 0.9); second front: (0.4, 0.7), (0.6, 0.85).
    points = [(0.1, 0.6), (0.3, 0.8), (0.5, 0.9), (0.4, 0.7), (0.6, 0.85)]
    return [_t(make_trial, i, *p) for i, p in enumerate(points)]


def test_prunes_a_dominated_vector_and_keeps_a_front_one(make_trial) -> None:
    pruner = create_pruner("pareto", TWO)
    history = _field(make_trial)
    dominated = _t(make_trial, 9, 0.35, 0.75, "RUNNING")  # by (0.3, 0.8)
    reason = pruner.prune(dominated, history)
    assert reason is not None and "rank 2 among 6" in reason and "step 2" in reason
    front = _t(make_trial, 9, 0.2, 0.7, "RUNNING")
    assert pruner.prune(front, history) is None
    # A maximised objective is compared the right way round: higher accuracy is better.
    assert pruner.prune(_t(make_trial, 9, 0.35, 0.81, "RUNNING"), history) is None


def test_rank_keeps_the_first_fronts(make_trial) -> None:
    history = _field(make_trial)
    second = _t(make_trial, 9, 0.35, 0.75, "RUNNING")  # dominated by (0.3, 0.8) only
    third = _t(make_trial, 9, 0.45, 0.69, "RUNNING")  # and by (0.4, 0.7), of the second front
    rank2 = create_pruner("pareto", TWO, options={"rank": 2})
    assert create_pruner("pareto", TWO).prune(second, history) is not None
    assert rank2.prune(second, history) is None
    assert rank2.prune(third, history) is not None


def test_percentile_of_the_ranks(make_trial) -> None:
    # Ranks with a third-front trial: 1, 1, 1, 2, 2, 3 (the trial). 50th percentile: 1.5;
    # 90th: 2.5; 100th: 3.
    history = _field(make_trial)
    third = _t(make_trial, 9, 0.7, 0.5, "RUNNING")
    second = _t(make_trial, 9, 0.35, 0.75, "RUNNING")  # ranks 1, 1, 1, 2, 2, 2
    assert create_pruner("pareto", TWO, options={"percentile": 50}).prune(second, history)
    p90 = create_pruner("pareto", TWO, options={"percentile": 90})
    assert p90.prune(second, history) is None
    assert p90.prune(third, history) is not None
    assert create_pruner("pareto", TWO, options={"percentile": 100}).prune(third, history) is None
    with pytest.raises(PrunerConfigError, match="'percentile' and 'rank'"):
        create_pruner("pareto", TWO, options={"percentile": 50, "rank": 2})


def test_margin_keeps_a_trial_dominated_by_less_than_the_margin(make_trial) -> None:
    history = _field(make_trial)  # ranges at the step: loss 0.5, acc 0.3 (0.35 with the trial)
    close = _t(make_trial, 9, 0.31, 0.79, "RUNNING")  # behind (0.3, 0.8) by 0.01 in both
    assert create_pruner("pareto", TWO).prune(close, history) is not None
    assert create_pruner("pareto", TWO, options={"margin": 0.05}).prune(close, history) is None
    far = _t(make_trial, 9, 0.45, 0.65, "RUNNING")  # behind (0.3, 0.8) by 0.15 in both
    reason = create_pruner("pareto", TWO, options={"margin": 0.2}).prune(far, history)
    assert reason is not None and "margin 0.2" in reason
    assert create_pruner("pareto", TWO, options={"margin": 0.5}).prune(far, history) is None


def test_startup_counts_complete_trials(make_trial) -> None:
    pruner = create_pruner("pareto", TWO, options={"n_startup_trials": 5})
    four = _field(make_trial)[:4]
    dominated = _t(make_trial, 9, 0.9, 0.1, "RUNNING")
    assert pruner.prune(dominated, [*four, _t(make_trial, 4, 0.0, 1.0, "PRUNED")]) is None
    assert pruner.prune(dominated, [*four, _t(make_trial, 4, 0.0, 1.0)]) is not None


def test_compares_every_state_at_the_trials_step(make_trial) -> None:
    pruner = create_pruner("pareto", TWO, options={"n_startup_trials": 1})
    history = [_t(make_trial, 0, 0.9, 0.1)]
    # A pruned trial that reached the step dominates; one that stopped before does not count.
    trial = _t(make_trial, 9, 0.5, 0.5, "RUNNING", steps=3)
    assert pruner.prune(trial, [*history, _t(make_trial, 1, 0.1, 0.9, "PRUNED", steps=3)])
    assert pruner.prune(trial, [*history, _t(make_trial, 1, 0.1, 0.9, "PRUNED", steps=2)]) is None


def test_a_missing_objective_is_never_judged_and_leaves_others_out(make_trial) -> None:
    pruner = create_pruner("pareto", TWO, options={"n_startup_trials": 1})
    history = _field(make_trial)
    only_loss = make_trial(9, [0.9, 0.9, 0.9], "RUNNING")
    assert pruner.prune(only_loss, history) is None
    lagging = make_trial(9, None, "RUNNING", curves={"loss": [0.9] * 3, "acc": [0.1] * 2})
    assert pruner.prune(lagging, history) is None  # acc not reported up to step 2
    # A better trial that lacks acc at the step is left out of the field.
    trial = _t(make_trial, 9, 0.5, 0.5, "RUNNING")
    partial = [_t(make_trial, 0, 0.9, 0.1), make_trial(1, [0.0] * 3, "PRUNED")]
    assert pruner.prune(trial, partial) is None


def test_warmup_and_interval(make_trial) -> None:
    pruner = create_pruner("pareto", TWO, options={"n_warmup_steps": 2, "interval_steps": 2})
    history = _field(make_trial)
    history = [
        make_trial(
            t.number, None, curves={k: [v[0]] * 8 for k, v in t.intermediate_values.items()}
        )
        for t in history
    ]
    due = [
        pruner.prune(_t(make_trial, 9, 0.9, 0.1, "RUNNING", steps=s + 1), history) is not None
        for s in range(6)
    ]
    assert due == [False, False, True, False, True, False]


def _brute_ranks(points, margin):
    pts = np.asarray(points, dtype=float)
    delta = margin * (pts.max(axis=0) - pts.min(axis=0))

    def dom(a, b):
        return all(a + delta <= b) and any(a < b)

    ranks, left, r = {}, set(range(len(pts))), 0
    while left:
        r += 1
        front = {i for i in left if not any(dom(pts[j], pts[i]) for j in left if j != i)}
        ranks.update(dict.fromkeys(front, r))
        left -= front
    return [ranks[i] for i in range(len(pts))]


@pytest.mark.parametrize(("m", "margin"), list(itertools.product([1, 2, 3, 4], [0.0, 0.1])))
def test_margin_ranks_match_a_brute_force_peel(m, margin) -> None:
    rng = np.random.default_rng(m)
    for _ in range(5):
        pts = rng.integers(0, 6, size=(25, m)).astype(float)  # many ties and duplicates
        assert list(margin_ranks(pts, margin)) == _brute_ranks(pts, margin)
