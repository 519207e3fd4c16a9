"""The link between the SIA receiver's process and the server's: its messages and their framing.

Each message is a 4-byte big-endian length and one msgpack-encoded struct: :data:`ToChild`
from the server's process (:class:`.sia_process.SiaProcess`) to the receiver's, and
:data:`ToParent` back. Both sides are the same tocsin, started together, so a field added
with a default (``Submit.journaled``) needs no version.
"""

from __future__ import annotations

import asyncio
import struct
from datetime import datetime
from typing import Literal, TypeVar

import msgspec

from tocsin.errors import IngestError, StoreError, StoreUnavailable, TocsinError
from tocsin.ingest.sia import SiaConfig, SiaMetrics
from tocsin.model import Actor, EventIn

__all__ = (
    "FROM_CHILD",
    "FROM_PARENT",
    "KINDS",
    "Counters",
    "Kind",
    "Ready",
    "Refused",
    "Start",
    "Stop",
    "Stored",
    "Submit",
    "ToChild",
    "ToParent",
    "encode_message",
    "read_message",
)


class Start(msgspec.Struct, tag=True, array_like=True):
    config: SiaConfig
    outages: dict[str, datetime]
    log_level: str


class Ready(msgspec.Struct, tag=True, array_like=True):
    pass


class Submit(msgspec.Struct, tag=True, array_like=True):
    id: int
    actor: Actor
    events: list[EventIn]
    raw: list[str | None]
    journaled: bool = False
    """In the child's journal and ACKed already: no panel waits on this commit."""
    judged: bool = False
    """Every event passed the guard in the child that sends it, just before it journaled them
    (``check_events``, the same shipped lexicon as the engine's): the engine need not judge
    them again. False for entries recovered from an earlier process's journal (an upgrade
    in between may judge them differently) and for batches a panel waits on."""


class Stored(msgspec.Struct, tag=True, array_like=True):
    id: int


Kind = Literal["refused", "unavailable", "failed"]
KINDS: dict[Kind, type[TocsinError]] = {
    "refused": IngestError,  # the receiver answers DUH
    "unavailable": StoreUnavailable,  # silence: the panel resends
    "failed": StoreError,  # silence, logged
}
"""How an ``accept`` error crosses the link: the parent sends the first kind whose class the
error is (anything else is ``failed``); the child raises that class again."""


class Refused(msgspec.Struct, tag=True, array_like=True):
    id: int
    kind: Kind
    detail: str


class Counters(msgspec.Struct, tag=True, array_like=True):
    metrics: SiaMetrics
    journal_pending: int = 0


class Stop(msgspec.Struct, tag=True, array_like=True):
    pass


ToChild = Start | Stored | Refused | Stop
ToParent = Ready | Submit | Counters

_T = TypeVar("_T")
_LENGTH = struct.Struct(">I")
_encoder = msgspec.msgpack.Encoder()


def encode_message(message: msgspec.Struct) -> bytes:
    body = _encoder.encode(message)
    return _LENGTH.pack(len(body)) + body


async def read_message(reader: asyncio.StreamReader, decoder: msgspec.msgpack.Decoder[_T]) -> _T | None:
    """The next message, or None once the other side closed the link."""
    try:
        (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
        return decoder.decode(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


FROM_CHILD = msgspec.msgpack.Decoder(ToParent)
FROM_PARENT = msgspec.msgpack.Decoder(ToChild)
