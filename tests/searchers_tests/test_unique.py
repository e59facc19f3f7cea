"""No network twice: every searcher, guarded, in an architecture search."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from nas._types import Objective
from nas.exceptions import SearcherConfigError
from nas.searchers import UniqueProposals, create_searcher, searcher_names
from nas.space import ArchSpace
from nas.testing.searchers import simulate
from nas.testing.supernet import THREE_NETWORKS

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVES = (Objective("accuracy", "maximize"), Objective("mflops", "minimize"))
#: Options that keep the expensive searchers fast; as in the conformance suite.
FAST = {
    "hyperband": {"min_budget": 1, "max_budget": 9},
    "bohb": {"min_budget": 1, "max_budget": 9},
    "bayesian": {"num_restarts": 2, "raw_samples": 32, "mc_samples": 16, "max_fit_iterations": 20},
}


@pytest.fixture(scope="module")
def arch() -> ArchSpace:
    return ArchSpace.from_yaml(ROOT / "search_spaces" / "digits_cnn.yaml")


@pytest.mark.parametrize("name", searcher_names())
def test_no_searcher_proposes_a_network_already_evaluated_or_pending(arch, name) -> None:
    for space in (arch.conditional_search_space, arch.search_space):
        for objectives in (OBJECTIVES, OBJECTIVES[:1]):
            try:
                create_searcher(name, space, objectives, 0, FAST.get(name, {}))
            except SearcherConfigError:
                continue  # this encoding or objective count is refused: try another

            def factory(space=space, objectives=objectives):
                inner = create_searcher(name, space, objectives, 0, FAST.get(name, {}))
                return UniqueProposals(inner)

            _, history = simulate(factory, space, objectives, 40, workers=3)
            keys = Counter((arch.key(t.params), t.budget) for t in history)
            assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1][:2]
            return
    pytest.skip(f"{name} takes no encoding of the architecture space")


def test_duplicates_are_replaced_deterministically_and_exhaustion_ends_the_proposals() -> None:
    from nas._types import FrozenTrial, TrialState
    from nas.searchers import RandomSearcher

    tiny = ArchSpace.from_dict(THREE_NETWORKS)
    space = tiny.search_space  # 3 networks: conv of width 2 or 4, or skip
    largest = tiny.params(tiny.largest())

    class Same(RandomSearcher):  # a searcher that repeats itself (a plug-in bug, a model)
        def propose(self, trials, n=1):
            return [type(p)(params=dict(largest)) for p in super().propose(trials, n)]

    guarded = UniqueProposals(Same(space, OBJECTIVES, 0))
    history: list[FrozenTrial] = []
    for number in range(5):
        proposals = guarded.propose(history)
        again = UniqueProposals(Same(space, OBJECTIVES, 0)).propose(history)
        assert [p.params for p in proposals] == [p.params for p in again]  # deterministic
        if not proposals:
            break
        (p,) = proposals
        assert p.info.get("replaced_duplicate") == (None if number == 0 else 0)
        history.append(FrozenTrial(number, number, TrialState.RUNNING, p.params))
    assert len(history) == 3 and len({space.key(t.params) for t in history}) == 3


def test_a_nas_study_ends_when_every_network_was_evaluated(tmp_path) -> None:
    import nas

    tiny = ArchSpace.from_dict(THREE_NETWORKS)
    study = nas.create_study(
        "tiny", tiny.search_space, {"value": "minimize"}, storage=f"sqlite:///{tmp_path}/t.db"
    )
    study.optimize(lambda trial: float(len(trial.params)), n_trials=10)
    assert len(study.trials) == 3  # 3 networks; the flat encoding has 4 assignments of them
    reopened = nas.load_study("tiny", f"sqlite:///{tmp_path}/t.db")
    assert reopened.space.equivalence == tiny  # stored with the study
