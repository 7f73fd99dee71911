"""Write budgets leasing Slack's workspace-wide budget from one store (budget_lease.py), as the bot and the
Pub/Sub workers do: together they never spend more than the shared bucket allows, a final gets a leased
token, and nobody waits on the budget's lock while a lease goes to the store."""
from __future__ import annotations

import threading
import time

import pytest

from threadwise.slack.budget_lease import BATCH, FAILED_RETRY
from threadwise.slack.rate_budget import FINAL, USER_ACTION, WriteBudget
from threadwise.state.sqlite import SqliteStore
from store_cases import FakeClock

pytestmark = pytest.mark.in_process

RATE, CAPACITY = 50 / 60 * 0.9, 49  # chat.update's defaults, as the budget passes them


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path, clock) -> SqliteStore:
    return SqliteStore(str(tmp_path / "budget.sqlite3"), now=clock)


def leasing_budget(store, clock) -> WriteBudget:
    return WriteBudget(clock=clock, lender=store.lease_tokens)


def spend_all(budget: WriteBudget, key: int, now: float) -> int:
    """What one process spends now: interim updates of one answer, and any other write it can make."""
    spent = 0
    while budget.try_interim("chat.update", key, last_write_at=now) == 0.0 and spent < 100:
        spent += 1
    while budget.try_take("chat.update") and spent < 200:
        spent += 1
    return spent


def test_two_budgets_sharing_a_store_spend_no_more_than_one_bucket(store, clock):
    budgets = [leasing_budget(store, clock), leasing_budget(store, clock)]
    keys = [budget.stream_started() for budget in budgets]
    spent = [0, 0]
    for step in range(1200):  # two minutes, a tenth of a second at a time, each process first in turn
        for n in (0, 1) if step % 2 else (1, 0):
            spent[n] += spend_all(budgets[n], keys[n], clock.now)
        clock.advance(0.1)
    allowed = CAPACITY + RATE * 120
    assert sum(spent) <= allowed, spent
    assert sum(spent) >= allowed - 2 * BATCH, f"{spent}: the shared budget is spent, not lost"
    assert min(spent) > 0.3 * allowed, f"{spent}: both processes get their turns"
    # (alone, each budget would have spent the whole of it: 49 + 0.75 a second)
    alone = WriteBudget(clock=clock)
    assert spend_all(alone, alone.stream_started(), clock.now) == CAPACITY


def test_a_final_waits_for_a_leased_token_and_gets_it(store, clock):
    budget = leasing_budget(store, clock)
    assert budget.acquire("chat.update", FINAL, timeout=1.0)
    assert (budget.leasing.leases, budget.leasing.leased) == (1, BATCH), "a batch, not one token per write"
    assert store.lease_tokens("chat.update", 100, RATE, CAPACITY) == CAPACITY - BATCH, "the others' share"
    assert budget.acquire("chat.update", FINAL, timeout=1.0) and budget.acquire("chat.update", FINAL, timeout=1.0)
    assert budget.leasing.leases == 1, "the batch served them"
    got = []
    waiting = threading.Thread(target=lambda: got.append(budget.acquire("chat.update", FINAL, timeout=5.0)))
    waiting.start()
    time.sleep(0.3)
    assert got == [], "the shared bucket is empty: the final waits"
    clock.advance(2.0)  # a token and a half come back to the shared bucket
    waiting.join(5.0)
    assert got == [True]


def test_reserving_a_streaming_answer_leases_its_room_and_its_final(store, clock):
    budget = leasing_budget(store, clock)
    key = budget.stream_started()
    assert budget.reserve_streaming(key)
    assert budget.leasing.leased == 1 + 8, "its final and its room for updates"
    assert budget.try_interim("chat.update", key, last_write_at=0.0) == 0.0
    assert budget.spend_reserved(key)
    other = leasing_budget(store, clock)  # another process, nothing reserved
    assert other.try_interim("chat.update", other.stream_started(), last_write_at=0.0) == 0.0
    assert other.leasing.leased == BATCH, "an interim update leases its own token"


def test_a_person_s_action_spends_into_debt_and_the_next_lease_repays_it(store, clock):
    budget = leasing_budget(store, clock)
    assert budget.acquire("chat.update", USER_ACTION)
    assert budget.leasing.leases == 0, "a Stop never waits for the store"
    assert budget.try_take("chat.update")
    assert (budget.leasing.leases, budget.leasing.leased) == (1, BATCH), "the debt, this write, one more"
    assert budget.try_take("chat.update") and budget.leasing.leases == 1
    key = budget.stream_started()
    assert budget.reserve_final(key) and budget.leasing.leases == 2
    for _ in range(3):
        budget.acquire("chat.update", USER_ACTION)  # clicks borrow the token reserved
    assert budget.spend_reserved(key) and budget.leasing.leases == 3, "the final leases the one it lent"


def test_no_lock_is_held_while_a_lease_goes_to_the_store(clock):
    entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow_lender(method, want, per_second, capacity):
        calls.append(want)
        entered.set()
        release.wait(5.0)
        return want

    budget = WriteBudget(clock=clock, lender=slow_lender)
    first = threading.Thread(target=budget.reserve_final, args=(budget.stream_started(),))
    second = threading.Thread(target=budget.reserve_final, args=(budget.stream_started(),))
    first.start()
    assert entered.wait(5.0)
    second.start()  # waits for the lease in flight rather than asking the store again
    started = time.monotonic()
    assert budget.try_take("chat.postMessage", "C1"), "another method is served meanwhile"
    assert not budget.try_take("chat.update"), "a caller that never waits is told no at once"
    assert budget.try_interim("chat.update", budget.stream_started(), 0.0) > 0
    assert time.monotonic() - started < 0.5, "nobody waited for the store"
    release.set()
    first.join(5.0), second.join(5.0)
    assert not first.is_alive() and not second.is_alive()
    assert calls == [BATCH], "one lease in flight per bucket; its batch served both reservations"


def test_a_failing_store_grants_nothing_is_logged_once_and_asked_again_later(clock, caplog):
    calls = []

    def broken(method, want, per_second, capacity):
        calls.append(want)
        if len(calls) <= 2:
            raise OSError("store down")
        return want

    budget = WriteBudget(clock=clock, lender=broken)
    assert not budget.acquire("chat.update", FINAL, timeout=0.4)
    assert len(calls) == 1, "not hammered while it is down"
    clock.advance(FAILED_RETRY)
    assert not budget.acquire("chat.update", FINAL, timeout=0.4)
    assert len(calls) == 2
    assert [r.getMessage() for r in caplog.records].count("budget lease failed") == 1, "logged once, not per try"
    clock.advance(FAILED_RETRY)
    assert budget.acquire("chat.update", FINAL, timeout=1.0)
    assert len(calls) == 3


def test_what_a_429_teaches_is_passed_to_the_store(clock):
    asked = []

    def lender(method, want, per_second, capacity):
        asked.append((method, per_second, capacity))
        return want

    budget = WriteBudget(clock=clock, lender=lender)
    assert budget.acquire("chat.update", FINAL, timeout=1.0)
    budget.pause("chat.update", 1.0)
    clock.advance(1.0)
    budget.try_take("chat.update")
    budget.try_take("chat.update")
    assert asked == [("chat.update", pytest.approx(RATE), 49.0), ("chat.update", pytest.approx(RATE / 2), 24.0)]
    assert budget.try_take("chat.postMessage", "C1") and budget.try_take("assistant.threads.setStatus")
    assert len(asked) == 2, "per-channel and only-tried methods stay local"
