"""Every setting, declared once: variable, type, default, what is allowed, one line of doc.

``Settings`` is the declaration: each field says which environment variable fills it, how its
text is parsed and checked (a ``Kind``), its default and its documentation. ``load_settings``
(``rotator.settings.load``) reads the fields from here, and the README's settings table is
``render_table()`` (a test keeps the two identical). Add a setting here and nowhere else.
"""

# setting() returns a dataclasses.field, as field() itself does:
# ruff: noqa: RUF009

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

from rotator.core.models import RetryAction, Secret
from rotator.settings.formats import RateAuto, RateCap, RedisUrl, SlugOverrides
from rotator.settings.kinds import (
    Choice,
    Duration,
    Flag,
    Kind,
    Number,
    SecretText,
    Text,
    Url,
    Whole,
)

__all__ = ["SETTINGS", "LogFormat", "Setting", "Settings", "VaultAuth", "render_table"]

T = TypeVar("T")
VaultAuth = Literal["token", "approle", "kubernetes"]
LogFormat = Literal["json", "console", "auto"]


@dataclass(frozen=True)
class Setting:
    """One variable: its name, kind, default (``required`` when there is none) and doc."""

    env: str
    kind: Kind[Any]
    default: object
    doc: str
    required: bool = False
    shown: str | None = None  # the default as the README shows it, when not ``kind.show()``
    listed: bool = True  # False: a second field read from a variable listed elsewhere
    needs_file: bool = False  # the path must name an existing file at start-up


@overload
def setting(env: str, kind: Kind[T], default: T, doc: str, **extra: Any) -> T: ...
@overload
def setting(env: str, kind: Kind[T], default: None, doc: str, **extra: Any) -> T | None: ...
def setting(env: str, kind: Kind[Any], default: Any, doc: str, **extra: Any) -> Any:
    """A dataclass field that carries its ``Setting`` (``metadata["setting"]``)."""
    spec = Setting(env, kind, default, doc, **extra)
    meta = {"setting": spec}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata=meta)
    return dataclasses.field(default=default, repr=not kind.secret, metadata=meta)


def required(env: str, kind: Kind[T], doc: str) -> T:
    """A field with no default: ``load_settings`` names it when it is missing."""
    spec = Setting(env, kind, None, doc, required=True)
    field: T = dataclasses.field(metadata={"setting": spec})
    return field


_PATH, _FILE = Text(what="path"), Text(what="path to a file")
_MOUNT = Text(strip="/", what="mount path")
_TIMEOUT = Number(0, 300, above=True, unit=" s")
_K8S_JWT = "/var/run/secrets/kubernetes.io/serviceaccount/token"


# fmt: off
@dataclass(frozen=True)
class Settings:
    """rotator's settings, validated (``settings.load.load_settings``); secrets never in repr."""

    vault_addr: str = required("VAULT_ADDR", Url(), "Vault address, `https://...`")
    vault_auth: VaultAuth = setting(
        "ROTATOR_VAULT_AUTH", Choice[VaultAuth](("token", "approle", "kubernetes")), "token",
        "how rotator logs in to Vault")
    vault_token: Secret | None = setting(
        "VAULT_TOKEN", SecretText(), None, "token, when `ROTATOR_VAULT_AUTH=token`")
    vault_namespace: str | None = setting(
        "VAULT_NAMESPACE", Text(), None, "Vault Enterprise / OpenBao namespace")
    vault_cacert: str | None = setting(
        "VAULT_CACERT", _FILE, None,
        "CA bundle for Vault's TLS certificate (verification is always on)", needs_file=True)
    allow_plaintext_vault: bool = setting(
        "ROTATOR_ALLOW_PLAINTEXT_VAULT", Flag(), False, "allow plain `http://` to a Vault off "
        "loopback: only on a trusted network, the token and every secret travel in clear")
    vault_role_id: str | None = setting("VAULT_ROLE_ID", Text(), None, "AppRole role id")
    vault_secret_id: Secret | None = setting(
        "VAULT_SECRET_ID", SecretText(), None, "AppRole secret id")
    vault_approle_mount: str = setting(
        "VAULT_APPROLE_MOUNT", _MOUNT, "approle", "AppRole auth mount")
    vault_k8s_role: str | None = setting("VAULT_K8S_ROLE", Text(), None, "Kubernetes auth role")
    vault_k8s_token_path: str = setting(
        "VAULT_K8S_TOKEN_PATH", _PATH, _K8S_JWT, "service-account JWT, read at each login")
    vault_k8s_mount: str = setting("VAULT_K8S_MOUNT", _MOUNT, "kubernetes", "Kubernetes auth mount")
    vault_timeout: float = setting(
        "ROTATOR_VAULT_TIMEOUT", _TIMEOUT, 10.0,
        "seconds, every Vault call: connect, headers and body together")
    vault_mount: str = setting("ROTATOR_VAULT_MOUNT", _MOUNT, "secret", "KV v2 mount")
    vault_prefix: str = setting(
        "ROTATOR_VAULT_PREFIX", _MOUNT, "composio/auth_configs", "discovery prefix")
    bindings_file: str | None = setting(
        "ROTATOR_BINDINGS_FILE", _FILE, None, "TOML bindings file", needs_file=True)
    composio_base_url: str = setting(
        "COMPOSIO_BASE_URL", Url(), "https://backend.composio.dev",
        "plain `http://` is refused except on loopback")
    composio_api_key: Secret | None = setting(
        "COMPOSIO_API_KEY", SecretText(), None, "the project API key (sent as `x-api-key`)")
    composio_key_path: str | None = setting(
        "ROTATOR_COMPOSIO_KEY_PATH", _MOUNT, None, "instead of `COMPOSIO_API_KEY`: KV v2 path "
        "(same mount) whose field `api_key` holds the key; after a 401 it is read again and the "
        "call retried once")
    composio_timeout: float = setting(
        "ROTATOR_COMPOSIO_TIMEOUT", _TIMEOUT, 30.0,
        "seconds for each attempt's whole answer: connect, headers and body together")
    composio_connect_timeout: float = setting(
        "ROTATOR_COMPOSIO_CONNECT_TIMEOUT", Number(0, 60, above=True, unit=" s"), 5.0,
        "seconds to connect")
    composio_cacert: str | None = setting(
        "ROTATOR_COMPOSIO_CACERT", _FILE, None, "CA bundle for Composio's TLS certificate",
        needs_file=True)
    verify: bool = setting(
        "ROTATOR_VERIFY", Flag(), False,
        "GET the auth config before and after each PATCH to verify it (3 requests a push)")
    rate_limit: tuple[float, float] | None = setting(
        "ROTATOR_RATE_LIMIT", RateCap(), None, "`auto`: take `ROTATOR_RATE_LIMIT_SHARE` of the "
        "limit Composio announces; `N/min` etc.: also a cap on top; `0`: no limiter (see Rate "
        "limiting)", shown="auto")
    rate_limit_auto: bool = setting("ROTATOR_RATE_LIMIT", RateAuto(), True, "", listed=False)
    rate_limit_share: float = setting(
        "ROTATOR_RATE_LIMIT_SHARE", Number(0, 1, above=True), 0.5, "share of the organisation's "
        "announced limit rotator takes (its agents spend the same budget)")
    rate_limit_burst: int = setting(
        "ROTATOR_RATE_LIMIT_BURST", Whole(1, 10000), 10,
        "requests that may go at once, inside the budget (held to 5% of it)")
    circuit_threshold: int = setting(
        "ROTATOR_CIRCUIT_THRESHOLD", Whole(1, 1000), 5,
        "consecutive outage failures on distinct auth configs that open the fleet breaker")
    circuit_probe_interval: float = setting(
        "ROTATOR_CIRCUIT_PROBE_INTERVAL", Number(5, 300, unit=" s"), 20.0,
        "seconds between half-open probes while the breaker is open")
    redis_url: str = setting(
        "ROTATOR_REDIS_URL", RedisUrl(), "redis://127.0.0.1:6379/0", "broker, result backend, "
        "state store (`rediss://` for TLS, `redis://:password@...` for AUTH)")
    redis_sentinel_master: str | None = setting(
        "ROTATOR_REDIS_SENTINEL_MASTER", Text(), None,
        "Sentinel master name; required with `sentinel://` URLs")
    redis_sentinel_password: Secret | None = setting(
        "ROTATOR_REDIS_SENTINEL_PASSWORD", SecretText(), None,
        "password of the Sentinels themselves (the master's goes in the URL)")
    fingerprint_key: Secret | None = setting(
        "ROTATOR_FINGERPRINT_KEY", SecretText(min_bytes=32), None,
        "HMAC key for payload fingerprints; every process sharing a Redis must share it")
    fingerprint_key_file: str | None = setting(
        "ROTATOR_FINGERPRINT_KEY_FILE", _PATH, None, "used when the key is not in the "
        "environment; created 0600 if absent; a file others may read logs "
        "`config.fingerprint_key_readable`", shown="$XDG_STATE_HOME/rotator/fingerprint.key")
    lock_ttl: float = setting(
        "ROTATOR_LOCK_TTL", Number(0, 86400, above=True, unit=" s"), 30.0, "seconds a "
        "per-auth-config lock outlives its holder: the holding process renews it every "
        "TTL / 3 while it lives, so a SIGKILLed holder's lock is gone within this")
    retry_in_call_attempts: int = setting(
        "ROTATOR_RETRY_IN_CALL_ATTEMPTS", Whole(1, 20), 3, "attempts inside one call, for blips")
    retry_in_call_max_wait: float = setting(
        "ROTATOR_RETRY_IN_CALL_MAX_WAIT", Number(0, 60, unit=" s"), 5.0,
        "longest sleep inside a call; longer waits go back to the queue")
    retry_base_delay: float = setting(
        "ROTATOR_RETRY_BASE_DELAY", Number(0, 60, above=True, unit=" s"), 0.5,
        "backoff base, seconds")
    retry_max_delay: float = setting(
        "ROTATOR_RETRY_MAX_DELAY", Number(0, 86400, above=True, unit=" s"), 300.0,
        "cap on any countdown and on `Retry-After`, seconds")
    slug_overrides: Mapping[str, RetryAction] = setting(
        "ROTATOR_RETRY_SLUG_OVERRIDES", SlugOverrides(), {},
        "retry action per Composio error slug, e.g. `Slug_A=fail,Slug_B=retry_later`")
    task_max_retries: int = setting(
        "ROTATOR_TASK_MAX_RETRIES", Whole(0, 1000), 10, "Celery retries before the dead letter")
    visibility_timeout: float = setting(
        "ROTATOR_VISIBILITY_TIMEOUT", Number(6, 604800, unit=" s"), 30.0, "Redis broker "
        "visibility timeout, a liveness timeout: live workers renew what they hold every "
        "timeout / 6, so a dead worker's messages come back this long after its last renewal")
    queue_ttl: float = setting(
        "ROTATOR_QUEUE_TTL", Number(10, 86400, unit=" s"), 270.0, "seconds the sweep's "
        "dedupe key outlives a worker holding the rotation (renewed while one does): a lost "
        "message is queued again by the first sweep after it; at least the visibility timeout")
    sweep_interval: float = setting(
        "ROTATOR_SWEEP_INTERVAL", Number(1, 86400, unit=" s"), 60.0, "seconds between sweeps")
    resync_interval: float = setting(
        "ROTATOR_RESYNC_INTERVAL", Number(0, 31536000, unit=" s"), 86400.0,
        "seconds between forced re-syncs of every auth config; `0` = off")
    quarantine_after: int = setting(
        "ROTATOR_QUARANTINE_AFTER", Whole(0, 1000), 3,
        "consecutive permanent failures before quarantine; `0` = off")
    worker_concurrency: int = setting(
        "ROTATOR_WORKER_CONCURRENCY", Whole(1, 1024), 16, "worker threads")
    batch_size: int = setting(
        "ROTATOR_BATCH_SIZE", Whole(1, 1000), 25, "most auth configs one queued task carries "
        "for `rotate --all` and the sweep (each still its own rotation; fewer when fewer than "
        "64 x this are queued); `1` = one task per auth config")
    log_format: LogFormat = setting(
        "ROTATOR_LOG_FORMAT", Choice[LogFormat](("json", "console", "auto")), "auto",
        "`auto`: console on a TTY, else JSON")
    log_level: str = setting(
        "ROTATOR_LOG_LEVEL", Choice(("DEBUG", "INFO", "WARNING", "ERROR"), upper=True), "INFO",
        "the lowest level logged")
    # -- metrics (issue 25) --
    metrics_port: int | None = setting(
        "ROTATOR_METRICS_PORT", Whole(1, 65535), None, "`worker` and `beat` serve Prometheus "
        "metrics at `http://ROTATOR_METRICS_HOST:PORT/metrics`; unset = off")
    metrics_host: str = setting(
        "ROTATOR_METRICS_HOST", Text(what="address"), "127.0.0.1", "address the metrics "
        "server binds: `0.0.0.0` in a container that Prometheus scrapes from outside")
    # -- ops: credential age and the signed webhook (issue 25) --
    max_age: float = setting(
        "ROTATOR_MAX_AGE", Duration(), 0.0, "oldest a live credential may be (from its Vault "
        "version's creation time) before it is overdue; a binding's `max_age` or the secret's "
        "`custom_metadata` `rotator.max_age` overrides it; `0` = off")
    webhook_url: str | None = setting(
        "ROTATOR_WEBHOOK_URL", Url(), None, "receives a signed JSON POST per final rotation "
        "outcome and overdue credential; plain `http://` only on loopback")
    webhook_secret_file: str | None = setting(
        "ROTATOR_WEBHOOK_SECRET_FILE", _FILE, None, "file holding the webhook's HMAC-SHA256 "
        "key (`X-Rotator-Signature-256`)", needs_file=True)
    webhook_secret_path: str | None = setting(
        "ROTATOR_WEBHOOK_SECRET_PATH", _MOUNT, None, "instead of the file: KV v2 path (same "
        "mount) whose field `secret` holds the key")
    # -- end ops --
# fmt: on


SETTINGS: tuple[tuple[str, Setting], ...] = tuple(
    (f.name, f.metadata["setting"]) for f in dataclasses.fields(Settings)
)


def _default(spec: Setting) -> str:
    if spec.required:
        return "(required)"
    shown = spec.shown if spec.shown is not None else spec.kind.show(spec.default)
    return f"`{shown}`" if shown else ""


def render_table() -> str:
    """The README's settings table, one row per variable, in declaration order."""
    rows = ["| variable | default | allowed | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{s.env}` | {_default(s)} | {s.kind.allowed()} | {s.doc} |"
        for _, s in SETTINGS
        if s.listed
    ]
    return "\n".join(rows)
