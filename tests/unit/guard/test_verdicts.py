"""Verdicts: the reference taxonomy, the shipped dictionary, red-team and legitimate sets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import msgspec
import pytest

from tocsin.guard import Judgement, judge_attributes, judge_definition, judge_term

HERE = Path(__file__).resolve().parent
SPECS = Path(__file__).resolve().parents[3].parent / "shared" / "specs"
INFOVISION = SPECS / "infovision-alarm-types.csv"
DICTIONARY = Path(__file__).resolve().parents[3] / "src" / "tocsin" / "data" / "alarm_types.json"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _infovision_rows() -> list[dict[str, str]]:
    return _rows(INFOVISION) if INFOVISION.exists() else []


@pytest.mark.skipif(not INFOVISION.exists(), reason=f"shared specs not found at {INFOVISION}")
@pytest.mark.parametrize("row", _infovision_rows(), ids=lambda r: r["code"])
def test_infovision_alarm_types_get_their_expected_verdict(row: dict[str, str]) -> None:
    judgement = judge_definition(code=row["code"], name=row["name"], description=row["description"])
    assert judgement.verdict == row["expect"], judgement.reasons


@pytest.mark.skipif(not INFOVISION.exists(), reason=f"shared specs not found at {INFOVISION}")
@pytest.mark.parametrize("row", _infovision_rows(), ids=lambda r: r["code"])
def test_infovision_names_alone_and_descriptions_alone_agree(row: dict[str, str]) -> None:
    assert judge_term(row["name"], field="name").verdict == row["expect"]
    assert judge_term(row["description"], field="description").verdict == row["expect"]


def test_shipped_dictionary_has_nothing_refused() -> None:
    entries = json.loads(DICTIONARY.read_text(encoding="utf-8"))
    verdicts = {}
    for entry in entries:
        judgement = judge_definition(
            code=entry["code"],
            name=entry["name"],
            description=entry.get("description"),
            aliases=entry.get("aliases", []),
            category=entry["category"],
            key=entry["key"],
            sop=entry["sop"],
        )
        assert judgement.verdict != "refused", (entry["code"], judgement.reasons)
        verdicts[entry["code"]] = judgement.verdict
    print(f"review: {sorted(code for code, verdict in verdicts.items() if verdict == 'review')}")


def test_red_team_and_legitimate_sets() -> None:
    red_team = _rows(HERE / "redteam.csv")
    legitimate = _rows(HERE / "legitimate.csv")
    assert len(red_team) >= 80 and len(legitimate) >= 80
    missed = [
        (r["name"], r["description"])
        for r in red_team
        if judge_definition(code="RT", name=r["name"], description=r["description"] or None).verdict != "refused"
    ]
    verdicts = [
        (r, judge_definition(code="LG", name=r["name"], description=r["description"] or None)) for r in legitimate
    ]
    false_refusals = [r["name"] for r, j in verdicts if j.verdict == "refused"]
    reviews = [r["name"] for r, j in verdicts if j.verdict == "review"]
    unexpected = [(r["name"], r["expect"], j.verdict) for r, j in verdicts if j.verdict != r["expect"]]
    refusal_rate = 1 - len(missed) / len(red_team)
    print(
        f"red team: {len(red_team) - len(missed)}/{len(red_team)} refused ({refusal_rate:.1%}); "
        f"legitimate: {len(false_refusals)}/{len(legitimate)} falsely refused, {len(reviews)} review"
    )
    assert missed == []
    assert false_refusals == []
    assert unexpected == []


@pytest.mark.parametrize(
    ("name", "description", "verdict"),
    [
        ("Fire at the mosque", None, "review"),
        ("Break-in at church", None, "review"),
        ("Church", "Intruder alarm at St Mary's church", "review"),
        ("Gathering crowds to disrupt traffic order", None, "refused"),
        ("Mosque attendance count", None, "refused"),
        ("Muslim community", "Alarm type for members of the Muslim community", "refused"),
        ("Arson attack on Jewish school", None, "review"),
        ("Hate crime against Muslims", None, "review"),
        ("Crowd crush", "Crowd density above the safe limit at the stadium exit", "review"),
        ("Fire assembly point blocked", None, "ok"),
        ("Strike", "Lightning strike on the radio mast", "ok"),
        ("Strike", "Workers on strike at the depot", "refused"),
        ("Strike (not a lightning strike)", None, "refused"),
        ("Antisemitic leaflets posted through doors", None, "review"),
        ("Leaflets handed out at the station", None, "refused"),
        ("Demonstration", "Product demonstration for a customer", "ok"),
        ("Demonstration", None, "refused"),
        ("Car rally accident", None, "ok"),
        ("Rally", None, "refused"),
        ("Monthly test", "Scheduled test, first Monday of March", "ok"),
        ("March on the town hall", None, "refused"),
        ("Earthquake in Xinjiang", None, "ok"),
        ("Xinjiang people", None, "refused"),
    ],
)
def test_definitions_are_judged_by_meaning(name: str, description: str | None, verdict: str) -> None:
    assert judge_definition(code="X", name=name, description=description).verdict == verdict


def test_judgement_names_the_field_and_concepts() -> None:
    judgement = judge_definition(code="C1", name="Perimeter alarm", description="Raised when protesters gather")
    assert judgement.verdict == "refused"
    assert judgement.field == "description"
    assert "activity.assembly" in judgement.concepts
    assert any(r == "protected activity: assembly/demonstration (matched 'protesters')" for r in judgement.reasons)


def test_aliases_key_and_sop_are_judged() -> None:
    assert judge_definition(code="A", name="Zone alert", aliases=["rally"]).field == "aliases[0]"
    assert judge_definition(code="A", name="Zone alert", key="security.religion").field == "key"
    refused = judge_definition(code="A", name="Zone alert", sop=["Record the religion of each person."])
    assert (refused.verdict, refused.field) == ("refused", "sop[0]")


def test_hate_crime_sop_naming_a_group_stays_review() -> None:
    judgement = judge_definition(
        code="1005",
        name="Hate crime",
        sop=["Ask whether the offender referred to the victim's religion or ethnicity."],
    )
    assert judgement.verdict == "review"


def test_ok_judgement_is_empty() -> None:
    assert judge_term("Smoke detector activation", field="name") == Judgement("ok", [])


def test_judge_term_reports_its_field() -> None:
    judgement = judge_term("religion:muslim", field="filter.q")
    assert (judgement.verdict, judgement.field) == ("refused", "filter.q")


def test_judgement_is_a_frozen_struct() -> None:
    judgement = judge_term("protest", field="name")
    with pytest.raises(AttributeError):
        judgement.verdict = "ok"  # type: ignore[misc]
    assert msgspec.to_builtins(judgement)["verdict"] == "refused"


@pytest.mark.parametrize("key", ["religion", "ethnicity", "face_match", "gender_estimate", "宗教", "faceMatch"])
def test_attribute_keys_naming_protected_categories_are_refused(key: str) -> None:
    judgement = judge_attributes({"zone": "3", key: "x"})
    assert (judgement.verdict, judgement.field) == ("refused", f"attributes.{key}")


def test_ordinary_attributes_are_ok() -> None:
    attributes = {
        "zone": 3,
        "battery_pct": 87,
        "partition": "1",
        "door": "front door",
        "armed": True,
        "voltage": 12.4,
        "note": None,
        "address": "Mosque Street 5",
        "site": "St Mary's Church hall",
        "contact": "Christian Müller",
        "label": "Temple Road substation",
    }
    assert judge_attributes(attributes) == Judgement("ok", [])


@pytest.mark.parametrize(
    "value",
    ["face_recognition", "ethnicity_detection", "age and gender estimation", "religion", "Gesichtserkennung"],
)
def test_attribute_values_naming_categorisation_are_refused(value: str) -> None:
    judgement = judge_attributes({"analytics": value})
    assert (judgement.verdict, judgement.field) == ("refused", "attributes.analytics")


def test_attribute_values_are_free_text_otherwise() -> None:
    # Values are names, addresses and labels: only categorisation is judged in them.
    assert judge_attributes({"note": "Caller says there is a protest nearby"}).verdict == "ok"
    assert judge_attributes({"site": "Jewish Museum"}).verdict == "ok"
    assert judge_attributes({"note": "religion of the owner unknown"}).verdict == "ok"


def test_attribute_review_and_first_refusal() -> None:
    assert judge_attributes({"zone": "1", "church": "north door"}).verdict == "review"
    judgement = judge_attributes({"church": "x", "religion": "y", "ethnicity": "z"})
    assert (judgement.verdict, judgement.field) == ("refused", "attributes.religion")


def test_attribute_values_without_letters_are_not_judged() -> None:
    assert judge_attributes({"at": "2024-03-01T10:00:00Z", "code": "1130", "rssi": "-67"}) == Judgement("ok", [])
