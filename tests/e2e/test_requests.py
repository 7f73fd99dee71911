"""What the bot does with each kind of HTTP request Slack (or anyone else) can send it.

Every request gets an answer with ``X-Slack-No-Retry: 1``; only authentic,
well-formed requests change anything; the acknowledgement never waits for the model.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import harness
from flows import ASKER
from harness import FIXTURES, shortcut_payload, sign, stop_button_payload
from request_checks import (  # noqa: F401  (nothing_happens: a fixture)
    ACCESS_TOKEN, FORM, JSON, acknowledged, bot_reply, form, nothing_happens, placeholders, question,
)


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
@pytest.mark.parametrize("secret", ["absent", "empty", "blank"])
def test_access_token_alone_refuses_to_start(slack, secret):
    """ACCESS_TOKEN proves nothing about the body and sits in the URL: with it alone, whoever held the URL
    forged an @mention and deleted another person's answer (issue 16). The signing secret is required."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_"))}
    env.update({"SLACK_BOT_TOKEN": harness.BOT_TOKEN, "SLACK_API_URL": slack.base_url, "ACCESS_TOKEN": ACCESS_TOKEN})
    if secret != "absent":
        env["SLACK_SIGNING_SECRET"] = "" if secret == "empty" else "   "
    output = harness.refused_start(env, "with ACCESS_TOKEN alone")
    assert "set SLACK_SIGNING_SECRET" in output and "ACCESS_TOKEN alone is not enough" in output, output
    assert ACCESS_TOKEN not in output and harness.BOT_TOKEN not in output


@pytest.fixture
def token_and_signature_bot(bots):
    return bots.get(ACCESS_TOKEN=ACCESS_TOKEN)


def test_signature_and_access_token_together_admit_a_request_with_both(token_and_signature_bot, slack, channel):
    """With both set, a signed request with the right token is answered."""
    acknowledged(token_and_signature_bot.send_event(question(channel), query=f"?token={ACCESS_TOKEN}"))
    slack.wait_for(lambda fake: placeholders(fake, channel))


@pytest.mark.parametrize("case", ["signed-no-token", "signed-wrong-token", "right-token-unsigned",
                                  "right-token-wrong-secret", "right-token-stale-signature"])
def test_signature_and_access_token_together_require_both(token_and_signature_bot, channel, nothing_happens, case):
    """With both set, passing only one of the two checks gets 401 and changes nothing: the right ``?token=``
    on a forged (unsigned, wrongly signed or stale) request is not enough."""
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


def test_a_forged_delete_with_the_right_token_is_refused(token_and_signature_bot, channel, nothing_happens):
    """The issue's forgery: *Delete message* on another person's answer, carrying only the right ``?token=``."""
    body = form(shortcut_payload("delete_message", channel, "UINTRUDER", bot_reply(channel)))
    acknowledged(token_and_signature_bot.post(body, FORM, query=f"?token={ACCESS_TOKEN}"), 401)
    nothing_happens(token_and_signature_bot, "unverified request rejected")


# --- 4. no verification configured -------------------------------------------------------------
@pytest.mark.parametrize("empty", ["absent", "empty", "blank"])
def test_refuses_to_start_without_a_way_to_verify_requests(slack, empty):
    """Without SLACK_SIGNING_SECRET (and ACCESS_TOKEN) the function does not start, and says what to set."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "OPENAI_")) and k != "ACCESS_TOKEN"}
    env.update({"SLACK_BOT_TOKEN": harness.BOT_TOKEN, "SLACK_API_URL": slack.base_url})
    if empty != "absent":
        value = "" if empty == "empty" else "   "
        env.update({"SLACK_SIGNING_SECRET": value, "ACCESS_TOKEN": value})
    output = harness.refused_start(env, "without any verification")
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


@pytest.mark.parametrize("proof", ["signature", "signature-and-access-token"])
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
        bot = bots.get(ACCESS_TOKEN=ACCESS_TOKEN)
        response = bot.post(body, content_type, sign(body), query=f"?token={ACCESS_TOKEN}")
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
    "app-home-opened-messages-tab": (JSON, _app_home_opened, EVENT, "app_home_opened on the messages tab"),
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
