"""Incident-to-event links filled in sorted bulk, replacing the index on ``events.incident_id``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_links",
        sa.Column("incident_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "link_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("linked_through", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO event_links (incident_id, event_id) SELECT incident_id, id FROM events "
        "WHERE incident_id IS NOT NULL ORDER BY incident_id, id"
    )
    op.execute("INSERT INTO link_state (id, linked_through) SELECT 1, coalesce(max(id), 0) FROM events")
    op.drop_index("ix_events_incident_id", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_incident_id", "events", ["incident_id"])
    op.drop_table("link_state")
    op.drop_table("event_links")
