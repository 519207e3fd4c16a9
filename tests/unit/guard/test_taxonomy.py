"""``tocsin taxonomy check``, driven through a Typer app that mounts the sub-app."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from tocsin.guard.taxonomy import taxonomy_app

DICTIONARY = Path(__file__).resolve().parents[3] / "src" / "tocsin" / "data" / "alarm_types.json"

app = typer.Typer()
app.add_typer(taxonomy_app, name="taxonomy")
runner = CliRunner()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_a_refused_type_exits_1_and_prints_a_table(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "types.csv",
        "code,name,description,category,extra\n"
        "100,Fire alarm,Fire detected,Fire,x\n"
        "716,宗教,Religion,Other,y\n"
        "200,Fire at the mosque,,Fire,z\n",
    )
    result = runner.invoke(app, ["taxonomy", "check", str(path)])
    assert result.exit_code == 1
    assert "716" in result.stdout and "refused" in result.stdout
    assert "3 alarm types: 1 ok, 1 review, 1 refused" in result.stdout


def test_json_format(tmp_path: Path) -> None:
    path = _write(tmp_path, "types.csv", "code,name\nA1,Protest\nA2,Smoke alarm\n")
    result = runner.invoke(app, ["taxonomy", "check", str(path), "--format", "json"])
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [(r["code"], r["name"], r["verdict"]) for r in rows] == [
        ("A1", "Protest", "refused"),
        ("A2", "Smoke alarm", "ok"),
    ]
    assert rows[0]["reasons"] and rows[1]["reasons"] == []


def test_shipped_dictionary_passes() -> None:
    result = runner.invoke(app, ["taxonomy", "check", str(DICTIONARY), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) > 50


def test_dictionary_json_with_a_refused_type(tmp_path: Path) -> None:
    entry = {
        "code": "9",
        "key": "x.y",
        "name": "Uyghur detection",
        "category": "Other",
        "priority": 3,
        "sop": ["Log."],
    }
    path = _write(tmp_path, "dict.json", json.dumps([entry]))
    result = runner.invoke(app, ["taxonomy", "check", str(path)])
    assert result.exit_code == 1


def test_missing_file_exits_2_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"
    result = runner.invoke(app, ["taxonomy", "check", str(path)])
    assert result.exit_code == 2
    assert "absent.csv" in result.stderr and "cannot read" in result.stderr


def test_csv_without_required_columns_exits_2(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.csv", "id,label\n1,Fire\n")
    result = runner.invoke(app, ["taxonomy", "check", str(path)])
    assert result.exit_code == 2
    assert "bad.csv" in result.stderr and "'code' and 'name'" in result.stderr


def test_csv_row_with_empty_name_exits_2(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.csv", "code,name\n1,\n")
    result = runner.invoke(app, ["taxonomy", "check", str(path)])
    assert result.exit_code == 2
    assert "line 2" in result.stderr


def test_malformed_json_exits_2(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.json", '[{"code": 1}]')
    result = runner.invoke(app, ["taxonomy", "check", str(path)])
    assert result.exit_code == 2
    assert "bad.json" in result.stderr and "not a valid dictionary JSON" in result.stderr


def test_undecodable_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("code,name\n1,Fr\xe9d\n".encode("latin-1"))
    result = runner.invoke(app, ["taxonomy", "check", str(path)])
    assert result.exit_code == 2
