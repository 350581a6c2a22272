"""A stand-in for the Kubernetes TokenReview API and service-account-shaped JWTs: what Vault's
(OpenBao's) kubernetes auth method asks of a cluster, served on loopback for the tests."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Review", "service_account_jwt", "token_review_server"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def service_account_jwt(namespace: str, name: str, uid: str | None = None) -> str:
    """An RS256-shaped service account JWT; OpenBao leaves checking it to TokenReview."""
    claims = {
        "iss": "kubernetes/serviceaccount",
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": uid or f"uid-{namespace}-{name}",
    }
    header = json.dumps({"alg": "RS256", "typ": "JWT"}).encode()
    return ".".join((_b64(header), _b64(json.dumps(claims).encode()), _b64(b"s" * 256)))


@dataclass(frozen=True)
class Review:
    """One TokenReview call: the reviewer's ``Authorization`` header and the JWT reviewed."""

    authorization: str
    token: str


@contextmanager
def token_review_server() -> Iterator[tuple[str, list[Review]]]:
    """A TokenReview API that says every JWT is the service account its claims name; yields
    (base URL, the reviews received)."""
    reviews: list[Review] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            token = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["spec"][
                "token"
            ]
            reviews.append(Review(self.headers.get("Authorization", ""), token))
            claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
            user = {
                "username": claims["sub"],
                "uid": claims["kubernetes.io/serviceaccount/service-account.uid"],
            }
            out = json.dumps({"status": {"authenticated": True, "user": user}}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", reviews
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
