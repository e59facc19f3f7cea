"""Exceptions raised by ``nas``.

Every error that ``nas`` raises on purpose derives from :class:`NasError`. Errors caused by bad
user input also derive from :class:`ValueError` (or :class:`KeyError` for missing names), so
callers that only know the builtins still catch them. The CLI turns every :class:`NasError` into
one line on stderr and exit status 2.
"""

from __future__ import annotations

__all__ = [
    "ArtifactNotFoundError",
    "DuplicatedStudyError",
    "IncompatibleStudyError",
    "NasError",
    "PrunerConfigError",
    "SchemaVersionError",
    "SearcherConfigError",
    "SpaceError",
    "StorageError",
    "StudyConfigError",
    "StudyNotFoundError",
    "TrialFailed",
    "TrialNotRunningError",
    "TrialPruned",
    "UnknownSearcherError",
]


class NasError(Exception):
    """Root of every error ``nas`` raises deliberately."""


class SpaceError(NasError, ValueError):
    """A search space definition or a parameter value breaks a rule of the space.

    The message names where (file and key path, e.g. ``space.yaml: params.lr.low``), the rule
    broken and the offending value.
    """


class StudyConfigError(NasError, ValueError):
    """A study definition (YAML file or arguments of ``create_study``) is invalid."""


class UnknownSearcherError(NasError, ValueError):
    """A searcher name is not registered; the message lists the valid names."""


class SearcherConfigError(NasError, ValueError):
    """Options given to a searcher are unknown or out of range."""


class PrunerConfigError(StudyConfigError):
    """A pruner name is not registered (the valid names are listed), or its options are
    unknown, out of range, or do not fit the study (e.g. a single-objective pruner in a
    multi-objective study without ``objective``)."""


class StorageError(NasError):
    """The database could not be reached or refused an operation (wraps SQLAlchemy errors)."""


class SchemaVersionError(StorageError):
    """The database schema is older or newer than this version of ``nas`` understands.

    The message says what to do: ``nas db upgrade`` for an older schema, upgrading ``nas`` for a
    newer one.
    """


class StudyNotFoundError(NasError, KeyError):
    """No study with the given name (or id) exists in the storage."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else "study not found"


class ArtifactNotFoundError(NasError, KeyError):
    """No artifact with the given id exists, or it has no content stored in the database.

    The second case is an artifact recorded with ``add_artifact`` (path only): its content is
    the file at its path, not in the database; the message says so and names the path.
    """

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else "artifact not found"


class DuplicatedStudyError(NasError, ValueError):
    """A study with that name already exists and ``load_if_exists`` was not set."""


class IncompatibleStudyError(NasError, ValueError):
    """An existing study was opened with a different definition (space, objectives, searcher)."""


class TrialNotRunningError(NasError, RuntimeError):
    """A trial was reported to or finished while it is not RUNNING (or owned by another worker)."""


class TrialPruned(NasError):  # noqa: N818 - the name reads as an outcome, like optuna.TrialPruned
    """Raise from an objective to stop the trial early; it is stored as PRUNED, not FAILED."""


class TrialFailed(NasError):  # noqa: N818 - an outcome, like TrialPruned
    """Raise from an objective to mark the trial FAILED with this message as its whole failure
    reason (no traceback): for failures whose cause is outside the Python code, such as an
    external program's exit status and stderr (``objective: {type: command}``)."""
