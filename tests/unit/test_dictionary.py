"""The default alarm-type dictionary shipped in ``tocsin/data/alarm_types.json``."""

from __future__ import annotations

import functools
import re
from collections import Counter
from importlib.resources import files

import msgspec
import pytest

from tocsin.ingest.sia_codes import ALARM_TYPE_KEYS as SIA_MAPPED_TYPES
from tocsin.model import UNCLASSIFIED_KEY, AlarmType
from tocsin.simulate import ALARM_TYPES as SIMULATED_TYPES

REQUIRED_KEYS: frozenset[str] = SIMULATED_TYPES | SIA_MAPPED_TYPES
"""Every key another module sends or maps onto must exist in the shipped dictionary."""


# Family -> (key prefixes, inclusive code range). Codes are numeric and grouped by family.
FAMILIES: dict[str, tuple[tuple[str, ...], range]] = {
    "fire": (("fire.",), range(100, 200)),
    "intrusion/security": (("intrusion.", "security."), range(200, 300)),
    "panic/duress": (("panic.",), range(300, 400)),
    "medical": (("medical.",), range(400, 500)),
    "traffic": (("traffic.",), range(500, 600)),
    "hazmat": (("hazmat.",), range(600, 700)),
    "utilities": (("utility.",), range(700, 800)),
    "weather/environment": (("weather.", "env.", "geo."), range(800, 900)),
    "technical": (("tech.",), range(900, 1000)),
    "crime": (("crime.",), range(1000, 1100)),
    "rescue": (("rescue.",), range(1100, 1200)),
}

# The project's civil-liberties line: no type may target expression, belief, identity or
# biometrics. Matched on whole words against every text field of every type.
FORBIDDEN = re.compile(
    r"\b(protest\w*|demonstrat\w*|assembl(y|ies)|rall(y|ies)|procession\w*|strikes?|strikers?"
    r"|petition\w*|religio\w*|worship\w*|ethnic\w*|racial\w*|political\w*|trade unions?"
    r"|sexual orientation|facial|face recognition|biometric\w*|gait|gender)\b",
    re.IGNORECASE,
)


@functools.cache
def load() -> tuple[AlarmType, ...]:
    data = (files("tocsin") / "data" / "alarm_types.json").read_bytes()
    return tuple(msgspec.json.decode(data, type=list[AlarmType]))


def by_key() -> dict[str, AlarmType]:
    return {t.key: t for t in load()}


def test_loads_and_has_at_least_45_types() -> None:
    assert len(load()) >= 45


def test_codes_are_unique() -> None:
    dupes = [c for c, n in Counter(t.code for t in load()).items() if n > 1]
    assert dupes == []


def test_keys_are_unique() -> None:
    dupes = [k for k, n in Counter(t.key for t in load()).items() if n > 1]
    assert dupes == []


def test_aliases_do_not_collide_with_keys_or_each_other() -> None:
    names = [t.key for t in load()] + [a.casefold() for t in load() for a in t.aliases]
    dupes = [a for a, n in Counter(names).items() if n > 1]
    assert dupes == []


def test_required_keys_present() -> None:
    assert REQUIRED_KEYS - by_key().keys() == set()


def test_unclassified_is_not_in_the_file() -> None:
    assert UNCLASSIFIED_KEY not in by_key()


@pytest.mark.parametrize("alarm_type", load(), ids=lambda t: t.key)
def test_sop_has_enough_steps(alarm_type: AlarmType) -> None:
    assert len(alarm_type.sop) >= 3
    assert all(step.strip() == step and step for step in alarm_type.sop)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_is_covered(family: str) -> None:
    prefixes, _ = FAMILIES[family]
    assert any(t.key.startswith(prefixes) for t in load()), family


def test_technical_faults_cover_comm_battery_and_tamper() -> None:
    assert {"tech.comm_failure", "tech.low_battery", "tech.tamper"} <= by_key().keys()


def test_codes_are_numeric_and_grouped_by_family() -> None:
    misplaced: list[str] = []
    for t in load():
        assert t.code.isdigit(), t.key
        family = next((f for f, (p, _) in FAMILIES.items() if t.key.startswith(p)), None)
        assert family is not None, f"{t.key} belongs to no family"
        if int(t.code) not in FAMILIES[family][1]:
            misplaced.append(f"{t.key}={t.code}")
    assert misplaced == []


def test_keys_are_dotted_lower_case() -> None:
    pattern = re.compile(r"^[a-z]+\.[a-z0-9_]+$")
    assert [t.key for t in load() if not pattern.match(t.key)] == []


def test_priority_one_includes_building_fire_and_duress() -> None:
    top = {t.key for t in load() if t.priority == 1}
    assert {"fire.building", "panic.duress"} <= top


def test_correlation_windows_are_positive() -> None:
    assert [t.key for t in load() if t.correlation_window <= 0] == []


def test_no_type_targets_expression_belief_identity_or_biometrics() -> None:
    hits: list[str] = []
    for t in load():
        texts = [t.key.replace(".", " ").replace("_", " "), t.name, t.description or "", *t.aliases, *t.sop]
        hits += [f"{t.key}: {m.group(0)}" for text in texts for m in FORBIDDEN.finditer(text)]
    assert hits == []
