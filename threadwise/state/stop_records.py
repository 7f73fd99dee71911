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

import enum
from dataclasses import dataclass
from typing import Protocol


class StopReason(str, enum.Enum):
    """Why an answer stops. The values are contracts: a stop record stores them as they are (a
    process running the previous release reads them during a deploy), and a stopped reply's
    metadata carries them as ``reason``."""

    STOPPED = "stopped"  # a person's Stop (the shortcut, the button, or Slack's own stop on a stream)
    SUPERSEDED = "superseded"  # a newer question in the thread
    DELETED = "deleted"  # the reply is gone (Delete, or found missing)
    TAKEN_OVER = "taken_over"  # the claim's lease was lost: another worker owns the answer

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, text: object) -> "StopReason":
        """A reason read back from a stop record or a reply's metadata. A word this release does
        not know (a newer release's) reads as a person's Stop, as it always did."""
        try:
            return cls(text)
        except ValueError:
            return cls.STOPPED


@dataclass(frozen=True)
class StopSignal:
    """Why an answer stops, and who stopped it."""

    reason: StopReason
    stopped_by: str | None = None


class StopRecords(Protocol):
    """The store's half: ids and reasons, never text."""

    def request_stop(self, key: str, reason: StopReason, stopped_by: str, ttl: float) -> None: ...
    def requested_stops(self, keys: list[str]) -> dict[str, StopSignal]: ...
    def acknowledge_stop(self, key: str) -> None: ...
    def stop_acknowledged(self, key: str) -> bool: ...
