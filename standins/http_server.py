"""What the HTTP stand-ins (FakeSlack, FakeNotion, FakeGitHub, FakeGoogle) share.

``StandinServer`` is the lifecycle: ``start()`` serves on 127.0.0.1 on a free
port from a daemon thread and returns the stand-in, ``stop()`` shuts the server
down and waits for the thread, and ``with Fake() as fake:`` does both. Every
GET and POST goes to the stand-in's ``_serve(handler)`` (GET through
``_serve_get``, which a stand-in may override to route some paths elsewhere).

``Request``, ``read_request`` and ``send_json`` are the request record and the
JSON answer of the stand-ins whose APIs speak JSON both ways.
Standard library only.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

_S = TypeVar("_S", bound="StandinServer")


class StandinHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default 5 drops SYNs under bursts; clients then stall ~1 s


class StandinHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.fake._serve_get(self)

    def do_POST(self):
        self.server.fake._serve(self)

    def log_message(self, *args):  # keep pytest output clean
        pass


class StandinServer:
    """Base of a stand-in: subclasses implement ``_serve(handler)``."""

    server_class: type[ThreadingHTTPServer] = StandinHTTPServer
    handler_class: type[BaseHTTPRequestHandler] = StandinHandler
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self: _S) -> _S:
        self._server = self.server_class(("127.0.0.1", 0), self.handler_class)
        self._server.fake = self
        # Short poll interval: shutdown() waits for it, and tests stop servers often.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve_get(self, req: BaseHTTPRequestHandler) -> None:
        self._serve(req)

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        req.send_error(501, f"Unsupported method ({req.command!r})")


@dataclass
class Request:
    """One request as a stand-in received it."""

    method: str
    path: str
    query: dict          # query string, last value of each key
    headers: dict        # as sent (names as the client spelled them)
    body: object = None  # parsed JSON, raw text, or None
    status: int = 0


def read_request(req: BaseHTTPRequestHandler) -> tuple[Request, bytes]:
    """The request's record, and its body as sent."""
    url = urlsplit(req.path)
    length = int(req.headers.get("Content-Length") or 0)
    raw = req.rfile.read(length) if length else b""
    body: object = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    return Request(req.command, url.path, {k: v[-1] for k, v in parse_qs(url.query).items()},
                   dict(req.headers.items()), body), raw


def send_json(req: BaseHTTPRequestHandler, status: int, payload: object, headers: dict | None = None,
              content_type: str = "application/json; charset=utf-8") -> None:
    """``payload`` as JSON (None: an empty body, without Content-Type), then ``headers``."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8") if payload is not None else b""
    req.send_response(status)
    if data:
        req.send_header("Content-Type", content_type)
    req.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        req.send_header(name, value)
    req.end_headers()
    req.wfile.write(data)
