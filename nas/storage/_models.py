"""SQLAlchemy 2 declarative models: the schema of a ``nas`` database at the head revision.

This module is the single source of truth for the *current* schema: a new database is created
from :data:`Base.metadata` with ``create_all`` and stamped at the head revision, and Alembic's
autogenerate compares against it. Migrations under ``alembic/versions`` never import these
models; they declare their own frozen table definitions, and a test checks that upgrading an
empty database through every migration yields exactly this schema.

Conventions:

* every table has an integer surrogate primary key ``id``, except ``artifact_blobs``, whose key
  is the id of the artifact it belongs to (one content per artifact);
* every row belonging to a study is deleted with it (``ON DELETE CASCADE`` on every foreign key);
* JSON values are stored as text produced by ``json.dumps(value, allow_nan=False)``, so that
  ``int``/``float``/``str``/``bool``/``None`` parameter values round-trip exactly;
* datetimes are stored in UTC and always come back as timezone-aware UTC datetimes, including on
  SQLite, which has no time zone support (see :class:`UtcDateTime`);
* every constraint and index has an explicit name (PostgreSQL limit: 63 characters), so that
  migrations can refer to it and SQLite batch migrations can recreate it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.mysql import LONGBLOB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "NAMING_CONVENTION",
    "TRIAL_STATES",
    "Artifact",
    "ArtifactBlob",
    "Base",
    "Study",
    "StudyObjective",
    "StudyUserAttr",
    "Trial",
    "TrialIntermediateValue",
    "TrialParam",
    "TrialSystemAttr",
    "TrialUserAttr",
    "TrialValue",
    "UtcDateTime",
]

#: Names given to constraints that are declared without one (new migrations rely on it).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: The values the ``trials.state`` column may hold (the names of :class:`nas.TrialState`).
TRIAL_STATES: tuple[str, ...] = ("WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAILED")

# The type of ``artifact_blobs.data``: ``BYTEA`` on PostgreSQL, ``BLOB`` on SQLite, and
# ``LONGBLOB`` on MySQL/MariaDB, whose plain ``BLOB`` holds at most 64 KiB.
_BLOB = LargeBinary().with_variant(LONGBLOB(), "mysql", "mariadb")

_STATE_CHECK = "state IN ({})".format(", ".join(f"'{s}'" for s in TRIAL_STATES))
_CASCADE = "CASCADE"


class UtcDateTime(TypeDecorator[datetime]):
    """A ``DateTime(timezone=True)`` column that only accepts and returns aware UTC datetimes.

    On bind, the value is converted to UTC; SQLite (no time zone support) receives it naive.
    On load, a naive value (SQLite) is tagged as UTC and an aware one (PostgreSQL ``timestamptz``
    in the session's time zone) is converted to UTC.

    Raises:
        ValueError: on bind, a naive datetime (its time zone would be a guess).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given; nas stores aware UTC times"
            )
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return the stored datetime as an aware UTC datetime."""
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - driver returned a string
            value = datetime.fromisoformat(str(value))
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, parse the stored text straight into an aware UTC datetime.

        SQLite returns the text SQLAlchemy wrote (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC): one
        ``fromisoformat`` of it with ``+00:00`` appended is several times faster than parsing
        it and then ``replace(tzinfo=UTC)`` (a load of 10,000 trials parses 20,000 or more).
        Any other text falls back to the general path; other dialects use it always.
        """
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general
        parse = datetime.fromisoformat

        def process(value: Any) -> datetime | None:
            if value.__class__ is str:
                try:
                    return parse(value + "+00:00")
                except ValueError:  # not the usual format (e.g. it has an offset already)
                    pass
            return cast("datetime | None", general(value))

        return process


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata`` holds the whole schema at the head revision."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _study_fk() -> ForeignKey:
    return ForeignKey("studies.id", ondelete=_CASCADE)


def _trial_fk() -> ForeignKey:
    return ForeignKey("trials.id", ondelete=_CASCADE)


class Study(Base):
    """One study: its definition (space, searcher, seed) and the next free trial number.

    ``next_trial_number`` is the counter that makes trial numbering atomic: it is read and
    advanced in the same transaction that inserts trials, with the study row locked.
    """

    __tablename__ = "studies"
    __table_args__ = (UniqueConstraint("name", name="uq_studies_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    space_json: Mapped[str] = mapped_column(Text, nullable=False)
    searcher_json: Mapped[str] = mapped_column(Text, nullable=False)
    seed: Mapped[int] = mapped_column(BigInteger, nullable=False)
    next_trial_number: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    # Added in v0.4.0.a: the study's constraints (JSON; NULL when it has none).
    constraints_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class StudyObjective(Base):
    """Objective ``idx`` (0-based, in definition order) of a study."""

    __tablename__ = "study_objectives"
    __table_args__ = (
        UniqueConstraint("study_id", "idx", name="uq_study_objectives_study_id_idx"),
        UniqueConstraint("study_id", "name", name="uq_study_objectives_study_id_name"),
        CheckConstraint("direction IN ('minimize', 'maximize')", name="direction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(Integer, _study_fk(), nullable=False)
    idx: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)


class StudyUserAttr(Base):
    """A user attribute of a study (JSON text)."""

    __tablename__ = "study_user_attrs"
    __table_args__ = (
        UniqueConstraint("study_id", "key", name="uq_study_user_attrs_study_id_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(Integer, _study_fk(), nullable=False)
    key: Mapped[str] = mapped_column(String(512), nullable=False)
    value_json: Mapped[str] = mapped_column(Text, nullable=False)


class Trial(Base):
    """One trial of a study; ``number`` is its 0-based position within the study.

    ``updated_at`` (added in v0.3.0.a, hence after ``restarts``) is the time of the last write
    that changed the trial or its children (creation, claim, report, user attribute, finish,
    re-queue, abandon); a heartbeat does not change it.

    ``metrics_json`` and ``constraints_json`` (added in v0.4.0.a) are written once, when the
    trial finishes: the other numbers its objective returned (``{"name": value}``, a
    non-finite value as ``null``), and in a constrained study its constraint violations
    (``{"violations": [...], "reason": ...}``, ``null`` for a violation that could not be
    evaluated). NULL when there are none.
    """

    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("study_id", "number", name="uq_trials_study_id_number"),
        Index("ix_trials_study_id_state", "study_id", "state"),
        # Added in v0.1.0.b: lets a reaper find stale RUNNING trials without a table scan.
        Index("ix_trials_state_heartbeat_at", "state", "heartbeat_at"),
        # Added in v0.3.0.a: "trials of a study changed since t" (a dashboard's poll).
        Index("ix_trials_study_id_updated_at", "study_id", "updated_at"),
        CheckConstraint(_STATE_CHECK, name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(Integer, _study_fk(), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    budget: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    restarts: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    metrics_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    constraints_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class TrialParam(Base):
    """A parameter value of a trial, as ``json.dumps`` text (exact round trip of scalars)."""

    __tablename__ = "trial_params"
    __table_args__ = (UniqueConstraint("trial_id", "name", name="uq_trial_params_trial_id_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer, _trial_fk(), nullable=False)
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    value_json: Mapped[str] = mapped_column(Text, nullable=False)


class TrialValue(Base):
    """The final value of objective ``objective_idx`` of a trial."""

    __tablename__ = "trial_values"
    __table_args__ = (
        UniqueConstraint(
            "trial_id", "objective_idx", name="uq_trial_values_trial_id_objective_idx"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer, _trial_fk(), nullable=False)
    objective_idx: Mapped[int] = mapped_column(Integer, nullable=False)
    value: Mapped[float] = mapped_column(Float, nullable=False)


class TrialIntermediateValue(Base):
    """A value of objective ``objective_idx`` reported at ``step`` while the trial ran."""

    __tablename__ = "trial_intermediate_values"
    __table_args__ = (
        UniqueConstraint(
            "trial_id",
            "objective_idx",
            "step",
            name="uq_trial_intermediate_values_trial_id_objective_idx_step",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer, _trial_fk(), nullable=False)
    objective_idx: Mapped[int] = mapped_column(Integer, nullable=False)
    step: Mapped[int] = mapped_column(BigInteger, nullable=False)
    value: Mapped[float] = mapped_column(Float, nullable=False)


class TrialUserAttr(Base):
    """A user attribute of a trial (JSON text)."""

    __tablename__ = "trial_user_attrs"
    __table_args__ = (
        UniqueConstraint("trial_id", "key", name="uq_trial_user_attrs_trial_id_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer, _trial_fk(), nullable=False)
    key: Mapped[str] = mapped_column(String(512), nullable=False)
    value_json: Mapped[str] = mapped_column(Text, nullable=False)


class TrialSystemAttr(Base):
    """A system attribute of a trial (the searcher's ``Proposal.info``; JSON text)."""

    __tablename__ = "trial_system_attrs"
    __table_args__ = (
        UniqueConstraint("trial_id", "key", name="uq_trial_system_attrs_trial_id_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer, _trial_fk(), nullable=False)
    key: Mapped[str] = mapped_column(String(512), nullable=False)
    value_json: Mapped[str] = mapped_column(Text, nullable=False)


class Artifact(Base):
    """A file produced by a study or one of its trials (checkpoint, plot, ...).

    The row keeps the path, the SHA-256 hex digest and the size in bytes. The content itself
    either lives wherever ``path`` points (``add_artifact``), or is stored in the database as the
    :class:`ArtifactBlob` of the same id (``store_artifact``; ``path`` is then a logical name).
    """

    __tablename__ = "artifacts"
    __table_args__ = (
        Index("ix_artifacts_study_id_trial_id", "study_id", "trial_id"),
        Index("ix_artifacts_trial_id", "trial_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(Integer, _study_fk(), nullable=False)
    trial_id: Mapped[int | None] = mapped_column(Integer, _trial_fk(), nullable=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class ArtifactBlob(Base):
    """The content of an artifact stored in the database (at most one per artifact).

    A table of its own, keyed by the artifact id, so that listing artifacts never reads
    contents. Deleted with its artifact (``ON DELETE CASCADE``), hence with the study or trial.
    """

    __tablename__ = "artifact_blobs"

    artifact_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("artifacts.id", ondelete=_CASCADE),
        primary_key=True,
        autoincrement=False,
    )
    data: Mapped[bytes] = mapped_column(_BLOB, nullable=False)
