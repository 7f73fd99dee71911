"""Checks the FakeOpenAI stand-in against the REAL openai client (3.x, httpx2).

These tests pin down the wire formats, the scripting, and what a stopped,
hung or slow stream looks like to the client; the failures it plays are in
test_standin_openai_failures, the requests it refuses in
test_standin_openai_refusals.
"""

from __future__ import annotations

import http.client
import json
import time

import httpx2
import openai
import pytest
from openai.types.responses import ResponseCompletedEvent

from openai_standin_fixtures import client, fake  # noqa: F401  (fixtures)
from standins.openai_api import HANG, FakeOpenAI, Script

MODEL = "gpt-5-mini"


def _stream_responses(client, text="hello there", **kw):
    return client.responses.create(model=MODEL, input=[{"role": "user", "content": text}], stream=True, **kw)


def _stream_chat(client, text="hello there", include_usage=True):
    kw = {"stream_options": {"include_usage": True}} if include_usage else {}
    return client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": text}],
        stream=True, **kw)


def _raw_post(fake, path, body, key=None):
    """POST with the stdlib, returning (status, headers, body text) -- to look at the wire."""
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    conn.request("POST", path, body=json.dumps(body),
                 headers={"Authorization": f"Bearer {key or fake.api_key}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read().decode()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


# --------------------------------------------------------------------------- Responses


def test_responses_stream_round_trip(fake, client):
    events = list(_stream_responses(client, "hello there"))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert "".join(d.delta for d in deltas) == "Echo: hello there"
    assert all(len(d.delta) <= 4 for d in deltas)
    assert events[2].item.type == "message" and events[2].item.id.startswith("msg_")
    assert {d.item_id for d in deltas} == {events[2].item.id}
    done = events[-1]
    assert isinstance(done, ResponseCompletedEvent)
    assert done.response.status == "completed"
    assert done.response.output_text == "Echo: hello there"
    u = done.response.usage
    assert u.output_tokens == len(deltas)
    assert u.total_tokens == u.input_tokens + u.output_tokens
    assert u.input_tokens_details.cached_tokens == 0
    assert u.output_tokens_details.reasoning_tokens == 0

    # The client has read the last event; the server finishes its record just after.
    rec = fake.wait_for(lambda: fake.last.done and fake.last, timeout=5)
    assert rec.path == "/v1/responses" and rec.stream and rec.outcome == "completed"
    assert rec.body["model"] == MODEL
    assert rec.headers["authorization"] == f"Bearer {fake.api_key}"
    assert rec.deltas_sent == rec.deltas_total == len(deltas)
    assert not rec.client_closed_early and rec.client_closed_at is None
    assert rec.started_at < rec.first_delta_at < rec.last_delta_at <= rec.finished_at
    assert fake.count("/v1/responses") == 1 and fake.counts == {"/v1/responses": 1}


def test_responses_wire_format(fake):
    status, headers, data = _raw_post(fake, "/v1/responses", {"model": MODEL, "input": "hi", "stream": True})
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["transfer-encoding"] == "chunked"
    blocks = [b for b in data.split("\n\n") if b]
    seqs = []
    for block in blocks:
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        payload = json.loads(data_line[len("data: "):])
        assert payload["type"] == event_line[len("event: "):]
        seqs.append(payload["sequence_number"])
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    delta = next(json.loads(b.split("\n")[1][6:]) for b in blocks if "output_text.delta" in b)
    assert {"delta", "item_id", "output_index", "content_index", "logprobs"} <= set(delta)
    assert delta["logprobs"] == []


def test_responses_stream_helper(fake, client):
    with client.responses.stream(model=MODEL, input="what time is it?") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Echo: what time is it?"
    assert final.output_text == "Echo: what time is it?"
    assert final.usage.output_tokens == len(deltas)


def test_responses_non_stream(fake, client):
    fake.reply = Script(text="plain answer")
    resp = client.responses.create(model=MODEL, input="x")
    assert resp.output_text == "plain answer" and resp.status == "completed"
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    # the whole text is one write: its first and last token arrive together
    rec = fake.wait_for(lambda: fake.last.done and fake.last, timeout=5)
    assert rec.first_delta_at == rec.last_delta_at <= rec.finished_at


def test_last_user_text_from_content_parts(fake, client):
    list(_stream_responses(client, "ignored"))
    events = list(client.responses.create(model=MODEL, stream=True, input=[
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "Echo: first"},
        {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
    ]))
    assert events[-1].response.output_text == "Echo: second"


def test_usage_override(fake, client):
    fake.reply = Script(text="abc", usage={"input_tokens": 1000, "output_tokens": 7})
    done = list(_stream_responses(client))[-1]
    assert (done.response.usage.input_tokens, done.response.usage.output_tokens,
            done.response.usage.total_tokens) == (1000, 7, 1007)
    chunks = list(_stream_chat(client))
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (1000, 7)


# --------------------------------------------------------------------------- Chat Completions


def test_chat_stream_with_usage(fake, client):
    chunks = list(_stream_chat(client, "hi there"))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: hi there"
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert fake.last.path == "/v1/chat/completions" and fake.last.outcome == "completed"


def test_chat_stream_without_usage(fake, client):
    chunks = list(_stream_chat(client, include_usage=False))
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)


def test_chat_wire_format(fake):
    status, headers, data = _raw_post(fake, "/v1/chat/completions", {
        "model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True,
        "stream_options": {"include_usage": True}})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in data.split("\n\n") if b]
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks)
    assert blocks[-1] == "data: [DONE]"
    usage_chunk = json.loads(blocks[-2][6:])
    assert usage_chunk["choices"] == [] and set(usage_chunk["usage"]) >= {
        "prompt_tokens", "completion_tokens", "total_tokens"}


def test_chat_non_stream(fake, client):
    fake.reply = Script(text="ok")
    resp = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert resp.choices[0].message.content == "ok" and resp.choices[0].finish_reason == "stop"


# --------------------------------------------------------------------------- scripting


def test_queue_is_consumed_before_reply(fake, client):
    fake.reply = Script(text="default")
    fake.queue(Script(text="one"), Script(text="two"))
    outs = [client.responses.create(model=MODEL, input="x").output_text for _ in range(4)]
    assert outs == ["one", "two", "default", "default"]
    assert fake.queued == 0


def test_wait_for(fake, client):
    client.responses.create(model=MODEL, input="x")
    assert fake.wait_for(lambda: fake.count("/v1/responses") == 1)
    assert fake.wait_for(lambda f: f.last.done)
    with pytest.raises(TimeoutError):
        fake.wait_for(lambda: False, timeout=0.1)


# --------------------------------------------------------------------------- stop / hang / timeouts


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_client_closing_stream_stops_generation(fake, client, api, capfd):
    fake.reply = Script(text="y" * 400, chunk_chars=4, delta_delay=0.05)  # 100 deltas, ~5 s
    stream = _stream_responses(client) if api == "responses" else _stream_chat(client)
    seen = 0
    for ev in stream:
        if (ev.type == "response.output_text.delta" if api == "responses"
                else bool(ev.choices and ev.choices[0].delta.content)):
            seen += 1
            if seen == 3:
                break
    closed_at = time.monotonic()
    stream.close()
    rec = fake.wait_for(lambda: fake.last.done and fake.last)
    assert rec.client_closed_early and rec.outcome == "client_closed"
    assert closed_at < rec.client_closed_at <= rec.finished_at
    assert rec.client_closed_at - closed_at < 0.5  # noticed within about one delta_delay
    assert rec.last_delta_at < closed_at  # no delta written after the client hung up
    assert rec.deltas_sent <= 6 < rec.deltas_total
    assert "Traceback" not in capfd.readouterr().err


def test_stream_helper_exit_closes_stream(fake, client):
    fake.reply = Script(text="z" * 400, delta_delay=0.05)
    with client.responses.stream(model=MODEL, input="x") as stream:
        for ev in stream:
            if ev.type == "response.output_text.delta":
                break
    rec = fake.wait_for(lambda: fake.last.done and fake.last)
    assert rec.client_closed_early and rec.deltas_sent < 10


def test_hang_before_first_token_read_timeout(fake, capfd):
    fake.reply = Script(first_token_delay=HANG)
    impatient = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=0.5)
    stream = _stream_responses(impatient)  # headers + response.created arrive at once
    with pytest.raises(openai.APITimeoutError) as ei:
        for _ in stream:
            pass
    assert isinstance(ei.value, openai.APIConnectionError)  # APITimeoutError subclasses it
    assert isinstance(ei.value.__cause__, httpx2.ReadTimeout)
    rec = fake.wait_for(lambda: fake.last.done and fake.last, timeout=5)
    assert rec.client_closed_early and rec.deltas_sent == 0
    assert "Traceback" not in capfd.readouterr().err


def test_response_delay_times_out_create(fake):
    fake.reply = Script(response_delay=HANG)
    impatient = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        _stream_responses(impatient)


def test_stop_while_streaming_is_quick():
    fake = FakeOpenAI().start()
    fake.reply = Script(first_token_delay=HANG)
    c = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=10)
    stream = _stream_responses(c)
    fake.wait_for(lambda: fake.count() == 1)
    t = time.monotonic()
    fake.stop()
    assert time.monotonic() - t < 2
    with pytest.raises(openai.APIConnectionError):
        list(stream)
    assert fake.last.outcome == "server_stopped"


def test_unknown_path_404(fake, client):
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-3-small", input="x")
