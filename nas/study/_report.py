"""What the command line reports about a study, assembled as data: the one-line summary, the
status of a progress bar, trial records and the tables of ``nas trials`` and ``nas pareto``.

Rendering (rich tables, CSV, JSON text) is the CLI's; everything decided here -- which trials
count, how a NAS study's front groups trials by architecture -- holds for any front end.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nas._archtext import arch_text
from nas._tables import TableData
from nas._types import FrozenTrial, TrialState
from nas.storage import RDBStorage, get_storage
from nas.study._study import Study

__all__ = [
    "studies_table",
    "front_records",
    "front_table",
    "status_line",
    "summary_line",
    "trial_record",
    "trials_table",
]


def studies_table(storage: str | RDBStorage) -> TableData:
    """The studies of ``storage`` (``nas studies``): name, objectives with their directions,
    trials in all and per state, creation time."""
    rows = []
    for s in get_storage(storage).list_studies():
        counts = {str(k): v for k, v in s.state_counts.items()}
        rows.append(
            {
                "name": s.name,
                "objectives": ", ".join(f"{o.name} ({o.direction})" for o in s.objectives),
                "trials": s.n_trials,
                "complete": counts.get("COMPLETE", 0),
                "failed": counts.get("FAILED", 0),
                "pruned": counts.get("PRUNED", 0),
                "running": counts.get("RUNNING", 0),
                "waiting": counts.get("WAITING", 0),
                "created": s.created_at.isoformat(timespec="seconds"),
            }
        )
    columns = list(rows[0]) if rows else ["name", "objectives", "trials"]
    return TableData(columns, rows, title="studies")


def summary_line(study: Study) -> str:
    """One line on the study: trials per state, feasibility in a constrained study, then the
    best value (one objective) or the Pareto front's size and hypervolume (2-3 objectives)."""
    trials = study.trials
    counts = {s: sum(t.state == s for t in trials) for s in TrialState}
    parts = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
    line = f"study {study.name!r}: {len(trials)} trials ({parts or 'none'})"
    if study.constraints is not None:
        n_feasible = sum(t.feasible is True for t in trials)
        line += f"; {n_feasible} of {counts[TrialState.COMPLETE]} complete are feasible"
        if counts[TrialState.COMPLETE] and not n_feasible:
            return line + f" ({study.constraints!r}): no best trial"
    if counts[TrialState.COMPLETE]:
        if len(study.objectives) == 1:
            best = study.best_trial
            line += (
                f"; best {study.objectives[0].name}={study.best_value:.6g} (trial {best.number})"
            )
        else:
            front = study.pareto_front()
            line += f"; Pareto front of {len(front)} trials"
            if 2 <= len(study.objectives) <= 3:
                line += f", hypervolume {study.hypervolume():.6g}"
        line += f". See: nas pareto {study.name}" if len(study.objectives) > 1 else ""
    return line


def status_line(study: Study, trials: Sequence[FrozenTrial]) -> str:
    """The status of a progress bar over ``trials`` (a fresh ``study.trials``): best value or
    Pareto size, feasible count in a constrained study, failures."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = sum(t.state == TrialState.FAILED for t in trials)
    if not complete:
        head = "no complete trial yet"
    elif not any(t.feasible is not False for t in complete):
        head = "no feasible trial yet"
    elif len(study.objectives) == 1:
        head = f"best {study.objectives[0].name}={study.best_value:.6g}"
    else:
        head = f"pareto front {len(study.pareto_front())}"
    if study.constraints is not None:
        head += f" | feasible {sum(t.feasible is True for t in complete)}/{len(complete)}"
    return f"{head} | failed {failed}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def trial_record(t: FrozenTrial) -> dict[str, Any]:
    """A trial as JSON values (``nas trials --format json``), every field of the
    :class:`~nas.FrozenTrial`: number, state, params, values, budget, times, duration,
    failure reason, user attributes, metrics, feasibility and constraint values (the keys of
    earlier versions, first and unchanged), then intermediate values (objective -> {step ->
    value}; JSON writes the steps as strings), system attributes, worker, restarts, the
    reason a constraint could not be evaluated, the times of creation, last change and last
    heartbeat, and the storage id. Non-finite metrics and constraint values are ``None``;
    times are ISO 8601 with their UTC offset.

    :meth:`nas.Study.add_trials` (and ``nas import``) accepts these records as they are.
    """
    return {
        "number": t.number,
        "state": str(t.state),
        "params": dict(t.params),
        "values": dict(t.values),
        "budget": t.budget,
        "datetime_start": _iso(t.datetime_start),
        "datetime_complete": _iso(t.datetime_complete),
        "duration": t.duration,
        "failure_reason": t.failure_reason,
        "user_attrs": dict(t.user_attrs),
        "metrics": {k: (v if math.isfinite(v) else None) for k, v in t.metrics.items()},
        "feasible": t.feasible,
        "constraint_values": [v if math.isfinite(v) else None for v in t.constraint_values],
        "intermediate_values": {k: dict(v) for k, v in t.intermediate_values.items()},
        "system_attrs": dict(t.system_attrs),
        "worker_id": t.worker_id,
        "restarts": t.restarts,
        "infeasible_reason": t.infeasible_reason,
        "datetime_created": _iso(t.datetime_created),
        "datetime_updated": _iso(t.datetime_updated),
        "heartbeat": _iso(t.heartbeat),
        "trial_id": t.trial_id,
    }


#: Keys of :func:`trial_record` that :func:`_flatten` spreads into columns of their own or
#: leaves to the full table (:func:`trials_table` with ``full=True``).
_NESTED = (
    "params",
    "values",
    "user_attrs",
    "metrics",
    "constraint_values",
    "intermediate_values",
    "system_attrs",
)
#: The columns the full table adds after the compact one's, in order (``metric:NAME``
#: columns go after ``failure_reason``).
_FULL_TAIL = (
    "user_attrs",
    "system_attrs",
    "intermediate_values",
    "constraint_values",
    "infeasible_reason",
    "datetime_created",
    "datetime_start",
    "datetime_complete",
    "datetime_updated",
    "heartbeat",
    "worker_id",
    "restarts",
    "trial_id",
)


def _flatten(
    study: Study, records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Spread params and values of :func:`trial_record` rows into their own columns (params as
    ``param:NAME``); returns the rows and those columns."""
    value_cols = [o.name for o in study.objectives]
    param_cols = list(study.space.names)
    flat = []
    for r in records:
        f = {k: v for k, v in r.items() if k not in _NESTED}
        f.update({c: r["values"].get(c) for c in value_cols})
        f.update({f"param:{c}": r["params"].get(c) for c in param_cols})
        flat.append(f)
    return flat, value_cols + [f"param:{c}" for c in param_cols]


def _json_cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def trials_table(study: Study, trials: Sequence[FrozenTrial], *, full: bool = False) -> TableData:
    """``trials`` of ``study`` as a table (``nas trials``): number, state, one column per
    objective and per parameter (``param:NAME``), ``feasible`` and ``violation`` in a
    constrained study, budget, duration, and the last line of a failure's reason.

    With ``full`` (``nas trials --format csv``) every field follows, after those columns:
    ``failure_reason`` (whole), one ``metric:NAME`` column per metric any trial has (a
    non-finite one as NaN), then ``user_attrs``, ``system_attrs``, ``intermediate_values``
    and ``constraint_values`` as JSON text (``null`` for a constraint that could not be
    evaluated), ``infeasible_reason``, the ISO 8601 times ``datetime_created``,
    ``datetime_start``, ``datetime_complete``, ``datetime_updated`` and ``heartbeat``,
    ``worker_id``, ``restarts`` and ``trial_id``. ``nas import`` reads such a file back.
    """
    records = [trial_record(t) for t in trials]
    flat, cols = _flatten(study, records)
    extra: list[str] = []
    if study.constraints is not None:  # feasibility and total violation of each trial
        extra = ["feasible", "violation"]
        for f, t in zip(flat, trials, strict=True):
            f["feasible"] = {True: "yes", False: "no", None: None}[t.feasible]
            f["violation"] = t.total_violation if t.feasible is not None else None
    for f in flat:
        reason = f["failure_reason"]
        f["failure"] = reason.strip().splitlines()[-1] if reason else None
    columns = ["number", "state", *cols, *extra, "budget", "duration", "failure"]
    if full:
        metric_cols: dict[str, None] = {}
        for t in trials:
            metric_cols.update(dict.fromkeys(t.metrics))
        for f, r, t in zip(flat, records, trials, strict=True):
            f.update({f"metric:{m}": t.metrics.get(m) for m in metric_cols})
            for key in ("user_attrs", "system_attrs", "intermediate_values", "constraint_values"):
                f[key] = _json_cell(r[key])
        columns += ["failure_reason", *(f"metric:{m}" for m in metric_cols), *_FULL_TAIL]
    return TableData(columns, flat, title=f"trials of {study.name}")


def front_records(study: Study) -> list[dict[str, Any]]:
    """The Pareto front (``nas pareto --format json``): ``{number, params, values}`` per trial,
    in number order."""
    return [
        {"number": t.number, "params": dict(t.params), "values": dict(t.values)}
        for t in study.pareto_front()
    ]


def front_table(study: Study, *, along_front: bool = True) -> TableData:
    """The Pareto front as a table, ordered along the front (``along_front``: by the
    objectives' values) or by trial number.

    In a NAS study (every front trial carries an architecture) there is one row per
    architecture: its first front trial's number and values, the architecture as text, the
    sub-supernet that measured it (a split study) and every COMPLETE trial that evaluated it
    (a study proposes each network once, but trials from before that rule, or enqueued by
    hand, may repeat one). Otherwise one row per trial with its values and params.
    """
    front = study.pareto_front()
    if along_front:
        front.sort(key=lambda t: [t.values[o.name] for o in study.objectives])
    archs = [arch_text(t.user_attrs.get("arch")) for t in front]
    if not (front and all(a is not None for a in archs)):
        flat, cols = _flatten(
            study,
            [
                {"number": t.number, "params": dict(t.params), "values": dict(t.values)}
                for t in front
            ],
        )
        return TableData(
            ["number", *cols], flat, title=f"Pareto front of {study.name} ({len(front)} trials)"
        )
    from nas._attrs import FAMILY_ATTR, LEAF_ATTR

    names = [o.name for o in study.objectives]
    same: dict[str, list[int]] = {}
    for t in study.get_trials((TrialState.COMPLETE,)):
        same.setdefault(json.dumps(t.user_attrs.get("arch"), sort_keys=True), []).append(t.number)
    rows = []
    shown: set[str] = set()
    for t, a in zip(front, archs, strict=True):
        key = json.dumps(t.user_attrs.get("arch"), sort_keys=True)
        if key in shown:
            continue
        shown.add(key)
        rows.append(
            {
                "number": t.number,
                **{n: t.values[n] for n in names},
                "arch": a,
                "leaf": t.user_attrs.get(LEAF_ATTR),
                "trials": ", ".join(map(str, same.get(key, [t.number]))),
            }
        )
    leaf = ["leaf"] if FAMILY_ATTR in study.user_attrs else []
    return TableData(
        ["number", *names, "arch", *leaf, "trials"],
        rows,
        title=f"Pareto front of {study.name} ({len(front)} trials, {len(rows)} architectures)",
    )
