"""The write budget's edges, with a clock the test moves (tests/unit/slack/test_rate_budget_waits.py has its main rules):
a bucket's arithmetic, the finals reserved, pauses and what a 429 teaches, its counters."""
from __future__ import annotations

import threading
import time

import pytest

from threadwise.slack import rate_budget as slack_budget
from threadwise.config.slack_limits import Limit
from threadwise.slack.rate_budget import FINAL, USER_ACTION, WriteBudget, _Bucket
from test_rate_budget_waits import Clock

pytestmark = pytest.mark.in_process


def test_a_bucket_says_how_long_until_its_next_token():
    bucket = _Bucket(Limit(60, 3), now=0.0)  # 0.9 a second, 2 at once
    assert (bucket.capacity, bucket.tokens, bucket.paused_until) == (2.0, 2.0, 0.0)
    assert bucket.wait_for_token(0.0) == 0.0
    bucket.tokens = 1.5
    assert bucket.wait_for_token(0.0) == 0.0
    bucket.tokens = 0.5
    assert bucket.wait_for_token(0.0) == pytest.approx(0.5 / 0.9)
    bucket.paused_until = 10.0
    assert bucket.wait_for_token(4.0) == 6.0
    assert bucket.wait_for_token(10.0) == pytest.approx(0.5 / 0.9), "at the end of a pause, the tokens count"


def test_a_fresh_budget_is_not_paused_even_at_time_zero():
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=lambda: 0.0)
    assert budget.try_take("chat.update")


def taken(budget: WriteBudget, method: str, channel: str | None = None) -> int:
    """How many tokens ``try_take`` gets now, one after the other."""
    count = 0
    while budget.try_take(method, channel) and count < 1000:
        count += 1
    return count


def test_the_default_limits_apply_when_none_are_given():
    budget = WriteBudget(clock=lambda: 0.0)
    # Slack's documented rate with a burst of the same size, one token kept back for Slack's own bucket.
    assert taken(budget, "chat.update") == 49, "Tier 3: 50 a minute"
    assert taken(budget, "assistant.threads.setStatus") == 99
    assert taken(budget, "chat.postMessage", "C1") == taken(budget, "chat.postMessage", "C2") == 1, "per channel"
    assert taken(budget, "chat.startStream") == 19


def test_a_person_takes_exactly_one_token():
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=Clock())
    budget.acquire("chat.update", USER_ACTION)
    assert budget.try_take("chat.update")
    assert not budget.try_take("chat.update")


def test_a_pause_holds_every_call_then_lets_the_one_retry_after_invites_through():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=clock)
    budget.pause("chat.update", 10)  # (and Slack's refusal halves the burst and the rate: 1 token, 0.45 a second)
    clock.now += 9.9
    assert not budget.try_take("chat.update"), "paused"
    clock.now += 0.2
    assert budget.try_take("chat.update"), "Retry-After is over: Slack takes the next call"
    assert not budget.try_take("chat.update")
    clock.now += 2.1
    assert not budget.try_take("chat.update"), "0.945 tokens at the halved rate"
    clock.now += 0.2
    assert budget.try_take("chat.update")


@pytest.mark.parametrize("owed", [0, 1])
def test_interim_updates_leave_a_token_for_every_final_owed(owed):
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=Clock())  # capacity 2
    keys = [budget.stream_started() for _ in range(3)]
    for key in keys[2:2 + owed]:
        assert budget.reserve_final(key)
    assert budget.try_interim("chat.update", keys[0], 0.0) == 0.0
    second = budget.try_interim("chat.update", keys[1], 1.0)
    assert (second > 0) is bool(owed)


@pytest.mark.parametrize("ending", ["release_final", "stream_ended"])
def test_a_final_released_or_an_answer_ended_frees_its_token(ending):
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=Clock())
    keys = [budget.stream_started() for _ in range(2)]
    assert budget.reserve_final(keys[1])
    assert budget.try_interim("chat.update", keys[0], 0.0) == 0.0
    assert budget.try_interim("chat.update", keys[0], 1.0) > 0, "the last token is owed to the other answer"
    getattr(budget, ending)(keys[1])
    assert budget.try_interim("chat.update", keys[0], 1.0) == 0.0
    budget.release_final(keys[1])  # (twice, or for an answer that reserved nothing: nothing more is freed)
    budget.release_final(keys[0])
    assert budget.reserve_final(keys[0]) is False, "no token left to reserve"


def test_an_ended_answer_no_longer_holds_the_others_back():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(600, 2)}, clock=clock)
    ended, other = budget.stream_started(), budget.stream_started()
    assert budget.try_take("chat.update")
    assert budget.try_interim("chat.update", ended, 0.0) > 0  # waiting, with the oldest text
    budget.stream_ended(ended)
    clock.now += 0.2
    assert budget.try_interim("chat.update", other, 5.0) == 0.0


@pytest.mark.parametrize("quiet_for, holds_back", [(2.5, True), (3.0, False)])
def test_an_answer_that_stopped_asking_holds_the_others_back_only_for_a_while(quiet_for, holds_back):
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(600, 2)}, clock=clock)
    quiet, busy = budget.stream_started(), budget.stream_started()
    assert budget.try_take("chat.update")
    assert budget.try_interim("chat.update", quiet, 0.0) > 0
    clock.now += quiet_for
    assert (budget.try_interim("chat.update", busy, 5.0) > 0) is holds_back


def test_the_wait_for_an_interim_slot_counts_the_reserve():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(600, 4)}, clock=clock)  # capacity 3, 9 a second
    keys = [budget.stream_started() for _ in range(2)]
    assert budget.reserve_final(keys[1])  # one token owed
    assert budget.try_take("chat.update") and budget.try_take("chat.update")
    assert not budget.try_take("chat.update"), "try_take leaves the token owed too"
    clock.now += 0.5 / 9  # 1.5 tokens: one owed, and half a token more
    assert budget.try_interim("chat.update", keys[0], 0.0) == pytest.approx(0.5 / 9)


def test_the_counters_benchmarks_read():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(600, 2)}, clock=clock)
    assert (budget.waited_seconds, budget.deferred_interims) == (0.0, 0)
    key = budget.stream_started()
    budget.acquire("chat.update", FINAL)
    assert budget.try_interim("chat.update", key, 0.0) > 0
    assert budget.try_interim("chat.update", key, 0.0) > 0
    assert budget.deferred_interims == 2
    real = WriteBudget({"chat.update": Limit(600, 2)})  # a token every 0.11 s
    real.acquire("chat.update", FINAL)
    real.acquire("chat.update", FINAL)
    real.acquire("chat.update", FINAL)
    assert 0.15 <= real.waited_seconds < 5


def test_nobody_jumps_the_queue_of_blocked_callers():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 2)}, clock=clock)  # capacity 1, 0.9 a second
    key = budget.stream_started()
    assert budget.try_take("chat.update")
    blocked = threading.Thread(target=budget.acquire, args=("chat.update", FINAL), daemon=True)
    blocked.start()
    deadline = time.monotonic() + 5
    while not budget._buckets[("chat.update", None)].waiting and time.monotonic() < deadline:
        time.sleep(0.005)
    clock.now += 5  # tokens are back, but the blocked caller has not woken yet (or has just taken one)
    assert not budget.try_take("chat.update")
    assert budget.try_interim("chat.update", key, 0.0) > 0
    blocked.join(5)
    assert not blocked.is_alive()


# --- what a 429 teaches ----------------------------------------------------------------------

def test_a_429_halves_the_burst_and_the_rate_and_a_quiet_period_gives_a_step_back():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(6000, 50)}, clock=clock)  # 90 a second, 49 at once
    budget.pause("chat.update", 1)  # Slack refused what our bucket allowed: its burst is smaller than ours
    assert budget.refusals_learned == 1
    clock.now += 1 + 10
    assert taken(budget, "chat.update") == 24, "half of 49 (rounded to even)"
    clock.now += 0.1
    assert taken(budget, "chat.update") == 4, "4.5 tokens in 0.1 s: half of 90 a second"
    refused_at = clock.now - 11.1
    clock.now = refused_at + slack_budget.LEARN_PERIOD - 0.01  # just under a quiet period since the refusal
    assert taken(budget, "chat.update") == 24
    clock.now = refused_at + slack_budget.LEARN_PERIOD + 1
    assert taken(budget, "chat.update") == 37, "a step back: 0.75 of 49"


def test_one_refusal_teaches_once_however_many_callers_saw_it():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(6000, 50)}, clock=clock)
    budget.pause("chat.update", 2)
    clock.now += 1
    budget.pause("chat.update", 1)  # another call that was on its way when Slack refused
    assert budget.refusals_learned == 1
    clock.now += 10
    assert taken(budget, "chat.update") == 24


def test_many_refusals_never_shrink_a_burst_below_a_fifth_nor_the_rate_below_half():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(6000, 50)}, clock=clock)
    for _ in range(6):
        budget.pause("chat.update", 1)
        clock.now += 1.5
    assert budget.refusals_learned == 6
    clock.now += 10
    assert taken(budget, "chat.update") == 10, "a fifth of 49, rounded"
    clock.now += 0.1
    assert taken(budget, "chat.update") == 4, "4.5 tokens in 0.1 s: the rate never below half of 90 a second"


def test_every_quiet_period_gone_by_gives_a_step_back_even_unobserved():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 21)}, clock=clock)  # capacity 20
    for _ in range(3):  # three refusals, each after the last one's Retry-After: 0.5, 0.25, then the floor
        budget.pause("chat.update", 1)
        clock.now += 1
    bucket = budget._bucket("chat.update", None)
    assert bucket.share == pytest.approx(0.2), "halved three times, never below a fifth"
    clock.now += 10 * slack_budget.LEARN_PERIOD + 1  # ten quiet minutes, nobody looking
    assert budget.try_take("chat.update")
    assert bucket.share == 1.0 and bucket.capacity == 20.0, "steps of a quarter: all of it back"


def test_a_final_spends_its_reserved_token_in_one_step():
    """No interim update can take the token between the reservation's release and the final's write."""
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=clock)  # capacity 2
    final, other = budget.stream_started(), budget.stream_started()
    assert budget.reserve_final(final)
    assert budget.try_interim("chat.update", other, 0.0) == 0.0  # the one token not owed
    assert budget.try_interim("chat.update", other, 0.0) > 0, "the reserved one is not for interims"
    assert budget.spend_reserved(final)
    assert not budget.try_take("chat.update") and budget._bucket("chat.update", None).owed == 0
    assert not budget.spend_reserved(final), "spent once"


def test_a_paused_method_has_no_reserved_token_to_spend():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=clock)
    key = budget.stream_started()
    assert budget.reserve_final(key)
    budget.pause("chat.update", 5)
    assert not budget.spend_reserved(key), "Slack refuses until Retry-After: the final waits like any other"
    assert budget._bucket("chat.update", None).owed == 0, "and its reservation is released"


def test_acquire_with_a_timeout_gives_up_and_spends_nothing():
    clock = Clock()
    budget = WriteBudget({"conversations.info": Limit(60, 2)}, clock=clock)  # one token, 0.9 a second
    assert budget.acquire("conversations.info", FINAL, timeout=0.0)
    started = time.monotonic()
    assert not budget.acquire("conversations.info", FINAL, timeout=0.2), "the clock stands still: no token"
    assert time.monotonic() - started < 2
    clock.now += 1.2
    assert budget.try_take("conversations.info"), "the refused wait took nothing"
