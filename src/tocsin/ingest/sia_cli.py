"""``tocsin sia decode``: what an installer runs at a panel to see what a frame says.

Prints the parsed frame (token, sequence, receiver, line, account, data, extended data,
timestamp, CRC and length checks) and the SIA-DCS or ADM-CID events in it with the tocsin
alarm type each maps to; ``--json`` prints the same as one JSON object. The frame may be
given with its LF/CR as literal ``\\n``/``\\r`` (and any byte as ``\\xHH``) or without them.
Mounted by :mod:`tocsin.cli` as ``app.add_typer(sia_app, name="sia")``; the decoding is
:mod:`tocsin.ingest.sia_codec`'s, this module only formats.
"""

from __future__ import annotations

import enum
import re
from typing import Any, Literal

import msgspec
import typer

from tocsin.errors import ConfigError
from tocsin.ingest.sia_codec import (
    SiaDecodeError,
    SiaDecryptError,
    SiaFrame,
    SiaKeyRequired,
    key_from_config,
    parse_frame,
)
from tocsin.ingest.sia_codes import classify_cid, classify_sia, describe_cid, describe_sia, sia_address_kind
from tocsin.ingest.sia_payload import parse_adm_cid, parse_sia_dcs

__all__ = ("KeyFormat", "decode", "frame_bytes", "sia_app")

sia_app = typer.Typer(no_args_is_help=True, add_completion=False, help="SIA DC-09 tools for installers.")

_ESCAPE = re.compile(r"\\(n|r|0|\\|x[0-9A-Fa-f]{2})")
_QUALIFIERS = {"1": "new", "3": "restore", "6": "status"}
_ESCAPES = {"n": b"\n", "r": b"\r", "0": b"\0", "\\": b"\\"}


class KeyFormat(enum.StrEnum):
    """How the ``--key`` is written."""

    HEX = "hex"
    ASCII = "ascii"


def frame_bytes(text: str) -> bytes:
    """The frame's bytes from what was typed: ``\\n``, ``\\r``, ``\\0``, ``\\xHH`` unescaped.

    Surrounding whitespace is dropped and the rest encoded as UTF-8; ``\\xHH`` gives that
    raw byte (so a Lupusec binary CRC can be typed).
    """
    text = text.strip()
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        out += text[pos : match.start()].encode("utf-8")
        escape = match.group(1)
        out += bytes([int(escape[1:], 16)]) if escape[0] == "x" else _ESCAPES[escape]
        pos = match.end()
    out += text[pos:].encode("utf-8")
    return bytes(out)


def _events(frame: SiaFrame) -> tuple[list[dict[str, Any]], str | None]:
    """The payload's events with their mapped alarm types, or an error text."""
    token = frame.token.upper()
    if token == "SIA-DCS":
        events = []
        for event in parse_sia_dcs(frame.data):
            alarm_type, condition = classify_sia(event.code)
            events.append(
                {
                    "code": event.code,
                    "name": describe_sia(event.code),
                    "address": event.address,
                    "address_kind": sia_address_kind(event.code),
                    **msgspec.to_builtins(event),
                    "alarm_type": alarm_type,
                    "condition": condition,
                }
            )
        return events, None
    if token == "ADM-CID" and frame.data:
        try:
            cid = parse_adm_cid(frame.data)
        except SiaDecodeError as exc:
            return [], exc.detail
        alarm_type, condition = classify_cid(cid.qualifier, cid.code)
        return [
            {
                **msgspec.to_builtins(cid),
                "name": describe_cid(cid.code),
                "is_user": cid.is_user,
                "alarm_type": alarm_type,
                "condition": condition,
            }
        ], None
    return [], None  # NULL, ACK… may carry data; it is shown, not interpreted


def _summary(frame: SiaFrame) -> dict[str, Any]:
    events, payload_error = _events(frame)
    return {
        "token": frame.token,
        "encrypted": frame.encrypted,
        "sequence": frame.sequence,
        "receiver": frame.receiver,
        "line": frame.line,
        "account": frame.account,
        "data_account": frame.data_account,
        "data": frame.data,
        "extended": [list(pair) for pair in frame.extended],
        "timestamp": frame.timestamp.isoformat() if frame.timestamp else None,
        "timestamp_text": frame.timestamp_text,
        "crc_ok": frame.crc_ok,
        "crc_given": frame.crc_given,
        "crc_computed": frame.crc_computed,
        "length_ok": frame.length_ok,
        "length_given": frame.length_given,
        "length_computed": frame.length_computed,
        "binary_crc": frame.binary_crc,
        "events": events,
        "payload_error": payload_error,
    }


def _ok(flag: bool) -> str:
    return "ok" if flag else "MISMATCH"


def _print_text(info: dict[str, Any]) -> None:
    lines = [
        ("token", info["token"] + (" (encrypted)" if info["encrypted"] else "")),
        ("sequence", info["sequence"]),
        ("receiver", info["receiver"]),
        ("line", info["line"]),
        ("account", info["account"] or (info["data_account"] and f"{info['data_account']} (from data)")),
        ("data", info["data"] or None),
        ("extended", "  ".join(f"[{ident}]{value}" for ident, value in info["extended"]) or None),
        ("timestamp", f"{info['timestamp']} UTC ({info['timestamp_text']})" if info["timestamp"] else None),
        ("crc", f"{info['crc_given']} given, {info['crc_computed']} computed: {_ok(info['crc_ok'])}"),
        (
            "length",
            f"{info['length_given']:04X} given, {info['length_computed']:04X} computed"
            f" ({info['length_computed']} bytes): {_ok(info['length_ok'])}",
        ),
    ]
    if info["timestamp"] is None and info["timestamp_text"] is not None:
        lines[7] = ("timestamp", f"unreadable: {info['timestamp_text']!r}")
    for label, value in lines:
        typer.echo(f"{label:<10} {'-' if value is None else value or '(empty)'}")
    if info["payload_error"]:
        typer.echo(f"payload    cannot read: {info['payload_error']}")
    for event in info["events"]:
        typer.echo(f"event      {_event_line(event)}")


def _event_line(event: dict[str, Any]) -> str:
    mapped = event["alarm_type"] or "no alarm type"
    if "qualifier" in event:
        where = f"{'user' if event['is_user'] else 'zone'} {event['zone_or_user']}, group {event['group']}"
        meaning = _QUALIFIERS.get(event["qualifier"], "unknown qualifier")
        head = f"Q{event['qualifier']} ({meaning}) {event['code']} {event['name'] or 'unknown code'}"
    else:
        kind = event["address_kind"] or "address"
        where = ", ".join(
            part
            for part in (
                f"{kind} {event['address']}" if event["address"] else "",
                f"area {event['area']}" if event.get("area") is not None else "",
                f"^{event['text']}^" if event.get("text") else "",
                f"text {event['ascii_text']!r}" if event.get("ascii_text") else "",
            )
            if part
        )
        head = f"{event['code']} {event['name'] or 'unknown code'}"
    return f"{head}{f' ({where})' if where else ''} -> {mapped}, {event['condition']}"


@sia_app.command("decode")
def decode(
    frame: str = typer.Argument(..., help="The frame, e.g. '\\nA62A0012\"ACK\"0001L0#7099[]\\r' (LF and CR optional)."),
    key: str | None = typer.Option(None, "--key", help="AES key of the account, for encrypted frames."),
    key_format: KeyFormat = typer.Option(KeyFormat.HEX, "--key-format", help="How --key is written."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Decode a SIA DC-09 frame and show what tocsin would make of it."""
    try:
        fmt: Literal["hex", "ascii"] = "hex" if key_format is KeyFormat.HEX else "ascii"
        aes_key = key_from_config(key, fmt) if key is not None else None
        parsed = parse_frame(frame_bytes(frame), key=aes_key)
    except ConfigError as exc:
        typer.echo(f"error: --key: {exc.detail}", err=True)
        raise typer.Exit(2) from exc
    except SiaDecodeError as exc:
        hint = ""
        if isinstance(exc, SiaKeyRequired):
            hint = " (pass --key, and --key-format ascii if the key is typed as text)"
        elif isinstance(exc, SiaDecryptError):
            hint = " (check --key and --key-format: hex and ascii keys differ)"
        typer.echo(f"error: cannot decode frame: {exc.detail}{hint}", err=True)
        raise typer.Exit(2) from exc
    info = _summary(parsed)
    if json_output:
        typer.echo(msgspec.json.encode(info).decode())
    else:
        _print_text(info)
