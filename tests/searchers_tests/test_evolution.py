"""Algorithm-specific tests of regularized evolution, NSGA-II and the ``evolution`` dispatcher."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import SearcherConfigError
from nas.pareto import hypervolume, non_dominated_sort, pareto_mask
from nas.searchers import (
    EvolutionSearcher,
    NSGA2Searcher,
    RandomSearcher,
    RegularizedEvolutionSearcher,
    Searcher,
    UniformCrossover,
    create_searcher,
)
from nas.searchers._nsga2 import assign_generations
from nas.searchers._operators import params_key
from nas.space import FloatParam, SearchSpace
from nas.testing.searchers import (
    conditional_space,
    make_objectives,
    mixed_space,
    record,
    simulate,
)

MIN = [Objective("loss", "minimize")]
MAX = [Objective("acc", "maximize")]
TWO = [Objective("f1", "minimize"), Objective("f2", "minimize")]


def box_space(dim: int, low: float = 0.0, high: float = 1.0) -> SearchSpace:
    return SearchSpace([FloatParam(f"x{i}", low, high) for i in range(dim)])


def run(
    searcher: Searcher, f: Callable[[dict[str, Any]], dict[str, float]], n: int
) -> list[FrozenTrial]:
    """Sequential study: one proposal at a time, evaluated immediately."""
    history: list[FrozenTrial] = []
    for i in range(n):
        (p,) = searcher.propose(history, 1)
        history.append(
            FrozenTrial(
                i + 1, i, TrialState.COMPLETE, p.params, values=f(p.params), system_attrs=p.info
            )
        )
    return history


def complete(
    number: int, params: dict[str, Any], values: dict[str, float], **attrs: Any
) -> FrozenTrial:
    return FrozenTrial(
        number + 1, number, TrialState.COMPLETE, params, values=values, system_attrs=attrs
    )


def changed_keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(
        k for k in a.keys() | b.keys() if params_key({k: a.get(k)}) != params_key({k: b.get(k)})
    )


# --------------------------------------------------------------------------- regularized evolution


def sphere(params: dict[str, Any]) -> dict[str, float]:
    return {"loss": float(sum(v * v for v in params.values()))}


def test_regularized_evolution_beats_random_on_sphere() -> None:
    space = box_space(4, -5.0, 5.0)
    re_best, rnd_best = [], []
    for seed in range(5):
        re_hist = run(RegularizedEvolutionSearcher(space, MIN, seed), sphere, 200)
        rnd_hist = run(RandomSearcher(space, MIN, seed), sphere, 200)
        re_best.append(min(t.values["loss"] for t in re_hist))
        rnd_best.append(min(t.values["loss"] for t in rnd_hist))
    wins = sum(r < q for r, q in zip(re_best, rnd_best, strict=True))
    assert wins >= 4, (re_best, rnd_best)
    assert statistics.median(re_best) < 0.5 * statistics.median(rnd_best), (re_best, rnd_best)


def aging_history(direction: str) -> list[FrozenTrial]:
    """40 COMPLETE trials: the 20 oldest are the best by far; then FAILED/PRUNED/pending ones."""
    space = box_space(3)
    rng = np.random.default_rng(0)
    old_value = 0.0 if direction == "minimize" else 1000.0
    trials = []
    for k in range(40):
        value = old_value if k < 20 else 100.0 - k  # newest COMPLETE (39) has the lowest value
        trials.append(complete(k, space.sample(rng), {"v": value}))
    great = 0.0 if direction == "minimize" else 1e6
    for k, state in enumerate(
        [TrialState.FAILED, TrialState.PRUNED, TrialState.RUNNING], start=40
    ):
        trials.append(FrozenTrial(k + 1, k, state, space.sample(rng), values={"v": great}))
    return trials


@pytest.mark.parametrize(("direction", "expected_parent"), [("minimize", 39), ("maximize", 20)])
def test_aging_and_direction_with_full_tournament(direction: str, expected_parent: int) -> None:
    space = box_space(3)
    objectives = [Objective("v", direction)]  # type: ignore[arg-type]
    history = aging_history(direction)
    for seed in range(10):
        searcher = RegularizedEvolutionSearcher(
            space, objectives, seed, population_size=20, tournament_size=20
        )
        (p,) = searcher.propose(history, 1)
        assert p.info["origin"] == "mutation"
        assert p.info["parent"] == expected_parent
        parent = history[expected_parent].params
        assert changed_keys(parent, p.params) == [p.info["mutated"]]


def test_population_is_the_newest_complete_trials() -> None:
    space = box_space(3)
    history = aging_history("minimize")
    searcher = RegularizedEvolutionSearcher(space, [Objective("v", "minimize")], 0)
    members, scores = searcher.population(history)
    assert [t.number for t in members] == list(range(20, 40))
    np.testing.assert_array_equal(scores, [100.0 - k for k in range(20, 40)])
    parents = set()
    for seed in range(40):
        batch = RegularizedEvolutionSearcher(space, [Objective("v", "minimize")], seed).propose(
            history, 3
        )
        parents |= {p.info["parent"] for p in batch}
    assert parents <= set(range(20, 40))
    # Tournament of 5 out of 20: the better half wins far more often, the worst can never win.
    assert 39 in parents and 20 not in parents


def test_warm_up_counts_pending_trials() -> None:
    space = box_space(2)
    rng = np.random.default_rng(1)
    history = [complete(k, space.sample(rng), {"loss": float(k)}) for k in range(15)]
    history += [
        FrozenTrial(k + 1, k, TrialState.RUNNING, space.sample(rng)) for k in range(15, 19)
    ]
    props = RegularizedEvolutionSearcher(space, MIN, 0, population_size=20).propose(history, 3)
    assert [p.info["origin"] for p in props] == ["random", "mutation", "mutation"]


def test_no_complete_trials_means_random() -> None:
    space = box_space(2)
    rng = np.random.default_rng(2)
    history = [FrozenTrial(k + 1, k, TrialState.FAILED, space.sample(rng)) for k in range(30)]
    props = RegularizedEvolutionSearcher(space, MIN, 0, population_size=5).propose(history, 2)
    assert [p.info["origin"] for p in props] == ["random", "random"]


def test_mutation_avoids_existing_neighbours() -> None:
    # Parent 0 is the only population member (others failed); all of its one-step neighbours but
    # one are already in the history, so that one must be proposed.
    from nas.space import IntParam

    space = SearchSpace([IntParam("a", 0, 2), IntParam("b", 0, 2)])
    parent = {"a": 1, "b": 1}
    neighbours = [{"a": 0, "b": 1}, {"a": 2, "b": 1}, {"a": 1, "b": 0}, {"a": 1, "b": 2}]
    history = [complete(0, parent, {"loss": 0.0})]
    history += [
        FrozenTrial(k + 1, k, TrialState.RUNNING, nb) for k, nb in enumerate(neighbours[:3], 1)
    ]
    history += [FrozenTrial(k + 1, k, TrialState.FAILED, {"a": 0, "b": 0}) for k in range(4, 6)]
    for seed in range(10):
        searcher = RegularizedEvolutionSearcher(
            space, MIN, seed, population_size=2, tournament_size=1
        )
        (p,) = searcher.propose(history, 1)
        assert p.params == neighbours[3], p


def test_regularized_evolution_options() -> None:
    space = mixed_space()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"population_size": 1}, r"population_size.*>= 2.*got 1"),
        (
            {"population_size": 10, "tournament_size": 11},
            r"tournament_size.*<= population_size \(10\).*11",
        ),
        ({"tournament_size": 0}, r"tournament_size.*>= 1"),
        ({"mutation_sigma": 0}, r"mutation_sigma.*\(0, 1\]"),
        ({"mutation_sigma": "big"}, "mutation_sigma"),
        ({"crossover_prob": 0.5}, "crossover_prob"),
    ]
    for options, pattern in bad:
        with pytest.raises(SearcherConfigError, match=pattern):
            create_searcher("regularized_evolution", space, MIN, 0, options)
    with pytest.raises(SearcherConfigError, match=r"at most 1 objective\(s\), got 2"):
        create_searcher("regularized_evolution", space, TWO, 0)


# --------------------------------------------------------------------------- NSGA-II


def zdt1(params: dict[str, Any]) -> dict[str, float]:
    x = np.array([params[f"x{i}"] for i in range(len(params))])
    f1 = float(x[0])
    g = 1.0 + 9.0 * float(np.mean(x[1:]))
    return {"f1": f1, "f2": g * (1.0 - np.sqrt(f1 / g))}


def front_hv(history: list[FrozenTrial]) -> float:
    pts = np.array([[t.values["f1"], t.values["f2"]] for t in history])
    return hypervolume(pts[pareto_mask(pts)], [1.1, 11.0])


def test_nsga2_beats_random_on_zdt1() -> None:
    space = box_space(6)
    nsga, rnd = [], []
    for seed in range(5):
        nsga.append(front_hv(run(NSGA2Searcher(space, TWO, seed), zdt1, 200)))
        rnd.append(front_hv(run(RandomSearcher(space, TWO, seed), zdt1, 200)))
    wins = sum(a > b for a, b in zip(nsga, rnd, strict=True))
    assert wins >= 4, (nsga, rnd)
    assert statistics.median(nsga) > statistics.median(rnd), (nsga, rnd)


def test_generation_bookkeeping_in_batches() -> None:
    searcher = NSGA2Searcher(box_space(2), TWO, 0, population_size=4)
    props = searcher.propose([], 10)
    assert [p.info["generation"] for p in props] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    # Nothing finished: even later generations can only be random.
    assert {p.info["origin"] for p in props} == {"random"}
    assert searcher.next_generations([], 5) == [0, 0, 0, 0, 1]


def test_generation_counts_trials_in_any_state() -> None:
    space = box_space(3)
    objectives = make_objectives(2)

    def factory() -> Searcher:
        return NSGA2Searcher(space, objectives, 5, population_size=6)

    _, history = simulate(factory, space, objectives, 45, workers=3)
    for t in history:
        assert t.system_attrs["generation"] == t.number // 6, t
    assert assign_generations(history) == [t.number // 6 for t in history]
    # Offspring of generation h have parents from generation < h.
    for t in history:
        if t.system_attrs.get("origin") == "offspring":
            for parent in t.system_attrs["parents"]:
                assert history[parent].system_attrs["generation"] < t.system_attrs["generation"]
                assert history[parent].state == TrialState.COMPLETE


def test_trials_without_generation_join_the_latest_one() -> None:
    space = box_space(2)
    rng = np.random.default_rng(3)
    history = [complete(k, space.sample(rng), {"f1": k, "f2": -k}, generation=0) for k in range(3)]
    history.append(complete(3, space.sample(rng), {"f1": 1.0, "f2": 1.0}))  # enqueued by hand
    assert assign_generations(history) == [0, 0, 0, 0]
    searcher = NSGA2Searcher(space, TWO, 0, population_size=4)
    assert [p.info["generation"] for p in searcher.propose(history, 2)] == [1, 1]


def test_parent_populations_keep_the_best_ranks() -> None:
    space = box_space(4)
    objectives = TWO

    def f(params: dict[str, Any]) -> dict[str, float]:
        x = np.array(list(params.values()))
        return {"f1": float(np.sum((x - 0.2) ** 2)), "f2": float(np.sum((x - 0.8) ** 2))}

    searcher = NSGA2Searcher(space, objectives, 1, population_size=8)
    history = run(searcher, f, 64)
    gens = assign_generations(history)
    pops = searcher.parent_populations(history, max(gens))
    previous: list[FrozenTrial] = []
    for k, pop in enumerate(pops):
        candidates = previous + [t for t, g in zip(history, gens, strict=True) if g == k]
        assert len(pop.members) == min(8, len(candidates))
        values = np.array([[t.values["f1"], t.values["f2"]] for t in candidates])
        ranks = dict(zip((t.number for t in candidates), non_dominated_sort(values), strict=True))
        kept = {t.number for t in pop.members}
        worst_kept = max(ranks[n] for n in kept)
        assert all(ranks[n] >= worst_kept for n in ranks if n not in kept)
        previous = pop.members
    # Offspring parents come from the population of the previous generation.
    for t in history:
        if t.system_attrs.get("origin") == "offspring":
            members = {m.number for m in pops[t.system_attrs["generation"] - 1].members}
            assert set(t.system_attrs["parents"]) <= members


def test_nsga2_respects_maximize() -> None:
    space = box_space(2)
    objectives = [Objective("a", "maximize"), Objective("b", "maximize")]
    rng = np.random.default_rng(4)
    history = []
    for k in range(6):
        v = float(k)  # trial 5 dominates everything when maximizing
        history.append(complete(k, space.sample(rng), {"a": v, "b": v}, generation=0))
    searcher = NSGA2Searcher(space, objectives, 0, population_size=6)
    (pop,) = searcher.parent_populations(history, 0)
    assert pop.members[0].number == 5 and pop.ranks[0] == 0
    assert list(pop.ranks) == [0, 1, 2, 3, 4, 5]
    assert [m.number for m in pop.members] == [5, 4, 3, 2, 1, 0]


def test_custom_strategies_are_used() -> None:
    space = box_space(3)
    rng = np.random.default_rng(5)
    history = [
        complete(k, space.sample(rng), {"f1": float(k), "f2": float(-k)}, generation=0)
        for k in range(4)
    ]
    calls: list[tuple[Any, Any]] = []

    def first(ranks: np.ndarray, crowding: np.ndarray, rng: np.random.Generator) -> int:
        return 0

    def record_crossover(
        space: SearchSpace, a: Any, b: Any, rng: np.random.Generator
    ) -> dict[str, Any]:
        calls.append((a, b))
        return UniformCrossover(0.5)(space, a, b, rng)

    searcher = NSGA2Searcher(
        space,
        TWO,
        0,
        population_size=4,
        crossover_prob=1.0,
        selection=first,
        crossover=record_crossover,
    )
    props = searcher.propose(history, 3)
    best = searcher.parent_populations(history, 0)[0].members[0].number
    assert all(p.info["parents"] == [best, best] for p in props)
    assert len(calls) >= 3
    calls.clear()
    NSGA2Searcher(
        space, TWO, 0, population_size=4, crossover_prob=0.0, crossover=record_crossover
    ).propose(history, 3)
    assert calls == []


def test_nsga2_options() -> None:
    space = mixed_space()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"population_size": 0}, r"population_size.*>= 2.*got 0"),
        ({"crossover_prob": 1.5}, r"crossover_prob.*\[0, 1\].*1.5"),
        ({"swapping_prob": -1}, "swapping_prob"),
        ({"mutation_prob": 2}, "mutation_prob"),
        ({"mutation_sigma": 0.0}, "mutation_sigma"),
        ({"selection": "tournament"}, r"selection.*callable"),
        (
            {"crossover": UniformCrossover(), "swapping_prob": 0.3},
            r"'swapping_prob'.*custom crossover",
        ),
        (
            {"mutation": lambda s, p, r: p, "mutation_sigma": 0.3},
            r"'mutation_sigma'.*custom mutation",
        ),
        ({"tournament_size": 3}, "tournament_size"),
    ]
    for options, pattern in bad:
        with pytest.raises(SearcherConfigError, match=pattern):
            create_searcher("nsga2", space, TWO, 0, options)
    with pytest.raises(SearcherConfigError, match=r"at least 2 objectives, got 1"):
        create_searcher("nsga2", space, MIN, 0)


# --------------------------------------------------------------------------- dispatcher


@pytest.mark.parametrize(
    ("count", "direct"), [(1, "regularized_evolution"), (2, "nsga2"), (3, "nsga2")]
)
def test_evolution_dispatches(count: int, direct: str) -> None:
    space = conditional_space()
    objectives = make_objectives(count)
    options = {"population_size": 6}

    def via(name: str) -> str:
        def factory() -> Searcher:
            return create_searcher(name, space, objectives, 9, options)

        return record(simulate(factory, space, objectives, 30)[0])

    assert via("evolution") == via(direct)
    searcher = create_searcher("evolution", space, objectives, 0)
    assert isinstance(searcher, EvolutionSearcher)
    expected = RegularizedEvolutionSearcher if count == 1 else NSGA2Searcher
    assert isinstance(searcher.algorithm, expected)


def test_evolution_rejects_options_of_the_other_algorithm() -> None:
    space = mixed_space()
    with pytest.raises(
        SearcherConfigError, match=r"'crossover_prob'.*regularized evolution.*valid options"
    ):
        create_searcher("evolution", space, MIN, 0, {"crossover_prob": 0.5})
    with pytest.raises(SearcherConfigError, match=r"'tournament_size'.*NSGA-II"):
        create_searcher("evolution", space, TWO, 0, {"tournament_size": 3})
    with pytest.raises(SearcherConfigError, match="population_size"):
        EvolutionSearcher(space, TWO, 0, population_size=-1)


def test_info_is_plain_json() -> None:
    space = mixed_space()
    for objectives in (MIN, TWO):
        _, history = simulate(
            lambda objectives=objectives: create_searcher("evolution", space, objectives, 2),
            space,
            objectives,
            50,
        )
        for t in history:
            p = Proposal(params=t.params, info=t.system_attrs)
            assert all(isinstance(v, str | int | list | type(None)) for v in p.info.values()), (
                p.info
            )
