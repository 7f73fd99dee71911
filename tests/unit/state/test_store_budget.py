"""Shared token buckets on both backends (SQLite, and Firestore in its emulator): instances leasing
Slack's workspace-wide budget never get more than the one bucket holds."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from threadwise.state.budget import SharedBucket, leasing
from store_cases import FakeClock, clock, make_store  # noqa: F401  (the fixtures, on both backends)

RATE = 0.75  # chat.update: 50 a minute at 90 %
CAPACITY = 49.0


def test_the_transition_refills_grants_whole_tokens_and_caps():
    assert leasing(3, RATE, CAPACITY, 10.0)(None) == (SharedBucket(46.0, 10.0), 3), "a new bucket is full"
    assert leasing(3, RATE, CAPACITY, 12.0)(SharedBucket(0.5, 10.0)) == (SharedBucket(0.0, 12.0), 2)
    assert leasing(3, RATE, CAPACITY, 10.5)(SharedBucket(0.5, 10.0)) == (None, 0), "under one: nothing written"
    assert leasing(100, RATE, CAPACITY, 1e6)(SharedBucket(0.0, 0.0)) == (SharedBucket(0.0, 1e6), 49)
    assert leasing(5, RATE, 2.0, 20.0)(SharedBucket(40.0, 20.0)) == (SharedBucket(0.0, 20.0), 2), \
        "a capacity learned smaller caps what is there"
    assert leasing(1, RATE, CAPACITY, 9.0)(SharedBucket(1.0, 10.0)) == (SharedBucket(0.0, 10.0), 1), \
        "a clock behind the stamp neither refills nor moves the stamp back"


def test_two_instances_share_one_bucket(make_store, clock):
    first, second = make_store(now=clock), make_store(now=clock)
    granted = [first.lease_tokens("chat.update", 20, RATE, CAPACITY),
               second.lease_tokens("chat.update", 20, RATE, CAPACITY),
               first.lease_tokens("chat.update", 20, RATE, CAPACITY),
               second.lease_tokens("chat.update", 20, RATE, CAPACITY)]
    assert granted == [20, 20, 9, 0]
    assert first.lease_tokens("chat.delete", 5, RATE, CAPACITY) == 5, "one bucket per method"
    clock.advance(4.0)  # three tokens come back
    assert second.lease_tokens("chat.update", 5, RATE, CAPACITY) == 3
    assert first.lease_tokens("chat.update", 5, RATE, CAPACITY) == 0
    clock.advance(1000)
    assert first.lease_tokens("chat.update", 100, RATE, CAPACITY) == 49, "never more than the capacity"


def test_threads_leasing_at_once_never_get_more_than_the_bucket_holds(make_store, clock):
    stores = [make_store(now=clock) for _ in range(4)]
    start = threading.Barrier(8)

    def lease(n: int) -> int:
        start.wait()
        return sum(stores[n % 4].lease_tokens("chat.update", 3, RATE, CAPACITY) for _ in range(5))

    with ThreadPoolExecutor(8) as pool:
        granted = list(pool.map(lease, range(8)))
    assert sum(granted) == 49, granted  # 8 x 5 x 3 = 120 asked for, the clock stood still
