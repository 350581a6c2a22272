"""Self-signed certificates made with the real ``openssl``, for the tests' TLS servers."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["self_signed"]


def self_signed(directory: Path, cn: str, san: str) -> tuple[Path, Path]:
    """A one-day self-signed certificate for ``cn`` (``san``: the subjectAltName, such as
    ``IP:127.0.0.1``), written into ``directory``: (certificate, key). The certificate is its
    own CA: a client trusts it by naming it as the CA bundle."""
    cert, key = directory / f"{cn}.crt", directory / f"{cn}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key
