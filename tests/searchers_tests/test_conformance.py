"""Run the searcher conformance suite over every registered searcher."""

from __future__ import annotations

import pytest

from nas.searchers import searcher_names
from nas.testing.searchers import SearcherConformance


@pytest.fixture(params=searcher_names())
def searcher_name(request: pytest.FixtureRequest) -> str:
    return request.param


class TestSearcherConformance(SearcherConformance):
    """Every test of the suite, once per registered searcher."""
