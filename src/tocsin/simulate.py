"""A simulated city alarm feed: a seeded event generator and a paced poster.

Why this exists: tocsin has to be exercised end to end (correlation, chattering devices,
active/cleared pairs, the unclassified path, back-pressure) with traffic that looks like a
real city's long before a real alarm receiving centre is connected. This module owns:

* :class:`CityFeed`, a pure, seeded generator of ``EventIn``-shaped dicts for a fictional
  city: about sixty named sites with their devices, a handful of roads, patrol officers and
  the public calling in. The same seed and the same sequence of ``now`` values give the
  same events. It does no I/O and reads no clock.
* :func:`run_simulation`, which posts that feed to ``POST /api/v1/events`` at a steady
  rate, honours ``Retry-After`` and never silently drops a batch on overload or network
  errors.

It does not own the event schema (:mod:`tocsin.model`), the alarm-type dictionary or any
correlation rule: the server decides what becomes an incident. It has no command line of
its own; a CLI can wrap :func:`run_simulation`.

By design it never generates anything about people's identity (names, faces, number
plates, ethnicity, religion, politics) nor about protests or gatherings: tocsin refuses
such data, and a demo feed should not teach anyone otherwise.
"""

from __future__ import annotations

import asyncio
import email.utils
import heapq
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

import httpx
import msgspec

__all__ = ("ALARM_TYPES", "UNKNOWN_TYPES", "CityFeed", "SimStats", "Site", "run_simulation")

log = logging.getLogger(__name__)

ALARM_TYPES: Final[frozenset[str]] = frozenset(
    {
        "fire.alarm",
        "fire.smoke",
        "fire.heat",
        "fire.sprinkler",
        "fire.vehicle",
        "fire.building",
        "intrusion.burglary",
        "intrusion.perimeter",
        "intrusion.glassbreak",
        "intrusion.door_forced",
        "panic.duress",
        "panic.button",
        "panic.holdup",
        "medical.emergency",
        "medical.fall",
        "medical.cardiac",
        "traffic.collision",
        "traffic.collision_injury",
        "traffic.obstruction",
        "traffic.signal_failure",
        "hazmat.gas_leak",
        "hazmat.spill",
        "hazmat.co",
        "utility.power_outage",
        "utility.water_leak",
        "utility.flood_sensor",
        "utility.elevator_entrapment",
        "weather.severe",
        "weather.flood",
        "weather.storm",
        "tech.comm_failure",
        "tech.low_battery",
        "tech.tamper",
        "tech.ac_loss",
        "tech.trouble",
        "tech.test",
        "crime.theft",
        "crime.vandalism",
        "crime.assault",
        "crime.robbery",
        "crime.vehicle_theft",
        "rescue.water",
        "rescue.person_missing",
        "security.suspicious_package",
        "security.unattended_vehicle",
    }
)
"""The alarm-type keys the feed uses (besides the deliberately unknown ones)."""

UNKNOWN_TYPES: Final[tuple[str, ...]] = ("vendor.x17", "vendor.acme.zone_fault", "cid.E999")
"""Vendor type strings no dictionary knows: they exercise the server's unclassified path."""

Event = dict[str, object]
Attrs = dict[str, str | int | float | bool]

CITY_CENTRE: Final = (52.37, 4.89)
CITY_TZ: Final = timezone(timedelta(hours=1))
"""The fictional city keeps UTC+1 all year; it decides what counts as night."""

_LAYOUT_SEED: Final = 0x70C51
"""The city's layout is fixed; the seed only drives what happens in it."""

# --- the city -------------------------------------------------------------------------

_DEVICES: Final[dict[str, dict[str, int]]] = {
    "school": {"panel": 1, "smoke": 4, "heat": 1, "door": 2, "glassbreak": 2, "cam": 2, "panic": 1},
    "mall": {
        "panel": 1,
        "smoke": 8,
        "heat": 2,
        "sprinkler": 2,
        "door": 3,
        "cam": 6,
        "holdup": 2,
        "elevator": 2,
        "water": 1,
    },
    "hospital": {
        "panel": 1,
        "smoke": 10,
        "heat": 2,
        "sprinkler": 2,
        "elevator": 3,
        "panic": 2,
        "gas": 1,
        "door": 2,
        "cam": 2,
    },
    "care_home": {"panel": 1, "smoke": 4, "fall": 6, "panic": 1, "door": 1},
    "warehouse": {"panel": 1, "smoke": 3, "heat": 2, "sprinkler": 1, "door": 2, "cam": 3, "gas": 1},
    "metro": {"panel": 1, "smoke": 3, "cam": 4, "elevator": 1, "flood": 1, "helppoint": 2},
    "office": {"panel": 1, "smoke": 6, "sprinkler": 1, "elevator": 4, "door": 2, "cam": 2, "water": 1},
    "stadium": {
        "panel": 1,
        "smoke": 6,
        "heat": 1,
        "sprinkler": 2,
        "cam": 6,
        "elevator": 1,
        "gas": 1,
        "door": 2,
    },
    "park": {"cam": 2, "flood": 1, "helppoint": 1},
    "water_works": {"panel": 1, "gas": 2, "flood": 2, "cam": 3, "door": 2},
    "bank": {"panel": 1, "smoke": 1, "holdup": 2, "door": 1, "glassbreak": 1, "cam": 2},
    "fuel_station": {"panel": 1, "holdup": 1, "gas": 1, "cam": 2, "smoke": 1},
    "garage": {"panel": 1, "co": 3, "smoke": 2, "cam": 3, "sprinkler": 1, "elevator": 1},
    "public": {"panel": 1, "smoke": 4, "heat": 1, "door": 2, "glassbreak": 2, "cam": 2, "elevator": 1},
    "tunnel": {"panel": 1, "co": 4, "flood": 2, "cam": 4, "smoke": 2},
    "data_centre": {"panel": 1, "smoke": 6, "heat": 2, "water": 2, "door": 2, "cam": 2},
    "ferry": {"panel": 1, "smoke": 2, "cam": 3, "flood": 1, "helppoint": 1},
}

_CATALOGUE: Final[tuple[tuple[str, str], ...]] = (
    ("Noorderlicht Primary School", "school"),
    ("De Linde Primary School", "school"),
    ("Westhaven College", "school"),
    ("Canal Side Secondary School", "school"),
    ("Oosterpark Lyceum", "school"),
    ("Tulip Primary School", "school"),
    ("Harbour Technical College", "school"),
    ("Brugwijk Primary School", "school"),
    ("Centrum Mall", "mall"),
    ("Westpoort Shopping Centre", "mall"),
    ("Zuidplein Arcade", "mall"),
    ("Oostergalerij Mall", "mall"),
    ("City General Hospital", "hospital"),
    ("Noord Medical Centre", "hospital"),
    ("Zuid Children's Clinic", "hospital"),
    ("Lindenhof Care Home", "care_home"),
    ("Zonnehuis Care Home", "care_home"),
    ("De Wilgen Residence", "care_home"),
    ("Havenkade Warehouse 7", "warehouse"),
    ("Kanaalweg Distribution Centre", "warehouse"),
    ("Westpoort Cold Store", "warehouse"),
    ("Petroleumweg Chemical Store", "warehouse"),
    ("Freight Terminal Noord", "warehouse"),
    ("Oost Textile Depot", "warehouse"),
    ("Centraal Metro Station", "metro"),
    ("Museumplein Metro Station", "metro"),
    ("Noorderpark Metro Station", "metro"),
    ("Zuidas Metro Station", "metro"),
    ("Oostpoort Metro Station", "metro"),
    ("Havenfront Metro Station", "metro"),
    ("Meridian Tower", "office"),
    ("Harbour View Offices", "office"),
    ("Zuidas One", "office"),
    ("Beacon House", "office"),
    ("Atrium Towers", "office"),
    ("City Hall Annex", "office"),
    ("Havenstad Stadium", "stadium"),
    ("Noorderpark", "park"),
    ("Westergroen Park", "park"),
    ("Lakeside Park", "park"),
    ("Botanic Garden", "park"),
    ("Duinwater Water Works", "water_works"),
    ("Oostpolder Pumping Station", "water_works"),
    ("Harbour Savings Bank", "bank"),
    ("Noord Bank Branch", "bank"),
    ("Marktplein Bank Branch", "bank"),
    ("Ringweg Fuel Station", "fuel_station"),
    ("Kanaalweg Fuel Station", "fuel_station"),
    ("Zuid Fuel Station", "fuel_station"),
    ("Centrum Parking Garage", "garage"),
    ("Stadium P2 Garage", "garage"),
    ("Hospital Parking Deck", "garage"),
    ("Oosterdok Public Library", "public"),
    ("Maritime Museum", "public"),
    ("Grand Harbour Hotel", "public"),
    ("Sports Hall West", "public"),
    ("Concert Hall", "public"),
    ("Harbour Tunnel", "tunnel"),
    ("Science Park Data Centre", "data_centre"),
    ("Ferry Terminal", "ferry"),
)

_ROADS: Final[tuple[tuple[str, tuple[float, float], tuple[float, float]], ...]] = (
    ("Ringweg Noord", (52.418, 4.820), (52.422, 4.960)),
    ("Ringweg Zuid", (52.322, 4.825), (52.318, 4.955)),
    ("Havenstraat", (52.381, 4.845), (52.392, 4.930)),
    ("Stationsweg", (52.345, 4.888), (52.402, 4.902)),
    ("Kanaalweg", (52.330, 4.851), (52.410, 4.862)),
    ("Oosterlaan", (52.358, 4.915), (52.372, 4.968)),
    ("Dijkweg", (52.395, 4.870), (52.405, 4.950)),
    ("Museumlaan", (52.352, 4.860), (52.365, 4.905)),
)
_WATERSIDE: Final = ("Havenstraat", "Kanaalweg", "Dijkweg")

_BATTERY_DEVICES: Final = frozenset({"smoke", "door", "glassbreak", "flood", "water", "fall", "gas", "panic"})
_SIA: Final[dict[str, tuple[str, str]]] = {
    "fire": ("FA", "FR"),
    "intrusion": ("BA", "BR"),
    "panic": ("PA", "PR"),
    "hazmat": ("GA", "GR"),
    "utility": ("WA", "WR"),
    "medical": ("MA", "MR"),
    "tech.ac_loss": ("AT", "AR"),
    "tech.low_battery": ("YT", "YR"),
    "tech.comm_failure": ("YS", "YK"),
    "tech.tamper": ("TA", "TR"),
    "tech.trouble": ("UT", "UR"),
    "tech.test": ("RP", "RP"),
}


@dataclass(frozen=True, slots=True)
class Site:
    """A named place in the simulated city and the devices that report from it."""

    code: str
    name: str
    kind: str
    lat: float
    lon: float
    devices: dict[str, tuple[str, ...]]
    """Device kind (``smoke``, ``cam``, ...) to the event sources of those devices."""


def _build_city(count: int) -> tuple[Site, ...]:
    rng = random.Random(_LAYOUT_SEED)
    entries = list(_CATALOGUE)
    rng.shuffle(entries)
    extra = 0
    while len(entries) < count:
        extra += 1
        kind = ("warehouse", "office", "public")[extra % 3]
        entries.append((f"Business Park Unit {extra}", kind))
    sites: list[Site] = []
    for index, (name, kind) in enumerate(entries[:count], start=1):
        code = f"s{index:03d}"
        devices = {
            dev: tuple(f"{code}-{dev}-{n:02d}" for n in range(1, qty + 1)) for dev, qty in _DEVICES[kind].items()
        }
        lat = round(CITY_CENTRE[0] + rng.uniform(-0.055, 0.055), 6)
        lon = round(CITY_CENTRE[1] + rng.uniform(-0.08, 0.08), 6)
        sites.append(Site(code, name, kind, lat, lon, devices))
    return tuple(sites)


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _loc(lat: float, lon: float) -> dict[str, float]:
    return {"lat": round(lat, 6), "lon": round(lon, 6)}


# --- the generator --------------------------------------------------------------------


class CityFeed:
    """A deterministic stream of alarm events from a fictional city.

    Each call to :meth:`next_events` starts one new scenario (a false fire alarm, a
    collision with two callers, a chattering detector, ...) and returns every event,
    old scenarios' follow-ups included, that is due by ``now``. Follow-ups (a ``cleared``
    after a false alarm, the next detector of a spreading fire, a chattering repeat) are
    emitted on the first call whose ``now`` reaches them, with their own ``occurred_at``.
    Every call returns at least one event, and every event has an ``external_id`` unique
    in the feed (so a resent batch is idempotent server-side), prefixed with a tag from
    the first ``now`` so that a rerun later is not mistaken for a retry.
    """

    def __init__(self, seed: int | None = None, sites: int = 60, exercise_ratio: float = 0.01) -> None:
        if sites < 1:
            raise ValueError("sites must be at least 1")
        if not 0.0 <= exercise_ratio <= 1.0:
            raise ValueError("exercise_ratio must be between 0 and 1")
        self._rng = random.Random(seed)
        self._sites = _build_city(sites)
        self._exercise_ratio = exercise_ratio
        self._pending: list[tuple[datetime, int, Event]] = []
        self._seq = 0
        self._emitted = 0
        self._run_tag: str | None = None
        self._call_no = self._rng.randint(1000, 9000)
        self._now = datetime.min.replace(tzinfo=UTC)
        self._exercise = False

    @property
    def sites(self) -> tuple[Site, ...]:
        """The city's sites, in a fixed order."""
        return self._sites

    def next_events(self, now: datetime) -> list[Event]:
        """Start one new scenario at ``now`` and return every event due by then.

        ``now`` must be timezone-aware; its hour in :data:`CITY_TZ` decides day or night.
        The returned dicts are valid ``EventIn`` JSON (``occurred_at`` is an RFC 3339
        string in UTC).
        """
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        if self._run_tag is None:
            # Part of every external_id: a rerun at another time must not look like a retry.
            self._run_tag = f"{int(now.timestamp()):x}{self._rng.getrandbits(16):04x}"
        self._now = now
        self._start_scenario(now.astimezone(CITY_TZ).hour)
        out: list[Event] = []
        while self._pending and self._pending[0][0] <= now:
            at, _, draft = heapq.heappop(self._pending)
            out.append(self._finish(draft, at))
        return out

    # -- plumbing ------------------------------------------------------------------

    def _finish(self, draft: Event, at: datetime) -> Event:
        source = str(draft["source"])
        self._emitted += 1
        event: Event = {"type": draft["type"], "method": draft["method"], "source": source}
        for key, value in draft.items():
            if key not in event:
                event[key] = dict(value) if isinstance(value, dict) else value
        event["occurred_at"] = _rfc3339(at)
        event["external_id"] = f"{self._run_tag}-{self._emitted:08d}"
        return event

    def _at(self, offset_s: float, draft: Event) -> None:
        draft = dict(draft)  # callers reuse drafts for the matching ``cleared``
        if self._exercise:
            draft["exercise"] = True
            if "description" in draft:
                draft["description"] = f"EXERCISE. {draft['description']}"
        self._seq += 1
        heapq.heappush(self._pending, (self._now + timedelta(seconds=offset_s), self._seq, draft))

    @staticmethod
    def _cleared(event: Event) -> Event:
        """The restore of ``event``: same type, site and source, so it joins the same incident."""
        cleared = dict(event, condition="cleared")
        attrs = event.get("attributes")
        if isinstance(attrs, dict):
            attrs = dict(attrs)
            code = _SIA.get(str(event["type"])) or _SIA.get(str(event["type"]).partition(".")[0])
            if code is not None and "sia_code" in attrs:
                attrs["sia_code"] = code[1]
            cleared["attributes"] = attrs
        return cleared

    def _equipment(
        self, type_: str, site: Site, device: str, source: str, condition: str = "active", /, **extra: object
    ) -> Event:
        attrs: Attrs = {"site_code": site.code, "device": device}
        on_panel = device not in ("cam", "elevator")  # cameras and lifts report over IP, not a panel zone
        if on_panel and (device == "panel" or type_.startswith(("fire.", "intrusion.", "panic.", "tech."))):
            checksum = sum(map(ord, source))
            attrs["partition"] = 1 + checksum % 3
            attrs["zone"] = 1 + checksum % 96
            codes = _SIA.get(type_) or _SIA.get(type_.partition(".")[0])
            if codes is not None:
                attrs["sia_code"] = codes[condition == "cleared"]
        if device in _BATTERY_DEVICES and self._rng.random() < 0.5:
            attrs["battery_pct"] = self._rng.randint(20, 100)
        for key, value in extra.items():
            if isinstance(value, str | int | float | bool):
                attrs[key] = value
        return {
            "type": type_,
            "method": "equipment",
            "source": source,
            "site": site.name,
            "condition": condition,
            "location": _loc(site.lat, site.lon),
            "attributes": attrs,
        }

    def _report(
        self,
        type_: str,
        method: str,
        source: str,
        location: dict[str, float],
        description: str,
        site: Site | None = None,
        **extra: str | int | float | bool,
    ) -> Event:
        attrs: Attrs = {"channel": "112" if method == "call" else self._rng.choice(("radio", "mobile-app"))}
        attrs.update(extra)
        event: Event = {
            "type": type_,
            "method": method,
            "source": source,
            "condition": "active",
            "location": location,
            "description": description,
            "attributes": attrs,
        }
        if site is not None:
            event["site"] = site.name
            attrs["site_code"] = site.code
        return event

    def _site_with(self, *devices: str) -> tuple[Site, str] | None:
        candidates = [(s, d) for s in self._sites for d in devices if d in s.devices]
        return self._rng.choice(candidates) if candidates else None

    def _road(self) -> tuple[str, dict[str, float]]:
        name, (lat1, lon1), (lat2, lon2) = self._rng.choice(_ROADS)
        t = self._rng.random()
        lat = lat1 + (lat2 - lat1) * t + self._rng.uniform(-0.0002, 0.0002)
        lon = lon1 + (lon2 - lon1) * t + self._rng.uniform(-0.0003, 0.0003)
        return name, _loc(lat, lon)

    def _near(self, site: Site, metres: float = 60.0) -> dict[str, float]:
        d = metres / 111_000
        return _loc(site.lat + self._rng.uniform(-d, d), site.lon + self._rng.uniform(-d, d) * 1.6)

    def _caller(self) -> str:
        self._call_no += self._rng.randint(1, 3)
        return f"call-{self._call_no:06d}"

    def _officer(self) -> str:
        return f"officer-{self._rng.randint(1, 48)}"

    def _pick_source(self, site: Site, device: str) -> str:
        return self._rng.choice(site.devices[device])

    # -- scenarios -----------------------------------------------------------------

    def _start_scenario(self, hour: int) -> None:
        night = hour >= 22 or hour < 6
        rush = hour in (7, 8, 16, 17, 18)
        scenarios: tuple[tuple[Callable[[], bool], float], ...] = (
            (self._fire_false, 14.0),
            (self._fire_real, 1.5),
            (self._fire_vehicle, 1.0),
            (self._intrusion, 10.0 if night else 2.0),
            (self._panic, 0.8),
            (self._medical, 6.0),
            (self._traffic, 11.0 if rush else 6.0),
            (self._signal_failure, 0.8),
            (self._officer_report, 5.0),
            (self._hazmat, 2.0),
            (self._power_outage, 0.3),
            (self._utility, 2.5),
            (self._weather, 0.3),
            (self._tech, 14.0),
            (self._crime_call, 7.0 if night else 5.0),
            (self._rescue_water, 0.4),
            (self._suspicious, 0.8),
            (self._chatter, 1.2),
            (self._unknown_vendor, 0.6),
        )
        self._exercise = self._rng.random() < self._exercise_ratio
        funcs, weights = zip(*scenarios, strict=True)
        chosen = self._rng.choices(funcs, weights=weights)[0]
        # Tech faults need only a device, and every site has one.
        if not chosen():
            self._tech()
        self._exercise = False

    def _fire_false(self) -> bool:
        picked = self._site_with("smoke", "heat")
        if picked is None:
            return False
        site, device = picked
        source = self._pick_source(site, device)
        kind = "fire.smoke" if device == "smoke" else "fire.heat"
        if self._rng.random() < 0.25 and "panel" in site.devices:
            source, device, kind = site.devices["panel"][0], "panel", "fire.alarm"
        cause = self._rng.choice(("cooking", "dust", "steam", "aerosol", "unknown"))
        self._at(0, self._equipment(kind, site, device, source, suspected_cause=cause))
        self._at(self._rng.uniform(15, 180), self._equipment(kind, site, device, source, "cleared"))
        return True

    def _fire_real(self) -> bool:
        picked = self._site_with("smoke")
        if picked is None:
            return False
        site, _ = picked
        detectors = list(site.devices["smoke"])
        self._rng.shuffle(detectors)
        offset = 0.0
        for source in detectors[: self._rng.randint(2, 5)]:
            obscuration = round(self._rng.uniform(2.0, 15.0), 1)
            self._at(offset, self._equipment("fire.smoke", site, "smoke", source, obscuration_pct_m=obscuration))
            offset += self._rng.uniform(3, 40)
        for device, kind in (("heat", "fire.heat"), ("sprinkler", "fire.sprinkler")):
            if device in site.devices:
                offset += self._rng.uniform(10, 90)
                source = self._pick_source(site, device)
                self._at(
                    offset,
                    self._equipment(kind, site, device, source, temperature_c=self._rng.randint(62, 95)),
                )
        if self._rng.random() < 0.6:
            what = self._rng.choice(("Smoke coming out of the roof", "Flames visible on an upper floor"))
            text = f"{what} at {site.name}, caller is outside across the street."
            event = self._report("fire.building", "call", self._caller(), self._near(site), text)
            self._at(offset + self._rng.uniform(20, 120), event)
        return True

    def _fire_vehicle(self) -> bool:
        road, location = self._road()
        what = self._rng.choice(("A parked car", "A delivery van", "A scooter", "A bus engine compartment"))
        self._at(0, self._report("fire.vehicle", "call", self._caller(), location, f"{what} on fire on {road}."))
        return True

    def _intrusion(self) -> bool:
        picked = self._site_with("door", "glassbreak", "cam")
        if picked is None:
            return False
        site, device = picked
        if self._rng.random() < 0.3:
            return self._burglary(site)
        source = self._pick_source(site, device)
        if device == "cam":
            rule = self._rng.choice(("line-crossing", "intrusion-area"))
            event = self._equipment(
                "intrusion.perimeter",
                site,
                device,
                source,
                rule=rule,
                channel=int(source[-2:]),
                confidence=round(self._rng.uniform(0.5, 0.99), 2),
            )
        else:
            kind = "intrusion.door_forced" if device == "door" else "intrusion.glassbreak"
            event = self._equipment(kind, site, device, source)
        self._at(0, event)
        if self._rng.random() < 0.6:
            self._at(self._rng.uniform(5, 120), self._cleared(event))
        return True

    def _burglary(self, site: Site) -> bool:
        offset = 0.0
        steps = (
            ("cam", "intrusion.perimeter"),
            ("door", "intrusion.door_forced"),
            ("glassbreak", "intrusion.glassbreak"),
        )
        for device, kind in steps:
            if device in site.devices:
                self._at(offset, self._equipment(kind, site, device, self._pick_source(site, device)))
                offset += self._rng.uniform(5, 45)
        if "panel" in site.devices:
            panel = site.devices["panel"][0]
            self._at(offset, self._equipment("intrusion.burglary", site, "panel", panel, detector="PIR"))
        return offset > 0 or "panel" in site.devices

    def _panic(self) -> bool:
        picked = self._site_with("holdup", "panic", "helppoint", "panel")
        if picked is None:
            return False
        site, device = picked
        kind = {"holdup": "panic.holdup", "panel": "panic.duress"}.get(device, "panic.button")
        source = self._pick_source(site, device)
        event = self._equipment(kind, site, device, source, silent=device != "helppoint")
        self._at(0, event)
        if self._rng.random() < 0.35:  # pressed by mistake and reset
            self._at(self._rng.uniform(20, 90), self._cleared(event))
        return True

    def _medical(self) -> bool:
        roll = self._rng.random()
        if roll < 0.25:
            picked = self._site_with("fall")
            if picked is not None:
                site, device = picked
                source = self._pick_source(site, device)
                self._at(0, self._equipment("medical.fall", site, device, source, room=self._rng.randint(1, 80)))
                return True
        road, location = self._road()
        kind, text = self._rng.choice(
            (
                ("medical.emergency", f"Person collapsed on the pavement on {road}, breathing."),
                ("medical.emergency", f"Cyclist fell on {road}, bleeding from a head wound."),
                ("medical.cardiac", f"Person not breathing on {road}, bystander started CPR."),
                ("medical.cardiac", f"Chest pain and shortness of breath reported on {road}."),
            )
        )
        if roll > 0.85:
            self._at(0, self._report(kind, "on_duty", self._officer(), location, f"Officer on scene: {text}"))
        else:
            self._at(0, self._report(kind, "call", self._caller(), location, text))
        return True

    def _traffic(self) -> bool:
        road, location = self._road()
        kind, text = self._rng.choice(
            (
                ("traffic.collision", f"Two cars collided on {road}, lane blocked, no one hurt."),
                ("traffic.collision", f"Van reversed into a lamp post on {road}."),
                ("traffic.collision_injury", f"Car and cyclist collided on {road}, cyclist injured."),
                ("traffic.collision_injury", f"Head-on collision on {road}, one driver trapped."),
                ("traffic.obstruction", f"Fallen tree blocking both lanes of {road}."),
                ("traffic.obstruction", f"Lost load of gravel on {road}."),
            )
        )
        offset = 0.0
        for _ in range(1 if self._rng.random() < 0.7 else self._rng.randint(2, 3)):
            jittered = _loc(
                location["lat"] + self._rng.uniform(-2e-4, 2e-4),
                location["lon"] + self._rng.uniform(-3e-4, 3e-4),
            )
            self._at(offset, self._report(kind, "call", self._caller(), jittered, text, road=road))
            offset += self._rng.uniform(10, 60)
        return True

    def _signal_failure(self) -> bool:
        road, location = self._road()
        source = f"tlc-{self._rng.randint(1, 120):03d}"
        event: Event = {
            "type": "traffic.signal_failure",
            "method": "equipment",
            "source": source,
            "condition": "active",
            "location": location,
            "description": f"Traffic light controller on {road} reports lamp failure, flashing amber.",
            "attributes": {"road": road, "fault": self._rng.choice(("lamp", "detector-loop", "power"))},
        }
        self._at(0, event)
        self._at(self._rng.uniform(300, 1800), self._cleared(event))
        return True

    def _officer_report(self) -> bool:
        road, location = self._road()
        kind, text = self._rng.choice(
            (
                ("traffic.obstruction", f"Broken-down lorry blocking a lane on {road}."),
                ("crime.vandalism", f"Bus shelter glass smashed on {road}."),
                (
                    "security.unattended_vehicle",
                    f"Van parked on the pavement on {road} for two days, engine warm.",
                ),
                ("security.suspicious_package", f"Unattended suitcase next to a bench on {road}."),
                ("hazmat.spill", f"Diesel spill of several metres on {road}, sand requested."),
                (
                    "rescue.person_missing",
                    f"Walker reported missing near {road}, search of the area requested.",
                ),
                ("crime.theft", f"Bicycle parts stolen from the rack on {road}."),
            )
        )
        self._at(
            -self._rng.uniform(0, 120),
            self._report(kind, "on_duty", self._officer(), location, text, road=road),
        )
        return True

    def _hazmat(self) -> bool:
        picked = self._site_with("gas", "co")
        if picked is None or self._rng.random() < 0.2:
            road, location = self._road()
            text = f"Strong smell of gas near a manhole on {road}."
            self._at(0, self._report("hazmat.gas_leak", "call", self._caller(), location, text))
            return True
        site, device = picked
        source = self._pick_source(site, device)
        if device == "co":
            event = self._equipment("hazmat.co", site, device, source, co_ppm=self._rng.randint(60, 400))
        else:
            event = self._equipment("hazmat.gas_leak", site, device, source, lel_pct=self._rng.randint(10, 60))
        self._at(0, event)
        if self._rng.random() < 0.6:
            self._at(self._rng.uniform(60, 600), self._cleared(event))
        return True

    def _power_outage(self) -> bool:
        centre = self._rng.choice(self._sites)
        district = self._rng.choice(("Noord", "Zuid", "Oost", "West", "Centrum", "Haven"))
        outage: Event = {
            "type": "utility.power_outage",
            "method": "equipment",
            "source": "grid-operator",
            "condition": "active",
            "location": _loc(centre.lat, centre.lon),
            "description": f"Medium-voltage feeder trip, district {district}.",
            "attributes": {"district": district, "customers_affected": self._rng.randint(200, 9000)},
        }
        restored = self._rng.uniform(120, 900)
        self._at(0, outage)
        near = [
            s for s in self._sites if "panel" in s.devices and abs(s.lat - centre.lat) + abs(s.lon - centre.lon) < 0.03
        ]
        for site in near[:6]:
            panel = site.devices["panel"][0]
            self._at(self._rng.uniform(1, 30), self._equipment("tech.ac_loss", site, "panel", panel))
            self._at(
                restored + self._rng.uniform(1, 20),
                self._equipment("tech.ac_loss", site, "panel", panel, "cleared"),
            )
        self._at(restored, self._cleared(outage))
        return True

    def _utility(self) -> bool:
        picked = self._site_with("water", "flood", "elevator")
        if picked is None:
            return False
        site, device = picked
        source = self._pick_source(site, device)
        if device == "elevator":
            event = self._equipment("utility.elevator_entrapment", site, device, source, floor=self._rng.randint(0, 24))
            clear_after = self._rng.uniform(600, 2400)
        elif device == "flood":
            event = self._equipment(
                "utility.flood_sensor", site, device, source, water_level_cm=self._rng.randint(3, 40)
            )
            clear_after = self._rng.uniform(300, 3600)
        else:
            event = self._equipment("utility.water_leak", site, device, source, floor=self._rng.randint(-2, 12))
            clear_after = self._rng.uniform(120, 1200)
        self._at(0, event)
        if self._rng.random() < 0.7:
            self._at(clear_after, self._cleared(event))
        return True

    def _weather(self) -> bool:
        kind, text = self._rng.choice(
            (
                ("weather.storm", "Wind gusts above 90 km/h expected for the next three hours."),
                ("weather.severe", "Thunderstorms with hail expected this afternoon."),
                ("weather.flood", "Canal water level above the warning mark; low quays may flood."),
            )
        )
        warning: Event = {
            "type": kind,
            "method": "equipment",
            "source": "weather-service",
            "condition": "active",
            "location": _loc(*CITY_CENTRE),
            "description": text,
            "attributes": {"level": self._rng.choice(("yellow", "orange", "red")), "region": "city"},
        }
        self._at(0, warning)
        self._at(self._rng.uniform(1200, 3600), self._cleared(warning))
        return True

    def _tech(self) -> bool:
        site = self._rng.choice(self._sites)
        device = self._rng.choice(sorted(site.devices))
        source = self._pick_source(site, device)
        options = ["tech.trouble", "tech.comm_failure", "tech.tamper"]
        if device in _BATTERY_DEVICES:
            options += ["tech.low_battery", "tech.low_battery"]
        if device == "panel":
            options += ["tech.ac_loss", "tech.test", "tech.test", "tech.test"]
        kind = self._rng.choice(options)
        extra: dict[str, str | int] = {}
        if kind == "tech.low_battery":
            extra["battery_pct"] = self._rng.randint(3, 19)
        elif kind == "tech.comm_failure":
            extra["path"] = self._rng.choice(("IP", "GSM", "LoRaWAN"))
        elif kind == "tech.trouble":
            extra["fault_code"] = f"T{self._rng.randint(100, 999)}"
        event = self._equipment(kind, site, device, source, **extra)
        self._at(0, event)
        if kind in ("tech.tamper", "tech.comm_failure", "tech.ac_loss") and self._rng.random() < 0.7:
            self._at(self._rng.uniform(30, 900), self._equipment(kind, site, device, source, "cleared"))
        return True

    def _crime_call(self) -> bool:
        road, location = self._road()
        site = self._rng.choice(self._sites) if self._rng.random() < 0.3 else None
        place = site.name if site is not None else road
        kind, text = self._rng.choice(
            (
                ("crime.theft", f"Bicycle stolen from outside {place}."),
                ("crime.theft", f"Shoplifting reported at {place}, goods taken."),
                ("crime.vandalism", f"Windows smashed and graffiti sprayed at {place}."),
                ("crime.vehicle_theft", f"Caller's car was taken from a parking spot on {road} overnight."),
                ("crime.assault", f"Fight outside {place}, one person hurt."),
                ("crime.robbery", f"Robbery at a kiosk near {place}; offender left on foot."),
            )
        )
        where = self._near(site) if site is not None else location
        self._at(-self._rng.uniform(0, 60), self._report(kind, "call", self._caller(), where, text, site))
        return True

    def _rescue_water(self) -> bool:
        road = self._rng.choice(_WATERSIDE)
        _, a, b = next(r for r in _ROADS if r[0] == road)
        t = self._rng.random()
        location = _loc(a[0] + (b[0] - a[0]) * t + 0.0003, a[1] + (b[1] - a[1]) * t)
        text = self._rng.choice(("Person in the water", "Car rolled into the canal", "Swimmer in difficulty"))
        self._at(0, self._report("rescue.water", "call", self._caller(), location, f"{text} along {road}."))
        return True

    def _suspicious(self) -> bool:
        picked = self._site_with("cam")
        if picked is None:
            return False
        site, _ = picked
        kind = self._rng.choice(("security.suspicious_package", "security.unattended_vehicle"))
        what = "Unattended bag left" if kind == "security.suspicious_package" else "Vehicle left with engine running"
        text = f"{what} at the entrance of {site.name} for over 30 minutes."
        if self._rng.random() < 0.5:
            self._at(0, self._report(kind, "call", self._caller(), self._near(site), text, site))
        else:
            self._at(0, self._report(kind, "on_duty", self._officer(), self._near(site), text, site))
        return True

    def _chatter(self) -> bool:
        """One faulty device re-sending the same alarm every few seconds."""
        picked = self._site_with("smoke", "cam", "flood", "door")
        if picked is None:
            return False
        site, device = picked
        kind = {
            "smoke": "fire.smoke",
            "cam": "intrusion.perimeter",
            "flood": "utility.flood_sensor",
            "door": "intrusion.door_forced",
        }[device]
        source = self._pick_source(site, device)
        interval = self._rng.uniform(2, 9)
        offset = 0.0
        for _ in range(self._rng.randint(6, 20)):
            self._at(offset, self._equipment(kind, site, device, source, fault_suspected=True))
            offset += interval * self._rng.uniform(0.8, 1.2)
        if self._rng.random() < 0.5:
            self._at(offset, self._equipment(kind, site, device, source, "cleared"))
        return True

    def _unknown_vendor(self) -> bool:
        site = self._rng.choice(self._sites)
        device = self._rng.choice(sorted(site.devices))
        kind = self._rng.choice(UNKNOWN_TYPES)
        event = self._equipment(kind, site, device, self._pick_source(site, device), raw_code=kind.rsplit(".", 1)[-1])
        self._at(0, event)
        return True


# --- the poster -----------------------------------------------------------------------


@dataclass(slots=True)
class SimStats:
    """What a simulation run achieved. Counts are events unless noted."""

    requests: int = 0
    """HTTP requests made (including resends)."""
    accepted: int = 0
    """Events the server accepted (from its ``accepted`` count)."""
    rejected: int = 0
    """Events in batches the server refused (4xx other than 429, or a persistent 5xx)."""
    retried: int = 0
    """Resends of a batch, after 503/429, a 5xx or a network error."""
    errors: int = 0
    """Network errors and 5xx answers other than 503."""
    unsent: int = 0
    """Events still waiting to be resent when the run's duration ran out."""
    elapsed: float = 0.0
    """Seconds since the run started."""


class _Accepted(msgspec.Struct):
    accepted: int


_BATCH_WINDOW: Final = 0.25
"""Seconds of traffic per request: below 1/_BATCH_WINDOW events/s every event goes alone."""
_BACKOFF_INITIAL = 0.5
_BACKOFF_MAX: Final = 30.0
_MAX_RETRY_AFTER: Final = 300.0
_MAX_SERVER_ERRORS: Final = 5
_BODY_LOG_CHARS: Final = 1000


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


class _Poster:
    """Delivers one batch at a time; owns retries, never the pacing."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        endpoint: str,
        token: str,
        stats: SimStats,
        deadline: float | None,
        batch_cap: int,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": "tocsin-simulate",
        }
        self.stats = stats
        self.deadline = deadline
        self.batch_cap = batch_cap
        self.waited = 0.0
        """Seconds spent waiting before resends; the pacer re-anchors instead of bursting."""

    async def _pause(self, seconds: float, batch: Sequence[Event]) -> bool:
        """Wait before a resend; False (and the batch counted unsent) if the run ends first."""
        if self.deadline is not None and time.monotonic() + seconds >= self.deadline:
            await asyncio.sleep(max(0.0, self.deadline - time.monotonic()))
            self.stats.unsent += len(batch)
            log.warning("run ended while a batch awaited resending", extra={"batch_size": len(batch)})
            return False
        await asyncio.sleep(seconds)
        self.waited += seconds
        self.stats.retried += 1
        return True

    async def deliver(self, batch: Sequence[Event]) -> None:
        body = msgspec.json.encode(batch[0] if len(batch) == 1 else list(batch))
        failures = 0
        server_errors = 0
        while True:
            self.stats.requests += 1
            try:
                resp = await self.client.post(self.endpoint, content=body, headers=self.headers)
            except httpx.TransportError as exc:
                self.stats.errors += 1
                delay = min(_BACKOFF_MAX, _BACKOFF_INITIAL * 2**failures) * random.uniform(0.5, 1.0)
                failures += 1
                log.warning(
                    "network error, will resend",
                    extra={"error": repr(exc), "batch_size": len(batch), "delay_s": round(delay, 3)},
                )
                if not await self._pause(delay, batch):
                    return
                continue
            status = resp.status_code
            if 200 <= status < 300:
                self._count_accepted(resp, len(batch))
                return
            if status in (429, 503):
                delay = _retry_after(resp.headers.get("Retry-After"))
                if delay is None:
                    delay = min(_BACKOFF_MAX, _BACKOFF_INITIAL * 2**failures)
                failures += 1
                log.info("server busy, will resend", extra={"status_code": status, "delay_s": delay})
                if not await self._pause(delay, batch):
                    return
                continue
            if status == 413 and len(batch) > 1:
                self.batch_cap = max(1, len(batch) // 2)
                log.info("batch too large, splitting", extra={"batch_size": len(batch)})
                await self.deliver(batch[: len(batch) // 2])
                await self.deliver(batch[len(batch) // 2 :])
                return
            if status >= 500 and server_errors < _MAX_SERVER_ERRORS:
                server_errors += 1
                self.stats.errors += 1
                delay = min(_BACKOFF_MAX, _BACKOFF_INITIAL * 2**failures)
                failures += 1
                log.warning("server error, will resend", extra={"status_code": status, "delay_s": delay})
                if not await self._pause(delay, batch):
                    return
                continue
            self.stats.rejected += len(batch)
            log.error(
                "server rejected batch",
                extra={"status_code": status, "batch_size": len(batch), "body": resp.text[:_BODY_LOG_CHARS]},
            )
            return

    def _count_accepted(self, resp: httpx.Response, sent: int) -> None:
        try:
            accepted = msgspec.json.decode(resp.content, type=_Accepted).accepted
        except msgspec.DecodeError:
            log.warning("unreadable acceptance, assuming all accepted", extra={"batch_size": sent})
            accepted = sent
        self.stats.accepted += accepted
        if accepted < sent:
            self.stats.rejected += sent - accepted


async def run_simulation(
    url: str,
    token: str,
    rate: float,
    *,
    duration: float | None = None,
    seed: int | None = None,
    batch_max: int = 50,
    client: httpx.AsyncClient | None = None,
    on_progress: Callable[[SimStats], None] | None = None,
) -> SimStats:
    """Post a :class:`CityFeed` to ``url + "/api/v1/events"`` at about ``rate`` events/s.

    Below ``1/_BATCH_WINDOW`` (4) events/s every event goes alone as a JSON object; above,
    events go as JSON arrays of up to ``batch_max``. Requests are sequential, so events
    arrive in the order generated (an ``active`` before its ``cleared``). A 503 or 429 is
    waited out (``Retry-After``, else exponential backoff) and the same batch resent;
    network errors and other 5xx are backed off and resent too (5xx at most five times);
    a 413 splits the batch; any other 4xx is logged and counted as rejected.

    Runs for ``duration`` seconds, or until cancelled. A batch still being retried when the
    duration runs out is counted in :attr:`SimStats.unsent`, not lost silently.
    ``on_progress`` gets a snapshot after every batch and once at the end, also when the
    run is cancelled. A ``client`` passed in is left open; one made here is closed.
    """
    if not rate > 0 or not math.isfinite(rate):
        raise ValueError("rate must be a positive number of events per second")
    if batch_max < 1:
        raise ValueError("batch_max must be at least 1")
    if duration is not None and duration < 0:
        raise ValueError("duration must not be negative")
    endpoint = url.rstrip("/") + "/api/v1/events"
    own_client = client is None
    http = client if client is not None else httpx.AsyncClient(timeout=10.0)
    stats = SimStats()
    feed = CityFeed(seed)
    started = start = time.monotonic()
    deadline = None if duration is None else start + duration
    poster = _Poster(http, endpoint, token, stats, deadline, batch_max)
    base = max(1, min(batch_max, int(rate * _BATCH_WINDOW)))
    buffer: deque[Event] = deque()
    dispatched = 0
    log.info(
        "simulation started",
        extra={"endpoint": endpoint, "rate": rate, "duration_s": duration, "seed": seed, "batch_size": base},
    )
    try:
        while True:
            behind = int((time.monotonic() - start) * rate) - dispatched
            size = max(1, min(poster.batch_cap, max(base, behind)))
            due = start + (dispatched + size - 1) / rate
            if deadline is not None and due >= deadline:
                break
            while len(buffer) < size:
                buffer.extend(feed.next_events(datetime.now(UTC)))
            batch = [buffer.popleft() for _ in range(size)]
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            dispatched += size
            poster.waited = 0.0
            await poster.deliver(batch)
            if poster.waited > 0:  # the server asked us to slow down: do not burst to catch up
                start = time.monotonic() - dispatched / rate
            stats.elapsed = time.monotonic() - started
            if on_progress is not None:
                on_progress(replace(stats))
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        stats.elapsed = time.monotonic() - started
        if own_client:
            await http.aclose()
        log.info("simulation finished", extra={"stats": repr(stats)})
        if on_progress is not None:
            on_progress(replace(stats))
    return stats
