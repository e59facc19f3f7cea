"""Conformance suite for :class:`nas.storage.RDBStorage` on any database backend.

Usage (this is exactly ``tests/storage_tests/test_conformance.py``)::

    from nas.testing.storage import StorageConformance

    class TestStorageConformance(StorageConformance):
        pass

The test methods take a ``storage_url`` fixture: the URL of a new, empty database. The suite
supplies a ``storage`` fixture opened on it (and disposed afterwards). ``tests/conftest.py``
parametrizes ``storage_url`` over SQLite and PostgreSQL, so every check runs on both.

The suite is cut along the storage's aggregates: :class:`StudyConformance` (studies and
leases), :class:`TrialConformance`, :class:`ImportConformance` (trials inserted with their
outcome) and :class:`ArtifactConformance`; a backend must pass all four, which
:class:`StorageConformance` combines.

Also here: :func:`make_study` (a study with a fixed small definition) and the bodies of the
multi-process tests (:func:`claim_worker_loop`, :func:`endless_writer`,
:func:`open_and_create_study`).
"""

from __future__ import annotations

from nas.testing.storage._artifacts import ArtifactConformance
from nas.testing.storage._base import make_study
from nas.testing.storage._imports import ImportConformance
from nas.testing.storage._processes import (
    claim_worker_loop,
    endless_writer,
    open_and_create_study,
)
from nas.testing.storage._studies import StudyConformance
from nas.testing.storage._trials import TrialConformance

__all__ = [
    "ArtifactConformance",
    "ImportConformance",
    "StorageConformance",
    "StudyConformance",
    "TrialConformance",
    "claim_worker_loop",
    "endless_writer",
    "make_study",
    "open_and_create_study",
]


class StorageConformance(
    StudyConformance, TrialConformance, ImportConformance, ArtifactConformance
):
    """Behaviour every storage backend must show; subclass it in a test module to run it."""
