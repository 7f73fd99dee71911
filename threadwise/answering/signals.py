"""Stop, Delete and the asker's newer question reach a running answer at once, not at its next Slack write.

Every answer is registered here, keyed by its question (channel + question ts,
which the reply's metadata names), from the moment its placeholder or status
is shown until its final text is written. Whoever handles a Stop signals it:

* in the same process (thread dispatch, Socket Mode, the playground) the
  signal is a method call: the answer closes its model stream before the
  handler returns, with no Slack round trip;
* across processes (Pub/Sub workers, several instances) the handler writes a
  *stop record* to the store; each process runs one watcher that reads the
  records of the answers it runs, a few times a second, in one batched read,
  and acknowledges the ones it acted on, so the handler can tell the person
  the truth.

The reply's metadata (``aborted``) stays the Slack-side record: the answer
writes it with its final text, the stop marker.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from threadwise import logs
# The stop's typed value and the store's half (stop records: ids and reasons, never text) live in
# the state room, below us: the store reads and writes them.
from threadwise.state.stop_records import StopRecords, StopSignal

log = logs.get(__name__)

# How often a process looks for stop records of the answers it runs (seconds), and how long a
# handler waits for the process running an answer elsewhere to acknowledge a stop.
WATCH_INTERVAL = 0.2
ACKNOWLEDGE_WAIT = 1.5
STOP_RECORD_TTL = 3600.0  # a record outlives any answer it could stop


def answer_key(channel: str, question_ts: str) -> str:
    """One answer per question: the key Stop, Delete and a newer question find it by."""
    return f"{channel}:{question_ts}"


class RunningAnswer:
    """One answer's line: the first signal wins, and everyone listening hears it once."""

    def __init__(self, channel: str, question_ts: str, thread_ts: str | None = None, asker: str | None = None):
        self.key = answer_key(channel, question_ts)
        self.channel, self.question_ts, self.thread_ts = channel, question_ts, thread_ts or question_ts
        self.asker = asker  # only the asker's own newer question supersedes it; others wait for it
        self.ended = threading.Event()  # set once its final text is written: a question waiting for it goes on
        self._stop: StopSignal | None = None
        self._listeners: list[Callable[[StopSignal], None]] = []
        self._lock = threading.Lock()

    @property
    def stop(self) -> StopSignal | None:
        return self._stop

    def signal(self, stop: StopSignal) -> bool:
        """True when this signal is the one that stops the answer."""
        with self._lock:
            if self._stop is not None:
                return False
            self._stop = stop
            listeners = list(self._listeners)
        for listener in listeners:
            _call_quietly(listener, stop)
        return True

    def listen(self, listener: Callable[[StopSignal], None]) -> None:
        """``listener`` hears the stop; at once when it has already come."""
        with self._lock:
            self._listeners.append(listener)
            stop = self._stop
        if stop is not None:
            _call_quietly(listener, stop)


def _call_quietly(listener, stop: StopSignal) -> None:
    try:
        listener(stop)
    except Exception:  # closing an already broken model stream, for example
        log.warning("stop listener failed", exc_info=True)


class StopBoard:
    """The answers this process runs, and the watcher for stops requested from other processes."""

    def __init__(self, records: Callable[[], StopRecords | None] = lambda: None,
                 watch_interval: float = WATCH_INTERVAL):
        self._records = records  # built lazily: the acknowledgement path must not open the store
        self._interval = watch_interval
        self._running: dict[str, RunningAnswer] = {}
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._wake = threading.Event()

    # --- the answer's side ----------------------------------------------------
    def start(self, channel: str, question_ts: str, thread_ts: str | None = None,
              asker: str | None = None) -> RunningAnswer:
        key = answer_key(channel, question_ts)
        with self._lock:
            answer = self._running.get(key)
            if answer is None or answer.stop is not None:
                answer = self._running[key] = RunningAnswer(channel, question_ts, thread_ts, asker)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="stop-watcher", daemon=True)
                self._watcher.start()
        self._wake.set()
        return answer

    def end(self, answer: RunningAnswer) -> None:
        with self._lock:
            if self._running.get(answer.key) is answer:
                del self._running[answer.key]
        answer.ended.set()

    # --- the handler's side ---------------------------------------------------
    def runs_here(self, channel: str, question_ts: str) -> bool:
        with self._lock:
            return answer_key(channel, question_ts) in self._running

    def signal_here(self, channel: str, question_ts: str, stop: StopSignal) -> bool:
        """Stop the answer if this process runs it; True when it did."""
        with self._lock:
            answer = self._running.get(answer_key(channel, question_ts))
        return answer is not None and answer.signal(stop)

    def supersede_here(self, channel: str, thread_ts: str, before_ts: str, stop: StopSignal, asker: str) -> int:
        """Stop this process's answers to ``asker``'s earlier questions in the thread, also those with no
        reply shown yet (their own newer question makes them moot). Returns how many it stopped."""
        earlier = [a for a in self.earlier_here(channel, thread_ts, before_ts) if a.asker == asker]
        return sum(1 for answer in earlier if answer.signal(stop))

    def earlier_here(self, channel: str, thread_ts: str, before_ts: str) -> list[RunningAnswer]:
        """This process's answers to questions asked in the thread before ``before_ts`` (never later
        ones: a question waits only for earlier answers, so no two wait for each other)."""
        with self._lock:
            return [a for a in self._running.values() if a.channel == channel and a.thread_ts == thread_ts
                    and float(a.question_ts) < float(before_ts)]

    def reach(self, channel: str, question_ts: str, stop: StopSignal, wait: float = ACKNOWLEDGE_WAIT) -> bool:
        """Stop the answer wherever it runs: here at once, elsewhere through a stop record. True when
        the process running it has it (here, or it acknowledged within ``wait`` seconds)."""
        return self.signal_here(channel, question_ts, stop) or self.request_elsewhere(channel, question_ts, stop, wait)

    def request_elsewhere(self, channel: str, question_ts: str, stop: StopSignal, wait: float) -> bool:
        """Write a stop record for the process that runs the answer; True when it acknowledged
        within ``wait`` seconds (an answer that starts later reads the record too)."""
        records = self._records()
        if records is None:
            return False
        key = answer_key(channel, question_ts)
        records.request_stop(key, stop.reason, stop.stopped_by or "", STOP_RECORD_TTL)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            if records.stop_acknowledged(key):
                return True
        return False

    # --- the watcher ------------------------------------------------------------
    def _watch(self) -> None:
        while True:
            with self._lock:
                keys = list(self._running)
            if not keys:
                self._wake.wait(5.0)
                self._wake.clear()
                continue
            try:
                self._check(keys)
            except Exception:  # a store hiccup: the next round tries again
                log.warning("stop records not readable", exc_info=True)
            time.sleep(self._interval)

    def _check(self, keys: list[str]) -> None:
        records = self._records()
        if records is None:
            return
        for key, stop in records.requested_stops(keys).items():
            with self._lock:
                answer = self._running.get(key)
            if answer is not None and answer.signal(stop):
                log.info("stop record received", key=key, reason=stop.reason)
            if answer is not None:
                records.acknowledge_stop(key)
