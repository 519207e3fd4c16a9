"""Normalisation: every spelling trick comes back to a comparable form."""

from __future__ import annotations

from tocsin.guard.normalise import fold, token_forms, tokenise


class _Everything(frozenset[str]):
    """Lets every run of words be joined."""

    def __contains__(self, item: object) -> bool:
        return True


def _all_forms(text: str) -> set[str]:
    normalised = tokenise(text)
    joined = normalised.joined(_Everything())
    return {f for t in (*normalised.tokens, *normalised.glued, *joined) for f in t.forms}


def test_fold_drops_case_accents_and_arabic_variants() -> None:
    assert fold("Manifestación") == "manifestacion"
    assert fold("GRÈVE") == "greve"
    assert fold("Straße") == "strasse"
    assert fold("إضراب") == "اضراب"
    assert fold("مظاهرة") == "مظاهره"


def test_nfkc_folds_full_width_and_mathematical_letters() -> None:
    assert "protest" in _all_forms("ＰＲＯＴＥＳＴ")
    assert "protest" in _all_forms("𝐩𝐫𝐨𝐭𝐞𝐬𝐭")


def test_invisible_characters_are_removed() -> None:
    assert _all_forms("pro\u200btest") >= {"protest"}
    assert _all_forms("re\u00adli\u2060gion") >= {"religion"}


def test_look_alike_letters_give_the_latin_skeleton() -> None:
    assert "protest" in _all_forms("рrоtеst")  # Cyrillic р, о, е
    assert "sikh" in _all_forms("Ѕікһ")  # letters no Russian word uses
    assert "protest" in _all_forms("ᴘʀᴏᴛᴇꜱᴛ")  # small capitals


def test_real_russian_words_keep_their_own_spelling() -> None:
    assert token_forms("протест") == ("протест",)


def test_leetspeak_forms() -> None:
    assert "protest" in token_forms("pr0t3st")
    assert "muslim" in token_forms("mu$lim")
    assert "religion" in token_forms("re1igion")
    assert "islam" in token_forms("1slam")


def test_pinyin_tones_are_dropped() -> None:
    assert "shangfang" in token_forms("shàngfǎng")
    assert "shangfang" in token_forms("shang4fang3")


def test_traditional_chinese_becomes_simplified_one_token_per_character() -> None:
    normalised = tokenise("法輪功 上訪")
    assert [t.forms[0] for t in normalised.tokens] == ["法", "轮", "功", "上", "访"]


def test_arabic_clitics_are_stripped() -> None:
    forms = token_forms("والاحتجاجات")
    assert "احتجاجات" in forms
    assert "مسلمين" in token_forms("للمسلمين")


def test_punctuation_camel_case_and_spaced_letters_are_rejoined() -> None:
    assert "protest" in _all_forms("p.r.o.t.e.s.t")
    assert "protest" in _all_forms("pro-test")
    assert "protest" in _all_forms("pRoTeSt")
    assert "protest" in _all_forms("p r o t e s t")
    assert "falungong" in _all_forms("fa lun gong")


def test_stretched_letters_are_squeezed() -> None:
    assert "protest" in token_forms("prooootest")


def test_clauses_break_at_punctuation_followed_by_space() -> None:
    normalised = tokenise("Fire at the church, people evacuated; p.r.o.t.e.s.t")
    clauses = [t.clause for t in normalised.tokens]
    assert clauses[:4] == [0, 0, 0, 0]
    assert clauses[4:6] == [1, 1]
    assert set(clauses[6:]) == {2}


def test_surface_is_the_written_text() -> None:
    normalised = tokenise("Big  PROTEST here")
    assert normalised.surface(1, 1) == "PROTEST"
    assert normalised.surface(0, 2) == "Big  PROTEST here"
