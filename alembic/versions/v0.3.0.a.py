"""When each trial last changed: ``trials.updated_at`` and the index ``(study_id, updated_at)``.

Revision ID: v0.3.0.a
Revises: v0.2.0.a
Create Date: 2024-09-01 00:00:00

Every write that changes a trial sets ``updated_at`` (a heartbeat does not), so a poller can ask
for the trials changed since a cursor (``RDBStorage.get_trials(updated_since=...)``) through the
index instead of reading every trial. Existing rows get the latest time they are known to have
changed: ``COALESCE(finished_at, started_at, created_at)``.

The column is added nullable, backfilled, then made NOT NULL. On SQLite the last step recreates
the table (batch mode); the table is given as a frozen copy of its v0.2.0.a definition
(``copy_from``) rather than reflected, so that its named CHECK constraint and its indexes are
recreated exactly. Only the name of that CHECK is read from the database, to keep it: it is
``ck_trials_state`` where ``create_all`` made the table, but ``ck_trials_ck_trials_state``
where migration v0.1.0.a did (the naming convention of ``env.py``'s target metadata applied to
a name that already followed it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "v0.3.0.a"
down_revision: str | None = "v0.2.0.a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = "state IN ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAILED')"
_INDEX = "ix_trials_study_id_updated_at"
_CHECK_NAMES = ("ck_trials_state", "ck_trials_ck_trials_state")


def _state_check_name() -> str:
    """The name of the CHECK on ``trials.state`` in this database (see the module docstring);
    only a SQLite table recreate needs it."""
    if context.is_offline_mode() or op.get_bind().dialect.name != "sqlite":
        return _CHECK_NAMES[0]
    names = [c["name"] for c in sa.inspect(op.get_bind()).get_check_constraints("trials")]
    return next((name for name in names if name in _CHECK_NAMES), _CHECK_NAMES[0])


def _datetime() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def _trials(*, updated_at: bool | None, check: str = _CHECK_NAMES[0]) -> sa.Table:
    """The ``trials`` table of v0.2.0.a; plus ``updated_at`` unless ``None`` (then whether it
    is nullable); ``check``: the name of the CHECK on ``state``."""
    metadata = sa.MetaData()
    sa.Table("studies", metadata, sa.Column("id", sa.Integer(), primary_key=True))
    extra = (
        [] if updated_at is None else [sa.Column("updated_at", _datetime(), nullable=updated_at)]
    )
    table = sa.Table(
        "trials",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("budget", sa.Float(), nullable=True),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("started_at", _datetime(), nullable=True),
        sa.Column("finished_at", _datetime(), nullable=True),
        sa.Column("heartbeat_at", _datetime(), nullable=True),
        sa.Column("worker_id", sa.String(256), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("restarts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        *extra,
        sa.PrimaryKeyConstraint("id", name="pk_trials"),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name="fk_trials_study_id_studies", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("study_id", "number", name="uq_trials_study_id_number"),
        sa.CheckConstraint(_STATES, name=check),
    )
    sa.Index("ix_trials_study_id_state", table.c.study_id, table.c.state)
    sa.Index("ix_trials_state_heartbeat_at", table.c.state, table.c.heartbeat_at)
    return table


def upgrade() -> None:
    with op.batch_alter_table("trials", copy_from=_trials(updated_at=None)) as batch:
        batch.add_column(sa.Column("updated_at", _datetime(), nullable=True))
    trials = _trials(updated_at=True)
    op.execute(
        trials.update().values(
            updated_at=sa.func.coalesce(
                trials.c.finished_at, trials.c.started_at, trials.c.created_at
            )
        )
    )
    check = _state_check_name()
    with op.batch_alter_table("trials", copy_from=_trials(updated_at=True, check=check)) as batch:
        batch.alter_column("updated_at", existing_type=_datetime(), nullable=False)
    op.create_index(_INDEX, "trials", ["study_id", "updated_at"])


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="trials")
    check = _state_check_name()
    with op.batch_alter_table("trials", copy_from=_trials(updated_at=False, check=check)) as batch:
        batch.drop_column("updated_at")
