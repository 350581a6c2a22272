"""Every failure of a command is one clear line and a documented exit code, never a traceback.

Table-driven: each case runs the real ``rotator`` CLI in a subprocess against real servers (the
session OpenBao and Redis, the emulator, a TLS OpenBao whose CA rotator is not told about)."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rotator.devkit.sandbox import OpenBaoServer, free_port
from tests.conftest import _start_or_fail
from tests.faults_support import events
from tests.helpers import Stack
from tests.procs import Procs, assert_clean_output, run_cli

_VAULT_TLS = (
    r"rotator: TLS to Vault at https://127\.0\.0\.1:\d+ failed \(lookup-self "
    r"auth/token/lookup-self\): certificate not trusted; set VAULT_CACERT to the CA bundle "
    r"that signed Vault's certificate"
)
_FIX = r"(  -> fix: .+)?"  # a checklist line (rotator check) may end with the fix to apply


@pytest.fixture(scope="module")
def tls_bao() -> Iterator[OpenBaoServer]:
    """An OpenBao dev server on HTTPS (``-dev-tls``) with a CA of its own."""
    server = _start_or_fail(lambda: OpenBaoServer(tls=True))
    yield server
    server.close()


@pytest.fixture(scope="module")
def html_server() -> Iterator[str]:
    """A web server that answers every request 200 with an HTML page (a proxy's login page)."""

    class Html(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>Sign in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    env: Callable[[dict[str, str], Path, dict[str, str]], dict[str, str]]
    code: int
    line: str  # a regex the one line on stderr (or the FAIL line on stdout) must match whole


def _bindings(tmp: Path, raw: bytes) -> dict[str, str]:
    path = tmp / "bindings.toml"
    path.write_bytes(raw)
    return {"ROTATOR_BINDINGS_FILE": str(path)}


CASES = [
    Case(
        "vault-tls-untrusted-rotate",
        ("rotate", "--inline", "--all"),
        lambda e, t, x: {**e, "VAULT_ADDR": x["tls"]},
        2,
        _VAULT_TLS,
    ),
    Case(
        "vault-tls-untrusted-check",
        ("check",),
        lambda e, t, x: {**e, "VAULT_ADDR": x["tls"]},
        1,
        r"FAIL  vault +PermanentError: " + _VAULT_TLS.removeprefix("rotator: ") + _FIX,
    ),
    Case(
        "wrong-vault-token",
        ("rotate", "--inline", "--all"),
        lambda e, t, x: {**e, "VAULT_TOKEN": "hvs.not-a-token"},
        2,
        r"rotator: Vault denied list on secret/composio/auth_configs/t\w+: the token is invalid, "
        r"expired or revoked: set VAULT_TOKEN to a valid token, or use AppRole/Kubernetes",
    ),
    Case(
        "unreachable-redis",
        ("status",),
        lambda e, t, x: {**e, "ROTATOR_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
        1,
        r"rotator: .*Redis.*",
    ),
    Case(
        "redis-bad-port",
        ("status",),
        lambda e, t, x: {**e, "ROTATOR_REDIS_URL": "redis://127.0.0.1:99999/0"},
        2,
        r"rotator: invalid configuration: .*ROTATOR_REDIS_URL.*port.*",
    ),
    Case(
        "unreachable-vault",
        ("rotate", "--inline", "--all"),
        lambda e, t, x: {
            **e,
            "VAULT_ADDR": f"http://127.0.0.1:{free_port()}",
            "ROTATOR_VAULT_TIMEOUT": "2",
        },
        1,
        r"rotator: cannot reach Vault at http://127\.0\.0\.1:\d+ \(.*\): connection failed",
    ),
    Case(
        "bindings-not-utf8",
        ("plan",),
        lambda e, t, x: {**e, **_bindings(t, b'[[binding]]\nauth_config = "ac_\xff"\n')},
        2,
        r"rotator: invalid configuration: ROTATOR_BINDINGS_FILE .*bindings\.toml: not UTF-8 "
        r"text \(byte 30 is 0xff\)",
    ),
    Case(
        "bindings-nested-100k-deep",
        ("plan",),
        lambda e, t, x: {**e, **_bindings(t, b"a = " + b"[" * 100_000 + b"]" * 100_000)},
        2,
        r"rotator: invalid configuration: ROTATOR_BINDINGS_FILE .*bindings\.toml: nested "
        r"deeper than 32 levels \(line 1\)",
    ),
    Case(
        "bindings-nanoid-trailing-newline",
        ("plan",),
        lambda e, t, x: {
            **e,
            **_bindings(
                t, b'[[binding]]\nauth_config = "ac_x\\n"\npath = "p"\ncredentials = {a = "b"}\n'
            ),
        },
        2,
        r"rotator: invalid configuration: bindings\.toml binding #1: auth_config 'ac_x\\n' is "
        r"not a nanoid \(ac_ followed by 1-64 letters, digits, _ or -\)",
    ),
    Case(
        "bindings-path-traversal",
        ("plan",),
        lambda e, t, x: {
            **e,
            **_bindings(
                t,
                b'[[binding]]\nauth_config = "ac_x"\npath = "team/../other"\n'
                b'credentials = {a = "b"}\n',
            ),
        },
        2,
        r"rotator: invalid configuration: bindings\.toml binding #1: path 'team/\.\./other' has "
        r"a '\.' or '\.\.' segment",
    ),
    Case(
        "cli-id-10000-chars",
        ("rotate", "--inline", "x" * 10_000),
        lambda e, t, x: e,
        2,
        r"Error: NANOID 'x{50,60}…\(10002 chars\) is not a nanoid \(ac_ followed by 1-64 "
        r"letters, digits, _ or -\)",
    ),
    *[
        Case(
            f"{command}-{name}",
            (*command.split("-"), raw),
            lambda e, t, x: e,
            2,
            rf"Error: NANOID '{re.escape(shown)}' is not a nanoid \(ac_ followed by 1-64 "
            r"letters, digits, _ or -\)",
        )
        for command in ("pause", "resume", "history")
        for name, raw, shown in (
            ("look-alike", "ac_g\u043e\u043ed", "ac_g\\u043e\\u043ed"),
            ("zero-width-space", "ac_good\u200b", "ac_good\\u200b"),
        )
    ],
    Case(
        "dlq-replay-not-an-entry-id",
        ("dlq", "replay", "ac_good"),
        lambda e, t, x: e,
        2,
        r"Error: ENTRY_ID 'ac_good' is not a dead-letter entry id \(like 1718000000000-0; "
        r"`rotator dlq list` shows them\)",
    ),
    Case(
        "composio-html-200",
        ("check",),
        lambda e, t, x: {**e, "COMPOSIO_BASE_URL": x["html"]},
        1,
        r"FAIL  composio +PermanentError: Composio answered 200 with .* \(a proxy or a web "
        r"page\?\): check COMPOSIO_BASE_URL" + _FIX,
    ),
    Case(
        "composio-tls-untrusted",
        ("check",),
        lambda e, t, x: {**e, "COMPOSIO_BASE_URL": x["tls"]},
        1,
        r"FAIL  composio +PermanentError: TLS to Composio at https://127\.0\.0\.1:\d+ failed: "
        r"certificate not trusted; set ROTATOR_COMPOSIO_CACERT to the CA bundle that signed "
        r"Composio's certificate" + _FIX,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_failing_command_prints_one_clear_line_and_its_exit_code(
    case: Case,
    stack: Stack,
    tls_bao: OpenBaoServer,
    html_server: str,
    tmp_path: Path,
) -> None:
    """The command exits with the documented code, says the problem (and the setting to fix)
    in exactly one line, prints no traceback, and sends nothing to Composio."""
    stack.put("ac_one1", {"credentials": {"client_secret": "sec-one1"}})
    extra = {"tls": tls_bao.addr, "html": html_server}
    res = run_cli(case.env(stack.env, tmp_path, extra), *case.argv, timeout=120)
    output = f"{res.stdout}\n{res.stderr}"
    assert "Traceback" not in output, output
    assert res.returncode == case.code, f"exit {res.returncode}, wanted {case.code}:\n{output}"
    lines = [ln for ln in output.splitlines() if ln.strip() and not ln.startswith("{")]
    matching = [ln for ln in lines if re.fullmatch(case.line, ln)]
    assert len(matching) == 1, f"wanted one line matching {case.line!r}, got:\n{output}"
    if case.argv[0] == "rotate":
        assert lines == matching, f"more than the one line:\n{output}"
    assert stack.emu.patches() == []
    assert_clean_output(output, allowed=[r"rotation\.failed"])


def test_vault_tls_with_its_ca_rotates(stack: Stack, tls_bao: OpenBaoServer) -> None:
    """With VAULT_CACERT naming the dev server's CA, `rotate --inline` pushes the secret."""
    env = {**stack.env, "VAULT_ADDR": tls_bao.addr, "VAULT_TOKEN": tls_bao.root_token.reveal()}
    env["VAULT_CACERT"] = str(tls_bao.ca_cert)
    prefix = env["ROTATOR_VAULT_PREFIX"]
    stack.emu.add_auth_config("ac_tls1", type="custom")
    put = run_cli(env, "check")
    assert "ok    vault" in put.stdout, put.stdout + put.stderr
    from rotator.runtime import build_runtime
    from rotator.settings.load import load_settings

    rt = build_runtime(load_settings(env))
    try:
        rt.vault.write_secret("secret", f"{prefix}/ac_tls1", {"credentials": {"client_id": "c1"}})
    finally:
        rt.close()
    res = run_cli(env, "rotate", "--inline", "ac_tls1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert_clean_output(res.stdout + res.stderr)
    assert stack.emu.credentials("ac_tls1") == {"client_id": "c1"}


_BAD_MESSAGES = [
    (("ac_w1",), {"version": -7}, "version -7 must be an integer >= 1"),
    (({"id": "ac_w1"},), {}, "auth_config_id {'id': 'ac_w1'} is not a nanoid"),
    (("ac_w1\n",), {}, "auth_config_id 'ac_w1\\n' is not a nanoid"),
    (("ac_w1",), {"force": "yes"}, "force 'yes' must be true or false"),
]


def test_a_worker_fails_a_bad_task_message_at_once(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """send_task with a bad argument (negative version, a dict id, an id with a newline, a
    non-bool force) ends at once in rotation.failed naming the argument and a dead-letter
    entry, with no retry; a good message next to them still rotates."""
    stack.put("ac_w1", {"credentials": {"client_secret": "sec-w1"}})
    procs.worker("w1")
    messages = [*[[list(a), k] for a, k, _ in _BAD_MESSAGES], [["ac_w1"], {}]]
    script = (
        "import json, sys\n"
        "from rotator.worker.app import ROTATE_TASK, app\n"
        "msgs = json.loads(sys.argv[1])\n"
        "sent = [app.send_task(ROTATE_TASK, args=a, kwargs=k) for a, k in msgs]\n"
        "print(json.dumps([r.get(timeout=90)['result'] for r in sent]))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", script, json.dumps(messages)],
        env={**os.environ, **celery_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout) == ["failed"] * len(_BAD_MESSAGES) + ["succeeded"]
    failed = events(procs.output(), "rotation.failed")
    for _, _, why in _BAD_MESSAGES:
        assert sum(why in str(e.get("error")) for e in failed) == 1, (why, failed)
    assert len(stack.rt.state.dead_letters()) == len(_BAD_MESSAGES)
    assert "retry:" not in procs.output()
    assert stack.emu.credentials("ac_w1") == {"client_secret": "sec-w1"}
    procs.assert_clean(allowed=[r'"event": "rotation\.failed"'])


def test_skipped_secrets_are_a_json_event_when_logs_are_json(stack: Stack) -> None:
    """With ROTATOR_LOG_FORMAT=json, a secret that names no auth config is reported as a
    catalog.skipped log event, so stderr stays one JSON object per line."""
    stack.put("ac_js1", {"credentials": {"client_secret": "sec-js1"}})
    stack.write("not-a-nanoid", {"credentials": {"client_secret": "sec-x"}})
    env = {**stack.env, "ROTATOR_LOG_FORMAT": "json"}
    res = run_cli(env, "rotate", "--inline", "--all", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert all(ln.startswith("{") for ln in lines), res.stderr
    [skipped] = [json.loads(ln) for ln in lines if '"catalog.skipped"' in ln]
    assert "not-a-nanoid" in skipped["problem"]
    assert_clean_output(res.stdout + res.stderr)
