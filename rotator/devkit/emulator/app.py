"""``Emulator``: a faithful stand-in for Composio's auth-config API, on a real local socket.

Use it as a context manager in tests::

    with Emulator(api_keys=["test-key"]) as emu:
        emu.add_auth_config("ac_1", credentials={"client_id": "id", "client_secret": "s"})
        httpx.patch(f"{emu.url}/api/v3/auth_configs/ac_1", headers={"x-api-key": "test-key"},
                    json={"type": "custom", "credentials": {"client_secret": "s2"}})
        assert emu.credentials("ac_1")["client_secret"] == "s2"

The same controls are reachable over HTTP under ``/_emulator/`` (see ``admin``) for an
emulator running in another process (``python -m rotator.devkit.emulator``).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from rotator.devkit.emulator.admin import PREFIX, handle_admin
from rotator.devkit.emulator.backend import Backend
from rotator.devkit.emulator.bind import bind_problem
from rotator.devkit.emulator.faults import Fault, FaultMix
from rotator.devkit.emulator.journal import JournalEntry
from rotator.devkit.emulator.messages import Reply, Request, new_request_id
from rotator.devkit.emulator.routes import handle_api
from rotator.devkit.emulator.server import ServerThread

__all__ = ["Emulator"]


class Emulator:
    """One emulated Composio organisation: its auth configs, API keys, rate limit and faults."""

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = ("test-key",),
        rate_limit: int | None = None,
        rate_window: float = 60.0,
        seed: int = 0,
        admin_token: str | None = None,
        allow_remote: bool = False,
    ) -> None:
        self._admin_token = admin_token
        self._allow_remote = allow_remote
        self._backend = Backend(
            api_keys=api_keys, rate_limit=rate_limit, rate_window=rate_window, seed=seed
        )
        self._server = ServerThread(self._handle)
        self._host = "127.0.0.1"
        self._port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> Emulator:
        """Start serving in a background thread; listening when this returns.

        A host that is not loopback raises ``ValueError`` unless the emulator was made with
        ``allow_remote`` and an ``admin_token`` (see ``rotator.devkit.emulator.bind``)."""
        problem = bind_problem(host, allow_remote=self._allow_remote, admin_token=self._admin_token)
        if problem is not None:
            raise ValueError(problem)
        self._port = self._server.start(host, port)
        self._host = host
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        self._server.stop()
        self._port = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://HOST:PORT``, the base URL to give a Composio client."""
        if self._port is None:
            raise RuntimeError("the emulator is not running: call start() first")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self._port

    # -- state -----------------------------------------------------------------------------
    def add_auth_config(
        self,
        nanoid: str,
        *,
        type: str = "custom",
        toolkit: str = "github",
        name: str | None = None,
        credentials: dict[str, object] | None = None,
        shared_credentials: dict[str, object] | None = None,
        enabled: bool = True,
        auth_scheme: str = "OAUTH2",
    ) -> None:
        """Add (or replace) an auth config, as if created on Composio's dashboard."""
        self._backend.add_auth_config(
            nanoid,
            type=type,
            toolkit=toolkit,
            name=name,
            credentials=credentials,
            shared_credentials=shared_credentials,
            enabled=enabled,
            auth_scheme=auth_scheme,
        )

    def credentials(self, nanoid: str) -> dict[str, object]:
        """The stored credentials, unmasked (for assertions); ``KeyError`` if unknown."""
        return self._backend.store.raw(nanoid).credentials

    def shared_credentials(self, nanoid: str) -> dict[str, object]:
        """The stored shared credentials, unmasked; ``KeyError`` if unknown."""
        return self._backend.store.raw(nanoid).shared_credentials

    def set_api_keys(self, keys: Iterable[str]) -> None:
        """Replace the accepted API keys; requests with any other key get 401."""
        self._backend.set_api_keys(keys)

    # -- faults and rate limit -------------------------------------------------------------
    def inject(self, fault: Fault, *, nanoid: str | None = None, times: int | None = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests on ``nanoid`` (None: any API
        request; ``times`` None: forever). Per-id faults go before any-request ones."""
        self._backend.faults.inject(fault, nanoid=nanoid, times=times)

    def set_random_faults(self, mix: FaultMix | None, *, seed: int = 0) -> None:
        """Draw a fault per request from ``mix`` with a fresh ``Random(seed)``; None: off."""
        self._backend.faults.set_mix(mix, seed=seed)

    def clear_faults(self) -> None:
        """Drop every queued fault and turn the random mix off."""
        self._backend.faults.clear()

    def set_rate_limit(self, limit: int | None, window: float = 60.0) -> None:
        """Limit API requests to ``limit`` per fixed ``window`` seconds (None: no limit)."""
        self._backend.limiter.configure(limit, window)

    # -- journal ---------------------------------------------------------------------------
    @property
    def journal(self) -> list[JournalEntry]:
        """A copy of every API request seen so far, oldest first."""
        return self._backend.journal.entries()

    def patches(
        self, nanoid: str | None = None, *, status: int | None = None
    ) -> list[JournalEntry]:
        """The journaled PATCHes, optionally only on ``nanoid`` and/or with ``status``."""
        return [
            e
            for e in self._backend.journal.entries()
            if e.method == "PATCH"
            and (nanoid is None or e.nanoid == nanoid)
            and (status is None or e.status == status)
        ]

    def reset_journal(self) -> None:
        self._backend.journal.clear()

    # -- HTTP ------------------------------------------------------------------------------
    def _handle(self, request: Request) -> Reply:
        rid = new_request_id()
        if request.path.startswith(PREFIX):
            return Reply(handle_admin(self._backend, request, rid, admin_token=self._admin_token))
        return handle_api(self._backend, request, rid)
