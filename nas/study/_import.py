"""Results that ran elsewhere, added to a study as ordinary history (:meth:`Study.add_trials`).

A trial to add is a :class:`~nas.FrozenTrial` (e.g. from another study) or a mapping in the
shape ``nas trials --format json`` writes (so an export imports back as it is)::

    {"params": {...},                       # required: the active parameters of the space
     "values": {"loss": 0.1} | 0.1 | [..],  # by objective name, a number (one objective), or
                                            # a list in objective order
     "state": "COMPLETE",                   # or PRUNED, FAILED (Optuna's FAIL); default COMPLETE
     "budget": 9, "intermediate_values": {"loss": {"0": 0.5, "1": 0.3}},
     "user_attrs": {...}, "metrics": {"latency_ms": 1.5}, "failure_reason": "...",
     "datetime_start": "2024-05-17T08:30:15+00:00", "datetime_complete": ...,
     "datetime_created": ..., "worker_id": "...", "restarts": 0}

Everything is validated before anything is written, and the trials are inserted in one
transaction (all or none), numbered after the study's existing trials:

* ``params`` with the study's space (:meth:`~nas.SearchSpace.validate`): exactly the active
  parameters, each in its domain;
* ``values``: a COMPLETE trial needs a finite number for every objective (as an objective's
  return value must be); a PRUNED or FAILED one may give some (``null`` ones are skipped);
  unknown objective names are refused;
* in a constrained study the constraints of a COMPLETE trial are evaluated by the study's own
  :class:`~nas.study.Constraints` from its values and metrics (so feasibility is the study's,
  whatever the record says);
* times are aware datetimes or ISO 8601 strings; a time without a zone is taken as the local
  time of this machine (what Optuna writes); a finished trial missing one of start and
  completion gets the other, missing both gets the time of the import.

Not taken from a record (the keys are accepted and ignored, so an export imports as it is):
``number`` and ``trial_id`` (this study numbers the trials), ``duration``, ``feasible``,
``constraint_values`` and ``infeasible_reason`` (recomputed), ``datetime_updated`` and
``heartbeat`` (the source's bookkeeping), and ``system_attrs``: those are the proposing
searcher's own (e.g. Hyperband's bracket of a trial), which would mislead this study's
searcher; added trials have none, as enqueued ones. Every searcher reads added trials as
history (``study.trials``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nas._types import FrozenTrial, TrialState
from nas.exceptions import SpaceError, StudyConfigError
from nas.storage import TrialImport

if TYPE_CHECKING:
    from nas.study._study import Study

__all__ = ["IGNORED_KEYS", "RECORD_KEYS", "add_trials", "parse_time"]

#: The keys of a trial mapping that :func:`add_trials` reads.
RECORD_KEYS = (
    "params",
    "values",
    "state",
    "budget",
    "intermediate_values",
    "user_attrs",
    "metrics",
    "failure_reason",
    "datetime_created",
    "datetime_start",
    "datetime_complete",
    "worker_id",
    "restarts",
)
#: Keys of a ``nas trials --format json`` record that are accepted and not read (module
#: docstring).
IGNORED_KEYS = (
    "number",
    "trial_id",
    "duration",
    "feasible",
    "constraint_values",
    "infeasible_reason",
    "system_attrs",
    "datetime_updated",
    "heartbeat",
)
_STATES = {
    "COMPLETE": TrialState.COMPLETE,
    "PRUNED": TrialState.PRUNED,
    "FAILED": TrialState.FAILED,
    "FAIL": TrialState.FAILED,  # Optuna's name
}


class _RecordError(Exception):
    """A problem with one part of one record; the caller prefixes the record's label."""


def _number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (numpy scalars included, bools not)."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, int | float):
        try:
            value = item()
        except (TypeError, ValueError, RuntimeError):
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def parse_time(value: Any, what: str) -> datetime | None:
    """An aware UTC datetime from a datetime or an ISO 8601 string (``None``/``""``: none).

    A value without a time zone is taken as the local time of this machine.

    Raises:
        StudyConfigError: neither (the message starts with ``what``).
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise StudyConfigError(
                f"{what}: {value!r} is not an ISO 8601 date and time "
                "(e.g. 2024-05-17T08:30:15+00:00)"
            ) from None
    if not isinstance(value, datetime):
        raise StudyConfigError(f"{what}: expected a datetime or an ISO 8601 string, got {value!r}")
    return value.astimezone(UTC)  # a naive value is read as local time


def _state(value: Any) -> TrialState:
    if value is None or value == "":
        return TrialState.COMPLETE
    name = value.value if isinstance(value, TrialState) else value
    state = _STATES.get(name.strip().upper()) if isinstance(name, str) else None
    if state is None:
        if isinstance(name, str) and name.strip().upper() in ("RUNNING", "WAITING"):
            raise _RecordError(
                f"state: {name} trials cannot be added, only finished ones (COMPLETE, PRUNED, "
                "FAILED); export with `--state COMPLETE --state PRUNED --state FAILED`, or "
                "queue params to run with study.enqueue"
            )
        raise _RecordError(f"state: expected COMPLETE, PRUNED or FAILED, got {value!r}")
    return state


def _values(study: Study, state: TrialState, raw: Any) -> dict[int, float]:
    """Objective index -> value (module docstring)."""
    names = [o.name for o in study.objectives]
    if raw is None:
        given: dict[str, Any] = {}
    elif isinstance(raw, Mapping):
        given = dict(raw)
        unknown = [k for k in given if k not in names]
        if unknown:
            raise _RecordError(
                f"values: unknown objective(s) {unknown}; the study's objectives: {names}"
            )
    elif isinstance(raw, list | tuple):
        if len(raw) != len(names):
            raise _RecordError(f"values: {len(raw)} values for {len(names)} objectives {names}")
        given = dict(zip(names, raw, strict=True))
    elif len(names) == 1:
        given = {names[0]: raw}
    else:
        raise _RecordError(
            f"values: a study with objectives {names} needs a mapping name -> value"
        )
    out: dict[int, float] = {}
    for i, name in enumerate(names):
        v = given.get(name)
        if v is None:
            if state is TrialState.COMPLETE:
                raise _RecordError(
                    f"values: a COMPLETE trial needs a value for objective {name!r}"
                )
            continue
        x = _number(v)
        if x is None or not math.isfinite(x):
            raise _RecordError(f"values: objective {name!r} must be a finite number, got {v!r}")
        out[i] = x
    return out


def _intermediate(study: Study, raw: Any) -> dict[int, dict[int, float]]:
    names = [o.name for o in study.objectives]
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _RecordError("intermediate_values: expected a mapping objective -> {step: value}")
    out: dict[int, dict[int, float]] = {}
    for name, steps in raw.items():
        if name not in names:
            raise _RecordError(
                f"intermediate_values: unknown objective {name!r}; the study's objectives: {names}"
            )
        if not isinstance(steps, Mapping):
            raise _RecordError(f"intermediate_values.{name}: expected a mapping step -> value")
        per_step: dict[int, float] = {}
        for step, v in steps.items():
            s = _step(step)
            if s is None:
                raise _RecordError(
                    f"intermediate_values.{name}: a step must be an integer >= 0, got {step!r}"
                )
            x = _number(v)
            if x is None or not math.isfinite(x):
                raise _RecordError(f"intermediate_values.{name}.{step}: expected a finite number")
            per_step[s] = x
        out[names.index(name)] = per_step
    return out


def _step(step: Any) -> int | None:
    """A step from an int or a decimal string (JSON object keys are strings)."""
    if isinstance(step, str) and step.strip().isdigit():
        return int(step)
    if isinstance(step, int) and not isinstance(step, bool) and step >= 0:
        return step
    return None


def _metrics(study: Study, raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _RecordError(f"metrics: expected a mapping name -> number, got {raw!r}")
    names = {o.name for o in study.objectives}
    out: dict[str, float] = {}
    for key, v in raw.items():
        if not isinstance(key, str) or not key:
            raise _RecordError(f"metrics: names must be non-empty strings, got {key!r}")
        if key in names:
            raise _RecordError(f"metrics: {key!r} is an objective; give it in values")
        x = math.nan if v is None else _number(v)  # null: a non-finite metric, as exported
        if x is None:
            raise _RecordError(f"metrics.{key}: expected a number, got {v!r}")
        out[key] = x
    return out


def _json_attrs(raw: Any, what: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and k for k in raw):
        raise _RecordError(f"{what}: expected a mapping with non-empty string keys, got {raw!r}")
    try:
        json.dumps(dict(raw), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise _RecordError(f"{what}: values must be JSON (no NaN or infinity): {e}") from None
    return dict(raw)


def _budget(raw: Any) -> float | None:
    if raw is None or raw == "":
        return None
    x = _number(raw)
    if x is None or not math.isfinite(x) or x <= 0:
        raise _RecordError(f"budget: must be a finite number > 0 or null, got {raw!r}")
    return x


def _optional_str(raw: Any, what: str) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise _RecordError(f"{what}: expected a string, got {raw!r}")
    return raw


def _restarts(raw: Any) -> int:
    if raw is None or raw == "":
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise _RecordError(f"restarts: expected an integer >= 0, got {raw!r}")
    return raw


def _as_mapping(item: Any) -> Mapping[str, Any]:
    """A FrozenTrial as the mapping of the keys :func:`add_trials` reads."""
    if isinstance(item, FrozenTrial):
        return {
            "params": item.params,
            "values": item.values,
            "state": item.state,
            "budget": item.budget,
            "intermediate_values": item.intermediate_values,
            "user_attrs": item.user_attrs,
            "metrics": item.metrics,
            "failure_reason": item.failure_reason,
            "datetime_created": item.datetime_created,
            "datetime_start": item.datetime_start,
            "datetime_complete": item.datetime_complete,
            "worker_id": item.worker_id,
            "restarts": item.restarts,
        }
    if not isinstance(item, Mapping):
        raise _RecordError(f"expected a nas.FrozenTrial or a mapping, got {type(item).__name__}")
    unknown = [k for k in item if k not in RECORD_KEYS and k not in IGNORED_KEYS]
    if unknown:
        raise _RecordError(f"unknown key(s) {unknown}; a trial has {', '.join(RECORD_KEYS)}")
    if "params" not in item:
        raise _RecordError("params: missing (the trial's active parameters)")
    return item


def _trial_import(study: Study, item: Any) -> TrialImport:
    """One trial to add to ``study`` (module docstring), checked and converted.

    Raises:
        _RecordError: what is wrong (the caller names the trial).
    """
    record = _as_mapping(item)
    state = _state(record.get("state"))
    try:
        params = study.space.validate(record["params"])
    except SpaceError as e:
        raise _RecordError(f"params: {e}") from None
    except TypeError as e:
        raise _RecordError(f"params: {e}") from None
    values = _values(study, state, record.get("values"))
    metrics = _metrics(study, record.get("metrics"))
    times = {}
    for key in ("datetime_created", "datetime_start", "datetime_complete"):
        try:
            times[key] = parse_time(record.get(key), key)
        except StudyConfigError as e:
            raise _RecordError(str(e)) from None
    start = times["datetime_start"] or times["datetime_complete"]
    complete = times["datetime_complete"] or times["datetime_start"]
    if start is not None and complete is not None and complete < start:
        raise _RecordError(
            f"datetime_complete {complete.isoformat()} is before datetime_start "
            f"{start.isoformat()}"
        )
    constraint_values: tuple[float, ...] = ()
    infeasible: str | None = None
    if state is TrialState.COMPLETE and study.constraints is not None:
        result = {**metrics, **{study.objectives[i].name: v for i, v in values.items()}}
        try:
            constraint_values, infeasible = study.constraints.evaluate(result)
        except StudyConfigError as e:
            raise _RecordError(str(e)) from None
        except Exception as e:
            raise _RecordError(
                f"evaluating the study's constraints failed: {type(e).__name__}: {e}"
            ) from None
    worker_id = _optional_str(record.get("worker_id"), "worker_id")
    if worker_id is not None and len(worker_id) > 256:
        raise _RecordError("worker_id: at most 256 characters")
    return TrialImport(
        state=state,
        params=params,
        values=values,
        intermediate_values=_intermediate(study, record.get("intermediate_values")),
        budget=_budget(record.get("budget")),
        user_attrs=_json_attrs(record.get("user_attrs"), "user_attrs"),
        metrics=metrics,
        constraint_values=constraint_values,
        infeasible_reason=infeasible,
        failure_reason=_optional_str(record.get("failure_reason"), "failure_reason"),
        worker_id=worker_id,
        restarts=_restarts(record.get("restarts")),
        datetime_created=times["datetime_created"],
        datetime_start=start,
        datetime_complete=complete,
    )


def add_trials(
    study: Study, trials: Iterable[Any], *, labels: Sequence[str] | None = None
) -> list[FrozenTrial]:
    """Add finished trials to ``study`` (:meth:`Study.add_trials`; rules in the module
    docstring): all validated first, then inserted in one transaction.

    Args:
        study: the study.
        trials: :class:`~nas.FrozenTrial` objects or mappings.
        labels: how messages name each trial (e.g. ``runs.csv: line 7``); default
            ``trials[i]``.

    Returns:
        The added trials, numbered after the study's existing ones, in the order given.

    Raises:
        StudyConfigError: a trial breaks a rule; the message names it and the problem
            (nothing is written).
    """
    items = list(trials)
    if labels is not None and len(labels) != len(items):
        raise ValueError(f"{len(labels)} labels for {len(items)} trials")
    imports = []
    for i, item in enumerate(items):
        label = labels[i] if labels is not None else f"trials[{i}]"
        try:
            imports.append(_trial_import(study, item))
        except _RecordError as e:
            raise StudyConfigError(f"{label}: {e}") from None
    try:
        inserted = study.storage.import_trials(study.study_id, imports)
    except (TypeError, ValueError) as e:  # checked above; kept as a one-line error anyway
        raise StudyConfigError(str(e)) from e
    for t in inserted:
        study._remember(t)
    return inserted
