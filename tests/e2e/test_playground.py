"""The playground without a browser: what it sends the bot is what Slack sends (shapes, signature,
retries), its API refuses bad input with a 4xx and changes nothing, and a mention in a channel,
delivered as both app_mention and message like Slack does, is answered once."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from slack_sdk.signature import SignatureVerifier

from browser import PlaygroundProcess
from flows import handed_off, wait_settled
from harness import FIXTURES
from playground.deliveries import (Conversation, Deliverer, Person, Team, block_actions, find_button,
                                   message_action, message_events)
from playground.workspace import Workspace
from standins.slack_api import FakeSlack

TEAM = Team("T0TEST", "test", "A0TEST", "U0BOT")
ADA = Person("U0ADA", "ada", "Ada Lovelace")
DM = Conversation("D0ADA", "Threadwise", True)
GENERAL = Conversation("C0GENERAL", "general", False)


def keys(value) -> set:
    return set(value) if isinstance(value, dict) else set()


# --- what it sends ------------------------------------------------------------------------------
def test_a_dm_is_delivered_as_slack_delivers_message_im():
    fixture = json.loads((FIXTURES / "event_message_im.json").read_text())
    message = {"client_msg_id": "x", "type": "message", "text": "hi", "user": ADA.id, "ts": "1.000100",
               "blocks": [], "team": TEAM.team_id}
    [body] = message_events(TEAM, ADA, DM, message)
    assert keys(body) == keys(fixture)
    assert keys(body["event"]) == keys(fixture["event"])
    assert keys(body["authorizations"][0]) == keys(fixture["authorizations"][0])
    assert body["event"]["channel_type"] == "im" and body["authorizations"][0]["user_id"] == TEAM.bot_user_id


def test_a_mention_in_a_channel_is_delivered_twice_with_its_own_event_ids():
    message = {"client_msg_id": "x", "type": "message", "text": f"<@{TEAM.bot_user_id}> hi", "user": ADA.id,
               "ts": "1.000200", "thread_ts": "1.000100", "blocks": [], "team": TEAM.team_id}
    mention, plain = message_events(TEAM, ADA, GENERAL, message)
    assert mention["event"]["type"] == "app_mention" and "channel_type" not in mention["event"]
    assert plain["event"]["type"] == "message" and plain["event"]["channel_type"] == "channel"
    assert mention["event_id"] != plain["event_id"]
    assert mention["event"]["thread_ts"] == "1.000100"


def test_shortcuts_and_buttons_have_slacks_shape():
    fixture = json.loads((FIXTURES / "shortcut_message_action.json").read_text())
    bot_reply = {"type": "message", "user": TEAM.bot_user_id, "bot_id": "B0BOT", "ts": "1.000300", "text": "…",
                 "metadata": {"event_type": "assistant_reply", "event_payload": {"asker": ADA.id}},
                 "blocks": [{"type": "actions", "block_id": "threadwise_stop", "elements": [
                     {"type": "button", "action_id": "abort_openai_api", "text": {"type": "plain_text", "text": "Stop"},
                      "value": "stop", "style": "danger"}]}]}
    shortcut = message_action(TEAM, ADA, DM, bot_reply, "delete_message", "trigger-1")
    assert keys(shortcut) == keys(fixture)
    assert keys(shortcut["user"]) == keys(fixture["user"]) and keys(shortcut["team"]) == keys(fixture["team"])
    assert "metadata" not in shortcut["message"]  # Slack's shortcut payloads may lack it: the bot reads it back
    button = find_button(bot_reply, "threadwise_stop", "abort_openai_api")
    click = block_actions(TEAM, ADA, DM, bot_reply, "threadwise_stop", button, "trigger-2")
    assert click["actions"][0]["action_id"] == "abort_openai_api" and click["message"]["metadata"]
    assert click["container"] == {"type": "message", "message_ts": "1.000300", "channel_id": DM.id,
                                  "is_ephemeral": False}
    assert find_button(bot_reply, "threadwise_stop", "something_else") is None


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((dict(self.headers), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        if status == 400:
            self.send_header("X-Slack-No-Retry", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_deliveries_are_signed_and_retried_like_slacks(recorder):
    secret = "playground-test-secret"
    deliverer = Deliverer(f"http://127.0.0.1:{recorder.server_address[1]}/", secret)
    recorder.statuses = [503, 200]
    deliverer.event({"type": "event_callback", "event_id": "Ev1"})
    deadline = time.monotonic() + 10
    while len(recorder.seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    (first_headers, first_body), (retry_headers, retry_body) = recorder.seen
    verifier = SignatureVerifier(secret)
    assert verifier.is_valid_request(first_body, first_headers) and verifier.is_valid_request(retry_body, retry_headers)
    assert "X-Slack-Retry-Num" not in first_headers
    assert retry_headers["X-Slack-Retry-Num"] == "1" and retry_headers["X-Slack-Retry-Reason"] == "http_error"
    assert retry_body == first_body  # the same event_id again
    assert not SignatureVerifier("another-secret").is_valid_request(first_body, first_headers)

    recorder.seen.clear()
    recorder.statuses = [400]  # with X-Slack-No-Retry: 1
    assert deliverer.interaction({"type": "block_actions"}) == 400
    assert len(recorder.seen) == 1
    assert recorder.seen[0][0]["Content-Type"] == "application/x-www-form-urlencoded"


def test_typed_text_becomes_slack_text():
    with FakeSlack() as slack:
        workspace = Workspace(slack, Deliverer("http://127.0.0.1:9/", "s"), TEAM)
        assert workspace.as_slack_text("@Threadwise a < b & c > d, ask @grace not @nobody") == (
            f"<@{TEAM.bot_user_id}> a &lt; b &amp; c &gt; d, ask <@U0PLAYGRACE> not @nobody")


# --- its API ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def playground(tmp_path_factory):
    process = PlaygroundProcess(tmp_path_factory.mktemp("playground-api") / "playground.log",
                                PRACTICE_TOKEN_DELAY="0.01", STREAM_UPDATE_INTERVAL="0.2",
                                LOG_LEVEL="DEBUG")  # the bot's decisions, in the playground's log
    yield process
    process.stop()


def call(playground, path, body=None, headers=None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(playground.url.rstrip("/") + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def state(playground, person="U0PLAYADA"):
    status, snapshot = call(playground, f"/api/state?person={person}&since=-1")
    assert status == 200
    return {c["id"]: c["messages"] for c in snapshot["conversations"]}


def test_bad_requests_get_a_4xx_and_change_nothing(playground):
    before = state(playground)
    ada = "U0PLAYADA"
    cases = [
        ("/api/messages", {"person": "U0NOBODY", "channel": "D0PLAYADA", "text": "hi"}, {}, 400, "Unknown person."),
        ("/api/messages", {"person": ada, "channel": "D0PLAYGRACE", "text": "hi"}, {}, 400, "Unknown conversation."),
        ("/api/messages", {"person": ada, "channel": "D0PLAYADA", "text": "   "}, {}, 400, "Type a message first."),
        ("/api/messages", {"person": ada, "channel": "D0PLAYADA", "text": 5}, {}, 400, "Type a message first."),
        ("/api/messages", {"person": ada, "channel": "D0PLAYADA", "text": "x" * 40_001}, {}, 400, "at most"),
        ("/api/messages", {"person": ada, "channel": "C0PLAYGENERAL", "text": "hi", "thread_ts": "9.9"}, {}, 400,
         "That thread does not exist."),
        ("/api/actions", {"person": ada, "channel": "D0PLAYADA", "ts": "9.9", "action": "delete_message"}, {}, 400,
         "no longer exists"),
        ("/api/messages", [1, 2], {}, 400, "JSON object"),
        ("/api/messages", {"person": ada, "channel": "D0PLAYADA", "text": "hi"}, {"Content-Type": "text/plain"}, 415,
         "JSON"),
        ("/api/messages", {"person": ada, "channel": "D0PLAYADA", "text": "hi"}, {"Origin": "https://evil.example"},
         403, "Only this page"),
        ("/api/messages", {"person": ada, "channel": "D0PLAYADA", "text": "hi"}, {"Host": "evil.example"}, 403, ""),
        ("/api/nothing", {"person": ada}, {}, 404, "not found"),
    ]
    for path, body, headers, status, words in cases:
        got, answer = call(playground, path, body, headers)
        assert got == status and words in answer.get("error", ""), (path, body, headers, got, answer)
    assert call(playground, "/api/messages", raw=b"{not json")[0] == 400
    assert call(playground, "/api/messages", raw=b"x" * (65 * 1024))[0] == 413
    assert call(playground, "/static/../app.py")[0] == 404
    assert call(playground, "/api/state?person=U0PLAYADA&since=soon")[0] == 400
    assert state(playground) == before


def test_a_channel_mention_is_answered_once(playground):
    since = playground.log_mark()
    status, answer = call(playground, "/api/messages", {"person": "U0PLAYGRACE", "channel": "C0PLAYRANDOM",
                                                        "text": "@Threadwise one answer please"})
    assert status == 200
    question = answer["ts"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        replies = [m for m in state(playground, "U0PLAYGRACE")["C0PLAYRANDOM"]
                   if m.get("thread_ts") == question and m["ts"] != question]
        if replies and "to get real answers" in replies[-1]["text"] and not any(
                b.get("type") == "actions" for b in replies[-1].get("blocks") or []):
            break
        time.sleep(0.1)
    # Slack's two events for the mention: the message one ignored, the app_mention one answered and ended.
    playground.wait_for_log(since=since, message="ignored event", reason="mention: answered through app_mention")
    [event_id] = handed_off(playground, since)
    wait_settled(playground, event_id, since=since)
    replies = [m for m in state(playground, "U0PLAYGRACE")["C0PLAYRANDOM"]
               if m.get("thread_ts") == question and m["ts"] != question]
    assert len(replies) == 1 and replies[0]["is_bot"]
    assert "You asked: “one answer please”" in replies[0]["text"]
    # Ada's view has the channel message too, but not Grace's DM.
    assert "D0PLAYGRACE" not in state(playground, "U0PLAYADA")
