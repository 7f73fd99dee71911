"""Shared token buckets in both store backends: Slack's workspace-wide budget, for every instance.

Slack limits ``chat.update`` and its siblings per workspace, not per process.
With ``DISPATCH=pubsub`` several processes write to Slack at once, and a
budget of their own each (slack/rate_budget.WriteBudget) would let them spend the
workspace's budget several times over. So they lease tokens from one bucket
per method in the store, a few at a time (slack/budget_lease.py): one record per
method, its tokens and when they were counted. Names and numbers only.

The transition is a pure function of (bucket, now), run atomically by each
backend like the claims' transitions (claim_transitions.py): refill at ``per_second`` up
to ``capacity`` since the stamp, grant what is there (whole tokens, at most
``want``), subtract, write.
"""
from __future__ import annotations

import math
from contextlib import closing
from dataclasses import dataclass
from typing import Callable

from threadwise.state.firestore_documents import document_id
from threadwise.state.sqlite_transactions import immediate

# Created with the claims table (sqlite.py).
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name   TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    stamp  REAL NOT NULL
)
"""
MAX_COLLISIONS = 100  # each collision means another instance was granted tokens: progress


@dataclass(frozen=True)
class SharedBucket:
    tokens: float
    stamp: float  # epoch seconds the tokens were counted at


def leasing(want: int, per_second: float, capacity: float,
            now: float) -> Callable[[SharedBucket | None], tuple[SharedBucket | None, int]]:
    """Grant up to ``want`` whole tokens. A bucket nobody used yet is full. Capacity and rate come
    from the caller (what it learned from Slack's 429s), so a smaller capacity also caps what is there."""
    def step(current: SharedBucket | None) -> tuple[SharedBucket | None, int]:
        if current is None:
            tokens, stamp = capacity, now
        else:
            # Instances' clocks differ a little: time never runs backwards for the bucket.
            tokens = min(capacity, current.tokens + max(0.0, now - current.stamp) * per_second)
            stamp = max(current.stamp, now)
        granted = max(0, min(want, math.floor(tokens)))
        if granted == 0 and current is not None:
            return None, 0  # nothing taken: the refill is a function of time, no need to write it
        return SharedBucket(tokens - granted, stamp), granted

    return step


class SqliteBudget:
    """Mixed into ``SqliteStore``: needs its ``_connect`` and ``_now``."""

    def lease_tokens(self, name: str, want: int, per_second: float, capacity: float) -> int:
        with closing(self._connect()) as db, immediate(db):
            now = self._now()  # read once the lock is ours
            row = db.execute("SELECT tokens, stamp FROM buckets WHERE name = ?", (name,)).fetchone()
            new, granted = leasing(want, per_second, capacity, now)(SharedBucket(*row) if row else None)
            if new is not None:
                db.execute("INSERT OR REPLACE INTO buckets (name, tokens, stamp) VALUES (?, ?, ?)",
                           (name, new.tokens, new.stamp))
            return granted


class FirestoreBudget:
    """Mixed into ``FirestoreStore``: one document per method in ``<collection>_budget``, changed by
    read + write-if-unchanged like the claims (firestore.FirestoreStore._change)."""

    def lease_tokens(self, name: str, want: int, per_second: float, capacity: float) -> int:
        ref = self._client.collection(self._collection.id + "_budget").document(document_id(name))
        for _ in range(MAX_COLLISIONS):
            now = self._now()
            snapshot = ref.get()
            data = snapshot.to_dict() if snapshot.exists else None
            current = SharedBucket(float(data["tokens"]), float(data["stamp"])) if data else None
            new, granted = leasing(want, per_second, capacity, now)(current)
            if new is None:
                return granted
            try:
                if snapshot.exists:
                    ref.update({"tokens": new.tokens, "stamp": new.stamp},
                               option=self._client.write_option(last_update_time=snapshot.update_time))
                else:
                    ref.create({"name": name, "tokens": new.tokens, "stamp": new.stamp})
                return granted
            except (self._exceptions.AlreadyExists, self._exceptions.FailedPrecondition,
                    self._exceptions.NotFound):
                continue  # another instance took tokens in between: count again
        raise RuntimeError(f"budget {name!r} kept changing under us {MAX_COLLISIONS} times")
