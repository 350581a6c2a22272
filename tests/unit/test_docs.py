"""The README stays short and true: its quick start is CI's chain, and the settings it documents
(on the docs' configuration page) are the declared ones."""

from __future__ import annotations

import re
from pathlib import Path

from rotator.settings.spec import SETTINGS, render_table
from tests.paths import ROOT

_NAME = re.compile(r"\b((?:VAULT|ROTATOR|COMPOSIO)_[A-Z0-9_]*[A-Z0-9])\b")


def test_the_configuration_page_is_the_declaration_rendered() -> None:
    """The configuration reference holds ``render_table()`` exactly, so every variable, default
    and range it documents is the one ``load_settings`` applies."""
    page = (ROOT / "docs/reference/configuration.md").read_text()
    table = [line for line in page.splitlines() if line.startswith("|")]
    assert table == render_table().splitlines()
    assert len(table) > 40


def test_the_readme_is_at_most_200_lines_and_keeps_no_diary() -> None:
    """A newcomer reads the README in five minutes: at most 200 lines, and neither it nor the
    docs keep dated re-runs or superseded figures (those live in git history)."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    diary = re.compile(r"re-measured|re-run \d|previous figure|earlier run|the first run of", re.I)
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0)}" for p in pages for m in diary.finditer(p.read_text())
    ]
    assert found == []


def test_every_setting_the_code_names_is_declared() -> None:
    """No module reads or mentions a VAULT_/ROTATOR_/COMPOSIO_ variable that the declaration (and
    so the README) does not have."""
    declared = {spec.env for _, spec in SETTINGS}
    named = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "rotator").rglob("*.py"))
        for name in _NAME.findall(path.read_text())
        if name not in declared
    }
    assert named == set()


def test_the_readme_quick_start_is_the_ci_chain_and_installs_from_the_lock() -> None:
    """The README's two commands are CI's own chain and a demo installed from uv.lock."""
    readme = (ROOT / "README.md").read_text().splitlines()
    assert "bash .ci/run" in readme
    assert "bash scripts/bootstrap demo && .venv/bin/rotator demo" in readme
    ci = (ROOT / ".ci/run").read_text()
    assert "stage install bash scripts/bootstrap" in ci
    bootstrap = (ROOT / "scripts/bootstrap").read_text()
    assert bootstrap.count("uv sync --locked") == 2 and "--require-hashes" in bootstrap


def test_nothing_in_the_repository_reads_a_file_outside_the_checkout() -> None:
    """No code, test or script names the sibling reading folder or climbs above the checkout."""
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
