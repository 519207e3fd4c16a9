"""A seeded generator of alarm events from the simulated city: :class:`CityFeed`.

Why this exists: tocsin must be exercised end to end (correlation, chattering devices,
active/cleared pairs, the unclassified path, back-pressure) with traffic that looks like a
real city's. This module owns the scenarios that happen in :mod:`tocsin.simulate_city` (a
false fire alarm, a collision with two callers, a chattering detector, ...) and the
scheduling of their follow-ups. It is pure and deterministic: the same seed and the same
``now`` values give the same events; no I/O, no clock. Posting is :mod:`tocsin.simulate`'s.
It owns no event schema, alarm-type dictionary or correlation rule: the server decides.

By design it never generates anything about people's identity (names, faces, number
plates, ethnicity, religion, politics) nor about protests or gatherings: tocsin refuses
such data, and a demo feed should not teach anyone otherwise.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tocsin.simulate_city import (
    _BATTERY_DEVICES,
    _ROADS,
    _SIA,
    _WATERSIDE,
    CITY_CENTRE,
    CITY_TZ,
    UNKNOWN_TYPES,
    Attrs,
    Event,
    Site,
    _build_city,
    _loc,
    _rfc3339,
)

__all__ = ("CityFeed",)


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
