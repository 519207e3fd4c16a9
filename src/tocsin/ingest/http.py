"""tocsin's own JSON wire format: one object, an array, or NDJSON lines.

The fast path decodes a whole array straight into ``EventIn`` structs. Only when that
fails do we decode item by item, so that the 422 can list *every* bad item with its
index and field path, not just the first.
"""

from __future__ import annotations

import re

import msgspec

from tocsin.errors import DecodeError, FieldError, PayloadTooLarge
from tocsin.model import EventIn

__all__ = ("NDJSON", "decode_events")

NDJSON = "application/x-ndjson"

_list_decoder = msgspec.json.Decoder(list[EventIn])
_one_decoder = msgspec.json.Decoder(EventIn)
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)
_INDEXED = re.compile(r"^\$\[\d+\]")


def _field_error(exc: Exception, index: int) -> FieldError:
    match = _AT.match(str(exc))
    assert match is not None
    path = match.group("path") or "$"
    return FieldError(message=match.group("msg"), index=index, path=_INDEXED.sub("$", path))


def _items_of(body: bytes, content_type: str) -> list[bytes | msgspec.Raw] | None:
    """Split the body into items; None means 'one JSON array, try the fast path'."""
    if content_type.startswith(NDJSON):
        return [line for line in body.split(b"\n") if line.strip()]
    stripped = body.lstrip()
    if stripped[:1] == b"[":
        return None
    return [body]


def decode_events(body: bytes, content_type: str = "application/json", *, max_items: int) -> list[EventIn]:
    """Decode a request body into events, all or nothing.

    Raises:
        DecodeError: the body is not JSON, or any item is invalid (``errors`` lists each).
        PayloadTooLarge: more than ``max_items`` events.
    """
    items = _items_of(body, content_type)
    if items is None:
        try:
            events = _list_decoder.decode(body)
        except msgspec.ValidationError:
            items = _split_array(body)
        except msgspec.DecodeError as exc:
            raise DecodeError(f"body is not valid JSON: {exc}") from exc
        else:
            _check_count(len(events), max_items)
            if not events:
                raise DecodeError("the array holds no events")
            return events
    if not items:
        raise DecodeError("the body holds no events")
    _check_count(len(items), max_items)
    out: list[EventIn] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        try:
            out.append(_one_decoder.decode(item))
        except msgspec.ValidationError as exc:
            errors.append(_field_error(exc, index))
        except msgspec.DecodeError as exc:
            errors.append(FieldError(message=f"not valid JSON: {exc}", index=index, path="$"))
    if errors:
        verb = "is" if len(errors) == 1 else "are"
        raise DecodeError(f"{len(errors)} of {len(items)} events {verb} invalid; nothing was stored", errors=errors)
    return out


def _split_array(body: bytes) -> list[bytes | msgspec.Raw]:
    try:
        return list(_raw_list_decoder.decode(body))
    except msgspec.DecodeError as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from exc


def _check_count(count: int, max_items: int) -> None:
    if count > max_items:
        raise PayloadTooLarge(f"{count} events in one request; the limit is {max_items}")
