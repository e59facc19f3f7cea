"""Constraints: ``studies.constraints_json``, ``trials.metrics_json``, ``trials.constraints_json``.

Revision ID: v0.4.0.a
Revises: v0.3.0.a
Create Date: 2024-10-01 00:00:00

A study's constraints are part of its definition (JSON, NULL for an unconstrained study). A
finished trial keeps the other numbers its objective returned besides the objectives
(``metrics_json``) and, in a constrained study, its constraint violations
(``constraints_json``); both are written once, when the trial finishes, and NULL otherwise.

Three nullable columns without a default: a plain ``ALTER TABLE ... ADD COLUMN`` on SQLite and
PostgreSQL alike (no table recreate), and existing rows need no backfill: an old study has no
constraints and its trials no metrics. The downgrade drops them (SQLite >= 3.35 drops a column
in place).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v0.4.0.a"
down_revision: str | None = "v0.3.0.a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("studies", sa.Column("constraints_json", sa.Text(), nullable=True))
    op.add_column("trials", sa.Column("metrics_json", sa.Text(), nullable=True))
    op.add_column("trials", sa.Column("constraints_json", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("trials", "constraints_json")
    op.drop_column("trials", "metrics_json")
    op.drop_column("studies", "constraints_json")
