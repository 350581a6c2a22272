"""Wiring: build the Vault, Composio, Redis and catalogue objects from settings, once."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rotator.composio.client import ComposioClient
from rotator.core.errors import ConfigError, RotatorError
from rotator.core.models import Binding, Secret, VersionMeta
from rotator.observability.logs import SECRETS, scrub
from rotator.ratelimit.limiter import RateLimiter
from rotator.reports.age import AgeRow, age_rows
from rotator.reports.status import StatusRow, status_rows
from rotator.rotation.announce import Announcer
from rotator.rotation.bindings_file import BindingsFile
from rotator.rotation.breaker import Breaker
from rotator.rotation.catalog import Catalog, CatalogView
from rotator.rotation.service import RotationService
from rotator.rotation.verify import VerifyingComposio
from rotator.settings.load import Settings, load_fingerprint_key, retry_budget
from rotator.state.circuit import CircuitStore
from rotator.state.keys import Keys  # key names the CLI shows in its hints
from rotator.state.outbox import Outbox
from rotator.state.scripts import STORED_CHUNK  # auth configs per stored-state read
from rotator.state.store import StateStore
from rotator.vault.client import VaultClient
from rotator.webhook.sender import WebhookSender

__all__ = ["READS_IN_FLIGHT", "STORED_CHUNK", "Keys", "Runtime", "build_runtime", "queue_ttl"]

API_KEY_FIELD = "api_key"
WEBHOOK_KEY_FIELD = "secret"
READS_IN_FLIGHT = 16  # Vault reads in flight for the sweep, `status` and `plan`


class VaultKeyProvider:
    """The Composio API key read from Vault, cached; ``refresh=True`` reads it again (after 401)."""

    def __init__(self, vault: VaultClient, mount: str, path: str) -> None:
        self._vault, self._mount, self._path = vault, mount, path
        self._lock = threading.Lock()
        self._key: Secret | None = None

    def __call__(self, refresh: bool) -> Secret:
        with self._lock:
            if refresh or self._key is None:
                self._key = self._vault.read_field(self._mount, self._path, API_KEY_FIELD)
                SECRETS.register(self._key.reveal())
            return self._key


@dataclass
class Runtime:
    settings: Settings
    vault: VaultClient
    composio: ComposioClient
    state: StateStore
    catalog: Catalog
    service: RotationService
    limiter: RateLimiter | None = None
    announcer: Announcer | None = None  # the webhook's outbox side (ops, issue 25)

    def redis_primary(self) -> str:
        """A ping, then where Redis writes go now (``StateUnavailable`` when it does not answer)."""
        return self.state.primary(self.settings)

    def vault_versions(
        self, bindings: Mapping[str, Binding], threads: int = READS_IN_FLIGHT
    ) -> dict[str, VersionMeta | str]:
        """Each auth config's current Vault version and its creation time (KV v2 metadata,
        ``threads`` at a time), or the reason Vault could not tell."""

        def one(item: tuple[str, Binding]) -> tuple[str, VersionMeta | str]:
            nanoid, b = item
            try:
                return nanoid, self.vault.version_meta(b.mount, b.path)
            except RotatorError as exc:
                return nanoid, scrub(str(exc))

        workers = max(1, min(threads, len(bindings) or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(pool.map(one, bindings.items()))

    def status_rows(
        self,
        view: CatalogView | None = None,
        versions: Mapping[str, VersionMeta | str] | None = None,
    ) -> list[StatusRow]:
        """One status row per auth config, sorted: Vault's current version (read now, unless
        ``versions`` are given) against the stored state (Redis read in one pipeline for all
        of them). ``view``: the catalogue to use (else listed now)."""
        view = self.catalog.view(fresh=True) if view is None else view
        return status_rows(
            view.bindings,
            versions if versions is not None else self.vault_versions(view.bindings),
            self.state.stored(list(view.bindings)),
            paused=self.state.paused(),
            quarantine_after=self.settings.quarantine_after,
            conflicts=view.conflicts,
            now=time.time(),
        )

    def age_rows(self, view: CatalogView | None = None) -> list[AgeRow]:
        """The compliance report's rows: Vault metadata (for each secret's own maximum age)
        read now, the stored states in one round trip per chunk."""
        view = self.catalog.view(fresh=True) if view is None else view
        return age_rows(
            view.bindings,
            self.vault_versions(view.bindings),
            self.state.stored(list(view.bindings)),
            max_age=self.settings.max_age,
            now=time.time(),
        )

    def webhook_sender(self) -> WebhookSender | None:
        """The webhook's sender, its key read now (a file, or field ``secret`` of a KV v2
        path); None without ``ROTATOR_WEBHOOK_URL``."""
        s = self.settings
        if not s.webhook_url:
            return None
        if s.webhook_secret_path:
            key = self.vault.read_field(s.vault_mount, s.webhook_secret_path, WEBHOOK_KEY_FIELD)
        else:
            assert s.webhook_secret_file is not None  # guaranteed by load_settings
            key = Secret(read_key_file(s.webhook_secret_file, "ROTATOR_WEBHOOK_SECRET_FILE"))
        SECRETS.register(key.reveal())
        return WebhookSender(s.webhook_url, key)

    def close(self) -> None:
        self.composio.close()
        self.vault.close()
        self.state.close()
        if self.limiter is not None:
            self.limiter.close()


def queue_ttl(settings: Settings) -> float:
    """How long a dedupe key lives past the last renewal by a worker holding the rotation."""
    return settings.queue_ttl


def build_runtime(settings: Settings, *, bindings: BindingsFile | None = None) -> Runtime:
    """Everything the CLI and the worker need, built from validated settings; ``bindings``:
    the bindings file as read at start-up (else read here, ``ConfigError`` if it is bad)."""
    secrets = (settings.vault_token, settings.vault_secret_id, settings.composio_api_key)
    for secret in (*secrets, settings.redis_sentinel_password):
        if secret is not None:
            SECRETS.register(secret.reveal())
    vault = VaultClient(settings, on_secret=SECRETS.register)
    limiter = RateLimiter.from_settings(settings)
    if settings.composio_key_path:
        provider = VaultKeyProvider(vault, settings.vault_mount, settings.composio_key_path)
        composio = ComposioClient.from_settings(settings, key_provider=provider, limiter=limiter)
    else:
        key = settings.composio_api_key
        assert key is not None  # guaranteed by load_settings
        composio = ComposioClient.from_settings(
            settings, key_provider=lambda refresh: key, limiter=limiter
        )
    state = StateStore.from_url(
        settings.redis_url,
        sentinel_master=settings.redis_sentinel_master,
        sentinel_password=settings.redis_sentinel_password,
    )
    catalog = Catalog(settings, vault, bindings=bindings)
    announcer = Announcer(
        Outbox(state.redis) if settings.webhook_url else None,
        state=state,
        quarantine_after=settings.quarantine_after,
    )
    service = RotationService(
        vault=vault,
        composio=VerifyingComposio(composio) if settings.verify else composio,
        state=state,
        catalog=catalog,
        fingerprint_key=load_fingerprint_key(settings),
        lock_ttl=settings.lock_ttl,
        budget=retry_budget(settings),
        max_retries=settings.task_max_retries,
        queue_ttl=queue_ttl(settings),
        breaker=Breaker(
            CircuitStore(state.redis),
            threshold=settings.circuit_threshold,
            probe_interval=settings.circuit_probe_interval,
            hold_max=min(300.0, settings.visibility_timeout / 4),
        ),
        announce=announcer.final,
    )
    return Runtime(settings, vault, composio, state, catalog, service, limiter, announcer)


def read_key_file(path: str, name: str) -> str:
    """A key file's text without the trailing newline; unreadable or blank is a ``ConfigError``."""
    try:
        text = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}={path}: cannot read it ({type(exc).__name__})") from exc
    if not text.strip():
        raise ConfigError(f"{name}={path}: the file is empty")
    return text
