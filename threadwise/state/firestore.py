"""Claims in Firestore: the production backend (``STORE=firestore``), shared by every instance.

One document per event in the collection (default ``threadwise_claims``),
named after the event id (escaped, see ``firestore_documents.document_id``).

Every change is read, decide, write-if-unchanged: a new claim is written with
``create()``, which fails if the document exists, and a change to an existing
one with ``update()`` on the precondition that the document's ``update_time``
is still the one read. So when duplicates race, exactly one write lands; the
others fail at once, read again and see the winner's claim ("busy").

Why not ``@firestore.transactional``: in the emulator, read-write transactions
colliding on one document all wait for its 2 s lock timeout and all abort, and
the retries collide again (20 duplicates took over 60 s now and then). The
preconditions need no locks, behave the same in the emulator and in
production, and settle 20 duplicates in a fraction of a second.

Expiry: ``expires_at`` is a Firestore timestamp so that a TTL policy can delete
old claims. Production relies on that policy, created once per project:

    gcloud firestore fields ttls update expires_at \\
        --collection-group=threadwise_claims --enable-ttl

TTL deletion runs within about a day, not at once, so reads treat a claim past
``expires_at`` as absent. ``purge_expired`` exists for the emulator and tests,
which have no TTL policies.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from threadwise.state.budget import FirestoreBudget
from threadwise.state.claim_transitions import T, Transition, TransitionStore, creating
from threadwise.state.firestore_documents import document_id, timestamp
from threadwise.state.stops import FirestoreStopRecords
from threadwise.state.store import Claim, ClaimStatus, Clock
from threadwise.state.usage_ledger import FirestoreUsageLedger

DEFAULT_COLLECTION = "threadwise_claims"
MAX_COLLISIONS = 100  # each collision means another writer succeeded; this bound is never reached in practice


class FirestoreStore(FirestoreStopRecords, FirestoreBudget, FirestoreUsageLedger, TransitionStore):
    def __init__(self, collection: str = DEFAULT_COLLECTION, project: str | None = None,
                 now: Clock = time.time, client: Any = None):
        # Imported here, not at the top, for cold-start cost only: the backends registry
        # (backends.py) imports this module whatever STORE says, and google.cloud takes
        # a while to import; processes that never use Firestore never pay for it.
        from google.api_core import exceptions
        from google.cloud import firestore

        self._firestore = firestore
        self._exceptions = exceptions
        self._client = client if client is not None else firestore.Client(project=project)
        self._collection = self._client.collection(collection)
        self._now = now

    def create_claim(self, event_id: str, ttl: float) -> bool:
        claim, _ = creating(event_id, ttl, self._now())(None)
        try:
            self._ref(event_id).create(_fields(claim))  # the usual case: a new event
            return True
        except self._exceptions.AlreadyExists:
            # Usually a live claim, but an expired one counts as absent.
            return self._change(event_id, lambda now: creating(event_id, ttl, now))

    def get(self, event_id: str) -> Claim | None:
        return _live(self._ref(event_id).get(), self._now())

    def purge_expired(self) -> int:
        """Delete expired claims. For the emulator and tests: production has the TTL policy."""
        expired = self._collection.where(
            filter=self._firestore.FieldFilter("expires_at", "<=", timestamp(self._now())))
        deleted = 0
        for snapshot in expired.stream():
            try:
                # Only if unchanged: a claim replaced since the query is live again.
                snapshot.reference.delete(option=self._client.write_option(last_update_time=snapshot.update_time))
                deleted += 1
            except (self._exceptions.FailedPrecondition, self._exceptions.NotFound):
                pass
        return deleted

    def close(self) -> None:
        self._client.close()

    def _ref(self, event_id: str):
        return self._collection.document(document_id(event_id))

    def _change(self, event_id: str, decide: Callable[[float], Transition[T]]) -> T:
        """Read, decide, and write only if nobody wrote in between; else decide again."""
        ref = self._ref(event_id)
        for _ in range(MAX_COLLISIONS):
            now = self._now()
            snapshot = ref.get()
            new, result = decide(now)(_live(snapshot, now))
            if new is None:
                return result  # nothing to change ("busy", "answered", not the owner): the read is the answer
            try:
                if snapshot.exists:
                    unchanged = self._client.write_option(last_update_time=snapshot.update_time)
                    ref.update(_fields(new), option=unchanged)
                else:
                    ref.create(_fields(new))
                return result
            except (self._exceptions.AlreadyExists, self._exceptions.FailedPrecondition,
                    self._exceptions.NotFound):
                continue  # another writer was first, so progress was made: look again
        raise RuntimeError(f"claim {event_id!r} kept changing under us {MAX_COLLISIONS} times")


def _fields(claim: Claim) -> dict[str, Any]:
    return {
        "event_id": claim.event_id,
        "status": claim.status.value,  # the word, as every release reads it
        "reply_ts": claim.reply_ts,
        "owner": claim.owner,
        "lease_until": claim.lease_until,
        "expires_at": timestamp(claim.expires_at),  # a timestamp, for the TTL policy
        "attempts": claim.attempts,
    }


def _live(snapshot, now: float) -> Claim | None:
    """The claim in a snapshot; None when there is none or it expired (it counts as absent)."""
    if not snapshot.exists:
        return None
    data = snapshot.to_dict()
    claim = Claim(
        event_id=data["event_id"],
        status=ClaimStatus(data["status"]),
        reply_ts=data.get("reply_ts"),
        owner=data.get("owner"),
        lease_until=float(data["lease_until"]),
        expires_at=data["expires_at"].timestamp(),
        attempts=int(data["attempts"]),
    )
    return None if claim.expired(now) else claim
