"""The thread dispatcher lets a burst of acknowledgements through before it posts placeholders.

On a clock the test moves (``dispatch.time`` replaced): an opener's ``sleep`` returns only when the
test has moved the clock to its end, and the test moves it only once every opener has shown what it
decided (asleep until a given moment, or opened). So the checks hold exactly, however busy the
machine; how long it takes on a real clock is ``bench/dispatch_bench.py``'s number.
"""
import threading

import pytest

from threadwise.handoff import threads as dispatch
from threadwise.slack.events import Ask


def ask(n):
    return Ask(event_id=f"Ev{n}", team_id="T1", channel="D1", channel_type="im", user="U1", text="q",
               ts=f"1.{n:06d}", thread_ts=f"1.{n:06d}")


class MovedClock:
    """``monotonic`` and ``sleep`` for dispatch.py; the time moves only in ``move_to``."""

    def __init__(self):
        self.now = 0.0
        self._cond = threading.Condition()
        self._sleepers: dict[int, float] = {}  # thread -> when its sleep ends
        self.opened: list[tuple[str, float]] = []  # (event id, when) of every placeholder posted

    def monotonic(self) -> float:
        with self._cond:
            return self.now

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        with self._cond:
            self._sleepers[me] = self.now + seconds
            self._cond.notify_all()
            self._cond.wait_for(lambda: me not in self._sleepers)

    def open_answer(self, ask_: Ask) -> None:
        with self._cond:
            self.opened.append((ask_.event_id, self.now))
            self._cond.notify_all()

    def move_to(self, moment: float) -> None:
        """The clock reads ``moment``; the sleeps that end by then end (all at once, atomically)."""
        with self._cond:
            self.now = moment
            for thread in [t for t, until in self._sleepers.items() if until <= moment]:
                del self._sleepers[thread]
            self._cond.notify_all()

    def settled(self, holding: int) -> list[float]:
        """Until at least ``holding`` questions are each in an opener's sleep or opened (an opener has shown
        its decision about each); when the sleeps end."""
        with self._cond:
            assert self._cond.wait_for(lambda: len(self._sleepers) + len(self.opened) >= holding, timeout=10), \
                (self._sleepers, self.opened)
            return sorted(self._sleepers.values())


@pytest.fixture
def clock(monkeypatch):
    moved = MovedClock()
    monkeypatch.setattr(dispatch, "time", moved)
    return moved


def test_placeholders_wait_for_a_burst_to_end_but_not_longer(clock):
    dispatcher = dispatch.ThreadDispatcher(2, clock.open_answer, lambda opened: None)
    burst = [0.0, 0.002, 0.004, 0.006, 0.008]  # five questions 2 ms apart, all within BURST_QUIET of the last
    for n, moment in enumerate(burst):
        clock.move_to(moment)
        dispatcher.submit(ask(n))
        clock.settled(n + 1)  # its opener is asleep: nothing was opened during the burst
        assert clock.opened == []
    while wakes := clock.settled(len(burst)):  # until no opener sleeps any more
        clock.move_to(wakes[0])
    last = burst[-1]
    assert [at for _, at in clock.opened] == [pytest.approx(last + dispatch.BURST_QUIET)] * len(burst)


def test_a_steady_stream_of_questions_waits_at_most_the_hold(clock, monkeypatch):
    monkeypatch.setattr(dispatch, "OPENER_THREADS", 1)  # one opener: the first question's hold alone
    dispatcher = dispatch.ThreadDispatcher(1, clock.open_answer, lambda opened: None)
    dispatcher.submit(ask(0))
    asked = 1
    while True:
        wakes = clock.settled(1)
        if clock.opened:
            break
        [wakes_at] = wakes
        clock.move_to(wakes_at - dispatch.BURST_QUIET / 5)  # another question just before it is quiet
        dispatcher.submit(ask(asked))
        asked += 1
        clock.move_to(wakes_at)
        assert asked < 1000, "the burst held the placeholder back for ever"
    assert clock.opened[0] == ("Ev0", pytest.approx(dispatch.BURST_HOLD))  # never quiet: opened at the hold
