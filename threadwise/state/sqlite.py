"""Claims in a local SQLite file: the embedded default (``STORE=sqlite``).

Safe across threads and across processes sharing the file: every change is a
read-decide-write inside ``BEGIN IMMEDIATE``, which takes the database's write
lock before reading, so two writers never decide on the same old row. WAL lets
readers go on meanwhile, and the busy timeout makes a writer wait for the lock
instead of failing. A connection is opened per call: nothing is shared between
threads, and nothing survives a fork.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import closing
from typing import Callable

from threadwise.state.budget import SQLITE_SCHEMA as BUDGET_SCHEMA, SqliteBudget
from threadwise.state.claim_transitions import T, Transition, TransitionStore, creating
from threadwise.state.sqlite_transactions import immediate
from threadwise.state.stops import SQLITE_SCHEMA as STOPS_SCHEMA, SqliteStopRecords
from threadwise.state.store import Claim, ClaimStatus, Clock
from threadwise.state.usage_ledger import SQLITE_SCHEMA as USAGE_SCHEMA, SqliteUsageLedger

BUSY_TIMEOUT = 30.0  # seconds a writer waits for the lock before giving up
PURGE_EVERY = 100  # create_claim calls between opportunistic purges

_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    event_id    TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    reply_ts    TEXT,
    owner       TEXT,
    lease_until REAL NOT NULL,
    expires_at  REAL NOT NULL,
    attempts    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_expires_at ON claims (expires_at);
"""
_COLUMNS = "event_id, status, reply_ts, owner, lease_until, expires_at, attempts"


class SqliteStore(SqliteStopRecords, SqliteBudget, SqliteUsageLedger, TransitionStore):
    def __init__(self, path: str, now: Clock = time.time, busy_timeout: float = BUSY_TIMEOUT):
        self._path = path
        self._now = now
        self._busy_timeout = busy_timeout
        self._creates = 0
        self._lock = threading.Lock()
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with closing(self._connect()) as db:
            # Switching to WAL needs a moment alone with the file; the busy
            # timeout covers other processes opening it at the same time.
            # No mutation: SQLite reads pragma names and values in any case (mutmut changes the case).
            db.execute("PRAGMA journal_mode=WAL")  # pragma: no mutate
            with immediate(db):
                for statement in (_SCHEMA + ";" + STOPS_SCHEMA + ";" + BUDGET_SCHEMA + ";" + USAGE_SCHEMA).split(";"):
                    if statement.strip():
                        db.execute(statement)

    def create_claim(self, event_id: str, ttl: float) -> bool:
        with self._lock:
            self._creates += 1
            purge = self._creates % PURGE_EVERY == 0
        if purge:
            self.purge_expired()
        return self._change(event_id, lambda now: creating(event_id, ttl, now))

    def get(self, event_id: str) -> Claim | None:
        _require_id(event_id)
        with closing(self._connect()) as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM claims WHERE event_id = ?", (event_id,)).fetchone()
        claim = _claim(row) if row else None
        return None if claim is None or claim.expired(self._now()) else claim

    def purge_expired(self) -> int:
        with closing(self._connect()) as db, immediate(db):
            # No mutation: SQL keywords and names are read in any case (mutmut changes the case).
            return db.execute("DELETE FROM claims WHERE expires_at <= ?", (self._now(),)).rowcount  # pragma: no mutate

    def close(self) -> None:
        """Nothing stays open between calls."""

    def _change(self, event_id: str, decide: Callable[[float], Transition[T]]) -> T:
        _require_id(event_id)
        with closing(self._connect()) as db, immediate(db):
            now = self._now()  # read once the lock is ours: waiting for it may take a while
            row = db.execute(f"SELECT {_COLUMNS} FROM claims WHERE event_id = ?", (event_id,)).fetchone()
            current = _claim(row) if row else None
            if current is not None and current.expired(now):
                current = None  # an expired claim counts as absent and is replaced
            new, result = decide(now)(current)
            if new is not None:
                db.execute(f"INSERT OR REPLACE INTO claims ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (new.event_id, new.status.value, new.reply_ts, new.owner, new.lease_until,
                            new.expires_at, new.attempts))
            return result

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so it can be IMMEDIATE.
        db = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)
        # Durable enough in WAL mode, and much faster. (No mutation: pragmas are read in any case.)
        db.execute("PRAGMA synchronous=NORMAL")  # pragma: no mutate
        return db


def _claim(row: tuple) -> Claim:
    """A row as a claim: its status is stored as ``ClaimStatus``'s value."""
    event_id, status, *rest = row
    return Claim(event_id, ClaimStatus(status), *rest)


def _require_id(event_id: str) -> None:
    if not event_id:
        raise ValueError("event_id must not be empty")
