"""Ask and tell: trials claimed exactly as workers claim them (same searcher, same total, dead
owners' trials given back), finished by whoever tells them first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import nas
from nas._types import TrialState
from nas.exceptions import StudyConfigError, TrialNotRunningError
from nas.study._worker import is_worker_dead, lease_expiry, lease_worker_id

SPACE = {"params": {"x": {"type": "float", "low": -2.0, "high": 2.0}}}


def _study(url: str, name: str = "s", **kw: object) -> nas.Study:
    return nas.create_study(name, SPACE, {"loss": "minimize"}, storage=url, **kw)  # type: ignore[arg-type]


def test_an_ask_tell_loop_proposes_what_optimize_proposes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    by_optimize = _study(url, "a", searcher="evolution", seed=3)
    by_optimize.optimize(lambda t: t.params["x"] ** 2, n_trials=12)
    by_hand = _study(url, "b", searcher="evolution", seed=3)
    while (trial := by_hand.ask(n_trials=12)) is not None:
        assert trial.number == len(by_hand.trials) - 1
        by_hand.tell(trial, trial.params["x"] ** 2)
    assert [t.params for t in by_hand.trials] == [t.params for t in by_optimize.trials]
    assert all(t.state is TrialState.COMPLETE for t in by_hand.trials)


def test_the_total_is_exact_across_concurrent_askers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    _study(url)
    got: list[int] = []
    lock = threading.Lock()

    def asker() -> None:
        study = nas.load_study("s", url)
        while (trial := study.ask(n_trials=7)) is not None:
            with lock:
                got.append(trial.number)
            study.tell(trial, 0.0)

    threads = [threading.Thread(target=asker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(7))
    assert len(nas.load_study("s", url).trials) == 7


def test_ask_uses_the_total_nas_run_recorded(tmp_path: Path) -> None:
    from nas._attrs import RUN_ATTR

    url = f"sqlite:///{tmp_path}/s.db"
    study = _study(url)
    study.set_user_attr(RUN_ATTR, {"objective": "m:f", "n_trials": 2})
    study = nas.load_study("s", url)
    for _ in range(2):
        trial = study.ask()
        assert trial is not None
        study.tell(trial.number, 1.0)
    assert study.ask() is None
    assert study.ask(n_trials=3) is not None  # an explicit total asks for more


def test_tell_values_metrics_and_constraints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    study = _study(url, constraints={"size": {"max": 10}})
    trial = study.ask()
    assert trial is not None
    done = study.tell(trial, {"loss": 0.5, "size": 12.0})
    assert done.state is TrialState.COMPLETE and done.values == {"loss": 0.5}
    assert done.metrics == {"size": 12.0} and done.feasible is False


def test_a_malformed_tell_changes_nothing_and_a_nan_fails_the_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    study = _study(url)
    trial = study.ask()
    assert trial is not None
    for values, state, message in [
        ({"los": 1.0}, None, r"missing \['loss'\]"),
        ("high", None, "not a number"),
        (None, None, "give the values, or state PRUNED or FAILED"),
        (1.0, "PRUNED", "takes no values"),
        (None, "RUNNING", "must be COMPLETE, PRUNED or FAILED"),
        (None, "maybe", "must be COMPLETE, PRUNED or FAILED"),
    ]:
        with pytest.raises(StudyConfigError, match=message):
            study.tell(trial, values, state=state)
        assert study.trials[0].state is TrialState.RUNNING
    with pytest.raises(StudyConfigError, match="has no trial 5"):
        study.tell(5, 1.0)
    failed = study.tell(trial, float("nan"))
    assert failed.state is TrialState.FAILED and "not a finite number" in str(
        failed.failure_reason
    )
    with pytest.raises(TrialNotRunningError, match="already FAILED"):
        study.tell(trial, 1.0)
    assert study.trials[0] == failed


def test_pruned_and_failed_tells(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    study = _study(url)
    first, second = study.ask(), study.ask()
    assert first is not None and second is not None
    first.report(0, 3.0)
    first.report(1, 2.0)
    pruned = study.tell(first, state="pruned")
    assert pruned.state is TrialState.PRUNED and pruned.values == {"loss": 2.0}
    assert pruned.failure_reason == "told PRUNED"
    failed = nas.load_study("s", url).tell(second.number, state=TrialState.FAILED, reason="OOM")
    assert failed.state is TrialState.FAILED and failed.failure_reason == "OOM"


def test_an_asked_trial_beats_until_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nas.study._asktell as asktell

    monkeypatch.setattr(asktell, "HEARTBEAT_INTERVAL", 0.05)
    url = f"sqlite:///{tmp_path}/s.db"
    study = _study(url)
    trial = study.ask()
    assert trial is not None
    started = study.trials[0].heartbeat
    time.sleep(0.4)
    beaten = study.trials[0].heartbeat
    assert started is not None and beaten is not None and beaten > started
    beat = study._asked[trial.number][1]
    study.tell(trial, 0.0)
    assert study._asked == {} and beat._thread is not None and not beat._thread.is_alive()


def test_a_dead_askers_trial_is_asked_again_with_its_params(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    _study(url, seed=5)
    child = textwrap.dedent(
        f"""
        import os, nas
        trial = nas.load_study("s", {url!r}).ask()
        print(trial.number, trial.params["x"], flush=True)
        os._exit(0)  # dies without telling
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    number, x = done.stdout.split()
    study = nas.load_study("s", url)
    assert study.trials[0].state is TrialState.RUNNING
    again = study.ask()  # same host, dead pid: given back at once
    assert again is not None and again.number == int(number) == 0
    assert again.params["x"] == float(x) and study.trials[0].restarts == 1


def test_a_lease_expires_and_the_first_result_told_wins(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    study = _study(url)
    leased = study.ask(lease=0.5)
    assert leased is not None and leased.worker_id.startswith("lease:")
    other = nas.load_study("s", url)
    fresh = other.ask(n_trials=2)
    assert fresh is not None and fresh.number == 1  # the lease is alive: a new trial
    time.sleep(1.6)  # expiries are whole seconds
    again = other.ask(n_trials=2)
    assert again is not None and again.number == leased.number and again.params == leased.params
    study.tell(leased.number, 1.0)  # the first evaluation reports first: recorded
    with pytest.raises(TrialNotRunningError, match="already COMPLETE"):
        other.tell(again, 2.0)
    assert other.trials[0].values == {"loss": 1.0}


def test_a_result_told_for_a_given_back_trial_is_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    study = _study(url)
    trial = study.ask(lease=60)
    assert trial is not None
    study.storage.requeue_trial(trial.trial_id, trial.worker_id)
    assert study.trials[0].state is TrialState.WAITING
    done = study.tell(trial.number, 0.5)
    assert done.state is TrialState.COMPLETE and done.values == {"loss": 0.5}


def test_bad_ask_arguments(tmp_path: Path) -> None:
    study = _study(f"sqlite:///{tmp_path}/s.db")
    for kwargs, message in [
        ({"n_trials": -1}, "n_trials"),
        ({"lease": 0}, "lease: must be a number of seconds > 0"),
        ({"wait": -1}, "wait: must be a number of seconds >= 0"),
    ]:
        with pytest.raises(StudyConfigError, match=message):
            study.ask(**kwargs)  # type: ignore[arg-type]
    assert study.trials == []


def test_lease_worker_ids() -> None:
    wid = lease_worker_id(30, now=1_000.2)
    assert lease_expiry(wid) == 1_031 and lease_expiry("host:12:ab") is None
    at = datetime.fromtimestamp(1_030, UTC)
    assert not is_worker_dead(wid, None, now=at)
    # a lease ignores the heartbeat rule: alive with an old heartbeat, dead after expiry
    assert not is_worker_dead(wid, at - timedelta(hours=1), now=at, grace=1)
    assert is_worker_dead(wid, at, now=at + timedelta(seconds=2))
