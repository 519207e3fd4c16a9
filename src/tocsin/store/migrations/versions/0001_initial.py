"""Initial schema: alarm types, events, incidents, timeline, tokens, outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarm_types",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("sop", sa.Text, nullable=False),
        sa.Column("correlation_window", sa.Integer, nullable=False),
        sa.Column("radius_m", sa.Float),
        sa.Column("description", sa.Text),
        sa.Column("aliases", sa.Text, nullable=False, server_default="[]"),
        sa.Column("builtin", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("external_id", sa.String(200)),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("alarm_type", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("site", sa.String(200)),
        sa.Column("occurred_us", sa.BigInteger, nullable=False),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("condition", sa.String(8), nullable=False),
        sa.Column("exercise", sa.Boolean, nullable=False),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("description", sa.Text),
        sa.Column("attributes", sa.Text),
        sa.Column("raw", sa.Text),
        sa.Column("incident_id", sa.BigInteger),
    )
    op.create_index("ix_events_external_id_source", "events", ["external_id", "source"], unique=True)
    op.create_index("ix_events_incident_id", "events", ["incident_id"])
    op.create_index("ix_events_received_us", "events", ["received_us"])
    op.create_table(
        "incidents",
        sa.Column("id", Id, primary_key=True, autoincrement=False),
        sa.Column("alarm_type", sa.String(64), nullable=False),
        sa.Column("alarm_code", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("handling", sa.String(16), nullable=False),
        sa.Column("condition", sa.String(8), nullable=False),
        sa.Column("site", sa.String(200)),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("first_event_us", sa.BigInteger, nullable=False),
        sa.Column("last_event_us", sa.BigInteger, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("opened_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("exercise", sa.Boolean, nullable=False),
        sa.Column("assignee", sa.String(200)),
        sa.Column("disposition", sa.String(16)),
        sa.Column("merged_into", sa.BigInteger),
        sa.Column("unmapped_type", sa.String(200)),
        sa.Column("title", sa.String(400)),
    )
    op.create_index("ix_incidents_queue", "incidents", ["handling", "priority", "first_event_us"])
    op.create_index("ix_incidents_site", "incidents", ["site"])
    op.create_index("ix_incidents_alarm_type", "incidents", ["alarm_type"])
    op.create_index("ix_incidents_opened_us", "incidents", ["opened_us"])
    op.create_table(
        "timeline",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.BigInteger, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16)),
        sa.Column("text", sa.Text),
        sa.Column("data", sa.Text),
    )
    op.create_index("ix_timeline_incident_id", "timeline", ["incident_id"])
    op.create_table(
        "tokens",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("revoked_us", sa.BigInteger),
    )
    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=False),
        sa.Column("channel", sa.String(400), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_us", sa.BigInteger),
    )
    op.create_index("ix_outbox_state_next", "outbox", ["state", "next_attempt_us"])


def downgrade() -> None:
    for table in ("outbox", "tokens", "timeline", "incidents", "events", "alarm_types"):
        op.drop_table(table)
