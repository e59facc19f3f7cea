"""SQL persistence of studies, trials and artifacts (SQLite or PostgreSQL).

The storage knows no algorithm: :class:`RDBStorage` does create/read/update/delete on
studies, trials and artifacts addressed by integer ids, plus the atomic operations that a
distributed study needs (gap-free trial numbering, claiming, re-queueing, finishing once).
The schema is versioned with Alembic (:data:`HEAD_REVISION`, :func:`upgrade`,
:func:`current_revision`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.exceptions import ArtifactNotFoundError
    from nas.storage._engine import DEFAULT_URL, mask_url
    from nas.storage._imports import TrialImport, trial_import_of
    from nas.storage._rdb import RDBStorage, get_storage
    from nas.storage._records import (
        ArtifactRecord,
        StaleHistoryError,
        StudyRecord,
        StudySummary,
        TrialNotFoundError,
    )
    from nas.storage._schema import HEAD_REVISION, current_revision, upgrade
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "nas.exceptions": ["ArtifactNotFoundError"],
            "nas.storage._engine": ["DEFAULT_URL", "mask_url"],
            "nas.storage._imports": ["TrialImport", "trial_import_of"],
            "nas.storage._rdb": ["RDBStorage", "get_storage"],
            "nas.storage._records": [
                "ArtifactRecord",
                "StaleHistoryError",
                "StudyRecord",
                "StudySummary",
                "TrialNotFoundError",
            ],
            "nas.storage._schema": ["HEAD_REVISION", "current_revision", "upgrade"],
        },
    )

__all__ = [
    "DEFAULT_URL",
    "HEAD_REVISION",
    "ArtifactNotFoundError",
    "ArtifactRecord",
    "RDBStorage",
    "StaleHistoryError",
    "StudyRecord",
    "StudySummary",
    "TrialImport",
    "TrialNotFoundError",
    "current_revision",
    "get_storage",
    "mask_url",
    "trial_import_of",
    "upgrade",
]
