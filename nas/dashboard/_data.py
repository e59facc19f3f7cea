"""JSON documents the dashboard serves, built from :class:`~nas.dashboard._view.StudyView`
snapshots (no database access here).

Numbers are JSON numbers; a value a trial does not have is ``null``. Times are ISO 8601 UTC.
Columnar documents (``columns``) keep one array per field, aligned by position, so 10,000 trials
cost one small allocation per field instead of one object per trial.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from nas._archtext import arch_text
from nas._attrs import ARCH_ATTR, FAMILY_ATTR, LEAF_ATTR, LEASE_PREFIX, NOTE_ATTR
from nas._types import FrozenTrial, Objective, TrialState
from nas.dashboard._view import StudyView, excluded_reason, is_nas_study
from nas.exceptions import NasError
from nas.pareto import pareto_mask
from nas.space import SearchSpace
from nas.space._params import CategoricalParam, FixedParam, FloatParam, IntParam
from nas.storage import ArtifactRecord, StudyRecord, StudySummary

__all__ = [
    "IMPORTANCE_MAX_AGE",
    "IMPORTANCE_MAX_TRIALS",
    "DataError",
    "columns",
    "history",
    "importance",
    "intermediate",
    "objective_json",
    "parallel",
    "pareto",
    "study_detail",
    "study_item",
    "trial_detail",
    "trial_row",
]

#: Learning curves sent at most (the latest trials' ones).
MAX_CURVES = 2000


class DataError(NasError, ValueError):
    """A request that names something the study does not have (an objective, a parameter)."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _num(value: Any) -> Any:
    """JSON-safe scalar: non-finite floats become ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def objective_json(o: Objective) -> dict[str, str]:
    """``{"name": ..., "direction": ...}`` of an objective, as every document shows it."""
    return {"name": o.name, "direction": o.direction}


def _curve(curve: dict[int, float]) -> dict[str, list[Any]]:
    """``{"steps": [...], "values": [...]}`` of one intermediate-value curve, by step."""
    steps = sorted(curve)
    return {"steps": steps, "values": [_num(curve[s]) for s in steps]}


def _space(record: StudyRecord) -> SearchSpace | None:
    try:
        return SearchSpace.from_dict(record.space)
    except (NasError, ValueError, TypeError):
        return None


def param_names(record: StudyRecord) -> list[str]:
    """The study's parameter names in space order (fixed ones included)."""
    space = _space(record)
    return [] if space is None else list(space.names)


def objective_index(record: StudyRecord, name: str | None) -> int:
    """Index of objective ``name`` (the first one for ``None``).

    Raises:
        DataError: no such objective.
    """
    names = [o.name for o in record.objectives]
    if name is None:
        return 0
    if name not in names:
        raise DataError(f"study {record.name!r} has no objective {name!r}; it has {names}")
    return names.index(name)


# ---------------------------------------------------------------------------- studies


def best_summary(view: StudyView) -> dict[str, Any]:
    """``{"best": {...} | None, "pareto_size": int | None, "n_final": int}`` of the study (the
    front is the one :func:`pareto` serves for all objectives, computed once per change)."""
    record = view.record
    assert record is not None
    objectives = record.objectives
    if len(objectives) > 1:
        front = pareto(view, None)
        return {"best": None, "pareto_size": len(front["numbers"]), "n_final": front["n_final"]}

    def compute(record: StudyRecord, trials: list[FrozenTrial]) -> dict[str, Any]:
        final = [t for t in view.final_trials(trials) if t.feasible is not False]
        out: dict[str, Any] = {"best": None, "pareto_size": None, "n_final": len(final)}
        if final:
            o = objectives[0]
            best = min(final, key=lambda t: (o.sign * t.values[o.name], t.number))
            out["best"] = {"number": best.number, "value": _num(best.values[o.name])}
        return out

    return view.derived("best", compute)


def study_item(summary: StudySummary) -> dict[str, Any]:
    """One row of the studies list (the page asks ``/api/studies/{id}`` for best/Pareto)."""
    return {
        "id": summary.study_id,
        "name": summary.name,
        "objectives": [objective_json(o) for o in summary.objectives],
        "searcher": summary.searcher,
        "states": {s.value: n for s, n in summary.state_counts.items()},
        "n_trials": summary.n_trials,
        "created": _iso(summary.created_at),
        "last_update": _iso(summary.last_update),
    }


def study_detail(view: StudyView) -> dict[str, Any]:
    """Definition, counts and results of a study (``GET /api/studies/{id}``), computed once
    per change of the study."""
    detail = view.derived("detail", lambda record, trials: _study_detail(view, record, trials))
    return {**detail, "seq": view.derived_seq("detail")}


def _constraint_labels(record: StudyRecord) -> list[str] | None:
    """The study's constraints as labels (``latency_ms <= 2.5``; a callable: its import path),
    ``None`` when it has none."""
    if record.constraints is None:
        return None
    from nas.study._constraints import Constraints

    cons = Constraints.from_json(record.constraints)
    return cons.labels or [f"{cons.ref}(...) <= 0"]


def _study_detail(
    view: StudyView, record: StudyRecord, trials: list[FrozenTrial]
) -> dict[str, Any]:
    counts = {s.value: 0 for s in TrialState}
    budgets: set[float] = set()
    last = record.created_at
    for t in trials:
        counts[t.state.value] += 1
        if t.budget is not None:
            budgets.add(float(t.budget))
        if t.datetime_updated is not None and t.datetime_updated > last:
            last = t.datetime_updated
    attrs = {
        k: v
        for k, v in record.user_attrs.items()
        if not k.startswith(LEASE_PREFIX) and k != FAMILY_ATTR
    }
    return {
        "id": record.study_id,
        "name": record.name,
        "objectives": [objective_json(o) for o in record.objectives],
        "searcher": record.searcher,
        "seed": record.seed,
        "space": record.space,
        "params": param_names(record),
        "user_attrs": attrs,
        "note": record.user_attrs.get(NOTE_ATTR) or "",
        "is_nas": is_nas_study(record),
        "family": record.user_attrs.get(FAMILY_ATTR),
        "states": counts,
        "n_trials": len(trials),
        "n_excluded": sum(excluded_reason(t) is not None for t in trials),
        "constraints": _constraint_labels(record),
        "n_feasible": sum(t.feasible is True for t in trials),
        "budgets": sorted(budgets),
        "created": _iso(record.created_at),
        "last_update": _iso(last),
        **best_summary(view),
    }


# ---------------------------------------------------------------------------- trials


def trial_row(t: FrozenTrial, objectives: Sequence[Objective], nas: bool) -> dict[str, Any]:
    """One row of the trial table."""
    row: dict[str, Any] = {
        "number": t.number,
        "state": t.state.value,
        "values": [_num(t.values.get(o.name)) for o in objectives],
        "params": {k: _num(v) for k, v in t.params.items()},
        "budget": t.budget,
        "duration": t.duration,
        "started": _iso(t.datetime_start),
        "completed": _iso(t.datetime_complete),
        "excluded": excluded_reason(t),
        "feasible": t.feasible,
        "violation": _num(t.total_violation) if t.feasible is not None else None,
    }
    if nas:
        row["arch"] = arch_text(t.user_attrs.get(ARCH_ATTR))
        row["leaf"] = t.user_attrs.get(LEAF_ATTR)
    return row


def trial_detail(
    t: FrozenTrial, record: StudyRecord, artifacts: Sequence[ArtifactRecord]
) -> dict[str, Any]:
    """Everything about one trial (``GET /api/studies/{id}/trials/{number}``)."""
    return {
        "study_id": record.study_id,
        "study_name": record.name,
        "objectives": [objective_json(o) for o in record.objectives],
        "trial_id": t.trial_id,
        "number": t.number,
        "state": t.state.value,
        "params": {k: _num(v) for k, v in t.params.items()},
        "values": {k: _num(v) for k, v in t.values.items()},
        "budget": t.budget,
        "intermediate_values": {
            name: _curve(curve) for name, curve in t.intermediate_values.items()
        },
        "user_attrs": t.user_attrs,
        "system_attrs": t.system_attrs,
        "failure_reason": t.failure_reason,
        "worker": t.worker_id,
        "restarts": t.restarts,
        "created": _iso(t.datetime_created),
        "started": _iso(t.datetime_start),
        "completed": _iso(t.datetime_complete),
        "updated": _iso(t.datetime_updated),
        "heartbeat": _iso(t.heartbeat),
        "duration": t.duration,
        "excluded": excluded_reason(t),
        "feasible": t.feasible,
        "constraint_values": [_num(v) for v in t.constraint_values],
        "infeasible_reason": t.infeasible_reason,
        "metrics": {k: _num(v) for k, v in t.metrics.items()},
        "arch": t.user_attrs.get(ARCH_ATTR) if is_nas_study(record) else None,
        "arch_text": arch_text(t.user_attrs.get(ARCH_ATTR)),
        "leaf": t.user_attrs.get(LEAF_ATTR),
        "artifacts": [
            {
                "id": a.artifact_id,
                "kind": a.kind,
                "path": a.path,
                "size": a.size,
                "sha256": a.sha256,
                "stored": a.stored,
                "created": _iso(a.created_at),
            }
            for a in artifacts
        ],
    }


def columns(
    trials: Sequence[FrozenTrial], objectives: Sequence[Objective], nas: bool
) -> dict[str, Any]:
    """The plot-relevant fields of ``trials`` as aligned arrays.

    Keys: ``number``, ``state``, ``values`` (one array per objective), ``budget``,
    ``excluded`` (bool), ``feasible`` (bool, or None without constraint values: plots mark the
    infeasible points), ``arch`` (NAS studies only, one-line text).
    """
    out: dict[str, Any] = {
        "number": [t.number for t in trials],
        "state": [t.state.value for t in trials],
        "values": [[_num(t.values.get(o.name)) for t in trials] for o in objectives],
        "budget": [t.budget for t in trials],
        "excluded": [excluded_reason(t) is not None for t in trials],
        "feasible": [t.feasible for t in trials],
    }
    if nas:
        out["arch"] = [arch_text(t.user_attrs.get(ARCH_ATTR)) for t in trials]
    return out


# ---------------------------------------------------------------------------- plots


def pareto(view: StudyView, names: Sequence[str] | None) -> dict[str, Any]:
    """The non-dominated trials among the feasible final trials (every final trial in an
    unconstrained study), on the chosen objectives (all of them by default), with their
    values, params and (NAS) architecture.

    Raises:
        DataError: an unknown objective name, or fewer than 1 objective.
    """
    record = view.record
    assert record is not None
    chosen = [record.objectives[objective_index(record, n)] for n in (names or [])]
    if not chosen:
        chosen = list(record.objectives)
    if len({o.name for o in chosen}) != len(chosen):
        raise DataError("pareto: the same objective is named twice")
    key = ("pareto", tuple(o.name for o in chosen))

    def compute(record: StudyRecord, trials: list[FrozenTrial]) -> dict[str, Any]:
        final = [t for t in view.final_trials(trials) if t.feasible is not False]
        if final:
            points = np.array([t.value_vector(chosen) for t in final], dtype=float)
            front = [t for t, keep in zip(final, pareto_mask(points), strict=True) if keep]
        else:
            front = []
        first = chosen[0]
        front.sort(key=lambda t: (first.sign * t.values[first.name], t.number))
        nas = is_nas_study(record)
        out: dict[str, Any] = {
            "objectives": [objective_json(o) for o in chosen],
            "n_final": len(final),
            "numbers": [t.number for t in front],
            "trials": [trial_row(t, record.objectives, nas) for t in front],
        }
        if nas:
            out["architectures"] = architectures(front, final, record.objectives)
        return out

    front = view.derived(key, compute)
    return {**front, "seq": view.derived_seq(key)}


def architectures(
    front: Sequence[FrozenTrial], final: Sequence[FrozenTrial], objectives: Sequence[Objective]
) -> list[dict[str, Any]]:
    """One row per distinct architecture of ``front`` (in front order): the row of its first
    trial there, plus ``trials``, the numbers of every trial of ``final`` with that
    architecture (its ``arch`` user attribute)."""

    def key(t: FrozenTrial) -> str:
        return json.dumps(t.user_attrs.get(ARCH_ATTR), sort_keys=True)

    same: dict[str, list[int]] = {}
    for t in final:
        same.setdefault(key(t), []).append(t.number)
    rows: dict[str, dict[str, Any]] = {}
    for t in front:
        k = key(t)
        if k not in rows:
            rows[k] = {**trial_row(t, objectives, True), "trials": same.get(k, [t.number])}
    return list(rows.values())


def _chosen_objective(view: StudyView, name: str | None) -> Objective:
    """Objective ``name`` of the viewed study (the first for ``None``); raises DataError."""
    record = view.record
    assert record is not None
    return record.objectives[objective_index(record, name)]


def _scored(trials: list[FrozenTrial], name: str) -> list[FrozenTrial]:
    """The included COMPLETE trials that have a value for objective ``name``."""
    return [
        t
        for t in trials
        if t.state is TrialState.COMPLETE and excluded_reason(t) is None and name in t.values
    ]


def history(view: StudyView, objective: str | None) -> dict[str, Any]:
    """Value and best-so-far of every included COMPLETE trial, by number."""
    o = _chosen_objective(view, objective)

    def compute(record: StudyRecord, trials: list[FrozenTrial]) -> dict[str, Any]:
        done = _scored(trials, o.name)
        values = np.array([t.values[o.name] for t in done], dtype=float)
        best = np.minimum.accumulate(values * o.sign) * o.sign if values.size else np.empty(0)
        return {
            "objective": objective_json(o),
            "number": [t.number for t in done],
            "value": values.tolist(),
            "best": best.tolist(),
            "budget": [t.budget for t in done],
        }

    return view.derived(("history", o.name), compute)


#: Tick label of the position given to an inactive parameter (conditional spaces).
INACTIVE = "inactive"


def _dimension(name: str, param: Any, raw: list[Any]) -> dict[str, Any]:
    """A parallel-coordinates axis for one parameter (``None`` in ``raw``: inactive).

    Categorical/fixed parameters are category indices with their labels, log-scaled ones
    log10 values; an inactive value gets a position of its own (an extra category, or just
    below the axis range) labelled :data:`INACTIVE`, so that every trial is drawn as a line.
    """
    inactive = any(v is None for v in raw)
    if isinstance(param, CategoricalParam | FixedParam):
        choices = list(param.choices) if isinstance(param, CategoricalParam) else [param.value]
        labels = [str(c) for c in choices]
        index = {repr(c): i for i, c in enumerate(choices)}
        off = len(labels)
        indices = [off if v is None else index.get(repr(v), off) for v in raw]
        if inactive:
            labels.append(INACTIVE)
        return {
            "name": name,
            "kind": "categorical",
            "values": indices,
            "range": [0, max(len(labels) - 1, 1)],
            "tickvals": list(range(len(labels))),
            "ticktext": labels,
        }
    log = isinstance(param, FloatParam | IntParam) and bool(getattr(param, "log", False))
    low, high = float(param.low), float(param.high)
    if log:
        low, high = math.log10(low), math.log10(high)
        ticks = [float(t) for t in range(math.ceil(low), math.floor(high) + 1)] or [low, high]
        labels = [f"{10**t:.3g}" for t in ticks]
    else:
        ticks = list(np.linspace(low, high, 5).tolist())
        labels = [f"{t:.4g}" for t in ticks]
    below = low - 0.08 * (high - low or 1.0)
    values = [below if v is None else (math.log10(float(v)) if log else float(v)) for v in raw]
    if inactive:
        ticks, labels = [below, *ticks], [INACTIVE, *labels]
    return {
        "name": name,
        "kind": "log" if log else "numeric",
        "values": values,
        "range": [below if inactive else low, high],
        "tickvals": ticks,
        "ticktext": labels,
    }


def parallel(view: StudyView, objective: str | None) -> dict[str, Any]:
    """Parallel-coordinates data: one axis per parameter (categoricals as indices with labels,
    log-scaled parameters as log10), coloured by the objective; included COMPLETE trials."""
    o = _chosen_objective(view, objective)

    def compute(record: StudyRecord, trials: list[FrozenTrial]) -> dict[str, Any]:
        space = _space(record)
        done = _scored(trials, o.name)
        dims = []
        if space is not None:
            for p in space.params:
                if isinstance(p, FixedParam):
                    continue
                dims.append(_dimension(p.name, p, [t.params.get(p.name) for t in done]))
        return {
            "objective": objective_json(o),
            "number": [t.number for t in done],
            "color": [t.values[o.name] for t in done],
            "dimensions": dims,
        }

    return view.derived(("parallel", o.name), compute)


def intermediate(view: StudyView, objective: str | None, limit: int) -> dict[str, Any]:
    """Learning curves (intermediate values by step) of the latest ``limit`` trials that
    reported any, with the budget and, for Hyperband/BOHB, the bracket and rung of each."""
    o = _chosen_objective(view, objective)

    def compute(record: StudyRecord, trials: list[FrozenTrial]) -> dict[str, Any]:
        with_curves = [
            t for t in trials if t.intermediate_values.get(o.name) and excluded_reason(t) is None
        ]
        shown = with_curves[-limit:]
        curves = []
        for t in shown:
            curves.append(
                {
                    "number": t.number,
                    "state": t.state.value,
                    "budget": t.budget,
                    "bracket": t.system_attrs.get("bracket"),
                    "rung": t.system_attrs.get("rung"),
                    **_curve(t.intermediate_values[o.name]),
                }
            )
        return {
            "objective": objective_json(o),
            "n_total": len(with_curves),
            "curves": curves,
        }

    return view.derived(("intermediate", o.name, limit), compute)


#: Trials the importance forest is fitted on at most (a seeded sample of a larger study).
IMPORTANCE_MAX_TRIALS = 2000
#: Seconds a parameter-importance result may lag behind a running study.
IMPORTANCE_MAX_AGE = 30.0


def importance(view: StudyView, objective: str | None) -> dict[str, Any]:
    """fANOVA parameter importances of the final trials for the objective
    (:func:`nas.importance.param_importances`); an ``error`` key instead when they cannot be
    computed. A running study's result is recomputed at most every :data:`IMPORTANCE_MAX_AGE`
    seconds: a forest per change would be wasted work."""
    from nas.importance import param_importances

    name = _chosen_objective(view, objective).name

    def compute(record: StudyRecord, trials: list[FrozenTrial]) -> dict[str, Any]:
        space = _space(record)
        final = view.final_trials(trials)
        out: dict[str, Any] = {"objective": name, "importances": {}, "n_trials": len(final)}
        if space is None or len(final) < 2:
            return out
        try:
            scores = param_importances(
                final, space, name, seed=record.seed, max_trials=IMPORTANCE_MAX_TRIALS
            )
        except (NasError, ValueError) as e:
            return {**out, "error": str(e)}
        return {
            **out,
            "importances": scores,
            "n_used": min(len(final), IMPORTANCE_MAX_TRIALS),
            "method": "fANOVA main effects of a scikit-learn random forest",
        }

    return view.derived(("importance", name), compute, max_age=IMPORTANCE_MAX_AGE)
