"""Stop reaches the running answer directly, not through its next Slack write (issue 13).

Slack refuses every ``chat.update`` for a while (429 + Retry-After, as when the workspace's Tier 3
budget is spent): the answer cannot write, yet Stop closes its model stream at once, and the
stop marker lands as soon as Slack takes writes again. Before, Stop was noticed only when an
interim update read the reply's metadata back, so nothing stopped while Slack refused updates.
"""
from __future__ import annotations

import pytest

from flows import ASKER, replies_to, say, wait_answer
from harness import shortcut_payload, stop_button_payload
from standins.openai_api import Script

SLOW = dict(text=" ".join(f"token{i}" for i in range(600)), chunk_chars=7, delta_delay=0.02)
REFUSED_FOR = 6  # seconds Slack answers chat.update with 429


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
    final = wait_answer(slack, channel, ts, timeout=REFUSED_FOR + 10)[-1]
    assert final["metadata"]["event_type"] == "aborted"
    assert final["metadata"]["event_payload"]["status"] == "stopped"
    assert final["text"].endswith(f"_⏹ Stopped by <@{ASKER}>._")
    assert request.text_sent.startswith(final["text"].split(" …")[0].split("\n\n_⏹")[0].rstrip())


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
