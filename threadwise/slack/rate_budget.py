"""One budget for the Slack Web API calls of this process, shared by every answer in flight.

Slack limits calls per method, per workspace, per app (``chat.update`` is
Tier 3, "50+ a minute" with bursts; ``chat.postMessage`` about one a second
per channel). Fifty answers each updated every 0.8 s would ask for thousands
of updates a minute, so every call takes a token from its method's bucket:

* ``acquire`` waits for a token, in priority order: a person's action (Stop,
  Delete) never waits at all; an answer's final text comes next; placeholders
  and continuation messages after it; a blocked caller is served before any
  interim update.
* Finals are owed: an answer that shows a message it will have to update
  reserves its final write first (``reserve_streaming`` / ``reserve_final``),
  and interim updates never spend the reserved tokens, so a final text or a
  stop marker never queues behind them. An answer that finds no room shows a
  thread status instead and posts its text with ``chat.postMessage``
  (limited per channel, not per workspace).
* ``try_interim`` is for the interim updates of a streaming answer: it never
  waits. It grants a token only when nobody more important is waiting, the
  reserve stays whole, and this answer's text has waited longest.
* ``pause`` is for a 429 anyway (another instance spends the same workspace
  budget, or Slack's burst is smaller than ours): the whole method waits
  ``Retry-After``, and the bucket learns: its burst and rate shrink, and grow
  back a step a minute while Slack refuses nothing.

A bucket starts from Slack's documented rate with a burst of the same size,
which serves a burst of people at once; the limits are configurable
(``SLACK_RATE_LIMITS``, parsed at start-up by ``config/slack_limits.py``). With
a lender (``DISPATCH=pubsub``: several processes write to one workspace), the
workspace-wide buckets do not refill on their own
but lease their tokens from one shared bucket in the store (``budget_lease.py``).
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time

from threadwise import logs
from threadwise.config.slack_limits import DEFAULT_LIMITS, Limit
from threadwise.slack.budget_lease import Leasing, LeaseState, Lender

log = logs.get(__name__)

# Priorities: lower is served first.
USER_ACTION = 0  # Stop / Delete from a person: spends at once, even into debt
FINAL = 1  # the write carrying an answer's final text
PLACEHOLDER = 2  # placeholders, continuation parts, reads an answer needs to start
INTERIM = 3  # only through try_interim


# Learning from 429s: each one halves the burst (never below MIN_SHARE of Slack's documented one)
# and slows the rate with it, but never below RATE_FLOOR of the documented rate: Retry-After already
# paces the next call, and a few refusals must not leave people waiting for minutes. Every
# LEARN_PERIOD without one gives back a step.
MIN_SHARE = 0.2
RATE_FLOOR = 0.5
LEARN_PERIOD = 60.0
RECOVER_STEP = 0.25

# An answer streams into a placeholder only while the budget has this many tokens to spare for it
# (and for each answer already streaming) beyond every final owed: about STREAM_UPDATE_INTERVAL's
# first seconds of updates. Past that, answers show a thread status and post their text.
STREAM_ROOM = 8


# A method we do not budget still waits out Slack's Retry-After: after its first 429 it gets a
# bucket with this limit, which only the pause ever empties.
UNBUDGETED = Limit(6_000_000, 100_000)

# A write that waited longer than this for its token is logged: the operator sees the budget bind.
LONG_WAIT = 2.0

# A deferred interim write asks again within this many seconds (so the fair choice sees it).
MAX_INTERIM_WAIT = 2.0


# We spend at most this share of Slack's rate, and one token less than its
# burst: a request reaches Slack some milliseconds after it left our bucket,
# not always after the same time, so Slack's bucket needs a little room of its
# own never to see two requests closer than it allows.
RATE_MARGIN = 0.9


class _Bucket:
    def __init__(self, limit: Limit, now: float):
        self.limit = limit
        self.share = 1.0  # of Slack's documented rate and burst: what proved ours (see ``learn``)
        self.learned_at = now
        self._apply_share()
        self.tokens = self.capacity
        self.stamp = now
        self.paused_until = 0.0
        self.owed = 0  # final writes reserved by answers showing a message
        self.waiting: list[tuple[int, int]] = []  # (priority, arrival) of blocked callers
        # answers waiting for an interim slot -> (their last write, when they last asked)
        self.wanting: dict[int, tuple[float, float]] = {}
        self.lease: LeaseState | None = None  # set: the tokens come from the shared bucket, not from time

    def _apply_share(self) -> None:
        self.rate = self.limit.per_minute / 60.0 * RATE_MARGIN * max(self.share, RATE_FLOOR)
        self.capacity = float(max(1, round((self.limit.burst - 1) * self.share)))

    def learn(self, now: float) -> None:
        """Slack refused a call our bucket allowed: spend less of it from now on."""
        self.share = max(MIN_SHARE, self.share * 0.5)
        self.learned_at = now
        self._apply_share()

    def refill(self, now: float) -> None:
        if self.share < 1.0 and now - self.learned_at >= LEARN_PERIOD:
            periods = int((now - self.learned_at) // LEARN_PERIOD)  # a step for every quiet period gone by
            self.share = min(1.0, self.share + RECOVER_STEP * periods)
            self.learned_at += periods * LEARN_PERIOD
            self._apply_share()
        if self.lease is None and now > self.stamp:  # (after a pause the stamp lies in the future)
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for_token(self, now: float) -> float:
        """Seconds until a token may be taken (0 when one is there)."""
        if now < self.paused_until:
            return self.paused_until - now
        if self.tokens >= 1:
            return 0.0
        # Leasing: ask the store again once it may have one (a lease ending wakes the waiters sooner).
        return max(self.lease.retry_at - now, 0.05) if self.lease else (1 - self.tokens) / self.rate


class WriteBudget:
    def __init__(self, limits: dict[str, Limit] | None = None, clock=time.monotonic, lender: Lender | None = None):
        self._limits = DEFAULT_LIMITS if limits is None else limits
        self._clock = clock
        self._cond = threading.Condition()
        self.leasing = Leasing(lender, self._cond, clock) if lender else None
        self._buckets: dict[tuple[str, str | None], _Bucket] = {}
        self._arrivals = itertools.count()
        self._streams = 0
        self._streaming: set[int] = set()  # answers streaming into a placeholder
        self._owed: dict[int, str] = {}  # answer -> the method of the final write it reserved
        self.waited_seconds = 0.0  # total time callers spent blocked (for benchmarks)
        self.deferred_interims = 0
        self.refusals_learned = 0

    # --- answers in flight ------------------------------------------------------
    def stream_started(self) -> int:
        """An answer begins; the key names it in ``try_interim`` and its reservation."""
        with self._cond:
            self._streams += 1
            return next(self._arrivals)

    def stream_ended(self, key: int) -> None:
        self.release_final(key)
        with self._cond:
            self._streams = max(0, self._streams - 1)
            self._streaming.discard(key)
            for bucket in self._buckets.values():
                bucket.wanting.pop(key, None)

    def reserve_streaming(self, key: int, method: str = "chat.update") -> bool:
        """May this answer show a placeholder now and stream into it? Yes while the budget has room
        for its updates and for those of every answer already streaming, beyond the finals owed;
        its final write is then reserved."""
        with self._cond:
            bucket = self._bucket(method, None)
            # (a small configured burst scales the room down, so one answer still streams)
            per_answer = min(STREAM_ROOM, bucket.capacity // 4) if bucket else 0
            if not self._reserve(key, method, per_answer * (len(self._streaming) + 1)):
                return False
            self._streaming.add(key)
            return True

    def reserve_final(self, key: int, method: str = "chat.update") -> bool:
        """Reserve one final write for an answer about to show a message (no room for its updates)."""
        with self._cond:
            return self._reserve(key, method, 0)

    def _reserve(self, key: int, method: str, room: float) -> bool:
        if key in self._owed:
            return True
        bucket = self._bucket(method, None)
        if bucket is None:
            return True
        if bucket.lease is not None and bucket.owed + room + 1 <= bucket.capacity:  # (more: no room anyway)
            self.leasing.stock(bucket, bucket.owed + room + 1, wait=True)
        now = self._clock()
        bucket.refill(now)
        if now < bucket.paused_until or bucket.tokens - bucket.owed - room < 1:
            return False
        bucket.owed += 1
        self._owed[key] = method
        return True

    def spend_reserved(self, key: int) -> bool:
        """The answer's final write takes the token it reserved, in one step (so that no interim update
        takes it in between). False when it has none to spend now (nothing reserved, or Slack's pause
        holds): the write then waits for a token as any final does."""
        with self._cond:
            method = self._owed.get(key)
            bucket = self._buckets.get((method, None)) if method else None
            if bucket is not None and bucket.lease is not None:  # (a person's click borrowed it: lease one)
                self.leasing.stock(bucket, bucket.owed, wait=False)
            if bucket is None or self._clock() < bucket.paused_until:
                self.release_final(key)
                return False
            del self._owed[key]
            bucket.owed = max(0, bucket.owed - 1)
            bucket.refill(self._clock())
            bucket.tokens -= 1  # reserved: interims left it there (a person's click may have borrowed it)
            return True

    def release_final(self, key: int) -> None:
        """The answer's final write is about to take its token (or will never be made)."""
        with self._cond:
            method = self._owed.pop(key, None)
            bucket = self._buckets.get((method, None)) if method else None
            if bucket is not None:
                bucket.owed = max(0, bucket.owed - 1)
                self._cond.notify_all()

    # --- spending -------------------------------------------------------------
    def acquire(self, method: str, priority: int, channel: str | None = None, timeout: float | None = None) -> bool:
        """Wait for a token (at most ``timeout`` seconds: False, and nothing spent, when none came)."""
        bucket = self._bucket(method, channel)
        if bucket is None:
            return True  # a method we do not budget
        got, long_wait = self._wait_for_token(bucket, priority, timeout)
        if long_wait is not None:  # (logged outside the lock every answer's writes share)
            log.info("slack write waited for its budget", method=method, priority=priority, **long_wait)
        return got

    def _wait_for_token(self, bucket: _Bucket, priority: int, timeout: float | None) -> tuple[bool, dict | None]:
        """Whether a token came, and the budget's state when the wait was longer than LONG_WAIT."""
        with self._cond:
            now = self._clock()
            bucket.refill(now)
            if priority == USER_ACTION:
                bucket.tokens -= 1  # a person is waiting for this; the others absorb the debt
                return True, None
            entry = (priority, next(self._arrivals))
            heapq.heappush(bucket.waiting, entry)
            started = now
            give_up_at = None if timeout is None else time.monotonic() + timeout  # (a real wait, whatever the clock)
            got = False
            try:
                while True:
                    if bucket.lease is not None and bucket.waiting[0] == entry:
                        self.leasing.stock(bucket, 1, wait=False)
                    now = self._clock()
                    bucket.refill(now)
                    wait = bucket.wait_for_token(now)
                    if bucket.waiting[0] == entry and wait == 0:
                        bucket.tokens -= 1
                        got = True
                        break
                    if give_up_at is not None and time.monotonic() >= give_up_at:
                        break
                    pause = min(max(wait, 0.005), 0.5) if bucket.waiting[0] == entry else 0.5
                    self._cond.wait(pause if give_up_at is None else max(0.0, min(pause, give_up_at - time.monotonic())))
            finally:
                bucket.waiting.remove(entry)
                heapq.heapify(bucket.waiting)
                waited = self._clock() - started
                self.waited_seconds += waited
                self._cond.notify_all()
            if waited <= LONG_WAIT:
                return got, None
            return got, dict(seconds=round(waited, 2), tokens=round(bucket.tokens, 2), share=bucket.share,
                             owed=bucket.owed, queued=len(bucket.waiting))

    def try_take(self, method: str, channel: str | None = None) -> bool:
        """A token now if one is free and nobody waits for it; never waits."""
        bucket = self._bucket(method, channel)
        if bucket is None:
            return True
        with self._cond:
            now = self._clock()
            bucket.refill(now)
            if bucket.lease is not None and not bucket.waiting:
                self.leasing.stock(bucket, bucket.owed + 1, wait=False)
                now = self._clock()
            if bucket.waiting or now < bucket.paused_until or bucket.tokens - bucket.owed < 1:
                return False
            bucket.tokens -= 1
            return True

    def try_interim(self, method: str, key: int, last_write_at: float, channel: str | None = None) -> float:
        """0.0 and a token spent when this answer's interim write may go now; else the seconds to wait.

        Fair: of the answers that want an interim slot, the one whose text has
        waited longest gets the next token, and only when no final text or
        placeholder is waiting and the finals owed keep their tokens.
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
            # Every final owed keeps its token (all but one, in a bucket of one: else nothing would stream).
            reserve = float(min(bucket.owed, bucket.capacity - 1))
            stalest = min(bucket.wanting, key=lambda k: (bucket.wanting[k][0], k))
            if bucket.lease is not None and stalest == key and not bucket.waiting:
                self.leasing.stock(bucket, 1 + reserve, wait=False)
                now = self._clock()  # (the lock was let go meanwhile: look again)
                reserve = float(min(bucket.owed, bucket.capacity - 1))
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
            if now >= bucket.paused_until:  # one lesson per refusal, not per caller that saw it
                bucket.learn(now)
                self.refusals_learned += 1
            bucket.paused_until = max(bucket.paused_until, now + seconds)
            bucket.tokens = min(bucket.tokens, 1.0)  # the call Retry-After invites, when it is over
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
                if self.leasing is not None and self.leasing.lends(method, limit.per_channel):
                    bucket.lease, bucket.tokens = LeaseState(method), 0.0  # nothing leased yet
            return bucket
