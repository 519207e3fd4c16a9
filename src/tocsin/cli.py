"""The ``tocsin`` command: thin wrappers that parse flags and call the package.

``serve`` runs the server; ``token create`` prints a new API token alone on stdout (so
scripts can capture it); ``simulate`` feeds a running server with a city's alarms;
``demo`` does all three at once for a first look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path

import typer
import uvicorn
from rich.console import Console

from tocsin._internal.logging import configure_logging
from tocsin.app import build_app
from tocsin.auth.roles import ROLES
from tocsin.auth.tokens import create_token
from tocsin.config import Settings, load_settings
from tocsin.errors import TocsinError
from tocsin.store.sqlite import open_database

__all__ = ("app", "main")

app = typer.Typer(no_args_is_help=True, add_completion=False, help="tocsin: alarms in, incidents handled.")
token_app = typer.Typer(no_args_is_help=True, help="Manage API tokens.")
app.add_typer(token_app, name="token")
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
    database = open_database(db)
    try:
        with database.write_engine.begin() as conn:
            token = create_token(conn, role=role, name=name)
    except TocsinError as exc:
        raise _fail(exc.detail) from exc
    finally:
        database.close()
    typer.echo(token)


@app.command()
def simulate(
    url: str = typer.Option("http://127.0.0.1:8080", help="Base URL of the tocsin server."),
    token: str = typer.Option(..., envvar="TOCSIN_TOKEN", help="A device or operator token."),
    rate: float = typer.Option(5.0, min=0.01, help="Events per second."),
    duration: float | None = typer.Option(
        None, help="Stop after this many seconds (default: run until Ctrl-C)."
    ),
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
        stats = asyncio.run(
            run_simulation(url, token, rate, duration=duration, seed=seed, on_progress=progress)
        )
        err.print(f"\ndone: {stats.accepted} events accepted in {stats.elapsed:.1f}s")


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
) -> None:
    """Serve on 127.0.0.1 with a simulated city feeding it, and print where to look."""
    from tocsin.simulate import run_simulation

    host = "127.0.0.1"
    if not _port_free(host, port):
        raise _fail(f"port {port} on {host} is in use; pass --port")
    database = open_database(db)
    with database.write_engine.begin() as conn:
        operator = create_token(conn, role="operator", name="demo-operator")
        device = create_token(conn, role="device", name="demo-simulator")
        admin = create_token(conn, role="admin", name="demo-admin")
    database.close()
    base = f"http://{host}:{port}"
    out = Console()
    out.rule("[bold]tocsin demo")
    out.print(f"API            {base}/api/v1  (OpenAPI: {base}/api/v1/openapi.json)")
    out.print(f"Live stream    {base}/api/v1/stream")
    out.print(f"Metrics        {base}/metrics")
    out.print(f"Operator token {operator}")
    out.print(f"Admin token    {admin}")
    queue_url = f"{base}/api/v1/incidents?state=open&order=queue"
    out.print(f'Try:           curl -H "Authorization: Bearer {operator}" "{queue_url}"')
    out.rule()
    settings = load_settings(None, db=db, host=host, port=port, log_level="WARNING")
    configure_logging(settings.log_level)
    app_config = uvicorn.Config(build_app(settings), host=host, port=port, log_config=None, access_log=False)
    server = uvicorn.Server(app_config)

    async def run() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return
            await asyncio.sleep(0.05)
        feed = asyncio.create_task(run_simulation(base, device, rate))
        await serving
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def main() -> None:
    app()
