"""What the bot does with each kind of HTTP request Slack (or anyone else) can send it.

Every request gets an answer with ``X-Slack-No-Retry: 1``; only authentic,
well-formed requests change anything; the acknowledgement never waits for the model.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import harness
from flows import ASKER, handed_off, wait_answer, wait_settled
from harness import FIXTURES, message_event, new_event_id, shortcut_payload, sign, stop_button_payload
from standins.openai_api import Script

ACCESS_TOKEN = "right-access-token-0123456789"
SLACK_WRITES = ("chat.postMessage", "chat.update", "chat.delete", "chat.postEphemeral")
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


# --- small helpers ----------------------------------------------------------------------------
def question(channel: str, **extra) -> dict:
    """A DM question that the bot would answer if the request were accepted.

    Its text names the channel, so a model request for it can be recognised."""
    return message_event(channel, ASKER, f"what is new in {channel}?", "1700000000.000100", **extra)


def writes_to(slack, channel: str) -> list:
    return [c for method in SLACK_WRITES for c in slack.calls_of(method) if c.params.get("channel") == channel]


def model_requests_for(openai_server, channel: str) -> list:
    return [r for r in openai_server.requests if channel in json.dumps(r.body)]


def placeholders(slack, channel: str) -> list:
    return [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel]


@pytest.fixture
def nothing_happens(bots, slack, openai_server, channel):
    """Call it after the requests with the bot and the decision it states in its log. It waits for that
    decision, checks what the bot handed to a background answer (every answer starts with a "handed
    off" line, written before the acknowledgement) and waits for those jobs to end, then checks that it
    neither wrote to the test's channel, nor opened a view, nor asked the model. No sleep: once nothing
    is handed off, or what was has ended, nothing comes later."""
    marks = {id(bot): bot.log_mark() for bot in bots.all()}  # a bot started during the test: all its log
    views_before = len(slack.calls_of("views.open"))

    def check(bot, decision: str, count: int = 1, handed_off: int = 0, **fields):
        since = marks.get(id(bot), 0)
        bot.wait_for_log(message=decision, since=since, count=count, **fields)
        handed = bot.logged(since, message="handed off")
        assert len(handed) == handed_off
        for job in handed:  # a job decided to stay quiet: wait until it has returned
            wait_settled(bot, job["event_id"], since=since)
        assert writes_to(slack, channel) == []
        assert slack.calls_of("views.open")[views_before:] == []
        assert model_requests_for(openai_server, channel) == []

    return check


def acknowledged(response, status: int = 200) -> None:
    assert response.status == status, response.body
    assert response.headers.get("X-Slack-No-Retry") == "1"
    assert response.headers.get("Content-Type", "").startswith("application/json")


def form(payload) -> bytes:
    return urllib.parse.urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)}).encode()


def bot_reply(channel: str) -> dict:
    return {"type": "message", "ts": "1700000000.000200", "thread_ts": "1700000000.000100", "user": "UBOT",
            "bot_id": "BBOT", "app_id": "AAPP", "text": f"an answer in {channel}"}


# --- 1. url_verification -----------------------------------------------------------------------
def _url_verification() -> dict:
    return json.loads((FIXTURES / "url_verification.json").read_text())


def test_url_verification_echoes_the_challenge(bot):
    """Slack's URL check gets its challenge back, as JSON."""
    payload = _url_verification()
    response = bot.send_event(payload)
    acknowledged(response)
    assert response.json() == {"challenge": payload["challenge"]}


def test_unsigned_url_verification_is_refused(bot):
    """An unsigned URL check is refused: nobody else can register our endpoint."""
    response = bot.post(json.dumps(_url_verification()).encode(), JSON)
    acknowledged(response, 401)
    assert b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" not in response.body


# --- 2. signature ------------------------------------------------------------------------------
def _unsigned(body):
    return body, {}


def _wrong_secret(body):
    return body, sign(body, "not-the-signing-secret")


def _tampered_body(body):
    return body.replace(b"what is new", b"tell me secrets"), sign(body)


def _replayed(body):
    return body, sign(body, timestamp=int(time.time()) - 6 * 60)


def _from_the_future(body):
    return body, sign(body, timestamp=int(time.time()) + 6 * 60)


def _non_numeric_timestamp(body):
    return body, sign(body, timestamp="soon")  # signed correctly over "v0:soon:<body>"


def _signature_only(body):
    return body, {"X-Slack-Signature": sign(body)["X-Slack-Signature"]}


def _timestamp_only(body):
    return body, {"X-Slack-Request-Timestamp": sign(body)["X-Slack-Request-Timestamp"]}


def _malformed_signature(body):
    return body, {**sign(body), "X-Slack-Signature": "v0=zz"}


@pytest.mark.parametrize("forge", [_unsigned, _signature_only, _timestamp_only, _wrong_secret, _tampered_body,
                                   _malformed_signature, _replayed, _from_the_future, _non_numeric_timestamp],
                         ids=lambda f: f.__name__.strip("_"))
def test_requests_without_a_valid_signature_are_refused(bot, channel, nothing_happens, forge):
    """A request that Slack did not sign (or signed more than 5 minutes away from now) gets 401 and changes nothing."""
    body, headers = forge(json.dumps(question(channel)).encode())
    acknowledged(bot.post(body, JSON, headers), 401)
    nothing_happens(bot, "unverified request rejected")


def test_a_request_signed_four_minutes_ago_is_still_accepted(bot, slack, channel):
    """Slack's clock and ours may differ a little: within 5 minutes a signed question is answered."""
    event = question(channel)
    body = json.dumps(event).encode()
    acknowledged(bot.post(body, JSON, sign(body, timestamp=int(time.time()) - 4 * 60)))
    slack.wait_for(lambda fake: placeholders(fake, channel))


# --- 3. ACCESS_TOKEN ---------------------------------------------------------------------------
@pytest.fixture
def token_only_bot(bots):
    return bots.get(SLACK_SIGNING_SECRET="", ACCESS_TOKEN=ACCESS_TOKEN)


@pytest.fixture
def token_and_signature_bot(bots):
    return bots.get(ACCESS_TOKEN=ACCESS_TOKEN)


def test_access_token_alone_admits_unsigned_requests_with_the_right_token(token_only_bot, slack, channel):
    """With only ACCESS_TOKEN set, ``?token=<it>`` is the proof: an unsigned question is answered."""
    body = json.dumps(question(channel)).encode()
    acknowledged(token_only_bot.post(body, JSON, query=f"?token={ACCESS_TOKEN}"))
    slack.wait_for(lambda fake: placeholders(fake, channel))

    challenge = _url_verification()
    response = token_only_bot.post(json.dumps(challenge).encode(), JSON, query=f"?token={ACCESS_TOKEN}")
    acknowledged(response)
    assert response.json() == {"challenge": challenge["challenge"]}


@pytest.mark.parametrize("query", ["", "?token=", "?token=wrong-token", f"?token={ACCESS_TOKEN}x",
                                   f"?token={ACCESS_TOKEN[:-1]}", f"?other={ACCESS_TOKEN}"],
                         ids=["no-query", "empty-token", "wrong-token", "longer-token", "shorter-token",
                              "other-parameter"])
def test_access_token_alone_refuses_a_missing_or_wrong_token(token_only_bot, channel, nothing_happens, query):
    """With only ACCESS_TOKEN set, a request without the right ``?token=`` gets 401, signed or not."""
    body = json.dumps(question(channel)).encode()
    acknowledged(token_only_bot.post(body, JSON, query=query), 401)
    acknowledged(token_only_bot.post(body, JSON, sign(body), query=query), 401)
    nothing_happens(token_only_bot, "unverified request rejected", count=2)


def test_signature_and_access_token_together_admit_a_request_with_both(token_and_signature_bot, slack, channel):
    """With both set, a signed request with the right token is answered."""
    acknowledged(token_and_signature_bot.send_event(question(channel), query=f"?token={ACCESS_TOKEN}"))
    slack.wait_for(lambda fake: placeholders(fake, channel))


@pytest.mark.parametrize("case", ["signed-no-token", "signed-wrong-token", "right-token-unsigned",
                                  "right-token-wrong-secret", "right-token-stale-signature"])
def test_signature_and_access_token_together_require_both(token_and_signature_bot, channel, nothing_happens, case):
    """With both set, passing only one of the two checks gets 401 and changes nothing."""
    body = json.dumps(question(channel)).encode()
    headers, query = {
        "signed-no-token": (sign(body), ""),
        "signed-wrong-token": (sign(body), "?token=wrong-token"),
        "right-token-unsigned": ({}, f"?token={ACCESS_TOKEN}"),
        "right-token-wrong-secret": (sign(body, "not-the-signing-secret"), f"?token={ACCESS_TOKEN}"),
        "right-token-stale-signature": (sign(body, timestamp=int(time.time()) - 600), f"?token={ACCESS_TOKEN}"),
    }[case]
    acknowledged(token_and_signature_bot.post(body, JSON, headers, query), 401)
    nothing_happens(token_and_signature_bot, "unverified request rejected")


# --- 4. no verification configured -------------------------------------------------------------
@pytest.mark.parametrize("empty", ["absent", "empty", "blank"])
def test_refuses_to_start_without_a_way_to_verify_requests(slack, empty):
    """Without SLACK_SIGNING_SECRET and ACCESS_TOKEN the function does not start, and says which variables to set."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "OPENAI_")) and k != "ACCESS_TOKEN"}
    env.update({"SLACK_BOT_TOKEN": harness.BOT_TOKEN, "SLACK_API_URL": slack.base_url})
    if empty != "absent":
        value = "" if empty == "empty" else "   "
        env.update({"SLACK_SIGNING_SECRET": value, "ACCESS_TOKEN": value})
    port = harness.free_port()
    try:
        result = subprocess.run(
            [harness.FUNCTIONS_FRAMEWORK, "--target=slack_bot", "--source=main.py", f"--port={port}",
             "--host=127.0.0.1"],
            cwd=harness.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
        )
    except subprocess.TimeoutExpired as timeout:  # it started serving: the very thing that must not happen
        pytest.fail(f"the bot started without any verification:\n{timeout.output!r}")
    output = result.stdout.decode(errors="replace")
    assert result.returncode != 0, output
    assert "SLACK_SIGNING_SECRET" in output and "ACCESS_TOKEN" in output, output
    assert harness.BOT_TOKEN not in output


# --- 5. bad input ------------------------------------------------------------------------------
def _event_without(*keys, where="event"):
    def build(channel):
        payload = question(channel)
        target = payload["event"] if where == "event" else payload
        for key in keys:
            target.pop(key)
        return json.dumps(payload).encode()
    return build


def _event_with(where="event", **changes):
    def build(channel):
        payload = question(channel)
        (payload["event"] if where == "event" else payload).update(changes)
        return json.dumps(payload).encode()
    return build


def _shortcut_without(key):
    def build(channel):
        payload = shortcut_payload("abort_openai_api", channel, ASKER, bot_reply(channel))
        payload.pop(key)
        return form(payload)
    return build


def _shortcut_with(**changes):
    def build(channel):
        payload = shortcut_payload("abort_openai_api", channel, ASKER, bot_reply(channel))
        payload.update(changes)
        return form(payload)
    return build


def _raw(data: bytes):
    return lambda channel: data


BAD_JSON = {
    "empty-body": _raw(b""),
    "invalid-json": _raw(b'{"type": "event_callback",'),
    "json-array": _raw(b"[]"),
    "json-string": _raw(b'"x"'),
    "json-null": _raw(b"null"),
    "json-number": _raw(b"42"),
    "no-type": _event_without("type", where="body"),
    "type-not-a-string": _event_with(where="body", type=["event_callback"]),
    "url-verification-without-challenge": _raw(b'{"type": "url_verification"}'),
    "event-callback-without-event": _event_without("event", where="body"),
    "event-callback-without-event-id": _event_without("event_id", where="body"),
    "event-id-not-a-string": _event_with(where="body", event_id=12345),
    "event-not-an-object": _event_with(where="body", event="message"),
    "event-without-type": _event_without("type"),
    "event-without-channel": _event_without("channel"),
    "event-without-ts": _event_without("ts"),
    "event-without-text": _event_without("text"),
    "channel-not-a-string": _event_with(channel={"id": "D1"}),
    "deeply-nested-json": _raw(b"[" * 10_000 + b"]" * 10_000),
}

BAD_FORMS = {
    "empty-form": _raw(b""),
    "form-without-payload": _raw(b"foo=bar"),
    "form-not-url-encoded": _raw(b"just some text"),
    "payload-twice": _raw(form({"type": "message_action"}) + b"&" + form({"type": "message_action"})),
    "payload-not-json": _raw(form("{not json")),
    "payload-not-an-object": _raw(form("[]")),
    "payload-deeply-nested": _raw(form("[" * 10_000 + "]" * 10_000)),
    "payload-without-type": _raw(form({"callback_id": "abort_openai_api"})),
    "message-action-without-channel": _shortcut_without("channel"),
    "message-action-without-message": _shortcut_without("message"),
    "message-action-without-user": _shortcut_without("user"),
    "message-action-without-callback-id": _shortcut_without("callback_id"),
    "message-action-channel-not-an-object": _shortcut_with(channel="C1"),
    "message-action-message-without-ts": _shortcut_with(message={"type": "message", "text": "x"}),
    "block-actions-without-actions": lambda channel: form({
        k: v for k, v in stop_button_payload(channel, ASKER, bot_reply(channel)).items() if k != "actions"}),
}


@pytest.mark.parametrize("content_type, build", [(JSON, b) for b in BAD_JSON.values()]
                         + [(FORM, b) for b in BAD_FORMS.values()], ids=[*BAD_JSON, *BAD_FORMS])
def test_malformed_requests_get_400_and_change_nothing(bot, channel, nothing_happens, content_type, build):
    """A signed but malformed request gets 400 (never a 500, which Slack would retry) and changes nothing."""
    body = build(channel)
    acknowledged(bot.post(body, content_type, sign(body)), 400)
    nothing_happens(bot, "request refused", status=400)


def test_a_body_over_one_mebibyte_gets_413(bot, channel, nothing_happens):
    """A body over 1 MiB is not Slack's: 413, nothing else."""
    payload = question(channel)
    payload["event"]["padding"] = "x" * (1 << 20)
    body = json.dumps(payload).encode()
    acknowledged(bot.post(body, JSON, sign(body)), 413)
    nothing_happens(bot, "request refused", status=413)


def test_a_body_over_one_mebibyte_without_content_length_gets_413(bot, channel, nothing_happens):
    """The 1 MiB limit also holds for a chunked body that announces no length."""
    import http.client

    payload = question(channel)
    payload["event"]["padding"] = "x" * (1 << 20)
    body = json.dumps(payload).encode()
    connection = http.client.HTTPConnection("127.0.0.1", bot.port, timeout=10)
    try:
        connection.request("POST", "/", body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                           headers={"Content-Type": JSON, **sign(body)}, encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("X-Slack-No-Retry") == "1"
    finally:
        connection.close()
    nothing_happens(bot, "request refused", status=413)


@pytest.mark.parametrize("proof", ["signature", "access-token"])
@pytest.mark.parametrize("content_type", [JSON, FORM])
def test_a_body_that_is_not_utf8_gets_400(bots, channel, nothing_happens, content_type, proof):
    """Authentic bytes that are not UTF-8 get 400, however the request proves it comes from Slack."""
    body = json.dumps(question(channel)).encode().replace(b"what is new", b"what \xff\xfe is new")
    if content_type == FORM:
        body = b"payload=" + body
    if proof == "signature":
        bot = bots.get()
        response = bot.post(body, content_type, sign(body))
    else:
        bot = bots.get(SLACK_SIGNING_SECRET="", ACCESS_TOKEN=ACCESS_TOKEN)
        response = bot.post(body, content_type, query=f"?token={ACCESS_TOKEN}")
    acknowledged(response, 400)
    nothing_happens(bot, "request refused", status=400, reason="body is not UTF-8")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_an_unsupported_content_type_gets_415(bot, channel, nothing_happens, content_type):
    """Slack sends JSON or form bodies; anything else gets 415."""
    body = json.dumps(question(channel)).encode()
    acknowledged(bot.post(body, content_type, sign(body)), 415)
    nothing_happens(bot, "request refused", status=415)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_methods_other_than_post_get_405(bot, channel, nothing_happens, method):
    """Slack only POSTs; other methods get 405."""
    body = json.dumps(question(channel)).encode() if method != "GET" else None
    request = urllib.request.Request(bot.url, data=body, method=method,
                                     headers={"Content-Type": JSON, **(sign(body) if body else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        status, headers = error.code, error.headers
    assert status == 405
    assert headers.get("X-Slack-No-Retry") == "1"
    nothing_happens(bot, "request refused", status=405)


def _reaction_added(channel):
    payload = question(channel)
    payload["event"] = {"type": "reaction_added", "user": ASKER, "reaction": "thumbsup", "item_user": "UBOT",
                        "item": {"type": "message", "channel": channel, "ts": "1700000000.000200"},
                        "event_ts": "1700000001.000100"}
    return json.dumps(payload).encode()


def _app_home_opened(channel):
    payload = question(channel)
    payload["event"] = {"type": "app_home_opened", "user": ASKER, "channel": channel, "tab": "messages",
                        "event_ts": "1700000001.000100"}
    return json.dumps(payload).encode()


def _unknown_block_action(channel):
    payload = stop_button_payload(channel, ASKER, bot_reply(channel))
    payload["actions"][0]["action_id"] = "something_else"
    return form(payload)


EVENT, INTERACTION = "ignored event", "ignored interaction"  # the decisions the bot logs
# name -> (content type, body, the decision and its reason in the bot's log)
UNHANDLED = {
    "app-rate-limited": (JSON, _raw(json.dumps({"token": "XXX", "type": "app_rate_limited", "team_id": "T1",
                                                "minute_rate_limited": 1518467820, "api_app_id": "AAPP"}).encode()),
                         EVENT, "unhandled request type app_rate_limited"),
    "reaction-added-event": (JSON, _reaction_added, EVENT, "unhandled event reaction_added"),
    "app-home-opened-event": (JSON, _app_home_opened, EVENT, "unhandled event app_home_opened"),
    "unknown-shortcut": (FORM, lambda channel: form(shortcut_payload("summarize", channel, ASKER, bot_reply(channel))),
                         INTERACTION, "unknown shortcut summarize"),
    "unknown-block-action": (FORM, _unknown_block_action, INTERACTION, "unknown action something_else"),
    "global-shortcut": (FORM, lambda channel: form({"type": "shortcut", "callback_id": "abort_openai_api",
                                                    "trigger_id": "trig-global", "user": {"id": ASKER},
                                                    "team": {"id": "T1"}}),
                        INTERACTION, "unhandled interaction shortcut"),
    "view-closed": (FORM, lambda channel: form({"type": "view_closed", "user": {"id": ASKER},
                                                "view": {"id": "V1", "type": "modal"}}),
                    INTERACTION, "unhandled interaction view_closed"),
}


@pytest.mark.parametrize("content_type, build, decision, reason", UNHANDLED.values(), ids=UNHANDLED.keys())
def test_well_formed_but_unhandled_requests_get_200_and_change_nothing(bot, channel, nothing_happens,
                                                                       content_type, build, decision, reason):
    """Something Slack may send that the bot does not handle is acknowledged (200) and changes nothing."""
    body = build(channel)
    acknowledged(bot.post(body, content_type, sign(body)))
    nothing_happens(bot, decision, reason=reason)


# --- 6. ignored messages -----------------------------------------------------------------------
# name -> (how the event differs from a DM question, the reason the bot logs for ignoring it)
IGNORED = {
    "own-message": (dict(user="UBOT"), "own message"),
    "own-message-with-bot-id": (dict(user="UBOT", bot_id="BBOT", app_id="AAPP"), "message from a bot"),
    "another-bots-message": (dict(user="UOTHERBOT", bot_id="BOTHER", app_id="AOTHER"), "message from a bot"),
    "bot-message-subtype": (dict(subtype="bot_message", bot_id="BOTHER", user=None), "message subtype bot_message"),
    "message-changed": (dict(subtype="message_changed", user=None, message={
        "type": "message", "user": ASKER, "text": "edited", "ts": "1700000000.000100"}),
        "message subtype message_changed"),
    "message-deleted": (dict(subtype="message_deleted", user=None, deleted_ts="1700000000.000100"),
                        "message subtype message_deleted"),
    "message-replied": (dict(subtype="message_replied"), "message subtype message_replied"),
    "channel-join": (dict(subtype="channel_join", channel_type="channel"), "message subtype channel_join"),
    "channel-leave": (dict(subtype="channel_leave", channel_type="channel"), "message subtype channel_leave"),
    # A file shared in a DM may carry a question (events.QUESTION_SUBTYPES); in a channel,
    # outside a thread and without a mention, it is chatter like any other message.
    "file-share-in-a-channel": (dict(subtype="file_share", channel_type="channel",
                                     files=[{"id": "F1", "name": "a.txt"}]), "channel message outside a thread"),
    "file-share-by-another-bot": (dict(subtype="file_share", bot_id="BOTHER", files=[{"id": "F1", "name": "a.txt"}]),
                                  "message from a bot"),
    "channel-topic": (dict(subtype="channel_topic", channel_type="channel", topic="lunch"),
                      "message subtype channel_topic"),
    "channel-message-outside-a-thread": (dict(channel_type="channel"), "channel message outside a thread"),
    "thread-parent-in-a-channel": (dict(channel_type="channel", thread_ts="1700000000.000100"),
                                   "channel message outside a thread"),
    "channel-message-mentioning-the-bot": (dict(channel_type="channel", text_prefix="<@UBOT> "),
                                           "mention: answered through app_mention"),
    "event-for-another-installation": (dict(bot_user="UOTHER"), "event for another app"),
}


@pytest.mark.parametrize("variant, reason", IGNORED.values(), ids=IGNORED.keys())
def test_messages_that_are_not_questions_are_ignored(bot, channel, nothing_happens, variant, reason):
    """Bot posts, edits, deletions, joins, channel chatter and other apps' events: 200, no reply, no model call."""
    variant = dict(variant)
    text = variant.pop("text_prefix", "") + f"what is new in {channel}?"
    bot_user = variant.pop("bot_user", "UBOT")
    payload = message_event(channel, ASKER, text, "1700000000.000100", bot_user=bot_user,
                            channel_type=variant.pop("channel_type", "im"))
    for key, value in variant.items():
        if value is None:
            payload["event"].pop(key, None)
        else:
            payload["event"][key] = value
    acknowledged(bot.send_event(payload))
    nothing_happens(bot, "ignored event", event_id=payload["event_id"], reason=reason)


def test_a_thread_reply_in_a_channel_thread_without_the_bot_is_ignored(bot, slack, channel, nothing_happens):
    """People talking in a channel thread the bot is not part of are left alone."""
    parent = slack.add_message(channel, "UOTHERPERSON", "lunch?")
    ts = slack.add_message(channel, ASKER, f"what is new in {channel}?", thread_ts=parent)
    event = message_event(channel, ASKER, f"what is new in {channel}?", ts, thread_ts=parent, channel_type="channel")
    acknowledged(bot.send_event(event))
    # Handed off (only a read of the thread tells), then the answer decides to stay quiet.
    nothing_happens(bot, "not part of this thread", handed_off=1, event_id=event["event_id"])


def test_a_mention_is_answered_once_though_slack_sends_two_events(bot, slack, openai_server, channel):
    """An @mention in a channel arrives as app_mention and as message: it is answered exactly once."""
    text = f"<@UBOT> what is new in {channel}?"
    ts = slack.add_message(channel, ASKER, text)
    as_message = message_event(channel, ASKER, text, ts, channel_type="channel")
    as_mention = message_event(channel, ASKER, text, ts, event_type="app_mention")
    since = bot.log_mark()
    acknowledged(bot.send_event(as_message))
    acknowledged(bot.send_event(as_mention))
    assert bot.logged(since, message="ignored event", event_id=as_message["event_id"],
                      reason="mention: answered through app_mention")
    wait_settled(bot, as_mention["event_id"], since=since)
    assert handed_off(bot, since) == [as_mention["event_id"]]
    assert len(placeholders(slack, channel)) == 1
    assert len(model_requests_for(openai_server, channel)) == 1


def _answered_once(bot, slack, openai_server, channel, event, deliveries, since):
    """Every delivery of ``event`` has ended (one answered it, the others found it answered or busy):
    one placeholder, one model call."""
    wait_settled(bot, event["event_id"], deliveries, since)
    assert len(bot.logged(since, message="usage", event_id=event["event_id"])) == 1
    assert len(bot.logged(since, message="handed off", event_id=event["event_id"])) == deliveries
    assert len(placeholders(slack, channel)) == 1
    assert len(model_requests_for(openai_server, channel)) == 1


# --- 7. retries --------------------------------------------------------------------------------
@pytest.mark.parametrize("reason", ["http_timeout", "http_error"])
def test_a_retry_of_a_lost_delivery_is_answered_once(bot, slack, openai_server, channel, reason):
    """The first delivery never arrived: Slack's retry is answered, and its next retry is not."""
    ts = slack.add_message(channel, ASKER, f"what is new in {channel}?")
    event = message_event(channel, ASKER, f"what is new in {channel}?", ts, event_id=new_event_id())
    since = bot.log_mark()
    acknowledged(bot.send_event(event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": reason}))
    wait_answer(slack, channel, ts)
    acknowledged(bot.send_event(event, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": reason}))
    _answered_once(bot, slack, openai_server, channel, event, 2, since)


def test_the_same_event_delivered_twice_is_answered_once(bot, slack, openai_server, channel):
    """Slack may deliver an event twice (same event_id): one answer, not two."""
    ts = slack.add_message(channel, ASKER, f"what is new in {channel}?")
    event = message_event(channel, ASKER, f"what is new in {channel}?", ts, event_id=new_event_id())
    since = bot.log_mark()
    acknowledged(bot.send_event(event))
    acknowledged(bot.send_event(event))
    wait_answer(slack, channel, ts)
    _answered_once(bot, slack, openai_server, channel, event, 2, since)


def test_a_retry_after_the_answer_does_not_answer_again(bot, slack, openai_server, channel):
    """Slack's retries of an event already answered (retry 1..3) do not produce more answers."""
    ts = slack.add_message(channel, ASKER, f"what is new in {channel}?")
    event = message_event(channel, ASKER, f"what is new in {channel}?", ts, event_id=new_event_id())
    since = bot.log_mark()
    acknowledged(bot.send_event(event))
    wait_answer(slack, channel, ts)
    for attempt in ("1", "2", "3"):
        acknowledged(bot.send_event(event, headers={"X-Slack-Retry-Num": attempt,
                                                    "X-Slack-Retry-Reason": "http_timeout"}))
    _answered_once(bot, slack, openai_server, channel, event, 4, since)
    assert len(bot.logged(since, message="already answered", event_id=event["event_id"])) == 3


# --- 8. never waiting for the model ------------------------------------------------------------
def test_the_acknowledgement_never_waits_for_the_model(bot, slack, openai_server, channel):
    """Slack gets its 200 well within 3 s, and the placeholder appears before the model's first token."""
    openai_server.reply = Script(first_token_delay=4)  # longer than Slack's 3 s window
    ts = slack.add_message(channel, ASKER, f"what is new in {channel}?")
    started = time.monotonic()
    response = bot.send_event(message_event(channel, ASKER, f"what is new in {channel}?", ts))
    elapsed = time.monotonic() - started
    acknowledged(response)
    assert elapsed < 3.0  # Slack's contract: acknowledged within 3 s (the model takes 4)

    placeholder = slack.wait_for(lambda fake: placeholders(fake, channel), timeout=6)[0]
    assert placeholder.params["thread_ts"] == ts
    request = slack.wait_for(lambda: model_requests_for(openai_server, channel), timeout=6)[0]
    slack.wait_for(lambda: request.first_delta_at, timeout=10)  # the model's first token was sent…
    assert placeholder.at < request.first_delta_at  # …after the placeholder was already in Slack


# --- 9. logs (keep last: it reads what the tests above made the bots write) ---------------------
def test_logs_are_structured_and_nothing_leaks(bots, slack, openai_server, channel):
    """Logs are JSON with a severity and never hold a secret; Slack messages never show a traceback."""
    # Traffic of its own (an answer, a model error, a rejected request), so the test
    # means something when run alone; it then reads every bot's log of the session.
    from flows import say, wait_answer
    from standins.openai_api import Script

    bot = bots.get()
    openai_server.reply = Script(text="fine")
    ts, _ = say(bot, slack, channel, "log check")
    wait_answer(slack, channel, ts)
    openai_server.reply = Script(status_error="invalid_api_key")
    ts, _ = say(bot, slack, channel, "log check with a bad key")
    wait_answer(slack, channel, ts)
    assert bot.post(b"{}", JSON, {}).status == 401
    secrets = [harness.SIGNING_SECRET, harness.BOT_TOKEN, harness.OPENAI_KEY, ACCESS_TOKEN]
    for bot in bots.all():
        logs = bot.logs()
        for line in logs.splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                assert isinstance(entry, dict) and entry.get("severity"), line
        for secret in secrets:
            assert secret not in logs, f"a secret is in the log of the bot with {bot.env}"
    for method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
        for call in slack.calls_of(method):
            shown = json.dumps(call.params, ensure_ascii=False)
            assert "Traceback" not in shown, shown
            for secret in secrets:
                assert secret not in shown
