"""Is this request really from Slack? Signature and/or the ``?token=`` query secret."""
from __future__ import annotations

import hmac
from typing import Mapping

from slack_sdk.signature import SignatureVerifier


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
        self._signature = SignatureVerifier(signing_secret) if signing_secret else None
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
