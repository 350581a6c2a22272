"""The only door to the Composio API: one pooled httpx client, retries driven by ``policy``.

``ComposioClient`` is thread-safe and meant to be shared: one keep-alive connection pool per
process, timeouts always set, exactly one auth header (``x-api-key``). httpx errors are
translated here and nowhere else: a blip is retried in the call, an outage becomes
``ComposioUnavailable`` (carrying the server's wait, ``server_wait``, if it gave one), a
refusal becomes ``ComposioRejected``. Both carry ``attempts``. Each attempt ends within
``ROTATOR_COMPOSIO_TIMEOUT``, connect, headers and body together (``rotator.composio.wire``),
and reads a body capped on the wire (``rotator.composio.body``); a 2xx whose body cannot be read
is judged in ``parse.unreadable``. The API key and the credential values never appear in logs
or exception messages (they are scrubbed even from Composio's own messages). An optional
``Limiter`` (``rotator.ratelimit.limiter``) is asked before every attempt and told every
answer: a short wait is slept here, a longer one raises ``ComposioUnavailable(earliest=...)``,
rotator's own earliest next attempt.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from urllib.parse import urlencode

import httpx
import structlog

from rotator.composio import wire
from rotator.composio.body import ACCEPT_ENCODING, body_problem
from rotator.composio.parse import (
    BODY_LIMIT,
    Answer,
    final_error,
    json_object,
    parse_response,
    secret_values,
    unreadable,
)
from rotator.composio.request import (
    Limiter,
    check_base_url,
    config_path,
    key_header,
    user_agent,
    verify_context,
)
from rotator.core.errors import ComposioRejected, ComposioUnavailable, PermanentError
from rotator.core.models import Decision, Payload, ResponseInfo, RetryAction, Secret
from rotator.core.retry import RetryBudget, decide
from rotator.observability import metrics
from rotator.settings.load import Settings, retry_budget

__all__ = ["ComposioClient", "KeyProvider", "Limiter", "PatchResult", "parse_response"]

KeyProvider = Callable[[bool], Secret]
"""``provider(refresh)`` returns the API key; ``refresh=True`` re-reads it from Vault."""


log = structlog.get_logger("rotator.composio")
_NO_OVERRIDES: Mapping[str, RetryAction] = MappingProxyType({})
_GET_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class PatchResult:
    status: int
    request_id: str | None
    attempts: int
    rate_limit: int | None
    rate_remaining: int | None
    unverified: str | None = (
        None  # why a 2xx body is not the success answer (rotator.rotation.verify)
    )


class ComposioClient:
    """A thread-safe Composio API client with in-call retries for blips."""

    def __init__(
        self,
        *,
        base_url: str,
        key_provider: KeyProvider,
        key_refreshable: bool,
        budget: RetryBudget,
        overrides: Mapping[str, RetryAction] = _NO_OVERRIDES,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        verify: str | bool = True,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        max_connections: int = 32,
        limiter: Limiter | None = None,
    ) -> None:
        check_base_url(base_url)
        self._limiter = limiter
        self._key_provider = key_provider
        self._key_refreshable = key_refreshable
        self._budget = budget
        self._overrides = dict(overrides)
        self._sleep = sleep
        self._rand = rand
        self._total_timeout = timeout  # one attempt: connect, headers and body together
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        context = verify_context(verify)
        self._client = httpx.Client(
            base_url=base_url,
            headers={
                "User-Agent": user_agent(),
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            transport=transport or wire.transport(base_url, verify=context, limits=limits),
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        key_provider: KeyProvider,
        transport: httpx.BaseTransport | None = None,
        limiter: Limiter | None = None,
    ) -> ComposioClient:
        """The key is refreshable when it is read from Vault (``ROTATOR_COMPOSIO_KEY_PATH``)."""
        return cls(
            base_url=settings.composio_base_url,
            key_provider=key_provider,
            key_refreshable=settings.composio_key_path is not None,
            budget=retry_budget(settings),
            overrides=settings.slug_overrides,
            timeout=settings.composio_timeout,
            connect_timeout=settings.composio_connect_timeout,
            verify=settings.composio_cacert or True,
            transport=transport,
            limiter=limiter,
        )

    def update_auth_config(self, nanoid: str, payload: Payload) -> PatchResult:
        """PATCH exactly ``payload.body()``; raise ComposioUnavailable or ComposioRejected."""
        path = config_path(nanoid)
        content = json.dumps(payload.body(), separators=(",", ":")).encode()
        answer, attempts = self._call("PATCH", path, nanoid, content, secret_values(payload))
        info = answer.info
        return PatchResult(
            status=info.status or 0,
            request_id=info.request_id,
            attempts=attempts,
            rate_limit=info.rate_limit,
            rate_remaining=info.rate_remaining,
            unverified=(
                f"a 2xx whose body could not be read: {answer.note}"
                if answer.unread
                else body_problem(answer.raw)
            ),
        )

    def get_auth_config(self, nanoid: str) -> dict[str, object]:
        """The auth config as Composio shows it (secrets masked by the API)."""
        answer, attempts = self._call("GET", config_path(nanoid), nanoid, None, [])
        info, data = answer.info, json_object(answer.raw)
        if answer.unread:
            raise unreadable(answer, f"for {nanoid}", attempts)
        if data is None:
            raise ComposioRejected(
                f"Composio answered {info.status} for {nanoid} with a body that is not a JSON "
                "object",
                info.status,
                None,
                info.request_id,
            )
        return data

    def list_auth_configs(self, cursor: str | None = None) -> object:
        """One page of ``GET /api/v3/auth_configs?show_disabled=true`` (the server's page size),
        throttled and retried like a PATCH; the parsed JSON, unchecked (see ``inventory``)."""
        query = {"show_disabled": "true", **({"cursor": cursor} if cursor else {})}
        path = "/api/v3/auth_configs?" + urlencode(query)
        answer, attempts = self._call("GET", path, "the auth config list", None, [])
        info = answer.info
        if answer.unread:
            raise unreadable(answer, "to the auth config list", attempts)
        try:
            return json.loads(answer.raw)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            deep = isinstance(exc, RecursionError)
            raise ComposioRejected(
                f"Composio answered {info.status} to the auth config list with "
                + ("JSON nested too deeply" if deep else "a body that is not JSON"),
                info.status,
                None,
                info.request_id,
            ) from None

    def ping(self) -> ResponseInfo:
        """One ``GET /api/v3/auth_configs?limit=1``, no retries: can we reach and authenticate?"""
        self._throttle(0)
        answer = self._send("GET", "/api/v3/auth_configs?limit=1", self._key_provider(False), None)
        info = answer.info
        if info.status is not None and 200 <= info.status < 300 and json_object(answer.raw) is None:
            what = answer.note or "a body that is not a JSON object"
            raise PermanentError(
                f"Composio answered {info.status} with {what} (a proxy or a web page?): "
                "check COMPOSIO_BASE_URL"
            )
        return info

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ComposioClient:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(
        self, method: str, path: str, nanoid: str, content: bytes | None, secrets: list[str]
    ) -> tuple[Answer, int]:
        """Send until a 2xx (returned) or a final decision (raised), obeying ``decide``."""
        attempt, reauthed, refresh = 1, False, False
        while True:
            key = self._key_provider(refresh)
            secrets = list(dict.fromkeys([*secrets, key.reveal()]))
            self._throttle(attempt - 1)
            answer = self._send(method, path, key, content)
            info = answer.info
            if info.status is not None and 200 <= info.status < 300:
                if answer.note:
                    log.warning("composio.unusable_body", http_status=info.status, note=answer.note)
                return answer, attempt
            decision = decide(
                info,
                attempt=attempt,
                budget=self._budget,
                key_refreshable=self._key_refreshable,
                reauthed=reauthed,
                overrides=self._overrides,
                rand=self._rand,
            )
            if decision.action in (RetryAction.FAIL, RetryAction.RETRY_LATER):
                raise final_error(decision, info, nanoid, attempt, secrets)
            self._pause(info, attempt, decision)
            refresh = decision.action is RetryAction.REAUTH
            reauthed = reauthed or refresh
            attempt += 1

    def _pause(self, info: ResponseInfo, attempt: int, decision: Decision) -> None:
        log.warning(
            "rotation.retrying",
            attempt=attempt,
            http_status=info.status,
            error_slug=info.slug,
            request_id=info.request_id,
            delay_s=round(decision.delay, 3),
            reason=decision.reason,
        )
        if decision.action is RetryAction.RETRY_NOW:
            self._sleep(decision.delay)

    def _throttle(self, attempts: int) -> None:
        """Wait for a slot of the shared rate limit, or hand a long wait to the caller."""
        waited = 0.0
        while self._limiter is not None and (wait := self._limiter.acquire()) > 0:
            if waited + wait > self._budget.in_call_max_wait:
                raise ComposioUnavailable(
                    f"rotator's own Composio rate limit: next slot in {wait:.1f}s",
                    earliest=wait,
                    attempts=attempts,
                )
            self._sleep(wait)
            waited += wait

    def _send(self, method: str, path: str, key: Secret, content: bytes | None) -> Answer:
        """One exchange; reads at most 64 KiB of a body (4 MiB for a GET)."""
        headers = {"x-api-key": key_header(key)}
        if content is not None:
            headers["Content-Type"] = "application/json"
        request = self._client.build_request(method, path, content=content, headers=headers)
        limit = _GET_LIMIT if method == "GET" else BODY_LIMIT
        answer = wire.exchange(self._client, request, within=self._total_timeout, limit=limit)
        metrics.composio_answer(method, answer.info.status, answer.info.slug)
        if self._limiter is not None:
            self._limiter.observe(answer.info)
        return answer
