"""A real webhook receiver for the tests: a threaded ``http.server`` on a loopback port that
records every delivery (headers and raw body) and answers what the test tells it to."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rotator.devkit.sandbox import free_port


@dataclass(frozen=True)
class Delivery:
    signature: str
    delivery: str
    body: bytes
    answered: int


class Receiver:
    """``answers``: statuses to give first (then 200); ``start``/``stop`` take the port up and
    down (a stopped receiver refuses connections: the receiver is down)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.answers: deque[int] = deque()
        self.got: list[Delivery] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = receiver.answers.popleft() if receiver.answers else 200
                    receiver.got.append(
                        Delivery(
                            self.headers.get("X-Rotator-Signature-256", ""),
                            self.headers.get("X-Rotator-Delivery", ""),
                            body,
                            status,
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.got if 200 <= d.answered < 300]

    def all(self) -> list[Delivery]:
        with self._lock:
            return list(self.got)
