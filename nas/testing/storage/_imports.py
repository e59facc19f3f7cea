"""Conformance of the import operation (``import_trials``) and of ``import_artifact``: every
field stored and read back, numbering shared with ``add_trials``, all or nothing."""

from __future__ import annotations

import hashlib
import math
import threading
from datetime import UTC, datetime, timedelta

import pytest

from nas._types import Proposal, TrialState
from nas.exceptions import StudyNotFoundError
from nas.storage import (
    RDBStorage,
    StaleHistoryError,
    TrialImport,
    trial_import_of,
)
from nas.testing.storage._base import (
    MISSING_ID,
    SHA,
    StorageFixture,
    assert_utc,
    complete_trial,
    make_study,
    proposals,
    row_counts,
)

__all__ = ["ImportConformance"]

T0 = datetime(2024, 5, 17, 8, 30, 15, 123456, tzinfo=UTC)


def full_imports() -> list[TrialImport]:
    """One trial of every importable state, every field set."""
    return [
        TrialImport(
            state=TrialState.COMPLETE,
            params={"x": 0.25, "act": "relu", "flag": True, "none": None},
            values={0: 0.1, 1: 0.9},
            intermediate_values={0: {0: 0.5, 3: 0.2}, 1: {0: 0.4}},
            budget=9.0,
            user_attrs={"note": {"a": [1, 2]}, "arch": "x"},
            system_attrs={"generation": 2},
            metrics={"latency_ms": 1.5, "broken": math.nan},
            constraint_values=(-0.5, math.inf),
            infeasible_reason="'broken' is nan",
            worker_id="host:12:abc",
            restarts=1,
            datetime_created=T0 - timedelta(seconds=5),
            datetime_start=T0,
            datetime_complete=T0 + timedelta(seconds=42.5),
            heartbeat=T0 + timedelta(seconds=40),
        ),
        TrialImport(
            state=TrialState.PRUNED,
            params={"x": 0.5},
            values={0: 3.0},
            intermediate_values={0: {1: 3.0}},
            failure_reason="pruned at step 1",
            datetime_start=T0,
            datetime_complete=T0 + timedelta(seconds=1),
        ),
        TrialImport(
            state=TrialState.FAILED,
            params={"x": 0.75},
            failure_reason="Traceback ...\nValueError: boom",
            datetime_start=T0,
            datetime_complete=T0,
        ),
        TrialImport(
            state=TrialState.WAITING, params={"x": 1.0}, intermediate_values={0: {2: 1.0}}
        ),
    ]


class ImportConformance(StorageFixture):
    """``import_trials`` and ``import_artifact``."""

    def test_import_keeps_every_field(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        storage.add_trials(study_id, proposals(2))
        imports = full_imports()
        inserted = storage.import_trials(study_id, imports)
        assert [t.number for t in inserted] == [2, 3, 4, 5]
        assert storage.get_study(study_id).next_trial_number == 6
        assert inserted == storage.get_trials(study_id, min_number=2)
        complete, pruned, failed, waiting = inserted
        assert complete.state is TrialState.COMPLETE
        assert complete.params == {"x": 0.25, "act": "relu", "flag": True, "none": None}
        assert complete.values == {"loss": 0.1, "accuracy": 0.9}
        assert complete.intermediate_values == {"loss": {0: 0.5, 3: 0.2}, "accuracy": {0: 0.4}}
        assert complete.budget == 9.0
        assert complete.user_attrs == {"note": {"a": [1, 2]}, "arch": "x"}
        assert complete.system_attrs == {"generation": 2}
        assert complete.metrics["latency_ms"] == 1.5 and math.isnan(complete.metrics["broken"])
        assert complete.constraint_values == (-0.5, math.inf) and complete.feasible is False
        assert complete.infeasible_reason == "'broken' is nan"
        assert (complete.worker_id, complete.restarts) == ("host:12:abc", 1)
        assert complete.datetime_created == T0 - timedelta(seconds=5)
        assert complete.datetime_start == T0
        assert complete.datetime_complete == T0 + timedelta(seconds=42.5)
        assert complete.heartbeat == T0 + timedelta(seconds=40)
        assert complete.duration == 42.5
        assert_utc(complete.datetime_updated)  # the time of the import: pollers see it
        assert pruned.values == {"loss": 3.0} and pruned.failure_reason == "pruned at step 1"
        assert pruned.feasible is None and pruned.datetime_created == T0
        assert failed.values == {} and failed.failure_reason.endswith("boom")  # type: ignore[union-attr]
        assert waiting.state is TrialState.WAITING and waiting.datetime_start is None
        assert waiting.intermediate_values == {"loss": {2: 1.0}}
        assert_utc(waiting.datetime_created)
        # An imported WAITING trial runs like any other; finished ones are never claimed.
        claimed = storage.claim_waiting_trial(study_id, "w")
        assert claimed is not None and claimed.number == 0
        storage.claim_waiting_trial(study_id, "w")
        last = storage.claim_waiting_trial(study_id, "w")
        assert last is not None and last.number == waiting.number
        assert complete_trial(storage, last).state is TrialState.COMPLETE
        assert storage.claim_waiting_trial(study_id, "w") is None

    def test_missing_times_are_the_time_of_the_import(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        done, started, ended = storage.import_trials(
            study_id,
            [
                TrialImport(TrialState.FAILED, {"x": 1}),
                TrialImport(TrialState.FAILED, {"x": 1}, datetime_start=T0),
                TrialImport(TrialState.FAILED, {"x": 1}, datetime_complete=T0),
            ],
        )
        assert_utc(done.datetime_start)
        assert done.datetime_complete == done.datetime_start == done.datetime_created
        assert started.datetime_start == T0 and started.datetime_created == T0
        assert_utc(started.datetime_complete)
        assert ended.datetime_complete == T0 and ended.datetime_start == T0  # never negative

    def test_all_or_nothing(self, storage_url: str, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        before = row_counts(storage_url)
        good = TrialImport(TrialState.COMPLETE, {"x": 1}, values={0: 1.0, 1: 2.0})
        bad_cases: list[tuple[TrialImport, type[Exception], str]] = [
            (TrialImport(TrialState.COMPLETE, {"x": 1}, values={0: 1.0}), ValueError, "every"),
            (TrialImport(TrialState.FAILED, {"x": 1}, values={2: 1.0}), ValueError, "range"),
            (
                TrialImport(TrialState.FAILED, intermediate_values={5: {0: 1.0}}),
                ValueError,
                "range",
            ),
            (TrialImport(TrialState.RUNNING, {"x": 1}), ValueError, "RUNNING"),
            (TrialImport(TrialState.COMPLETE, values={0: math.nan, 1: 0.0}), ValueError, "NaN"),
            (TrialImport(TrialState.FAILED, {"x": math.nan}), TypeError, "JSON"),
            (TrialImport(TrialState.PRUNED, constraint_values=(1.0,)), ValueError, "COMPLETE"),
            (TrialImport(TrialState.WAITING, values={0: 1.0}), ValueError, "WAITING"),
            (TrialImport(TrialState.WAITING, worker_id="w"), ValueError, "WAITING"),
            (
                TrialImport(TrialState.FAILED, datetime_start=T0.replace(tzinfo=None)),
                ValueError,
                "naive",
            ),
            (
                TrialImport(
                    TrialState.FAILED, datetime_start=T0, datetime_complete=T0 - timedelta(1)
                ),
                ValueError,
                "before",
            ),
            (TrialImport(TrialState.FAILED, restarts=-1), ValueError, "restarts"),
        ]
        for bad, error, match in bad_cases:
            with pytest.raises(error, match=match):
                storage.import_trials(study_id, [good, bad])
        with pytest.raises(TypeError, match="TrialImport"):
            storage.import_trials(study_id, [Proposal({"x": 1})])  # type: ignore[list-item]
        assert row_counts(storage_url) == before
        assert storage.get_study(study_id).next_trial_number == 0
        assert storage.import_trials(study_id, []) == []

    def test_expected_next_number_and_missing_study(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        one = [TrialImport(TrialState.FAILED, {"x": 1})]
        assert [
            t.number for t in storage.import_trials(study_id, one, expected_next_number=0)
        ] == [0]
        with pytest.raises(StaleHistoryError):
            storage.import_trials(study_id, one, expected_next_number=0)
        with pytest.raises(StudyNotFoundError):
            storage.import_trials(MISSING_ID, one)

    def test_numbers_shared_with_add_trials_under_threads(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        errors: list[BaseException] = []

        def work(k: int) -> None:
            try:
                for _ in range(4):
                    if k % 2:
                        storage.add_trials(study_id, proposals(2))
                    else:
                        storage.import_trials(
                            study_id, [TrialImport(TrialState.FAILED, {"k": k})] * 2
                        )
            except BaseException as e:  # collected and asserted below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        trials = storage.get_trials(study_id)
        assert [t.number for t in trials] == list(range(32))
        assert storage.get_study(study_id).next_trial_number == 32

    def test_a_trial_re_imported_equals_its_source(self, storage: RDBStorage) -> None:
        """``trial_import_of`` keeps every field; a RUNNING trial comes back WAITING."""
        study_id = make_study(storage)
        other = make_study(storage, "other")
        source = storage.import_trials(study_id, full_imports())
        _, running = storage.add_trials(study_id, proposals(1), claim_worker="w")
        assert running is not None
        storage.report(running.trial_id, 4, {0: 0.3})
        names = [o.name for o in storage.get_study(study_id).objectives]
        copies = storage.import_trials(
            other, [trial_import_of(t, names) for t in storage.get_trials(study_id)]
        )
        ignored = ("trial_id", "datetime_updated")
        for a, b in zip(source, copies[:4], strict=True):
            for field in a.__dataclass_fields__:
                if field not in ignored:
                    assert getattr(a, field) == getattr(b, field) or (
                        field == "metrics" and str(a.metrics) == str(b.metrics)
                    ), field
        requeued = copies[4]
        assert requeued.state is TrialState.WAITING and requeued.worker_id is None
        assert requeued.datetime_start is None and requeued.heartbeat is None
        assert requeued.intermediate_values == {"loss": {4: 0.3}}
        with pytest.raises(ValueError, match="unknown objectives"):
            trial_import_of(source[0], ["loss"])

    def test_import_artifact(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        (trial,) = storage.import_trials(study_id, [TrialImport(TrialState.FAILED, {"x": 1})])
        data = b"\x00weights\xff" * 100
        digest = hashlib.sha256(data).hexdigest()
        stored = storage.import_artifact(
            study_id,
            "checkpoint",
            "supernet/a.pt",
            digest,
            len(data),
            trial_id=trial.trial_id,
            created_at=T0,
            data=data,
        )
        path_only = storage.import_artifact(study_id, "plot", "/tmp/p.html", SHA, 7)
        first, second = storage.get_artifacts(study_id)
        assert (first.artifact_id, first.stored, first.created_at) == (stored, True, T0)
        assert first.trial_id == trial.trial_id and first.path == "supernet/a.pt"
        assert storage.read_artifact(stored) == data
        assert (second.artifact_id, second.stored, second.size) == (path_only, False, 7)
        assert_utc(second.created_at)
        with pytest.raises(ValueError, match="sha256"):
            storage.import_artifact(study_id, "c", "p", SHA, len(data), data=data)
        with pytest.raises(ValueError, match="aware"):
            storage.import_artifact(study_id, "c", "p", SHA, 1, created_at=T0.replace(tzinfo=None))
        assert len(storage.get_artifacts(study_id)) == 2
