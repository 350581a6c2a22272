"""deploy/vault: setup.sh and the rotator policy, against a dedicated OpenBao dev server.

setup.sh runs under ``sh`` (dash on Debian: POSIX only) with ``.venv/bin`` on PATH so that it
finds ``bao``. A token holding only the rotator policy (from an AppRole login, and from a
Kubernetes login against a fake TokenReview API) runs a full rotation and is denied the rest.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rotator.core.errors import VaultAccessDenied
from rotator.devkit.emulator import Emulator
from rotator.devkit.sandbox import OpenBaoServer, SandboxError
from rotator.runtime import build_runtime
from rotator.settings.load import load_settings
from rotator.vault.client import VaultClient
from rotator.worker.sweep import sweep
from tests.helpers import COMPOSIO_KEY
from tests.k8s_support import Review, service_account_jwt, token_review_server
from tests.paths import ROOT

SETUP = ROOT / "deploy/vault/setup.sh"
POLICY = ROOT / "deploy/vault/rotator-policy.hcl"
PREFIX = "composio/auth_configs"
KEY_PATH = "composio/rotator"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# -- a dedicated server and how to talk to it ------------------------------------------------------


@dataclass
class Vault:
    server: OpenBaoServer
    http: httpx.Client

    @property
    def root(self) -> str:
        return self.server.root_token.reveal()

    def call(
        self, method: str, path: str, token: str | None = None, body: object = None
    ) -> httpx.Response:
        """One API call, ``path`` under /v1/, with ``token`` (root when None)."""
        headers = {"X-Vault-Token": token or self.root}
        if method == "PATCH":  # KV v2 takes a patch only as a JSON merge patch
            headers["Content-Type"] = "application/merge-patch+json"
        return self.http.request(
            method,
            f"/v1/{path}",
            headers=headers,
            content=None if body is None else json.dumps(body),
        )

    def ok(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        """A root call that must succeed; its JSON body (empty for 204)."""
        resp = self.call(method, path, body=body)
        assert resp.is_success, f"{method} {path}: {resp.status_code} {resp.text}"
        return dict(resp.json()) if resp.content else {}

    def put(self, path: str, data: dict[str, object], mount: str = "secret") -> None:
        self.ok("POST", f"{mount}/data/{path}", {"data": data})


@pytest.fixture(scope="module")
def vault() -> Iterator[Vault]:
    """An OpenBao of this module's own: setup.sh changes auth methods, other tests use theirs."""
    try:
        server = OpenBaoServer().start()
    except SandboxError as exc:
        pytest.fail(str(exc), pytrace=False)
    http = httpx.Client(base_url=server.addr, timeout=10, trust_env=False)
    try:
        yield Vault(server, http)
    finally:
        http.close()
        server.close()


def run_setup(vault: Vault, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``sh deploy/vault/setup.sh ARGS`` as an operator would: bao on PATH, admin token in env."""
    path = os.environ.get("PATH", "/usr/bin:/bin")
    base = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{path}",
        "HOME": str(vault.server.workdir),
        "VAULT_ADDR": vault.server.addr,
        "VAULT_TOKEN": vault.root,
    }
    return subprocess.run(
        ["sh", str(SETUP), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stdout_vars(out: str) -> dict[str, str]:
    """setup.sh's stdout: KEY=value lines and nothing else."""
    lines = out.splitlines()
    assert all(re.fullmatch(r"[A-Z_]+=\S+", line) for line in lines), out
    return {key: value for key, _, value in (line.partition("=") for line in lines)}


@dataclass
class Setup:
    runs: list[subprocess.CompletedProcess[str]]
    auth_mounts: dict[str, str]  # path -> type, right after the runs
    role_id: str
    secret_id: str


@pytest.fixture(scope="module")
def configured(vault: Vault) -> Setup:
    """setup.sh run twice as is, then once more asking for a secret id."""
    runs = [
        run_setup(vault, ROTATOR_SECRET_ID_TTL="2h"),
        run_setup(vault, ROTATOR_SECRET_ID_TTL="2h"),
        run_setup(vault, "--secret-id", ROTATOR_SECRET_ID_TTL="2h"),
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    mounts = vault.ok("GET", "sys/auth")["data"]
    ids = stdout_vars(runs[2].stdout)
    return Setup(
        runs,
        {k: v["type"] for k, v in mounts.items()},
        ids["VAULT_ROLE_ID"],
        ids["VAULT_SECRET_ID"],
    )


def policies(check: dict[str, object]) -> list[str]:
    """The token policies ``VaultClient.check()`` reports, sorted."""
    found = check["token_policies"]
    assert isinstance(found, list)
    return sorted(str(p) for p in found)


def approle_token(vault: Vault, configured: Setup) -> str:
    body = {"role_id": configured.role_id, "secret_id": configured.secret_id}
    resp = vault.http.post("/v1/auth/approle/login", json=body)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["auth"]["client_token"])


# -- setup.sh --------------------------------------------------------------------------------------


def test_setup_is_idempotent_and_prints_the_role_id_only(vault: Vault, configured: Setup) -> None:
    """Two runs: the same single stdout line, one AppRole mount, the role as documented."""
    first, second, with_secret = configured.runs
    assert first.stdout == second.stdout == f"VAULT_ROLE_ID={configured.role_id}\n"
    assert re.fullmatch(UUID, configured.role_id)
    assert "KUBERNETES_HOST is not set: skipping Kubernetes auth" in first.stderr
    assert "approle auth already enabled at approle/" in second.stderr
    # The secret id: only with --secret-id, only on stdout, only once.
    assert re.fullmatch(UUID, configured.secret_id)
    assert with_secret.stdout.count(configured.secret_id) == 1
    assert all(configured.secret_id not in run.stderr for run in configured.runs)
    assert configured.auth_mounts == {"approle/": "approle", "token/": "token"}
    role = vault.ok("GET", "auth/approle/role/rotator")["data"]
    assert role["token_policies"] == ["rotator"]
    assert (role["token_ttl"], role["token_max_ttl"], role["secret_id_ttl"]) == (3600, 86400, 7200)
    assert role["token_type"] == "service" and role["token_no_default_policy"] is False
    assert role["secret_id_num_uses"] == 0 and role["bind_secret_id"] is True
    policy = vault.ok("GET", "sys/policies/acl/rotator")["data"]["policy"]
    assert policy.strip() == POLICY.read_text().strip()


def test_setup_refuses_bad_input_clearly(vault: Vault) -> None:
    """No admin token, an unknown flag, an auth path taken by another method: exit 1, a reason."""
    no_token = run_setup(vault, VAULT_TOKEN="")
    assert no_token.returncode == 1 and "VAULT_TOKEN is not set" in no_token.stderr
    bad_flag = run_setup(vault, "--secret")
    assert bad_flag.returncode == 1 and "unknown argument: --secret" in bad_flag.stderr
    vault.ok("POST", "sys/auth/taken", {"type": "userpass"})
    clash = run_setup(vault, VAULT_APPROLE_MOUNT="taken")
    assert clash.returncode == 1 and "auth path taken/ holds a userpass method" in clash.stderr
    assert no_token.stdout == bad_flag.stdout == clash.stdout == ""
    usage = run_setup(vault, "--help")
    assert usage.returncode == 0 and "KUBERNETES_HOST" in usage.stderr
    vault.ok("DELETE", "sys/auth/taken")


# -- a token holding only the policy ---------------------------------------------------------------


def test_approle_token_with_only_the_policy_runs_a_full_rotation(
    vault: Vault, configured: Setup, emu: Emulator, redis_url: str, log_stream: io.StringIO
) -> None:
    """Discovery (sub-folders too), reads, metadata, the API key from Vault: all allowed."""
    vault.put(f"{PREFIX}/ac_dep1", {"credentials.client_secret": "dep-sec-1"})
    vault.put(f"{PREFIX}/team-a/ac_dep2", {"shared_credentials": {"api_key": "dep-sec-2"}})
    vault.put(KEY_PATH, {"api_key": COMPOSIO_KEY})
    for nanoid in ("ac_dep1", "ac_dep2"):
        emu.add_auth_config(nanoid)
    env = {
        "VAULT_ADDR": vault.server.addr,
        "ROTATOR_VAULT_AUTH": "approle",
        "VAULT_ROLE_ID": configured.role_id,
        "VAULT_SECRET_ID": configured.secret_id,
        "ROTATOR_COMPOSIO_KEY_PATH": KEY_PATH,  # no COMPOSIO_API_KEY: the key comes from Vault
        "COMPOSIO_BASE_URL": emu.url,
        "ROTATOR_REDIS_URL": redis_url,
        "ROTATOR_FINGERPRINT_KEY": secrets.token_hex(16),
        "ROTATOR_VAULT_TIMEOUT": "5",
    }
    rt = build_runtime(load_settings(env))
    try:
        check = rt.vault.check()
        assert check["auth_method"] == "approle"
        assert policies(check) == ["default", "rotator"]
        queued: list[str] = []
        summary = sweep(rt, lambda nanoid, force: queued.append(nanoid), queue_ttl=60)
        assert sorted(queued) == ["ac_dep1", "ac_dep2"] and summary.errors == 0
        for nanoid in queued:
            rt.state.release_queue(nanoid)
            out = rt.service.rotate(nanoid)
            assert (out.result, out.vault_version, out.http_status) == ("succeeded", 1, 200)
        assert emu.credentials("ac_dep1") == {"client_secret": "dep-sec-1"}
        assert emu.shared_credentials("ac_dep2") == {"api_key": "dep-sec-2"}
        assert {(r.auth_config_id, r.state, r.vault_version) for r in rt.status_rows()} == {
            ("ac_dep1", "synced", 1),
            ("ac_dep2", "synced", 1),
        }
        vault.put(f"{PREFIX}/ac_dep1", {"credentials.client_secret": "dep-sec-1b"})
        queued.clear()
        sweep(rt, lambda nanoid, force: queued.append(nanoid), queue_ttl=60)
        assert queued == ["ac_dep1"]
        assert rt.service.rotate("ac_dep1").vault_version == 2
        rollback = rt.service.rotate("ac_dep1", version=1)  # an older version: data/ read too
        assert rollback.result == "succeeded" and emu.credentials("ac_dep1") == {
            "client_secret": "dep-sec-1"
        }
        with pytest.raises(VaultAccessDenied, match="approle role's policies do not allow it"):
            rt.vault.write_secret("secret", f"{PREFIX}/ac_dep1", {"credentials.x": "y"})
    finally:
        rt.close()
    events = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert any(e["event"] == "vault.login" and e["method"] == "approle" for e in events)


def test_the_policy_allows_nothing_else(vault: Vault, configured: Setup) -> None:
    """Outside the prefix, writes and deletes inside it, other mounts, sys/: all 403."""
    vault.put(f"{PREFIX}/ac_deny", {"credentials.client_secret": "deny-sec"})
    vault.put("composio/other", {"x": "other-sec"})
    vault.put("composio/auth_configs_shadow/ac_x", {"credentials.x": "shadow-sec"})
    vault.ok("POST", "sys/mounts/kv-other", {"type": "kv", "options": {"version": "2"}})
    vault.put(f"{PREFIX}/ac_deny", {"credentials.x": "elsewhere"}, mount="kv-other")
    token = approle_token(vault, configured)

    allowed = [
        ("GET", f"secret/data/{PREFIX}/ac_deny"),
        ("GET", f"secret/metadata/{PREFIX}/ac_deny"),
        ("LIST", f"secret/metadata/{PREFIX}"),
        ("GET", f"secret/data/{KEY_PATH}"),
        ("GET", "auth/token/lookup-self"),  # from the default policy
        ("POST", "auth/token/renew-self"),  # from the default policy
    ]
    for method, path in allowed:
        assert vault.call(method, path, token).status_code == 200, (method, path)
    denied = [
        ("GET", "secret/data/composio/other"),  # outside the prefix
        ("GET", "secret/data/composio/auth_configs_shadow/ac_x"),  # a sibling sharing its name
        ("LIST", "secret/metadata/composio"),
        ("LIST", "secret/metadata/"),
        ("GET", f"secret/metadata/{KEY_PATH}"),
        ("POST", f"secret/data/{PREFIX}/ac_deny"),  # write inside the prefix
        ("POST", f"secret/data/{PREFIX}/ac_new"),
        ("PATCH", f"secret/data/{PREFIX}/ac_deny"),
        ("DELETE", f"secret/data/{PREFIX}/ac_deny"),
        ("POST", f"secret/delete/{PREFIX}/ac_deny"),
        ("POST", f"secret/destroy/{PREFIX}/ac_deny"),
        ("DELETE", f"secret/metadata/{PREFIX}/ac_deny"),
        ("POST", f"secret/data/{KEY_PATH}"),
        ("GET", f"kv-other/data/{PREFIX}/ac_deny"),  # the same path on another mount
        ("LIST", "kv-other/metadata/"),
        ("GET", "sys/mounts"),
        ("GET", "sys/auth"),
        ("LIST", "sys/policies/acl"),
        ("POST", "sys/policies/acl/rotator"),
        ("POST", "auth/approle/role/rotator/secret-id"),  # cannot mint its own credentials
    ]
    for method, path in denied:
        body = {"data": {"x": "y"}} if method in ("POST", "PATCH") else None
        resp = vault.call(method, path, token, body)
        assert resp.status_code == 403, (method, path, resp.status_code)
    caps = vault.call(
        "POST",
        "sys/capabilities-self",
        token,
        {"paths": [f"secret/data/{PREFIX}/a/b", f"secret/metadata/{PREFIX}/a", "secret/data/x"]},
    ).json()
    assert caps[f"secret/data/{PREFIX}/a/b"] == ["read"]
    assert sorted(caps[f"secret/metadata/{PREFIX}/a"]) == ["list", "read"]
    assert caps["secret/data/x"] == ["deny"]


# -- Kubernetes auth -------------------------------------------------------------------------------


@pytest.fixture
def token_review() -> Iterator[tuple[str, list[Review]]]:
    """A fake Kubernetes API: TokenReview says every JWT is its own service account."""
    with token_review_server() as served:
        yield served


def test_kubernetes_role_binds_the_service_account_in_the_namespace_from_env(
    vault: Vault, configured: Setup, token_review: tuple[str, list[Review]], tmp_path: Path
) -> None:
    """With KUBERNETES_HOST set (twice): rotator/payments logs in with the policy; others fail."""
    k8s_url, reviews = token_review
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    reviewer = tmp_path / "reviewer.jwt"
    reviewer.write_text("reviewer-jwt\n")
    k8s = {
        "KUBERNETES_HOST": k8s_url,
        "KUBERNETES_CA_CERT_FILE": str(ca),
        "KUBERNETES_TOKEN_REVIEWER_JWT_FILE": str(reviewer),
        "ROTATOR_K8S_NAMESPACE": "payments",
    }
    runs = [run_setup(vault, **k8s), run_setup(vault, **k8s)]
    assert [r.returncode for r in runs] == [0, 0], runs[1].stderr
    assert runs[0].stdout == runs[1].stdout == f"VAULT_ROLE_ID={configured.role_id}\n"
    assert "enabled kubernetes auth at kubernetes/" in runs[0].stderr
    assert "kubernetes auth already enabled at kubernetes/" in runs[1].stderr
    role = vault.ok("GET", "auth/kubernetes/role/rotator")["data"]
    assert role["bound_service_account_names"] == ["rotator"]
    assert role["bound_service_account_namespaces"] == ["payments"]
    assert role["token_policies"] == ["rotator"]
    assert (role["token_ttl"], role["token_max_ttl"]) == (3600, 86400)
    config = vault.ok("GET", "auth/kubernetes/config")["data"]
    assert config["kubernetes_host"] == k8s_url and "MIIB" in config["kubernetes_ca_cert"]

    def login_env(namespace: str, name: str) -> dict[str, str]:
        token_file = tmp_path / f"{namespace}-{name}.jwt"
        token_file.write_text(service_account_jwt(namespace, name))
        return {
            "VAULT_ADDR": vault.server.addr,
            "ROTATOR_VAULT_AUTH": "kubernetes",
            "VAULT_K8S_ROLE": "rotator",
            "VAULT_K8S_TOKEN_PATH": str(token_file),
            "COMPOSIO_API_KEY": COMPOSIO_KEY,
        }

    vault.put(f"{PREFIX}/ac_k8s", {"credentials.client_secret": "k8s-sec"})
    with VaultClient(load_settings(login_env("payments", "rotator"))) as client:
        assert f"{PREFIX}/ac_k8s" in client.list_secrets("secret", PREFIX)
        assert client.read_secret("secret", f"{PREFIX}/ac_k8s").version == 1
        check = client.check()
        assert check["auth_method"] == "kubernetes"
        assert policies(check) == ["default", "rotator"]
        with pytest.raises(VaultAccessDenied):
            client.read_secret("secret", "composio/other")
    assert reviews and {r.authorization for r in reviews} == {"Bearer reviewer-jwt"}
    for namespace, name, why in (
        ("default", "rotator", "namespace not authorized"),
        ("payments", "other", "service account name not authorized"),
    ):
        with (
            VaultClient(load_settings(login_env(namespace, name))) as client,
            pytest.raises(VaultAccessDenied, match=f"login at auth/kubernetes/login failed: {why}"),
        ):
            client.list_secrets("secret", PREFIX)
