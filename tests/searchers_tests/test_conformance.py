"""Run the searcher conformance suite over every registered searcher."""

from __future__ import annotations

from typing import Any

import pytest

from nas.searchers import searcher_names
from nas.testing.searchers import SearcherConformance

#: Options that keep expensive searchers fast enough for the suite (small candidate counts,
#: few optimizer restarts). Each entry must leave the algorithm itself intact: the suite checks
#: contracts (validity, determinism, resume), not quality. One line per searcher.
FAST_OPTIONS: dict[str, dict[str, Any]] = {
    "hyperband": {"min_budget": 1, "max_budget": 9},
    "bohb": {"min_budget": 1, "max_budget": 9},
    "bayesian": {"num_restarts": 2, "raw_samples": 32, "mc_samples": 16, "max_fit_iterations": 20},
    "predictor_ga": {
        "n_startup": 8,
        "population": 24,
        "generations": 4,
        "hidden": [32, 32],
        "epochs": 60,
    },
}


@pytest.fixture(params=searcher_names())
def searcher_name(request: pytest.FixtureRequest) -> str:
    return request.param


class TestSearcherConformance(SearcherConformance):
    """Every test of the suite, once per registered searcher."""

    def options_for(self, searcher_name: str) -> dict[str, Any]:
        return dict(FAST_OPTIONS.get(searcher_name, {}))
