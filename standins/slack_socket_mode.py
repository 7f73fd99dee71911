"""FakeSocketMode: Slack's Socket Mode (the WebSocket side) on 127.0.0.1, for tests.

Follows https://api.slack.com/apis/socket-mode and /apis/connections/socket-implement:

- ``apps.connections.open`` (served by FakeSlack, which delegates here for the
  app-level tokens attached to it) returns ``ws://127.0.0.1:PORT/link/?ticket=…&app_id=…``;
  each ticket opens one connection.
- On connect the server sends ``hello``; deliveries are envelopes
  (``events_api``, ``interactive``, ``slash_commands``) that the app acknowledges
  with ``{"envelope_id": …}`` (optionally ``payload``).
- An Events API envelope not acknowledged within ``ack_timeout`` is delivered
  again with ``retry_attempt`` + 1 and ``retry_reason`` "timeout", up to
  ``max_retries`` times.
- ``send_disconnect(reason)`` sends ``disconnect`` and closes the socket after
  ``disconnect_grace``; ``drop_connections()`` cuts every socket without a close
  handshake (a TCP reset, or a bare FIN), as a network failure or a crash does.

Every envelope sent and every acknowledgement received is recorded with its
``time.monotonic()``. Where Slack's behaviour is not documented the choice made
here says so. Standard library and ``websockets`` only.

The records and the waits on them are in ``slack_socket_records.py``.
"""
from __future__ import annotations

import itertools
import json
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from .slack_socket_records import Ack, Connection, Sent, SocketModeRecords


@dataclass
class _Pending:
    """An envelope waiting for its acknowledgement (Events API only: those are retried)."""

    envelope: dict
    sent_at: float
    done: bool = False


class FakeSocketMode(SocketModeRecords):
    # Documented: Slack expects the acknowledgement within 3 seconds and retries events up to 3 times.
    ack_timeout = 3.0
    max_retries = 3
    # Documented: a "warning" disconnect comes about 10 seconds before the connection closes;
    # the grace for the other reasons is not documented. Short by default so tests run fast.
    disconnect_grace = 1.0

    def __init__(self, app_token: str = "xapp-1-AAPP-1-test", app_id: str = "AAPP", *,
                 ack_timeout: float | None = None, max_retries: int | None = None,
                 disconnect_grace: float | None = None):
        self.app_token, self.app_id = app_token, app_id
        if ack_timeout is not None:
            self.ack_timeout = ack_timeout
        if max_retries is not None:
            self.max_retries = max_retries
        if disconnect_grace is not None:
            self.disconnect_grace = disconnect_grace
        self.sent: list[Sent] = []
        self.acks: list[Ack] = []
        self.unreadable: list[str] = []      # frames from the app that are not a JSON object
        self.rejected_handshakes = 0          # unknown or already used tickets
        self.expired: list[str] = []          # envelope_ids of last retries never acknowledged: Slack gives up
        self.tickets_issued: list[str] = []
        self.connections_opened = 0           # WebSocket connections accepted
        self._tickets: dict[str, bool] = {}   # ticket -> still unused
        self._connections: list[Connection] = []
        self._undelivered: list[dict] = []    # envelopes waiting for a connection
        self._pending: dict[str, _Pending] = {}
        self._first_delivery: dict[str, str] = {}  # a retry's envelope_id -> the first delivery's
        self._timers: list[threading.Timer] = []
        self._version = 0                     # bumped on every change, for _wait
        self._numbers = itertools.count(1)
        self._next = 0                        # round robin over the open connections
        self._changed = threading.Condition()
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._attached_to = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "FakeSocketMode":
        # Plain frames: slack_sdk's built-in client offers no extension, so none is negotiated anyway.
        self._server = serve(self._serve_connection, "127.0.0.1", 0, process_request=self._check_ticket,
                             compression=None, logger=_quiet_logger())
        self._stopping = False
        for target, name in ((self._server.serve_forever, "FakeSocketMode"), (self._retry_loop, "FakeSocketMode-retries")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.detach()
        with self._changed:
            self._stopping = True
            self._notify()
        for timer in self._timers:
            timer.cancel()
        self._server.shutdown()  # closes open connections (1001 going away) and waits for their handlers
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads, self._server = [], None

    def __enter__(self) -> "FakeSocketMode":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.socket.getsockname()[1]

    def attach(self, slack) -> "FakeSocketMode":
        """Let ``slack`` (a FakeSlack) answer ``apps.connections.open`` for this app token."""
        slack.app_tokens[self.app_token] = self
        self._attached_to = slack
        return self

    def detach(self) -> None:
        if self._attached_to is not None and self._attached_to.app_tokens.get(self.app_token) is self:
            del self._attached_to.app_tokens[self.app_token]
        self._attached_to = None

    # ------------------------------------------------- apps.connections.open
    def open_connection(self) -> dict:
        """The body of a successful apps.connections.open (the caller checked the token)."""
        ticket = str(uuid.uuid4())
        with self._changed:
            self._tickets[ticket] = True
            self.tickets_issued.append(ticket)
            self._notify()
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"}

    def _check_ticket(self, websocket: ServerConnection, request):
        query = parse_qs(urlsplit(request.path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self._changed:
            fresh = urlsplit(request.path).path.rstrip("/") == "/link" and self._tickets.get(ticket, False)
            if fresh:
                self._tickets[ticket] = False  # single use
                return None
            self.rejected_handshakes += 1
            self._notify()
        # Not documented: what Slack answers for a reused or unknown ticket. An HTTP error
        # instead of the 101 is what a client must cope with either way.
        return websocket.respond(401, "invalid or already used ticket\n")

    # ------------------------------------------------------------ test side
    def deliver_event(self, body: Any, *, retry_attempt: int = 0, retry_reason: str = "") -> str:
        """An Events API body (event_callback) in an ``events_api`` envelope; returns its envelope_id."""
        return self.deliver({"type": "events_api", "payload": body, "accepts_response_payload": False,
                             "retry_attempt": retry_attempt, "retry_reason": retry_reason})

    def deliver_interaction(self, payload: Any, *, accepts_response_payload: bool = False) -> str:
        """An interactivity payload (block_actions, message_action…) in an ``interactive`` envelope.
        Slack sets accepts_response_payload for the kinds that can answer in the ack (view_submission,
        block_suggestion); block_actions and shortcuts cannot. The attached FakeSlack issues its trigger_id."""
        if self._attached_to is not None:
            payload = self._attached_to.issue_trigger(payload)
        return self.deliver({"type": "interactive", "payload": payload,
                             "accepts_response_payload": accepts_response_payload})

    def deliver(self, envelope: dict) -> str:
        """Any envelope (``slash_commands``, a malformed one…); an envelope_id is added when missing.
        Sent on an open connection, or when the next one opens."""
        envelope = {"envelope_id": str(uuid.uuid4()), **envelope}
        with self._changed:
            connection = self._pick_connection()
            if connection is None:
                # Not documented: how long Slack holds events while an app has no connection.
                self._undelivered.append(envelope)
                return envelope["envelope_id"]
        self._send(connection, envelope)
        return envelope["envelope_id"]

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """``disconnect`` on every open connection ("warning", "refresh_requested", "link_disabled"),
        then each is closed (with a close frame) after ``disconnect_grace`` seconds."""
        with self._changed:
            targets = [c for c in self._connections if not c.closing]
            for connection in targets:
                connection.closing = True
        for connection in targets:
            self._send_frame(connection, {"type": "disconnect", "reason": reason,
                                          "debug_info": {"host": _host_name(connection)}})
            timer = threading.Timer(self.disconnect_grace, connection.websocket.close,
                                    kwargs={"code": 1000, "reason": ""})
            timer.daemon = True
            timer.start()
            self._timers.append(timer)

    def drop_connections(self, reset: bool = True) -> int:
        """Cut every connection without a close frame; returns how many. ``reset``: a TCP reset and
        nothing before it (a crashed load balancer, a network failure); False: a bare FIN (a server
        process that ended), which slack_sdk's built-in client notices only when its pings fail."""
        with self._changed:
            targets = list(self._connections)
        for connection in targets:
            sock = connection.websocket.socket
            try:
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()  # before websockets' own close, which would send a FIN first
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed
            connection.websocket.close_socket()  # wakes websockets' threads; they find the socket gone
        return len(targets)

    # ------------------------------------------------------------- server side
    def _serve_connection(self, websocket: ServerConnection) -> None:
        with self._changed:
            self.connections_opened += 1
            connection = Connection(next(self._numbers), websocket)
            count = len(self._connections) + 1  # an old one still closing counts too
        self._send_frame(connection, {
            "type": "hello",
            "num_connections": count,
            # Slack's connections last a few hours; approximate_connection_time is in seconds.
            "debug_info": {"host": _host_name(connection), "build_number": 42, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        })
        with self._changed:
            self._connections.append(connection)
            waiting, self._undelivered = self._undelivered, []
            self._notify()
        for envelope in waiting:
            self._send(connection, envelope)
        try:
            for message in websocket:
                self._receive(connection, message)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._connections.remove(connection)
                self._notify()

    def _receive(self, connection: Connection, message: str | bytes) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            data = None
        with self._changed:
            if not isinstance(data, dict):
                self.unreadable.append(message if isinstance(message, str) else message.decode("utf-8", "replace"))
            else:
                envelope_id = data.get("envelope_id")
                known = any(s.envelope_id == envelope_id for s in self.sent)
                self.acks.append(Ack(envelope_id, data.get("payload"), time.monotonic(), connection.number, known))
                pending = self._pending.get(envelope_id)
                if pending is not None:
                    pending.done = True
            self._notify()

    def _pick_connection(self) -> Connection | None:
        # Not documented: how Slack spreads deliveries over an app's connections. Round robin here.
        live = [c for c in self._connections if not c.closing]
        if not live:
            return None
        self._next += 1
        return live[self._next % len(live)]

    def _send(self, connection: Connection, envelope: dict) -> None:
        with self._changed:
            now = time.monotonic()
            self.sent.append(Sent(envelope, now, connection.number))
            if envelope.get("type") == "events_api":
                # Not documented: whether interactive envelopes are retried. A user's click is not:
                # Slack shows them an error instead, so only Events API deliveries are tracked.
                self._pending[envelope["envelope_id"]] = _Pending(envelope, now)
            self._notify()
        if not self._send_frame(connection, envelope):
            with self._changed:
                if connection not in self._connections:  # closed meanwhile: the next connection gets it
                    self._undelivered.append(envelope)

    @staticmethod
    def _send_frame(connection: Connection, message: dict) -> bool:
        try:
            connection.websocket.send(json.dumps(message))
            return True
        except (ConnectionClosed, OSError):  # OSError: drop_connections closed the socket under it
            return False

    def _retry_loop(self) -> None:
        while True:
            with self._changed:
                if self._stopping:
                    return
                self._changed.wait(timeout=0.05)
                now = time.monotonic()
                due = [p for p in self._pending.values() if not p.done and now - p.sent_at >= self.ack_timeout]
                for pending in due:
                    pending.done = True  # its retry, if any, is tracked on its own
            for pending in due:
                attempt = pending.envelope.get("retry_attempt", 0) + 1
                if attempt > self.max_retries:
                    with self._changed:
                        self.expired.append(pending.envelope["envelope_id"])
                        self._notify()
                    continue
                # Not documented: whether a retry keeps the envelope_id. A new one here, the
                # payload (and so its event_id) unchanged.
                retry_id, previous = str(uuid.uuid4()), pending.envelope["envelope_id"]
                with self._changed:
                    self._first_delivery[retry_id] = self._first_delivery.get(previous, previous)
                self.deliver({**pending.envelope, "envelope_id": retry_id,
                              "retry_attempt": attempt, "retry_reason": "timeout"})


def _host_name(connection: Connection) -> str:
    return f"applink-fake-{connection.number}"


def _quiet_logger():
    import logging

    logger = logging.getLogger("standins.slack_socket_mode")
    logger.setLevel(logging.WARNING)  # no "server listening" lines in test output
    return logger
