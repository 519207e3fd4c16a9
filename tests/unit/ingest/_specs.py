"""Access to the shared protocol vectors (``/work/shared/specs``) for the ingest tests.

The vectors live outside the repository; when they are absent, tests that need them are
skipped with a reason instead of failing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tocsin.ingest.sia_codec import key_from_config

SPECS = Path(__file__).resolve().parents[3].parent / "shared" / "specs"
SIA_DIR = SPECS / "vectors" / "sia_dc09"
CODES_DIR = SPECS / "vectors" / "sia_codes"
CID_DIR = SPECS / "vectors" / "contact_id"
MISSING = f"shared protocol vectors not found at {SPECS}"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def params(items: list[Any] | None, id_key: str | None = None) -> list[Any]:
    """pytest params for ``items``; one skipped param when the vectors are absent."""
    if not items:
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="no-vectors")]
    return [pytest.param(item, id=str(item[id_key]) if id_key else None) for item in items]


def sia_index() -> list[dict[str, Any]]:
    return load_json(SIA_DIR / "index.json") or []


def wire(entry: dict[str, Any]) -> bytes:
    """The frame of a ``*.frame`` vector as it travels: LF + file + CR."""
    name: str = entry["file"]
    return b"\n" + (SIA_DIR / name).read_bytes() + b"\r"


def key_of(entry: dict[str, Any]) -> bytes | None:
    key = entry.get("key")
    return key_from_config(key["value"], key["format"]) if key else None


def by_file(name: str) -> dict[str, Any]:
    for entry in sia_index():
        if entry["file"] == name:
            return entry
    pytest.skip(f"{MISSING} (or {name} not in index.json)")
