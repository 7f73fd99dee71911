"""Many answers at once against a Slack stand-in that enforces rate limits with 429 + Retry-After.

Opted out of the production tiers on purpose: the limits are scaled up in time, on both sides (the
stand-in's and the bot's SLACK_RATE_LIMITS), so twelve answers at once take seconds, not minutes:
chat.update 120 a minute (burst 3), chat.postMessage 60 a minute per channel (burst 1).
"""
import itertools

import pytest

from flows import ASKER, say, wait_answer
from harness import message_event
from slack_tiers import enforce_slack_tiers
from standins.openai_api import Script

LIMITS = {"chat.update": 120, "chat.postMessage": 60}
BURST = {"chat.update": 3, "chat.postMessage": 1}
_ids = itertools.count(1)


@pytest.fixture
def limited_slack(slack):
    slack.enforce_tiers(LIMITS, BURST, per_channel=("chat.postMessage",))
    before = slack.ratelimited_count
    yield slack, before
    enforce_slack_tiers(slack)


def ask_many(bot, slack, count, prefix, same_channel=False):
    """`count` questions sent at once; returns [(channel, ts, expected text)]."""
    asked = []
    shared = f"CLOAD{next(_ids):04d}"
    slack.invite(shared, slack.bot_user_id)  # the channel where people mention the bot
    for n in range(count):
        channel = shared if same_channel else f"DLOAD{next(_ids):05d}"
        text = f"{prefix} question {n}"
        ts = slack.add_message(channel, ASKER, text)
        kind = dict(channel_type="channel", event_type="app_mention") if same_channel else {}
        assert bot.send_event(message_event(channel, ASKER, text, ts, **kind)).status == 200
        asked.append((channel, ts, f"Echo: {text}"))
    return asked


def test_every_answer_completes_within_the_limits_without_429s(bots, limited_slack, openai_server):
    slack, before = limited_slack
    bot = bots.get(SLACK_RATE_LIMITS="chat.update=120/3,chat.postMessage=60/1", STREAM_UPDATE_INTERVAL="0.2")
    openai_server.reply = Script(chunk_chars=2, delta_delay=0.02)  # ~0.5 s of deltas each
    asked = ask_many(bot, slack, 12, "load")
    for channel, ts, expected in asked:
        final = wait_answer(slack, channel, ts, timeout=60)[-1]
        assert final["text"] == expected
        assert final["metadata"]["event_payload"]["status"] == "done"
    assert slack.ratelimited_count == before  # the budget kept every call inside Slack's limits


def test_placeholders_in_one_channel_respect_its_one_a_second(bots, limited_slack, openai_server):
    slack, before = limited_slack
    bot = bots.get(SLACK_RATE_LIMITS="chat.update=120/3,chat.postMessage=60/1", STREAM_UPDATE_INTERVAL="0.2")
    openai_server.reply = Script(text="short answer")
    asked = ask_many(bot, slack, 4, "same channel", same_channel=True)
    for channel, ts, _ in asked:
        assert wait_answer(slack, channel, ts, timeout=60)[-1]["text"] == "short answer"
    posts = sorted(c.at for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == asked[0][0])
    assert len(posts) == 4 and posts[-1] - posts[0] >= 2.9  # spaced about a second apart
    assert slack.ratelimited_count == before


@pytest.mark.slack_429
def test_another_instance_spending_the_budget_slows_everyone_but_loses_nothing(bots, limited_slack,
                                                                                openai_server):
    slack, before = limited_slack
    # This instance believes it has twice what Slack grants (another instance spends the rest):
    # Slack answers 429s, the whole method pauses for Retry-After, and every answer still lands.
    bot = bots.get(SLACK_RATE_LIMITS="chat.update=240/6,chat.postMessage=120/2", STREAM_UPDATE_INTERVAL="0.2")
    openai_server.reply = Script(chunk_chars=2, delta_delay=0.02)
    asked = ask_many(bot, slack, 10, "shared budget")
    for channel, ts, expected in asked:
        final = wait_answer(slack, channel, ts, timeout=90)[-1]
        assert final["text"] == expected
        assert final["metadata"]["event_payload"]["status"] == "done"
    assert slack.ratelimited_count > before  # Slack did push back
