"""Studies: the facade tying a search space, a searcher, a storage and an objective together.

:func:`open_study` is the one way into a study from a study file or a study name (``nas run``,
``nas worker``, the torchrun entry and :func:`create_study_from_config` use it);
:func:`create_study` / :func:`load_study` are the Python API for studies defined in code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.study._config import StudyConfig, load_study_config, resolve_objective
    from nas.study._constraints import Bound, Constraints, ConstraintsFunc, parse_constraints
    from nas.study._copy import copy_study
    from nas.study._io import import_trials_file, read_trials_file
    from nas.study._local import run_local_workers, worker_command
    from nas.study._objectives import (
        OBJECTIVE_ATTR,
        OBJECTIVE_TYPES,
        objective_from_definition,
        pin_objective,
        stored_definition,
    )
    from nas.study._open import (
        RUN_ATTR,
        OpenedStudy,
        StudyPlan,
        create_study_from_config,
        open_study,
        plan_study,
        stored_objective,
    )
    from nas.study._report import (
        front_records,
        front_table,
        status_line,
        studies_table,
        summary_line,
        trial_record,
        trials_table,
    )
    from nas.study._study import (
        DEFAULT_STORAGE,
        Study,
        create_study,
        delete_study,
        load_study,
    )
    from nas.study._trial import Trial
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "nas.study._config": ["StudyConfig", "load_study_config", "resolve_objective"],
            "nas.study._constraints": [
                "Bound",
                "Constraints",
                "ConstraintsFunc",
                "parse_constraints",
            ],
            "nas.study._copy": ["copy_study"],
            "nas.study._io": ["import_trials_file", "read_trials_file"],
            "nas.study._local": ["run_local_workers", "worker_command"],
            "nas.study._objectives": [
                "OBJECTIVE_ATTR",
                "OBJECTIVE_TYPES",
                "objective_from_definition",
                "pin_objective",
                "stored_definition",
            ],
            "nas.study._open": [
                "RUN_ATTR",
                "OpenedStudy",
                "StudyPlan",
                "create_study_from_config",
                "open_study",
                "plan_study",
                "stored_objective",
            ],
            "nas.study._report": [
                "front_records",
                "front_table",
                "status_line",
                "studies_table",
                "summary_line",
                "trial_record",
                "trials_table",
            ],
            "nas.study._study": [
                "DEFAULT_STORAGE",
                "Study",
                "create_study",
                "delete_study",
                "load_study",
            ],
            "nas.study._trial": ["Trial"],
        },
    )

__all__ = [
    "DEFAULT_STORAGE",
    "Bound",
    "Constraints",
    "ConstraintsFunc",
    "OBJECTIVE_ATTR",
    "OBJECTIVE_TYPES",
    "OpenedStudy",
    "RUN_ATTR",
    "Study",
    "StudyConfig",
    "StudyPlan",
    "Trial",
    "copy_study",
    "create_study",
    "create_study_from_config",
    "delete_study",
    "front_records",
    "import_trials_file",
    "front_table",
    "load_study",
    "load_study_config",
    "open_study",
    "parse_constraints",
    "objective_from_definition",
    "pin_objective",
    "plan_study",
    "read_trials_file",
    "resolve_objective",
    "run_local_workers",
    "status_line",
    "stored_definition",
    "stored_objective",
    "studies_table",
    "summary_line",
    "trial_record",
    "trials_table",
    "worker_command",
]
