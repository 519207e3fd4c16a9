"""The ``tocsin`` command: thin wrappers that parse flags and call the package.

``serve`` runs the server; ``token create`` prints a new API token alone on stdout (so
scripts can capture it); ``simulate`` feeds a running server with a city's alarms;
``demo`` does all three at once for a first look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import webbrowser
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from sqlalchemy import Connection

from tocsin._internal.clock import now_us
from tocsin._internal.logging import configure_logging
from tocsin.app import build_app
from tocsin.audit.log import AuditRecord
from tocsin.auth.roles import ROLES
from tocsin.auth.tokens import create_token
from tocsin.auth.users import hash_password_blocking, insert_user, validate_user
from tocsin.cli_audit import audit_app, cli_actor, write_job
from tocsin.config import Settings, load_settings
from tocsin.demo import demo_accounts, demo_passwords, hash_all
from tocsin.errors import TocsinError
from tocsin.guard.taxonomy import taxonomy_app
from tocsin.ingest.sia_cli import sia_app
from tocsin.store.sqlite import open_database
from tocsin.store.writer import Tx

__all__ = ("app", "main")

app = typer.Typer(no_args_is_help=True, add_completion=False, help="tocsin: alarms in, incidents handled.")
token_app = typer.Typer(no_args_is_help=True, help="Manage API tokens.")
user_app = typer.Typer(no_args_is_help=True, help="Manage user accounts.")
retention_app = typer.Typer(no_args_is_help=True, help="Expire data on schedule.")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(retention_app, name="retention")
report_app = typer.Typer(no_args_is_help=True, help="Reports.")
types_app = typer.Typer(no_args_is_help=True, help="The alarm-type dictionary.")
app.add_typer(types_app, name="alarm-types")
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")
app.add_typer(taxonomy_app, name="taxonomy")
app.add_typer(sia_app, name="sia")
err = Console(stderr=True)
log = logging.getLogger("tocsin.cli")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except TocsinError as exc:
        raise _fail(exc.detail) from exc


def _serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    )
    server.run()


@app.command()
def serve(
    db: str | None = typer.Option(None, help="SQLite database file (created and migrated if needed)."),
    host: str | None = typer.Option(None, help="Address to bind (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="TCP port (default 8080)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML configuration file."),
) -> None:
    """Run the tocsin server."""
    _serve(_settings(config, db=db, host=host, port=port))


@token_app.command("create")
def token_create(
    db: str = typer.Option(..., help="SQLite database file."),
    role: str = typer.Option(..., help=f"One of: {', '.join(ROLES)}."),
    name: str = typer.Option(..., help="Who or what the token is for (shown in timelines)."),
) -> None:
    """Create a token and print it alone on stdout. It is stored hashed and shown only once."""
    if role not in ROLES:
        raise _fail(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    actor = cli_actor()

    def job(conn: Connection, now: int) -> tuple[str, list[AuditRecord]]:
        token = create_token(conn, role=role, name=name)
        record = AuditRecord("alteration", "token.create", actor.name, actor.role, detail={"role": role})
        return token, [record]

    try:
        token = write_job(db, job)
    except TocsinError as exc:
        raise _fail(exc.detail) from exc
    typer.echo(token)


@user_app.command("create")
def user_create(
    db: str = typer.Option(..., help="SQLite database file."),
    username: str = typer.Option(..., help="Login name."),
    role: str = typer.Option(..., help="admin, supervisor, operator or auditor."),
    password_stdin: bool = typer.Option(False, help="Read the password from standard input (for scripts)."),
) -> None:
    """Create a user account (the password is asked for, or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        validate_user(username, password, role)
    except TocsinError as exc:
        raise _fail(exc.detail) from exc
    password_hash = hash_password_blocking(password)
    actor = cli_actor()

    def job(conn: Connection, now: int) -> tuple[int, list[AuditRecord]]:
        user_id = insert_user(
            conn, username=username, password_hash=password_hash, role=role, actor=actor.name, now_us=now
        )
        return user_id, [AuditRecord("alteration", "user.create", actor.name, actor.role, objects={"users": [user_id]})]

    try:
        user_id = write_job(db, job)
    except TocsinError as exc:
        raise _fail(exc.detail) from exc
    err.print(f"user {username!r} ({role}) created with id {user_id}")


@retention_app.command("run")
def retention_run(
    db: str = typer.Option(..., help="SQLite database file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what is due."),
) -> None:
    """Purge expired data now; every batch is recorded on the audit chain."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from tocsin import retention

    database = open_database(db)
    now = now_us()
    try:
        due = database.read_blocking(lambda conn: retention.plan(conn, now_us=now))
    finally:
        database.close()
    total = due.unattached_events + due.incident_events
    err.print(
        f"due: {due.incidents} ended incidents with {due.incident_events} events, "
        f"{due.unattached_events} events in no incident"
    )
    if dry_run:
        return
    actor = cli_actor()
    purged = [0, 0]
    with Progress(
        TextColumn("purging"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} events"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("purge", total=max(total, 1))
        while True:

            def job(conn: Connection, at: int) -> tuple[retention.PurgeResult, list[AuditRecord]]:
                captured: list[AuditRecord] = []
                result = retention.purge_batch(
                    now_us=now,
                    actor=actor.name,
                    role=actor.role,
                    audit=lambda _tx, recs, _at: captured.extend(recs),
                )(Tx(conn))
                return result, captured

            result = write_job(db, job)
            purged[0] += result.events
            purged[1] += result.incidents
            progress.update(task, advance=result.events)
            if result.done:
                break
    err.print(f"purged {purged[1]} incidents and {purged[0]} events")


@app.command()
def simulate(
    url: str = typer.Option("http://127.0.0.1:8080", help="Base URL of the tocsin server."),
    token: str = typer.Option(..., envvar="TOCSIN_TOKEN", help="A device or operator token."),
    rate: float = typer.Option(5.0, min=0.01, help="Events per second."),
    duration: float | None = typer.Option(None, help="Stop after this many seconds (default: run until Ctrl-C)."),
    seed: int | None = typer.Option(None, help="Random seed for a repeatable feed."),
) -> None:
    """Feed a running server with a realistic city alarm stream."""
    from tocsin.simulate import SimStats, run_simulation

    configure_logging("WARNING")

    def progress(stats: SimStats) -> None:
        err.print(
            f"\rsent {stats.accepted} accepted, {stats.rejected} rejected, {stats.retried} retried",
            end="",
            highlight=False,
        )

    with contextlib.suppress(KeyboardInterrupt):
        stats = asyncio.run(run_simulation(url, token, rate, duration=duration, seed=seed, on_progress=progress))
        err.print(f"\ndone: {stats.accepted} events accepted in {stats.elapsed:.1f}s")


@types_app.command("import")
def alarm_types_import(
    file: Path = typer.Argument(..., help="A tocsin dictionary file: a JSON array of alarm types."),
    url: str = typer.Option("http://127.0.0.1:8080", help="Base URL of the running server."),
    token: str = typer.Option(..., envvar="TOCSIN_TOKEN", help="An admin token."),
) -> None:
    """Add or change alarm types on a running server, all or nothing, through the guard."""
    import httpx

    try:
        body = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from exc
    try:
        resp = httpx.post(
            f"{url}/api/v1/alarm-types/import",
            content=body,
            headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {url}: {exc}") from exc
    if resp.status_code == 200:
        counts = resp.json()
        err.print(f"imported: {counts.get('added', 0)} added, {counts.get('changed', 0)} changed")
        return
    detail = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    err.print(f"[red]not imported[/red] ({resp.status_code}): {detail.get('detail', resp.text)}")
    for item in detail.get("errors", []):
        err.print(f"  entry {item.get('index')}: {item.get('path')}: {item.get('message')}")
    raise typer.Exit(1)


@report_app.command("transparency")
def report_transparency(
    db: str = typer.Option(..., help="SQLite database file."),
    start: str | None = typer.Option(None, "--from", help="First day, YYYY-MM-DD (default: a year before --to)."),
    end: str | None = typer.Option(None, "--to", help="Last day, YYYY-MM-DD (default: today)."),
    out: Path = typer.Option(Path("transparency"), help="Folder for index.html and the CSV files."),
) -> None:
    """Write the public transparency report (HTML and CSV)."""
    from datetime import UTC, date, datetime

    from tocsin.api.transparency import period
    from tocsin.report.render import render_html, write_csv
    from tocsin.report.transparency import build_report

    try:
        first = date.fromisoformat(start) if start else None
        last = date.fromisoformat(end) if end else None
        lo, hi = period(first, last, today=datetime.now(tz=UTC).date())
    except ValueError as exc:
        raise _fail(f"--from/--to: {exc}") from exc
    except TocsinError as exc:
        raise _fail(exc.detail) from exc
    database = open_database(db)
    try:
        report = database.read_blocking(lambda conn: build_report(conn, start_us=lo, end_us=hi, now_us=now_us()))
    finally:
        database.close()
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(render_html(report), encoding="utf-8")
    files = write_csv(report, out)
    err.print(f"wrote {out / 'index.html'} and {len(files)} CSV files")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@app.command()
def demo(
    db: str = typer.Option("var/demo.db", help="SQLite database file for the demo."),
    port: int = typer.Option(8080, help="TCP port."),
    rate: float = typer.Option(3.0, help="Simulated events per second."),
    open_browser: bool = typer.Option(
        bool(os.environ.get("DISPLAY") or sys.platform == "darwin"),
        "--open/--no-open",
        help="Open the console in a browser (default: when there is a screen).",
    ),
) -> None:
    """Serve the console on 127.0.0.1 with a simulated city feeding it, and print how to log in."""
    from tocsin.simulate import run_simulation

    host = "127.0.0.1"
    if not _port_free(host, port):
        raise _fail(f"port {port} on {host} is in use; pass --port")

    passwords = demo_passwords()
    hashed = hash_all(passwords)

    def seed(conn: Connection, now: int) -> tuple[tuple[str, str], list[AuditRecord]]:
        actor = cli_actor()
        made = (
            create_token(conn, role="operator", name="demo-operator"),
            create_token(conn, role="device", name="demo-device"),
        )
        records = demo_accounts(conn, now, hashed, actor=actor.name)
        records.append(AuditRecord("alteration", "token.create", actor.name, actor.role, detail={"count": 2}))
        return made, records

    (operator, device) = write_job(db, seed)
    base = f"http://{host}:{port}"
    out = Console()
    out.rule("[bold]tocsin demo")
    out.print(f"[bold]Console        {base}/[/bold]  (log in with one of the accounts below)")
    for username, (role, password) in passwords.items():
        out.print(f"  {role:<12} user [bold]{username}[/bold]  password [bold]{password}[/bold]")
    out.print(f"API            {base}/api/v1  (OpenAPI: {base}/api/v1/openapi.json)")
    out.print(f"Transparency   {base}/transparency   Metrics {base}/metrics")
    queue_url = f"{base}/api/v1/incidents?state=open&order=queue"
    out.print(f'Try:           curl -H "Authorization: Bearer {operator}" "{queue_url}"')
    out.rule()
    settings = load_settings(None, db=db, host=host, port=port, log_level="WARNING")
    configure_logging(settings.log_level)
    app_config = uvicorn.Config(
        build_app(settings), host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(app_config)

    async def run() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return
            await asyncio.sleep(0.05)
        feed = asyncio.create_task(run_simulation(base, device, rate))
        if open_browser:
            webbrowser.open(f"{base}/console/login")
        await serving
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def main() -> None:
    app()
