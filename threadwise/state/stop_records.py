"""What a stop record says, and what a store offers for them: the interface (the SQLite and Firestore
implementations are in ``stops.py``).

A Stop handled in one process reaches an answer another process runs through a
record in the store, keyed by ``answering.signals.answer_key``; answering's
signals (``answering/signals.py``) write and watch them, and hand the same
``StopSignal`` to an answer running in this process.

A module of its own, not in ``store.py``: answering's signals import it at
start-up, and a cold instance should not build the claims' dataclasses to
acknowledge its first event.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StopSignal:
    """Why an answer stops, and who stopped it."""

    reason: str  # "stopped", "superseded", "deleted", "taken_over"
    stopped_by: str | None = None


class StopRecords(Protocol):
    """The store's half: ids and reasons, never text."""

    def request_stop(self, key: str, reason: str, stopped_by: str, ttl: float) -> None: ...
    def requested_stops(self, keys: list[str]) -> dict[str, StopSignal]: ...
    def acknowledge_stop(self, key: str) -> None: ...
    def stop_acknowledged(self, key: str) -> bool: ...
