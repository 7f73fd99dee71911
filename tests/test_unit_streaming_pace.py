"""The pace of a streaming answer's updates under Slack's limits, in-process (StreamingReply, the real
SlackGateway, FakeSlack): a 429 and a busy write budget stretch the interval instead of asking again,
check_stop waits for the budget because its write must land, and a finished answer leaves the fair share."""
from __future__ import annotations

import pytest

import threading
import time

from inprocess import BOT_TOKEN, clock, eventually, gateway, gateway_for  # noqa: F401  (fixtures)
from slack_budget import Limit, WriteBudget
from slack_client import SlackGateway
from test_unit_streaming_reply import Answer, answer  # noqa: F401  (answer: a fixture)

pytestmark = pytest.mark.in_process


def test_check_stop_lands_even_when_the_budget_puts_updates_off(slack, channel):
    busy = gateway_for(slack, {"chat.update": Limit(60, 2)})  # one token, the next after ~1.1 s
    answer = Answer(slack, busy, channel, interval=30)
    answer.reply.append("Text")
    assert eventually(lambda: answer.shows("Text"), 2)
    answer.reply.append(" more")
    assert answer.check_stop("Running a tool…") is None
    assert answer.shows("Text more")
    assert answer.updates()[-1].params["text"] == "Text more"
    answer.finish()


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
    busy = gateway_for(slack, {"chat.update": Limit(60, 2)})  # one token, the next after ~1.1 s
    answer = Answer(slack, busy, channel)
    answer.reply.append("First")
    assert eventually(lambda: answer.shows("First"), 2)
    answer.reply.append(" second")
    time.sleep(0.8)
    assert busy.budget.deferred_interims == 1  # asked once, told to wait ~1.1 s, waiting
    assert eventually(lambda: answer.shows("First second"), 3)
    answer.finish()


def test_a_finished_answer_leaves_the_fair_share_of_the_others(slack, channel, clock):
    # Two tokens, and none back unless the test moves the clock.
    budget = WriteBudget({"chat.update": Limit(60, 3)}, clock=clock)
    shared = SlackGateway(BOT_TOKEN, slack.base_url, budget=budget)
    answers = [Answer(slack, shared, channel, interval=30) for _ in range(3)]
    answer, *others = answers
    answer.finish()  # takes a token for its final text: one left
    # Three answers in flight would keep that token for a final text; two do not.
    assert budget.try_interim("chat.update", key=1000, last_write_at=0.0) == 0.0
    clock.advance(60)
    for other in others:
        other.finish()


class FairShare:
    """Two answers on one budget of one chat.update token whose clock the test moves."""

    def __init__(self, slack, channel, clock):
        self.clock = clock
        self.budget = WriteBudget({"chat.update": Limit(60, 2)}, clock=clock)
        shared = SlackGateway(BOT_TOKEN, slack.base_url, budget=self.budget)
        self.first = Answer(slack, shared, channel)
        self.second = Answer(slack, shared, channel)

    def deferred(self, count: int) -> bool:
        return eventually(lambda: self.budget.deferred_interims >= count, 2)

    def finish(self, *answers: Answer) -> None:
        ticking = threading.Event()

        def tick():  # tokens for the final texts
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
