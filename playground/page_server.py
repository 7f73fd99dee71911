"""The playground's web page and the small JSON API behind it, on 127.0.0.1 only.

``GET /api/state?person=U…&since=N`` waits (up to ``LONG_POLL_SECONDS``) until
the workspace changed after version N, then answers the person's whole view:
that is how a reply is seen streaming in. ``POST /api/messages``,
``/api/actions``, ``/api/home`` (the Home tab opened), ``/api/home/actions`` (a
button in it) and ``/api/views/close`` are what a person does. Every POST
must be JSON from this page's own origin, so another web site open in the same
browser cannot make the bot spend tokens; bad input gets a 4xx with a sentence
and changes nothing (a missing, negative, non-numeric or huge ``Content-Length``
included). With a real model key (not practice mode) the page's address carries a
random token, which every API request must show (``X-Playground-Token``): another
program or person on this machine cannot spend the key through it. A browser that
drops a long poll is no error: nothing is printed.
"""
from __future__ import annotations

import json
import mimetypes
import re
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playground.workspace import PlaygroundError, Workspace

STATIC = Path(__file__).resolve().parent / "static"
PAGES = {"/": "index.html", "/index.html": "index.html"}
LONG_POLL_SECONDS = 20
MAX_BODY = 64 * 1024
# A browser that closes its tab, reloads, or switches person drops its long poll: the answer finds the
# connection gone. That is the page's normal life, not an error to print.
DROPPED = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
TOKEN_HEADER = "X-Playground-Token"


class PageServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, port: int, workspace: Workspace, answering: dict, token: str | None = None):
        self.workspace = workspace
        self.answering = answering  # {"practice": bool, "model": str}: the page's banner
        self.token = token  # None: no token asked for (practice mode spends nothing)
        super().__init__(("127.0.0.1", port), PageHandler)

    @property
    def url(self) -> str:
        address = f"http://127.0.0.1:{self.server_address[1]}/"
        return f"{address}?token={self.token}" if self.token else address

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], DROPPED):
            return  # the browser went away mid-request: nothing to tell anyone
        super().handle_error(request, client_address)


class PageHandler(BaseHTTPRequestHandler):
    server: PageServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection (or a body that never comes) is closed, not kept forever

    def log_message(self, *args):  # the terminal shows the one start-up line, not every poll
        pass

    # --- GET ------------------------------------------------------------------
    def do_GET(self):
        if not self._same_host():
            return self._json(403, {"error": "This page is served for 127.0.0.1 and localhost only."})
        url = urlsplit(self.path)
        if not url.path.startswith("/static/") and not self._has_token():
            return self._no_token()
        if url.path in PAGES:
            return self._file(STATIC / PAGES[url.path])
        if url.path.startswith("/static/"):
            name = url.path[len("/static/"):]
            candidate = (STATIC / name).resolve()
            if "/" in name or candidate.parent != STATIC or not candidate.is_file():
                return self._json(404, {"error": "not found"})
            return self._file(candidate)
        if url.path == "/api/state":
            return self._state(parse_qs(url.query))
        return self._json(404, {"error": "not found"})

    def _state(self, query: dict) -> None:
        workspace = self.server.workspace
        try:
            since = int((query.get("since") or ["0"])[0])
        except ValueError:
            return self._json(400, {"error": "since must be a number"})
        version = workspace.slack.wait_for_change(since, LONG_POLL_SECONDS)
        try:
            # A page that has not chosen yet sees the workspace as its first person.
            snapshot = workspace.snapshot((query.get("person") or [""])[0] or workspace.people[0].id)
        except PlaygroundError as error:
            return self._json(400, {"error": str(error)})
        self._json(200, {"version": version, **self.server.answering, **snapshot})

    # --- POST -----------------------------------------------------------------
    def do_POST(self):
        if not self._same_host() or not self._same_origin():
            return self._refuse(403, "Only this page may post here.")
        if not self._has_token():
            return self._no_token()
        if self.headers.get_content_type() != "application/json":
            return self._refuse(415, "Send JSON (Content-Type: application/json).")
        declared = (self.headers.get("Content-Length") or "").strip()
        if not re.fullmatch(r"[0-9]+", declared):  # missing, negative, not a number
            return self._refuse(400, "Send the body's length in bytes as Content-Length.")
        if len(declared) > 9 or int(declared) > MAX_BODY:
            return self._refuse(413, "That request is too large.")
        try:
            body = json.loads(self.rfile.read(int(declared)) or b"null")
        except (ValueError, UnicodeDecodeError):
            return self._json(400, {"error": "The request is not valid JSON."})
        if not isinstance(body, dict):
            return self._json(400, {"error": "Send a JSON object."})
        workspace = self.server.workspace
        try:
            path = urlsplit(self.path).path
            if path == "/api/messages":
                ts = workspace.post(body.get("person"), body.get("channel"), body.get("text"), body.get("thread_ts"))
                return self._json(200, {"ok": True, "ts": ts})
            if path == "/api/actions":
                status = workspace.act(body.get("person"), body.get("channel"), body.get("ts"), body.get("action"),
                                       body.get("block_id"), body.get("action_id"))
                if not 200 <= status < 300:
                    return self._json(502, {"error": f"The bot answered HTTP {status or 'nothing'}."})
                return self._json(200, {"ok": True})
            if path == "/api/home":  # the person opened the bot's Home tab
                workspace.open_home(body.get("person"))
                return self._json(200, {"ok": True})
            if path == "/api/home/actions":
                status = workspace.home_act(body.get("person"), body.get("action_id"))
                if not 200 <= status < 300:
                    return self._json(502, {"error": f"The bot answered HTTP {status or 'nothing'}."})
                return self._json(200, {"ok": True})
            if path == "/api/views/close":
                workspace.close_view(body.get("person"), body.get("view_id"))
                return self._json(200, {"ok": True})
        except PlaygroundError as error:
            return self._json(400, {"error": str(error)})
        return self._json(404, {"error": "not found"})

    # --- answers --------------------------------------------------------------
    def _has_token(self) -> bool:
        expected = self.server.token
        if expected is None:
            return True
        given = self.headers.get(TOKEN_HEADER) or (parse_qs(urlsplit(self.path).query).get("token") or [""])[0]
        return secrets.compare_digest(given.encode(), expected.encode())

    def _no_token(self) -> None:
        return self._refuse(403, "Open the playground at the address it printed when it started (…/?token=…).")

    def _refuse(self, status: int, sentence: str) -> None:
        """A refusal before the body was read: the connection closes, so the unread body is never taken
        for the next request."""
        self.close_connection = True
        return self._json(status, {"error": sentence})

    def _same_host(self) -> bool:
        """Against DNS rebinding: a page served under another name must not reach this API."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        return host in ("127.0.0.1", "localhost")

    def _same_origin(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is None:  # not a browser, or a same-origin request some browsers send without it
            return True
        return urlsplit(origin).hostname in ("127.0.0.1", "localhost") and \
            urlsplit(origin).port == self.server.server_address[1]

    def _file(self, path: Path) -> None:
        data = path.read_bytes()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/javascript":
            kind += "; charset=utf-8"
        self._send(200, data, kind)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        try:
            self.end_headers()
            self.wfile.write(data)
        except DROPPED:  # the browser dropped the request (a long poll, mostly): nobody to answer
            self.close_connection = True
