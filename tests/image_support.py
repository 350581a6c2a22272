"""Build the container image and run commands inside it, for tests/test_image.py.

No container registry is reachable from these machines, and ``podman run`` cannot start a
container here (crun cannot set rlimits), so:

- the base is a stand-in for python:3.11-slim made from Debian's own packages (debootstrap
  minbase with python3, python3-venv and python-is-python3, from the mirror apt already uses) and
  imported as a local image. A label holds a hash of its recipe: a later run reuses the image
  while the recipe is unchanged, and builds it again when it changes;
- ``podman build --isolation chroot --network host`` builds the image on it, the base passed as
  the PYTHON_IMAGE build argument and the package index's CA bundle as the ``pipcert`` secret;
- commands run in a ``buildah from`` working container with ``buildah run --isolation chroot``
  on the host's network, so the servers the fixtures start on loopback are reachable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("podman", "buildah", "debootstrap")
SUITE = "bookworm"  # Debian 12: python3 is 3.11.2, below async-timeout's 3.11.3 marker
BASE = f"localhost/rotator-stand-in-base:{SUITE}"
IMAGE = "localhost/rotator:test"
RECIPE_LABEL = "org.rotator.stand-in-recipe"
# Everything that shapes the stand-in base: a change to any of these rebuilds it.
INCLUDE = ("python3", "python3-venv", "python-is-python3")
TRIM = ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/doc/*",
        "usr/share/man/*", "usr/share/info/*")  # fmt: skip
CHANGES = ("ENV LANG=C.UTF-8", 'CMD ["python3"]')
SOURCES = Path("/etc/apt/sources.list.d")


def _fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


def require_tools() -> None:
    """Fail (never skip) unless podman, buildah and debootstrap are installed and we are root."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        _fail(
            f"the image test needs {', '.join(missing)}: on Debian/Ubuntu, as root, "
            f"`apt-get install --no-install-recommends {' '.join(TOOLS)}` (bash .ci/run does)"
        )
    if os.geteuid() != 0:
        _fail("the image test runs as root (debootstrap, podman's chroot isolation)")


def run(cmd: Sequence[str], *, timeout: float, stdin: IO[bytes] | None = None) -> str:
    """Run a tool; its stdout, or fail with the command and the end of its output."""
    proc = subprocess.run(list(cmd), stdin=stdin, capture_output=True, timeout=timeout, check=False)
    out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        _fail(f"`{' '.join(cmd[:3])} ...` exited {proc.returncode}:\n{(out + err)[-3000:]}")
    return out


# -- the stand-in base --------------------------------------------------------------------------


def _source_entries(text: str, *, deb822: bool) -> Iterator[tuple[str, list[str], list[str]]]:
    """(URI, suites, components) of each ``deb`` entry of an apt source file."""
    if not deb822:
        for line in text.splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 4 and words[0] == "deb":
                yield words[1], [words[2]], words[3:]
        return
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith(("#", " ", "\t")):
                fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            for uri in fields.get("uris", "").split():
                yield uri, fields.get("suites", "").split(), fields.get("components", "").split()


def apt_mirror() -> str:
    """The Debian mirror apt uses here for ``bookworm main``: debootstrap fetches from it too."""
    files = sorted(SOURCES.glob("*.sources")) + sorted(SOURCES.glob("*.list"))
    files += [p for p in (SOURCES.parent / "sources.list",) if p.is_file()]
    for path in files:
        for uri, suites, components in _source_entries(
            path.read_text(), deb822=path.suffix == ".sources"
        ):
            if SUITE in suites and "main" in components:
                return uri
    _fail(f"no apt source for Debian {SUITE} main in {SOURCES} or sources.list: debootstrap "
          "fetches the stand-in base from the mirror apt uses")  # fmt: skip


def _label(image: str, label: str) -> str | None:
    proc = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{json .Labels}}", image],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        return None  # no such image
    labels = json.loads(proc.stdout) or {}
    value = labels.get(label)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Timed:
    seconds: float
    detail: str


def stand_in_base(workdir: Path) -> Timed:
    """The stand-in base image: reused when its recipe label matches, else debootstrapped and
    imported (about a minute)."""
    started = time.monotonic()
    mirror = apt_mirror()
    recipe = [SUITE, "minbase", INCLUDE, TRIM, CHANGES, mirror]
    digest = hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:24]
    if _label(BASE, RECIPE_LABEL) == digest:
        return Timed(time.monotonic() - started, "reused: its recipe is unchanged")
    rootfs = workdir / "rootfs"
    run(["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}", SUITE,
         str(rootfs), mirror], timeout=600)  # fmt: skip
    for pattern in TRIM:
        for path in rootfs.glob(pattern):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    changes = [*CHANGES, f"LABEL {RECIPE_LABEL}={digest}"]
    with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
        run(["podman", "import", *(f"--change={c}" for c in changes), "-", BASE],
            stdin=tar.stdout, timeout=300)  # fmt: skip
    assert tar.returncode == 0, f"tar of {rootfs} exited {tar.returncode}"
    shutil.rmtree(rootfs)
    return Timed(time.monotonic() - started, f"built: debootstrap from {mirror}")


# -- the image ----------------------------------------------------------------------------------


def ca_bundle() -> Path:
    """The CA bundle pip trusts on this machine (the package index may sit behind a proxy)."""
    for name in ("PIP_CERT", "SSL_CERT_FILE"):
        if os.environ.get(name):
            return Path(os.environ[name])
    return Path("/etc/ssl/certs/ca-certificates.crt")


def build_image(log: Path) -> Timed:
    """``podman build`` of the project's Dockerfile on the stand-in base (cached layers reused)."""
    bundle = ca_bundle()
    if not bundle.is_file():
        _fail(f"{bundle}: no CA bundle for pip (set PIP_CERT to the package index's CA bundle)")
    started = time.monotonic()
    cmd = ["podman", "build", "--isolation", "chroot", "--network", "host", "--pull=never",
           "--format", "docker", "--build-arg", f"PYTHON_IMAGE={BASE}",
           "--secret", f"id=pipcert,src={bundle}", "--tag", IMAGE, str(ROOT)]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=600, check=False)
    text = log.read_text()
    if proc.returncode != 0:
        _fail(f"podman build exited {proc.returncode}:\n{text[-4000:]}")
    lines = text.splitlines()
    runs = [i for i, line in enumerate(lines) if re.match(r"\[\d+/\d+\] STEP \d+/\d+: RUN ", line)]
    cached = sum(lines[i + 1].startswith("--> Using cache") for i in runs if i + 1 < len(lines))
    return Timed(time.monotonic() - started, f"{cached} of {len(runs)} RUN steps from the cache")


def inspect(image: str, template: str) -> str:
    return run(["podman", "image", "inspect", "--format", template, image], timeout=60).strip()


# -- running commands inside the image -----------------------------------------------------------


class Container:
    """A ``buildah from`` working container of ``image``; commands run in it on the host's network.

    ``user`` is the uid:gid commands run as (None: the image's own USER)."""

    def __init__(self, image: str, name: str) -> None:
        self.name = run(["buildah", "from", "--pull=never", "--name", name, image], timeout=120)
        self.name = self.name.strip()

    def argv(self, args: Sequence[str], env: Mapping[str, str], user: str | None) -> list[str]:
        cmd = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
        cmd += ["--user", user] if user else []
        for key, value in env.items():
            cmd += ["--env", f"{key}={value}"]
        return [*cmd, self.name, "--", *args]

    def run(
        self,
        *args: str,
        env: Mapping[str, str] = {},
        user: str | None = "10001:10001",
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(args, env, user), capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip

    def start(self, *args: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
        """Start a long-running command in the background, its output going to ``log``."""
        with log.open("ab") as out:
            return subprocess.Popen(
                self.argv(args, env, "10001:10001"),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def remove(self) -> None:
        subprocess.run(["buildah", "rm", self.name], capture_output=True, timeout=120, check=False)


def _children(pid: int) -> list[tuple[int, str]]:
    """The processes whose parent is ``pid``: (pid, the name in their argv[0])."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            argv0 = (stat.parent / "cmdline").read_bytes().split(b"\0", 1)[0].decode()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid:
            found.append((int(stat.parent.name), Path(argv0).name))
    return found


def stop(proc: subprocess.Popen[bytes], *, timeout: float = 30) -> int:
    """SIGTERM the command ``buildah run`` started and wait for it: its exit code.

    A signal to ``buildah run`` itself kills the command (SIGKILL), so the signal goes to the
    first process below it that is not one of buildah's helpers (buildah-chroot-runtime,
    buildah-chroot-exec)."""
    pending, target = [proc.pid], None
    while pending and target is None:
        for child, name in _children(pending.pop()):
            if name.startswith("buildah"):
                pending.append(child)
            else:
                target = child
    if target is not None:
        os.kill(target, signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        raise


# -- the image's layers ---------------------------------------------------------------------------

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def certificates(data: bytes) -> set[bytes]:
    """The PEM certificates in ``data``, each as its base64 text without whitespace."""
    return {b"".join(m.group(1).split()) for m in _PEM.finditer(data)}


@dataclass(frozen=True)
class LayerFile:
    built: bool  # in a layer the build added (not one of the base's)
    path: str
    certs: frozenset[bytes]
    copy: bool  # byte for byte the CA bundle given to the build


def _layer_files(archive: Path, base_layers: set[str], bundle: bytes) -> Iterator[LayerFile]:
    """Every file path of every layer in a docker-archive, with the certificates it holds."""
    with tarfile.open(archive) as outer:
        manifest = outer.extractfile("manifest.json")
        assert manifest is not None
        for layer in json.load(manifest)[0]["Layers"]:
            built = f"sha256:{Path(layer).stem}" not in base_layers
            blob = outer.extractfile(layer)
            assert blob is not None, f"{archive}: no {layer}"
            with tarfile.open(fileobj=blob, mode="r|") as tar:
                for member in tar:
                    data = b""
                    if member.isfile() and (fh := tar.extractfile(member)) is not None:
                        data = fh.read()
                    yield LayerFile(
                        built, member.name, frozenset(certificates(data)), data == bundle
                    )


def ca_traces(workdir: Path) -> tuple[list[str], int]:
    """Where the image's layers hold the CA bundle the build was given as the pipcert secret:
    a file under run/secrets/, a byte-for-byte copy, or any certificate that only the bundle has
    (one this machine added, such as a proxy's CA: in neither the host's public CA store nor the
    base's). Also: how many such certificates the bundle has (0 when this machine adds none)."""
    bundle = ca_bundle().read_bytes()
    archive = workdir / "image.tar"
    run(["podman", "image", "save", "--format", "docker-archive", "--output", str(archive), IMAGE],
        timeout=300)  # fmt: skip
    base_layers = set(json.loads(inspect(BASE, "{{json .RootFS.Layers}}")))
    files = [f for f in _layer_files(archive, base_layers, bundle) if f.built or f.certs]
    archive.unlink()
    # The public CAs: the host's own distribution's (Debian's ca-certificates) and the base's.
    known = {c for f in files if not f.built for c in f.certs}
    for crt in Path("/usr/share/ca-certificates").rglob("*.crt"):
        known |= certificates(crt.read_bytes())
    own = certificates(bundle) - known
    secrets = re.compile(r"(^|/)run/secrets/.")
    traces = [f"{f.path}: a file under /run/secrets" for f in files if secrets.search(f.path)]
    traces += [f"{f.path}: a copy of {ca_bundle()}" for f in files if f.built and f.copy]
    traces += [
        f"{f.path}: {len(f.certs & own)} certificate(s) only {ca_bundle()} has"
        for f in files
        if f.built and f.certs & own
    ]
    return traces, len(own)
