"""What RDBStorage returns, and the one place where database rows become it.

* The record types (:class:`StudyRecord`, :class:`StudySummary`, :class:`ArtifactRecord`) and
  the storage-specific errors.
* The decoding of trial rows: :func:`frozen_trial` is the only code that builds a
  :class:`~nas.FrozenTrial` from storage data, whether read (``get_trial``, ``get_trials``,
  ``claim_waiting_trial``) or just written (``add_trials``, ``finish_trial``, which build a
  :class:`TrialRow` of what they wrote, so that they return what a later read returns).
* The row layouts that decoding relies on: :class:`TrialRow` (the trial columns, in order) and
  the ``CHILD_*`` kinds of the one-trial children statement. :mod:`nas.storage._queries`
  selects in these shapes; this module knows no SQL.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from nas._types import (
    Direction,
    FrozenTrial,
    Objective,
    TrialState,
)
from nas.exceptions import (
    NasError,
    StorageError,
)

__all__ = [
    "CHILD_INTERMEDIATE",
    "CHILD_OBJECTIVE",
    "CHILD_PARAM",
    "CHILD_SYSTEM_ATTR",
    "CHILD_USER_ATTR",
    "CHILD_VALUE",
    "STATES_BY_NAME",
    "ArtifactRecord",
    "StaleHistoryError",
    "StudyRecord",
    "StudySummary",
    "TrialChildren",
    "TrialNotFoundError",
    "TrialRow",
    "decode_json_into",
    "decode_results",
    "encode_results",
    "frozen_trial",
    "read_children",
    "stored_objective",
]

STATES_BY_NAME: dict[str, TrialState] = {s.value: s for s in TrialState}


class StaleHistoryError(StorageError):
    """``add_trials(expected_next_number=...)`` found that other trials were added meanwhile.

    The proposals were computed from a history that is no longer the study's; reload the
    trials, propose again and retry.
    """


class TrialNotFoundError(NasError, KeyError):
    """No trial with the given id exists in the storage."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else "trial not found"


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """A snapshot of one study's definition.

    Attributes:
        study_id: primary key.
        name: unique name.
        objectives: in definition order (index ``i`` is objective index ``i`` everywhere).
        space: the space definition, as given to :meth:`RDBStorage.create_study`.
        searcher: ``{"name": ..., "options": {...}}`` as given.
        seed: the study seed.
        user_attrs: key -> JSON value.
        created_at: aware UTC datetime.
        next_trial_number: the number the next added trial gets (= number of trials ever
            added).
        constraints: the constraints definition as given to :meth:`RDBStorage.create_study`
            (``None``: unconstrained).
    """

    study_id: int
    name: str
    objectives: tuple[Objective, ...]
    space: dict[str, Any]
    searcher: dict[str, Any]
    seed: int
    user_attrs: dict[str, Any]
    created_at: datetime
    next_trial_number: int
    constraints: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StudySummary:
    """One line of :meth:`RDBStorage.list_studies`.

    Attributes:
        state_counts: number of trials per state; every :class:`TrialState` is a key.
        n_trials: total number of trials.
        last_update: the latest ``updated_at`` of the study's trials (when one of them last
            changed; heartbeats excluded), or ``created_at`` if it has no trial. Aware UTC.
        searcher: the searcher's name (``searcher["name"]`` given to
            :meth:`RDBStorage.create_study`).
    """

    study_id: int
    name: str
    objectives: tuple[Objective, ...]
    created_at: datetime
    state_counts: dict[TrialState, int]
    n_trials: int
    last_update: datetime
    searcher: str


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A file recorded for a study or one of its trials.

    Attributes:
        artifact_id: primary key.
        trial_id: ``None`` for a study-level artifact.
        kind: free-form category, e.g. ``"checkpoint"`` or ``"plot"``.
        path: where the file is (the storage does not read it); for a stored artifact, the
            logical name given to :meth:`RDBStorage.store_artifact`.
        sha256: lowercase hex SHA-256 of the file content (64 characters).
        size: size in bytes.
        created_at: aware UTC datetime.
        stored: ``True`` if the content is stored in the database
            (:meth:`RDBStorage.store_artifact`; read it with :meth:`RDBStorage.read_artifact`),
            ``False`` if only the path was recorded (:meth:`RDBStorage.add_artifact`).
    """

    artifact_id: int
    study_id: int
    trial_id: int | None
    kind: str
    path: str
    sha256: str
    size: int
    created_at: datetime
    stored: bool


# ------------------------------------------------------------------------ row layouts


class TrialRow(NamedTuple):
    """The ``trials`` columns a FrozenTrial is built from, in the order :func:`frozen_trial`
    unpacks them.

    Every statement whose rows become trials selects exactly these columns first, in this
    order (``nas.storage._queries`` derives its column list from :attr:`_fields`); a row may
    carry more columns after them. A write that returns the trial it wrote builds one from what
    it wrote.
    """

    id: int
    number: int
    state: str
    budget: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    worker_id: str | None
    failure_reason: str | None
    restarts: int
    updated_at: datetime
    metrics_json: str | None
    constraints_json: str | None


_N_TRIAL_COLUMNS = len(TrialRow._fields)

#: The kinds of rows of the one-trial children statement (``SELECT_CHILDREN_OF_TRIAL``): its
#: rows are ``(kind, key, text, ord, step, value)``, ordered by ``(kind, ord, step)``, so the
#: study's objectives (``key`` = name, ``ord`` = index) come first. Params and attributes carry
#: ``key`` and the JSON ``text`` (``ord`` = row id: insertion order); values carry the objective
#: index in ``ord`` and ``value``; intermediate values also ``step``.
CHILD_OBJECTIVE, CHILD_PARAM, CHILD_VALUE, CHILD_INTERMEDIATE, CHILD_USER_ATTR = range(5)
CHILD_SYSTEM_ATTR = 5


def stored_objective(name: str, direction: str) -> Objective:
    """An Objective from a stored ``study_objectives`` row (Objective validates the
    direction)."""
    return Objective(name, cast(Direction, direction))


# --------------------------------------------------------------------------- decoding


class TrialChildren:
    """The child rows of one trial, grouped; the dicts go into a FrozenTrial as they are.

    A new instance holds five empty dicts; the readers fill them in place (values and
    intermediate values keyed by objective name).
    """

    __slots__ = ("intermediate", "params", "system_attrs", "user_attrs", "values")

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.values: dict[str, float] = {}
        self.intermediate: dict[str, dict[int, float]] = {}
        self.user_attrs: dict[str, Any] = {}
        self.system_attrs: dict[str, Any] = {}


def read_children(rows: Iterable[Sequence[Any]]) -> tuple[list[str], TrialChildren]:
    """Group the rows of the one-trial children statement (layout: the ``CHILD_*`` kinds).

    Returns:
        ``(the study's objective names by index, the trial's children)``; params and
        attributes in insertion order, intermediate values by objective then step.
    """
    names: list[str] = []
    children = TrialChildren()
    targets: list[dict[str, Any]] = []  # the dict receiving the i-th JSON text, under keys[i]
    keys: list[str] = []
    texts: list[str] = []
    for kind, key, text, order, step, value in rows:
        if kind == CHILD_OBJECTIVE:
            names.append(key)
        elif kind == CHILD_VALUE:
            children.values[names[order]] = value
        elif kind == CHILD_INTERMEDIATE:
            per_objective = children.intermediate.get(names[order])
            if per_objective is None:
                per_objective = children.intermediate[names[order]] = {}
            per_objective[step] = value
        else:
            if kind == CHILD_PARAM:
                target = children.params
            elif kind == CHILD_USER_ATTR:
                target = children.user_attrs
            else:
                target = children.system_attrs
            target[key] = None  # placeholder: fixes the key order (insertion order = id order)
            targets.append(target)
            keys.append(key)
            texts.append(text)
    decode_json_into(targets, keys, texts)
    return names, children


def decode_json_into(targets: list[dict[str, Any]], keys: list[str], texts: list[str]) -> None:
    """Set ``targets[i][keys[i]] = json.loads(texts[i])`` for every i, in one ``json.loads``.

    Each text is a complete JSON document, so their comma-joined concatenation in brackets is
    a valid array; one parse of it is several times faster than a call per text.
    """
    if texts:
        decoded = json.loads("[" + ",".join(texts) + "]")
        for target, key, value in zip(targets, keys, decoded, strict=True):
            target[key] = value


def frozen_trial(row: Sequence[Any], children: TrialChildren) -> FrozenTrial:
    """The FrozenTrial of a trial row and its children: the only FrozenTrial builder.

    Args:
        row: starts with the :class:`TrialRow` columns, in order (a database row, possibly
            with more columns after them, or a :class:`TrialRow`).
        children: the trial's grouped child rows; its dicts go into the trial as they are
            (not copied: build a fresh one per trial).

    Returns:
        The trial, with ``metrics``, ``constraint_values`` and ``infeasible_reason`` decoded
        from the row's JSON (:func:`decode_results`).
    """
    (
        trial_id,
        number,
        state,
        budget,
        created_at,
        started_at,
        finished_at,
        heartbeat_at,
        worker_id,
        failure_reason,
        restarts,
        updated_at,
        metrics_json,
        constraints_json,
    ) = row[:_N_TRIAL_COLUMNS]
    metrics, violations, infeasible_reason = decode_results(metrics_json, constraints_json)
    return FrozenTrial(
        trial_id=trial_id,
        number=number,
        state=STATES_BY_NAME[state],
        params=children.params,
        budget=budget,
        values=children.values,
        intermediate_values=children.intermediate,
        user_attrs=children.user_attrs,
        system_attrs=children.system_attrs,
        failure_reason=failure_reason,
        worker_id=worker_id,
        datetime_created=created_at,
        datetime_start=started_at,
        datetime_complete=finished_at,
        heartbeat=heartbeat_at,
        restarts=restarts,
        datetime_updated=updated_at,
        metrics=metrics,
        constraint_values=violations,
        infeasible_reason=infeasible_reason,
    )


def encode_results(
    metrics: Mapping[str, float] | None,
    constraint_values: Sequence[float] | None,
    reason: str | None,
) -> tuple[str | None, str | None]:
    """``(metrics_json, constraints_json)`` of a finishing trial (see ``models.Trial``): a
    non-finite metric and an infinite constraint value or violation are stored as ``null``;
    the violations (``max(0, value)``) are stored beside the values for readers of the SQL."""
    metrics_json = None
    if metrics:
        metrics_json = json.dumps(
            {k: (float(v) if math.isfinite(v) else None) for k, v in metrics.items()},
            allow_nan=False,
        )
    constraints_json = None
    if constraint_values:
        finite = [float(v) if math.isfinite(v) else None for v in constraint_values]
        constraints_json = json.dumps(
            {
                "values": finite,
                "violations": [None if v is None else max(0.0, v) for v in finite],
                "reason": reason,
            },
            allow_nan=False,
        )
    return metrics_json, constraints_json


def decode_results(
    metrics_json: str | None, constraints_json: str | None
) -> tuple[dict[str, float], tuple[float, ...], str | None]:
    """The inverse of :func:`encode_results`: ``(metrics, constraint values, reason)``; a
    ``null`` metric comes back as NaN, a ``null`` constraint value as ``inf``."""
    metrics: dict[str, float] = {}
    if metrics_json is not None:
        metrics = {k: (math.nan if v is None else v) for k, v in json.loads(metrics_json).items()}
    if constraints_json is None:
        return metrics, (), None
    data = json.loads(constraints_json)
    values = tuple(math.inf if v is None else float(v) for v in data["values"])
    return metrics, values, data.get("reason")
