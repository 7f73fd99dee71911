"""Is this request really from Slack? Signature and/or the ``?token=`` query secret."""
from __future__ import annotations

import hashlib
import hmac
from typing import Mapping

from slack_sdk.signature import SignatureVerifier


class RawBodySignatureVerifier(SignatureVerifier):
    """Slack signs the raw bytes. The SDK decodes them as UTF-8 first, which turns a
    signed body that is not UTF-8 into a "bad signature" (401) instead of the 400 it
    deserves; hashing the bytes as they came keeps the two failures apart."""

    def generate_signature(self, *, timestamp: str, body) -> str | None:
        if timestamp is None:
            return None
        raw = body if isinstance(body, bytes) else (body or "").encode()
        digest = hmac.new(self.signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
        return "v0=" + digest.hexdigest()


class RequestVerifier:
    """Checks every configured proof; a request must pass all of them.

    The signature (``SLACK_SIGNING_SECRET``) covers the body and a timestamp
    within 5 minutes, so a captured request cannot be replayed later. The
    query token (``ACCESS_TOKEN``) is the seed article's protection, kept for
    operators who rely on it, compared in constant time.
    """

    def __init__(self, signing_secret: str | None, access_token: str | None):
        if not signing_secret and not access_token:
            raise ValueError("no verification configured")
        self._signature = RawBodySignatureVerifier(signing_secret) if signing_secret else None
        self._access_token = access_token.encode() if access_token else None

    def is_authentic(self, body: bytes, headers: Mapping[str, str], query_token: str | None) -> bool:
        if self._access_token is not None:
            if not query_token or not hmac.compare_digest(query_token.encode(), self._access_token):
                return False
        if self._signature is not None:
            try:
                return self._signature.is_valid_request(body, dict(headers))
            except (ValueError, TypeError):  # a timestamp that is not a number
                return False
        return True
