"""Reusable test suites for extensions of ``nas`` (pytest is required to use them).

* :mod:`nas.testing.searchers`: ``SearcherConformance``, the contract every registered searcher
  must satisfy.
* :mod:`nas.testing.storage`: the storage conformance suite.
* :mod:`nas.testing.cli`: ``run_cli``, the command line run in-process.

The suites are imported from their modules (``from nas.testing.searchers import
SearcherConformance``); this package imports nothing so that ``import nas`` never needs pytest.
"""

from __future__ import annotations

__all__: list[str] = []
