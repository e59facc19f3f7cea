"""Change tracking for pollers (a dashboard): ``trials.updated_at`` and what reads it.

``FrozenTrial.datetime_updated`` set by every trial-changing write and not by heartbeats,
``get_trials(updated_since=...)``, ``list_studies()``' ``last_update`` and ``searcher``,
``rename_study``, and the v0.3.0.a migration that adds and backfills ``trials.updated_at``.

Most tests freeze the storage's clock (``nas.storage._core._utcnow``) so that each write's time
is known exactly; every test runs on SQLite and on PostgreSQL (``storage_url``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import DuplicatedStudyError, StudyNotFoundError, TrialNotRunningError
from nas.storage import HEAD_REVISION, RDBStorage, _core, upgrade
from nas.storage._models import UtcDateTime
from nas.storage._queries import (
    TRIALS_UPDATED_SINCE,
    TRIALS_UPDATED_SINCE_IN_SCOPE,
    StudyQueries,
)
from nas.storage._schema import alembic_config
from nas.testing.storage import make_study

T0 = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_US = timedelta(microseconds=1)


class Clock:
    """Stands in for the storage's ``_utcnow``: returns ``now``, which the test sets."""

    def __init__(self) -> None:
        self.now = T0

    def at(self, seconds: float) -> datetime:
        """Set the time to ``T0 + seconds`` and return it."""
        self.now = T0 + timedelta(seconds=seconds)
        return self.now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(_core, "_utcnow", clock)
    return clock


@pytest.fixture
def storage(storage_url: str) -> Iterator[RDBStorage]:
    storage = RDBStorage(storage_url)
    yield storage
    storage.dispose()


def _proposals(n: int) -> list[Proposal]:
    return [Proposal({"x": i / 10, "i": i}, info={"gen": i}) for i in range(n)]


def _updated(storage: RDBStorage, study_id: int) -> dict[int, datetime | None]:
    """number -> datetime_updated of every trial of the study."""
    return {t.number: t.datetime_updated for t in storage.get_trials(study_id)}


def _numbers(trials: list[FrozenTrial]) -> list[int]:
    return [t.number for t in trials]


# ------------------------------------------------------------------------ stamping writes


def test_add_trials_stamps_updated_at_with_created_at(storage: RDBStorage, clock: Clock) -> None:
    study_id = make_study(storage)
    t1 = clock.at(1)
    inserted, claimed = storage.add_trials(study_id, _proposals(3), claim_worker="w")
    assert claimed is not None
    assert [(t.datetime_created, t.datetime_updated) for t in inserted] == [(t1, t1)] * 3
    # What add_trials returns without reading back is what is stored (both load paths).
    assert storage.get_trials(study_id) == inserted
    assert storage.get_trial(claimed.trial_id) == claimed
    t2 = clock.at(2)
    more, _ = storage.add_trials(study_id, _proposals(1))
    assert more[0].datetime_updated == t2
    assert _updated(storage, study_id) == {0: t1, 1: t1, 2: t1, 3: t2}


def test_claim_stamps_updated_at(storage: RDBStorage, clock: Clock) -> None:
    study_id = make_study(storage)
    t1 = clock.at(1)
    storage.add_trials(study_id, _proposals(2))
    t2 = clock.at(2)
    claimed = storage.claim_waiting_trial(study_id, "w")
    assert claimed is not None and claimed.number == 0
    assert claimed.datetime_updated == t2 == claimed.datetime_start
    assert _updated(storage, study_id) == {0: t2, 1: t1}


#: Writes on trial 0 (RUNNING for worker "w"), each expected to stamp it; name -> call.
_MUTATIONS: dict[str, Callable[[RDBStorage, int], object]] = {
    "report": lambda s, tid: s.report(tid, 7, {0: 0.5, 1: 0.25}),
    "set_trial_user_attr": lambda s, tid: s.set_trial_user_attr(tid, "note", {"a": 1}),
    "finish_trial COMPLETE": lambda s, tid: s.finish_trial(
        tid, TrialState.COMPLETE, values={0: 1.0, 1: 2.0}, worker_id="w"
    ),
    "finish_trial FAILED": lambda s, tid: s.finish_trial(
        tid, TrialState.FAILED, failure_reason="boom"
    ),
    "requeue_trial": lambda s, tid: s.requeue_trial(tid, "w"),
    "abandon_trial": lambda s, tid: s.abandon_trial(tid, "w", "worker died 3 times"),
}


@pytest.mark.parametrize("mutation", list(_MUTATIONS))
def test_each_trial_write_stamps_that_trial_only(
    storage: RDBStorage, clock: Clock, mutation: str
) -> None:
    study_id = make_study(storage)
    t1 = clock.at(1)
    storage.add_trials(study_id, _proposals(2))
    t2 = clock.at(2)
    running = storage.claim_waiting_trial(study_id, "w")
    assert running is not None and running.number == 0
    before = storage.get_trial(running.trial_id)

    t3 = clock.at(3)
    result = _MUTATIONS[mutation](storage, running.trial_id)

    assert result is not False  # requeue/abandon: the compare-and-swap matched
    after = storage.get_trial(running.trial_id)
    assert after != before  # the write did change the trial ...
    assert after.datetime_updated == t3  # ... and stamped it with the time of the write
    assert _updated(storage, study_id) == {0: t3, 1: t1}  # the other trial is untouched
    if isinstance(result, FrozenTrial):  # finish_trial returns what it wrote
        assert result == after
    assert before.datetime_updated == t2


def test_user_attr_of_a_finished_trial_stamps_it(storage: RDBStorage, clock: Clock) -> None:
    study_id = make_study(storage)
    clock.at(1)
    _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
    assert trial is not None
    clock.at(2)
    storage.finish_trial(trial.trial_id, TrialState.PRUNED)
    t3 = clock.at(3)
    storage.set_trial_user_attr(trial.trial_id, "tag", "late")
    assert storage.get_trial(trial.trial_id).datetime_updated == t3


def test_heartbeat_and_refused_writes_do_not_stamp(storage: RDBStorage, clock: Clock) -> None:
    study_id = make_study(storage)
    t1 = clock.at(1)
    storage.add_trials(study_id, _proposals(2))
    t2 = clock.at(2)
    running = storage.claim_waiting_trial(study_id, "w")
    assert running is not None
    waiting = storage.get_trials(study_id, states={TrialState.WAITING})[0]

    t3 = clock.at(3)
    assert storage.heartbeat(running.trial_id, "w")
    beaten = storage.get_trial(running.trial_id)
    assert beaten.heartbeat == t3  # the heartbeat was written ...
    assert beaten.datetime_updated == t2  # ... but is no change for a poller
    assert storage.get_trials(study_id, updated_since=t3) == []

    clock.at(4)
    assert not storage.heartbeat(running.trial_id, "other")
    assert not storage.requeue_trial(running.trial_id, "other")
    assert not storage.abandon_trial(running.trial_id, "other", "no")
    assert not storage.requeue_trial(waiting.trial_id, None)
    with pytest.raises(TrialNotRunningError):
        storage.report(waiting.trial_id, 0, {0: 1.0})
    with pytest.raises(ValueError, match="out of range"):  # 2 objectives: indices 0 and 1
        storage.report(running.trial_id, 0, {0: 1.0, 2: 1.0})
    with pytest.raises(TrialNotRunningError):
        storage.finish_trial(waiting.trial_id, TrialState.COMPLETE, values={0: 1.0, 1: 1.0})
    with pytest.raises(TrialNotRunningError):
        storage.finish_trial(running.trial_id, TrialState.FAILED, worker_id="other")
    storage.report(running.trial_id, 0, {})  # nothing to record: nothing changes
    assert _updated(storage, study_id) == {0: t2, 1: t1}
    assert storage.get_trial(running.trial_id).intermediate_values == {}


def test_real_clock_stamps_are_the_write_times(storage: RDBStorage) -> None:
    study_id = make_study(storage)
    _, claimed = storage.add_trials(study_id, _proposals(1), claim_worker="w")
    assert claimed is not None
    assert claimed.datetime_updated == claimed.datetime_created == claimed.datetime_start
    updated = claimed.datetime_updated
    assert updated is not None and updated.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - updated) < timedelta(minutes=5)
    storage.report(claimed.trial_id, 1, {0: 0.5})
    reported = storage.get_trial(claimed.trial_id).datetime_updated
    assert reported is not None and reported >= updated
    done = storage.finish_trial(claimed.trial_id, TrialState.COMPLETE, values={0: 1, 1: 2})
    assert done.datetime_updated == done.datetime_complete
    assert done.datetime_complete is not None and done.datetime_complete >= reported
    assert storage.get_trial(claimed.trial_id) == done


# --------------------------------------------------------------- get_trials(updated_since)


def test_updated_since_returns_exactly_the_changed_trials(
    storage: RDBStorage, clock: Clock
) -> None:
    study_id = make_study(storage)
    other = make_study(storage, "other")
    t1 = clock.at(1)
    storage.add_trials(study_id, _proposals(5))
    storage.add_trials(other, _proposals(3))  # same stamps, another study: never returned
    t2 = clock.at(2)
    first = storage.claim_waiting_trial(study_id, "w")
    t3 = clock.at(3)
    second = storage.claim_waiting_trial(study_id, "w")
    assert first is not None and second is not None
    t4 = clock.at(4)
    storage.finish_trial(first.trial_id, TrialState.COMPLETE, values={0: 0.1, 1: 0.9})
    t5 = clock.at(5)
    fourth = storage.get_trials(study_id, min_number=4)[0]
    storage.set_trial_user_attr(fourth.trial_id, "note", "n")
    clock.at(6)
    storage.heartbeat(second.trial_id, "w")  # not a change

    def since(moment: datetime, **kwargs: Any) -> list[int]:
        return _numbers(storage.get_trials(study_id, updated_since=moment, **kwargs))

    assert since(t1) == [0, 1, 2, 3, 4]  # inclusive
    assert since(t1 + _US) == [0, 1, 4]  # microsecond precision, number order
    assert since(t3) == [0, 1, 4]  # trial 1 was stamped exactly t3
    assert since(t3 + _US) == [0, 4]
    assert since(t4) == [0, 4]
    assert since(t5) == [4]
    assert since(t5 + _US) == []
    # Any time zone: the same instant written in UTC+02:00.
    assert since(t3.astimezone(timezone(timedelta(hours=2)))) == [0, 1, 4]
    # Combined with the other filters.
    assert since(t1, states={TrialState.WAITING}) == [2, 3, 4]
    assert since(t2, states={TrialState.RUNNING, TrialState.COMPLETE}) == [0, 1]
    assert since(t2, min_number=1) == [1, 4]
    assert since(t3, min_number=1, states={TrialState.WAITING}) == [4]
    assert since(t2, states=()) == []
    # The trials returned are the same snapshots as a full load's.
    everything = {t.number: t for t in storage.get_trials(study_id)}
    assert storage.get_trials(study_id, updated_since=t2) == [everything[n] for n in (0, 1, 4)]
    assert everything[0].values == {"loss": 0.1, "accuracy": 0.9}
    assert everything[4].user_attrs == {"note": "n"}
    assert _numbers(storage.get_trials(other, updated_since=t2)) == []
    assert _numbers(storage.get_trials(other, updated_since=t1)) == [0, 1, 2]


def test_updated_since_with_many_trials_loads_their_children(
    storage: RDBStorage, clock: Clock
) -> None:
    """Beyond 8 trials the children come from the per-table statements of the scope."""
    study_id = make_study(storage)
    clock.at(1)
    storage.add_trials(study_id, _proposals(40))
    t2 = clock.at(2)
    changed = set(range(3, 40, 3))  # 13 trials
    for trial in storage.get_trials(study_id):
        if trial.number in changed:
            clock.at(2 + trial.number / 100)
            storage.set_trial_user_attr(trial.trial_id, "seen", trial.number)
    clock.at(3)
    running = storage.claim_waiting_trial(study_id, "w")  # number 0
    assert running is not None
    storage.report(running.trial_id, 4, {1: 0.5})
    everything = storage.get_trials(study_id)
    expected = [
        t for t in everything if t.datetime_updated is not None and t.datetime_updated >= t2
    ]
    assert _numbers(expected) == sorted(changed | {0})
    got = storage.get_trials(study_id, updated_since=t2)
    assert got == expected  # params, system/user attrs, intermediate values all attached
    assert got[0].intermediate_values == {"accuracy": {4: 0.5}}
    assert all(t.user_attrs == {"seen": t.number} for t in got[1:])
    assert all(t.system_attrs == {"gen": t.number} for t in got)
    waiting = {TrialState.WAITING}
    in_scope = storage.get_trials(study_id, updated_since=t2, min_number=1, states=waiting)
    assert in_scope == expected[1:]  # 13 trials: also the per-table statements
    assert _numbers(storage.get_trials(study_id, updated_since=t2, min_number=20)) == [
        n for n in sorted(changed) if n >= 20
    ]


def test_updated_since_must_be_an_aware_datetime(storage: RDBStorage) -> None:
    study_id = make_study(storage)
    storage.add_trials(study_id, _proposals(1))
    with pytest.raises(ValueError, match="naive"):
        storage.get_trials(study_id, updated_since=datetime(2030, 1, 1))
    with pytest.raises(TypeError, match="datetime"):
        storage.get_trials(study_id, updated_since="2030-01-01T00:00:00+00:00")  # type: ignore[arg-type]
    with pytest.raises(StudyNotFoundError, match="987654"):
        storage.get_trials(987_654, updated_since=T0)
    assert storage.get_trials(study_id, updated_since=datetime.now(UTC) + timedelta(days=1)) == []


@pytest.mark.parametrize(
    "queries",
    [TRIALS_UPDATED_SINCE, TRIALS_UPDATED_SINCE_IN_SCOPE],
    ids=["updated_since", "updated_since+min_number+states"],
)
def test_updated_since_query_uses_the_updated_at_index(
    sqlite_url: str, queries: StudyQueries
) -> None:
    """SQLite has no statistics: the query's shape alone must lead it to the index (ordered
    by number, the one with ``number >= ?`` would take the (study_id, number) index)."""
    storage = RDBStorage(sqlite_url)
    storage.dispose()
    engine = sa.create_engine(sqlite_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            compiled = queries.trials.compile(connection)
            placeholders = (None,) * len(compiled.positiontup or ())  # values do not matter
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", placeholders).all()
    finally:
        engine.dispose()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_trials_study_id_updated_at" in details, details
    assert "(study_id=? AND updated_at>?)" in details, details


# ---------------------------------------------------------------------------- list_studies


def test_list_studies_last_update_and_searcher(storage: RDBStorage, clock: Clock) -> None:
    t1 = clock.at(1)
    empty = storage.create_study("empty", [Objective("y", "minimize")], {}, {"name": "tpe"}, 1)
    clock.at(2)
    busy = storage.create_study(
        "busy", [Objective("y", "minimize")], {}, {"name": "nsga2", "options": {"pop": 8}}, 2
    )
    clock.at(3)
    storage.add_trials(busy, _proposals(3))
    clock.at(4)
    first = storage.claim_waiting_trial(busy, "w")
    clock.at(5)
    second = storage.claim_waiting_trial(busy, "w")
    assert first is not None and second is not None
    t6 = clock.at(6)
    storage.finish_trial(first.trial_id, TrialState.COMPLETE, values={0: 1.0})

    def summaries() -> dict[int, Any]:
        return {s.study_id: s for s in storage.list_studies()}

    by_id = summaries()
    assert (by_id[empty].last_update, by_id[empty].searcher) == (t1, "tpe")
    assert by_id[empty].last_update == by_id[empty].created_at
    # The latest stamp over every state (COMPLETE at t6; RUNNING t5, WAITING t3 are older).
    assert (by_id[busy].last_update, by_id[busy].searcher) == (t6, "nsga2")
    assert by_id[busy].n_trials == 3

    clock.at(7)
    assert storage.heartbeat(second.trial_id, "w")  # not a change
    storage.set_study_user_attr(busy, "k", 1)  # a study write, not a trial's
    assert summaries()[busy].last_update == t6
    t8 = clock.at(8)
    storage.report(second.trial_id, 1, {0: 0.5})  # a RUNNING trial's change counts too
    assert summaries()[busy].last_update == t8
    storage.delete_study(busy)
    assert list(summaries()) == [empty]


# ---------------------------------------------------------------------------- rename_study


def _study_updated_at(url: str, study_id: int) -> datetime:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    studies = sa.table("studies", sa.column("id"), sa.column("updated_at", UtcDateTime()))
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.select(studies.c.updated_at).where(studies.c.id == study_id)
            ).scalar_one()
    finally:
        engine.dispose()


def test_rename_study(storage: RDBStorage, storage_url: str, clock: Clock) -> None:
    t1 = clock.at(1)
    study_id = make_study(storage, "old")
    storage.add_trials(study_id, _proposals(2))
    before = storage.get_study(study_id)
    trials = storage.get_trials(study_id)
    t2 = clock.at(2)
    storage.rename_study(study_id, "new")
    assert storage.get_study(study_id) == dataclasses.replace(before, name="new")
    assert storage.get_study_id("new") == study_id
    with pytest.raises(StudyNotFoundError, match="old"):
        storage.get_study_id("old")
    assert storage.get_trials(study_id) == trials  # trials are not stamped by a rename
    assert _study_updated_at(storage_url, study_id) == t2 != t1
    # The old name is free again; renaming to the current name is allowed.
    assert make_study(storage, "old") != study_id
    clock.at(3)
    storage.rename_study(study_id, "new")
    assert storage.get_study(study_id).name == "new"
    assert [s.name for s in storage.list_studies()] == ["new", "old"]


def test_rename_study_refusals_change_nothing(storage: RDBStorage, storage_url: str) -> None:
    first = make_study(storage, "first")
    second = make_study(storage, "second")
    stamp = _study_updated_at(storage_url, first)
    with pytest.raises(DuplicatedStudyError, match="second"):
        storage.rename_study(first, "second")
    assert [(s.study_id, s.name) for s in storage.list_studies()] == [
        (first, "first"),
        (second, "second"),
    ]
    assert _study_updated_at(storage_url, first) == stamp  # rolled back
    with pytest.raises(StudyNotFoundError, match="987654"):
        storage.rename_study(987_654, "third")
    with pytest.raises(StudyNotFoundError):
        storage.rename_study(987_654, "second")  # missing wins over a taken name
    for bad in ("", "x" * 513, None):
        with pytest.raises(ValueError, match="study name"):
            storage.rename_study(first, bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        storage.rename_study("1", "third")  # type: ignore[arg-type]
    storage.rename_study(first, "x" * 512)  # the longest name allowed
    assert storage.get_study(first).name == "x" * 512
    assert storage.get_study_id("second") == second


def test_concurrent_renames_to_one_name_one_wins(storage_url: str) -> None:
    """The unique constraint decides, inside the transaction: no check-then-write race."""
    setup = RDBStorage(storage_url)
    ids = [make_study(setup, f"s{i}") for i in range(4)]
    setup.dispose()
    storages = [RDBStorage(storage_url) for _ in ids]
    start = threading.Barrier(len(ids))
    outcomes: dict[int, str] = {}

    def rename(storage: RDBStorage, study_id: int) -> None:
        start.wait(timeout=30)
        try:
            storage.rename_study(study_id, "winner")
            outcomes[study_id] = "renamed"
        except DuplicatedStudyError:
            outcomes[study_id] = "duplicate"
        except Exception as e:  # any other outcome fails the assertion below
            outcomes[study_id] = repr(e)

    threads = [
        threading.Thread(target=rename, args=(s, i)) for s, i in zip(storages, ids, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert sorted(outcomes.values()) == ["duplicate"] * 3 + ["renamed"], outcomes
        (winner,) = (i for i, outcome in outcomes.items() if outcome == "renamed")
        names = {s.study_id: s.name for s in storages[0].list_studies()}
        assert names == {i: "winner" if i == winner else f"s{ids.index(i)}" for i in ids}
    finally:
        for storage in storages:
            storage.dispose()


# ------------------------------------------------------------------------------ migration

_V020 = sa.MetaData()
_V020_STUDIES = sa.Table(
    "studies",
    _V020,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(512)),
    sa.Column("space_json", sa.Text),
    sa.Column("searcher_json", sa.Text),
    sa.Column("seed", sa.BigInteger),
    sa.Column("next_trial_number", sa.Integer),
    sa.Column("created_at", UtcDateTime()),
    sa.Column("updated_at", UtcDateTime()),
)
_V020_OBJECTIVES = sa.Table(
    "study_objectives",
    _V020,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("study_id", sa.Integer),
    sa.Column("idx", sa.Integer),
    sa.Column("name", sa.String(512)),
    sa.Column("direction", sa.String(8)),
)
_V020_TRIALS = sa.Table(
    "trials",
    _V020,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("study_id", sa.Integer),
    sa.Column("number", sa.Integer),
    sa.Column("state", sa.String(16)),
    sa.Column("created_at", UtcDateTime()),
    sa.Column("started_at", UtcDateTime()),
    sa.Column("finished_at", UtcDateTime()),
    sa.Column("heartbeat_at", UtcDateTime()),
    sa.Column("worker_id", sa.String(256)),
    sa.Column("restarts", sa.Integer),
)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


_OldTrial = tuple[str, datetime | None, datetime | None, datetime | None, int]
# study name -> [(state, started_at, finished_at, heartbeat_at, restarts)], created at T0
# (+ study index), with the updated_at the backfill must give each.
_OLD_TRIALS: dict[str, list[_OldTrial]] = {
    "a": [
        ("WAITING", None, None, None, 0),  # -> created_at
        ("RUNNING", _at(10), None, _at(50), 0),  # -> started_at, not the later heartbeat
        ("COMPLETE", _at(20), _at(30.5), _at(29), 0),  # -> finished_at
        ("FAILED", None, _at(40), None, 0),  # abandoned before it started -> finished_at
        ("WAITING", None, None, None, 2),  # re-queued twice (start cleared) -> created_at
    ],
    "b": [("RUNNING", _at(5), None, _at(6), 1)],
}
_BACKFILLED = {"a": [_at(0), _at(10), _at(30.5), _at(40), _at(0)], "b": [_at(5)]}


def test_migration_backfills_updated_at_of_existing_trials(storage_url: str) -> None:
    assert upgrade(storage_url, "v0.2.0.a") == (None, "v0.2.0.a")
    engine = sa.create_engine(storage_url, poolclass=sa.pool.NullPool)
    ids: dict[str, int] = {}
    try:
        with engine.begin() as connection:
            for k, (name, trials) in enumerate(_OLD_TRIALS.items()):
                created = _at(k)
                study_id = connection.execute(
                    _V020_STUDIES.insert().values(
                        name=name,
                        space_json="{}",
                        searcher_json='{"name": "random", "options": {}}',
                        seed=1,
                        next_trial_number=len(trials),
                        created_at=created,
                        updated_at=created,
                    )
                ).inserted_primary_key[0]
                ids[name] = study_id
                connection.execute(
                    _V020_OBJECTIVES.insert().values(
                        study_id=study_id, idx=0, name="y", direction="minimize"
                    )
                )
                connection.execute(
                    _V020_TRIALS.insert(),
                    [
                        {
                            "study_id": study_id,
                            "number": number,
                            "state": state,
                            "created_at": created,
                            "started_at": started,
                            "finished_at": finished,
                            "heartbeat_at": heartbeat,
                            "worker_id": None if started is None else "w",
                            "restarts": restarts,
                        }
                        for number, (state, started, finished, heartbeat, restarts) in enumerate(
                            trials
                        )
                    ],
                )
        old = _trials_schema(engine)
        assert "updated_at" not in [c[0] for c in old["columns"]]

        assert upgrade(storage_url) == ("v0.2.0.a", HEAD_REVISION)
        new = _trials_schema(engine)
        # One NOT NULL column and one index more; the rest (on SQLite, where the table is
        # recreated: its CHECK, unique and foreign key constraints, its indexes) is unchanged.
        assert new["columns"][-3] == ("updated_at", "DATETIME", False)
        assert new["columns"][:-3] == old["columns"]
        assert new["columns"][-2:] == [  # v0.4.0.a
            ("metrics_json", "TEXT", True),
            ("constraints_json", "TEXT", True),
        ]
        assert set(new["indexes"]) - set(old["indexes"]) == {
            ("ix_trials_study_id_updated_at", ("study_id", "updated_at"))
        }
        assert set(old["indexes"]) < set(new["indexes"])
        assert {k: new[k] for k in ("checks", "uniques", "fks")} == {
            k: old[k] for k in ("checks", "uniques", "fks")
        }
        assert len(old["checks"]) == 1
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(  # the CHECK on state still holds (SQLite: recreated)
                sa.text("UPDATE trials SET state = 'BOGUS' WHERE study_id = :s AND number = 0"),
                {"s": ids["a"]},
            )
        _check_backfill(storage_url, ids)

        # Down and up again: the column goes, the rows stay, the backfill is the same.
        command.downgrade(alembic_config(storage_url), "v0.2.0.a")
        assert _trials_schema(engine) == old
        with engine.connect() as connection:
            count = connection.execute(sa.select(sa.func.count()).select_from(_V020_TRIALS))
            assert count.scalar_one() == 6
        assert upgrade(storage_url) == ("v0.2.0.a", HEAD_REVISION)
        _check_backfill(storage_url, ids)
    finally:
        engine.dispose()


def _trials_schema(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Columns (name, type affinity, nullable), indexes, CHECKs, uniques, FKs of ``trials``."""
    inspector = sa.inspect(engine)
    return {
        "columns": [
            (c["name"], "DATETIME" if "TIME" in str(c["type"]) else str(c["type"]), c["nullable"])
            for c in inspector.get_columns("trials")
        ],
        "indexes": sorted(
            (i["name"], tuple(i["column_names"])) for i in inspector.get_indexes("trials")
        ),
        "checks": sorted((c["name"],) for c in inspector.get_check_constraints("trials")),
        "uniques": sorted(
            (u["name"], tuple(u["column_names"]))
            for u in inspector.get_unique_constraints("trials")
        ),
        "fks": sorted(
            (f["name"], tuple(f["constrained_columns"]), f["options"].get("ondelete"))
            for f in inspector.get_foreign_keys("trials")
        ),
    }


def _check_backfill(url: str, ids: dict[str, int]) -> None:
    storage = RDBStorage(url)
    try:
        for name, expected in _BACKFILLED.items():
            trials = storage.get_trials(ids[name])
            assert [t.datetime_updated for t in trials] == expected, name
        a = ids["a"]
        assert _numbers(storage.get_trials(a, updated_since=_at(10))) == [1, 2, 3]
        summaries = {s.name: s for s in storage.list_studies()}
        assert summaries["a"].last_update == _at(40)
        assert summaries["b"].last_update == _at(5)
        assert summaries["a"].searcher == "random"
        # New writes stamp as usual on the migrated table.
        claimed = storage.claim_waiting_trial(a, "new")
        assert claimed is not None and claimed.number == 0
        assert claimed.datetime_updated is not None and claimed.datetime_updated > _at(40)
        assert storage.requeue_trial(claimed.trial_id, "new")  # leave it as it was found
    finally:
        storage.dispose()


def test_db_created_at_previous_head_upgrades_to_the_fresh_schema(storage_url: str) -> None:
    """A database that nas 0.2 created with ``create_all`` (not through the migrations) ends
    up exactly like one created at head: same columns in the same order, same constraint and
    index names (the CHECK on ``trials.state`` keeps its name through the SQLite recreate)."""
    RDBStorage(storage_url).dispose()
    engine = sa.create_engine(storage_url, poolclass=sa.pool.NullPool)
    try:
        head = _trials_schema(engine)
        with engine.begin() as connection:  # back to what nas 0.2's create_all made
            connection.exec_driver_sql("DROP INDEX ix_trials_study_id_updated_at")
            for table, column in (
                ("trials", "constraints_json"),  # v0.4.0.a
                ("trials", "metrics_json"),
                ("studies", "constraints_json"),
                ("trials", "updated_at"),  # v0.3.0.a
            ):
                connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'v0.2.0.a'")
        assert _trials_schema(engine)["checks"] == [("ck_trials_state",)]
        assert upgrade(storage_url) == ("v0.2.0.a", HEAD_REVISION)
        assert _trials_schema(engine) == head
    finally:
        engine.dispose()


def test_sqlite_datetime_text_reads_back_as_aware_utc(sqlite_url: str) -> None:
    """UtcDateTime's SQLite fast path, and its fallback for text in other formats."""
    texts = {
        "2024-06-02 10:00:30.500000": datetime(2024, 6, 2, 10, 0, 30, 500000, tzinfo=UTC),
        "2024-06-02 10:00:00": datetime(2024, 6, 2, 10, tzinfo=UTC),  # CURRENT_TIMESTAMP
        "2024-06-02T12:00:00+02:00": datetime(2024, 6, 2, 10, tzinfo=UTC),  # has an offset
        None: None,
    }
    table = sa.table("t", sa.column("k", sa.Integer()), sa.column("v", UtcDateTime()))
    engine = sa.create_engine(sqlite_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (k INTEGER, v TEXT)")
            connection.exec_driver_sql(
                "INSERT INTO t VALUES (?, ?)", [(k, text) for k, text in enumerate(texts)]
            )
            values = connection.execute(sa.select(table.c.v).order_by(table.c.k)).scalars()
            assert list(values) == list(texts.values())
            for value in connection.execute(sa.select(table.c.v)).scalars():
                assert value is None or value.tzinfo is UTC
    finally:
        engine.dispose()
