"""Ingest adapters: one module per wire format, each turning bytes into ``EventIn``s."""
