"""Who may call the worker endpoint: the push subscription, and nobody else.

Two modes, chosen explicitly:

``oidc`` (production): the push subscription is configured with a service
account and an audience; Pub/Sub then sends ``Authorization: Bearer <JWT>``,
an ID token signed by Google. We verify the signature against Google's
published certificates, the expiry, the issuer, the audience, and that the
token names the configured service account with a verified email.

``token`` (the Pub/Sub emulator, which sends no token, or any push setup
without OIDC): the push endpoint URL carries ``?token=<secret>``, compared in
constant time. Weaker: the secret sits in the subscription's configuration
and in any log of the URL.

A failed check never raises: the caller gets ``AuthResult(ok=False, reason)``
and rejects the delivery before reading it.
"""
from __future__ import annotations

import hmac
import re
import threading
import time
from dataclasses import dataclass
from typing import get_args

from threadwise.config.groups import WorkerAuth

MODES = get_args(WorkerAuth)  # WORKER_AUTH's choices; checked again here for callers other than the settings
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
# Seconds of disagreement allowed between our clock and Google's for iat/exp.
CLOCK_SKEW = 10
CERTS_FETCH_TIMEOUT = 5.0
_MAX_AGE = re.compile(r"max-age=(\d+)")


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    reason: str  # why not, for the log; never contains the token


class PushAuthenticator:
    def __init__(self, mode: WorkerAuth, audience: str | None = None, service_account_email: str | None = None,
                 token: str | None = None, certs_url: str | None = None):
        if mode not in MODES:
            raise ValueError(f"push authentication mode must be one of {', '.join(MODES)}, not {mode!r}")
        if mode == "oidc" and not (audience and service_account_email):
            raise ValueError("oidc push authentication needs both the audience and the service account email")
        if mode == "token" and not token:
            raise ValueError("token push authentication needs the token")
        self.mode = mode
        self._audience = audience
        self._email = service_account_email
        self._token = token.encode("utf-8") if token else b""
        self._certs_url = certs_url or GOOGLE_CERTS_URL
        if mode == "oidc":
            # Fail at start-up, not by rejecting every delivery: the transport needs requests.
            import google.auth.transport.requests  # noqa: F401
        self._transport: _CachingRequest | None = None
        self._lock = threading.Lock()

    def check(self, authorization: str | None, query_token: str | None) -> AuthResult:
        """``authorization``: the Authorization header; ``query_token``: the ``token`` query parameter."""
        try:
            if self.mode == "token":
                return self._check_token(query_token)
            return self._check_oidc(authorization)
        except Exception as error:  # whatever goes wrong, the answer is no
            return AuthResult(False, f"verification failed: {type(error).__name__}")

    def _check_token(self, query_token: str | None) -> AuthResult:
        if not query_token:
            return AuthResult(False, "no token in the URL")
        if not hmac.compare_digest(query_token.encode("utf-8"), self._token):
            return AuthResult(False, "wrong token in the URL")
        return AuthResult(True, "token")

    def _check_oidc(self, authorization: str | None) -> AuthResult:
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return AuthResult(False, "no bearer token")
        from google.oauth2 import id_token

        try:
            # verify_oauth2_token is verify_token with Google's certificate URL
            # plus the issuer check below; calling verify_token lets tests serve
            # their own certificates.
            claims = id_token.verify_token(token, self._request(), audience=self._audience,
                                           certs_url=self._certs_url, clock_skew_in_seconds=CLOCK_SKEW)
        except Exception as error:  # bad signature, expired, wrong audience, certificates unreachable
            return AuthResult(False, f"invalid token: {_describe(error, token)}")
        if claims.get("iss") not in GOOGLE_ISSUERS:
            return AuthResult(False, "token not issued by Google")
        if claims.get("email") != self._email:
            return AuthResult(False, "token for another service account")
        if claims.get("email_verified") is not True:
            return AuthResult(False, "token email not verified")
        return AuthResult(True, "oidc")

    def _request(self) -> "_CachingRequest":
        if self._transport is None:
            with self._lock:
                if self._transport is None:
                    self._transport = _CachingRequest()
        return self._transport


def _describe(error: Exception, token: str) -> str:
    # google-auth quotes a malformed token in its message; the log gets the reason, not the token.
    lines = str(error).replace(token, "[token]").splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]


class _CachingRequest:
    """A google-auth transport that keeps the certificates as long as Google says they are valid.

    ``verify_token`` fetches the certificates on every call; Google serves them
    with a ``Cache-Control: max-age`` of hours. Without a cache every delivery
    would pay an extra HTTPS round trip and depend on that endpoint being up.
    The underlying session is kept too, so connections are reused.
    """

    def __init__(self, default_max_age: float = 300, longest: float = 6 * 3600):
        import google.auth.transport.requests  # needs the requests package

        self._inner = google.auth.transport.requests.Request()
        self._default_max_age = default_max_age
        self._longest = longest
        self._cache: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        if method != "GET" or body is not None:
            return self._inner(url, method=method, body=body, headers=headers,
                               timeout=timeout or CERTS_FETCH_TIMEOUT, **kwargs)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(url)
            if cached and cached[0] > now:
                return cached[1]
        response = self._inner(url, method="GET", headers=headers, timeout=timeout or CERTS_FETCH_TIMEOUT, **kwargs)
        if response.status == 200:
            cache_control = {k.lower(): v for k, v in response.headers.items()}.get("cache-control", "")
            found = _MAX_AGE.search(cache_control)
            max_age = min(float(found.group(1)) if found else self._default_max_age, self._longest)
            if "no-store" not in cache_control and max_age > 0:
                response.data  # read the body now, once; later callers reuse it
                with self._lock:
                    self._cache[url] = (now + max_age, response)
        return response
