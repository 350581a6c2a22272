"""The docs' runbook (docs/operations/runbook.md): every ``sh`` block, run word for word, in
order, against real servers and a real worker."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotator.devkit.emulator import Emulator
from rotator.devkit.sandbox import OpenBaoServer
from tests.paths import ROOT
from tests.procs import CELERY_ENV, Procs

RUNBOOK = ROOT / "docs/operations/runbook.md"


def runbook_commands() -> list[str]:
    """The command lines of every ``sh`` block of the runbook page, in page order."""
    blocks = re.findall(r"^```sh\n(.*?)^```", RUNBOOK.read_text(), re.S | re.M)
    assert len(blocks) >= 4, f"{RUNBOOK}: expected its four runnable sh blocks"
    return [
        ln for block in blocks for ln in block.splitlines() if ln.strip() and not ln.startswith("#")
    ]


def _argv(line: str) -> list[str]:
    words = shlex.split(line)
    if words[0] == "vault":
        return [str(Path(sys.executable).parent / "bao"), *words[1:]]
    assert words[0] == "rotator", f"unexpected command in the runbook: {line}"
    return [sys.executable, "-m", "rotator", *words[1:]]


@pytest.fixture
def own_bao() -> Iterator[OpenBaoServer]:
    """A dedicated OpenBao: the runbook uses the default prefix, which other tests share."""
    with OpenBaoServer() as server:
        yield server


def test_every_runbook_command_succeeds(
    stack_env: dict[str, str], emu: Emulator, own_bao: OpenBaoServer, tmp_path: Path
) -> None:
    """Each command exits 0, and at the end Composio holds Vault's current (rolled-back) value."""
    commands = runbook_commands()
    assert len(commands) >= 15
    env = {
        **os.environ,
        **stack_env,
        **CELERY_ENV,
        "VAULT_ADDR": own_bao.addr,
        "VAULT_TOKEN": own_bao.root_token.reveal(),
        "ROTATOR_VAULT_PREFIX": "composio/auth_configs",
        "ROTATOR_SWEEP_INTERVAL": "3600",
    }
    emu.add_auth_config("ac_1a2b3c")
    procs = Procs(env, tmp_path)
    try:
        procs.worker("w1")
        _run_all(commands, env)
    finally:
        procs.stop_all()
    assert emu.credentials("ac_1a2b3c") == {"client_id": "abc", "client_secret": "first-secret"}


def _run_all(commands: list[str], env: dict[str, str]) -> None:
    for line in commands:
        res = subprocess.run(
            _argv(line), env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert res.returncode == 0, f"{line}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
