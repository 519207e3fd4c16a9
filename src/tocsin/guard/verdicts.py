"""Judging: the guard's policy, turning lexicon matches into ``ok``, ``review`` or ``refused``.

This module owns the rules that combine roles. Protected activities, protected
characteristics and biometric identification or categorisation are ``refused``, with no
override. A characteristic becomes ``review`` only when the text protects people rather
than targets them: a hate crime, a crime against the group, or the group naming the *site*
of an incident ("fire at the Jewish school"). A place of worship is ``review`` as the site of
an incident, but ``refused`` when the definition counts or monitors who attends it. Crowd
safety, hate crimes and public-order offences are ``review``. Everything else is ``ok``.

It does not own the vocabulary (``lexicon.toml``) or the text normalisation
(:mod:`tocsin.guard.normalise`). Every function is pure; the caches are bounded
(:data:`TERM_CACHE_SIZE`, :data:`ATTRIBUTE_CACHE_SIZE`) and safe to share between threads.
Judgements are shared between callers: treat them, and their lists, as read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

import msgspec

from tocsin.guard.lexicon import Combination, Concept, Lexicon, Match, load_lexicon
from tocsin.guard.normalise import tokenise

__all__ = (
    "ATTRIBUTE_CACHE_SIZE",
    "MAX_VALUE_CHARS",
    "TERM_CACHE_SIZE",
    "Judgement",
    "Verdict",
    "judge_attributes",
    "judge_definition",
    "judge_term",
)

Verdict = Literal["ok", "review", "refused"]

TERM_CACHE_SIZE: Final = 4096
"""Bound of the cache of :func:`judge_term` results."""
ATTRIBUTE_CACHE_SIZE: Final = 16_384
"""Bound of each of the two caches of :func:`judge_attributes` (keys, string values)."""
MAX_VALUE_CHARS: Final = 256
"""Only this many leading characters of an attribute value are judged."""

_SEVERITY: Final = {"ok": 0, "review": 1, "refused": 2}
_REFUSED_ROLES: Final = frozenset({"activity", "biometric"})
_REVIEW_ROLES: Final = frozenset({"crowd", "crowd_safety", "hate", "public_order"})
_CONTEXT_ROLES: Final = frozenset(
    {"hazard", "monitoring", "place", "victim", "danger", "crowd_intent", "government", "context", "benign"}
)
_PART_ROLES: Final = frozenset({"trait", "technique", "origin_place", "person"})
_VALUE_ROLES: Final = frozenset({"biometric", "trait", "characteristic"})
"""Roles that can refuse an attribute value (a trait only with a technique next to it)."""
_SITE_GAP: Final = 1
"""Words allowed between a group and the building it names ("Jewish community school")."""


class Judgement(msgspec.Struct, frozen=True):
    """What the guard says about a definition, an attribute set or a term.

    ``reasons`` are human-readable (``"protected activity: assembly/demonstration (matched
    'protest')"``); ``field`` names the input field that decided the verdict
    (``"name"``, ``"attributes.religion"``); ``concepts`` are the lexicon concept ids behind it.
    """

    verdict: Verdict
    reasons: list[str]
    field: str | None = None
    concepts: list[str] = []


_OK: Final = Judgement("ok", [])


@dataclass(frozen=True, slots=True)
class _Hit:
    """A concept found in one field: a lexicon match, or a combination of two."""

    concept: Concept
    first: int
    last: int
    clause: int
    surface: str
    weak_label: str | None = None
    definition_wide: frozenset[str] = frozenset()
    """For a weak hit whose window is the whole definition: the contexts that excuse it."""


@dataclass(frozen=True, slots=True)
class _Finding:
    verdict: Verdict
    reason: str
    field: str
    concept: str


@dataclass(slots=True)
class _Field:
    name: str
    hits: list[_Hit]
    unneutralised: list[_Hit]
    contexts: frozenset[str]
    """Ids of the context concepts present, for weak terms judged definition-wide."""


def _distance(a: _Hit | Match, b: _Hit | Match) -> int | None:
    """Words from one span to the other (1 = adjacent); None when they overlap."""
    if a.last < b.first:
        return b.first - a.last
    if b.last < a.first:
        return a.first - b.last
    return None


def _near(hit: Match, others: Iterable[Match], concepts: frozenset[str], window: int) -> bool:
    """Whether a match of one of ``concepts`` stands within ``window`` words, in the same clause."""
    for other in others:
        if other.term.concept.id in concepts and other.clause == hit.clause:
            distance = _distance(hit, other)
            if distance is not None and distance <= window:
                return True
    return False


def _resolve(matches: list[Match]) -> tuple[list[Match], list[Match]]:
    """Drop matches a benign phrase overlaps, and matches inside a longer, more specific one.

    Returns:
        The matches kept, and the weak matches a benign phrase made harmless.
    """
    benign = [m for m in matches if m.term.concept.role == "benign"]
    kept: list[Match] = []
    harmless: list[Match] = []
    for match in matches:
        if match.term.concept.role in _CONTEXT_ROLES or not any(_distance(match, b) is None for b in benign):
            kept.append(match)
        elif match.term.weak is not None:
            harmless.append(match)
    # Parts of combinations never hide a match, nor are hidden: "ethnicity" is both.
    bare = _CONTEXT_ROLES | _PART_ROLES
    protected = [m for m in kept if m.term.concept.role not in bare]
    result = [m for m in kept if m.term.concept.role in bare]
    for match in protected:
        if not any(_covers(other, match) for other in protected if other is not match):
            result.append(match)
    return sorted(result, key=lambda m: (m.first, m.last)), harmless


def _covers(outer: Match, inner: Match) -> bool:
    if outer.first > inner.first or outer.last < inner.last:
        return False
    if (outer.first, outer.last) != (inner.first, inner.last):
        return True
    return outer.term.literal > inner.term.literal


def _scan(name: str, found: list[Match]) -> _Field:
    """Resolve and neutralise the matches found in one field."""
    matches, harmless = _resolve(found)
    hits = [_Hit(m.term.concept, m.first, m.last, m.clause, f"'{m.surface}'", m.term.label) for m in harmless]
    unneutralised: list[_Hit] = []
    seen: set[tuple[str, int, int]] = set()
    for match in matches:
        key = (match.term.concept.id, match.first, match.last)
        if key in seen:
            continue
        seen.add(key)
        weak = match.term.weak
        hit = _Hit(match.term.concept, match.first, match.last, match.clause, f"'{match.surface}'")
        if weak is None:
            hits.append(hit)
            continue
        wide = weak.unless if weak.window == 0 else frozenset()
        weak_hit = _Hit(hit.concept, hit.first, hit.last, hit.clause, hit.surface, match.term.label, wide)
        if weak.window == 0 or _near(match, matches, weak.refuse_with, weak.window):
            unneutralised.append(weak_hit)
        elif _near(match, matches, weak.unless, weak.window):
            hits.append(weak_hit)  # harmless here: kept only to forgive the same term elsewhere
        else:
            unneutralised.append(weak_hit)
    contexts = frozenset(m.term.concept.id for m in matches if m.term.concept.role == "context")
    return _Field(name, hits, unneutralised, contexts)


def _combine(hits: list[_Hit], combinations: Sequence[Combination]) -> list[_Hit]:
    derived: list[_Hit] = []
    for combination in combinations:
        part_a, part_b = combination.parts
        for a in (h for h in hits if part_a in (h.concept.role, h.concept.id)):
            for b in (h for h in hits if part_b in (h.concept.role, h.concept.id) and h.clause == a.clause):
                distance = _distance(a, b)
                if distance is not None and distance - 1 <= combination.gap:
                    first, second = (a, b) if a.first <= b.first else (b, a)
                    derived.append(
                        _Hit(
                            combination.concept,
                            first.first,
                            second.last,
                            a.clause,
                            f"{first.surface} + {second.surface}",
                        )
                    )
    return derived


def _live_hits(fields: list[_Field], lexicon: Lexicon) -> dict[str, list[_Hit]]:
    """Per field, the hits that count: strong ones, and weak ones no other field forgives.

    A weak term is forgiven when another field of the same definition uses it in its
    harmless sense (name "Strike", description "Lightning strike on the mast").
    """
    harmless = {(f.name, h.concept.id, h.weak_label) for f in fields for h in f.hits if h.weak_label is not None}
    contexts = frozenset().union(*(f.contexts for f in fields))
    live: dict[str, list[_Hit]] = {}
    for f in fields:
        forgiven = {(c, label) for name, c, label in harmless if name != f.name}
        hits = [h for h in f.hits if h.weak_label is None]
        hits += [
            h
            for h in f.unneutralised
            if (h.concept.id, h.weak_label) not in forgiven and not (h.definition_wide & contexts)
        ]
        hits.sort(key=lambda h: (h.first, h.last))
        live[f.name] = hits + _combine(hits, lexicon.combinations)
    return live


def _characteristic(hit: _Hit, hits: list[_Hit], hate: bool, hazard: bool) -> tuple[Verdict, str]:
    if hate:
        return "review", "in a hate-crime context (protects the victim)"
    if any(h.concept.role == "victim" and h.clause == hit.clause for h in hits):
        return "review", "as the victim of a crime"
    if any(h.concept.role == "danger" and h.clause == hit.clause for h in hits):
        return "review", "as people in danger"
    if not hazard:
        return "refused", ""
    roles = {h.concept.role for h in hits}
    if "worship_site" in roles and "hazard" in roles and "monitoring" not in roles:
        # An incident at a place of worship: its community is named as the site, or as victims.
        return "review", "named as the site of an incident"
    for h in hits:
        distance = _distance(hit, h) if h.concept.role == "place" and h.clause == hit.clause else None
        if distance is not None and distance - 1 <= _SITE_GAP:  # "Jewish school", "école juive"
            return "review", "named as the site of an incident"
    return "refused", ""


def _worship_site(hit: _Hit, hits: list[_Hit]) -> tuple[Verdict, str]:
    same_clause = [h for h in hits if h.clause == hit.clause]
    if any(h.concept.role == "hazard" for h in same_clause):
        return "review", "as the site of an incident"
    for h in same_clause:
        if h.concept.role == "monitoring":
            return "refused", f"with {h.surface}: monitoring who attends targets religion"
        if h.concept.role == "crowd_intent":
            return "refused", f"with {h.surface}: policing worship targets religion"
    return "review", ""


def _findings(live: dict[str, list[_Hit]]) -> list[_Finding]:
    every = [h for hits in live.values() for h in hits]
    roles = {h.concept.role for h in every}
    hate, hazard = "hate" in roles, "hazard" in roles
    findings: list[_Finding] = []
    for name, hits in live.items():
        for hit in hits:
            role = hit.concept.role
            verdict: Verdict
            if hit.concept.review_with & roles:
                verdict, note = "review", f"with {' and '.join(sorted(hit.concept.review_with & roles))} named"
            elif role in _REFUSED_ROLES:
                verdict, note = "refused", ""
            elif role == "characteristic":
                verdict, note = _characteristic(hit, hits, hate, hazard)
            elif role == "worship_site":
                verdict, note = _worship_site(hit, hits)
            elif role in _REVIEW_ROLES:
                verdict, note = "review", ""
            else:
                continue
            reason = f"{hit.concept.reason} (matched {hit.surface})" + (f", {note}" if note else "")
            findings.append(_Finding(verdict, reason, name, hit.concept.id))
    return findings


def _judgement(findings: Sequence[_Finding]) -> Judgement:
    if not findings:
        return _OK
    worst = max(findings, key=lambda f: _SEVERITY[f.verdict]).verdict
    chosen = [f for f in findings if f.verdict == worst]
    return Judgement(
        worst,
        list(dict.fromkeys(f.reason for f in chosen)),
        chosen[0].field,
        sorted({f.concept for f in chosen}),
    )


def _judge_fields(fields: Sequence[tuple[str, str]]) -> Judgement:
    lexicon = load_lexicon()
    found = [(name, lexicon.find(tokenise(text))) for name, text in fields if text and text.strip()]
    if all(m.term.concept.role in _CONTEXT_ROLES for _, matches in found for m in matches):
        return _OK  # nothing but context words: the common case, decided at once
    scanned = [_scan(name, matches) for name, matches in found]
    return _judgement(_findings(_live_hits(scanned, lexicon)))


def judge_definition(
    *,
    code: str,
    name: str,
    description: str | None = None,
    aliases: Sequence[str] = (),
    category: str | None = None,
    key: str | None = None,
    sop: Sequence[str] = (),
) -> Judgement:
    """Judge an alarm type, routing rule or mapping definition as a whole.

    Name, description, aliases, key and SOP are read together: a weak word made harmless
    in one field ("Lightning strike on mast") is harmless in the others, and a hate-crime
    context anywhere protects the victims named anywhere.

    Args:
        code: the definition's code.
        name: its display name.
        description: what it is for.
        aliases: other names it is known by.
        category: its category.
        key: its machine key (``fire.alarm``).
        sop: the steps of its standard operating procedure.

    Returns:
        ``refused`` if it is aimed at a protected activity, a protected characteristic or
        biometric identification; ``review`` if it is ambiguous; ``ok`` otherwise. ``field``
        names the first field behind the verdict.
    """
    fields = [("name", name), ("description", description or "")]
    fields += [(f"aliases[{i}]", alias) for i, alias in enumerate(aliases)]
    fields += [("key", key or ""), ("code", code), ("category", category or "")]
    fields += [(f"sop[{i}]", step) for i, step in enumerate(sop)]
    return _judge_fields(fields)


@lru_cache(maxsize=TERM_CACHE_SIZE)
def judge_term(text: str, *, field: str) -> Judgement:
    """Judge one short text on its own: a search filter, a mapping value, a vendor label.

    Args:
        text: the text.
        field: the name reported in the judgement's ``field``.

    Returns:
        The judgement, with the same rules as :func:`judge_definition`.
    """
    return _judge_fields([(field, text)])


@lru_cache(maxsize=ATTRIBUTE_CACHE_SIZE)
def _judge_key(key: str) -> Judgement:
    return judge_term(key, field=f"attributes.{key}")


@lru_cache(maxsize=ATTRIBUTE_CACHE_SIZE)
def _judge_value(value: str) -> Judgement:
    """Judge an attribute value for categorisation only (see :func:`judge_attributes`)."""
    if not any(c.isalpha() for c in value):
        return _OK
    text = value[:MAX_VALUE_CHARS]
    lexicon = load_lexicon()
    found = lexicon.find(tokenise(text))
    if not any(m.term.concept.role in _VALUE_ROLES for m in found):
        return _OK
    hits = _live_hits([_scan("value", found)], lexicon)["value"]
    identifier = not any(c.isspace() for c in text.strip())
    findings = [
        _Finding("refused", f"{h.concept.reason} (matched {h.surface}) in a value", "value", h.concept.id)
        for h in hits
        if h.concept.role == "biometric" or (identifier and h.concept.role == "characteristic" and h.concept.category)
    ]
    return _judgement(findings)


def judge_attributes(attributes: Mapping[str, object]) -> Judgement:
    """Judge the attributes of an event: every key, and every string value, on the hot path.

    Keys are judged like :func:`judge_term`. Values are free text (names, addresses such as
    "Mosque Street 5", device labels), so the guard does not judge their meaning: a string
    value is refused only when it names biometric identification or categorisation
    ("face_recognition", "ethnicity detection"), or when it is a single identifier-like word
    naming a protected category itself ("religion", "ethnicity"). Numbers, booleans and
    None are never judged. Results are cached per key and per value (bounded by
    :data:`ATTRIBUTE_CACHE_SIZE`), so an already-seen attribute costs a dictionary look-up.

    Args:
        attributes: the event's attributes.

    Returns:
        The worst judgement, with ``field`` set to ``"attributes.<key>"``; the first refused
        attribute decides.
    """
    worst = _OK
    for key, value in attributes.items():
        judgement = _judge_key(key)
        if isinstance(value, str) and judgement.verdict != "refused":
            by_value = _judge_value(value)
            if by_value.verdict != "ok":
                judgement = msgspec.structs.replace(by_value, field=f"attributes.{key}")
        if judgement.verdict == "refused":
            return judgement
        if _SEVERITY[judgement.verdict] > _SEVERITY[worst.verdict]:
            worst = judgement
    return worst
