"""The docs site builds with ``mkdocs build --strict`` and renders in a real headless Chromium.

The built site is served on loopback by ``http.server``; Chromium (Debian's ``chromium``
package) loads the home page (which draws a mermaid diagram) and the CLI reference with
``--dump-dom`` and ``--enable-logging=stderr``, which prints every console message (errors,
uncaught exceptions, a script that failed to load) as a ``CONSOLE`` line: there must be none.
No network is used: fonts are off and mermaid is vendored.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import ROOT

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=10000",
    "--dump-dom",
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built with --strict (a broken link or a missing page fails the build)."""
    out = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    res = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site on a free loopback port."""
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _render(url: str, profile: Path) -> tuple[str, list[str]]:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed (apt-get install chromium; .ci/run's apt stage)"
    res = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    console = [line for line in res.stderr.splitlines() if ":CONSOLE" in line]
    return res.stdout, console


@pytest.mark.parametrize(
    ("page", "expected"),
    [("", 'class="mermaid"'), ("reference/cli/", "rotator dlq replay [OPTIONS]")],
    ids=["home", "cli-reference"],
)
def test_the_page_renders_in_chromium_with_no_console_error(
    served: str, tmp_path: Path, page: str, expected: str
) -> None:
    """The page renders (its content is in the DOM) and logs nothing to the console."""
    dom, console = _render(f"{served}/{page}", tmp_path / "profile")
    assert "md-content" in dom and expected in dom
    assert console == []


def test_the_home_page_draws_its_diagram(served: str, tmp_path: Path) -> None:
    """mermaid (vendored, no CDN) turned the flow diagram into an SVG."""
    dom, _ = _render(f"{served}/", tmp_path / "profile")
    assert "<svg" in dom.split('class="mermaid"', 1)[1][:5000]
