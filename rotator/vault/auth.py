"""Part of the hvac seam (with ``vault`` and ``vault_errors``): the token's life cycle.

``TokenKeeper`` logs in (token, AppRole,
Kubernetes), renews the token when less than a third of its TTL is left, and logs in again
when Vault says the token is no longer good. Log events carry the method and the TTL only.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import hvac
import requests
import structlog
from hvac import exceptions as hvac_exc

from rotator.core.errors import RotatorError, VaultAccessDenied
from rotator.settings.load import Settings
from rotator.vault.errors import DENIED, as_dict, detail, translate
from rotator.vault.wire import DeadlineAdapter, DeadlineSession

# translate is re-exported: tests/integration/test_vault.py imports it from here.
__all__ = ["Lease", "TokenKeeper", "new_hvac_client", "refresh_action", "translate"]

_log = structlog.get_logger("rotator.vault_auth")  # a literal: log names are public


@dataclass(frozen=True)
class Lease:
    """What Vault granted the current token; ``ttl`` 0 means it never expires."""

    ttl: float
    renewable: bool
    obtained: float
    capped: bool = False  # the last renewal got less than before: the max TTL is near


def refresh_action(
    lease: Lease, now: float, *, can_login: bool
) -> Literal["none", "renew", "login"]:
    """Pure: before the next call, keep the token, renew it, or log in afresh."""
    if lease.ttl <= 0 or lease.ttl - (now - lease.obtained) > lease.ttl / 3:
        return "none"
    if lease.renewable and not (lease.capped and can_login):
        return "renew"
    return "login" if can_login else "none"


class TokenKeeper:
    """Owns the hvac client's token. Thread-safe: login and renewal happen under one lock."""

    def __init__(
        self,
        client: Any,
        settings: Settings,
        *,
        on_secret: Callable[[str], None],
        clock: Callable[[], float],
        timeout: float,
    ) -> None:
        self._client = client
        self._s = settings
        self._on_secret = on_secret
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._lease: Lease | None = None
        self.method = settings.vault_auth

    @property
    def can_login(self) -> bool:
        return self.method != "token"

    def _fail(self, exc: Exception, op: str, where: str) -> RotatorError:
        return translate(exc, op=op, where=where, addr=self._s.vault_addr, timeout=self._timeout)

    def ensure_fresh(self) -> None:
        """Log in if nobody has yet; renew or log in again when the TTL runs low."""
        lease = self._lease
        if lease and refresh_action(lease, self._clock(), can_login=self.can_login) == "none":
            return
        with self._lock:
            lease = self._lease
            if lease is None:
                self._login("vault.login")
                return
            action = refresh_action(lease, self._clock(), can_login=self.can_login)
            if action == "renew":
                self._renew(lease)
            elif action == "login":
                self._revoke_quietly()
                self._login("vault.relogin", reason="ttl")

    def relogin(self, stale_token: str) -> bool:
        """After a 403: log in again if the token itself is dead (expired, revoked); say whether
        a retry can help. A live token that lacks a grant is a policy problem: logging in again
        would only mint tokens (one per call) without fixing anything."""
        with self._lock:
            if self._client.token != stale_token:
                return True  # another thread logged in meanwhile
            try:
                self.lookup_self()
            except VaultAccessDenied:
                self._login("vault.relogin", reason="denied")
                return True
            except RotatorError:
                return False
            return False

    def revoke(self) -> None:
        """Revoke a token this process logged in for (best effort), so none is left behind."""
        with self._lock:
            if not self.can_login or not self._client.token:
                return
            self._revoke_quietly()
            self._client.token = ""
            self._lease = None

    def denied(self, op: str, where: str) -> VaultAccessDenied:
        """The error for a 403 that logging in again cannot (token) or did not (others) fix."""
        if self.can_login:
            role = f"the {self.method} role's"
            why, fix = f"{role} policies do not allow it", role
        else:
            try:
                self.lookup_self()
            except VaultAccessDenied:
                return VaultAccessDenied(
                    f"Vault denied {op} on {where}: the token is invalid, expired or revoked",
                    status=403,
                    suggested_fix="set VAULT_TOKEN to a valid token, or use AppRole/Kubernetes",
                )
            except RotatorError:
                pass
            why, fix = "the token's policies do not allow it", "the token"
        return VaultAccessDenied(
            f"Vault denied {op} on {where}: {why}",
            status=403,
            suggested_fix=f"grant {fix} policy read/list on {where}",
        )

    def lookup_self(self) -> dict[str, Any]:
        try:
            body = self._client.auth.token.lookup_self()
        except (hvac_exc.VaultError, requests.RequestException) as exc:
            raise self._fail(exc, "lookup-self", "auth/token/lookup-self") from exc
        return as_dict(as_dict(body, "auth/token/lookup-self").get("data"), "lookup-self data")

    def _revoke_quietly(self) -> None:
        """The token about to be replaced is still valid: revoke it rather than orphan it."""
        with contextlib.suppress(hvac_exc.VaultError, requests.RequestException):
            self._client.auth.token.revoke_self()

    def _login(self, event: str, reason: str | None = None) -> None:
        if self.method == "token":
            self._lease = self._token_lease()
        else:
            auth = self._method_login()
            token = str(auth.get("client_token") or "")
            self._on_secret(token)
            self._client.token = token
            self._lease = Lease(
                float(auth.get("lease_duration") or 0), bool(auth.get("renewable")), self._clock()
            )
        _log.info(event, method=self.method, ttl=self._lease.ttl, reason=reason)

    def _token_lease(self) -> Lease:
        token = self._s.vault_token.reveal() if self._s.vault_token else ""
        self._client.token = token
        try:
            data = self.lookup_self()
        except VaultAccessDenied:
            # An invalid token: the call that follows fails and says so, with its path.
            return Lease(0, False, self._clock())
        # lookup-self gives what is left ("ttl") and what was granted ("creation_ttl").
        left = float(data.get("ttl") or 0)
        granted = max(left, float(data.get("creation_ttl") or 0))
        return Lease(granted, bool(data.get("renewable")), self._clock() - (granted - left))

    def _method_login(self) -> dict[str, Any]:
        s = self._s
        mount = s.vault_approle_mount if self.method == "approle" else s.vault_k8s_mount
        where = f"auth/{mount}/login"
        try:
            if self.method == "approle":
                secret_id = s.vault_secret_id.reveal() if s.vault_secret_id else None
                body = self._client.auth.approle.login(
                    role_id=s.vault_role_id, secret_id=secret_id, use_token=False, mount_point=mount
                )
            else:
                body = self._client.auth.kubernetes.login(
                    role=s.vault_k8s_role, jwt=self._k8s_jwt(), use_token=False, mount_point=mount
                )
        except (hvac_exc.InvalidRequest, *DENIED) as exc:
            raise VaultAccessDenied(
                f"{self.method} login at {where} failed: {detail(exc)}",
                status=403,
                suggested_fix=f"check the {self.method} role and credentials rotator logs in with",
            ) from exc
        except (hvac_exc.VaultError, requests.RequestException) as exc:
            raise self._fail(exc, "login", where) from exc
        return as_dict(as_dict(body, where).get("auth"), f"{where} auth")

    def _k8s_jwt(self) -> str:
        """The service account JWT, read at every login: Kubernetes rotates projected tokens."""
        path = self._s.vault_k8s_token_path
        try:
            jwt = Path(path).read_text().strip()
        except OSError as exc:
            raise VaultAccessDenied(
                f"cannot read the Kubernetes service account token at {path}: {exc.strerror}",
                suggested_fix="mount the service account token or set VAULT_K8S_TOKEN_PATH",
            ) from exc
        self._on_secret(jwt)
        return jwt

    def _renew(self, lease: Lease) -> None:
        try:
            body = self._client.auth.token.renew_self()
        except DENIED:
            if self.can_login:
                self._login("vault.relogin", reason="renewal denied")
            else:  # revoked or expired: the next call reports it; stop trying to renew
                self._lease = replace(lease, ttl=0)
            return
        except (hvac_exc.VaultError, requests.RequestException) as exc:
            raise self._fail(exc, "renew", "auth/token/renew-self") from exc
        auth = as_dict(as_dict(body, "auth/token/renew-self").get("auth"), "renew-self auth")
        ttl = float(auth.get("lease_duration") or 0)
        self._lease = Lease(ttl, bool(auth.get("renewable")), self._clock(), capped=ttl < lease.ttl)
        _log.info("vault.token_renewed", method=self.method, ttl=ttl)


def new_hvac_client(settings: Settings, *, timeout: float, pool_size: int = 32) -> Any:
    """An hvac client for ``settings``; it ignores VAULT_TOKEN and ~/.vault-token on purpose.

    The connection pool is sized for a Celery threads pool sharing one client. The environment
    is read once, here, not on every request: with ``trust_env`` on, requests searches for
    ``~/.netrc`` and looks up the proxy variables per request (13% of ``rotator plan``'s CPU,
    6% of a worker's). The proxy variables (``HTTPS_PROXY``, ``NO_PROXY`` ...) and
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` still apply, as read at start-up; a netrc
    password is never sent to Vault (it answers to its token header only). Every request ends
    within ``timeout``, connect, headers and body together (``rotator.vault.wire``).
    """
    session = DeadlineSession(timeout)
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(settings.vault_addr)
    env_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.verify = settings.vault_cacert or env_bundle or True
    adapter = DeadlineAdapter(pool_connections=1, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return hvac.Client(
        url=settings.vault_addr,
        token="",
        timeout=timeout,
        namespace=settings.vault_namespace,
        session=session,
    )
