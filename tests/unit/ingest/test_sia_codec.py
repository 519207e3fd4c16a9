"""SIA DC-09 frames: the shared vectors, the receiver's answers, keys, and fuzzing."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.errors import ConfigError, DecodeError
from tocsin.ingest import sia_codec
from tocsin.ingest.sia_codec import (
    SiaDecodeError,
    SiaDecryptError,
    SiaFrame,
    SiaKeyRequired,
    build_ack,
    build_duh,
    build_nak,
    crc16_arc,
    decrypt_body,
    encode_frame,
    encrypt_body,
    format_timestamp,
    key_from_config,
    parse_frame,
    timestamp_ok,
)

from ._specs import by_file, key_of, params, sia_index, wire

CORPUS = Path(__file__).parent / "corpus" / "sia"
HEX_KEY = key_from_config("ABCD" * 8, "hex")
VALID = [e for e in sia_index() if e["expected"]["crc_ok"] and e["expected"]["len_ok"]]
LENIENT = [e for e in sia_index() if not (e["expected"]["crc_ok"] and e["expected"]["len_ok"])]
DECODABLE = [e for e in sia_index() if "data" in e["expected"]]  # encrypted ones with a known key


def ts(text: str) -> datetime:
    return datetime.strptime(text, "%H:%M:%S,%m-%d-%Y").replace(tzinfo=UTC)


def assert_fields(frame: SiaFrame, expected: dict[str, Any]) -> None:
    assert frame.token == expected["id_token"]
    assert frame.encrypted is expected["encrypted"]
    assert frame.sequence == expected["sequence"]
    assert frame.receiver == expected["receiver"]
    assert frame.line == expected["line_prefix"]
    assert frame.account == expected["account"]
    assert frame.crc_ok is expected["crc_ok"]
    assert frame.length_ok is expected["len_ok"]
    assert frame.crc_given == expected["crc_field"].upper()
    assert frame.crc_computed == expected["crc_calc"].upper()
    assert frame.length_given == int(expected["len_field"], 16)
    assert frame.length_computed == int(expected["len_calc"], 16)
    if "data" in expected:
        assert frame.data == expected["data"]
        assert [ident + value for ident, value in frame.extended] == expected["xdata"]
        assert frame.timestamp_text == expected["timestamp"]
        stamp = expected["timestamp"]
        assert frame.timestamp == (ts(stamp) if stamp else None)


def decode(entry: dict[str, Any]) -> SiaFrame:
    return parse_frame(wire(entry), key=key_of(entry))


def reply_body(frame: bytes) -> bytes:
    """Check a built frame's envelope, CRC and length; return the body they cover."""
    assert frame[:1] == b"\n" and frame[-1:] == b"\r"
    body = frame[9:-1]
    assert frame[1:5] == b"%04X" % crc16_arc(body)
    assert frame[5:9] == b"%04X" % len(body)
    return body


# --- the shared vectors --------------------------------------------------------------------------


def test_vector_counts() -> None:
    if not sia_index():
        pytest.skip("shared protocol vectors not found")
    assert len(VALID) >= 30
    assert sum(1 for e in VALID if e["key"]) >= 7


@pytest.mark.parametrize("entry", params(VALID, "file"))
def test_valid_vector_decodes_to_expected_fields(entry: dict[str, Any]) -> None:
    if "data" not in entry["expected"]:  # encrypted, key unpublished: the header still reads
        with pytest.raises(SiaKeyRequired) as info:
            decode(entry)
        assert info.value.frame is not None
        assert_fields(info.value.frame, entry["expected"])
        return
    frame = decode(entry)
    assert_fields(frame, entry["expected"])
    assert frame.valid
    # without the envelope, and with trailing NULs, it is the same frame
    assert parse_frame(wire(entry)[1:-1], key=key_of(entry)).data == frame.data
    assert parse_frame(wire(entry) + b"\x00\x00", key=key_of(entry)).data == frame.data


@pytest.mark.parametrize("entry", params(LENIENT, "file"))
def test_invalid_checksum_vector_decodes_leniently(entry: dict[str, Any]) -> None:
    if "data" not in entry["expected"]:
        with pytest.raises(SiaKeyRequired) as info:
            decode(entry)
        assert info.value.frame is not None
        assert_fields(info.value.frame, entry["expected"])
        return
    frame = decode(entry)
    assert_fields(frame, entry["expected"])
    assert not frame.valid


@pytest.mark.parametrize("entry", params([e for e in DECODABLE if e["key"]], "file"))
def test_encrypted_vector_plaintext_and_pad(entry: dict[str, Any]) -> None:
    expected = entry["expected"]
    hex_text = wire(entry).split(b"[", 1)[1][:-1].decode()
    key = key_of(entry)
    assert key is not None
    assert decrypt_body(hex_text, key) == expected["decrypted_plaintext_after_pad"]
    if "pad_note" not in expected:  # conformant pad: re-encrypting with it gives the bytes back
        pad = bytes.fromhex(expected["pad_hex"])
        assert encrypt_body(expected["decrypted_plaintext_after_pad"], key, pad=pad) == hex_text.upper()


def test_encoder_vector_siadcs() -> None:
    entry = by_file("rs_to_string.frame")
    body = b'"SIA-DCS"0001RF3L77#1234[#1234|NRR|Atest]'
    assert encode_frame(body) == wire(entry)


def test_encoder_vector_encrypted_null() -> None:
    entry = by_file("sw_null_encrypted.frame")
    pad = bytes.fromhex(entry["expected"]["pad_hex"])
    cipher = encrypt_body("]_13:43:09,06-22-2015", HEX_KEY, pad=pad)
    assert encode_frame(b'"*NULL"0000RC0FFDL1234#080027E62A64[' + cipher.encode()) == wire(entry)


def test_wrong_key_is_a_decrypt_error_with_the_header() -> None:
    entry = by_file("sw_siadcs_encrypted_1.frame")
    with pytest.raises(SiaDecryptError) as info:
        parse_frame(wire(entry), key=key_from_config("28376EF26E782E1A4A160E3276E5FB93", "hex"))
    assert info.value.frame is not None and info.value.frame.account == "080027E62A64"
    assert "wrong key" in info.value.detail


def test_unpublished_key_vectors_do_not_decrypt_with_the_test_suite_key() -> None:
    for name in ("py_case_encrypted_siadcs_unknown_key.frame", "py_case_encrypted_adm_unknown_key.frame"):
        with pytest.raises(SiaDecryptError):
            parse_frame(wire(by_file(name)), key=b"A" * 16)


def test_key_lookup_by_header_account() -> None:
    entry = by_file("sw_siadcs_encrypted_1.frame")
    asked: list[str | None] = []

    def lookup(account: str | None) -> bytes | None:
        asked.append(account)
        return HEX_KEY if account == "080027E62A64" else None

    assert parse_frame(wire(entry), key=lookup).data == "#080027E62A64|NHB0003"
    assert asked == ["080027E62A64"]
    with pytest.raises(SiaKeyRequired):
        parse_frame(wire(entry), key=lambda account: None)


# --- answers ------------------------------------------------------------------------------------


def test_nak_exact_layout_matches_vectors() -> None:
    assert build_nak(ts("16:09:09,04-14-2015")) == wire(by_file("sw_nak_1.frame"))
    assert build_nak(ts("16:20:01,09-24-2025")) == wire(by_file("rs_nak.frame"))


def test_nak_layout_and_utc() -> None:
    now = datetime(2024, 1, 5, 9, 3, 7, tzinfo=timezone(timedelta(hours=2)))
    nak = build_nak(now)
    assert reply_body(nak) == b'"NAK"0000R0L0A0[]_07:03:07,01-05-2024'
    assert parse_frame(nak).account == "A0"


def test_clear_ack_echoes_the_request() -> None:
    request = decode(by_file("sw_null_1.frame"))
    ack = build_ack(request, key=None, now=ts("13:40:27,06-22-2015"))
    assert reply_body(ack) == b'"ACK"0000RC0FFDL1234#080027E62A64[]_13:40:27,06-22-2015'


def test_clear_ack_matches_vector_up_to_hex_case() -> None:
    request = decode(by_file("sw_null_lower.frame"))  # seq 0000, Rc0ffd, L1234
    expected = wire(by_file("sw_ack_rcvr_lowercase.frame"))
    ack = build_ack(request, key=None, now=ts("12:10:40,06-22-2015"))
    assert ack[:9].upper() == expected[:9].upper()
    assert ack[9:] == expected[9:]


def test_encrypted_ack_matches_deterministic_vector() -> None:
    entry = by_file("sw_ack_encrypted_1.frame")
    body = '"*SIA-DCS"0001R5678L1234#080027E62A64['
    body += encrypt_body("#080027E62A64|NRP0]_16:08:10,04-14-2015", HEX_KEY)
    request = parse_frame(encode_frame(body.encode()), key=HEX_KEY)
    pad = bytes.fromhex(entry["expected"]["pad_hex"])
    assert build_ack(request, key=HEX_KEY, now=ts("16:08:12,04-14-2015"), pad=pad) == wire(entry)


def test_encrypted_ack_decrypts_to_pad_bar_and_timestamp() -> None:
    request = decode(by_file("sw_siadcs_encrypted_1.frame"))
    now = ts("15:12:41,06-22-2015")
    for _ in range(20):  # the pad is random: try a few
        ack = build_ack(request, key=HEX_KEY, now=now)
        body = reply_body(ack)
        assert body.startswith(b'"*ACK"0000RC0FFDL1234#080027E62A64[')
        cipher = bytes.fromhex(body.split(b"[", 1)[1].decode())
        assert len(cipher) % 16 == 0
        decryptor = Cipher(algorithms.AES(HEX_KEY), modes.CBC(bytes(16))).decryptor()
        plain = decryptor.update(cipher) + decryptor.finalize()
        pad, _, rest = plain.partition(b"|")
        assert rest == b"]_15:12:41,06-22-2015"
        assert 1 <= len(pad) <= 16 and not set(pad) & set(b"|[]")
        assert parse_frame(ack, key=HEX_KEY).timestamp == now


def test_ack_of_encrypted_request_needs_the_key() -> None:
    request = decode(by_file("sw_siadcs_encrypted_1.frame"))
    with pytest.raises(ValueError, match="key"):
        build_ack(request, key=None, now=ts("15:12:41,06-22-2015"))


def test_duh_matches_vectors() -> None:
    request = decode(by_file("sw_rsp_lower.frame"))  # seq 0045, Rc0ffd, L1234
    no_ts = wire(by_file("sw_duh_no_ts_lower.frame"))
    with_ts = wire(by_file("sw_duh_ts_lower.frame"))
    assert build_duh(request)[9:] == no_ts[9:] and build_duh(request)[:9].upper() == no_ts[:9].upper()
    duh = build_duh(request, now=ts("15:59:33,06-22-2015"))
    assert duh[9:] == with_ts[9:] and duh[:9].upper() == with_ts[:9].upper()


def test_duh_is_never_encrypted() -> None:
    request = decode(by_file("sw_siadcs_encrypted_1.frame"))
    assert reply_body(build_duh(request)) == b'"DUH"0000RC0FFDL1234#080027E62A64[]'


# --- keys and the timestamp window -----------------------------------------------------------------


@pytest.mark.parametrize("digits", [32, 48, 64])
def test_hex_key_lengths(digits: int) -> None:
    assert len(key_from_config("a1" * (digits // 2), "hex")) == digits // 2


@pytest.mark.parametrize("chars", [16, 24, 32])
def test_ascii_key_lengths(chars: int) -> None:
    assert key_from_config("k" * chars, "ascii") == b"k" * chars


@pytest.mark.parametrize(
    ("key", "fmt"),
    [("AB" * 15, "hex"), ("XY" * 16, "hex"), ("k" * 15, "ascii"), ("é" * 16, "ascii"), ("k" * 16, "b64")],
)
def test_bad_keys_are_config_errors(key: str, fmt: Any) -> None:
    with pytest.raises(ConfigError):
        key_from_config(key, fmt)


_EARLIEST = datetime(1971, 1, 1)  # noqa: DTZ001 - hypothesis wants its bounds naive
_LATEST = datetime(2200, 1, 1)  # noqa: DTZ001


@given(st.lists(st.datetimes(_EARLIEST, _LATEST, timezones=st.just(UTC))))
def test_timestamp_text_is_each_instants_own_whatever_came_before(instants: list[datetime]) -> None:
    # format_timestamp keeps the last second's text: no instant may get another's
    near = [at + step for at in instants for step in (timedelta(0), timedelta(microseconds=1), timedelta(seconds=-1))]
    for at in [*near, *reversed(near)]:
        assert format_timestamp(at) == at.strftime("%H:%M:%S,%m-%d-%Y")
        shifted = at.astimezone(timezone(timedelta(hours=-5)))
        assert format_timestamp(shifted) == at.strftime("%H:%M:%S,%m-%d-%Y")  # written in UTC


def test_timestamp_window_bounds() -> None:
    now = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
    assert timestamp_ok(now - timedelta(seconds=40), now)
    assert not timestamp_ok(now - timedelta(seconds=41), now)
    assert timestamp_ok(now + timedelta(seconds=20), now)
    assert not timestamp_ok(now + timedelta(seconds=21), now)
    assert timestamp_ok(now - timedelta(seconds=100), now, before_s=120)
    assert not timestamp_ok(None, now)
    with pytest.raises(ValueError):
        timestamp_ok(now, now.replace(tzinfo=None))


def test_decrypt_body_rejects_partial_blocks_and_non_hex() -> None:
    for text in ("", "ABC", "00" * 15, "ZZ" * 16):
        with pytest.raises(SiaDecryptError):
            decrypt_body(text, HEX_KEY)


def test_errors_belong_to_the_tree() -> None:
    assert issubclass(SiaKeyRequired, SiaDecodeError)
    assert issubclass(SiaDecryptError, SiaDecodeError)
    assert issubclass(SiaDecodeError, DecodeError)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"", "not a DC-09 frame"),
        (b'12340010NULL"0001L0#1[]', "not a DC-09 frame"),
        (b'1234001a"NU LL"0001L0#1[]', "id token"),
        (b'1234001a"NULL"01L0#1[]', "4 decimal digits"),
        (b'1234001a"NULL"0001L0#1', "'[' is missing"),
        (b'1234001a"NULL"0001Q9#1[]', "receiver/line/account"),
        (b'1234001a"NULL"0001L0#1[', "not closed"),
        (b'1234001a"NULL"0001L0#1[]junk', "unexpected text"),
    ],
)
def test_undecodable_frames_say_why(frame: bytes, message: str) -> None:
    with pytest.raises(SiaDecodeError, match=re.escape(message)):
        parse_frame(frame)


# --- pitfalls of PROTOCOLS.md §1.10, one test each --------------------------------------------------


def test_pitfall_01_test_suites_lie_bad_length_and_crc_are_reported_not_fatal() -> None:
    frame = decode(by_file("py_case_bug.frame"))
    assert (frame.crc_ok, frame.length_ok, frame.valid) == (False, False, False)
    assert frame.data == "#123456|Nri1CL0^VX FRONTE ^"
    frame = decode(by_file("py_case_cl.frame"))
    assert frame.crc_ok and not frame.length_ok and frame.length_given == 0x78


def test_pitfall_02_key_as_hex_vs_ascii() -> None:
    ascii_entry = by_file("py_case_null_encrypted.frame")  # key "AAAA…" means its ASCII bytes
    assert parse_frame(wire(ascii_entry), key=key_from_config("A" * 16, "ascii")).timestamp is not None
    with pytest.raises(ConfigError):
        key_from_config("A" * 16, "hex")  # as hex it is only 8 bytes
    hex_entry = by_file("sw_null_encrypted.frame")  # key "ABCD…" means hex
    with pytest.raises(SiaDecryptError):
        parse_frame(wire(hex_entry), key=key_from_config("ABCD" * 8, "ascii"))
    assert parse_frame(wire(hex_entry), key=key_from_config("ABCD" * 8, "hex")).valid


def test_pitfall_03_missing_or_empty_L_field() -> None:
    empty_l = parse_frame(encode_frame(b'"SIA-DCS"0001L#22334455[#22334455|NBA01]'))
    assert (empty_l.line, empty_l.account, empty_l.valid) == ("", "22334455", True)
    no_l = parse_frame(encode_frame(b'"SIA-DCS"0002#0123[#0123|NRP]'))
    assert (no_l.receiver, no_l.line, no_l.account) == (None, None, "0123")
    now = ts("10:00:00,01-02-2024")
    # the ACK echoes the header as the panel sent it
    assert reply_body(build_ack(empty_l, key=None, now=now)).startswith(b'"ACK"0001L#22334455[]')
    assert reply_body(build_ack(no_l, key=None, now=now)).startswith(b'"ACK"0002#0123[]')


def test_pitfall_04_nak_A0_account_is_not_eaten_by_a_greedy_L() -> None:
    nak = decode(by_file("sw_nak_1.frame"))
    assert (nak.receiver, nak.line, nak.account, nak.nak_account) == ("0", "0", "A0", True)
    assert decode(by_file("sw_nak_l1.frame")).line == "1"
    assert decode(by_file("sw_nak_a1.frame")).account == "A1"
    assert decode(by_file("sw_nak_hash0.frame")).account == "0"
    # a line prefix that merely contains an A still reads whole when a '#' account follows
    assert parse_frame(encode_frame(b'"NULL"0001L0A0#12[]')).line == "0A0"


def test_pitfall_05_lower_case_hex_in_crc_length_receiver_and_ciphertext() -> None:
    frame = decode(by_file("sw_rsp_encrypted_1.frame"))  # "bf6b00a3", Rc0ffd, lower-case body
    assert frame.valid and frame.receiver == "c0ffd"
    assert frame.data == "#080027E62A64|NHB0003"


def test_pitfall_06_binary_crc_and_trailing_nuls() -> None:
    body = b'"SIA-DCS"0007L0#1234[#1234|NBA3]'
    frame = parse_frame(encode_frame(body, binary_crc=True) + b"\x00")
    assert frame.binary_crc and frame.valid and frame.data == "#1234|NBA3"
    ack = build_ack(frame, key=None, now=ts("10:00:00,01-02-2024"))
    assert ack[3:7] == b"0%03X" % (len(ack) - 8)  # answered in the same binary form
    assert parse_frame(ack).binary_crc and parse_frame(ack).valid
    assert parse_frame(wire(by_file("sw_ack_minimal.frame")) + b"\x00\x00\x00").valid


def test_pitfall_07_timestamp_drift_gets_a_nak_with_our_utc_time_and_calendar_month() -> None:
    frame = decode(by_file("sw_null_1.frame"))
    now = ts("13:41:30,06-22-2015")  # 63 s after the panel's time
    assert frame.timestamp is not None and not timestamp_ok(frame.timestamp, now)
    assert reply_body(build_nak(datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC))).endswith(b"_23:59:59,01-31-2025")
    # a receiver that wrote JavaScript's 0-based month: month 00 still decodes, unread
    bug = parse_frame(encode_frame(b'"NAK"0000R0L0A0[]_10:11:12,00-15-2024'))
    assert bug.valid and bug.timestamp is None and bug.timestamp_text == "10:11:12,00-15-2024"


def test_pitfall_08_encrypted_plaintext_without_bar_and_binary_pad() -> None:
    no_bar = decode(by_file("py_case_null_encrypted.frame"))  # "ppppppppppp]_18:24:52,…"
    assert no_bar.data == "" and no_bar.timestamp == ts("18:24:52,07-05-2020")
    binary_pad = decode(by_file("sw_siadcs_encrypted_1.frame"))  # pad 9a 10 d2 86 … not text
    assert binary_pad.data == "#080027E62A64|NHB0003" and binary_pad.xdata("E") == ["115000"]


def test_pitfall_09_account_only_in_the_data_block() -> None:
    frame = decode(by_file("py_case_op.frame"))
    assert (frame.account, frame.data_account, frame.effective_account) == (None, "006969", "006969")
    ack = build_ack(frame, key=None, now=ts("10:00:00,01-02-2024"))
    assert reply_body(ack).startswith(b'"ACK"4738R0001L0001#006969[]')


def test_pitfall_10_unknown_token_or_code_is_kept_for_a_duh_not_dropped() -> None:
    frame = parse_frame(encode_frame(b'"SIA-XYZ"0003L0#1234[#1234|NZQ12]'))
    assert frame.token == "SIA-XYZ" and frame.data == "#1234|NZQ12"
    assert reply_body(build_duh(frame)) == b'"DUH"0003L0#1234[]'


def test_pitfall_11_null_frames_may_carry_data() -> None:
    frame = decode(by_file("py_case_null_adm_data.frame"))
    assert frame.token == "NULL" and frame.valid
    assert frame.data == "#0000|0000 00 000" and frame.account == "7890"


# --- fuzzing and the corpus --------------------------------------------------------------------------

SEEDS = [
    b'\nA62A0012"ACK"0001L0#7099[]\r',
    b'\n7C37006b"SIA-DCS"0000RC0FFDL1234#080027E62A64[#080027E62A64|NHB0003][X115000]_13:53:11,06-22-2015\r',
    b'\nCAC10064"*NULL"0000RC0FFDL1234#080027E62A64[70D7DC480FA7DC0DE428CE02447BA2E2981A161EA14CB780D2CD917208059E11\r',
    b'\n3C830025"NAK"0000R0L0A0[]_16:09:09,04-14-2015\r',
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[at]
        else:
            del data[at:]
    return bytes(data)


def only_decode_errors(frame: bytes, key: bytes | None = None) -> None:
    with contextlib.suppress(SiaDecodeError):
        parse_frame(frame, key=key)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes_raise_only_decode_errors(data: bytes) -> None:
    only_decode_errors(data)
    only_decode_errors(data, HEX_KEY)


@settings(max_examples=1000, deadline=None)
@given(mutated())
def test_fuzz_mutated_frames_raise_only_decode_errors(data: bytes) -> None:
    only_decode_errors(data)
    only_decode_errors(data, HEX_KEY)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.text(alphabet="0123456789ABCDEF", max_size=40))
def test_fuzz_structured_bodies(data: str, fields: str) -> None:
    body = f'"SIA-DCS"0001R{fields[:3]}L{fields[3:6]}#{fields[6:]}[{data}'.encode()
    only_decode_errors(encode_frame(body[:0xFFF]))


def read_the_long_way(frame: bytes) -> SiaFrame | str:
    """What the field-by-field reading makes of ``frame`` (an error as its text), bypassing
    the one-match reading of the usual clear frame."""
    try:
        raw, sums, text = sia_codec._decoded(frame)
        return sia_codec._parsed(text, raw, sums, None)
    except SiaDecodeError as exc:
        return f"{type(exc).__name__}: {exc}"


def read(frame: bytes) -> SiaFrame | str:
    try:
        return parse_frame(frame)
    except SiaDecodeError as exc:
        return f"{type(exc).__name__}: {exc}"


_HEXDIGITS = "0123456789abcdefABCDEF"


@st.composite
def usual_frames(draw: st.DrawFn) -> bytes:
    """Frames of the usual clear shape, each part now and then a variant of it."""

    def part(usual: st.SearchStrategy[str], variant: st.SearchStrategy[str]) -> str:
        return draw(variant if draw(st.integers(0, 6)) == 0 else usual)

    hexdigits = st.text(_HEXDIGITS, min_size=1, max_size=6)
    token = part(
        st.sampled_from(["SIA-DCS", "ADM-CID", "NULL"]), st.sampled_from(["*SIA-DCS", "SIA DCS", "", "X" * 17])
    )
    sequence = part(st.from_regex(r"[0-9]{4}", fullmatch=True), st.sampled_from(["001", "00a1", "12345"]))
    receiver = part(hexdigits.map("R{}".format), st.text(_HEXDIGITS + "LRGZ#", max_size=8))
    line = part(hexdigits.map("L{}".format), st.text(_HEXDIGITS + "LRGZ#", max_size=8))
    account = part(
        st.from_regex(r"#[0-9A-Za-z]{1,16}", fullmatch=True), st.sampled_from(["", "A0", "#", "#" + "9" * 17])
    )
    data = part(
        st.text(st.sampled_from("#|/^_Nri0123ABCDEFZa x\u00e9["), max_size=30),
        st.text(st.sampled_from("#|/^]_[Nri0AZ"), max_size=30),
    )
    extended = part(st.just(""), st.sampled_from(["[X115000]", "[]", "[Iname"]))
    stamp = part(
        st.sampled_from(["_13:53:11,06-22-2015", "", "_13:53:11,13-22-2015", "_"]), st.sampled_from(["_x]y[z", "x"])
    )
    body = f'"{token}"{sequence}{receiver}{line}{account}[{data}]{extended}{stamp}'.encode()
    frame = encode_frame(body[:0xFFF], binary_crc=draw(st.booleans()))
    if draw(st.booleans()):  # a wrong CRC or length is reported, not fatal
        at = draw(st.integers(1, 8))
        frame = frame[:at] + draw(st.sampled_from([b"0", b"F", b"f"])) + frame[at + 1 :]
    return frame + draw(st.sampled_from([b"", b"\x00\x00", b"\r", b"\x00\r"]))


@settings(max_examples=1500, deadline=None)
@given(st.one_of(usual_frames(), mutated()))
def test_the_usual_frame_read_in_one_match_is_the_frame_read_field_by_field(frame: bytes) -> None:
    assert read(frame) == read_the_long_way(frame)


def test_the_one_match_reading_takes_the_usual_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = encode_frame(b'"SIA-DCS"0042R1L0#1234[#1234|Nri1/BA011]_13:53:11,06-22-2015')
    expected = read_the_long_way(frame)
    monkeypatch.setattr(sia_codec, "_parsed", None)  # the long way would fail now
    parsed = parse_frame(frame)
    assert parsed == expected
    assert (parsed.account, parsed.data_account, parsed.receiver, parsed.line) == ("1234", "1234", "1", "0")


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.frame"))


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_corpus(path: Path) -> None:
    data = path.read_bytes()
    if path.name.startswith("ok_"):
        frame = parse_frame(data, key=HEX_KEY)
        assert frame.valid
    elif path.name.startswith("bad_"):
        with pytest.raises(SiaDecodeError):
            parse_frame(data, key=HEX_KEY)
    else:
        only_decode_errors(data)
        only_decode_errors(data, HEX_KEY)
