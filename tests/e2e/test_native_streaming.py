"""STREAM_MODE=native: chat.startStream / appendStream / stopStream, and every fallback to chat.update.

Stop, Delete, supersede and long answers must behave as with STREAM_MODE=update.
"""
import itertools

import pytest

from flows import ASKER, handed_off, replies_to, say, shared_channel, wait_answer, wait_settled
from harness import shortcut_payload, stop_button_payload
from slack_tiers import enforce_slack_tiers
from standins.openai_api import Script

SLOW = dict(text=" ".join(f"token{i}" for i in range(300)), chunk_chars=7, delta_delay=0.02)
_ids = itertools.count(1)


# Opted out of Slack's Tier 2 for the stream methods, on both sides: each test here needs a native
# stream of its own, and at Slack's 20 chat.startStream a minute the bot rightly answers with
# chat.update once the budget is spent (the production-budget test at the end checks just that).
STREAMS_PER_MINUTE = 200


@pytest.fixture
def native(bots, slack):
    enforce_slack_tiers(slack, {"chat.startStream": STREAMS_PER_MINUTE, "chat.stopStream": STREAMS_PER_MINUTE})
    return bots.get(STREAM_MODE="native", SLACK_RATE_LIMITS=f"chat.startStream={STREAMS_PER_MINUTE}/{STREAMS_PER_MINUTE},"
                                                            f"chat.stopStream={STREAMS_PER_MINUTE}/{STREAMS_PER_MINUTE}")


@pytest.fixture
def fresh_channel():
    return f"DNAT{next(_ids):05d}"


def calls(slack, method, channel):
    return [c for c in slack.calls_of(method) if c.params.get("channel") == channel]


def bot_messages(slack, channel):
    return [m for m in slack.messages(channel) if m.get("bot_id") == slack.bot_id]


def streaming_message(slack, channel):
    """The stream message once it shows some text and its control message names it
    (it has no metadata itself while it streams)."""
    def found(fake):
        messages = bot_messages(fake, channel)
        named = {(m.get("metadata") or {}).get("event_payload", {}).get("stream") for m in messages}
        for message in messages:
            if (fake.is_streaming(channel, message["ts"]) and "token" in message.get("text", "")
                    and message["ts"] in named):
                return message
        return None

    return slack.wait_for(found, timeout=10)


def control_message(slack, channel, stream_ts):
    return next(m for m in bot_messages(slack, channel)
                if (m.get("metadata") or {}).get("event_payload", {}).get("stream") == stream_ts)


def test_an_answer_streams_natively_and_ends_as_one_message_with_metadata(native, slack, openai_server,
                                                                          fresh_channel):
    # ~1.7 s of deltas: longer than STREAM_UPDATE_INTERVAL (0.8 s), so some text goes through appendStream
    openai_server.reply = Script(text="Native " * 39 + "end.", chunk_chars=5, delta_delay=0.03)
    ts, _ = say(native, slack, fresh_channel, "stream it")
    final = wait_answer(slack, fresh_channel, ts)[-1]
    # The placeholder (the control message while streaming) goes right after: one message answers.
    slack.wait_for(lambda f: len(bot_messages(f, fresh_channel)) == 1, timeout=5)
    assert final["text"] == "Native " * 39 + "end."
    assert final["metadata"] == {"event_type": "assistant_reply",
                                 "event_payload": {"asker": ASKER, "question": ts, "status": "done"}}
    assert len(calls(slack, "chat.startStream", fresh_channel)) == 1
    assert len(calls(slack, "chat.stopStream", fresh_channel)) == 1
    assert calls(slack, "chat.appendStream", fresh_channel)  # the text arrived in pieces
    assert [m["ts"] for m in bot_messages(slack, fresh_channel)] == [final["ts"]]
    start = calls(slack, "chat.startStream", fresh_channel)[0].params
    assert start["thread_ts"] == ts and "recipient_user_id" not in start  # a DM needs no recipient


def test_in_a_channel_the_stream_names_its_recipient(native, slack, openai_server):
    channel = f"CNAT{next(_ids):05d}"
    openai_server.reply = Script(text="for you " * 30 + "end.", chunk_chars=4, delta_delay=0.01)
    ts, _ = say(native, slack, channel, "<@UBOT> hello", channel_type="channel", event_type="app_mention")
    assert wait_answer(slack, channel, ts)[-1]["text"] == "for you " * 30 + "end."
    start = calls(slack, "chat.startStream", channel)[0].params
    assert start["recipient_user_id"] == ASKER and start["recipient_team_id"] == "T1"


def test_stop_button_on_the_control_message_ends_the_stream(native, slack, openai_server, fresh_channel):
    openai_server.reply = Script(**SLOW)
    ts, _ = say(native, slack, fresh_channel, "long native answer")
    stream = streaming_message(slack, fresh_channel)
    control = control_message(slack, fresh_channel, stream["ts"])
    assert native.send_interaction(stop_button_payload(fresh_channel, ASKER, control)).status == 200
    final = wait_answer(slack, fresh_channel, ts)[-1]
    assert final["ts"] == stream["ts"]
    assert final["metadata"]["event_type"] == "aborted"
    assert final["metadata"]["event_payload"]["status"] == "stopped"
    assert final["text"].endswith(f"_⏹ Stopped by <@{ASKER}>._")
    request = openai_server.requests[-1]
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=5)
    assert request.client_closed_early
    slack.wait_for(lambda f: [m["ts"] for m in bot_messages(f, fresh_channel)] == [stream["ts"]], timeout=5)


def test_stop_shortcut_on_the_streaming_message_itself(native, slack, openai_server, fresh_channel):
    openai_server.reply = Script(**SLOW)
    ts, _ = say(native, slack, fresh_channel, "another long native answer")
    stream = streaming_message(slack, fresh_channel)
    response = native.send_interaction(shortcut_payload("abort_openai_api", fresh_channel, ASKER, stream))
    assert response.status == 200
    final = wait_answer(slack, fresh_channel, ts)[-1]
    assert final["metadata"]["event_type"] == "aborted"
    assert "Stopped" in final["text"]


def test_only_the_asker_may_stop_a_native_stream(native, slack, openai_server):
    fresh_channel = shared_channel(slack, ASKER, "USTRANGER")  # where someone else can see the answer
    openai_server.reply = Script(**dict(SLOW, delta_delay=0.005))
    ts, _ = say(native, slack, fresh_channel, "<@UBOT> mine, natively", channel_type="channel",
                event_type="app_mention")
    stream = streaming_message(slack, fresh_channel)
    native.send_interaction(shortcut_payload("abort_openai_api", fresh_channel, "USTRANGER", stream))
    final = wait_answer(slack, fresh_channel, ts, timeout=30)[-1]
    assert final["metadata"]["event_payload"]["status"] == "done"
    notes = [e for e in slack.ephemerals if e.get("channel") == fresh_channel and e.get("user") == "USTRANGER"]
    assert notes and "Only <@UASKER>" in notes[-1]["text"]


def test_delete_on_the_streaming_message_removes_the_whole_answer(native, slack, openai_server, fresh_channel):
    openai_server.reply = Script(**SLOW)
    since = native.log_mark()
    ts, _ = say(native, slack, fresh_channel, "delete me natively")
    stream = streaming_message(slack, fresh_channel)
    assert native.send_interaction(shortcut_payload("delete_message", fresh_channel, ASKER, stream)).status == 200
    request = openai_server.requests[-1]
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=10)
    assert request.client_closed_early
    slack.wait_for(lambda f: not bot_messages(f, fresh_channel), timeout=10)
    [event_id] = handed_off(native, since)
    wait_settled(native, event_id, since=since)  # the answer's job noticed the delete and ended
    assert replies_to(slack, fresh_channel, ts) == []


def test_a_newer_question_supersedes_a_native_stream(native, slack, openai_server, fresh_channel):
    openai_server.queue(Script(**SLOW), Script(text="the newer answer"))
    first, _ = say(native, slack, fresh_channel, "first question")
    streaming_message(slack, fresh_channel)
    second, _ = say(native, slack, fresh_channel, "actually, this", thread_ts=first)
    older = wait_answer(slack, fresh_channel, first, timeout=20)[-1]
    assert older["metadata"]["event_payload"]["reason"] == "superseded"
    assert older["text"].endswith("_⏹ Stopped: a newer question in this thread is being answered._")
    assert wait_answer(slack, fresh_channel, second)[-1]["text"] == "the newer answer"


def test_an_expired_stream_goes_on_with_chat_update(native, slack, openai_server, fresh_channel):
    old_ttl = slack.stream_ttl
    slack.stream_ttl = 0.6  # Slack ends streams after ~5 minutes; here after 0.6 s
    try:
        openai_server.reply = Script(text=" ".join(f"w{i}" for i in range(150)), chunk_chars=6, delta_delay=0.02)
        ts, _ = say(native, slack, fresh_channel, "outlive the stream")
        parts = wait_answer(slack, fresh_channel, ts, timeout=30)
    finally:
        slack.stream_ttl = old_ttl
    assert "".join(p["text"] for p in parts) == " ".join(f"w{i}" for i in range(150))
    assert parts[-1]["metadata"]["event_payload"]["status"] == "done"
    assert calls(slack, "chat.update", fresh_channel)  # the rest came through chat.update
    slack.wait_for(lambda f: len(bot_messages(f, fresh_channel)) == len(parts), timeout=5)  # no control left


def test_without_the_streaming_methods_it_falls_back_to_chat_update(native, slack, openai_server, fresh_channel):
    slack.streaming_available = False
    try:
        openai_server.reply = Script(text="old workspace answer")
        ts, _ = say(native, slack, fresh_channel, "no streaming here")
        final = wait_answer(slack, fresh_channel, ts)[-1]
    finally:
        slack.streaming_available = True
    assert final["text"] == "old workspace answer"
    assert final["metadata"]["event_payload"]["status"] == "done"
    assert not calls(slack, "chat.appendStream", fresh_channel)


def test_a_long_native_answer_is_split_into_parts_like_update_mode(native, slack, openai_server, fresh_channel):
    text = "\n".join(f"line {i} " + "x" * 60 for i in range(120))  # ~8,000 characters
    openai_server.reply = Script(text=text, chunk_chars=40, delta_delay=0.002)
    ts, _ = say(native, slack, fresh_channel, "write a lot")
    parts = wait_answer(slack, fresh_channel, ts, timeout=30)
    assert len(parts) >= 2
    assert "".join(p["text"] for p in parts) == text  # nothing lost or added at the seams, newlines included
    assert all(len(p["text"]) <= 4000 for p in parts)
    slack.wait_for(lambda f: len(bot_messages(f, fresh_channel)) == len(parts), timeout=5)


def test_slacks_own_stop_control_on_the_stream_ends_the_answer(native, slack, openai_server, fresh_channel):
    openai_server.reply = Script(**SLOW)
    ts, _ = say(native, slack, fresh_channel, "stop me from Slack's own control")
    stream = streaming_message(slack, fresh_channel)
    slack.stop_stream_by_user(fresh_channel, stream["ts"])
    final = wait_answer(slack, fresh_channel, ts)[-1]
    assert final["ts"] == stream["ts"]
    assert final["text"].endswith(f"_⏹ Stopped by <@{ASKER}>._")
    assert final["metadata"]["event_payload"]["status"] == "stopped"
    request = openai_server.requests[-1]
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=5)
    assert request.client_closed_early


def test_with_the_production_budget_answers_past_the_stream_budget_use_chat_update(bots, slack, openai_server):
    # Slack's 20 chat.startStream a minute, with a burst of 2 (smaller than the default's minute's worth, so
    # that three answers at once outrun it), fresh: a process of this test's own.
    bot = bots.get(STREAM_MODE="native", CONTEXT_TOKEN_BUDGET="15998", SLACK_RATE_LIMITS="chat.startStream=20/2")
    openai_server.reply = Script(text="budgeted " * 30 + "end.", chunk_chars=6, delta_delay=0.01)
    asked = []
    for _ in range(3):  # three at once: one chat.startStream token now, the others use chat.update
        channel = f"DNAT{next(_ids):05d}"
        asked.append((channel, say(bot, slack, channel, "at once")[0]))
    for channel, ts in asked:
        final = wait_answer(slack, channel, ts, timeout=30)[-1]
        assert final["text"] == "budgeted " * 30 + "end."
        assert final["metadata"]["event_payload"]["status"] == "done"
    started = sum(len(calls(slack, "chat.startStream", channel)) for channel, _ in asked)
    assert 1 <= started < 3
