"""Durable storage: schema, migrations, the single writer and the SQLite backend."""
