"""``rotator check``: one line per check, ok/WARN/FAIL, and the fix on every WARN or FAIL.

Exit 0 when nothing failed (warnings included), 1 when a check failed, 2 on a bad setting.
A new check is one more entry in ``_probes``. Each probe (and the connection before them) has
``PROBE_TIMEOUT`` and the whole checklist ``--timeout`` (``CHECK_TIMEOUT``): a server that does
not answer fails its lines, "did not answer within N s", and the probes that need it are not
run; the rest are checked as usual.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

import click

from rotator.cli.deadline import CHECK_TIMEOUT, PROBE_TIMEOUT, Deadline, NoAnswer, within
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

Probe = tuple[str, str, Callable[[], list["CheckLine"]]]  # name, the server it needs, the probe


def _probes(rt: Runtime) -> list[Probe]:
    from rotator.reports.checklist import (
        CheckLine,
        Level,
        fingerprint_line,
        redis_lines,
        vault_lines,
    )

    s = rt.settings
    return [
        (
            "vault",
            "vault",
            lambda: vault_lines(rt.vault.check(), allow_plaintext=s.allow_plaintext_vault),
        ),
        ("redis", "redis", lambda: redis_lines(rt.state.server_info())),
        ("redis", "redis", lambda: [CheckLine("redis", Level.OK, redis_primary(rt))]),
        (
            "fingerprint",
            "",
            lambda: [
                fingerprint_line(key_in_env=s.fingerprint_key is not None, redis_url=s.redis_url)
            ],
        ),
        ("composio", "composio", lambda: _composio(rt)),
        (
            "bindings",
            "vault",
            lambda: [
                CheckLine("bindings", Level.OK, _count(len(rt.catalog.view(fresh=True).bindings)))
            ],
        ),
        ("breaker", "redis", lambda: [CheckLine("breaker", Level.OK, rt.service.breaker.check())]),
    ]


def _run(probes: list[Probe], deadline: Deadline) -> list[CheckLine]:
    """Every probe's lines, each probe within ``PROBE_TIMEOUT`` and what is left of
    ``deadline``; a probe whose server already did not answer is not run."""
    from rotator.reports.checklist import CheckLine, Level

    lines: list[CheckLine] = []
    silent: set[str] = set()
    for name, server, probe in probes:
        left = min(PROBE_TIMEOUT, deadline.left()) if server else None  # "": no server
        if server in silent:
            fix = _FIXES[server]
            lines.append(CheckLine(name, Level.FAIL, f"not checked: {server} did not answer", fix))
            continue
        if left is not None and left <= 0:
            fix = "run `rotator check` again with a longer --timeout"
            lines.append(CheckLine(name, Level.FAIL, "not checked: out of time", fix))
            continue
        try:
            lines += probe() if left is None else within(left, probe, what=server)
        except Exception as exc:  # every probe reports; none stops the rest
            if isinstance(exc, NoAnswer):
                silent.add(server)
            fix = getattr(exc, "suggested_fix", None) or _FIXES[name]
            lines.append(CheckLine(name, Level.FAIL, f"{type(exc).__name__}: {exc}", fix))
    return lines


@click.command()
@click.option(
    "--timeout",
    type=click.FloatRange(min=1, max=3600),
    default=CHECK_TIMEOUT,
    show_default=True,
    help=f"Overall deadline in seconds (each probe: at most {PROBE_TIMEOUT:g} s).",
)
def check(timeout: float) -> None:
    """Validate the configuration and reach Vault, Redis and Composio: a checklist, one line
    per check (ok, WARN or FAIL) with the fix for each WARN and FAIL, within --timeout."""
    from rotator.reports.checklist import CheckLine, Level, render

    deadline = Deadline(timeout)
    opened = open_runtime()
    try:  # a Sentinel group is asked for its primary here
        rt = within(min(PROBE_TIMEOUT, deadline.left()), opened.__enter__, what="redis")
    except NoAnswer as exc:
        lines = [CheckLine("redis", Level.FAIL, f"{type(exc).__name__}: {exc}", _FIXES["redis"])]
    else:
        lines = _run(_probes(rt), deadline)
        with suppress(NoAnswer):  # closing may revoke a Vault token: within the deadline too
            within(max(deadline.left(), 1.0), lambda: opened.__exit__(None, None, None), what="")
    for line in render(lines):
        click.echo(plain(line))
    sys.exit(EXIT_FAILED if any(ln.level is Level.FAIL for ln in lines) else EXIT_OK)
