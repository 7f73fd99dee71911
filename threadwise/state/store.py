"""What the rest of the bot asks of a store, and the typed values it gets back.

The interface sits below its implementations: ``sqlite.py`` and ``firestore.py``
implement ``Store``, ``backends.py`` names them for ``STORE``, and the rooms
above import only this module (handoff's claims), ``stop_records.py``
(answering's stop signals) or ``usage_records.py`` (the usage ledger's
entries). How a claim moves between its states: ``claim_transitions.py``.
Only ids, reasons, names and numbers are stored, never a message text or a
secret.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Protocol

from threadwise.state.stop_records import StopRecords
from threadwise.state.usage_records import UsageLedger

Clock = Callable[[], float]


class ClaimStatus(str, enum.Enum):
    """Where a claim is (``claim_transitions.py`` moves it). Stored as its value: a process of the
    previous release reads the same rows and documents during a deploy."""

    QUEUED = "queued"  # created by the HTTP handler; no worker yet
    ANSWERING = "answering"  # a worker holds it (owner + lease)
    DELIVERING = "delivering"  # written; its final text is on its way in a delivery job
    ANSWERED = "answered"  # done

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Claim:
    event_id: str
    status: ClaimStatus
    reply_ts: str | None  # the bot's reply (placeholder) once posted
    owner: str | None  # worker holding the lease while answering
    lease_until: float  # epoch seconds; an "answering" claim past its lease belongs to nobody
    expires_at: float  # epoch seconds; after this the claim is gone
    attempts: int  # how many times a worker acquired it

    def expired(self, now: float) -> bool:
        return self.expires_at <= now

    def held_by(self, owner: str) -> bool:
        return self.status in (ClaimStatus.ANSWERING, ClaimStatus.DELIVERING) and self.owner == owner

    def live(self, now: float) -> bool:
        return self.status in (ClaimStatus.ANSWERING, ClaimStatus.DELIVERING) and self.lease_until > now


class Acquire(str, enum.Enum):
    ACQUIRED = "acquired"  # go ahead and answer (resume ``claim.reply_ts`` if set)
    ANSWERED = "answered"  # already done: do nothing
    BUSY = "busy"  # another worker holds a live lease: do nothing now
    DELIVERING = "delivering"  # the answer is written; a delivery job brings its final text: do nothing

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Acquired:
    outcome: Acquire
    claim: Claim | None


class Store(StopRecords, UsageLedger, Protocol):
    """Event claims (exactly-once answers, ``claim_transitions.py``), stop records
    (``stop_records.py``), the shared token buckets (``budget.py``), and the usage ledger
    (``usage_records.py``)."""

    def create_claim(self, event_id: str, ttl: float) -> bool: ...
    def acquire(self, event_id: str, owner: str, lease: float, ttl: float) -> Acquired: ...
    def set_reply(self, event_id: str, owner: str, reply_ts: str) -> bool: ...
    def renew(self, event_id: str, owner: str, lease: float) -> bool: ...
    def finish(self, event_id: str, owner: str) -> bool: ...
    def hand_off(self, event_id: str, owner: str) -> bool: ...
    def acquire_delivery(self, event_id: str, owner: str, handed_off_by: str, lease: float,
                         ttl: float) -> Acquired: ...
    def get(self, event_id: str) -> Claim | None: ...
    def purge_expired(self) -> int: ...
    def close(self) -> None: ...
    # Shared token buckets: Slack's workspace-wide budget, leased by every instance.
    def lease_tokens(self, name: str, want: int, per_second: float, capacity: float) -> int: ...
