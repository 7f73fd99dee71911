"""A person asks; the answer streams into the thread (DM, mention, follow-ups)."""
import pytest

from flows import (ASKER, answer_text, handed_off, markdown_of, replies_to, say, updates_of, wait_answer,
                   wait_settled)
from harness import message_event
from standins.openai_api import Script


def test_dm_answer_streams_into_a_thread(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="Hello there, this is **bold** and a list:\n\n- one\n- two", chunk_chars=3,
                                 delta_delay=0.02)
    ts, response = say(bot, slack, channel, "hi bot")
    assert response.status == 200
    assert response.headers.get("X-Slack-No-Retry") == "1"

    parts = wait_answer(slack, channel, ts)
    assert len(parts) == 1
    reply = parts[0]
    assert reply["thread_ts"] == ts
    assert reply["text"] == "Hello there, this is **bold** and a list:\n\n- one\n- two"
    assert markdown_of(reply) == reply["text"]  # Slack's markdown block renders the model's Markdown
    assert reply["metadata"]["event_type"] == "assistant_reply"
    assert reply["metadata"]["event_payload"]["asker"] == ASKER
    assert not any(b["type"] == "actions" for b in reply["blocks"])  # Stop button gone at the end

    placeholder = [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel][0]
    assert placeholder.params["thread_ts"] == ts
    assert placeholder.params["metadata"]["event_type"] == "assistant_reply"
    assert any(b["type"] == "actions" and b["elements"][0]["action_id"] == "abort_openai_api"
               for b in placeholder.params["blocks"])

    request = openai_server.requests[-1]
    assert request.path == "/v1/responses"
    assert request.body["input"][-1] == {"role": "user", "content": "hi bot"}
    assert sum(1 for item in request.body["input"] if item["content"] == "hi bot") == 1


def test_mention_is_stripped_and_answered_once(bot, slack, openai_server):
    channel = "C-mention-1"
    text = "<@UBOT> what is a monad?"
    slack.invite(channel, slack.bot_user_id)  # Slack sends the mention: the bot is in the channel
    ts = slack.add_message(channel, ASKER, text)
    mention = message_event(channel, ASKER, text, ts, event_type="app_mention")
    also_message = message_event(channel, ASKER, text, ts, channel_type="channel")
    requests_before = len(openai_server.requests)
    since = bot.log_mark()
    assert bot.send_event(mention).status == 200
    assert bot.send_event(also_message).status == 200
    parts = wait_answer(slack, channel, ts)
    assert parts[0]["thread_ts"] == ts
    wait_settled(bot, mention["event_id"], since=since)  # the answer's job has ended…
    assert handed_off(bot, since) == [mention["event_id"]]  # …the only one
    # The answer's last line: operators read its status as this word.
    assert [e["status"] for e in bot.logged(since, message="usage", event_id=mention["event_id"])] == ["done"]
    assert len(openai_server.requests) == requests_before + 1
    assert openai_server.requests[-1].body["input"][-1]["content"] == "what is a monad?"
    assert len([c for c in slack.calls_of("chat.postMessage") if c.params["channel"] == channel]) == 1


def test_follow_up_in_a_dm_thread_sends_the_thread_with_roles(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="Paris.")
    first, _ = say(bot, slack, channel, "capital of France?")
    wait_answer(slack, channel, first)
    openai_server.reply = Script(text="About 2.1 million.")
    second, _ = say(bot, slack, channel, "and its population?", thread_ts=first)
    parts = wait_answer(slack, channel, second)
    assert answer_text(parts) == "About 2.1 million."
    assert parts[0]["thread_ts"] == first
    assert openai_server.requests[-1].body["input"] == [
        {"role": "user", "content": "capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "and its population?"},
    ]


def test_channel_thread_follow_up_without_mention_when_the_bot_takes_part(bot, slack, openai_server):
    channel = "C-follow-1"
    openai_server.reply = Script(text="First answer.")
    first, _ = say(bot, slack, channel, "<@UBOT> hello", event_type="app_mention")
    wait_answer(slack, channel, first)
    openai_server.reply = Script(text="Second answer.")
    other = "UOTHERPERSON"
    second, _ = say(bot, slack, channel, "what about me?", user=other, thread_ts=first, channel_type="channel")
    parts = wait_answer(slack, channel, second)
    assert answer_text(parts) == "Second answer."
    assert parts[0]["metadata"]["event_payload"]["asker"] == other
    # Two people speak: each user turn names its speaker.
    assert openai_server.requests[-1].body["input"] == [
        {"role": "user", "content": f"<@{ASKER}>: hello"},
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": f"<@{other}>: what about me?"},
    ]


def test_channel_thread_without_the_bot_is_left_alone(bot, slack, openai_server):
    channel = "C-follow-2"
    parent = slack.add_message(channel, ASKER, "team chat")
    before = len(openai_server.requests)
    since = bot.log_mark()
    say(bot, slack, channel, "a reply between people", thread_ts=parent, channel_type="channel")
    [event_id] = handed_off(bot, since)
    wait_settled(bot, event_id, since=since)
    assert bot.logged(since, message="not part of this thread", event_id=event_id)
    assert len(openai_server.requests) == before
    assert not [c for c in slack.calls_of("chat.postMessage") if c.params["channel"] == channel]


def test_long_thread_is_paginated_and_trimmed_to_the_budget(bots, slack, openai_server, channel):
    bot = bots.get(CONTEXT_TOKEN_BUDGET="3000")
    parent = slack.add_message(channel, ASKER, "start of a long thread")
    for number in range(260):  # more than one conversations.replies page
        slack.add_message(channel, ASKER, f"message number {number} " + "words " * 20, thread_ts=parent)
    openai_server.reply = Script(text="ok")
    question, _ = say(bot, slack, channel, "summarise please", thread_ts=parent)
    wait_answer(slack, channel, question)
    sent = openai_server.requests[-1].body["input"]
    assert sent[-1]["content"] == "summarise please"
    assert "message number 259" in sent[-2]["content"]  # newest history kept
    assert not any("start of a long thread" in item["content"] for item in sent)  # oldest dropped
    replies_calls = [c for c in slack.calls_of("conversations.replies") if c.params.get("channel") == channel]
    assert len(replies_calls) >= 2  # followed the cursor


def test_question_too_long_gets_a_clear_reply(bots, slack, openai_server, channel):
    bot = bots.get(CONTEXT_TOKEN_BUDGET="1000")
    before = len(openai_server.requests)
    ts, _ = say(bot, slack, channel, "这是一个很长的问题" * 200)
    parts = wait_answer(slack, channel, ts)
    assert "too long" in parts[-1]["text"]
    assert len(openai_server.requests) == before  # no API error, no API call


def test_updates_are_debounced_in_order_and_the_last_lands(bots, slack, openai_server, channel):
    bot = bots.get(STREAM_UPDATE_INTERVAL="0.3")
    text = " ".join(f"word{i}" for i in range(120))
    openai_server.reply = Script(text=text, chunk_chars=5, delta_delay=0.01)
    ts, _ = say(bot, slack, channel, "count")
    parts = wait_answer(slack, channel, ts)
    assert parts[0]["text"] == text
    updates = updates_of(slack, channel, parts[0]["ts"])
    interim = updates[:-1]
    gaps = [b.at - a.at for a, b in zip(interim, interim[1:])]
    assert all(gap >= 0.3 * 0.9 for gap in gaps), gaps
    shown = [u.params["text"] for u in interim if u.params["text"] != "_Thinking…_"]
    assert shown and all(text.startswith(s) for s in shown)  # each update shows a prefix of the answer
    assert all(len(a) <= len(b) for a, b in zip(shown, shown[1:]))  # in order, never backwards
    assert len(updates) < len(text) / 5  # debounced: far fewer updates than deltas


@pytest.mark.slack_429
def test_rate_limited_final_update_waits_and_lands(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="final words", first_token_delay=0.3)
    ts, _ = say(bot, slack, channel, "go")
    slack.wait_for(lambda s: [c for c in s.calls_of("chat.postMessage") if c.params["channel"] == channel])
    slack.rate_limit_next("chat.update", count=2, retry_after=1)
    parts = wait_answer(slack, channel, ts)
    assert parts[0]["text"] == "final words"
    assert [c for c in updates_of(slack, channel, parts[0]["ts"]) if c.status == 429]


def test_long_answer_continues_in_more_messages_without_loss(bot, slack, openai_server, channel):
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 12 for i in range(40)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 9000
    openai_server.reply = Script(text=text, chunk_chars=200)
    ts, _ = say(bot, slack, channel, "write a lot")
    parts = wait_answer(slack, channel, ts, timeout=30)
    assert len(parts) >= 3
    assert answer_text(parts) == text
    assert all(len(p["text"]) <= 4000 for p in parts)
    assert all(p["thread_ts"] == ts for p in parts)
    assert [p["metadata"]["event_payload"]["status"] for p in parts] == ["continued"] * (len(parts) - 1) + ["done"]


def test_code_block_split_across_messages_is_reopened(bot, slack, openai_server, channel):
    code = "\n".join(f"print({i})  # line {i}" for i in range(400))
    text = "Here:\n\n```python\n" + code + "\n```\nDone."
    openai_server.reply = Script(text=text, chunk_chars=500)
    ts, _ = say(bot, slack, channel, "code please")
    parts = wait_answer(slack, channel, ts, timeout=30)
    assert len(parts) >= 2
    assert parts[0]["text"].rstrip().endswith("```")
    assert parts[1]["text"].startswith("```python\n")
    joined = "".join(p["text"] for p in parts)
    assert all(f"print({i})  # line {i}" in joined for i in range(400))
    assert joined.count("print(") == 400  # nothing repeated


def test_chat_completions_mode(bots, slack, openai_server, channel):
    bot = bots.get(OPENAI_API="chat")
    openai_server.reply = Script(text="from chat completions", chunk_chars=4)
    ts, _ = say(bot, slack, channel, "hello chat")
    parts = wait_answer(slack, channel, ts)
    assert parts[0]["text"] == "from chat completions"
    request = openai_server.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.body["messages"][0]["role"] == "system"
    assert request.body["messages"][-1] == {"role": "user", "content": "hello chat"}
    assert request.body["model"] == "test-model"


def test_practice_mode_answers_without_any_api(bots, slack, openai_server, channel):
    bot = bots.get(practice=True)
    before = len(openai_server.requests)
    ts, _ = say(bot, slack, channel, "does the wiring work?")
    parts = wait_answer(slack, channel, ts)
    assert "Practice mode" in parts[0]["text"]
    assert "does the wiring work?" in parts[0]["text"]
    assert len(openai_server.requests) == before
    assert len(updates_of(slack, channel, parts[0]["ts"])) >= 2  # it streams


def test_system_prompt_default_preset_and_override(bots, slack, openai_server, channel):
    import prompts

    for overrides, expected in (
        ({}, prompts.DEFAULT),
        ({"SYSTEM_PROMPT_PRESET": "zh-TW"}, prompts.PRESETS["zh-TW"]),
        ({"SYSTEM_PROMPT_PRESET": "zh-TW", "SYSTEM_PROMPT": "Be terse."}, "Be terse."),
    ):
        bot = bots.get(**overrides)
        ts, _ = say(bot, slack, channel, f"prompt check {len(expected)}")
        wait_answer(slack, channel, ts)
        assert openai_server.requests[-1].body["instructions"] == expected
