"""Request verification in-process: Slack's signature over the raw bytes, the ?token= secret, or both."""
from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from threadwise.slack.verification import RawBodySignatureVerifier, RequestVerifier

pytestmark = pytest.mark.in_process

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "query-token-123"


def _signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Slack's recipe, written out independently of the code under test."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _headers(body: bytes, timestamp: str | None = None, secret: str = SECRET) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": _signature(body, timestamp, secret)}


def test_signature_is_slacks_recipe_over_the_raw_bytes():
    verifier = RawBodySignatureVerifier(SECRET)
    body = "token=x&text=caf\u00e9".encode()
    assert verifier.generate_signature(timestamp="1531420618", body=body) == _signature(body, "1531420618")
    assert verifier.generate_signature(timestamp="1531420618", body=body.decode()) == _signature(body, "1531420618")
    assert verifier.generate_signature(timestamp="1531420618", body=None) == _signature(b"", "1531420618")
    assert verifier.generate_signature(timestamp=None, body=body) is None


def test_slacks_documented_example():
    # https://api.slack.com/authentication/verifying-requests-from-slack (the worked example)
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    verifier = RawBodySignatureVerifier("8f742231b10e8888abcd99yyyzzz85a5")
    assert verifier.generate_signature(timestamp="1531420618", body=body) == expected


def test_a_body_that_is_not_utf8_still_verifies():
    body = b"payload=\xff\xfe not utf-8"
    verifier = RequestVerifier(SECRET, None)
    assert verifier.is_authentic(body, _headers(body), None)


def test_nothing_configured_is_refused_at_start():
    for secret, token in ((None, None), ("", ""), (None, ""), ("", None)):
        with pytest.raises(ValueError, match="^no verification configured$"):
            RequestVerifier(secret, token)


def test_signature_alone():
    verifier = RequestVerifier(SECRET, None)
    body = b'{"type":"event_callback"}'
    assert verifier.is_authentic(body, _headers(body), None)
    assert verifier.is_authentic(body, _headers(body), "any-query-token-is-ignored")
    assert not verifier.is_authentic(body + b" ", _headers(body), None), "the body changed"
    assert not verifier.is_authentic(body, _headers(body, secret="another-secret"), None)
    assert not verifier.is_authentic(body, {}, None), "unsigned"
    stale = str(int(time.time()) - 6 * 60)
    assert not verifier.is_authentic(body, _headers(body, timestamp=stale), None), "a replay after 5 minutes"


def test_header_names_are_case_insensitive():
    body = b"{}"
    headers = {name.lower(): value for name, value in _headers(body).items()}
    assert RequestVerifier(SECRET, None).is_authentic(body, headers, None)


@pytest.mark.parametrize("timestamp", ["not-a-number", "12.5", ""])
def test_a_timestamp_that_is_not_a_number_is_refused_not_a_crash(timestamp):
    body = b"{}"
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": _signature(body, timestamp)}
    assert RequestVerifier(SECRET, None).is_authentic(body, headers, None) is False


def test_query_token_alone():
    verifier = RequestVerifier(None, TOKEN)
    assert verifier.is_authentic(b"anything", {}, TOKEN) is True
    assert verifier.is_authentic(b"anything", {}, TOKEN + "x") is False
    assert verifier.is_authentic(b"anything", {}, TOKEN[:-1]) is False
    assert verifier.is_authentic(b"anything", {}, "") is False
    assert verifier.is_authentic(b"anything", {}, None) is False


def test_both_must_pass_when_both_are_configured():
    verifier = RequestVerifier(SECRET, TOKEN)
    body = b"{}"
    assert verifier.is_authentic(body, _headers(body), TOKEN) is True
    assert verifier.is_authentic(body, _headers(body), "wrong") is False
    assert verifier.is_authentic(body, _headers(body), None) is False
    assert verifier.is_authentic(body, _headers(body, secret="wrong"), TOKEN) is False
    assert verifier.is_authentic(body, {}, TOKEN) is False
