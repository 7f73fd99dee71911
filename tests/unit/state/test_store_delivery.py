"""Claims whose final text goes on in a delivery job ("delivering"): both backends (SQLite on a temp
file, Firestore on its emulator), like tests/unit/state/test_store.py."""
from __future__ import annotations

import pytest

from threadwise.state import store
from threadwise.state.store import Acquire
from store_cases import LEASE, START, TTL, clock, make_store  # noqa: F401  (fixtures)

REPLY = "1700000000.000100"


@pytest.fixture
def claims(make_store, clock) -> store.Store:
    return make_store(now=clock)


def _answering(claims, owner="w1") -> None:
    claims.create_claim("Ev1", TTL)
    claims.acquire("Ev1", owner, LEASE, TTL)
    claims.set_reply("Ev1", owner, REPLY)


def test_a_handed_off_answer_is_not_answered_again_by_its_question(claims, clock):
    _answering(claims)
    assert claims.hand_off("Ev1", "w1")
    handed = claims.get("Ev1")
    assert (handed.status, handed.reply_ts, handed.lease_until) == ("delivering", REPLY, START)
    clock.advance(LEASE * 10)  # however late the question comes again
    got = claims.acquire("Ev1", "w2", LEASE, TTL)
    assert got.outcome == Acquire.DELIVERING == "delivering"
    assert claims.get("Ev1") == handed, "nothing changed"


def test_the_delivery_job_takes_the_claim_and_finishes_it(claims, clock):
    _answering(claims)
    claims.hand_off("Ev1", "w1")
    clock.advance(3)
    got = claims.acquire_delivery("Ev1", "d1", "w1", LEASE, TTL)
    assert got.outcome == Acquire.ACQUIRED
    assert (got.claim.status, got.claim.owner, got.claim.lease_until, got.claim.reply_ts, got.claim.attempts) == (
        "delivering", "d1", clock.now + LEASE, REPLY, 1)
    assert claims.renew("Ev1", "d1", LEASE)
    assert not claims.finish("Ev1", "w1"), "the worker that handed it on has nothing more to say"
    assert claims.finish("Ev1", "d1")
    assert claims.get("Ev1").status == "answered"
    assert claims.acquire_delivery("Ev1", "d2", "w1", LEASE, TTL).outcome == Acquire.ANSWERED
    assert claims.acquire("Ev1", "w3", LEASE, TTL).outcome == Acquire.ANSWERED


def test_a_delivery_job_faster_than_the_hand_off_mark_takes_the_claim_from_its_named_owner(claims):
    _answering(claims)  # w1 published the job and has not marked the claim yet: its lease is live
    assert claims.acquire_delivery("Ev1", "d1", "w1", LEASE, TTL).outcome == Acquire.ACQUIRED
    assert not claims.hand_off("Ev1", "w1"), "the late mark changes nothing"
    assert (claims.get("Ev1").status, claims.get("Ev1").owner) == ("delivering", "d1")


def test_a_delivery_job_waits_for_any_other_live_owner(claims, clock):
    _answering(claims, owner="w2")  # (a regeneration owns it, not the worker the job names)
    assert claims.acquire_delivery("Ev1", "d1", "w1", LEASE, TTL).outcome == Acquire.BUSY
    claims.hand_off("Ev1", "w2")
    assert claims.acquire_delivery("Ev1", "d1", "w1", LEASE, TTL).outcome == Acquire.ACQUIRED
    # A duplicate of the delivery job while d1 writes: busy, until d1's lease lapses (d1 died).
    assert claims.acquire_delivery("Ev1", "d2", "w1", LEASE, TTL).outcome == Acquire.BUSY
    clock.advance(LEASE)
    assert claims.acquire_delivery("Ev1", "d2", "w1", LEASE, TTL).outcome == Acquire.ACQUIRED


def test_a_delivery_handed_back_is_taken_again_by_its_redelivery(claims):
    _answering(claims)
    claims.hand_off("Ev1", "w1")
    claims.acquire_delivery("Ev1", "d1", "w1", LEASE, TTL)
    assert claims.hand_off("Ev1", "d1"), "Slack still refused: d1 lets go of it"
    assert claims.acquire("Ev1", "w2", LEASE, TTL).outcome == Acquire.DELIVERING
    assert claims.acquire_delivery("Ev1", "d2", "w1", LEASE, TTL).outcome == Acquire.ACQUIRED


def test_a_delivery_job_for_an_expired_claim_still_delivers(claims, clock):
    got = claims.acquire_delivery("Ev9", "d1", "w1", LEASE, TTL)
    assert got.outcome == Acquire.ACQUIRED
    assert (got.claim.status, got.claim.owner, got.claim.expires_at) == ("delivering", "d1", START + TTL)
    assert claims.finish("Ev9", "d1")
