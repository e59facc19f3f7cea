"""nas: hyperparameter and neural-architecture search with studies persisted in SQL."""

from __future__ import annotations

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
