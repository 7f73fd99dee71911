"""The socket side of FakeOpenAI: one flushed HTTP chunk per event, and a hang-up noticed.

``Conn`` writes a streamed answer (chunked transfer encoding, one chunk per
server-sent event, written straight to the socket so streaming is really
incremental) or a JSON answer, drops the connection on purpose when a script
says so, and watches the socket while it waits, so a client that hangs up is
seen within one wait slice (``ClientGone``). Standard library only.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional

from .openai_script import Recorded


class ClientGone(Exception):
    """The client closed the connection (or the fake is stopping)."""


class Stopping(ClientGone):
    pass


def mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}...{key[-4:]}"


class Conn:
    """Writes to one client socket, one flushed chunk per event, and notices
    the client hanging up."""

    def __init__(self, handler: BaseHTTPRequestHandler, rec: Recorded, stop_event: threading.Event) -> None:
        self.h = handler
        self.sock: socket.socket = handler.connection
        self.rec = rec
        self.stop_event = stop_event
        self.headers_sent = False

    # -- liveness -----------------------------------------------------------
    def _peer_closed(self) -> bool:
        try:
            data = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        return data == b""

    def check(self) -> None:
        if self.stop_event.is_set():
            raise Stopping()
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            raise ClientGone()
        if readable and self._peer_closed():
            raise ClientGone()

    def wait(self, seconds: float) -> None:
        """Sleep, but return early (raising ClientGone) if the client hangs up
        or the fake is stopped."""
        deadline = time.monotonic() + max(0.0, seconds)
        peer_sent_data = False
        while True:
            self.check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            slice_ = min(remaining, 0.05)
            if peer_sent_data:
                # The client sent bytes (not a hang-up): can't select on it
                # without spinning, so poll by sleeping.
                self.stop_event.wait(slice_)
                continue
            try:
                readable, _, _ = select.select([self.sock], [], [], slice_)
            except (OSError, ValueError):
                raise ClientGone()
            if readable:
                if self._peer_closed():
                    raise ClientGone()
                peer_sent_data = True

    # -- writing ------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        self.check()
        try:
            self.h.wfile.write(data)
            self.h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            raise ClientGone()

    def start_stream(self, request_id: str) -> None:
        h = self.h
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "keep-alive")
        h.send_header("x-request-id", request_id)
        h.send_header("openai-processing-ms", "12")
        h.send_header("openai-version", "2020-10-01")
        h.send_header("openai-organization", "org-fake")
        try:
            h.end_headers()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            raise ClientGone()
        self.headers_sent = True
        self.rec.status = 200

    def chunk(self, payload: bytes) -> None:
        self._write(b"%x\r\n%s\r\n" % (len(payload), payload))

    def sse(self, data: Any, event: Optional[str] = None, last: bool = False) -> None:
        """Write one SSE event as one chunk; with last=True the terminal chunk
        goes out in the same write (so a client that stops reading at this
        event never races the end of the body)."""
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        payload = ((f"event: {event}\n" if event else "") + f"data: {text}\n\n").encode("utf-8")
        self._write(b"%x\r\n%s\r\n" % (len(payload), payload) + (b"0\r\n\r\n" if last else b""))

    def end_stream(self) -> None:
        self._write(b"0\r\n\r\n")

    def abort(self, reset: bool = False) -> None:
        """Drop the connection abruptly (no terminal chunk)."""
        self.h.close_connection = True
        try:
            if reset:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.sock.close()
            else:
                self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def json_response(self, status: int, body: Any, extra_headers: Optional[dict] = None,
                      request_id: str = "") -> None:
        self.check()
        payload = json.dumps(body).encode("utf-8")
        h = self.h
        self.rec.status = status
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            if request_id:
                h.send_header("x-request-id", request_id)
            h.send_header("openai-version", "2020-10-01")
            for k, v in (extra_headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            raise ClientGone()
        self.headers_sent = True

