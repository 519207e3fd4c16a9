"""Vendor-code mappings: which alarm type a piece of equipment's own code means.

Adapters name events by vendor-qualified codes (``sia.BA``, ``cid.130``,
``hikvision.linedetection``, ``frigate.review.alert``). Defaults ship as data
(``tocsin/data/mappings/*.toml``, flat ``"vendor.code" = "alarm.key"`` pairs); an
administrator overrides or adds entries through the API (stored in ``mappings``).
Every entry passes the protected-category guard, and an entry whose target is not in
the dictionary is ignored with a warning: an unmapped code still becomes an
``unclassified`` incident, never a drop.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Mapping
from importlib.resources import files
from typing import Any

from sqlalchemy import Connection, select

from tocsin.guard import judge_term
from tocsin.store.schema import mappings

__all__ = ("default_mappings", "effective_mappings", "stored_mappings")

log = logging.getLogger(__name__)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, str]]:
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            yield from _flatten(value, name)
        elif isinstance(value, str):
            yield name, value


def default_mappings() -> dict[str, str]:
    """The shipped defaults, from every TOML file in ``tocsin/data/mappings``."""
    out: dict[str, str] = {}
    folder = files("tocsin") / "data" / "mappings"
    if not folder.is_dir():
        return out
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out.update(_flatten(tomllib.loads(entry.read_text(encoding="utf-8"))))
    return out


def stored_mappings(conn: Connection) -> dict[str, str]:
    return {code: key for code, key in conn.execute(select(mappings.c.vendor_code, mappings.c.alarm_type))}


def effective_mappings(conn: Connection, known_types: set[str]) -> dict[str, str]:
    """Defaults overlaid with stored entries, minus any the guard refuses or whose type is unknown."""
    merged = {**default_mappings(), **stored_mappings(conn)}
    out: dict[str, str] = {}
    for code, key in merged.items():
        if judge_term(code, field="vendor_code").verdict == "refused":
            log.error("vendor mapping refused by the guard; ignored", extra={"vendor_code": code})
            continue
        if key not in known_types:
            log.warning(
                "vendor mapping names an unknown alarm type; ignored", extra={"vendor_code": code, "alarm_type": key}
            )
            continue
        out[code] = key
    return out
