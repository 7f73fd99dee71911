"""An answer begun without a placeholder (the update budget had no room for its updates), in-process:
StreamingReply with first_ts=None, the real SlackGateway, FakeSlack. The thread status shows what it is
doing; its first words are posted (chat.postMessage) once a final write is reserved for it, else the
whole answer is posted at the end, part by part. Each test's budget runs on a clock the test moves."""
from __future__ import annotations

import time

import pytest

from threadwise.answering.outcomes import AnswerStatus
from threadwise.answering.signals import RunningAnswer
from threadwise.state.stop_records import StopReason, StopSignal
from inprocess import BOT_TOKEN, clock, eventually  # noqa: F401  (clock: a fixture)
from threadwise.slack.reply_format import PART_LIMIT, ReplyTag, aborted_metadata, final_blocks, reply_metadata, streaming_blocks, \
    with_marker
from threadwise.config.slack_limits import Limit
from threadwise.slack.rate_budget import WriteBudget
from slack_client import SlackGateway
from threadwise.answering.replies.streaming import FinalReport, StreamingReply
from test_streaming_parts import paragraphs
from test_streaming_reply import ASKER, bounded

pytestmark = pytest.mark.in_process


class Unshown:
    """A question in ``channel`` and the StreamingReply answering it, with no message of its own yet.
    chat.update has one token, spent before the answer starts: no final write can be reserved until the
    test moves the clock."""

    def __init__(self, slack, channel: str, clock, interval: float = 0.05, **options):
        self.slack, self.channel, self.clock = slack, channel, clock
        self.budget = WriteBudget({"chat.update": Limit(60, 2)}, clock=clock)
        assert self.budget.try_take("chat.update")
        self.gateway = SlackGateway(BOT_TOKEN, slack.base_url, budget=self.budget)
        self.question = slack.add_message(channel, ASKER, "a question")
        self.tag = ReplyTag(ASKER, self.question)
        self.first: list[str] = []
        self.reply = StreamingReply(self.gateway, channel, self.question, self.tag, None, interval,
                                    on_first_message=self.first.append, **options)

    def statuses(self) -> list[str]:
        return [c.params["status"] for c in self.slack.calls_of("assistant.threads.setStatus")
                if (c.params.get("channel_id"), c.params.get("thread_ts")) == (self.channel, self.question)]

    def posts(self) -> list:
        return [c for c in self.slack.calls_of("chat.postMessage") if c.params.get("thread_ts") == self.question]

    def replies(self) -> list[dict]:
        return [m for m in self.slack.thread(self.channel, self.question) if m.get("bot_id")]

    def finish(self, *args) -> FinalReport:
        return bounded(self.reply.finish, *args)


@pytest.fixture
def unshown(slack, channel, clock) -> Unshown:
    return Unshown(slack, channel, clock)


def test_the_thread_status_shows_what_the_answer_does_before_its_words(slack, unshown):
    # (FakeSlack may not know assistant.threads.setStatus: a refused status is logged and the answer goes on)
    unshown.reply.set_status("Searching the web…")
    assert eventually(lambda: unshown.statuses(), 2) == ["Searching the web…"]
    time.sleep(0.2)  # four writer intervals
    assert unshown.statuses() == ["Searching the web…"], "a status is shown once"
    unshown.reply.set_status("Reading a file…")
    assert eventually(lambda: len(unshown.statuses()) == 2, 2)
    assert unshown.statuses()[-1] == "Reading a file…"
    assert unshown.posts() == [] and unshown.replies() == []
    unshown.finish()


def test_the_first_words_are_posted_once_a_final_write_is_reserved(slack, unshown):
    unshown.reply.append("Hello")
    time.sleep(0.3)  # six writer intervals, and no token to reserve
    assert unshown.posts() == [] and unshown.first == []
    unshown.clock.advance(1.2)  # a token: the answer's final write is reserved, its words are posted
    [posted] = eventually(lambda: unshown.replies(), 2)
    assert (posted["text"], posted["blocks"]) == ("Hello", streaming_blocks("Hello"))
    assert posted["metadata"] == reply_metadata(unshown.tag, "streaming")
    assert unshown.first == [posted["ts"]], "the reply is recorded for a redelivery to reuse"
    unshown.reply.append(" world")  # no interim update: the only token is the final's
    report = unshown.finish()
    assert report == FinalReport([posted["ts"]], None, landed=True)
    [final] = unshown.replies()
    assert (final["text"], final["blocks"]) == ("Hello world", final_blocks("Hello world"))
    assert final["metadata"] == reply_metadata(unshown.tag, "done")
    assert len(unshown.posts()) == 1


def test_an_answer_that_never_found_room_is_posted_whole_at_the_end_part_by_part(slack, unshown):
    text = paragraphs(14)  # two parts
    unshown.reply.append(text)
    time.sleep(0.2)
    assert unshown.posts() == []
    report = unshown.finish("_⚠️ The model stopped answering._", AnswerStatus.ERROR)
    first, second = unshown.replies()
    assert report == FinalReport([first["ts"], second["ts"]], None, landed=True)
    assert first["text"] + second["text"] == with_marker(text, "_⚠️ The model stopped answering._")
    assert len(first["text"]) <= PART_LIMIT
    assert (first["blocks"], second["blocks"]) == (final_blocks(first["text"]), final_blocks(second["text"]))
    assert first["metadata"] == reply_metadata(unshown.tag, "continued")
    assert second["metadata"] == reply_metadata(ReplyTag(ASKER, unshown.question, first["ts"], 2), "error")
    assert [c for c in slack.calls_of("chat.update") if c.params.get("ts") in report.parts] == [], "never updated"


def test_a_stopped_answer_without_a_message_is_posted_with_its_marker(slack, channel, clock):
    running = RunningAnswer(channel, "1.000001")
    unshown = Unshown(slack, channel, clock, running=running)
    unshown.reply.append("Half")
    running.signal(StopSignal(StopReason.STOPPED, ASKER))
    unshown.finish()
    [reply] = unshown.replies()
    assert reply["text"] == f"Half\n\n_⏹ Stopped by <@{ASKER}>._"
    base = reply_metadata(unshown.tag, "stopped")["event_payload"]
    assert reply["metadata"] == aborted_metadata(base, ASKER, "stopped", "stopped")


def test_a_deleted_answer_without_a_message_clears_the_status_and_posts_nothing(slack, channel, clock):
    running = RunningAnswer(channel, "1.000001")
    unshown = Unshown(slack, channel, clock, running=running)
    unshown.reply.set_status("Searching the web…")
    assert eventually(lambda: unshown.statuses(), 2)
    running.signal(StopSignal(StopReason.DELETED, ASKER))
    report = unshown.finish()
    assert report == FinalReport([], StopSignal(StopReason.DELETED, ASKER), landed=False)
    assert unshown.statuses() == ["Searching the web…", ""], "the thread no longer says it is answered"
    assert unshown.posts() == []
