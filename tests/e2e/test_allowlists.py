"""ALLOWED_CHANNELS / ALLOWED_USERS through main.slack_bot (issue 15, item 4): elsewhere one sentence per
conversation, no placeholder, no model request; where allowed, answers as ever."""
from __future__ import annotations

from flows import ASKER, bot_replies, say, shared_channel, wait_answer
from standins.openai_api import Script

ADMIN = "UALLOWADMIN"


def test_a_channel_not_allowed_gets_one_sentence_per_thread_and_no_request(bots, slack, openai_server):
    allowed, elsewhere = shared_channel(slack, ASKER), shared_channel(slack, ASKER)
    bot = bots.get(ALLOWED_CHANNELS=allowed, ADMIN_USERS=ADMIN)
    since = bot.log_mark()
    first, _ = say(bot, slack, elsewhere, "<@UBOT> hello", event_type="app_mention")
    bot.wait_for_log(since=since, message="not enabled here", told=True)
    again, _ = say(bot, slack, elsewhere, "<@UBOT> and now?", event_type="app_mention", thread_ts=first)
    bot.wait_for_log(since=since, message="not enabled here", told=False)
    replies = bot_replies(slack, elsewhere, first)
    assert [r["text"] for r in replies] == [
        f"_⚠️ Threadwise is not enabled in this channel; ask <@{ADMIN}> if you need it._"], replies
    assert replies[0]["metadata"]["event_payload"]["asker"] == ASKER
    posted = [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == elsewhere]
    assert len(posted) == 1, "no placeholder: the sentence is the only message"
    assert openai_server.requests == []

    openai_server.reply = Script(text="Allowed here.")
    ts, _ = say(bot, slack, allowed, "<@UBOT> hello", event_type="app_mention")
    assert wait_answer(slack, allowed, ts)[-1]["text"] == "Allowed here."


def test_a_person_not_allowed_is_told_once_per_thread(bots, slack, openai_server, channel):
    bot = bots.get(ALLOWED_USERS="USOMEONEELSE")  # the DM's asker is not in it; no ADMIN_USERS
    since = bot.log_mark()
    first, _ = say(bot, slack, channel, "hello")
    bot.wait_for_log(since=since, message="not enabled here", told=True)
    say(bot, slack, channel, "hello again", thread_ts=first)
    bot.wait_for_log(since=since, message="not enabled here", told=False)
    assert [r["text"] for r in bot_replies(slack, channel, first)] == [
        "_⚠️ Threadwise is not enabled for you; ask your Slack admin if you need it._"]
    second_thread, _ = say(bot, slack, channel, "a new conversation")
    bot.wait_for_log(since=since, message="not enabled here", told=True, count=2)
    assert len(bot_replies(slack, channel, second_thread)) == 1, "a DM's new thread is a new conversation"
    assert openai_server.requests == []


def test_dms_are_left_to_allowed_users_when_no_dm_is_listed(bots, slack, openai_server, channel):
    bot = bots.get(ALLOWED_CHANNELS="C0NLYTHIS", ALLOWED_USERS=ASKER)
    openai_server.reply = Script(text="DMs still work.")
    ts, _ = say(bot, slack, channel, "hi")
    assert wait_answer(slack, channel, ts)[-1]["text"] == "DMs still work."
