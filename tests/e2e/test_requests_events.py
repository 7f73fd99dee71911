"""What the bot does with authentic events it must ignore or answer once: messages that are not
questions, Slack's retries and duplicate deliveries, the acknowledgement that never waits for the
model, and the logs all of this leaves (the requests themselves: test_requests.py).
"""
from __future__ import annotations

import json
import time

import pytest

import harness
from flows import ASKER, handed_off, wait_answer, wait_settled
from harness import message_event, new_event_id
from request_checks import (  # noqa: F401  (nothing_happens: a fixture)
    ACCESS_TOKEN, JSON, acknowledged, model_requests_for, nothing_happens, placeholders,
)
from standins.openai_api import Script


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
def test_the_acknowledgement_never_waits_for_the_model(bots, slack, openai_server, channel):
    """Slack gets its 200 well within 3 s, and the placeholder appears before the model's first token.
    (A bot of its own: the session's shared bot has spent much of its update budget on the tests
    before, and rightly shows a new answer by the thread status instead of a placeholder.)"""
    bot = bots.get(own="acknowledgement")
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
