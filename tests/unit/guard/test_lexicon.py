"""The lexicon: term syntax, compilation and validation of the data file."""

from __future__ import annotations

from typing import Any

import pytest

from tocsin.errors import ConfigError
from tocsin.guard.lexicon import ROLES, load_lexicon, parse_lexicon
from tocsin.guard.normalise import tokenise


def _labels(lexicon_data: dict[str, Any], text: str) -> list[str]:
    lexicon = parse_lexicon(lexicon_data)
    return [m.term.label for m in lexicon.find(tokenise(text))]


def _concept(**terms: Any) -> dict[str, Any]:
    return {"concept": [{"id": "activity.test", "role": "activity", "reason": "test", **terms}]}


def test_shipped_lexicon_loads_and_uses_known_roles() -> None:
    lexicon = load_lexicon()
    assert lexicon.size > 1000
    assert {c.role for c in lexicon.concepts.values()} <= ROLES
    assert {
        "activity.assembly",
        "characteristic.religion",
        "biometric.identification",
    } <= lexicon.concepts.keys()


def test_exact_words_match_whole_words_and_plurals_only() -> None:
    data = _concept(en=["race"])
    assert _labels(data, "race") == ["race"]
    assert _labels(data, "races") == ["race"]
    assert _labels(data, "trace of smoke") == []
    assert _labels(data, "racetrack") == []


def test_wildcards() -> None:
    assert _labels(_concept(en=["protest*"]), "protesters") == ["protest*"]
    assert _labels(_concept(en=["*streik"]), "Warnstreik") == ["*streik"]
    assert _labels(_concept(en=["*religio*"]), "irreligious") == ["*religio*"]
    assert _labels(_concept(en=["protest*"]), "counterprotest") == []


def test_phrases_and_hyphens() -> None:
    data = _concept(en=["re-identification", "sit in"])
    assert set(_labels(data, "person re-identification")) == {"re-identification"}
    assert _labels(data, "re identification") == ["re-identification"]
    assert _labels(data, "reidentification") == ["re-identification"]
    assert _labels(data, "sit near") == []


def test_chinese_terms_match_character_runs() -> None:
    data = _concept(zh=["上访"])
    assert _labels(data, "扬言上访") == ["上访"]
    assert _labels(data, "上 访") == ["上访"]
    assert _labels(data, "上访") == ["上访"]


def test_numbers() -> None:
    assert _labels({"concept": [{"id": "ctx.t", "role": "context", "en": ["#num"]}]}, "March 2025") == ["#num"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"concept": [{"id": "x", "role": "nonsense"}]}, "unknown role"),
        ({"concept": [{"id": "x", "role": "activity"}, {"id": "x", "role": "activity"}]}, "defined twice"),
        ({"concept": [{"id": "x", "role": "activity", "en": "protest"}]}, "must be a list"),
        ({"concept": [{"id": "x", "role": "activity", "weak": [{"en": ["strike"]}]}]}, "'unless' list"),
        (
            {"concept": [{"id": "x", "role": "activity", "weak": [{"unless": ["ctx.none"], "en": ["strike"]}]}]},
            "unknown context",
        ),
        ({"combination": [{"id": "c", "role": "biometric", "parts": ["trait"]}]}, "two known roles"),
        ({"concept": [{"id": "x", "role": "activity", "en": ["*"]}]}, "empty word"),
        ({"concept": [{"id": "x", "role": "activity", "review_with": ["nonsense"]}]}, "review_with"),
    ],
)
def test_malformed_lexicon_is_a_config_error(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_lexicon(data)
