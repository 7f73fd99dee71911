"""One budget for the Slack Web API calls of this process, shared by every answer in flight.

Slack limits calls per method, per workspace, per app (``chat.update`` is
Tier 3, about 50 a minute; ``chat.postMessage`` about one a second per
channel). Fifty answers each updated every 0.8 s would ask for thousands of
updates a minute, so every call takes a token from its method's bucket first:

* ``acquire`` waits for a token, in priority order: a person's action (Stop,
  Delete) never waits at all; an answer's final text comes next; placeholders
  and continuation messages after it; a blocked caller is served before any
  interim update.
* ``try_interim`` is for the interim updates of a streaming answer: it never
  waits. It grants a token only when nobody more important is waiting, and
  only once per fair share of the rate (answers in flight ÷ rate), so under
  load each answer's update interval stretches instead of Slack answering 429.
* ``pause`` is for a 429 anyway (another instance spends the same workspace
  budget): the whole method waits ``Retry-After``, not only the one stream.

Token buckets are conservative (a small burst) so a fresh process never
exceeds Slack's own bucket; the limits are configurable (``SLACK_RATE_LIMITS``).
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass

# Priorities: lower is served first.
USER_ACTION = 0  # Stop / Delete from a person: spends at once, even into debt
FINAL = 1  # the write carrying an answer's final text
PLACEHOLDER = 2  # placeholders, continuation parts, reads an answer needs to start
INTERIM = 3  # only through try_interim


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: int
    per_channel: bool = False  # chat.postMessage: about one a second per channel


# From SLACK_FACTS.md: Tier 2 ≈ 20/min, Tier 3 ≈ 50/min, Tier 4 ≈ 100/min, short
# bursts allowed (their size is not documented, so ours stay small).
DEFAULT_LIMITS: dict[str, Limit] = {
    "chat.update": Limit(50, 3),
    "chat.delete": Limit(50, 3),
    "conversations.replies": Limit(50, 3),
    "conversations.info": Limit(50, 3),
    "chat.postMessage": Limit(60, 1, per_channel=True),
    "chat.startStream": Limit(20, 2),
    "chat.appendStream": Limit(100, 5),
    "chat.stopStream": Limit(20, 2),
}


# A method we do not budget still waits out Slack's Retry-After: after its first 429 it gets a
# bucket with this limit, which only the pause ever empties.
UNBUDGETED = Limit(6_000_000, 100_000)

# A deferred interim write asks again within this many seconds (so the fair choice sees it).
MAX_INTERIM_WAIT = 2.0


class LimitSyntaxError(ValueError):
    pass


def parse_limits(text: str | None) -> dict[str, Limit]:
    """``"chat.update=50/3, chat.postMessage=60/1"`` (per minute / burst) over the defaults."""
    limits = dict(DEFAULT_LIMITS)
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        method, _, value = item.partition("=")
        rate, _, burst = value.partition("/")
        try:
            per_minute, size = float(rate), int(burst or 1)
        except ValueError:
            raise LimitSyntaxError(f"{item!r} is not method=per_minute/burst") from None
        if not method.strip() or per_minute <= 0 or size < 1:
            raise LimitSyntaxError(f"{item!r} is not method=per_minute/burst with positive numbers")
        known = limits.get(method.strip())
        limits[method.strip()] = Limit(per_minute, size, known.per_channel if known else False)
    return limits


# We spend at most this share of Slack's rate, and one token less than its
# burst: a request reaches Slack some milliseconds after it left our bucket,
# not always after the same time, so Slack's bucket needs a little room of its
# own never to see two requests closer than it allows.
RATE_MARGIN = 0.9


class _Bucket:
    def __init__(self, limit: Limit, now: float):
        self.rate = limit.per_minute / 60.0 * RATE_MARGIN
        self.capacity = float(max(1, limit.burst - 1))
        self.tokens = self.capacity
        self.stamp = now
        self.paused_until = 0.0
        self.waiting: list[tuple[int, int]] = []  # (priority, arrival) of blocked callers
        # answers waiting for an interim slot -> (their last write, when they last asked)
        self.wanting: dict[int, tuple[float, float]] = {}

    def refill(self, now: float) -> None:
        if now > self.stamp:  # (after a pause the stamp lies in the future: nothing refills before it)
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for_token(self, now: float) -> float:
        """Seconds until a token may be taken (0 when one is there)."""
        if now < self.paused_until:
            return self.paused_until - now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class WriteBudget:
    def __init__(self, limits: dict[str, Limit] | None = None, clock=time.monotonic):
        self._limits = DEFAULT_LIMITS if limits is None else limits
        self._clock = clock
        self._cond = threading.Condition()
        self._buckets: dict[tuple[str, str | None], _Bucket] = {}
        self._arrivals = itertools.count()
        self._streams = 0
        self.waited_seconds = 0.0  # total time callers spent blocked (for benchmarks)
        self.deferred_interims = 0

    # --- answers in flight (the fair share) ---------------------------------
    def stream_started(self) -> int:
        """A streaming answer begins; the key names it in ``try_interim``."""
        with self._cond:
            self._streams += 1
            return next(self._arrivals)

    def stream_ended(self, key: int) -> None:
        with self._cond:
            self._streams = max(0, self._streams - 1)
            for bucket in self._buckets.values():
                bucket.wanting.pop(key, None)

    # --- spending -------------------------------------------------------------
    def acquire(self, method: str, priority: int, channel: str | None = None) -> None:
        bucket = self._bucket(method, channel)
        if bucket is None:
            return  # a method we do not budget
        with self._cond:
            now = self._clock()
            bucket.refill(now)
            if priority == USER_ACTION:
                bucket.tokens -= 1  # a person is waiting for this; the others absorb the debt
                return
            entry = (priority, next(self._arrivals))
            heapq.heappush(bucket.waiting, entry)
            started = now
            try:
                while True:
                    now = self._clock()
                    bucket.refill(now)
                    wait = bucket.wait_for_token(now)
                    if bucket.waiting[0] == entry and wait == 0:
                        bucket.tokens -= 1
                        return
                    self._cond.wait(min(max(wait, 0.005), 0.5) if bucket.waiting[0] == entry else 0.5)
            finally:
                bucket.waiting.remove(entry)
                heapq.heapify(bucket.waiting)
                self.waited_seconds += self._clock() - started
                self._cond.notify_all()

    def try_take(self, method: str, channel: str | None = None) -> bool:
        """A token now if one is free and nobody waits for it; never waits."""
        bucket = self._bucket(method, channel)
        if bucket is None:
            return True
        with self._cond:
            now = self._clock()
            bucket.refill(now)
            if bucket.waiting or now < bucket.paused_until or bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True

    def try_interim(self, method: str, key: int, last_write_at: float, channel: str | None = None) -> float:
        """0.0 and a token spent when this answer's interim write may go now; else the seconds to wait.

        Fair: of the answers that want an interim slot, the one whose text has
        waited longest gets the next token, and only when no final text or
        placeholder is waiting and one token stays in reserve for them.
        """
        bucket = self._bucket(method, channel)
        if bucket is None:
            return 0.0
        with self._cond:
            now = self._clock()  # (the writer keeps its own pace, STREAM_UPDATE_INTERVAL)
            bucket.refill(now)
            bucket.wanting[key] = (last_write_at, now)
            # An answer that stopped asking (no new text for a while) does not hold the others back.
            for other in [k for k, (_, asked) in bucket.wanting.items() if now - asked > MAX_INTERIM_WAIT + 0.5]:
                del bucket.wanting[other]
            # Keep a token for a final text when answers outnumber the burst (if the burst allows).
            reserve = 1.0 if self._streams > bucket.capacity and bucket.capacity >= 2 else 0.0
            stalest = min(bucket.wanting, key=lambda k: (bucket.wanting[k][0], k))
            if (stalest != key or bucket.waiting or now < bucket.paused_until
                    or bucket.tokens < 1 + reserve):
                self.deferred_interims += 1
                until_token = max(bucket.wait_for_token(now), (1 + reserve - bucket.tokens) / bucket.rate)
                return min(max(until_token, 0.05), MAX_INTERIM_WAIT)
            del bucket.wanting[key]
            bucket.tokens -= 1
            return 0.0

    def pause(self, method: str, seconds: float, channel: str | None = None) -> None:
        """Slack answered 429: nobody calls ``method`` (in ``channel``) for ``seconds``."""
        bucket = self._bucket(method, channel, paused=True)
        with self._cond:
            now = self._clock()
            bucket.paused_until = max(bucket.paused_until, now + seconds)
            bucket.tokens = min(bucket.tokens, 0.0)
            bucket.stamp = max(bucket.stamp, bucket.paused_until)  # refilling starts after the pause
            self._cond.notify_all()

    def _bucket(self, method: str, channel: str | None, paused: bool = False) -> _Bucket | None:
        """``method``'s bucket; None for a method we do not budget, until Slack pauses it."""
        limit = self._limits.get(method)
        if limit is None:
            if not paused and (method, None) not in self._buckets:
                return None
            limit = UNBUDGETED
        key = (method, channel if limit.per_channel else None)
        with self._cond:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(limit, self._clock())
            return bucket
