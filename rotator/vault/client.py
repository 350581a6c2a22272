"""The Vault seam: KV v2 reads, listing and writes through one thread-safe client.

Every hvac/requests failure leaves this module as a ``rotator.core.errors`` type (see
``rotator.vault.errors.translate``); messages name the path and the problem, never a value.
Every string value read is handed to ``on_secret`` first, so the log redactor knows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from types import TracebackType
from typing import Any, Self, TypeVar

import requests
from hvac import exceptions as hvac_exc

from rotator.core.age import METADATA_KEY
from rotator.core.errors import SecretFormatError, SecretNotFound, VaultUnavailable
from rotator.core.models import Secret, SecretVersion, VersionMeta
from rotator.settings.load import Settings
from rotator.vault.auth import TokenKeeper, new_hvac_client
from rotator.vault.errors import DENIED, as_dict, translate
from rotator.vault.timestamps import canonical_time

__all__ = ["VaultClient", "string_leaves"]

T = TypeVar("T")
_LIST_WORKERS = 8  # folders listed at once; the session pool holds more connections
_FAILURES = (hvac_exc.VaultError, requests.RequestException)


def string_leaves(value: object) -> Iterator[str]:
    """Every string inside nested dicts and lists (dict keys are names, not values)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _ignore(_value: str) -> None:
    return None


def _data(body: object, where: str) -> dict[str, Any]:
    """The ``data`` object of a Vault answer."""
    return as_dict(as_dict(body, where).get("data"), where)


class VaultClient:
    """KV v2 access with token, AppRole or Kubernetes auth; share one across threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_secret: Callable[[str], None] | None = None,
        adapter_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s = settings
        self._timeout = settings.vault_timeout if adapter_timeout is None else adapter_timeout
        self._on_secret = on_secret or _ignore
        for configured in (settings.vault_token, settings.vault_secret_id):
            if configured is not None:
                self._on_secret(configured.reveal())
        self._client = new_hvac_client(settings, timeout=self._timeout)
        self._auth = TokenKeeper(
            self._client, settings, on_secret=self._on_secret, clock=clock, timeout=self._timeout
        )

    # -- reads ---------------------------------------------------------------------------------
    def read_secret(self, mount: str, path: str, *, version: int | None = None) -> SecretVersion:
        """One KV v2 version (the latest if ``version`` is None); nested values are kept."""
        full = f"{mount}/{path}"
        where = full if version is None else f"{full} (version {version})"
        body = self._call(
            "read",
            where,
            lambda: self._client.secrets.kv.v2.read_secret_version(
                path=path, version=version, mount_point=mount, raise_on_deleted_version=True
            ),
        )
        payload = _data(body, where)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise SecretNotFound(f"{where}: no data (deleted or destroyed)", status=404)
        meta = as_dict(payload.get("metadata"), f"{where} metadata")
        for leaf in string_leaves(data):
            self._on_secret(leaf)
        return SecretVersion(
            path=full,
            version=int(meta.get("version") or 0),
            data=data,
            created_time=canonical_time(meta.get("created_time")),
        )

    def current_version(self, mount: str, path: str) -> int:
        """The current version number, from metadata only (no secret values move)."""
        return self.version_meta(mount, path).version

    def version_meta(self, mount: str, path: str) -> VersionMeta:
        """The current version and its creation time, from metadata only; a deleted or
        destroyed current version is ``SecretNotFound``, as when reading it."""
        where = f"{mount}/{path}"
        body = self._call(
            "read metadata",
            where,
            lambda: self._client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount),
        )
        meta = _data(body, where)
        current = int(meta.get("current_version") or 0)
        entry = (meta.get("versions") or {}).get(str(current))
        if current == 0 or not isinstance(entry, dict):
            raise SecretNotFound(f"no secret at {where}", status=404)
        if entry.get("destroyed") or entry.get("deletion_time"):
            state = "destroyed" if entry.get("destroyed") else "deleted"
            raise SecretNotFound(f"{where}: current version {current} is {state}", status=404)
        custom = meta.get("custom_metadata")
        raw = custom.get(METADATA_KEY) if isinstance(custom, dict) else None
        max_age = raw[:64] if isinstance(raw, str) else None if raw is None else repr(raw)[:64]
        return VersionMeta(current, canonical_time(entry.get("created_time")), max_age)

    def read_field(self, mount: str, path: str, field: str) -> Secret:
        """One non-empty string field of the latest version, e.g. an API key at ``api_key``."""
        secret = self.read_secret(mount, path)
        value = secret.data.get(field)
        if value is None:
            raise SecretFormatError(f"{secret.path}: field {field!r} is missing")
        if not isinstance(value, str) or not value.strip():
            kind = "an empty string" if isinstance(value, str) else type(value).__name__
            raise SecretFormatError(
                f"{secret.path}: field {field!r} must be a non-empty string, found {kind}"
            )
        return Secret(value)

    def list_secrets(self, mount: str, prefix: str) -> list[str]:
        """Every secret under ``prefix``, recursively, as sorted paths relative to the mount.

        Folders are listed concurrently by a small pool, breadth first (no recursion).
        """
        found: list[str] = []
        pool = ThreadPoolExecutor(max_workers=_LIST_WORKERS, thread_name_prefix="vault-list")
        try:
            pending: set[Future[tuple[str, list[str]]]] = {
                pool.submit(self._list_folder, mount, prefix.strip("/"))
            }
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    folder, keys = future.result()
                    for key in keys:
                        full = f"{folder}/{key}" if folder else key
                        if key.endswith("/"):
                            pending.add(pool.submit(self._list_folder, mount, full.rstrip("/")))
                        else:
                            found.append(full)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return sorted(found)

    def _list_folder(self, mount: str, folder: str) -> tuple[str, list[str]]:
        where = f"{mount}/{folder}"
        try:
            body = self._call(
                "list",
                where,
                lambda: self._client.secrets.kv.v2.list_secrets(path=folder, mount_point=mount),
            )
        except SecretNotFound:
            return folder, []
        keys = _data(body, where).get("keys") or []
        return folder, [k for k in keys if isinstance(k, str)]

    # -- writes and health ---------------------------------------------------------------------
    def write_secret(self, mount: str, path: str, data: Mapping[str, object]) -> int:
        """Write a new version; returns its number (used by the demo and the tests)."""
        where = f"{mount}/{path}"
        body = self._call(
            "write",
            where,
            lambda: self._client.secrets.kv.v2.create_or_update_secret(
                path=path, secret=dict(data), mount_point=mount
            ),
        )
        return int(_data(body, where).get("version") or 0)

    def check(self) -> dict[str, object]:
        """Vault is reachable, initialized and unsealed, and the token is good: say how good."""
        health = self._call(
            "health",
            "sys/health",
            lambda: self._client.adapter.get(
                "/v1/sys/health",
                params={"standbyok": "true", "sealedcode": 200, "uninitcode": 200},
            ),
        )
        health = as_dict(health, "sys/health")
        if health.get("sealed") or not health.get("initialized"):
            state = "sealed" if health.get("sealed") else "not initialized"
            raise VaultUnavailable(f"Vault at {self._s.vault_addr} is {state}", status=503)
        where = "auth/token/lookup-self"
        token = _data(self._call("lookup-self", where, self._client.auth.token.lookup_self), where)
        return {
            "addr": self._s.vault_addr,
            "version": health.get("version"),
            "sealed": False,
            "standby": bool(health.get("standby")),
            "auth_method": self._auth.method,
            "token_ttl": token.get("ttl"),
            "token_renewable": bool(token.get("renewable")),
            "token_policies": list(token.get("policies") or []),
        }

    def reachable(self) -> dict[str, object]:
        """Unauthenticated ``sys/health``: up, initialized and unsealed? (No login: health probes
        must not mint a token each time.)"""
        try:
            health = self._client.adapter.get(
                "/v1/sys/health",
                params={"standbyok": "true", "sealedcode": 200, "uninitcode": 200},
            )
        except _FAILURES as exc:
            raise self._fail(exc, "health", "sys/health") from exc
        health = as_dict(health, "sys/health")
        if health.get("sealed") or not health.get("initialized"):
            state = "sealed" if health.get("sealed") else "not initialized"
            raise VaultUnavailable(f"Vault at {self._s.vault_addr} is {state}", status=503)
        return {"addr": self._s.vault_addr, "version": health.get("version")}

    def close(self) -> None:
        """Revoke a token this client logged in for, then close the connections."""
        self._auth.revoke()
        self._client.adapter.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the one place calls go through ---------------------------------------------------------
    def _call(self, op: str, where: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` with a fresh token; on 403 log in again and retry once (if we can)."""
        self._auth.ensure_fresh()
        token = str(self._client.token or "")
        try:
            return fn()
        except DENIED as exc:
            if not self._auth.can_login:
                raise self._auth.denied(op, where) from exc
        except _FAILURES as exc:
            raise self._fail(exc, op, where) from exc
        if not self._auth.relogin(token):
            raise self._auth.denied(op, where)
        try:
            return fn()
        except DENIED as exc:
            raise self._auth.denied(op, where) from exc
        except _FAILURES as exc:
            raise self._fail(exc, op, where) from exc

    def _fail(self, exc: Exception, op: str, where: str) -> Exception:
        return translate(exc, op=op, where=where, addr=self._s.vault_addr, timeout=self._timeout)
