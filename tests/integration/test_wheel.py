"""The package a user installs: the sdist and wheel that ``python -m build`` makes pass
``twine check --strict``, the wheel carries the emulator, the sandbox, the LICENSE, the SPDX
license and the one version, and no benchmark code; installed (not editable) into a clean venv
whose dependencies come from uv.lock with hashes, it runs ``rotator demo`` from outside the
checkout. That last run is the proof that the emulator and the sandbox ship in the package.

The build copies the working tree's files (tracked, and untracked but not ignored) so that
uncommitted work is what gets built, and uses the lock's setuptools (``--no-isolation``): an
isolated build would fetch an unpinned setuptools from the index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

import pytest

import rotator
from tests.paths import ROOT

pytestmark = pytest.mark.wheel

VENV_BIN = Path(sys.executable).parent  # the checkout's venv: build, twine, uv


def _run(argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run ``argv``; fail with its output (not a traceback) unless it exits 0. Returns stdout."""
    res = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if res.returncode != 0:
        pytest.fail(
            f"{' '.join(argv)} exited {res.returncode} (in {cwd}):\n"
            f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}",
            pytrace=False,
        )
    return res.stdout


def _copy_working_tree(dest: Path) -> None:
    """Copy the files git would see (tracked + untracked-not-ignored) that exist now: the build
    sees uncommitted work but no .venv, egg-info, build/ or caches."""
    listed = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, timeout=30)
    for name in filter(None, listed.split("\0")):
        src = ROOT / name
        if src.is_file():  # a tracked file deleted in the working tree is left out
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """The sdist and wheel, built from a clean copy of the working tree."""
    src = tmp_path_factory.mktemp("src")
    out = tmp_path_factory.mktemp("dist")
    _copy_working_tree(src)
    build = [str(VENV_BIN / "python"), "-m", "build", "--no-isolation", "--outdir", str(out), "."]
    _run(build, cwd=src, timeout=120)
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return Dists(wheel=wheels[0], sdist=sdists[0])


@pytest.fixture(scope="module")
def wheel_names(dists: Dists) -> list[str]:
    with zipfile.ZipFile(dists.wheel) as zf:
        return zf.namelist()


@pytest.fixture(scope="module")
def venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv: the runtime and demo dependencies from uv.lock (hashes required), then the
    wheel alone (``--no-deps``, no index)."""
    root = tmp_path_factory.mktemp("venv")
    requirements = root / "requirements.txt"
    export = [str(VENV_BIN / "uv"), "export", "--frozen", "--no-dev", "--extra", "demo"]
    export += ["--no-emit-project", "--format", "requirements-txt", "--no-header", "--quiet"]
    requirements.write_text(_run(export, cwd=ROOT, timeout=60))
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    _run(
        [*pip, "install", "-q", "--require-hashes", "-r", str(requirements)], cwd=root, timeout=300
    )
    _run([*pip, "install", "-q", "--no-deps", "--no-index", str(dists.wheel)], cwd=root, timeout=60)
    return venv


def _outside_env(venv: Path) -> dict[str, str]:
    """The environment for a run from the venv: its bin/ first on PATH, nothing on PATH from the
    checkout, no PYTHONPATH, no ROTATOR_* setting of the caller's."""
    path = [str(venv / "bin")]
    path += [
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and ROOT not in Path(p).parents
    ]
    env = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("ROTATOR_")
    }
    return {**env, "PATH": os.pathsep.join(path)}


def _package_dirs(names: list[str]) -> set[tuple[str, ...]]:
    """Every package in the wheel, as its path parts (``("rotator", "emulator")``)."""
    return {PurePosixPath(n).parent.parts for n in names if n.endswith("/__init__.py")}


def test_sdist_and_wheel_pass_twine_check_strict(dists: Dists) -> None:
    """Both distributions' metadata render and are complete: ``twine check --strict`` passes."""
    out = _run(
        [str(VENV_BIN / "twine"), "check", "--strict", str(dists.sdist), str(dists.wheel)],
        cwd=dists.wheel.parent,
        timeout=60,
    )
    assert out.count("PASSED") == 2, out


def test_wheel_holds_the_emulator_and_the_sandbox(wheel_names: list[str]) -> None:
    """The dev kit ships: a package named emulator, and one named sandbox or devkit."""
    packages = _package_dirs(wheel_names)
    assert ("rotator",) in packages
    assert any("emulator" in parts for parts in packages), sorted(packages)
    assert any({"sandbox", "devkit"} & set(parts) for parts in packages), sorted(packages)


def test_wheel_holds_no_benchmark_code(wheel_names: list[str]) -> None:
    """The benchmarks live in benchmarks/, outside the package: nothing named bench* ships."""
    bench = [n for n in wheel_names if any(p.startswith("bench") for p in PurePosixPath(n).parts)]
    assert not bench, bench


def test_wheel_metadata_has_the_spdx_license_the_license_file_and_the_one_version(
    dists: Dists, wheel_names: list[str]
) -> None:
    """METADATA says License-Expression: Apache-2.0 and Version: rotator.__version__, and the
    LICENSE file rides in the dist-info; the sdist carries LICENSE too."""
    dist_info = f"rotator-{rotator.__version__}.dist-info"
    assert f"{dist_info}/licenses/LICENSE" in wheel_names, [
        n for n in wheel_names if ".dist-info/" in n
    ]
    with zipfile.ZipFile(dists.wheel) as zf:
        meta = HeaderParser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        license_text = zf.read(f"{dist_info}/licenses/LICENSE").decode()
    assert meta["Name"] == "rotator"
    assert meta["Version"] == rotator.__version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert "Apache License" in license_text and "Version 2.0" in license_text
    assert license_text == (ROOT / "LICENSE").read_text()
    assert dists.sdist.name == f"rotator-{rotator.__version__}.tar.gz"
    with tarfile.open(dists.sdist) as tf:
        sdist_license = tf.extractfile(f"rotator-{rotator.__version__}/LICENSE")
        assert sdist_license is not None and sdist_license.read().decode() == license_text


def test_installed_wheel_is_consistent_and_imported_from_the_venv(
    venv: Path, tmp_path: Path
) -> None:
    """``pip check`` finds nothing broken, and ``import rotator`` outside the checkout loads
    the installed copy, not the checkout."""
    python = str(venv / "bin" / "python")
    env = _outside_env(venv)
    _run([python, "-m", "pip", "check"], cwd=tmp_path, timeout=60, env=env)
    where = _run(
        [python, "-c", "import rotator; print(rotator.__file__)"], cwd=tmp_path, timeout=60, env=env
    )
    assert Path(where.strip()).is_relative_to(venv), where
    assert not Path(where.strip()).is_relative_to(ROOT), where


def test_installed_rotator_shows_the_version(venv: Path, tmp_path: Path) -> None:
    """``rotator --version`` from the wheel prints ``rotator.__version__``."""
    out = _run(
        [str(venv / "bin" / "rotator"), "--version"],
        cwd=tmp_path,
        timeout=60,
        env=_outside_env(venv),
    )
    assert out.strip() == f"rotator, version {rotator.__version__}", out


def test_installed_wheel_runs_the_demo_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    """``rotator demo`` from the wheel's venv, in a folder outside the checkout, brings the four
    demo auth configs in step and stops everything: the emulator and the sandbox are shipped."""
    out = _run(
        [str(venv / "bin" / "rotator"), "demo"], cwd=tmp_path, timeout=180, env=_outside_env(venv)
    )
    assert "Composio holds exactly Vault's values for 4/4 auth configs." in out, out[-3000:]
    assert "credentials must be an object, got str" in out, out[-3000:]  # the broken one, shown
    assert "Stopped everything the demo started." in out, out[-3000:]
