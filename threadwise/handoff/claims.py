"""Exactly-once answers: the answer loop wrapped in an event claim.

Slack retries, duplicate deliveries and Pub/Sub redeliveries all carry the
same ``event_id``. The store's claim for it says whether the answer is done
(skip), being written by a live worker (busy: let Pub/Sub try again later),
or abandoned by a worker that died (take it over and reuse its reply message).
While a worker answers it renews its lease; if it ever loses it, it stops
writing, because another worker now owns the message.

Done means landed: a claim is finished only once the final text is in Slack
(or the reply is gone: the person deleted it). A Pub/Sub worker that has to
stop while Slack still refuses the final text hands that text on in a delivery
job (``final_jobs``) and the claim waits for it; the model is not asked twice.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from threadwise.slack import landing
from threadwise import logs
from threadwise.answering import responder
from threadwise.slack.events import Ask
from threadwise.handoff.final_jobs import FinalDelivery
from threadwise.handoff.outcomes import JobOutcome
from threadwise.handoff.orphans import remove_orphaned_placeholders
from threadwise.slack.messages import WriteStatus
from threadwise.state.stop_records import StopReason
from threadwise.state.store import Acquire, Store

log = logs.get(__name__)

PROCESS_ID = f"{os.uname().nodename}-{os.getpid()}"


_NOT_ANSWERING = {
    Acquire.ANSWERED: ("already answered", JobOutcome.DUPLICATE),
    Acquire.BUSY: ("another worker is answering", JobOutcome.BUSY),
    Acquire.DELIVERING: ("answered; its final text is on its way in a delivery job", JobOutcome.DELIVERING),
}


def new_owner() -> str:
    """A lease names one attempt, not a process: a Slack retry that reaches the
    process already answering that event must find the claim busy, not its own."""
    return f"{PROCESS_ID}-{uuid.uuid4().hex[:12]}"


class Lease:
    """Keeps a claim's lease alive in the background while an answer is written.

    Held until a renewal is refused, or until the lease has run out with no
    renewal confirmed: from then on another worker may own the claim, whatever
    this process could or could not tell the store, and two workers must never
    write the same reply. ``since``: when the acquire that granted the lease
    started (the lease runs from the store's time then, or later).
    """

    def __init__(self, store: Store, event_id: str, owner: str, seconds: float, since: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._event_id = event_id
        self.owner = owner
        self._seconds = seconds
        self._clock = clock
        self._valid_until = (clock() if since is None else since) + seconds
        self._lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{event_id}", daemon=True)
        self._thread.start()

    def held(self) -> bool:
        return not self._lost and self._clock() < self._valid_until

    def _renew_loop(self) -> None:
        while not self._done.wait(self._seconds / 3):
            started = self._clock()
            try:
                renewed = self._store.renew(self._event_id, self.owner, self._seconds)
            except Exception:  # a store hiccup; the next renewal retries while the lease lasts
                log.warning("lease renewal failed", event_id=self._event_id, exc_info=True)
                renewed = None
            if renewed is False:
                self._lose("lease lost; another worker owns this answer now")
                return
            if not self.held():  # (a renewal confirmed after the lease ran out comes too late)
                self._lose("lease ran out without a confirmed renewal; counted as lost")
                return
            if renewed:
                self._valid_until = started + self._seconds

    def _lose(self, why: str) -> None:
        self._lost = True
        log.warning(why, event_id=self._event_id)

    def release(self) -> None:
        self._done.set()


@dataclass(frozen=True)
class ClaimedAnswer:
    opened: responder.OpenedAnswer
    lease: Lease


class ClaimedAnswers:
    """The two stages the dispatchers run: open (claim + placeholder), then complete.

    ``hand_on`` publishes a delivery job (DISPATCH=pubsub); without it (threads of a
    process that lives on) a final text Slack refused is retried, and then logged as lost.
    """

    def __init__(self, store: Store, services: responder.Services, lease_seconds: float, claim_ttl: float,
                 hand_on: Callable[[FinalDelivery], object] | None = None):
        self._store = store
        self._services = services
        self._lease_seconds = lease_seconds
        self._ttl = claim_ttl
        self._hand_on = hand_on

    def open(self, ask: Ask) -> ClaimedAnswer | JobOutcome:
        """A ClaimedAnswer to complete, or why not: duplicate, busy, delivering, quiet or taken over."""
        owner = new_owner()
        started = time.monotonic()
        acquired = self._store.acquire(ask.event_id, owner, self._lease_seconds, self._ttl)
        if acquired.outcome != Acquire.ACQUIRED:
            why, outcome = _NOT_ANSWERING[acquired.outcome]
            log.info(why, event_id=ask.event_id)
            return outcome
        claim = acquired.claim
        lease = Lease(self._store, ask.event_id, owner, self._lease_seconds, since=started)
        try:
            opened = self._open_reply(ask, owner, claim.reply_ts if claim else None,
                                      claim is not None and claim.attempts > 1)
        except BaseException:
            lease.release()
            raise
        if isinstance(opened, JobOutcome):
            lease.release()
            if opened is JobOutcome.QUIET:
                self._store.finish(ask.event_id, owner)
            return opened
        return ClaimedAnswer(opened, lease)

    def _open_reply(self, ask: Ask, owner: str, reply_ts: str | None,
                    taken_over: bool) -> responder.OpenedAnswer | JobOutcome:
        slack = self._services.slack
        if taken_over:  # an earlier attempt may have died between posting its placeholder and recording it
            remove_orphaned_placeholders(ask, slack, keep=reply_ts)
        if reply_ts:
            opened = responder.resume_answer(ask, self._services, reply_ts)
            return JobOutcome.QUIET if opened is None else opened
        opened = responder.open_answer(ask, self._services)
        if opened is None:
            return JobOutcome.QUIET
        if opened.placeholder_ts and not self._store.set_reply(ask.event_id, owner, opened.placeholder_ts):
            # Taken over while posting: the new owner writes its own reply, so this one goes.
            log.warning("claim taken over before the reply was recorded", event_id=ask.event_id)
            slack.delete(ask.channel, opened.placeholder_ts)
            return JobOutcome.TAKEN_OVER
        return opened

    def complete(self, claimed: ClaimedAnswer) -> JobOutcome:
        """Stream the answer, in a landing window of its own (threads: no deadline)."""
        with landing.window(still_owner=claimed.lease.held) as window:
            return self._complete(claimed, window)

    def answer(self, ask: Ask, give_up_at: float | None = None) -> JobOutcome:
        """Both stages in the caller's thread (the Pub/Sub worker). ``give_up_at`` (time.monotonic()):
        when a final text Slack still refuses is handed on instead of retried."""
        with landing.window(give_up_at) as window:
            opened = self.open(ask)
            if isinstance(opened, JobOutcome):
                return opened
            window.still_owner = opened.lease.held
            return self._complete(opened, window)

    def _complete(self, claimed: ClaimedAnswer, window: landing.LandingWindow) -> JobOutcome:
        ask, lease = claimed.opened.ask, claimed.lease
        try:
            # An answer begun with a thread status records its reply when it posts it, for a redelivery to reuse.
            report = responder.complete_answer(claimed.opened, self._services, still_owner=lease.held,
                                               on_first_message=lambda ts: self._store.set_reply(ask.event_id,
                                                                                                 lease.owner, ts))
        finally:
            lease.release()
        gone = report.stop is not None and report.stop.reason is StopReason.DELETED
        return self._settle(ask.event_id, lease, window.pending, report.landed or gone, hand_back=False)

    def deliver(self, final: FinalDelivery, give_up_at: float | None = None) -> JobOutcome:
        """A delivery job: write the final text it carries until it lands, then finish the claim."""
        owner = new_owner()
        started = time.monotonic()
        acquired = self._store.acquire_delivery(final.event_id, owner, final.handed_off_by, self._lease_seconds,
                                                self._ttl)
        if acquired.outcome != Acquire.ACQUIRED:
            log.info("not delivering", event_id=final.event_id, claim=str(acquired.outcome))
            return JobOutcome.DUPLICATE if acquired.outcome == Acquire.ANSWERED else JobOutcome.BUSY
        lease = Lease(self._store, final.event_id, owner, self._lease_seconds, since=started)
        slack = self._services.slack
        settled = True
        try:
            with landing.window(give_up_at, lease.held) as window:
                for write in final.writes:
                    if not lease.held():
                        break
                    outcome = slack.update_until_landed(write.channel, write.ts, write.text, write.blocks,
                                                        write.metadata)
                    settled = settled and (outcome.landed or outcome.status is WriteStatus.DELETED)
        finally:
            lease.release()
        log.info("final delivered" if settled else "final not delivered", event_id=final.event_id,
                 writes=len(final.writes))
        return self._settle(final.event_id, lease, window.pending, settled, hand_back=True)

    def _settle(self, event_id: str, lease: Lease, pending: list[landing.PendingWrite], landed: bool,
                hand_back: bool) -> JobOutcome:
        """Finish the claim only when the final text is in Slack; else hand it on, or say why not."""
        if not lease.held():
            return JobOutcome.TAKEN_OVER  # whoever owns the claim now finishes it
        if pending and hand_back:  # (the delivery job itself is delivered again, text and all)
            self._mark_handed_off(event_id, lease.owner)
            return JobOutcome.HANDED_BACK
        if pending and self._hand_on is not None:
            return self._hand_on_final(FinalDelivery(event_id, lease.owner, tuple(pending)))
        if not landed or pending:
            log.error("final text not landed; giving up on it", event_id=event_id,
                      refused_writes=len(pending))
            return JobOutcome.UNLANDED
        self._store.finish(event_id, lease.owner)
        return JobOutcome.ANSWERED

    def _hand_on_final(self, final: FinalDelivery) -> JobOutcome:
        try:
            self._hand_on(final)
        except Exception:
            # Nothing carries the text on: the question is delivered again and answered again.
            log.error("could not hand the final text on", event_id=final.event_id, exc_info=True)
            return JobOutcome.REDELIVER
        self._mark_handed_off(final.event_id, final.handed_off_by)
        log.info("final handed on", event_id=final.event_id, writes=len(final.writes))
        return JobOutcome.HANDED_OFF

    def _mark_handed_off(self, event_id: str, owner: str) -> None:
        try:
            self._store.hand_off(event_id, owner)
        except Exception:
            # The delivery job takes the claim from its named owner anyway; only a duplicate
            # question job meanwhile would find it "answering" rather than "delivering".
            log.warning("could not mark the claim as delivering", event_id=event_id, exc_info=True)
