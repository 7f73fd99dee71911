"""A lease whose renewals fail past its expiry counts as lost (issue 13, "done means landed"), in-process:
jobs.Lease over a real SqliteStore whose renewals cannot reach the store, on a clock the test moves."""
from __future__ import annotations

import threading
import time

import pytest

from threadwise.runtime import answer_services
from inprocess import ask_in, claims, clock, eventually, gateway, practice_settings  # noqa: F401  (fixtures)
from threadwise.handoff.claims import ClaimedAnswers, JobOutcome, Lease
from threadwise.state.sqlite import SqliteStore

pytestmark = pytest.mark.in_process

TTL = 3600.0
LEASE = 0.3  # renewals every 0.1 s of real time


class StoreUnreachable(ConnectionError):
    pass


class UnreachableRenewals(SqliteStore):
    """The same claims file, but this worker's renewals do not get through (a network fault between it
    and the store) until ``reachable`` is set; ``renewals`` counts the attempts."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reachable = threading.Event()
        self.renewals = 0

    def renew(self, event_id: str, owner: str, lease: float) -> bool:
        self.renewals += 1
        if not self.reachable.is_set():
            raise StoreUnreachable("claims store unreachable")
        return super().renew(event_id, owner, lease)


class Monotonic:
    """The lease's own clock (time.monotonic in production), moved by the test."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def unreachable(tmp_path, clock):
    return UnreachableRenewals(str(tmp_path / "claims.sqlite3"), now=clock)


def _lease_thread_ended(event_id: str) -> bool:
    return not [t for t in threading.enumerate() if t.name == f"lease-{event_id}"]


def test_renewals_failing_until_the_lease_runs_out_lose_it_for_good(unreachable, caplog):
    unreachable.acquire("Ev1", "w1", LEASE, TTL)
    mono = Monotonic()
    lease = Lease(unreachable, "Ev1", "w1", LEASE, since=mono.now, clock=mono)
    try:
        assert eventually(lambda: unreachable.renewals >= 2), "it keeps trying after a failure"
        mono.now += LEASE - 0.01
        assert lease.held(), "a hiccup shorter than the lease is not a lost lease"
        mono.now += 0.01
        assert lease.held() is False, "past the lease's expiry with no renewal: lost at once"
        assert eventually(lambda: _lease_thread_ended("Ev1")), "and the renewals stop"
        assert any(r.getMessage() == "lease ran out without a confirmed renewal; counted as lost"
                   for r in caplog.records)
        unreachable.reachable.set()  # the store is back: too late, someone else may own the claim now
        mono.now = 100.0
        assert lease.held() is False, "a lost lease stays lost"
    finally:
        lease.release()


def test_a_renewal_after_failures_extends_the_lease_from_its_own_time(unreachable):
    unreachable.acquire("Ev2", "w1", LEASE, TTL)
    mono = Monotonic()
    lease = Lease(unreachable, "Ev2", "w1", LEASE, since=mono.now, clock=mono)
    try:
        assert eventually(lambda: unreachable.renewals >= 2)
        mono.now += 0.2
        unreachable.reachable.set()
        seen = unreachable.renewals
        assert eventually(lambda: unreachable.renewals >= seen + 2), "renewed since the store came back"
        mono.now += 0.25  # past the first lease's end (100.3), within the renewed one (100.5)
        assert lease.held()
    finally:
        lease.release()


def test_a_renewal_confirmed_only_after_the_lease_ran_out_comes_too_late(tmp_path, clock):
    entered, answer = threading.Event(), threading.Event()

    class SlowStore(SqliteStore):
        def renew(self, event_id, owner, lease):
            entered.set()
            answer.wait(5)  # the store's answer takes longer than the lease
            return super().renew(event_id, owner, lease)

    store = SlowStore(str(tmp_path / "slow.sqlite3"), now=clock)
    store.acquire("Ev3", "w1", LEASE, TTL)
    mono = Monotonic()
    lease = Lease(store, "Ev3", "w1", LEASE, since=mono.now, clock=mono)
    try:
        assert entered.wait(5)
        mono.now += LEASE
        assert lease.held() is False, "while the renewal hangs, the lease runs out"
        answer.set()
        assert eventually(lambda: _lease_thread_ended("Ev3"))
        assert lease.held() is False, "the late confirmation does not bring it back"
    finally:
        answer.set()
        lease.release()


def test_a_worker_cut_off_from_the_store_never_writes_the_reply_its_successor_writes(
        slack, channel, gateway, claims, clock, tmp_path):
    """Worker A posts its placeholder, then loses the store; its lease runs out and worker B takes the
    answer over. A, resuming its work, writes nothing to the reply B is answering in."""
    settings = practice_settings(slack)
    cut_off = UnreachableRenewals(str(tmp_path / "claims.sqlite3"), now=clock)  # (the same file as `claims`)
    worker_a = ClaimedAnswers(cut_off, answer_services(settings, gateway, "You are a test."),
                              lease_seconds=LEASE, claim_ttl=TTL)
    worker_b = ClaimedAnswers(claims, answer_services(settings, gateway, "You are a test."),
                              lease_seconds=30, claim_ttl=TTL)
    ask = ask_in(slack, channel)
    opened = worker_a.open(ask)
    reply_ts = opened.opened.placeholder_ts
    # Its third renewal in a row fails a whole lease after the acquire: A's lease ran out unrenewed.
    assert eventually(lambda: cut_off.renewals >= 3, timeout=2)
    clock.advance(1)  # in the store's time too: B may take the claim now
    assert worker_b.answer(ask) == JobOutcome.ANSWERED
    assert "What is a mutant?" in slack.get(channel, reply_ts)["text"]
    written_by_b = len(slack.calls)
    outcome = worker_a.complete(opened)
    assert [c.method for c in slack.calls[written_by_b:] if c.method.startswith("chat.")] == [], "A wrote"
    assert outcome == JobOutcome.TAKEN_OVER
    claim = claims.get(ask.event_id)
    assert (claim.status, claim.reply_ts, claim.attempts) == ("answered", reply_ts, 2)


def test_a_final_slack_refuses_is_not_retried_past_the_lease(slack, channel, gateway, claims, clock, tmp_path):
    """Retrying a refused final text once the lease is gone would race the new owner: it stops then,
    not at the job's deadline, and hands nothing on (the new owner writes the answer)."""
    handed = []
    cut_off = UnreachableRenewals(str(tmp_path / "claims.sqlite3"), now=clock)
    worker = ClaimedAnswers(cut_off, answer_services(practice_settings(slack), gateway, "You are a test."),
                            lease_seconds=LEASE, claim_ttl=TTL, hand_on=handed.append)
    ask = ask_in(slack, channel)
    slack.rate_limit_next("chat.update", count=1000, retry_after=1)
    try:
        assert worker.answer(ask, give_up_at=time.monotonic() + 30) == JobOutcome.TAKEN_OVER
    finally:
        slack.rate_limit_next("chat.update", count=0)
    refused = [c for c in slack.calls_of("chat.update") if c.params.get("channel") == channel and c.status == 429]
    assert 1 <= len(refused) <= 3, f"{len(refused)} tries: it went on after its lease ran out (about one a second)"
    assert handed == []
    assert claims.get(ask.event_id).status == "answering"
