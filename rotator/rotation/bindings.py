"""Which Vault secret feeds which auth config: discovery by convention plus a TOML file.

Discovery: every KV v2 secret under ``<mount>/<prefix>/`` is one auth config, named by the last
path segment. The bindings file covers everything else::

    [[binding]]
    auth_config = "ac_1a2b3c"          # the Composio nanoid
    path = "teams/payments/stripe"     # KV v2 path, relative to the mount
    mount = "secret"                   # optional, default ROTATOR_VAULT_MOUNT
    max_age = "90d"                    # optional, overrides ROTATOR_MAX_AGE and the secret's
    type = "custom"                    # optional: custom | default
    [binding.credentials]              # Composio field = Vault key
    api_key = "stripe_key"
    [binding.shared_credentials]
    webhook_secret = "whsec"

A file binding wins over a discovered secret with the same nanoid (explicit beats implicit).
Reading the file (and reading it again when it changes) is ``rotation.bindings_file``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from rotator.core.age import parse_duration
from rotator.core.errors import ConfigError
from rotator.core.models import AuthType, Binding, FieldMap, Section

__all__ = [
    "NANOID_RE",
    "discovered",
    "is_nanoid",
    "merge",
    "nanoid_problem",
    "parse_bindings",
    "shown",
]

NANOID_RE = re.compile(r"ac_[A-Za-z0-9_-]{1,64}")  # always with fullmatch: "$" takes a "\n"
NANOID_RULE = "ac_ followed by 1-64 letters, digits, _ or -"
_KNOWN_KEYS = {
    "auth_config",
    "path",
    "mount",
    "type",
    "credentials",
    "shared_credentials",
    "max_age",
}
_SHOWN = 60


def shown(value: object) -> str:
    """``repr(value)``, cut to a few dozen characters: untrusted input is never echoed whole."""
    return _cut(repr(value))


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 1]}…({len(text)} chars)"


def is_nanoid(value: object) -> bool:
    """Whether ``value`` is an auth config nanoid, the whole of it (no trailing newline)."""
    return isinstance(value, str) and NANOID_RE.fullmatch(value) is not None


def nanoid_problem(value: object) -> str | None:
    """None for a nanoid; else why not, naming the (shortened) value with every non-ASCII
    character escaped, so that a look-alike shows what it is (``ac_g\\u043e\\u043ed``)."""
    return None if is_nanoid(value) else f"{_cut(ascii(value))} is not a nanoid ({NANOID_RULE})"


def _location_problems(where: str, path: object, mnt: object) -> list[str]:
    """A path and mount that stay where they say: no ``.``/``..`` segment, nothing empty."""
    out = []
    if not isinstance(path, str) or not path.strip("/"):
        out.append(f"{where}: path is required (the KV v2 path under the mount)")
    if mnt is not None and not (isinstance(mnt, str) and mnt.strip("/")):
        out.append(f"{where}: mount {shown(mnt)} must name a KV v2 mount")
    for key, value in (("path", path), ("mount", mnt)):
        if isinstance(value, str) and any(p in ("..", ".") for p in value.split("/")):
            out.append(f"{where}: {key} {shown(value)} has a '.' or '..' segment")
    return out


def discovered(mount: str, rel_path: str) -> Binding | str:
    """A binding for one secret found under the prefix, or a problem naming the path."""
    nanoid = rel_path.rsplit("/", 1)[-1]
    if not is_nanoid(nanoid):
        where = shown(f"{mount}/{rel_path}")
        return f"{where}: last segment {shown(nanoid)} is not an auth config nanoid ({NANOID_RULE})"
    return Binding(auth_config_id=nanoid, mount=mount, path=rel_path)


def _fields(where: str, section: Section, raw: object, problems: list[str]) -> list[FieldMap]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping) or not raw:
        problems.append(f"{where}: [{section}] must be a non-empty table of field = vault key")
        return []
    out = []
    for field, key in raw.items():
        if not isinstance(key, str) or not key:
            problems.append(f"{where}: {section}.{field} must name a Vault key (a string)")
            continue
        out.append(FieldMap(section=section, composio_field=str(field), vault_key=key))
    return out


def _one(where: str, raw: Mapping[str, object], mount: str, problems: list[str]) -> Binding | None:
    before = len(problems)
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        problems.append(f"{where}: unknown keys {unknown}")
    nanoid, path, mnt = raw.get("auth_config"), raw.get("path"), raw.get("mount")
    if not is_nanoid(nanoid):
        problems.append(f"{where}: auth_config {nanoid_problem(nanoid)}")
    problems += _location_problems(where, path, mnt)
    auth_type = raw.get("type")
    if auth_type not in (None, "custom", "default"):
        problems.append(f"{where}: type {auth_type!r} must be custom or default")
    fields = _fields(where, "credentials", raw.get("credentials"), problems)
    fields += _fields(where, "shared_credentials", raw.get("shared_credentials"), problems)
    if not fields and len(problems) == before:
        problems.append(f"{where}: map at least one field in [credentials] or [shared_credentials]")
    if auth_type == "default" and any(f.section == "credentials" for f in fields):
        problems.append(f"{where}: type default (Composio-managed) cannot carry credentials")
    max_age = _max_age(where, raw.get("max_age"), problems)
    if len(problems) > before:
        return None
    typed: AuthType | None = (
        "default" if auth_type == "default" else ("custom" if auth_type == "custom" else None)
    )
    return Binding(
        auth_config_id=str(nanoid),
        mount=str(mnt or mount).strip("/"),
        path=str(path).strip("/"),
        type=typed,
        fields=tuple(fields),
        source=where,
        max_age=max_age,
    )


def _max_age(where: str, raw: object, problems: list[str]) -> float | None:
    """A binding's ``max_age = "90d"`` (overrides the secret's and ``ROTATOR_MAX_AGE``)."""
    if raw is None:
        return None
    try:
        return parse_duration(raw) if isinstance(raw, str) else parse_duration("?")
    except ValueError as exc:
        problems.append(f"{where}: max_age {shown(raw)} {exc}")
        return None


def parse_bindings(doc: Mapping[str, object], *, name: str, mount: str) -> list[Binding]:
    """Validate a parsed bindings document; raise one ConfigError listing every problem."""
    problems: list[str] = []
    items = doc.get("binding", [])
    if not isinstance(items, list):
        raise ConfigError(f"{name}: 'binding' must be an array of tables ([[binding]])")
    out: list[Binding] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(items, start=1):
        where = f"{name} binding #{i}"
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: must be a table")
            continue
        b = _one(where, raw, mount, problems)
        if b is None:
            continue
        if b.auth_config_id in seen:
            problems.append(
                f"{where}: {b.auth_config_id} is already bound by {seen[b.auth_config_id]}"
            )
            continue
        seen[b.auth_config_id] = where
        out.append(b)
    if problems:
        raise ConfigError(problems)
    return out


def merge(found: Iterable[Binding], explicit: Iterable[Binding]) -> dict[str, Binding]:
    """Discovered bindings, overridden by explicit ones with the same nanoid."""
    out = {b.auth_config_id: b for b in found}
    out.update({b.auth_config_id: b for b in explicit})
    return dict(sorted(out.items()))
