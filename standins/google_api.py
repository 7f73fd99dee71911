"""FakeGoogle: an in-process stand-in for Google's OAuth 2.0 token endpoint and the Drive v3 API, for tests.

* ``POST /token`` takes the JWT-bearer grant a service account makes (what
  google-auth sends for a key file): the assertion's signature is checked
  against the public key registered for its ``iss``, and ``aud``, ``iat``/``exp``
  and the ``scope`` claim are checked; the answer is an access token, or 400
  ``invalid_grant`` as Google gives it.
* ``GET /drive/v3/files`` (search), ``GET /drive/v3/files/{id}`` (metadata or
  ``alt=media``) and ``GET /drive/v3/files/{id}/export`` need a token it issued
  (401 otherwise). The ``q`` parameter is parsed as Drive's query language —
  string literals with ``\\'`` and ``\\\\`` escapes, ``contains``/``=``/``!=``,
  ``and``/``or``/``not``, parentheses — and a malformed query is a 400
  "Invalid Value", like Drive. ``fields`` selects what comes back, and a file
  added with ``permissions=None`` has no ``permissions`` field, as Drive answers
  callers who cannot share the file.

Matching, as Drive documents it: ``name contains`` is a case-insensitive prefix
match on the words of the name; ``fullText contains`` matches whole words (a
phrase in order) of the name and the text. Results keep the order files were
added in (Drive orders by relevance). Standard library plus google-auth and
cryptography (which the code under test needs anyway).

The server, the request records and the scripted faults live here; the token endpoint and the
service-account keys in ``google_oauth.py``, the Drive files and methods in ``google_drive.py``, the
``q``/``fields`` parsing in ``google_drive_query.py``, the request record and Google's error body in
``google_wire.py``. Their public names are importable from here too.
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from .google_drive import DOC, EXPORT_LIMIT, FOLDER, SHEET, SLIDES, DriveFiles  # noqa: F401 (re-exported)
from .google_drive_query import (full_text_contains, name_contains, parse_fields, parse_query,  # noqa: F401
                                 select, tokenize)
from .google_oauth import (DRIVE_FULL, DRIVE_READONLY, GOOGLE_TOKEN_URI, JWT_GRANT,  # noqa: F401
                           OAuthEndpoint, new_rsa_key, service_account_info)
from .google_wire import GoogleError, Seen, invalid_value  # noqa: F401
from .http_server import StandinServer, send_json

API_NOT_ENABLED = ("Google Drive API has not been used in project 123456789012 before or it is disabled. "
                   "Enable it by visiting https://console.developers.google.com/apis/api/drive.googleapis.com/"
                   "overview?project=123456789012 then retry.")


class FakeGoogle(OAuthEndpoint, DriveFiles, StandinServer):
    def __init__(self, scope: str = DRIVE_READONLY, token_lifetime: int = 3600):
        self.scope = scope                   # a token is issued only if the assertion asks for it (or full drive)
        self.token_lifetime = token_lifetime
        self.requests: list[Seen] = []
        self.streams: dict[str, dict] = {}   # file id -> {"sent": bytes written, "done": bool} for endless files
        self._lock = threading.RLock()
        self._accounts: dict[str, dict[str, str]] = {}  # client_email -> {kid: public PEM}
        self._tokens: dict[str, float] = {}  # access token -> expiry (time.time())
        self._files: list[dict] = []
        self._failures: list[dict] = []
        self._latency: list[tuple[str | None, float]] = []

    # ------------------------------------------------------------ knobs
    def fail_next(self, status: int, count: int = 1, reason: str | None = None, message: str | None = None,
                  path_contains: str | None = "/drive/"):
        """The next ``count`` requests whose path contains ``path_contains`` get a Google error."""
        with self._lock:
            self._failures.append({"status": status, "count": count, "reason": reason, "path": path_contains,
                                   "message": message or {400: "Bad Request", 401: "Invalid Credentials",
                                                          403: "The caller does not have permission",
                                                          429: "Quota exceeded", 500: "Internal Error",
                                                          503: "Service Unavailable"}.get(status, "Error")})

    def redirect_next(self, location: str, count: int = 1, path_contains: str | None = "/drive/"):
        """The next ``count`` matching requests are answered ``302 Location: location``."""
        with self._lock:
            self._failures.append({"status": 302, "count": count, "location": location, "path": path_contains})

    def set_latency(self, seconds: float, path_contains: str | None = None):
        with self._lock:
            self._latency = [(p, s) for p, s in self._latency if p != path_contains] + [(path_contains, seconds)]

    # ------------------------------------------------------------ serving
    def _serve(self, req: BaseHTTPRequestHandler):
        url = urlsplit(req.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        seen = Seen(req.command, url.path, unquote(url.path), query, {k.lower(): v for k, v in req.headers.items()})
        form = {}
        if req.command == "POST":
            length = int(req.headers.get("Content-Length") or 0)
            raw = req.rfile.read(length).decode("utf-8", "replace") if length else ""
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            seen.form = form
        with self._lock:
            self.requests.append(seen)
            delay = max([s for p, s in self._latency if p is None or p in seen.path] or [0])
            forced = next((f for f in self._failures if f["count"] > 0
                           and (f["path"] is None or f["path"] in seen.path)), None)
            if forced:
                forced["count"] -= 1
        if delay:
            time.sleep(delay)
        headers = {}
        try:
            if forced and forced["status"] == 302:
                seen.status = 302
                req.send_response(302)
                req.send_header("Location", forced["location"])
                req.send_header("Content-Length", "0")
                req.end_headers()
                return
            if forced:
                raise GoogleError(forced["status"], forced["message"], forced["reason"],
                                  domain="usageLimits" if forced["reason"] == "accessNotConfigured" else "global")
            if url.path == "/token" and req.command == "POST":
                status, body = self._token(form)
                return self._send_json(req, seen, status, body)
            if req.command != "GET" or not seen.path.startswith("/drive/v3/files"):
                raise GoogleError(404, "Not Found", "notFound")
            self._authorize(seen)
            segments = [unquote(s) for s in url.path.split("/")[4:]]  # after /drive/v3/files
            if not segments:
                return self._send_json(req, seen, 200, self._list(query))
            if len(segments) == 1:
                return self._get(req, seen, segments[0], query)
            if len(segments) == 2 and segments[1] == "export":
                return self._export(req, seen, segments[0], query)
            raise GoogleError(404, "Not Found", "notFound")
        except GoogleError as error:
            if error.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
            return self._send_json(req, seen, error.status, error.body(), headers)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as error:  # a stand-in bug must show, not hang the client
            return self._send_json(req, seen, 500, GoogleError(500, f"stand-in bug: {error!r}").body())

    def _send_json(self, req, seen: Seen, status: int, body: dict, headers: dict | None = None):
        seen.status = status
        try:
            send_json(req, status, body, headers, content_type="application/json; charset=UTF-8")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_bytes(self, req, seen: Seen, mime: str, data: bytes):
        seen.status = 200
        req.send_response(200)
        req.send_header("Content-Type", mime)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)


class Recorder(StandinServer):
    """A second server on 127.0.0.1 that records whatever GET reaches it (e.g. a followed redirect) and answers 200."""

    def __init__(self):
        self.requests: list[Seen] = []

    def _serve_get(self, req: BaseHTTPRequestHandler) -> None:
        url = urlsplit(req.path)
        self.requests.append(Seen("GET", url.path, unquote(url.path), {},
                                  {k.lower(): v for k, v in req.headers.items()}, status=200))
        body = b'{"kind":"drive#fileList","files":[]}'
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    @property
    def url(self) -> str:
        return self.base_url
