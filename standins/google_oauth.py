"""FakeGoogle's OAuth 2.0 token endpoint and the service-account keys it knows.

``POST /token`` takes the JWT-bearer grant a service account makes (what google-auth sends for a
key file): the assertion's signature is checked against the public key registered for its ``iss``,
and ``aud``, ``iat``/``exp`` and the ``scope`` claim are checked; the answer is an access token, or
400 ``invalid_grant`` as Google gives it. ``_authorize`` is the Drive side's check of that token.

Mixed into ``FakeGoogle``, whose lock guards ``_accounts`` (client_email -> {kid: public PEM}) and
``_tokens`` (access token -> expiry).
"""
from __future__ import annotations

import json
import secrets
import time

from .google_wire import GoogleError, Seen

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # google-auth puts this in ``aud``, whatever token_uri is
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DRIVE_READONLY = "https://www.googleapis.com/auth/drive.readonly"
DRIVE_FULL = "https://www.googleapis.com/auth/drive"


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


class OAuthEndpoint:
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

    # ------------------------------------------------------------ records
    def token_requests(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == "/token"]

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

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
