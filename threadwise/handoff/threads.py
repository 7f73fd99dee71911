"""Handing an ``Ask`` to whoever answers it, so the HTTP handler never waits for the model.

``DISPATCH=thread``: threads of this process. Right for local runs, a
long-running server, or Cloud Run with CPU always allocated; on Cloud
Functions with request-based billing the CPU is throttled once the response
is sent, which is what the Pub/Sub hand-off is for.

Two stages, because people should see the bot react at once even when many
ask together: a few *opener* threads post each question's placeholder right
away, and at most ``DISPATCH_WORKERS`` answers stream from the model at a
time (each stream costs CPU for every delta; past a few dozen per process they
starve the acknowledgements, which share the interpreter). The acknowledgement
itself only puts the question in a queue: no thread is started on its path.
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Generic, TypeVar

from threadwise import logs
from threadwise.slack.events import Ask

log = logs.get(__name__)

Opened = TypeVar("Opened")
OPENER_THREADS = 8
# A burst of questions arrives together (many people, or Slack's retries). Their
# acknowledgements come first: an opener waits until no question has arrived for
# BURST_QUIET seconds (at most BURST_HOLD) before it posts a placeholder, so the
# acknowledgements do not share the interpreter with Slack calls.
BURST_QUIET = 0.01
BURST_HOLD = 0.1


class ThreadDispatcher(Generic[Opened]):
    def __init__(self, workers: int, open_answer: Callable[[Ask], Opened | None],
                 complete_answer: Callable[[Opened], None]):
        self._workers = workers
        self._open = open_answer
        self._complete = complete_answer
        self._inbox: queue.SimpleQueue[Ask] = queue.SimpleQueue()
        self._answers: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._last_submit = 0.0

    def submit(self, ask: Ask) -> None:
        if self._answers is None:
            self._start()
        self._last_submit = time.monotonic()
        self._inbox.put(ask)

    def _start(self) -> None:
        # Started on first use, not at import: gunicorn imports the app in its
        # master process and forks, and threads do not survive a fork.
        with self._lock:
            if self._answers is not None:
                return
            self._answers = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="answer")
            for number in range(OPENER_THREADS):
                threading.Thread(target=self._open_loop, name=f"opener-{number}", daemon=True).start()

    def _open_loop(self) -> None:
        while True:
            ask = self._inbox.get()
            self._let_the_burst_through()
            try:
                opened = self._open(ask)
            except Exception:
                log.error("could not start an answer", event_id=ask.event_id, channel=ask.channel, exc_info=True)
                opened = None
            if opened is None:
                _ended(ask)
            else:
                self._answers.submit(self._complete_safely, ask, opened)

    def _let_the_burst_through(self) -> None:
        held_until = time.monotonic() + BURST_HOLD
        while True:
            now = time.monotonic()
            quiet_at = self._last_submit + BURST_QUIET
            if now >= quiet_at or now >= held_until:
                return
            time.sleep(min(quiet_at, held_until) - now)

    def _complete_safely(self, ask: Ask, opened: Opened) -> None:
        try:
            self._complete(opened)
        except Exception:
            log.error("answer failed", event_id=ask.event_id, channel=ask.channel, exc_info=True)
        finally:
            _ended(ask)


def _ended(ask: Ask) -> None:
    # Whatever the job decided or wrote, it is over: after this line it writes nothing more.
    log.debug("job ended", event_id=ask.event_id)
