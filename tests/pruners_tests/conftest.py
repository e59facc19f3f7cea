"""Builders shared by the pruner tests (factories as fixtures: test modules do not import each
other under ``--import-mode=importlib``).

* ``make_trial(number, curve, ...)``: a :class:`nas.FrozenTrial` from a curve (a list: steps
  0, 1, ...; or a ``{step: value}`` mapping), COMPLETE by default with its last value as final
  value.
* ``optuna_parity(optuna_pruner, ours, curves, direction)``: runs an in-memory Optuna study
  trial after trial, reporting ``curves[i]`` step by step and asking Optuna's pruner at every
  step; at the same points asks ``ours`` with the same history converted to ``nas`` trials;
  returns ``(step, trial number, Optuna's decision, ours)`` for every check.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from nas._types import FrozenTrial, TrialState
from nas.pruners import Pruner

Curve = Sequence[float] | Mapping[int, float]


def _steps(curve: Curve) -> dict[int, float]:
    if isinstance(curve, Mapping):
        return {int(s): float(v) for s, v in curve.items()}
    return {i: float(v) for i, v in enumerate(curve)}


def build_trial(
    number: int,
    curve: Curve | None = None,
    state: TrialState | str = TrialState.COMPLETE,
    value: float | None = None,
    *,
    name: str = "loss",
    curves: Mapping[str, Curve] | None = None,
    values: Mapping[str, float] | None = None,
) -> FrozenTrial:
    state = TrialState(state)
    iv = {k: _steps(c) for k, c in (curves or {}).items()}
    if curve is not None:
        iv[name] = _steps(curve)
    final: dict[str, float] = dict(values or {})
    if state == TrialState.COMPLETE and not final:
        if value is not None:
            final[name] = float(value)
        else:
            final = {k: c[max(c)] for k, c in iv.items() if c}
    return FrozenTrial(
        trial_id=number,
        number=number,
        state=state,
        params={},
        values=final,
        intermediate_values=iv,
    )


@pytest.fixture
def make_trial() -> Callable[..., FrozenTrial]:
    return build_trial


def _from_optuna(t: Any, name: str) -> FrozenTrial:
    state = TrialState(t.state.name)
    return FrozenTrial(
        trial_id=t._trial_id,
        number=t.number,
        state=state,
        params={},
        values={name: float(t.value)} if state == TrialState.COMPLETE else {},
        intermediate_values={name: {int(s): float(v) for s, v in t.intermediate_values.items()}},
    )


def run_optuna_parity(
    optuna_pruner: Any,
    ours: Pruner,
    curves: Sequence[Curve],
    direction: str,
    final: Callable[[list[float]], float] | None = None,
) -> list[tuple[int, int, bool, bool]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    name = ours.objective.name
    study = optuna.create_study(direction=direction, pruner=optuna_pruner)
    records: list[tuple[int, int, bool, bool]] = []

    def objective(trial: Any) -> float:
        reported: list[float] = []
        for step, v in _steps(curves[trial.number]).items():
            trial.report(v, step)
            reported.append(v)
            theirs = trial.should_prune()
            trials = study.get_trials(deepcopy=False)
            me = next(t for t in trials if t.number == trial.number)
            history = [_from_optuna(t, name) for t in trials]
            mine = ours.prune(_from_optuna(me, name), history)
            records.append((trial.number, step, bool(theirs), mine is not None))
            if theirs:
                raise optuna.TrialPruned()
        return final(reported) if final else reported[-1]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=len(curves))
    return records


@pytest.fixture
def optuna_parity() -> Callable[..., list[tuple[int, int, bool, bool]]]:
    return run_optuna_parity
