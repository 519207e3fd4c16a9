"""Decoding tocsin's JSON wire format: all or nothing, every bad item named."""

from __future__ import annotations

import msgspec
import pytest

from tocsin.errors import DecodeError, PayloadTooLarge
from tocsin.ingest.http import NDJSON, decode_events

GOOD = {"type": "fire.smoke", "method": "equipment", "source": "d1"}


def enc(obj: object) -> bytes:
    return msgspec.json.encode(obj)


def test_object_array_and_ndjson() -> None:
    assert len(decode_events(enc(GOOD), max_items=10)) == 1
    assert len(decode_events(enc([GOOD, GOOD]), max_items=10)) == 2
    body = b"\n".join([enc(GOOD), b"", enc(GOOD)]) + b"\n"
    assert len(decode_events(body, NDJSON, max_items=10)) == 2


def test_every_bad_item_is_listed_with_index_and_path() -> None:
    bad = [
        GOOD,
        {**GOOD, "method": "pigeon"},
        GOOD,
        {**GOOD, "location": {"lat": 91, "lon": 0}},
        {"type": "x"},
    ]
    with pytest.raises(DecodeError) as info:
        decode_events(enc(bad), max_items=10)
    errors = {(e.index, e.path) for e in info.value.errors}
    assert errors == {(1, "$.method"), (3, "$.location.lat"), (4, "$")}
    assert "3 of 5" in info.value.detail


def test_unknown_field_and_naive_time_are_errors() -> None:
    with pytest.raises(DecodeError) as info:
        decode_events(enc([{**GOOD, "occured_at": "x"}, {**GOOD, "occurred_at": "2026-01-01T00:00:00"}]), max_items=9)
    assert [e.index for e in info.value.errors] == [0, 1]
    assert "occured_at" in info.value.errors[0].message


def test_ndjson_bad_line_is_named() -> None:
    with pytest.raises(DecodeError) as info:
        decode_events(enc(GOOD) + b"\n{not json\n", NDJSON, max_items=10)
    assert info.value.errors[0].index == 1


def test_not_json_and_empty() -> None:
    with pytest.raises(DecodeError):
        decode_events(b"[{]", max_items=10)
    with pytest.raises(DecodeError):
        decode_events(b"[]", max_items=10)


def test_too_many_items() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_events(enc([GOOD] * 11), max_items=10)
