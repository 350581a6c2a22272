"""The container image, built from the project's Dockerfile and run (.ci/run's image stage).

The image is built on a stand-in for python:3.11-slim made from Debian's packages (no registry is
reachable here; tests/image_support.py says how), then run as its own uid 10001 with
``buildah run`` against the real Redis, OpenBao and Composio emulator the fixtures start on
loopback: the CLI, ``check``, ``health``, an inline rotation of every auth config, and a worker
from the image taking a queued rotation. Nothing here skips: missing tools fail the test and say
how to install them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import Stack
from tests.image_support import (
    BASE,
    IMAGE,
    Container,
    Timed,
    build_image,
    ca_traces,
    inspect,
    require_tools,
    stand_in_base,
    stop,
)
from tests.procs import assert_clean_output, assert_cli_ok, run_cli, wait_until

# The build (about two minutes cold: debootstrap, then pip from the package index; seconds once
# the stand-in base and the layers are cached) runs in the first test's setup.
pytestmark = [pytest.mark.image, pytest.mark.timeout(900)]

UID = "10001"

# What the image's own Python holds: its venv's distributions, modules and scripts.
PROBE = """
import importlib.metadata as md, importlib.util as iu, json, os, sys
venv = os.path.dirname(os.path.dirname(sys.executable))
print(json.dumps({
    "uid": [os.getuid(), os.getgid()], "venv": venv,
    "dists": sorted(d.metadata["Name"].lower() for d in md.distributions()),
    "modules": [m for m in ("pip", "setuptools", "wheel") if iu.find_spec(m)],
    "scripts": sorted(os.listdir(os.path.join(venv, "bin"))),
}))
"""


@dataclass(frozen=True)
class Built:
    base: Timed
    build: Timed
    size: int


def _report(config: pytest.Config, line: str) -> None:
    """Print past pytest's capture, so the CI log shows it."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:  # -p no:capture
        print(f"[image] {line}", flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n[image] {line}", flush=True)


@pytest.fixture(scope="module")
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The stand-in base (reused while its recipe is unchanged) and the image built on it."""
    require_tools()
    work = tmp_path_factory.mktemp("image")
    base = stand_in_base(work)
    _report(request.config, f"stand-in base {BASE}: {base.seconds:.1f} s ({base.detail})")
    build = build_image(work / "build.log")
    size = int(inspect(IMAGE, "{{.Size}}"))
    _report(request.config, f"podman build {IMAGE}: {build.seconds:.1f} s ({build.detail})")
    _report(request.config, f"image size: {size} bytes ({size / 1e6:.0f} MB)")
    return Built(base, build, size)


@pytest.fixture
def box(built: Built) -> Iterator[Container]:
    """A working container of the image, removed after the test."""
    container = Container(IMAGE, f"rotator-test-{uuid.uuid4().hex[:8]}")
    try:
        yield container
    finally:
        container.remove()


def test_the_image_runs_the_cli_as_uid_10001(box: Container) -> None:
    """``rotator --help`` and ``--version`` answer inside the image, as the image's own user
    (uid and gid 10001), with the version the checkout declares."""
    probe = box.run("python", "-c", PROBE, user=None)  # the image's USER, not an override
    assert_cli_ok(probe)
    assert json.loads(probe.stdout)["uid"] == [int(UID), int(UID)]
    assert inspect(IMAGE, "{{.Config.User}}") == f"{UID}:{UID}"
    helped = box.run("rotator", "--help")
    assert_cli_ok(helped)
    assert "Usage: rotator" in helped.stdout and "worker" in helped.stdout
    version = box.run("rotator", "--version")
    assert_cli_ok(version)
    host = run_cli({}, "--version")
    assert_cli_ok(host)
    assert version.stdout == host.stdout and version.stdout.startswith("rotator, version ")
    entrypoint = json.loads(inspect(IMAGE, "{{json .Config.Entrypoint}}"))
    assert entrypoint == ["rotator"]


def test_the_image_holds_no_pip_or_setuptools(box: Container) -> None:
    """The venv the image runs holds rotator and its dependencies, but no pip, setuptools or
    wheel: not as distributions, not importable, no pip script."""
    res = box.run("python", "-c", PROBE)
    assert_cli_ok(res)
    found = json.loads(res.stdout)
    assert found["venv"] == "/opt/rotator"
    assert {"rotator", "celery", "redis", "hvac", "httpx"} <= set(found["dists"])
    assert not {"pip", "setuptools", "wheel"} & set(found["dists"]), found["dists"]
    assert found["modules"] == []
    assert not [s for s in found["scripts"] if s.startswith(("pip", "easy_install", "wheel"))]


def test_no_layer_holds_the_ca_given_to_pip(
    built: Built, tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    """The package index's CA reached pip as a build secret only: no layer holds a file under
    /run/secrets, a copy of the bundle, or a certificate that only the bundle has."""
    traces, own = ca_traces(tmp_path)
    assert traces == [], "\n".join(traces)
    # 0: this machine adds no CA of its own, so only copies and /run/secrets are looked for.
    _report(pytestconfig, f"no layer holds the CA bundle ({own} certificate(s) only it has)")


def _seed(stack: Stack) -> dict[str, dict[str, str]]:
    """Three auth configs in Vault and Composio: their credentials, by nanoid."""
    values = {
        "ac_img1": {"client_id": "cid-img1", "client_secret": "sec-img1-A1b2"},
        "ac_img2": {"client_secret": "sec-img2-C3d4"},
        "ac_img3": {"api_key": "key-img3-E5f6"},
    }
    for nanoid, credentials in values.items():
        stack.put(nanoid, {"credentials": credentials})
    return values


def test_check_health_and_an_inline_rotation_run_inside_the_image(
    box: Container, stack: Stack
) -> None:
    """Inside the image, against the loopback Redis, OpenBao and emulator: ``check`` and
    ``health`` pass, and ``rotate --all --inline`` leaves Composio holding Vault's values."""
    values = _seed(stack)
    checked = box.run("rotator", "check", env=stack.env)
    assert_cli_ok(checked)
    assert "FAIL" not in checked.stdout
    assert_cli_ok(box.run("rotator", "health", env=stack.env))
    rotated = box.run("rotator", "rotate", "--all", "--inline", "--json", env=stack.env)
    assert_cli_ok(rotated)
    rows = {row["auth_config_id"]: row["result"] for row in json.loads(rotated.stdout)}
    assert rows == dict.fromkeys(values, "succeeded")
    for nanoid, credentials in values.items():
        assert stack.emu.credentials(nanoid) == credentials
        assert len(stack.emu.patches(nanoid)) == 1


def test_a_worker_from_the_image_processes_a_queued_rotation(
    box: Container, stack: Stack, celery_env: dict[str, str], tmp_path: Path
) -> None:
    """A worker started from the image takes a rotation queued with ``rotator rotate ID``
    (also from the image) and pushes Vault's new version; it stops cleanly on SIGTERM."""
    stack.put("ac_img4", {"credentials": {"client_secret": "sec-img4-v1"}})
    stack.write("ac_img4", {"credentials": {"client_secret": "sec-img4-v2"}})
    log = tmp_path / "worker.log"
    worker = box.start("rotator", "worker", "-c", "2", env=celery_env, log=log)
    try:
        queued = box.run("rotator", "rotate", "ac_img4", env=celery_env)
        assert_cli_ok(queued)
        assert "queued ac_img4 task " in queued.stdout
        wait_until(
            "the worker in the image to push ac_img4's version 2",
            lambda: stack.emu.credentials("ac_img4") == {"client_secret": "sec-img4-v2"},
            timeout=60,
        )
    finally:
        code = stop(worker)
    output = log.read_text(errors="replace")
    assert code == 0, f"the worker exited {code}:\n{output[-3000:]}"
    assert_clean_output(output)
    assert '"event": "rotation.succeeded"' in output
    assert [p.status for p in stack.emu.patches("ac_img4")] == [200]
