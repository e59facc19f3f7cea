"""The ``nas`` command line: thin wrappers over the study, storage, supernet and dashboard APIs.

One module per group of verbs; importing them registers their commands on :data:`app`, in the
order ``nas --help`` lists them (so these imports keep their order).
"""

from __future__ import annotations

from nas.cli._app import app, main

# isort: off
from nas.cli import _run  # noqa: F401  run, worker
from nas.cli import _asktell  # noqa: F401  ask, report, tell
from nas.cli import _query  # noqa: F401  studies, trials, pareto, splits
from nas.cli import _manage  # noqa: F401  export, delete
from nas.cli import _io  # noqa: F401  import, copy
from nas.cli import _dashboard  # noqa: F401  dashboard
from nas.cli import _db  # noqa: F401  db upgrade|current
from nas.cli import _bench  # noqa: F401  bench ranking|splits|quant
# isort: on

__all__ = ["app", "main"]
