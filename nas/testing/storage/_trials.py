"""Conformance of the trial operations: the life cycle, compare-and-swap ownership, what is
stored and read back, and the read paths."""

from __future__ import annotations

import math
from typing import Any

import pytest

from nas._types import Proposal, TrialState
from nas.exceptions import (
    StorageError,
    TrialNotRunningError,
)
from nas.storage import RDBStorage, StaleHistoryError, TrialNotFoundError
from nas.testing.storage._base import (
    MISSING_ID,
    OBJECTIVES,
    SEARCHER,
    SPACE,
    StorageFixture,
    assert_utc,
    complete_trial,
    complete_trial_as,
    make_study,
    proposals,
)

__all__ = ["TrialConformance"]


class TrialConformance(StorageFixture):
    """Trials: add, claim, report, finish, re-queue, abandon, heartbeat, attributes, reads."""

    def test_add_claim_finish_life_cycle(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, claimed = storage.add_trials(
            study_id, [Proposal({"x": 0.25}, budget=3, info={"bracket": 1}), *proposals(2)]
        )
        assert claimed is None
        assert [t.number for t in inserted] == [0, 1, 2]
        assert all(t.state is TrialState.WAITING and t.worker_id is None for t in inserted)
        assert inserted[0].budget == 3.0 and inserted[1].budget is None
        assert inserted[0].system_attrs == {"bracket": 1}
        assert_utc(inserted[0].datetime_created)
        assert storage.get_study(study_id).next_trial_number == 3

        trial = storage.claim_waiting_trial(study_id, "worker-a")
        assert trial is not None and trial.number == 0
        assert trial.state is TrialState.RUNNING and trial.worker_id == "worker-a"
        assert_utc(trial.datetime_start)
        assert_utc(trial.heartbeat)
        assert trial.params == {"x": 0.25}
        second = storage.claim_waiting_trial(study_id, "worker-b")
        assert second is not None and second.number == 1

        done = storage.finish_trial(
            trial.trial_id, TrialState.COMPLETE, values={0: 0.1, 1: 0.9}, worker_id="worker-a"
        )
        assert done.state is TrialState.COMPLETE
        assert done.values == {"loss": 0.1, "accuracy": 0.9}
        assert_utc(done.datetime_complete)
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
        inserted, claimed = storage.add_trials(study_id, proposals(3), claim_worker="w1")
        assert claimed is not None and claimed == inserted[0]
        assert claimed.state is TrialState.RUNNING and claimed.worker_id == "w1"
        assert_utc(claimed.datetime_start)
        assert_utc(claimed.heartbeat)
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
        _, trial = storage.add_trials(study_id, proposals(1), claim_worker="w")
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
        inserted, trial = storage.add_trials(study_id, proposals(2), claim_worker="w")
        assert trial is not None
        with pytest.raises(ValueError, match="out of range"):
            storage.report(trial.trial_id, 0, {2: 1.0})
        with pytest.raises(ValueError, match="NaN"):
            storage.report(trial.trial_id, 0, {0: math.nan})
        with pytest.raises(TypeError):
            storage.report(trial.trial_id, 0, {0: "1.0"})  # type: ignore[dict-item]
        with pytest.raises(TrialNotRunningError, match="WAITING"):
            storage.report(inserted[1].trial_id, 0, {0: 1.0})
        complete_trial(storage, trial)
        with pytest.raises(TrialNotRunningError, match="COMPLETE"):
            storage.report(trial.trial_id, 5, {0: 1.0})
        assert storage.get_trial(trial.trial_id).intermediate_values == {}

    def test_finish_twice_raises(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, trial = storage.add_trials(study_id, proposals(2), claim_worker="w")
        assert trial is not None
        with pytest.raises(TrialNotRunningError, match="WAITING"):
            storage.finish_trial(inserted[1].trial_id, TrialState.FAILED)
        first = complete_trial(storage, trial, loss=0.25)
        with pytest.raises(TrialNotRunningError, match="COMPLETE"):
            storage.finish_trial(trial.trial_id, TrialState.FAILED, failure_reason="late")
        with pytest.raises(TrialNotRunningError):
            complete_trial(storage, trial, loss=0.75)
        assert storage.get_trial(trial.trial_id) == first

    def test_finish_validates_state_and_values(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(study_id, proposals(1), claim_worker="w")
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
            "c", OBJECTIVES, SPACE, SEARCHER, seed=1, constraints=constraints
        )
        assert storage.get_study(study_id).constraints == constraints
        assert storage.get_study(make_study(storage, "plain")).constraints is None
        inserted, claimed = storage.add_trials(study_id, proposals(3), claim_worker="w")
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
        _, trial = storage.add_trials(study_id, proposals(1), claim_worker="w")
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
            storage.create_study("bad", OBJECTIVES, SPACE, SEARCHER, 1, constraints=[1])  # type: ignore[arg-type]
        assert storage.get_trial(trial.trial_id) == trial  # nothing written

    def test_stale_expected_next_number_raises(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        storage.add_trials(study_id, proposals(2), expected_next_number=0)
        with pytest.raises(StaleHistoryError, match="next trial number 2") as info:
            storage.add_trials(study_id, proposals(1), expected_next_number=1)
        assert isinstance(info.value, StorageError)
        with pytest.raises(StaleHistoryError):
            storage.add_trials(study_id, [], expected_next_number=3)
        assert [t.number for t in storage.get_trials(study_id)] == [0, 1]
        inserted, _ = storage.add_trials(study_id, proposals(1), expected_next_number=2)
        assert [t.number for t in inserted] == [2]

    def test_max_trials_truncates(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, _ = storage.add_trials(study_id, proposals(3), max_trials=5)
        assert [t.number for t in inserted] == [0, 1, 2]
        inserted, claimed = storage.add_trials(
            study_id, proposals(3, start=3), max_trials=5, claim_worker="w"
        )
        assert [t.number for t in inserted] == [3, 4]
        assert [t.params["i"] for t in inserted] == [3, 4]  # the first proposals are kept
        assert claimed is not None and claimed.number == 3
        assert storage.add_trials(study_id, proposals(2), max_trials=5, claim_worker="w") == (
            [],
            None,
        )
        assert storage.add_trials(study_id, proposals(2), max_trials=0) == ([], None)
        assert storage.get_study(study_id).next_trial_number == 5
        with pytest.raises(ValueError, match="max_trials"):
            storage.add_trials(study_id, proposals(1), max_trials=-1)

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
            complete_trial_as(storage, trial.trial_id, "w1")
        assert complete_trial_as(storage, trial.trial_id, "w2").worker_id == "w2"
        assert storage.requeue_trial(trial.trial_id, "w2") is False

    def test_abandon_is_compare_and_swap(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(study_id, proposals(2), claim_worker="w1")
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
            complete_trial_as(storage, trial.trial_id, "w1")  # the dead worker's late result
        with pytest.raises(TrialNotFoundError):
            storage.abandon_trial(MISSING_ID, "w1", "x")

    def test_heartbeat_ownership(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        inserted, trial = storage.add_trials(study_id, proposals(2), claim_worker="w1")
        assert trial is not None and trial.heartbeat is not None
        assert storage.heartbeat(trial.trial_id, "w1") is True
        beat = storage.get_trial(trial.trial_id).heartbeat
        assert beat is not None and beat >= trial.heartbeat
        assert storage.heartbeat(trial.trial_id, "w2") is False
        assert storage.get_trial(trial.trial_id).heartbeat == beat
        assert storage.heartbeat(inserted[1].trial_id, "w1") is False  # WAITING
        complete_trial(storage, trial)
        assert storage.heartbeat(trial.trial_id, "w1") is False

    def test_get_trials_min_number_and_states(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        other = make_study(storage, "other")
        storage.add_trials(other, proposals(3))
        storage.add_trials(study_id, proposals(5))
        for expected_number in range(3):
            claimed = storage.claim_waiting_trial(study_id, "w")
            assert claimed is not None and claimed.number == expected_number
            if expected_number < 2:
                complete_trial(storage, claimed)
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
        _, trial = storage.add_trials(study_id, proposals(1), claim_worker="w")
        assert trial is not None
        storage.set_trial_user_attr(trial.trial_id, "a", 1)
        storage.set_trial_user_attr(trial.trial_id, "a", [1, 2])
        done = complete_trial(storage, trial)
        storage.set_trial_user_attr(trial.trial_id, "after", {"ok": True})  # any state
        assert storage.get_trial(trial.trial_id).user_attrs == {"a": [1, 2], "after": {"ok": True}}
        assert done.user_attrs == {"a": [1, 2]}  # a snapshot: later writes do not change it
        with pytest.raises(TypeError, match="JSON"):
            storage.set_trial_user_attr(trial.trial_id, "bad", object())
        with pytest.raises(TypeError, match="JSON"):
            storage.set_trial_user_attr(trial.trial_id, "nan", math.nan)

    def test_returned_objects_are_snapshots(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        storage.add_trials(study_id, proposals(1))
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
