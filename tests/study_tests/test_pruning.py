"""Pruning in a study: the pruner is part of the study's definition, ``Trial.should_prune``
judges what the storage holds (so every worker decides alike), and a pruned trial is stored
PRUNED with its last reported values and the pruner's reason."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import nas
from nas._attrs import PRUNER_ATTR
from nas._types import FrozenTrial, Objective, TrialState
from nas.exceptions import IncompatibleStudyError, PrunerConfigError
from nas.pruners import PRUNERS, Pruner, register_pruner
from nas.storage import RDBStorage
from nas.study import Trial
from nas.testing.cli import run_cli

SPACE = {"params": {"x": {"type": "float", "low": 0.0, "high": 4.0}}}

#: What the recording pruner was shown: (the judged snapshot, the history's trial numbers and
#: the intermediate values of the other trials).
SEEN: list[tuple[FrozenTrial, list[int], dict[int, dict[str, dict[int, float]]]]] = []


class AboveLimit(Pruner):
    """Test pruner: prunes when the judged objective's last value exceeds ``limit``; records
    every call in :data:`SEEN`."""

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        limit: float = 1.0,
        objective: str | None = None,
    ) -> None:
        super().__init__(objectives, seed, objective=objective)
        if not isinstance(limit, int | float):
            raise PrunerConfigError(f"pruner above: option 'limit' must be a number, got {limit}")
        self.limit = float(limit)

    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        others = {t.number: t.intermediate_values for t in self.others(trial, history)}
        SEEN.append((trial, [t.number for t in history], others))
        curve = self.curve(trial)
        last = curve[max(curve)]
        return f"last value {last} > {self.limit}" if last > self.limit else None


@pytest.fixture(autouse=True)
def above() -> Iterator[None]:
    register_pruner("test_above")(AboveLimit)
    SEEN.clear()
    yield
    PRUNERS.unregister("test_above")


def _study(url: str, name: str = "s", **kw: Any) -> nas.Study:
    return nas.create_study(name, SPACE, {"y": "minimize"}, storage=url, **kw)


def _curve_objective(steps: int = 5) -> Any:
    def objective(trial: Trial) -> float:
        for step in range(steps):
            trial.report(step, trial.params["x"] + 0.1 * step)
            if trial.should_prune():
                raise nas.TrialPruned()
        return float(trial.params["x"])

    return objective


def test_a_pruned_trial_keeps_its_last_values_and_the_pruners_reason(tmp_path: Path) -> None:
    study = _study(f"sqlite:///{tmp_path}/s.db", pruner={"name": "test_above", "options": {}})
    study.enqueue({"x": 0.5})  # stays under 1 for 5 steps: 0.5 .. 0.9
    study.enqueue({"x": 0.75})  # crosses 1 at step 3 (1.05)
    study.optimize(_curve_objective(), n_trials=2)
    done, pruned = study.trials
    assert done.state is TrialState.COMPLETE and done.values == {"y": 0.5}
    assert pruned.state is TrialState.PRUNED
    assert pruned.values == {"y": pytest.approx(1.05)}  # the value at the step it stopped
    assert sorted(pruned.intermediate_values["y"]) == [0, 1, 2, 3]
    assert pruned.failure_reason == "last value 1.05 > 1.0"


def test_the_objectives_own_message_wins_over_the_pruners_reason(tmp_path: Path) -> None:
    study = _study(f"sqlite:///{tmp_path}/s.db", pruner="test_above")
    study.enqueue({"x": 3.0})

    def objective(trial: Trial) -> float:
        trial.report(0, 3.0)
        assert trial.should_prune() and trial.prune_reason == "last value 3.0 > 1.0"
        raise nas.TrialPruned("diverged")

    study.optimize(objective, n_trials=1)
    assert study.trials[0].failure_reason == "diverged"


def test_no_pruner_and_no_report_never_prune(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    plain = _study(url, "plain")
    seen: list[bool] = []

    def objective(trial: Trial) -> float:
        seen.append(trial.should_prune())  # before any report
        trial.report(0, 100.0)
        seen.append(trial.should_prune())
        return 0.0

    plain.optimize(objective, n_trials=1)
    pruning = _study(url, "pruning", pruner="test_above")
    pruning.optimize(lambda t: seen.append(t.should_prune()) or 0.0, n_trials=1)
    assert seen == [False, False, False] and SEEN == []


def test_the_pruner_is_stored_with_the_study_and_part_of_its_definition(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    spec = {"name": "test_above", "options": {"limit": 2.5}}
    _study(url, pruner=spec)
    loaded = nas.load_study("s", url)
    assert loaded.pruner_spec == spec and loaded.user_attrs[PRUNER_ATTR] == spec
    assert isinstance(loaded.pruner, AboveLimit) and loaded.pruner.limit == 2.5
    # Same pruner (a name is {name, options: {}}): reopened; another one, or none: refused.
    assert _study(url, pruner=spec, load_if_exists=True).pruner_spec == spec
    for other in (None, "test_above", {"name": "test_above", "options": {"limit": 3}}):
        with pytest.raises(IncompatibleStudyError, match="pruner differs"):
            _study(url, pruner=other, load_if_exists=True)
    _study(url, "by-name", pruner="test_above")
    assert _study(url, "by-name", pruner={"name": "test_above"}, load_if_exists=True)


@pytest.mark.parametrize(
    ("pruner", "message"),
    [
        ("nope", r"unknown pruner 'nope'; valid: median, percentile"),
        ({"name": "test_above", "options": {"limt": 1}}, r"unknown option\(s\) \['limt'\]"),
        ({"name": "test_above", "options": {"limit": "high"}}, "option 'limit' must be a number"),
        ({"name": "test_above", "option": {}}, r"unknown key\(s\) \['option'\]"),
        (3, "must be a pruner name or"),
    ],
)
def test_a_bad_pruner_is_refused_before_anything_is_written(
    tmp_path: Path, pruner: Any, message: str
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(PrunerConfigError, match=message):
        _study(url, pruner=pruner)
    assert RDBStorage(url).list_studies() == []


def test_a_single_objective_pruner_needs_its_objective_in_a_multi_objective_study(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    objectives = {"y": "minimize", "z": "maximize"}
    with pytest.raises(PrunerConfigError, match="option 'objective'"):
        nas.create_study("mo", SPACE, objectives, storage=url, pruner="test_above")
    study = nas.create_study(
        "mo", SPACE, objectives, storage=url,
        pruner={"name": "test_above", "options": {"objective": "z", "limit": 0.0}},
    )  # fmt: skip
    study.enqueue({"x": 0.5})

    def objective(trial: Trial) -> dict[str, float]:
        trial.report(0, {"y": 9.0, "z": 0.5})  # z is maximised: judged as -0.5, kept
        assert not trial.should_prune()
        trial.report(1, {"y": 0.1})
        trial.report(2, {"z": 2.0})
        assert not trial.should_prune()
        trial.report(3, {"z": -0.5})  # judged as 0.5 > 0: prune
        if trial.should_prune():
            raise nas.TrialPruned()
        return {"y": 0.0, "z": 0.0}

    study.optimize(objective, n_trials=1)
    pruned = study.trials[0]
    # Each objective keeps the value of the last step it was reported at.
    assert pruned.state is TrialState.PRUNED and pruned.values == {"y": 0.1, "z": -0.5}


def test_decisions_read_the_values_other_workers_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    _study(url, pruner="test_above")
    a, b = nas.load_study("s", url), nas.load_study("s", url)  # two workers
    first = a.ask()
    assert first is not None
    first.report(0, 0.25)
    second = b.ask()
    assert second is not None
    second.report(0, 0.5)
    assert not second.should_prune()
    judged, numbers, others = SEEN[-1]
    assert judged.number == second.number and numbers == [0, 1]
    assert others == {first.number: {"y": {0: 0.25}}}  # a RUNNING trial of the other worker


def test_a_rerun_is_judged_at_the_step_it_reported_last(tmp_path: Path) -> None:
    # A trial re-run after its worker died still holds the earlier run's values (steps 0..4);
    # the pruner sees what this run reported, up to its last step, not the stale tail.
    url = f"sqlite:///{tmp_path}/s.db"
    study = _study(url, pruner="test_above")
    first = study.ask()
    assert first is not None
    for step in range(5):
        first.report(step, 0.5 + step)
    study.storage.requeue_trial(first.trial_id, first.worker_id)
    study._asked.clear()
    again = study.ask()
    assert again is not None and again.number == first.number
    assert sorted(again.intermediate_values["y"]) == [0, 1, 2, 3, 4]
    again.report(0, 0.25)
    assert not again.should_prune()  # judged on 0.25 at step 0, not on 4.5 at step 4
    assert SEEN[-1][0].intermediate_values == {"y": {0: 0.25}}
    assert again.last_values() == {"y": 0.25}


def test_the_study_files_pruner_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "obj.py").write_text(
        "import nas\n"
        "def f(trial):\n"
        "    for step in range(4):\n"
        "        trial.report(step, trial.params['x'] + step)\n"
        "        if trial.should_prune():\n"
        "            raise nas.TrialPruned()\n"
        "    return trial.params['x']\n"
    )
    base = (
        "name: filed\nspace: {params: {x: {type: float, low: 0, high: 4}}}\n"
        "objective: obj:f\nobjectives: {y: minimize}\nn_trials: 6\nstorage: sqlite:///f.db\n"
    )
    (tmp_path / "ok.yaml").write_text(base + "pruner: {name: test_above, options: {limit: 3}}\n")
    code, _, err = run_cli("run", "ok.yaml", "-q")
    assert code == 0, err
    study = nas.load_study("filed", "sqlite:///f.db")
    assert study.pruner_spec == {"name": "test_above", "options": {"limit": 3}}
    states = {t.state for t in study.trials}
    assert TrialState.PRUNED in states  # x + 3 > 3 for every x > 0
    for bad, message in [
        ("pruner: {name: nope}", "bad.yaml: pruner: unknown pruner 'nope'"),
        ("pruner: {name: test_above, options: {limit: [1]}}", "bad.yaml: pruner: pruner"),
        ("pruner: [median]", "bad.yaml: pruner: must be a pruner name or"),
    ]:
        (tmp_path / "bad.yaml").write_text(base.replace("f.db", "bad.db") + bad + "\n")
        code, _, err = run_cli("run", "bad.yaml", "-q")
        assert code == 2 and err.startswith(f"error: {message}"), err
        assert err.count("\n") == 1
        assert (
            not (tmp_path / "bad.db").exists()
            or RDBStorage("sqlite:///bad.db").list_studies() == []
        )
