"""The asker's newer question in a thread stops their answers still being written there
(answering/supersede.py), in-process with the real SlackGateway against FakeSlack: answers running here
are signalled, those running elsewhere get a stop record; nothing is written to Slack (each answer
writes its own marker). Another person's answers are never stopped (they are waited for: turns.py)."""
from __future__ import annotations

import pytest

from threadwise.answering.signals import StopBoard, answer_key
from threadwise.state.stop_records import StopReason, StopSignal
from threadwise.answering.supersede import supersede
from threadwise.slack.events import Ask
from threadwise.slack.reply_format import ReplyTag, reply_metadata, streaming_blocks
from inprocess import gateway  # noqa: F401  (a fixture)
from signal_boards import here, started, stores  # noqa: F401  (fixtures)
from posted_answers import ASKER, Answer, writes
from posted_answers import channel  # noqa: F401  (a fixture)

pytestmark = pytest.mark.in_process


def _newer(slack, channel: str, thread: str, user: str = ASKER) -> Ask:
    ts = slack.add_message(channel, user, "a newer question", thread_ts=thread)
    return Ask("Ev-newer", "T1", channel, "channel", user, "a newer question", ts, thread)


def test_a_newer_question_signals_the_askers_earlier_answers_here_and_writes_nothing(slack, gateway, channel,
                                                                                    started):
    board = StopBoard()
    first = Answer(slack, gateway, channel, stops=board)
    shown = first.post("still writing")
    running = started(board, channel, first.question, first.question, ASKER)
    waiting = started(board, channel, slack.add_message(channel, ASKER, "q", thread_ts=first.question),
                      first.question, ASKER)  # no reply shown yet
    someone_elses = started(board, channel, slack.add_message(channel, "U2", "q", thread_ts=first.question),
                            first.question, "U2")
    other_thread = started(board, channel, slack.add_message(channel, ASKER, "elsewhere"), None, ASKER)
    ask = _newer(slack, channel, first.question)
    calls = len(slack.calls)
    assert supersede(ask, gateway.thread(channel, first.question), gateway, board) == 2
    superseded = StopSignal(StopReason.SUPERSEDED, ASKER)
    assert (running.stop, waiting.stop, someone_elses.stop, other_thread.stop) == (superseded, superseded, None, None)
    assert writes(slack, calls) == [], "each answer writes its own marker"
    assert first.metadata(shown)["event_type"] == "assistant_reply"


def test_another_persons_question_stops_nothing(slack, gateway, channel, stores, here, started):
    first = Answer(slack, gateway, channel, stops=here)
    first.post("still writing")
    running = started(here, channel, first.question, first.question, ASKER)
    elsewhere = Answer(slack, gateway, channel, asker="U2")
    elsewhere.question = first.question
    elsewhere.tag = ReplyTag("U2", slack.add_message(channel, "U2", "q", thread_ts=first.question))
    elsewhere.post("written by another process")
    ask = _newer(slack, channel, first.question, user="U3")
    assert supersede(ask, gateway.thread(channel, first.question), gateway, here) == 0
    assert running.stop is None
    keys = [answer_key(channel, q) for q in (first.question, elsewhere.tag.question_ts)]
    assert stores[1].requested_stops(keys) == {}


def test_a_newer_question_leaves_stop_records_for_answers_running_elsewhere(slack, gateway, channel, stores, here):
    first = Answer(slack, gateway, channel)
    streaming = first.post("still writing", blocks=streaming_blocks("", "Searching the web…"))
    done = Answer(slack, gateway, channel)
    done.question = first.question
    done.post("finished", status="done")
    other_app = slack.add_message(channel, "UOTHER", "another app", thread_ts=first.question, bot_id="BOTHER",
                                  metadata=reply_metadata(ReplyTag(ASKER, "1.5"), "streaming"))
    ask = _newer(slack, channel, first.question)
    later = Answer(slack, gateway, channel)
    later.question = first.question
    later.tag = ReplyTag(ASKER, "9999999999.000001")
    later.post("posted after the newer question")
    thread = gateway.thread(channel, first.question)
    assert supersede(ask, thread, gateway, here) == 1
    keys = [answer_key(channel, q) for q in (first.question, done.tag.question_ts, "1.5", later.tag.question_ts)]
    assert stores[1].requested_stops(keys) == {keys[0]: StopSignal(StopReason.SUPERSEDED, ASKER)}
    assert slack.get(channel, streaming)["metadata"]["event_type"] == "assistant_reply"
    assert slack.get(channel, other_app)["metadata"]["event_type"] == "assistant_reply"
