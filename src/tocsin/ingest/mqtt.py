"""The MQTT subscriber: Frigate NVR events and reviews, through the one ingest door.

Subscribes to ``<prefix>/events`` and ``<prefix>/reviews`` (QoS 1) and turns each message
into at most one event with ``tocsin.ingest.frigate`` (which drops identity fields:
plates, faces, sub-labels). By default only messages whose type maps to an alarm type
are forwarded: a camera sees every passer-by, and a person walking past is not an alarm
(``forward = "all"`` keeps everything, unmapped ones as ``unclassified``).

An overloaded store (503) is retried with backoff, the message held meanwhile: a message
is never dropped because tocsin was busy. A lost broker connection is retried with
backoff up to ``MAX_BACKOFF_S`` for as long as the server runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiomqtt
import msgspec

from tocsin.config import MqttConfig
from tocsin.engine.classify import UNCLASSIFIED
from tocsin.errors import DecodeError
from tocsin.ingest.door import Accept, hand_over
from tocsin.ingest.frigate import parse_frigate
from tocsin.model import Actor, AlarmType

__all__ = ("MAX_BACKOFF_S", "MqttSubscriber")

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0


Classify = Callable[[str], AlarmType]


class MqttSubscriber:
    """Runs until cancelled; see the module docstring for delivery rules."""

    def __init__(
        self,
        config: MqttConfig,
        accept: Accept,
        classify: Classify,
        *,
        on_dropped: Callable[[int], None] | None = None,
    ) -> None:
        self._config = config
        self._accept = accept
        self._classify = classify
        self._on_dropped = on_dropped or (lambda _n: None)
        self._actor = Actor(name=f"mqtt:{config.topic_prefix}", role="device")
        self.received = 0
        self.forwarded = 0
        self.connected = asyncio.Event()

    async def run(self) -> None:
        host, port = self._config.endpoint()
        backoff = 0.5
        prefix = self._config.topic_prefix
        while True:
            try:
                async with aiomqtt.Client(
                    host, port=port, username=self._config.username, password=self._config.password
                ) as client:
                    await client.subscribe([(f"{prefix}/events", 1), (f"{prefix}/reviews", 1)])
                    self.connected.set()
                    backoff = 0.5
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        await self._handle(str(message.topic), payload)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                log.warning("mqtt connection lost; retrying", extra={"error": str(exc), "in_s": backoff})
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    async def _handle(self, topic: str, payload: bytes) -> None:
        self.received += 1
        try:
            result = parse_frigate(topic, payload, prefix=self._config.topic_prefix)
        except DecodeError as exc:
            log.warning("bad frigate message", extra={"topic": topic, "error": exc.detail})
            return
        if result.dropped:
            self._on_dropped(len(result.dropped))
        event = result.event
        if event is None:
            return
        if self._config.forward == "mapped" and self._classify(event.type) is UNCLASSIFIED:
            return
        raw = msgspec.json.encode(event).decode()
        if await hand_over(self._accept, [event], self._actor, [raw], origin=topic):
            self.forwarded += 1
