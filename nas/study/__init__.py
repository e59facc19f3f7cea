"""Studies: the facade tying a search space, a searcher, a storage and an objective together."""

from __future__ import annotations

from nas.study._config import StudyConfig, load_study_config, resolve_objective
from nas.study._constraints import Bound, Constraints, ConstraintsFunc, parse_constraints
from nas.study._objectives import (
    OBJECTIVE_ATTR,
    OBJECTIVE_TYPES,
    objective_from_definition,
    pin_objective,
    stored_definition,
)
from nas.study._study import (
    DEFAULT_STORAGE,
    Study,
    create_study,
    create_study_from_config,
    delete_study,
    load_study,
)
from nas.study._trial import Trial

__all__ = [
    "DEFAULT_STORAGE",
    "Bound",
    "Constraints",
    "ConstraintsFunc",
    "OBJECTIVE_ATTR",
    "OBJECTIVE_TYPES",
    "Study",
    "StudyConfig",
    "Trial",
    "create_study",
    "create_study_from_config",
    "delete_study",
    "load_study",
    "load_study_config",
    "parse_constraints",
    "objective_from_definition",
    "pin_objective",
    "resolve_objective",
    "stored_definition",
]
