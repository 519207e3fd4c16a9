"""One test per evasion class: each trick still gives ``refused``; the plain word stays ``ok``."""

from __future__ import annotations

import pytest

from tocsin.guard import judge_definition, judge_term


def _refused(*texts: str) -> None:
    for text in texts:
        judgement = judge_term(text, field="name")
        assert judgement.verdict == "refused", (text, judgement)


def test_nfkc_full_width_and_styled_letters() -> None:
    _refused("ＰＲＯＴＥＳＴ", "ｒｅｌｉｇｉｏｎ", "𝐟𝐚𝐜𝐞 𝐫𝐞𝐜𝐨𝐠𝐧𝐢𝐭𝐢𝐨𝐧", "ⓟⓡⓞⓣⓔⓢⓣ", "上访")


def test_case() -> None:
    _refused("PROTEST", "Religion", "fAlUn GoNg", "UYGHUR persons", "pRoTeSt")


def test_confusables_and_homoglyphs() -> None:
    _refused(
        "рrоtеst",  # Cyrillic р о е
        "Мuѕlim",  # Cyrillic М ѕ
        "ρrotest",  # Greek rho
        "Ѕікһ worshippers",
        "ᴘʀᴏᴛᴇꜱᴛ",  # small capitals
        "ethnıcıty",  # dotless i
    )


def test_zero_width_and_invisible_characters() -> None:
    _refused("pro\u200btest", "re\u200clig\u200dion", "mus\u2060lim", "\ufeffpetition", "up\u00adrising")


def test_punctuation_and_spacing_inside_words() -> None:
    _refused(
        "p.r.o.t.e.s.t",
        "p r o t e s t",
        "pro-test",
        "pro_test",
        "r e l i g i o n",
        "Mus lim persons",
        "fa lun gong",
        "u.y.g.h.u.r",
        "re-ligion",
    )


def test_leetspeak() -> None:
    _refused("pr0t3st", "F4lun G0ng", "mu$lim", "re1igion", "5ikh", "@ssembly of protesters", "h1j4b", "d1ss1dent")


def test_pinyin() -> None:
    _refused(
        "falungong",
        "Falun Gong",
        "shangfang",
        "shang fang renyuan",
        "shàngfǎng",
        "shang4fang3",
        "jihui youxing",
        "jihuiyouxing",
        "zongjiao",
        "weiwuer zu",
        "renlian shibie",
    )


def test_pinyin_syllable_hui_alone_is_not_judged() -> None:
    assert judge_term("hui", field="name").verdict == "ok"
    assert judge_term("Hui Min Road fire", field="name").verdict == "ok"


def test_simplified_chinese() -> None:
    _refused("宗教", "上访", "法轮功", "聚众", "游行", "示威", "集会", "维吾尔", "少数民族", "人脸识别", "民族")


def test_traditional_chinese() -> None:
    _refused("上訪", "法輪功", "聚眾", "遊行", "集會", "維吾爾", "人臉識別", "宗教活動")


def test_chinese_ordinary_crimes_stay_ok() -> None:
    for text in ("杀人", "盗窃", "聚众斗殴", "交通事故", "民族路火灾"):
        assert judge_term(text, field="name").verdict == "ok", text


def test_spanish() -> None:
    _refused(
        "protesta",
        "Manifestación",
        "huelga general",
        "religión",
        "etnia",
        "reconocimiento facial",
        "sindicato",
    )


def test_french() -> None:
    _refused(
        "manifestation devant la mairie",
        "grève",
        "religion",
        "ethnie",
        "rassemblement",
        "reconnaissance faciale",
    )


def test_french_assembly_point_is_ok() -> None:
    assert judge_term("point de rassemblement bloqué", field="name").verdict == "ok"


def test_german() -> None:
    _refused("Demonstration", "Kundgebung", "Warnstreik", "Religion", "ethnische Herkunft", "Gesichtserkennung")


def test_russian() -> None:
    _refused("протест", "митинг", "забастовка", "религия", "этнический", "распознавание лиц")


def test_arabic() -> None:
    _refused("احتجاج", "مظاهرة", "إضراب", "دين", "عرق", "التعرف على الوجه", "والمتظاهرين")


@pytest.mark.parametrize(
    "text",
    [
        "Пожар в подвале",
        "حريق في المستودع",
        "Incendio en el almacén",
        "Cambriolage en cours",
        "Brand im Keller",
    ],
)
def test_other_languages_ordinary_alarms_stay_ok(text: str) -> None:
    assert judge_definition(code="X", name=text).verdict == "ok"
