"""Settings and bindings validation: one error listing every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotator.bindings import discovered, merge, parse_bindings
from rotator.config import load_fingerprint_key, load_settings
from rotator.errors import ConfigError
from rotator.models import Binding

GOOD = {
    "VAULT_ADDR": "http://127.0.0.1:8200",
    "VAULT_TOKEN": "root-token-value",
    "COMPOSIO_API_KEY": "ck-value",
}


def test_valid_environment_loads_with_sane_defaults() -> None:
    """A minimal environment loads; defaults match the README."""
    s = load_settings(GOOD)
    assert s.vault_mount == "secret" and s.vault_prefix == "composio/auth_configs"
    assert s.composio_base_url == "https://backend.composio.dev"
    assert s.vault_auth == "token"
    assert "root-token-value" not in repr(s) and "ck-value" not in repr(s)


def test_every_problem_is_listed_at_once() -> None:
    """A broken environment raises one ConfigError naming each bad variable."""
    env = {
        "VAULT_ADDR": "not a url",
        "ROTATOR_VAULT_AUTH": "ldap",
        "ROTATOR_LOCK_TTL": "soon",
        "ROTATOR_REDIS_URL": "http://x",
        "ROTATOR_RETRY_SLUG_OVERRIDES": "X_Y=explode",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    text = str(info.value)
    for name in (
        "VAULT_ADDR",
        "ROTATOR_VAULT_AUTH",
        "ROTATOR_LOCK_TTL",
        "ROTATOR_REDIS_URL",
        "ROTATOR_RETRY_SLUG_OVERRIDES",
        "COMPOSIO_API_KEY",
    ):
        assert name in text
    assert len(info.value.problems) >= 6


def test_approle_needs_role_and_secret_id() -> None:
    """AppRole auth without its ids is a config error naming both variables."""
    with pytest.raises(ConfigError, match="VAULT_ROLE_ID and VAULT_SECRET_ID"):
        load_settings({**GOOD, "ROTATOR_VAULT_AUTH": "approle"})


def test_fingerprint_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    """Without a key in the environment, a 0600 key file is made once and then reused."""
    path = tmp_path / "fp.key"
    s = load_settings({**GOOD, "ROTATOR_FINGERPRINT_KEY_FILE": str(path)})
    first = load_fingerprint_key(s)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_fingerprint_key(s) == first and len(first) == 64


def test_bindings_file_problems_are_all_reported() -> None:
    """Bad nanoids, missing paths, duplicates and default+credentials are each named."""
    doc = {
        "binding": [
            {"auth_config": "ac_ok1", "path": "a", "credentials": {"x": "y"}},
            {"auth_config": "bad id", "path": "b", "credentials": {"x": "y"}},
            {"auth_config": "ac_ok2", "credentials": {"x": "y"}},
            {"auth_config": "ac_ok1", "path": "c", "credentials": {"x": "y"}},
            {"auth_config": "ac_ok3", "path": "d", "type": "default", "credentials": {"x": "y"}},
            {"auth_config": "ac_ok4", "path": "e"},
        ]
    }
    with pytest.raises(ConfigError) as info:
        parse_bindings(doc, name="bindings.toml", mount="secret")
    text = str(info.value)
    assert "binding #2: auth_config 'bad id' is not a nanoid" in text
    assert "binding #3: path is required" in text
    assert "binding #4: ac_ok1 is already bound by bindings.toml binding #1" in text
    assert "binding #5: type default (Composio-managed) cannot carry credentials" in text
    assert "binding #6: map at least one field" in text


def test_discovery_names_auth_configs_by_last_segment_and_file_wins() -> None:
    """The last path segment is the nanoid; a bad one is a problem; file bindings override."""
    found = discovered("secret", "composio/auth_configs/team/ac_abc")
    assert isinstance(found, Binding) and found.auth_config_id == "ac_abc"
    assert "not an auth config nanoid" in str(discovered("secret", "composio/auth_configs/oops"))
    explicit = Binding(auth_config_id="ac_abc", mount="kv", path="x", source="file")
    assert merge([found], [explicit])["ac_abc"].mount == "kv"
