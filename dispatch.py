"""Handing an ``Ask`` to whoever answers it, so the HTTP handler never waits for the model.

``DISPATCH=thread``: a bounded thread pool in this process. Right for local
runs, a long-running server, or Cloud Run with instance-based billing; on
Cloud Functions the CPU is throttled once the response is sent, which is what
the Pub/Sub hand-off (issue 3) is for.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import logs
from events import Ask

log = logs.get(__name__)


class ThreadDispatcher:
    def __init__(self, workers: int, answer: Callable[[Ask], None]):
        self._workers = workers
        self._answer = answer
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, ask: Ask) -> None:
        # Created on first use, not at import: gunicorn imports the app in its
        # master process and forks, and threads do not survive a fork.
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="answer")
            self._pool.submit(self._run, ask)

    def _run(self, ask: Ask) -> None:
        try:
            self._answer(ask)
        except Exception:
            log.error("answer failed", event_id=ask.event_id, channel=ask.channel, exc_info=True)

    def drain(self, timeout: float | None = None) -> None:
        """Wait for the answers in flight (tests, benchmarks, shutdown)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
