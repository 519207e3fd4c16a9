"""Alembic migrations; run programmatically by ``tocsin.store.database.migrate``."""
