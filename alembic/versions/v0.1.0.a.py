"""Initial schema: studies with objectives and user attrs, trials with params and final values.

Revision ID: v0.1.0.a
Revises:
Create Date: 2024-06-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v0.1.0.a"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = "state IN ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAILED')"


def _datetime() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def _fk(column: str, table: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=name, ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("space_json", sa.Text(), nullable=False),
        sa.Column("searcher_json", sa.Text(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("next_trial_number", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("updated_at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_studies"),
        sa.UniqueConstraint("name", name="uq_studies_name"),
    )
    op.create_table(
        "study_objectives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_study_objectives"),
        _fk("study_id", "studies", "fk_study_objectives_study_id_studies"),
        sa.UniqueConstraint("study_id", "idx", name="uq_study_objectives_study_id_idx"),
        sa.UniqueConstraint("study_id", "name", name="uq_study_objectives_study_id_name"),
        sa.CheckConstraint(
            "direction IN ('minimize', 'maximize')", name="ck_study_objectives_direction"
        ),
    )
    op.create_table(
        "study_user_attrs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_study_user_attrs"),
        _fk("study_id", "studies", "fk_study_user_attrs_study_id_studies"),
        sa.UniqueConstraint("study_id", "key", name="uq_study_user_attrs_study_id_key"),
    )
    op.create_table(
        "trials",
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
        sa.PrimaryKeyConstraint("id", name="pk_trials"),
        _fk("study_id", "studies", "fk_trials_study_id_studies"),
        sa.UniqueConstraint("study_id", "number", name="uq_trials_study_id_number"),
        sa.CheckConstraint(_STATES, name="ck_trials_state"),
    )
    op.create_index("ix_trials_study_id_state", "trials", ["study_id", "state"])
    op.create_table(
        "trial_params",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trial_params"),
        _fk("trial_id", "trials", "fk_trial_params_trial_id_trials"),
        sa.UniqueConstraint("trial_id", "name", name="uq_trial_params_trial_id_name"),
    )
    op.create_table(
        "trial_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("objective_idx", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trial_values"),
        _fk("trial_id", "trials", "fk_trial_values_trial_id_trials"),
        sa.UniqueConstraint(
            "trial_id", "objective_idx", name="uq_trial_values_trial_id_objective_idx"
        ),
    )


def downgrade() -> None:
    op.drop_table("trial_values")
    op.drop_table("trial_params")
    op.drop_index("ix_trials_study_id_state", table_name="trials")
    op.drop_table("trials")
    op.drop_table("study_user_attrs")
    op.drop_table("study_objectives")
    op.drop_table("studies")
