"""The webhook channel's minimal HTTP/1.1 client: statuses, keep-alive, framing, fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tocsin.config import WebhookConfig
from tocsin.errors import DeliveryError
from tocsin.notify.channels.webhook import WebhookClient, send_webhook

Handler = Callable[[bytes, bytes], bytes | None]
"""(request head, body) -> raw response bytes, or None to close without answering."""


class Receiver:
    """A loopback HTTP/1.1 server answering from ``handler``; records what it was sent."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.close()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                answer = self.handler(head, body)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower() or b"x-test-drop: 1" in answer.lower():
                    break  # x-test-drop: as a receiver dropping an idle connection, unannounced
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok(status: int = 200, extra: bytes = b"") -> Handler:
    return lambda _head, _body: b"HTTP/1.1 %d X\r\nContent-Length: 2\r\n%s\r\nok" % (status, extra)


def hook(url: str, timeout_s: float = 2.0) -> WebhookConfig:
    return WebhookConfig(url=url, timeout_s=timeout_s)


def run(test: Callable[[WebhookClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        client = WebhookClient(8)
        try:
            return await test(client)
        finally:
            await client.close()

    return asyncio.run(main())


def test_posts_json_and_keeps_the_connection() -> None:
    async def test(client: WebhookClient) -> Receiver:
        async with Receiver(ok()) as rx:
            for i in range(3):
                await send_webhook(client, hook(rx.url("/in?x=1")), b'{"n":%d}' % i)
        return rx

    rx = run(test)
    assert rx.connections == 1
    head, body = rx.requests[2]
    assert body == b'{"n":2}'
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /in?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{rx.port}" in lines
    assert "Content-Type: application/json" in lines and "Content-Length: 7" in lines


def test_chunked_and_interim_answers_are_read_whole() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"

    async def test(client: WebhookClient) -> Receiver:
        async with Receiver(lambda _h, _b: answer) as rx:
            await send_webhook(client, hook(rx.url()), b"{}")
            await send_webhook(client, hook(rx.url()), b"{}")
        return rx

    rx = run(test)
    assert len(rx.requests) == 2 and rx.connections == 1


@pytest.mark.parametrize(
    ("status", "retryable", "reason"),
    [
        (500, True, "server"),
        (503, True, "server"),
        (429, True, "client"),
        (408, True, "client"),
        (404, False, "client"),
    ],
)
def test_status_decides_retry(status: int, retryable: bool, reason: str) -> None:
    async def test(client: WebhookClient) -> DeliveryError:
        async with Receiver(ok(status)) as rx:
            with pytest.raises(DeliveryError) as caught:
                await send_webhook(client, hook(rx.url()), b"{}")
        return caught.value

    err = run(test)
    assert (err.retryable, err.reason) == (retryable, reason)
    assert str(status) in err.detail


def test_connection_close_and_stale_keep_alive_are_replaced() -> None:
    answers = iter(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Test-Drop: 1\r\n\r\n",
        ]
    )

    def handler(_head: bytes, _body: bytes) -> bytes:
        return next(answers, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    async def test(client: WebhookClient) -> Receiver:
        async with Receiver(handler) as rx:
            await send_webhook(client, hook(rx.url()), b"1")
            await send_webhook(client, hook(rx.url()), b"2")
            await asyncio.sleep(0.05)  # the receiver has dropped the kept-alive connection by now
            await send_webhook(client, hook(rx.url()), b"3")  # found dead, sent on a new one
        return rx

    rx = run(test)
    assert [b for _h, b in rx.requests] == [b"1", b"2", b"3"]
    assert rx.connections == 3


def test_unanswered_fresh_connection_is_a_retryable_failure() -> None:
    async def test(client: WebhookClient) -> DeliveryError:
        async with Receiver(lambda _h, _b: None) as rx:
            with pytest.raises(DeliveryError) as caught:
                await send_webhook(client, hook(rx.url()), b"{}")
        return caught.value

    err = run(test)
    assert (err.retryable, err.reason) == (True, "network")


def test_silence_times_out_and_refusal_is_network() -> None:
    async def test(client: WebhookClient) -> tuple[DeliveryError, DeliveryError]:
        async with Receiver(lambda _h, _b: b"") as rx:  # reads the request, never answers
            with pytest.raises(DeliveryError) as slow:
                await send_webhook(client, hook(rx.url(), timeout_s=0.2), b"{}")
            port = rx.port
        with pytest.raises(DeliveryError) as refused:
            await send_webhook(client, hook(f"http://127.0.0.1:{port}/gone"), b"{}")
        return slow.value, refused.value

    slow, refused = run(test)
    assert (slow.retryable, slow.reason) == (True, "timeout")
    assert (refused.retryable, refused.reason) == (True, "network")


def test_redirect_is_followed_through_aiohttp() -> None:
    def handler(head: bytes, _body: bytes) -> bytes:
        if head.startswith(b"POST /hook "):
            return b"HTTP/1.1 307 Moved\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    async def test(client: WebhookClient) -> Receiver:
        async with Receiver(handler) as rx:
            await send_webhook(client, hook(rx.url()), b'{"a":1}')
        return rx

    rx = run(test)
    assert [h.split(b" ")[1] for h, _b in rx.requests] == [b"/hook", b"/hook", b"/final"]
    assert rx.requests[-1][1] == b'{"a":1}'


def test_only_plain_http_takes_the_minimal_client() -> None:
    client = WebhookClient(1)
    assert client.target("https://example.org/hook") is None
    assert client.target("http://user:pw@example.org/hook") is None
    plain = client.target("http://[::1]:8080")
    assert plain is not None and plain.endpoint == ("::1", 8080)
    assert plain.head.startswith(b"POST / HTTP/1.1\r\nHost: [::1]:8080\r\n")
