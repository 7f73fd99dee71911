"""The write budget's edges, with a clock the test moves (tests/test_slack_budget.py has its main rules):
the limits' syntax, a bucket's arithmetic, the reserve for final texts, pauses, and its counters."""
from __future__ import annotations

import threading
import time

import pytest

from slack_budget import DEFAULT_LIMITS, FINAL, USER_ACTION, Limit, LimitSyntaxError, WriteBudget, _Bucket, \
    parse_limits
from test_slack_budget import Clock

pytestmark = pytest.mark.in_process


def test_limits_syntax():
    limits = parse_limits("chat.update=30/2,, chat.delete=0.5 ,custom.method=10/1")
    assert limits["chat.update"] == Limit(30, 2)
    assert limits["chat.delete"] == Limit(0.5, 1), "the burst defaults to 1; rates under one a minute are fine"
    assert limits["custom.method"] == Limit(10, 1, per_channel=False)
    assert parse_limits(None) == parse_limits("") == DEFAULT_LIMITS
    with pytest.raises(LimitSyntaxError, match=r"^'chat.update=1=2/3' is not method=per_minute/burst$"):
        parse_limits("chat.update=1=2/3")
    with pytest.raises(LimitSyntaxError, match=r"^'chat.update=-1/3' is not method=per_minute/burst with positive"):
        parse_limits("chat.update=-1/3")


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


def test_the_default_limits_apply_when_none_are_given():
    budget = WriteBudget()
    assert budget.try_take("chat.update") and budget.try_take("chat.update")
    assert not budget.try_take("chat.update"), "Slack's 50 a minute, burst 3: ours holds 2"


def test_a_person_takes_exactly_one_token():
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=Clock())
    budget.acquire("chat.update", USER_ACTION)
    assert budget.try_take("chat.update")
    assert not budget.try_take("chat.update")


def test_a_pause_empties_the_bucket_and_refilling_starts_after_it():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=clock)
    budget.pause("chat.update", 10)
    clock.now += 10.5
    assert not budget.try_take("chat.update"), "0.45 tokens half a second after the pause"
    clock.now += 0.7
    assert budget.try_take("chat.update")


@pytest.mark.parametrize("streams, reserve", [(2, False), (3, True)])
def test_a_token_is_kept_for_final_texts_only_when_answers_outnumber_the_burst(streams, reserve):
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=clock)  # capacity 2
    keys = [budget.stream_started() for _ in range(streams)]
    assert budget.try_interim("chat.update", keys[0], 0.0) == 0.0
    second = budget.try_interim("chat.update", keys[1], 1.0)
    assert (second > 0) is reserve


def test_ending_answers_lifts_the_reserve():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=clock)
    keys = [budget.stream_started() for _ in range(4)]
    assert budget.try_interim("chat.update", keys[0], 0.0) == 0.0
    budget.stream_ended(keys[3])
    assert budget.try_interim("chat.update", keys[1], 1.0) > 0, "3 answers > 2: one token stays in reserve"
    budget.stream_ended(keys[2])
    assert budget.try_interim("chat.update", keys[1], 1.0) == 0.0


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
    keys = [budget.stream_started() for _ in range(4)]  # more answers than the burst: one in reserve
    for _ in range(3):
        assert budget.try_take("chat.update")
    clock.now += 0.5 / 9  # half a token
    assert budget.try_interim("chat.update", keys[0], 0.0) == pytest.approx(1.5 / 9)


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
