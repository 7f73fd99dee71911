"""Exactly-once answers in-process: ClaimedAnswers and its Lease over a real SqliteStore, the real
answer loop (practice mode) and the real SlackGateway against FakeSlack."""
from __future__ import annotations

import re
import threading

import pytest

from threadwise.handoff import claims as jobs
from threadwise.runtime import answer_services
from threadwise.state.stop_records import StopReason, StopSignal
from inprocess import ask_in, claims, clock, eventually, gateway, gateway_for, practice_settings  # noqa: F401
from threadwise.handoff.claims import ClaimedAnswers, Lease
from threadwise.slack.reply_format import PLACEHOLDER_TEXT, THINKING_STATUS, ReplyTag, reply_metadata
from threadwise.config.slack_limits import Limit
from store_cases import START

pytestmark = pytest.mark.in_process

TTL = 3600.0


@pytest.fixture
def answers(slack, gateway, claims):
    services = answer_services(practice_settings(slack), gateway, "You are a test.")
    return ClaimedAnswers(claims, services, lease_seconds=30, claim_ttl=TTL)


def _bot_messages(slack, channel):
    return [m for m in slack.messages(channel) if m.get("bot_id")]


def _lease_threads(event_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"lease-{event_id}"]


def test_owners_name_one_attempt_of_this_process():
    owners = {jobs.new_owner() for _ in range(50)}
    assert len(owners) == 50
    for owner in owners:
        assert re.fullmatch(re.escape(jobs.PROCESS_ID) + r"-[0-9a-f]{12}", owner)


def test_an_answer_is_claimed_posted_and_marked_answered_once(slack, channel, answers, claims):
    ask = ask_in(slack, channel)
    assert answers.answer(ask) == "answered"
    [reply] = _bot_messages(slack, channel)
    claim = claims.get(ask.event_id)
    assert (claim.status, claim.reply_ts, claim.attempts) == ("answered", reply["ts"], 1)
    assert reply["metadata"]["event_payload"]["status"] == "done"
    assert "What is a mutant?" in reply["text"]
    # A Slack retry or a redelivery of the same event: nothing more is written.
    calls = len(slack.calls)
    assert answers.answer(ask) == "duplicate"
    assert [c.method for c in slack.calls[calls:]] == []
    assert not _lease_threads(ask.event_id)


def test_a_live_lease_of_another_worker_means_busy(slack, channel, answers, claims):
    ask = ask_in(slack, channel)
    claims.acquire(ask.event_id, "another-worker", 30, TTL)
    calls = len(slack.calls)
    assert answers.answer(ask) == "busy"
    assert slack.calls[calls:] == []
    assert claims.get(ask.event_id).owner == "another-worker"


def test_a_dead_workers_reply_is_resumed_in_place(slack, channel, answers, claims, clock):
    ask = ask_in(slack, channel)
    tag = ReplyTag(asker=ask.user, question_ts=ask.ts)
    # The dead worker's placeholder, posted through the real gateway as the bot.
    posted = answers._services.slack.post(channel, ask.thread_ts, "half an answer", [],
                                          reply_metadata(tag, "streaming"))
    claims.acquire(ask.event_id, "dead-worker", 30, TTL)
    claims.set_reply(ask.event_id, "dead-worker", posted.ts)
    clock.advance(31)  # its lease ran out
    assert answers.answer(ask) == "answered"
    [reply] = _bot_messages(slack, channel)
    assert reply["ts"] == posted.ts, "no second message"
    assert "What is a mutant?" in reply["text"]
    claim = claims.get(ask.event_id)
    assert (claim.status, claim.reply_ts, claim.attempts) == ("answered", posted.ts, 2)


def test_a_retry_reaching_the_process_already_answering_finds_it_busy(slack, channel, answers, claims):
    ask = ask_in(slack, channel)
    first = answers.open(ask)
    try:
        [lease_thread] = _lease_threads(ask.event_id)
        assert lease_thread.daemon, "a lease never keeps a stopping process alive"
        assert answers.answer(ask) == "busy", "each attempt is its own owner"
        assert len(_bot_messages(slack, channel)) == 1
    finally:
        answers.complete(first)
    assert claims.get(ask.event_id).status == "answered"


def test_a_thread_the_bot_is_not_part_of_stays_quiet_and_is_done(slack, channel, answers, claims):
    parent = slack.add_message(channel, "U2", "people talking")
    ask = ask_in(slack, channel, "a follow-up without a mention", thread_ts=parent, needs_participation=True)
    assert answers.answer(ask) == "quiet"
    assert _bot_messages(slack, channel) == []
    assert claims.get(ask.event_id).status == "answered", "a redelivery does not look again"
    assert not _lease_threads(ask.event_id)


def test_a_failure_while_opening_releases_the_lease_and_leaves_the_claim_to_a_retry(slack, channel, claims, clock):
    # Slack unreachable: the gateway's calls raise (the SDK's connection errors after its retries).
    services = answer_services(practice_settings(slack), gateway_to_nowhere(), "You are a test.")
    answers = ClaimedAnswers(claims, services, lease_seconds=30, claim_ttl=TTL)
    parent = slack.add_message(channel, "U2", "people talking")
    ask = ask_in(slack, channel, "follow-up", thread_ts=parent, needs_participation=True)
    with pytest.raises(OSError):  # (urllib's URLError)
        answers.answer(ask)
    assert eventually(lambda: not _lease_threads(ask.event_id)), "the lease thread ended"
    claim = claims.get(ask.event_id)
    assert claim.status == "answering" and claim.reply_ts is None
    clock.advance(31)
    assert claims.acquire(ask.event_id, "next-worker", 30, TTL).outcome == "acquired"


def gateway_to_nowhere():
    import socket

    from threadwise.slack.rate_budget import WriteBudget
    from slack_client import SlackGateway

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return SlackGateway("xoxb-test", f"http://127.0.0.1:{port}/api/", budget=WriteBudget({}))


def test_a_worker_that_lost_its_lease_writes_nothing_more_and_does_not_finish(slack, channel, answers, claims, clock):
    ask = ask_in(slack, channel)
    answers._lease_seconds = 0.3  # renewals every 0.1 s
    opened = answers.open(ask)
    placeholder = _bot_messages(slack, channel)[0]
    assert placeholder["text"] == PLACEHOLDER_TEXT
    clock.advance(1)  # the lease lapsed (the store's time)…
    assert claims.acquire(ask.event_id, "new-owner", 30, TTL).outcome == "acquired"  # …and was taken over
    assert eventually(lambda: opened.lease.held() is False), "the next renewal finds the claim taken"
    answers.complete(opened)
    assert slack.get(channel, placeholder["ts"])["text"] == PLACEHOLDER_TEXT, "not written by the old owner"
    claim = claims.get(ask.event_id)
    assert (claim.status, claim.owner) == ("answering", "new-owner")
    assert not _lease_threads(ask.event_id)


def test_a_lease_is_renewed_well_before_it_runs_out(claims, clock):
    claims.acquire("Ev1", "w1", 0.9, TTL)  # renewals every 0.3 s
    lease = Lease(claims, "Ev1", "w1", 0.9)
    try:
        clock.advance(10)
        # (waiting less than a lease: a renewal that came only after the lease ran out would be too late)
        assert eventually(lambda: claims.get("Ev1").lease_until == START + 10 + 0.9, timeout=0.8)
        assert lease.held() and lease.owner == "w1"
    finally:
        lease.release()
    assert eventually(lambda: not _lease_threads("Ev1"))


# A store hiccup shorter than the lease, and renewals failing past it: tests/unit/handoff/test_lease.py.


# --- no room for a placeholder; a stop before the answer's slot ----------------------------------

def test_an_answer_begun_without_a_placeholder_records_its_reply_once_posted(slack, channel, claims):
    # chat.update with one token: no room for a streaming answer's updates, room for one final write.
    narrow = gateway_for(slack, {"chat.update": Limit(60, 2)})
    assert narrow.budget.try_take("chat.update")  # the one token spent elsewhere: no room to stream now
    services = answer_services(practice_settings(slack, PRACTICE_TOKEN_DELAY="0.02"), narrow, "You are a test.")
    answers = ClaimedAnswers(claims, services, lease_seconds=30, claim_ttl=TTL)
    ask = ask_in(slack, channel)
    claimed = answers.open(ask)
    assert claimed.opened.placeholder_ts is None and _bot_messages(slack, channel) == []
    assert claims.get(ask.event_id).reply_ts is None
    [status] = [c for c in slack.calls_of("assistant.threads.setStatus") if c.params.get("channel_id") == channel]
    assert (status.params["thread_ts"], status.params["status"]) == (ask.thread_ts, THINKING_STATUS)
    answers.complete(claimed)
    [reply] = _bot_messages(slack, channel)
    claim = claims.get(ask.event_id)
    assert (claim.status, claim.reply_ts) == ("answered", reply["ts"]), "a redelivery would resume this message"
    assert "What is a mutant?" in reply["text"] and reply["metadata"]["event_payload"]["status"] == "done"


def test_a_stop_while_the_answer_waits_for_its_slot_ends_it_before_any_model_request(slack, channel, answers,
                                                                                    claims):
    ask = ask_in(slack, channel)
    claimed = answers.open(ask)
    stops = answers._services.stops
    assert stops.runs_here(channel, ask.ts), "reachable from the moment its placeholder shows"
    assert stops.signal_here(channel, ask.ts, StopSignal(StopReason.STOPPED, ask.user))
    calls = len(slack.calls)
    answers.complete(claimed)
    assert [c.method for c in slack.calls[calls:]] == ["chat.update"], "nothing read for a model request: the final"
    [reply] = _bot_messages(slack, channel)
    assert reply["text"] == f"_⏹ Stopped by <@{ask.user}>._", "no practice text: the model was never asked"
    assert reply["metadata"]["event_type"] == "aborted"
    assert claims.get(ask.event_id).status == "answered"
    assert not stops.runs_here(channel, ask.ts), "off the board once finished"
