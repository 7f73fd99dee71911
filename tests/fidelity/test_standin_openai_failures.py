"""The failures FakeOpenAI plays, as the REAL openai client (3.x, httpx2) sees them.

HTTP status errors and failures in the middle of a stream: which exception or
event the client produces for each, because the bot must map exactly those to
user messages. Fixtures and helpers are test_standin_openai's.
"""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai.types.responses import ResponseErrorEvent, ResponseFailedEvent, ResponseIncompleteEvent

from standins.openai_api import Script
from openai_standin_fixtures import client, fake  # noqa: F401  (fixtures)
from test_standin_openai import MODEL, _stream_chat, _stream_responses


# --------------------------------------------------------------------------- HTTP status errors


def test_wrong_api_key(fake):
    bad = openai.OpenAI(api_key="sk-wrong-key-abcdefghij", base_url=fake.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as ei:
        bad.responses.create(model=MODEL, input="x", stream=True)
    err = ei.value
    assert err.status_code == 401 and err.code == "invalid_api_key" and err.type == "invalid_request_error"
    assert "sk-wrong-key-abcdefghij" not in str(err) and "sk-...ghij" in err.message
    assert fake.last.status == 401


@pytest.mark.parametrize("api", ["responses", "chat"])
@pytest.mark.parametrize("name, exc, status, code, type_", [
    ("invalid_api_key", openai.AuthenticationError, 401, "invalid_api_key", "invalid_request_error"),
    ("insufficient_quota", openai.RateLimitError, 429, "insufficient_quota", "insufficient_quota"),
    ("organization_spend_limit_exceeded", openai.RateLimitError, 429, "organization_spend_limit_exceeded",
     "insufficient_quota"),
    ("project_spend_limit_exceeded", openai.RateLimitError, 429, "project_spend_limit_exceeded", "insufficient_quota"),
    ("rate_limit", openai.RateLimitError, 429, "rate_limit_exceeded", "tokens"),
    ("context_length_exceeded", openai.BadRequestError, 400, "context_length_exceeded", "invalid_request_error"),
    ("model_not_found", openai.NotFoundError, 404, "model_not_found", "invalid_request_error"),
    ("server_error", openai.InternalServerError, 500, None, "server_error"),
    ("overloaded", openai.InternalServerError, 503, None, "server_error"),
])
def test_status_errors(fake, client, api, name, exc, status, code, type_):
    fake.queue(Script(status_error=name))
    with pytest.raises(exc) as ei:
        if api == "responses":
            _stream_responses(client)
        else:
            _stream_chat(client)
    err = ei.value
    assert isinstance(err, openai.APIStatusError)
    assert (err.status_code, err.code, err.type) == (status, code, type_)
    if name == "context_length_exceeded":
        assert err.param == ("input" if api == "responses" else "messages")
    if name == "rate_limit":
        assert err.response.headers["retry-after"] == "1"
        assert err.response.headers["retry-after-ms"] == "100"
    assert fake.last.outcome == "status_error" and fake.last.deltas_sent == 0


def test_rate_limit_is_retried_by_client(fake):
    retrying = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=2)
    fake.queue(Script(status_error="rate_limit", retry_after=0.05))
    resp = retrying.responses.create(model=MODEL, input="again")
    assert resp.output_text == "Echo: again"
    assert fake.count("/v1/responses") == 2


@pytest.mark.parametrize("name", ["insufficient_quota", "organization_spend_limit_exceeded",
                                  "project_spend_limit_exceeded"])
def test_a_quota_429_has_openais_error_shape_and_no_retry_hint(fake, name):
    """The body is OpenAI's ``{"error": {message, type, param, code}}``; no Retry-After and no x-should-retry:
    so the plain client retries it like any 429 (what the bot's client must not do)."""
    plain = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=1)
    fake.queue(Script(status_error=name), Script(status_error=name))
    with pytest.raises(openai.RateLimitError) as ei:
        plain.responses.create(model=MODEL, input="x")
    body = ei.value.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == name and body["error"]["param"] is None
    assert "retry-after" not in ei.value.response.headers and "x-should-retry" not in ei.value.response.headers
    assert fake.count("/v1/responses") == 2, "the SDK on its own retries a quota 429"


# --------------------------------------------------------------------------- mid-stream failures


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_break_after_raises_api_connection_error(fake, client, api, capfd):
    fake.queue(Script(text="x" * 40, break_after=3))
    got = []
    stream = _stream_responses(client) if api == "responses" else _stream_chat(client)
    with pytest.raises(openai.APIConnectionError) as ei:
        for ev in stream:
            if api == "responses" and ev.type == "response.output_text.delta":
                got.append(ev.delta)
            elif api == "chat" and ev.choices and ev.choices[0].delta.content:
                got.append(ev.choices[0].delta.content)
    err = ei.value
    assert type(err) is openai.APIConnectionError  # not APITimeoutError, not an APIStatusError
    assert isinstance(err.__cause__, httpx2.RemoteProtocolError)
    assert "incomplete chunked read" in str(err.__cause__)
    assert len(got) == 3
    rec = fake.last
    assert rec.outcome == "broken" and rec.deltas_sent == 3 and not rec.client_closed_early
    fake.wait_idle()
    assert "Traceback" not in capfd.readouterr().err


def test_break_with_reset(fake, client):
    fake.queue(Script(text="x" * 40, break_after=2, break_with_reset=True))
    with pytest.raises(openai.APIConnectionError) as ei:
        list(_stream_responses(client))
    assert isinstance(ei.value.__cause__, httpx2.ReadError)


def test_responses_error_event_nested_raises_api_error(fake, client):
    # The live API nests the fields under "error"; the SDK then raises APIError.
    fake.queue(Script(text="x" * 40, error_event_after=2, error_code="server_error", error_message="boom"))
    got = []
    with pytest.raises(openai.APIError) as ei:
        for ev in _stream_responses(client):
            if ev.type == "response.output_text.delta":
                got.append(ev.delta)
    err = ei.value
    assert type(err) is openai.APIError  # plain APIError: no status_code, not APIStatusError
    assert err.code == "server_error" and err.message == "boom"
    assert len(got) == 2 and fake.last.outcome == "error_event"


def test_responses_error_event_flat_is_yielded(fake, client):
    # The documented (flat) shape is not raised by the SDK: it is yielded as an event.
    fake.queue(Script(text="x" * 40, error_event_after=2, error_event_shape="flat", error_code="rate_limit_exceeded"))
    events = list(_stream_responses(client))
    last = events[-1]
    assert isinstance(last, ResponseErrorEvent)
    assert last.code == "rate_limit_exceeded" and last.message


def test_chat_error_payload_raises_api_error(fake, client):
    fake.queue(Script(text="x" * 40, error_event_after=2, error_message="chat boom"))
    with pytest.raises(openai.APIError) as ei:
        list(_stream_chat(client))
    assert type(ei.value) is openai.APIError and ei.value.message == "chat boom"
    assert ei.value.type == "server_error"


def test_response_failed_is_yielded(fake, client):
    fake.queue(Script(text="x" * 40, fail_after=3))
    events = list(_stream_responses(client))
    last = events[-1]
    assert isinstance(last, ResponseFailedEvent)
    assert last.response.status == "failed"
    assert last.response.error.code == "server_error" and last.response.error.message
    assert sum(e.type == "response.output_text.delta" for e in events) == 3
    # the stream helper yields it too, and get_final_response() then raises RuntimeError
    fake.queue(Script(text="x" * 40, fail_after=3))
    with client.responses.stream(model=MODEL, input="x") as stream:
        types = [e.type for e in stream]
        assert types[-1] == "response.failed"
        with pytest.raises(RuntimeError):
            stream.get_final_response()


@pytest.mark.parametrize("reason", ["max_output_tokens", "content_filter"])
def test_incomplete(fake, client, reason):
    fake.queue(Script(text="partial answer", incomplete_reason=reason))
    last = list(_stream_responses(client))[-1]
    assert isinstance(last, ResponseIncompleteEvent)
    assert last.response.status == "incomplete" and last.response.incomplete_details.reason == reason
    assert last.response.output_text == "partial answer" and last.response.usage.output_tokens > 0
    fake.queue(Script(text="partial answer", incomplete_reason=reason))
    chunks = list(_stream_chat(client))
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == [{"max_output_tokens": "length", "content_filter": "content_filter"}[reason]]
