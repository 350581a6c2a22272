"""One POST per delivery attempt: the stored body, signed with the shared key, and its idempotency
key. The answer is a status code or the name of the failure; the worker decides what follows
(``rotator.worker.webhooks``). No redirect is followed (a signed body goes where it was set to
go), no response body is read into a log, and the key is never in an error.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from rotator.core.errors import ConfigError
from rotator.core.models import Secret
from rotator.core.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, sign
from rotator.settings.kinds import is_loopback, shown_url

__all__ = ["WebhookSender"]

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class WebhookSender:
    """POSTs to ``url``; plain http only to loopback (as for Composio), TLS always verified."""

    def __init__(
        self, url: str, key: Secret, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
            raise ConfigError(
                f"ROTATOR_WEBHOOK_URL={shown_url(url)}: use https:// (plain http:// only for "
                "127.0.0.0/8, ::1, localhost)"
            )
        self.url = url
        self._key = key
        self._client = httpx.Client(
            timeout=TIMEOUT, follow_redirects=False, verify=True, transport=transport
        )

    def send(self, delivery: str, body: str) -> int | str:
        """The receiver's status code, or why there was none (``timeout``, ``connect``, ...)."""
        raw = body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "rotator-webhook",
            SIGNATURE_HEADER: sign(self._key.reveal().encode(), raw),
            DELIVERY_HEADER: delivery,
        }
        try:
            with self._client.stream("POST", self.url, content=raw, headers=headers) as answer:
                return answer.status_code  # the body is never read: nothing of it is trusted
        except httpx.TimeoutException:
            return "timeout"
        except httpx.ConnectError:
            return "connect"
        except httpx.HTTPError as exc:
            return type(exc).__name__

    def close(self) -> None:
        self._client.close()
