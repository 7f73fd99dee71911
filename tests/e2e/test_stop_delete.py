"""Stop generating, delete an answer, and a newer question superseding an older answer."""
import pytest

from flows import ASKER, handed_off, replies_to, say, shared_channel, wait_answer, wait_settled
from harness import shortcut_payload, stop_button_payload
from standins.openai_api import Script


@pytest.fixture
def bot(bots):
    """A bot of this file's own: Stop and Delete on a reply with a Stop button at once need the quiet
    workspace's budget, which the session's shared bot has spent on other files' answers."""
    return bots.get(own=__name__)

SLOW = dict(text=" ".join(f"token{i}" for i in range(400)), chunk_chars=7, delta_delay=0.02)


def _streaming_reply(slack, channel, question_ts):
    """Wait until the answer has shown some text; return the reply message."""
    def shown(fake):
        parts = replies_to(fake, channel, question_ts)
        return parts[-1] if parts and parts[-1]["text"].startswith("token") else None

    return slack.wait_for(shown, timeout=10)


def test_stop_shortcut_ends_the_answer_and_closes_the_model_stream(bot, slack, openai_server, channel):
    openai_server.reply = Script(**SLOW)
    ts, _ = say(bot, slack, channel, "talk for a long time")
    reply = _streaming_reply(slack, channel, ts)
    response = bot.send_interaction(shortcut_payload("abort_openai_api", channel, ASKER, reply))
    assert response.status == 200

    parts = wait_answer(slack, channel, ts)
    final = parts[-1]
    assert final["metadata"]["event_type"] == "aborted"
    assert final["text"].endswith(f"_⏹ Stopped by <@{ASKER}>._")
    assert not any(b["type"] == "actions" for b in final["blocks"])
    request = openai_server.requests[-1]
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=5)
    assert request.client_closed_early
    assert request.deltas_sent < request.deltas_total
    assert [v for v in slack.views if v.get("view", v).get("title", {}).get("text") == "Stopped"]


def test_stop_button_stops_the_answer(bot, slack, openai_server, channel):
    openai_server.reply = Script(**SLOW)
    ts, _ = say(bot, slack, channel, "another long one")
    reply = _streaming_reply(slack, channel, ts)
    assert bot.send_interaction(stop_button_payload(channel, ASKER, reply)).status == 200
    parts = wait_answer(slack, channel, ts)
    assert parts[-1]["metadata"]["event_type"] == "aborted"
    assert "Stopped" in parts[-1]["text"]


def test_only_the_asker_may_stop(bot, slack, openai_server):
    channel = shared_channel(slack, ASKER, "USTRANGER")  # where someone else can see the answer
    openai_server.reply = Script(**dict(SLOW, delta_delay=0.005))
    ts, _ = say(bot, slack, channel, "<@UBOT> mine", channel_type="channel", event_type="app_mention")
    reply = _streaming_reply(slack, channel, ts)
    bot.send_interaction(shortcut_payload("abort_openai_api", channel, "USTRANGER", reply))
    parts = wait_answer(slack, channel, ts, timeout=30)
    assert parts[-1]["metadata"]["event_type"] == "assistant_reply"
    assert parts[-1]["metadata"]["event_payload"]["status"] == "done"
    notes = [e for e in slack.ephemerals if e.get("channel") == channel and e.get("user") == "USTRANGER"]
    assert notes and "Only <@UASKER>" in notes[-1]["text"]


def test_stop_on_a_finished_answer_changes_nothing(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="short")
    ts, _ = say(bot, slack, channel, "quick")
    final = wait_answer(slack, channel, ts)[-1]
    def updates_here():  # other tests' answers may still be writing elsewhere in the shared stand-in
        return [c for c in slack.calls_of("chat.update") if c.params.get("channel") == channel]

    updates_before = len(updates_here())
    # A shortcut is handled inline: when Slack has its 200, the bot has decided and written all it will.
    assert bot.send_interaction(shortcut_payload("abort_openai_api", channel, ASKER, final)).status == 200
    assert any("already finished" in e["text"] for e in slack.ephemerals if e.get("channel") == channel)
    assert slack.get(channel, final["ts"])["text"] == "short"
    assert len(updates_here()) == updates_before


def test_shortcuts_on_someone_elses_message_change_nothing(bot, slack, channel):
    human_ts = slack.add_message(channel, "USOMEONE", "a person's message")
    human = slack.get(channel, human_ts)
    for callback in ("abort_openai_api", "delete_message"):
        assert bot.send_interaction(shortcut_payload(callback, channel, ASKER, human)).status == 200
    notes = [e for e in slack.ephemerals if e.get("channel") == channel]  # (handled inline: all written by now)
    assert len(notes) == 2 and all("only on Threadwise's answers" in n["text"] for n in notes)
    assert slack.get(channel, human_ts) is not None
    assert not [c for c in slack.calls_of("chat.delete") if c.params.get("channel") == channel]


def test_stop_on_ones_own_message_without_an_answer_says_so(bot, slack, channel):
    """*Stop generating* works on one's own question (for an answer with no reply to press it on yet);
    on a message nothing answers it says so, and Delete there is refused as before."""
    own_ts = slack.add_message(channel, ASKER, "my own message, never a question to the bot")
    own = slack.get(channel, own_ts)
    for callback in ("abort_openai_api", "delete_message"):
        assert bot.send_interaction(shortcut_payload(callback, channel, ASKER, own)).status == 200
    notes = [e["text"] for e in slack.ephemerals if e.get("channel") == channel]
    assert notes == ["No answer to this message is being written.", "This works only on Threadwise's answers; "
                     "nothing was changed."]
    assert slack.get(channel, own_ts) is not None
    assert not [c for c in slack.calls if c.params.get("channel") == channel
                and c.method in ("chat.delete", "chat.update", "chat.postMessage")]


def test_delete_removes_a_streaming_answer_and_stops_it(bot, slack, openai_server, channel):
    openai_server.reply = Script(**SLOW)
    since = bot.log_mark()
    ts, _ = say(bot, slack, channel, "long answer to delete")
    reply = _streaming_reply(slack, channel, ts)
    assert bot.send_interaction(shortcut_payload("delete_message", channel, ASKER, reply)).status == 200
    request = openai_server.requests[-1]
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=10)
    assert request.client_closed_early
    assert slack.get(channel, reply["ts"]) is None
    [event_id] = handed_off(bot, since)
    wait_settled(bot, event_id, since=since)  # the answer's job has noticed the delete and ended
    assert replies_to(slack, channel, ts) == []  # nothing re-posted after the delete
    assert [v for v in slack.views if v.get("view", v).get("title", {}).get("text") == "Deleted"]


def test_only_the_asker_may_delete(bot, slack, openai_server):
    channel = shared_channel(slack, ASKER, "USTRANGER")  # where someone else can see the answer
    openai_server.reply = Script(text="keep me")
    ts, _ = say(bot, slack, channel, "<@UBOT> question", channel_type="channel", event_type="app_mention")
    final = wait_answer(slack, channel, ts)[-1]
    assert bot.send_interaction(shortcut_payload("delete_message", channel, "USTRANGER", final)).status == 200
    assert any("Only <@UASKER>" in e["text"] for e in slack.ephemerals if e.get("user") == "USTRANGER"
               and e.get("channel") == channel)  # (handled inline: all written by now)
    assert slack.get(channel, final["ts"]) is not None
    assert not [c for c in slack.calls_of("chat.delete") if c.params.get("channel") == channel]


def test_delete_removes_every_part_of_a_long_answer(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="\n\n".join("para " * 100 for _ in range(20)), chunk_chars=400)
    ts, _ = say(bot, slack, channel, "very long")
    parts = wait_answer(slack, channel, ts, timeout=30)
    assert len(parts) >= 2
    bot.send_interaction(shortcut_payload("delete_message", channel, ASKER, parts[1]))
    slack.wait_for(lambda s: not replies_to(s, channel, ts), timeout=5)


def test_new_question_supersedes_a_streaming_answer(bot, slack, openai_server, channel):
    openai_server.queue(Script(**SLOW), Script(text="the newer answer"))
    first, _ = say(bot, slack, channel, "first question")
    _streaming_reply(slack, channel, first)
    second, _ = say(bot, slack, channel, "actually, this instead", thread_ts=first)
    new = wait_answer(slack, channel, second)
    old = wait_answer(slack, channel, first)
    assert new[-1]["text"] == "the newer answer"
    assert old[-1]["metadata"]["event_type"] == "aborted"
    assert "newer question" in old[-1]["text"]


def test_stop_before_the_first_token_ends_the_answer(bot, slack, openai_server, channel):
    """A model that has not started yet: Stop is noticed by the next heartbeat update and the stream is closed."""
    openai_server.reply = Script(text="never shown", first_token_delay=30)
    ts, _ = say(bot, slack, channel, "slow to start")
    placeholder = slack.wait_for(lambda s: replies_to(s, channel, ts) and replies_to(s, channel, ts)[0], timeout=10)
    openai_server.wait_for(lambda f: f.requests and f.requests[-1].body.get("input", [{}])[-1].get("content")
                           == "slow to start", timeout=10)
    request = openai_server.requests[-1]
    bot.send_interaction(stop_button_payload(channel, ASKER, placeholder))
    final = wait_answer(slack, channel, ts, timeout=15)[-1]
    assert final["metadata"]["event_type"] == "aborted"
    assert "Stopped" in final["text"] and "never shown" not in final["text"]
    openai_server.wait_for(lambda f: request.outcome is not None, timeout=10)
    assert request.client_closed_early and request.deltas_sent == 0
