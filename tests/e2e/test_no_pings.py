"""Answers cannot ping the channel (issue 16, item 5).

The model's text holds every special mention Slack notifies for; no message the bot posts or
updates (its text nor its blocks) may notify: not the streaming updates, the final text, the
continuation parts of a long answer, native streaming's pieces, the notes under the answer, nor
the sources section. The Slack stand-in reads each message as Slack would (slack_mentions) and
records every write after which a message would notify, in ``slack.pings``.
"""
from flows import say, wait_answer
from standins.openai_api import Script
from test_files import share
from test_native_streaming import native  # noqa: F401 (the STREAM_MODE=native bot, a fixture)

JOINER = "\u2060"
PINGS = ("Heads up <!channel>, <!here|here>, <!everyone> and <!here>; also <!subteam^S123|@team>, "
         "<!subteam^S456>, <!channel|channel>, &lt;!everyone&gt; and a plain @here. Thanks <@U999>.")
SHOWN = (f"Heads up @{JOINER}channel, @{JOINER}here, @{JOINER}everyone and @{JOINER}here; also @{JOINER}team, "
         f"@{JOINER}S456, @{JOINER}channel, @{JOINER}everyone and a plain @{JOINER}here. Thanks <@U999>.")


def pings_in(slack, channel):
    return [p for p in slack.pings if p["channel"] == channel]


def test_no_message_of_a_streamed_answer_pings_and_the_mentions_are_shown(bots, slack, openai_server, channel):
    bot = bots.get(WEB_SEARCH="true")
    odd = slack.add_file("<!here> plans.zip", b"PK\x05\x06" + b"\x00" * 18, "application/zip", "zip")
    # About 3 s of streaming at 3 characters a delta: several interim updates at STREAM_UPDATE_INTERVAL (0.8 s)
    # even on a loaded machine (1.3 s of it gave only one in a CI run).
    openai_server.reply = Script(text=PINGS, chunk_chars=3, delta_delay=0.05,
                                 citations=(("https://example.org/news", "<!channel> news"),))
    ts = share(bot, slack, channel, "announce it", [odd])
    final = wait_answer(slack, channel, ts)[-1]
    assert pings_in(slack, channel) == []
    assert final["text"].startswith(SHOWN + "\n\n")
    assert f"[@{JOINER}channel news](https://example.org/news)" in final["text"]  # the sources section
    assert f"@{JOINER}here plans.zip (zip files are not read yet)" in final["text"]  # the note under it
    assert "<@U999>" in final["text"]  # a person's mention stays
    updates = [c for c in slack.calls_of("chat.update") if c.params.get("channel") == channel]
    assert len(updates) > 2  # it streamed: interim updates with the mentions half written, then whole


def test_no_part_of_a_long_answer_pings(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="\n\n".join([PINGS] * 40), chunk_chars=400, delta_delay=0.01)
    ts, _ = say(bot, slack, channel, "announce it many times")
    parts = wait_answer(slack, channel, ts)
    assert len(parts) >= 2  # continuation parts
    assert pings_in(slack, channel) == []
    assert all(SHOWN in part["text"] for part in parts)


def test_native_streaming_never_builds_a_mention_from_its_pieces(native, slack, openai_server):  # noqa: F811
    channel = "DPING00001"
    slack.add_channel(channel, members=[slack.bot_user_id, "UASKER"])
    # Five characters a delta: "<!channel>" arrives as "<!cha" + "nnel>", in two appended pieces.
    openai_server.reply = Script(text="Native token. " * 8 + PINGS, chunk_chars=5, delta_delay=0.03)
    ts, _ = say(native, slack, channel, "stream the announcement")
    final = wait_answer(slack, channel, ts)[-1]
    assert [c for c in slack.calls_of("chat.appendStream") if c.params.get("channel") == channel]
    assert pings_in(slack, channel) == []
    assert final["text"] == "Native token. " * 8 + SHOWN
