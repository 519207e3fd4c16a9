"""Correlation: which open incident, if any, a new event belongs to.

The index holds every open incident under a *correlation key*, so finding candidates is
a dictionary lookup whatever the number of open incidents (no scans):

- an event with a ``site`` correlates with open incidents of the same alarm type, site
  and exercise flag (and, when the type has ``radius_m`` and both have a location,
  within that distance);
- an event with no site but a location correlates by alarm type within ``radius_m``
  (or ``SITELESS_RADIUS_M``), looked up in a grid of cells around its position;
- an event with neither correlates only with repeats from the same source.

Unknown types also key on their original type string, so two different unmapped vendor
codes never merge. A candidate matches when its last event is within the type's
``correlation_window`` of the new event. A *restore* (``cleared``) matches the most
recent open incident of its key whatever the window, since restores can come hours later.

Owned and mutated by the writer thread only; rebuilt from the store after a rollback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

__all__ = ("SITELESS_RADIUS_M", "CorrelationIndex", "Key", "OpenIncident", "correlation_key", "distance_m")

SITELESS_RADIUS_M = 250.0
"""Radius for events with a location but no site, when their type sets none."""

_CELL_DEG = 0.01  # ~1.1 km of latitude: the grid for site-less events
_EARTH_M = 6_371_008.8

Key = tuple[str, str, bool, str | None]


class OpenIncident:
    """What correlation needs to know of an open incident."""

    __slots__ = ("condition", "count", "first_us", "id", "key", "last_us", "lat", "lon", "priority")

    def __init__(
        self,
        id: int,
        key: Key,
        last_us: int,
        lat: float | None,
        lon: float | None,
        *,
        first_us: int = 0,
        count: int = 0,
        condition: str = "active",
        priority: int = 4,
    ) -> None:
        self.id = id
        self.key = key
        self.last_us = last_us
        self.lat = lat
        self.lon = lon
        self.first_us = first_us
        self.count = count
        self.condition = condition
        self.priority = priority


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def _cell(lat: float, lon: float) -> str:
    return f"cell:{math.floor(lat / _CELL_DEG)}:{math.floor(lon / _CELL_DEG)}"


def correlation_key(
    alarm_type: str,
    site: str | None,
    source: str,
    exercise: bool,
    unmapped: str | None,
    lat: float | None,
    lon: float | None,
) -> Key:
    """The bucket an incident lives in (site-less located ones: their grid cell)."""
    if site is not None:
        place = f"site:{site}"
    elif lat is not None and lon is not None:
        place = _cell(lat, lon)
    else:
        place = f"source:{source}"
    return (alarm_type, place, exercise, unmapped)


class CorrelationIndex:
    """Open incidents by correlation key; O(1) candidate lookup."""

    __slots__ = ("_buckets", "_by_id")

    def __init__(self) -> None:
        self._buckets: dict[Key, dict[int, OpenIncident]] = {}
        self._by_id: dict[int, OpenIncident] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, incident_id: int) -> bool:
        return incident_id in self._by_id

    def get(self, incident_id: int) -> OpenIncident | None:
        return self._by_id.get(incident_id)

    def add(self, incident: OpenIncident) -> None:
        self._by_id[incident.id] = incident
        self._buckets.setdefault(incident.key, {})[incident.id] = incident

    def remove(self, incident_id: int) -> None:
        incident = self._by_id.pop(incident_id, None)
        if incident is None:
            return
        bucket = self._buckets.get(incident.key)
        if bucket is not None:
            bucket.pop(incident_id, None)
            if not bucket:
                del self._buckets[incident.key]

    def touch(self, incident: OpenIncident, occurred_us: int) -> None:
        """Record a new event; keeps each bucket ordered by most recent activity."""
        if occurred_us > incident.last_us:
            incident.last_us = occurred_us
        bucket = self._buckets[incident.key]
        del bucket[incident.id]
        bucket[incident.id] = incident

    def clear(self) -> None:
        self._buckets.clear()
        self._by_id.clear()

    def load(self, incidents: Iterable[OpenIncident]) -> None:
        self.clear()
        for incident in sorted(incidents, key=lambda i: i.last_us):
            self.add(incident)

    def match(
        self,
        key: Key,
        occurred_us: int,
        window_us: int | None,
        lat: float | None,
        lon: float | None,
        radius_m: float | None,
    ) -> OpenIncident | None:
        """The most recently active open incident the event belongs to, if any.

        ``window_us`` None means any age (restores). Site-less located keys search the
        neighbouring grid cells that ``radius_m`` can reach.
        """
        located = lat is not None and lon is not None
        siteless = key[1].startswith("cell:")
        if siteless:
            radius = radius_m or SITELESS_RADIUS_M
            candidates: Iterator[OpenIncident] = self._cells_around(key, lat or 0.0, lon or 0.0, radius)
        else:
            radius = radius_m or 0.0
            bucket = self._buckets.get(key)
            if not bucket:
                return None
            candidates = reversed(bucket.values())
        best: OpenIncident | None = None
        for candidate in candidates:
            if window_us is not None and abs(occurred_us - candidate.last_us) > window_us:
                continue
            if (
                radius
                and located
                and candidate.lat is not None
                and candidate.lon is not None
                and distance_m(lat or 0.0, lon or 0.0, candidate.lat, candidate.lon) > radius
            ):
                continue
            if not siteless:
                return candidate
            if best is None or candidate.last_us > best.last_us:
                best = candidate
        return best

    def _cells_around(self, key: Key, lat: float, lon: float, radius_m: float) -> Iterator[OpenIncident]:
        span_lat = math.ceil(radius_m / 111_000 / _CELL_DEG)
        span_lon = math.ceil(radius_m / (111_000 * max(0.01, math.cos(math.radians(lat)))) / _CELL_DEG)
        row, col = math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG)
        for dr in range(-span_lat, span_lat + 1):
            for dc in range(-span_lon, span_lon + 1):
                bucket = self._buckets.get((key[0], f"cell:{row + dr}:{col + dc}", key[2], key[3]))
                if bucket:
                    yield from bucket.values()
