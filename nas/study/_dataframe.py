"""A study's trials as a pandas DataFrame (:meth:`Study.to_dataframe`), in the shape of
Optuna's ``study.trials_dataframe()``, with every field of :class:`~nas.FrozenTrial`.

pandas is imported here, when a DataFrame is asked for: ``import nas`` never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nas._types import FrozenTrial
from nas.exceptions import NasError

if TYPE_CHECKING:
    from nas.study._study import Study

__all__ = ["trials_dataframe"]


def _import_pandas() -> Any:
    try:
        import pandas
    except ImportError as e:
        raise NasError(
            "Study.to_dataframe needs pandas, which is not installed: pip install pandas "
            "(or pip install 'nas[pandas]')"
        ) from e
    return pandas


def _keys(dicts: Sequence[dict[str, Any]]) -> list[str]:
    """Every key of ``dicts``, in first-seen order."""
    seen: dict[str, None] = {}
    for d in dicts:
        seen.update(dict.fromkeys(d))
    return list(seen)


def trials_dataframe(study: Study, trials: Sequence[FrozenTrial] | None = None) -> Any:
    """One row per trial of ``study`` (``trials``: these instead of all), in number order.

    Columns, in order (names as Optuna's ``trials_dataframe`` where it has the field):

    * ``number``, ``state`` (the state's name);
    * ``values_<objective>`` for every objective (NaN where a trial has no value; a
      single-objective study also has ``values_<name>``, not Optuna's ``value``);
    * ``params_<name>`` for every parameter of the space (NaN/None where inactive);
    * ``user_attrs_<key>`` and ``system_attrs_<key>`` for every key any trial has;
    * ``datetime_start``, ``datetime_complete`` (timezone-aware UTC ``Timestamp``, NaT when
      unset), ``duration`` (``Timedelta``), ``budget``;
    * ``metrics_<name>`` for every metric any trial has;
    * in a constrained study ``constraint_<i>`` (the signed value of constraint ``i``,
      ``<= 0`` satisfied, ``inf`` not evaluable; NaN when not evaluated), ``feasible``
      (True/False, None when not evaluated) and ``infeasible_reason``;
    * ``failure_reason``;
    * ``intermediate_<objective>`` for every objective: a dict step -> value per cell (empty
      when nothing was reported);
    * ``worker_id``, ``restarts``, ``datetime_created``, ``datetime_updated``, ``heartbeat``,
      ``trial_id``.

    Raises:
        NasError: pandas is not installed (the message says ``pip install pandas``).
    """
    pd = _import_pandas()
    rows = study.trials if trials is None else list(trials)
    objectives = [o.name for o in study.objectives]
    params = list(study.space.names)
    user_keys = _keys([t.user_attrs for t in rows])
    system_keys = _keys([t.system_attrs for t in rows])
    metric_keys = _keys([t.metrics for t in rows])
    n_constraints = max((len(t.constraint_values) for t in rows), default=0)
    constrained = study.constraints is not None or n_constraints > 0
    if study.constraints is not None and study.constraints.labels is not None:
        n_constraints = max(n_constraints, len(study.constraints.labels))

    columns: dict[str, list[Any]] = {}

    def column(name: str, values: list[Any]) -> None:
        columns[name] = values

    column("number", [t.number for t in rows])
    column("state", [t.state.value for t in rows])
    for name in objectives:
        column(f"values_{name}", [t.values.get(name, math.nan) for t in rows])
    for name in params:
        column(f"params_{name}", [t.params.get(name) for t in rows])
    for key in user_keys:
        column(f"user_attrs_{key}", [t.user_attrs.get(key) for t in rows])
    for key in system_keys:
        column(f"system_attrs_{key}", [t.system_attrs.get(key) for t in rows])
    column("datetime_start", _times(pd, [t.datetime_start for t in rows]))
    column("datetime_complete", _times(pd, [t.datetime_complete for t in rows]))
    column(
        "duration",
        [pd.NaT if t.duration is None else pd.Timedelta(seconds=t.duration) for t in rows],
    )
    column("budget", [math.nan if t.budget is None else t.budget for t in rows])
    for key in metric_keys:
        column(f"metrics_{key}", [t.metrics.get(key, math.nan) for t in rows])
    if constrained:
        for i in range(n_constraints):
            column(
                f"constraint_{i}",
                [
                    t.constraint_values[i] if i < len(t.constraint_values) else math.nan
                    for t in rows
                ],
            )
        column("feasible", [t.feasible for t in rows])
        column("infeasible_reason", [t.infeasible_reason for t in rows])
    column("failure_reason", [t.failure_reason for t in rows])
    for name in objectives:
        column(f"intermediate_{name}", [dict(t.intermediate_values.get(name, {})) for t in rows])
    column("worker_id", [t.worker_id for t in rows])
    column("restarts", [t.restarts for t in rows])
    column("datetime_created", _times(pd, [t.datetime_created for t in rows]))
    column("datetime_updated", _times(pd, [t.datetime_updated for t in rows]))
    column("heartbeat", _times(pd, [t.heartbeat for t in rows]))
    column("trial_id", [t.trial_id for t in rows])
    return pd.DataFrame(
        {
            name: pd.Series(v, dtype=object if name.startswith("intermediate_") else None)
            for name, v in columns.items()
        }
    )


def _times(pd: Any, moments: list[datetime | None]) -> Any:
    """Aware UTC timestamps (NaT for ``None``), as one datetime64[ns, UTC] series."""
    return pd.to_datetime(pd.Series(moments, dtype=object), utc=True)
