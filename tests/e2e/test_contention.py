"""Many answers at once under Slack's tiers: chat.update's workspace budget is kept for final texts.

The bot's default budget (Tier 3: 50 chat.update a minute, a minute's worth at once) lets a few
answers stream into placeholders; the others show the thread status, post their text with
chat.postMessage (limited per channel) once a final write is reserved for them, and can be stopped
from the asker's own question before they have a reply. No answer is lost or doubled, and Slack
answers no 429 (the autouse tier check).
"""
from __future__ import annotations

import itertools
import threading

import pytest

from flows import ASKER, is_final, replies_to, say, wait_answer
from harness import shortcut_payload
from standins.openai_api import Script

_ids = itertools.count(1)
AT_ONCE = 12


@pytest.fixture
def bot(bots):
    """A process of this file's own: the crowds spend its write budget, and the other files' tests, which
    expect a quiet workspace (a placeholder at once), would find it drained."""
    return bots.get(DISPATCH_WORKERS="64")


def _ask_at_once(bot, slack, count):
    asked, lock = [], threading.Lock()

    def one(number):
        channel = f"DCON{next(_ids):05d}"
        ts, response = say(bot, slack, channel, f"question number {number}")
        assert response.status == 200
        with lock:
            asked.append((channel, ts, number))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return asked


def test_past_the_room_for_updates_answers_post_their_text_and_all_land(bot, slack, openai_server):
    openai_server.reply = Script(chunk_chars=3, first_token_delay=1.0, delta_delay=0.02)
    asked = _ask_at_once(bot, slack, AT_ONCE)
    for channel, ts, number in asked:
        parts = wait_answer(slack, channel, ts, timeout=40)
        assert [p["text"] for p in parts] == [f"Echo: question number {number}"]
        assert parts[-1]["metadata"]["event_payload"]["status"] == "done"
    placeholders = {channel for channel, _, _ in asked
                    if any(c.params.get("channel") == channel and "Thinking" in str(c.params.get("text"))
                           for c in slack.calls_of("chat.postMessage"))}
    assert 0 < len(placeholders) < AT_ONCE, "some answers streamed into placeholders, others not"
    for channel, _, number in asked:
        if channel in placeholders:
            continue
        posts = [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel]
        first_words = str(posts[0].params.get("text"))
        assert len(posts) == 1 and first_words and f"Echo: question number {number}".startswith(first_words), \
            "its first words, posted (not a placeholder)"
        updates = [c for c in slack.calls_of("chat.update") if c.params.get("channel") == channel]
        assert len(updates) <= 1 + 2, "the final, and an interim only where the budget had room"


def test_the_asker_stops_an_answer_that_has_no_reply_yet_from_their_question(bot, slack, openai_server):
    openai_server.reply = Script(text=" ".join(f"slow{i}" for i in range(200)), first_token_delay=4.0,
                                 delta_delay=0.02)
    asked = _ask_at_once(bot, slack, AT_ONCE)
    slack.wait_for(lambda s: len(openai_server.requests) >= AT_ONCE, timeout=10)
    channel, ts, _ = next((c, t, n) for c, t, n in asked if not replies_to(slack, c, t))
    question = slack.get(channel, ts)
    # ("question number 1" is also in "question number 10": the request whose last input is this question)
    request = next(r for r in openai_server.requests if r.body.get("input", [{}])[-1].get("content")
                   == question["text"])
    assert bot.send_interaction(shortcut_payload("abort_openai_api", channel, ASKER, question)).status == 200
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=3)
    assert request.outcome == "client_closed" and request.deltas_sent == 0, "stopped before its first words"
    [final] = wait_answer(slack, channel, ts, timeout=20)
    assert is_final(final) and final["metadata"]["event_type"] == "aborted"
    assert final["text"].endswith(f"_⏹ Stopped by <@{ASKER}>._")
    assert [v for v in slack.views if v.get("view", v).get("title", {}).get("text") == "Stopped"]
    for other, other_ts, _ in asked:
        if other != channel:
            wait_answer(slack, other, other_ts, timeout=40)
