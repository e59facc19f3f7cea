"""Artifact contents stored in the database: the ``artifact_blobs`` table.

Revision ID: v0.2.0.a
Revises: v0.1.0.b
Create Date: 2024-08-01 00:00:00

One row per artifact whose content is kept in SQL (``RDBStorage.store_artifact``), keyed by the
artifact id and deleted with it. A table of its own so that listing artifacts never reads
contents. ``LONGBLOB`` on MySQL/MariaDB, whose plain ``BLOB`` holds at most 64 KiB.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import LONGBLOB

revision: str = "v0.2.0.a"
down_revision: str | None = "v0.1.0.b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artifact_blobs",
        sa.Column("artifact_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column(
            "data",
            sa.LargeBinary().with_variant(LONGBLOB(), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("artifact_id", name="pk_artifact_blobs"),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name="fk_artifact_blobs_artifact_id_artifacts",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("artifact_blobs")
