"""Status rows for ``rotator status``: pure, from Vault's version and the stored state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from rotator.core.age import credential_age
from rotator.core.models import AppliedState, Binding, LastError, StoredState, VersionMeta
from rotator.core.plan import quarantined
from rotator.core.plan_meta import recreated
from rotator.core.states import ErrorKind, RowState

__all__ = ["StatusRow", "ambiguous_row", "status_row", "status_rows"]


@dataclass(frozen=True)
class StatusRow:
    auth_config_id: str
    vault_path: str
    vault_version: int | None
    applied_version: int | None
    state: RowState
    last_error: str | None
    last_error_status: int | None
    last_error_slug: str | None
    last_error_request_id: str | None
    last_success: str | None
    credential_age_seconds: float | None = None  # since the live version's Vault creation

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


def _state(
    vault_version: int | None,
    applied: AppliedState | None,
    err: LastError | None,
    created: str | None = None,
) -> RowState:
    """``created``: the current version's creation time (a version deleted and written again
    at the same number is pending, not synced)."""
    if vault_version is None:
        return RowState.UNKNOWN
    in_step = (
        applied is not None
        and applied.version == vault_version
        and not recreated(applied.vault_created, created)
    )
    if err is not None and (applied is None or err.at >= applied.applied_at):
        if err.kind is ErrorKind.UNVERIFIED:
            return RowState.UNVERIFIED
        return RowState.FAILED if err.kind.final else RowState.RETRYING
    return RowState.SYNCED if in_step else RowState.PENDING


def status_row(
    *,
    auth_config_id: str,
    vault_path: str,
    vault_version: int | None,
    applied: AppliedState | None,
    last_error: LastError | None,
    vault_problem: str | None = None,
    vault_created: str | None = None,
    paused: bool = False,
    quarantined: bool = False,
) -> StatusRow:
    """One row: ``vault_version`` None means Vault could not tell (``vault_problem`` says why)."""
    err = last_error
    return StatusRow(
        auth_config_id=auth_config_id,
        vault_path=vault_path,
        vault_version=vault_version,
        applied_version=applied.version if applied else None,
        state=RowState.PAUSED
        if paused
        else RowState.QUARANTINED
        if quarantined
        else _state(vault_version, applied, err, vault_created),
        last_error=vault_problem or (err.message if err else None),
        last_error_status=err.status if err else None,
        last_error_slug=err.slug if err else None,
        last_error_request_id=err.request_id if err else None,
        last_success=_iso(applied.applied_at) if applied else None,
    )


def status_rows(
    bindings: Mapping[str, Binding],
    versions: Mapping[str, VersionMeta | str],
    stored: Mapping[str, StoredState],
    *,
    paused: tuple[bool, set[str]],
    quarantine_after: int,
    conflicts: Mapping[str, tuple[str, ...]] | None = None,
    now: float | None = None,
) -> list[StatusRow]:
    """Every auth config's row, sorted by id; ``versions`` holds Vault's version, or why Vault
    could not tell; ``conflicts``: nanoids found at several paths (an ``ambiguous_row`` each);
    ``now``: the clock the live credential's age is measured with (None: no age)."""
    everything_paused, paused_ids = paused
    rows = []
    for nanoid, b in bindings.items():
        found, s = versions[nanoid], stored[nanoid]
        version = found.version if isinstance(found, VersionMeta) else None
        created = found.created_time if isinstance(found, VersionMeta) else None
        err = s.last_error
        live = s.applied.vault_created if s.applied else None
        age = credential_age(live, now=now) if now is not None else None
        row = status_row(
            auth_config_id=nanoid,
            vault_path=b.vault_path,
            vault_version=version,
            applied=s.applied,
            vault_created=created,
            last_error=err,
            vault_problem=found if isinstance(found, str) else None,
            paused=everything_paused or nanoid in paused_ids,
            quarantined=err is not None
            and quarantined(
                failures=s.failures,
                error_version=err.vault_version,
                current_version=version,
                quarantine_after=quarantine_after,
                error_created=err.vault_created,
                current_created=created,
            ),
        )
        rows.append(replace(row, credential_age_seconds=None if age is None else round(age, 1)))
    rows += [ambiguous_row(n, paths) for n, paths in (conflicts or {}).items()]
    return sorted(rows, key=lambda r: r.auth_config_id)


def ambiguous_row(auth_config_id: str, paths: tuple[str, ...]) -> StatusRow:
    """A nanoid found at several Vault paths: pushed from none until a binding pins one."""
    return StatusRow(
        auth_config_id=auth_config_id,
        vault_path=", ".join(paths),
        vault_version=None,
        applied_version=None,
        state=RowState.AMBIGUOUS,
        last_error=f"found at {len(paths)} Vault paths: pin one in the bindings file",
        last_error_status=None,
        last_error_slug=None,
        last_error_request_id=None,
        last_success=None,
    )
