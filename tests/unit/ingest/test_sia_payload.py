"""SIA-DCS and ADM-CID data blocks, and 16-digit Contact ID messages."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.ingest.sia_codec import SiaDecodeError, parse_frame
from tocsin.ingest.sia_payload import (
    SiaDcsEvent,
    _read_blocks,
    _split_blocks,
    contact_id_checksum,
    parse_adm_cid,
    parse_contact_id,
    parse_sia_dcs,
)

from ._specs import CID_DIR, key_of, load_json, params, sia_index, wire

WITH_DCS = [e for e in sia_index() if "sia_dcs" in e["expected"]]
WITH_CID = [e for e in sia_index() if "adm_cid" in e["expected"]]


@pytest.mark.parametrize("entry", params(WITH_DCS, "file"))
def test_sia_dcs_vectors(entry: dict[str, Any]) -> None:
    frame = parse_frame(wire(entry), key=key_of(entry))
    expected = entry["expected"]["sia_dcs"]
    events = parse_sia_dcs(frame.data)
    assert frame.data_account == expected["account_in_data"]
    codes = [e for e in expected["events"] if "code" in e]
    assert [(e.code, e.address) for e in events] == [(e["code"], e["address"]) for e in codes]
    for event, want in zip(events, codes, strict=True):
        assert event.area == want.get("ri")
        assert event.text == want.get("text")
        assert event.account == expected["account_in_data"]
    texts = [e["ascii_text"] for e in expected["events"] if "ascii_text" in e]
    assert [e.ascii_text for e in events if e.ascii_text] == texts


@pytest.mark.parametrize("entry", params(WITH_CID, "file"))
def test_adm_cid_frame_vectors(entry: dict[str, Any]) -> None:
    frame = parse_frame(wire(entry))
    expected = entry["expected"]["adm_cid"]
    event = parse_adm_cid(frame.data)
    assert event.account == expected["account_in_data"]
    cid = expected["cid"]
    assert (event.qualifier, event.code, event.group, event.zone_or_user) == (
        cid["q"],
        cid["event"],
        cid["partition"],
        cid["zone_or_user"],
    )


@pytest.mark.parametrize("case", params(load_json(CID_DIR / "adm_cid_data_blocks.json")))
def test_adm_cid_data_blocks(case: dict[str, Any]) -> None:
    event = parse_adm_cid(case["data"])
    expected = case["expected"]
    if "qualifier" not in expected:  # "#0000|0000 00 000" in a NULL: qualifier 0, no event
        assert event.qualifier == "0"
        return
    assert event.qualifier == expected["qualifier"]
    assert event.code == expected["event"]
    for field, attr in (("account", "account"), ("partition", "group"), ("zone_or_user", "zone_or_user")):
        if field in expected:
            assert getattr(event, attr) == expected[field]


DTMF = [c for c in load_json(CID_DIR / "dc05_dtmf_messages.json") or [] if "message16" in c]


@pytest.mark.parametrize("case", params(DTMF, "message16"))
def test_contact_id_dtmf_messages(case: dict[str, Any]) -> None:
    message = case["message16"]
    if any(char not in "0123456789BCDEF" for char in message):
        with pytest.raises(SiaDecodeError):
            parse_contact_id(message)
        return
    parsed = parse_contact_id(message)
    assert parsed.checksum_ok is case["valid_checksum"]
    if case["valid_checksum"]:
        fields = case["fields"]
        assert (parsed.account, parsed.message_type, parsed.qualifier, parsed.code) == (
            fields["acct"],
            fields["mt"],
            fields["q"],
            fields["xyz"],
        )
        assert (parsed.group, parsed.zone_or_user, parsed.checksum) == (
            fields["gg"],
            fields["ccc"],
            fields["checksum"],
        )
        assert contact_id_checksum(message[:15]) == message[15]


def test_contact_id_digit_a_is_not_valid() -> None:
    with pytest.raises(ValueError, match="'A'"):
        contact_id_checksum("123456789ABCDEF")


def test_contact_id_checksum_values() -> None:
    assert contact_id_checksum("123418113101015") == "8"
    assert contact_id_checksum("123418340103005") == "F"  # 15 is sent as F
    for digits in ("000000000000000", "111111111111111", "BCDEF0123456789"):
        assert parse_contact_id(digits + contact_id_checksum(digits)).checksum_ok


def test_adm_cid_spacing_and_case_are_lenient() -> None:
    event = parse_adm_cid("#12ab|1130 01 015")
    assert (event.account, event.qualifier, event.code, event.group, event.zone_or_user) == (
        "12ab",
        "1",
        "130",
        "01",
        "015",
    )
    assert parse_adm_cid("|113001015").code == "130"
    assert parse_adm_cid("1130 01 015").account is None


def test_adm_cid_user_or_zone() -> None:
    assert parse_adm_cid("#1|1121 01 007").is_user  # duress carries a user
    assert parse_adm_cid("#1|3401 01 057").is_user
    assert not parse_adm_cid("#1|1130 01 015").is_user


@pytest.mark.parametrize("data", ["", "#1234|", "#1234|1130 01", "#1234|NBA1", "#1|1130 01 015 9"])
def test_adm_cid_rejects_what_is_not_contact_id(data: str) -> None:
    with pytest.raises(SiaDecodeError, match="ADM-CID"):
        parse_adm_cid(data)


def test_sia_dcs_modifiers_and_names() -> None:
    (event,) = parse_sia_dcs("#1234|Nri0000pi0006da10-25-18ti14:37:53UT0000^Sirena esterna^")
    assert event.code == "UT" and event.address == "0000" and event.text == "Sirena esterna"
    assert event.modifiers == {"ri": "0000", "pi": "0006", "da": "10-25-18", "ti": "14:37:53"}


def test_sia_dcs_area_name_and_several_events() -> None:
    events = parse_sia_dcs("#1|Nri01^TOTAL^/LX901^centrale^/BA503")
    assert [(e.code, e.address, e.area, e.area_name, e.text) for e in events] == [
        ("LX", "901", "01", "TOTAL", "centrale"),
        ("BA", "503", "01", "TOTAL", None),
    ]


def test_sia_dcs_short_forms() -> None:
    assert parse_sia_dcs("Nti20:50:26RP99") == [SiaDcsEvent(code="RP", address="99", modifiers={"ti": "20:50:26"})]
    assert [(e.code, e.address) for e in parse_sia_dcs("#1|NHB0003")] == [("HB", "0003")]
    assert [(e.code, e.address) for e in parse_sia_dcs("#1|NCQ1")] == [("CQ", "1")]
    assert [(e.code, e.address) for e in parse_sia_dcs("#1|NBA001BA002")] == [("BA", "001"), ("BA", "002")]
    assert [(e.code, e.address) for e in parse_sia_dcs("#1|NBA00A1")] == [("BA", "00A1")]


def test_sia_dcs_modifiers_reset_per_block() -> None:
    events = parse_sia_dcs("#1|Nri1BA1|Nri2BA2|NBA3")
    assert [e.area for e in events] == ["1", "2", None]


def test_sia_dcs_pipe_inside_text_is_not_a_block_separator() -> None:
    (event,) = parse_sia_dcs("#1|NBA1^Hall | Stairs^")
    assert event.text == "Hall | Stairs"


def test_sia_dcs_nothing_readable_gives_no_events() -> None:
    assert parse_sia_dcs("") == []
    assert parse_sia_dcs("#1234") == []
    assert parse_sia_dcs("#1234|N") == []
    assert parse_sia_dcs("|||") == []


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_fuzz_sia_dcs_never_raises(data: str) -> None:
    for event in parse_sia_dcs(data):
        assert len(event.code) == 2 and event.code.isupper()


def _split_by_scan(data: str) -> list[str]:
    """The definition: '|' separates blocks except between a pair of '^'."""
    blocks, current, in_text = [], "", False
    for char in data:
        if char == "|" and not in_text:
            blocks.append(current)
            current = ""
            continue
        if char == "^":
            in_text = not in_text
        current += char
    return [*blocks, current]


@given(st.text(alphabet="|^Nri1/BA0#a", max_size=40))
def test_blocks_split_on_bars_outside_caret_text(data: str) -> None:
    assert _split_blocks(data) == _split_by_scan(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_fuzz_adm_cid_raises_only_decode_errors(data: str) -> None:
    with contextlib.suppress(SiaDecodeError):
        parse_adm_cid(data)


def _near_usual_blocks() -> st.SearchStrategy[str]:
    """Data blocks of the usual one-event shape (``#1234|Nri1/BA011``), each part now and then
    replaced by something the one-match reading must leave to the long way."""
    account = st.one_of(
        st.just(""), st.from_regex(r"#[0-9A-Za-z]{0,5}\|", fullmatch=True), st.sampled_from(["#12", "|"])
    )
    area = st.one_of(
        st.just(""), st.from_regex(r"ri[0-9]{0,3}/", fullmatch=True), st.sampled_from(["ri1", "ri1^H^/", "id2/"])
    )
    code = st.one_of(st.from_regex(r"[A-Z]{2}", fullmatch=True), st.sampled_from(["B", "ba", "BAFA"]))
    address = st.one_of(
        st.from_regex(r"[0-9]{0,4}", fullmatch=True), st.sampled_from(["0A1", "0AB1", "1^x^", "1/FA2", "1|A"])
    )
    lead = st.sampled_from(["N", "N", "N", "", "A"])
    return st.tuples(account, lead, area, code, address).map("".join)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(_near_usual_blocks(), st.text(alphabet="|^Nri1/BA0#aZ-:.", max_size=30)))
def test_the_usual_block_read_in_one_match_is_the_block_read_the_long_way(data: str) -> None:
    assert parse_sia_dcs(data) == _read_blocks(data)


def test_the_one_match_reading_takes_the_usual_block(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _read_blocks("#1234|Nri1/BA011")
    monkeypatch.setattr("tocsin.ingest.sia_payload._read_blocks", None)  # the long way would fail now
    assert parse_sia_dcs("#1234|Nri1/BA011") == expected
    assert expected == [SiaDcsEvent(code="BA", address="011", area="1", modifiers={"ri": "1"}, account="1234")]
