"""Event claims, for exactly-once answers: how a claim moves from state to state.

Slack retries an event it thinks was lost, may deliver the same event twice,
and Pub/Sub redelivers a job whose worker died. A *claim* keyed by Slack's
``event_id`` makes sure one answer comes out of all that:

    create_claim        the HTTP handler, before dispatching: True only once
    acquire             the worker, before answering: "acquired", "busy" or "answered"
    set_reply / renew   the worker while answering: False means "stop, someone else has it"
    finish              the worker, after the final text landed
    hand_off            the worker, when Slack refused the final text until it had to stop:
                        the text went on in a delivery job (``final_jobs``), not into the store
    acquire_delivery    the worker that received that job, before writing the final text

States: absent → ``queued`` → ``answering`` (owner + lease) → ``answered``, or
``answering`` → ``delivering`` (the answer is written, its final text is on its
way in a delivery job) → ``answered``. A question job finding ``delivering``
does nothing: the answer is not generated (and paid for) twice.
A worker that dies leaves an ``answering`` claim whose lease runs out; the next
``acquire`` takes it over and gets the ``reply_ts`` already posted, so the
redelivery resumes that message instead of posting a second one. Every claim
expires after its TTL, after which it counts as absent.

The transitions are pure functions of (claim, now) below; a backend only has to
run them atomically: ``sqlite.py`` (one file, safe across threads and
processes) and ``firestore.py`` (shared by every instance). The claim and the
outcomes are typed values in ``store.py``, with the ``Store`` interface.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, TypeVar

from threadwise.state.store import Acquire, Acquired, Claim, ClaimStatus

T = TypeVar("T")


# A transition sees the current claim (None when absent or expired) and returns
# the claim to write (None: write nothing) and the caller's answer.
Transition = Callable[[Claim | None], tuple[Claim | None, T]]


def creating(event_id: str, ttl: float, now: float) -> Transition[bool]:
    def step(current: Claim | None) -> tuple[Claim | None, bool]:
        if current is not None:
            return None, False
        return Claim(event_id, ClaimStatus.QUEUED, None, None, 0.0, now + ttl, 0), True

    return step


def acquiring(event_id: str, owner: str, lease: float, ttl: float, now: float) -> Transition[Acquired]:
    def step(current: Claim | None) -> tuple[Claim | None, Acquired]:
        if current is None:
            claim = Claim(event_id, ClaimStatus.ANSWERING, None, owner, now + lease, now + max(ttl, lease), 1)
            return claim, Acquired(Acquire.ACQUIRED, claim)
        if current.status is ClaimStatus.ANSWERED:
            return None, Acquired(Acquire.ANSWERED, current)
        if current.status is ClaimStatus.DELIVERING:
            return None, Acquired(Acquire.DELIVERING, current)
        live = current.status is ClaimStatus.ANSWERING and current.lease_until > now
        if live and current.owner != owner:
            return None, Acquired(Acquire.BUSY, current)
        # Queued, a lapsed lease (the worker died), or our own lease: take it.
        # Re-acquiring one's own live lease is not a new attempt.
        attempts = current.attempts if live else current.attempts + 1
        claim = replace(current, status=ClaimStatus.ANSWERING, owner=owner, lease_until=now + lease,
                        expires_at=max(current.expires_at, now + max(ttl, lease)), attempts=attempts)
        return claim, Acquired(Acquire.ACQUIRED, claim)

    return step


# An owner whose lease lapsed but whom nobody has taken over yet still holds the
# claim: every change is atomic, so a takeover is seen as a changed owner.
def replying(owner: str, reply_ts: str) -> Transition[bool]:
    def step(current: Claim | None) -> tuple[Claim | None, bool]:
        if current is None or not current.held_by(owner):
            return None, False
        return replace(current, reply_ts=reply_ts), True

    return step


def renewing(owner: str, lease: float, now: float) -> Transition[bool]:
    def step(current: Claim | None) -> tuple[Claim | None, bool]:
        if current is None or not current.held_by(owner):
            return None, False
        until = now + lease
        return replace(current, lease_until=until, expires_at=max(current.expires_at, until)), True

    return step


def finishing(owner: str) -> Transition[bool]:
    def step(current: Claim | None) -> tuple[Claim | None, bool]:
        if current is not None and current.status is ClaimStatus.ANSWERED and current.owner == owner:
            return None, True  # finishing twice is fine
        if current is None or not current.held_by(owner):
            return None, False
        return replace(current, status=ClaimStatus.ANSWERED), True

    return step


def handing_off(owner: str, now: float) -> Transition[bool]:
    """The owner gives the answer up to its delivery job: nobody holds it until that job takes it."""
    def step(current: Claim | None) -> tuple[Claim | None, bool]:
        if current is None or not current.held_by(owner):
            return None, False
        return replace(current, status=ClaimStatus.DELIVERING, lease_until=now), True

    return step


def acquiring_delivery(event_id: str, owner: str, handed_off_by: str, lease: float, ttl: float,
                       now: float) -> Transition[Acquired]:
    """The worker with a delivery job takes the claim, also from the worker that handed the job on
    if that one has not marked the hand-off yet: having published the job, it writes nothing more."""
    def step(current: Claim | None) -> tuple[Claim | None, Acquired]:
        if current is None:  # past its TTL: the final text still belongs in the reply
            claim = Claim(event_id, ClaimStatus.DELIVERING, None, owner, now + lease, now + max(ttl, lease), 1)
            return claim, Acquired(Acquire.ACQUIRED, claim)
        if current.status is ClaimStatus.ANSWERED:
            return None, Acquired(Acquire.ANSWERED, current)
        if current.live(now) and current.owner not in (owner, handed_off_by):
            return None, Acquired(Acquire.BUSY, current)
        claim = replace(current, status=ClaimStatus.DELIVERING, owner=owner, lease_until=now + lease,
                        expires_at=max(current.expires_at, now + max(ttl, lease)))
        return claim, Acquired(Acquire.ACQUIRED, claim)

    return step


class TransitionStore:
    """The shared half of both backends: each change is one transition above, run
    atomically by the backend's ``_change(event_id, decide)``."""

    def _change(self, event_id: str, decide: Callable[[float], "Transition[T]"]) -> T:
        raise NotImplementedError

    def acquire(self, event_id: str, owner: str, lease: float, ttl: float) -> Acquired:
        return self._change(event_id, lambda now: acquiring(event_id, owner, lease, ttl, now))

    def set_reply(self, event_id: str, owner: str, reply_ts: str) -> bool:
        return self._change(event_id, lambda now: replying(owner, reply_ts))

    def renew(self, event_id: str, owner: str, lease: float) -> bool:
        return self._change(event_id, lambda now: renewing(owner, lease, now))

    def finish(self, event_id: str, owner: str) -> bool:
        return self._change(event_id, lambda now: finishing(owner))

    def hand_off(self, event_id: str, owner: str) -> bool:
        return self._change(event_id, lambda now: handing_off(owner, now))

    def acquire_delivery(self, event_id: str, owner: str, handed_off_by: str, lease: float, ttl: float) -> Acquired:
        return self._change(event_id, lambda now: acquiring_delivery(event_id, owner, handed_off_by, lease, ttl, now))
