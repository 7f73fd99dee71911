"""The promises that only show against the clock, end to end through ``main.slack_bot``:

- exactly once: a Slack retry that arrives after the claim's lease has run out is not answered again;
- Slack's rate limits: after every 429 the bot's next call of that method waits at least ``Retry-After``;
- secrets: an exception that carries a secret is logged, and the secret is masked in the log.
"""
from __future__ import annotations

import json
import time

import pytest

import harness
from flows import ASKER, replies_to, say, wait_answer
from harness import message_event, new_event_id
from log_scan import assert_logged_masked, secret_echoing_failure
from standins.openai_api import Script
from threadwise.state.sqlite import SqliteStore

LEASE_SECONDS = 5  # the shortest lease the setting allows: the test waits for it to run out, once


def model_requests_for(openai_server, channel: str) -> list:
    return [r for r in openai_server.requests if channel in json.dumps(r.body)]


def placeholders(slack, channel: str) -> list:
    return [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel]


# --- exactly once, after the lease ---------------------------------------------------------------
@pytest.fixture
def short_lease_bot(bots):
    return bots.get(CLAIM_LEASE_SECONDS=str(LEASE_SECONDS))


def test_a_retry_after_the_claim_lease_ran_out_is_not_answered_again(short_lease_bot, slack, openai_server,
                                                                      channel):
    """The answer is done, its claim marked answered; Slack's retry comes after the lease has lapsed
    (an answered claim must not look like one whose worker died) and is acknowledged, not answered."""
    bot = short_lease_bot
    text = f"what is new in {channel}?"
    ts = slack.add_message(channel, ASKER, text)
    event = message_event(channel, ASKER, text, ts, event_id=new_event_id())
    assert bot.send_event(event).status == 200
    wait_answer(slack, channel, ts)

    store = SqliteStore(bot.env["SQLITE_PATH"])
    claim = slack.wait_for(lambda: store.get(event["event_id"]), timeout=10)
    lapsed_at = claim.lease_until
    assert lapsed_at - time.time() <= LEASE_SECONDS + 1  # the lease is the setting's, not the 30 s default
    while time.time() <= lapsed_at:  # the claim's own clock, read from the store: no fixed sleep
        time.sleep(min(0.2, lapsed_at - time.time() + 0.01))

    response = bot.send_event(event, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"})
    assert response.status == 200
    bot.wait_for_log(message="already answered", event_id=event["event_id"])
    claim = store.get(event["event_id"])
    assert (claim.status, claim.attempts) == ("answered", 1)
    assert len(placeholders(slack, channel)) == 1
    assert len(model_requests_for(openai_server, channel)) == 1


# --- Retry-After -------------------------------------------------------------------------------
def assert_waited_out(slack, method: str, channel: str) -> int:
    """Every 429 that ``method`` got in ``channel`` was followed by a call no sooner than its
    Retry-After (Slack answers calls inside that window with 429 too). Returns how many 429s."""
    calls = [c for c in slack.calls_of(method) if c.params.get("channel") == channel]
    limited = [(i, c) for i, c in enumerate(calls) if c.status == 429]
    for i, refused in limited:
        assert i + 1 < len(calls), f"{method} was never called again after its 429"
        waited = calls[i + 1].at - refused.at
        assert waited >= refused.retry_after, \
            f"{method}: called again {waited:.3f} s after a 429 with Retry-After {refused.retry_after}"
    return len(limited)


@pytest.mark.slack_429
def test_a_rate_limited_final_text_waits_out_retry_after_then_lands(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="final words", first_token_delay=0.3)
    ts, _ = say(bot, slack, channel, "go")
    slack.wait_for(lambda: placeholders(slack, channel))
    slack.rate_limit_next("chat.update", count=2, retry_after=2)
    parts = wait_answer(slack, channel, ts)
    assert parts[0]["text"] == "final words"
    assert assert_waited_out(slack, "chat.update", channel) >= 1


@pytest.mark.slack_429
def test_a_rate_limited_placeholder_waits_out_retry_after_then_lands(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="after the wait")
    slack.rate_limit_next("chat.postMessage", count=1, retry_after=2)
    ts, _ = say(bot, slack, channel, "go")
    parts = wait_answer(slack, channel, ts)
    assert parts[0]["text"] == "after the wait"
    assert len(replies_to(slack, channel, ts)) == 1  # one reply, not one per attempt
    assert assert_waited_out(slack, "chat.postMessage", channel) == 1


@pytest.mark.slack_429
def test_a_rate_limited_thread_read_waits_out_retry_after(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="first")
    first, _ = say(bot, slack, channel, "one")
    wait_answer(slack, channel, first)
    openai_server.reply = Script(text="second")
    slack.rate_limit_next("conversations.replies", count=1, retry_after=2)
    follow_up, _ = say(bot, slack, channel, "two", thread_ts=first)
    parts = wait_answer(slack, channel, follow_up)
    assert parts[0]["text"] == "second"
    assert assert_waited_out(slack, "conversations.replies", channel) == 1


# --- secrets in a logged exception -------------------------------------------------------------
def test_a_secret_inside_a_logged_exception_is_masked(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="first")
    first, _ = say(bot, slack, channel, "one")
    wait_answer(slack, channel, first)
    slack.fail_next("conversations.replies", secret_echoing_failure(harness.BOT_TOKEN))
    follow_up, _ = say(bot, slack, channel, "two", thread_ts=first)
    parts = wait_answer(slack, channel, follow_up)
    assert parts[-1]["metadata"]["event_payload"]["status"] == "error"  # the person is told, in one sentence
    assert_logged_masked(bot, harness.BOT_TOKEN)
