"""How the Firestore store names and stamps its documents: claims (``firestore.py``), stop records
(``stops.py``), the shared budget's buckets (``budget.py``) and the usage ledger (``usage_ledger.py``)
all use these.

No Google import here: these are plain strings and datetimes, the client lives in ``firestore.py``.
"""
from __future__ import annotations

import datetime
import hashlib
import re

_PLAIN = re.compile(r"[A-Za-z0-9-]")
_MAX_ID_BYTES = 1000  # Firestore allows 1500


def document_id(event_id: str) -> str:
    """A valid Firestore document id, different for every event id.

    Letters, digits and "-" stay; every other character becomes %XX per UTF-8
    byte, so no id contains "/", is "." or "..", or looks like ``__name__``.
    Overlong ids become %H + sha256 (no escape starts with %H).
    """
    if not event_id:
        raise ValueError("event_id must not be empty")
    escaped = "".join(c if _PLAIN.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode()) for c in event_id)
    if len(escaped) > _MAX_ID_BYTES:
        return "%H" + hashlib.sha256(event_id.encode()).hexdigest()
    return escaped


def timestamp(epoch: float) -> datetime.datetime:
    """A Firestore timestamp: what a TTL policy (on ``expires_at``) reads."""
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
