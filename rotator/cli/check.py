"""``rotator check``: one line per check, ok/WARN/FAIL, and the fix on every WARN or FAIL.

Exit 0 when nothing failed (warnings included), 1 when a check failed, 2 on a bad setting.
A new check is one more entry in ``_probes``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from rotator.cli.service import redis_primary
from rotator.cli.shared import EXIT_FAILED, EXIT_OK, open_runtime
from rotator.console.untrusted import plain
from rotator.core.errors import RotatorError

if TYPE_CHECKING:
    from rotator.reports.checklist import CheckLine
    from rotator.runtime import Runtime

__all__ = ["check"]


def _composio(rt: Runtime) -> list[CheckLine]:
    from rotator.reports.checklist import CheckLine, Level

    info = rt.composio.ping()
    if info.status is None or not 200 <= info.status < 300:
        what = info.failure if info.status is None else f"HTTP {info.status} {info.slug or ''}"
        raise RotatorError(f"{rt.settings.composio_base_url}: {what} {info.message or ''}".strip())
    return [
        CheckLine("composio", Level.OK, f"{rt.settings.composio_base_url} answered {info.status}")
    ]


def _count(n: int) -> str:
    return f"{n} auth config" if n == 1 else f"{n} auth configs"


_FIXES = {  # when a probe itself fails: the settings to look at
    "vault": "check VAULT_ADDR, the Vault auth settings and VAULT_CACERT",
    "redis": "check ROTATOR_REDIS_URL (and that the Redis is up)",
    "fingerprint": "set ROTATOR_FINGERPRINT_KEY",
    "composio": "check COMPOSIO_BASE_URL and COMPOSIO_API_KEY",
    "bindings": "fix the Vault secret or bindings entry named here",
    "breaker": "see `rotator status`: Composio rejects rotator's key or is down; it closes by "
    "itself on the first success",
}


def _probes(rt: Runtime) -> list[tuple[str, Callable[[], list[CheckLine]]]]:
    from rotator.reports.checklist import (
        CheckLine,
        Level,
        fingerprint_line,
        redis_lines,
        vault_lines,
    )

    s = rt.settings
    return [
        ("vault", lambda: vault_lines(rt.vault.check(), allow_plaintext=s.allow_plaintext_vault)),
        ("redis", lambda: redis_lines(rt.state.server_info())),
        ("redis", lambda: [CheckLine("redis", Level.OK, redis_primary(rt))]),
        (
            "fingerprint",
            lambda: [
                fingerprint_line(key_in_env=s.fingerprint_key is not None, redis_url=s.redis_url)
            ],
        ),
        ("composio", lambda: _composio(rt)),
        (
            "bindings",
            lambda: [
                CheckLine("bindings", Level.OK, _count(len(rt.catalog.view(fresh=True).bindings)))
            ],
        ),
        ("breaker", lambda: [CheckLine("breaker", Level.OK, rt.service.breaker.check())]),
    ]


@click.command()
def check() -> None:
    """Validate the configuration and reach Vault, Redis and Composio: a checklist, one line
    per check (ok, WARN or FAIL) with the fix for each WARN and FAIL."""
    from rotator.reports.checklist import CheckLine, Level, render

    lines: list[CheckLine] = []
    with open_runtime() as rt:
        for name, probe in _probes(rt):
            try:
                lines += probe()
            except Exception as exc:  # every probe reports; none stops the rest
                fix = getattr(exc, "suggested_fix", None) or _FIXES[name]
                lines.append(CheckLine(name, Level.FAIL, f"{type(exc).__name__}: {exc}", fix))
    for line in render(lines):
        click.echo(plain(line))
    sys.exit(EXIT_FAILED if any(ln.level is Level.FAIL for ln in lines) else EXIT_OK)
