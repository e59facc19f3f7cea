"""The rules for a study's scalar values, each written once.

A study file, a command-line override and a Python argument all go through these, with
``where`` naming the value as the user wrote it (``studies/s.yaml: timeout``, ``--timeout``,
``timeout``). Each raises one :class:`~nas.exceptions.StudyConfigError` line (a
:class:`ValueError` too): what is wrong, where, and what to write instead::

    --timeout: must be a positive number of seconds (leave it out for no limit), got 0
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nas.exceptions import StudyConfigError

__all__ = [
    "check_max_restarts",
    "check_n_trials",
    "check_searcher_options",
    "check_seed",
    "check_storage_url",
    "check_study_name",
    "check_timeout",
]

#: Seeds are stored as signed 64-bit integers; the study seed is non-negative.
SEED_LIMIT = 2**63


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_study_name(value: Any, where: str = "name") -> str:
    """A study name: a non-empty string.

    Raises:
        StudyConfigError: ``"<where>: must be a non-empty string, got ..."``.
    """
    if not isinstance(value, str) or not value.strip():
        raise StudyConfigError(f"{where}: must be a non-empty string, got {value!r}")
    return value


def check_seed(value: Any, where: str = "seed") -> int:
    """The study seed: an integer in ``[0, 2**63)``.

    Raises:
        StudyConfigError: ``"<where>: must be an integer in [0, 2**63), got ..."``.
    """
    if not _is_int(value) or not 0 <= value < SEED_LIMIT:
        raise StudyConfigError(f"{where}: must be an integer in [0, 2**63), got {value!r}")
    return int(value)


def check_n_trials(value: Any, where: str = "n_trials") -> int | None:
    """The study's total number of trials: ``None`` (no limit) or an integer ``>= 0`` (``0``
    creates the study and runs nothing, e.g. before starting workers).

    Raises:
        StudyConfigError: ``"<where>: must be a non-negative integer (the study's total), ..."``.
    """
    if value is not None and (not _is_int(value) or value < 0):
        raise StudyConfigError(
            f"{where}: must be a non-negative integer (the study's total number of trials), "
            f"got {value!r}"
        )
    return value


def check_timeout(value: Any, where: str = "timeout") -> float | None:
    """Seconds after which no trial starts: ``None`` (no limit) or a number ``> 0`` (NaN refused).

    Raises:
        StudyConfigError: ``"<where>: must be a positive number of seconds (leave it out for
            no limit), got ..."``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise StudyConfigError(
            f"{where}: must be a positive number of seconds (leave it out for no limit), "
            f"got {value!r}"
        )
    return float(value)


def check_storage_url(value: Any, where: str = "storage") -> str | None:
    """A database URL (``sqlite:///nas.db``, ``postgresql+psycopg://...``), or ``None``.

    Raises:
        StudyConfigError: ``"<where>: must be a database URL like sqlite:///nas.db, got ..."``.
    """
    if value is not None and (not isinstance(value, str) or "://" not in value):
        raise StudyConfigError(
            f"{where}: must be a database URL like sqlite:///nas.db, got {value!r}"
        )
    return value


def check_max_restarts(value: Any, where: str = "max_restarts") -> int:
    """Re-queues of a trial whose worker died: an integer ``>= 0``.

    Raises:
        StudyConfigError: ``"<where>: must be a non-negative integer, got ..."``.
    """
    if not _is_int(value) or value < 0:
        raise StudyConfigError(f"{where}: must be a non-negative integer, got {value!r}")
    return int(value)


def check_searcher_options(value: Any, where: str = "searcher_options") -> dict[str, Any]:
    """A searcher's options: ``None`` (none) or a mapping with string keys whose values are
    JSON (they are stored with the study); a new dict.

    Raises:
        StudyConfigError: ``"<where>: must be a mapping ..."`` or ``"<where>: must be
            JSON-serialisable ..."``.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise StudyConfigError(f"{where}: must be a mapping option -> value, got {value!r}")
    options = {str(k): v for k, v in value.items()}
    try:
        json.dumps(options, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise StudyConfigError(
            f"{where}: must be JSON-serialisable (numbers, strings, lists, mappings): {e}"
        ) from None
    return options
