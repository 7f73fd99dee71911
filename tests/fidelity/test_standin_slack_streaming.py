"""Tests for FakeSlack's streaming methods (chat.startStream / appendStream / stopStream),
driven through the real slack_sdk.WebClient."""

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import MarkdownTextChunk, TaskUpdateChunk

try:
    from standins.slack_api import FakeSlack
except ModuleNotFoundError:  # plain `pytest` without the repo root on sys.path
    from standins.slack_api import FakeSlack

pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")

C, DM = "C123", "D456"
RECIPIENT = {"recipient_user_id": "U1", "recipient_team_id": "T1"}
META = {"event_type": "threadwise_answer", "event_payload": {"request_id": "r1", "n": 2}}


from slack_standin_fixtures import api_error, client, fake  # noqa: F401  (fixtures)


def form_post(fake, method, form):
    """A form-encoded request (slack_sdk sends the streaming methods as JSON)."""
    req = urllib.request.Request(fake.base_url + method, data=urlencode(form).encode(),
                                 headers={"Authorization": "Bearer xoxb-test"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def start(fake, client, channel=C, **kwargs):
    root = fake.add_message(channel, "U1", "question?")
    args = dict(RECIPIENT) if not channel.startswith("D") else {}
    args.update(kwargs)
    resp = client.chat_startStream(channel=channel, thread_ts=root, **args)
    return root, resp["ts"]


# ------------------------------------------------------------------ happy path

def test_start_append_stop_with_blocks_and_metadata(fake, client):
    root, ts = start(fake, client, markdown_text="**Hel")
    assert fake.is_streaming(C, ts)
    started = fake.calls_of("chat.startStream")[0]
    assert started.content_type == "application/json"  # slack_sdk sends json=
    assert started.response == {"ok": True, "channel": C, "ts": ts}
    msg = fake.get(C, ts)
    assert msg["thread_ts"] == root and msg["bot_id"] == "BBOT"
    assert msg["text"] == "**Hel" and msg["blocks"] == [{"type": "markdown", "text": "**Hel"}]

    resp = client.chat_appendStream(channel=C, ts=ts, markdown_text="lo**")
    assert resp.data == {"ok": True, "channel": C, "ts": ts}
    # Replies show the message mid-stream with its text so far.
    replies = client.conversations_replies(channel=C, ts=root)["messages"]
    assert replies[1]["ts"] == ts and replies[1]["text"] == "**Hello**"

    buttons = [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Good"}, "action_id": "up"}]}]
    resp = client.chat_stopStream(channel=C, ts=ts, markdown_text=" bye", blocks=buttons,
                                  metadata=META)
    assert resp["ok"] and resp["ts"] == ts and resp["channel"] == C
    assert resp["message"]["text"] == "**Hello** bye"
    assert not fake.is_streaming(C, ts)
    msg = fake.get(C, ts)
    assert msg["blocks"] == [{"type": "markdown", "text": "**Hello** bye"}] + buttons
    assert msg["metadata"] == META

    plain = client.conversations_replies(channel=C, ts=root)["messages"][1]
    assert "metadata" not in plain and plain["text"] == "**Hello** bye"
    full = client.conversations_replies(channel=C, ts=root, include_all_metadata=True)
    assert full["messages"][1]["metadata"] == META
    parent = client.conversations_history(channel=C)["messages"][0]
    assert parent["reply_count"] == 1 and parent["latest_reply"] == ts


def test_chunks_and_dm_without_recipient(fake, client):
    root, ts = start(fake, client, channel=DM,
                     chunks=[MarkdownTextChunk(text="a"),
                             TaskUpdateChunk(id="t1", title="Searching", status="in_progress")])
    assert fake.get(DM, ts)["text"] == "a"
    client.chat_appendStream(channel=DM, ts=ts, chunks=[{"type": "markdown_text", "text": "b"},
                                                        {"type": "plan_update", "title": "Plan"}])
    client.chat_stopStream(channel=DM, ts=ts, chunks=[{"type": "markdown_text", "text": "c"}])
    assert fake.get(DM, ts)["text"] == "abc"
    assert fake.calls_of("chat.appendStream")[0].params["chunks"][1]["type"] == "plan_update"


def test_chat_stream_helper(fake, client):
    root = fake.add_message(C, "U1", "question?")
    streamer = client.chat_stream(channel=C, thread_ts=root, buffer_size=5, **RECIPIENT)
    assert streamer.append(markdown_text="ab") is None  # buffered
    streamer.append(markdown_text="cdef")               # flush: chat.startStream
    streamer.append(markdown_text="ghijk")              # flush: chat.appendStream
    assert fake.is_streaming(C, streamer.ts) and fake.get(C, streamer.ts)["text"] == "abcdefghijk"
    streamer.append(markdown_text="l")
    resp = streamer.stop(metadata=META)
    assert resp["message"]["text"] == "abcdefghijkl" and fake.get(C, streamer.ts)["metadata"] == META
    assert [c.method for c in fake.calls] == ["chat.startStream", "chat.appendStream",
                                              "chat.stopStream"]
    assert all(c.content_type == "application/json" and c.response["ok"] for c in fake.calls)


def test_chat_stream_helper_stop_without_text(fake, client):
    # ChatStream.stop() with nothing buffered starts the stream, then stops with chunks=[].
    root = fake.add_message(DM, "U1", "question?")
    streamer = client.chat_stream(channel=DM, thread_ts=root)
    streamer.stop(blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}])
    msg = fake.get(DM, streamer.ts)
    assert msg["blocks"][0] == {"type": "markdown", "text": ""} and msg["text"] == "done"


def test_form_body_with_json_strings(fake, client):
    root, ts = start(fake, client)
    status, body = form_post(fake, "chat.appendStream",
                             {"channel": C, "ts": ts,
                              "chunks": json.dumps([{"type": "markdown_text", "text": "x"}])})
    assert (status, body["ok"]) == (200, True)
    status, body = form_post(fake, "chat.stopStream",
                             {"channel": C, "ts": ts, "metadata": json.dumps(META)})
    assert body["ok"] and fake.get(C, ts)["metadata"] == META and fake.get(C, ts)["text"] == "x"
    # metadata as a JSON string inside a JSON body is decoded too.
    _, ts2 = start(fake, client)
    client.chat_stopStream(channel=C, ts=ts2, metadata=json.dumps(META))
    assert fake.get(C, ts2)["metadata"] == META


# ------------------------------------------------------------------ errors

def test_start_stream_argument_errors(fake, client):
    root = fake.add_message(C, "U1", "q")
    assert api_error(client.chat_startStream, channel=C, thread_ts=root,
                     markdown_text="x")["error"] == "missing_recipient_user_id"
    assert api_error(client.chat_startStream, channel=C, thread_ts=root, markdown_text="x",
                     recipient_user_id="U1")["error"] == "missing_recipient_team_id"
    assert api_error(client.chat_startStream, channel=C, thread_ts="", markdown_text="x",
                     **RECIPIENT)["error"] == "invalid_arguments"
    assert api_error(client.chat_startStream, channel=C, thread_ts=root,
                     markdown_text="x" * 12001, **RECIPIENT)["error"] == "msg_too_long"
    assert api_error(client.chat_startStream, channel=C, thread_ts=root,
                     chunks=[{"type": "nonsense"}], **RECIPIENT)["error"] == "invalid_chunks"
    assert len(fake.thread(C, root)) == 1  # nothing was posted
    client.chat_startStream(channel=C, thread_ts=root, markdown_text="x" * 12000, **RECIPIENT)


def test_append_and_stop_errors(fake, client):
    root, ts = start(fake, client, markdown_text="a")
    posted = client.chat_postMessage(channel=C, thread_ts=root, text="plain")["ts"]
    human = fake.add_message(C, "U1", "mine", thread_ts=root)
    for call in (client.chat_appendStream, client.chat_stopStream):
        assert api_error(call, channel=C, ts="1.000000", markdown_text="x")["error"] == "message_not_found"
        assert api_error(call, channel=C, ts=posted,
                         markdown_text="x")["error"] == "message_not_in_streaming_state"
        assert api_error(call, channel=C, ts=human, markdown_text="x")["error"] == "message_not_owned_by_app"
        assert api_error(call, channel=C, ts=ts, markdown_text="x",
                         chunks=[{"type": "markdown_text", "text": "y"}]
                         )["error"] == "cannot_provide_both_markdown_text_and_chunks"
        # Started with markdown_text: chunks are refused (documented streaming_mode_mismatch).
        assert api_error(call, channel=C, ts=ts, chunks=[{"type": "markdown_text", "text": "y"}]
                         )["error"] == "streaming_mode_mismatch"
    assert api_error(client.chat_appendStream, channel=C, ts=ts,
                     markdown_text="x" * 12001)["error"] == "msg_too_long"
    assert api_error(client.chat_appendStream, channel=C,
                     ts=ts)["error"] == "markdown_text_or_chunks_required"
    assert api_error(client.chat_stopStream, channel=C, ts=ts,
                     metadata={"event_payload": {}})["error"] == "invalid_metadata_format"
    assert api_error(client.chat_stopStream, channel=C, ts=ts,
                     blocks=[{"type": "divider"}] * 51)["error"] == "invalid_blocks"
    assert fake.get(C, ts)["text"] == "a" and fake.is_streaming(C, ts)

    client.chat_stopStream(channel=C, ts=ts)
    for call in (client.chat_appendStream, client.chat_stopStream):
        assert api_error(call, channel=C, ts=ts,
                         markdown_text="x")["error"] == "message_not_in_streaming_state"
    assert fake.get(C, ts)["text"] == "a"


def test_stream_expires_after_ttl(fake, client):
    fake.stream_ttl = 0.3
    _, ts = start(fake, client, markdown_text="so far")
    client.chat_appendStream(channel=C, ts=ts, markdown_text=", more")
    assert api_error(client.chat_update, channel=C, ts=ts, text="x")["error"] == "cant_update_message"
    time.sleep(0.4)
    assert not fake.is_streaming(C, ts)
    for call in (client.chat_appendStream, client.chat_stopStream):
        assert api_error(call, channel=C, ts=ts,
                         markdown_text="!")["error"] == "message_not_in_streaming_state"
    assert fake.get(C, ts)["text"] == "so far, more"
    # The documented fallback: chat.update works once the stream is over.
    client.chat_update(channel=C, ts=ts, markdown_text="final")
    assert fake.get(C, ts)["blocks"] == [{"type": "markdown", "text": "final"}]


def test_update_refused_mid_stream_accepted_after_and_delete(fake, client):
    _, ts = start(fake, client, markdown_text="a")
    assert api_error(client.chat_update, channel=C, ts=ts, text="b")["error"] == "cant_update_message"
    client.chat_stopStream(channel=C, ts=ts)
    assert client.chat_update(channel=C, ts=ts, text="b")["text"] == "b"

    root, ts2 = start(fake, client, markdown_text="c")
    client.chat_delete(channel=C, ts=ts2)
    assert not fake.is_streaming(C, ts2) and fake.get(C, ts2) is None
    assert api_error(client.chat_appendStream, channel=C, ts=ts2,
                     markdown_text="d")["error"] == "message_not_found"


def test_stopped_by_user(fake, client):
    _, ts = start(fake, client, markdown_text="a")
    assert fake.stop_stream_by_user(C, ts)
    assert api_error(client.chat_appendStream, channel=C, ts=ts,
                     markdown_text="b")["error"] == "stopped_by_user"
    assert api_error(client.chat_stopStream, channel=C, ts=ts)["error"] == "message_not_in_streaming_state"


def test_unknown_method_when_streaming_unavailable(fake, client):
    fake.streaming_available = False
    root = fake.add_message(C, "U1", "q")
    resp = api_error(client.chat_startStream, channel=C, thread_ts=root, markdown_text="x", **RECIPIENT)
    assert resp.status_code == 404 and resp.data == {"ok": False, "error": "unknown_method"}
    for call in (client.chat_appendStream, client.chat_stopStream):
        resp = api_error(call, channel=C, ts=root, markdown_text="x")
        assert (resp.status_code, resp["error"]) == (404, "unknown_method")
    # Same answer as a method FakeSlack never had.
    assert form_post(fake, "chat.nonexistent", {"x": "1"}) == (404, resp.data)
    fake.streaming_available = True
    client.chat_startStream(channel=C, thread_ts=root, markdown_text="x", **RECIPIENT)


def test_enforce_tiers_on_stream_methods(fake, client):
    fake.enforce_tiers(per_minute={"chat.startStream": 20, "chat.appendStream": 6}, burst=1)
    _, ts = start(fake, client, markdown_text="a")
    assert api_error(start, fake, client).status_code == 429
    client.chat_appendStream(channel=C, ts=ts, markdown_text="b")
    resp = api_error(client.chat_appendStream, channel=C, ts=ts, markdown_text="c")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "10"
    client.chat_stopStream(channel=C, ts=ts)  # not limited
    assert fake.get(C, ts)["text"] == "ab" and fake.ratelimited_count == 2
