"""``tocsin sia decode``: the installer's view of a frame, as text and as JSON."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from tocsin.ingest.sia_cli import frame_bytes, sia_app

app = typer.Typer()
app.add_typer(sia_app, name="sia")
runner = CliRunner()

SIADCS = (
    r"\n7C37006b"
    + '"SIA-DCS"0000RC0FFDL1234#080027E62A64[#080027E62A64|NHB0003][X115000][X115000][X115000]'
    + r"_13:53:11,06-22-2015\r"
)
ENCRYPTED = (
    'E88800a7"*SIA-DCS"0000RC0FFDL1234#080027E62A64[A054F111518361720BAB126501C6D994CD9151D2C84881C0'
    "FEA933A0790F49A9236EBD45F2AED32FAA252EB1AA18FC3CDEDE2452F33185E5931D31308D9B9882"
)
ADM_CID = '57150047"ADM-CID"0247R4F39L4F39#4F39[#4F39|3401 01 057]'


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["sia", "decode", *args])
    return result.exit_code, result.stdout, result.stderr


def test_frame_bytes_unescapes() -> None:
    assert frame_bytes(r"\nAB\r") == b"\nAB\r"
    assert frame_bytes(r"  \x00\x0a\0\\  ") == b"\x00\x0a\x00\\"
    assert frame_bytes("é") == "é".encode()


def test_text_output_shows_fields_and_events() -> None:
    code, out, _ = run(
        r"\n9B6D0059"
        + '"SIA-DCS"0000RC0FFDL1234#080027E62A64[#080027E62A64|Nri1BA503^Hall^][E115000]'
        + r"_14:25:17,06-22-2015\r"
    )
    assert code == 0
    assert "token      SIA-DCS" in out
    assert "account    080027E62A64" in out
    assert "[E]115000" in out
    assert "MISMATCH" in out  # the CRC was for another data block: shown, not fatal
    assert "BA Burglary Alarm (zone 503, area 1, ^Hall^) -> intrusion.burglary, active" in out


def test_json_output_is_one_object() -> None:
    code, out, _ = run(SIADCS, "--json")
    assert code == 0
    info = json.loads(out)
    assert info["token"] == "SIA-DCS" and info["crc_ok"] and info["length_ok"]
    assert info["extended"] == [["X", "115000"]] * 3
    assert info["timestamp"] == "2015-06-22T13:53:11+00:00"
    assert info["events"][0]["code"] == "HB" and info["events"][0]["name"] == "Holdup Bypass"
    assert info["events"][0]["alarm_type"] is None


def test_frame_without_envelope() -> None:
    code, out, _ = run(ADM_CID, "--json")
    assert code == 0
    event = json.loads(out)["events"][0]
    assert (event["qualifier"], event["code"], event["name"]) == ("3", "401", "O/C By")
    assert event["is_user"] and event["zone_or_user"] == "057"
    assert json.loads(out)["length_ok"] is False


def test_adm_cid_text_line() -> None:
    code, out, _ = run('B0AC0027"ADM-CID"0001L0#7099[#7099|1628 01 000]')
    assert code == 0
    assert "Q1 (new) 628 Program Mode Exit (zone 000, group 01) -> no alarm type, active" in out


def test_encrypted_with_hex_key() -> None:
    code, out, _ = run(ENCRYPTED, "--key", "ABCD" * 8, "--json")
    assert code == 0
    assert json.loads(out)["data"] == "#080027E62A64|NHB0003"


def test_encrypted_with_ascii_key() -> None:
    frame = '76D80055"*NULL"0000R0L0#AAAB[B4BC8B40D0E6D959D6BEA78E88CC0B2155741A3C44FBB96D476A3E557CAD64D9'
    code, out, _ = run(frame, "--key", "A" * 16, "--key-format", "ascii")
    assert code == 0
    assert "timestamp  2020-07-05T18:24:52+00:00 UTC" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((ENCRYPTED,), "no key was given"),
        ((ENCRYPTED, "--key", "A" * 16, "--key-format", "ascii"), "wrong key"),
        ((ENCRYPTED, "--key", "ABC"), "--key"),
        (("hello",), "cannot decode frame"),
    ],
)
def test_errors_exit_2_with_a_message(args: tuple[str, ...], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert message in err
    assert out == ""
