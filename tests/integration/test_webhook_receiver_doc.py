"""The documented webhook receiver (docs/operations/compliance.md) works as written: it accepts a
delivery signed the way rotator signs, revokes on ``rotation.succeeded``, and refuses a forgery."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from http.server import HTTPServer
from pathlib import Path
from typing import Any

from rotator.core.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, sign
from tests.paths import ROOT

KEY = b"receiver-test-key"
PAGE = ROOT / "docs/operations/compliance.md"


def _receiver(key_file: Path, revoked: list[tuple[str, int]]) -> HTTPServer:
    """The page's code, with its key file and its serve_forever line swapped for the test's."""
    (code,) = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert '"/run/secrets/rotator-webhook"' in code and code.rstrip().endswith("serve_forever()")
    code = code.replace('"/run/secrets/rotator-webhook"', repr(str(key_file)))
    code = code.rstrip().rsplit("\n", 1)[0]  # everything but HTTPServer(...).serve_forever()
    scope: dict[str, Any] = {"revoke_older_than": lambda path, v: revoked.append((path, v))}
    exec(compile(code, str(PAGE), "exec"), scope)  # noqa: S102 - the project's own documentation
    server = HTTPServer(("127.0.0.1", 0), scope["Hook"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _post(server: HTTPServer, body: bytes, signature: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.server_address[1]}/",
        data=body,
        headers={SIGNATURE_HEADER: signature, DELIVERY_HEADER: "d1"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_documented_receiver_verifies_the_signature_and_revokes_after_success(
    tmp_path: Path,
) -> None:
    """A body signed with the key is accepted (204) and revokes; a forged signature is 401."""
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    revoked: list[tuple[str, int]] = []
    server = _receiver(key_file, revoked)
    try:
        body = json.dumps(
            {"event": "rotation.succeeded", "vault_path": "p/ac_1", "vault_version": 3}
        )
        raw = body.encode()
        good = sign(KEY, raw)  # rotator's own signer
        assert _post(server, raw, "sha256=" + "0" * 64) == 401
        assert revoked == []
        assert _post(server, raw, good) == 204
        assert revoked == [("p/ac_1", 3)]
    finally:
        server.shutdown()
        server.server_close()
