"""Constraints of a study: definition, validation, stored violations, best trial and front."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import nas
from nas.exceptions import IncompatibleStudyError, StudyConfigError
from nas.storage import RDBStorage
from nas.study import Constraints, load_study_config
from nas.study._config import study_config_from_dict

SPACE = {
    "params": {
        "x": {"type": "float", "low": -2.0, "high": 2.0},
        "y": {"type": "float", "low": -2.0, "high": 2.0},
    }
}
BOUNDS = {"g": {"max": 0.0}, "h": {"min": -1.0, "max": 1.0}}


def objective(trial: nas.Trial) -> dict[str, float]:
    """f to minimize; metric g = x + y (feasible iff <= 0); metric h = x, NaN for x > 1.5."""
    x, y = trial.params["x"], trial.params["y"]
    return {"f": (x - 1.0) ** 2 + y**2, "g": x + y, "h": math.nan if x > 1.5 else x}


def module_constraints(result: Mapping[str, float]) -> Sequence[float]:
    """A callable constraint importable by path (x + y <= 0)."""
    return [result["g"]]


def _expected(params: Mapping[str, float]) -> tuple[float, float]:
    """The signed constraint values of BOUNDS."""
    x, y = params["x"], params["y"]
    h = math.inf if x > 1.5 else max(x - 1.0, -1.0 - x)
    return x + y, h


def test_violations_metrics_and_reason_are_stored_per_trial(sqlite_url: str) -> None:
    study = nas.create_study(
        "c", SPACE, {"f": "minimize"}, storage=sqlite_url, seed=3, constraints=BOUNDS
    )
    study.optimize(objective, n_trials=40)
    trials = nas.load_study("c", storage=sqlite_url).trials  # read back from the database
    assert all(t.state == nas.TrialState.COMPLETE for t in trials)
    for t in trials:
        g, h = _expected(t.params)
        assert t.constraint_values == pytest.approx((g, h))
        assert t.constraint_violations == pytest.approx((max(0.0, g), max(0.0, h)))
        assert t.feasible is (g <= 0.0 and h <= 0.0)
        assert set(t.metrics) == {"g", "h"} and t.metrics["g"] == pytest.approx(
            t.params["x"] + t.params["y"]
        )
        if t.params["x"] > 1.5:
            assert math.isnan(t.metrics["h"])
            assert t.infeasible_reason is not None and "'h'" in t.infeasible_reason
        else:
            assert t.infeasible_reason is None
    assert {t.feasible for t in trials} == {True, False}


def test_best_trial_and_front_use_feasible_trials_only(sqlite_url: str) -> None:
    study = nas.create_study(
        "b", SPACE, {"f": "minimize"}, storage=sqlite_url, seed=0, constraints=BOUNDS
    )
    study.optimize(objective, n_trials=40)
    feasible = [t for t in study.trials if t.feasible]
    best_overall = min(study.trials, key=lambda t: t.values["f"])
    assert not best_overall.feasible  # the unconstrained optimum (1, 0) is infeasible
    assert study.best_trial == min(feasible, key=lambda t: (t.values["f"], t.number))
    assert study.feasible_trials() == feasible

    mo = nas.create_study(
        "mo",
        SPACE,
        {"f": "minimize", "g": "maximize"},
        storage=sqlite_url,
        constraints={"g": {"max": 0.0}},
    )
    mo.optimize(lambda t: {"f": objective(t)["f"], "g": objective(t)["g"]}, n_trials=40)
    front = mo.pareto_front()
    assert front and all(t.feasible for t in front)
    from nas.pareto import pareto_mask

    feasible = [t for t in mo.trials if t.feasible]
    points = [t.value_vector(mo.objectives) for t in feasible]
    expected = [t for t, keep in zip(feasible, pareto_mask(points), strict=True) if keep]
    assert front == expected
    assert mo.hypervolume() > 0


def test_no_feasible_trial_is_said_clearly(sqlite_url: str) -> None:
    study = nas.create_study(
        "none", SPACE, {"f": "minimize"}, storage=sqlite_url, constraints={"f": {"max": -1.0}}
    )
    study.optimize(objective, n_trials=5)
    with pytest.raises(ValueError, match="no feasible trial yet: all 5 COMPLETE trials violate"):
        _ = study.best_trial
    with pytest.raises(ValueError, match="no feasible trial"):
        study.hypervolume()
    assert study.pareto_front() == []
    assert study.feasible_trials() == []


def test_unconstrained_study_is_unchanged(sqlite_url: str) -> None:
    study = nas.create_study("u", SPACE, {"f": "minimize"}, storage=sqlite_url)
    study.optimize(objective, n_trials=5)  # extra keys are stored as metrics, nothing else
    assert study.constraints is None
    assert all(t.feasible is None and t.constraint_violations == () for t in study.trials)
    assert all(set(t.metrics) == {"g", "h"} for t in study.trials)
    assert study.best_trial.values["f"] == min(t.values["f"] for t in study.trials)


def test_callable_constraints_like_optuna_constraints_func(sqlite_url: str) -> None:
    study = nas.create_study(
        "fn", SPACE, {"f": "minimize"}, storage=sqlite_url, constraints=module_constraints
    )
    assert study.constraints is not None and study.constraints.to_json() == {
        "callable": f"{__name__}:module_constraints"
    }
    study.optimize(objective, n_trials=10)
    for t in study.trials:
        assert t.constraint_values == (pytest.approx(t.metrics["g"]),)
        assert t.constraint_violations == (pytest.approx(max(0.0, t.metrics["g"])),)
    # Another process opening it by name imports the callable from its stored path.
    reopened = nas.load_study("fn", storage=sqlite_url)
    reopened.optimize(objective, n_trials=12)
    assert len(reopened.trials[11].constraint_violations) == 1


def test_unimportable_callable_must_be_given_again(sqlite_url: str) -> None:
    def local(result: Mapping[str, float]) -> list[float]:
        return [result["g"] - 0.5]

    study = nas.create_study(
        "lam", SPACE, {"f": "minimize"}, storage=sqlite_url, constraints=local
    )
    study.optimize(objective, n_trials=3)
    reopened = nas.load_study("lam", storage=sqlite_url)
    with pytest.raises(StudyConfigError, match="cannot be imported here; give it with"):
        reopened.optimize(objective, n_trials=4)
    assert len(reopened.trials) == 3  # refused before any trial
    again = nas.create_study(
        "lam",
        SPACE,
        {"f": "minimize"},
        storage=sqlite_url,
        constraints=local,
        load_if_exists=True,
    )
    again.optimize(objective, n_trials=4)
    assert again.trials[3].constraint_values[0] == pytest.approx(
        again.trials[3].metrics["g"] - 0.5
    )


def test_a_raising_or_bad_callable_fails_the_trial(sqlite_url: str) -> None:
    def bad(result: Mapping[str, float]) -> Any:
        return "no" if result["g"] > 0 else [math.nan]

    study = nas.create_study("bad", SPACE, {"f": "minimize"}, storage=sqlite_url, constraints=bad)
    study.optimize(objective, n_trials=10)
    for t in study.trials:
        if t.params["x"] + t.params["y"] > 0:
            assert t.state == nas.TrialState.FAILED
            assert "evaluating the constraints failed" in (t.failure_reason or "")
        else:  # NaN: infeasible with the reason, not failed
            assert t.constraint_values == (math.inf,) and t.feasible is False
            assert t.infeasible_reason is not None and "NaN" in t.infeasible_reason


def test_reopening_with_other_constraints_is_refused(sqlite_url: str) -> None:
    nas.create_study("r", SPACE, {"f": "minimize"}, storage=sqlite_url, constraints=BOUNDS)
    same = nas.create_study(
        "r",
        SPACE,
        {"f": "minimize"},
        storage=sqlite_url,
        constraints={"g": {"max": 0}, "h": {"max": 1.0, "min": -1}},
        load_if_exists=True,
    )
    assert same.constraints == Constraints.from_json(
        {"bounds": [{"metric": "g", "max": 0.0}, {"metric": "h", "min": -1.0, "max": 1.0}]}
    )
    for other in ({"g": {"max": 0.1}, "h": {"min": -1.0, "max": 1.0}}, None, module_constraints):
        with pytest.raises(IncompatibleStudyError, match="constraints differ"):
            nas.create_study(
                "r",
                SPACE,
                {"f": "minimize"},
                storage=sqlite_url,
                constraints=other,
                load_if_exists=True,
            )


@pytest.mark.parametrize(
    ("constraints", "message"),
    [
        (
            {"lat": {"maxx": 1}},
            "constraints.lat: unknown key 'maxx'; use {max: x} and/or {min: y}",
        ),
        ({"lat": 3}, "constraints.lat: must be a mapping {max: x} and/or {min: y}, got 3"),
        ({"lat": {}}, "constraints.lat: give {max: x} and/or {min: y}"),
        ({"lat": {"max": "2"}}, "constraints.lat.max: must be a finite number, got '2'"),
        ({"lat": {"max": math.inf}}, "constraints.lat.max: must be a finite number"),
        ({"lat": {"max": True}}, "constraints.lat.max: must be a finite number"),
        ({"lat": {"min": 2, "max": 1}}, "constraints.lat: min must be <= max"),
        ([1, 2], "constraints: must be a mapping metric"),
    ],
)
def test_bad_constraints_are_refused_before_writing(
    sqlite_url: str, constraints: Any, message: str
) -> None:
    with pytest.raises(StudyConfigError) as info:
        nas.create_study(
            "v", SPACE, {"f": "minimize"}, storage=sqlite_url, constraints=constraints
        )
    assert message in str(info.value) and "\n" not in str(info.value)
    assert RDBStorage(sqlite_url).list_studies() == []


def test_study_file_constraints(tmp_path: Path) -> None:
    base = {
        "name": "sf",
        "space": SPACE,
        "objective": f"{__name__}:objective",
        "objectives": {"f": "minimize"},
    }
    cfg = study_config_from_dict({**base, "constraints": BOUNDS}, source="s.yaml")
    assert cfg.constraints is not None and cfg.constraints.labels == [
        "g <= 0",
        "-1 <= h <= 1",
    ]
    fn = study_config_from_dict(
        {**base, "constraints": f"{__name__}:module_constraints"}, source="s.yaml"
    )
    assert fn.constraints is not None and fn.constraints.is_callable
    assert study_config_from_dict(base).constraints is None
    with pytest.raises(StudyConfigError, match=r"^s.yaml: constraints.g: unknown key 'below'"):
        study_config_from_dict({**base, "constraints": {"g": {"below": 1}}}, source="s.yaml")
    with pytest.raises(StudyConfigError, match=r"^s.yaml: constraints: must be a mapping"):
        study_config_from_dict({**base, "constraints": "nonsense"}, source="s.yaml")
    with pytest.raises(StudyConfigError, match=r"^s.yaml: constraints: .*has no attribute"):
        study_config_from_dict({**base, "constraints": f"{__name__}:nope"}, source="s.yaml")
    path = tmp_path / "study.yaml"
    path.write_text(
        f"name: sf\nspace: {{params: {{x: {{type: float, low: 0.0, high: 1.0}}}}}}\n"
        f"objective: {__name__}:objective\nobjectives: {{f: minimize}}\n"
        "constraints: {latency_ms: {max: 2.5}, avg_wbits: {max: 4}}\n"
    )
    assert load_study_config(path).constraints == Constraints.from_json(
        {"bounds": [{"metric": "latency_ms", "max": 2.5}, {"metric": "avg_wbits", "max": 4}]}
    )
