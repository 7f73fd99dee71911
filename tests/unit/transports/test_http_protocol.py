"""Slack's HTTP protocol as a pure function (threadwise/transports/http.py), called without Flask: the
checks before the body is read, verification, the media types, url_verification and the retry answer.
The layer below (SlackInbound) is replaced by a recorder: what reaches it is what this layer let through."""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from urllib.parse import urlencode

import pytest

from threadwise.slack.events import BadRequest
from threadwise.slack.verification import RequestVerifier
from threadwise.transports import http
from threadwise.transports.inbound import EventOutcome

pytestmark = pytest.mark.in_process
SECRET = "protocol-signing-secret"


class RecordingInbound:
    def __init__(self, outcome: EventOutcome = EventOutcome(handed_off=True)):
        self.outcome = outcome
        self.events: list[tuple] = []
        self.forms: list[str] = []

    def event(self, body, retry_num=None, retry_reason=None):
        self.events.append((body, retry_num, retry_reason))
        if isinstance(body, dict) and body.get("type") == "url_verification":
            return EventOutcome(challenge=body["challenge"])
        return self.outcome

    def interaction_form(self, payload: str):
        if payload == "not json":
            raise BadRequest("payload is not JSON")
        self.forms.append(payload)


def _signed(body: bytes, timestamp: int | None = None) -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def _request(body: bytes, content_type="application/json", method="POST", headers=None, declared=None):
    reads = []

    def read_body(limit: int) -> bytes:
        reads.append(limit)
        return io.BytesIO(body).read(limit)

    request = http.HttpRequest(method=method, content_type=content_type, headers={**_signed(body), **(headers or {})},
                               read_body=read_body, declared_length=len(body) if declared is None else declared)
    return request, reads


def _call(body: bytes, inbound=None, **kwargs):
    inbound = inbound or RecordingInbound()
    request, reads = _request(body, **kwargs)
    return http.slack_request(request, RequestVerifier(SECRET, None), inbound), inbound, reads


def test_an_event_is_handed_to_inbound_and_acknowledged_with_no_retry():
    body = json.dumps({"type": "event_callback", "event_id": "Ev1"}).encode()
    response, inbound, _ = _call(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert (response.status, response.payload) == (200, {})
    assert response.headers["X-Slack-No-Retry"] == "1"
    assert inbound.events == [({"type": "event_callback", "event_id": "Ev1"}, "1", "http_timeout")]


def test_url_verification_echoes_the_challenge():
    response, _, _ = _call(json.dumps({"type": "url_verification", "challenge": "c-123"}).encode())
    assert (response.status, json.loads(response.body)) == (200, {"challenge": "c-123"})


def test_an_event_that_could_not_be_handed_off_asks_slack_to_retry():
    response, _, _ = _call(b'{"type": "event_callback"}', inbound=RecordingInbound(EventOutcome()))
    assert response.status == 503 and "X-Slack-No-Retry" not in response.headers


def test_an_interaction_form_passes_its_one_payload():
    body = urlencode({"payload": '{"type": "block_actions"}'}).encode()
    response, inbound, _ = _call(body, content_type="application/x-www-form-urlencoded")
    assert response.status == 200 and inbound.forms == ['{"type": "block_actions"}']


@pytest.mark.parametrize("body, content_type, status, reason", [
    (b"{not json", "application/json", 400, "body is not valid JSON"),
    (b"\xff\xfe", "application/json", 400, "body is not UTF-8"),
    (b"a=1&a", "application/x-www-form-urlencoded", 400, "invalid form body"),
    (b"other=1", "application/x-www-form-urlencoded", 400, "missing payload field"),
    (urlencode([("payload", "{}"), ("payload", "{}")]).encode(), "application/x-www-form-urlencoded", 400,
     "missing payload field"),
    (urlencode({"payload": "not json"}).encode(), "application/x-www-form-urlencoded", 400, "payload is not JSON"),
    (b"x", "text/plain", 415, "expected application/json or application/x-www-form-urlencoded"),
])
def test_bad_bodies_get_a_clear_4xx_and_reach_nothing(body, content_type, status, reason):
    response, inbound, _ = _call(body, content_type=content_type)
    assert (response.status, response.payload) == (status, {"error": reason})
    assert inbound.events == [] and inbound.forms == []


def test_a_request_that_is_not_signed_by_slack_is_refused():
    body = b'{"type": "event_callback"}'
    request, _ = _request(body, headers={"X-Slack-Signature": "v0=" + "0" * 64})
    inbound = RecordingInbound()
    response = http.slack_request(request, RequestVerifier(SECRET, None), inbound)
    assert response.status == 401 and inbound.events == []


def test_only_post_is_read_and_an_oversized_body_is_refused_before_it_is_read():
    response, _, reads = _call(b"{}", method="GET")
    assert response.status == 405 and reads == []
    response, _, reads = _call(b"{}", declared=http.MAX_BODY_BYTES + 1)
    assert response.status == 413 and reads == []
    big = b" " * (http.MAX_BODY_BYTES + 1)  # a body longer than it declared: read up to the limit, then refused
    response, inbound, reads = _call(big, declared=10)
    assert response.status == 413 and reads == [http.MAX_BODY_BYTES + 1] and inbound.events == []


def test_a_failure_below_is_logged_and_acknowledged_not_a_500():
    class Broken(RecordingInbound):
        def event(self, body, retry_num=None, retry_reason=None):
            raise RuntimeError("boom")

    response, _, _ = _call(b'{"type": "event_callback"}', inbound=Broken())
    assert (response.status, response.payload) == (200, {})
