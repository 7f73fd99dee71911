"""Stop, Delete and a newer question as a signal to a streaming answer, in-process (StreamingReply with
a RunningAnswer, the real SlackGateway, FakeSlack): the model stream closes before the signal returns,
also when it opens only later, the writer ends without another Slack call, and the final text carries
the stop marker. (A stop written into the reply by a process that could not signal is in
tests/unit/answering/test_streaming_reply.py: the writer reads it back.)"""
from __future__ import annotations

import time

import pytest

from threadwise.answering.signals import RunningAnswer
from threadwise.state.stop_records import StopReason, StopSignal
from inprocess import eventually, gateway  # noqa: F401  (gateway: a fixture)
from threadwise.slack.reply_format import ReplyTag, aborted_metadata, reply_metadata
from threadwise.answering.replies.streaming import FinalReport
from test_streaming_reply import ASKER, Answer

pytestmark = pytest.mark.in_process


@pytest.fixture
def running(channel) -> RunningAnswer:
    return RunningAnswer(channel, "1.000001")


def test_a_signal_closes_the_model_stream_at_once_and_ends_the_writer(slack, gateway, channel, running):
    answer = Answer(slack, gateway, channel, running=running)
    answer.reply.append("Some")
    assert eventually(lambda: answer.shows("Some"), 2)
    calls = len(slack.calls)
    assert running.signal(StopSignal(StopReason.STOPPED, "U2"))
    assert answer.stops == ["closed"], "closed before signal() returned"
    assert answer.reply.stop == StopSignal(StopReason.STOPPED, "U2")
    answer.reply.append(" more")  # (what the model had sent before its stream closed)
    time.sleep(0.3)  # six writer intervals
    assert slack.calls[calls:] == [], "no Slack round trip: the writer has ended"
    report = answer.finish()
    assert report == FinalReport([answer.ts], StopSignal(StopReason.STOPPED, "U2"), landed=True)
    message = answer.message()
    assert message["text"] == "Some more\n\n_⏹ Stopped by <@U2>._"
    base = reply_metadata(ReplyTag(ASKER, answer.question), "stopped")["event_payload"]
    assert message["metadata"] == aborted_metadata(base, "U2", "stopped", "stopped")
    assert answer.stops == ["closed"], "closed once"


def test_a_signal_before_the_model_stream_opens_closes_it_as_soon_as_it_is_set(slack, gateway, channel, running):
    answer = Answer(slack, gateway, channel, running=running, on_stop=None)
    answer.reply.set_on_stop(None)  # (a stream that failed to open)
    assert running.signal(StopSignal(StopReason.SUPERSEDED, "U3"))  # while the answer's input is being built
    closed: list[str] = []
    answer.reply.set_on_stop(lambda: closed.append("closed"))
    assert closed == ["closed"], "closed by set_on_stop itself"
    answer.finish()
    assert answer.message()["text"] == "_⏹ Stopped: a newer question in this thread is being answered._"


def test_an_answer_signalled_before_its_reply_was_built_starts_stopped(slack, gateway, channel, running):
    running.signal(StopSignal(StopReason.STOPPED, ASKER))  # while it waited for a model slot
    answer = Answer(slack, gateway, channel, running=running)
    assert answer.reply.stop == StopSignal(StopReason.STOPPED, ASKER)
    assert answer.stops == ["closed"]
    assert answer.finish().landed
    assert answer.message()["text"] == f"_⏹ Stopped by <@{ASKER}>._"


def test_a_deleted_answer_is_not_written_again(slack, gateway, channel, running):
    answer = Answer(slack, gateway, channel, running=running)
    answer.reply.append("Words")
    assert eventually(lambda: answer.shows("Words"), 2)
    running.signal(StopSignal(StopReason.DELETED, ASKER))  # Delete signals first, then deletes the messages
    written = len(answer.updates())
    report = answer.finish()
    assert report == FinalReport([answer.ts], StopSignal(StopReason.DELETED, ASKER), landed=False)
    assert len(answer.updates()) == written


def test_a_signal_after_the_writer_found_a_stop_changes_nothing(slack, gateway, channel, running):
    answer = Answer(slack, gateway, channel, running=running)
    answer.reply.append("Words")
    assert eventually(lambda: answer.shows("Words"), 2)
    answer.stop_click(by="U2")  # written by a process that could not signal this one
    answer.reply.append(" more")
    assert eventually(lambda: answer.reply.stop, 2) == StopSignal(StopReason.STOPPED, "U2")
    assert eventually(lambda: answer.stops, 1) == ["closed"]
    running.signal(StopSignal(StopReason.SUPERSEDED, "U3"))
    assert answer.reply.stop == StopSignal(StopReason.STOPPED, "U2") and answer.stops == ["closed"]
    assert answer.finish().landed
    assert answer.message()["text"] == "Words more\n\n_⏹ Stopped by <@U2>._"
