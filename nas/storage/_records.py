"""Record types returned by RDBStorage, and the storage-specific errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nas._types import (
    Objective,
    TrialState,
)
from nas.exceptions import (
    NasError,
    StorageError,
)

__all__ = [
    "ArtifactRecord",
    "StaleHistoryError",
    "StudyRecord",
    "StudySummary",
    "TrialNotFoundError",
]


class StaleHistoryError(StorageError):
    """``add_trials(expected_next_number=...)`` found that other trials were added meanwhile.

    The proposals were computed from a history that is no longer the study's; reload the
    trials, propose again and retry.
    """


class TrialNotFoundError(NasError, KeyError):
    """No trial with the given id exists in the storage."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else "trial not found"


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """A snapshot of one study's definition.

    Attributes:
        study_id: primary key.
        name: unique name.
        objectives: in definition order (index ``i`` is objective index ``i`` everywhere).
        space: the space definition, as given to :meth:`RDBStorage.create_study`.
        searcher: ``{"name": ..., "options": {...}}`` as given.
        seed: the study seed.
        user_attrs: key -> JSON value.
        created_at: aware UTC datetime.
        next_trial_number: the number the next added trial gets (= number of trials ever
            added).
        constraints: the constraints definition as given to :meth:`RDBStorage.create_study`
            (``None``: unconstrained).
    """

    study_id: int
    name: str
    objectives: tuple[Objective, ...]
    space: dict[str, Any]
    searcher: dict[str, Any]
    seed: int
    user_attrs: dict[str, Any]
    created_at: datetime
    next_trial_number: int
    constraints: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StudySummary:
    """One line of :meth:`RDBStorage.list_studies`.

    Attributes:
        state_counts: number of trials per state; every :class:`TrialState` is a key.
        n_trials: total number of trials.
        last_update: the latest ``updated_at`` of the study's trials (when one of them last
            changed; heartbeats excluded), or ``created_at`` if it has no trial. Aware UTC.
        searcher: the searcher's name (``searcher["name"]`` given to
            :meth:`RDBStorage.create_study`).
    """

    study_id: int
    name: str
    objectives: tuple[Objective, ...]
    created_at: datetime
    state_counts: dict[TrialState, int]
    n_trials: int
    last_update: datetime
    searcher: str


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A file recorded for a study or one of its trials.

    Attributes:
        artifact_id: primary key.
        trial_id: ``None`` for a study-level artifact.
        kind: free-form category, e.g. ``"checkpoint"`` or ``"plot"``.
        path: where the file is (the storage does not read it); for a stored artifact, the
            logical name given to :meth:`RDBStorage.store_artifact`.
        sha256: lowercase hex SHA-256 of the file content (64 characters).
        size: size in bytes.
        created_at: aware UTC datetime.
        stored: ``True`` if the content is stored in the database
            (:meth:`RDBStorage.store_artifact`; read it with :meth:`RDBStorage.read_artifact`),
            ``False`` if only the path was recorded (:meth:`RDBStorage.add_artifact`).
    """

    artifact_id: int
    study_id: int
    trial_id: int | None
    kind: str
    path: str
    sha256: str
    size: int
    created_at: datetime
    stored: bool
