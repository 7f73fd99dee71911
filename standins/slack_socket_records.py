"""What FakeSocketMode records (envelopes sent, acknowledgements received, connections) and the
test side's reading of it: look-ups, and waits that wake when the records change.

Mixed into ``FakeSocketMode`` (``slack_socket_mode.py``), whose condition ``_changed`` guards the
records and is notified (``_notify``) on every change. Standard library and ``websockets`` only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from websockets.sync.server import ServerConnection


@dataclass
class Sent:
    """One envelope as the server sent it."""

    envelope: dict
    at: float
    connection: int  # Connection.number it went out on

    @property
    def envelope_id(self) -> str:
        return self.envelope["envelope_id"]


@dataclass
class Ack:
    """One acknowledgement as the server received it."""

    envelope_id: str | None
    payload: Any
    at: float
    connection: int
    known: bool  # the envelope_id names an envelope this server sent


@dataclass
class Connection:
    number: int
    websocket: ServerConnection
    closing: bool = False  # a disconnect was sent; nothing more is delivered on it


class SocketModeRecords:
    # ---------------------------------------------------------- records
    @property
    def open_connections(self) -> int:
        with self._changed:
            return sum(1 for c in self._connections if not c.closing)

    def wait_for_connections(self, count: int = 1, timeout: float = 30, *, opened_at_least: int = 0) -> None:
        """Until ``count`` connections are open (hello sent) and ``opened_at_least`` were ever opened."""
        self._wait(lambda: self.open_connections >= count and self.connections_opened >= opened_at_least,
                   timeout, f"{count} open connection(s), {opened_at_least} opened in all")

    def ack_for(self, envelope_id: str) -> Ack | None:
        with self._changed:
            return next((a for a in self.acks if a.envelope_id == envelope_id), None)

    def wait_for_ack(self, envelope_id: str, timeout: float = 10) -> Ack:
        self._wait(lambda: self.ack_for(envelope_id) is not None, timeout, f"the ack of {envelope_id}")
        return self.ack_for(envelope_id)

    def sent_of(self, envelope_id: str) -> Sent | None:
        with self._changed:
            return next((s for s in self.sent if s.envelope_id == envelope_id), None)

    def redeliveries_of(self, envelope_id: str) -> list[dict]:
        """The envelopes that re-sent ``envelope_id``'s payload because it was not acknowledged."""
        with self._changed:
            return [s.envelope for s in self.sent if self._first_delivery.get(s.envelope_id) == envelope_id]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10, what: str = "") -> Any:
        """Until ``predicate()`` is truthy (checked whenever the server's records change); returns it."""
        return self._wait(predicate, timeout, what or getattr(predicate, "__name__", "condition"))

    def _wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        # The predicate runs without this server's lock: a test's predicate may take FakeSlack's,
        # whose apps.connections.open takes this one.
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                seen = self._version
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"FakeSocketMode: timed out after {timeout}s waiting for {what}; "
                                     f"{self.connections_opened} connections opened, {len(self.sent)} "
                                     f"envelopes sent, {len(self.acks)} acks")
            with self._changed:
                if self._version == seen:
                    self._changed.wait(timeout=min(left, 0.5))

    def _notify(self) -> None:
        """Under the lock: something a waiter may be waiting for changed."""
        self._version += 1
        self._changed.notify_all()
