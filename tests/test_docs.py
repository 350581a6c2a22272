"""The README stays true: every setting documented, the CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_the_code_reads_is_in_the_readme() -> None:
    """Each environment variable named in config.py appears in the README's settings table."""
    names = set(
        re.findall(
            r'"((?:VAULT|ROTATOR|COMPOSIO)_[A-Z0-9_]+)"', (ROOT / "rotator/config.py").read_text()
        )
    )
    readme = (ROOT / "README.md").read_text()
    assert len(names) > 25
    missing = sorted(n for n in names if f"`{n}`" not in readme and f"{n}`" not in readme)
    assert missing == []


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """The command after the marker in .ci/run is a line of the README, verbatim."""
    ci = (ROOT / ".ci/run").read_text().splitlines()
    marker = next(i for i, line in enumerate(ci) if "keep identical to README" in line)
    command = ci[marker + 1].strip()
    assert command.startswith(".venv/bin/")
    assert command in (ROOT / "README.md").read_text().splitlines()
