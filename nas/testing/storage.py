"""Conformance suite for :class:`nas.storage.RDBStorage` on any database backend.

Usage (this is exactly ``tests/storage_tests/test_conformance.py``)::

    from nas.testing.storage import StorageConformance

    class TestStorageConformance(StorageConformance):
        pass

The test methods take a ``storage_url`` fixture: the URL of a new, empty database. The suite
supplies a ``storage`` fixture opened on it (and disposed afterwards). ``tests/conftest.py``
parametrizes ``storage_url`` over SQLite and PostgreSQL, so every check runs on both.

Also here: the bodies of the multi-process tests (:func:`claim_worker_loop`,
:func:`endless_writer`, :func:`open_and_create_study`). They must live in an importable module
because ``spawn`` children import their target by name.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import (
    ArtifactNotFoundError,
    DuplicatedStudyError,
    StorageError,
    StudyNotFoundError,
    TrialNotRunningError,
)
from nas.storage import RDBStorage, StaleHistoryError, TrialNotFoundError

__all__ = [
    "StorageConformance",
    "claim_worker_loop",
    "endless_writer",
    "make_study",
    "open_and_create_study",
]

_OBJECTIVES = (Objective("loss", "minimize"), Objective("accuracy", "maximize"))
_SPACE: dict[str, Any] = {"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}}
_SEARCHER: dict[str, Any] = {"name": "random", "options": {"n_startup": 3}}
_MISSING_ID = 987_654
_SHA = "ab" * 32


def make_study(
    storage: RDBStorage,
    name: str = "study",
    objectives: tuple[Objective, ...] = _OBJECTIVES,
) -> int:
    """Create a study with a fixed small definition; return its id."""
    return storage.create_study(name, objectives, _SPACE, _SEARCHER, seed=42)


def _proposals(n: int, start: int = 0) -> list[Proposal]:
    return [Proposal({"x": (start + i) / 100, "i": start + i}) for i in range(n)]


def _complete(storage: RDBStorage, trial: FrozenTrial, loss: float = 0.5) -> FrozenTrial:
    return storage.finish_trial(
        trial.trial_id, TrialState.COMPLETE, values={0: loss, 1: 1.0 - loss}
    )


def _assert_utc(moment: datetime | None) -> None:
    assert moment is not None
    assert moment.utcoffset() == timedelta(0), moment
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=5), moment


class StorageConformance:
    """Behaviour every storage backend must show; subclass it in a test module to run it."""

    @pytest.fixture
    def storage(self, storage_url: str) -> Iterator[RDBStorage]:
        """An :class:`RDBStorage` on the empty database behind ``storage_url``."""
        storage = RDBStorage(storage_url)
        yield storage
        storage.dispose()

    # ---------------------------------------------------------------------------- studies

    def test_create_and_get_study(self, storage: RDBStorage) -> None:
        study_id = storage.create_study(
            "s1", _OBJECTIVES, _SPACE, _SEARCHER, seed=2**62 + 1, user_attrs={"owner": "me"}
        )
        record = storage.get_study(study_id)
        assert record.study_id == study_id
        assert record.name == "s1"
        assert record.objectives == _OBJECTIVES
        assert record.space == _SPACE
        assert record.searcher == _SEARCHER
        assert record.seed == 2**62 + 1  # BigInteger: beyond 32 bits survives
        assert record.user_attrs == {"owner": "me"}
        assert record.next_trial_number == 0
        _assert_utc(record.created_at)
        assert storage.get_study_id("s1") == study_id

    def test_duplicate_study_name_raises(self, storage: RDBStorage) -> None:
        make_study(storage, "dup")
        with pytest.raises(DuplicatedStudyError, match="dup"):
            make_study(storage, "dup")
        assert [s.name for s in storage.list_studies()] == ["dup"]

    def test_objective_order_is_kept(self, storage: RDBStorage) -> None:
        objectives = (
            Objective("zeta", "maximize"),
            Objective("alpha", "minimize"),
            Objective("mid", "maximize"),
        )
        study_id = make_study(storage, "ordered", objectives)
        assert storage.get_study(study_id).objectives == objectives
        assert storage.list_studies()[0].objectives == objectives
        _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
        assert trial is not None
        done = storage.finish_trial(
            trial.trial_id, TrialState.COMPLETE, values={0: 1.0, 1: 2.0, 2: 3.0}
        )
        assert done.values == {"zeta": 1.0, "alpha": 2.0, "mid": 3.0}

    def test_invalid_study_definitions_write_nothing(self, storage: RDBStorage) -> None:
        with pytest.raises(ValueError):
            storage.create_study("e", [], _SPACE, _SEARCHER, seed=1)
        with pytest.raises(ValueError):
            storage.create_study("e", [_OBJECTIVES[0]] * 2, _SPACE, _SEARCHER, seed=1)
        with pytest.raises(ValueError):
            storage.create_study("", _OBJECTIVES, _SPACE, _SEARCHER, seed=1)
        with pytest.raises(ValueError):
            storage.create_study("e", _OBJECTIVES, _SPACE, {"options": {}}, seed=1)
        with pytest.raises(TypeError):
            storage.create_study("e", _OBJECTIVES, {"bad": object()}, _SEARCHER, seed=1)
        with pytest.raises(ValueError):
            storage.create_study("e", _OBJECTIVES, _SPACE, _SEARCHER, seed=2**63)
        assert storage.list_studies() == []

    def test_missing_ids_raise_naming_the_id(self, storage: RDBStorage) -> None:
        missing = str(_MISSING_ID)
        study_calls: list[Callable[[], object]] = [
            lambda: storage.get_study(_MISSING_ID),
            lambda: storage.delete_study(_MISSING_ID),
            lambda: storage.get_trials(_MISSING_ID),
            lambda: storage.count_trials(_MISSING_ID),
            lambda: storage.running_trials(_MISSING_ID),
            lambda: storage.add_trials(_MISSING_ID, _proposals(1)),
            lambda: storage.claim_waiting_trial(_MISSING_ID, "w"),
            lambda: storage.set_study_user_attr(_MISSING_ID, "k", 1),
            lambda: storage.add_artifact(_MISSING_ID, "file", "/p", _SHA, 1),
            lambda: storage.store_artifact(_MISSING_ID, "file", "n", b"x"),
            lambda: storage.get_artifacts(_MISSING_ID),
            lambda: storage.get_artifacts(_MISSING_ID, kind="file"),
        ]
        for call in study_calls:
            with pytest.raises(StudyNotFoundError, match=missing):
                call()
        with pytest.raises(StudyNotFoundError, match="nope"):
            storage.get_study_id("nope")
        trial_calls: list[Callable[[], object]] = [
            lambda: storage.get_trial(_MISSING_ID),
            lambda: storage.finish_trial(_MISSING_ID, TrialState.FAILED),
            lambda: storage.report(_MISSING_ID, 0, {0: 1.0}),
            lambda: storage.heartbeat(_MISSING_ID, "w"),
            lambda: storage.requeue_trial(_MISSING_ID, "w"),
            lambda: storage.set_trial_user_attr(_MISSING_ID, "k", 1),
        ]
        study_id = make_study(storage)
        trial_calls.append(
            lambda: storage.store_artifact(study_id, "file", "n", b"x", trial_id=_MISSING_ID)
        )
        for call in trial_calls:
            with pytest.raises(TrialNotFoundError, match=missing) as info:
                call()
            assert isinstance(info.value, KeyError)
        artifact_calls: list[Callable[[], object]] = [
            lambda: storage.read_artifact(_MISSING_ID),
            lambda: storage.delete_artifact(_MISSING_ID),
        ]
        for call in artifact_calls:
            with pytest.raises(ArtifactNotFoundError, match=missing) as artifact_info:
                call()
            assert isinstance(artifact_info.value, KeyError)
            assert str(artifact_info.value).startswith("no artifact with id")  # not quoted
        assert storage.get_artifacts(study_id) == []

    def test_list_studies_counts_states(self, storage: RDBStorage) -> None:
        first = make_study(storage, "first")
        second = make_study(storage, "second")
        storage.add_trials(first, _proposals(3), claim_worker="w")
        claimed = storage.claim_waiting_trial(first, "w2")
        assert claimed is not None
        storage.finish_trial(claimed.trial_id, TrialState.FAILED, failure_reason="boom")
        summaries = storage.list_studies()
        assert [(s.study_id, s.name) for s in summaries] == [(first, "first"), (second, "second")]
        by_id = {s.study_id: s for s in summaries}
        assert by_id[first].n_trials == 3
        assert by_id[first].state_counts == {
            TrialState.WAITING: 1,
            TrialState.RUNNING: 1,
            TrialState.COMPLETE: 0,
            TrialState.PRUNED: 0,
            TrialState.FAILED: 1,
        }
        assert by_id[second].n_trials == 0
        assert set(by_id[second].state_counts.values()) == {0}
        _assert_utc(by_id[second].created_at)

    def test_study_user_attrs_upsert(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        storage.set_study_user_attr(study_id, "note", {"a": [1, 2]})
        storage.set_study_user_attr(study_id, "note", "replaced")
        storage.set_study_user_attr(study_id, "other", None)
        assert storage.get_study(study_id).user_attrs == {"note": "replaced", "other": None}
        with pytest.raises(TypeError, match="JSON"):
            storage.set_study_user_attr(study_id, "bad", {1, 2})

    # ---------------------------------------------------------------------- trial life cycle

    def test_add_claim_finish_life_cycle(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, claimed = storage.add_trials(
            study_id, [Proposal({"x": 0.25}, budget=3, info={"bracket": 1}), *_proposals(2)]
        )
        assert claimed is None
        assert [t.number for t in inserted] == [0, 1, 2]
        assert all(t.state is TrialState.WAITING and t.worker_id is None for t in inserted)
        assert inserted[0].budget == 3.0 and inserted[1].budget is None
        assert inserted[0].system_attrs == {"bracket": 1}
        _assert_utc(inserted[0].datetime_created)
        assert storage.get_study(study_id).next_trial_number == 3

        trial = storage.claim_waiting_trial(study_id, "worker-a")
        assert trial is not None and trial.number == 0
        assert trial.state is TrialState.RUNNING and trial.worker_id == "worker-a"
        _assert_utc(trial.datetime_start)
        _assert_utc(trial.heartbeat)
        assert trial.params == {"x": 0.25}
        second = storage.claim_waiting_trial(study_id, "worker-b")
        assert second is not None and second.number == 1

        done = storage.finish_trial(
            trial.trial_id, TrialState.COMPLETE, values={0: 0.1, 1: 0.9}, worker_id="worker-a"
        )
        assert done.state is TrialState.COMPLETE
        assert done.values == {"loss": 0.1, "accuracy": 0.9}
        _assert_utc(done.datetime_complete)
        assert done.datetime_start is not None and done.datetime_complete is not None
        assert done.datetime_complete >= done.datetime_start
        assert storage.get_trial(trial.trial_id) == done

        pruned = storage.finish_trial(
            second.trial_id, TrialState.PRUNED, values={0: 3.0}, failure_reason="slow"
        )
        assert pruned.values == {"loss": 3.0} and pruned.failure_reason == "slow"
        last = storage.claim_waiting_trial(study_id, "worker-a")
        assert last is not None and last.number == 2
        assert storage.claim_waiting_trial(study_id, "worker-a") is None
        failed = storage.finish_trial(last.trial_id, TrialState.FAILED, failure_reason="trace")
        assert failed.values == {} and failed.failure_reason == "trace"
        assert storage.count_trials(study_id) == {
            TrialState.WAITING: 0,
            TrialState.RUNNING: 0,
            TrialState.COMPLETE: 1,
            TrialState.PRUNED: 1,
            TrialState.FAILED: 1,
        }

    def test_add_trials_claim_worker_runs_the_first(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, claimed = storage.add_trials(study_id, _proposals(3), claim_worker="w1")
        assert claimed is not None and claimed == inserted[0]
        assert claimed.state is TrialState.RUNNING and claimed.worker_id == "w1"
        _assert_utc(claimed.datetime_start)
        _assert_utc(claimed.heartbeat)
        assert [t.state for t in inserted[1:]] == [TrialState.WAITING] * 2
        assert storage.running_trials(study_id) == [(claimed.trial_id, "w1", claimed.heartbeat)]

    def test_params_of_every_json_scalar_round_trip_exactly(self, storage: RDBStorage) -> None:
        params: dict[str, Any] = {
            "int": 7,
            "big_int": 2**62 + 3,
            "negative": -12,
            "zero_int": 0,
            "float": 0.1,
            "tiny": 5e-324,
            "huge": 1.7976931348623157e308,
            "whole_float": 2.0,
            "str": "relu",
            "unicode": 'ü 漢字\n"quoted"',
            "empty": "",
            "true": True,
            "false": False,
            "none": None,
            "list": [1, "a", None],
        }
        study_id = make_study(storage)
        storage.add_trials(study_id, [Proposal(params, info={"nested": {"k": [1.5]}})])
        (trial,) = storage.get_trials(study_id)
        assert trial.params == params
        assert list(trial.params) == list(params)  # insertion order kept
        for name, value in params.items():
            assert type(trial.params[name]) is type(value), name
        assert trial.system_attrs == {"nested": {"k": [1.5]}}

    def test_non_json_params_are_rejected_before_writing(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        bad = [Proposal({"x": 1}), Proposal({"x": math.nan})]
        with pytest.raises(TypeError, match="proposals\\[1\\]"):
            storage.add_trials(study_id, bad)
        with pytest.raises(TypeError):
            storage.add_trials(study_id, [Proposal({"x": object()})])
        with pytest.raises(ValueError, match="NaN"):
            storage.add_trials(study_id, [Proposal({"x": 1}, budget=math.nan)])
        assert storage.get_trials(study_id) == []
        assert storage.get_study(study_id).next_trial_number == 0

    def test_values_and_intermediate_values_keyed_by_name(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
        assert trial is not None
        storage.report(trial.trial_id, 1, {0: 0.9, 1: 0.2})
        storage.report(trial.trial_id, 2, {0: 0.7})
        storage.report(trial.trial_id, 1, {0: 0.8})  # same step again: replaced, not duplicated
        storage.report(trial.trial_id, 10, {1: math.inf})
        running = storage.get_trial(trial.trial_id)
        assert running.intermediate_values == {
            "loss": {1: 0.8, 2: 0.7},
            "accuracy": {1: 0.2, 10: math.inf},
        }
        assert running.values == {}
        done = storage.finish_trial(trial.trial_id, TrialState.COMPLETE, values={1: 0.6, 0: 0.4})
        assert done.values == {"loss": 0.4, "accuracy": 0.6}
        assert done.intermediate_values == running.intermediate_values

    def test_report_validates_and_needs_running(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, trial = storage.add_trials(study_id, _proposals(2), claim_worker="w")
        assert trial is not None
        with pytest.raises(ValueError, match="out of range"):
            storage.report(trial.trial_id, 0, {2: 1.0})
        with pytest.raises(ValueError, match="NaN"):
            storage.report(trial.trial_id, 0, {0: math.nan})
        with pytest.raises(TypeError):
            storage.report(trial.trial_id, 0, {0: "1.0"})  # type: ignore[dict-item]
        with pytest.raises(TrialNotRunningError, match="WAITING"):
            storage.report(inserted[1].trial_id, 0, {0: 1.0})
        _complete(storage, trial)
        with pytest.raises(TrialNotRunningError, match="COMPLETE"):
            storage.report(trial.trial_id, 5, {0: 1.0})
        assert storage.get_trial(trial.trial_id).intermediate_values == {}

    def test_finish_twice_raises(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, trial = storage.add_trials(study_id, _proposals(2), claim_worker="w")
        assert trial is not None
        with pytest.raises(TrialNotRunningError, match="WAITING"):
            storage.finish_trial(inserted[1].trial_id, TrialState.FAILED)
        first = _complete(storage, trial, loss=0.25)
        with pytest.raises(TrialNotRunningError, match="COMPLETE"):
            storage.finish_trial(trial.trial_id, TrialState.FAILED, failure_reason="late")
        with pytest.raises(TrialNotRunningError):
            _complete(storage, trial, loss=0.75)
        assert storage.get_trial(trial.trial_id) == first

    def test_finish_validates_state_and_values(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
        assert trial is not None
        with pytest.raises(ValueError, match="COMPLETE, PRUNED or FAILED"):
            storage.finish_trial(trial.trial_id, TrialState.WAITING)
        with pytest.raises(ValueError, match=r"missing objective indices \[1\]"):
            storage.finish_trial(trial.trial_id, TrialState.COMPLETE, values={0: 1.0})
        with pytest.raises(ValueError, match="out of range"):
            storage.finish_trial(trial.trial_id, TrialState.PRUNED, values={5: 1.0})
        with pytest.raises(ValueError, match="NaN"):
            storage.finish_trial(trial.trial_id, TrialState.COMPLETE, values={0: math.nan, 1: 1})
        # None of the failed calls changed the trial.
        assert storage.get_trial(trial.trial_id) == trial

    def test_constraints_and_violations_round_trip(self, storage: RDBStorage) -> None:
        """A study's constraints definition, and a trial's metrics, violations and reason,
        read back exactly (``inf`` violations and non-finite metrics included), through every
        read path."""
        constraints = {"bounds": [{"metric": "lat", "max": 2.5}, {"metric": "w", "min": 0.1}]}
        study_id = storage.create_study(
            "c", _OBJECTIVES, _SPACE, _SEARCHER, seed=1, constraints=constraints
        )
        assert storage.get_study(study_id).constraints == constraints
        assert storage.get_study(make_study(storage, "plain")).constraints is None
        inserted, claimed = storage.add_trials(study_id, _proposals(3), claim_worker="w")
        assert claimed is not None
        done = storage.finish_trial(
            claimed.trial_id,
            TrialState.COMPLETE,
            values={0: 0.5, 1: 0.5},
            metrics={"lat": 3.0, "w": math.inf, "n": -0.0},
            constraint_values=[0.5, math.inf],
            infeasible_reason="'w' is inf",
        )
        assert done.constraint_violations == (0.5, math.inf) and done.feasible is False
        assert done.total_violation == math.inf
        assert done.infeasible_reason == "'w' is inf"
        assert done.metrics["lat"] == 3.0 and math.isnan(done.metrics["w"])
        assert math.copysign(1.0, done.metrics["n"]) == -1.0
        second = storage.claim_waiting_trial(study_id, "w")
        assert second is not None
        ok = storage.finish_trial(
            second.trial_id,
            TrialState.COMPLETE,
            values={0: 0.1, 1: 0.9},
            constraint_values=[-1.5, 0.0],
        )
        assert ok.feasible is True and ok.metrics == {} and ok.infeasible_reason is None
        assert ok.constraint_values == (-1.5, 0.0) and ok.constraint_violations == (0.0, 0.0)
        for read in (
            storage.get_trials(study_id),
            [storage.get_trial(t.trial_id) for t in inserted],
            storage.get_trials(study_id, states=(TrialState.COMPLETE,)),
        ):
            by_number = {t.number: t for t in read}
            for written in (done, ok):
                fresh = by_number[written.number]
                assert fresh.constraint_values == written.constraint_values
                assert fresh.infeasible_reason == written.infeasible_reason
                assert list(fresh.metrics) == list(written.metrics)
                assert fresh == written  # NaN metrics are the same object (math.nan)
        unfinished = storage.get_trial(inserted[2].trial_id)
        assert unfinished.constraint_violations == () and unfinished.feasible is None

    def test_finish_validates_metrics_and_violations(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
        assert trial is not None
        values = {0: 1.0, 1: 1.0}
        with pytest.raises(ValueError, match=r"finite or \+inf"):
            storage.finish_trial(
                trial.trial_id, TrialState.COMPLETE, values=values, constraint_values=[-math.inf]
            )
        with pytest.raises(ValueError, match="must be a number"):
            storage.finish_trial(
                trial.trial_id,
                TrialState.COMPLETE,
                values=values,
                constraint_values=[math.nan],
            )
        with pytest.raises(ValueError, match="COMPLETE trials only"):
            storage.finish_trial(trial.trial_id, TrialState.FAILED, constraint_values=[1.0])
        with pytest.raises(TypeError, match="must be a number"):
            storage.finish_trial(
                trial.trial_id,
                TrialState.COMPLETE,
                values=values,
                metrics={"m": "x"},  # type: ignore[dict-item]
            )
        with pytest.raises(TypeError, match="constraints must be a dict"):
            storage.create_study("bad", _OBJECTIVES, _SPACE, _SEARCHER, 1, constraints=[1])  # type: ignore[arg-type]
        assert storage.get_trial(trial.trial_id) == trial  # nothing written

    def test_stale_expected_next_number_raises(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        storage.add_trials(study_id, _proposals(2), expected_next_number=0)
        with pytest.raises(StaleHistoryError, match="next trial number 2") as info:
            storage.add_trials(study_id, _proposals(1), expected_next_number=1)
        assert isinstance(info.value, StorageError)
        with pytest.raises(StaleHistoryError):
            storage.add_trials(study_id, [], expected_next_number=3)
        assert [t.number for t in storage.get_trials(study_id)] == [0, 1]
        inserted, _ = storage.add_trials(study_id, _proposals(1), expected_next_number=2)
        assert [t.number for t in inserted] == [2]

    def test_max_trials_truncates(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, _ = storage.add_trials(study_id, _proposals(3), max_trials=5)
        assert [t.number for t in inserted] == [0, 1, 2]
        inserted, claimed = storage.add_trials(
            study_id, _proposals(3, start=3), max_trials=5, claim_worker="w"
        )
        assert [t.number for t in inserted] == [3, 4]
        assert [t.params["i"] for t in inserted] == [3, 4]  # the first proposals are kept
        assert claimed is not None and claimed.number == 3
        assert storage.add_trials(study_id, _proposals(2), max_trials=5, claim_worker="w") == (
            [],
            None,
        )
        assert storage.add_trials(study_id, _proposals(2), max_trials=0) == ([], None)
        assert storage.get_study(study_id).next_trial_number == 5
        with pytest.raises(ValueError, match="max_trials"):
            storage.add_trials(study_id, _proposals(1), max_trials=-1)

    def test_requeue_is_compare_and_swap(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(
            study_id, [Proposal({"x": 0.5}, budget=9.0, info={"rung": 2})], claim_worker="w1"
        )
        assert trial is not None
        storage.report(trial.trial_id, 1, {0: 0.3})
        storage.set_trial_user_attr(trial.trial_id, "note", "kept")
        assert storage.requeue_trial(trial.trial_id, "someone-else") is False
        assert storage.requeue_trial(trial.trial_id, None) is False
        assert storage.requeue_trial(trial.trial_id, "w1") is True
        requeued = storage.get_trial(trial.trial_id)
        assert requeued.state is TrialState.WAITING
        assert requeued.worker_id is None and requeued.datetime_start is None
        assert requeued.heartbeat is None
        assert requeued.restarts == 1
        assert requeued.intermediate_values == {"loss": {1: 0.3}}  # kept for the record
        assert (requeued.number, requeued.params, requeued.budget) == (0, {"x": 0.5}, 9.0)
        assert requeued.system_attrs == {"rung": 2}
        assert requeued.user_attrs == {"note": "kept"}
        assert storage.requeue_trial(trial.trial_id, "w1") is False  # not RUNNING any more
        # The dead worker's late calls are refused; the new owner's succeed.
        again = storage.claim_waiting_trial(study_id, "w2")
        assert again is not None and again.trial_id == trial.trial_id and again.restarts == 1
        assert storage.heartbeat(trial.trial_id, "w1") is False
        with pytest.raises(TrialNotRunningError, match="w2"):
            _complete_as(storage, trial.trial_id, "w1")
        assert _complete_as(storage, trial.trial_id, "w2").worker_id == "w2"
        assert storage.requeue_trial(trial.trial_id, "w2") is False

    def test_abandon_is_compare_and_swap(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(study_id, _proposals(2), claim_worker="w1")
        assert trial is not None
        storage.report(trial.trial_id, 0, {0: 1.5})
        assert storage.abandon_trial(trial.trial_id, "w2", "died") is False
        assert storage.abandon_trial(trial.trial_id, None, "died") is False
        assert storage.get_trial(trial.trial_id).state is TrialState.RUNNING
        with pytest.raises(ValueError, match="reason"):
            storage.abandon_trial(trial.trial_id, "w1", "")
        assert storage.abandon_trial(trial.trial_id, "w1", "worker died 3 times") is True
        failed = storage.get_trial(trial.trial_id)
        assert failed.state is TrialState.FAILED
        assert failed.failure_reason == "worker died 3 times"
        assert failed.datetime_complete is not None and failed.values == {}
        assert failed.intermediate_values == {"loss": {0: 1.5}}
        assert storage.abandon_trial(trial.trial_id, "w1", "again") is False  # finished
        with pytest.raises(TrialNotRunningError):
            _complete_as(storage, trial.trial_id, "w1")  # the dead worker's late result
        with pytest.raises(TrialNotFoundError):
            storage.abandon_trial(_MISSING_ID, "w1", "x")

    def test_leases_are_exclusive_until_released_or_expired(self, storage: RDBStorage) -> None:
        import time

        study_id = make_study(storage)
        assert storage.get_lease(study_id, "train") is None
        assert storage.acquire_lease(study_id, "train", "a", ttl=60) is True
        assert storage.acquire_lease(study_id, "train", "b", ttl=60) is False  # held
        assert storage.acquire_lease(study_id, "train", "a", ttl=60) is True  # renewal
        owner, expires = storage.get_lease(study_id, "train")  # type: ignore[misc]
        assert owner == "a" and expires.tzinfo is not None
        assert storage.acquire_lease(study_id, "train", "b", ttl=60, take_from="a") is True
        assert storage.get_lease(study_id, "train")[0] == "b"  # type: ignore[index]
        assert storage.release_lease(study_id, "train", "a") is False  # not the holder
        assert storage.release_lease(study_id, "train", "b") is True
        assert storage.get_lease(study_id, "train") is None
        # An expired lease goes to whoever asks.
        assert storage.acquire_lease(study_id, "other", "c", ttl=0.05) is True
        time.sleep(0.1)
        assert storage.acquire_lease(study_id, "other", "d", ttl=60) is True
        assert storage.acquire_lease(study_id, "train", "e", ttl=60) is True  # independent
        with pytest.raises(ValueError, match="ttl"):
            storage.acquire_lease(study_id, "train", "e", ttl=0)
        with pytest.raises(StudyNotFoundError):
            storage.acquire_lease(_MISSING_ID, "train", "e", ttl=1)

    def test_heartbeat_ownership(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, trial = storage.add_trials(study_id, _proposals(2), claim_worker="w1")
        assert trial is not None and trial.heartbeat is not None
        assert storage.heartbeat(trial.trial_id, "w1") is True
        beat = storage.get_trial(trial.trial_id).heartbeat
        assert beat is not None and beat >= trial.heartbeat
        assert storage.heartbeat(trial.trial_id, "w2") is False
        assert storage.get_trial(trial.trial_id).heartbeat == beat
        assert storage.heartbeat(inserted[1].trial_id, "w1") is False  # WAITING
        _complete(storage, trial)
        assert storage.heartbeat(trial.trial_id, "w1") is False

    def test_get_trials_min_number_and_states(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        other = make_study(storage, "other")
        storage.add_trials(other, _proposals(3))
        storage.add_trials(study_id, _proposals(5))
        for expected_number in range(3):
            claimed = storage.claim_waiting_trial(study_id, "w")
            assert claimed is not None and claimed.number == expected_number
            if expected_number < 2:
                _complete(storage, claimed)
        storage.set_trial_user_attr(storage.get_trials(study_id)[4].trial_id, "u", 4)

        everything = storage.get_trials(study_id)
        assert [t.number for t in everything] == [0, 1, 2, 3, 4]
        assert everything[4].user_attrs == {"u": 4}
        tail = storage.get_trials(study_id, min_number=3)
        assert [t.number for t in tail] == [3, 4]
        assert tail == everything[3:]  # same content as the full load, params included
        assert [t.number for t in storage.get_trials(study_id, min_number=99)] == []
        complete = storage.get_trials(study_id, states=(TrialState.COMPLETE,))
        assert [t.number for t in complete] == [0, 1]
        assert all(t.values for t in complete)
        pending = storage.get_trials(
            study_id, min_number=1, states={TrialState.WAITING, TrialState.RUNNING}
        )
        assert [(t.number, t.state) for t in pending] == [
            (2, TrialState.RUNNING),
            (3, TrialState.WAITING),
            (4, TrialState.WAITING),
        ]
        assert storage.get_trials(study_id, states=()) == []
        assert [t.number for t in storage.get_trials(other)] == [0, 1, 2]

    def test_trial_user_attrs(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
        assert trial is not None
        storage.set_trial_user_attr(trial.trial_id, "a", 1)
        storage.set_trial_user_attr(trial.trial_id, "a", [1, 2])
        done = _complete(storage, trial)
        storage.set_trial_user_attr(trial.trial_id, "after", {"ok": True})  # any state
        assert storage.get_trial(trial.trial_id).user_attrs == {"a": [1, 2], "after": {"ok": True}}
        assert done.user_attrs == {"a": [1, 2]}  # a snapshot: later writes do not change it
        with pytest.raises(TypeError, match="JSON"):
            storage.set_trial_user_attr(trial.trial_id, "bad", object())
        with pytest.raises(TypeError, match="JSON"):
            storage.set_trial_user_attr(trial.trial_id, "nan", math.nan)

    def test_returned_objects_are_snapshots(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        storage.add_trials(study_id, _proposals(1))
        (trial,) = storage.get_trials(study_id)
        trial.params["x"] = "mutated"
        record = storage.get_study(study_id)
        record.user_attrs["k"] = "mutated"
        assert storage.get_trials(study_id)[0].params["x"] == 0.0
        assert storage.get_study(study_id).user_attrs == {}

    def test_written_trials_equal_a_fresh_read(self, storage: RDBStorage) -> None:
        """What add_trials, claim_waiting_trial and finish_trial return is what a read returns.

        (They may build the snapshot from what they wrote instead of reading it back.)
        """
        study_id = make_study(storage)
        params: dict[str, Any] = {"int": 2**62 + 3, "float": 0.1, "str": "ü", "no": False}
        params |= {"none": None, "tuple": (1, "a")}
        info = {"rung": 2, "parents": [3, 4], "nested": {"k": (1.5,)}}
        proposals = [
            Proposal(params, budget=3, info=info),
            Proposal({"x": -0.0}, budget=math.inf),
            Proposal({"x": 1e-300}),
        ]
        inserted, claimed = storage.add_trials(study_id, proposals, claim_worker="w")
        assert claimed == inserted[0]
        for trial in inserted:
            fresh = storage.get_trial(trial.trial_id)
            assert trial == fresh
            assert list(trial.params) == list(fresh.params)  # same key order
        assert inserted[0].params["tuple"] == [1, "a"]  # as stored: JSON has no tuples
        assert inserted[0].system_attrs == {"rung": 2, "parents": [3, 4], "nested": {"k": [1.5]}}
        inserted[0].system_attrs["parents"].append(5)  # snapshots share nothing with the input
        assert info["parents"] == [3, 4]
        (single,), none = storage.add_trials(study_id, [Proposal({"x": 0.5})])
        assert none is None and single == storage.get_trial(single.trial_id)

        second = storage.claim_waiting_trial(study_id, "w2")
        assert second is not None and second.number == 1
        assert second == storage.get_trial(second.trial_id)

        assert claimed is not None
        storage.report(claimed.trial_id, 0, {0: 0.9, 1: 0.1})
        storage.report(claimed.trial_id, 3, {0: 0.5})
        storage.set_trial_user_attr(claimed.trial_id, "note", {"a": [1]})
        done = storage.finish_trial(
            claimed.trial_id, TrialState.COMPLETE, values={1: 0.75, 0: 0.25}, worker_id="w"
        )
        assert done == storage.get_trial(claimed.trial_id)
        assert list(done.values) == ["loss", "accuracy"]  # objective order, as a read gives
        assert done.intermediate_values == {"loss": {0: 0.9, 3: 0.5}, "accuracy": {0: 0.1}}
        assert done.user_attrs == {"note": {"a": [1]}}
        assert done.system_attrs == {"rung": 2, "parents": [3, 4], "nested": {"k": [1.5]}}
        failed = storage.finish_trial(second.trial_id, TrialState.FAILED, failure_reason="boom")
        assert failed == storage.get_trial(second.trial_id)
        assert failed.values == {} and failed.datetime_complete is not None

    def test_get_trials_of_many_or_few_trials_equals_loading_each(
        self, storage: RDBStorage
    ) -> None:
        """get_trials loads few trials and many trials differently; both must be exact."""
        study_id = make_study(storage)
        other = make_study(storage, "other")  # its trials must never leak in
        storage.add_trials(other, [Proposal({"x": 9}, info={"o": 1})] * 3, claim_worker="w")
        n = 20
        inserted, _ = storage.add_trials(
            study_id,
            [
                Proposal(  # keys out of alphabetical order: insertion order must be kept
                    {"x": i / 10, "i": i},
                    budget=float(i % 3) or None,
                    info={"z": i, "a": -i} if i % 2 else {},
                )
                for i in range(n)
            ],
        )
        for i in range(14):  # 0-9 finished (COMPLETE or PRUNED), 10-13 RUNNING, 14-19 WAITING
            trial = storage.claim_waiting_trial(study_id, f"w{i % 3}")
            assert trial is not None and trial.number == i
            storage.report(trial.trial_id, i, {0: i / 2})
            storage.report(trial.trial_id, i + 1, {1: -i})
            if i % 4 == 0:
                storage.set_trial_user_attr(trial.trial_id, "u", [i])
                storage.set_trial_user_attr(trial.trial_id, "b", i)
            if i < 10:
                final = TrialState.PRUNED if i % 5 == 0 else TrialState.COMPLETE
                storage.finish_trial(trial.trial_id, final, values={0: float(i), 1: 1.0})
        single = {t.number: storage.get_trial(t.trial_id) for t in inserted}
        states_options: list[set[TrialState] | None] = [
            None,
            {TrialState.RUNNING},
            {TrialState.COMPLETE, TrialState.PRUNED},
            {TrialState.WAITING, TrialState.RUNNING},
            set(),
        ]
        sizes = set()
        for min_number in (0, 3, 11, 12, 13, 19, 20, 25):
            for states in states_options:
                got = storage.get_trials(study_id, min_number=min_number, states=states)
                expected = [
                    t
                    for number, t in sorted(single.items())
                    if number >= min_number and (states is None or t.state in states)
                ]
                assert got == expected, (min_number, states)
                for g, e in zip(got, expected, strict=True):
                    assert list(g.params) == list(e.params) == ["x", "i"]
                    assert list(g.system_attrs) == list(e.system_attrs)
                    assert list(g.user_attrs) == list(e.user_attrs)
                    assert list(g.intermediate_values) == list(e.intermediate_values)
                sizes.add(len(got))
        assert {0, 1, 8, 9, 20} <= sizes  # both sides of any small-batch threshold

    def test_reopening_sees_committed_data(self, storage: RDBStorage, storage_url: str) -> None:
        study_id = make_study(storage)
        storage.add_trials(study_id, _proposals(2), claim_worker="w")
        other = RDBStorage(storage_url)
        try:
            assert other.get_study_id("study") == study_id
            assert other.get_trials(study_id) == storage.get_trials(study_id)
        finally:
            other.dispose()

    # ------------------------------------------------------------------- delete, artifacts

    def test_delete_study_cascades(self, storage: RDBStorage, storage_url: str) -> None:
        doomed = make_study(storage, "doomed")
        kept = make_study(storage, "kept")
        for study_id in (doomed, kept):
            storage.set_study_user_attr(study_id, "k", 1)
            _, trial = storage.add_trials(
                study_id, [Proposal({"x": 1}, info={"i": 1})] * 2, claim_worker="w"
            )
            assert trial is not None
            storage.report(trial.trial_id, 0, {0: 1.0})
            storage.set_trial_user_attr(trial.trial_id, "u", 1)
            _complete(storage, trial)
            storage.add_artifact(study_id, "plot", "/a.png", _SHA, 10)
            storage.add_artifact(study_id, "ckpt", "/b.pt", _SHA, 20, trial_id=trial.trial_id)
            storage.store_artifact(study_id, "log", "run.log", b"log")
            storage.store_artifact(study_id, "ckpt", "c.pt", b"\0" * 9, trial_id=trial.trial_id)
        doomed_trial = storage.get_trials(doomed)[0].trial_id
        before = _row_counts(storage_url)

        storage.delete_study(doomed)

        with pytest.raises(StudyNotFoundError):
            storage.get_study(doomed)
        with pytest.raises(TrialNotFoundError):
            storage.get_trial(doomed_trial)
        with pytest.raises(StudyNotFoundError):
            storage.delete_study(doomed)
        assert [s.name for s in storage.list_studies()] == ["kept"]
        after = _row_counts(storage_url)
        # Every table held exactly as many rows for each study: half of them must be gone.
        assert after == {table: n // 2 for table, n in before.items()}, (before, after)
        assert len(storage.get_trials(kept)) == 2
        assert len(storage.get_artifacts(kept)) == 4

    def test_artifacts(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        other = make_study(storage, "other")
        _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
        _, foreign = storage.add_trials(other, _proposals(1), claim_worker="w")
        assert trial is not None and foreign is not None
        study_level = storage.add_artifact(study_id, "plot", "/tmp/plot.html", _SHA, 0)
        trial_level = storage.add_artifact(
            study_id, "checkpoint", "/tmp/c.pt", "0f" * 32, 2**40, trial_id=trial.trial_id
        )
        records = storage.get_artifacts(study_id)
        assert [r.artifact_id for r in records] == [study_level, trial_level]
        assert records[0].trial_id is None and records[0].kind == "plot"
        assert [r.stored for r in records] == [False, False]
        ckpt = records[1]
        assert (ckpt.study_id, ckpt.trial_id, ckpt.path) == (study_id, trial.trial_id, "/tmp/c.pt")
        assert (ckpt.sha256, ckpt.size) == ("0f" * 32, 2**40)
        _assert_utc(ckpt.created_at)
        assert storage.get_artifacts(study_id, trial_id=trial.trial_id) == [ckpt]
        assert storage.get_artifacts(other) == []
        with pytest.raises(ValueError, match="belongs to study"):
            storage.add_artifact(study_id, "x", "/p", _SHA, 1, trial_id=foreign.trial_id)
        with pytest.raises(TrialNotFoundError):
            storage.add_artifact(study_id, "x", "/p", _SHA, 1, trial_id=_MISSING_ID)
        with pytest.raises(ValueError, match="sha256"):
            storage.add_artifact(study_id, "x", "/p", "ABC", 1)
        with pytest.raises(ValueError, match="size"):
            storage.add_artifact(study_id, "x", "/p", _SHA, -1)
        assert len(storage.get_artifacts(study_id)) == 2

    def test_stored_artifacts_round_trip_exactly(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
        assert trial is not None
        big = random.Random(7).randbytes(3 * 2**20 + 7)  # ~3 MB, every byte value
        contents: list[tuple[str, bytes, int | None]] = [
            ("empty", b"", None),
            ("small", b"\x00\xffcheckpoint\x00\r\n\x80", trial.trial_id),
            ("supernet/3f2a/epoch-0004.pt", big, trial.trial_id),
        ]
        ids = [
            storage.store_artifact(study_id, "checkpoint", name, data, trial_id=t_id)
            for name, data, t_id in contents
        ]
        assert len(set(ids)) == 3
        for artifact_id, (_, data, _) in zip(ids, contents, strict=True):
            read = storage.read_artifact(artifact_id)
            assert type(read) is bytes
            assert read == data
        records = storage.get_artifacts(study_id)
        assert [r.artifact_id for r in records] == ids
        for record, (name, data, t_id) in zip(records, contents, strict=True):
            assert record.stored is True
            assert (record.study_id, record.trial_id) == (study_id, t_id)
            assert (record.kind, record.path) == ("checkpoint", name)
            assert record.sha256 == hashlib.sha256(data).hexdigest()
            assert record.size == len(data)
            _assert_utc(record.created_at)
        assert records[0].sha256 == hashlib.sha256(b"").hexdigest()
        assert storage.get_artifacts(study_id, trial_id=trial.trial_id) == records[1:]
        # Other bytes-like objects are stored as their bytes; a later mutation changes nothing.
        buffer = bytearray(b"abc")
        from_bytearray = storage.store_artifact(study_id, "x", "ba", buffer)  # type: ignore[arg-type]
        buffer[0] = ord("z")
        view = memoryview(b"0123456")[2:5]
        from_view = storage.store_artifact(study_id, "x", "mv", view)  # type: ignore[arg-type]
        assert storage.read_artifact(from_bytearray) == b"abc"
        assert storage.read_artifact(from_view) == b"234"
        assert [r.size for r in storage.get_artifacts(study_id, kind="x")] == [3, 3]

    def test_path_only_artifact_has_no_stored_content(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        recorded = storage.add_artifact(study_id, "plot", "/tmp/plot.html", _SHA, 5)
        stored = storage.store_artifact(study_id, "plot", "plot.html", b"<svg>")
        assert [(r.artifact_id, r.stored) for r in storage.get_artifacts(study_id)] == [
            (recorded, False),
            (stored, True),
        ]
        with pytest.raises(ArtifactNotFoundError, match="no content") as info:
            storage.read_artifact(recorded)
        assert isinstance(info.value, KeyError)
        message = str(info.value)
        assert str(recorded) in message and "add_artifact" in message
        assert "/tmp/plot.html" in message and not message.startswith(("'", '"'))
        assert storage.read_artifact(stored) == b"<svg>"

    def test_store_artifact_validates_before_writing(
        self, storage: RDBStorage, storage_url: str
    ) -> None:
        study_id = make_study(storage)
        other = make_study(storage, "other")
        _, foreign = storage.add_trials(other, _proposals(1), claim_worker="w")
        assert foreign is not None
        with pytest.raises(ValueError, match="belongs to study"):
            storage.store_artifact(study_id, "ckpt", "n", b"data", trial_id=foreign.trial_id)
        bad_calls = [
            lambda: storage.store_artifact(study_id, "", "n", b"x"),
            lambda: storage.store_artifact(study_id, "k" * 65, "n", b"x"),
            lambda: storage.store_artifact(study_id, "ckpt", "", b"x"),
            lambda: storage.store_artifact(study_id, "ckpt", None, b"x"),  # type: ignore[arg-type]
            lambda: storage.store_artifact(study_id, "ckpt", "n", "text"),  # type: ignore[arg-type]
            lambda: storage.store_artifact(study_id, "ckpt", "n", None),  # type: ignore[arg-type]
            lambda: storage.store_artifact(study_id, "ckpt", "n", [1, 2]),  # type: ignore[arg-type]
        ]
        for call in bad_calls:
            with pytest.raises(ValueError):
                call()
        with pytest.raises(TypeError):
            storage.store_artifact(True, "ckpt", "n", b"x")
        with pytest.raises(TypeError):
            storage.store_artifact(study_id, "ckpt", "n", b"x", trial_id="1")  # type: ignore[arg-type]
        assert storage.get_artifacts(study_id) == [] and storage.get_artifacts(other) == []
        counts = _row_counts(storage_url)
        assert (counts["artifacts"], counts["artifact_blobs"]) == (0, 0)

    def test_store_artifact_writes_row_and_content_atomically(
        self, storage: RDBStorage, storage_url: str
    ) -> None:
        """A failure while writing the content leaves no artifact row behind."""
        study_id = make_study(storage)

        class SimulatedCrashError(Exception):
            pass

        def crash_on_blob(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if "artifact_blobs" in statement and statement.lstrip().upper().startswith("INSERT"):
                raise SimulatedCrashError(
                    "simulated crash between the artifact row and its content"
                )

        engine = storage._engine
        sa.event.listen(engine, "before_cursor_execute", crash_on_blob)
        try:
            with pytest.raises(SimulatedCrashError):
                storage.store_artifact(study_id, "ckpt", "epoch-1.pt", b"weights")
        finally:
            sa.event.remove(engine, "before_cursor_execute", crash_on_blob)
        assert storage.get_artifacts(study_id) == []
        counts = _row_counts(storage_url)
        assert (counts["artifacts"], counts["artifact_blobs"]) == (0, 0)
        artifact_id = storage.store_artifact(study_id, "ckpt", "epoch-1.pt", b"weights")
        assert storage.read_artifact(artifact_id) == b"weights"

    def test_get_artifacts_kind_filter(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        other = make_study(storage, "other")
        _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
        assert trial is not None
        a = storage.store_artifact(study_id, "checkpoint", "a", b"a")
        b = storage.add_artifact(study_id, "plot", "/b", _SHA, 1)
        c = storage.store_artifact(study_id, "checkpoint", "c", b"c", trial_id=trial.trial_id)
        d = storage.add_artifact(study_id, "checkpoint", "/d", _SHA, 1, trial_id=trial.trial_id)
        e = storage.store_artifact(study_id, "plot", "e", b"e", trial_id=trial.trial_id)
        storage.store_artifact(other, "checkpoint", "o", b"o")

        def ids(**filters: Any) -> list[int]:
            return [r.artifact_id for r in storage.get_artifacts(study_id, **filters)]

        assert ids() == [a, b, c, d, e]
        assert ids(kind="checkpoint") == [a, c, d]
        assert ids(kind="plot") == [b, e]
        assert ids(kind="checkpoint", trial_id=trial.trial_id) == [c, d]
        assert ids(kind="plot", trial_id=trial.trial_id) == [e]
        assert ids(kind="Checkpoint") == [] and ids(kind="none") == []
        assert [r.stored for r in storage.get_artifacts(study_id, kind="checkpoint")] == [
            True,
            True,
            False,
        ]
        with pytest.raises(ValueError, match="kind"):
            storage.get_artifacts(study_id, kind="")

    def test_delete_artifact_removes_row_and_content(
        self, storage: RDBStorage, storage_url: str
    ) -> None:
        study_id = make_study(storage)
        doomed = storage.store_artifact(study_id, "ckpt", "doomed.pt", b"doomed" * 1000)
        kept = storage.store_artifact(study_id, "ckpt", "kept.pt", b"kept")
        recorded = storage.add_artifact(study_id, "ckpt", "/file.pt", _SHA, 3)
        assert _row_counts(storage_url)["artifact_blobs"] == 2

        storage.delete_artifact(doomed)

        assert [r.artifact_id for r in storage.get_artifacts(study_id)] == [kept, recorded]
        assert _row_counts(storage_url)["artifact_blobs"] == 1
        with pytest.raises(ArtifactNotFoundError, match=str(doomed)):
            storage.read_artifact(doomed)
        with pytest.raises(ArtifactNotFoundError, match=str(doomed)):
            storage.delete_artifact(doomed)
        assert storage.read_artifact(kept) == b"kept"
        storage.delete_artifact(recorded)  # a path-only record can be deleted too
        assert [r.artifact_id for r in storage.get_artifacts(study_id)] == [kept]
        assert _row_counts(storage_url)["artifact_blobs"] == 1
        assert storage.read_artifact(kept) == b"kept"

    def test_delete_study_deletes_stored_contents(
        self, storage: RDBStorage, storage_url: str
    ) -> None:
        doomed = make_study(storage, "doomed")
        kept = make_study(storage, "kept")
        kept_ids = []
        for study_id in (doomed, kept):
            _, trial = storage.add_trials(study_id, _proposals(1), claim_worker="w")
            assert trial is not None
            payload = f"study {study_id}".encode()
            kept_ids = [
                storage.store_artifact(study_id, "ckpt", "s.pt", payload),
                storage.store_artifact(study_id, "ckpt", "t.pt", payload, trial_id=trial.trial_id),
            ]
        doomed_ids = [r.artifact_id for r in storage.get_artifacts(doomed)]
        assert _row_counts(storage_url)["artifact_blobs"] == 4

        storage.delete_study(doomed)

        counts = _row_counts(storage_url)
        assert (counts["artifacts"], counts["artifact_blobs"]) == (2, 2)
        for artifact_id in doomed_ids:
            with pytest.raises(ArtifactNotFoundError):
                storage.read_artifact(artifact_id)
        for artifact_id in kept_ids:
            assert storage.read_artifact(artifact_id) == f"study {kept}".encode()

    def test_corrupted_content_is_detected(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        data = bytes(range(256)) * 4
        flipped = storage.store_artifact(study_id, "ckpt", "flipped.pt", data)
        truncated = storage.store_artifact(study_id, "ckpt", "truncated.pt", data)
        intact = storage.store_artifact(study_id, "ckpt", "intact.pt", data)
        same_size = bytearray(data)
        same_size[100] ^= 0x01  # one bit: only the digest can tell
        blobs = sa.table("artifact_blobs", sa.column("artifact_id"), sa.column("data"))
        with storage._engine.begin() as connection:
            for artifact_id, tampered in ((flipped, bytes(same_size)), (truncated, data[:-1])):
                result = connection.execute(
                    sa.update(blobs)
                    .where(blobs.c.artifact_id == artifact_id)
                    .values(data=tampered)
                )
                assert result.rowcount == 1
        for artifact_id, name in ((flipped, "flipped.pt"), (truncated, "truncated.pt")):
            with pytest.raises(StorageError, match="corrupt") as info:
                storage.read_artifact(artifact_id)
            assert str(artifact_id) in str(info.value) and name in str(info.value)
            assert not isinstance(info.value, KeyError)
        assert storage.read_artifact(intact) == data


def _complete_as(storage: RDBStorage, trial_id: int, worker_id: str) -> FrozenTrial:
    return storage.finish_trial(
        trial_id, TrialState.COMPLETE, values={0: 1.0, 1: 0.0}, worker_id=worker_id
    )


def _row_counts(url: str) -> dict[str, int]:
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


# ------------------------------------------------------------------ multi-process helpers


def claim_worker_loop(
    url: str,
    study_id: int,
    worker_id: str,
    max_trials: int,
    batch: int,
    work_seconds: float,
    start: Any,
    results: Any,
) -> None:
    """Body of one process of the concurrency test: claim or add, then finish, until full.

    Loops: claim a WAITING trial; if none, ``add_trials(batch proposals, max_trials,
    claim_worker)``; "evaluate" it (sleep ``work_seconds``, which lets the other processes
    take the SQLite lock: a busy-waiting writer otherwise sleeps while the holder re-acquires
    the lock); finish it as COMPLETE. Stops when neither call yields a trial.
    Puts ``(worker_id, [claimed trial ids])`` on ``results`` (or ``(worker_id, "error")``).

    Args:
        url: storage URL.
        study_id: the shared study.
        worker_id: this worker's id.
        max_trials: the study's cap.
        batch: proposals per ``add_trials`` call (the extras stay WAITING for others).
        work_seconds: simulated evaluation time per trial.
        start: a ``multiprocessing.Barrier`` (or Event) all workers wait on, to start
            together once the storage is open.
        results: a ``multiprocessing.Queue``.
    """
    storage = RDBStorage(url)
    claimed: list[int] = []
    try:
        start.wait(timeout=60)
        for _ in range(10 * max_trials + 10):  # bounded: each turn finishes a trial or stops
            trial = storage.claim_waiting_trial(study_id, worker_id)
            if trial is None:
                _, trial = storage.add_trials(
                    study_id,
                    [Proposal({"worker": worker_id, "k": k}) for k in range(batch)],
                    max_trials=max_trials,
                    claim_worker=worker_id,
                )
                if trial is None:
                    break
            time.sleep(work_seconds)
            storage.finish_trial(
                trial.trial_id,
                TrialState.COMPLETE,
                values={0: float(trial.number), 1: 0.0},
                worker_id=worker_id,
            )
            claimed.append(trial.trial_id)
        results.put((worker_id, claimed))
    except Exception as e:  # report instead of dying silently in the child
        results.put((worker_id, f"error: {type(e).__name__}: {e}"))
    finally:
        storage.dispose()


def endless_writer(url: str, study_id: int, committed: Any) -> None:
    """Add, claim, report and finish trials forever; the test SIGKILLs this process.

    After each finished trial commits, ``committed.value`` (a ``multiprocessing.Value('i')``)
    is set to the number of trials finished so far.
    """
    storage = RDBStorage(url)
    done = 0
    while True:
        _, trial = storage.add_trials(
            study_id, [Proposal({"x": done / 7, "blob": "y" * 2000})], claim_worker="victim"
        )
        if trial is None:
            raise RuntimeError("add_trials with claim_worker and no max_trials claimed nothing")
        storage.report(trial.trial_id, 0, {0: float(done)})
        storage.finish_trial(trial.trial_id, TrialState.COMPLETE, values={0: float(done), 1: 1.0})
        done += 1
        committed.value = done


def open_and_create_study(url: str, name: str, start: Any, results: Any) -> None:
    """Open a storage on ``url`` (possibly creating the schema) and create study ``name``.

    Used by the test in which several processes open the same new database at once (they
    meet at ``start``, a ``multiprocessing.Barrier`` or Event, first). Puts
    ``(name, study_id)`` or ``(name, "error: ...")`` on ``results``.
    """
    try:
        start.wait(timeout=60)
        storage = RDBStorage(url)
        try:
            results.put((name, make_study(storage, name)))
        finally:
            storage.dispose()
    except Exception as e:  # report instead of dying silently in the child
        results.put((name, f"error: {type(e).__name__}: {e}"))
