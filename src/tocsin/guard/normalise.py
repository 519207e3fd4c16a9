"""Text normalisation for the protected-category guard: any Unicode text to comparable tokens.

It owns everything that makes two spellings of one word compare equal: NFKC (full-width and
mathematical letters), removal of invisible characters, Traditional to Simplified Chinese,
case folding, accents and Arabic diacritics, Arabic letter variants and clitics, Cyrillic and
Greek look-alikes, leetspeak, pinyin tone numbers and stretched letters. It also undoes the
spacing tricks: words split by punctuation or camel case (``p.r.o.t.e.s.t``, ``pRoTeSt``),
letters spaced out (``p r o t e s t``) and words split by spaces (``fa lun gong``) come back
as *virtual* tokens. It knows no lexicon and makes no judgement.

Every function here is pure and safe to call from any thread; the caches are bounded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from opencc import OpenCC  # type: ignore[import-untyped]

__all__ = ("FORMS_CACHE_SIZE", "Text", "Token", "fold", "token_forms", "tokenise")

FORMS_CACHE_SIZE: Final = 65_536
"""Bound of the cache of spellings per distinct raw token."""

_MAX_JOIN: Final = 3
"""Longest run of space-separated words tried as one word (``fa lun gong`` is three)."""

_INVISIBLE_RE: Final = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
_HAN: Final = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_MARKS: Final = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
# Leet symbols and apostrophes stay inside a word; "!" only when a letter follows ("rel!gion").
_TOKEN_RE: Final = re.compile(rf"(?P<han>[{_HAN}])|(?P<word>(?:[^\W_{_HAN}]|[{_MARKS}]|[$@|€£'’ʼ]|!(?=\w))+)")
_HAN_RE: Final = re.compile(f"[{_HAN}]")
_CLAUSE_CHARS: Final = frozenset(',;:.!?()[]{}"«»“”„。、…\n\r\t')
_SYMBOLS: Final = "$@|€£!'’ʼ"
_STRIP_SYMBOLS: Final = str.maketrans("", "", _SYMBOLS)
_LEET_COMMON: Final = {"0": "o", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "€": "e", "£": "l", "!": "i"}  # fmt: skip
_LEET_I: Final = str.maketrans({**_LEET_COMMON, "1": "i", "|": "l"})
_LEET_L: Final = str.maketrans({**_LEET_COMMON, "1": "l", "|": "i"})
_PINYIN_TONES_RE: Final = re.compile(r"[a-zü]+[1-5](?:[a-zü]+[1-5]?)*")
_STRETCHED_RE: Final = re.compile(r"(.)\1{2,}")

# Letters that look like Latin ones. NFKC already folds full-width, mathematical and
# circled letters; this covers what it leaves: Cyrillic, Greek, Armenian and small capitals.
_CONFUSABLES: Final = {
    "А": "A", "а": "a", "В": "B", "в": "b", "Е": "E", "е": "e", "Ё": "E", "ё": "e", "К": "K", "к": "k",
    "М": "M", "м": "m", "Н": "H", "н": "h", "О": "O", "о": "o", "Р": "P", "р": "p", "С": "C", "с": "c",
    "Т": "T", "т": "t", "Х": "X", "х": "x", "У": "Y", "у": "y", "Ѕ": "S", "ѕ": "s", "І": "I", "і": "i",
    "Ї": "I", "ї": "i", "Ј": "J", "ј": "j", "Һ": "H", "һ": "h", "Ӏ": "I", "ӏ": "l", "ԁ": "d", "Ԁ": "D",
    "ԛ": "q", "Ԛ": "Q", "ԝ": "w", "Ԝ": "W", "г": "r", "п": "n", "ь": "b", "Ь": "b", "ѵ": "v", "Ѵ": "V",
    "Α": "A", "α": "a", "Β": "B", "β": "b", "Ε": "E", "ε": "e", "Ζ": "Z", "Η": "H", "η": "n", "Ι": "I",
    "ι": "i", "Κ": "K", "κ": "k", "Μ": "M", "Ν": "N", "ν": "v", "Ο": "O", "ο": "o", "Ρ": "P", "ρ": "p",
    "Τ": "T", "τ": "t", "Υ": "Y", "υ": "u", "Χ": "X", "χ": "x", "γ": "y", "ϲ": "c", "Ϲ": "C", "ϳ": "j",
    "ω": "w", "ς": "s", "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "ı": "i", "ɩ": "i", "ɑ": "a",
    "ɡ": "g", "ʟ": "l", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i",
    "ᴊ": "j", "ᴋ": "k", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u",
    "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
}  # fmt: skip
_CONFUSABLE_TABLE: Final = str.maketrans(_CONFUSABLES)
_RUSSIAN: Final = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ")
_ARABIC_TABLE: Final = str.maketrans({"ى": "ي", "ة": "ه", "ٱ": "ا", "ک": "ك", "ی": "ي", "ـ": None})
# Conjunctions, prepositions and the article that Arabic writes joined to the word.
_ARABIC_CLITICS: Final = ("وبال", "وال", "فال", "بال", "كال", "ولل", "لل", "ال", "و", "ف", "ب", "ل", "ك")

_t2s = OpenCC("t2s")


@dataclass(frozen=True, slots=True)
class Token:
    """One word (or one Han character) of a text, with every spelling it may stand for.

    ``first`` and ``last`` are the indexes of the real tokens it covers: equal for a real
    token, a range for a virtual one made by joining several.
    """

    forms: tuple[str, ...]
    first: int
    last: int
    clause: int
    start: int
    end: int
    han: bool


@dataclass(frozen=True, slots=True)
class Text:
    """A normalised text: real tokens in order, plus virtual tokens that undo spacing tricks.

    ``glued`` holds words rejoined across punctuation or camel case, and letter-by-letter
    spellings; they may match any one-word term. :meth:`joined` yields runs of up to three
    space-separated words ("fa lun gong"), which a lexicon matches against long,
    unambiguous terms only.
    """

    source: str
    tokens: tuple[Token, ...]
    glued: tuple[Token, ...]
    linked: tuple[bool, ...]
    """``linked[i]``: token i follows token i-1 in the same clause, with only spaces or
    punctuation between (neither being Han)."""

    def surface(self, first: int, last: int) -> str:
        """The text as written (after NFKC) from real token ``first`` to ``last``."""
        return self.source[self.tokens[first].start : self.tokens[last].end]

    def joined(self, starts: AbstractSet[str]) -> Iterator[Token]:
        """Runs of linked words whose joined spelling begins a term.

        Args:
            starts: every beginning of a term worth completing; a run grows only while
                its spelling so far is one of them, which keeps this cheap.
        """
        tokens = self.tokens
        for first in range(len(tokens) - 1):
            if not self.linked[first + 1] or not any(f in starts for f in tokens[first].forms):
                continue
            for last in range(first + 1, min(first + _MAX_JOIN, len(tokens))):
                if not self.linked[last]:
                    break
                token = _virtual(tokens, first, last)
                yield token
                if not any(f in starts for f in token.forms):
                    break


def fold(text: str) -> str:
    """Case-fold, drop accents and diacritics, and unify Arabic letter variants."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFD", folded)
    bare = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    return unicodedata.normalize("NFC", bare).translate(_ARABIC_TABLE)


def _prepare(text: str) -> str:
    text = _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text))
    if _HAN_RE.search(text):
        text = str(_t2s.convert(text))
    return text


def _add(forms: list[str], form: str) -> None:
    if form and form not in forms:
        forms.append(form)


def _skeleton(raw: str) -> str | None:
    """The Latin spelling a word imitates with look-alike letters, if it is one.

    Only for words that mix scripts or use a look-alike no Russian word contains (Greek,
    ``і``, ``ѕ``, small capitals…), so real Russian words keep their own spelling.
    """
    mixed = any(c.isascii() and c.isalpha() for c in raw)
    if not mixed and all(c in _RUSSIAN for c in raw if c in _CONFUSABLES):
        return None
    mapped = fold(raw.translate(_CONFUSABLE_TABLE))
    return mapped if mapped.translate(_STRIP_SYMBOLS).isascii() and mapped != fold(raw) else None


def _seed_forms(forms: list[str], seed: str) -> None:
    _add(forms, seed.translate(_STRIP_SYMBOLS))
    has_letter = any(c.isalpha() for c in seed)
    if has_letter and any(c.isdigit() or c in _SYMBOLS for c in seed):
        _add(forms, seed.translate(_LEET_I).translate(_STRIP_SYMBOLS))
        _add(forms, seed.translate(_LEET_L).translate(_STRIP_SYMBOLS))
        if _PINYIN_TONES_RE.fullmatch(seed):
            _add(forms, re.sub("[1-5]", "", seed))
    if has_letter and any(c in "'’ʼ" for c in seed):
        # "l'âge", "jehovah's": the pieces count as words too.
        for piece in re.split("['’ʼ]", seed):
            if len(piece) > 1:
                _add(forms, piece.translate(_STRIP_SYMBOLS))


def _arabic_forms(forms: list[str]) -> None:
    for form in list(forms):
        if "\u0600" <= form[0] <= "\u06ff":
            for clitic in _ARABIC_CLITICS:
                if form.startswith(clitic) and len(form) - len(clitic) >= 3:
                    _add(forms, form[len(clitic) :])


@lru_cache(maxsize=FORMS_CACHE_SIZE)
def token_forms(raw: str) -> tuple[str, ...]:
    """Every comparable spelling of one raw word, the plain folded one first.

    Args:
        raw: a word as written (NFKC already applied), without spaces.

    Returns:
        The folded word without symbols, then its leetspeak, look-alike, pinyin-tone,
        apostrophe, de-stretched and Arabic-clitic variants; empty if nothing is left.
    """
    forms: list[str] = []
    folded = fold(raw)
    _seed_forms(forms, folded)
    if any(c in _CONFUSABLES for c in raw) and (skeleton := _skeleton(raw)) is not None:
        _seed_forms(forms, skeleton)
    for form in list(forms):
        if _STRETCHED_RE.search(form):
            _add(forms, _STRETCHED_RE.sub(r"\1", form))
            _add(forms, _STRETCHED_RE.sub(r"\1\1", form))
    if forms:
        _arabic_forms(forms)
    return tuple(forms)


def _camel_parts(word: str, start: int) -> list[tuple[str, int, int]]:
    """Split ``faceMatch`` into ``face`` and ``Match`` (positions kept)."""
    tail = word[1:]
    if tail.islower() or tail.isupper() or not any(c.isupper() for c in tail):
        return [(word, start, start + len(word))]
    parts: list[tuple[str, int, int]] = []
    begin = 0
    for i in range(1, len(word)):
        if word[i].isupper() and word[i - 1].islower():
            parts.append((word[begin:i], start + begin, start + i))
            begin = i
    parts.append((word[begin:], start + begin, start + len(word)))
    return parts


def _raw_tokens(source: str) -> list[tuple[str, int, int, bool]]:
    raw: list[tuple[str, int, int, bool]] = []
    for match in _TOKEN_RE.finditer(source):
        if match.lastgroup == "han":
            raw.append((match.group(), match.start(), match.end(), True))
        else:
            for part, start, end in _camel_parts(match.group(), match.start()):
                if token_forms(part):
                    raw.append((part, start, end, False))
    return raw


def _is_break(gap: str, near_han: bool) -> bool:
    if "\n" in gap:
        return True
    return any(c in _CLAUSE_CHARS for c in gap) and (near_han or any(c.isspace() for c in gap))


def _virtual(tokens: Sequence[Token], first: int, last: int, source: str | None = None) -> Token:
    """One word made of real tokens ``first``..``last``.

    Its spellings join the parts' spellings rather than normalising the joined text again
    (much cheaper on the hot path): the plain spellings, then each part's first and second
    variant where it has one. With ``source``, the joined text is normalised too, so that
    a lone digit among letters reads as leetspeak ("p r 0 t e s t").
    """
    parts = tokens[first : last + 1]
    if all(len(p.forms) == 1 for p in parts):
        variants = ["".join([p.forms[0] for p in parts])]
    else:
        variants = []
        for k in range(3):
            _add(variants, "".join([p.forms[min(k, len(p.forms) - 1)] for p in parts]))
    if source is not None:
        for form in token_forms("".join(source[p.start : p.end] for p in parts)):
            _add(variants, form)
    return Token(tuple(variants), first, last, parts[0].clause, parts[0].start, parts[-1].end, False)


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive True flags (flag i links token i-1 to token i)."""
    runs: list[tuple[int, int]] = []
    begin: int | None = None
    for i, linked in enumerate(flags):
        if linked and begin is None:
            begin = i - 1
        elif not linked and begin is not None:
            runs.append((begin, i - 1))
            begin = None
    if begin is not None:
        runs.append((begin, len(flags) - 1))
    return runs


def tokenise(text: str) -> Text:
    """Normalise ``text`` and cut it into tokens, real and virtual.

    Args:
        text: any text: a name, a description, an attribute key or value.

    Returns:
        The normalised text with its tokens. Han characters are one token each, so a
        Chinese term is matched as a run of characters whatever stands between them.
    """
    source = _prepare(text)
    raw = _raw_tokens(source)
    tokens: list[Token] = []
    glue: list[bool] = []  # token i is glued to token i-1: no space between
    linked: list[bool] = []  # token i follows token i-1 across spaces or punctuation only
    clause = 0
    previous_end, previous_han = 0, True
    for i, (word, start, end, han) in enumerate(raw):
        gap = source[previous_end:start]
        near_han = han or previous_han
        if gap == " " and not near_han:  # the common case, decided at once
            glued = False
            link = True
        else:
            if i and _is_break(gap, near_han):
                clause += 1
            spaced = any(c.isspace() for c in gap)
            glued = not near_han and not spaced and not _is_break(gap, False)
            link = not near_han and (glued or (spaced and gap.isspace() and "\n" not in gap))
        glue.append(glued and i > 0)
        linked.append(link and i > 0)
        tokens.append(Token(token_forms(word) if not han else (word,), i, i, clause, start, end, han))
        previous_end, previous_han = end, han
    runs = [_virtual(tokens, first, last, source) for first, last in _runs(glue)]
    single = [linked[i] and len(raw[i][0]) == len(raw[i - 1][0]) == 1 for i in range(len(raw))]
    runs += [_virtual(tokens, first, last, source) for first, last in _runs(single) if last - first >= 2]
    return Text(source, tuple(tokens), tuple(runs), tuple(linked))
