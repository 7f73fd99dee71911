"""One answer's messages while the model writes it, in-process: StreamingReply with the real
SlackGateway against FakeSlack (the placeholder posted as the bot posts it), read back from FakeSlack.

Timing is real (the writer thread keeps ``time.monotonic``): intervals are short, and every
bound a test asserts leaves several times the expected delay as margin. Long answers split
into parts: tests/unit/answering/test_streaming_parts.py; the pace under Slack's limits: tests/unit/answering/test_streaming_pace.py.
"""
from __future__ import annotations

import threading
import time

import pytest

from threadwise.answering.replies import streaming as streaming_reply
from inprocess import eventually, gateway  # noqa: F401  (gateway: a fixture)
from threadwise.slack.reply_format import (PLACEHOLDER_TEXT, ReplyTag, aborted_metadata, final_blocks, reply_metadata,
                          streaming_blocks)
from threadwise.slack.rate_budget import USER_ACTION
from threadwise.answering.outcomes import AnswerStatus
from threadwise.answering.signals import RunningAnswer
from threadwise.answering.replies.streaming import StreamingReply
from threadwise.state.stop_records import StopReason, StopSignal

pytestmark = pytest.mark.in_process

ASKER = "U1"


def bounded(call, *args, seconds: float = 10.0):
    """``call(*args)`` in a thread of its own: a write that would be retried for minutes fails the test."""
    outcome: list = []

    def run():
        try:
            outcome.append((True, call(*args)))
        except BaseException as error:  # re-raised in the test
            outcome.append((False, error))

    threading.Thread(target=run, daemon=True).start()
    deadline = time.monotonic() + seconds
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.01)
    assert outcome, f"{call.__name__} did not return within {seconds} s"
    [(returned, value)] = outcome
    if not returned:
        raise value
    return value


class Answer:
    """A question in ``channel``, the bot's placeholder under it, and the StreamingReply writing into it."""

    def __init__(self, slack, gateway, channel: str, interval: float = 0.05, **options):
        self.slack, self.gateway, self.channel = slack, gateway, channel
        self.question = slack.add_message(channel, ASKER, "a question")
        self.tag = ReplyTag(ASKER, self.question)
        self.ts = gateway.post(channel, self.question, PLACEHOLDER_TEXT, streaming_blocks(""),
                               reply_metadata(self.tag, "streaming")).ts
        self.stops: list[str] = []
        options.setdefault("on_stop", lambda: self.stops.append("closed"))
        # A tag as a continuation part carries it: the answer's first part is tagged as part 1 all the same.
        tagged = ReplyTag(ASKER, self.question, answer_ts="1.000001", part=3)
        self.reply = StreamingReply(gateway, channel, self.question, tagged, self.ts, interval, **options)

    def finish(self, *args) -> streaming_reply.FinalReport:
        return bounded(self.reply.finish, *args)

    def check_stop(self, status: str) -> StopSignal | None:
        return bounded(self.reply.check_stop, status)

    def message(self, ts: str | None = None) -> dict:
        return self.slack.get(self.channel, ts or self.ts)

    def shows(self, text: str, status: str | None = None) -> bool:
        return self.message()["blocks"] == streaming_blocks(text, status)

    def updates(self) -> list:
        return [c for c in self.slack.calls_of("chat.update") if c.params.get("ts") == self.ts]

    def stop_click(self, by: str = ASKER, reason: str = "stopped", **payload) -> None:
        """What a Stop click writes (interactions/stop.py): the text as it is, the metadata flagged."""
        base = reply_metadata(self.tag, "streaming")["event_payload"]
        metadata = aborted_metadata(base, by, reason) if not payload else {"event_type": "aborted",
                                                                           "event_payload": payload}
        message = self.message()
        self.gateway.update(self.channel, self.ts, message["text"], message["blocks"], metadata, USER_ACTION)


@pytest.fixture
def answer(slack, gateway, channel) -> Answer:
    return Answer(slack, gateway, channel)


@pytest.fixture
def quick_heartbeat(monkeypatch):
    monkeypatch.setattr(streaming_reply, "HEARTBEAT_SECONDS", 0.4)


def test_the_text_shows_while_written_and_the_final_text_lands(answer):
    answer.reply.append("Hello")
    answer.reply.append("")
    answer.reply.append(", world")
    assert answer.reply.text == "Hello, world"
    assert eventually(lambda: answer.shows("Hello, world"), 2)
    assert answer.message()["text"] == "Hello, world"
    report = answer.finish()
    assert report == streaming_reply.FinalReport([answer.ts], None, landed=True)
    message = answer.message()
    assert (message["text"], message["blocks"]) == ("Hello, world", final_blocks("Hello, world"))
    assert answer.updates()[-1].params["text"] == "Hello, world"  # (not left for Slack to make from the blocks)
    # part 1, whatever tag the reply was given
    assert message["metadata"] == reply_metadata(ReplyTag(ASKER, answer.question), "done")


def test_nothing_is_written_while_the_model_says_nothing(answer):
    time.sleep(0.4)
    assert answer.updates() == []
    assert answer.message()["blocks"] == streaming_blocks("")


def test_updates_come_at_most_once_an_interval_with_the_newest_text(slack, gateway, channel):
    answer = Answer(slack, gateway, channel, interval=0.3)
    started = time.monotonic()
    words = 0
    while time.monotonic() - started < 1.2:
        words += 1
        answer.reply.append(f"w{words} ")
        time.sleep(0.02)
    updates = answer.updates()
    assert 2 <= len(updates) <= 6
    gaps = [later.at - earlier.at for earlier, later in zip(updates, updates[1:])]
    assert min(gaps) >= 0.25
    assert eventually(lambda: answer.message()["text"] == answer.reply.text.rstrip() or
                      answer.shows(answer.reply.text), 2)
    answer.finish()


def test_new_words_after_a_silence_show_at_once(answer):
    answer.reply.append("First")
    assert eventually(lambda: answer.shows("First"), 2)
    time.sleep(0.3)  # the writer now waits for text (its heartbeat is 5 s away)
    answer.reply.append(" second")
    assert eventually(lambda: answer.shows("First second"), 1.5)
    answer.finish()


def test_a_silent_model_still_rewrites_now_and_then_and_notices_a_stop(quick_heartbeat, answer):
    answer.reply.append("Partial")
    assert eventually(lambda: answer.shows("Partial"), 2)
    written = len(answer.updates())
    time.sleep(1.3)  # heartbeat 0.4 s: two or three rewrites, not one every interval (0.05 s)
    rewrites = answer.updates()[written:]
    assert 2 <= len(rewrites) <= 4
    assert all(call.params["blocks"] == streaming_blocks("Partial") for call in rewrites)
    answer.stop_click()
    assert eventually(lambda: answer.reply.stop, 2) == StopSignal(StopReason.STOPPED, ASKER)
    assert eventually(lambda: answer.stops, 1) == ["closed"]
    report = answer.finish()
    assert report.stop == StopSignal(StopReason.STOPPED, ASKER) and report.landed
    message = answer.message()
    assert message["text"] == "Partial\n\n_⏹ Stopped by <@U1>._"
    base = reply_metadata(ReplyTag(ASKER, answer.question), "stopped")["event_payload"]
    assert message["metadata"] == aborted_metadata(base, ASKER, "stopped", "stopped")


def test_a_silent_placeholder_is_rewritten_as_it_is(quick_heartbeat, answer):
    assert eventually(lambda: answer.updates(), 2)
    assert answer.updates()[0].params["blocks"] == streaming_blocks("")
    assert answer.finish().landed


def test_finishing_does_not_wait_for_the_writers_next_slot(slack, gateway, channel):
    answer = Answer(slack, gateway, channel, interval=30)
    answer.reply.append("One")
    assert eventually(lambda: answer.shows("One"), 2)
    answer.reply.append(" two")  # its slot is 30 s away
    started = time.monotonic()
    report = answer.finish()
    assert time.monotonic() - started < 2
    assert report.landed and answer.message()["text"] == "One two"
    assert len(answer.updates()) == 2


def test_a_stop_seen_while_streaming_ends_the_answer_with_the_stoppers_name(answer):
    answer.reply.append("Some")
    assert eventually(lambda: answer.shows("Some"), 2)
    answer.stop_click(by="U2")
    answer.reply.append(" more")
    assert eventually(lambda: answer.reply.stop, 2) == StopSignal(StopReason.STOPPED, "U2")
    assert answer.stops == ["closed"]
    settled = len(answer.updates())
    answer.reply.append(" and more")
    time.sleep(0.3)
    assert len(answer.updates()) == settled  # the writer has ended
    answer.finish()
    message = answer.message()
    assert message["text"] == "Some more and more\n\n_⏹ Stopped by <@U2>._"
    assert message["metadata"]["event_type"] == "aborted"
    assert message["metadata"]["event_payload"]["stopped_by"] == "U2"


def test_a_stop_flag_without_reason_or_name_still_stops(answer):
    answer.reply.append("Text")
    assert eventually(lambda: answer.shows("Text"), 2)
    answer.stop_click(asker=ASKER, question=answer.question, status="stopping")
    answer.reply.append("!")
    assert eventually(lambda: answer.reply.stop, 2) == StopSignal(StopReason.STOPPED, None)
    report = answer.finish()
    assert report.landed
    assert answer.message()["text"] == "Text!\n\n_⏹ Stopped._"
    assert answer.message()["metadata"]["event_payload"]["stopped_by"] == ""


def test_a_newer_question_supersedes_the_answer(answer):
    answer.reply.append("Old")
    assert eventually(lambda: answer.shows("Old"), 2)
    answer.stop_click(by="", reason="superseded")
    answer.reply.append(" answer")
    assert eventually(lambda: answer.reply.stop, 2) == StopSignal(StopReason.SUPERSEDED, "")
    answer.finish()
    assert answer.message()["text"] == "Old answer\n\n_⏹ Stopped: a newer question in this thread is being answered._"
    assert answer.message()["metadata"]["event_payload"]["reason"] == "superseded"


@pytest.mark.parametrize("ending", [StopReason.DELETED, StopReason.TAKEN_OVER])
def test_an_answer_deleted_or_taken_over_is_not_written_again(slack, gateway, channel, ending):
    owner = [True]
    answer = Answer(slack, gateway, channel, still_owner=lambda: owner[0])
    answer.reply.append("Mine")
    assert eventually(lambda: answer.shows("Mine"), 2)
    if ending is StopReason.DELETED:
        slack.delete(channel, answer.ts)
    else:
        owner[0] = False  # another worker took the answer over
    answer.reply.append(" no longer")
    assert eventually(lambda: answer.reply.stop, 2) == StopSignal(ending)
    assert answer.reply.stop.reason is ending, "a typed reason, not its word"
    assert answer.stops == ["closed"]
    tried = len(answer.updates())
    report = answer.finish()
    assert report == streaming_reply.FinalReport([answer.ts], StopSignal(ending), landed=False)
    assert len(answer.updates()) == tried
    assert (slack.get(channel, answer.ts) is None) if ending is StopReason.DELETED else answer.shows("Mine")


def test_a_delete_noticed_only_by_the_final_write(slack, gateway, channel):
    answer = Answer(slack, gateway, channel, interval=30)
    answer.reply.append("Answer")
    assert eventually(lambda: answer.shows("Answer"), 2)
    slack.delete(channel, answer.ts)
    answer.reply.append(" ends")
    report = answer.finish()
    assert report == streaming_reply.FinalReport([answer.ts], StopSignal(StopReason.DELETED), landed=False)


def test_a_lost_lease_is_checked_again_before_the_final_write(slack, gateway, channel):
    owner = [True]
    answer = Answer(slack, gateway, channel, interval=30, still_owner=lambda: owner[0])
    owner[0] = False
    report = answer.finish()
    assert report.stop == StopSignal(StopReason.TAKEN_OVER) and not report.landed
    assert answer.updates() == []


def test_a_status_shows_before_the_first_words_which_follow_at_once(slack, gateway, channel):
    answer = Answer(slack, gateway, channel, interval=3)
    answer.reply.set_status("Searching the web…")
    assert eventually(lambda: answer.shows("", "Searching the web…"), 1.5)
    answer.reply.append("Found")
    assert eventually(lambda: answer.shows("Found"), 2.5)
    status, words = answer.updates()
    assert words.at - status.at < 0.6  # not an interval (3 s), nor a second, later
    answer.finish()


def test_a_status_once_words_are_shown_changes_nothing(answer):
    answer.reply.append("Words")
    assert eventually(lambda: answer.shows("Words"), 2)
    written = len(answer.updates())
    answer.reply.set_status("Reading a file…")
    time.sleep(0.4)
    assert len(answer.updates()) == written
    answer.finish()


def test_check_stop_leaves_the_status_to_the_writer_and_returns_the_signal(slack, gateway, channel):
    running = RunningAnswer(channel, "1.000001")
    answer = Answer(slack, gateway, channel, running=running)
    assert answer.check_stop("Searching Notion…") is None
    assert eventually(lambda: answer.shows("", "Searching Notion…"), 2), "shown at the writer's next slot"
    running.signal(StopSignal(StopReason.STOPPED, ASKER))  # (Stop, from the handler's thread)
    assert answer.stops == ["closed"], "the model stream closed before signal() returned"
    calls = len(slack.calls)
    assert answer.check_stop("Reading a page…") == StopSignal(StopReason.STOPPED, ASKER)
    assert answer.check_stop("Again") == StopSignal(StopReason.STOPPED, ASKER)
    time.sleep(0.2)  # (four writer intervals)
    assert slack.calls[calls:] == [], "neither check_stop nor the ended writer wrote anything"
    report = answer.finish()
    assert report.stop == StopSignal(StopReason.STOPPED, ASKER) and report.landed
    assert answer.message()["text"] == "_⏹ Stopped by <@U1>._"


def test_a_marker_ends_the_final_text_and_the_status_is_recorded(answer):
    answer.reply.append("```python\nprint(1)")
    report = answer.finish("_⚠️ The model stopped answering._", AnswerStatus.ERROR)
    assert report.landed
    message = answer.message()
    assert message["text"] == "```python\nprint(1)\n```\n\n_⚠️ The model stopped answering._"
    assert message["metadata"] == reply_metadata(ReplyTag(ASKER, answer.question), "error")


def test_a_code_block_left_open_is_closed(answer):
    answer.reply.append("```\nx = 1\n")
    answer.finish()
    assert answer.message()["text"] == "```\nx = 1\n```"


def test_an_empty_answer_says_so(answer):
    answer.reply.append("  \n")
    answer.finish()
    assert answer.message()["text"] == "_(The model returned an empty answer.)_"


def test_the_stream_closer_may_change_and_may_fail(slack, gateway, channel):
    def broken():
        raise RuntimeError("the stream is already closed")

    closed = []
    answer = Answer(slack, gateway, channel, on_stop=broken)
    answer.reply.set_on_stop(lambda: closed.append(True))
    answer.reply.append("a")
    assert eventually(lambda: answer.shows("a"), 2)
    answer.stop_click()
    answer.reply.append("b")
    assert eventually(lambda: closed, 2) == [True]

    failing = Answer(slack, gateway, channel, on_stop=broken)
    failing.reply.append("c")
    assert eventually(lambda: failing.shows("c"), 2)
    failing.stop_click()
    failing.reply.append("d")
    assert eventually(lambda: failing.reply.stop, 2)
    time.sleep(0.2)
    assert failing.finish().landed  # the closer's error did not take the answer down
    assert failing.message()["text"] == "cd\n\n_⏹ Stopped by <@U1>._"
