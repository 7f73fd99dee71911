"""Another person's question waits for the answers still being written in its thread
(answering/turns.py), in-process with the real SlackGateway against FakeSlack: answers running in this
process are known by the stop board, those another process writes by their replies' metadata."""
from __future__ import annotations

import threading
import time

import pytest

from threadwise.answering import turns
from threadwise.answering.signals import StopBoard
from threadwise.answering.turns import RESUMED_STATUS, WAITING_STATUS, wait_for_earlier_answers
from threadwise.slack.events import Ask
from threadwise.slack.reply_format import ReplyTag, final_blocks, reply_metadata
from threadwise.state.stop_records import StopReason, StopSignal
from inprocess import gateway  # noqa: F401  (a fixture)
from signal_boards import started  # noqa: F401  (a fixture)
from posted_answers import ASKER, Answer
from posted_answers import channel  # noqa: F401  (a fixture)

pytestmark = pytest.mark.in_process


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch):
    monkeypatch.setattr(turns, "POLL_INTERVAL", 0.05)  # the thread is read again this often (2 s in use)


def _question(slack, channel: str, thread: str, user: str = "U2") -> Ask:
    ts = slack.add_message(channel, user, "my question", thread_ts=thread)
    return Ask("Ev-turn", "T1", channel, "channel", user, "my question", ts, thread)


def _later(seconds: float, action) -> threading.Thread:
    def run():
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_nothing_running_means_no_wait_and_nothing_shown(slack, gateway, channel, started):
    board = StopBoard()
    first = Answer(slack, gateway, channel, stops=board)
    first.post("finished", status="done")
    mine = started(board, channel, first.question, first.question, "U2")  # (the asker's own: superseded)
    ask = _question(slack, channel, first.question)
    running = started(board, channel, ask.ts, first.question, "U2")
    shown: list[str] = []
    thread = gateway.thread(channel, first.question)
    calls = len(slack.calls)
    assert wait_for_earlier_answers(ask, thread, gateway, board, running, shown.append) is thread
    assert shown == [] and mine.stop is None
    assert [c.method for c in slack.calls[calls:] if c.method != "auth.test"] == [], "no read, no write"


def test_waits_for_another_persons_answer_here_then_reads_the_thread_again(slack, gateway, channel, started):
    board = StopBoard()
    first = Answer(slack, gateway, channel, stops=board)
    reply = first.post("still writing")
    earlier = started(board, channel, first.question, first.question, ASKER)
    ask = _question(slack, channel, first.question)
    later = started(board, channel, "9999999999.000001", first.question, "U3")  # asked after: not waited for
    running = started(board, channel, ask.ts, first.question, "U2")
    shown: list[str] = []

    def finish():
        gateway.update_until_landed(channel, reply, "the whole answer", final_blocks("the whole answer"),
                                    reply_metadata(first.tag, "done"))
        board.end(earlier)

    _later(0.3, finish)
    began = time.monotonic()
    thread = wait_for_earlier_answers(ask, gateway.thread(channel, first.question), gateway, board, running,
                                      shown.append)
    assert time.monotonic() - began >= 0.3
    assert shown == [WAITING_STATUS, RESUMED_STATUS]
    assert [m.text for m in thread if m.ts == reply] == ["the whole answer"]
    assert (running.stop, later.stop) == (None, None)


def test_waits_for_an_answer_another_process_writes_reading_its_reply(slack, gateway, channel, started):
    board = StopBoard()  # (it runs nothing of that thread but the waiting answer)
    first = Answer(slack, gateway, channel, stops=board)
    reply = first.post("written elsewhere")
    own_earlier = Answer(slack, gateway, channel, asker="U2")  # the asker's own: superseded, not waited for
    own_earlier.question, own_earlier.tag = first.question, ReplyTag("U2", first.question + "1")
    own_earlier.post("being superseded")
    ask = _question(slack, channel, first.question)
    running = started(board, channel, ask.ts, first.question, "U2")
    shown: list[str] = []
    _later(0.3, lambda: gateway.update_until_landed(channel, reply, "done there", final_blocks("done there"),
                                                    reply_metadata(first.tag, "done")))
    thread = wait_for_earlier_answers(ask, gateway.thread(channel, first.question), gateway, board, running,
                                      shown.append)
    assert shown == [WAITING_STATUS, RESUMED_STATUS]
    assert [m.text for m in thread if m.ts == reply] == ["done there"]


def test_a_stop_ends_the_wait_at_once(slack, gateway, channel, started):
    board = StopBoard()
    first = Answer(slack, gateway, channel, stops=board)
    first.post("still writing")
    earlier = started(board, channel, first.question, first.question, ASKER)
    ask = _question(slack, channel, first.question)
    running = started(board, channel, ask.ts, first.question, "U2")
    stop = StopSignal(StopReason.STOPPED, "U2")
    _later(0.2, lambda: board.signal_here(channel, ask.ts, stop))
    shown: list[str] = []
    wait_for_earlier_answers(ask, gateway.thread(channel, first.question), gateway, board, running, shown.append)
    assert running.stop == stop and earlier.stop is None
    assert shown == [WAITING_STATUS]


def test_the_wait_is_bounded(slack, gateway, channel, started):
    board = StopBoard()
    first = Answer(slack, gateway, channel, stops=board)
    first.post("left streaming by a worker that died")
    ask = _question(slack, channel, first.question)
    running = started(board, channel, ask.ts, first.question, "U2")
    began = time.monotonic()
    thread = wait_for_earlier_answers(ask, gateway.thread(channel, first.question), gateway, board, running,
                                      lambda status: None, limit=0.3)
    assert 0.3 <= time.monotonic() - began < 2.0
    assert running.stop is None and thread
