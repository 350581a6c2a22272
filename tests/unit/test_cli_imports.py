"""The CLI imports what a command needs when it runs: `rotator --version` and `--help` load no
Celery, hvac, httpx or runtime (operators pay start-up on every command)."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("celery", "kombu", "hvac", "httpx", "rotator.runtime", "rotator.worker.app")


def _imported(*argv: str) -> set[str]:
    code = (
        "import sys\n"
        "from rotator.cli import cli\n"
        "try:\n"
        f"    cli.main({list(argv)!r}, standalone_mode=False)\n"
        "finally:\n"
        "    print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATOR_", "VAULT_"))}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(proc.stderr.split())


def test_version_and_help_import_no_celery_hvac_httpx_or_runtime() -> None:
    """`rotator --version` and `rotator --help` leave every heavy module unimported."""
    for argv in (["--version"], ["--help"]):
        mods = _imported(*argv)
        assert "rotator.cli" in mods
        loaded = sorted(m for m in mods if m.split(".")[0] in HEAVY or m in HEAVY)
        assert loaded == [], f"{argv}: {loaded}"
