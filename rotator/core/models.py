"""Frozen value types shared by every layer. No I/O here.

Anything that may hold secret material keeps it out of ``repr``: ``Secret`` prints ``***`` and
the containers mark their data fields ``repr=False``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Literal

from rotator.core.states import ErrorKind, Result

__all__ = [
    "AppliedState",
    "AuthType",
    "Binding",
    "Brief",
    "Decision",
    "FieldMap",
    "LastError",
    "Outcome",
    "Payload",
    "Plan",
    "ResponseInfo",
    "RetryAction",
    "Secret",
    "SecretVersion",
    "Section",
    "StoredState",
]

AuthType = Literal["custom", "default"]
Section = Literal["credentials", "shared_credentials"]


class Secret:
    """A secret string whose repr and str never show the value; ``reveal()`` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


@dataclass(frozen=True)
class FieldMap:
    """One Composio field filled from one Vault key (bindings file: ``field <- key``)."""

    section: Section
    composio_field: str
    vault_key: str


@dataclass(frozen=True)
class Binding:
    """Which Vault secret feeds which auth config, and how.

    ``fields`` empty means the discovery shape: the secret holds ``credentials`` and/or
    ``shared_credentials`` objects (or flat ``credentials.<field>`` keys) and maybe ``type``.
    ``type`` None means: take it from the secret's ``type`` key, else ``custom``.
    """

    auth_config_id: str
    mount: str
    path: str
    type: AuthType | None = None
    fields: tuple[FieldMap, ...] = ()
    source: str = "discovery"
    max_age: float | None = None  # seconds (``0``: off); overrides the secret's and the setting

    @property
    def vault_path(self) -> str:
        return f"{self.mount}/{self.path}"


@dataclass(frozen=True)
class SecretVersion:
    """One version of a KV v2 secret as read from Vault; ``data`` never shows in repr."""

    path: str
    version: int
    data: Mapping[str, object] = field(repr=False)
    created_time: str | None = None


@dataclass(frozen=True)
class Payload:
    """Exactly what one PATCH carries. Values are revealed only when the body is built."""

    type: AuthType
    credentials: Mapping[str, Secret | tuple[str, ...]] | None = field(default=None, repr=False)
    shared_credentials: Mapping[str, Secret | tuple[str, ...]] | None = field(
        default=None, repr=False
    )

    def field_names(self) -> list[str]:
        """``section.field`` names (never values): safe to log."""
        return [
            f"{name}.{field}"
            for name, section in (
                ("credentials", self.credentials),
                ("shared_credentials", self.shared_credentials),
            )
            for field in sorted(section or {})
        ]

    def body(self) -> dict[str, object]:
        """The flat JSON body of ``PATCH /api/v3/auth_configs/{nanoid}``."""
        out: dict[str, object] = {"type": self.type}
        for name, section in (
            ("credentials", self.credentials),
            ("shared_credentials", self.shared_credentials),
        ):
            if section is not None:
                out[name] = {
                    k: (v.reveal() if isinstance(v, Secret) else list(v))
                    for k, v in sorted(section.items())
                }
        return out


@dataclass(frozen=True)
class AppliedState:
    """What rotator last pushed for one auth config (stored in Redis; no secret values)."""

    version: int
    fingerprint: str
    applied_at: float
    request_id: str | None = None
    vault_path: str | None = None
    binding: str | None = None  # ``plan_meta.binding_fingerprint`` of the binding pushed through
    vault_created: str | None = None  # the pushed version's ``created_time`` in Vault


@dataclass(frozen=True)
class VersionMeta:
    """A KV v2 secret's current version, from its metadata (no value)."""

    version: int
    created_time: str | None = None
    max_age: str | None = None  # the secret's ``custom_metadata`` ``rotator.max_age``, as text


@dataclass(frozen=True)
class LastError:
    """The last failed attempt of one auth config, as stored in Redis (no secret values)."""

    kind: ErrorKind
    message: str
    at: float
    status: int | None = None
    slug: str | None = None
    request_id: str | None = None
    attempts: int = 0
    vault_version: int | None = None
    vault_created: str | None = None  # that version's creation time (permanent failures)


@dataclass(frozen=True)
class Brief:
    """The sweep's view of one auth config's state."""

    applied_version: int | None
    applied_at: float | None
    failures: int
    error_version: int | None
    applied_created: str | None = None  # the applied version's creation time in Vault
    error_created: str | None = None  # the failed version's, as the last error recorded it
    unreadable: bool = False  # a record could not be parsed: read as absent, re-pushed


@dataclass(frozen=True)
class StoredState:
    """Everything Redis holds about one auth config, for ``rotator status``."""

    applied: AppliedState | None
    last_error: LastError | None
    failures: int


@dataclass(frozen=True)
class Plan:
    """The pure decision for one auth config: push (which version, why) or skip (why)."""

    action: Literal["push", "skip"]
    reason: str
    version: int


@dataclass(frozen=True)
class ResponseInfo:
    """What the retry policy may look at for one Composio call. No bodies, no secrets.

    ``status`` None means no HTTP answer at all; ``failure`` then says why
    (``timeout``, ``connect``, ``protocol``).
    """

    status: int | None
    slug: str | None = None
    code: int | None = None
    message: str | None = None
    request_id: str | None = None
    suggested_fix: str | None = None
    retry_after: float | None = None
    should_retry: bool | None = None
    rate_limit: int | None = None
    rate_remaining: int | None = None
    rate_window: float | None = None
    failure: str | None = None


class RetryAction(enum.Enum):
    RETRY_NOW = "retry_now"  # sleep ``delay`` in the call, then try again
    RETRY_LATER = "retry_later"  # give up this call; the caller tries again in ``delay`` s
    REAUTH = "reauth"  # read the API key again from Vault, then retry once
    FAIL = "fail"  # permanent: record it and stop


@dataclass(frozen=True)
class Decision:
    """``delay``: RETRY_NOW's sleep in the call; RETRY_LATER's server wait (0: none given)."""

    action: RetryAction
    delay: float
    reason: str


@dataclass(frozen=True)
class Outcome:
    """The result of one ``rotate`` call: one canonical log line and one status row."""

    auth_config_id: str
    result: Result
    reason: str
    vault_path: str | None = None
    vault_version: int | None = None
    attempts: int = 0
    http_status: int | None = None
    error_slug: str | None = None
    request_id: str | None = None
    server_wait: float | None = None  # the server's Retry-After, as the error carried it
    retry_in: float | None = None  # rotator's countdown to the next attempt (retry_later only)
    duration_ms: float = 0.0
    error: str | None = None
    suggested_fix: str | None = None

    @property
    def ok(self) -> bool:
        """Pushed, or nothing to push: see ``Result.ok``."""
        return self.result.ok

    def as_dict(self) -> dict[str, object]:
        """``dataclasses.asdict`` of it (every field is a plain value or an enum, so a shallow
        copy is the same), without its recursive deep copy: a batch returns one per rotation."""
        return {name: getattr(self, name) for name in _OUTCOME_FIELDS}


_OUTCOME_FIELDS = tuple(f.name for f in fields(Outcome))
