"""The relational schema, as SQLAlchemy Core tables shared by SQLite and PostgreSQL.

Times are integer epoch microseconds (``*_us``); JSON columns hold msgspec-encoded text.
Alembic migrations in ``migrations/versions`` create exactly this; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = (
    "Id",
    "mappings",
    "alarm_type_changes",
    "audit_checkpoints",
    "audit_records",
    "audit_state",
    "sessions",
    "users",
    "alarm_types",
    "event_links",
    "events",
    "incidents",
    "link_state",
    "metadata",
    "outbox",
    "timeline",
    "tokens",
)

metadata = MetaData()

Id = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids; on SQLite an INTEGER PRIMARY KEY, which is the rowid itself (no extra index)."""

alarm_types = Table(
    "alarm_types",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("category", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("sop", Text, nullable=False),
    Column("correlation_window", Integer, nullable=False),
    Column("radius_m", Float),
    Column("description", Text),
    Column("aliases", Text, nullable=False, server_default="[]"),
    Column("builtin", Boolean, nullable=False, server_default="0"),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("retention_days", Integer),
    Column("retired_us", BigInteger),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("source", String(200), nullable=False),
    Column("external_id", String(200)),
    Column("type", String(200), nullable=False),
    Column("alarm_type", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("site", String(200)),
    Column("occurred_us", BigInteger, nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("condition", String(8), nullable=False),
    Column("exercise", Boolean, nullable=False),
    Column("lat", Float),
    Column("lon", Float),
    Column("description", Text),
    Column("attributes", Text),
    Column("raw", Text),
    Column("incident_id", BigInteger),
    Index("ix_events_external_id_source", "external_id", "source", unique=True),
    Index("ix_events_received_us", "received_us"),
)
"""No index on ``incident_id``: which events an incident has is ``event_links`` plus the
unlinked tail (``tocsin.store.links`` says why)."""

event_links = Table(
    "event_links",
    metadata,
    Column("incident_id", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)
"""(incident, event) for every event up to ``link_state.linked_through`` that has an incident."""

link_state = Table(
    "link_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("linked_through", BigInteger, nullable=False),
)
"""One row (id 1): the highest event id whose link is in ``event_links``."""

incidents = Table(
    "incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("alarm_type", String(64), nullable=False),
    Column("alarm_code", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("category", String(16), nullable=False),
    Column("handling", String(16), nullable=False),
    Column("condition", String(8), nullable=False),
    Column("site", String(200)),
    Column("lat", Float),
    Column("lon", Float),
    Column("first_event_us", BigInteger, nullable=False),
    Column("last_event_us", BigInteger, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("opened_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("exercise", Boolean, nullable=False),
    Column("assignee", String(200)),
    Column("disposition", String(16)),
    Column("merged_into", BigInteger),
    Column("unmapped_type", String(200)),
    Column("title", String(400)),
    Index("ix_incidents_queue", "handling", "priority", "first_event_us"),
    Index("ix_incidents_site", "site"),
    Index("ix_incidents_alarm_type", "alarm_type"),
    Index("ix_incidents_opened_us", "opened_us"),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16)),
    Column("text", Text),
    Column("data", Text),
    Index("ix_timeline_incident_id", "incident_id"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("channel", String(400), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("state", String(12), nullable=False),
    Column("last_error", Text),
    Column("delivered_us", BigInteger),
    Index("ix_outbox_state_next", "state", "next_attempt_us"),
)

alarm_type_changes = Table(
    "alarm_type_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(16), nullable=False),
    Column("key", String(64), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("change", String(16), nullable=False),
    Column("verdict", String(8), nullable=False),
    Column("justification", Text),
    Column("definition", Text, nullable=False),
    Index("ix_alarm_type_changes_code", "code"),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("disabled_us", BigInteger),
)

sessions = Table(
    "sessions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger),
)

audit_records = Table(
    "audit_records",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("record", Text, nullable=False),
    Column("leaf", LargeBinary(32), nullable=False),
    Index("ix_audit_records_action", "action"),
    Index("ix_audit_records_at_us", "at_us"),
)

audit_state = Table(
    "audit_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("frontier", LargeBinary, nullable=False),
    Column("last_leaf", LargeBinary(32)),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("frontier", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

mappings = Table(
    "mappings",
    metadata,
    Column("vendor_code", String(200), primary_key=True),
    Column("alarm_type", String(64), nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("updated_by", String(200), nullable=False),
)
