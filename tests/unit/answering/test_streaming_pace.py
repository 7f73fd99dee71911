"""The pace of a streaming answer's updates under Slack's limits, in-process (StreamingReply, the real
SlackGateway, FakeSlack): a 429 and a busy write budget stretch the interval instead of asking again,
interim updates never spend the token reserved for an answer's final text (each StreamingReply here
reserves its own, as a resumed answer does), check_stop never writes, and the fairest update goes first."""
from __future__ import annotations

import pytest

import threading
import time

from inprocess import BOT_TOKEN, clock, eventually, gateway, gateway_for  # noqa: F401  (fixtures)
from threadwise.config.slack_limits import Limit
from threadwise.slack.rate_budget import WriteBudget
from slack_client import SlackGateway
from test_streaming_reply import Answer, answer  # noqa: F401  (answer: a fixture)

pytestmark = pytest.mark.in_process


def test_check_stop_never_writes_and_the_final_takes_its_reserved_token_at_once(slack, channel):
    busy = gateway_for(slack, {"chat.update": Limit(60, 3)})
    assert busy.budget.try_take("chat.update")  # spent elsewhere: one token left, which the answer's final reserves
    answer = Answer(slack, busy, channel)
    answer.reply.append("Text")
    assert eventually(lambda: busy.budget.deferred_interims >= 1, 2), "no interim update may take it"
    calls = len(slack.calls)
    assert answer.check_stop("Running a tool…") is None
    assert slack.calls[calls:] == [], "a stop arrives as a signal: nothing to read or write"
    assert answer.finish().landed
    assert [call.params["text"] for call in answer.updates()] == ["Text"], "the final alone"
    assert busy.budget.waited_seconds < 0.5, "its token was there: it did not wait ~1.1 s for the next"


def test_a_rate_limited_update_waits_the_longer_of_retry_after_and_the_interval(slack, answer):
    slack.rate_limit_next("chat.update", 1, retry_after=1)
    answer.reply.append("Slow")
    assert eventually(lambda: answer.shows("Slow"), 3)
    limited, landed = answer.updates()[:2]
    assert limited.status == 429 and landed.status == 200
    assert 0.9 <= landed.at - limited.at < 2
    assert answer.finish().landed


def test_an_interval_longer_than_retry_after_is_kept(slack, gateway, channel):
    answer = Answer(slack, gateway, channel, interval=1.5)
    slack.rate_limit_next("chat.update", 1, retry_after=1)
    answer.reply.append("Slow")
    assert eventually(lambda: answer.shows("Slow"), 4)
    limited, landed = answer.updates()[:2]
    assert landed.at - limited.at >= 1.4
    answer.finish()


def test_a_busy_budget_stretches_the_interval_instead_of_asking_again_and_again(slack, channel):
    busy = gateway_for(slack, {"chat.update": Limit(60, 3)})  # two tokens (one reserved), the next after ~1.1 s
    answer = Answer(slack, busy, channel)
    answer.reply.append("First")
    assert eventually(lambda: answer.shows("First"), 2)
    answer.reply.append(" second")
    time.sleep(0.8)
    assert busy.budget.deferred_interims == 1  # asked once, told to wait ~1.1 s, waiting
    assert eventually(lambda: answer.shows("First second"), 3)
    answer.finish()


def test_finals_reserved_land_at_once_though_interim_updates_spent_the_rest(slack, channel, clock):
    # Four tokens, and none back unless the test moves the clock (it does not): three are owed to finals.
    budget = WriteBudget({"chat.update": Limit(60, 5)}, clock=clock)
    shared = SlackGateway(BOT_TOKEN, slack.base_url, budget=budget)
    first, *others = [Answer(slack, shared, channel) for _ in range(3)]
    first.reply.append("shown")
    assert eventually(lambda: first.shows("shown"), 2)  # the one token to spare
    first.reply.append(" and more")
    assert eventually(lambda: budget.deferred_interims >= 1, 2)
    assert first.finish().landed and first.message()["text"] == "shown and more"
    for number, other in enumerate(others):
        other.reply.append(f"answer {number}")
        assert other.finish().landed and other.message()["text"] == f"answer {number}"
    assert not budget.try_take("chat.update")


class FairShare:
    """Two answers on one budget of one chat.update token to spare beyond their two finals, whose clock the
    test moves."""

    def __init__(self, slack, channel, clock):
        self.clock = clock
        self.budget = WriteBudget({"chat.update": Limit(60, 4)}, clock=clock)
        shared = SlackGateway(BOT_TOKEN, slack.base_url, budget=self.budget)
        self.first = Answer(slack, shared, channel)
        self.second = Answer(slack, shared, channel)

    def deferred(self, count: int) -> bool:
        return eventually(lambda: self.budget.deferred_interims >= count, 2)

    def finish(self, *answers: Answer) -> None:
        ticking = threading.Event()

        # The finals have their tokens reserved, but the other answer's writer may take one in the moment
        # between a final's release_final and its acquire (streaming_reply._finish): the clock moves.
        def tick():
            while not ticking.wait(0.01):
                self.clock.advance(1)

        threading.Thread(target=tick, daemon=True).start()
        try:
            assert all(answer.finish().landed for answer in answers or (self.first, self.second))
        finally:
            ticking.set()


def test_the_answer_whose_text_waited_longest_gets_the_next_update(slack, channel, clock):
    share = FairShare(slack, channel, clock)
    assert share.budget.try_take("chat.update")  # the token spent elsewhere
    share.first.reply.append("first")  # asks, is put off (and asks again in ~1.1 s)
    assert share.deferred(1)
    clock.advance(1.2)  # a token again (and each answer still counts as asking)
    share.second.reply.append("second")  # asks sooner, but the first answer has waited longer
    assert share.deferred(2)
    assert eventually(lambda: share.first.shows("first"), 3)
    assert not share.second.shows("second")
    share.finish()


def test_an_answer_shown_recently_lets_one_that_was_not_go_first(slack, channel, clock):
    share = FairShare(slack, channel, clock)
    share.first.reply.append("first")
    assert eventually(lambda: share.first.shows("first"), 2)  # the token: the first answer was just shown
    share.first.reply.append(" more")
    assert share.deferred(1)
    clock.advance(1.2)
    share.second.reply.append("second")  # never shown yet: it goes before the first's next update
    assert eventually(lambda: share.second.shows("second"), 1)
    assert share.first.shows("first")
    share.finish()


def test_a_finished_answer_no_longer_asks_for_an_update(slack, channel, clock):
    share = FairShare(slack, channel, clock)
    assert share.budget.try_take("chat.update")
    share.first.reply.append("first")
    assert share.deferred(1)  # waiting for an update when its answer ends
    clock.advance(1.2)
    assert share.first.finish().landed  # the token goes to its final text
    clock.advance(1.2)  # the next token (the first answer's request is 2.4 s old, not yet dropped as stale)
    share.second.reply.append("second")
    assert eventually(lambda: share.second.shows("second"), 1)
    share.finish(share.second)
