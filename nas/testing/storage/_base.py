"""What the parts of the storage conformance suite share: the ``storage`` fixture, a small
study definition and helpers that create, finish and count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.storage import RDBStorage

__all__ = [
    "MISSING_ID",
    "OBJECTIVES",
    "SEARCHER",
    "SHA",
    "SPACE",
    "StorageFixture",
    "assert_utc",
    "complete_trial",
    "complete_trial_as",
    "make_study",
    "proposals",
    "row_counts",
]

#: The objectives of :func:`make_study`'s studies: index 0 ``loss``, index 1 ``accuracy``.
OBJECTIVES = (Objective("loss", "minimize"), Objective("accuracy", "maximize"))
SPACE: dict[str, Any] = {"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}}
SEARCHER: dict[str, Any] = {"name": "random", "options": {"n_startup": 3}}
#: An id that no study, trial or artifact of a test database has.
MISSING_ID = 987_654
#: A valid SHA-256 hex digest for path-only artifacts.
SHA = "ab" * 32


class StorageFixture:
    """The ``storage`` fixture of every part of the suite."""

    @pytest.fixture
    def storage(self, storage_url: str) -> Iterator[RDBStorage]:
        """An :class:`RDBStorage` on the empty database behind ``storage_url``."""
        storage = RDBStorage(storage_url)
        yield storage
        storage.dispose()


def make_study(
    storage: RDBStorage,
    name: str = "study",
    objectives: tuple[Objective, ...] = OBJECTIVES,
) -> int:
    """Create a study with a fixed small definition; return its id."""
    return storage.create_study(name, objectives, SPACE, SEARCHER, seed=42)


def proposals(n: int, start: int = 0) -> list[Proposal]:
    """``n`` proposals ``{"x": k / 100, "i": k}`` for ``k = start, start + 1, ...``."""
    return [Proposal({"x": (start + i) / 100, "i": start + i}) for i in range(n)]


def complete_trial(storage: RDBStorage, trial: FrozenTrial, loss: float = 0.5) -> FrozenTrial:
    """Finish the RUNNING ``trial`` as COMPLETE with values ``(loss, 1 - loss)``."""
    return storage.finish_trial(
        trial.trial_id, TrialState.COMPLETE, values={0: loss, 1: 1.0 - loss}
    )


def complete_trial_as(storage: RDBStorage, trial_id: int, worker_id: str) -> FrozenTrial:
    """Finish the trial as COMPLETE on behalf of ``worker_id`` (which must own it)."""
    return storage.finish_trial(
        trial_id, TrialState.COMPLETE, values={0: 1.0, 1: 0.0}, worker_id=worker_id
    )


def assert_utc(moment: datetime | None) -> None:
    """Assert ``moment`` is an aware UTC datetime of the last few minutes."""
    assert moment is not None
    assert moment.utcoffset() == timedelta(0), moment
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=5), moment


def row_counts(url: str) -> dict[str, int]:
    """Rows per nas table, read with a separate plain engine."""
    from nas.storage._models import Base

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return {
                name: int(
                    connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                )
                for name, table in Base.metadata.tables.items()
            }
    finally:
        engine.dispose()
