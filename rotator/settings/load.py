"""Settings from the environment (12-factor), validated once; one error lists every problem.

What each variable is, its default and its range are declared once, in ``rotator.settings.spec``
(the README's settings table is rendered from there). Here: reading them, the rules that tie
several together, and the fingerprint key. Secrets among them are held as ``Secret`` and never
printed; a URL is echoed without its userinfo.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rotator.core.errors import ConfigError
from rotator.core.retry import RetryBudget
from rotator.settings.formats import uses_sentinel
from rotator.settings.kinds import Invalid, is_loopback, shown_url
from rotator.settings.spec import SETTINGS, Setting, Settings, VaultAuth

__all__ = [
    "Settings",
    "VaultAuth",
    "load_fingerprint_key",
    "load_settings",
    "longest_rotation",
    "retry_budget",
]

MIN_KEY_BYTES = 32
_PLAIN_HTTP = "plain http:// only to 127.0.0.0/8, ::1 or localhost"


def _read(spec: Setting, raw: str | None) -> tuple[Any, str | None]:
    """One variable's value (its default when unset or empty) and its problem, if any."""
    if raw is None or raw == "":
        return spec.default, (f"{spec.env} is required ({spec.doc})" if spec.required else None)
    try:
        value = spec.kind.parse(raw)
    except Invalid as exc:
        shown = "" if spec.kind.secret else f"={spec.kind.echo(raw)}"
        return spec.default, f"{spec.env}{shown} {exc}"
    if spec.needs_file and isinstance(value, str) and not Path(value).is_file():
        return spec.default, f"{spec.env}={spec.kind.echo(raw)}: no such file"
    return value, None


def _plain_http(name: str, url: str, opt_out: str | None) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "http" or is_loopback(parts.hostname):
        return None
    way_out = f", or set {opt_out}=true on a trusted network" if opt_out else ""
    return (
        f"{name}={shown_url(url)} would send credentials in clear: use https:// "
        f"({_PLAIN_HTTP}{way_out})"
    )


def _when(condition: bool, problem: str) -> str | None:
    return problem if condition else None


Rule = tuple[frozenset[str], Callable[[Settings], "str | None"]]


def _rule(*reads: str) -> Callable[[Callable[[Settings], str | None]], Rule]:
    return lambda check: (frozenset(reads), check)


# Each rule names the variables it reads; it is skipped when one of them is itself invalid, so a
# broken value is reported once, not again through every rule it takes part in.
_RULES: tuple[Rule, ...] = (
    _rule("VAULT_ADDR", "ROTATOR_ALLOW_PLAINTEXT_VAULT")(
        lambda s: (
            None
            if s.allow_plaintext_vault
            else _plain_http("VAULT_ADDR", s.vault_addr, "ROTATOR_ALLOW_PLAINTEXT_VAULT")
        )
    ),
    _rule("COMPOSIO_BASE_URL")(
        lambda s: _plain_http("COMPOSIO_BASE_URL", s.composio_base_url, None)
    ),
    _rule("ROTATOR_WEBHOOK_URL")(
        lambda s: _plain_http("ROTATOR_WEBHOOK_URL", s.webhook_url, None) if s.webhook_url else None
    ),
    _rule("ROTATOR_WEBHOOK_URL", "ROTATOR_WEBHOOK_SECRET_FILE", "ROTATOR_WEBHOOK_SECRET_PATH")(
        lambda s: _when(
            bool(s.webhook_url) != (bool(s.webhook_secret_file) != bool(s.webhook_secret_path)),
            "ROTATOR_WEBHOOK_URL needs exactly one of ROTATOR_WEBHOOK_SECRET_FILE and "
            "ROTATOR_WEBHOOK_SECRET_PATH (and they need the URL)",
        )
    ),
    _rule("ROTATOR_REDIS_URL", "ROTATOR_REDIS_SENTINEL_MASTER")(
        lambda s: _when(
            uses_sentinel(s.redis_url) and not s.redis_sentinel_master,
            "ROTATOR_REDIS_SENTINEL_MASTER is required when ROTATOR_REDIS_URL uses sentinel://",
        )
    ),
    _rule("ROTATOR_REDIS_URL", "ROTATOR_REDIS_SENTINEL_MASTER", "ROTATOR_REDIS_SENTINEL_PASSWORD")(
        lambda s: _when(
            bool(s.redis_sentinel_master or s.redis_sentinel_password)
            and not uses_sentinel(s.redis_url),
            "ROTATOR_REDIS_SENTINEL_MASTER and _PASSWORD apply only to sentinel:// in "
            "ROTATOR_REDIS_URL",
        )
    ),
    _rule("ROTATOR_QUEUE_TTL", "ROTATOR_VISIBILITY_TIMEOUT")(
        lambda s: _when(
            s.queue_ttl < s.visibility_timeout,
            "ROTATOR_QUEUE_TTL must be at least ROTATOR_VISIBILITY_TIMEOUT, or the sweep queues "
            "a second copy of a dead worker's rotation before the broker restores the first",
        )
    ),
    _rule("ROTATOR_RATE_LIMIT", "ROTATOR_RATE_LIMIT_BURST")(
        lambda s: (
            None
            if s.rate_limit is None or s.rate_limit[0] >= s.rate_limit_burst
            else f"ROTATOR_RATE_LIMIT allows {s.rate_limit[0]:g} requests per period, fewer than "
            f"ROTATOR_RATE_LIMIT_BURST={s.rate_limit_burst}: raise the limit or lower the burst"
        )
    ),
    _rule("ROTATOR_VAULT_AUTH", "VAULT_TOKEN")(
        lambda s: _when(
            s.vault_auth == "token" and s.vault_token is None,
            "VAULT_TOKEN is required when ROTATOR_VAULT_AUTH=token",
        )
    ),
    _rule("ROTATOR_VAULT_AUTH", "VAULT_ROLE_ID", "VAULT_SECRET_ID")(
        lambda s: _when(
            s.vault_auth == "approle" and (not s.vault_role_id or s.vault_secret_id is None),
            "VAULT_ROLE_ID and VAULT_SECRET_ID are required when ROTATOR_VAULT_AUTH=approle",
        )
    ),
    _rule("ROTATOR_VAULT_AUTH", "VAULT_K8S_ROLE")(
        lambda s: _when(
            s.vault_auth == "kubernetes" and not s.vault_k8s_role,
            "VAULT_K8S_ROLE is required when ROTATOR_VAULT_AUTH=kubernetes",
        )
    ),
    _rule("COMPOSIO_API_KEY", "ROTATOR_COMPOSIO_KEY_PATH")(
        lambda s: _when(
            (s.composio_api_key is None) == (s.composio_key_path is None),
            "set COMPOSIO_API_KEY or ROTATOR_COMPOSIO_KEY_PATH (a Vault path)"
            if s.composio_api_key is None
            else "set only one of COMPOSIO_API_KEY and ROTATOR_COMPOSIO_KEY_PATH",
        )
    ),
    _rule("ROTATOR_FINGERPRINT_KEY", "ROTATOR_FINGERPRINT_KEY_FILE")(
        lambda s: _when(
            s.fingerprint_key is not None and s.fingerprint_key_file is not None,
            "set only one of ROTATOR_FINGERPRINT_KEY and ROTATOR_FINGERPRINT_KEY_FILE",
        )
    ),
)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise one ``ConfigError`` listing all problems."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}  # each value parsed by its field's kind
    problems: list[str] = []
    invalid: set[str] = set()
    for name, spec in SETTINGS:
        values[name], problem = _read(spec, env.get(spec.env))
        if problem is not None and problem not in problems:
            problems.append(problem)
            invalid.add(spec.env)
    settings = Settings(**values)
    for reads, check in _RULES:
        problem = None if reads & invalid else check(settings)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise ConfigError(problems)
    return settings


def retry_budget(s: Settings) -> RetryBudget:
    """The retry budget the settings declare (the pure core knows no settings)."""
    return RetryBudget(
        in_call_attempts=s.retry_in_call_attempts,
        in_call_max_wait=s.retry_in_call_max_wait,
        base_delay=s.retry_base_delay,
        max_delay=s.retry_max_delay,
    )


def longest_rotation(s: Settings) -> float:
    """The longest one rotation can take with these timeouts: Vault reads, then every attempt's
    rate-limit wait, connect, exchange and backoff. The lock TTL should cover it."""
    per_attempt = s.composio_connect_timeout + s.composio_timeout + 2 * s.retry_in_call_max_wait
    return s.retry_in_call_attempts * per_attempt + 3 * s.vault_timeout


def _key_path(settings: Settings) -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return Path(settings.fingerprint_key_file or state / "rotator" / "fingerprint.key")


def _checked_key(path: Path, key: bytes) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"ROTATOR_FINGERPRINT_KEY_FILE {path}: the key must be at least {MIN_KEY_BYTES} bytes "
            "(not counting surrounding whitespace); write a longer one or delete the file"
        )
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        import structlog  # here, not at the top: the pure core imports this module's types

        structlog.get_logger("rotator.config").warning(
            "config.fingerprint_key_readable",
            path=str(path),
            mode=oct(stat.S_IMODE(mode)),
            hint="chmod 600 the key file: with it, a fingerprint in Redis confirms a guess",
        )
    return key


def load_fingerprint_key(settings: Settings) -> bytes:
    """The local HMAC key for payload fingerprints: env, else a 0600 key file (made if absent).

    Every process that shares a Redis must share this key, or each sees the others' fingerprints
    as changed and re-pushes once (harmless, but wasted): set ``ROTATOR_FINGERPRINT_KEY``. A key
    shorter than 32 bytes is refused: an empty key would let a fingerprint confirm a guess.
    """
    if settings.fingerprint_key is not None:
        return settings.fingerprint_key.reveal().encode()
    path = _key_path(settings)
    try:
        return _checked_key(path, path.read_bytes().strip())
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"ROTATOR_FINGERPRINT_KEY_FILE {path}: cannot read ({exc})") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_hex(MIN_KEY_BYTES).encode())
    except FileExistsError:
        pass  # another process made it first
    except OSError as exc:
        raise ConfigError(
            f"ROTATOR_FINGERPRINT_KEY_FILE {path}: cannot create ({exc}); "
            "set ROTATOR_FINGERPRINT_KEY"
        ) from exc
    return _checked_key(path, path.read_bytes().strip())
