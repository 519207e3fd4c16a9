"""The webhook channel: one JSON POST per notification, with an explicit retry decision.

2xx is delivered. 408, 425, 429 and 5xx, timeouts and connection failures are worth
retrying; any other 4xx means the receiver rejects this payload and retrying cannot help.

aiohttp rather than httpx here: at a thousand notifications a second the client's own
CPU cost decides the latency, and aiohttp's is several times lower (measured in
``bench/ingest.py``).
"""

from __future__ import annotations

import aiohttp

from tocsin.config import WebhookConfig
from tocsin.errors import DeliveryError

__all__ = ("new_session", "send_webhook")

_RETRY_STATUS = frozenset({408, 425, 429})
_HEADERS = {"content-type": "application/json", "user-agent": "tocsin-webhook"}


def new_session(max_connections: int) -> aiohttp.ClientSession:
    """A pooled keep-alive session for all webhooks (create inside the running loop)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max_connections), headers=_HEADERS)


async def send_webhook(session: aiohttp.ClientSession, hook: WebhookConfig, payload: bytes) -> None:
    """POST ``payload`` to the hook.

    Raises:
        DeliveryError: with ``retryable`` and a ``reason`` (network, timeout, server, client).
    """
    try:
        async with session.post(hook.url, data=payload, timeout=aiohttp.ClientTimeout(total=hook.timeout_s)) as resp:
            status = resp.status
            await resp.read()
    except TimeoutError as exc:
        raise DeliveryError(f"timed out after {hook.timeout_s}s", retryable=True, reason="timeout") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True, reason="network") from exc
    if 200 <= status < 300:
        return
    retryable = status >= 500 or status in _RETRY_STATUS
    raise DeliveryError(
        f"receiver answered {status}", retryable=retryable, reason="server" if status >= 500 else "client"
    )
