"""How long an answer's must-land writes may keep trying, and which of them Slack has not taken.

A Pub/Sub worker runs inside a push request that Pub/Sub gives up on after its
ack deadline, so the final text cannot be retried for as long as Slack refuses
it. ``jobs`` opens a *landing window* around one answer: until ``give_up_at``
(and while the worker still owns the answer) ``SlackGateway`` retries a write
that must land; past it, it stops, and the window keeps the write it could not
land. The worker then hands those writes on (``final_jobs``) instead of paying
the model for the same answer again.

The window travels in a ``ContextVar``: the answer loop, the Slack gateway and
the threads between them need no extra parameter, and two answers running in
two threads of one process each see their own window. (A thread started for an
answer sees it only when started in a copy of the context.)
"""
from __future__ import annotations

import contextvars
import math
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator


@dataclass(frozen=True)
class PendingWrite:
    """A ``chat.update`` that must land, as Slack's arguments: enough to make it again elsewhere."""

    channel: str
    ts: str
    text: str
    blocks: list[dict]
    metadata: dict | None  # None: keep the metadata the message has


class LandingWindow:
    def __init__(self, give_up_at: float = math.inf, still_owner: Callable[[], bool] = lambda: True):
        self.give_up_at = give_up_at  # time.monotonic() seconds
        self.still_owner = still_owner
        self._pending: OrderedDict[str, PendingWrite] = OrderedDict()
        self._lock = threading.Lock()  # the answer's writer thread notes its writes too

    def keep_trying(self) -> bool:
        """False once the time is up or another worker owns the answer: a retry would be wrong then."""
        return time.monotonic() < self.give_up_at and self.still_owner()

    def note(self, write: PendingWrite, refused: bool) -> None:
        """The outcome of a must-land write. Only the newest write to a message matters: a later
        one that landed (or found the message gone) settles an earlier one that did not."""
        with self._lock:
            self._pending.pop(write.ts, None)
            if refused:
                self._pending[write.ts] = write

    @property
    def pending(self) -> list[PendingWrite]:
        """The writes Slack has not taken, oldest first, one per message."""
        with self._lock:
            return list(self._pending.values())


_current: contextvars.ContextVar[LandingWindow | None] = contextvars.ContextVar("landing_window", default=None)


@contextmanager
def window(give_up_at: float | None = None, still_owner: Callable[[], bool] = lambda: True) -> Iterator[LandingWindow]:
    """A landing window for what runs inside; ``give_up_at`` None: no deadline of its own."""
    opened = LandingWindow(math.inf if give_up_at is None else give_up_at, still_owner)
    token = _current.set(opened)
    try:
        yield opened
    finally:
        _current.reset(token)


def keep_trying() -> bool:
    current = _current.get()
    return current is None or current.keep_trying()


def note(write: PendingWrite, refused: bool) -> None:
    current = _current.get()
    if current is not None:
        current.note(write, refused)
