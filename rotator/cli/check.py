"""``rotator check``: one line per check, ok/WARN/FAIL, and the fix on every WARN or FAIL.

Exit 0 when nothing failed (warnings included), 1 when a check failed, 2 on a bad setting.
A new check is one more entry in ``_probes``. Each probe (and the connection before them) has
``PROBE_TIMEOUT`` and the whole checklist ``--timeout`` (``CHECK_TIMEOUT``): a server that does
not answer fails its line, "did not answer within N s". A probe that needs a server that failed
or did not answer is not run: its line is ``unknown``, naming that failure; the rest are
checked as usual. Each server has one line when it fails. On a terminal, log lines written
while probing come after the checklist, as notes.
"""

from __future__ import annotations

import io
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

# name, the server it calls ("": none), the servers it needs to be known, the probe
Probe = tuple[str, str, tuple[str, ...], Callable[[], list["CheckLine"]]]
SERVERS = ("vault", "redis", "composio")  # a probe by one of these names is that server's line


def _probes(rt: Runtime) -> list[Probe]:
    from rotator.reports.checklist import (
        CheckLine,
        Level,
        fingerprint_line,
        redis_lines,
        vault_lines,
    )

    s = rt.settings
    fingerprint = fingerprint_line(key_in_env=s.fingerprint_key is not None, redis_url=s.redis_url)
    return [
        (
            "vault",
            "vault",
            (),
            lambda: vault_lines(rt.vault.check(), allow_plaintext=s.allow_plaintext_vault),
        ),
        (
            "redis",
            "redis",
            (),
            lambda: [
                *redis_lines(rt.state.server_info()),
                CheckLine("redis", Level.OK, redis_primary(rt)),
            ],
        ),
        # a local key file is per host: right only when Redis is where this check found it
        ("fingerprint", "", () if s.fingerprint_key else ("redis",), lambda: [fingerprint]),
        ("composio", "composio", (), lambda: _composio(rt)),
        (
            "bindings",
            "vault",
            ("vault",),
            lambda: [
                CheckLine("bindings", Level.OK, _count(len(rt.catalog.view(fresh=True).bindings)))
            ],
        ),
        (
            "breaker",
            "redis",
            ("redis",),
            lambda: [CheckLine("breaker", Level.OK, rt.service.breaker.check())],
        ),
    ]


def _run(probes: list[Probe], deadline: Deadline) -> list[CheckLine]:
    """Every probe's lines, each probe within ``PROBE_TIMEOUT`` and what is left of
    ``deadline``. A probe that needs a server that failed (or did not answer) is not run: it is
    "unknown", naming that failure, never ok."""
    from rotator.reports.checklist import CheckLine, Level

    lines: list[CheckLine] = []
    down: dict[str, str] = {}  # server -> what happened to it
    for name, server, needs, probe in probes:
        left = min(PROBE_TIMEOUT, deadline.left()) if server else None  # "": no server
        failed = [down[n] for n in (*needs, server) if n in down]
        if failed:
            lines.append(CheckLine(name, Level.UNKNOWN, f"not checked: {failed[0]}"))
            continue
        if left is not None and left <= 0:
            fix = "run `rotator check` again with a longer --timeout"
            lines.append(CheckLine(name, Level.FAIL, "not checked: out of time", fix))
            continue
        try:
            lines += probe() if left is None else within(left, probe, what=server)
        except Exception as exc:  # every probe reports; none stops the rest
            if isinstance(exc, NoAnswer):
                down[server] = f"{server} did not answer"
            elif name in SERVERS:
                down[name] = f"{name} failed ({type(exc).__name__})"
            fix = getattr(exc, "suggested_fix", None) or _FIXES[name]
            lines.append(CheckLine(name, Level.FAIL, f"{type(exc).__name__}: {exc}", fix))
    return lines


def _hold_logs(rt: Runtime) -> io.StringIO | None:
    """On a terminal, the log lines the probes write (``ratelimit.unavailable`` ...) are held
    and shown after the checklist as notes, not printed among its lines."""
    if not sys.stderr.isatty():
        return None
    from rotator.observability.logs import configure_logging

    held = io.StringIO()
    configure_logging(rt.settings.log_level, "json", held)
    return held


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
    from rotator.reports.checklist import CheckLine, Level, log_notes, render

    deadline = Deadline(timeout)
    held: io.StringIO | None = None
    opened = open_runtime()
    try:  # a Sentinel group is asked for its primary here
        rt = within(min(PROBE_TIMEOUT, deadline.left()), opened.__enter__, what="redis")
    except NoAnswer as exc:
        lines = [CheckLine("redis", Level.FAIL, f"{type(exc).__name__}: {exc}", _FIXES["redis"])]
    else:
        held = _hold_logs(rt)
        lines = _run(_probes(rt), deadline)
        with suppress(NoAnswer):  # closing may revoke a Vault token: within the deadline too
            within(max(deadline.left(), 1.0), lambda: opened.__exit__(None, None, None), what="")
    for line in render(lines):
        click.echo(plain(line))
    for note in log_notes(held.getvalue().splitlines() if held else []):
        click.echo(plain(note), err=True)
    sys.exit(EXIT_FAILED if any(ln.level is Level.FAIL for ln in lines) else EXIT_OK)
