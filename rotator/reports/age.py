"""The compliance report's rows (``rotator report``): pure, from the bindings, Vault's metadata and
the stored state. One row per auth config: its project, the age of the live credential, the
maximum that applies and where it comes from, the last successful rotation, overdue or not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from rotator.core.age import credential_age, effective_max_age, is_overdue
from rotator.core.models import Binding, StoredState, VersionMeta

__all__ = ["PROJECT", "AgeRow", "age_row", "age_rows", "csv_fields"]

PROJECT = "default"  # one Composio project per rotator deployment, for now


@dataclass(frozen=True)
class AgeRow:
    """``overdue`` None: a maximum applies but the age cannot be told (never pushed, or the
    version's creation time unknown)."""

    auth_config_id: str
    project: str
    vault_path: str
    vault_version: int | None  # the version Composio holds (the last pushed)
    vault_created: str | None
    age_seconds: float | None
    max_age_seconds: float
    max_age_source: str
    last_success: str | None
    overdue: bool | None
    problem: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def csv_fields() -> list[str]:
    return list(AgeRow.__dataclass_fields__)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


def age_row(
    binding: Binding,
    found: VersionMeta | str | None,
    stored: StoredState,
    *,
    max_age: float,
    now: float,
) -> AgeRow:
    """One auth config's row; ``found``: Vault's metadata now, or why it could not be read (the
    secret's own ``rotator.max_age`` is then unknown: the binding's or the setting applies)."""
    applied = stored.applied
    meta = found if isinstance(found, VersionMeta) else None
    policy = effective_max_age(
        setting=max_age, binding=binding.max_age, secret=meta.max_age if meta else None
    )
    created = applied.vault_created if applied else None
    age = credential_age(created, now=now)
    problem = found if isinstance(found, str) else policy.problem
    return AgeRow(
        auth_config_id=binding.auth_config_id,
        project=PROJECT,
        vault_path=binding.vault_path,
        vault_version=applied.version if applied else None,
        vault_created=created,
        age_seconds=round(age, 1) if age is not None else None,
        max_age_seconds=policy.seconds,
        max_age_source=policy.source,
        last_success=_iso(applied.applied_at) if applied else None,
        overdue=is_overdue(age, policy.seconds),
        problem=problem,
    )


def age_rows(
    bindings: Mapping[str, Binding],
    versions: Mapping[str, VersionMeta | str],
    stored: Mapping[str, StoredState],
    *,
    max_age: float,
    now: float,
) -> list[AgeRow]:
    """Every auth config's row, sorted by id."""
    return sorted(
        (
            age_row(b, versions.get(n), stored[n], max_age=max_age, now=now)
            for n, b in bindings.items()
        ),
        key=lambda r: r.auth_config_id,
    )
