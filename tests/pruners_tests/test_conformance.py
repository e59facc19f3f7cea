"""The contract of :mod:`nas.pruners._base`, checked on every registered pruner.

Each pruner gets options under which it prunes some of the random scenarios and keeps others
(checked: a suite that never sees a decision either way proves nothing), the same table gives
bad options, and every test runs on all of them without pruner-specific branches.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Any

import numpy as np
import pytest

from nas._types import FrozenTrial, Objective, TrialState
from nas.exceptions import PrunerConfigError
from nas.pruners import PRUNERS, Pruner, create_pruner, pruner_names

#: name -> options for the scenarios; ``mirrored``: the options that mean the same once every
#: value is negated and every direction flipped (default: the same options); ``objectives``:
#: how many the study has; ``reads_history``: whether other trials change its decisions.
CASES: dict[str, dict[str, Any]] = {
    "median": {"options": {"n_startup_trials": 2}},
    "percentile": {"options": {"percentile": 30.0, "n_startup_trials": 2}},
    "successive_halving": {"options": {"reduction_factor": 3}},
    "hyperband": {"options": {"max_resource": 9}},
    "wilcoxon": {"options": {"p_threshold": 0.3}},
    "patient": {
        "options": {
            "patience": 1,
            "wrapped": {"name": "median", "options": {"n_startup_trials": 1}},
        }
    },
    "threshold": {
        "options": {"lower": -0.2, "upper": 1.3},
        "mirrored": {"lower": -1.3, "upper": 0.2},
        "reads_history": False,
    },
    "curve": {"options": {"max_step": 30, "probability": 0.2}},
    "pareto": {"options": {"n_startup_trials": 2}, "objectives": 2},
}

#: name -> [(options, the option an error must name)], on top of the case's own options.
BAD_OPTIONS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "median": [
        ({"n_startup_trials": -1}, "n_startup_trials"),
        ({"n_warmup_steps": 1.5}, "n_warmup_steps"),
        ({"interval_steps": 0}, "interval_steps"),
        ({"n_min_trials": 0}, "n_min_trials"),
        ({"objective": "nope"}, "objective"),
    ],
    "percentile": [
        ({"percentile": 100.5}, "percentile"),
        ({"percentile": "50"}, "percentile"),
        ({"n_startup_trials": True}, "n_startup_trials"),
    ],
    "successive_halving": [
        ({"min_resource": "auto"}, "min_resource"),
        ({"min_resource": 0}, "min_resource"),
        ({"reduction_factor": 1}, "reduction_factor"),
        ({"min_early_stopping_rate": -1}, "min_early_stopping_rate"),
        ({"bootstrap_count": -1}, "bootstrap_count"),
    ],
    "hyperband": [
        ({"max_resource": "auto"}, "max_resource"),
        ({"min_resource": 10}, "max_resource"),
        ({"reduction_factor": 1}, "reduction_factor"),
        ({"bootstrap_count": -2}, "bootstrap_count"),
    ],
    "wilcoxon": [
        ({"p_threshold": 1.5}, "p_threshold"),
        ({"p_threshold": None}, "p_threshold"),
        ({"n_startup_steps": -1}, "n_startup_steps"),
    ],
    "patient": [
        ({"patience": -1}, "patience"),
        ({"min_delta": -0.1}, "min_delta"),
        ({"wrapped": {"name": "nope"}}, "wrapped"),
        ({"wrapped": {"name": "median", "options": {"n_min_trials": 0}}}, "wrapped"),
        ({"wrapped": 3}, "wrapped"),
    ],
    "threshold": [
        ({"lower": 2.0, "upper": 1.0}, "lower"),
        ({"lower": "low"}, "lower"),
        ({"n_warmup_steps": -1}, "n_warmup_steps"),
    ],
    "curve": [
        ({"max_step": 0}, "max_step"),
        ({"min_steps": 2}, "min_steps"),
        ({"probability": 0.0}, "probability"),
        ({"probability": 1.0}, "probability"),
        ({"n_startup_trials": 0}, "n_startup_trials"),
        ({"families": ["pow3", "nope"]}, "families"),
        ({"families": "pow3"}, "families"),
        ({"families": []}, "families"),
        ({"families": ["pow3", "pow3"]}, "families"),
        ({"interval_steps": 0}, "interval_steps"),
    ],
    "pareto": [
        ({"rank": 0}, "rank"),
        ({"percentile": 0.0}, "percentile"),
        ({"percentile": 101}, "percentile"),
        ({"percentile": 50, "rank": 2}, "percentile"),
        ({"margin": -0.1}, "margin"),
        ({"n_startup_trials": -1}, "n_startup_trials"),
        ({"objective": "loss"}, "objective"),
    ],
}

NAMES = pruner_names()
SINGLE = [n for n in NAMES if not PRUNERS.get(n).multi_objective]
N_SCENARIOS = 30
_STATES = [TrialState.COMPLETE] * 5 + [TrialState.PRUNED, TrialState.FAILED, TrialState.RUNNING]


def test_every_registered_pruner_has_a_case() -> None:
    assert set(CASES) == set(NAMES) == set(BAD_OPTIONS)


def _objectives(name: str, directions: tuple[str, ...] = ()) -> tuple[Objective, ...]:
    names = ["loss", "cost"][: CASES[name].get("objectives", 1)]
    directions = directions or ("minimize",) * len(names)
    return tuple(Objective(n, d) for n, d in zip(names, directions, strict=True))  # type: ignore[arg-type]


def _curve(rng: np.random.Generator, length: int) -> dict[int, float]:
    level, drop, tau = rng.uniform(0, 1), rng.uniform(0.1, 1.5), rng.uniform(1, 6)
    steps = np.arange(length)
    values = level + drop * np.exp(-steps / tau) + rng.normal(0, 0.05, length)
    return {int(s): float(v) for s, v in zip(steps, values, strict=True)}


def _scenario(seed: int, names: list[str]) -> tuple[FrozenTrial, list[FrozenTrial]]:
    """A RUNNING trial (number 10) and a history of 10 trials in mixed states, with curves of
    every objective in ``names``; the history holds an older snapshot of the trial."""
    rng = np.random.default_rng(seed)
    history = []
    for number in range(10):
        state = _STATES[int(rng.integers(len(_STATES)))]
        length = 12 if state == TrialState.COMPLETE else int(rng.integers(1, 13))
        iv = {n: _curve(rng, length) for n in names}
        values = {n: c[length - 1] for n, c in iv.items()} if state == TrialState.COMPLETE else {}
        history.append(FrozenTrial(number, number, state, {}, None, values, iv))
    length = int(rng.integers(1, 13))
    iv = {n: _curve(rng, length) for n in names}
    trial = FrozenTrial(10, 10, TrialState.RUNNING, {}, None, {}, iv)
    older = {n: {s: v for s, v in c.items() if s < length - 1} for n, c in iv.items()}
    history.append(dataclasses.replace(trial, intermediate_values=older))
    return trial, history


def _pruner(name: str, objectives: tuple[Objective, ...] | None = None, **extra: Any) -> Pruner:
    options = {**CASES[name]["options"], **extra}
    return create_pruner(name, objectives or _objectives(name), 5, options)


def _names(name: str) -> list[str]:
    return [o.name for o in _objectives(name)]


def _decisions(pruner: Pruner, scenarios: list[tuple[FrozenTrial, list[FrozenTrial]]]) -> list:
    return [pruner.prune(trial, history) for trial, history in scenarios]


@pytest.fixture(scope="module")
def baseline() -> dict[str, tuple[list, list[str | None]]]:
    """name -> (its scenarios, its decisions there), computed once."""
    out = {}
    for name in NAMES:
        scenarios = [_scenario(seed, _names(name)) for seed in range(N_SCENARIOS)]
        out[name] = (scenarios, _decisions(_pruner(name), scenarios))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_the_scenarios_see_both_decisions(baseline, name) -> None:
    _, decisions = baseline[name]
    assert any(d is None for d in decisions) and any(d is not None for d in decisions)


@pytest.mark.parametrize("name", NAMES)
def test_a_reason_is_one_nonempty_line(baseline, name) -> None:
    for d in baseline[name][1]:
        assert d is None or (isinstance(d, str) and d.strip() and "\n" not in d)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_same_instance_and_fresh_instance(baseline, name) -> None:
    scenarios, decisions = baseline[name]
    pruner = _pruner(name)
    assert _decisions(pruner, scenarios) == decisions
    assert _decisions(pruner, scenarios) == decisions
    assert _decisions(_pruner(name), list(reversed(scenarios))) == decisions[::-1]


@pytest.mark.parametrize("name", NAMES)
def test_a_pruner_that_reads_no_history_decides_the_same_without_it(baseline, name) -> None:
    # Trial.should_prune skips reading the study's trials for such a pruner.
    scenarios, decisions = baseline[name]
    pruner = _pruner(name)
    without = [pruner.prune(trial, []) for trial, _ in scenarios]
    if pruner.reads_history:
        assert name not in ("threshold",), "threshold judges the trial alone"
    else:
        assert without == decisions


def test_patient_reads_history_only_through_its_wrapped_pruner() -> None:
    objectives = (Objective("loss", "minimize"),)
    alone = create_pruner("patient", objectives, 0, {"patience": 2})
    around = create_pruner(
        "patient", objectives, 0, {"patience": 2, "wrapped": {"name": "median"}}
    )
    assert not alone.reads_history and around.reads_history


@pytest.mark.parametrize("name", NAMES)
def test_a_trial_that_reported_nothing_is_never_pruned(baseline, name) -> None:
    pruner = _pruner(name)
    for trial, history in baseline[name][0]:
        for iv in ({}, {n: {} for n in _names(name)}):
            empty = dataclasses.replace(trial, intermediate_values=iv)
            assert pruner.prune(empty, history) is None
            assert pruner.prune(empty, [*history, empty]) is None


@pytest.mark.parametrize("name", NAMES)
def test_the_trials_own_snapshots_in_history_are_ignored(baseline, name) -> None:
    scenarios, decisions = baseline[name]
    pruner = _pruner(name)
    changed_under_another_number = 0
    for (trial, history), decision in zip(scenarios, decisions, strict=True):
        without = [t for t in history if t.number != trial.number]
        assert pruner.prune(trial, without) == decision
        # Even a snapshot claiming to be finished, and far better (every value 10 lower, all
        # objectives minimised here), is ignored...
        better = {
            n: {s: v - 10 for s, v in c.items()} for n, c in trial.intermediate_values.items()
        }
        done = dataclasses.replace(
            trial,
            state=TrialState.COMPLETE,
            intermediate_values=better,
            values={n: c[max(c)] for n, c in better.items()},
        )
        assert pruner.prune(trial, [*without, done]) == decision
        # ... while the same trial under another number is a competitor like any other.
        stranger = dataclasses.replace(done, number=99, trial_id=99)
        changed_under_another_number += pruner.prune(trial, [*without, stranger]) != decision
    assert changed_under_another_number > 0 or not CASES[name].get("reads_history", True)


def _flipped(trial: FrozenTrial) -> FrozenTrial:
    return dataclasses.replace(
        trial,
        values={k: -v for k, v in trial.values.items()},
        intermediate_values={
            k: {s: -v for s, v in c.items()} for k, c in trial.intermediate_values.items()
        },
    )


@pytest.mark.parametrize("name", NAMES)
def test_maximize_is_minimize_with_the_signs_flipped(baseline, name) -> None:
    scenarios, decisions = baseline[name]
    objectives = _objectives(name, ("maximize",) * len(_names(name)))
    mirrored = CASES[name].get("mirrored", CASES[name]["options"])
    pruner = create_pruner(name, objectives, 5, mirrored)
    flipped = [(_flipped(t), [_flipped(h) for h in hist]) for t, hist in scenarios]
    assert [d is None for d in _decisions(pruner, flipped)] == [d is None for d in decisions]


@pytest.mark.parametrize("name", NAMES)
def test_bad_options_raise_naming_the_option(name) -> None:
    for bad, option in BAD_OPTIONS[name]:
        options = {**CASES[name]["options"], **bad}
        with pytest.raises(PrunerConfigError, match=f"'{option}'"):
            create_pruner(name, _objectives(name), 0, options)


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_is_refused_with_the_accepted_ones_listed(name) -> None:
    accepted = [
        p.name
        for p in inspect.signature(PRUNERS.get(name).__init__).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    with pytest.raises(PrunerConfigError, match="bogus") as info:
        create_pruner(name, _objectives(name), 0, {**CASES[name]["options"], "bogus": 1})
    assert all(a in str(info.value) for a in accepted)


@pytest.mark.parametrize("name", NAMES)
def test_spec_round_trips_through_create_pruner(baseline, name) -> None:
    scenarios, decisions = baseline[name]
    pruner = _pruner(name)
    assert pruner.registered_name == name
    spec = json.loads(json.dumps(pruner.spec))
    assert spec == {"name": name, "options": CASES[name]["options"]}
    again = create_pruner(spec["name"], _objectives(name), 5, spec["options"])
    assert type(again) is type(pruner) and again.spec == pruner.spec
    assert _decisions(again, scenarios) == decisions


@pytest.mark.parametrize("name", SINGLE)
def test_single_objective_pruners_need_objective_in_a_two_objective_study(name) -> None:
    two = (Objective("loss", "minimize"), Objective("aux", "maximize"))
    with pytest.raises(PrunerConfigError, match="'objective'"):
        create_pruner(name, two, 0, CASES[name]["options"])


@pytest.mark.parametrize("name", SINGLE)
def test_objective_selects_the_judged_one(name) -> None:
    # The study's first objective is another one, with its own curves: the decisions are
    # those of a study of "loss" alone.
    two = (Objective("aux", "minimize"), Objective("loss", "minimize"))
    pruner = _pruner(name, two, objective="loss")
    assert pruner.objective.name == "loss"
    scenarios = [_scenario(seed, ["aux", "loss"]) for seed in range(N_SCENARIOS)]
    alone = [
        (_only(trial, "loss"), [_only(t, "loss") for t in history]) for trial, history in scenarios
    ]
    assert [d is None for d in _decisions(pruner, scenarios)] == [
        d is None for d in _decisions(_pruner(name), alone)
    ]


def _only(trial: FrozenTrial, name: str) -> FrozenTrial:
    return dataclasses.replace(
        trial,
        values={k: v for k, v in trial.values.items() if k == name},
        intermediate_values={k: c for k, c in trial.intermediate_values.items() if k == name},
    )


def test_multi_objective_pruners_judge_every_objective_and_refuse_objective() -> None:
    multi = [n for n in NAMES if PRUNERS.get(n).multi_objective]
    assert multi == ["pareto"]
    for name in multi:
        with pytest.raises(PrunerConfigError, match="'objective'"):
            create_pruner(name, _objectives(name), 0, {"objective": "loss"})
