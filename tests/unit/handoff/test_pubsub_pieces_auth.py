"""The Pub/Sub pieces on their own, continued: who calls the worker, by ``?token=`` and by OIDC
against certificates served on 127.0.0.1 (the job format, push parsing and the emulator:
test_pubsub_pieces.py)."""
from __future__ import annotations

import base64
import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pubsub_emulator import free_port
from threadwise.handoff.worker_auth import PushAuthenticator


# -- who calls the worker: ?token= ------------------------------------------------------------


def test_token_mode():
    auth = PushAuthenticator("token", token="s3cret-push-token")
    assert auth.check(None, "s3cret-push-token").ok
    for wrong in (None, "", "s3cret-push-toke", "s3cret-push-tokenX", "S3CRET-PUSH-TOKEN", "ünïcode"):
        result = auth.check(None, wrong)
        assert not result.ok and "s3cret" not in result.reason
    # A bearer token is no substitute for the shared secret in this mode.
    assert not auth.check("Bearer s3cret-push-token", None).ok


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "none"}, "must be one of oidc, token"),
    ({"mode": "token"}, "needs the token"),
    ({"mode": "oidc", "audience": "https://w"}, "needs both"),
    ({"mode": "oidc", "service_account_email": "push@p.iam.gserviceaccount.com"}, "needs both"),
])
def test_authenticator_settings_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PushAuthenticator(**kwargs)


# -- who calls the worker: OIDC, against certificates served on 127.0.0.1 ------------------------

AUDIENCE = "https://europe-west1-p.cloudfunctions.net/slack_worker"
PUSH_SA = "pubsub-push@threadwise-test.iam.gserviceaccount.com"


def _rsa_key_and_cert(common_name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return private_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


class GoogleCerts:
    """Stands in for https://www.googleapis.com/oauth2/v1/certs: ``{kid: x509 PEM}`` with a max-age."""

    def __init__(self):
        from google.auth import crypt

        self.private_pem, cert = _rsa_key_and_cert("google-stand-in")
        self.signer = crypt.RSASigner.from_string(self.private_pem, key_id="kid-1")
        self.certs = {"kid-1": cert}
        self.fetches = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stand_in.fetches += 1
                body = json.dumps(stand_in.certs).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=21600, must-revalidate, no-transform")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/oauth2/v1/certs"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def token(self, signer=None, **changes) -> str:
        from google.auth import jwt

        now = int(time.time())
        claims = {
            "aud": AUDIENCE, "azp": "1234567890", "email": PUSH_SA, "email_verified": True,
            "iat": now, "exp": now + 3600, "iss": "https://accounts.google.com", "sub": "1234567890",
        }
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(signer or self.signer, claims).decode()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def google_certs():
    stand_in = GoogleCerts()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def oidc(google_certs):
    return PushAuthenticator("oidc", audience=AUDIENCE, service_account_email=PUSH_SA, certs_url=google_certs.url)


def test_oidc_valid_token(oidc, google_certs):
    result = oidc.check(f"Bearer {google_certs.token()}", None)
    assert result.ok, result.reason
    assert oidc.check(f"bearer  {google_certs.token(iss='accounts.google.com')}", None).ok


def test_oidc_certificates_are_fetched_once_and_cached(google_certs):
    auth = PushAuthenticator("oidc", audience=AUDIENCE, service_account_email=PUSH_SA, certs_url=google_certs.url)
    before = google_certs.fetches
    for _ in range(5):
        assert auth.check(f"Bearer {google_certs.token()}", None).ok
    assert google_certs.fetches - before == 1


def _rejected(auth, header, why):
    result = auth.check(header, "any-query-token")
    assert not result.ok
    assert why in result.reason, result.reason
    return result


def test_oidc_wrong_audience(oidc, google_certs):
    _rejected(oidc, f"Bearer {google_certs.token(aud='https://elsewhere.example/worker')}", "audience")


def test_oidc_wrong_email(oidc, google_certs):
    _rejected(oidc, f"Bearer {google_certs.token(email='intruder@evil.iam.gserviceaccount.com')}", "another service account")
    _rejected(oidc, f"Bearer {google_certs.token(email=None)}", "another service account")


def test_oidc_unverified_email(oidc, google_certs):
    _rejected(oidc, f"Bearer {google_certs.token(email_verified=False)}", "not verified")
    _rejected(oidc, f"Bearer {google_certs.token(email_verified='true')}", "not verified")


def test_oidc_expired(oidc, google_certs):
    now = int(time.time())
    _rejected(oidc, f"Bearer {google_certs.token(iat=now - 7200, exp=now - 3600)}", "expired")


def test_oidc_wrong_issuer(oidc, google_certs):
    _rejected(oidc, f"Bearer {google_certs.token(iss='https://securetoken.google.com/p')}", "not issued by Google")


def test_oidc_bad_signature(oidc, google_certs):
    from google.auth import crypt

    forger_pem, _ = _rsa_key_and_cert("forger")
    forger = crypt.RSASigner.from_string(forger_pem, key_id="kid-1")  # claims Google's key ID
    _rejected(oidc, f"Bearer {google_certs.token(signer=forger)}", "invalid token")
    # A valid token with its payload swapped keeps the signature of the original.
    head, _, sig = google_certs.token().split(".")
    forged_payload = base64.urlsafe_b64encode(json.dumps(
        {"aud": AUDIENCE, "email": PUSH_SA, "email_verified": True, "iss": "https://accounts.google.com",
         "iat": int(time.time()), "exp": int(time.time()) + 60}).encode()).rstrip(b"=").decode()
    _rejected(oidc, f"Bearer {head}.{forged_payload}.{sig}", "invalid token")


def test_oidc_missing_or_malformed_header(oidc, google_certs):
    token = google_certs.token()
    for header in (None, "", "Bearer", "Bearer   ", f"Basic {token}", token):
        _rejected(oidc, header, "no bearer token")
    result = _rejected(oidc, "Bearer not.a.jwt-at-all", "invalid token")
    assert "not.a.jwt" not in result.reason
    _rejected(oidc, "Bearer abc", "invalid token")
    # In oidc mode the ?token= secret opens nothing.
    assert not oidc.check(None, "any-query-token").ok


def test_oidc_certificates_unreachable_is_a_rejection_not_an_error(google_certs):
    auth = PushAuthenticator("oidc", audience=AUDIENCE, service_account_email=PUSH_SA,
                             certs_url=f"http://127.0.0.1:{free_port()}/certs")
    _rejected(auth, f"Bearer {google_certs.token()}", "invalid token")
