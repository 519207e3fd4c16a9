"""CAP feeds in: the Atom, RSS 2.0 and RSS 1.0 documents that list CAP 1.2 alerts.

:func:`parse_cap_feed` reads a feed into the alert links for the poller to fetch, and
:func:`parse_cap_feed_alerts` into the alerts embedded in it (each ready for
:func:`tocsin.ingest.cap.parse_cap`). Fetching, polling and remembering what was seen are
:mod:`.cap_poll`'s. XML goes through the same hardened reader as alerts
(:func:`.cap_values.read_xml`). Re-exported by :mod:`.cap`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element, tostring

from tocsin.errors import PayloadTooLarge
from tocsin.ingest.cap_values import cap_fail, cap_tag, read_xml

__all__ = (
    "MAX_DEPTH",
    "MAX_FEED_BYTES",
    "MAX_FEED_ITEMS",
    "parse_cap_feed",
    "parse_cap_feed_alerts",
    "read_cap_feed",
)

MAX_FEED_BYTES = 8 << 20
"""Default bound on one feed document (8 MiB: national Atom feeds run to megabytes)."""
MAX_FEED_ITEMS = 10_000
"""Most entries or items one feed may list."""
MAX_DEPTH = 32
"""Deepest element nesting an embedded alert may have (CAP needs 5, a signature a few more)."""

_ATOM = "http://www.w3.org/2005/Atom"
_RSS1 = "http://purl.org/rss/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_SPACE = re.compile(r"\s+")


def _http(url: str | None) -> str | None:
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) and not _SPACE.search(url) else None


def _atom_link(entry: Element) -> str | None:
    best: tuple[int, str] | None = None
    for link in entry.iter(cap_tag("link", _ATOM)):
        href = _http(link.get("href"))
        kind, rel = (link.get("type") or "").lower(), link.get("rel") or "alternate"
        if href is None or rel not in ("alternate", "enclosure", "related"):
            continue
        rank = 0 if "cap" in kind else 1 if "xml" in kind else 2 if rel == "alternate" else 3
        if best is None or rank < best[0]:
            best = (rank, href)
    if best is not None:
        return best[1]
    ident = entry.find(cap_tag("id", _ATOM))
    return _http(ident.text if ident is not None else None)


def _rss_link(item: Element, ns: str) -> str | None:
    for enclosure in item.iter("enclosure"):
        if "cap" in (enclosure.get("type") or "").lower() and (url := _http(enclosure.get("url"))):
            return url
    link = item.find(f"{{{ns}}}link" if ns else "link")
    if link is not None and (url := _http(link.text)):
        return url
    guid = item.find("guid")
    if guid is not None and guid.get("isPermaLink", "true") != "false":
        return _http(guid.text)
    return None


def _entries(body: bytes, max_bytes: int) -> Iterator[tuple[Element, str | None]]:
    """Each entry/item of an Atom, RSS 2.0 or RSS 1.0 feed with its link; a bare alert is one."""
    root = read_xml(body, max_bytes, "feed")
    if root.tag == cap_tag("feed", _ATOM):
        items = [(e, _atom_link(e)) for e in root.iter(cap_tag("entry", _ATOM))]
    elif root.tag == "rss":
        items = [(i, _rss_link(i, "")) for i in root.iter("item")]
    elif root.tag == cap_tag("RDF", _RDF):
        items = [(i, _rss_link(i, _RSS1)) for i in root.iter(cap_tag("item", _RSS1))]
    elif root.tag == cap_tag("alert"):
        items = [(Element("entry"), None)]
        items[0][0].append(root)
    else:
        cap_fail("feed", f"root element {root.tag[:80]!r} is not an Atom feed, RSS feed or CAP 1.2 alert")
    if len(items) > MAX_FEED_ITEMS:
        raise PayloadTooLarge(f"feed lists {len(items)} entries; the limit is {MAX_FEED_ITEMS}")
    yield from items


def parse_cap_feed(body: bytes, *, max_bytes: int = MAX_FEED_BYTES) -> list[str]:
    """The CAP alert links of an Atom, RSS 2.0 or RSS 1.0 feed, for the poller to fetch.

    Per entry one link: an Atom ``<link>`` whose ``type`` names CAP (``application/cap+xml``),
    else one with an XML type, else the ``alternate`` one, else an ``<id>`` that is a URL;
    an RSS ``<enclosure>`` of a CAP type, else ``<link>``, else a permalink ``<guid>``.
    Only absolute ``http``/``https`` URLs are returned (no ``file:`` or relative ones),
    each once, in feed order. Entries that embed their alert are read by
    :func:`parse_cap_feed_alerts`; they are listed here too when they carry a link.

    Args:
        body: the feed document.
        max_bytes: bound on ``len(body)``.

    Returns:
        The links, deduplicated, in order.

    Raises:
        PayloadTooLarge: over ``max_bytes`` or ``MAX_FEED_ITEMS`` entries.
        CapDecodeError: not well-formed, or not an Atom/RSS feed.
    """
    return _links(list(_entries(body, max_bytes)))


def read_cap_feed(body: bytes, *, max_bytes: int = MAX_FEED_BYTES) -> tuple[list[str], list[bytes]]:
    """:func:`parse_cap_feed` and :func:`parse_cap_feed_alerts` of ``body`` from one parse
    (the poller needs both, every round, of documents up to ``max_bytes``)."""
    entries = list(_entries(body, max_bytes))
    return _links(entries), _embedded(entries)


def _links(entries: list[tuple[Element, str | None]]) -> list[str]:
    return list(dict.fromkeys(link for _, link in entries if link))


def _depth(root: Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        element, level = stack.pop()
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:  # no need to walk further than the bound
            stack.extend((child, level + 1) for child in element)
    return deepest


def parse_cap_feed_alerts(body: bytes, *, max_bytes: int = MAX_FEED_BYTES) -> list[bytes]:
    """The CAP 1.2 ``<alert>`` documents embedded in a feed's entries, each ready for :func:`parse_cap`.

    A bare alert document counts as a feed of one. Alerts carried as escaped text are not
    read (their entry's link is, by :func:`parse_cap_feed`).

    Args:
        body: the feed document.
        max_bytes: bound on ``len(body)``.

    Returns:
        Each embedded alert serialised as UTF-8 XML, in feed order.

    Raises:
        PayloadTooLarge: over ``max_bytes`` or ``MAX_FEED_ITEMS`` entries.
        CapDecodeError: not well-formed, not an Atom/RSS feed, or an embedded alert nested
            deeper than ``MAX_DEPTH``.
    """
    return _embedded(list(_entries(body, max_bytes)))


def _embedded(entries: list[tuple[Element, str | None]]) -> list[bytes]:
    alerts = []
    for entry, _ in entries:
        for alert in entry.iter(cap_tag("alert")):
            # Serialising recurses once per level; a hostile feed could nest past the stack.
            if _depth(alert) > MAX_DEPTH:
                cap_fail("feed", f"an embedded alert nests deeper than {MAX_DEPTH} elements")
            alone = copy.copy(alert)  # shallow: only to drop the tail text that follows it
            alone.tail = None
            alerts.append(tostring(alone, encoding="utf-8"))
    return alerts
