"""Editable vendor-code mappings (``sia.BA`` → ``intrusion.burglary``), overriding shipped defaults.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mappings",
        sa.Column("vendor_code", sa.String(200), primary_key=True),
        sa.Column("alarm_type", sa.String(64), nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mappings")
