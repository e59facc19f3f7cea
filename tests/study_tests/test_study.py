"""The study facade and runner: the public contract, failures, resume of dead workers."""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import signal
import socket
import time
from typing import Any

import pytest

import nas
from nas.exceptions import (
    DuplicatedStudyError,
    IncompatibleStudyError,
    SearcherConfigError,
    SpaceError,
    StudyNotFoundError,
    UnknownSearcherError,
)
from nas.storage import RDBStorage

SPACE = {
    "params": {
        "x": {"type": "float", "low": -2.0, "high": 2.0},
        "k": {"type": "int", "low": 1, "high": 5},
        "opt": {"type": "categorical", "choices": ["a", "b"]},
        "m": {
            "type": "float",
            "low": 0.0,
            "high": 1.0,
            "condition": {"parent": "opt", "in": ["a"]},
        },
    }
}


def quadratic(trial):
    return (trial.params["x"] - 0.5) ** 2 + trial.params["k"]


def two_objectives(trial):
    x = trial.params["x"]
    return {"a": x**2, "b": (x - 1.0) ** 2}


def test_contract_single_objective(storage_url):
    study = nas.create_study(
        name="s",
        space=nas.SearchSpace.from_dict(SPACE),
        objectives={"loss": "minimize"},
        searcher="random",
        searcher_options={},
        storage=storage_url,
        seed=0,
        load_if_exists=False,
    )
    study.optimize(quadratic, n_trials=12)
    loaded = nas.load_study("s", storage=storage_url)
    trials = loaded.trials
    assert [t.number for t in trials] == list(range(12))
    assert all(t.state == "COMPLETE" for t in trials)
    for t in trials:
        assert t.values == {"loss": pytest.approx(quadratic(t))}
        assert ("m" in t.params) == (t.params["opt"] == "a")
    best = loaded.best_trial
    assert best.values["loss"] == min(t.values["loss"] for t in trials)
    assert loaded.pareto_front() == [best] or all(
        t.values["loss"] == best.values["loss"] for t in loaded.pareto_front()
    )


def test_n_trials_is_a_total(sqlite_url):
    study = nas.create_study("s", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    study.optimize(quadratic, n_trials=5)
    study.optimize(quadratic, n_trials=8)
    study.optimize(quadratic, n_trials=8)
    assert len(study.trials) == 8


def test_multi_objective_pareto_front_and_best_trial_refused(storage_url):
    study = nas.create_study(
        "mo",
        SPACE,
        {"a": "minimize", "b": "minimize"},
        searcher="evolution",
        storage=storage_url,
        seed=3,
    )
    study.optimize(two_objectives, n_trials=30)
    front = study.pareto_front()
    complete = study.get_trials(("COMPLETE",))
    assert front and set(t.number for t in front) <= set(t.number for t in complete)
    for f in front:  # nothing in the study dominates a front member
        for t in complete:
            assert not (
                t.values["a"] <= f.values["a"]
                and t.values["b"] <= f.values["b"]
                and (t.values["a"] < f.values["a"] or t.values["b"] < f.values["b"])
            )
    for t in complete:  # and every non-member is dominated by some member
        if t not in front:
            assert any(
                f.values["a"] <= t.values["a"] and f.values["b"] <= t.values["b"] for f in front
            )
    with pytest.raises(ValueError, match="pareto_front"):
        _ = study.best_trial
    assert study.hypervolume() > 0


def test_maximize_direction(sqlite_url):
    study = nas.create_study("mx", SPACE, {"score": "maximize"}, storage=sqlite_url)
    study.optimize(lambda t: t.params["x"], n_trials=10)
    assert study.best_value == max(t.params["x"] for t in study.trials)


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        ("oops", "not a number"),
        ({"wrong": 1.0}, "(missing ['loss'])"),
        ({"loss": 1.0, "tag": "a"}, "besides the objectives"),
        (None, "not a number"),
    ],
)
def test_bad_return_values_fail_the_trial_and_the_study_goes_on(sqlite_url, result, reason):
    study = nas.create_study("bad", SPACE, {"loss": "minimize"}, storage=sqlite_url)

    def objective(trial):
        return result if trial.number % 2 == 0 else 1.0

    study.optimize(objective, n_trials=4)
    states = [t.state for t in study.trials]
    assert states == ["FAILED", "COMPLETE", "FAILED", "COMPLETE"]
    assert reason in study.trials[0].failure_reason
    assert study.trials[0].values == {}


def test_exception_is_stored_with_traceback(sqlite_url):
    study = nas.create_study("exc", SPACE, {"loss": "minimize"}, storage=sqlite_url)

    def objective(trial):
        if trial.number == 1:
            raise RuntimeError("exploded at trial one")
        return 0.0

    study.optimize(objective, n_trials=3)
    failed = study.trials[1]
    assert failed.state == "FAILED"
    assert (
        "Traceback" in failed.failure_reason and "exploded at trial one" in failed.failure_reason
    )
    assert [t.state for t in study.trials] == ["COMPLETE", "FAILED", "COMPLETE"]


def test_pruned(sqlite_url):
    study = nas.create_study("pr", SPACE, {"loss": "minimize"}, storage=sqlite_url)

    def objective(trial):
        trial.report(0, 3.0)
        raise nas.TrialPruned("too slow")

    study.optimize(objective, n_trials=2)
    assert all(t.state == "PRUNED" for t in study.trials)
    assert study.trials[0].failure_reason == "too slow"
    assert study.trials[0].intermediate_values == {"loss": {0: 3.0}}


def test_report_per_objective_and_user_attrs_and_artifacts(storage_url, tmp_path):
    study = nas.create_study("rep", SPACE, {"a": "minimize", "b": "maximize"}, storage=storage_url)
    ckpt = tmp_path / "ckpt.bin"
    ckpt.write_bytes(b"weights")

    def objective(trial):
        for step in range(3):
            trial.report(step, {"a": float(step), "b": 10.0 - step})
        trial.report(3, {"b": 1.5})
        trial.set_user_attr("note", {"epochs": 3})
        trial.add_artifact(ckpt, kind="checkpoint")
        with pytest.raises(ValueError, match="unknown objective"):
            trial.report(4, {"c": 1.0})
        with pytest.raises(ValueError, match="mapping"):
            trial.report(4, 1.0)
        with pytest.raises(ValueError, match="finite"):
            trial.report(4, {"a": float("nan")})
        return {"a": 1.0, "b": 2.0}

    study.optimize(objective, n_trials=1)
    t = study.trials[0]
    assert t.state == "COMPLETE"
    assert t.intermediate_values == {
        "a": {0: 0.0, 1: 1.0, 2: 2.0},
        "b": {0: 10.0, 1: 9.0, 2: 8.0, 3: 1.5},
    }
    assert t.user_attrs == {"note": {"epochs": 3}}
    (art,) = study.storage.get_artifacts(study.study_id, trial_id=t.trial_id)
    assert art.kind == "checkpoint" and art.size == 7
    assert art.sha256 == hashlib.sha256(b"weights").hexdigest()


def test_existing_study_duplicate_and_incompatible(sqlite_url):
    nas.create_study("dup", SPACE, {"loss": "minimize"}, storage=sqlite_url, seed=1)
    with pytest.raises(DuplicatedStudyError):
        nas.create_study("dup", SPACE, {"loss": "minimize"}, storage=sqlite_url, seed=1)
    same = nas.create_study(
        "dup", SPACE, {"loss": "minimize"}, storage=sqlite_url, seed=1, load_if_exists=True
    )
    assert same.name == "dup"
    other_space = {"params": {**SPACE["params"], "x": {"type": "float", "low": -3.0, "high": 2.0}}}
    with pytest.raises(IncompatibleStudyError, match=r"search space differs in params \['x'\]"):
        nas.create_study(
            "dup",
            other_space,
            {"loss": "minimize"},
            storage=sqlite_url,
            seed=1,
            load_if_exists=True,
        )
    with pytest.raises(IncompatibleStudyError, match="objectives differ"):
        nas.create_study(
            "dup", SPACE, {"loss": "maximize"}, storage=sqlite_url, seed=1, load_if_exists=True
        )
    with pytest.raises(IncompatibleStudyError, match="seed differs"):
        nas.create_study(
            "dup", SPACE, {"loss": "minimize"}, storage=sqlite_url, seed=2, load_if_exists=True
        )
    with pytest.raises(IncompatibleStudyError, match="searcher differs"):
        nas.create_study(
            "dup",
            SPACE,
            {"loss": "minimize"},
            searcher="evolution",
            storage=sqlite_url,
            seed=1,
            load_if_exists=True,
        )


def test_bad_input_writes_nothing(sqlite_url):
    with pytest.raises(UnknownSearcherError, match=r"valid names: .*random"):
        nas.create_study("x", SPACE, {"loss": "minimize"}, searcher="nope", storage=sqlite_url)
    with pytest.raises(SearcherConfigError):
        nas.create_study(
            "x",
            SPACE,
            {"loss": "minimize"},
            searcher="evolution",
            searcher_options={"population_size": -1},
            storage=sqlite_url,
        )
    with pytest.raises(SpaceError):
        nas.create_study(
            "x",
            {"params": {"a": {"type": "float", "low": 1, "high": 0}}},
            {"l": "minimize"},
            storage=sqlite_url,
        )
    with pytest.raises(ValueError, match="direction"):
        nas.create_study("x", SPACE, {"loss": "up"}, storage=sqlite_url)
    assert RDBStorage(sqlite_url).list_studies() == []
    with pytest.raises(StudyNotFoundError):
        nas.load_study("x", storage=sqlite_url)


def test_keyboard_interrupt_requeues_the_trial(sqlite_url):
    study = nas.create_study("ki", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    seen = []

    def interrupted(trial):
        seen.append(trial.params)
        if trial.number == 2:
            raise KeyboardInterrupt
        return 0.0

    with pytest.raises(KeyboardInterrupt):
        study.optimize(interrupted, n_trials=5)
    assert [t.state for t in study.trials] == ["COMPLETE", "COMPLETE", "WAITING"]
    rerun = []
    study.optimize(lambda t: rerun.append(t.params) or 0.0, n_trials=5)
    assert rerun[0] == seen[2]  # same params, re-run first
    assert [t.state for t in study.trials] == ["COMPLETE"] * 5


def test_interrupt_swallowed_by_the_objective_still_stops_and_requeues(sqlite_url):
    # scikit-learn's MLP catches KeyboardInterrupt and returns a half-trained model: that
    # result must not be stored as COMPLETE, and the study must stop.
    study = nas.create_study("swallow", SPACE, {"loss": "minimize"}, storage=sqlite_url)

    def objective(trial):
        if trial.number == 2:
            try:
                # Ctrl-C, delivered to this (the main) thread: os.kill would let the kernel pick
                # any thread of the process (heartbeat, SQLAlchemy, torch's pools), and the
                # handler would then run only when the main thread next checks for signals.
                signal.raise_signal(signal.SIGINT)
                time.sleep(1.0)
            except KeyboardInterrupt:
                return 123.0  # the library carries on with a bogus result
        return 0.0

    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=5)
    assert [t.state for t in study.trials] == ["COMPLETE", "COMPLETE", "WAITING"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    study.optimize(lambda t: 0.0, n_trials=5)
    assert all(t.values == {"loss": 0.0} for t in study.trials)


def test_stop_from_a_callback_ends_after_the_current_trial(sqlite_url):
    study = nas.create_study("stop", SPACE, {"loss": "minimize"}, storage=sqlite_url)

    def stop_at_three(s, trial):
        if trial.number == 3:
            s.stop()

    study.optimize(quadratic, n_trials=10, callbacks=[stop_at_three])
    assert [t.state for t in study.trials] == ["COMPLETE"] * 4  # nothing claimed after the stop
    study.optimize(quadratic, n_trials=10)  # a new call runs again
    assert len(study.trials) == 10


def _exit_immediately():
    return None


def test_running_trial_of_dead_local_worker_is_requeued(sqlite_url):
    study = nas.create_study("dead", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    proc = multiprocessing.get_context("spawn").Process(target=_exit_immediately)
    proc.start()
    proc.join()
    dead_worker = f"{socket.gethostname()}:{proc.pid}:abcd"
    proposal = nas.Proposal(study.space.sample(__import__("numpy").random.default_rng(0)))
    _, claimed = study.storage.add_trials(study.study_id, [proposal], claim_worker=dead_worker)
    assert claimed.state == "RUNNING"
    study.optimize(quadratic, n_trials=3)
    trials = study.trials
    assert trials[0].params == proposal.params and trials[0].state == "COMPLETE"
    assert trials[0].restarts == 1
    assert len(trials) == 3


def test_a_trial_whose_workers_keep_dying_is_failed_after_max_restarts(sqlite_url):
    study = nas.create_study("crashy", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    proc = multiprocessing.get_context("spawn").Process(target=_exit_immediately)
    proc.start()
    proc.join()
    dead = f"{socket.gethostname()}:{proc.pid}:dead"
    proposal = nas.Proposal(study.space.sample(__import__("numpy").random.default_rng(0)))
    _, claimed = study.storage.add_trials(study.study_id, [proposal], claim_worker=dead)
    study.storage.report(claimed.trial_id, 0, {0: 7.0})
    # Two deaths so far: re-queued once, claimed again by a worker that died too.
    assert study.storage.requeue_trial(claimed.trial_id, dead)
    again = study.storage.claim_waiting_trial(study.study_id, dead)
    assert again is not None and again.restarts == 1
    study.optimize(quadratic, n_trials=4, max_restarts=1)
    first = study.trials[0]
    assert first.state == "FAILED" and first.params == proposal.params
    assert "died 2 times (max_restarts=1" in first.failure_reason
    assert first.intermediate_values == {"loss": {0: 7.0}}
    assert [t.state for t in study.trials[1:]] == ["COMPLETE"] * 3  # the study went on
    with pytest.raises(ValueError, match="max_restarts"):
        study.optimize(quadratic, n_trials=5, max_restarts=-1)


def test_running_trial_of_live_remote_worker_is_left_alone(sqlite_url):
    study = nas.create_study("alive", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    proposal = nas.Proposal(study.space.sample(__import__("numpy").random.default_rng(0)))
    _, _claimed = study.storage.add_trials(
        study.study_id, [proposal], claim_worker="otherhost:1:tok"
    )
    study.optimize(quadratic, n_trials=3)
    assert study.trials[0].state == "RUNNING"  # heartbeat is fresh: not presumed dead
    assert len(study.trials) == 3
    # With a zero grace the silent remote worker is presumed dead and its trial re-run.
    study.optimize(quadratic, n_trials=3, heartbeat_grace=0.0)
    assert study.trials[0].state == "COMPLETE" and study.trials[0].restarts == 1


def test_enqueue_runs_user_params_first(sqlite_url):
    study = nas.create_study("enq", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    study.enqueue({"x": 0.5, "k": 1, "opt": "b"})
    with pytest.raises(SpaceError):
        study.enqueue({"x": 0.5, "k": 1, "opt": "b", "m": 0.3})  # m inactive when opt=b
    study.optimize(quadratic, n_trials=3)
    assert study.trials[0].params == {"x": 0.5, "k": 1, "opt": "b"}
    assert study.trials[0].values["loss"] == pytest.approx(1.0)


def test_multi_fidelity_results_come_from_the_largest_budget(sqlite_url):
    # A low-budget result that looks better (here: a biased cheap evaluation) must not be
    # reported as the best, nor shape the Pareto front.
    def biased(trial):
        x = trial.params["x"]
        bias = 0.0 if trial.budget is None else 10.0 / trial.budget
        return {"a": x**2 - bias, "b": (x - 1.0) ** 2 - bias}

    mo = nas.create_study("mf_mo", SPACE, {"a": "minimize", "b": "minimize"}, storage=sqlite_url)
    so = nas.create_study("mf_so", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    for study in (mo, so):
        for x, budget in ((0.0, 1.0), (0.9, 9.0), (0.2, 9.0), (1.5, 3.0)):
            study.enqueue({"x": x, "k": 1, "opt": "b"}, budget=budget)
    mo.optimize(biased, n_trials=4)
    so.optimize(lambda t: biased(t)["a"], n_trials=4)
    assert [t.number for t in so.final_trials()] == [1, 2]
    assert so.best_trial.number == 2  # not trial 0 (budget 1: value -10)
    assert so.best_value == pytest.approx(0.2**2 - 10.0 / 9.0)
    assert [t.number for t in mo.pareto_front()] == [1, 2]
    assert mo.hypervolume([2.0, 2.0]) == pytest.approx(
        # two points of the budget-9 front, shifted by the same bias
        nas.pareto.hypervolume(
            [[0.81 - 10 / 9, 0.01 - 10 / 9], [0.04 - 10 / 9, 0.64 - 10 / 9]], [2.0, 2.0]
        )
    )
    # A trial without a budget counts as full fidelity.
    so.enqueue({"x": 1.9, "k": 1, "opt": "b"})
    so.optimize(lambda t: biased(t)["a"], n_trials=5)
    assert [t.number for t in so.final_trials()] == [4]
    assert so.best_trial.number == 4


def test_timeout_stops_starting_trials(sqlite_url):
    import time

    study = nas.create_study("to", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    start = time.monotonic()
    study.optimize(lambda t: time.sleep(0.05) or 0.0, timeout=0.3)
    assert time.monotonic() - start < 3.0
    assert 1 <= len(study.trials) <= 10


def _slow_quadratic(trial: Any) -> float:
    time.sleep(0.02)  # long enough that the 4 workers' trials overlap
    return quadratic(trial)


def _worker(url: str, n: int, ready: Any) -> None:
    study = nas.load_study("par", storage=url)
    ready.wait(60)  # every worker starts claiming together, however slow its start-up was
    study.optimize(_slow_quadratic, n_trials=n)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_four_processes_share_one_study(backend, request):
    url = request.getfixturevalue(f"{backend}_url")
    nas.create_study("par", SPACE, {"loss": "minimize"}, searcher="evolution", storage=url, seed=0)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(4)
    procs = [ctx.Process(target=_worker, args=(url, 40, ready)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    trials = nas.load_study("par", storage=url).trials
    assert [t.number for t in trials] == list(range(40))
    assert all(t.state == "COMPLETE" for t in trials)
    assert len({t.worker_id for t in trials}) >= 2
    assert all(math.isfinite(t.values["loss"]) for t in trials)
    assert os.getpid() not in {int(t.worker_id.split(":")[1]) for t in trials}
