"""SIA-DCS and Contact ID codes: names, and the alarm types and conditions they map to."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import msgspec
import pytest

from tocsin.engine.classify import load_default_types
from tocsin.engine.policy import judge_alarm_type
from tocsin.ingest.sia_codes import (
    ALARM_TYPE_KEYS,
    CID_ALARM_TYPES,
    SIA_ALARM_TYPES,
    cid_is_user,
    classify_cid,
    classify_sia,
    describe_cid,
    describe_sia,
    sia_address_kind,
)

from ._specs import CODES_DIR, load_json


def dictionary_keys() -> set[str]:
    data = msgspec.json.decode((files("tocsin") / "data" / "alarm_types.json").read_bytes())
    return {entry["key"] for entry in data}


def test_every_mapped_key_is_in_the_default_dictionary() -> None:
    mapped = {key for key, _ in SIA_ALARM_TYPES.values()} | set(CID_ALARM_TYPES.values())
    mapped.discard(None)
    assert mapped <= ALARM_TYPE_KEYS
    assert dictionary_keys() >= ALARM_TYPE_KEYS


def test_every_mapped_code_has_a_name() -> None:
    assert [code for code in SIA_ALARM_TYPES if describe_sia(code) is None] == []
    assert [code for code in CID_ALARM_TYPES if describe_cid(code) is None] == []


SIA_EXAMPLES = {
    "BA": "intrusion.burglary",
    "FA": "fire.alarm",
    "PA": "panic.button",
    "HA": "panic.holdup",
    "MA": "medical.emergency",
    "TA": "tech.tamper",
    "WA": "utility.water_leak",
    "GA": "hazmat.gas_leak",
    "KA": "fire.heat",
    "SA": "fire.sprinkler",
    "DF": "intrusion.door_forced",
    "YC": "tech.comm_failure",
    "YT": "tech.low_battery",
    "AT": "tech.ac_loss",
    "FT": "tech.trouble",
    "RP": "tech.test",
    "RX": "tech.test",
}


@pytest.mark.parametrize(("code", "key"), SIA_EXAMPLES.items())
def test_sia_alarms(code: str, key: str) -> None:
    assert classify_sia(code) == (key, "active")
    assert classify_sia(code.lower()) == (key, "active")


@pytest.mark.parametrize(
    ("code", "key"),
    [
        ("BR", "intrusion.burglary"),
        ("BH", "intrusion.burglary"),
        ("FR", "fire.alarm"),
        ("FH", "fire.alarm"),
        ("TR", "tech.tamper"),
        ("YK", "tech.comm_failure"),
        ("AR", "tech.ac_loss"),
        ("YR", "tech.low_battery"),
        ("KR", "fire.heat"),
        ("WH", "utility.water_leak"),
        ("PH", "panic.button"),
        ("HR", "panic.holdup"),
        ("FJ", "tech.trouble"),
        ("UR", None),
    ],
)
def test_sia_restores_clear(code: str, key: str | None) -> None:
    assert classify_sia(code) == (key, "cleared")


@pytest.mark.parametrize("code", ["OP", "CL", "CG", "OG", "OA", "CA", "OQ", "CQ", "OR", "CP", "NL", "CF"])
def test_sia_open_close_reports_are_status_records(code: str) -> None:
    assert classify_sia(code) == ("security.open_close", "active")


@pytest.mark.parametrize("code", ["CI", "CD", "CJ", "OT", "CC"])
def test_sia_closing_schedule_exceptions_are_fail_to_arm(code: str) -> None:
    assert classify_sia(code) == ("tech.fail_to_arm", "active")


def test_open_close_type_is_a_low_priority_record_the_guard_passes() -> None:
    types = {t.key: t for t in load_default_types()}
    record = types["security.open_close"]
    assert record.priority == 4 and record.category == "Security"
    assert record.sop[0].startswith("No action unless")
    assert judge_alarm_type(record).verdict == "ok"
    assert judge_alarm_type(types["tech.fail_to_arm"]).verdict == "ok"


@pytest.mark.parametrize("code", ["BB", "BU", "LB", "LX", "RR", "JV", "DG", "ND"])
def test_sia_non_alarms_map_to_none(code: str) -> None:
    assert classify_sia(code) == (None, "active")
    assert describe_sia(code) is not None


def test_unknown_sia_code_is_none_and_unnamed() -> None:
    assert classify_sia("ZQ") == (None, "active")
    assert describe_sia("ZQ") is None
    assert sia_address_kind("ZQ") is None


def test_sia_names_and_address_kinds() -> None:
    assert describe_sia("BA") == "Burglary Alarm"
    assert describe_sia("YK") == "Communications Restoral"
    assert sia_address_kind("BA") == "zone"
    assert sia_address_kind("OP") == "user"
    assert sia_address_kind("AT") is None


CID_EXAMPLES = {
    "100": "medical.emergency",
    "110": "fire.alarm",
    "111": "fire.smoke",
    "113": "utility.water_leak",
    "114": "fire.heat",
    "120": "panic.button",
    "121": "panic.duress",
    "122": "panic.holdup",
    "123": "panic.button",
    "130": "intrusion.burglary",
    "131": "intrusion.perimeter",
    "132": "intrusion.burglary",
    "134": "intrusion.burglary",
    "137": "tech.tamper",
    "144": "tech.tamper",
    "151": "hazmat.gas_leak",
    "155": "intrusion.glassbreak",
    "162": "hazmat.co",
    "301": "tech.ac_loss",
    "302": "tech.low_battery",
    "350": "tech.comm_failure",
    "351": "tech.comm_failure",
    "602": "tech.test",
}


@pytest.mark.parametrize(("code", "key"), CID_EXAMPLES.items())
def test_cid_alarms_by_qualifier(code: str, key: str) -> None:
    assert classify_cid("1", code) == (key, "active")
    assert classify_cid("3", code) == (key, "cleared")
    assert classify_cid("6", code) == (key, "active")  # status: still present


@pytest.mark.parametrize("code", ["400", "401", "403", "407", "408", "409", "441", "442", "451", "456"])
def test_cid_open_close_qualifier_3_is_closing_not_restore(code: str) -> None:
    assert classify_cid("1", code) == ("security.open_close", "active")
    assert classify_cid("3", code) == ("security.open_close", "active")
    assert classify_cid("6", code) == ("security.open_close", "active")


def test_cid_failed_to_close_is_fail_to_arm() -> None:
    assert classify_cid("1", "454") == ("tech.fail_to_arm", "active")
    assert classify_cid("1", "455") == ("tech.fail_to_arm", "active")


def test_cid_unknown_qualifier_never_clears() -> None:
    assert classify_cid("2", "130") == ("intrusion.burglary", "active")
    assert classify_cid("0", "000") == (None, "active")


@pytest.mark.parametrize("code", ["421", "570", "627", "628", "999"])
def test_cid_non_alarms_and_unknown_map_to_none(code: str) -> None:
    assert classify_cid("1", code)[0] is None


def test_cid_names_and_user_fields() -> None:
    assert describe_cid("130") == "Burglary"
    assert describe_cid("628") == "Program Mode Exit"
    assert describe_cid("760") == "User Assigned"
    assert describe_cid("999") is None
    assert cid_is_user("121") and cid_is_user("401") and cid_is_user("607")
    assert not cid_is_user("130") and not cid_is_user("999")


def test_names_cover_the_shared_code_tables() -> None:
    sia: Any = load_json(CODES_DIR / "siadc09_dc03_events.json")
    cid: Any = load_json(CODES_DIR / "siadc09_dc05_events.json")
    if sia is None or cid is None:
        pytest.skip("shared code tables not found")
    assert [code for code in sia["events"] if describe_sia(code) is None] == []
    assert [code for code in cid["events"] if describe_cid(code) is None] == []


def test_mapping_agrees_with_pysiaalarm_on_restores() -> None:
    """Where pysiaalarm turns a CID code into a SIA restore, our SIA table clears the same type."""
    table: Any = load_json(CODES_DIR / "pysiaalarm_cid_to_sia_mapping.json")
    if table is None:
        pytest.skip("shared code tables not found")
    for cid_code, by_qualifier in table["mapping"].items():
        key = CID_ALARM_TYPES.get(cid_code)
        restore = by_qualifier.get("3")
        if key is None or restore in (None, by_qualifier.get("1")) or classify_sia(restore)[0] is None:
            continue
        if classify_cid("3", cid_code)[1] == "active":  # 4xx: qualifier 3 is a closing (CL), not a restore
            continue
        assert classify_sia(restore)[1] == "cleared", (cid_code, restore)
