"""Exactly-once answers: the answer loop wrapped in an event claim.

Slack retries, duplicate deliveries and Pub/Sub redeliveries all carry the
same ``event_id``. The store's claim for it says whether the answer is done
(skip), being written by a live worker (busy: let Pub/Sub try again later),
or abandoned by a worker that died (take it over and reuse its reply message).
While a worker answers it renews its lease; if it ever loses it, it stops
writing, because another worker now owns the message.
"""
from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass

import logs
import responder
from events import Ask
from store import Store

log = logs.get(__name__)

PROCESS_ID = f"{os.uname().nodename}-{os.getpid()}"


def new_owner() -> str:
    """A lease names one attempt, not a process: a Slack retry that reaches the
    process already answering that event must find the claim busy, not its own."""
    return f"{PROCESS_ID}-{uuid.uuid4().hex[:12]}"


class Lease:
    """Keeps a claim's lease alive in the background while an answer is written."""

    def __init__(self, store: Store, event_id: str, owner: str, seconds: float):
        self._store = store
        self._event_id = event_id
        self.owner = owner
        self._seconds = seconds
        self._held = True
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{event_id}", daemon=True)
        self._thread.start()

    def held(self) -> bool:
        return self._held

    def _renew_loop(self) -> None:
        while not self._done.wait(self._seconds / 3):
            try:
                if not self._store.renew(self._event_id, self.owner, self._seconds):
                    log.warning("lease lost; another worker owns this answer now", event_id=self._event_id)
                    self._held = False
                    return
            except Exception:  # a store hiccup is not a lost lease; the next renewal retries
                log.warning("lease renewal failed", event_id=self._event_id, exc_info=True)

    def release(self) -> None:
        self._done.set()


@dataclass(frozen=True)
class ClaimedAnswer:
    opened: responder.OpenedAnswer
    lease: Lease


class ClaimedAnswers:
    """The two stages the dispatchers run: open (claim + placeholder), then complete."""

    def __init__(self, store: Store, services: responder.Services, lease_seconds: float, claim_ttl: float):
        self._store = store
        self._services = services
        self._lease_seconds = lease_seconds
        self._ttl = claim_ttl

    def open(self, ask: Ask) -> ClaimedAnswer | str:
        """A ClaimedAnswer to complete, or why not: "duplicate", "busy" or "quiet"."""
        owner = new_owner()
        acquired = self._store.acquire(ask.event_id, owner, self._lease_seconds, self._ttl)
        if acquired.outcome == "answered":
            log.info("already answered", event_id=ask.event_id)
            return "duplicate"
        if acquired.outcome == "busy":
            log.info("another worker is answering", event_id=ask.event_id)
            return "busy"
        claim = acquired.claim
        lease = Lease(self._store, ask.event_id, owner, self._lease_seconds)
        try:
            if claim is not None and claim.reply_ts:
                opened = responder.resume_answer(ask, self._services, claim.reply_ts)
            else:
                opened = responder.open_answer(ask, self._services)
                if opened is not None and opened.placeholder_ts:
                    self._store.set_reply(ask.event_id, owner, opened.placeholder_ts)
        except Exception:
            lease.release()
            raise
        if opened is None:
            lease.release()
            self._store.finish(ask.event_id, owner)
            return "quiet"
        return ClaimedAnswer(opened, lease)

    def complete(self, claimed: ClaimedAnswer) -> None:
        ask = claimed.opened.ask
        try:
            # An answer begun with a thread status records its reply when it posts it, for a redelivery to reuse.
            responder.complete_answer(claimed.opened, self._services, still_owner=claimed.lease.held,
                                      on_first_message=lambda ts: self._store.set_reply(ask.event_id,
                                                                                        claimed.lease.owner, ts))
        finally:
            claimed.lease.release()
        if claimed.lease.held():
            self._store.finish(ask.event_id, claimed.lease.owner)

    def answer(self, ask: Ask) -> str:
        """Both stages in the caller's thread (the Pub/Sub worker). Returns what happened."""
        opened = self.open(ask)
        if isinstance(opened, str):
            return opened
        self.complete(opened)
        return "answered"
