"""``tocsin audit …`` and the helper every writing CLI command uses to stay accountable.

CLI commands write to the same database as a running server. ``write_job`` runs the
command's writes and their audit records in one ``BEGIN IMMEDIATE`` transaction, so it
serialises with the server's writer and extends the same audit tree.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec
import typer
from rich.console import Console
from sqlalchemy import Connection, select

from tocsin._internal.clock import now_us
from tocsin.audit.checkpoint import Verifier
from tocsin.audit.log import (
    AuditRecord,
    append,
    default_origin,
    load_signer,
    read_records,
    sign_new_checkpoint,
)
from tocsin.audit.verify import ExportError, VerifyReport, verify_export_file, verify_log
from tocsin.config import audit_key_path, load_settings
from tocsin.model import Actor
from tocsin.store.schema import audit_checkpoints
from tocsin.store.sqlite import open_database

__all__ = ("audit_app", "cli_actor", "write_job")

T = TypeVar("T")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit chain.")
err = Console(stderr=True)


def cli_actor() -> Actor:
    """Who runs a CLI command: the operating-system user, acting as administrator."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(name=f"cli:{user}", role="admin")


def write_job(db: str, fn: Callable[[Connection, int], tuple[T, list[AuditRecord]]]) -> T:
    """Run ``fn`` and append the audit records it returns, in one write transaction."""
    database = open_database(db)
    try:
        with database.write_engine.connect() as conn, conn.begin():
            now = now_us()
            result, records = fn(conn, now)
            append(conn, records, at_us=now)
        return result
    finally:
        database.close()


def _signer_for(db: str, config: Path | None) -> tuple[str, Path]:
    settings = load_settings(config, db=db)
    return settings.audit_origin or default_origin(), audit_key_path(settings)


@audit_app.command("pubkey")
def pubkey(
    db: str = typer.Option(..., help="SQLite database file (the key sits beside it unless configured)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML configuration file."),
) -> None:
    """Print the note verifier key that checks this log's checkpoints."""
    origin, key_path = _signer_for(db, config)
    typer.echo(load_signer(key_path, origin).verifier_key())


@audit_app.command("export")
def export(
    db: str = typer.Option(..., help="SQLite database file."),
    out: Path | None = typer.Option(None, help="Write here instead of standard output."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML configuration file."),
) -> None:
    """Write every record as JSON Lines, with the signed checkpoints (the export is itself audited)."""
    origin, key_path = _signer_for(db, config)
    signer = load_signer(key_path, origin)
    actor = cli_actor()
    database = open_database(db)
    try:
        with database.write_engine.connect() as conn, conn.begin():
            now = now_us()
            record = AuditRecord(
                "disclosure", "audit.export", actor.name, actor.role, recipient=str(out) if out else "stdout"
            )
            append(conn, [record], at_us=now)
            sign_new_checkpoint(conn, signer, origin, at_us=now)
        sink = out.open("w", encoding="utf-8") if out else sys.stdout
        count = 0
        try:
            with database.read_engine.connect() as conn, conn.begin():
                for text in read_records(conn):
                    sink.write(text + "\n")
                    count += 1
                notes = conn.execute(select(audit_checkpoints.c.note).order_by(audit_checkpoints.c.size)).scalars()
                for note in notes:
                    sink.write(msgspec.json.encode({"checkpoint": note}).decode() + "\n")
        finally:
            if out:
                sink.close()
        err.print(f"exported {count} records")
    finally:
        database.close()


def _report(report: VerifyReport) -> None:
    if report.ok:
        err.print(f"[green]intact[/green]: {report.size} records, consistent with every signed checkpoint")
        if report.signed_size < report.size:
            err.print(
                f"note: the last {report.size - report.signed_size} records are not yet under a signed checkpoint"
            )
        raise typer.Exit(0)
    err.print(f"[red]TAMPERED[/red]: {report.problem}")
    if report.first_bad is not None:
        typer.echo(f"first bad record: {report.first_bad}")
    raise typer.Exit(1)


@audit_app.command("verify")
def verify(
    db: str | None = typer.Option(None, help="Check the log in this SQLite database."),
    file: Path | None = typer.Option(None, help="Check an export written by 'tocsin audit export'."),
    key: str | None = typer.Option(None, help="Verifier key (default: the database's own key file)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML configuration file."),
) -> None:
    """Exit 0 when the log is intact; 1, naming the first bad record, when it is not."""
    if (db is None) == (file is None):
        err.print("[red]error:[/red] give exactly one of --db or --file")
        raise typer.Exit(2)
    if key is None:
        if db is None:
            err.print("[red]error:[/red] --file needs --key (from 'tocsin audit pubkey')")
            raise typer.Exit(2)
        origin, key_path = _signer_for(db, config)
        key = load_signer(key_path, origin).verifier_key()
    verifier = Verifier.from_key(key)
    if file is not None:
        try:
            report = verify_export_file(file, verifier)
        except OSError as exc:
            err.print(f"[red]error:[/red] cannot read {file}: {exc.strerror}")
            raise typer.Exit(2) from exc
        except ExportError as exc:
            err.print(f"[red]TAMPERED or not an export:[/red] {exc.detail}")
            raise typer.Exit(1) from exc
        _report(report)
    assert db is not None
    database = open_database(db)
    try:
        with database.read_engine.connect() as conn, conn.begin():
            notes = list(conn.execute(select(audit_checkpoints.c.note).order_by(audit_checkpoints.c.size)).scalars())
            records = (msgspec.json.decode(text) for text in read_records(conn))
            report = verify_log(records, notes, verifier)
    finally:
        database.close()
    _report(report)
