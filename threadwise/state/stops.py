"""Stop records in both store backends: "stop the answer to this question", for another process.

A Stop handled in one process reaches an answer running in another (a Pub/Sub
worker, another instance) through one small record per answer, keyed by
``answering.signals.answer_key`` (channel and question ts): the reason, who
stopped it, and whether the process running the answer acknowledged it. Ids
and reasons only, never a message text. A reason is stored as its word
(``StopReason``'s value), so a process of the previous release reads the same
records during a deploy. The record reads back as a ``StopSignal``; who writes
and watches the records: ``answering/signals.py``.
"""
from __future__ import annotations

from contextlib import closing

from threadwise.state.firestore_documents import document_id, timestamp
from threadwise.state.stop_records import StopReason, StopSignal

# Created with the claims table (sqlite.py).
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS stops (
    key          TEXT PRIMARY KEY,
    reason       TEXT NOT NULL,
    stopped_by   TEXT NOT NULL,
    acknowledged INTEGER NOT NULL,
    expires_at   REAL NOT NULL
)
"""
_IN_ONE_READ = 100  # keys per batched read (SQLite's variable limit and Firestore's get_all stay far off)


class SqliteStopRecords:
    """Mixed into ``SqliteStore``: needs its ``_connect`` and ``_now``."""

    def request_stop(self, key: str, reason: StopReason, stopped_by: str, ttl: float) -> None:
        with closing(self._connect()) as db:
            # The first request wins (a Stop after a supersede keeps "superseded"); a late one still counts.
            db.execute("INSERT OR IGNORE INTO stops VALUES (?, ?, ?, 0, ?)",
                       (key, reason.value, stopped_by, self._now() + ttl))

    def requested_stops(self, keys: list[str]) -> dict[str, StopSignal]:
        found: dict[str, StopSignal] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(keys), _IN_ONE_READ):
                chunk = keys[start:start + _IN_ONE_READ]
                rows = db.execute(
                    f"SELECT key, reason, stopped_by FROM stops WHERE acknowledged = 0 AND expires_at > ? "
                    f"AND key IN ({','.join('?' * len(chunk))})", (self._now(), *chunk)).fetchall()
                found.update({key: StopSignal(StopReason.of(reason), stopped_by or None)
                              for key, reason, stopped_by in rows})
        return found

    def acknowledge_stop(self, key: str) -> None:
        with closing(self._connect()) as db:
            db.execute("UPDATE stops SET acknowledged = 1 WHERE key = ?", (key,))

    def stop_acknowledged(self, key: str) -> bool:
        with closing(self._connect()) as db:
            row = db.execute("SELECT acknowledged FROM stops WHERE key = ?", (key,)).fetchone()
        return bool(row and row[0])


class FirestoreStopRecords:
    """Mixed into ``FirestoreStore``: one small document per stopped answer in ``<collection>_stops``
    (expiring through the same kind of TTL policy as the claims, on ``expires_at``)."""

    def _stops(self):
        return self._client.collection(self._collection.id + "_stops")

    def request_stop(self, key: str, reason: StopReason, stopped_by: str, ttl: float) -> None:
        ref = self._stops().document(document_id(key))
        try:
            ref.create({"key": key, "reason": reason.value, "stopped_by": stopped_by, "acknowledged": False,
                        "expires_at": timestamp(self._now() + ttl)})
        except self._exceptions.AlreadyExists:
            pass  # the first request wins, as in SQLite

    def requested_stops(self, keys: list[str]) -> dict[str, StopSignal]:
        found: dict[str, StopSignal] = {}
        now = self._now()
        for start in range(0, len(keys), _IN_ONE_READ):
            refs = [self._stops().document(document_id(k)) for k in keys[start:start + _IN_ONE_READ]]
            for snapshot in self._client.get_all(refs):
                data = snapshot.to_dict() if snapshot.exists else None
                if data and not data.get("acknowledged") and data["expires_at"].timestamp() > now:
                    found[data["key"]] = StopSignal(StopReason.of(data["reason"]), data.get("stopped_by") or None)
        return found

    def acknowledge_stop(self, key: str) -> None:
        try:
            self._stops().document(document_id(key)).update({"acknowledged": True})
        except self._exceptions.NotFound:
            pass

    def stop_acknowledged(self, key: str) -> bool:
        snapshot = self._stops().document(document_id(key)).get()
        return bool(snapshot.exists and snapshot.to_dict().get("acknowledged"))
