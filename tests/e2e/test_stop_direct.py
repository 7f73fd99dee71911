"""Stop reaches the running answer directly, not through its next Slack write (issue 13).

Slack refuses every ``chat.update`` for a while (429 + Retry-After, as when the workspace's Tier 3
budget is spent): the answer cannot write, yet Stop closes its model stream at once, and the
stop marker lands as soon as Slack takes writes again. Before, Stop was noticed only when an
interim update read the reply's metadata back, so nothing stopped while Slack refused updates.
"""
from __future__ import annotations

import time

import pytest

from flows import ASKER, replies_to, say, wait_answer
from harness import shortcut_payload, stop_button_payload
from standins.openai_api import Script


@pytest.fixture
def bot(bots, request):
    """A bot of each test's own: Stop and Delete on a reply with a Stop button at once need the quiet
    workspace's budget, which the session's shared bot has spent on other files' answers, and which the
    429s of the test before would have taught to spend less for a minute."""
    return bots.get(own=request.node.name)

SLOW = dict(text=" ".join(f"token{i}" for i in range(600)), chunk_chars=7, delta_delay=0.02)
REFUSED_FOR = 6  # seconds Slack answers chat.update with 429


@pytest.fixture(autouse=True)
def _refusals_end_with_their_test(slack):
    """Slack's refusal windows (and the bot's pause for them) end before the next test begins."""
    yield
    time.sleep(max(slack.refusal_ends_in("chat.update"), slack.refusal_ends_in("chat.delete")))


def _shown(slack, channel, question_ts):
    def has_text(fake):
        parts = replies_to(fake, channel, question_ts)
        return parts[-1] if parts and parts[-1]["text"].startswith("token") else None

    return slack.wait_for(has_text, timeout=10)


def _refuse_updates(slack, channel):
    """From the next chat.update on, Slack refuses them all for REFUSED_FOR seconds; returns when it has."""
    first = len(slack.calls)
    slack.rate_limit_next("chat.update", count=1, retry_after=REFUSED_FOR)
    slack.wait_for(lambda s: any(c.method == "chat.update" and c.status == 429 for c in s.calls[first:]), timeout=10)


@pytest.mark.slack_429
@pytest.mark.parametrize("click", ["button", "shortcut"])
def test_stop_closes_the_model_stream_while_slack_refuses_every_update(bot, slack, openai_server, channel, click):
    openai_server.reply = Script(**SLOW)
    since = bot.log_mark()
    ts, _ = say(bot, slack, channel, "talk for a long time")
    reply = _shown(slack, channel, ts)
    request = openai_server.requests[-1]
    _refuse_updates(slack, channel)
    clicked = len(slack.calls)
    payload = stop_button_payload(channel, ASKER, reply) if click == "button" else \
        shortcut_payload("abort_openai_api", channel, ASKER, reply)
    assert bot.send_interaction(payload).status == 200
    # Well inside the refusal window: no update can have told the answer anything.
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=REFUSED_FOR / 2)
    assert request.outcome == "client_closed" and request.deltas_sent < request.deltas_total
    landed = [c for c in slack.calls[clicked:] if c.method == "chat.update" and c.status == 200
              and c.params.get("channel") == channel]
    assert not landed, "the stream closed before any update reached Slack"
    parts = wait_answer(slack, channel, ts, timeout=REFUSED_FOR + 30)  # (Slack's refusal, then what it taught)
    final = parts[-1]
    assert final["metadata"]["event_type"] == "aborted"
    assert final["metadata"]["event_payload"]["status"] == "stopped"
    assert final["metadata"]["event_payload"]["reason"] == "stopped"  # the contract's word
    assert final["text"].endswith(f"_⏹ Stopped by <@{ASKER}>._")
    shown = " ".join(p["text"] for p in parts).split("\n\n_⏹")[0].split()
    assert shown == request.text_sent.split()[:len(shown)], "what the model sent, up to where it stopped"
    bot.wait_for_log(since=since, message="usage", status="stopped")  # the answer's last line, as operators read it


@pytest.mark.slack_429
def test_delete_stops_the_answer_while_slack_refuses_every_update(bot, slack, openai_server, channel):
    openai_server.reply = Script(**SLOW)
    ts, _ = say(bot, slack, channel, "long answer to delete")
    reply = _shown(slack, channel, ts)
    request = openai_server.requests[-1]
    _refuse_updates(slack, channel)
    assert bot.send_interaction(shortcut_payload("delete_message", channel, ASKER, reply)).status == 200
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=REFUSED_FOR / 2)
    assert request.outcome == "client_closed"
    assert slack.get(channel, reply["ts"]) is None


def _orphaned_reply(slack, channel, question_ts, text="half an answer"):
    """A streaming reply no process runs any more (its worker died), as Slack shows it."""
    from threadwise.slack.reply_format import STATUS_STREAMING, ReplyTag, reply_metadata, streaming_blocks

    ts = slack.add_message(channel, slack.bot_user_id, text, thread_ts=question_ts, bot_id=slack.bot_id,
                           blocks=streaming_blocks(text),
                           metadata=reply_metadata(ReplyTag(ASKER, question_ts), STATUS_STREAMING))
    return slack.get(channel, ts)


def test_stop_on_a_reply_nobody_runs_any_more_ends_it_there(bot, slack, channel):
    """Nobody acknowledges the stop (no process runs the answer): the handler ends the reply itself,
    with the text it shows, the stop marker and no Stop button."""
    slack.invite(channel, slack.bot_user_id)
    question_ts = slack.add_message(channel, ASKER, "a question whose worker died")
    reply = _orphaned_reply(slack, channel, question_ts)
    since = bot.log_mark()
    assert bot.send_interaction(stop_button_payload(channel, ASKER, reply)).status == 200
    final = slack.get(channel, reply["ts"])  # (handled inline: written by now)
    assert final["text"] == f"half an answer\n\n_⏹ Stopped by <@{ASKER}>._"
    assert final["metadata"]["event_type"] == "aborted"
    assert final["metadata"]["event_payload"]["status"] == "stopped"
    assert not any(b["type"] == "actions" for b in final["blocks"])
    assert bot.logged(since, message="answer stopped", reached="unattended reply ended here")


@pytest.mark.slack_429
def test_stop_on_an_unattended_reply_slack_keeps_refusing_tells_the_truth(bot, slack, channel):
    slack.invite(channel, slack.bot_user_id)
    question_ts = slack.add_message(channel, ASKER, "another orphan")
    reply = _orphaned_reply(slack, channel, question_ts)
    slack.rate_limit_next("chat.update", count=1, retry_after=10)
    assert bot.send_interaction(stop_button_payload(channel, ASKER, reply)).status == 200
    notes = [e["text"] for e in slack.ephemerals if e.get("channel") == channel]
    assert notes == ["Slack is too busy to stop the answer right now; nothing was changed. "
                     "Please try again in a moment."]
    assert slack.get(channel, reply["ts"])["metadata"]["event_payload"]["status"] == "streaming"


@pytest.mark.slack_429
def test_delete_that_slack_keeps_refusing_tells_the_truth_and_the_answer_still_lands(bot, slack, openai_server,
                                                                                      channel):
    openai_server.reply = Script(text=" ".join(f"token{i}" for i in range(60)), chunk_chars=7, delta_delay=0.02)
    ts, _ = say(bot, slack, channel, "an answer Slack will not let me delete")
    reply = _shown(slack, channel, ts)
    deleted_notices = _deleted_notices(slack)
    slack.rate_limit_next("chat.delete", count=1, retry_after=10)
    assert bot.send_interaction(shortcut_payload("delete_message", channel, ASKER, reply)).status == 200
    notes = [e["text"] for e in slack.ephemerals if e.get("channel") == channel]
    assert notes == ["Slack is too busy to delete the answer right now; nothing was changed. "
                     "Please try again in a moment."]
    final = wait_answer(slack, channel, ts)[-1]  # not left half written with a Stop button
    assert final["ts"] == reply["ts"] and final["metadata"]["event_payload"]["status"] == "done"
    assert _deleted_notices(slack) == deleted_notices, "no \"Deleted\" modal for what was not deleted"


def _deleted_notices(slack) -> int:
    return len([v for v in slack.views if v.get("view", v).get("title", {}).get("text") == "Deleted"])
