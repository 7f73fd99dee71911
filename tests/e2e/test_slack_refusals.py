"""What the bot does when Slack refuses it, end to end against the strict Slack stand-in: an app
installed without a scope it needs, the bot removed from a channel mid-answer, a trigger id past its
3 seconds, a link into a channel the bot is not in. The operator gets a log line naming the cause
(never a traceback), and a person who is waiting gets a sentence."""
import itertools

import pytest

from flows import ASKER, say, shared_channel, wait_answer
from harness import shortcut_payload
from standins.openai_api import Script
from standins.slack_access import manifest_scopes

SLOW = dict(text=" ".join(f"token{i}" for i in range(400)), chunk_chars=7, delta_delay=0.02)
_tokens = itertools.count(1)


def bot_without(bots, slack, *scopes):
    """A bot whose Slack app was installed without ``scopes`` (a token of its own, so no other test sees it)."""
    token = f"xoxb-narrow-{next(_tokens)}"
    slack.grant(token, manifest_scopes("bot") - set(scopes))
    return bots.get(SLACK_BOT_TOKEN=token)


def warnings_naming(bot, value):
    return [e for e in bot.log_entries() if e["severity"] == "WARNING" and value in e.values()]


def no_traceback(bot, since=0):
    """Nothing the bot logged (since the test's log mark: a shared bot carries other tests' lines) is a traceback."""
    assert "Traceback" not in bot.logs(since)


def mention(bot, slack, channel, text, **extra):
    return say(bot, slack, channel, f"<@UBOT> {text}", channel_type="channel", event_type="app_mention",
               **extra)[0]


def test_a_missing_history_scope_is_named_in_the_reply_and_the_log(bots, slack, openai_server):
    bot = bot_without(bots, slack, "channels:history")
    channel = shared_channel(slack, ASKER)
    root = slack.add_message(channel, ASKER, "the plan: ship on Friday")
    requests = len(openai_server.requests)
    ts = mention(bot, slack, channel, "what is the plan?", thread_ts=root)
    final = wait_answer(slack, channel, ts)[-1]
    assert final["metadata"]["event_payload"]["status"] == "error"
    assert "`channels:history`" in final["text"] and "reinstall" in final["text"]
    assert len(openai_server.requests) == requests  # no tokens spent on an answer without its thread
    assert warnings_naming(bot, "channels:history")
    no_traceback(bot)


def test_a_shortcut_the_bot_cannot_check_tells_the_person_why(bots, slack, openai_server):
    bot = bot_without(bots, slack, "groups:history")
    channel = f"G{next(_tokens):06d}"
    slack.add_channel(channel, members=["UBOT", ASKER])
    openai_server.reply = Script(text="an answer in a private channel")
    ts = say(bot, slack, channel, "<@UBOT> hello", channel_type="group", event_type="app_mention")[0]
    final = wait_answer(slack, channel, ts)[-1]  # a question outside a thread needs no history
    assert bot.send_interaction(shortcut_payload("delete_message", channel, ASKER, final)).status == 200
    note = slack.wait_for(lambda s: [e for e in s.ephemerals if e["channel"] == channel and e["user"] == ASKER])
    assert "`groups:history`" in note[-1]["text"]
    assert slack.get(channel, final["ts"]) is not None
    assert warnings_naming(bot, "groups:history")
    no_traceback(bot)


def test_removed_from_the_channel_mid_answer_the_bot_stops_writing_and_paying(bot, slack, openai_server):
    since = bot.log_mark()
    channel = shared_channel(slack, ASKER)
    openai_server.reply = Script(**SLOW)
    ts = mention(bot, slack, channel, "talk for a long time")
    slack.wait_for(lambda s: [c for c in s.calls_of("chat.update") if c.params["channel"] == channel
                              and c.response.get("ok")])
    slack.remove_member(channel, "UBOT")
    request = openai_server.requests[-1]
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=15)
    assert request.client_closed_early  # the model stream was closed: no tokens paid for an unseen answer
    refused = [c for c in slack.calls_of("chat.update") if c.params["channel"] == channel and not c.response["ok"]]
    assert len(refused) == 1 and refused[0].response["error"] == "not_in_channel"
    assert [e for e in bot.log_entries() if e.get("error") == "not_in_channel" and e.get("channel") == channel]
    no_traceback(bot, since)


@pytest.mark.parametrize("callback", ["abort_openai_api", "delete_message"])
def test_an_expired_trigger_loses_only_the_confirmation_modal(bot, slack, openai_server, channel, callback):
    openai_server.reply = Script(**SLOW)
    ts = say(bot, slack, channel, "talk for a long time")[0]
    reply = slack.wait_for(lambda s: [m for m in s.messages(channel) if m.get("bot_id") and m.get("text")])[0]
    payload = shortcut_payload(callback, channel, ASKER, reply)
    payload["trigger_id"] = slack.new_trigger_id(issued_ago=3.5)  # Slack delivered it, we were slow
    views = len(slack.views)
    assert bot.send_interaction(payload).status == 200
    if callback == "abort_openai_api":
        assert wait_answer(slack, channel, ts)[-1]["metadata"]["event_type"] == "aborted"
    else:
        slack.wait_for(lambda s: s.get(channel, reply["ts"]) is None)
    refused = slack.wait_for(lambda s: [c for c in s.calls_of("views.open")
                                        if c.params.get("trigger_id") == payload["trigger_id"]])
    assert refused[0].response["error"] == "expired_trigger_id" and len(slack.views) == views
    assert [e for e in bot.log_entries() if e.get("error") == "expired_trigger_id"]


def test_a_link_into_a_public_channel_the_bot_is_not_in_is_not_read_and_the_person_told(bot, slack, openai_server,
                                                                                         channel):
    since = bot.log_mark()
    source = f"C{next(_tokens):06d}"
    slack.add_channel(source, members=["UALICE"])  # public, without the bot
    linked = slack.add_message(source, "UALICE", "Incident: payments down")
    openai_server.reply = Script(text="I cannot see it.")
    ts = say(bot, slack, channel, f"what happened in {slack.permalink(source, linked)} ?")[0]
    final = wait_answer(slack, channel, ts)[-1]
    assert "payments down" not in str(openai_server.requests[-1].body)
    assert "I am not in that channel" in final["text"]
    no_traceback(bot, since)
