"""Settings from the environment (12-factor), validated once; one error lists every problem.

Every name here is documented in the README's settings table. Secrets among them (Vault token,
AppRole secret id, Composio key, fingerprint key) are held as ``Secret`` and never printed.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from rotator.errors import ConfigError
from rotator.models import RetryAction, Secret

__all__ = ["Settings", "VaultAuth", "load_fingerprint_key", "load_settings", "longest_rotation"]

VaultAuth = Literal["token", "approle", "kubernetes"]

DEFAULT_COMPOSIO_URL = "https://backend.composio.dev"
DEFAULT_K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105


@dataclass(frozen=True)
class Settings:
    vault_addr: str
    vault_auth: VaultAuth = "token"
    vault_token: Secret | None = field(default=None, repr=False)
    vault_namespace: str | None = None
    vault_cacert: str | None = None
    vault_role_id: str | None = None
    vault_secret_id: Secret | None = field(default=None, repr=False)
    vault_k8s_role: str | None = None
    vault_k8s_token_path: str = DEFAULT_K8S_TOKEN_PATH
    vault_k8s_mount: str = "kubernetes"
    vault_approle_mount: str = "approle"
    vault_timeout: float = 10.0
    vault_mount: str = "secret"
    vault_prefix: str = "composio/auth_configs"
    bindings_file: str | None = None
    composio_base_url: str = DEFAULT_COMPOSIO_URL
    composio_api_key: Secret | None = field(default=None, repr=False)
    composio_key_path: str | None = None
    composio_timeout: float = 30.0
    composio_connect_timeout: float = 5.0
    composio_cacert: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_sentinel_master: str | None = None
    redis_sentinel_password: Secret | None = field(default=None, repr=False)
    fingerprint_key: Secret | None = field(default=None, repr=False)
    fingerprint_key_file: str | None = None
    lock_ttl: float = 300.0
    retry_in_call_attempts: int = 3
    retry_in_call_max_wait: float = 5.0
    retry_base_delay: float = 0.5
    retry_max_delay: float = 300.0
    slug_overrides: Mapping[str, RetryAction] = field(default_factory=dict)
    log_format: Literal["json", "console", "auto"] = "auto"
    log_level: str = "INFO"
    sweep_interval: float = 60.0
    resync_interval: float = 86400.0
    quarantine_after: int = 3
    task_max_retries: int = 10
    visibility_timeout: float = 3600.0
    worker_concurrency: int = 16
    rate_limit: tuple[float, float] | None = (1500.0, 60.0)  # (requests, per seconds); None: off
    rate_limit_burst: int = 10


def _f(env: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not a number")
        return default
    if value < 0:
        problems.append(f"{name}={raw!r} must not be negative")
    return value


def _i(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not a whole number")
        return default


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    raw = env.get(name)
    return Secret(raw) if raw else None


def _overrides(raw: str, problems: list[str]) -> dict[str, RetryAction]:
    """``ROTATOR_RETRY_SLUG_OVERRIDES=Slug_A=fail,Slug_B=retry_later``."""
    out: dict[str, RetryAction] = {}
    valid = {a.value: a for a in RetryAction}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        slug, _, action = item.partition("=")
        if not slug or action not in valid:
            problems.append(
                f"ROTATOR_RETRY_SLUG_OVERRIDES: {item!r} is not SLUG=ACTION with ACTION one of "
                + ", ".join(sorted(valid))
            )
            continue
        out[slug.strip()] = valid[action]
    return out


_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)")
_PERIODS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600.0),
}


def _rate(raw: str | None, problems: list[str]) -> tuple[float, float] | None:
    """``ROTATOR_RATE_LIMIT``: ``1500/min``, ``25/s``, ``20000/10min``; ``0`` or empty: off."""
    if raw is None:
        return (1500.0, 60.0)
    text = raw.strip().lower()
    match = _RATE.fullmatch(text)
    unit = _PERIODS.get(match.group(3)) if match else None
    if text in ("", "0") or (match and float(match.group(1)) == 0):
        return None
    if match is None or unit is None or float(match.group(2) or 1) == 0:
        problems.append(
            f"ROTATOR_RATE_LIMIT={raw!r} is not REQUESTS/PERIOD such as 1500/min, 25/s, 90000/h "
            "or 20000/10min (0 or empty: no limit)"
        )
        return None
    return float(match.group(1)), float(match.group(2) or 1) * unit


def _check_url(name: str, value: str, schemes: tuple[str, ...], problems: list[str]) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        problems.append(f"{name}={value!r} is not a URL ({'/'.join(schemes)}://host[:port])")


def _check_file(name: str, value: str | None, problems: list[str]) -> None:
    if value and not Path(value).is_file():
        problems.append(f"{name}={value!r}: no such file")


def _auth_problems(s: Settings, problems: list[str]) -> None:
    if s.vault_auth == "token" and s.vault_token is None:
        problems.append("VAULT_TOKEN is required when ROTATOR_VAULT_AUTH=token")
    if s.vault_auth == "approle" and (not s.vault_role_id or s.vault_secret_id is None):
        problems.append(
            "VAULT_ROLE_ID and VAULT_SECRET_ID are required when ROTATOR_VAULT_AUTH=approle"
        )
    if s.vault_auth == "kubernetes" and not s.vault_k8s_role:
        problems.append("VAULT_K8S_ROLE is required when ROTATOR_VAULT_AUTH=kubernetes")
    if s.composio_api_key is None and not s.composio_key_path:
        problems.append("set COMPOSIO_API_KEY or ROTATOR_COMPOSIO_KEY_PATH (a Vault path)")
    if s.composio_api_key is not None and s.composio_key_path:
        problems.append("set only one of COMPOSIO_API_KEY and ROTATOR_COMPOSIO_KEY_PATH")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise one ``ConfigError`` listing all problems."""
    env = os.environ if env is None else env
    problems: list[str] = []
    auth = env.get("ROTATOR_VAULT_AUTH", "token") or "token"
    if auth not in ("token", "approle", "kubernetes"):
        problems.append(f"ROTATOR_VAULT_AUTH={auth!r} must be token, approle or kubernetes")
        auth = "token"
    log_format = env.get("ROTATOR_LOG_FORMAT", "auto") or "auto"
    if log_format not in ("json", "console", "auto"):
        problems.append(f"ROTATOR_LOG_FORMAT={log_format!r} must be json, console or auto")
        log_format = "auto"
    vault_addr = env.get("VAULT_ADDR", "")
    if not vault_addr:
        problems.append("VAULT_ADDR is required (e.g. https://vault.example:8200)")
    else:
        _check_url("VAULT_ADDR", vault_addr, ("http", "https"), problems)
    s = Settings(
        vault_addr=vault_addr,
        vault_auth=auth,  # type: ignore[arg-type]
        vault_token=_secret(env, "VAULT_TOKEN"),
        vault_namespace=env.get("VAULT_NAMESPACE") or None,
        vault_cacert=env.get("VAULT_CACERT") or None,
        vault_role_id=env.get("VAULT_ROLE_ID") or None,
        vault_secret_id=_secret(env, "VAULT_SECRET_ID"),
        vault_k8s_role=env.get("VAULT_K8S_ROLE") or None,
        vault_k8s_token_path=env.get("VAULT_K8S_TOKEN_PATH") or DEFAULT_K8S_TOKEN_PATH,
        vault_k8s_mount=env.get("VAULT_K8S_MOUNT") or "kubernetes",
        vault_approle_mount=env.get("VAULT_APPROLE_MOUNT") or "approle",
        vault_timeout=_f(env, "ROTATOR_VAULT_TIMEOUT", 10.0, problems),
        vault_mount=(env.get("ROTATOR_VAULT_MOUNT") or "secret").strip("/"),
        vault_prefix=(env.get("ROTATOR_VAULT_PREFIX") or "composio/auth_configs").strip("/"),
        bindings_file=env.get("ROTATOR_BINDINGS_FILE") or None,
        composio_base_url=(env.get("COMPOSIO_BASE_URL") or DEFAULT_COMPOSIO_URL).rstrip("/"),
        composio_api_key=_secret(env, "COMPOSIO_API_KEY"),
        composio_key_path=(env.get("ROTATOR_COMPOSIO_KEY_PATH") or "").strip("/") or None,
        composio_timeout=_f(env, "ROTATOR_COMPOSIO_TIMEOUT", 30.0, problems),
        composio_connect_timeout=_f(env, "ROTATOR_COMPOSIO_CONNECT_TIMEOUT", 5.0, problems),
        composio_cacert=env.get("ROTATOR_COMPOSIO_CACERT") or None,
        redis_url=env.get("ROTATOR_REDIS_URL") or "redis://127.0.0.1:6379/0",
        redis_sentinel_master=env.get("ROTATOR_REDIS_SENTINEL_MASTER") or None,
        redis_sentinel_password=_secret(env, "ROTATOR_REDIS_SENTINEL_PASSWORD"),
        fingerprint_key=_secret(env, "ROTATOR_FINGERPRINT_KEY"),
        fingerprint_key_file=env.get("ROTATOR_FINGERPRINT_KEY_FILE") or None,
        lock_ttl=_f(env, "ROTATOR_LOCK_TTL", 300.0, problems),
        retry_in_call_attempts=_i(env, "ROTATOR_RETRY_IN_CALL_ATTEMPTS", 3, problems),
        retry_in_call_max_wait=_f(env, "ROTATOR_RETRY_IN_CALL_MAX_WAIT", 5.0, problems),
        retry_base_delay=_f(env, "ROTATOR_RETRY_BASE_DELAY", 0.5, problems),
        retry_max_delay=_f(env, "ROTATOR_RETRY_MAX_DELAY", 300.0, problems),
        slug_overrides=_overrides(env.get("ROTATOR_RETRY_SLUG_OVERRIDES", ""), problems),
        log_format=log_format,  # type: ignore[arg-type]
        log_level=(env.get("ROTATOR_LOG_LEVEL") or "INFO").upper(),
        sweep_interval=_f(env, "ROTATOR_SWEEP_INTERVAL", 60.0, problems),
        resync_interval=_f(env, "ROTATOR_RESYNC_INTERVAL", 86400.0, problems),
        quarantine_after=_i(env, "ROTATOR_QUARANTINE_AFTER", 3, problems),
        task_max_retries=_i(env, "ROTATOR_TASK_MAX_RETRIES", 10, problems),
        visibility_timeout=_f(env, "ROTATOR_VISIBILITY_TIMEOUT", 3600.0, problems),
        worker_concurrency=_i(env, "ROTATOR_WORKER_CONCURRENCY", 16, problems),
        rate_limit=_rate(env.get("ROTATOR_RATE_LIMIT"), problems),
        rate_limit_burst=_i(env, "ROTATOR_RATE_LIMIT_BURST", 10, problems),
    )
    _check_url("COMPOSIO_BASE_URL", s.composio_base_url, ("http", "https"), problems)
    from rotator.redis_conn import url_problems  # imports redis: not for the pure modules

    problems += url_problems(s.redis_url, s.redis_sentinel_master)
    _check_file("VAULT_CACERT", s.vault_cacert, problems)
    _check_file("ROTATOR_COMPOSIO_CACERT", s.composio_cacert, problems)
    _check_file("ROTATOR_BINDINGS_FILE", s.bindings_file, problems)
    if s.sweep_interval < 1:
        problems.append("ROTATOR_SWEEP_INTERVAL must be at least 1 second")
    if s.retry_max_delay * 2 + s.lock_ttl >= s.visibility_timeout:
        problems.append(
            "ROTATOR_VISIBILITY_TIMEOUT must exceed twice ROTATOR_RETRY_MAX_DELAY plus "
            "ROTATOR_LOCK_TTL, or the Redis broker redelivers countdown tasks over and over"
        )
    if s.rate_limit_burst < 1:
        problems.append("ROTATOR_RATE_LIMIT_BURST must be at least 1")
    if s.retry_in_call_attempts < 1:
        problems.append("ROTATOR_RETRY_IN_CALL_ATTEMPTS must be at least 1")
    if s.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"ROTATOR_LOG_LEVEL={s.log_level!r} must be DEBUG, INFO, WARNING or ERROR")
    _auth_problems(s, problems)
    if problems:
        raise ConfigError(problems)
    return s


def longest_rotation(s: Settings) -> float:
    """The longest one rotation can take with these timeouts: Vault reads, then every attempt's
    rate-limit wait, connect, exchange and backoff. The lock TTL should cover it."""
    per_attempt = s.composio_connect_timeout + s.composio_timeout + 2 * s.retry_in_call_max_wait
    return s.retry_in_call_attempts * per_attempt + 3 * s.vault_timeout


def load_fingerprint_key(settings: Settings) -> bytes:
    """The local HMAC key for payload fingerprints: env, else a 0600 key file (made if absent).

    Every process that shares a Redis must share this key, or each sees the others' fingerprints
    as changed and re-pushes once (harmless, but wasted): set ``ROTATOR_FINGERPRINT_KEY``.
    """
    if settings.fingerprint_key is not None:
        return settings.fingerprint_key.reveal().encode()
    default = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = Path(settings.fingerprint_key_file or default / "rotator" / "fingerprint.key")
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"ROTATOR_FINGERPRINT_KEY_FILE {path}: cannot read ({exc})") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_hex(32).encode())
    except FileExistsError:
        pass  # another process made it first
    except OSError as exc:
        raise ConfigError(
            f"ROTATOR_FINGERPRINT_KEY_FILE {path}: cannot create ({exc}); "
            "set ROTATOR_FINGERPRINT_KEY"
        ) from exc
    return path.read_bytes().strip()
