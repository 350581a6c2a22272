"""Settings and bindings validation: each bad value is one exact line, all of them in one error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import structlog

from rotator.core.errors import ConfigError
from rotator.core.models import Binding, RetryAction
from rotator.rotation.bindings import discovered, merge, parse_bindings
from rotator.settings.load import Settings, load_fingerprint_key, load_settings
from rotator.settings.spec import SETTINGS
from tests.paths import ROOT

GOOD = {
    "VAULT_ADDR": "http://127.0.0.1:8200",
    "VAULT_TOKEN": "root-token-value",
    "COMPOSIO_API_KEY": "ck-value",
}
KEY = "k" * 32


def _readme_defaults() -> dict[str, str]:
    """The configuration page's default column, by variable (backticks removed)."""
    page = (ROOT / "docs/reference/configuration.md").read_text()
    rows = [line.split(" | ") for line in page.splitlines() if line.startswith("| `")]
    return {cells[0].strip("| `"): cells[1].strip("`") for cells in rows}


def test_defaults_are_what_the_readme_says() -> None:
    """Each default in the configuration page's table, parsed as its variable, is what an empty
    environment loads; no field is left without a declared variable."""
    readme = _readme_defaults()
    loaded = load_settings(GOOD)
    checked = 0
    for name, spec in SETTINGS:
        if spec.env in GOOD or not spec.listed or spec.env == "ROTATOR_FINGERPRINT_KEY_FILE":
            continue  # set above; read with another row; a path computed at run time
        text = readme[spec.env]
        expected = spec.kind.parse(text) if text else ({} if name == "slug_overrides" else None)
        assert getattr(loaded, name) == expected, spec.env
        checked += 1
    assert checked >= 40
    assert set(Settings.__dataclass_fields__) == {name for name, _ in SETTINGS}


def test_valid_environment_loads_and_hides_secrets() -> None:
    """A minimal environment loads; reprs never show the token or the key."""
    s = load_settings(GOOD)
    assert s.vault_mount == "secret" and s.vault_prefix == "composio/auth_configs"
    assert s.composio_base_url == "https://backend.composio.dev"
    assert s.rate_limit is None and s.rate_limit_auto is True and s.rate_limit_share == 0.5
    assert "root-token-value" not in repr(s) and "ck-value" not in repr(s)


# (environment on top of GOOD, the one problem line load_settings must report)
BAD: list[tuple[dict[str, str], str]] = [
    ({"ROTATOR_SWEEP_INTERVAL": "nan"}, "ROTATOR_SWEEP_INTERVAL='nan' is not a finite number"),
    ({"ROTATOR_SWEEP_INTERVAL": "inf"}, "ROTATOR_SWEEP_INTERVAL='inf' is not a finite number"),
    (
        {"ROTATOR_SWEEP_INTERVAL": "1e308"},
        "ROTATOR_SWEEP_INTERVAL='1e308' must be at least 1 and at most 86400 s",
    ),
    (
        {"ROTATOR_SWEEP_INTERVAL": "0.5"},
        "ROTATOR_SWEEP_INTERVAL='0.5' must be at least 1 and at most 86400 s",
    ),
    (
        {"ROTATOR_VISIBILITY_TIMEOUT": "nan"},
        "ROTATOR_VISIBILITY_TIMEOUT='nan' is not a finite number",
    ),
    (
        {"ROTATOR_VISIBILITY_TIMEOUT": "-inf"},
        "ROTATOR_VISIBILITY_TIMEOUT='-inf' is not a finite number",
    ),
    (
        {"ROTATOR_VISIBILITY_TIMEOUT": "600"},
        "ROTATOR_QUEUE_TTL must be at least ROTATOR_VISIBILITY_TIMEOUT, or the sweep queues "
        "a second copy of a dead worker's rotation before the broker restores the first",
    ),
    ({"ROTATOR_VAULT_TIMEOUT": "nan"}, "ROTATOR_VAULT_TIMEOUT='nan' is not a finite number"),
    (
        {"ROTATOR_VAULT_TIMEOUT": "0"},
        "ROTATOR_VAULT_TIMEOUT='0' must be greater than 0 and at most 300 s",
    ),
    (
        {"ROTATOR_COMPOSIO_TIMEOUT": "1e308"},
        "ROTATOR_COMPOSIO_TIMEOUT='1e308' must be greater than 0 and at most 300 s",
    ),
    (
        {"ROTATOR_COMPOSIO_CONNECT_TIMEOUT": "0"},
        "ROTATOR_COMPOSIO_CONNECT_TIMEOUT='0' must be greater than 0 and at most 60 s",
    ),
    ({"ROTATOR_LOCK_TTL": "nan"}, "ROTATOR_LOCK_TTL='nan' is not a finite number"),
    ({"ROTATOR_LOCK_TTL": "0"}, "ROTATOR_LOCK_TTL='0' must be greater than 0 and at most 86400 s"),
    ({"ROTATOR_LOCK_TTL": "soon"}, "ROTATOR_LOCK_TTL='soon' is not a number"),
    (
        {"ROTATOR_TASK_MAX_RETRIES": "-1"},
        "ROTATOR_TASK_MAX_RETRIES='-1' must be at least 0 and at most 1000",
    ),
    (
        {"ROTATOR_QUARANTINE_AFTER": "-1"},
        "ROTATOR_QUARANTINE_AFTER='-1' must be at least 0 and at most 1000",
    ),
    (
        {"ROTATOR_QUARANTINE_AFTER": "2.5"},
        "ROTATOR_QUARANTINE_AFTER='2.5' is not a whole number",
    ),
    (
        {"ROTATOR_WORKER_CONCURRENCY": "0"},
        "ROTATOR_WORKER_CONCURRENCY='0' must be at least 1 and at most 1024",
    ),
    (
        {"ROTATOR_RATE_LIMIT": "5/s"},
        "ROTATOR_RATE_LIMIT allows 5 requests per period, fewer than ROTATOR_RATE_LIMIT_BURST=10: "
        "raise the limit or lower the burst",
    ),
    (
        {"ROTATOR_RATE_LIMIT": "25"},
        "ROTATOR_RATE_LIMIT='25' is not REQUESTS/PERIOD such as 1500/min, 25/s, 90000/h or "
        "20000/10min, auto, or 0 (off)",
    ),
    (
        {"ROTATOR_RATE_LIMIT_BURST": "0"},
        "ROTATOR_RATE_LIMIT_BURST='0' must be at least 1 and at most 10000",
    ),
    (
        {"ROTATOR_RATE_LIMIT_SHARE": "0"},
        "ROTATOR_RATE_LIMIT_SHARE='0' must be greater than 0 and at most 1",
    ),
    (
        {"ROTATOR_RATE_LIMIT_SHARE": "1.5"},
        "ROTATOR_RATE_LIMIT_SHARE='1.5' must be greater than 0 and at most 1",
    ),
    (
        {"ROTATOR_CIRCUIT_THRESHOLD": "0"},
        "ROTATOR_CIRCUIT_THRESHOLD='0' must be at least 1 and at most 1000",
    ),
    (
        {"ROTATOR_CIRCUIT_PROBE_INTERVAL": "1"},
        "ROTATOR_CIRCUIT_PROBE_INTERVAL='1' must be at least 5 and at most 300 s",
    ),
    ({"ROTATOR_VERIFY": "maybe"}, "ROTATOR_VERIFY='maybe' must be true or false"),
    (
        {"ROTATOR_REDIS_URL": "redis://127.0.0.1:99999/0"},
        "ROTATOR_REDIS_URL='redis://127.0.0.1:99999/0' has a port that is not a number from 1 "
        "to 65535",
    ),
    (
        {"ROTATOR_REDIS_URL": "redis://:hunter2-pw@127.0.0.1:6379/abc"},
        "ROTATOR_REDIS_URL='redis://***@127.0.0.1:6379/abc' has a database path '/abc' that is "
        "not a number",
    ),
    (
        {"ROTATOR_REDIS_URL": "http://x"},
        "ROTATOR_REDIS_URL='http://x' must start with redis://, rediss:// or unix://",
    ),
    (
        {"ROTATOR_REDIS_URL": "sentinel://h1:26379;redis://h2:6379/0"},
        "ROTATOR_REDIS_URL='sentinel://h1:26379;redis://h2:6379/0' mixes schemes: ';' joins "
        "sentinel:// URLs only",
    ),
    (
        {"ROTATOR_REDIS_URL": "sentinel://h1:26379;sentinel://h2:26379/0"},
        "ROTATOR_REDIS_SENTINEL_MASTER is required when ROTATOR_REDIS_URL uses sentinel://",
    ),
    (
        {"ROTATOR_REDIS_URL": "sentinel://h1:26379;sentinel://h2:x/0"},
        "ROTATOR_REDIS_URL='sentinel://h1:26379;sentinel://h2:x/0' has a port that is not a "
        "number from 1 to 65535",
    ),
    (
        {"ROTATOR_REDIS_SENTINEL_MASTER": "mymaster"},
        "ROTATOR_REDIS_SENTINEL_MASTER and _PASSWORD apply only to sentinel:// in "
        "ROTATOR_REDIS_URL",
    ),
    (
        {"COMPOSIO_BASE_URL": "https://composio.example\r\nX-Evil: 1"},
        "COMPOSIO_BASE_URL='https://composio.example\\r\\nX-Evil: 1' must not contain spaces or "
        "control characters",
    ),
    (
        {"COMPOSIO_BASE_URL": "https://admin:s3cr3t-pw@composio.example"},
        "COMPOSIO_BASE_URL='https://***@composio.example' must not carry user:password@ "
        "(credentials come from their settings)",
    ),
    (
        {"COMPOSIO_BASE_URL": "http://composio.example.com"},
        "COMPOSIO_BASE_URL='http://composio.example.com' would send credentials in clear: use "
        "https:// (plain http:// only to 127.0.0.0/8, ::1 or localhost)",
    ),
    (
        {"VAULT_ADDR": "http://vault.corp.example:8200"},
        "VAULT_ADDR='http://vault.corp.example:8200' would send credentials in clear: use "
        "https:// (plain http:// only to 127.0.0.0/8, ::1 or localhost, or set "
        "ROTATOR_ALLOW_PLAINTEXT_VAULT=true on a trusted network)",
    ),
    ({"VAULT_ADDR": ""}, "VAULT_ADDR is required (Vault address, `https://...`)"),
    ({"VAULT_ADDR": "vault:8200"}, "VAULT_ADDR='vault:8200' must start with https:// or http://"),
    (
        {"ROTATOR_FINGERPRINT_KEY": " "},
        "ROTATOR_FINGERPRINT_KEY must not be blank",
    ),
    (
        {"ROTATOR_FINGERPRINT_KEY": "short-key"},
        "ROTATOR_FINGERPRINT_KEY must be at least 32 bytes, not whitespace",
    ),
    (
        {"ROTATOR_FINGERPRINT_KEY": KEY, "ROTATOR_FINGERPRINT_KEY_FILE": "fp.key"},
        "set only one of ROTATOR_FINGERPRINT_KEY and ROTATOR_FINGERPRINT_KEY_FILE",
    ),
    ({"VAULT_TOKEN": " "}, "VAULT_TOKEN must not be blank"),
    (
        {"ROTATOR_VAULT_AUTH": "ldap"},
        "ROTATOR_VAULT_AUTH='ldap' must be token, approle or kubernetes",
    ),
    (
        {"ROTATOR_VAULT_AUTH": "approle"},
        "VAULT_ROLE_ID and VAULT_SECRET_ID are required when ROTATOR_VAULT_AUTH=approle",
    ),
    (
        {"ROTATOR_LOG_LEVEL": "loud"},
        "ROTATOR_LOG_LEVEL='loud' must be DEBUG, INFO, WARNING or ERROR",
    ),
    (
        {"ROTATOR_RETRY_SLUG_OVERRIDES": "X_Y=explode"},
        "ROTATOR_RETRY_SLUG_OVERRIDES='X_Y=explode' has 'X_Y=explode', not SLUG=ACTION with "
        "ACTION fail, reauth, retry_later or retry_now",
    ),
    ({"ROTATOR_VAULT_MOUNT": "/"}, "ROTATOR_VAULT_MOUNT='/' is empty once '/' are stripped"),
    (
        {"ROTATOR_BINDINGS_FILE": "/nonexistent/bindings.toml"},
        "ROTATOR_BINDINGS_FILE='/nonexistent/bindings.toml': no such file",
    ),
    (
        {"ROTATOR_RETRY_IN_CALL_ATTEMPTS": "0"},
        "ROTATOR_RETRY_IN_CALL_ATTEMPTS='0' must be at least 1 and at most 20",
    ),
    (
        {"ROTATOR_RESYNC_INTERVAL": "-1"},
        "ROTATOR_RESYNC_INTERVAL='-1' must be at least 0 and at most 31536000 s",
    ),
]


@pytest.mark.parametrize(("env", "line"), BAD, ids=[next(iter(e)) for e, _ in BAD])
def test_each_bad_setting_is_one_exact_problem_line(env: dict[str, str], line: str) -> None:
    """Every bad value (non-finite, out of range, a bad URL, a weak key...) is refused with one
    line naming the variable; nothing else is reported about it."""
    with pytest.raises(ConfigError) as info:
        load_settings({**GOOD, **env})
    assert info.value.problems == [line]


def test_passwords_and_userinfo_are_never_echoed() -> None:
    """A bad URL's password and a bad secret's text never appear in the error."""
    env = {
        **GOOD,
        "ROTATOR_REDIS_URL": "redis://:hunter2-pw/#?x@127.0.0.1:bad/0",
        "VAULT_ADDR": "http://vault:v4ult-pw@vault.example:8200",
        "COMPOSIO_BASE_URL": "https://admin:s3cr3t-pw@composio.example/\x07",
        "ROTATOR_FINGERPRINT_KEY": "tiny-secret-key",
        "ROTATOR_REDIS_SENTINEL_PASSWORD": "   ",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    text = str(info.value)
    assert len(info.value.problems) == 5
    for secret in ("hunter2", "s3cr3t-pw", "admin", "tiny-secret-key", "v4ult-pw"):
        assert secret not in text


def test_every_problem_is_listed_at_once_and_each_only_once() -> None:
    """A broken environment raises one ConfigError naming each bad variable; a bad lock TTL is
    not reported again through the visibility-timeout rule it takes part in."""
    env = {
        "VAULT_ADDR": "not a url",
        "ROTATOR_VAULT_AUTH": "ldap",
        "ROTATOR_LOCK_TTL": "nan",
        "ROTATOR_REDIS_URL": "http://x",
        "ROTATOR_RETRY_SLUG_OVERRIDES": "X_Y=explode",
        "ROTATOR_SWEEP_INTERVAL": "inf",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    names = [re.split(r"[= ]", p, maxsplit=1)[0] for p in info.value.problems]
    assert sorted(names) == sorted(
        [
            "VAULT_ADDR",
            "ROTATOR_VAULT_AUTH",
            "ROTATOR_LOCK_TTL",
            "ROTATOR_REDIS_URL",
            "ROTATOR_RETRY_SLUG_OVERRIDES",
            "ROTATOR_SWEEP_INTERVAL",
            "set",  # set COMPOSIO_API_KEY or ROTATOR_COMPOSIO_KEY_PATH
        ]
    )


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        ({"ROTATOR_REDIS_URL": "unix:///run/redis.sock?db=2"}, "redis_url", None),
        ({"ROTATOR_REDIS_URL": "rediss://:pw@redis.example:6380/3"}, "redis_url", None),
        ({"ROTATOR_REDIS_URL": "redis://127.0.0.1:6379"}, "redis_url", None),
        (
            {
                "ROTATOR_REDIS_URL": "sentinel://h1:26379;sentinel://h2:26379;sentinel://h3:26379/0",
                "ROTATOR_REDIS_SENTINEL_MASTER": "mymaster",
                "ROTATOR_REDIS_SENTINEL_PASSWORD": "sentinel-pw",
            },
            "redis_sentinel_master",
            "mymaster",
        ),
        ({"ROTATOR_RATE_LIMIT": "1500/min"}, "rate_limit", (1500.0, 60.0)),
        ({"ROTATOR_RATE_LIMIT": "20000/10min"}, "rate_limit", (20000.0, 600.0)),
        ({"ROTATOR_RATE_LIMIT": "auto"}, "rate_limit_auto", True),
        ({"ROTATOR_RATE_LIMIT": "0"}, "rate_limit_auto", False),
        ({"ROTATOR_RATE_LIMIT": "off"}, "rate_limit", None),
        ({"ROTATOR_RATE_LIMIT": "5/s", "ROTATOR_RATE_LIMIT_BURST": "5"}, "rate_limit", (5.0, 1.0)),
        ({"ROTATOR_VERIFY": "true"}, "verify", True),
        ({"ROTATOR_CIRCUIT_THRESHOLD": "1"}, "circuit_threshold", 1),
        ({"ROTATOR_CIRCUIT_PROBE_INTERVAL": "300"}, "circuit_probe_interval", 300.0),
        ({"ROTATOR_RATE_LIMIT_SHARE": "1"}, "rate_limit_share", 1.0),
        ({"VAULT_ADDR": "http://localhost:8200"}, "vault_addr", None),
        ({"VAULT_ADDR": "http://[::1]:8200"}, "vault_addr", None),
        (
            {"VAULT_ADDR": "http://vault.mesh:8200", "ROTATOR_ALLOW_PLAINTEXT_VAULT": "true"},
            "allow_plaintext_vault",
            True,
        ),
        ({"ROTATOR_FINGERPRINT_KEY": KEY}, "fingerprint_key", None),
        ({"ROTATOR_LOG_LEVEL": "debug"}, "log_level", "DEBUG"),
        ({"ROTATOR_QUARANTINE_AFTER": "0"}, "quarantine_after", 0),
        ({"ROTATOR_RETRY_SLUG_OVERRIDES": "A_B=fail"}, "slug_overrides", {"A_B": RetryAction.FAIL}),
    ],
)
def test_documented_forms_are_accepted(env: dict[str, str], field: str, value: object) -> None:
    """unix:// and Sentinel URLs, every rate-limit form, loopback http and the opt-out load."""
    s = load_settings({**GOOD, **env})
    if value is not None:
        assert getattr(s, field) == value
    assert "sentinel-pw" not in repr(s)


def test_fingerprint_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    """Without a key in the environment, a 0600 key file is made once and then reused."""
    path = tmp_path / "fp.key"
    s = load_settings({**GOOD, "ROTATOR_FINGERPRINT_KEY_FILE": str(path)})
    with structlog.testing.capture_logs() as logs:
        first = load_fingerprint_key(s)
        assert load_fingerprint_key(s) == first and len(first) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert logs == []


@pytest.mark.parametrize("content", [b"", b"x", b"   \n\t ", b"k" * 31])
def test_a_short_or_blank_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    """A key file under 32 bytes (an empty key lets a fingerprint confirm a guess) is refused."""
    path = tmp_path / "fp.key"
    path.write_bytes(content)
    path.chmod(0o600)
    s = load_settings({**GOOD, "ROTATOR_FINGERPRINT_KEY_FILE": str(path)})
    with pytest.raises(ConfigError, match="must be at least 32 bytes"):
        load_fingerprint_key(s)


def test_a_key_file_others_may_read_is_used_with_a_warning(tmp_path: Path) -> None:
    """A 0644 key file still works, and ``config.fingerprint_key_readable`` names its mode."""
    path = tmp_path / "fp.key"
    path.write_bytes(b"k" * 40 + b"\n")
    path.chmod(0o644)
    s = load_settings({**GOOD, "ROTATOR_FINGERPRINT_KEY_FILE": str(path)})
    with structlog.testing.capture_logs() as logs:
        assert load_fingerprint_key(s) == b"k" * 40
    assert [(e["event"], e["mode"], e["log_level"]) for e in logs] == [
        ("config.fingerprint_key_readable", "0o644", "warning")
    ]


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
