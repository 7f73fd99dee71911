"""Structured logs: one JSON object a line with ``severity``, as Cloud Logging reads them.

Every line passes through a redactor, so a secret that slips into a message or
an exception (a token in a URL, a key echoed by an error) is masked before it
is written.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import datetime, timezone
from typing import Iterable
from urllib.parse import quote, quote_plus

# Shapes of Slack tokens and OpenAI keys, masked even when we do not know the value.
_SECRET_SHAPES = re.compile(r"(xox[abposr]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|sk-[A-Za-z0-9_-]{8,})")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        known = {s for s in secrets if s and len(s) >= 4}
        self._secrets = sorted({form for s in known for form in _written_forms(s)}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return _SECRET_SHAPES.sub("[redacted]", text)


def _written_forms(secret: str) -> set[str]:
    """The secret as text around it may already carry it: as is, escaped inside a JSON string (a logged
    request body or API answer), inside a Python repr (an exception's ``KeyError('…')``, a dict in a message)
    and percent-encoded in a URL. A secret with ``"``, ``\\`` or a space reads differently in each; the line's
    own JSON encoding comes after masking (JsonFormatter), so it needs no form of its own."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1],
             quote(secret, safe=""), quote(secret), quote_plus(secret)}
    return {form for form in forms if len(form) >= 4}


def _rfc3339(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor):
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            # Cloud Logging reads "time" as the entry's timestamp: the line's own, to the millisecond
            # (stdout is stamped when read, and lines of a burst may be read together).
            "time": _rfc3339(record.created),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        # Masked before encoding: JSON writes a secret's " or \ escaped, and the
        # escaped form would no longer match the secret's value.
        # No mutation here: mutmut's ensure_ascii=None is as falsy as False, so equivalent.
        return json.dumps(self._masked(entry), ensure_ascii=False)  # pragma: no mutate

    def _masked(self, value):
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, dict):
            return {self._redact(str(key)): self._masked(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._masked(item) for item in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self._redact(str(value))  # anything else is logged as its text


def configure(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(Redactor(secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter (HTTP request lines with URLs) stays out unless asked for.
    for noisy in ("urllib3", "httpx", "httpx2", "httpcore", "httpcore2", "openai", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def get(name: str) -> "FieldLogger":
    return FieldLogger(logging.getLogger(name))


class FieldLogger:
    """``log.info("posted", channel=..., ts=...)``: keyword fields become JSON fields."""

    def __init__(self, logger: logging.Logger):
        self._logger = logger

    def _log(self, level: int, message: str, exc_info=None, **fields) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, message, exc_info=exc_info, extra={"fields": fields})

    def debug(self, message: str, **fields) -> None:
        self._log(logging.DEBUG, message, **fields)

    def info(self, message: str, **fields) -> None:
        self._log(logging.INFO, message, **fields)

    def warning(self, message: str, **fields) -> None:
        self._log(logging.WARNING, message, **fields)

    def error(self, message: str, exc_info=None, **fields) -> None:
        self._log(logging.ERROR, message, exc_info=exc_info, **fields)
