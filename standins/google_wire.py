"""What every part of FakeGoogle shares: the record of a request and Google's JSON error.

``GoogleError`` carries a status and reason and renders the body Google's APIs answer with
(``{"error": {"code", "message", "errors": [...], "status"}}``); the OAuth endpoint, the Drive
methods and the query parser all raise it, and the server (``google_api.py``) sends it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

_STATUS_NAMES = {400: ("badRequest", "INVALID_ARGUMENT"), 401: ("authError", "UNAUTHENTICATED"),
                 403: ("forbidden", "PERMISSION_DENIED"), 404: ("notFound", "NOT_FOUND"),
                 429: ("rateLimitExceeded", "RESOURCE_EXHAUSTED"), 500: ("internalError", "INTERNAL"),
                 502: ("backendError", "UNAVAILABLE"), 503: ("backendError", "UNAVAILABLE")}


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
