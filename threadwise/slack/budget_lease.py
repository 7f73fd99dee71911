"""Leasing Slack's workspace-wide budget from the store, a few tokens at a time (``DISPATCH=pubsub``).

With Pub/Sub, the bot and every worker process write to Slack, and each has
its own ``WriteBudget``. Slack counts ``chat.update`` and its siblings per
workspace, so budgets that each believed they had all of it overran Slack
(429s with only two answers at a time). With a lender, those buckets do not
refill on their own: a bucket that lacks a token someone needs now leases a
few from the store's shared bucket (``store_budget.py``), which refills at
Slack's rate for all instances together.

* A batch (``BATCH``) per lease, so that an answer streaming does not cost a
  store round trip per update; never more than the bucket's capacity held.
* One lease in flight per bucket; the budget's lock is released during the
  round trip, so callers of other methods (and of this one that need no new
  token) are not held up by the store.
* A lease granting less than needed (the shared bucket is empty) or failing
  (the store is down: logged once) is not repeated before a short wait.
* A person's Stop or Delete still spends at once, into debt: the next lease
  repays it.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable

from threadwise import logs

log = logs.get(__name__)

# (method, want, per_second, capacity) -> tokens granted: the store's lease_tokens.
Lender = Callable[[str, int, float, float], int]

# Limited per workspace by Slack: what every instance spends together. (chat.postMessage is per channel,
# setStatus and appendStream are only ever tried: a 429 there costs no answer anything.)
SHARED_METHODS = frozenset({"chat.update", "chat.delete", "conversations.replies", "conversations.info",
                            "chat.startStream", "chat.stopStream"})
BATCH = 3  # tokens leased at once when fewer are needed: about 4 s of one answer's updates
RETRY = 0.25  # seconds before leasing again when the shared bucket had too few
FAILED_RETRY = 1.0  # ... and when the store failed


@dataclass
class LeaseState:
    method: str
    in_flight: bool = False
    retry_at: float = 0.0  # on the budget's clock
    failing: bool = False


class Leasing:
    def __init__(self, lender: Lender, cond: threading.Condition, clock: Callable[[], float]):
        self._lend = lender
        self._cond = cond
        self._clock = clock
        self.leases = 0  # store round trips (for benchmarks)
        self.leased = 0  # tokens granted

    def lends(self, method: str, per_channel: bool) -> bool:
        return not per_channel and method in SHARED_METHODS

    def stock(self, bucket, need: float, wait: bool) -> None:
        """Lease what ``bucket`` lacks of ``need`` tokens (and up to a batch). Called holding the budget's
        lock once (not nested: the lock is released during the store's round trip). ``wait``: when another
        lease of this bucket is in flight, wait for what it brings instead of returning at once."""
        lease: LeaseState = bucket.lease
        while lease.in_flight:
            if not wait:
                return
            self._cond.wait(RETRY)
        now = self._clock()
        short = math.ceil(need - bucket.tokens)
        if short <= 0 or now < lease.retry_at or now < bucket.paused_until:
            return
        want = max(short, min(BATCH, math.floor(bucket.capacity - bucket.tokens)))
        lease.in_flight = True
        failure = None
        self._cond.release()
        try:
            granted = self._lend(lease.method, want, bucket.rate, bucket.capacity)
        except Exception as error:  # the store is down: spend nothing, try again later
            granted, failure = 0, error
        finally:
            self._cond.acquire()
            lease.in_flight = False
            self._cond.notify_all()
        self.leases += 1
        self.leased += granted
        bucket.tokens += granted
        if failure is not None and not lease.failing:
            log.warning("budget lease failed", method=lease.method, error=type(failure).__name__)
        lease.failing = failure is not None
        if granted < short:
            lease.retry_at = self._clock() + (FAILED_RETRY if failure is not None else RETRY)
