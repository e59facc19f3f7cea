"""Intermediate values, trial user/system attrs, artifacts, and an index for stale heartbeats.

Revision ID: v0.1.0.b
Revises: v0.1.0.a
Create Date: 2024-07-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v0.1.0.b"
down_revision: str | None = "v0.1.0.a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(column: str, table: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=name, ondelete="CASCADE")


def _trial_attrs_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        _fk("trial_id", "trials", f"fk_{name}_trial_id_trials"),
        sa.UniqueConstraint("trial_id", "key", name=f"uq_{name}_trial_id_key"),
    )


def upgrade() -> None:
    op.create_table(
        "trial_intermediate_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("objective_idx", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trial_intermediate_values"),
        _fk("trial_id", "trials", "fk_trial_intermediate_values_trial_id_trials"),
        sa.UniqueConstraint(
            "trial_id",
            "objective_idx",
            "step",
            name="uq_trial_intermediate_values_trial_id_objective_idx_step",
        ),
    )
    _trial_attrs_table("trial_user_attrs")
    _trial_attrs_table("trial_system_attrs")
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_artifacts"),
        _fk("study_id", "studies", "fk_artifacts_study_id_studies"),
        _fk("trial_id", "trials", "fk_artifacts_trial_id_trials"),
    )
    op.create_index("ix_artifacts_study_id_trial_id", "artifacts", ["study_id", "trial_id"])
    op.create_index("ix_artifacts_trial_id", "artifacts", ["trial_id"])
    # A reaper looks for RUNNING trials whose heartbeat is older than a deadline.
    op.create_index("ix_trials_state_heartbeat_at", "trials", ["state", "heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_trials_state_heartbeat_at", table_name="trials")
    op.drop_index("ix_artifacts_trial_id", table_name="artifacts")
    op.drop_index("ix_artifacts_study_id_trial_id", table_name="artifacts")
    op.drop_table("artifacts")
    op.drop_table("trial_system_attrs")
    op.drop_table("trial_user_attrs")
    op.drop_table("trial_intermediate_values")
