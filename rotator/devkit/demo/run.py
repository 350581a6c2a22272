"""``rotator demo``: the whole rotation loop on a local stack, start to finish, on loopback only.

Seeds four auth configs (one of them malformed on purpose), rotates, rotates again (nothing to
do), writes new Vault versions and a fix, rotates again, checks that the emulated Composio holds
exactly Vault's values, prints a status table and stops everything it started.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Mapping

import click

from rotator.console.render import print_outcomes, print_status
from rotator.core.models import Outcome
from rotator.core.states import Result
from rotator.devkit.demo.live import LiveServices, follow_until
from rotator.devkit.sandbox.processes import SandboxError
from rotator.devkit.sandbox.stack import LocalStack
from rotator.observability.logs import configure_logging
from rotator.runtime import Runtime, build_runtime
from rotator.settings.load import load_settings

__all__ = ["rotation_round", "run_demo"]

PREFIX = "composio/auth_configs"


def _v(label: str) -> str:
    return f"{label}-{secrets.token_urlsafe(12)}"


def _seed() -> dict[str, dict[str, object]]:
    """Four auth configs: nested, flat keys, Composio-managed (default), and a broken one."""
    return {
        "ac_demoGithub01": {"credentials": {"client_id": "gh-client", "client_secret": _v("gh")}},
        "ac_demoSlack002": {
            "credentials.client_id": "slack-client",
            "credentials.client_secret": _v("sl"),
        },
        "ac_demoStripe03": {"type": "default", "shared_credentials": {"api_key": _v("sk")}},
        "ac_demoBroken04": {"credentials": "this should have been an object"},
    }


def _expected(data: Mapping[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    creds: dict[str, object] = {}
    shared: dict[str, object] = {}
    for key, value in data.items():
        if key == "credentials" and isinstance(value, dict):
            creds.update(value)
        elif key == "shared_credentials" and isinstance(value, dict):
            shared.update(value)
        elif key.startswith("credentials."):
            creds[key.split(".", 1)[1]] = value
        elif key.startswith("shared_credentials."):
            shared[key.split(".", 1)[1]] = value
    return creds, shared


def rotation_round(rt: Runtime, title: str) -> list[Outcome]:
    """Rotate every auth config once, inline (through the service's pause gate), and show it."""
    click.secho(f"\n== {title}", bold=True)
    ids = list(rt.catalog.view(fresh=True).bindings)
    outcomes = [rt.service.rotate(i) for i in ids]
    print_outcomes(outcomes)
    return outcomes


def _in_step(stack: LocalStack, vault: Mapping[str, Mapping[str, object]]) -> int:
    good = 0
    for nanoid, data in vault.items():
        creds, shared = _expected(data)
        have_c = stack.emulator.credentials(nanoid)
        have_s = stack.emulator.shared_credentials(nanoid)
        good += all(have_c.get(k) == v for k, v in creds.items()) and all(
            have_s.get(k) == v for k, v in shared.items()
        )
    return good


def _seeded(stack: LocalStack, rt: Runtime) -> dict[str, dict[str, object]]:
    """The four demo auth configs, in the emulated Composio and in Vault (the one seeding)."""
    seeded = _seed()
    for nanoid, data in seeded.items():
        kind = "default" if data.get("type") == "default" else "custom"
        stack.emulator.add_auth_config(nanoid, type=kind, toolkit=nanoid[7:-2].lower())
        rt.vault.write_secret("secret", f"{PREFIX}/{nanoid}", data)
    return seeded


def _demo(stack: LocalStack) -> int:
    rt = build_runtime(load_settings(stack.env()))
    try:
        seeded = _seeded(stack, rt)
        first = rotation_round(rt, "round 1: first sync (one secret is malformed on purpose)")
        before = len(stack.emulator.patches())
        rotation_round(rt, "round 2: nothing changed in Vault, so nothing is pushed")
        click.echo(f"PATCHes sent in round 2: {len(stack.emulator.patches()) - before}")
        _rotate_in_vault(rt, seeded)
        third = rotation_round(rt, "round 3: two secrets rotated in Vault, the broken one fixed")
        click.secho("\n== status", bold=True)
        print_status(rt.status_rows())
        good = _in_step(stack, seeded)
        click.echo(
            f"\nComposio holds exactly Vault's values for {good}/{len(seeded)} auth configs."
        )
        expected_first = sum(o.result is Result.FAILED for o in first) == 1
        third_ok = all(o.result is not Result.FAILED for o in third)
        ok = expected_first and third_ok and good == len(seeded)
        return 0 if ok else 1
    finally:
        rt.close()


def _rotate_in_vault(rt: Runtime, seeded: dict[str, dict[str, object]]) -> None:
    """Two secrets get new versions; the broken one is fixed (version 2 everywhere)."""
    seeded["ac_demoGithub01"] = {
        "credentials": {"client_id": "gh-client", "client_secret": _v("gh")}
    }
    seeded["ac_demoStripe03"] = {"type": "default", "shared_credentials": {"api_key": _v("sk")}}
    seeded["ac_demoBroken04"] = {"credentials": {"api_key": _v("fixed")}}
    for nanoid in ("ac_demoGithub01", "ac_demoStripe03", "ac_demoBroken04"):
        rt.vault.write_secret("secret", f"{PREFIX}/{nanoid}", seeded[nanoid])


def _applied(rt: Runtime, nanoid: str) -> int | None:
    applied = rt.state.get_applied(nanoid)
    return applied.version if applied else None


def _live(stack: LocalStack) -> int:
    rt = build_runtime(load_settings(stack.env()))
    services = LiveServices(stack)
    try:
        seeded = _seeded(stack, rt)
        click.secho("\n== starting a worker and a beat (sweep every 2 s)", bold=True)
        services.start()
        click.secho("\n== live: the first sweep finds four new auth configs", bold=True)
        broken = "ac_demoBroken04"
        first_done = lambda: (  # noqa: E731
            all(_applied(rt, i) == 1 for i in seeded if i != broken)
            and rt.state.get_last_error(broken) is not None
        )
        ok1, last = follow_until(rt, services, first_done, timeout=60, last="0")
        click.secho("\n== writing new versions in Vault (and fixing the broken one)", bold=True)
        _rotate_in_vault(rt, seeded)
        expected = {"ac_demoGithub01": 2, "ac_demoSlack002": 1, "ac_demoStripe03": 2, broken: 2}
        second_done = lambda: all(_applied(rt, i) == v for i, v in expected.items())  # noqa: E731
        ok2, _ = follow_until(rt, services, second_done, timeout=60, last=last)
        click.secho("\n== status", bold=True)
        print_status(rt.status_rows())
        good = _in_step(stack, seeded)
        click.echo(
            f"\nComposio holds exactly Vault's values for {good}/{len(seeded)} auth configs."
        )
        return 0 if ok1 and ok2 and good == len(seeded) else 1
    finally:
        services.stop()
        rt.close()


def run_demo(*, inline: bool = False) -> int:
    """Start the local stack, run the demo (live with a worker and beat, or inline), stop all."""
    configure_logging("WARNING", "console" if sys.stderr.isatty() else "json")
    click.secho("Starting OpenBao (dev), Redis and the Composio emulator on loopback...", bold=True)
    try:
        stack = LocalStack().start()
    except SandboxError as exc:
        click.secho(f"rotator demo: {exc}", fg="red", err=True)
        return 1
    try:
        click.echo(f"  vault    {stack.bao.addr}\n  redis    {stack.redis.url}")
        click.echo(f"  composio {stack.emulator.url}")
        code = _demo(stack) if inline else _live(stack)
    finally:
        stack.stop()
    click.echo("Stopped everything the demo started." + ("" if code == 0 else " DEMO FAILED"))
    return code
