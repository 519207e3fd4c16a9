"""``tocsin taxonomy check``: audit a whole alarm-type taxonomy against the guard.

It reads a CSV file (a header with ``code`` and ``name``, optionally ``description`` and
``category``; other columns are ignored) or a tocsin dictionary JSON file (a list of
AlarmType objects), judges every entry with :func:`~tocsin.guard.judge_definition` and
prints a table or JSON. Exit status: 0 when nothing is refused, 1 when something is, 2
when the file cannot be read or is malformed. It owns the file formats and the report, not
the judging.
"""

from __future__ import annotations

import csv
import enum
import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tocsin.guard.verdicts import Judgement, judge_definition
from tocsin.model import AlarmType

__all__ = ("AuditRow", "OutputFormat", "TaxonomyError", "audit", "read_taxonomy", "taxonomy_app")

taxonomy_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Audit alarm-type taxonomies.")

_STYLES = {"ok": "green", "review": "yellow", "refused": "bold red"}
_CSV_COLUMNS = frozenset({"code", "name", "description", "category"})


class OutputFormat(enum.StrEnum):
    """How ``taxonomy check`` prints its report."""

    TEXT = "text"
    JSON = "json"


class TaxonomyError(Exception):
    """The taxonomy file cannot be read or is malformed; the message says why."""


class AuditRow(msgspec.Struct, frozen=True):
    """One entry of the report, as printed by ``--format json``."""

    code: str
    name: str
    verdict: str
    reasons: list[str]


def _read_csv(text: str) -> list[AlarmType | dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or ()]
    if "code" not in header or "name" not in header:
        raise TaxonomyError("the CSV header must have 'code' and 'name' columns")
    reader.fieldnames = header
    rows: list[AlarmType | dict[str, str]] = []
    for line, row in enumerate(reader, start=2):
        if None in row:
            raise TaxonomyError(f"line {line} has more fields than the header")
        entry = {k: (v or "").strip() for k, v in row.items() if k in _CSV_COLUMNS}
        if not entry.get("code") or not entry.get("name"):
            raise TaxonomyError(f"line {line} has an empty code or name")
        rows.append(entry)
    return rows


def read_taxonomy(path: Path) -> list[AlarmType | dict[str, str]]:
    """Read a taxonomy file: a CSV file, or a tocsin dictionary JSON file.

    The format follows the suffix (``.csv``, ``.json``); otherwise a file whose first
    character is ``[`` is JSON.

    Raises:
        TaxonomyError: the file cannot be read, or is not a valid taxonomy.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"cannot read: {exc}") from exc
    suffix = path.suffix.lower()
    is_json = suffix == ".json" or (suffix != ".csv" and text.lstrip().startswith("["))
    try:
        if is_json:
            return list(msgspec.json.decode(text, type=list[AlarmType]))
        return _read_csv(text)
    except (msgspec.DecodeError, csv.Error) as exc:
        raise TaxonomyError(f"not a valid {'dictionary JSON' if is_json else 'CSV'} file: {exc}") from exc


def _judge(entry: AlarmType | dict[str, str]) -> Judgement:
    if isinstance(entry, AlarmType):
        return judge_definition(
            code=entry.code,
            name=entry.name,
            description=entry.description,
            aliases=entry.aliases,
            category=entry.category,
            key=entry.key,
            sop=entry.sop,
        )
    return judge_definition(
        code=entry["code"],
        name=entry["name"],
        description=entry.get("description") or None,
        category=entry.get("category") or None,
    )


def audit(entries: Sequence[AlarmType | dict[str, str]]) -> list[AuditRow]:
    """Judge every entry of a taxonomy, in file order."""
    rows = []
    for entry in entries:
        judgement = _judge(entry)
        if isinstance(entry, AlarmType):
            rows.append(AuditRow(entry.code, entry.name, judgement.verdict, judgement.reasons))
        else:
            rows.append(AuditRow(entry["code"], entry["name"], judgement.verdict, judgement.reasons))
    return rows


def _print_table(rows: Sequence[AuditRow], source: Path) -> None:
    table = Table(title=f"Protected-category audit of {source}")
    for column in ("code", "name", "verdict", "reasons"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = _STYLES[row.verdict]
        reasons = escape("\n".join(row.reasons))
        table.add_row(escape(row.code), escape(row.name), f"[{style}]{row.verdict}[/{style}]", reasons)
    counts = Counter(row.verdict for row in rows)
    console = Console()
    console.print(table)
    console.print(f"{len(rows)} alarm types: {counts['ok']} ok, {counts['review']} review, {counts['refused']} refused")


@taxonomy_app.callback()
def _taxonomy() -> None:
    """Audit alarm-type taxonomies against the protected-category guard."""


@taxonomy_app.command("check")
def check(
    file: Path = typer.Argument(..., help="A CSV file (code, name, description, category) or a dictionary JSON."),
    output: OutputFormat = typer.Option(OutputFormat.TEXT, "--format", help="Report as a table or as JSON."),
) -> None:
    """Judge every alarm type of FILE; exit 1 if any is refused, 2 if FILE is unusable."""
    try:
        rows = audit(read_taxonomy(file))
    except TaxonomyError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(f'{file}: {exc}')}", highlight=False)
        raise typer.Exit(2) from exc
    if output is OutputFormat.JSON:
        typer.echo(msgspec.json.encode(rows).decode())
    else:
        _print_table(rows, file)
    if any(row.verdict == "refused" for row in rows):
        raise typer.Exit(1)
