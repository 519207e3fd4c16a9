"""Polling CAP feeds: weather services and civil-protection agencies publish Atom or RSS.

Every ``interval_s`` the feed is fetched; alerts embedded in it are read directly, and
linked alerts not fetched before are fetched (bounded per round, oldest links forgotten
past ``SEEN_LINKS``). Each alert goes through ``parse_cap`` and the ingest door, whose
idempotency on (sender, identifier#n) makes a re-read alert harmless. A failing feed
is logged and retried at the next round; one bad alert never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Annotated

import aiohttp
import msgspec
from msgspec import Meta

from tocsin.errors import TocsinError
from tocsin.ingest.cap import MAX_CAP_BYTES, parse_cap
from tocsin.ingest.cap_feed import MAX_FEED_BYTES, read_cap_feed
from tocsin.ingest.door import Accept, hand_over
from tocsin.model import Actor

__all__ = ("MAX_ALERTS_PER_ROUND", "SEEN_LINKS", "CapFeed", "CapFeedPoller")

log = logging.getLogger(__name__)
MAX_ALERTS_PER_ROUND = 200
SEEN_LINKS = 10_000


class CapFeed(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[[cap_feed]]`` in the TOML file."""

    url: Annotated[str, Meta(pattern=r"^https?://")]
    name: str
    interval_s: Annotated[float, Meta(ge=1)] = 60.0


class CapFeedPoller:
    """Polls one feed until cancelled."""

    def __init__(self, feed: CapFeed, accept: Accept) -> None:
        self.feed = feed
        self._accept = accept
        self._actor = Actor(name=f"cap:{feed.name}", role="device")
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            while True:
                try:
                    await self.poll(session)
                except (aiohttp.ClientError, OSError, TimeoutError, TocsinError) as exc:
                    log.warning("cap feed poll failed", extra={"feed": self.feed.name, "error": str(exc)})
                await asyncio.sleep(self.feed.interval_s)

    async def poll(self, session: aiohttp.ClientSession) -> None:
        """One round: read the feed, then its embedded and new linked alerts."""
        async with session.get(self.feed.url) as resp:
            resp.raise_for_status()
            body = await _read_bounded(resp, MAX_FEED_BYTES)
        links, documents = read_cap_feed(body)
        for link in links:
            if link in self._seen:
                continue
            if len(documents) >= MAX_ALERTS_PER_ROUND:
                break  # the rest are fetched next round
            try:
                async with session.get(link) as resp:
                    resp.raise_for_status()
                    documents.append(await _read_bounded(resp, MAX_CAP_BYTES))
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("cap alert fetch failed", extra={"feed": self.feed.name, "url": link, "error": str(exc)})
                continue
            self._seen[link] = None
            while len(self._seen) > SEEN_LINKS:
                self._seen.popitem(last=False)
        for document in documents:
            await self._ingest(document)

    async def _ingest(self, document: bytes) -> None:
        try:
            items = parse_cap(document)
        except TocsinError as exc:
            log.warning("bad cap alert in feed", extra={"feed": self.feed.name, "error": exc.detail})
            return
        if not items:
            return
        raw = [document.decode("utf-8", "replace")] * len(items)
        await hand_over(self._accept, items, self._actor, raw, origin=f"cap feed {self.feed.name}")


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or its first ``limit + 1`` bytes: enough for the parser to refuse it
    as too large by name, without holding an unbounded download. (``content.read(n)``
    returns only what has arrived so far, which cut long alerts short.)"""
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            break
    return bytes(body[: limit + 1])
