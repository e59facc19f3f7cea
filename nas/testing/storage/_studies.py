"""Conformance of the study operations: definitions, names, errors, counts, attributes, leases,
reopening and cascading deletion."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nas._types import Objective, Proposal, TrialState
from nas.exceptions import (
    ArtifactNotFoundError,
    DuplicatedStudyError,
    StudyNotFoundError,
)
from nas.storage import RDBStorage, TrialNotFoundError
from nas.testing.storage._base import (
    MISSING_ID,
    OBJECTIVES,
    SEARCHER,
    SHA,
    SPACE,
    StorageFixture,
    assert_utc,
    complete_trial,
    make_study,
    proposals,
    row_counts,
)

__all__ = ["StudyConformance"]


class StudyConformance(StorageFixture):
    """Studies: create, read, list, rename, delete, user attributes, leases; missing ids."""

    def test_create_and_get_study(self, storage: RDBStorage) -> None:
        study_id = storage.create_study(
            "s1", OBJECTIVES, SPACE, SEARCHER, seed=2**62 + 1, user_attrs={"owner": "me"}
        )
        record = storage.get_study(study_id)
        assert record.study_id == study_id
        assert record.name == "s1"
        assert record.objectives == OBJECTIVES
        assert record.space == SPACE
        assert record.searcher == SEARCHER
        assert record.seed == 2**62 + 1  # BigInteger: beyond 32 bits survives
        assert record.user_attrs == {"owner": "me"}
        assert record.next_trial_number == 0
        assert_utc(record.created_at)
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
        _, trial = storage.add_trials(study_id, proposals(1), claim_worker="w")
        assert trial is not None
        done = storage.finish_trial(
            trial.trial_id, TrialState.COMPLETE, values={0: 1.0, 1: 2.0, 2: 3.0}
        )
        assert done.values == {"zeta": 1.0, "alpha": 2.0, "mid": 3.0}

    def test_invalid_study_definitions_write_nothing(self, storage: RDBStorage) -> None:
        with pytest.raises(ValueError):
            storage.create_study("e", [], SPACE, SEARCHER, seed=1)
        with pytest.raises(ValueError):
            storage.create_study("e", [OBJECTIVES[0]] * 2, SPACE, SEARCHER, seed=1)
        with pytest.raises(ValueError):
            storage.create_study("", OBJECTIVES, SPACE, SEARCHER, seed=1)
        with pytest.raises(ValueError):
            storage.create_study("e", OBJECTIVES, SPACE, {"options": {}}, seed=1)
        with pytest.raises(TypeError):
            storage.create_study("e", OBJECTIVES, {"bad": object()}, SEARCHER, seed=1)
        with pytest.raises(ValueError):
            storage.create_study("e", OBJECTIVES, SPACE, SEARCHER, seed=2**63)
        assert storage.list_studies() == []

    def test_missing_ids_raise_naming_the_id(self, storage: RDBStorage) -> None:
        missing = str(MISSING_ID)
        study_calls: list[Callable[[], object]] = [
            lambda: storage.get_study(MISSING_ID),
            lambda: storage.delete_study(MISSING_ID),
            lambda: storage.get_trials(MISSING_ID),
            lambda: storage.count_trials(MISSING_ID),
            lambda: storage.running_trials(MISSING_ID),
            lambda: storage.add_trials(MISSING_ID, proposals(1)),
            lambda: storage.claim_waiting_trial(MISSING_ID, "w"),
            lambda: storage.set_study_user_attr(MISSING_ID, "k", 1),
            lambda: storage.add_artifact(MISSING_ID, "file", "/p", SHA, 1),
            lambda: storage.store_artifact(MISSING_ID, "file", "n", b"x"),
            lambda: storage.get_artifacts(MISSING_ID),
            lambda: storage.get_artifacts(MISSING_ID, kind="file"),
        ]
        for call in study_calls:
            with pytest.raises(StudyNotFoundError, match=missing):
                call()
        with pytest.raises(StudyNotFoundError, match="nope"):
            storage.get_study_id("nope")
        trial_calls: list[Callable[[], object]] = [
            lambda: storage.get_trial(MISSING_ID),
            lambda: storage.finish_trial(MISSING_ID, TrialState.FAILED),
            lambda: storage.report(MISSING_ID, 0, {0: 1.0}),
            lambda: storage.heartbeat(MISSING_ID, "w"),
            lambda: storage.requeue_trial(MISSING_ID, "w"),
            lambda: storage.set_trial_user_attr(MISSING_ID, "k", 1),
        ]
        study_id = make_study(storage)
        trial_calls.append(
            lambda: storage.store_artifact(study_id, "file", "n", b"x", trial_id=MISSING_ID)
        )
        for call in trial_calls:
            with pytest.raises(TrialNotFoundError, match=missing) as info:
                call()
            assert isinstance(info.value, KeyError)
        artifact_calls: list[Callable[[], object]] = [
            lambda: storage.read_artifact(MISSING_ID),
            lambda: storage.delete_artifact(MISSING_ID),
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
        storage.add_trials(first, proposals(3), claim_worker="w")
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
        assert_utc(by_id[second].created_at)

    def test_study_user_attrs_upsert(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        storage.set_study_user_attr(study_id, "note", {"a": [1, 2]})
        storage.set_study_user_attr(study_id, "note", "replaced")
        storage.set_study_user_attr(study_id, "other", None)
        assert storage.get_study(study_id).user_attrs == {"note": "replaced", "other": None}
        with pytest.raises(TypeError, match="JSON"):
            storage.set_study_user_attr(study_id, "bad", {1, 2})

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
            storage.acquire_lease(MISSING_ID, "train", "e", ttl=1)

    def test_reopening_sees_committed_data(self, storage: RDBStorage, storage_url: str) -> None:
        study_id = make_study(storage)
        storage.add_trials(study_id, proposals(2), claim_worker="w")
        other = RDBStorage(storage_url)
        try:
            assert other.get_study_id("study") == study_id
            assert other.get_trials(study_id) == storage.get_trials(study_id)
        finally:
            other.dispose()

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
            complete_trial(storage, trial)
            storage.add_artifact(study_id, "plot", "/a.png", SHA, 10)
            storage.add_artifact(study_id, "ckpt", "/b.pt", SHA, 20, trial_id=trial.trial_id)
            storage.store_artifact(study_id, "log", "run.log", b"log")
            storage.store_artifact(study_id, "ckpt", "c.pt", b"\0" * 9, trial_id=trial.trial_id)
        doomed_trial = storage.get_trials(doomed)[0].trial_id
        before = row_counts(storage_url)

        storage.delete_study(doomed)

        with pytest.raises(StudyNotFoundError):
            storage.get_study(doomed)
        with pytest.raises(TrialNotFoundError):
            storage.get_trial(doomed_trial)
        with pytest.raises(StudyNotFoundError):
            storage.delete_study(doomed)
        assert [s.name for s in storage.list_studies()] == ["kept"]
        after = row_counts(storage_url)
        # Every table held exactly as many rows for each study: half of them must be gone.
        assert after == {table: n // 2 for table, n in before.items()}, (before, after)
        assert len(storage.get_trials(kept)) == 2
        assert len(storage.get_artifacts(kept)) == 4
