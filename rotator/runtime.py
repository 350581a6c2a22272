"""Wiring: build the Vault, Composio, Redis and catalogue objects from settings, once."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rotator.composio.client import ComposioClient
from rotator.core.errors import RotatorError
from rotator.core.models import Binding, Secret, VersionMeta
from rotator.core.retry import RetryBudget
from rotator.observability.logs import SECRETS, scrub
from rotator.ratelimit.limiter import RateLimiter
from rotator.reports.status import StatusRow, status_rows
from rotator.rotation.bindings_file import BindingsFile
from rotator.rotation.breaker import Breaker
from rotator.rotation.catalog import Catalog, CatalogView
from rotator.rotation.service import RotationService
from rotator.rotation.verify import VerifyingComposio
from rotator.settings.load import Settings, load_fingerprint_key
from rotator.state.circuit import CircuitStore
from rotator.state.store import StateStore
from rotator.vault.client import VaultClient

__all__ = ["Runtime", "build_runtime", "queue_ttl"]

API_KEY_FIELD = "api_key"
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
        )

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
    service = RotationService(
        vault=vault,
        composio=VerifyingComposio(composio) if settings.verify else composio,
        state=state,
        catalog=catalog,
        fingerprint_key=load_fingerprint_key(settings),
        lock_ttl=settings.lock_ttl,
        budget=RetryBudget.from_settings(settings),
        max_retries=settings.task_max_retries,
        queue_ttl=queue_ttl(settings),
        breaker=Breaker(
            CircuitStore(state.redis),
            threshold=settings.circuit_threshold,
            probe_interval=settings.circuit_probe_interval,
            hold_max=min(300.0, settings.visibility_timeout / 4),
        ),
    )
    return Runtime(settings, vault, composio, state, catalog, service, limiter)
