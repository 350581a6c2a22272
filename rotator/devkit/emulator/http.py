"""HTTP/1.1 over asyncio streams with h11: keep-alive, Content-Length framing, and the
socket-level misbehaviours (drop, hang, late answer, dripped body) that a ``Reply`` asks for.

Malformed HTTP gets a 400 (or h11's hint, e.g. 431) and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote, urlsplit

import h11

from rotator.devkit.emulator.messages import (
    ApiError,
    Reply,
    Request,
    Response,
    error_response,
    new_request_id,
    reason_phrase,
)

__all__ = ["MAX_BODY", "serve_connection"]

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20
READ_SIZE = 65536
DRIP_CHUNK = 8
Handler = Callable[[Request], Reply]


class _TooLarge(Exception):
    pass


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    """Serve requests on one connection until either side closes it."""
    conn = h11.Connection(h11.SERVER)
    try:
        while await _serve_one(conn, reader, writer, handler):
            conn.start_next_cycle()
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await writer.wait_closed()


async def _serve_one(
    conn: h11.Connection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handler: Handler,
) -> bool:
    """Serve one request; True when the connection may carry another."""
    try:
        request = await _read_request(conn, reader)
    except h11.RemoteProtocolError as exc:
        await _refuse(conn, writer, exc.error_status_hint)
        return False
    except _TooLarge:
        await _refuse(conn, writer, 413)
        return False
    if request is None:
        return False
    try:
        reply = handler(request)
    except Exception:  # a bug in the emulator: answer 500 and keep serving
        log.exception("emulator.handler_failed")
        reply = Reply(error_response(ApiError(500, "Emulator bug"), new_request_id()))
    if reply.hang:
        await _wait_for_eof(reader)
        return False
    if reply.delay > 0:
        await asyncio.sleep(reply.delay)
    if reply.drop or reply.response is None:
        return False
    await _send(conn, writer, reply.response, reply.drip)
    return conn.our_state is h11.DONE and conn.their_state is h11.DONE


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> Request | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                raise _TooLarge
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return _to_request(head, bytes(body))
        else:  # ConnectionClosed (or PAUSED, which cannot happen before EndOfMessage)
            return None


def _to_request(head: h11.Request, body: bytes) -> Request:
    target = urlsplit(head.target.decode("latin-1"))
    headers: dict[str, str] = {}
    for name, value in head.headers:
        key, text = name.decode("latin-1"), value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Request(
        method=head.method.decode("ascii"),
        path=unquote(target.path),
        query=dict(parse_qsl(target.query, keep_blank_values=True)),
        headers=headers,
        body=body,
    )


async def _send(
    conn: h11.Connection, writer: asyncio.StreamWriter, response: Response, drip: float
) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    reason = reason_phrase(response.status).encode()
    head = conn.send(h11.Response(status_code=response.status, headers=headers, reason=reason))
    if drip <= 0:
        writer.write(head + conn.send(h11.Data(data=response.body)) + conn.send(h11.EndOfMessage()))
        await writer.drain()
        return
    writer.write(head)
    for start in range(0, len(response.body), DRIP_CHUNK):
        await writer.drain()
        await asyncio.sleep(drip)
        writer.write(conn.send(h11.Data(data=response.body[start : start + DRIP_CHUNK])))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


async def _refuse(conn: h11.Connection, writer: asyncio.StreamWriter, status: int) -> None:
    """Answer a request we cannot parse or accept, if h11 still lets us, then close."""
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    rid = new_request_id()
    response = error_response(ApiError(status, f"Malformed request: {reason_phrase(status)}"), rid)
    headers = (("x-request-id", rid), ("connection", "close"))
    with contextlib.suppress(h11.LocalProtocolError):
        await _send(conn, writer, response.with_headers(headers), 0.0)


async def _wait_for_eof(reader: asyncio.StreamReader) -> None:
    """Hang: read and discard until the peer closes (or the task is cancelled at stop)."""
    while await reader.read(READ_SIZE):
        pass
