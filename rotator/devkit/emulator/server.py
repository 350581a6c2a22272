"""An asyncio server on its own event loop in a background thread, so that synchronous tests
can start it, talk to it over real sockets, and stop it cleanly (every connection closed,
every task finished, the loop closed)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from rotator.devkit.emulator.http import Handler, serve_connection

__all__ = ["ServerThread"]

START_TIMEOUT = 10.0


class ServerThread:
    """Runs ``handler`` behind an HTTP/1.1 listener until ``stop``."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: any free port); returns the port once listening."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(host, port), name="composio-emulator", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("the emulator did not start in time")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        return self.port

    def stop(self) -> None:
        """Close the listener and every connection (hung ones too); idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be gone
            loop.call_soon_threadsafe(stopping.set)
        thread.join()
        self._thread = None

    def _run(self, host: str, port: int) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(host, port))
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._ready.set()

    async def _main(self, host: str, port: int) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._on_connect, host, port, reuse_address=True)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            await server.wait_closed()
            for _ in range(3):  # let just-accepted connections enter their try/finally
                await asyncio.sleep(0)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await serve_connection(reader, writer, self._handler)
        finally:
            self._tasks.discard(task)
