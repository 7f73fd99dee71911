"""Google Drive search: files matching the query that the asker could open, with their text.

The tool runs with the operator's service account (a key file, or the
function's own account through Application Default Credentials), which may
see files the person asking in Slack cannot. So every result is checked
against the file's ``permissions``: a file is kept only when a permission
shows the asker could open it — shared with anyone, with the asker's domain,
or with the asker's email address. Drive hides the permission list from
callers who cannot share the file, and a group's members are not known here;
such files cannot be checked and are left out, and the model is told how many.

The access token is sent only to the configured Drive API host (knowledge/http.py's
HostBearer) and redirects are never followed. Each file's text is read as a
stream with a byte bound, so a huge file costs at most a few tens of kilobytes.
"""
from __future__ import annotations

import codecs
import json
import threading
import time
import urllib.parse
from typing import Callable

from threadwise.knowledge import toolbox as knowledge
from threadwise import logs
from threadwise.config import KnowledgeSettings
from slack_client import SlackGateway
from threadwise.knowledge.toolbox import Asker, Found, ToolFailed, ToolOutput

SCOPES = ["https://www.googleapis.com/auth/drive.readonly"]

GOOGLE_DOC = "application/vnd.google-apps.document"
GOOGLE_SHEET = "application/vnd.google-apps.spreadsheet"
GOOGLE_SLIDES = "application/vnd.google-apps.presentation"
# Docs Editors files are exported; Sheets as CSV gives only the first sheet.
EXPORT_AS = {GOOGLE_DOC: "text/plain", GOOGLE_SHEET: "text/csv", GOOGLE_SLIDES: "text/plain"}
TEXT_LIKE = ("application/json",)  # besides text/*

MAX_TEXT_CHARS = 8_000
MAX_LIST_BYTES = 2_000_000  # a page of search results
MAX_ERROR_BYTES = 64_000
MAX_PAGES = 3
FIELDS = "files(id,name,mimeType,webViewLink,permissions(type,role,emailAddress,domain)),nextPageToken"

REFUSED = "Google Drive credentials were refused; ask the operator to check GOOGLE_DRIVE_CREDENTIALS."
UNLOADABLE = "Google Drive credentials could not be loaded; ask the operator to check GOOGLE_DRIVE_CREDENTIALS."
SIGN_IN_UNAVAILABLE = "Google sign-in did not answer; try again later."
FORBIDDEN = ("Google Drive refused the search: the Drive API may not be enabled for the project, "
             "or the service account lacks access; ask the operator to check.")
BUSY = "Google Drive is busy or unavailable right now; try again later."
TIMED_OUT = "Google Drive did not answer in time; try again later."
UNREACHABLE = "Google Drive could not be reached; try again later."
BAD_QUERY = "Google Drive did not accept the search; try other keywords."
UNEXPECTED = "Google Drive answered in an unexpected way."

_RATE_REASONS = ("rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded")

log = logs.get(__name__)


def drive_string(value: str) -> str:
    """``value`` as the inside of a Drive query string literal: ``\\`` → ``\\\\``, ``'`` → ``\\'``."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def search_query(query: str) -> str:
    v = drive_string(query)
    return f"(name contains '{v}' or fullText contains '{v}') and trashed = false"


def asker_could_open(permissions: list | None, email: str | None, personal: bool = True) -> bool:
    """Whether a permission shows that the person with ``email`` could open the file.

    ``personal=False`` (the answer is posted where others read it): a file shared
    with the asker alone does not count, only the domain or anyone with the link.
    """
    if not isinstance(permissions, list):
        return False
    email = (email or "").strip().lower()
    domain = email.rpartition("@")[2] if "@" in email else ""
    for permission in permissions:
        if not isinstance(permission, dict):
            continue
        kind = permission.get("type")
        if kind == "anyone":
            return True
        if kind == "domain" and domain and str(permission.get("domain") or "").strip().lower() == domain:
            return True
        if kind == "user" and personal and email and str(permission.get("emailAddress") or "").strip().lower() == email:
            return True
    return False


class _Failed(Exception):
    """A request to Drive failed; ``sentence`` is for the model."""

    def __init__(self, sentence: str, status: int | None = None, reason: str | None = None):
        super().__init__(sentence)
        self.sentence, self.status, self.reason = sentence, status, reason


def build(knowledge: KnowledgeSettings, slack: SlackGateway) -> DriveSearch:
    """The registry's factory (knowledge/registry.py): on when GOOGLE_DRIVE_CREDENTIALS is set. A result is
    kept when the asker could open it, so the tool looks the asker's email address up in Slack."""
    return DriveSearch(knowledge.google_drive_credentials, knowledge.google_api_url, slack.email_of)


class DriveSearch:
    name = "search_google_drive"
    status = "Searching Google Drive…"
    parameters = knowledge.QUERY_PARAMETERS
    description = ("Search the team's Google Drive (Docs, Sheets, Slides and text files) by keywords. "
                   "Returns the matching files' names, links and text; only files the person asking "
                   "can open are returned.")

    def __init__(self, credentials_setting: str, api_url: str, email_of: Callable[[str], str | None],
                 max_files: int = 5, timeout: float = 10.0):
        self._setting = credentials_setting.strip()
        self._api_url = api_url.rstrip("/")
        parts = urllib.parse.urlsplit(self._api_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("the Google API URL must be an http(s) URL")
        self._origin = (parts.scheme, parts.netloc.lower())
        self._email_of = email_of
        self._max_files = max(1, int(max_files))
        self._timeout = float(timeout)
        self._credentials = None
        self._auth_request = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the tool
    def run(self, arguments: dict, asker: Asker) -> ToolOutput:
        query = knowledge.query_of(arguments)
        email = self._asker_email(asker)
        import requests

        with requests.Session() as session:
            files, left_out = self._search(session, query, email, asker.private_answer)
            deadline = time.monotonic() + 3 * self._timeout
            found = [self._found(session, file, deadline) for file in files]
        note = None
        if left_out:
            note = (f"{left_out} result{'s were' if left_out != 1 else ' was'} left out because the asker's "
                    f"access to {'them' if left_out != 1 else 'it'} could not be confirmed"
                    + ("." if asker.private_answer else
                       ", or because only the asker may open them and this answer is posted where others read it "
                       "(the asker can ask in a DM with the bot)."))
        return ToolOutput(found, note)

    def _asker_email(self, asker: Asker) -> str | None:
        try:
            email = self._email_of(asker.user_id)
        except Exception as error:  # unknown email: only files shared with anyone are shown
            log.warning("drive: asker email lookup failed", error=type(error).__name__)
            return None
        return email.strip() if isinstance(email, str) and "@" in email else None

    def _search(self, session, query: str, email: str | None, personal: bool) -> tuple[list[dict], int]:
        kept: list[dict] = []
        left_out = 0
        params = {
            "q": search_query(query),
            "fields": FIELDS,
            "pageSize": str(min(100, max(10, 4 * self._max_files))),
            "supportsAllDrives": "true",
            "includeItemsFromAllDrives": "true",
        }
        for _ in range(MAX_PAGES):
            page = self._list(session, params)
            for file in page.get("files") or []:
                if not isinstance(file, dict) or not isinstance(file.get("id"), str):
                    continue
                if asker_could_open(file.get("permissions"), email, personal):
                    kept.append(file)
                else:
                    left_out += 1
            token = page.get("nextPageToken")
            if len(kept) >= self._max_files or not isinstance(token, str) or not token:
                break
            params = dict(params, pageToken=token)
        return kept[: self._max_files], left_out

    def _list(self, session, params: dict) -> dict:
        try:
            response = self._get(session, "/drive/v3/files", params)
        except _Failed as failed:
            raise ToolFailed(failed.sentence) from None
        try:
            if response.status_code != 200:
                raise ToolFailed(self._sentence_for(response))
            body, _ = _read(response, MAX_LIST_BYTES, time.monotonic() + self._timeout)
        except _Failed as failed:
            raise ToolFailed(failed.sentence) from None
        finally:
            response.close()
        try:
            page = json.loads(body)
        except ValueError:
            page = None
        if not isinstance(page, dict):
            raise ToolFailed(UNEXPECTED)
        return page

    def _sentence_for(self, response) -> str:
        status = response.status_code
        reason = _error_reason(response)
        log.warning("drive: search failed", status=status, reason=reason)
        if status == 401:
            return REFUSED
        if status == 403:
            return BUSY if reason in _RATE_REASONS else FORBIDDEN
        if status == 429 or status >= 500:
            return BUSY
        if status == 400:
            return BAD_QUERY
        return UNEXPECTED

    # ------------------------------------------------------------------ content
    def _found(self, session, file: dict, deadline: float) -> Found:
        name = file.get("name") if isinstance(file.get("name"), str) else "(untitled)"
        url = file.get("webViewLink") if isinstance(file.get("webViewLink"), str) else ""
        return Found(title=name, url=url, text=self._text(session, file, deadline), source="Google Drive")

    def _text(self, session, file: dict, deadline: float) -> str:
        mime = file.get("mimeType") if isinstance(file.get("mimeType"), str) else ""
        file_id = file["id"]
        if file_id in ("", ".", ".."):
            return "(content not read: unexpected file id)"
        path = "/drive/v3/files/" + urllib.parse.quote(file_id, safe="")
        if mime in EXPORT_AS:
            path, params = path + "/export", {"mimeType": EXPORT_AS[mime]}
        elif mime.startswith("text/") or mime in TEXT_LIKE:
            params = {"alt": "media", "supportsAllDrives": "true"}
        else:
            return f"(content not read: {mime or 'unknown type'})"
        if time.monotonic() >= deadline:
            return "(content not read: out of time)"
        try:
            response = self._get(session, path, params)
        except _Failed as failed:
            log.warning("drive: reading a file failed", error=failed.reason or "request")
            return "(content could not be read)"
        except ToolFailed:  # a new token was needed and refused: keep the other results
            return "(content could not be read)"
        try:
            if response.status_code != 200:
                reason = _error_reason(response)
                log.warning("drive: reading a file failed", status=response.status_code, reason=reason)
                if reason == "exportSizeLimitExceeded":
                    return "(content could not be read: the file is too large to export)"
                return f"(content could not be read: HTTP {response.status_code})"
            data, more = _read(response, MAX_TEXT_CHARS * 4 + 4, deadline)
        except _Failed as failed:
            log.warning("drive: reading a file failed", error=failed.reason or "read")
            return "(content could not be read)"
        finally:
            response.close()
        # Incremental decoding keeps a character cut by the byte bound out of the text.
        text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=not more)
        text = text.removeprefix("\ufeff")  # Docs' text/plain export starts with a byte order mark
        if more or len(text) > MAX_TEXT_CHARS:
            text = text[:MAX_TEXT_CHARS] + " […cut]"
        return text

    # ------------------------------------------------------------------ HTTP
    def _get(self, session, path: str, params: dict, retry_auth: bool = True):
        """A streamed GET to the Drive API host with the bearer token; never follows a redirect."""
        import requests

        from threadwise.knowledge.http import HostBearer

        url = self._api_url + path
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != self._origin:  # the token goes to the API host only
            raise _Failed(UNEXPECTED, reason="foreign host")
        token = self._token()
        try:
            response = session.get(url, params=params, auth=HostBearer(token, self._api_url),
                                   timeout=(self._timeout, self._timeout), allow_redirects=False, stream=True)
        except requests.Timeout:
            raise _Failed(TIMED_OUT, reason="timeout") from None
        except requests.RequestException:
            raise _Failed(UNREACHABLE, reason="unreachable") from None
        if response.status_code == 401 and retry_auth:
            # The token was revoked or expired early: fetch a new one, once.
            response.close()
            self._forget(token)
            return self._get(session, path, params, retry_auth=False)
        return response

    # ------------------------------------------------------------------ credentials
    def _token(self) -> str:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._load()
            if not self._credentials.valid:
                self._refresh()
            token = self._credentials.token
        if not token:
            raise ToolFailed(REFUSED)
        return token

    def _forget(self, token: str) -> None:
        with self._lock:
            if self._credentials is not None and self._credentials.token == token:
                self._credentials.token = None

    def _load(self):
        import google.auth
        import google.auth.exceptions
        from google.oauth2 import service_account

        try:
            if self._setting.lower() == "default":
                credentials, _ = google.auth.default(scopes=SCOPES)
                return credentials
            return service_account.Credentials.from_service_account_file(self._setting, scopes=SCOPES)
        except (OSError, ValueError, KeyError, google.auth.exceptions.GoogleAuthError) as error:
            # The message may quote the file; the log gets the kind of failure only.
            log.warning("drive: credentials could not be loaded", error=type(error).__name__)
            raise ToolFailed(UNLOADABLE) from None

    def _refresh(self) -> None:
        import google.auth.exceptions

        if self._auth_request is None:
            self._auth_request = _TimedRequest(self._timeout)
        try:
            self._credentials.refresh(self._auth_request)
        except google.auth.exceptions.RefreshError as error:
            details = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
            code = details.get("error") if isinstance(details.get("error"), str) else None
            log.warning("drive: token refresh failed", error=type(error).__name__, reason=(code or "")[:60])
            if getattr(error, "retryable", False):
                raise ToolFailed(SIGN_IN_UNAVAILABLE) from None
            raise ToolFailed(REFUSED) from None
        except google.auth.exceptions.TransportError as error:
            log.warning("drive: token refresh failed", error=type(error).__name__)
            raise ToolFailed(SIGN_IN_UNAVAILABLE) from None
        except Exception as error:  # a malformed key, an odd answer from the token endpoint
            log.warning("drive: token refresh failed", error=type(error).__name__)
            raise ToolFailed(REFUSED) from None


class _TimedRequest:
    """google-auth's requests transport with our timeout: the token endpoint must not hold a run for minutes."""

    def __init__(self, timeout: float):
        import google.auth.transport.requests

        self._inner = google.auth.transport.requests.Request()
        self._timeout = timeout

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        return self._inner(url, method=method, body=body, headers=headers, timeout=timeout or self._timeout,
                           **kwargs)


def _read(response, limit: int, deadline: float) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the body; and whether there was more. Stops at the deadline."""
    import requests

    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=16_384):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return b"".join(chunks)[:limit], True
            if time.monotonic() > deadline:
                raise _Failed(TIMED_OUT, reason="slow body")
    except requests.RequestException:
        raise _Failed(TIMED_OUT, reason="body") from None
    return b"".join(chunks), False


def _error_reason(response) -> str | None:
    """The first ``errors[].reason`` of a Google error body, for the log and to tell rate limits apart."""
    try:
        body, _ = _read(response, MAX_ERROR_BYTES, time.monotonic() + 5)
        error = json.loads(body).get("error")
        reasons = [e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)]
        reason = next((r for r in reasons if isinstance(r, str)), None) or error.get("status")
        return reason[:60] if isinstance(reason, str) else None
    except Exception:
        return None
