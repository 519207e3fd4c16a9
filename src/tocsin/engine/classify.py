"""The alarm-type dictionary in memory, and classification of an event's ``type`` into it.

An event names its type by key (``fire.smoke``), code (``301``) or a configured alias.
Anything else is never dropped: it classifies as the built-in ``unclassified`` type and
the incident keeps the original string so someone can map it.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files

import msgspec

from tocsin.model import UNCLASSIFIED_KEY, AlarmType

__all__ = ("UNCLASSIFIED", "Dictionary", "load_default_types")

UNCLASSIFIED = AlarmType(
    code="000",
    key=UNCLASSIFIED_KEY,
    name="Unclassified event",
    category="Other",
    priority=3,
    sop=[
        "Read the event's original type, source and description.",
        "Contact the site or device owner to establish what happened.",
        "Handle as the closest known alarm type would be handled.",
        "Ask an administrator to map the original type to an alarm type.",
    ],
    correlation_window=300,
    description="Built in: events whose type matches no entry of the dictionary.",
)


def load_default_types() -> list[AlarmType]:
    """The dictionary that ships with tocsin (``tocsin/data/alarm_types.json``)."""
    data = (files("tocsin") / "data" / "alarm_types.json").read_bytes()
    return msgspec.json.decode(data, type=list[AlarmType])


class Dictionary:
    """Lookup of alarm types by key, code and alias. Mutated only by the writer thread."""

    __slots__ = ("_by_name", "_mappings", "_types")

    def __init__(self, types: Iterable[AlarmType] = ()) -> None:
        self._types: dict[str, AlarmType] = {}
        self._by_name: dict[str, AlarmType] = {}
        self._mappings: dict[str, str] = {}
        self.replace(types)

    def replace(self, types: Iterable[AlarmType], mappings: dict[str, str] | None = None) -> None:
        """Swap in a whole new set (built aside, then assigned, so readers never see half).

        ``mappings`` (vendor code → key) rank below keys, codes and aliases.
        """
        if mappings is not None:
            self._mappings = dict(mappings)
        by_key = {UNCLASSIFIED.key: UNCLASSIFIED}
        by_key.update((t.key, t) for t in types)
        by_name: dict[str, AlarmType] = {}
        for code, key in self._mappings.items():
            if key in by_key:
                by_name[code.casefold()] = by_key[key]
        for t in by_key.values():
            for alias in t.aliases:
                by_name[alias.casefold()] = t
        for t in by_key.values():
            by_name[t.code.casefold()] = t
        for t in by_key.values():
            by_name[t.key.casefold()] = t
        self._types, self._by_name = by_key, by_name

    @property
    def mappings(self) -> dict[str, str]:
        return dict(self._mappings)

    def set_mapping(self, vendor_code: str, key: str) -> None:
        self._mappings[vendor_code] = key
        self.replace(list(self._types.values()))

    def add(self, alarm_type: AlarmType) -> None:
        self.replace([*(t for t in self._types.values() if t.key != alarm_type.key), alarm_type])

    def classify(self, type_name: str) -> AlarmType:
        """The alarm type an event's ``type`` names, or ``unclassified``."""
        found = self._by_name.get(type_name) or self._by_name.get(type_name.casefold())
        return found if found is not None else UNCLASSIFIED

    def get(self, key: str) -> AlarmType | None:
        return self._types.get(key)

    def procedure(self, key: str) -> list[str]:
        """The SOP steps of the alarm type ``key`` (none for a type no longer in the dictionary)."""
        found = self._types.get(key)
        return list(found.sop) if found is not None else []

    def find(self, key_or_code: str) -> AlarmType | None:
        return self._by_name.get(key_or_code.casefold())

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)
