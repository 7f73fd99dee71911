"""A Slack Web API that answers what a test scripts, for the answers FakeSlack does not give on
demand: a 5xx, a 429 with the header spelt otherwise or missing, a body that is not JSON, a
connection dropped before any answer, a slow answer, an error code a method can return.

Each method answers from its queue of scripted replies, then ``{"ok": true}``.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from standins.http_server import StandinServer, read_request


@dataclass
class Reply:
    status: int = 200
    body: object = field(default_factory=lambda: {"ok": True})  # dict → JSON; str → as is
    headers: dict = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    delay: float = 0.0


def error(code: str, status: int = 200, **headers) -> Reply:
    return Reply(status, {"ok": False, "error": code}, headers)


class ScriptedSlack(StandinServer):
    def __init__(self):
        self._lock = threading.Lock()
        self._script: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, dict]] = []  # (method, parameters)

    def script(self, method: str, *replies: Reply) -> None:
        with self._lock:
            self._script.setdefault(method, []).extend(replies)

    def calls(self, method: str) -> list[dict]:
        with self._lock:
            return [params for name, params in self.requests if name == method]

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def _serve(self, req) -> None:
        request, raw = read_request(req)
        method = request.path.removeprefix("/api/")
        params = dict(request.query)
        params.update(request.body if isinstance(request.body, dict) else {
            k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()})
        with self._lock:
            self.requests.append((method, params))
            queue = self._script.get(method) or []
            reply = queue.pop(0) if queue else Reply()
        time.sleep(reply.delay)
        if reply.drop:
            req.close_connection = True
            return
        data = (reply.body if isinstance(reply.body, str) else json.dumps(reply.body)).encode()
        req.send_response(reply.status)
        req.send_header("Content-Type", "application/json" if isinstance(reply.body, dict) else "text/html")
        req.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            req.send_header(name, value)
        req.end_headers()
        req.wfile.write(data)
