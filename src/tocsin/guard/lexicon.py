"""The guard's lexicon: loading the reviewed data file and finding its terms in a text.

``lexicon.toml`` beside this module is the data: concepts with a role, a reason and their
terms per language, the weak terms a nearby context word makes harmless, and the
combinations of roles that make a concept ("age" next to "estimation"). This module
compiles it once into look-up tables and reports every occurrence of every term in a
normalised :class:`~tocsin.guard.normalise.Text`. It does not decide verdicts: that policy
is :mod:`tocsin.guard.verdicts`.

The term syntax is documented at the top of ``lexicon.toml``. The compiled lexicon is
immutable and safe to share between threads.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Final

from tocsin.errors import ConfigError
from tocsin.guard.normalise import Text, Token, fold, tokenise

__all__ = (
    "LOOKUP_CACHE_SIZE",
    "ROLES",
    "Combination",
    "Concept",
    "Lexicon",
    "Match",
    "Piece",
    "Term",
    "Weak",
    "load_lexicon",
    "parse_lexicon",
)

ROLES: Final = frozenset(
    {
        # refused on their own
        "activity",
        "characteristic",
        "biometric",
        # review on their own; verdicts.py may refuse them in context
        "worship_site",
        "crowd",
        "crowd_safety",
        "hate",
        "public_order",
        # halves of a combination
        "trait",
        "technique",
        "origin_place",
        "person",
        # context cues
        "hazard",
        "monitoring",
        "place",
        "victim",
        "danger",
        "crowd_intent",
        "government",
        "context",
        # phrases that cancel any protected match they overlap ("fire assembly point")
        "benign",
    }
)
LOOKUP_CACHE_SIZE: Final = 65_536
"""Bound of the cache of terms found per spelling, for each of the two look-up tables."""
_JOINABLE_ROLES: Final = frozenset({"activity", "characteristic", "biometric"})
_MIN_JOINABLE: Final = 6
"""Shortest term matched across spaces (``pro test``); shorter ones collide with real pairs."""

_EXACT, _PREFIX, _SUFFIX, _INFIX, _NUMBER = range(5)
_KEYS: Final = frozenset({"id", "role", "reason", "category", "review_with", "weak", "unless", "window", "refuse_with"})
"""Keys of a concept or weak group that are not lists of terms."""


@dataclass(frozen=True, slots=True)
class Concept:
    """One idea the guard knows, e.g. ``activity.assembly``, with the reason it gives."""

    id: str
    role: str
    reason: str
    category: bool = False
    """True for words that name a protected category itself (religion, ethnicity…)."""
    review_with: frozenset[str] = frozenset()
    """Roles that, anywhere in the same definition, make this concept ``review`` only."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One word of a term: literal text and how it may match a spelling."""

    kind: int
    text: str

    def matches(self, forms: Iterable[str]) -> bool:
        """Whether any of a token's spellings matches this word."""
        return any(self._matches(form) for form in forms)

    def _matches(self, form: str) -> bool:
        text = self.text
        if self.kind == _EXACT:
            return form == text or (_pluralisable(text) and form in (text + "s", text + "es"))
        if self.kind == _PREFIX:
            return form.startswith(text)
        if self.kind == _SUFFIX:
            return form.endswith(text)
        if self.kind == _INFIX:
            return text in form
        return form.isdigit()


@dataclass(frozen=True, slots=True)
class Weak:
    """A weak term is harmless when a word of an ``unless`` concept is within ``window``.

    ``window == 0`` means anywhere in the definition being judged.

    A word of a ``refuse_with`` concept within the window keeps it protected all the same
    ("bus drivers' strike" is a strike, though "bus" alone would make it a collision).
    """

    unless: frozenset[str]
    window: int
    refuse_with: frozenset[str] = frozenset()

    @property
    def contexts(self) -> frozenset[str]:
        """Every context concept this weak group refers to."""
        return self.unless | self.refuse_with


@dataclass(frozen=True, slots=True)
class Term:
    """One compiled spelling of a lexicon term."""

    concept: Concept
    label: str
    pieces: tuple[Piece, ...]
    weak: Weak | None
    literal: int
    joinable: bool


@dataclass(frozen=True, slots=True)
class Match:
    """An occurrence of a term: real tokens ``first``..``last`` of a text."""

    term: Term
    first: int
    last: int
    clause: int
    surface: str


@dataclass(frozen=True, slots=True)
class Combination:
    """Two parts within ``gap`` words of each other, in one clause, make ``concept``.

    A part is a role ("trait") or a concept id ("biometric.face").
    """

    concept: Concept
    parts: tuple[str, str]
    gap: int


def _pluralisable(text: str) -> bool:
    return len(text) >= 3 and text.isascii() and text.isalpha()


@dataclass(slots=True)
class _Index:
    """First-word look-up tables; ``lookup`` results per spelling are cached (bounded)."""

    exact: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    plural: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    prefix: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    suffix: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    infix: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    number: list[Term] = field(default_factory=list)
    prefix_lengths: tuple[int, ...] = ()
    suffix_lengths: tuple[int, ...] = ()
    infix_re: re.Pattern[str] | None = None
    cached: Callable[[str], tuple[Term, ...]] | None = None

    def add(self, term: Term) -> None:
        first = term.pieces[0]
        if first.kind == _EXACT:
            self.exact[first.text].append(term)
            if _pluralisable(first.text):
                self.plural[first.text].append(term)
        elif first.kind == _PREFIX:
            self.prefix[first.text].append(term)
        elif first.kind == _SUFFIX:
            self.suffix[first.text].append(term)
        elif first.kind == _INFIX:
            self.infix[first.text].append(term)
        else:
            self.number.append(term)

    def freeze(self) -> None:
        self.prefix_lengths = tuple(sorted({len(k) for k in self.prefix}))
        self.suffix_lengths = tuple(sorted({len(k) for k in self.suffix}))
        for table in (self.exact, self.plural, self.prefix, self.suffix, self.infix):
            table.default_factory = None  # type: ignore[attr-defined]
        if self.infix:
            # One regex search rules out the many spellings that hold no infix at all.
            self.infix_re = re.compile("|".join(re.escape(t) for t in sorted(self.infix, key=len, reverse=True)))
        self.cached = lru_cache(maxsize=LOOKUP_CACHE_SIZE)(lambda form: tuple(self._lookup_form(form)))

    def lookup(self, forms: Sequence[str]) -> list[Term]:
        assert self.cached is not None, "index used before freeze()"
        if len(forms) == 1:
            return list(self.cached(forms[0]))
        found: dict[int, Term] = {}
        for form in forms:
            for term in self.cached(form):
                found.setdefault(id(term), term)
        return list(found.values())

    def _lookup_form(self, form: str) -> Iterable[Term]:
        yield from self.exact.get(form, ())
        if form.endswith("s") and form.isascii():
            yield from self.plural.get(form[:-1], ())
            if form.endswith("es"):
                yield from self.plural.get(form[:-2], ())
        size = len(form)
        for length in self.prefix_lengths:
            if length > size:
                break
            yield from self.prefix.get(form[:length], ())
        for length in self.suffix_lengths:
            if length > size:
                break
            yield from self.suffix.get(form[-length:], ())
        if self.infix_re is not None and self.infix_re.search(form):
            for text, terms in self.infix.items():
                if text in form:
                    yield from terms
        if form.isdigit():
            yield from self.number


class Lexicon:
    """The compiled lexicon. ``find`` is pure; an instance is safe to share between threads."""

    def __init__(self, concepts: Mapping[str, Concept], terms: Iterable[Term], combinations: Sequence[Combination]):
        self.concepts = dict(concepts)
        self.combinations = tuple(combinations)
        self._all = _Index()
        self._joinable = _Index()
        self.size = 0
        for term in terms:
            self.size += 1
            self._all.add(term)
            if term.joinable:
                self._joinable.add(term)
        self._all.freeze()
        self._joinable.freeze()
        # Every beginning of a term that space-separated words may spell together.
        self._join_starts = frozenset(
            text[:end]
            for table in (self._joinable.exact, self._joinable.prefix, self._joinable.infix)
            for text in table
            for end in range(1, len(text) + 1)
        )

    def find(self, text: Text) -> list[Match]:
        """Every occurrence of every term in ``text``, overlaps included, once each, in token order."""
        tokens = text.tokens
        found: list[Match] = []
        for i, token in enumerate(tokens):
            for term in self._all.lookup(token.forms):
                last = i + len(term.pieces) - 1
                if last < len(tokens) and all(
                    piece.matches(tokens[i + k].forms) for k, piece in enumerate(term.pieces[1:], 1)
                ):
                    found.append(Match(term, i, last, token.clause, text.surface(i, last)))
        found.extend(self._find_virtual(text, text.glued, self._all))
        found.extend(self._find_virtual(text, text.joined(self._join_starts), self._joinable))
        unique = {(m.term.concept.id, m.term.label, m.first, m.last): m for m in reversed(found)}
        return sorted(unique.values(), key=lambda m: (m.first, m.last))

    @staticmethod
    def _find_virtual(text: Text, tokens: Iterable[Token], index: _Index) -> Iterable[Match]:
        for token in tokens:
            parts = text.tokens[token.first : token.last + 1]
            for term in index.lookup(token.forms):
                # Only when joining is what makes the word: "Petitioner class" is "Petitioner".
                if len(term.pieces) == 1 and not any(term.pieces[0].matches(p.forms) for p in parts):
                    yield Match(term, token.first, token.last, token.clause, text.surface(token.first, token.last))


def _piece(word: str) -> Piece:
    if word == "#num":
        return Piece(_NUMBER, "")
    starts, ends = word.startswith("*"), word.endswith("*")
    text = fold(word.strip("*")).translate(str.maketrans("", "", "'’ʼ"))
    if not text:
        raise ConfigError(f"lexicon: empty word in term {word!r}")
    kind = _INFIX if starts and ends else _SUFFIX if starts else _PREFIX if ends else _EXACT
    return Piece(kind, text)


def _spellings(term: str) -> list[tuple[Piece, ...]]:
    """All piece sequences a term stands for; ``-`` inside a word means joined or spaced."""
    if any("\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" for c in term):
        return [tuple(Piece(_EXACT, t.forms[0]) for t in tokenise(term).tokens)]
    choices: list[list[list[str]]] = []
    for word in term.split():
        inner = word.strip("*")
        if "-" in inner:
            joined = word.replace("-", "")
            head, tail = word[: len(word) - len(word.lstrip("*"))], word[len(word.rstrip("*")) :]
            parts = [p for p in inner.split("-") if p]
            spaced = [head + parts[0], *parts[1:-1], parts[-1] + tail] if len(parts) > 1 else [word]
            choices.append([[joined], spaced])
        else:
            choices.append([[word]])
    return [tuple(_piece(w) for group in combo for w in group) for combo in itertools.product(*choices)]


def _weak(spec: Mapping[str, Any], concept_id: str) -> Weak:
    unless = spec.get("unless")
    if not isinstance(unless, list) or not unless:
        raise ConfigError(f"lexicon: weak terms of {concept_id} need a non-empty 'unless' list")
    refuse_with = frozenset(str(r) for r in spec.get("refuse_with", ()))
    return Weak(frozenset(str(u) for u in unless), int(spec.get("window", 3)), refuse_with)


def _terms_of(spec: Mapping[str, Any], concept: Concept, weak: Weak | None) -> Iterable[Term]:
    for language, words in spec.items():
        if language in _KEYS:
            continue
        if not isinstance(words, list):
            raise ConfigError(f"lexicon: {concept.id}.{language} must be a list of terms")
        for label in words:
            for pieces in _spellings(str(label)):
                literal = sum(len(p.text) for p in pieces)
                long = weak is None and concept.role in _JOINABLE_ROLES and literal >= _MIN_JOINABLE
                joinable = len(pieces) == 1 and (language == "pinyin" or long)
                yield Term(concept, str(label), pieces, weak, literal, joinable)
                if language == "pinyin" and long and len(pieces) == 1:
                    # Pinyin runs syllables together at will: "jihuiyouxing" holds "youxing".
                    yield Term(concept, str(label), (Piece(_INFIX, pieces[0].text),), weak, literal, True)


def _concept(spec: Mapping[str, Any]) -> Concept:
    concept_id, role = str(spec.get("id", "")), str(spec.get("role", ""))
    if not concept_id or role not in ROLES:
        raise ConfigError(f"lexicon: concept {concept_id or '?'} has unknown role {role!r}")
    review_with = frozenset(str(r) for r in spec.get("review_with", ()))
    if not review_with <= ROLES:
        raise ConfigError(f"lexicon: concept {concept_id} has unknown roles in 'review_with'")
    reason = str(spec.get("reason", concept_id))
    return Concept(concept_id, role, reason, bool(spec.get("category", False)), review_with)


def parse_lexicon(data: Mapping[str, Any]) -> Lexicon:
    """Compile lexicon data (the parsed TOML) into a :class:`Lexicon`.

    Raises:
        ConfigError: a concept, term, weak group or combination is malformed, or refers to
            a concept or role that does not exist.
    """
    concepts: dict[str, Concept] = {}
    terms: list[Term] = []
    for spec in data.get("concept", []):
        concept = _concept(spec)
        if concept.id in concepts:
            raise ConfigError(f"lexicon: concept {concept.id} is defined twice")
        concepts[concept.id] = concept
        terms.extend(_terms_of(spec, concept, None))
        for weak_spec in spec.get("weak", []):
            terms.extend(_terms_of(weak_spec, concept, _weak(weak_spec, concept.id)))
    for term in terms:
        if term.weak is not None and (missing := term.weak.contexts - concepts.keys()):
            raise ConfigError(f"lexicon: {term.concept.id} names unknown context {sorted(missing)}")
    combinations = []
    for spec in data.get("combination", []):
        derived = _concept(spec)
        parts = tuple(spec.get("parts", ()))
        if len(parts) != 2 or not set(parts) <= ROLES | concepts.keys():
            raise ConfigError(f"lexicon: combination {derived.id} needs two known roles or concepts as parts")
        concepts[derived.id] = derived
        combinations.append(Combination(derived, (str(parts[0]), str(parts[1])), int(spec.get("gap", 1))))
    return Lexicon(concepts, terms, combinations)


@cache
def load_lexicon() -> Lexicon:
    """The shipped lexicon, compiled once on first use.

    Raises:
        ConfigError: the shipped file is missing or malformed.
    """
    try:
        raw = resources.files("tocsin.guard").joinpath("lexicon.toml").read_text(encoding="utf-8")
        return parse_lexicon(tomllib.loads(raw))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"guard lexicon unreadable: {exc}") from exc
