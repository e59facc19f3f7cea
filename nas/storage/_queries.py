"""The SQL that RDBStorage runs, built once.

The hot-path statements are module constants with a ``bindparam`` for every per-call value, so
SQLAlchemy reuses their cache keys and compiled SQL; see the comment above the statements.
Statements whose rows become trials select in the layouts :mod:`nas.storage._records` decodes
(:class:`~nas.storage._records.TrialRow`, the ``CHILD_*`` kinds).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Float,
    Integer,
    Select,
    Table,
    Text,
    Update,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast

from nas._types import TrialState
from nas.storage._models import (
    Base,
    Study,
    StudyObjective,
    Trial,
    TrialIntermediateValue,
    TrialParam,
    TrialSystemAttr,
    TrialUserAttr,
    TrialValue,
)
from nas.storage._records import (
    CHILD_INTERMEDIATE,
    CHILD_OBJECTIVE,
    CHILD_PARAM,
    CHILD_SYSTEM_ATTR,
    CHILD_USER_ATTR,
    CHILD_VALUE,
    TrialRow,
)

__all__ = [
    "ABANDON_OWNED",
    "ABANDON_UNOWNED",
    "ADVANCE_STUDY_COUNTER",
    "ALL_TRIALS",
    "CLAIM_BATCH",
    "CLAIM_TRIAL",
    "DELETE_INTERMEDIATE_AT_STEP",
    "DELETE_USER_ATTR",
    "DELETE_VALUES",
    "FINISH_TRIAL",
    "HEARTBEAT",
    "INSERT_INTERMEDIATE",
    "INSERT_PARAMS",
    "INSERT_SYSTEM_ATTRS",
    "INSERT_TRIAL",
    "INSERT_USER_ATTR",
    "INSERT_VALUES",
    "LOCK_STUDY_COUNTER",
    "LOCK_TRIAL",
    "LOCK_TRIAL_FOR_REPORT",
    "LOCK_TRIAL_OWNER",
    "MAX_TRIALS_LOADED_ONE_BY_ONE",
    "REQUEUE_OWNED",
    "REQUEUE_UNOWNED",
    "SELECT_CHILDREN_OF_TRIAL",
    "SELECT_CLAIM_CANDIDATES",
    "SELECT_OBJECTIVES",
    "SELECT_RUNNING",
    "SELECT_STUDY_COUNTER",
    "SELECT_TRIAL",
    "SELECT_TRIAL_IDS",
    "SELECT_TRIAL_OWNER",
    "STATE_RUNNING",
    "STATE_WAITING",
    "StudyQueries",
    "TOUCH_TRIAL",
    "TOUCH_TRIAL_FOR_REPORT",
    "TRIALS_IN_SCOPE",
    "TRIALS_UPDATED_SINCE",
    "TRIALS_UPDATED_SINCE_IN_SCOPE",
    "state_slots",
]

CLAIM_BATCH = 8
STATE_WAITING = TrialState.WAITING.value
STATE_RUNNING = TrialState.RUNNING.value


# ------------------------------------------------------------------- pre-built statements
#
# The hot-path statements are built once, here, with a ``bindparam`` for every per-call value.
# Executing the same statement object lets SQLAlchemy reuse its memoized cache key and the
# compiled SQL of each dialect, so a call costs only parameter binding and the round trip.
# Bind parameter names never equal a column name of the table an UPDATE or INSERT writes
# (SQLAlchemy would read such a key as a SET value).


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


_STUDIES = _table(Study)
_OBJECTIVES = _table(StudyObjective)
_TRIALS = _table(Trial)
_PARAMS = _table(TrialParam)
_VALUES = _table(TrialValue)
_INTERMEDIATE = _table(TrialIntermediateValue)
_USER_ATTRS = _table(TrialUserAttr)
_SYSTEM_ATTRS = _table(TrialSystemAttr)

#: The columns a FrozenTrial is built from, in :class:`~nas.storage._records.TrialRow` order.
_TRIAL_COLUMNS = tuple(_TRIALS.c[name] for name in TrialRow._fields)

# Studies. ``FOR NO KEY UPDATE`` (PostgreSQL; SQLite ignores it, its write transaction holds
# the database lock) serializes writers of the row but not inserts of rows referencing it
# (foreign key checks take ``KEY SHARE``).
SELECT_STUDY_COUNTER = select(_STUDIES.c.next_trial_number).where(
    _STUDIES.c.id == bindparam("sid")
)
LOCK_STUDY_COUNTER = SELECT_STUDY_COUNTER.with_for_update(key_share=True)
ADVANCE_STUDY_COUNTER = (
    update(_STUDIES)
    .where(_STUDIES.c.id == bindparam("sid"))
    .values(next_trial_number=bindparam("p_next"), updated_at=bindparam("p_now"))
)
SELECT_OBJECTIVES = (
    select(_OBJECTIVES.c.name, _OBJECTIVES.c.direction)
    .where(_OBJECTIVES.c.study_id == bindparam("sid"))
    .order_by(_OBJECTIVES.c.idx)
)

# Trials: reads.
SELECT_TRIAL = select(*_TRIAL_COLUMNS, _TRIALS.c.study_id).where(_TRIALS.c.id == bindparam("tid"))
LOCK_TRIAL = SELECT_TRIAL.with_for_update(key_share=True)
SELECT_TRIAL_OWNER = select(_TRIALS.c.study_id, _TRIALS.c.state, _TRIALS.c.worker_id).where(
    _TRIALS.c.id == bindparam("tid")
)
LOCK_TRIAL_OWNER = SELECT_TRIAL_OWNER.with_for_update(key_share=True)
#: The trial's owner row plus its study's number of objectives (what ``report`` validates).
LOCK_TRIAL_FOR_REPORT = (
    select(
        _TRIALS.c.study_id,
        _TRIALS.c.state,
        _TRIALS.c.worker_id,
        select(func.count())
        .where(_OBJECTIVES.c.study_id == _TRIALS.c.study_id)
        .scalar_subquery()
        .label("n_objectives"),
    )
    .where(_TRIALS.c.id == bindparam("tid"))
    .with_for_update(key_share=True, of=_TRIALS)
)
#: ``state IN (:state_0, ..., :state_4)``, one slot per TrialState, instead of an expanding
#: IN list: the SQL text stays the same (SQLAlchemy re-renders an expanding list at every
#: execution, and drivers cache prepared statements by text). See :func:`state_slots`.
_STATE_SLOTS = tuple(f"state_{i}" for i in range(len(TrialState)))
SELECT_RUNNING = (
    select(_TRIALS.c.id, _TRIALS.c.worker_id, _TRIALS.c.heartbeat_at)
    .where(_TRIALS.c.study_id == bindparam("sid"), _TRIALS.c.state == STATE_RUNNING)
    .order_by(_TRIALS.c.number)
)
SELECT_TRIAL_IDS = (
    select(_TRIALS.c.number, _TRIALS.c.id)
    .where(
        _TRIALS.c.study_id == bindparam("sid"),
        _TRIALS.c.number >= bindparam("first"),
        _TRIALS.c.number < bindparam("stop"),
    )
    .order_by(_TRIALS.c.number)  # steers PostgreSQL to the (study_id, number) index
)
#: Up to ``CLAIM_BATCH`` WAITING candidates, in number order.
SELECT_CLAIM_CANDIDATES = (
    select(_TRIALS.c.id)
    .where(_TRIALS.c.study_id == bindparam("sid"), _TRIALS.c.state == STATE_WAITING)
    .order_by(_TRIALS.c.number)
    .limit(CLAIM_BATCH)
)

# Trials: writes. Every statement that changes a trial or its children sets (or runs in a
# transaction that sets) ``trials.updated_at`` to the time of the write, except HEARTBEAT:
# liveness only, or every RUNNING trial would look changed at every poll.
INSERT_TRIAL = insert(_TRIALS)
INSERT_PARAMS = insert(_PARAMS)
INSERT_SYSTEM_ATTRS = insert(_SYSTEM_ATTRS)
INSERT_USER_ATTR = insert(_USER_ATTRS)
INSERT_VALUES = insert(_VALUES)
INSERT_INTERMEDIATE = insert(_INTERMEDIATE)
CLAIM_TRIAL = (
    update(_TRIALS)
    .where(_TRIALS.c.id == bindparam("tid"), _TRIALS.c.state == STATE_WAITING)
    .values(
        state=STATE_RUNNING,
        worker_id=bindparam("p_worker"),
        started_at=bindparam("p_now"),
        heartbeat_at=bindparam("p_now"),
        updated_at=bindparam("p_now"),
    )
)
FINISH_TRIAL = (
    update(_TRIALS)
    .where(_TRIALS.c.id == bindparam("tid"))
    .values(
        state=bindparam("p_state"),
        finished_at=bindparam("p_now"),
        failure_reason=bindparam("p_reason"),
        updated_at=bindparam("p_now"),
        metrics_json=bindparam("p_metrics"),
        constraints_json=bindparam("p_constraints"),
    )
)
HEARTBEAT = (
    update(_TRIALS)
    .where(
        _TRIALS.c.id == bindparam("tid"),
        _TRIALS.c.state == STATE_RUNNING,
        _TRIALS.c.worker_id == bindparam("p_worker"),
    )
    .values(heartbeat_at=bindparam("p_now"))
)
#: Marks a trial changed (a write to its children); the row count tells whether it exists.
#: Takes the same row lock as ``LOCK_TRIAL_OWNER``, in the statement that had to run anyway.
TOUCH_TRIAL = (
    update(_TRIALS).where(_TRIALS.c.id == bindparam("tid")).values(updated_at=bindparam("p_now"))
)
_N_OBJECTIVES_OF_TRIAL = (
    select(func.count()).where(_OBJECTIVES.c.study_id == _TRIALS.c.study_id).scalar_subquery()
)
#: ``report``'s fast path: marks the trial changed only if it is RUNNING and its study has
#: more than ``p_max_idx`` objectives (parameter: the largest objective index reported), so
#: the one UPDATE both validates and locks. A row count of 0 sends ``report`` to
#: ``LOCK_TRIAL_FOR_REPORT`` to find out why.
TOUCH_TRIAL_FOR_REPORT = (
    update(_TRIALS)
    .where(
        _TRIALS.c.id == bindparam("tid"),
        _TRIALS.c.state == STATE_RUNNING,
        bindparam("p_max_idx", type_=Integer) < _N_OBJECTIVES_OF_TRIAL,
    )
    .values(updated_at=bindparam("p_now"))
)


def _requeue(owner: ColumnElement[bool]) -> Update:
    return (
        update(_TRIALS)
        .where(_TRIALS.c.id == bindparam("tid"), _TRIALS.c.state == STATE_RUNNING, owner)
        .values(
            state=STATE_WAITING,
            worker_id=None,
            started_at=None,
            heartbeat_at=None,
            restarts=_TRIALS.c.restarts + 1,
            updated_at=bindparam("p_now"),
        )
    )


REQUEUE_OWNED = _requeue(_TRIALS.c.worker_id == bindparam("p_worker"))
REQUEUE_UNOWNED = _requeue(_TRIALS.c.worker_id.is_(None))


def _abandon(owner: ColumnElement[bool]) -> Update:
    return (
        update(_TRIALS)
        .where(_TRIALS.c.id == bindparam("tid"), _TRIALS.c.state == STATE_RUNNING, owner)
        .values(
            state=TrialState.FAILED.value,
            finished_at=bindparam("p_now"),
            failure_reason=bindparam("p_reason"),
            updated_at=bindparam("p_now"),
        )
    )


ABANDON_OWNED = _abandon(_TRIALS.c.worker_id == bindparam("p_worker"))
ABANDON_UNOWNED = _abandon(_TRIALS.c.worker_id.is_(None))
DELETE_VALUES = delete(_VALUES).where(_VALUES.c.trial_id == bindparam("tid"))
#: Executed with one parameter set per objective index (executemany).
DELETE_INTERMEDIATE_AT_STEP = delete(_INTERMEDIATE).where(
    _INTERMEDIATE.c.trial_id == bindparam("tid"),
    _INTERMEDIATE.c.step == bindparam("step"),
    _INTERMEDIATE.c.objective_idx == bindparam("idx"),
)
DELETE_USER_ATTR = delete(_USER_ATTRS).where(
    _USER_ATTRS.c.trial_id == bindparam("tid"), _USER_ATTRS.c.key == bindparam("attr_key")
)

# The children of ONE trial - its study's objectives (to name the values) and the trial's
# params, values, intermediate values, user and system attributes - in ONE statement: a UNION
# ALL of uniform rows ``(kind, key, text, ord, step, value)`` ordered by (kind, ord, step), so
# that objectives come first (by index), params and attributes in insertion order (by id) and
# intermediate values by (objective, step). The kinds are ``_records.CHILD_*``;
# ``_records.read_children`` groups the rows.


def _children_of_trial_query() -> CompoundSelect:
    """The UNION ALL described above; parameters ``sid`` (the trial's study) and ``tid``."""
    # Typed NULLs: PostgreSQL takes the column types of a UNION from its first SELECT.
    null_big, null_float = sql_cast(null(), BigInteger), sql_cast(null(), Float)
    null_text = sql_cast(null(), Text)

    def kind(k: int) -> ColumnElement[int]:
        return literal_column(str(k), Integer)

    objectives = select(
        kind(CHILD_OBJECTIVE).label("kind"),
        _OBJECTIVES.c.name.label("key"),
        _OBJECTIVES.c.direction.label("text"),
        _OBJECTIVES.c.idx.label("ord"),
        null_big.label("step"),
        null_float.label("value"),
    ).where(_OBJECTIVES.c.study_id == bindparam("sid"))
    p, v, iv, ua, sa = _PARAMS, _VALUES, _INTERMEDIATE, _USER_ATTRS, _SYSTEM_ATTRS
    children = [
        (p, (kind(CHILD_PARAM), p.c.name, p.c.value_json, p.c.id, null_big, null_float)),
        (v, (kind(CHILD_VALUE), null_text, null_text, v.c.objective_idx, null_big, v.c.value)),
        (iv, (kind(CHILD_INTERMEDIATE), null_text, null_text, iv.c.objective_idx, iv.c.step,
              iv.c.value)),
        (ua, (kind(CHILD_USER_ATTR), ua.c.key, ua.c.value_json, ua.c.id, null_big, null_float)),
        (sa, (kind(CHILD_SYSTEM_ATTR), sa.c.key, sa.c.value_json, sa.c.id, null_big,
              null_float)),
    ]  # fmt: skip
    return union_all(
        objectives,
        *(
            select(*columns).where(table.c.trial_id == bindparam("tid"))
            for table, columns in children
        ),
    ).order_by(literal_column("kind"), literal_column("ord"), literal_column("step"))


SELECT_CHILDREN_OF_TRIAL = _children_of_trial_query()
#: ``get_trials`` loads the children of at most this many trials one by one with
#: ``SELECT_CHILDREN_OF_TRIAL``; beyond, with one lean statement per table joined with the
#: trials in scope (on SQLite 10,000 trials load in ~0.19 s so, ~0.29 s by one UNION ALL).
#: Not one UNION ALL with ``trial_id IN (...)`` for a few trials: on PostgreSQL its generic
#: plan, made while the tables are small, seq-scans them ever after (until the next ANALYZE),
#: whereas ``trial_id = $1`` keeps its index scan.
MAX_TRIALS_LOADED_ONE_BY_ONE = 8


@dataclass(frozen=True, slots=True)
class StudyQueries:
    """``get_trials``' statements for one scope of a study's trials.

    ``trials`` selects the trials' rows, in number order if ``by_number`` (else the caller
    sorts them); the others, one per child table, select ``(trial_id, ...)`` for those same
    trials (used beyond ``MAX_TRIALS_LOADED_ONE_BY_ONE`` trials; grouped by
    ``TrialsMixin._children_of_study_trials``).
    """

    by_number: bool
    trials: Select[Any]
    params: Select[Any]
    values: Select[Any]
    intermediate: Select[Any]
    user_attrs: Select[Any]
    system_attrs: Select[Any]


def _study_queries(
    *scope: ColumnElement[bool], order_by: ColumnElement[Any] | None = None
) -> StudyQueries:
    """The statements of :class:`StudyQueries` for the trials matching ``scope``, the trials
    ordered by ``order_by`` (default: by number) - an order that steers the planner to an
    index, when the default would steer it away."""

    def of_trials_in_scope(child: Table, *columns: ColumnElement[Any]) -> Select[Any]:
        return (
            select(child.c.trial_id, *columns)
            .join_from(child, _TRIALS, _TRIALS.c.id == child.c.trial_id)
            .where(*scope)
        )

    p, v, iv, ua, sa = _PARAMS, _VALUES, _INTERMEDIATE, _USER_ATTRS, _SYSTEM_ATTRS
    return StudyQueries(
        by_number=order_by is None,
        # ORDER BY number on the bare table (no join) is what makes PostgreSQL pick the
        # (study_id, number) index in a generic plan (psycopg prepares repeated statements).
        trials=select(*_TRIAL_COLUMNS)
        .where(*scope)
        .order_by(_TRIALS.c.number if order_by is None else order_by),
        params=of_trials_in_scope(p, p.c.name, p.c.value_json).order_by(p.c.id),
        values=of_trials_in_scope(v, v.c.objective_idx, v.c.value).order_by(v.c.objective_idx),
        intermediate=of_trials_in_scope(iv, iv.c.objective_idx, iv.c.step, iv.c.value).order_by(
            iv.c.objective_idx, iv.c.step
        ),
        user_attrs=of_trials_in_scope(ua, ua.c.key, ua.c.value_json).order_by(ua.c.id),
        system_attrs=of_trials_in_scope(sa, sa.c.key, sa.c.value_json).order_by(sa.c.id),
    )


#: Every trial of the study (parameter ``sid``): the full load. It has statements of its own,
#: without the always-true ``number >= 0`` and ``state IN (every state)``: with those,
#: PostgreSQL without statistics (a new database before autovacuum's first ANALYZE) expects
#: one trial and picks nested loops, and 10,000 trials loaded ~30% slower.
ALL_TRIALS = _study_queries(_TRIALS.c.study_id == bindparam("sid"))
#: Trials with ``number >= min_number`` whose state is in the ``_STATE_SLOTS`` (parameters
#: ``sid``, ``min_number`` and :func:`state_slots`).
TRIALS_IN_SCOPE = _study_queries(
    _TRIALS.c.study_id == bindparam("sid"),
    _TRIALS.c.number >= bindparam("min_number"),
    _TRIALS.c.state.in_([bindparam(slot) for slot in _STATE_SLOTS]),
)
#: Trials with ``updated_at >= since`` (parameters ``sid`` and ``since``, an aware datetime): a
#: poller's "what changed since my cursor". The equality on ``study_id`` and the range on
#: ``updated_at`` are the index ``ix_trials_study_id_updated_at``. The trials come ordered by
#: ``updated_at`` (``get_trials`` sorts them by number): ordered by number, SQLite (no
#: statistics) prefers the (study_id, number) index, which spares the sort but reads every
#: trial of the study.
TRIALS_UPDATED_SINCE = _study_queries(
    _TRIALS.c.study_id == bindparam("sid"),
    _TRIALS.c.updated_at >= bindparam("since"),
    order_by=_TRIALS.c.updated_at,
)
#: :data:`TRIALS_UPDATED_SINCE` and :data:`TRIALS_IN_SCOPE` combined (parameters ``sid``,
#: ``since``, ``min_number`` and :func:`state_slots`). Separate from the former because
#: PostgreSQL's generic plan, which expects few trials in the state slots, would then prefer
#: ``ix_trials_study_id_state`` for the plain poll too.
TRIALS_UPDATED_SINCE_IN_SCOPE = _study_queries(
    _TRIALS.c.study_id == bindparam("sid"),
    _TRIALS.c.updated_at >= bindparam("since"),
    _TRIALS.c.number >= bindparam("min_number"),
    _TRIALS.c.state.in_([bindparam(slot) for slot in _STATE_SLOTS]),
    order_by=_TRIALS.c.updated_at,
)


def state_slots(states: Container[TrialState] | None) -> dict[str, str]:
    """Parameters for ``_STATE_SLOTS``: the states selected (all if ``None``), then ``""``.

    ``""`` matches no trial (a CHECK constraint limits ``trials.state`` to the state names).
    """
    selected = [s.value for s in TrialState if states is None or s in states]
    padding = [""] * (len(_STATE_SLOTS) - len(selected))
    return dict(zip(_STATE_SLOTS, selected + padding, strict=True))
