"""The raw-ASGI fast path for ``POST /api/v1/events`` answers exactly as the Litestar route does.

Each scenario runs twice, on two fresh servers built alike: once with the fast path and
once with it switched off (the request then goes through Litestar's routing, auth
middleware, guard and exception handlers). Status, body bytes and every header must be
identical (a response header added to the Litestar app later shows up here); the bodies
are also pinned to literal JSON where they matter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tocsin.api.fast_ingest import EVENTS_PATH, TocsinApp
from tocsin.app import Runtime, build_app
from tocsin.auth.tokens import create_token
from tocsin.config import load_settings
from tocsin.errors import StoreUnavailable
from tocsin.store.sqlite import open_database

# Building the whole app in-process meets route declarations of other modules in styles
# Litestar deprecates; that is not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIRE = {"type": "fire.smoke", "method": "equipment", "source": "panel-7", "site": "school-12"}

Answer = tuple[int, dict[str, str], bytes]


class Server:
    """One app, driven in-process over ASGI (lifespan included)."""

    def __init__(self, app: TocsinApp, tokens: dict[str, str]) -> None:
        self.app = app
        self.tokens = tokens
        self.to_litestar = 0

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def post(
        self,
        body: bytes | list[bytes],
        *,
        role: str | None = "device",
        headers: dict[str, str] | None = None,
        content_length: bool = True,
    ) -> Answer:
        chunks = [body] if isinstance(body, bytes) else body
        raw = [(b"content-type", b"application/json")]
        if role is not None:
            raw.append((b"authorization", f"Bearer {self.tokens[role]}".encode()))
        for name, value in (headers or {}).items():
            raw = [(n, v) for n, v in raw if n != name.encode()] + [(name.encode(), value.encode())]
        if content_length:
            raw.append((b"content-length", str(sum(map(len, chunks))).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": EVENTS_PATH,
            "raw_path": EVENTS_PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8080),
        }
        messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)  # type: ignore[arg-type]
        start = sent[0]
        got = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        body_out = b"".join(m.get("body", b"") for m in sent[1:])
        got.pop("content-length")  # follows from the body, which is compared byte for byte
        return start["status"], got, body_out


@asynccontextmanager
async def serving(tmp_path: Path, *, fast: bool) -> AsyncIterator[Server]:
    db = tmp_path / ("fast" if fast else "litestar") / "t.db"
    db.parent.mkdir()
    database = open_database(db, synchronous="OFF")
    try:
        with database.write_engine.begin() as conn:
            tokens = {role: create_token(conn, role=role, name=f"t-{role}") for role in ("device", "auditor")}
    finally:
        database.close()
    settings = load_settings(
        None,
        db=str(db),
        synchronous="OFF",
        retention_interval_s=0,
        limits={"max_body_bytes": 2048, "max_batch_events": 5},
    )
    app = build_app(settings)
    assert isinstance(app, TocsinApp)
    app.fast_ingest = fast
    server = Server(app, tokens)
    litestar = app._litestar

    async def counting(*args: Any) -> None:
        server.to_litestar += 1
        await litestar(*args)

    app._litestar = counting  # type: ignore[method-assign,assignment]
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield server
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


Scenario = Callable[[Server], Coroutine[Any, Any, Answer]]


def both(tmp_path: Path, scenario: Scenario) -> tuple[Answer, Server]:
    """Run ``scenario`` on a fast-path server and on a Litestar-only one; assert they agree."""

    async def run(fast: bool) -> tuple[Answer, Server]:
        async with serving(tmp_path, fast=fast) as server:
            return await scenario(server), server

    fast, fast_server = asyncio.run(run(True))
    slow, _ = asyncio.run(run(False))
    assert fast == slow
    return fast, fast_server


def _json(answer: Answer) -> Any:
    return json.loads(answer[2])


def test_accepted_event(tmp_path: Path) -> None:
    async def scenario(s: Server) -> Answer:
        return await s.post(json.dumps(FIRE).encode())

    answer, server = both(tmp_path, scenario)
    assert answer == (202, {"content-type": "application/json"}, b'{"accepted":1,"events":[{"id":1,"incident_id":1}]}')
    assert server.to_litestar == 0  # answered before Litestar's router


def test_body_in_chunks_and_ndjson(tmp_path: Path) -> None:
    async def scenario(s: Server) -> Answer:
        line = json.dumps(FIRE).encode()
        nd = line + b"\n" + json.dumps({**FIRE, "site": "other"}).encode() + b"\n"
        return await s.post([nd[:7], nd[7:]], headers={"content-type": "application/x-ndjson"}, content_length=False)

    answer, _ = both(tmp_path, scenario)
    assert answer[0] == 202 and _json(answer)["accepted"] == 2


def test_invalid_items_are_listed_by_index_and_path(tmp_path: Path) -> None:
    async def scenario(s: Server) -> Answer:
        return await s.post(json.dumps([FIRE, {**FIRE, "method": "fax"}, {**FIRE, "site": 5}]).encode())

    answer, server = both(tmp_path, scenario)
    assert answer[0] == 422
    body = _json(answer)
    assert body["error"] == "invalid_events"
    assert [(e["index"], e["path"]) for e in body["errors"]] == [(1, "$.method"), (2, "$.site")]
    assert server.runtime.metrics.events_rejected.labels("invalid_events")._value.get() == 1


def test_not_json_and_empty(tmp_path: Path) -> None:
    async def scenario(s: Server) -> Answer:
        first = await s.post(b"{not json")
        assert first[0] == 422
        return await s.post(b"[]")

    answer, _ = both(tmp_path, scenario)
    assert answer[0] == 422 and _json(answer)["detail"] == "the array holds no events"


@pytest.mark.parametrize(
    ("role", "headers", "status"),
    [
        (None, {}, 401),  # no credential
        (None, {"authorization": "Bearer tcs_unknown"}, 401),
        (None, {"authorization": "Basic dXNlcjpwdw=="}, 401),
        (None, {"authorization": "Bearer "}, 401),
        ("auditor", {}, 403),  # a role without events:write
        (None, {"cookie": "tocsin_session=ses_bogus"}, None),  # the cookie path is Litestar's own
    ],
)
def test_refused_credentials(tmp_path: Path, role: str | None, headers: dict[str, str], status: int | None) -> None:
    async def scenario(s: Server) -> Answer:
        return await s.post(json.dumps(FIRE).encode(), role=role, headers=headers)

    answer, server = both(tmp_path, scenario)
    if status is not None:
        assert answer[0] == status
    assert answer[0] in (401, 403)
    assert server.to_litestar == 1
    if answer[0] == 401:
        assert answer[1]["www-authenticate"] == "Bearer"


def test_oversize_body_is_413(tmp_path: Path) -> None:
    big = json.dumps([{**FIRE, "description": "x" * 1000}] * 3).encode()

    async def scenario(s: Server) -> Answer:
        announced = await s.post(big)
        streamed = await s.post([big[:1000], big[1000:2000], big[2000:]], content_length=False)
        assert announced == streamed
        return streamed

    answer, _ = both(tmp_path, scenario)
    assert answer == (
        413,
        {"content-type": "application/json"},
        b'{"error":"payload_too_large","detail":"Request Entity Too Large"}',
    )


def test_too_many_items_is_413(tmp_path: Path) -> None:
    async def scenario(s: Server) -> Answer:
        return await s.post(json.dumps([{"type": "a", "method": "call", "source": "s"}] * 6).encode())

    answer, _ = both(tmp_path, scenario)
    assert answer[0] == 413
    assert _json(answer) == {"error": "payload_too_large", "detail": "6 events in one request; the limit is 5"}


def test_guard_refusal(tmp_path: Path) -> None:
    async def scenario(s: Server) -> Answer:
        return await s.post(json.dumps([FIRE, {**FIRE, "type": "protest.gathering"}]).encode())

    answer, server = both(tmp_path, scenario)
    assert answer[0] == 422
    body = _json(answer)
    assert body["error"] == "guard_refused"
    assert [(e["index"], e["path"]) for e in body["errors"]] == [(1, "$.type")]
    assert server.runtime.metrics.guard_refusals.labels("event")._value.get() == 1


def test_repeated_external_id_returns_original_ids(tmp_path: Path) -> None:
    async def scenario(s: Server) -> Answer:
        first = await s.post(json.dumps({**FIRE, "external_id": "seq-1"}).encode())
        again = await s.post(json.dumps([{**FIRE, "external_id": "seq-1"}, FIRE]).encode())
        assert _json(first)["events"][0] == _json(again)["events"][0]
        return again

    answer, _ = both(tmp_path, scenario)
    assert answer[2] == b'{"accepted":2,"events":[{"id":1,"incident_id":1},{"id":2,"incident_id":1}]}'


def test_overload_is_503_with_retry_after(tmp_path: Path) -> None:
    async def scenario(s: Server) -> Answer:
        async def full(*_args: Any, **_kw: Any) -> Any:
            raise StoreUnavailable("writer queue is full (test)", retry_after=1)

        s.runtime.engine.ingest = full  # type: ignore[method-assign]
        return await s.post(json.dumps(FIRE).encode())

    answer, _ = both(tmp_path, scenario)
    assert answer == (
        503,
        {"content-type": "application/json", "retry-after": "1"},
        b'{"error":"unavailable","detail":"writer queue is full (test)"}',
    )


def test_unexpected_error_is_500(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(s: Server) -> Answer:
        async def broken(*_args: Any, **_kw: Any) -> Any:
            raise RuntimeError("boom")

        s.runtime.engine.ingest = broken  # type: ignore[method-assign]
        return await s.post(json.dumps(FIRE).encode())

    answer, _ = both(tmp_path, scenario)
    assert answer == (
        500,
        {"content-type": "application/json"},
        b'{"error":"internal_error","detail":"internal server error"}',
    )
    assert any(r.exc_info for r in caplog.records)


def test_metrics_count_alike(tmp_path: Path) -> None:
    async def scenario(s: Server) -> Answer:
        await s.post(json.dumps([FIRE, {**FIRE, "method": "call"}]).encode())
        answer = await s.post(b"nope")
        m = s.runtime.metrics
        counts = (
            m.events_received.labels("equipment", "false")._value.get(),
            m.events_received.labels("call", "false")._value.get(),
            m.events_rejected.labels("invalid_events")._value.get(),
            sum(b.get() for b in m.ingest_seconds._buckets),
        )
        assert counts == (1, 1, 1, 1)
        return answer

    both(tmp_path, scenario)
