"""Tests specific to the random searcher."""

from __future__ import annotations

import numpy as np
import pytest

from nas._types import FrozenTrial, Objective, TrialState
from nas.exceptions import SearcherConfigError
from nas.searchers import RandomSearcher, create_searcher
from nas.space import CategoricalParam, IntParam, SearchSpace
from nas.testing.searchers import mixed_space

OBJ = [Objective("loss", "minimize")]


def _trials(params_list: list[dict[str, object]], state: TrialState) -> list[FrozenTrial]:
    return [FrozenTrial(i + 1, i, state, dict(p)) for i, p in enumerate(params_list)]


def test_registered_and_any_objective_count() -> None:
    space = mixed_space()
    assert isinstance(create_searcher("random", space, OBJ, 0), RandomSearcher)
    objs = [Objective(f"f{i}", "minimize") for i in range(4)]
    assert len(create_searcher("random", space, objs, 0).propose([], 3)) == 3


def test_draws_follow_the_prior() -> None:
    space = SearchSpace([CategoricalParam("c", ["a", "b", "c", "d"]), IntParam("n", 0, 9)])
    searcher = RandomSearcher(space, OBJ, seed=0, max_retries=0)  # no dedupe: the raw prior
    props = searcher.propose([], 4000)
    cs = [p.params["c"] for p in props]
    assert all(900 < cs.count(c) < 1100 for c in "abcd")
    ns = np.array([p.params["n"] for p in props])
    assert set(ns.tolist()) == set(range(10))


def test_avoids_every_existing_assignment_while_possible() -> None:
    space = SearchSpace([CategoricalParam("c", ["a", "b", "c"]), IntParam("n", 0, 1)])
    everything = [{"c": c, "n": n} for c in "abc" for n in (0, 1)]
    # 5 of 6 taken (any state): the only proposal possible without a repeat is the 6th.
    for seed in range(10):
        for state in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAILED):
            history = _trials(everything[:5], state)
            (p,) = RandomSearcher(space, OBJ, seed=seed).propose(history, 1)
            assert p.params == everything[5]


def test_batch_has_no_repeats_and_exhausted_space_still_proposes() -> None:
    space = SearchSpace([CategoricalParam("c", ["a", "b", "c"]), IntParam("n", 0, 1)])
    batch = RandomSearcher(space, OBJ, seed=1).propose([], 6)
    assert len({(p.params["c"], p.params["n"]) for p in batch}) == 6
    history = _trials([p.params for p in batch], TrialState.COMPLETE)
    more = RandomSearcher(space, OBJ, seed=1).propose(history, 3)
    assert len(more) == 3
    for p in more:
        space.validate(p.params)


def test_n_zero_and_negative() -> None:
    searcher = RandomSearcher(mixed_space(), OBJ, seed=0)
    assert searcher.propose([], 0) == []
    assert searcher.propose([], -3) == []


def test_options() -> None:
    with pytest.raises(SearcherConfigError, match=r"max_retries.*>= 0.*-1"):
        create_searcher("random", mixed_space(), OBJ, 0, {"max_retries": -1})
    with pytest.raises(SearcherConfigError, match="population_size"):
        create_searcher("random", mixed_space(), OBJ, 0, {"population_size": 5})
    # max_retries=0 disables the dedupe: repeats appear on a tiny space.
    space = SearchSpace([CategoricalParam("c", ["a", "b"])])
    batch = RandomSearcher(space, OBJ, seed=0, max_retries=0).propose([], 10)
    assert len({p.params["c"] for p in batch}) == 2 and len(batch) == 10
