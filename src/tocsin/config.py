"""Typed settings, read from a TOML file and overridden by command-line flags.

Every bound tocsin enforces is a setting here with its default and its reason, so an
operator can find it and a test can check it is documented (see ``SETTINGS_DOC``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta, Struct

from tocsin.errors import ConfigError
from tocsin.ingest.camera_poll import PolledCamera
from tocsin.ingest.camera_push import PushCamera
from tocsin.ingest.cap_poll import CapFeed
from tocsin.ingest.sia import SiaConfig

__all__ = (
    "SETTINGS_DOC",
    "ConsoleConfig",
    "Limits",
    "MqttConfig",
    "Settings",
    "WebhookConfig",
    "audit_key_path",
    "load_settings",
)


class Limits(Struct, frozen=True, forbid_unknown_fields=True):
    """Bounds on work accepted, so overload is an answer (413/503), never a silent drop."""

    max_body_bytes: Annotated[int, Meta(ge=1024)] = 8 * 1024 * 1024
    max_batch_events: Annotated[int, Meta(ge=1)] = 10_000
    max_pending_events: Annotated[int, Meta(ge=1)] = 200_000
    max_commit_events: Annotated[int, Meta(ge=1)] = 5_000
    max_page_size: Annotated[int, Meta(ge=1)] = 500
    max_incident_events: Annotated[int, Meta(ge=1)] = 1_000
    sse_queue: Annotated[int, Meta(ge=1)] = 1_000


class WebhookConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """A URL that receives a JSON POST for each new incident and each state change."""

    url: Annotated[str, Meta(pattern=r"^https?://")]
    name: str | None = None
    min_priority: Annotated[int, Meta(ge=1, le=4)] = 4
    timeout_s: Annotated[float, Meta(gt=0, le=120)] = 5.0
    max_attempts: Annotated[int, Meta(ge=1, le=100)] = 12
    include_exercise: bool = True

    @property
    def label(self) -> str:
        """The key of this hook's outbox rows (its full URL when unnamed)."""
        return self.name or self.url

    @property
    def display(self) -> str:
        """How metrics, logs, the audit chain and the console name this hook: never the
        full URL, which often carries a secret."""
        return self.name or redact_url(self.url)


def redact_url(url: str) -> str:
    """``url`` without credentials and query string (shown as ``?…``)."""
    head, _, query = url.partition("?")
    scheme, sep, rest = head.partition("://")
    host = rest.rpartition("@")[2]
    return f"{scheme}{sep}{host}" + ("?…" if query else "")


class MqttConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """``[mqtt]``: the broker Frigate NVR publishes to."""

    url: str
    topic_prefix: str = "frigate"
    username: str | None = None
    password: str | None = None
    forward: Literal["mapped", "all"] = "mapped"

    def endpoint(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ConfigError(f"mqtt.url: {self.url!r} is not mqtt://HOST:PORT")
        return parts.hostname, parts.port or 1883


class ConsoleConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """``[console]``: the operator console's map background.

    No tile source is the offline default: the map then draws sites and incidents on a
    plain coordinate canvas, so a control room without internet still has a map.
    """

    tiles: str | None = None
    attribution: str = ""
    center: tuple[float, float] | None = None
    zoom: Annotated[int, Meta(ge=0, le=22)] = 12


class Settings(Struct, frozen=True, forbid_unknown_fields=True):
    """Everything ``tocsin serve`` needs. Field names are the TOML keys."""

    db: str = "var/tocsin.db"
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 8080
    log_level: str = "INFO"
    synchronous: str = "FULL"
    audit_key: str | None = None
    audit_origin: str | None = None
    audit_checkpoint_s: Annotated[float, Meta(gt=0, le=3600)] = 1.0
    retention_interval_s: Annotated[float, Meta(ge=0)] = 3600.0
    limits: Limits = Limits()
    webhook: list[WebhookConfig] = []
    mqtt: MqttConfig | None = None
    sia: SiaConfig | None = None
    camera: list[PolledCamera] = []
    push_camera: list[PushCamera] = []
    cap_feed: list[CapFeed] = []
    console: ConsoleConfig = ConsoleConfig()


SETTINGS_DOC: dict[str, str] = {
    "db": "SQLite database file; created and migrated on start.",
    "host": "Address the HTTP server binds to.",
    "port": "TCP port of the HTTP server.",
    "log_level": "DEBUG, INFO, WARNING or ERROR; logs are JSON lines on stderr.",
    "synchronous": "SQLite synchronous pragma: FULL (default) fsyncs every commit, so a 202 survives "
    "power loss; NORMAL survives a process crash only.",
    "audit_key": "File holding the Ed25519 key that signs audit checkpoints (made on first start, mode 0600); "
    "default: the database path with '.audit-key' appended. Keep it off the database's backups.",
    "audit_origin": "Origin line of signed checkpoints (default 'tocsin/<hostname>'): names this log.",
    "audit_checkpoint_s": "How often a new checkpoint is signed when the audit log has grown.",
    "retention_interval_s": "How often the server purges expired data (0 turns the background job off; "
    "'tocsin retention run' still works).",
    "limits.max_body_bytes": "Largest request body accepted; larger gets 413.",
    "limits.max_batch_events": "Most events in one request; more gets 413.",
    "limits.max_pending_events": "Events waiting for the writer before new requests get 503 with Retry-After.",
    "limits.max_commit_events": "Most events the writer puts in one group commit.",
    "limits.max_page_size": "Largest page the list endpoints return.",
    "limits.max_incident_events": "Most events shown with one incident (newest first).",
    "limits.sse_queue": "Changes buffered per live-stream client before it is told to reset.",
    "mqtt.url": "Broker to subscribe to for Frigate NVR messages: mqtt://HOST:PORT.",
    "mqtt.topic_prefix": "Frigate's topic prefix; tocsin subscribes to PREFIX/events and PREFIX/reviews.",
    "mqtt.username": "Broker user name, if it needs one.",
    "mqtt.password": "Broker password, if it needs one.",
    "mqtt.forward": "'mapped' (default) forwards only messages whose type maps to an alarm type; 'all' keeps "
    "every detection as an unclassified incident.",
    "sia.tcp": "SIA DC-09 receiver TCP address, host:port (port 0: any free port).",
    "sia.udp": "SIA DC-09 receiver UDP address, host:port.",
    "sia.max_connections": "Open TCP connections (and UDP datagrams in hand) before more are refused.",
    "sia.idle_timeout_s": "A TCP connection silent this long is closed.",
    "sia.max_batch_events": "Events of frames arriving together committed in one call (1: one per frame).",
    "sia.own_process": "Run the receiver in a process of its own (default true), answering panels on one core "
    "while the engine commits on another; false keeps it in the server's process.",
    "sia.journal": "Keep a write-ahead journal in the receiver process (default true): a frame is ACKed once "
    "fdatasync'd there, and committed by the engine milliseconds later (a crash hands the journal over again at "
    "the next start); false ACKs only once the engine has committed. Needs own_process.",
    "sia.journal_dir": "Where the journal is kept (default: next to the database, DB.sia-journal).",
    "sia.account.id": "The panel account (#acct), 1-16 letters or digits.",
    "sia.account.site": "Site of the panel's events.",
    "sia.account.key": "AES key (128/192/256 bit); set means the account must encrypt.",
    "sia.account.key_format": "'hex' (the standard) or 'ascii' (what some panels use): how to read key.",
    "sia.account.supervision_s": "The panel must report at least this often, else a communication-failure "
    "incident opens (cleared when it reports again).",
    "sia.account.window_before_s": "How far in the past a frame's timestamp may be (default 40 s).",
    "sia.account.window_after_s": "How far in the future a frame's timestamp may be (default 20 s).",
    "camera.vendor": "'hikvision' (ISAPI alertStream) or 'dahua' (eventManager attach): a camera tocsin polls.",
    "camera.url": "The camera's event-stream URL.",
    "camera.name": "Name used as the event source and in logs.",
    "camera.site": "Site of the camera's events.",
    "camera.username": "User for the camera's digest authentication.",
    "camera.password": "Password for the camera's digest authentication.",
    "camera.supervision_s": "Silent this long (no event, no heartbeat, no connection): communication-failure "
    "incident, cleared when it speaks again.",
    "push_camera.vendor": "'onvif' or 'hikvision': a camera that posts to /api/v1/ingest/VENDOR and is supervised.",
    "push_camera.device": "The camera as its events name it (Hikvision MAC, serial or IP; ONVIF producer address; "
    "else the name of the device token it posts with), case-insensitive.",
    "push_camera.supervision_s": "Posts nothing (no event, no heartbeat) this long: communication-failure "
    "incident, cleared when it posts again.",
    "push_camera.site": "Site of the camera's communication-failure incidents.",
    "push_camera.name": "Name in the incident's description and in logs (default: device).",
    "cap_feed.url": "An Atom or RSS feed of CAP 1.2 alerts to poll.",
    "cap_feed.name": "Names the feed in logs and as the actor (cap:NAME) its events are ingested as; "
    "each event's source is its alert's CAP sender.",
    "cap_feed.interval_s": "Seconds between polls (default 60).",
    "console.tiles": "Map tile URL template, e.g. https://tiles.example/{z}/{x}/{y}.png; unset (the offline "
    "default) draws sites and incidents on a plain coordinate canvas.",
    "console.attribution": "Attribution text the tile source requires.",
    "console.center": "[lat, lon] the map opens on (default: fit the incidents and sites shown).",
    "console.zoom": "Zoom level the map opens on when console.center is set.",
    "webhook.url": "Where the JSON POST goes.",
    "webhook.name": "Name in logs, metrics, the audit log and the console (default: the URL without "
    "credentials or query string).",
    "webhook.min_priority": "Notify incidents at least this urgent: priority number <= this (1 is highest).",
    "webhook.timeout_s": "Per-attempt timeout.",
    "webhook.max_attempts": "Attempts (with exponential backoff) before a notification is marked dead.",
    "webhook.include_exercise": "Also notify drills (exercise incidents).",
}


def load_settings(path: str | Path | None = None, **overrides: object) -> Settings:
    """Read settings from a TOML file (if given) and apply non-None overrides.

    Raises:
        ConfigError: the file is unreadable or a value is invalid; the message names it.
    """
    raw: dict[str, object] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        server = raw.pop("server", None)
        if isinstance(server, dict):
            raw = {**server, **raw}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(raw, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc


def audit_key_path(settings: Settings) -> Path:
    """Where the checkpoint-signing key lives."""
    return Path(settings.audit_key) if settings.audit_key else Path(f"{settings.db}.audit-key")
