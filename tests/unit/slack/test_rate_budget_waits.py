"""The write budget on its own: priorities, fairness, pauses, with a clock the test moves."""
import threading
import time

import pytest

from threadwise.config.slack_limits import Limit
from threadwise.slack.rate_budget import FINAL, PLACEHOLDER, USER_ACTION, WriteBudget

pytestmark = pytest.mark.in_process


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_interim_writes_share_the_rate_fairly_and_keep_the_finals_owed():
    clock = Clock()
    # Slack's 60 a minute with a burst of 4 → ours: 54 a minute (one per 1.11 s), 3 at once.
    budget = WriteBudget({"chat.update": Limit(60, 4)}, clock=clock)
    tick = 60 / 54
    keys = [budget.stream_started() for _ in range(5)]
    assert budget.reserve_final(keys[4])  # an answer about to show a message: its final write is owed
    for _ in range(3):
        budget.acquire("chat.update", FINAL)  # the burst is spent
    last = {k: clock.now - 10 + i for i, k in enumerate(keys)}  # keys[0] has waited longest
    assert all(budget.try_interim("chat.update", k, last[k]) > 0 for k in reversed(keys))  # all wait now
    clock.now += 2 * tick + 0.01  # two tokens: one may go, one stays for the final owed
    granted = [k for k in reversed(keys) if budget.try_interim("chat.update", k, last[k]) == 0.0]
    assert granted == [keys[0]]  # the answer whose text waited longest, though it asked last
    clock.now += tick
    granted = [k for k in reversed(keys) if budget.try_interim("chat.update", k, last[k]) == 0.0]
    assert granted == [keys[1]]
    assert budget.try_interim("chat.update", keys[2], last[keys[2]]) > 0  # the reserve stays


def test_streaming_answers_get_room_for_their_updates_until_the_budget_is_shared_out():
    budget = WriteBudget(clock=Clock())  # chat.update as documented: 49 tokens at once
    keys = [budget.stream_started() for _ in range(7)]
    room = [budget.reserve_streaming(key) for key in keys]
    # Each streaming answer needs STREAM_ROOM (8) tokens for its updates beyond every final owed.
    assert room == [True] * 5 + [False] * 2
    assert budget.reserve_streaming(keys[0]), "asking again changes nothing"
    # Past that, an answer shows the thread status and posts its text: its one final write still fits.
    assert budget.reserve_final(keys[5]) and budget.reserve_final(keys[6])
    budget.stream_ended(keys[0])
    assert budget.reserve_streaming(budget.stream_started()), "an ended answer makes room"


def test_room_for_updates_counts_the_tokens_spent_and_a_pause():
    clock = Clock()
    budget = WriteBudget(clock=clock)
    assert all(budget.try_take("chat.update") for _ in range(40))  # 9 tokens left
    first, second = budget.stream_started(), budget.stream_started()
    assert budget.reserve_streaming(first), "9 - 8 ≥ 1"
    assert not budget.reserve_streaming(second)
    assert budget.reserve_final(second)
    budget.pause("chat.update", 5)
    third = budget.stream_started()
    assert not budget.reserve_final(third), "while Slack refuses, nothing more is promised"


def test_a_final_gets_its_token_at_once_while_twenty_answers_want_interim_updates():
    clock = Clock()  # never moves: no token comes back during the test
    budget = WriteBudget(clock=clock)
    keys = [budget.stream_started() for _ in range(20)]
    assert all(budget.reserve_final(key) for key in keys)
    granted = 0
    for round_ in range(60):  # every answer asks again and again, the stalest first
        for key in keys:
            if budget.try_interim("chat.update", key, float(round_)) == 0.0:
                granted += 1
    assert granted == 49 - 20, "the interim updates spent every token but the 20 owed"
    done = threading.Event()

    def final():
        budget.release_final(keys[7])  # (as StreamingReply.finish: the reserved token is this write's)
        budget.acquire("chat.update", FINAL)
        done.set()

    threading.Thread(target=final, daemon=True).start()
    assert done.wait(5), "the final waited for a token"


def blocked(budget, method, count):
    """Until ``count`` callers are blocked in ``acquire`` for ``method``: the signal that a thread got
    there (read from the bucket's queue), instead of a sleep that hopes it did."""
    deadline = time.monotonic() + 10
    while len(budget._bucket(method, None).waiting) < count:
        assert time.monotonic() < deadline, f"{count} callers never blocked on {method}"
        time.sleep(0.001)


def test_a_final_write_waits_for_a_token_and_beats_interim_updates():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 2)}, clock=clock)  # one token, 0.9 a second
    key = budget.stream_started()
    budget.acquire("chat.update", FINAL)  # the only token
    done = threading.Event()
    threading.Thread(target=lambda: (budget.acquire("chat.update", FINAL), done.set()), daemon=True).start()
    blocked(budget, "chat.update", 1)
    clock.now += 2  # a token is back…
    assert budget.try_interim("chat.update", key, 0.0) > 0  # …and the final text waiting for it comes first
    assert done.wait(5)


def test_higher_priority_waiters_are_served_first():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 2)}, clock=clock)  # one token, 0.9 a second
    budget.acquire("chat.update", FINAL)
    served = []
    threads = [threading.Thread(target=lambda p=p: (budget.acquire("chat.update", p), served.append(p)), daemon=True)
               for p in (PLACEHOLDER, PLACEHOLDER, FINAL)]
    for number, thread in enumerate(threads, 1):
        thread.start()
        blocked(budget, "chat.update", number)  # queued in arrival order, the final text last
    for number in (1, 2, 3):
        clock.now += 1.2  # one token more
        deadline = time.monotonic() + 5
        while len(served) < number:
            assert time.monotonic() < deadline, served
            time.sleep(0.001)
    assert served == [FINAL, PLACEHOLDER, PLACEHOLDER]


def test_a_person_never_waits_and_a_429_pauses_the_method_for_everyone():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 1)}, clock=clock)
    for _ in range(5):
        budget.acquire("chat.update", USER_ACTION)  # into debt, at once
    key = budget.stream_started()
    budget.pause("chat.update", 30)
    clock.now += 10  # 10 s: debt and pause still there
    assert budget.try_interim("chat.update", key, 0.0) > 0
    clock.now += 30 + 7  # pause over, debt of 5 repaid at 0.9 a second, and one more token
    assert budget.try_interim("chat.update", key, 0.0) == 0.0


def test_per_channel_methods_have_a_bucket_per_channel():
    budget = WriteBudget({"chat.postMessage": Limit(60, 1, per_channel=True)}, clock=Clock())
    assert all(budget.try_take("chat.postMessage", channel) for channel in ("C1", "C2", "C3"))  # three full buckets
    assert not budget.try_take("chat.postMessage", "C1")  # each spent on its own


def test_unknown_methods_are_not_budgeted():
    budget = WriteBudget({})
    budget.acquire("chat.update", FINAL)
    assert budget.try_interim("chat.update", budget.stream_started(), 0.0) == 0.0


def test_an_answer_that_stopped_asking_does_not_hold_the_others_back():
    clock = Clock()
    budget = WriteBudget({"chat.update": Limit(60, 2)}, clock=clock)  # capacity 1, 0.9 a second
    quiet, busy = budget.stream_started(), budget.stream_started()
    budget.acquire("chat.update", FINAL)
    assert budget.try_interim("chat.update", quiet, clock.now - 100) > 0  # the stalest asks once, then goes quiet
    clock.now += 5  # tokens are back; the quiet one has not asked for 5 s
    assert budget.try_interim("chat.update", busy, clock.now - 1) == 0.0


def test_try_take_never_waits_and_leaves_tokens_to_waiting_callers():
    clock = Clock()
    budget = WriteBudget({"conversations.info": Limit(60, 3)}, clock=clock)  # 2 tokens
    assert budget.try_take("conversations.info") and budget.try_take("conversations.info")
    assert not budget.try_take("conversations.info")  # empty: the caller uses what it remembers
    clock.now += 2
    assert budget.try_take("conversations.info")
    assert budget.try_take("an unbudgeted method")
