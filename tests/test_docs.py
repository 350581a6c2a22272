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


def test_nothing_in_the_repository_reads_a_file_outside_the_checkout() -> None:
    """No code, test or script names ``../shared`` or climbs above the checkout for data."""
    pattern = re.compile(r"\.\./shared|parents\[[2-9]\]|composio-api\.md|celery-notes\.md")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("rotator", "tests", "benchmarks", "deploy", ".ci")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file()
        and path.suffix in {".py", ".sh", ".md", ".toml", ".yaml", ""}
        and path.name != Path(__file__).name
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
