"""The fictional city the simulated feed happens in: its vocabulary, places and devices.

Why this exists: a demo feed is only convincing if it comes from somewhere that looks like a
real city, and the same place every run. This module owns the data tables for that city and
nothing that moves: the alarm-type keys the feed may use (:data:`ALARM_TYPES`) and the
deliberately unknown vendor types (:data:`UNKNOWN_TYPES`), the city's centre and time zone,
its catalogue of named places, the devices each kind of place has, its roads and the SIA
codes its panels send, plus :class:`Site` and the fixed-seed layout that places about sixty
sites on the map. It also holds the ``EventIn``-shaped dict aliases and the wire forms of a
location and a timestamp, which both the generator and the poster share.

It does no I/O, reads no clock and decides no scenario: what happens in the city is
:mod:`tocsin.simulate_feed`'s business, posting it is :mod:`tocsin.simulate`'s.

By design the places are buildings, roads and utilities, never people: nothing here
describes anyone's identity (names, faces, number plates, ethnicity, religion, politics),
nor protests or gatherings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

__all__ = ("ALARM_TYPES", "CITY_CENTRE", "CITY_TZ", "UNKNOWN_TYPES", "Attrs", "Event", "Site")

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
