"""The thread dispatcher lets a burst of acknowledgements through before it posts placeholders."""
import threading
import time

import dispatch
from events import Ask


def ask(n):
    return Ask(event_id=f"Ev{n}", team_id="T1", channel="D1", channel_type="im", user="U1", text="q",
               ts=f"1.{n:06d}", thread_ts=f"1.{n:06d}")


def test_placeholders_wait_for_a_burst_to_end_but_not_longer_than_the_hold():
    opened = []
    done = threading.Event()

    def open_answer(a):
        opened.append((a.event_id, time.monotonic()))
        if len(opened) == 6:
            done.set()
        return None

    dispatcher = dispatch.ThreadDispatcher(2, open_answer, lambda opened: None)
    for n in range(6):  # six questions 4 ms apart: a burst
        dispatcher.submit(ask(n))
        last_submit = time.monotonic()
        time.sleep(0.004)
    assert done.wait(2)
    first_open = min(at for _, at in opened)
    assert first_open >= last_submit + dispatch.BURST_QUIET * 0.9  # none during the burst
    assert first_open - last_submit < dispatch.BURST_HOLD  # and soon after it


def test_a_steady_stream_of_questions_waits_at_most_the_hold():
    opened = threading.Event()
    dispatcher = dispatch.ThreadDispatcher(1, lambda a: opened.set(), lambda o: None)
    started = time.monotonic()
    dispatcher.submit(ask(0))
    while not opened.is_set() and time.monotonic() - started < 1:
        dispatcher.submit(ask(1))  # never quiet
        time.sleep(0.002)
    assert opened.is_set()
    assert time.monotonic() - started < dispatch.BURST_HOLD + 0.1
