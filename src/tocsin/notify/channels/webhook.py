"""The webhook channel: one JSON POST per notification, with an explicit retry decision.

2xx is delivered. 408, 429 and 5xx, timeouts and connection failures are worth retrying;
any other 4xx means the receiver rejects this payload and retrying cannot help.
"""

from __future__ import annotations

import httpx

from tocsin.config import WebhookConfig
from tocsin.errors import DeliveryError

__all__ = ("send_webhook",)

_RETRY_STATUS = frozenset({408, 425, 429})


async def send_webhook(client: httpx.AsyncClient, hook: WebhookConfig, payload: bytes) -> None:
    """POST ``payload`` to the hook.

    Raises:
        DeliveryError: with ``retryable`` and a ``reason`` (network, timeout, server, client).
    """
    try:
        resp = await client.post(
            hook.url, content=payload, headers={"content-type": "application/json"}, timeout=hook.timeout_s
        )
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timed out after {hook.timeout_s}s", retryable=True, reason="timeout") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True, reason="network") from exc
    if 200 <= resp.status_code < 300:
        return
    retryable = resp.status_code >= 500 or resp.status_code in _RETRY_STATUS
    raise DeliveryError(
        f"receiver answered {resp.status_code}",
        retryable=retryable,
        reason="server" if resp.status_code >= 500 else "client",
    )
