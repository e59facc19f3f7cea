"""nas: hyperparameter and neural-architecture search with studies persisted in SQL.

Importing the package is cheap: the names below load their modules on first use
(:mod:`nas._lazy`), so ``import nas`` imports neither SQLAlchemy nor numpy.
"""

from __future__ import annotations

from nas._lazy import lazy_exports

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing would cost more than nas
if TYPE_CHECKING:
    from nas._types import FrozenTrial, Objective, Proposal, TrialState
    from nas.exceptions import NasError, TrialPruned
    from nas.space import SearchSpace
    from nas.study import (
        Constraints,
        Study,
        Trial,
        create_study,
        delete_study,
        load_study,
        open_study,
    )
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "nas._types": ["FrozenTrial", "Objective", "Proposal", "TrialState"],
            "nas.exceptions": ["NasError", "TrialPruned"],
            "nas.space": ["SearchSpace"],
            "nas.study": [
                "Constraints",
                "Study",
                "Trial",
                "create_study",
                "delete_study",
                "load_study",
                "open_study",
            ],
        },
    )

__version__ = "0.1.0"

__all__ = [
    "Constraints",
    "FrozenTrial",
    "NasError",
    "Objective",
    "Proposal",
    "SearchSpace",
    "Study",
    "Trial",
    "TrialPruned",
    "TrialState",
    "__version__",
    "create_study",
    "delete_study",
    "load_study",
    "open_study",
]
