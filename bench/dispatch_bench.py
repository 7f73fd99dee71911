"""How long the thread dispatcher holds placeholders back behind a burst of questions, on the real clock.

tests/unit/handoff/test_thread_dispatch.py checks the rule on a clock it moves (an opener waits until no question has
come for BURST_QUIET, at most BURST_HOLD); this prints what it costs on this machine, where the
scheduler adds its own delay. Usage: python bench/dispatch_bench.py [--rounds 50]
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from threadwise.handoff import threads as dispatch  # noqa: E402
from threadwise.slack.events import Ask  # noqa: E402
from measures import summary  # noqa: E402


def _ask(n: int) -> Ask:
    return Ask(event_id=f"Ev{n}", team_id="T1", channel="D1", channel_type="im", user="U1", text="q",
               ts=f"1.{n:06d}", thread_ts=f"1.{n:06d}")


def burst_round(size: int, gap: float) -> float:
    """Seconds from the burst's last question to the first placeholder opened."""
    opened = threading.Event()
    first: list[float] = []

    def open_answer(ask: Ask) -> None:
        if not first:
            first.append(time.monotonic())
            opened.set()

    dispatcher = dispatch.ThreadDispatcher(2, open_answer, lambda o: None)
    for n in range(size):
        last = time.monotonic()
        dispatcher.submit(_ask(n))
        time.sleep(gap)
    opened.wait(5)
    return first[0] - last


def steady_round(gap: float) -> float:
    """Seconds from the first question to its placeholder while questions never stop coming."""
    opened = threading.Event()
    dispatcher = dispatch.ThreadDispatcher(1, lambda a: opened.set(), lambda o: None)
    started = time.monotonic()
    dispatcher.submit(_ask(0))
    while not opened.is_set() and time.monotonic() - started < 5:
        dispatcher.submit(_ask(1))
        time.sleep(gap)
    return time.monotonic() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args(argv)
    bursts = [burst_round(6, 0.004) for _ in range(args.rounds)]
    steady = [steady_round(0.002) for _ in range(args.rounds)]
    print(f"BURST_QUIET {dispatch.BURST_QUIET * 1000:.0f} ms, BURST_HOLD {dispatch.BURST_HOLD * 1000:.0f} ms, "
          f"{args.rounds} rounds each")
    for name, values in (("burst of 6 (4 ms apart): last question -> first placeholder", bursts),
                         ("steady stream (2 ms apart): first question -> its placeholder", steady)):
        s = summary(values)
        print(f"  {name}: p50 {s['p50']} ms, p99 {s['p99']} ms, max {s['max']} ms")


if __name__ == "__main__":
    main()
