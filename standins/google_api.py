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
"""
from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from .http_server import StandinServer, send_json

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # google-auth puts this in ``aud``, whatever token_uri is
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DRIVE_READONLY = "https://www.googleapis.com/auth/drive.readonly"
DRIVE_FULL = "https://www.googleapis.com/auth/drive"

DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
SLIDES = "application/vnd.google-apps.presentation"
FOLDER = "application/vnd.google-apps.folder"
_EXPORTS = {  # a subset of what Drive offers, enough to tell a right request from a wrong one
    DOC: {"text/plain", "text/html", "application/pdf", "application/rtf", "text/markdown",
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    SHEET: {"text/csv", "text/tab-separated-values", "application/pdf",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    SLIDES: {"text/plain", "application/pdf",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
}
EXPORT_LIMIT = 10 * 1024 * 1024  # Drive refuses to export larger files

_STATUS_NAMES = {400: ("badRequest", "INVALID_ARGUMENT"), 401: ("authError", "UNAUTHENTICATED"),
                 403: ("forbidden", "PERMISSION_DENIED"), 404: ("notFound", "NOT_FOUND"),
                 429: ("rateLimitExceeded", "RESOURCE_EXHAUSTED"), 500: ("internalError", "INTERNAL"),
                 502: ("backendError", "UNAVAILABLE"), 503: ("backendError", "UNAVAILABLE")}
API_NOT_ENABLED = ("Google Drive API has not been used in project 123456789012 before or it is disabled. "
                   "Enable it by visiting https://console.developers.google.com/apis/api/drive.googleapis.com/"
                   "overview?project=123456789012 then retry.")


@dataclass
class Seen:
    """One request as the stand-in received it."""

    method: str
    raw_path: str               # as sent, still percent-encoded
    path: str                   # decoded
    query: dict                 # name -> value (the last one if repeated)
    headers: dict               # name (lower case) -> value
    form: dict = field(default_factory=dict)  # POST form fields
    status: int = 0

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class GoogleError(Exception):
    def __init__(self, status: int, message: str, reason: str | None = None, location: str | None = None,
                 domain: str = "global"):
        super().__init__(message)
        self.status, self.message, self.reason, self.location, self.domain = status, message, reason, location, domain

    def body(self) -> dict:
        reason, status_name = _STATUS_NAMES.get(self.status, ("unknown", "UNKNOWN"))
        item = {"domain": self.domain, "reason": self.reason or reason, "message": self.message}
        if self.location:
            item.update(locationType="parameter" if self.location != "Authorization" else "header",
                        location=self.location)
        return {"error": {"code": self.status, "message": self.message, "errors": [item], "status": status_name}}


def invalid_value(location: str) -> GoogleError:
    return GoogleError(400, "Invalid Value", "invalid", location)


# ---------------------------------------------------------------------------- service-account keys


def new_rsa_key() -> tuple[str, str]:
    """(private key PEM, public key PEM) of a fresh 2048-bit RSA key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def service_account_info(token_uri: str, private_pem: str, private_key_id: str,
                         client_email: str = "threadwise-drive@threadwise-test.iam.gserviceaccount.com",
                         project_id: str = "threadwise-test") -> dict:
    """A key file's contents, shaped like the JSON the Cloud console downloads."""
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": private_key_id,
        "private_key": private_pem,
        "client_email": client_email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                + client_email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }


# ---------------------------------------------------------------------------- Drive's query language

_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<op>!=|<=|>=|=|<|>)|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<quote>'))")
_WORD_SPLIT = re.compile(r"[^0-9a-z]+")


def tokenize(q: str) -> list[tuple[str, str]]:
    """[(kind, value)] with kind in paren/op/word/string; GoogleError 400 on anything malformed."""
    tokens, i = [], 0
    while True:
        while i < len(q) and q[i].isspace():
            i += 1
        if i >= len(q):
            return tokens
        match = _TOKEN.match(q, i)
        if not match:
            raise invalid_value("q")
        i = match.end()
        if match.group("quote"):
            chars = []
            while True:
                if i >= len(q):
                    raise invalid_value("q")  # unterminated string
                c = q[i]
                if c == "\\":
                    if i + 1 >= len(q) or q[i + 1] not in "\\'":
                        raise invalid_value("q")
                    chars.append(q[i + 1])
                    i += 2
                elif c == "'":
                    i += 1
                    break
                else:
                    chars.append(c)
                    i += 1
            tokens.append(("string", "".join(chars)))
        else:
            kind = match.lastgroup
            tokens.append((kind, match.group(kind)))


def _words(text: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(text.lower()) if w]


def name_contains(name: str, value: str) -> bool:
    """Prefix matching on the words of the name: 'Hello' finds "HelloWorld", 'World' does not."""
    name, value = name.lower(), value.lower()
    start = name.find(value)
    while start != -1:
        if start == 0 or not name[start - 1].isalnum():
            return True
        start = name.find(value, start + 1)
    return False


def full_text_contains(text: str, value: str) -> bool:
    """Whole words, in order: 'road' does not find "roadmap"."""
    wanted, words = _words(value), _words(text)
    if not wanted:
        return True
    return any(words[i:i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


class _QueryParser:
    def __init__(self, tokens):
        self.tokens, self.i = tokens, 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise invalid_value("q")
        self.i += 1
        return tok

    def parse(self):
        expr = self.or_expr()
        if self.i != len(self.tokens):
            raise invalid_value("q")
        return expr

    def or_expr(self):
        parts = [self.and_expr()]
        while self.peek() == ("word", "or"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda f, ps=parts: any(p(f) for p in ps))

    def and_expr(self):
        parts = [self.unary()]
        while self.peek() == ("word", "and"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda f, ps=parts: all(p(f) for p in ps))

    def unary(self):
        tok = self.peek()
        if tok == ("word", "not"):
            self.take()
            inner = self.unary()
            return lambda f: not inner(f)
        if tok == ("paren", "("):
            self.take()
            inner = self.or_expr()
            self.take("paren", ")")
            return inner
        return self.comparison()

    def comparison(self):
        _, name = self.take("word")
        kind, op = self.peek()
        if kind == "word" and op == "contains":
            self.take()
        else:
            _, op = self.take("op")
        value_kind, value = self.take()
        if name in ("name", "fullText", "mimeType"):
            if value_kind != "string":
                raise invalid_value("q")
            if name == "name" and op == "contains":
                return lambda f: name_contains(f["name"], value)
            if name == "fullText" and op == "contains":
                return lambda f: full_text_contains(f["name"] + "\n" + f["_text"], value)
            if name in ("name", "mimeType") and op in ("=", "!="):
                return lambda f: (f[name] == value) == (op == "=")
        if name == "trashed" and op in ("=", "!=") and value_kind == "word" and value in ("true", "false"):
            return lambda f: (f["trashed"] == (value == "true")) == (op == "=")
        raise invalid_value("q")


def parse_query(q: str):
    """A predicate over stored files; GoogleError 400 "Invalid Value" when Drive would refuse ``q``."""
    return _QueryParser(tokenize(q)).parse()


# ---------------------------------------------------------------------------- partial responses (fields=)


def parse_fields(text: str) -> dict:
    """``files(id,permissions(type)),nextPageToken`` -> {"files": {"id": True, "permissions": {"type": True}}, ...}."""
    pos = 0

    def items(depth):
        nonlocal pos
        out = {}
        while True:
            match = re.compile(r"\s*([A-Za-z_*][A-Za-z0-9_]*)\s*").match(text, pos)
            if not match:
                raise invalid_value("fields")
            pos = match.end()
            key = match.group(1)
            if pos < len(text) and text[pos] == "(":
                pos += 1
                out[key] = items(depth + 1)
                if pos >= len(text) or text[pos] != ")":
                    raise invalid_value("fields")
                pos += 1
            else:
                out[key] = True
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            if depth == 0 and pos != len(text):
                raise invalid_value("fields")
            return out

    return items(0)


def select(value, selection):
    if selection is True or selection.get("*") is True:
        return copy.deepcopy(value)
    if isinstance(value, list):
        return [select(v, selection) for v in value]
    if not isinstance(value, dict):
        return copy.deepcopy(value)
    return {k: select(value[k], sub) for k, sub in selection.items() if k in value}


# ---------------------------------------------------------------------------- the server


class FakeGoogle(StandinServer):
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

    # ------------------------------------------------------------ lifecycle
    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    # ------------------------------------------------------------ service accounts
    def service_account(self, client_email: str = "threadwise-drive@threadwise-test.iam.gserviceaccount.com",
                        register: bool = True) -> dict:
        """A new key for ``client_email`` as key-file JSON; ``register=False`` makes a key Google does not know."""
        private_pem, public_pem = new_rsa_key()
        kid = secrets.token_hex(20)
        if register:
            with self._lock:
                self._accounts.setdefault(client_email, {})[kid] = public_pem
        return service_account_info(self.token_uri, private_pem, kid, client_email)

    def write_key_file(self, path, register: bool = True, **changes) -> str:
        info = self.service_account(register=register)
        info.update(changes)
        with open(path, "w", encoding="utf-8") as out:
            json.dump(info, out, indent=2)
        return str(path)

    def revoke_tokens(self):
        with self._lock:
            self._tokens.clear()

    # ------------------------------------------------------------ files
    def add_file(self, name: str, mime_type: str, content: str | bytes = b"",
                 permissions: list[dict] | None = None, *, file_id: str | None = None, trashed: bool = False,
                 endless: bool = False) -> dict:
        """A file in the service account's view of Drive. ``permissions=None``: Drive hides them from us.
        ``endless=True``: ``alt=media`` streams ``content`` over and over until the client hangs up."""
        with self._lock:
            file_id = file_id or "1" + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
            if mime_type == DOC:
                link = f"https://docs.google.com/document/d/{file_id}/edit?usp=drivesdk"
            elif mime_type == SHEET:
                link = f"https://docs.google.com/spreadsheets/d/{file_id}/edit?usp=drivesdk"
            elif mime_type == SLIDES:
                link = f"https://docs.google.com/presentation/d/{file_id}/edit?usp=drivesdk"
            elif mime_type == FOLDER:
                link = f"https://drive.google.com/drive/folders/{file_id}"
            else:
                link = f"https://drive.google.com/file/d/{file_id}/view?usp=drivesdk"
            resource = {"kind": "drive#file", "id": file_id, "name": name, "mimeType": mime_type,
                        "trashed": trashed, "webViewLink": link}
            if not mime_type.startswith("application/vnd.google-apps."):
                resource["size"] = str(len(data))
            if permissions is not None:
                resource["permissions"] = [
                    {"kind": "drive#permission", "id": p.get("id") or f"perm{n}", "role": "reader", **p}
                    for n, p in enumerate(permissions)]
            self._files.append({"resource": resource, "data": data, "_text": text, "endless": endless})
            return copy.deepcopy(resource)

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

    # ------------------------------------------------------------ records
    def drive_requests(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/drive/")]

    def token_requests(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == "/token"]

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

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

    # ------------------------------------------------------------ OAuth 2.0
    def _token(self, form: dict) -> tuple[int, dict]:
        from google.auth import exceptions, jwt

        if form.get("grant_type") != JWT_GRANT:
            return 400, {"error": "unsupported_grant_type",
                         "error_description": f"Invalid grant_type: {form.get('grant_type', '')}"}
        assertion = form.get("assertion", "")
        try:
            claims = jwt.decode(assertion, verify=False)
        except (ValueError, exceptions.GoogleAuthError):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token "
                                                                        "(60 minutes) and in a reasonable timeframe."}
        with self._lock:
            keys = dict(self._accounts.get(claims.get("iss"), {}))
        if not keys:
            return 400, {"error": "invalid_grant", "error_description": "Invalid grant: account not found"}
        try:
            claims = jwt.decode(assertion, certs=keys, audience=[GOOGLE_TOKEN_URI, self.token_uri],
                                clock_skew_in_seconds=30)
        except (ValueError, exceptions.GoogleAuthError) as error:
            if "audience" in str(error).lower():
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: Failed audience check."}
            if "expired" in str(error).lower() or "too early" in str(error).lower():
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a "
                             "short-lived token (60 minutes) and in a reasonable timeframe."}
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived "
                         "token (60 minutes) and in a reasonable timeframe."}
        scopes = str(claims.get("scope") or "").split()
        if self.scope not in scopes and DRIVE_FULL not in scopes:
            return 400, {"error": "invalid_scope",
                         "error_description": "Invalid OAuth scope or ID token audience provided."}
        token = "ya29.stand-in-" + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime
        return 200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}

    def _authorize(self, seen: Seen):
        scheme, _, token = (seen.authorization or "").partition(" ")
        with self._lock:
            expiry = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None or expiry < time.time():
            raise GoogleError(401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                                   "token, login cookie or other valid authentication credential.",
                              "authError" if seen.authorization else "required", "Authorization")

    # ------------------------------------------------------------ Drive v3
    def _find(self, file_id: str) -> dict:
        with self._lock:
            for f in self._files:
                if f["resource"]["id"] == file_id:
                    return f
        raise GoogleError(404, f"File not found: {file_id}.", "notFound", "fileId")

    def _list(self, query: dict) -> dict:
        matches = parse_query(query["q"]) if "q" in query else (lambda f: True)
        try:
            page_size = int(query.get("pageSize", "100"))
        except ValueError:
            raise invalid_value("pageSize") from None
        if not 1 <= page_size <= 1000:
            raise invalid_value("pageSize")
        try:
            offset = int(query.get("pageToken", "0"))
        except ValueError:
            raise invalid_value("pageToken") from None
        if query.get("includeItemsFromAllDrives") == "true" and query.get("supportsAllDrives") != "true":
            raise GoogleError(403, "The includeItemsFromAllDrives parameter can only be set to true when "
                                   "supportsAllDrives is also set to true.", "teamDrivesParameterNotSupported")
        selection = parse_fields(query["fields"]) if "fields" in query else \
            {"kind": True, "incompleteSearch": True, "nextPageToken": True,
             "files": {"kind": True, "id": True, "name": True, "mimeType": True}}
        with self._lock:
            found = [dict(f["resource"], _text=f["_text"]) for f in self._files]
        found = [f for f in found if matches(f)]
        page = found[offset:offset + page_size]
        body = {"kind": "drive#fileList", "incompleteSearch": False,
                "files": [{k: v for k, v in f.items() if k != "_text"} for f in page]}
        if offset + page_size < len(found):
            body["nextPageToken"] = str(offset + page_size)
        return select(body, selection)

    def _get(self, req, seen: Seen, file_id: str, query: dict):
        stored = self._find(file_id)
        resource = stored["resource"]
        if query.get("alt") != "media":
            selection = parse_fields(query["fields"]) if "fields" in query else \
                {"kind": True, "id": True, "name": True, "mimeType": True}
            return self._send_json(req, seen, 200, select(resource, selection))
        if resource["mimeType"].startswith("application/vnd.google-apps."):
            raise GoogleError(403, "Only files with binary content can be downloaded. Use Export with Docs "
                                   "Editors files.", "fileNotDownloadable", "alt")
        if not stored["endless"]:
            return self._send_bytes(req, seen, resource["mimeType"], stored["data"])
        # No Content-Length: the body ends when the connection does (HTTP/1.0).
        seen.status = 200
        state = {"sent": 0, "done": False}
        with self._lock:
            self.streams[file_id] = state
        req.send_response(200)
        req.send_header("Content-Type", resource["mimeType"])
        req.end_headers()
        chunk = (stored["data"] or b"x") * max(1, 65536 // max(1, len(stored["data"] or b"x")))
        try:
            while state["sent"] < 2 * 1024 ** 3:
                req.wfile.write(chunk)
                state["sent"] += len(chunk)
        except OSError:
            pass
        finally:
            state["done"] = True
            req.close_connection = True

    def _export(self, req, seen: Seen, file_id: str, query: dict):
        stored = self._find(file_id)
        mime = stored["resource"]["mimeType"]
        if mime not in _EXPORTS:
            raise GoogleError(403, "Export only supports Docs Editors files.", "fileNotExportable")
        wanted = query.get("mimeType")
        if not wanted:
            raise GoogleError(400, "Required parameter: mimeType", "required", "mimeType")
        if wanted not in _EXPORTS[mime]:
            raise GoogleError(400, "The requested conversion is not supported.", "badRequest", "convertTo")
        if len(stored["data"]) > EXPORT_LIMIT:
            raise GoogleError(403, "This file is too large to be exported.", "exportSizeLimitExceeded")
        data = stored["data"]
        if mime == DOC and wanted == "text/plain":
            data = "\ufeff".encode("utf-8") + data  # Docs' plain-text export starts with a byte order mark
        return self._send_bytes(req, seen, wanted if wanted.startswith("application/") else wanted + "; charset=utf-8",
                                data)


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
